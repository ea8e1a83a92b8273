package dynamodb_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/support/awslocal/clitest"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
)

// TestTheAWSCLIPutsGetsAndQueries drives the local DynamoDB with the AWS CLI v2 (botocore, written
// by nobody here, which also checks X-Amz-Crc32 on every answer): put-item with a condition,
// get-item, a query the CLI pages through itself with Limit and LastEvaluatedKey, and the error
// codes botocore names.
func TestTheAWSCLIPutsGetsAndQueries(t *testing.T) {
	ddb := ddblocal.New(ddblocal.Options{})
	srv := httptest.NewServer(ddb)
	t.Cleanup(srv.Close)
	ddb.CreateTable("rewind")
	cli := clitest.New(t, srv.URL)

	for _, day := range []string{"21", "22", "23", "24", "25"} {
		// The CLI prints nothing for PutItem's empty answer ({}: no old item to return).
		stdout, stderr, code := cli.Run("dynamodb", "put-item", "--table-name", "rewind", "--return-values", "ALL_OLD",
			"--item", `{"pk":{"S":"deploy#api"},"sk":{"S":"bad#2026-11-`+day+`"},"n":{"N":"`+day+`"},"tags":{"SS":["rollback"]},"ok":{"BOOL":true}}`,
			"--condition-expression", "attribute_not_exists(pk)")
		if code != 0 || strings.TrimSpace(stdout) != "" {
			t.Errorf("put-item of a new item: exit %d, %q %s", code, stdout, stderr)
		}
	}
	if _, ok := ddb.Item("rewind", "deploy#api", "bad#2026-11-23"); !ok {
		t.Fatal("put-item stored nothing")
	}

	var got struct {
		Item map[string]map[string]any
	}
	cli.JSON(&got, "dynamodb", "get-item", "--table-name", "rewind", "--consistent-read",
		"--key", `{"pk":{"S":"deploy#api"},"sk":{"S":"bad#2026-11-23"}}`)
	if got.Item["n"]["N"] != "23" || got.Item["ok"]["BOOL"] != true || len(got.Item["tags"]["SS"].([]any)) != 1 {
		t.Errorf("get-item: %v", got.Item)
	}

	var q struct {
		Items []map[string]map[string]any
		Count int
	}
	// --page-size 2 makes the CLI send Limit 2 and follow LastEvaluatedKey to the end: three calls.
	cli.JSON(&q, "dynamodb", "query", "--table-name", "rewind", "--no-scan-index-forward", "--page-size", "2",
		"--key-condition-expression", "pk = :p AND begins_with(sk, :bad)",
		"--expression-attribute-values", `{":p":{"S":"deploy#api"},":bad":{"S":"bad#"}}`)
	var sks []string
	for _, it := range q.Items {
		sks = append(sks, it["sk"]["S"].(string))
	}
	if strings.Join(sks, ",") != "bad#2026-11-25,bad#2026-11-24,bad#2026-11-23,bad#2026-11-22,bad#2026-11-21" || q.Count != 5 {
		t.Errorf("query: %d items %v", q.Count, sks)
	}
	if n := ddb.CallCount("Query"); n != 3 {
		t.Errorf("the CLI paged with %d Query calls, want 3 (2 + 2 + 1 items)", n)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"put-item", "--table-name", "rewind", "--item", `{"pk":{"S":"deploy#api"},"sk":{"S":"bad#2026-11-21"}}`,
			"--condition-expression", "attribute_not_exists(pk)"}, "ConditionalCheckFailedException"},
		{[]string{"get-item", "--table-name", "rewind", "--key", `{"pk":{"S":"deploy#api"}}`}, "ValidationException"},
		{[]string{"get-item", "--table-name", "nope", "--key", `{"pk":{"S":"a"},"sk":{"S":"b"}}`}, "ResourceNotFoundException"},
		{[]string{"query", "--table-name", "rewind", "--key-condition-expression", "pk = :p"}, "ValidationException"},
	} {
		if _, stderr, code := cli.Run(append([]string{"dynamodb"}, c.args...)...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %s; want %s", c.args, code, stderr, c.want)
		}
	}
	if ddb.Writes() != 5 {
		t.Errorf("writes = %d, want the five accepted puts", ddb.Writes())
	}
}
