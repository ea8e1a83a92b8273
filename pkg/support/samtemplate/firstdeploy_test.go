package samtemplate

// A first deploy that works, and starts safe: cfn-lint is clean with ReservedConcurrency=0 as with the
// default, 0 leaves ReservedConcurrentExecutions out of what CloudFormation gets, AlarmTargets takes
// every kind's target, DryRun starts true, and the outputs hold the check command.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/target"
)

// withDefault returns the template text with parameter name's Default replaced.
func withDefault(t *testing.T, text, name, oldDefault, newDefault string) string {
	t.Helper()
	head := "\n  " + name + ":\n"
	i := strings.Index(text, head)
	if i < 0 || strings.Count(text, head) != 1 {
		t.Fatalf("parameter %s: not found once in the template", name)
	}
	old := "    Default: " + oldDefault + "\n"
	j := strings.Index(text[i:], old)
	if j < 0 || nextParameter.MatchString(text[i+len(head):i+j]) {
		t.Fatalf("parameter %s has no Default: %s", name, oldDefault)
	}
	return text[:i+j] + "    Default: " + newDefault + "\n" + text[i+j+len(old):]
}

// TestTemplateCfnLintWithoutReservedConcurrency: cfn-lint (with the SAM translator) finds nothing with
// ReservedConcurrency=0, alone and with every strategy on; TestTemplateCfnLint covers the default.
func TestTemplateCfnLintWithoutReservedConcurrency(t *testing.T) {
	bin := cfnLint(t)
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, text := range map[string]string{
		"none":       withDefault(t, string(orig), reservedParam, "2", "0"),
		"none-every": withDefault(t, withEveryStrategy(t), reservedParam, "2", "0"),
	} {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := runCfnLint(bin, p); err != nil || out != "" {
			t.Errorf("cfn-lint with ReservedConcurrency=0 (%s): %v\n%s", name, err, out)
		}
	}
}

// TestReservedConcurrencyZeroIsNoReservation: in what the SAM translator makes, the function gets
// ReservedConcurrentExecutions 2 by default, the value chosen for 1..5, and none at all for 0.
func TestReservedConcurrencyZeroIsNoReservation(t *testing.T) {
	tpl := translate(t, samPython(t), templatePath)[0]
	fn, ok := tpl.Resources[functionID]
	if !ok || fn.Type != "AWS::Lambda::Function" {
		t.Fatalf("no AWS::Lambda::Function %s in the translation", functionID)
	}
	for value, want := range map[string]any{"": "2", "0": noValue, "1": "1", "5": "5"} {
		params := map[string]string{"RestApiId": examples["RestApiId"], "RestApiName": "shop"}
		if value != "" {
			params[reservedParam] = value
		}
		got, err := newDeployment(tpl, params).eval(fn.Properties["ReservedConcurrentExecutions"])
		if err != nil {
			t.Fatalf("%s=%q: %v", reservedParam, value, err)
		}
		if got != noValue {
			got = scalarString(got)
		}
		if got != want {
			t.Errorf("%s=%q: ReservedConcurrentExecutions resolves to %v, want %v", reservedParam, value, got, want)
		}
	}
}

// alarmTargetExamples: for each kind of target, an AlarmTargets value naming it, and the TARGETS it
// must be one of. The CloudFront path pattern holds the characters a pattern may.
var alarmTargetExamples = []struct {
	kind          target.Kind
	value, allows string
}{
	{target.KindRESTStage, "api-user-id-errors*=a1b2c3d4e5/prod", "a1b2c3d4e5/prod"},
	{target.KindRESTStage, "checkout=latency=rest:a1b2c3d4e5/prod", "a1b2c3d4e5/prod"},
	{target.KindHTTPStage, "orders-*=http:h1b2c3d4e5/$default", "http:h1b2c3d4e5/$default"},
	{target.KindHTTPStage, "orders-beta=http:h1b2c3d4e5/beta_2", "http:h1b2c3d4e5/beta_2"},
	{target.KindLambdaAlias, "users backend errors=lambda:api-user-id:live", "lambda:api-user-id:live"},
	{target.KindCloudFront, "edge-5xx*=cloudfront:E2QWRUHAPOMQZL:/api/users/*", "cloudfront:E2QWRUHAPOMQZL:/api/users/*@legacy-ec2"},
	{target.KindCloudFront, "edge-default=cloudfront:E2QWRUHAPOMQZL:*", "cloudfront:E2QWRUHAPOMQZL:*@legacy-ec2"},
	{target.KindCloudFront, "odd=cloudfront:E2QWRUHAPOMQZL:/a-b_c.d/~e:f+g&h$/*.png", "cloudfront:E2QWRUHAPOMQZL:/a-b_c.d/~e:f+g&h$/*.png@legacy-ec2"},
}

