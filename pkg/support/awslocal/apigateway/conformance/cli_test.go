package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

const account = "123456789012"

// t0 is the control plane's clock: every date it hands out is t0, so the CLI's rendering of the
// epoch seconds on the wire can be checked exactly.
var t0 = time.Date(2026, 11, 25, 3, 4, 5, 0, time.UTC)

const cliDate = "2026-11-25T03:04:05+00:00" // how the CLI v2 prints t0 (ISO 8601, UTC offset)

// sandbox is one local API Gateway behind httptest and the CLI pointed at it.
type sandbox struct {
	gw   *apigwlocal.Server
	url  string
	aws  string
	home string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	aws := testenv.AWSCLIv2(t)
	gw := apigwlocal.New(apigwlocal.Options{Region: "us-east-1", AccountID: account, Now: func() time.Time { return t0 }})
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &sandbox{gw: gw, url: srv.URL, aws: aws, home: t.TempDir()}
}

// cliError is a failed CLI run: its exit code and what it printed on stderr.
type cliError struct {
	code   int
	stderr string
}

func (e *cliError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.stderr) }

// run is `aws apigateway <args> --endpoint-url <sandbox>`; it decodes the JSON the CLI prints.
func (s *sandbox) run(t *testing.T, out any, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"apigateway"}, args...)
	args = append(args, "--endpoint-url", s.url, "--output", "json")
	cmd := exec.CommandContext(ctx, s.aws, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.home, "AWS_ACCESS_KEY_ID=conformance",
		"AWS_SECRET_ACCESS_KEY=conformance", "AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=",
		"AWS_CONFIG_FILE=" + filepath.Join(s.home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(s.home, "none")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return &cliError{code: exit.ExitCode(), stderr: strings.TrimSpace(stderr.String())}
		}
		t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	if out == nil {
		if strings.TrimSpace(stdout.String()) != "" {
			t.Fatalf("aws %s printed %q, want nothing", strings.Join(args, " "), stdout.String())
		}
		return nil
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("aws %s printed no JSON: %v\n%s", strings.Join(args, " "), err, stdout.String())
	}
	return nil
}

func (s *sandbox) mustRun(t *testing.T, out any, args ...string) {
	t.Helper()
	if err := s.run(t, out, args...); err != nil {
		t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
}

// arrange creates an API with n deployments and stage "service" live on the last one.
func (s *sandbox) arrange(t *testing.T, name string, n int) (apiID string, deps []string) {
	t.Helper()
	api := s.gw.CreateRestAPI(name)
	for i := range n {
		d, err := s.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Description: fmt.Sprintf("build %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		deps = append(deps, d.ID)
	}
	if err := s.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "service", DeploymentID: deps[n-1], Description: "api.luna.com",
		Variables: map[string]string{"backend": "lambda"}}); err != nil {
		t.Fatal(err)
	}
	return api.ID, deps
}

type restAPIs struct {
	Items []struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		CreatedDate string `json:"createdDate"`
	} `json:"items"`
	NextToken string `json:"NextToken"`
}

// TestGetRestApis: the CLI lists every API across pages of one (it follows position itself), with
// ids, names and the creation date it parsed from epoch seconds.
func TestGetRestApis(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	a, _ := s.arrange(t, "luna-api", 1)
	b, _ := s.arrange(t, "other-api", 1)
	var out restAPIs
	s.mustRun(t, &out, "get-rest-apis", "--page-size", "1")
	got := map[string]string{}
	for _, it := range out.Items {
		got[it.ID] = it.Name
		if it.CreatedDate != cliDate {
			t.Errorf("createdDate %q, want %q", it.CreatedDate, cliDate)
		}
	}
	if len(out.Items) != 2 || got[a] != "luna-api" || got[b] != "other-api" {
		t.Fatalf("items %+v", out.Items)
	}
	if n := s.gw.CallCount("GetRestApis"); n != 2 {
		t.Errorf("%d GetRestApis calls for 2 APIs at 1 a page, want 2", n)
	}
}

// TestGetStage: every field Rewind reads comes through the CLI's model: deploymentId, variables,
// canary settings, and both dates.
func TestGetStage(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	api := s.gw.CreateRestAPI("luna-api")
	d1, _ := s.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{})
	d2, _ := s.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{})
	if err := s.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "service", DeploymentID: d1.ID, Description: "api.luna.com",
		Variables: map[string]string{"backend": "lambda", "rewind_bad": "x"},
		Canary:    &apigwlocal.Canary{DeploymentID: d2.ID, PercentTraffic: 12.5, StageVariableOverrides: map[string]string{"backend": "ec2"}}}); err != nil {
		t.Fatal(err)
	}
	var st struct {
		DeploymentID    string            `json:"deploymentId"`
		StageName       string            `json:"stageName"`
		Description     string            `json:"description"`
		Variables       map[string]string `json:"variables"`
		CreatedDate     string            `json:"createdDate"`
		LastUpdatedDate string            `json:"lastUpdatedDate"`
		CanarySettings  *struct {
			DeploymentID           string            `json:"deploymentId"`
			PercentTraffic         float64           `json:"percentTraffic"`
			StageVariableOverrides map[string]string `json:"stageVariableOverrides"`
		} `json:"canarySettings"`
	}
	s.mustRun(t, &st, "get-stage", "--rest-api-id", api.ID, "--stage-name", "service")
	if st.DeploymentID != d1.ID || st.StageName != "service" || st.Description != "api.luna.com" ||
		st.Variables["backend"] != "lambda" || st.Variables["rewind_bad"] != "x" || st.CreatedDate != cliDate || st.LastUpdatedDate != cliDate {
		t.Errorf("stage %+v", st)
	}
	if c := st.CanarySettings; c == nil || c.DeploymentID != d2.ID || c.PercentTraffic != 12.5 || c.StageVariableOverrides["backend"] != "ec2" {
		t.Errorf("canarySettings %+v", st.CanarySettings)
	}
}

