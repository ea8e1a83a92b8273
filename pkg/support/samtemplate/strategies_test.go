package samtemplate

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/target"
)

// examples are valid values for every parameter TARGETS is built from, each optional strategy on.
var examples = map[string]string{
	"RestApiId": "a1b2c3d4e5", "RestApiName": "shop", "StageName": "prod", "FallbackDeploymentId": "d1legacy",
	"HttpApiId": "h1b2c3d4e5", "HttpStageName": "$default", "HttpFallbackDeploymentId": "dep9",
	"LambdaFunctionName": "api-user-id", "LambdaAliasName": "live", "LambdaFallbackVersion": "7",
	"CloudFrontDistributionId": "E2QWRUHAPOMQZL", "CloudFrontPathPattern": "/api/users/*", "CloudFrontLegacyOriginId": "legacy-ec2",
	"ProtectTag": "rewind=protect", "ProtectTagKinds": "rest,http",
}

var optional = []string{"HttpApiId", "HttpStageName", "HttpFallbackDeploymentId", "LambdaFunctionName", "LambdaAliasName",
	"LambdaFallbackVersion", "CloudFrontDistributionId", "CloudFrontPathPattern", "CloudFrontLegacyOriginId"}

// withEveryStrategy returns the template text with each optional strategy parameter defaulting to an
// example value, so every condition that enables a strategy is true.
func withEveryStrategy(t *testing.T) string {
	t.Helper()
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(orig)
	for _, name := range optional {
		head := "\n  " + name + ":\n    Type: String\n"
		i := strings.Index(s, head)
		if i < 0 || strings.Count(s, head) != 1 {
			t.Fatalf("parameter %s: not found once in the template", name)
		}
		j := strings.Index(s[i:], "    Default: \"\"\n")
		if j < 0 || nextParameter.MatchString(s[i+len(head):i+j]) {
			continue // a parameter with a real default (HttpStageName: $default) keeps it
		}
		s = s[:i+j] + "    Default: \"" + examples[name] + "\"\n" + s[i+j+len("    Default: \"\"\n"):]
	}
	return s
}

