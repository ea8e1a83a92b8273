package samtemplate

// ProtectTagKinds=rest,http: ProtectTag covers HTTP API (v2) stages too. TARGETS gains
// http:tag:KEY=VALUE (exactly, in every combination the rules allow: checkTargets), cfn-lint is clean
// with it in both modes, the config takes the translated TARGETS, and Rewind's role, as AWS's SAM
// translator makes it and iam-simulate evaluates it, may switch an HTTP API stage only while it carries
// the tag, may tag or untag neither kind, and may read what the HTTP strategy reads (GetStage,
// GetDeployments).

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/target"
)

const kindsParam = "ProtectTagKinds"

// selectorStrings is each selector as TARGETS spells it, in TARGETS' order.
func selectorStrings(sels []target.Selector) []string {
	out := []string{}
	for _, s := range sels {
		out = append(out, s.String())
	}
	return out
}

// wantSelectors is what TARGETS must select for these parameters: ProtectTag's REST stages, and its
// HTTP API stages with ProtectTagKinds=rest,http.
func wantSelectors(params map[string]string) []string {
	out := []string{}
	if tag := params[protectParam]; tag != "" {
		out = append(out, "rest:tag:"+tag)
		if params[kindsParam] == "rest,http" {
			out = append(out, "http:tag:"+tag)
		}
	}
	return out
}

// withHTTPByTag sets ProtectTag and ProtectTagKinds=rest,http as defaults (and, explicit, the
// examples' REST stage), for cfn-lint, which sees the defaults.
func withHTTPByTag(t *testing.T, text string, explicit bool) string {
	t.Helper()
	text = withDefault(t, withProtectTag(t, text), kindsParam, "rest", `"rest,http"`)
	if explicit {
		text = withDefault(t, text, "RestApiId", `""`, `"`+examples["RestApiId"]+`"`)
		text = withDefault(t, text, "RestApiName", `""`, `"`+examples["RestApiName"]+`"`)
	}
	return text
}

// TestTemplateCfnLintProtectHttpByTag: cfn-lint (with the SAM translator) finds nothing with
// ProtectTagKinds=rest,http, with and without the explicit stage, alone and with every strategy.
func TestTemplateCfnLintProtectHttpByTag(t *testing.T) {
	bin := cfnLint(t)
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, text := range map[string]string{
		"explicit-and-tag": withHTTPByTag(t, string(orig), true), "explicit-and-tag-every": withHTTPByTag(t, withEveryStrategy(t), true),
		"tag-only": withHTTPByTag(t, string(orig), false), "tag-only-every": withHTTPByTag(t, withEveryStrategy(t), false),
	} {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := runCfnLint(bin, p); err != nil || out != "" {
			t.Errorf("cfn-lint with ProtectTagKinds=rest,http (%s): %v\n%s", name, err, out)
		}
	}
}

// TestProtectTagKindsRules: rest,http without ProtectTag is refused, naming ProtectTag; with it, both
// modes deploy.
func TestProtectTagKindsRules(t *testing.T) {
	tpl := loadReal(t)
	for name, c := range map[string]struct {
		params map[string]string
		refuse bool
	}{
		"rest,http without ProtectTag": {map[string]string{"RestApiId": examples["RestApiId"], "RestApiName": examples["RestApiName"], kindsParam: "rest,http"}, true},
		"rest,http, tag only":          {map[string]string{protectParam: examples[protectParam], kindsParam: "rest,http"}, false},
		"rest,http, explicit and tag":  {map[string]string{"RestApiId": examples["RestApiId"], "RestApiName": examples["RestApiName"], protectParam: examples[protectParam], kindsParam: "rest,http"}, false},
	} {
		failed, err := ruleFailures(newDeployment(tpl, c.params))
		switch {
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case c.refuse && (len(failed) != 1 || !strings.Contains(failed[0], protectParam)):
			t.Errorf("%s: refusals %q, want one naming %s", name, failed, protectParam)
		case !c.refuse && len(failed) > 0:
			t.Errorf("%s: refused (%q), want it to deploy", name, failed)
		}
	}
}

