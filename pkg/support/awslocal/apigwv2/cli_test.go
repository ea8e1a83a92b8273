package apigwv2_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/awslocal/apigwv2"
	"github.com/rewind-sre/rewind/pkg/support/awslocal/clitest"
)

// TestTheAWSCLIReadsAndMovesAStage drives the local API Gateway v2 with the AWS CLI v2 (botocore,
// written by nobody here): paged deployments with ISO-8601 dates, a stage moved with its variables
// merged, and the refusals AWS makes.
func TestTheAWSCLIReadsAndMovesAStage(t *testing.T) {
	base := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	gw := apigwv2.New(func() time.Time { return base.Add(time.Hour) })
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	id := gw.CreateAPI()
	for i := range 30 {
		if _, err := gw.CreateDeployment(id, apigwv2.Deployment{ID: fmt.Sprintf("dep%02d", i), CreatedDate: base.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := gw.CreateStage(id, apigwv2.Stage{Name: "$default", DeploymentID: "dep29", Variables: map[string]string{"backend": "lambda"}}); err != nil {
		t.Fatal(err)
	}
	if err := gw.CreateStage(id, apigwv2.Stage{Name: "auto", DeploymentID: "dep29", AutoDeploy: true}); err != nil {
		t.Fatal(err)
	}
	cli := clitest.New(t, srv.URL)

	var deps struct {
		Items []struct{ DeploymentId, CreatedDate string }
	}
	cli.JSON(&deps, "apigatewayv2", "get-deployments", "--api-id", id) // the CLI follows nextToken
	if len(deps.Items) != 30 || deps.Items[1].DeploymentId != "dep01" || !strings.HasPrefix(deps.Items[1].CreatedDate, "2026-11-25T09:01:00") {
		t.Errorf("get-deployments: %d items, second %+v", len(deps.Items), deps.Items[1])
	}
	var st struct {
		DeploymentId   string
		AutoDeploy     bool
		StageVariables map[string]string
	}
	cli.JSON(&st, "apigatewayv2", "update-stage", "--api-id", id, "--stage-name", "$default", "--deployment-id", "dep28",
		"--stage-variables", "rewind_last=kind=rollback/from=dep29/to=dep28")
	got, _ := gw.Stage(id, "$default")
	if st.DeploymentId != "dep28" || got.DeploymentID != "dep28" || got.Variables["backend"] != "lambda" || got.Variables["rewind_last"] != "kind=rollback/from=dep29/to=dep28" {
		t.Errorf("update-stage answered %+v; stage now %+v", st, got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"update-stage", "--api-id", id, "--stage-name", "auto", "--deployment-id", "dep01"}, "BadRequestException"},
		{[]string{"update-stage", "--api-id", id, "--stage-name", "$default", "--deployment-id", "nope"}, "NotFoundException"},
		{[]string{"update-stage", "--api-id", id, "--stage-name", "$default", "--stage-variables", "x=a b"}, "BadRequestException"},
		{[]string{"get-stage", "--api-id", id, "--stage-name", "gone"}, "NotFoundException"},
	} {
		if _, stderr, code := cli.Run(append([]string{"apigatewayv2"}, c.args...)...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %s; want %s", c.args, code, stderr, c.want)
		}
	}
	if gw.Writes() != 1 {
		t.Errorf("writes = %d, want the one accepted update", gw.Writes())
	}
}
