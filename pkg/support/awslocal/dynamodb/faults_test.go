package dynamodb_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// faulty is what the local Server and the Proxy share: a DynamoDB endpoint with awslocal's faults.
type faulty interface {
	http.Handler
	InjectFault(op string, f awslocal.Fault)
	Calls() []awslocal.Call
	Writes() int
}

// TestFaults injects each fault into the local Server and into the Proxy in front of moto_server
// and of dynalite (subtests local, moto, dynalite), and checks that the SDK v2 client meets
// DynamoDB's own answer for it, and that a write lands exactly when the fault says it does.
func TestFaults(t *testing.T) {
	for _, name := range []string{local, moto, dynalite} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var f faulty
			switch name {
			case local:
				f = ddblocal.New(ddblocal.Options{})
			case moto:
				f = ddblocal.NewProxy(testenv.Moto(t))
			case dynalite:
				f = ddblocal.NewProxy(testenv.Dynalite(t))
			}
			srv := httptest.NewServer(f)
			t.Cleanup(srv.Close)
			b := &backend{name: name, url: srv.URL, client: newClient(srv.URL, 1)}
			table, _ := b.table(t)
			for _, fc := range faultCases {
				t.Run(fc.name, func(t *testing.T) { fc.run(t, b, f, table) })
			}
		})
	}
}

// retrying is a client that retries as Rewind's does, without the backoff's waits.
func retrying(url string, attempts int) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: newClient(url, 1).Options().Credentials,
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})})
}

// lastFaults is the Fault column of the last n calls of op.
func lastFaults(f faulty, op string, n int) string {
	var out []string
	for _, c := range f.Calls() {
		if c.Op == op {
			out = append(out, c.Fault)
		}
	}
	return strings.Join(out[max(len(out)-n, 0):], "|")
}

var faultCases = []struct {
	name string
	run  func(t *testing.T, b *backend, f faulty, table string)
}{
	{"throttling is retried", func(t *testing.T, b *backend, f faulty, table string) {
		f.InjectFault("PutItem", awslocal.Fault{Status: 429})
		_, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key("throttle", "1")})
		wantCode(t, "without retries", err, "ProvisionedThroughputExceededException")
		f.InjectFault("PutItem", awslocal.Fault{Status: 429, Times: 2})
		_, err = retrying(b.url, 3).PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key("throttle", "2")})
		wantCode(t, "with three attempts", err, "")
		if got := lastFaults(f, "PutItem", 3); got != "status=429|status=429|" {
			t.Errorf("PutItem calls' faults %q", got)
		}
		if b.get(t, table, key("throttle", "1")) != nil || b.get(t, table, key("throttle", "2")) == nil {
			t.Error("the throttled put landed, or the retried one did not")
		}
	}},
	{"a lost race", func(t *testing.T, b *backend, f faulty, table string) {
		writes := f.Writes()
		f.InjectFault("PutItem", awslocal.Fault{Status: 409})
		_, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key("race", "1"), ConditionExpression: aws.String("attribute_not_exists(pk)")})
		wantCode(t, "PutItem", err, "ConditionalCheckFailedException")
		f.InjectFault("TransactWriteItems", awslocal.Fault{Status: 409})
		_, err = b.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: &table, Item: key("race", "2")}}, {Put: &types.Put{TableName: &table, Item: key("race", "3")}}}})
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) || len(tce.CancellationReasons) != 2 || aws.ToString(tce.CancellationReasons[0].Code) != "ConditionalCheckFailed" {
			t.Errorf("TransactWriteItems: %v (%+v), want a cancellation with one reason per item", err, tce)
		}
		if f.Writes() != writes || b.get(t, table, key("race", "1")) != nil {
			t.Errorf("a write refused before it ran landed (writes %d -> %d)", writes, f.Writes())
		}
	}},
	{"a lost answer", func(t *testing.T, b *backend, f faulty, table string) {
		writes := f.Writes()
		f.InjectFault("PutItem", awslocal.Fault{Status: 500, AfterApply: true})
		_, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key("lost", "1")})
		wantCode(t, "PutItem", err, "InternalServerError")
		if f.Writes() != writes+1 || b.get(t, table, key("lost", "1")) == nil {
			t.Errorf("the write whose answer was lost did not land (writes %d -> %d)", writes, f.Writes())
		}
		f.InjectFault("GetItem", awslocal.Fault{Status: 503})
		_, err = b.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key("lost", "1")})
		wantCode(t, "GetItem", err, "ServiceUnavailable")
	}},
	{"a reset connection", func(t *testing.T, b *backend, f faulty, table string) {
		f.InjectFault("GetItem", awslocal.Fault{Reset: true})
		_, err := b.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key("lost", "1")})
		if c := code(err); !strings.HasPrefix(c, "transport: ") {
			t.Errorf("GetItem over a reset: %q, want a transport error", c)
		}
	}},
	{"a client that gives up during a delay", func(t *testing.T, b *backend, f faulty, table string) {
		writes := f.Writes()
		f.InjectFault("PutItem", awslocal.Fault{Delay: 5 * time.Second})
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := b.client.PutItem(short, &dynamodb.PutItemInput{TableName: &table, Item: key("slow", "1")}); err == nil {
			t.Fatal("PutItem answered within the client's timeout")
		}
		time.Sleep(100 * time.Millisecond) // the abandoned call is dropped, not applied later
		if f.Writes() != writes || b.get(t, table, key("slow", "1")) != nil {
			t.Errorf("the abandoned write landed (writes %d -> %d)", writes, f.Writes())
		}
	}},
	{"a transaction retried after a lost answer", func(t *testing.T, b *backend, f faulty, table string) {
		f.InjectFault("TransactWriteItems", awslocal.Fault{Status: 500, AfterApply: true})
		_, err := retrying(b.url, 2).TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: &table, Item: key("once", "1"), ConditionExpression: aws.String("attribute_not_exists(pk)")}}}})
		// The SDK retries with the ClientRequestToken it generated for the first try. AWS (and the
		// local server) answers the retry with success and applies nothing twice; moto runs it
		// again and its condition fails; dynalite has no transactions.
		want := map[string]string{local: "", moto: "TransactionCanceledException", dynalite: "UnknownOperationException"}[b.name]
		wantCode(t, "the retried transaction", err, want)
		if got := lastFaults(f, "TransactWriteItems", 2); got != "status=500,after-apply|" {
			t.Errorf("TransactWriteItems calls' faults %q", got)
		}
	}},
}
