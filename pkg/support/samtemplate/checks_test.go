package samtemplate

// The checks: each is a function of a loaded template returning what is wrong with it, so it can be
// run on the real template (want: nothing) and on broken copies (want: the breakage named).

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rewind-sre/rewind/pkg/config"
)

// ConfigEnv is every environment variable Rewind's Go config reads; the function must set each one.
var ConfigEnv = config.Env

// The names the template's safety properties hang on.
const (
	functionID    = "ResponderFunction"
	alarmTopic    = "AlarmTopic"
	memoryTableID = "MemoryTable"

	// stageARN is the one resource a write to API Gateway REST may name, as render() writes it.
	stageARN = "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestApiId}/stages/${StageName}"
	// httpStageARN is the HTTP API (v2) stage, the only other resource an API Gateway write may name.
	httpStageARN = "arn:${AWS::Partition}:apigateway:${AWS::Region}::/apis/${HttpApiId}/stages/${HttpStageName}"
	// targetFunctionARN is the one resource lambda:UpdateAlias may name: AWS authorizes GetAlias and
	// UpdateAlias on the function resource type (function:NAME), not on the alias ARN (Service
	// Authorization Reference, list_awslambda.html; the Lambda Developer Guide's "Resources and conditions
	// for Lambda actions"), so the grant names the alias's function.
	targetFunctionARN = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${LambdaFunctionName}"
	// distributionARN is the one resource a CloudFront write may name.
	distributionARN = "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${CloudFrontDistributionId}"
	// memoryTableARN is the one resource a DynamoDB action may name: !GetAtt MemoryTable.Arn, as
	// render() writes it.
	memoryTableARN = "${" + memoryTableID + ".Arn}"
	// functionARN is Rewind's own function, the one resource lambda:InvokeFunction may name (the chat
	// channels' role invokes it).
	functionARN = "${" + functionID + ".Arn}"
	// alarmARNPrefix is what the AlarmTopic policy's aws:SourceArn must start with.
	alarmARNPrefix = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
)

var exampleAlarms = []string{"Api5XXAlarm", "ApiLatencyP99Alarm"}

// problem is one thing wrong with a template: where (a resource, statement or property) and what.
type problem struct {
	Where string
	What  string
}

func (p problem) String() string { return p.Where + ": " + p.What }

type problems []problem

func (ps *problems) add(where, format string, args ...any) {
	*ps = append(*ps, problem{Where: where, What: fmt.Sprintf(format, args...)})
}

// ---- rendering values that may hold intrinsic functions ----

// intrinsic returns the function name and argument when v is one ({"Ref": x}, {"Fn::Sub": x}, ...).
func intrinsic(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, arg := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, arg, true
		}
	}
	return "", nil, false
}

// maxRenderings bounds the combinations Fn::If inside Fn::Join/Fn::Sub can produce.
const maxRenderings = 128 // 72 for TARGETS: its four kinds' choices, with ProtectTag on or off

// render returns the strings v can evaluate to, references written the way Fn::Sub writes them
// (${Param}, ${AWS::Region}, ${Res.Attr}): so !Sub "a${X}", !Join ["", [a, !Ref X]] and
// !Sub ["a${Y}", {Y: !Ref X}] all render as "a${X}". Fn::If yields both branches; AWS::NoValue
// yields nothing. Anything else renders as "<Fn::Name>", which equals no expected value, so a
// check comparing renderings fails closed on what it cannot see through.
func render(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case int64:
		return []string{strconv.FormatInt(x, 10)}
	case float64:
		return []string{strconv.FormatFloat(x, 'f', -1, 64)}
	case bool:
		return []string{strconv.FormatBool(x)}
	case nil:
		return []string{""}
	}
	fn, arg, ok := intrinsic(v)
	if !ok {
		return []string{fmt.Sprintf("<%T>", v)}
	}
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		if name == "AWS::NoValue" {
			return nil
		}
		return []string{"${" + name + "}"}
	case "Fn::GetAtt":
		switch a := arg.(type) {
		case []any:
			parts := make([]string, 0, len(a))
			for _, p := range a {
				s, ok := p.(string)
				if !ok {
					return []string{"<Fn::GetAtt>"}
				}
				parts = append(parts, s)
			}
			return []string{"${" + strings.Join(parts, ".") + "}"}
		case string:
			return []string{"${" + a + "}"}
		}
		return []string{"<Fn::GetAtt>"}
	case "Fn::If":
		a, ok := arg.([]any)
		if !ok || len(a) != 3 {
			return []string{"<Fn::If>"}
		}
		return append(render(a[1]), render(a[2])...)
	case "Fn::Sub":
		switch a := arg.(type) {
		case string:
			return []string{a}
		case []any:
			if len(a) != 2 {
				return []string{"<Fn::Sub>"}
			}
			tmpl, ok1 := a[0].(string)
			vars, ok2 := a[1].(map[string]any)
			if !ok1 || !ok2 {
				return []string{"<Fn::Sub>"}
			}
			out := []string{tmpl}
			names := sortedKeys(vars)
			for _, name := range names {
				var next []string
				for _, s := range out {
					for _, val := range render(vars[name]) {
						next = append(next, strings.ReplaceAll(s, "${"+name+"}", val))
					}
				}
				out = capped(next)
			}
			return out
		}
		return []string{"<Fn::Sub>"}
	case "Fn::Join":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return []string{"<Fn::Join>"}
		}
		sep, ok1 := a[0].(string)
		parts, ok2 := a[1].([]any)
		if !ok1 || !ok2 {
			return []string{"<Fn::Join>"}
		}
		out := []string{""}
		for i, p := range parts {
			var next []string
			for _, s := range out {
				for _, val := range render(p) {
					if i > 0 {
						val = sep + val
					}
					next = append(next, s+val)
				}
			}
			out = capped(next)
		}
		return out
	}
	return []string{"<" + fn + ">"}
}