// TestProtectTagKindsChecksCatchBrokenTemplates: checkTargets notices an HTTP selector under the wrong
// condition, and one without its comma.
func TestProtectTagKindsChecksCatchBrokenTemplates(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	line := `!If [ProtectHttpByTag, !Sub ",http:tag:${ProtectTag}", ""]`
	for _, m := range []mutation{
		{name: "http whatever the kinds", check: checkTargets, want: `want ["rest:tag:rewind=protect"]`,
			edits: [][2]string{{line, `!If [ProtectByTag, !Sub ",http:tag:${ProtectTag}", ""]`}}},
		{name: "no comma", check: checkTargets, want: "does not parse",
			edits: [][2]string{{line, `!If [ProtectHttpByTag, !Sub "http:tag:${ProtectTag}", ""]`}}},
		{name: "never http", check: checkTargets, want: `"http:tag:rewind=protect"]`,
			edits: [][2]string{{line, `""`}}},
	} {
		t.Run(m.name, func(t *testing.T) { runMutation(t, orig, m) })
	}
}

// httpByTagParams are the stacks the IAM test resolves: ProtectTagKinds=rest,http with the explicit
// stage and without it, and ProtectTag with the default kinds (rest) for contrast.
func httpByTagParams() map[string]map[string]string {
	both := map[string]string{protectParam: examples[protectParam], kindsParam: "rest,http"}
	restOnly := map[string]string{protectParam: examples[protectParam]}
	for k, v := range simParams {
		both[k], restOnly[k] = v, v
	}
	return map[string]map[string]string{
		"explicit-and-tag": both,
		"tag-only":         {protectParam: examples[protectParam], kindsParam: "rest,http"},
		"kinds=rest":       restOnly,
	}
}

