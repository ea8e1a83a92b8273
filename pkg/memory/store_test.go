package memory_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/memory"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
	"github.com/rewind-sre/rewind/pkg/target"
)

// The store through the real SDK, against three DynamoDBs: the local one the demo and the fast tests
// use, moto_server, and dynalite (an independent DynamoDB on LevelDB that validates requests as
// DynamoDB does). Faults go through the same Recorder: the local server's own, a proxy's in front of
// the other two.

const table = "rewind-memory"

var (
	rest  = target.Target{Kind: target.KindRESTStage, Resource: "a1b2c3d4e5", Slot: "prod"}
	other = target.Target{Kind: target.KindRESTStage, Resource: "a1b2c3d4e5", Slot: "dev"}
	at    = time.Date(2026, 11, 25, 3, 20, 0, 0, time.UTC)
)

type backend struct {
	name   string
	store  *memory.Store
	client *dynamodb.Client
	faults interface {
		InjectFault(op string, f awslocal.Fault)
		ClearFaults()
	}
	local *ddblocal.Server
}

// backends starts each DynamoDB with Rewind's table, and a store over it with a retry policy like
// production's (fast, so fault tests take milliseconds).
func backends(t *testing.T) []backend {
	t.Helper()
	var out []backend
	for _, name := range []string{"local", "moto", "dynalite"} {
		b := backend{name: name}
		var h http.Handler
		switch name {
		case "local":
			b.local = ddblocal.New(ddblocal.Options{})
			b.local.CreateTable(table)
			h, b.faults = b.local, b.local
		case "moto", "dynalite":
			url := testenv.Moto(t)
			if name == "dynalite" {
				url = testenv.Dynalite(t)
			}
			p := ddblocal.NewProxy(url)
			h, b.faults = p, p
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		b.client = dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
			Retryer: func() aws.Retryer {
				return awsretry.Policy{MaxAttempts: 8, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}.Retryer()
			}})
		if b.local == nil {
			createTable(t, b.client)
		}
		b.store = memory.New(b.client, table, 30*24*time.Hour)
		out = append(out, b)
	}
	return out
}

// createTable makes the table as template.yaml declares it.
func createTable(t *testing.T, c *dynamodb.Client) {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dynamodb.NewTableExistsWaiter(c).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 10*time.Second,
		func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 20*time.Millisecond, 100*time.Millisecond
		}); err != nil {
		t.Fatal(err)
	}
}

// full is a record with every field set, a claim included.
func full() rollback.Record {
	last := &rollback.Change{Kind: rollback.KindRollback, From: "d3", To: "d2", At: at, By: rollback.ByAlarm, Incident: "inc1", Alarm: "luna-api 5XX / prod"}
	mem := rollback.Memory{Bad: []string{"d3"}, Incidents: []string{"inc1"}, Last: last, Guard: []time.Time{at},
		Timeline: []rollback.Sighting{{Deployment: "d2", Since: at.Add(-time.Hour), How: rollback.HowObserved}, {Deployment: "d3", Since: at.Add(-time.Minute), How: rollback.HowDeploy}},
		Planned:  "rollback:d3>d2:timeline", SeenAt: at.Add(-30 * time.Second), BlindUntil: at.Add(-2 * time.Hour),
		Recoveries: []rollback.Recovery{{Alarm: "luna-api-p99", At: at.Add(-time.Hour), Reported: true}}}
	next := mem
	next.Bad = append([]string{}, "d3", "d4")
	return rollback.Record{Memory: mem, Switched: at.Add(-time.Second), Claim: &rollback.Claim{ID: "0123456789abcdef", By: rollback.ByManual, Alarm: "", At: at, Expires: at.Add(32 * time.Second),
		Plan: rollback.Plan{Kind: rollback.KindDeploy, From: "d3", To: "d1", Rule: rollback.RuleNamed, RemoveCanary: true, Memory: next}}}
}

func TestStoreAgainstThreeDynamoDBs(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Run("compare and set", func(t *testing.T) { compareAndSet(t, b) })
			t.Run("round trip", func(t *testing.T) { roundTrip(t, b) })
			t.Run("audit log", func(t *testing.T) { auditLog(t, b) })
			t.Run("unreadable", func(t *testing.T) { unreadable(t, b) })
			t.Run("faults", func(t *testing.T) { faults(t, b) })
		})
	}
}

