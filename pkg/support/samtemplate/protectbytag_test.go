package samtemplate

// The ProtectByTag mode (ProtectTag=KEY=VALUE): cfn-lint is clean with it on, TARGETS gains the
// selector, and Rewind's role, as AWS's SAM translator makes it and iam-simulate evaluates it, may
// switch a REST stage of the region only while the stage carries the tag, may never tag or untag
// anything (nor write the tag keys by any other call), and may read what it needs.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/target"
)

const protectParam = "ProtectTag"

func withProtectTag(t *testing.T, text string) string {
	t.Helper()
	return withDefault(t, text, protectParam, `""`, `"`+examples[protectParam]+`"`)
}

// TestTemplateCfnLintProtectByTag: cfn-lint (with the SAM translator) finds nothing with the mode
// on, alone and with every strategy; TestTemplateCfnLint covers it off.
func TestTemplateCfnLintProtectByTag(t *testing.T) {
	bin := cfnLint(t)
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, text := range map[string]string{"by-tag": withProtectTag(t, string(orig)), "by-tag-every": withProtectTag(t, withEveryStrategy(t))} {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := runCfnLint(bin, p); err != nil || out != "" {
			t.Errorf("cfn-lint with ProtectTag (%s): %v\n%s", name, err, out)
		}
	}
}

// byTagStack translates the template with ProtectTag on (and, for contrast, off) and resolves it.
func byTagStacks(t *testing.T) (on, off simStack) {
	t.Helper()
	python := samPython(t)
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var paths []string
	for name, text := range map[string]string{"on": withProtectTag(t, string(orig)), "off": string(orig)} {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths) // off, on
	tpls := translate(t, python, paths...)
	stack := func(tpl *Template, name string) simStack {
		s := simStack{cfg: simStackConfig{name: name, params: simParams}, tpl: tpl, dep: newDeployment(tpl, simParams)}
		role, _, err := s.dep.rolePolicies(functionID + "Role")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.role = append(role, policyDoc{where: "AWSLambdaBasicExecutionRole", doc: basicExecutionRole})
		return s
	}
	return stack(tpls[1], "by-tag"), stack(tpls[0], "explicit")
}

