package samtemplate

// The central notification topic (CentralNotifyTopicArn, usually another account's): the function's
// role may publish to exactly that ARN, without a Condition, and only while it is set; besides it,
// only to the stack's own NotifyTopic. Checked on the SAM translator's output, resolved for a stack
// with and without the parameter.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const centralTopicExample = "arn:aws:sns:us-east-1:999988887777:org-rewind-decisions"

// checkPublishTargets: the role's Allow statements that can grant sns:Publish name exactly want, and
// the one naming the central topic has no Condition (cross-account publishing is the topic policy's to
// limit, in the central account).
func checkPublishTargets(docs []policyDoc, want []string, central string) []problem {
	var ps problems
	var got []string
	for _, d := range docs {
		for i, st := range flatten(d.doc["Statement"]) {
			s, _ := st.(map[string]any)
			where := fmt.Sprintf("%s Statement[%d]", d.where, i)
			if effect, _ := s["Effect"].(string); effect != "Allow" {
				continue
			}
			if !slices.ContainsFunc(strs(s["Action"]), func(a string) bool { return matches(a, "sns:Publish") }) {
				continue
			}
			for _, r := range strs(s["Resource"]) {
				got = append(got, r)
				if r == central {
					if _, ok := s["Condition"]; ok {
						ps.add(where, "publishing to the central topic has a Condition: the central topic's policy limits who publishes")
					}
				}
			}
		}
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		ps.add(functionID+"Role", "sns:Publish on %v, want exactly %v", got, want)
	}
	return ps
}

func TestFunctionPublishesToTheCentralTopicOnlyWhenSet(t *testing.T) {
	python := samPython(t)
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	// A broken copy: the central statement on every topic.
	old := "                Resource: !Ref CentralNotifyTopicArn\n"
	if strings.Count(string(orig), old) != 1 {
		t.Fatalf("mutation out of date: %q", old)
	}
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(orig), old, "                Resource: \"*\"\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	tpls := translate(t, python, templatePath, broken)
	for _, c := range []struct {
		name    string
		tpl     *Template
		central string
		want    string // "" = no problem
	}{
		{"unset", tpls[0], "", ""},
		{"set", tpls[0], centralTopicExample, ""},
		{"broken, set", tpls[1], centralTopicExample, `sns:Publish on [* `},
	} {
		t.Run(c.name, func(t *testing.T) {
			params := map[string]string{"CentralNotifyTopicArn": c.central}
			for k, v := range simParams {
				params[k] = v
			}
			d := newDeployment(c.tpl, params)
			docs, _, err := d.rolePolicies(functionID + "Role")
			if err != nil {
				t.Fatal(err)
			}
			notify, err := d.ref("NotifyTopic")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{notify}
			if c.central != "" {
				want = append(want, c.central)
			}
			ps := checkPublishTargets(docs, want, c.central)
			if c.want == "" {
				report(t, ps)
				return
			}
			if !slices.ContainsFunc(ps, func(p problem) bool { return strings.Contains(p.String(), c.want) }) {
				t.Errorf("did not report %q; reported %v", c.want, ps)
			}
		})
	}
}

// centralPolicy is the central topic's policy as docs/organizations.md prints it, for organization
// orgID: the JSON written to central-topic-policy.json.
func centralPolicy(t *testing.T, orgID string) (map[string]any, string) {
	t.Helper()
	doc := readOrganizationsDoc(t)
	_, rest, ok := strings.Cut(doc, "cat > central-topic-policy.json <<EOF\n")
	body, _, ok2 := strings.Cut(rest, "\nEOF\n")
	if !ok || !ok2 {
		t.Fatal("docs/organizations.md prints no central-topic-policy.json")
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(body, "$ORG_ID", orgID)), &p); err != nil {
		t.Fatalf("the central topic's policy in docs/organizations.md: %v\n%s", err, body)
	}
	st, _ := flatten(p["Statement"])[0].(map[string]any)
	arn, _ := st["Resource"].(string)
	return p, arn
}

// TestCentralTopicPolicyLetsTheOrganizationsRewindsPublish runs the policy docs/organizations.md tells
// the central account to set, with a member's Rewind role as the template makes it, through
// iam-simulate: a member of the organization publishes; a principal of another organization does not;
// nor does a member whose stack does not name the central topic (cross-account needs both policies).
// Without its Condition, the policy would let the other organization in: the condition is what holds.
func TestCentralTopicPolicyLetsTheOrganizationsRewindsPublish(t *testing.T) {
	const org, otherOrg = "o-a1b2c3d4e5", "o-zz9y8x7w6v"
	policy, central := centralPolicy(t, org)
	if f := strings.Split(central, ":"); len(f) != 6 || f[4] == simAccount {
		t.Fatalf("the documented topic %q must be another account's than the member's %s", central, simAccount)
	}
	open := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"AWS": "*"}, "Action": "sns:Publish", "Resource": central}}}
	tpl := translate(t, samPython(t), templatePath)[0]
	roleOf := func(centralParam string) []policyDoc {
		params := map[string]string{"CentralNotifyTopicArn": centralParam}
		for k, v := range simParams {
			params[k] = v
		}
		docs, _, err := newDeployment(tpl, params).rolePolicies(functionID + "Role")
		if err != nil {
			t.Fatal(err)
		}
		return docs
	}
	member, unwired := roleOf(central), roleOf("")
	role := "arn:aws:iam::" + simAccount + ":role/StackSet-rewind-ResponderFunctionRole-1A2B3C"
	sim := func(name string, identity []policyDoc, orgID string, resourcePolicy map[string]any, want string) simCase {
		c := simCaseOf(name, role, "sns:Publish", central,
			map[string]string{"aws:PrincipalOrgID": orgID, "aws:PrincipalAccount": simAccount}, identity, resourcePolicy, want)
		c.sim.Request.Resource.AccountID = strings.Split(central, ":")[4]
		return c
	}
	cases := []simCase{
		sim("a member's Rewind publishes", member, org, policy, "Allowed"),
		sim("another organization's principal does not", member, otherOrg, policy, "denied"),
		sim("a member whose stack names no central topic does not", unwired, org, policy, "denied"),
		sim("without the Condition, another organization would", member, otherOrg, open, "Allowed"),
	}
	var sims []namedSimulation
	for _, c := range cases {
		sims = append(sims, namedSimulation{Name: c.name, Simulation: c.sim})
	}
	ans := askIAMRef(t, []string{"sns:Publish"}, sims)
	for i, c := range cases {
		got := ans.Simulations[i]
		ok := got.Result == c.want || (c.want == "denied" && (got.Result == "ExplicitlyDenied" || got.Result == "ImplicitlyDenied"))
		if !ok {
			t.Errorf("%s: iam-simulate says %s, want %s%s", c.name, got.Result, c.want, errorsOf(got.Errors))
		}
	}
}
