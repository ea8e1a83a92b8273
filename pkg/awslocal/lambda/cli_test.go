package lambda_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/awslocal/clitest"
	lambdalocal "github.com/rewind-sre/rewind/pkg/awslocal/lambda"
)

// TestTheAWSCLIReadsAndMovesAnAlias drives the local Lambda with the AWS CLI v2 (botocore, written
// by nobody here): paged versions, an alias with weighted routing, RevisionId preconditions and the
// error codes botocore names.
func TestTheAWSCLIReadsAndMovesAnAlias(t *testing.T) {
	lam := lambdalocal.New(nil)
	srv := httptest.NewServer(lam)
	t.Cleanup(srv.Close)
	var vs []lambdalocal.Version
	for i := 1; i <= 60; i++ {
		vs = append(vs, lambdalocal.Version{Version: fmt.Sprint(i), LastModified: time.Date(2026, 11, 25, 9, i, 0, 0, time.UTC)})
	}
	lam.CreateFunction("api-user-id", vs...)
	if err := lam.CreateAlias("api-user-id", lambdalocal.Alias{Name: "live", FunctionVersion: "59", Description: "prod", Weights: map[string]float64{"60": 0.1}}); err != nil {
		t.Fatal(err)
	}
	cli := clitest.New(t, srv.URL)

	var versions struct {
		Versions []struct{ Version, LastModified string }
	}
	cli.JSON(&versions, "lambda", "list-versions-by-function", "--function-name", "api-user-id") // the CLI follows NextMarker
	if len(versions.Versions) != 61 || versions.Versions[1].LastModified != "2026-11-25T09:01:00.000+0000" {
		t.Errorf("list-versions-by-function: %d versions, second %+v", len(versions.Versions), versions.Versions[1])
	}
	var alias struct {
		FunctionVersion, RevisionId, Description string
		RoutingConfig                            struct{ AdditionalVersionWeights map[string]float64 }
	}
	cli.JSON(&alias, "lambda", "get-alias", "--function-name", "api-user-id", "--name", "live")
	if alias.FunctionVersion != "59" || alias.RoutingConfig.AdditionalVersionWeights["60"] != 0.1 {
		t.Fatalf("get-alias: %+v", alias)
	}
	var moved struct{ FunctionVersion, RevisionId string }
	cli.JSON(&moved, "lambda", "update-alias", "--function-name", "api-user-id", "--name", "live", "--function-version", "58",
		"--routing-config", "AdditionalVersionWeights={}", "--description", "prod rewind: b=60", "--revision-id", alias.RevisionId)
	a, _ := lam.Alias("api-user-id", "live")
	if moved.FunctionVersion != "58" || a.FunctionVersion != "58" || len(a.Weights) != 0 || a.Description != "prod rewind: b=60" || moved.RevisionId == alias.RevisionId {
		t.Errorf("update-alias: answered %+v; alias now %+v", moved, a)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"update-alias", "--function-name", "api-user-id", "--name", "live", "--function-version", "57", "--revision-id", alias.RevisionId}, "PreconditionFailedException"},
		{[]string{"update-alias", "--function-name", "api-user-id", "--name", "live", "--function-version", "99"}, "InvalidParameterValueException"},
		{[]string{"update-alias", "--function-name", "api-user-id", "--name", "live", "--description", strings.Repeat("x", 257)}, "InvalidParameterValueException"},
		{[]string{"get-alias", "--function-name", "api-user-id", "--name", "nope"}, "ResourceNotFoundException"},
	} {
		if _, stderr, code := cli.Run(append([]string{"lambda"}, c.args...)...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %s; want %s", c.args, code, stderr, c.want)
		}
	}
	if lam.Writes() != 1 {
		t.Errorf("writes = %d, want the one accepted update", lam.Writes())
	}
}