// alarmTargetsRejected are values the pattern must refuse (the config would, too).
var alarmTargetsRejected = []string{
	"no-equals-sign",
	"=a1b2c3d4e5/prod",
	"x=a1b2c3d4e5",
	"x=ftp:a1b2c3d4e5/prod",
	"x=lambda:api-user-id",
	"x=http:h1b2c3d4e5/$other",
	"x=cloudfront:e2qwruhapomqzl:/api/*",
	"x=a1b2c3d4e5/prod,",
	"x=a1b2c3d4e5/prod@d1legacy",
}

// checkAlarmTargetsPattern: AlarmTargets' AllowedPattern takes every kind's target, and each value it
// takes is one the config reads (target.ParseMappings, against TARGETS naming the target), and it refuses
// the malformed. Go's regexp reads the pattern as CloudFormation's (Java's) does: it uses no construct
// where the two differ.
func checkAlarmTargetsPattern(tpl *Template) []problem {
	var ps problems
	p, _ := tpl.Parameters["AlarmTargets"].(map[string]any)
	pattern, _ := p["AllowedPattern"].(string)
	re, err := regexp.Compile(pattern)
	if err != nil {
		ps.add("AlarmTargets", "AllowedPattern %q: %v", pattern, err)
		return ps
	}
	if !re.MatchString("") {
		ps.add("AlarmTargets", "AllowedPattern refuses the empty default")
	}
	seen := map[target.Kind]bool{}
	var all []string
	for _, e := range alarmTargetExamples {
		if !re.MatchString(e.value) {
			ps.add("AlarmTargets", "AllowedPattern refuses %q (a %s target)", e.value, e.kind)
			continue
		}
		seen[e.kind] = true
		all = append(all, e.value)
		targets, err := target.ParseList(e.allows)
		if err == nil {
			_, err = target.ParseMappings(e.value, targets)
		}
		if err != nil {
			ps.add("AlarmTargets", "AllowedPattern takes %q, which the config refuses: %v", e.value, err)
		}
	}
	if joined := strings.Join(all, ","); len(all) > 1 && !re.MatchString(joined) {
		ps.add("AlarmTargets", "AllowedPattern refuses the examples joined by commas: %q", joined)
	}
	for _, k := range target.Kinds {
		if !seen[k] {
			ps.add("AlarmTargets", "AllowedPattern takes no %s target", k)
		}
	}
	for _, v := range alarmTargetsRejected {
		if re.MatchString(v) {
			ps.add("AlarmTargets", "AllowedPattern takes %q", v)
		}
	}
	return ps
}

func TestTemplateAlarmTargetsTakesEveryKind(t *testing.T) {
	report(t, checkAlarmTargetsPattern(loadReal(t)))
}

// checkFirstSteps: a first deploy changes nothing (DryRun defaults to true, and says how to go live),
// and the outputs hold the check command beside the status command.
func checkFirstSteps(tpl *Template) []problem {
	var ps problems
	p, _ := tpl.Parameters["DryRun"].(map[string]any)
	if d := scalarString(p["Default"]); d != "true" {
		ps.add("DryRun", "Default %q: want \"true\", so a first sam deploy --guided that takes the defaults changes nothing on production", d)
	}
	desc, _ := p["Description"].(string)
	for _, w := range []string{"check", "false"} {
		if !strings.Contains(desc, w) {
			ps.add("DryRun", "Description %q does not mention %q: say how to go from dry run to live", desc, w)
		}
	}
	for name, action := range map[string]string{"CheckCommand": "check", "StatusCommand": "status"} {
		out, _ := tpl.Outputs[name].(map[string]any)
		if out == nil {
			ps.add("Outputs", "no %s", name)
			continue
		}
		// One value per mode (with RestApiId, and ProtectTag only): each must be a safe command.
		values := render(out["Value"])
		if len(values) == 0 {
			ps.add(name, "Value renders to nothing")
		}
		for _, v := range values {
			if !strings.Contains(v, "aws lambda invoke ") || !strings.Contains(v, "--function-name ${"+functionID+"}") || !strings.Contains(v, "--cli-binary-format raw-in-base64-out") {
				ps.add(name, "Value %q: want aws lambda invoke of ${%s} with --cli-binary-format raw-in-base64-out", v, functionID)
			}
			_, payload, ok := strings.Cut(v, "--payload '")
			payload, _, ok2 := strings.Cut(payload, "'")
			var cmd map[string]any
			if !ok || !ok2 || json.Unmarshal([]byte(payload), &cmd) != nil {
				ps.add(name, "Value %q: want --payload '<one JSON object>'", v)
				continue
			}
			if cmd["action"] != action {
				ps.add(name, "payload %s: want \"action\":%q", payload, action)
			}
			if d, ok := cmd["dryRun"]; ok && d != true {
				ps.add(name, "payload %s: a %s changes nothing; no dryRun false", payload, action)
			}
		}
	}
	return ps
}

