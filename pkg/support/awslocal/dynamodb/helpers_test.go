package dynamodb_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// The three backends every conformance scenario runs against.
const (
	local    = "local"    // this package's Server
	moto     = "moto"     // moto_server 5.2.1
	dynalite = "dynalite" // dynalite 4.0.0
)

// backend is one DynamoDB and an SDK v2 client for it.
type backend struct {
	name   string
	url    string
	client *dynamodb.Client
	server *ddblocal.Server // the local one only
	tables int
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	switch name {
	case local:
		b.server = ddblocal.New(ddblocal.Options{})
		srv := httptest.NewServer(b.server)
		t.Cleanup(srv.Close)
		b.url = srv.URL
	case moto:
		b.url = testenv.Moto(t)
	case dynalite:
		b.url = testenv.Dynalite(t)
	}
	b.client = newClient(b.url, 1)
	return b
}

// newClient is the SDK v2 client Rewind builds, pointed at url; attempts 1 turns retries off.
func newClient(url string, attempts int) *dynamodb.Client {
	return dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: attempts,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")},
		func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(url) })
}

// table creates a table with Rewind's key schema through the API and waits until it is ACTIVE; the
// answer to CreateTable is returned for scenarios that check it.
func (b *backend) table(t *testing.T) (string, *dynamodb.CreateTableOutput) {
	t.Helper()
	b.tables++
	name := fmt.Sprintf("rewind-memory-%d", b.tables)
	out, err := b.client.CreateTable(context.Background(), createTableInput(name))
	if err != nil {
		t.Fatalf("%s: CreateTable: %v", b.name, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := b.client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &name})
		if err == nil && d.Table.TableStatus == types.TableStatusActive {
			return name, out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: table %s not ACTIVE within 10s: %v", b.name, name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func createTableInput(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{TableName: &name, BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}}}
}

// Attribute value shorthands.
func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

type attrs = map[string]types.AttributeValue

func key(pk, sk string) attrs { return attrs{"pk": s(pk), "sk": s(sk)} }

// with is item plus more attributes.
func with(item attrs, more ...any) attrs {
	out := attrs{}
	for k, v := range item {
		out[k] = v
	}
	for i := 0; i < len(more); i += 2 {
		out[more[i].(string)] = more[i+1].(types.AttributeValue)
	}
	return out
}

// motoCrash is what code makes of moto_server's answer to some requests it cannot handle: a
// Python exception (KeyError, ValueError) behind an HTML "500 Internal Server Error" page, which no
// SDK can read as a DynamoDB error.
const motoCrash = "HTTP 500, not JSON"

// code is the API error code an SDK call failed with ("" for success, motoCrash, or "transport:
// ..." for any other error that is not an API error).
func code(err error) string {
	var ae smithy.APIError
	var re *awshttp.ResponseError
	var de *smithy.DeserializationError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ae):
		return ae.ErrorCode()
	case errors.As(err, &re) && re.HTTPStatusCode() == 500 && errors.As(err, &de):
		return motoCrash
	}
	return "transport: " + err.Error()
}

func wantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Errorf("%s: error code %q (%v), want %q", what, got, err, want)
	}
}

// render is an item as stable JSON (sets sorted: DynamoDB keeps no order in them), for comparing
// what different backends answered.
func render(item attrs) string {
	b, _ := json.Marshal(plainAttrs(item))
	return string(b)
}

func plainAttrs(item attrs) map[string]any {
	if item == nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range item {
		out[k] = plainValue(v)
	}
	return out
}

func plainValue(v types.AttributeValue) any {
	sorted := func(xs []string) []string { return slices.Sorted(slices.Values(xs)) }
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": sorted(v.Value)}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": sorted(v.Value)}
	case *types.AttributeValueMemberBS:
		var bs []string
		for _, b := range v.Value {
			bs = append(bs, base64.StdEncoding.EncodeToString(b))
		}
		return map[string]any{"BS": sorted(bs)}
	case *types.AttributeValueMemberL:
		var l []any
		for _, e := range v.Value {
			l = append(l, plainValue(e))
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": plainAttrs(v.Value)}
	}
	return fmt.Sprintf("unknown %T", v)
}

// get reads an item (strongly consistent) and fails the test on an error.
func (b *backend) get(t *testing.T, table string, k attrs) attrs {
	t.Helper()
	out, err := b.client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("%s: GetItem: %v", b.name, err)
	}
	return out.Item
}

func (b *backend) put(t *testing.T, table string, item attrs) {
	t.Helper()
	if _, err := b.client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		t.Fatalf("%s: PutItem: %v", b.name, err)
	}
}