func TestProtectByTagIAMAsAWSAuthorizesIt(t *testing.T) {
	on, off := byTagStacks(t)
	// TARGETS: the explicit stage, and the selector.
	props, err := on.dep.eval(on.tpl.Resources[functionID].Properties)
	if err != nil {
		t.Fatal(err)
	}
	env := props.(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
	spec, err := target.ParseSpec(scalarString(env["TARGETS"]))
	if err != nil || len(spec.Explicit) != 1 || len(spec.Selectors) != 1 || spec.Selectors[0].String() != "rest:tag:"+examples[protectParam] {
		t.Errorf("TARGETS %q: %+v, %v", env["TARGETS"], spec, err)
	}
	key, value, _ := strings.Cut(examples[protectParam], "=")
	tagged := map[string]string{"aws:ResourceTag/" + key: value}
	otherValue := map[string]string{"aws:ResourceTag/" + key: "no"}
	other := "/restapis/zzzzzzzzzz/stages/live"
	tags := "/tags/" + strings.ReplaceAll(apigw(other), ":", "%3A")
	var cases []simCase
	add := func(s simStack, name, action, resource string, ctx map[string]string, want string) {
		role := "arn:aws:iam::" + simAccount + ":role/" + s.ref(t, functionID+"Role")
		cases = append(cases, simCaseOf(s.cfg.name+": "+name, role, action, apigwOr(resource), ctx, s.role, nil, want))
	}
	add(on, "UpdateStage of a tagged stage of another API", "apigateway:PATCH", other, tagged, "Allowed")
	add(on, "UpdateStage of an untagged stage", "apigateway:PATCH", other, nil, "ImplicitlyDenied")
	add(on, "UpdateStage of a stage tagged with another value", "apigateway:PATCH", other, otherValue, "ImplicitlyDenied")
	add(on, "UpdateStage of the explicit stage (untagged)", "apigateway:PATCH", "/restapis/"+examples["RestApiId"]+"/stages/"+examples["StageName"], nil, "Allowed")
	add(on, "UpdateStage of a tagged HTTP API stage (ProtectTagKinds=rest, the default)", "apigateway:PATCH", "/apis/h1b2c3d4e5/stages/live", tagged, "ImplicitlyDenied")
	add(on, "UpdateStage of a tagged stage in another region", "apigateway:PATCH", "arn:aws:apigateway:eu-west-1::"+other, tagged, "ImplicitlyDenied")
	add(on, "GetStage of any REST stage", "apigateway:GET", other, nil, "Allowed")
	add(on, "GetDeployments of any REST API", "apigateway:GET", "/restapis/zzzzzzzzzz/deployments", nil, "Allowed")
	add(on, "GetDeployment of any REST API", "apigateway:GET", "/restapis/zzzzzzzzzz/deployments/d1", nil, "Allowed")
	add(on, "tag:GetResources", "tag:GetResources", "*", nil, "Allowed")
	add(on, "TagResource on a stage (PUT /tags)", "apigateway:PUT", tags, tagged, "ExplicitlyDenied")
	add(on, "UntagResource on a stage (DELETE /tags)", "apigateway:DELETE", tags, tagged, "ExplicitlyDenied")
	add(on, "UpdateStage writing the tag key", "apigateway:PATCH", other, map[string]string{"aws:ResourceTag/" + key: value, "aws:TagKeys": key}, "ExplicitlyDenied")
	add(on, "UpdateStage writing the fallback tag", "apigateway:PATCH", other, map[string]string{"aws:ResourceTag/" + key: value, "aws:TagKeys": target.FallbackTag}, "ExplicitlyDenied")
	add(on, "CreateStage with the tag", "apigateway:POST", "/restapis/zzzzzzzzzz/stages", map[string]string{"aws:TagKeys": key}, "ExplicitlyDenied")
	add(on, "DeleteStage of a tagged stage", "apigateway:DELETE", other, tagged, "ImplicitlyDenied")
	// Every apigateway:POST is denied outright (HTTP APIs' TagResource is a POST; Rewind creates nothing).
	add(on, "CreateDeployment on a tagged API", "apigateway:POST", "/restapis/zzzzzzzzzz/deployments", tagged, "ExplicitlyDenied")
	add(on, "UpdateRestApi of a tagged API", "apigateway:PATCH", "/restapis/zzzzzzzzzz", tagged, "ImplicitlyDenied")
	// Off, the explicit-id mode is as it was: none of it.
	add(off, "UpdateStage of a tagged stage of another API", "apigateway:PATCH", other, tagged, "ImplicitlyDenied")
	add(off, "GetStage of another API's stage", "apigateway:GET", other, nil, "ImplicitlyDenied")
	add(off, "tag:GetResources", "tag:GetResources", "*", nil, "ImplicitlyDenied")
	// A mutant: the mode's policy without its Denies would let Rewind tag a stage into its own scope.
	var allowOnly []policyDoc
	for _, d := range on.role {
		var kept []any
		for _, st := range flatten(d.doc["Statement"]) {
			if m, _ := st.(map[string]any); m["Effect"] != "Deny" {
				kept = append(kept, st)
			}
		}
		allowOnly = append(allowOnly, policyDoc{where: d.where, doc: map[string]any{"Version": "2012-10-17", "Statement": kept}})
	}
	role := "arn:aws:iam::" + simAccount + ":role/" + on.ref(t, functionID+"Role")
	mutant := allowOnly
	mutant = append(mutant, policyDoc{where: "a broad grant", doc: map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Effect": "Allow", "Action": "apigateway:PUT", "Resource": "*"}}}})
	cases = append(cases, simCaseOf("mutant: without the Denies, a broad grant tags a stage", role, "apigateway:PUT", apigw(tags), tagged, mutant, nil, "Allowed"))
	full := append(slices.Clone(on.role), mutant[len(mutant)-1])
	cases = append(cases, simCaseOf("by-tag: with the Denies, even a broad grant cannot tag", role, "apigateway:PUT", apigw(tags), tagged, full, nil, "ExplicitlyDenied"))

	var sims []namedSimulation
	actions := map[string]bool{}
	for _, c := range cases {
		sims = append(sims, namedSimulation{Name: c.name, Simulation: c.sim})
		actions[c.sim.Request.Action] = true
	}
	pairs := grantedPairs(on.role[:len(on.role)-1])
	for _, p := range pairs {
		actions[p[0]] = true
	}
	ans := askIAMRef(t, sortedKeys(anyMap(actions)), sims)
	for _, p := range checkReferencePairs(pairs, ans.Actions, referenceExceptions, map[[2]string]bool{}) {
		t.Errorf("by-tag: %s", p)
	}
	for i, c := range cases {
		got := ans.Simulations[i]
		if got.Result != c.want {
			t.Errorf("%s: iam-simulate says %s, want %s%s", c.name, got.Result, c.want, errorsOf(got.Errors))
		}
	}
}

// apigwOr is an API Gateway path as its ARN in the simulated region, or a whole ARN (or "*") as given.
func apigwOr(resource string) string {
	if strings.HasPrefix(resource, "/") {
		return apigw(resource)
	}
	return resource
}
