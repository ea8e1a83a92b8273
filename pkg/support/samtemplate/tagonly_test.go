package samtemplate

// The ProtectTag-only mode: RestApiId (and RestApiName) empty, ProtectTag set. One StackSet with
// ProtectTag=rewind=protect and no value per account then protects every tagged REST stage of every
// account and region. The template's rules refuse a stack with neither an explicit stage nor
// ProtectTag; AWS's SAM translator keeps them; cfn-lint passes; TARGETS is exactly the selector; and
// Rewind's role, as iam-simulate evaluates it, may switch only tagged stages and names no API id.

import (
	"fmt"
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