func compareAndSet(t *testing.T, b backend) {
	ctx := context.Background()
	tg := target.Target{Kind: target.KindLambdaAlias, Resource: "cas-" + b.name, Slot: "live"}
	zero, err := b.store.Load(ctx, tg)
	if err != nil || zero.Version != 0 || zero.Claim != nil {
		t.Fatalf("a target never written: %+v, %v", zero, err)
	}
	one, err := b.store.Save(ctx, tg, zero, rollback.Record{Memory: rollback.Memory{Bad: []string{"7"}}})
	if err != nil || one.Version != 1 {
		t.Fatalf("first save: %+v, %v", one, err)
	}
	// A second writer that read before the first one wrote loses, whether it creates or replaces.
	if _, err := b.store.Save(ctx, tg, zero, rollback.Record{}); !errors.Is(err, rollback.ErrConflict) {
		t.Errorf("a create over an existing memory: %v, want ErrConflict", err)
	}
	two, err := b.store.Save(ctx, tg, one, rollback.Record{Memory: rollback.Memory{Bad: []string{"7", "8"}}})
	if err != nil || two.Version != 2 {
		t.Fatalf("second save: %+v, %v", two, err)
	}
	if _, err := b.store.Save(ctx, tg, one, rollback.Record{}); !errors.Is(err, rollback.ErrConflict) {
		t.Errorf("a save over version 1 once 2 is stored: %v, want ErrConflict", err)
	}
	if got, _ := b.store.Load(ctx, tg); got.Version != 2 || strings.Join(got.Memory.Bad, ",") != "7,8" {
		t.Errorf("stored: %+v", got)
	}
}

func roundTrip(t *testing.T, b backend) {
	ctx := context.Background()
	want := full()
	saved, err := b.store.Save(ctx, rest, rollback.Record{}, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.store.Load(ctx, rest)
	if err != nil {
		t.Fatal(err)
	}
	want.Version = saved.Version
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// One memory per target: the API's other stage has its own.
	if o, err := b.store.Load(ctx, other); err != nil || o.Version != 0 {
		t.Errorf("another stage of the same API: %+v, %v", o, err)
	}
}

func auditLog(t *testing.T, b backend) {
	ctx := context.Background()
	tg := target.Target{Kind: target.KindCloudFront, Resource: "E2QWRUHAPOMQZL", Slot: "/api/" + b.name + "/*"}
	for i := range 25 {
		e := rollback.Entry{At: at.Add(time.Duration(i) * time.Second), Action: rollback.ActionRollback, Outcome: rollback.OutcomeRolledBack,
			Code: rollback.CodeRolledBack, From: "new", To: "legacy", Rule: rollback.RuleFallback, By: rollback.ByAlarm, Alarm: "cf-5xx",
			Incident: fmt.Sprintf("inc%d", i), Reason: "roll back"}
		if err := b.store.Audit(ctx, tg, e); err != nil {
			t.Fatal(err)
		}
	}
	// Two entries in the same nanosecond do not overwrite each other.
	same := rollback.Entry{At: at.Add(time.Hour), Action: rollback.ActionObserve, Outcome: rollback.OutcomeOK, Code: rollback.CodeRecorded, Reason: "x"}
	for range 2 {
		if err := b.store.Audit(ctx, tg, same); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.store.Recent(ctx, tg, rollback.AuditShown)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != rollback.AuditShown || got[0].Code != rollback.CodeRecorded || got[1].Code != rollback.CodeRecorded || got[2].Incident != "inc24" || got[19].Incident != "inc7" {
		t.Fatalf("newest %d first: %d entries, %+v ... %+v", rollback.AuditShown, len(got), got[0], got[len(got)-1])
	}
	if got[2].Alarm != "cf-5xx" || got[2].Rule != rollback.RuleFallback || !got[2].At.Equal(at.Add(24*time.Second)) {
		t.Errorf("entry lost fields: %+v", got[2])
	}
	if rec, _ := b.store.Load(ctx, tg); rec.Version != 0 {
		t.Errorf("audit entries are not the memory item: %+v", rec)
	}
	out, err := b.client.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "target#" + tg.String()}}, Limit: aws.Int32(1)})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("raw query: %v", err)
	}
	exp, ok := out.Items[0]["expiresAt"].(*types.AttributeValueMemberN)
	if !ok || exp.Value != fmt.Sprint(at.Add(30*24*time.Hour).Unix()) {
		t.Errorf("expiresAt %#v: want the entry's time plus the retention, in epoch seconds (DynamoDB's TTL)", out.Items[0]["expiresAt"])
	}
}

