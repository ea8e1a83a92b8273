package samtemplate

// The SAM recipe of docs/release-tools.md, proven offline with AWS's SAM translator: on a small SAM API
// (testdata/release-tools/sam-api.yaml), DeletionPolicy: Retain on the AWS::Serverless::Api reaches the
// AWS::ApiGateway::Deployment SAM generates; without it the deployment has none (CloudFormation's
// default, Delete); and a change to the API gives the deployment a new logical id, which is why the old
// one is deleted in the update's cleanup unless it is retained.

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	samRecipePath   = "testdata/release-tools/sam-api.yaml"
	releaseToolsDoc = "../../../docs/release-tools.md"
	samRecipeLine   = "    DeletionPolicy: Retain\n"
)

// deployments returns the translated template's AWS::ApiGateway::Deployment resources, by logical id.
func deployments(t *Template) map[string]Resource {
	out := map[string]Resource{}
	for _, name := range t.ResourceNames() {
		if r := t.Resources[name]; r.Type == "AWS::ApiGateway::Deployment" {
			out[name] = r
		}
	}
	return out
}

// checkRetainsDeployments: the translation has a deployment, and every deployment (and the API's other
// generated resources) is retained, or, with want false, none is.
func checkRetainsDeployments(t *Template, want bool) []problem {
	var ps problems
	deps := deployments(t)
	if len(deps) == 0 {
		ps.add("translation", "no AWS::ApiGateway::Deployment: SAM made no deployment of the API")
	}
	for name, r := range deps {
		got, _ := r.Raw["DeletionPolicy"].(string)
		switch {
		case want && got != "Retain":
			ps.add(name, "DeletionPolicy %q: want Retain, or CloudFormation deletes this deployment when the next release replaces it", got)
		case !want && got == "Retain":
			ps.add(name, "DeletionPolicy Retain without the recipe")
		}
	}
	return ps
}

func TestSAMRecipeKeepsOldDeployments(t *testing.T) {
	python := samPython(t)
	orig, err := os.ReadFile(samRecipePath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(orig), samRecipeLine); n != 1 {
		t.Fatalf("%s holds the recipe line %q %d times, want 1", samRecipePath, samRecipeLine, n)
	}
	without := strings.Replace(string(orig), samRecipeLine, "", 1)
	// The next release: the API gains a path.
	next := strings.Replace(string(orig), "            Method: get\n", `            Method: get
        ListUsers:
          Type: Api
          Properties:
            RestApiId: !Ref ShopApi
            Path: /users
            Method: get
`, 1)
	if next == string(orig) {
		t.Fatal("the next release's edit is out of date")
	}
	dir := t.TempDir()
	var paths []string
	for name, text := range map[string]string{"0-recipe.yaml": string(orig), "1-without.yaml": without, "2-next.yaml": next} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	out := translate(t, python, paths...)
	recipe, bare, later := out[0], out[1], out[2]

	t.Run("with the recipe every deployment is retained", func(t *testing.T) {
		report(t, checkRetainsDeployments(recipe, true))
		// SAM passes the Api's DeletionPolicy to the RestApi and Stage too: `sam delete` leaves the API
		// (docs/release-tools.md says so).
		for _, name := range recipe.ResourceNames() {
			r := recipe.Resources[name]
			if strings.HasPrefix(r.Type, "AWS::ApiGateway::") && r.Raw["DeletionPolicy"] != "Retain" {
				t.Errorf("%s (%s): DeletionPolicy %v, want Retain", name, r.Type, r.Raw["DeletionPolicy"])
			}
		}
	})
	t.Run("without it no deployment is", func(t *testing.T) {
		report(t, checkRetainsDeployments(bare, false))
		// And the check can fail: the recipe's check on the bare translation reports it.
		ps := checkRetainsDeployments(bare, true)
		if len(ps) == 0 || !strings.Contains(ps[0].What, "want Retain") {
			t.Errorf("checkRetainsDeployments(without the recipe, want Retain) = %v", ps)
		}
	})
	t.Run("a change to the API is a new deployment resource", func(t *testing.T) {
		before, after := deployments(recipe), deployments(later)
		if len(before) != 1 || len(after) != 1 {
			t.Fatalf("deployments: %d before, %d after; want one each", len(before), len(after))
		}
		for old := range before {
			if _, same := after[old]; same {
				t.Fatalf("the changed API kept the deployment's logical id %s: CloudFormation would not create a new deployment", old)
			}
		}
		report(t, checkRetainsDeployments(later, true))
	})
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestReleaseToolsDocQuotesTheProvenRecipe: the SAM section of docs/release-tools.md shows exactly what
// the test above translates (each yaml block there is part of the test's template).
func TestReleaseToolsDocQuotesTheProvenRecipe(t *testing.T) {
	doc, err := os.ReadFile(releaseToolsDoc)
	if err != nil {
		t.Fatal(err)
	}
	recipe, err := os.ReadFile(samRecipePath)
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	i := strings.Index(section, "\n## SAM")
	if i < 0 {
		t.Fatalf("%s has no \"## SAM\" section", releaseToolsDoc)
	}
	section = section[i+1:]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	blocks := yamlBlock.FindAllStringSubmatch(section, -1)
	if len(blocks) == 0 {
		t.Fatalf("the SAM section of %s has no yaml block", releaseToolsDoc)
	}
	for _, b := range blocks {
		if !strings.Contains(string(recipe), b[1]) {
			t.Errorf("the SAM section's block\n%s\nis not part of %s, which the translator test proves", b[1], samRecipePath)
		}
	}
	if !strings.Contains(section, strings.TrimSpace(samRecipeLine)) {
		t.Errorf("the SAM section does not show %q", strings.TrimSpace(samRecipeLine))
	}
}