func capped(s []string) []string {
	if len(s) > maxRenderings {
		return append(s[:maxRenderings:maxRenderings], "<too many combinations>")
	}
	return s
}

// flatten returns the elements a list-valued property can hold: a scalar is a one-element list,
// and Fn::If contributes the elements of both branches (each of which may be a list).
func flatten(v any) []any {
	if fn, arg, ok := intrinsic(v); ok {
		switch fn {
		case "Fn::If":
			if a, ok := arg.([]any); ok && len(a) == 3 {
				return append(flatten(a[1]), flatten(a[2])...)
			}
		case "Ref":
			if arg == "AWS::NoValue" {
				return nil
			}
		}
		return []any{v}
	}
	if list, ok := v.([]any); ok {
		var out []any
		for _, e := range list {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// strs renders every element of a list-valued property.
func strs(v any) []string {
	var out []string
	for _, e := range flatten(v) {
		out = append(out, render(e)...)
	}
	return out
}

func anyMap[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// asInt reads a literal integer (YAML int, integral float or numeric string).
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	case string:
		i, err := strconv.ParseInt(x, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// ---- IAM ----

// statement is one IAM policy statement and where it came from.
type statement struct {
	where string
	body  map[string]any
}

// managedAllowed are the only managed policies a role may carry: SAM attaches this one to every
// function role anyway (CloudWatch Logs only).
var managedAllowed = map[string]bool{"AWSLambdaBasicExecutionRole": true}

// iamStatements collects every identity-policy statement the template grants: SAM function (and
// state machine) Policies, inline policies of AWS::IAM::Role/User/Group and every AWS::IAM::*
// resource with a PolicyDocument (an AWS::IAM::ManagedPolicy among them). Managed policies from
// outside the template and SAM policy templates are opaque: they are problems unless allow-listed.
// A ManagedPolicyArns entry that is !Ref of the template's own AWS::IAM::ManagedPolicy is fine: its
// statements are collected as that resource's.
func iamStatements(t *Template) ([]statement, problems) {
	var out []statement
	var ps problems
	for _, name := range t.ResourceNames() {
		r := t.Resources[name]
		switch {
		case strings.HasPrefix(r.Type, "AWS::Serverless::"):
			pol, ok := r.Properties["Policies"]
			if !ok {
				continue
			}
			for i, p := range flatten(pol) {
				where := fmt.Sprintf("%s Policies[%d]", name, i)
				switch x := p.(type) {
				case string:
					if !managedAllowed[path.Base(x)] {
						ps.add(where, "managed policy %q: write the statements inline so they can be checked", x)
					}
				case map[string]any:
					if _, isDoc := x["Statement"]; isDoc {
						out = append(out, docStatements(where, x, &ps)...)
					} else if fn, _, isFn := intrinsic(x); isFn {
						ps.add(where, "managed policy given by %s: write the statements inline so they can be checked", fn)
					} else {
						ps.add(where, "SAM policy template %v: write the statements inline so they can be checked", sortedKeys(x))
					}
				default:
					ps.add(where, "policy is a %T", p)
				}
			}
		case strings.HasPrefix(r.Type, "AWS::IAM::"):
			if doc, ok := r.Properties["PolicyDocument"]; ok {
				out = append(out, docValueStatements(name+" PolicyDocument", doc, &ps)...)
			}
			for i, p := range flatten(r.Properties["Policies"]) {
				where := fmt.Sprintf("%s Policies[%d]", name, i)
				pm, ok := p.(map[string]any)
				if !ok {
					ps.add(where, "inline policy is a %T", p)
					continue
				}
				out = append(out, docValueStatements(where, pm["PolicyDocument"], &ps)...)
			}
			for _, arn := range strs(r.Properties["ManagedPolicyArns"]) {
				if own, ok := t.Resources[strings.TrimSuffix(strings.TrimPrefix(arn, "${"), "}")]; ok && own.Type == "AWS::IAM::ManagedPolicy" {
					continue
				}
				if !managedAllowed[path.Base(arn)] {
					ps.add(name+" ManagedPolicyArns", "managed policy %q: write the statements inline so they can be checked", arn)
				}
			}
		}
	}
	return out, ps
}

func docValueStatements(where string, doc any, ps *problems) []statement {
	var out []statement
	docs := flatten(doc)
	if len(docs) == 0 {
		ps.add(where, "no policy document")
	}
	for _, d := range docs {
		m, ok := d.(map[string]any)
		if !ok {
			ps.add(where, "policy document is not a literal mapping, cannot check it")
			continue
		}
		out = append(out, docStatements(where, m, ps)...)
	}
	return out
}

func docStatements(where string, doc map[string]any, ps *problems) []statement {
	var out []statement
	for i, s := range flatten(doc["Statement"]) {
		m, ok := s.(map[string]any)
		w := fmt.Sprintf("%s Statement[%d]", where, i)
		if !ok {
			ps.add(w, "statement is not a literal mapping, cannot check it")
			continue
		}
		if sid, ok := m["Sid"].(string); ok {
			w += " (" + sid + ")"
		}
		out = append(out, statement{where: w, body: m})
	}
	return out
}

var apigatewayWrites = []string{"apigateway:patch", "apigateway:put", "apigateway:post", "apigateway:delete"}

// readVerbs are action-name prefixes that only read; every other action counts as a write.
var readVerbs = []string{"get", "list", "describe", "batchget", "head"}

func isWildcard(action string) bool { return strings.ContainsAny(action, "*?") }

// matches reports whether the IAM action pattern (which may hold * and ?) matches action.
func matches(pattern, action string) bool {
	ok, err := path.Match(strings.ToLower(pattern), strings.ToLower(action))
	return err == nil && ok
}

func isWrite(action string) bool {
	if isWildcard(action) {
		return true
	}
	_, verb, ok := strings.Cut(strings.ToLower(action), ":")
	if !ok {
		return true
	}
	for _, r := range readVerbs {
		if strings.HasPrefix(verb, r) {
			return false
		}
	}
	return true
}

// writeScopes: the only write actions of these services the template may grant, and for each the
// only resources it may name (a write is any action that is not a read, including any wildcard).
// API Gateway is checked by its HTTP verbs below. dynamodb:Query only reads, but its verb is none of
// readVerbs, and this check fails closed on a verb it does not know: so it is listed as a write.
// lambda:InvokeFunction is the chat channels' (see chat_test.go), on Rewind's own function only.
var writeScopes = map[string]map[string][]string{
	"lambda":     {"lambda:UpdateAlias": {targetFunctionARN}, "lambda:InvokeFunction": {functionARN}},
	"cloudfront": {"cloudfront:UpdateDistribution": {distributionARN}},
	"dynamodb":   {"dynamodb:PutItem": {memoryTableARN}, "dynamodb:Query": {memoryTableARN}},
}

// checkIAM: no wildcard actions (so no "*" and no "service:*"), no NotAction/NotResource grants,
// API Gateway writes only on the configured REST or HTTP API stage, Lambda writes only on the
// configured alias, CloudFront writes only on the configured distribution, DynamoDB writes only
// PutItem and Query on MemoryTable, no write on Resource "*". checkMemoryIAM holds DynamoDB's reads to
// the table too.
func checkIAM(t *Template) []problem {
	stmts, ps := iamStatements(t)
	if len(stmts) == 0 && len(ps) == 0 {
		ps.add(functionID, "no IAM statements found; the function needs its inline Policies")
	}
	for _, s := range stmts {
		if effect, _ := s.body["Effect"].(string); effect == "Deny" {
			continue // a Deny only takes away
		}
		if _, ok := s.body["NotAction"]; ok {
			ps.add(s.where, "Allow with NotAction grants every other action; list the actions")
		}
		if _, ok := s.body["NotResource"]; ok {
			ps.add(s.where, "Allow with NotResource grants every other resource; list the resources")
		}
		actions := strs(s.body["Action"])
		resources := strs(s.body["Resource"])
		if _, ok := s.body["Resource"]; !ok {
			ps.add(s.where, "no Resource")
		}
		for _, a := range actions {
			if isWildcard(a) {
				ps.add(s.where, "wildcard action %q: name the actions", a)
			}
			apigwWrite := false
			for _, w := range apigatewayWrites {
				if matches(a, w) {
					apigwWrite = true
				}
			}
			if apigwWrite {
				for _, r := range resources {
					if r != stageARN && r != httpStageARN {
						ps.add(s.where, "%s on %q: API Gateway writes may only name the stage %s or the HTTP API stage %s", a, r, stageARN, httpStageARN)
					}
				}
			}
			service, _, _ := strings.Cut(strings.ToLower(a), ":")
			if scope, scoped := writeScopes[service]; scoped && isWrite(a) {
				allowed, known := []string(nil), false
				for w, rs := range scope {
					if strings.EqualFold(w, a) {
						allowed, known = rs, true
					}
				}
				if !known {
					ps.add(s.where, "write action %s: the only %s writes Rewind needs are %s", a, service, strings.Join(sortedKeys(anyMap(scope)), ", "))
					// Unknown: hold it to every resource a known write of the service may name.
					for _, rs := range scope {
						allowed = append(allowed, rs...)
					}
					slices.Sort(allowed)
					allowed = slices.Compact(allowed)
				}
				for _, r := range resources {
					if !slices.Contains(allowed, r) {
						ps.add(s.where, "%s on %q: %s writes may only name %s", a, r, service, strings.Join(allowed, " or "))
					}
				}
			}
			if isWrite(a) {
				for _, r := range resources {
					if r == "*" {
						ps.add(s.where, "write action %s on Resource \"*\"", a)
					}
				}
			}
		}
	}
	return ps
}

// ---- the AlarmTopic policy ----

// checkAlarmTopicPolicy: exactly one policy on AlarmTopic; every Allow is sns:Publish for the
// service principal cloudwatch.amazonaws.com alone, limited by aws:SourceAccount (this account) and
// aws:SourceArn (this account's alarms), with no ...IfExists escape; and explicit Denies keep every
// other publisher out (see checkAlarmTopicDenies).
func checkAlarmTopicPolicy(t *Template) []problem {
	var ps problems
	if r, ok := t.Resources[alarmTopic]; !ok || r.Type != "AWS::SNS::Topic" {
		ps.add(alarmTopic, "missing, or not an AWS::SNS::Topic")
		return ps
	}
	var policies []string
	for _, name := range t.ResourceNames() {
		r := t.Resources[name]
		var targets []string
		switch r.Type {
		case "AWS::SNS::TopicPolicy":
			targets = strs(r.Properties["Topics"])
		case "AWS::SNS::TopicInlinePolicy":
			targets = strs(r.Properties["TopicArn"])
		default:
			continue
		}
		for _, tg := range targets {
			if tg == "${"+alarmTopic+"}" {
				policies = append(policies, name)
				break
			}
		}
	}
	if len(policies) != 1 {
		ps.add(alarmTopic, "want exactly one topic policy on it, found %d %v", len(policies), policies)
		return ps
	}
	name := policies[0]
	var ps2 problems
	stmts := docValueStatements(name, t.Resources[name].Properties["PolicyDocument"], &ps2)
	ps = append(ps, ps2...)
	allows := 0
	var denies []statement
	for _, s := range stmts {
		if effect, _ := s.body["Effect"].(string); effect == "Deny" {
			denies = append(denies, s)
			continue
		}
		allows++
		checkCloudWatchPrincipal(s, &ps)
		if _, ok := s.body["NotAction"]; ok {
			ps.add(s.where, "NotAction: allow sns:Publish only")
		}
		for _, a := range strs(s.body["Action"]) {
			if !strings.EqualFold(a, "sns:Publish") {
				ps.add(s.where, "action %q: CloudWatch needs sns:Publish only", a)
			}
		}
		checkAlarmConditions(s, &ps)
	}
	if allows == 0 {
		ps.add(name, "no Allow statement: CloudWatch could not publish alarms")
	}
	checkAlarmTopicDenies(name, denies, &ps)
	return ps
}

// topicDeny is one Deny the AlarmTopic policy must hold: sns:Publish denied to every principal when
// the key does not have the value CloudWatch's own publish of this account's alarm carries.
type topicDeny struct {
	key   string
	ops   []string // the operators that deny when the key differs, or is absent
	value string
	why   string
}

// topicDenies: within one account a request is allowed when the identity policy or the resource
// policy allows it, so the Allow above keeps nobody out whose own policy allows sns:Publish on "*".
// An explicit Deny beats every Allow. A negated operator is true when the key is absent (IAM User
// Guide, condition operators), and aws:PrincipalServiceName is absent for every caller but an AWS
// service principal (IAM User Guide, global condition context keys): so these three deny an IAM role,
// another service, and CloudWatch acting for another account's or region's alarms, and spare
// CloudWatch publishing this account's alarm. One key per Deny: the keys of one statement are ANDed.
var topicDenies = []topicDeny{
	{"aws:PrincipalServiceName", []string{"StringNotEquals", "StringNotEqualsIfExists"}, "cloudwatch.amazonaws.com",
		"a role whose own policy allows sns:Publish could publish a forged alarm"},
	{"aws:SourceAccount", []string{"StringNotEquals", "StringNotEqualsIfExists"}, "${AWS::AccountId}",
		"CloudWatch acting for another account would not be denied"},
	{"aws:SourceArn", []string{"ArnNotLike", "ArnNotLikeIfExists", "ArnNotEquals", "ArnNotEqualsIfExists", "StringNotLike", "StringNotLikeIfExists"},
		alarmARNPrefix + "*", "a publish on behalf of anything but this account's alarms would not be denied"},
}

// checkAlarmTopicDenies: each of topicDenies is one Deny of sns:Publish on the topic (or "*") for
// Principal "*", with that one key, operator and value as its whole Condition. Any Deny of sns:Publish
// needs a Condition: one without would drop CloudWatch's alarms too.
func checkAlarmTopicDenies(name string, denies []statement, ps *problems) {
	found := make([]bool, len(topicDenies))
	for _, s := range denies {
		if !slices.ContainsFunc(strs(s.body["Action"]), func(a string) bool { return matches(a, "sns:Publish") }) {
			continue
		}
		cond, hasCond := s.body["Condition"].(map[string]any)
		if !hasCond || len(cond) == 0 {
			ps.add(s.where, "Deny of sns:Publish without a Condition: it would drop CloudWatch's alarms too")
			continue
		}
		ok := true
		if _, np := s.body["NotPrincipal"]; np {
			ps.add(s.where, "NotPrincipal in a Deny: deny Principal \"*\" and let the Condition spare CloudWatch")
			ok = false
		}
		if p := s.body["Principal"]; !isEveryone(p) {
			ps.add(s.where, "Deny for principal %v: want \"*\", so no publisher is left out", p)
			ok = false
		}
		for _, k := range []string{"NotAction", "NotResource"} {
			if _, bad := s.body[k]; bad {
				ps.add(s.where, "%s in the Deny: name sns:Publish and the topic", k)
				ok = false
			}
		}
		if rs := strs(s.body["Resource"]); !slices.Contains(rs, "${"+alarmTopic+"}") && !slices.Contains(rs, "*") {
			ps.add(s.where, "Deny on %v: want ${%s}", rs, alarmTopic)
			ok = false
		}
		var keys []string
		for _, op := range sortedKeys(cond) {
			m, _ := cond[op].(map[string]any)
			for _, k := range sortedKeys(m) {
				keys = append(keys, op+" "+k)
			}
		}
		if len(keys) != 1 {
			ps.add(s.where, "Deny with conditions %v: the keys of one statement are ANDed, so it denies only when all differ; give each key its own Deny", keys)
			continue
		}
		op, key, _ := strings.Cut(keys[0], " ")
		values := strs(cond[op].(map[string]any)[key])
		i := slices.IndexFunc(topicDenies, func(d topicDeny) bool { return strings.EqualFold(d.key, key) })
		switch {
		case i < 0:
			continue // another Deny (e.g. on aws:SecureTransport) only takes away
		case !slices.Contains(topicDenies[i].ops, op):
			ps.add(s.where, "Deny on %s uses %s: want %s (true when the key differs or is absent)", key, op, strings.Join(topicDenies[i].ops, " or "))
		case len(values) != 1 || values[0] != topicDenies[i].value:
			ps.add(s.where, "Deny on %s %v: want exactly %s", key, values, topicDenies[i].value)
		case ok:
			found[i] = true
		}
	}
	for i, d := range topicDenies {
		if !found[i] {
			ps.add(name, "no Deny of sns:Publish for Principal \"*\" when %s is not %s: %s", d.key, d.value, d.why)
		}
	}
}

// isEveryone reports whether a policy Principal is every principal: "*" or {"AWS": "*"}.
func isEveryone(p any) bool {
	if s, ok := p.(string); ok {
		return s == "*"
	}
	m, ok := p.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	aws := strs(m["AWS"])
	return len(aws) == 1 && aws[0] == "*"
}

func checkCloudWatchPrincipal(s statement, ps *problems) {
	if _, ok := s.body["NotPrincipal"]; ok {
		ps.add(s.where, "NotPrincipal: name the principal (Service cloudwatch.amazonaws.com)")
	}
	p, ok := s.body["Principal"].(map[string]any)
	if !ok {
		ps.add(s.where, "principal %v: want only Service cloudwatch.amazonaws.com", s.body["Principal"])
		return
	}
	for _, k := range sortedKeys(p) {
		if k != "Service" {
			ps.add(s.where, "principal type %s: want only Service cloudwatch.amazonaws.com", k)
		}
	}
	services := strs(p["Service"])
	if len(services) == 0 {
		ps.add(s.where, "no Service principal: want cloudwatch.amazonaws.com")
	}
	for _, svc := range services {
		if svc != "cloudwatch.amazonaws.com" {
			ps.add(s.where, "service principal %q: want only cloudwatch.amazonaws.com", svc)
		}
	}
}

// positiveOps are the condition operators that can pin a key to values; anything else (a Not...,
// an ...IfExists that passes when the key is absent, a ForAllValues: that passes on empty) cannot.
var positiveOps = map[string]bool{"StringEquals": true, "StringLike": true, "ArnEquals": true, "ArnLike": true}

func checkAlarmConditions(s statement, ps *problems) {
	cond, _ := s.body["Condition"].(map[string]any)
	seen := map[string]bool{}
	for _, op := range sortedKeys(cond) {
		keys, ok := cond[op].(map[string]any)
		if !ok {
			ps.add(s.where, "condition %s is not a mapping", op)
			continue
		}
		for _, key := range sortedKeys(keys) {
			lk := strings.ToLower(key)
			if lk != "aws:sourceaccount" && lk != "aws:sourcearn" {
				continue
			}
			if !positiveOps[op] {
				ps.add(s.where, "%s uses %s: want StringEquals/StringLike/ArnEquals/ArnLike", key, op)
				continue
			}
			seen[lk] = true
			for _, v := range strs(keys[key]) {
				switch {
				case lk == "aws:sourceaccount" && v != "${AWS::AccountId}":
					ps.add(s.where, "aws:SourceAccount %q: want this account (${AWS::AccountId})", v)
				case lk == "aws:sourcearn" && !strings.HasPrefix(v, alarmARNPrefix):
					ps.add(s.where, "aws:SourceArn %q: want this account's alarms (%s...)", v, alarmARNPrefix)
				}
			}
		}
	}
	for _, k := range []string{"aws:SourceAccount", "aws:SourceArn"} {
		if !seen[strings.ToLower(k)] {
			ps.add(s.where, "no %s condition: any account's alarms could publish", k)
		}
	}
}

// ---- the function ----

// functionProps returns the function's properties with SAM Globals.Function under them, the way
// SAM merges them (the function wins; Environment.Variables are merged key by key).
func functionProps(t *Template) (map[string]any, bool) {
	r, ok := t.Resources[functionID]
	if !ok || r.Type != "AWS::Serverless::Function" {
		return nil, false
	}
	props := map[string]any{}
	globals, _ := t.Globals["Function"].(map[string]any)
	for k, v := range globals {
		props[k] = v
	}
	for k, v := range r.Properties {
		props[k] = v
	}
	gv := envVars(globals)
	fv := envVars(r.Properties)
	if gv != nil || fv != nil {
		merged := map[string]any{}
		for k, v := range gv {
			merged[k] = v
		}
		for k, v := range fv {
			merged[k] = v
		}
		props["Environment"] = map[string]any{"Variables": merged}
	}
	return props, true
}

func envVars(props map[string]any) map[string]any {
	env, _ := props["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	return vars
}

func dig(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// checkFunction: the safety settings of ResponderFunction.
func checkFunction(t *Template) []problem {
	var ps problems
	props, ok := functionProps(t)
	if !ok {
		ps.add(functionID, "missing, or not an AWS::Serverless::Function")
		return ps
	}
	w := functionID
	checkReservedConcurrency(t, props["ReservedConcurrentExecutions"], &ps)
	if a := strs(props["Architectures"]); len(a) != 1 || a[0] != "arm64" {
		ps.add(w, "Architectures %v: want [arm64] (the Makefile builds linux/arm64)", a)
	}
	if rt, _ := props["Runtime"].(string); rt != "provided.al2023" {
		ps.add(w, "Runtime %v: want provided.al2023", props["Runtime"])
	}
	if h, _ := props["Handler"].(string); h != "bootstrap" {
		ps.add(w, "Handler %v: want bootstrap", props["Handler"])
	}
	if bm, _ := t.Resources[functionID].Metadata["BuildMethod"].(string); bm != "makefile" {
		ps.add(w, "Metadata.BuildMethod %v: want makefile (the Makefile's build-ResponderFunction)", t.Resources[functionID].Metadata["BuildMethod"])
	}
	if n, ok := asInt(props["Timeout"]); !ok || n < 1 || n > 60 {
		ps.add(w, "Timeout %v: want a literal 1..60 seconds", props["Timeout"])
	}
	eic, _ := props["EventInvokeConfig"].(map[string]any)
	if n, ok := asInt(eic["MaximumRetryAttempts"]); !ok || n != 2 {
		ps.add(w, "EventInvokeConfig.MaximumRetryAttempts %v: want 2", eic["MaximumRetryAttempts"])
	}
	if age, present := eic["MaximumEventAgeInSeconds"]; present {
		if n, ok := asInt(age); !ok || n < 60 || n > 3600 {
			ps.add(w, "EventInvokeConfig.MaximumEventAgeInSeconds %v: want 60..3600 (an older alarm must not move the stage)", age)
		}
	}
	onFailure, _ := dig(eic, "DestinationConfig", "OnFailure")
	of, _ := onFailure.(map[string]any)
	if of == nil {
		ps.add(w, "EventInvokeConfig.DestinationConfig.OnFailure missing: failed alarm events would be lost")
	} else {
		if typ, _ := of["Type"].(string); typ == "" {
			ps.add(w, "EventInvokeConfig OnFailure has no Type")
		}
		if d := strs(of["Destination"]); len(d) == 0 || d[0] == "" {
			ps.add(w, "EventInvokeConfig OnFailure has no Destination")
		}
	}
	subscribed := false
	events, _ := props["Events"].(map[string]any)
	for _, name := range sortedKeys(events) {
		ev, _ := events[name].(map[string]any)
		if typ, _ := ev["Type"].(string); typ != "SNS" {
			continue
		}
		topic, _ := dig(ev, "Properties", "Topic")
		for _, s := range render(topic) {
			if s == "${"+alarmTopic+"}" {
				subscribed = true
			}
		}
	}
	if !subscribed {
		ps.add(w, "no SNS event on %s: alarms would not reach the function", alarmTopic)
	}
	return ps
}

// Reserved concurrency: Rewind must run when a broken release exhausts the account's concurrency, and
// must not take much of it; but an account whose quota is 10 or 50 (a new account's, often) refuses any
// reservation ("Specified ReservedConcurrentExecutions for function decreases account's
// UnreservedConcurrentExecution below its minimum value of [10]"), so the template lets the deployer
// choose none.
const (
	reservedParam     = "ReservedConcurrency"
	reservedCondition = "HasReservedConcurrency"
	maxReserved       = 5
)

// checkReservedConcurrency: ReservedConcurrentExecutions is a literal 1..5, or
// !If [HasReservedConcurrency, !Ref ReservedConcurrency, !Ref AWS::NoValue] where the parameter is a
// Number allowed 0..5 only, defaulting to 1..5, and the condition is exactly "the parameter is not 0".
// (0 itself, written into the function, would stop it from ever running.)
func checkReservedConcurrency(t *Template, v any, ps *problems) {
	w := functionID
	if n, ok := asInt(v); ok {
		if n < 1 || n > maxReserved {
			ps.add(w, "ReservedConcurrentExecutions %v: want 1..%d (0 stops the function; more takes from the account)", v, maxReserved)
		}
		return
	}
	want := fmt.Sprintf("a literal 1..%d or !If [%s, !Ref %s, !Ref AWS::NoValue]", maxReserved, reservedCondition, reservedParam)
	fn, arg, ok := intrinsic(v)
	branches, _ := arg.([]any)
	if !ok || fn != "Fn::If" || len(branches) != 3 {
		ps.add(w, "ReservedConcurrentExecutions %v: want %s", v, want)
		return
	}
	cond, _ := branches[0].(string)
	if cond != reservedCondition || render(branches[1]) == nil || render(branches[1])[0] != "${"+reservedParam+"}" || len(render(branches[2])) != 0 {
		ps.add(w, "ReservedConcurrentExecutions %v: want %s (0 leaves it out)", v, want)
		return
	}
	p, _ := t.Parameters[reservedParam].(map[string]any)
	if p == nil {
		ps.add("Parameters", "no %s parameter", reservedParam)
		return
	}
	if typ, _ := p["Type"].(string); typ != "Number" {
		ps.add(reservedParam, "Type %v: want Number", p["Type"])
	}
	if n, ok := asInt(p["Default"]); !ok || n < 1 || n > maxReserved {
		ps.add(reservedParam, "Default %v: want 1..%d (Rewind must get to run when the account's concurrency is exhausted)", p["Default"], maxReserved)
	}
	allowed := flatten(p["AllowedValues"])
	if len(allowed) == 0 {
		ps.add(reservedParam, "no AllowedValues: want 0..%d, whole numbers only", maxReserved)
	}
	zero := false
	for _, a := range allowed {
		n, ok := asInt(a)
		if !ok || n < 0 || n > maxReserved {
			ps.add(reservedParam, "AllowedValues holds %v: want whole numbers 0..%d", a, maxReserved)
		}
		zero = zero || (ok && n == 0)
	}
	if len(allowed) > 0 && !zero {
		ps.add(reservedParam, "AllowedValues %v lack 0: an account whose quota cannot spare a reservation could not deploy", allowed)
	}
	// The condition, exactly: !Not [!Equals [!Ref ReservedConcurrency, "0"]] (either order, 0 or "0").
	c := t.Conditions[reservedCondition]
	notArg, okNot := dig(c, "Fn::Not")
	inner, _ := notArg.([]any)
	var eq []any
	if okNot && len(inner) == 1 {
		if e, ok := dig(inner[0], "Fn::Equals"); ok {
			eq, _ = e.([]any)
		}
	}
	isZero := func(x any) bool { n, ok := asInt(x); return ok && n == 0 }
	isParam := func(x any) bool { r := render(x); return len(r) == 1 && r[0] == "${"+reservedParam+"}" }
	if len(eq) != 2 || !((isParam(eq[0]) && isZero(eq[1])) || (isZero(eq[0]) && isParam(eq[1]))) {
		ps.add("Conditions", "%s %v: want !Not [!Equals [!Ref %s, \"0\"]]", reservedCondition, c, reservedParam)
	}
}

// checkEnv: every variable the config reads is set; nothing else is (a typo like DRYRUN would be
// silently ignored by the code); AWS_REGION is left to Lambda.
func checkEnv(t *Template, want []string) []problem {
	var ps problems
	props, ok := functionProps(t)
	if !ok {
		ps.add(functionID, "missing, or not an AWS::Serverless::Function")
		return ps
	}
	vars := envVars(props)
	wanted := map[string]bool{}
	for _, name := range want {
		wanted[name] = true
		if _, ok := vars[name]; !ok {
			ps.add(functionID, "environment variable %s is not set; the config reads it", name)
		}
	}
	for _, name := range sortedKeys(vars) {
		switch {
		case strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "LAMBDA_") || name == "_HANDLER":
			ps.add(functionID, "environment variable %s is reserved; Lambda sets it", name)
		case !wanted[name]:
			ps.add(functionID, "environment variable %s is not read by the config (typo?)", name)
		}
	}
	return ps
}

// ---- the example alarms ----

// checkAlarms: each example alarm watches API Gateway by ApiName and Stage and sends both ALARM and
// OK to AlarmTopic.
func checkAlarms(t *Template) []problem {
	var ps problems
	want := map[string]string{"Api5XXAlarm": "5XXError", "ApiLatencyP99Alarm": "Latency"}
	for _, name := range exampleAlarms {
		r, ok := t.Resources[name]
		if !ok || r.Type != "AWS::CloudWatch::Alarm" {
			ps.add(name, "missing, or not an AWS::CloudWatch::Alarm")
			continue
		}
		p := r.Properties
		if ns, _ := p["Namespace"].(string); ns != "AWS/ApiGateway" {
			ps.add(name, "Namespace %v: want AWS/ApiGateway", p["Namespace"])
		}
		if m, _ := p["MetricName"].(string); m != want[name] {
			ps.add(name, "MetricName %v: want %s", p["MetricName"], want[name])
		}
		dims := map[string][]string{}
		for _, d := range flatten(p["Dimensions"]) {
			dm, _ := d.(map[string]any)
			if n, ok := dm["Name"].(string); ok {
				dims[n] = append(dims[n], render(dm["Value"])...)
			}
		}
		for dim, val := range map[string]string{"ApiName": "${RestApiName}", "Stage": "${StageName}"} {
			if got := dims[dim]; len(got) != 1 || got[0] != val {
				ps.add(name, "dimension %s = %v: want %s (Rewind maps ApiName+Stage to the stage it moves)", dim, got, val)
			}
		}
		for _, actions := range []string{"AlarmActions", "OKActions"} {
			found := false
			for _, a := range strs(p[actions]) {
				if a == "${"+alarmTopic+"}" {
					found = true
				}
			}
			if !found {
				ps.add(name, "%s does not include %s", actions, alarmTopic)
			}
		}
		if enabled, ok := p["ActionsEnabled"].(bool); ok && !enabled {
			ps.add(name, "ActionsEnabled is false: the alarm would never reach Rewind")
		}
	}
	return ps
}