type deployments struct {
	Items []struct {
		ID          string `json:"id"`
		Description string `json:"description"`
		CreatedDate string `json:"createdDate"`
	} `json:"items"`
	NextToken string `json:"NextToken"`
}

func (d deployments) ids() []string {
	out := make([]string, len(d.Items))
	for i, it := range d.Items {
		out[i] = it.ID
	}
	return out
}

// TestGetDeploymentsPaging: the CLI pages through 7 deployments 3 at a time with our position
// tokens, and resumes a listing cut by --max-items from its own NextToken (which wraps ours): every
// deployment once, none twice, in both.
func TestGetDeploymentsPaging(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	api, deps := s.arrange(t, "luna-api", 7)
	want := slices.Sorted(slices.Values(deps))

	var all deployments
	s.mustRun(t, &all, "get-deployments", "--rest-api-id", api, "--page-size", "3")
	if got := slices.Sorted(slices.Values(all.ids())); !slices.Equal(got, want) {
		t.Fatalf("paged listing %v, want %v", got, want)
	}
	if n := s.gw.CallCount("GetDeployments"); n != 3 {
		t.Errorf("%d GetDeployments calls for 7 deployments at 3 a page, want 3", n)
	}
	for _, it := range all.Items {
		if it.CreatedDate != cliDate || !strings.HasPrefix(it.Description, "build ") {
			t.Errorf("item %+v", it)
		}
	}

	var first, rest deployments
	s.mustRun(t, &first, "get-deployments", "--rest-api-id", api, "--page-size", "3", "--max-items", "4")
	if len(first.Items) != 4 || first.NextToken == "" {
		t.Fatalf("--max-items 4 gave %d items and NextToken %q", len(first.Items), first.NextToken)
	}
	s.mustRun(t, &rest, "get-deployments", "--rest-api-id", api, "--page-size", "3", "--starting-token", first.NextToken)
	if rest.NextToken != "" {
		t.Errorf("the listing's end still has NextToken %q", rest.NextToken)
	}
	if got := slices.Sorted(slices.Values(append(first.ids(), rest.ids()...))); !slices.Equal(got, want) {
		t.Fatalf("resumed listing %v, want %v", got, want)
	}
}

// TestUpdateStage: the CLI's shorthand patch operations arrive as AWS's patchOperations and apply
// together; the answer is the updated stage.
func TestUpdateStage(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	api, deps := s.arrange(t, "luna-api", 2)
	var st struct {
		DeploymentID string            `json:"deploymentId"`
		Variables    map[string]string `json:"variables"`
	}
	s.mustRun(t, &st, "update-stage", "--rest-api-id", api, "--stage-name", "service", "--patch-operations",
		"op=replace,path=/deploymentId,value="+deps[0], "op=replace,path=/variables/rewind_last,value=rolled-back", "op=remove,path=/variables/backend")
	if st.DeploymentID != deps[0] || st.Variables["rewind_last"] != "rolled-back" || st.Variables["backend"] != "" {
		t.Errorf("answer %+v", st)
	}
	live, _ := s.gw.Stage(api, "service")
	if live.DeploymentID != deps[0] || live.Variables["rewind_last"] != "rolled-back" || len(live.Variables) != 1 {
		t.Errorf("stage after update-stage %+v", live)
	}
	if n := s.gw.Writes(); n != 1 {
		t.Errorf("%d writes, want 1", n)
	}
}

// TestTags: tag-resource and get-tags on a stage ARN, which the CLI percent-encodes into one path label.
func TestTags(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	api, _ := s.arrange(t, "luna-api", 1)
	arn := "arn:aws:apigateway:us-east-1::/restapis/" + api + "/stages/service"
	s.mustRun(t, nil, "tag-resource", "--resource-arn", arn, "--tags", "team=luna,rewind=protected")
	var tags struct {
		Tags map[string]string `json:"tags"`
	}
	s.mustRun(t, &tags, "get-tags", "--resource-arn", arn)
	if len(tags.Tags) != 2 || tags.Tags["team"] != "luna" || tags.Tags["rewind"] != "protected" {
		t.Fatalf("tags %v", tags.Tags)
	}
	if st, _ := s.gw.Stage(api, "service"); st.Tags["team"] != "luna" || len(st.Tags) != 2 {
		t.Errorf("stage tags %v", st.Tags)
	}
}