func TestTemplateFirstStepsAreSafe(t *testing.T) { report(t, checkFirstSteps(loadReal(t))) }

// The AlarmTargets pattern as it was: REST stages only.
const restOnlyAlarmTargets = `"^([^,]+=[A-Za-z0-9]+/[A-Za-z0-9_-]+(,[^,]+=[A-Za-z0-9]+/[A-Za-z0-9_-]+)*)?$"`

func firstStepMutations(t *testing.T, orig string) []mutation {
	i := strings.Index(orig, "    AllowedPattern: \"^([^,]+=((rest:)?")
	if i < 0 {
		t.Fatal("the AlarmTargets pattern is out of date")
	}
	line := orig[i : i+strings.Index(orig[i:], "\n")+1]
	return []mutation{
		{name: "dry run off by default", check: checkFirstSteps, want: `DryRun: Default "false"`,
			edits: [][2]string{{"    Default: \"true\"\n    AllowedValues: [\"true\", \"false\"]\n", "    Default: \"false\"\n    AllowedValues: [\"true\", \"false\"]\n"}}},
		{name: "no check command", check: checkFirstSteps, want: "no CheckCommand",
			edits: [][2]string{{"  CheckCommand:\n", "  CheckingCommand:\n"}}},
		{name: "the check command runs status", check: checkFirstSteps, want: `want "action":"check"`,
			edits: [][2]string{{`raw-in-base64-out --payload '{"action":"check"}'`, `raw-in-base64-out --payload '{"action":"status"}'`}}},
		{name: "the check command invokes another function", check: checkFirstSteps, want: "CheckCommand: Value",
			edits: [][2]string{{"--function-name ${ResponderFunction}\n      --cli-binary-format raw-in-base64-out --payload '{\"action\":\"check\"}'",
				"--function-name ${LambdaFunctionName}\n      --cli-binary-format raw-in-base64-out --payload '{\"action\":\"check\"}'"}}},
		{name: "AlarmTargets for REST stages only", check: checkAlarmTargetsPattern, want: "takes no http target",
			edits: [][2]string{{line, "    AllowedPattern: " + restOnlyAlarmTargets + "\n"}}},
		{name: "AlarmTargets taking anything", check: checkAlarmTargetsPattern, want: `AllowedPattern takes "no-equals-sign"`,
			edits: [][2]string{{line, "    AllowedPattern: \"^.*$\"\n"}}},
		{name: "AlarmTargets taking lower-case distributions", check: checkAlarmTargetsPattern, want: "cloudfront:e2qwruhapomqzl",
			edits: [][2]string{{line, strings.ReplaceAll(line, "cloudfront:[A-Z0-9]+", "cloudfront:[A-Za-z0-9]+")}}},
	}
}

func TestFirstStepChecksCatchBrokenTemplates(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range firstStepMutations(t, string(orig)) {
		t.Run(m.name, func(t *testing.T) { runMutation(t, orig, m) })
	}
	// The examples cover every kind the code knows.
	kinds := map[target.Kind]bool{}
	for _, e := range alarmTargetExamples {
		kinds[e.kind] = true
	}
	for _, k := range target.Kinds {
		if !kinds[k] {
			t.Errorf("alarmTargetExamples has no %s target", k)
		}
	}
	if !slices.Contains(target.Kinds, target.KindCloudFront) {
		t.Error("target.Kinds lost CloudFront: the examples are out of date")
	}
}
