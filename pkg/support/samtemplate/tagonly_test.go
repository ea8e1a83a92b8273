package samtemplate

// The ProtectTag-only mode: RestApiId (and RestApiName) empty, ProtectTag set. One StackSet with
// ProtectTag=rewind=protect and no value per account then protects every tagged REST stage of every
// account and region. The template's rules refuse a stack with neither an explicit stage nor
// ProtectTag; AWS's SAM translator keeps them; cfn-lint passes; TARGETS is exactly the selector; and
// Rewind's role, as iam-simulate evaluates it, may switch only tagged stages and names no API id.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
	"github.com/rewind-sre/rewind/pkg/target"
)

// explicitStage is the condition every use of RestApiId, RestApiName and StageName hangs on.
const explicitStage = "HasExplicitStage"

// underConditions returns v with each Fn::If on a condition in conds replaced by the branch it
// takes, so render sees one mode of the template (the other conditions still yield both branches).
func underConditions(v any, conds map[string]bool) any {
	if fn, arg, ok := intrinsic(v); ok && fn == "Fn::If" {
		if a, ok := arg.([]any); ok && len(a) == 3 {
			if name, _ := a[0].(string); name != "" {
				if c, fixed := conds[name]; fixed {
					if c {
						return underConditions(a[1], conds)
					}
					return underConditions(a[2], conds)
				}
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = underConditions(e, conds)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = underConditions(e, conds)
		}
		return out
	}
	return v
}

// ruleFailures evaluates the template's Rules as CloudFormation does before it creates a stack: for
// each rule whose RuleCondition holds (a rule without one always applies), every Assert must hold.
// It returns the AssertDescription of each that does not. Rules take Fn::And, Fn::Or, Fn::Not,
// Fn::Equals and Ref of a parameter here, which the deployment's condition evaluator resolves.
func ruleFailures(d *deployment) ([]string, error) {
	rules, _ := d.t.Doc["Rules"].(map[string]any)
	var failed []string
	for _, name := range sortedKeys(rules) {
		rule, _ := rules[name].(map[string]any)
		if c, ok := rule["RuleCondition"]; ok {
			applies, err := d.condition(c)
			if err != nil {
				return nil, fmt.Errorf("rule %s: RuleCondition: %w", name, err)
			}
			if !applies {
				continue
			}
		}
		asserts, _ := rule["Assertions"].([]any)
		if len(asserts) == 0 {
			return nil, fmt.Errorf("rule %s: no Assertions", name)
		}
		for i, a := range asserts {
			am, _ := a.(map[string]any)
			ok, err := d.condition(am["Assert"])
			if err != nil {
				return nil, fmt.Errorf("rule %s: Assertions[%d]: %w", name, i, err)
			}
			if !ok {
				failed = append(failed, scalarString(am["AssertDescription"]))
			}
		}
	}
	return failed, nil
}

// tagOnly is the parameters of a stack in the ProtectTag-only mode: nothing else is given.
var tagOnly = map[string]string{protectParam: examples[protectParam]}

// checkStageRules: the rules refuse a stack with neither RestApiId nor ProtectTag (saying what to set),
// and a RestApiId without its RestApiName, and let each mode deploy.
func checkStageRules(tpl *Template) []problem {
	var ps problems
	explicit := map[string]string{"RestApiId": examples["RestApiId"], "RestApiName": examples["RestApiName"]}
	both := map[string]string{"RestApiId": examples["RestApiId"], "RestApiName": examples["RestApiName"], protectParam: examples[protectParam]}
	for _, c := range []struct {
		name   string
		params map[string]string
		refuse []string // fragments of the one AssertDescription that must fail; nil = deploys
	}{
		{"neither RestApiId nor ProtectTag", map[string]string{}, []string{"RestApiId", "ProtectTag"}},
		{"RestApiId without RestApiName", map[string]string{"RestApiId": examples["RestApiId"]}, []string{"RestApiName"}},
		{"RestApiName without RestApiId", map[string]string{"RestApiName": examples["RestApiName"], protectParam: examples[protectParam]}, []string{"RestApiId"}},
		{"ProtectTag only", tagOnly, nil},
		{"RestApiId and RestApiName", explicit, nil},
		{"both modes", both, nil},
	} {
		// The three parameters not given are empty, whatever the template's defaults.
		params := map[string]string{"RestApiId": "", "RestApiName": "", protectParam: ""}
		for k, v := range c.params {
			params[k] = v
		}
		failed, err := ruleFailures(newDeployment(tpl, params))
		switch {
		case err != nil:
			ps.add("Rules", "%s: %v", c.name, err)
		case c.refuse == nil && len(failed) > 0:
			ps.add("Rules", "%s: refused (%q), want it to deploy", c.name, failed)
		case c.refuse != nil && len(failed) != 1:
			ps.add("Rules", "%s deploys, or fails %d assertions (%q): want one refusal naming %v", c.name, len(failed), failed, c.refuse)
		case c.refuse != nil:
			for _, w := range c.refuse {
				if !strings.Contains(failed[0], w) {
					ps.add("Rules", "%s: refused with %q, which does not name %s", c.name, failed[0], w)
				}
			}
		}
	}
	return ps
}

func TestTemplateRulesRefuseAStackWithNothingToProtect(t *testing.T) {
	report(t, checkStageRules(loadReal(t)))
}

// TestTagOnlyChecksCatchBrokenTemplates: without the rule a stack with nothing to protect deploys,
// and a TARGETS that puts the selector after an empty explicit stage starts with a comma.
func TestTagOnlyChecksCatchBrokenTemplates(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	rule := "  AStageToProtect:\n    Assertions:\n"
	for _, m := range []mutation{
		{name: "no rule", check: checkStageRules, want: "neither RestApiId nor ProtectTag deploys",
			edits: [][2]string{{rule, "  AStageToProtect:\n    RuleCondition: !Equals [!Ref RestApiId, never]\n    Assertions:\n"}}},
		{name: "the pair rule gone", check: checkStageRules, want: "RestApiId without RestApiName deploys",
			edits: [][2]string{{"  RestApiIdAndNameGoTogether:\n    RuleCondition: !Or", "  RestApiIdAndNameGoTogether:\n    RuleCondition: !And"}}},
		{name: "a leading comma", check: checkTargets, want: "has an empty item",
			edits: [][2]string{
				{"                  - !Sub \"${RestApiId}/${StageName}\"\n                - !Sub \"rest:tag:${ProtectTag}\"\n", "                  - !Sub \"${RestApiId}/${StageName}\"\n                - \"\"\n"},
				{"!If [ExplicitStageAndByTag, !Sub \",rest:tag:${ProtectTag}\", \"\"]", "!If [ProtectByTag, !Sub \",rest:tag:${ProtectTag}\", \"\"]"}}},
	} {
		t.Run(m.name, func(t *testing.T) { runMutation(t, orig, m) })
	}
}

// TestTemplateCfnLintProtectTagOnly: cfn-lint (with the SAM translator) finds nothing with ProtectTag
// set and RestApiId left empty, alone and with every strategy on, nor in what `make package` makes of
// it; and that translation, what a StackSet is given, asks no account for a value: every parameter
// but the code's location has a default, and the rules came through.
func TestTemplateCfnLintProtectTagOnly(t *testing.T) {
	bin := cfnLint(t)
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths := map[string]string{}
	for name, text := range map[string]string{"tag-only": withProtectTag(t, string(orig)), "tag-only-every": withProtectTag(t, withEveryStrategy(t))} {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
		if out, err := runCfnLint(bin, p); err != nil || out != "" {
			t.Errorf("cfn-lint with ProtectTag only (%s): %v\n%s", name, err, out)
		}
	}
	python, err := SAMPython()
	if err != nil {
		testenv.Missing(t, err.Error(), SAMInstall)
	}
	body, err := StackSetTemplate(context.Background(), python, paths["tag-only"])
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "stackset-template.json")
	if err := os.WriteFile(p, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCfnLint(bin, p); err != nil || out != "" {
		t.Errorf("cfn-lint on the StackSet template with ProtectTag only: %v\n%s", err, out)
	}
	tpl, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	var required []string
	for _, name := range sortedKeys(tpl.Parameters) {
		if pm, _ := tpl.Parameters[name].(map[string]any); pm["Default"] == nil {
			required = append(required, name)
		}
	}
	if want := []string{ParamCodeBucketPrefix, ParamCodeKey}; !slices.Equal(required, want) {
		t.Errorf("the StackSet template's parameters without a default: %v, want only %v (the code's location)", required, want)
	}
	report(t, checkStageRules(tpl))
}

// unusedStage is a StageName no resolved value of a ProtectTag-only stack may hold: without RestApiId
// nothing names the explicit stage.
const unusedStage = "unusedstage"

// TestProtectTagOnlyAsDeployed translates the template with AWS's SAM translator and resolves it as a
// stack with ProtectTag alone (StageName set to a value that must appear nowhere): TARGETS is exactly
// the selector and the config takes it; no resource or output that exists names an API id or the
// stage; the dashboard is JSON naming only alarms that exist; and iam-simulate lets Rewind's role switch
// only tagged stages, with nothing on one API's id.
func TestProtectTagOnlyAsDeployed(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	// Mutants, to show namesNoExplicitStage can fail: an example alarm without its condition, and the
	// function's description naming the stage whatever the mode.
	dir := t.TempDir()
	paths := []string{templatePath}
	for i, m := range [][2]string{
		{"  Api5XXAlarm:\n    Type: AWS::CloudWatch::Alarm\n    Condition: HasExplicitStage\n", "  Api5XXAlarm:\n    Type: AWS::CloudWatch::Alarm\n"},
		{"      Description: !If\n        - HasExplicitStage\n        - !Sub \"Rewind: on alarm, puts ${RestApiId}/${StageName} back on its previous deployment\"\n" +
			"        - \"Rewind: on alarm, puts an API Gateway stage carrying the ProtectTag back on its previous deployment\"\n",
			"      Description: !Sub \"Rewind: on alarm, puts ${RestApiId}/${StageName} back on its previous deployment\"\n"},
	} {
		if strings.Count(string(orig), m[0]) != 1 {
			t.Fatalf("mutation out of date: %q", m[0])
		}
		p := filepath.Join(dir, fmt.Sprintf("mutant%d.yaml", i))
		if err := os.WriteFile(p, []byte(strings.Replace(string(orig), m[0], m[1], 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	tpls := translate(t, samPython(t), paths...)
	params := map[string]string{protectParam: examples[protectParam], "StageName": unusedStage}
	for i, mutant := range tpls[1:] {
		if ps := namesNoExplicitStage(newDeployment(mutant, params)); len(ps) == 0 {
			t.Errorf("mutant %d: namesNoExplicitStage found nothing", i)
		}
	}
	tpl := tpls[0]
	d := newDeployment(tpl, params)

	props, err := d.eval(tpl.Resources[functionID].Properties)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := dig(props, "Environment", "Variables")
	vars, _ := env.(map[string]any)
	if got, want := scalarString(vars[config.EnvTargets]), "rest:tag:"+examples[protectParam]; got != want {
		t.Errorf("TARGETS %q, want exactly %q", got, want)
	}
	spec, err := target.ParseSpec(scalarString(vars[config.EnvTargets]))
	if err != nil || len(spec.Explicit) != 0 || len(spec.Selectors) != 1 || spec.Selectors[0].String() != "rest:tag:"+examples[protectParam] {
		t.Errorf("target.ParseSpec(TARGETS): %+v, %v: want the one selector", spec, err)
	}
	cfg, err := config.FromEnv(func(k string) string {
		if k == "AWS_REGION" {
			return simRegion
		}
		return scalarString(vars[k])
	})
	if err != nil || len(cfg.Targets) != 0 || len(cfg.Selectors) != 1 {
		t.Errorf("config.FromEnv of the function's environment: %d targets, %d selectors, %v: want the selector alone", len(cfg.Targets), len(cfg.Selectors), err)
	}

	// The explicit mode's TARGETS is as it was, alone and with ProtectTag.
	both := map[string]string{protectParam: examples[protectParam]}
	for k, v := range simParams {
		both[k] = v
	}
	explicit := examples["RestApiId"] + "/" + examples["StageName"]
	for want, p := range map[string]map[string]string{explicit: simParams, explicit + ",rest:tag:" + examples[protectParam]: both} {
		fp, err := newDeployment(tpl, p).eval(tpl.Resources[functionID].Properties)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := dig(fp, "Environment", "Variables", config.EnvTargets); got != want {
			t.Errorf("with %v, TARGETS %q: want %q, as before ProtectTag could stand alone", p, got, want)
		}
	}

	for _, name := range exampleAlarms {
		if on, err := d.exists(name); err != nil || on {
			t.Errorf("%s exists (%v): without RestApiId there is no stage for it to watch", name, err)
		}
	}
	for _, p := range namesNoExplicitStage(d) {
		t.Error(p)
	}

	body, err := d.str(tpl.Resources[dashboardID].Properties["DashboardBody"])
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Widgets []struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &dash); err != nil {
		t.Fatalf("the dashboard body is not JSON: %v\n%s", err, body)
	}
	var alarms []string
	for _, w := range dash.Widgets {
		for _, a := range flatten(w.Properties["alarms"]) {
			alarms = append(alarms, scalarString(a))
		}
	}
	var want []string
	for _, name := range healthAlarmNames() {
		a, err := d.getAtt(name, "Arn")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, scalarString(a))
	}
	if !slices.Equal(alarms, want) {
		t.Errorf("the dashboard's alarms %q, want Rewind's own health alarms %q", alarms, want)
	}

	t.Run("iam", func(t *testing.T) { tagOnlyIAM(t, tpl, d) })
}

// namesNoExplicitStage: every resource that exists, and every output, resolves, and no string in them
// holds an empty API id (/restapis//) or the unused StageName.
func namesNoExplicitStage(d *deployment) []problem {
	var ps problems
	look := func(where string, v any) {
		walkValues(where, v, func(w, s string) {
			if strings.Contains(s, "/restapis//") || strings.Contains(s, unusedStage) {
				ps.add(w, "%q names the explicit stage, which a ProtectTag-only stack has not", s)
			}
		})
	}
	for _, name := range d.t.ResourceNames() {
		if on, err := d.exists(name); err != nil || !on {
			continue
		}
		v, err := d.eval(d.t.Resources[name].Properties)
		if err != nil {
			ps.add(name, "does not resolve: %v", err)
			continue
		}
		look(name, v)
	}
	for _, name := range sortedKeys(d.t.Outputs) {
		v, err := d.eval(d.t.Outputs[name])
		if err != nil {
			ps.add("Outputs."+name, "does not resolve: %v", err)
			continue
		}
		look("Outputs."+name, v)
	}
	return ps
}

// tagOnlyIAM: the role of a ProtectTag-only stack, through iam-simulate.
func tagOnlyIAM(t *testing.T, tpl *Template, d *deployment) {
	docs, _, err := d.rolePolicies(functionID + "Role")
	if err != nil {
		t.Fatal(err)
	}
	role := append(docs, policyDoc{where: "AWSLambdaBasicExecutionRole", doc: basicExecutionRole})
	// No Allow names one API: every REST resource granted is the region's (restapis/*) or the listing.
	for _, p := range grantedPairs(docs) {
		if _, rest, ok := strings.Cut(p[1], "::/restapis/"); ok && !strings.HasPrefix(rest, "*") && rest != "??????????" {
			t.Errorf("%s grants %s on %s: a ProtectTag-only stack names no API", p[2], p[0], p[1])
		}
	}
	principal := "arn:aws:iam::" + simAccount + ":role/" + mustRef(t, d, functionID+"Role")
	key, value, _ := strings.Cut(examples[protectParam], "=")
	tagged := map[string]string{"aws:ResourceTag/" + key: value}
	named := "/restapis/" + examples["RestApiId"]
	var cases []simCase
	add := func(name, action, resource string, ctx map[string]string, want string) {
		cases = append(cases, simCaseOf("tag-only: "+name, principal, action, apigwOr(resource), ctx, role, nil, want))
	}
	add("UpdateStage of a tagged stage", "apigateway:PATCH", "/restapis/zzzzzzzzzz/stages/live", tagged, "Allowed")
	add("UpdateStage of an untagged stage", "apigateway:PATCH", "/restapis/zzzzzzzzzz/stages/live", nil, "ImplicitlyDenied")
	add("UpdateStage of the examples' stage, untagged", "apigateway:PATCH", named+"/stages/"+examples["StageName"], nil, "ImplicitlyDenied")
	add("UpdateStage of the examples' stage, tagged", "apigateway:PATCH", named+"/stages/"+examples["StageName"], tagged, "Allowed")
	// check reads a tagged stage's API (its name) through ten single-character wildcards: an API id,
	// and nothing below it.
	add("GetRestApi of one API, for check", "apigateway:GET", named, nil, "Allowed")
	add("GetResources of one API (below the id)", "apigateway:GET", named+"/resources", nil, "ImplicitlyDenied")
	add("GET of an 11-character id", "apigateway:GET", named+"x", nil, "ImplicitlyDenied")
	// A read ProtectByTag grants on the region's stages: IAM's * spans "/", so stages/* covers exports.
	add("GetExport of a stage", "apigateway:GET", named+"/stages/"+examples["StageName"]+"/exports/oas30", nil, "Allowed")
	add("UpdateRestApi of one API, tagged", "apigateway:PATCH", named, tagged, "ImplicitlyDenied")
	add("CreateDeployment on one API, tagged", "apigateway:POST", named+"/deployments", tagged, "ExplicitlyDenied")
	add("GetStage of any REST stage", "apigateway:GET", "/restapis/zzzzzzzzzz/stages/live", nil, "Allowed")
	add("GetRestApis, to resolve an alarm's ApiName", "apigateway:GET", "/restapis", nil, "Allowed")
	add("tag:GetResources", "tag:GetResources", "*", nil, "Allowed")
	add("TagResource on a stage", "apigateway:PUT", "/tags/"+strings.ReplaceAll(apigw("/restapis/zzzzzzzzzz/stages/live"), ":", "%3A"), tagged, "ExplicitlyDenied")
	add("UpdateStage of an HTTP API stage", "apigateway:PATCH", "/apis/h1b2c3d4e5/stages/live", tagged, "ImplicitlyDenied")
	var sims []namedSimulation
	for _, c := range cases {
		sims = append(sims, namedSimulation{Name: c.name, Simulation: c.sim})
	}
	ans := askIAMRef(t, []string{"apigateway:GET"}, sims)
	for i, c := range cases {
		if got := ans.Simulations[i]; got.Result != c.want {
			t.Errorf("%s: iam-simulate says %s, want %s%s", c.name, got.Result, c.want, errorsOf(got.Errors))
		}
	}
}

func mustRef(t *testing.T, d *deployment, name string) string {
	t.Helper()
	v, err := d.ref(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
