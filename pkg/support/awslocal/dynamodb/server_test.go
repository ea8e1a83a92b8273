package dynamodb_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
)

// raw posts one call as JSON 1.0 and returns the status, the decoded body and the headers.
func raw(t *testing.T, url, op, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if sum := strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10); resp.Header.Get("X-Amz-Crc32") != sum {
		t.Errorf("%s: X-Amz-Crc32 %q, body's CRC32 %s", op, resp.Header.Get("X-Amz-Crc32"), sum)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v: %s", op, err, b)
	}
	return resp.StatusCode, out, resp.Header
}

func localServer(t *testing.T) (*ddblocal.Server, string) {
	t.Helper()
	srv := ddblocal.New(ddblocal.Options{Now: func() time.Time { return time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC) }})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	srv.CreateTable("rewind")
	return srv, hs.URL
}

func TestTheWireIsDynamoDBsJSON10(t *testing.T) {
	srv, url := localServer(t)
	status, out, h := raw(t, url, "PutItem", `{"TableName":"rewind","Item":{"pk":{"S":"p"},"sk":{"S":"s"},"n":{"N":"007.50"}}}`)
	if status != 200 || len(out) != 0 || h.Get("Content-Type") != "application/x-amz-json-1.0" || h.Get("X-Amzn-Requestid") == "" {
		t.Errorf("PutItem: %d %v %v", status, out, h)
	}
	status, out, _ = raw(t, url, "GetItem", `{"TableName":"rewind","Key":{"pk":{"S":"p"},"sk":{"S":"s"}}}`)
	if status != 200 || fmt.Sprint(out["Item"]) != "map[n:map[N:7.5] pk:map[S:p] sk:map[S:s]]" {
		t.Errorf("GetItem: %d %v (a number comes back trimmed, as from DynamoDB)", status, out)
	}
	for _, c := range []struct{ op, body, typ, msg string }{
		{"GetItem", `{"TableName":"nope","Key":{"pk":{"S":"p"},"sk":{"S":"s"}}}`, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "Requested resource not found"},
		{"GetItem", `{"TableName":"rewind","Key":{"pk":{"S":"p"}}}`, "com.amazon.coral.validate#ValidationException", "The provided key element does not match the schema"},
		{"GetItem", `{"TableName":"rewind","Key":{"pk":{"S":"p"},"sk":{"S":"s"}},"ProjectionExpression":"a"}`, "com.amazon.coral.validate#ValidationException", "does not model the request member \"ProjectionExpression\""},
		{"GetItem", `{"TableName":"rewind","Key":{"pk":{"S":"p"},"sk":{"S":"s"}},"ConsistentRead":"yes"}`, "com.amazon.coral.service#SerializationException", ""},
		{"Scan", `{"TableName":"rewind"}`, "com.amazon.coral.service#UnknownOperationException", "does not model Scan"},
		{"PutItem", `{"TableName":"rewind","Item":{"pk":{"S":"p"},"sk":{"S":"s"}},"ConditionExpression":"attribute_not_exists(pk)"}`, "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "The conditional request failed"},
		{"PutItem", `{"TableName":"rewind","Item":{"pk":{"S":"p"}}}`, "com.amazon.coral.validate#ValidationException", "Missing the key sk in the item"},
		{"PutItem", `{"TableName":"rewind","Item":{"pk":{"S":"p"},"sk":{"N":"1"}}}`, "com.amazon.coral.validate#ValidationException", "Type mismatch for key sk expected: S actual: N"},
		{"PutItem", `{"TableName":"rewind","Item":{"pk":{"S":"p"},"sk":{"S":""}}}`, "com.amazon.coral.validate#ValidationException", "The AttributeValue for a key attribute cannot contain an empty string value. Key: sk"},
		{"PutItem", `{"TableName":"rewind","Item":{"pk":{"S":"p"},"sk":{"S":"t"},"x":{"S":"` + strings.Repeat("x", 400*1024) + `"}}}`, "com.amazon.coral.validate#ValidationException", "Item size has exceeded the maximum allowed size"},
		{"PutItem", `{"TableName":"rewind","Item":{"pk":{"S":"p"},"sk":{"S":"t"}},"ExpressionAttributeValues":{":v":{"S":"x"}}}`, "com.amazon.coral.validate#ValidationException", "ExpressionAttributeValues can only be specified when using expressions"},
		{"PutItem", `{"TableName":"rewind","Item":{"pk":{"S":"p"},"sk":{"S":"t"}},"ConditionExpression":"a = :v","ExpressionAttributeValues":{":v":{"S":"x"},":w":{"S":"y"}}}`, "com.amazon.coral.validate#ValidationException", "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"},
		{"PutItem", `{"TableName":"rewind","Item":{"pk":{"S":"p"},"sk":{"S":"t"}},"ReturnValues":"ALL_NEW"}`, "com.amazon.coral.validate#ValidationException", "ReturnValues can only be ALL_OLD or NONE"},
		{"Query", `{"TableName":"rewind","KeyConditionExpression":"pk = :p","FilterExpression":"sk = :p","ExpressionAttributeValues":{":p":{"S":"p"}}}`, "com.amazon.coral.validate#ValidationException", "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"},
		{"Query", `{"TableName":"rewind","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"S":"p"}},"Limit":0}`, "com.amazon.coral.validate#ValidationException", "Member must have value greater than or equal to 1"},
		{"Query", `{"TableName":"rewind","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"N":"1"}}}`, "com.amazon.coral.validate#ValidationException", "Condition parameter type does not match schema type"},
		{"CreateTable", `{"TableName":"rewind","BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}]}`, "com.amazonaws.dynamodb.v20120810#ResourceInUseException", "Table already exists: rewind"},
		{"CreateTable", `{"TableName":"other","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}]}`, "com.amazon.coral.validate#ValidationException", "does not model BillingMode \"\""},
	} {
		status, out, _ := raw(t, url, c.op, c.body)
		msg, _ := out["message"].(string)
		if status != 400 || out["__type"] != c.typ || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %.80s: %d %v, want %s with %q", c.op, c.body, status, out, c.typ, c.msg)
		}
	}
	if srv.Writes() != 1 {
		t.Errorf("Writes = %d, want the one PutItem that succeeded", srv.Writes())
	}
}

