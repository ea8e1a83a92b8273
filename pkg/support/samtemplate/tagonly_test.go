package samtemplate

// The ProtectTag-only mode: RestApiId (and RestApiName) empty, ProtectTag set. One StackSet with
// ProtectTag=rewind=protect and no value per account then protects every tagged REST stage of every
// account and region. The template's rules refuse a stack with neither an explicit stage nor
// ProtectTag; AWS's SAM translator keeps them; cfn-lint passes; TARGETS is exactly the selector; and
// Rewind's role, as iam-simulate evaluates it, may switch only tagged stages and names no API id.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/support/testenv"
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