// TestTemplateCfnLintWithEveryStrategyEnabled: cfn-lint, with the SAM translator, finds nothing when
// the HTTP API, Lambda alias and CloudFront strategies are all on.
func TestTemplateCfnLintWithEveryStrategyEnabled(t *testing.T) {
	bin := cfnLint(t)
	p := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(p, []byte(withEveryStrategy(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCfnLint(bin, p); err != nil || out != "" {
		t.Fatalf("cfn-lint with every strategy enabled: %v\n%s", err, out)
	}
}

// TestTemplateTargetsAreValidForEveryCombination resolves TARGETS for every combination of the
// parameters it is built from that the template's rules let deploy, and parses each with the code's
// own grammar: whichever strategies are on, the function starts.
func TestTemplateTargetsAreValidForEveryCombination(t *testing.T) {
	for _, p := range checkTargets(loadReal(t)) {
		t.Error(p)
	}
}

var nextParameter = regexp.MustCompile("\n  [A-Za-z]")

var ref = regexp.MustCompile(`\$\{([A-Za-z0-9:]+)\}`)

// targetGroups are the parameters TARGETS is built from, in the groups the rules make go together:
// checkTargets sets each group to its examples or leaves it at its defaults, in every combination.
var targetGroups = [][]string{{"RestApiId", "RestApiName"}, {"FallbackDeploymentId"}, {"HttpApiId"}, {"HttpFallbackDeploymentId"},
	{"LambdaFunctionName", "LambdaAliasName"}, {"LambdaFallbackVersion"},
	{"CloudFrontDistributionId", "CloudFrontPathPattern", "CloudFrontLegacyOriginId"}, {protectParam}, {kindsParam}}

func checkTargets(tpl *Template) []problem {
	var ps problems
	props, ok := functionProps(tpl)
	if !ok {
		ps.add(functionID, "missing")
		return ps
	}
	seen := map[target.Kind]bool{}
	most, deployable := 0, 0
	for mask := 0; mask < 1<<len(targetGroups); mask++ {
		params := map[string]string{}
		for i, g := range targetGroups {
			for _, name := range g {
				if mask&(1<<i) != 0 {
					params[name] = examples[name]
				}
			}
		}
		d := newDeployment(tpl, params)
		if refused, err := ruleFailures(d); err != nil || len(refused) > 0 {
			if err != nil {
				ps.add("Rules", "%v", err)
			}
			continue // CloudFormation refuses these parameters before it creates anything
		}
		deployable++
		filled, err := d.str(envVars(props)["TARGETS"])
		if err != nil {
			ps.add(functionID+" TARGETS", "parameters %v: %v", params, err)
			continue
		}
		if strings.HasPrefix(filled, ",") || strings.HasSuffix(filled, ",") || strings.Contains(filled, ",,") {
			ps.add(functionID+" TARGETS", "%q (parameters %v) has an empty item", filled, params)
		}
		spec, err := target.ParseSpec(filled)
		if err != nil {
			ps.add(functionID+" TARGETS", "%q (parameters %v) does not parse: %v", filled, params, err)
			continue
		}
		for _, tg := range spec.Explicit {
			seen[tg.Kind] = true
		}
		if got, want := selectorStrings(spec.Selectors), wantSelectors(params); !slices.Equal(got, want) {
			ps.add(functionID+" TARGETS", "%q (parameters %v): selectors %q, want %q", filled, params, got, want)
		}
		most = max(most, len(spec.Explicit))
	}
	if deployable == 0 {
		ps.add("Rules", "refuse every combination of parameters")
	}
	for _, k := range target.Kinds {
		if !seen[k] {
			ps.add(functionID+" TARGETS", "no combination of parameters names a %s target", k)
		}
	}
	if most != len(target.Kinds) {
		ps.add(functionID+" TARGETS", "at most %d targets at once, want one of each kind (%d)", most, len(target.Kinds))
	}
	return ps
}

func TestTargetsCheckCatchesAMalformedTarget(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	for old, want := range map[string]string{
		`",lambda:${LambdaFunctionName}:${LambdaAliasName}"`:                                             "want lambda:functionName:alias",
		`",cloudfront:${CloudFrontDistributionId}:${CloudFrontPathPattern}@${CloudFrontLegacyOriginId}"`: "no combination of parameters names a cloudfront target",
	} {
		broken := strings.Replace(string(orig), old, map[bool]string{true: `",lambda:${LambdaFunctionName}/${LambdaAliasName}"`, false: `""`}[strings.Contains(old, "lambda")], 1)
		if broken == string(orig) {
			t.Fatalf("mutation out of date: %s", old)
		}
		tpl, err := Parse([]byte(broken))
		if err != nil {
			t.Fatal(err)
		}
		ps := checkTargets(tpl)
		if !slices.ContainsFunc(ps, func(p problem) bool { return strings.Contains(p.What, want) }) {
			t.Errorf("breaking %s: problems %v, want %q", old, ps, want)
		}
	}
}

// strategyAlarms: each optional strategy's example alarm, the condition it exists under, and the
// dimensions the code's resolver maps to that strategy's target.
var strategyAlarms = []struct {
	name, condition, namespace, metric string
	dims                               map[string]string
}{
	{"HttpApi5XXAlarm", "HasHttpStage", "AWS/ApiGateway", "5xx", map[string]string{"ApiId": "${HttpApiId}", "Stage": "${HttpStageName}"}},
	{"LambdaAliasErrorsAlarm", "HasLambdaAlias", "AWS/Lambda", "Errors",
		map[string]string{"FunctionName": "${LambdaFunctionName}", "Resource": "${LambdaFunctionName}:${LambdaAliasName}"}},
	{"CloudFront5XXRateAlarm", "HasCloudFrontAlarm", "AWS/CloudFront", "5xxErrorRate",
		map[string]string{"DistributionId": "${CloudFrontDistributionId}", "Region": "Global"}},
}

// checkStrategyAlarms: every strategy's example alarm exists only with its strategy, carries the
// dimensions Rewind resolves to that target, and sends ALARM and OK to AlarmTopic.
func checkStrategyAlarms(t *Template) []problem {
	var ps problems
	for _, want := range strategyAlarms {
		r, ok := t.Resources[want.name]
		if !ok || r.Type != "AWS::CloudWatch::Alarm" {
			ps.add(want.name, "missing, or not an AWS::CloudWatch::Alarm")
			continue
		}
		if r.Condition != want.condition {
			ps.add(want.name, "Condition %q: want %s (the alarm exists only with its strategy)", r.Condition, want.condition)
		}
		p := r.Properties
		if ns, _ := p["Namespace"].(string); ns != want.namespace {
			ps.add(want.name, "Namespace %v: want %s", p["Namespace"], want.namespace)
		}
		if m, _ := p["MetricName"].(string); m != want.metric {
			ps.add(want.name, "MetricName %v: want %s", p["MetricName"], want.metric)
		}
		dims := map[string][]string{}
		for _, d := range flatten(p["Dimensions"]) {
			dm, _ := d.(map[string]any)
			if n, ok := dm["Name"].(string); ok {
				dims[n] = append(dims[n], render(dm["Value"])...)
			}
		}
		for dim, val := range want.dims {
			if got := dims[dim]; len(got) != 1 || got[0] != val {
				ps.add(want.name, "dimension %s = %v: want %s (Rewind maps it to the target)", dim, got, val)
			}
		}
		for _, actions := range []string{"AlarmActions", "OKActions"} {
			if !slices.Contains(strs(p[actions]), "${"+alarmTopic+"}") {
				ps.add(want.name, "%s does not include %s", actions, alarmTopic)
			}
		}
	}
	return ps
}

func TestTemplateStrategyAlarmsReachTheirTargets(t *testing.T) {
	report(t, checkStrategyAlarms(loadReal(t)))
}

func TestStrategyAlarmCheckCatchesBreakage(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ old, new, want string }{
		{"        - Name: Resource\n          Value: !Sub \"${LambdaFunctionName}:${LambdaAliasName}\"\n", "", "dimension Resource"},
		{"    Condition: HasCloudFrontAlarm\n", "    Condition: HasCloudFront\n", "want HasCloudFrontAlarm"},
		{"      MetricName: 5xx\n", "      MetricName: 5XXError\n", "MetricName 5XXError"},
	} {
		if strings.Count(string(orig), m.old) != 1 {
			t.Fatalf("mutation out of date: %q", m.old)
		}
		tpl, err := Parse([]byte(strings.Replace(string(orig), m.old, m.new, 1)))
		if err != nil {
			t.Fatal(err)
		}
		ps := checkStrategyAlarms(tpl)
		if !slices.ContainsFunc(ps, func(p problem) bool { return strings.Contains(p.What, m.want) }) {
			t.Errorf("%q -> %q: problems %v, want %q", m.old, m.new, ps, m.want)
		}
	}
}