func TestATransactionsCancellationIsDynamoDBs(t *testing.T) {
	_, url := localServer(t)
	raw(t, url, "PutItem", `{"TableName":"rewind","Item":{"pk":{"S":"claim"},"sk":{"S":"lock"},"owner":{"S":"a"}}}`)
	status, out, _ := raw(t, url, "TransactWriteItems", `{"TransactItems":[
		{"Put":{"TableName":"rewind","Item":{"pk":{"S":"p"},"sk":{"S":"1"}}}},
		{"ConditionCheck":{"TableName":"rewind","Key":{"pk":{"S":"claim"},"sk":{"S":"lock"}},"ConditionExpression":"attribute_not_exists(pk)","ReturnValuesOnConditionCheckFailure":"ALL_OLD"}}]}`)
	want := map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
		"Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]",
		"CancellationReasons": []any{map[string]any{"Code": "None"}, map[string]any{"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
			"Item": map[string]any{"pk": map[string]any{"S": "claim"}, "sk": map[string]any{"S": "lock"}, "owner": map[string]any{"S": "a"}}}}}
	if status != 400 || !reflect.DeepEqual(out, want) {
		t.Errorf("%d %v\nwant %v", status, out, want)
	}
	status, out, _ = raw(t, url, "TransactWriteItems", `{"TransactItems":[{"Update":{"TableName":"rewind","Key":{"pk":{"S":"p"},"sk":{"S":"1"}}}}]}`)
	if status != 400 || !strings.Contains(fmt.Sprint(out["message"]), "transactItems.1.member.update.updateExpression") {
		t.Errorf("an Update without UpdateExpression: %d %v", status, out)
	}
	raw(t, url, "TransactWriteItems", `{"ClientRequestToken":"t1","TransactItems":[{"Put":{"TableName":"rewind","Item":{"pk":{"S":"p"},"sk":{"S":"1"}}}}]}`)
	status, out, _ = raw(t, url, "TransactWriteItems", `{"ClientRequestToken":"t1","TransactItems":[{"Put":{"TableName":"rewind","Item":{"pk":{"S":"p"},"sk":{"S":"2"}}}}]}`)
	if status != 400 || out["__type"] != "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException" {
		t.Errorf("a token reused for another request: %d %v", status, out)
	}
}