func unreadable(t *testing.T, b backend) {
	ctx := context.Background()
	for name, item := range map[string]map[string]types.AttributeValue{
		"bad is a string":  {"bad": &types.AttributeValueMemberS{Value: "d3"}},
		"unknown how":      {"timeline": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"deployment": s("d1"), "since": s("2026-11-25T03:00:00Z"), "how": s("teleported")}}}}},
		"newer schema":     {"schema": &types.AttributeValueMemberN{Value: "2"}},
		"version missing":  {"version": nil},
		"time not RFC3339": {"guard": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("yesterday")}}},
	} {
		tg := target.Target{Kind: target.KindHTTPStage, Resource: "h1b2c3d4e5", Slot: strings.ReplaceAll(name, " ", "-")}
		base := map[string]types.AttributeValue{"pk": s("target#" + tg.String()), "sk": s("memory"), "version": &types.AttributeValueMemberN{Value: "1"},
			"schema": &types.AttributeValueMemberN{Value: "1"}, "bad": &types.AttributeValueMemberL{}, "incidents": &types.AttributeValueMemberL{},
			"timeline": &types.AttributeValueMemberL{}, "guard": &types.AttributeValueMemberL{}}
		for k, v := range item {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		if _, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: base}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Load(ctx, tg); err == nil || !strings.Contains(err.Error(), "cannot be read") {
			t.Errorf("%s: Load = %v, want an error saying the memory cannot be read", name, err)
		}
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// faults: throttling, 5xx and resets are retried by the production policy; a storm of lost races is
// a conflict, never retried into a blind write.
func faults(t *testing.T, b backend) {
	ctx := context.Background()
	tg := target.Target{Kind: target.KindRESTStage, Resource: "f1b2c3d4e5", Slot: b.name}
	for _, f := range []awslocal.Fault{{Status: 429, Times: 3}, {Status: 500, Times: 2}, {Status: 503, Times: 2}, {Reset: true, Times: 2}} {
		b.faults.InjectFault("GetItem", f)
		if _, err := b.store.Load(ctx, tg); err != nil {
			t.Errorf("Load under %+v: %v", f, err)
		}
	}
	b.faults.InjectFault("PutItem", awslocal.Fault{Status: 409, Times: 5})
	for i := range 5 {
		if _, err := b.store.Save(ctx, tg, rollback.Record{}, rollback.Record{}); !errors.Is(err, rollback.ErrConflict) {
			t.Errorf("a ConditionalCheckFailed storm, save %d: %v, want ErrConflict (and not retried)", i+1, err)
		}
	}
	b.faults.InjectFault("PutItem", awslocal.Fault{Status: 500, Times: 100})
	if _, err := b.store.Save(ctx, tg, rollback.Record{}, rollback.Record{}); err == nil || errors.Is(err, rollback.ErrConflict) {
		t.Errorf("a table that keeps failing: %v, want an error that is not a conflict", err)
	}
	b.faults.ClearFaults()
	one, err := b.store.Save(ctx, tg, rollback.Record{}, rollback.Record{})
	if err != nil || one.Version != 1 {
		t.Errorf("after the faults: %+v, %v (nothing of the failed saves may have landed)", one, err)
	}
	// A write that lands and loses its answer: the SDK sends it again, its condition now fails, and
	// the store recognises its own write rather than report a conflict.
	b.faults.InjectFault("PutItem", awslocal.Fault{Status: 500, AfterApply: true})
	two, err := b.store.Save(ctx, tg, one, rollback.Record{Memory: rollback.Memory{Bad: []string{"d9"}}})
	if err != nil || two.Version != 2 {
		t.Errorf("a landed write whose answer was lost: %+v, %v", two, err)
	}
	if got, _ := b.store.Load(ctx, tg); got.Version != 2 || !got.Memory.IsBad("d9") {
		t.Errorf("stored after the lost answer: %+v", got)
	}
}
