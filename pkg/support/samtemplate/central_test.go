package samtemplate

// The central notification topic (CentralNotifyTopicArn, usually another account's): the function's
// role may publish to exactly that ARN, without a Condition, and only while it is set; besides it,
// only to the stack's own NotifyTopic. Checked on the SAM translator's output, resolved for a stack
// with and without the parameter.

import (
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