func TestItemShowsWhatIsStoredAndCreateTableKeepsATable(t *testing.T) {
	srv, url := localServer(t)
	client := newClient(url, 1)
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("rewind"), Item: with(key("deploy#api", "bad#1"),
		"n", n("3"), "m", &types.AttributeValueMemberM{Value: attrs{"ok": &types.AttributeValueMemberBOOL{Value: true}}})}); err != nil {
		t.Fatal(err)
	}
	srv.CreateTable("rewind") // already there: left as it is
	got, ok := srv.Item("rewind", "deploy#api", "bad#1")
	want := map[string]any{"pk": map[string]any{"S": "deploy#api"}, "sk": map[string]any{"S": "bad#1"}, "n": map[string]any{"N": "3"},
		"m": map[string]any{"M": map[string]any{"ok": map[string]any{"BOOL": true}}}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Item = %v %v, want %v", got, ok, want)
	}
	got["n"] = "changed by the test"
	if again, _ := srv.Item("rewind", "deploy#api", "bad#1"); !reflect.DeepEqual(again, want) {
		t.Error("changing Item's answer changed the stored item")
	}
	if _, ok := srv.Item("rewind", "deploy#api", "nope"); ok {
		t.Error("Item found a missing item")
	}
	if _, ok := srv.Item("nope", "deploy#api", "bad#1"); ok {
		t.Error("Item found an item of a missing table")
	}
	if srv.Items("rewind") != 1 || srv.Items("nope") != 0 {
		t.Errorf("Items = %d, %d", srv.Items("rewind"), srv.Items("nope"))
	}
	d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("rewind")})
	if err != nil || d.Table.TableStatus != types.TableStatusActive || *d.Table.ItemCount != 1 ||
		!d.Table.CreationDateTime.Equal(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("DescribeTable: %v %+v", err, d)
	}
	if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("rewind")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Item("rewind", "deploy#api", "bad#1"); ok {
		t.Error("the deleted table's item is still there")
	}
}

// TestConcurrentCompareAndSetsHaveOneWinnerEach runs writers that each read a version and try to
// move it on: every version has exactly one winner, and every loser sees
// ConditionalCheckFailedException, as with DynamoDB's conditional writes.
func TestConcurrentCompareAndSetsHaveOneWinnerEach(t *testing.T) {
	srv, url := localServer(t)
	client := newClient(url, 1)
	table := aws.String("rewind")
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: with(key("counter", "c"), "v", n("0"))}); err != nil {
		t.Fatal(err)
	}
	const writers, rounds = 8, 25
	var mu sync.Mutex
	wins, losses := 0, 0
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range rounds {
				out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key("counter", "c"), ConsistentRead: aws.Bool(true)})
				if err != nil {
					t.Error(err)
					return
				}
				v := out.Item["v"].(*types.AttributeValueMemberN).Value
				_, err = client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key("counter", "c"),
					UpdateExpression: aws.String("SET v = v + :one"), ConditionExpression: aws.String("v = :seen"),
					ExpressionAttributeValues: attrs{":one": n("1"), ":seen": n(v)}})
				var ccf *types.ConditionalCheckFailedException
				mu.Lock()
				switch {
				case err == nil:
					wins++
				case errors.As(err, &ccf):
					losses++
				default:
					t.Error(err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, _ := srv.Item("rewind", "counter", "c")
	if fmt.Sprint(got["v"]) != fmt.Sprintf("map[N:%d]", wins) || wins+losses != writers*rounds || wins < rounds {
		t.Errorf("v = %v after %d wins and %d losses", got["v"], wins, losses)
	}
}