func TestProtectHttpByTagAsDeployed(t *testing.T) {
	tpl := translate(t, samPython(t), templatePath)[0]
	key, value, _ := strings.Cut(examples[protectParam], "=")
	tagged := map[string]string{"aws:ResourceTag/" + key: value}
	stage := "/apis/zzzzzzzzzz/stages/live"
	// TagResource and UntagResource of an HTTP API stage: POST and DELETE /v2/tags/{arn}, authorized
	// on /tags/{the URL-encoded ARN} (the reference's Tags type).
	tags := "/tags/" + url.PathEscape(apigw(stage))
	var cases []simCase
	roles := map[string][]policyDoc{}
	var principal string
	for name, params := range httpByTagParams() {
		d := newDeployment(tpl, params)
		checkHTTPTargets(t, name, d, params)
		docs, _, err := d.rolePolicies(functionID + "Role")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		role := append(docs, policyDoc{where: "AWSLambdaBasicExecutionRole", doc: basicExecutionRole})
		roles[name] = role
		principal = "arn:aws:iam::" + simAccount + ":role/" + mustRef(t, d, functionID+"Role")
		add := func(what, action, resource string, ctx map[string]string, want string) {
			cases = append(cases, simCaseOf(name+": "+what, principal, action, apigwOr(resource), ctx, role, nil, want))
		}
		httpWant := map[bool]string{true: "Allowed", false: "ImplicitlyDenied"}[params[kindsParam] == "rest,http"]
		add("UpdateStage of a tagged HTTP API stage", "apigateway:PATCH", stage, tagged, httpWant)
		add("UpdateStage of a tagged $default stage", "apigateway:PATCH", "/apis/zzzzzzzzzz/stages/$default", tagged, httpWant)
		add("GetStage of an HTTP API stage", "apigateway:GET", stage, nil, httpWant)
		add("GetDeployments of an HTTP API", "apigateway:GET", "/apis/zzzzzzzzzz/deployments", nil, httpWant)
		add("UpdateStage of an untagged HTTP API stage", "apigateway:PATCH", stage, nil, "ImplicitlyDenied")
		add("UpdateStage of an HTTP API stage tagged with another value", "apigateway:PATCH", stage, map[string]string{"aws:ResourceTag/" + key: "no"}, "ImplicitlyDenied")
		add("UpdateStage of a tagged HTTP API stage in another region", "apigateway:PATCH", "arn:aws:apigateway:eu-west-1::"+stage, tagged, "ImplicitlyDenied")
		add("UpdateApi of a tagged HTTP API", "apigateway:PATCH", "/apis/zzzzzzzzzz", tagged, "ImplicitlyDenied")
		add("GetApi of an HTTP API (nothing reads it)", "apigateway:GET", "/apis/zzzzzzzzzz", nil, "ImplicitlyDenied")
		add("DeleteStage of a tagged HTTP API stage", "apigateway:DELETE", stage, tagged, "ImplicitlyDenied")
		add("CreateDeployment on a tagged HTTP API", "apigateway:POST", "/apis/zzzzzzzzzz/deployments", tagged, "ExplicitlyDenied")
		add("TagResource (v2) with the tag key", "apigateway:POST", tags, map[string]string{"aws:TagKeys": key}, "ExplicitlyDenied")
		add("TagResource (v2) with another key", "apigateway:POST", tags, map[string]string{"aws:TagKeys": "team"}, "ExplicitlyDenied")
		add("UntagResource (v2)", "apigateway:DELETE", tags, map[string]string{"aws:TagKeys": key}, "ExplicitlyDenied")
		add("TagResource (REST) of a REST stage", "apigateway:PUT", "/tags/"+url.PathEscape(apigw("/restapis/zzzzzzzzzz/stages/live")), tagged, "ExplicitlyDenied")
		add("UpdateStage of a tagged REST stage", "apigateway:PATCH", "/restapis/zzzzzzzzzz/stages/live", tagged, "Allowed")
	}
	// A mutant: without the Deny of POST, a broad grant lets Rewind tag an HTTP API stage (with a key
	// that is not the scope's, which NeverWriteTheScopeTags would catch).
	broad := policyDoc{where: "a broad grant", doc: map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Effect": "Allow", "Action": "apigateway:POST", "Resource": "*"}}}}
	mutant := withoutStatement(roles["tag-only"], "NeverCreateOrTagHttpApis")
	other := map[string]string{"aws:TagKeys": "team"}
	cases = append(cases,
		simCaseOf("mutant: without the Deny of POST, a broad grant tags an HTTP API stage", principal, "apigateway:POST", apigw(tags), other, append(mutant, broad), nil, "Allowed"),
		simCaseOf("tag-only: with it, even a broad grant cannot", principal, "apigateway:POST", apigw(tags), other, append(slices.Clone(roles["tag-only"]), broad), nil, "ExplicitlyDenied"))

	var sims []namedSimulation
	for _, c := range cases {
		sims = append(sims, namedSimulation{Name: c.name, Simulation: c.sim})
	}
	pairs := grantedPairs(roles["explicit-and-tag"][:len(roles["explicit-and-tag"])-1])
	actions := map[string]bool{}
	for _, p := range pairs {
		actions[p[0]] = true
	}
	ans := askIAMRef(t, sortedKeys(anyMap(actions)), sims)
	for _, p := range checkReferencePairs(pairs, ans.Actions, referenceExceptions, map[[2]string]bool{}) {
		t.Errorf("explicit-and-tag: %s", p)
	}
	for i, c := range cases {
		if got := ans.Simulations[i]; got.Result != c.want {
			t.Errorf("%s: iam-simulate says %s, want %s%s", c.name, got.Result, c.want, errorsOf(got.Errors))
		}
	}
}

// withoutStatement is the policies with the statement of that Sid left out.
func withoutStatement(docs []policyDoc, sid string) []policyDoc {
	var out []policyDoc
	for _, d := range docs {
		var kept []any
		for _, st := range flatten(d.doc["Statement"]) {
			if m, _ := st.(map[string]any); m["Sid"] != sid {
				kept = append(kept, st)
			}
		}
		out = append(out, policyDoc{where: d.where, doc: map[string]any{"Version": "2012-10-17", "Statement": kept}})
	}
	return out
}

// checkHTTPTargets: the translated TARGETS is exactly what the parameters ask, and config.FromEnv
// of the function's environment takes it, with a selector of each kind.
func checkHTTPTargets(t *testing.T, name string, d *deployment, params map[string]string) {
	t.Helper()
	props, err := d.eval(d.t.Resources[functionID].Properties)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := dig(props, "Environment", "Variables")
	vars, _ := env.(map[string]any)
	want := strings.Join(wantSelectors(params), ",")
	if params["RestApiId"] != "" {
		want = examples["RestApiId"] + "/" + examples["StageName"] + "," + want
	}
	if got := scalarString(vars[config.EnvTargets]); got != want {
		t.Errorf("%s: TARGETS %q, want exactly %q", name, got, want)
	}
	cfg, err := config.FromEnv(func(k string) string {
		if k == "AWS_REGION" {
			return simRegion
		}
		return scalarString(vars[k])
	})
	if err != nil {
		t.Fatalf("%s: config.FromEnv of the function's environment: %v", name, err)
	}
	if got := selectorStrings(cfg.Selectors); !slices.Equal(got, wantSelectors(params)) {
		t.Errorf("%s: config.FromEnv's selectors %q, want %q", name, got, wantSelectors(params))
	}
	if kinds := len(cfg.Selectors); params[kindsParam] == "rest,http" && (kinds != 2 || cfg.Selectors[1].Kind != target.KindHTTPStage) {
		t.Errorf("%s: config.FromEnv's selectors %+v, want a REST and an HTTP one", name, cfg.Selectors)
	}
}

// iamInlineQuota is IAM's limit on the aggregate size of a role's inline policies, whitespace not
// counted (IAM User Guide, "IAM and AWS STS quotas": role policy size, 10,240 characters).
const iamInlineQuota = 10240

// TestRoleFitsIAMsInlineQuotaWithEverythingOn: with every strategy, the explicit stage, ProtectTag with
// both kinds and the central topic, Rewind's role's inline policies (SAM's Policies and the RolePolicy
// resources, all inline) stay under IAM's quota, or CloudFormation's create would fail.
func TestRoleFitsIAMsInlineQuotaWithEverythingOn(t *testing.T) {
	tpl := translate(t, samPython(t), templatePath)[0]
	params := map[string]string{"CentralNotifyTopicArn": centralTopicExample}
	for k, v := range examples {
		params[k] = v
	}
	docs, _, err := newDeployment(tpl, params).rolePolicies(functionID + "Role")
	if err != nil {
		t.Fatal(err)
	}
	size, inline, http := 0, 0, false
	for _, d := range docs {
		if r, ok := tpl.Resources[strings.Fields(d.where)[0]]; ok && r.Type == "AWS::IAM::ManagedPolicy" {
			continue // a managed policy has its own quota
		}
		inline++
		http = http || strings.HasPrefix(d.where, "ResponderProtectsHttpByTag ")
		b, err := json.Marshal(d.doc) // no whitespace
		if err != nil {
			t.Fatal(err)
		}
		size += len(b)
	}
	if !http || size > iamInlineQuota {
		t.Errorf("Rewind's role: %d inline policies (the HTTP tag policy among them: %v), %d characters: want it, and under IAM's %d", inline, http, size, iamInlineQuota)
	}
	t.Logf("Rewind's role with everything on: %d inline policies, %d of IAM's %d characters", inline, size, iamInlineQuota)
}
