package samtemplate

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/config"
)

// checkBudget: CONTROL_PLANE_BUDGET is a literal the config accepts (0.1 to 10 requests per second),
// or !Ref of a Number parameter whose bounds and default keep to that: a value outside would fail
// the function at init, or let Rewind take the whole of the account's control plane.
func checkBudget(t *Template) []problem {
	var ps problems
	props, ok := functionProps(t)
	if !ok {
		ps.add(functionID, "missing, or not an AWS::Serverless::Function")
		return ps
	}
	v := envVars(props)[config.EnvControlPlaneBudget]
	w := functionID + " " + config.EnvControlPlaneBudget
	inRange := func(n float64) bool { return n >= 0.1 && n <= config.MaxControlPlaneBudget }
	fn, arg, isFn := intrinsic(v)
	if !isFn {
		if n, ok := asFloat(v); !ok || !inRange(n) {
			ps.add(w, "%v: want a number of requests per second 0.1..%g, or a parameter bounded so", v, config.MaxControlPlaneBudget)
		}
		return ps
	}
	name, _ := arg.(string)
	param, isParam := t.Parameters[name].(map[string]any)
	if fn != "Ref" || !isParam {
		ps.add(w, "%v: want !Ref of a parameter (or a literal number)", v)
		return ps
	}
	w = "Parameters " + name
	if typ, _ := param["Type"].(string); typ != "Number" {
		ps.add(w, "Type %v: want Number", param["Type"])
	}
	lo, okLo := asFloat(param["MinValue"])
	hi, okHi := asFloat(param["MaxValue"])
	if !okLo || !okHi || !inRange(lo) || !inRange(hi) {
		ps.add(w, "MinValue %v, MaxValue %v: want bounds within 0.1..%g, which the config accepts", param["MinValue"], param["MaxValue"], config.MaxControlPlaneBudget)
	}
	d, okD := asFloat(param["Default"])
	if !okD || d != config.DefaultControlPlaneBudget {
		ps.add(w, "Default %v: want %g, the config's own default (2 of the account's 10)", param["Default"], config.DefaultControlPlaneBudget)
	}
	return ps
}

// asFloat reads a literal number (YAML int or float, or numeric string).
func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

func TestTemplateBudgetIsBounded(t *testing.T) {
	report(t, checkBudget(loadReal(t)))
}

const budgetParam = "    Default: 2\n    MinValue: 0.1\n    MaxValue: 10\n"

func TestBudgetCheckReportsBrokenTemplates(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []mutation{
		{name: "missing", check: checkBudget, want: "CONTROL_PLANE_BUDGET: <nil>",
			edits: [][2]string{{"          CONTROL_PLANE_BUDGET: !Ref ControlPlaneBudget\n", ""}}},
		{name: "the whole quota and more", check: checkBudget, want: "MaxValue 40",
			edits: [][2]string{{budgetParam, strings.Replace(budgetParam, "MaxValue: 10", "MaxValue: 40", 1)}}},
		{name: "unbounded below", check: checkBudget, want: "MinValue <nil>",
			edits: [][2]string{{budgetParam, strings.Replace(budgetParam, "    MinValue: 0.1\n", "", 1)}}},
		{name: "a string", check: checkBudget, want: "Type String",
			edits: [][2]string{{"  ControlPlaneBudget:\n    Type: Number\n", "  ControlPlaneBudget:\n    Type: String\n"}}},
		{name: "default 10", check: checkBudget, want: "Default 10",
			edits: [][2]string{{budgetParam, strings.Replace(budgetParam, "Default: 2", "Default: 10", 1)}}},
		{name: "a literal over the quota", check: checkBudget, want: "CONTROL_PLANE_BUDGET: 12",
			edits: [][2]string{{"CONTROL_PLANE_BUDGET: !Ref ControlPlaneBudget", "CONTROL_PLANE_BUDGET: 12"}}},
		{name: "a literal in range passes", check: checkBudget, want: "",
			edits: [][2]string{{"CONTROL_PLANE_BUDGET: !Ref ControlPlaneBudget", "CONTROL_PLANE_BUDGET: 1.5"}}},
	} {
		t.Run(m.name, func(t *testing.T) { runMutation(t, orig, m) })
	}
}
