package lambda_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/awslocal/clitest"
	lambdalocal "github.com/rewind-sre/rewind/pkg/support/awslocal/lambda"
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

// TestTheAWSCLIReadsAndSetsReservedConcurrency drives the concurrency operations with the AWS CLI
// v2: {} for a function with no reservation, a reservation put and read back (by name and by ARN),
// the account's unreserved minimum, removal, and the 404 of an unknown function.
func TestTheAWSCLIReadsAndSetsReservedConcurrency(t *testing.T) {
	lam := lambdalocal.New(nil)
	srv := httptest.NewServer(lam)
	t.Cleanup(srv.Close)
	lam.CreateFunction("api-user-id")
	lam.CreateFunction("batch")
	cli := clitest.New(t, srv.URL)

	type concurrency struct{ ReservedConcurrentExecutions *int32 }
	// The CLI prints nothing for an answer with no members ({}), so a reply is read only when there
	// is one.
	read := func(args ...string) concurrency {
		t.Helper()
		out, stderr, code := cli.Run(append([]string{"lambda"}, args...)...)
		if code != 0 {
			t.Fatalf("aws lambda %v: exit %d: %s", args, code, stderr)
		}
		var c concurrency
		if strings.TrimSpace(out) != "" {
			if err := json.Unmarshal([]byte(out), &c); err != nil {
				t.Fatalf("aws lambda %v: %v\n%s", args, err, out)
			}
		}
		return c
	}
	if got := read("get-function-concurrency", "--function-name", "api-user-id"); got.ReservedConcurrentExecutions != nil {
		t.Errorf("get-function-concurrency with none reserved = %d, want {}", *got.ReservedConcurrentExecutions)
	}
	var put concurrency
	cli.JSON(&put, "lambda", "put-function-concurrency", "--function-name", "api-user-id", "--reserved-concurrent-executions", "40")
	if put.ReservedConcurrentExecutions == nil || *put.ReservedConcurrentExecutions != 40 {
		t.Errorf("put-function-concurrency answered %+v, want 40", put)
	}
	got := read("get-function-concurrency", "--function-name", "arn:aws:lambda:us-east-1:123456789012:function:api-user-id")
	if got.ReservedConcurrentExecutions == nil || *got.ReservedConcurrentExecutions != 40 {
		t.Errorf("get-function-concurrency by ARN = %+v, want 40", got)
	}
	// 0 is a reservation too (the function is throttled), not the absence of one.
	cli.JSON(&put, "lambda", "put-function-concurrency", "--function-name", "123456789012:function:batch", "--reserved-concurrent-executions", "0")
	got = read("get-function-concurrency", "--function-name", "batch")
	if got.ReservedConcurrentExecutions == nil || *got.ReservedConcurrentExecutions != 0 {
		t.Errorf("get-function-concurrency after reserving 0 = %+v, want 0", got)
	}
	if n, ok := lam.ReservedConcurrency("batch"); !ok || n != 0 {
		t.Errorf("ReservedConcurrency(batch) = %d, %v", n, ok)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		// 1000 - 40 (api-user-id) - 861 leaves 99 unreserved, under the minimum of 100.
		{[]string{"put-function-concurrency", "--function-name", "batch", "--reserved-concurrent-executions", "861"}, "InvalidParameterValueException"},
		{[]string{"get-function-concurrency", "--function-name", "nope"}, "ResourceNotFoundException"},
		{[]string{"put-function-concurrency", "--function-name", "nope", "--reserved-concurrent-executions", "1"}, "ResourceNotFoundException"},
		{[]string{"delete-function-concurrency", "--function-name", "nope"}, "ResourceNotFoundException"},
	} {
		if _, stderr, code := cli.Run(append([]string{"lambda"}, c.args...)...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %s; want %s", c.args, code, stderr, c.want)
		}
	}
	cli.JSON(&put, "lambda", "put-function-concurrency", "--function-name", "batch", "--reserved-concurrent-executions", "860") // exactly 100 left
	if _, stderr, code := cli.Run("lambda", "delete-function-concurrency", "--function-name", "api-user-id"); code != 0 {
		t.Fatalf("delete-function-concurrency: exit %d: %s", code, stderr)
	}
	got = read("get-function-concurrency", "--function-name", "api-user-id")
	if _, ok := lam.ReservedConcurrency("api-user-id"); ok || got.ReservedConcurrentExecutions != nil {
		t.Errorf("after delete-function-concurrency: answered %+v", got)
	}
	if lam.Writes() != 4 {
		t.Errorf("writes = %d, want the 3 accepted puts and the delete", lam.Writes())
	}
}