// TestErrors: the CLI names the error code and message it read from our answers, exits 254 (a
// service error), and nothing is written.
func TestErrors(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	api, _ := s.arrange(t, "luna-api", 1)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get-stage", "--rest-api-id", "nosuchapi1", "--stage-name", "service"},
			"An error occurred (NotFoundException) when calling the GetStage operation: Invalid API identifier specified " + account + ":nosuchapi1"},
		{[]string{"update-stage", "--rest-api-id", api, "--stage-name", "service", "--patch-operations", "op=replace,path=/deploymentId,value=nosuch"},
			"An error occurred (BadRequestException) when calling the UpdateStage operation: Deployment id does not exist"},
	} {
		err := s.run(t, nil, c.args...)
		var ce *cliError
		if !errors.As(err, &ce) || ce.code != 254 || ce.stderr != c.want {
			t.Errorf("aws %s: %v\nwant exit 254: %s", strings.Join(c.args, " "), err, c.want)
		}
	}
	if n := s.gw.Writes(); n != 0 {
		t.Errorf("%d writes from failed calls", n)
	}
}

// TestGetExport: get-export with --parameters and --accepts reaches the export route, the CLI writes
// the body it got to the outfile as it is, and prints the Content-Type and Content-Disposition headers
// it read as contentType and contentDisposition.
func TestGetExport(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	api := s.gw.CreateRestAPI("luna-api")
	fn := "arn:aws:lambda:us-east-1:" + account + ":function:api-user-id"
	d, err := s.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Methods: []apigwlocal.Method{
		{Path: "/users/{id}", HTTPMethod: "GET", Integration: apigwlocal.LambdaProxy("us-east-1", fn+":live")},
		{Path: "/users/{id}", HTTPMethod: "PUT", Integration: apigwlocal.LambdaProxy("us-east-1", fn)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "service", DeploymentID: d.ID}); err != nil {
		t.Fatal(err)
	}
	outfile := filepath.Join(t.TempDir(), "out.json")
	var headers struct {
		ContentType        string `json:"contentType"`
		ContentDisposition string `json:"contentDisposition"`
	}
	s.mustRun(t, &headers, "get-export", "--rest-api-id", api.ID, "--stage-name", "service", "--export-type", "oas30",
		"--parameters", "extensions=integrations", "--accepts", "application/json", outfile)
	if headers.ContentType != "application/json" || !strings.HasPrefix(headers.ContentDisposition, "attachment; filename=") {
		t.Errorf("printed %+v", headers)
	}
	body, err := os.ReadFile(outfile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []struct {
			Variables map[string]struct {
				Default string `json:"default"`
			} `json:"variables"`
		} `json:"servers"`
		Paths map[string]map[string]struct {
			Integration *struct {
				Type string `json:"type"`
				URI  string `json:"uri"`
			} `json:"x-amazon-apigateway-integration"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("out.json is not JSON: %v\n%s", err, body)
	}
	get, put := doc.Paths["/users/{id}"]["get"].Integration, doc.Paths["/users/{id}"]["put"].Integration
	if doc.OpenAPI != "3.0.1" || len(doc.Servers) != 1 || doc.Servers[0].Variables["basePath"].Default != "/service" || get == nil || put == nil {
		t.Fatalf("out.json:\n%s", body)
	}
	if get.Type != "aws_proxy" || get.URI != apigwlocal.LambdaURI("us-east-1", fn+":live") || put.URI != apigwlocal.LambdaURI("us-east-1", fn) {
		t.Errorf("integrations GET %+v, PUT %+v", *get, *put)
	}

	// --accepts application/yaml gets through the CLI, unlike the Go SDK, which forces JSON.
	yamlFile := filepath.Join(t.TempDir(), "out.yaml")
	s.mustRun(t, &headers, "get-export", "--rest-api-id", api.ID, "--stage-name", "service", "--export-type", "swagger",
		"--accepts", "application/yaml", yamlFile)
	if body, _ := os.ReadFile(yamlFile); headers.ContentType != "application/yaml" || !strings.Contains(string(body), "swagger: \"2.0\"\n") {
		t.Errorf("YAML export: %+v\n%s", headers, body)
	}

	err = s.run(t, nil, "get-export", "--rest-api-id", api.ID, "--stage-name", "gone", "--export-type", "oas30", filepath.Join(t.TempDir(), "x"))
	var ce *cliError
	want := "An error occurred (NotFoundException) when calling the GetExport operation: Invalid stage identifier specified"
	if !errors.As(err, &ce) || ce.code != 254 || ce.stderr != want {
		t.Errorf("missing stage: %v\nwant exit 254: %s", err, want)
	}
	if n := s.gw.CallCount("GetExport"); n != 3 {
		t.Errorf("%d GetExport calls, want 3", n)
	}
}
