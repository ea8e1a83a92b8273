package reststage_test

// The responder and the REST stage strategy against moto_server's API Gateway and DynamoDB: a second
// implementation of the services that nobody here wrote, reached through the same SDK clients.
//
// What this can show: Rewind's calls (GetRestApis to resolve ApiName, GetStage, GetDeployments,
// one UpdateStage with a replace of /deploymentId and nothing else; GetItem, conditional PutItem and
// Query on its memory table) are ones another implementation of AWS's model accepts and answers in a
// shape the SDK reads; the rollback lands there, the stage's own variables are left as they were, the
// memory Rewind keeps in its DynamoDB table survives the round trip (a repeated delivery is
// recognised), and the staleness rule works from deployment creation dates alone.
//
// What it cannot show, because moto 5.2.1 does not implement it: pagination (moto ignores limit and
// position and returns every deployment in one page, so only apigwlocal tests the multi-page path),
// the stage's lastUpdatedDate (absent, so a human's "Change Deployment" to an old deployment cannot
// be seen here), canary settings, AWS's id validation and error messages. Dates are whole seconds,
// so deployments are created in different seconds to have an order.

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/memory"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/demo/cloudwatch"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
	"github.com/rewind-sre/rewind/pkg/target"
)

const (
	motoAccount = "123456789012" // moto's default account
	motoTable   = "rewind-memory"
)

// motoAPI is the seed's API on moto: deployment legacy, then lambda live on stage service; and
// Rewind's memory table, as template.yaml creates it.
type motoAPI struct {
	awsCfg         aws.Config
	client         *apigateway.Client
	ddb            *dynamodb.Client
	id             string
	legacy, lambda string
	lambdaCreated  time.Time
}

func newMotoAPI(t *testing.T) *motoAPI {
	t.Helper()
	url := testenv.Moto(t)
	ctx := context.Background()
	awsCfg := aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		Retryer: func() aws.Retryer {
			return awsretry.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}.Retryer()
		},
	}
	client := apigateway.NewFromConfig(awsCfg)

	api, err := client.CreateRestApi(ctx, &apigateway.CreateRestApiInput{Name: aws.String("luna-api")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: api.Id})
	if err != nil || len(res.Items) == 0 {
		t.Fatalf("root resource: %v", err)
	}
	// moto, like AWS, refuses to deploy an API without methods.
	root := res.Items[0].Id
	if _, err := client.PutMethod(ctx, &apigateway.PutMethodInput{RestApiId: api.Id, ResourceId: root, HttpMethod: aws.String("GET"), AuthorizationType: aws.String("NONE")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutIntegration(ctx, &apigateway.PutIntegrationInput{RestApiId: api.Id, ResourceId: root, HttpMethod: aws.String("GET"), Type: types.IntegrationTypeMock}); err != nil {
		t.Fatal(err)
	}
	deploy := func(desc string) *apigateway.CreateDeploymentOutput {
		d, err := client.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: api.Id, StageName: aws.String("service"), Description: aws.String(desc)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	legacy := deploy("HTTP proxy to api-origin.luna.com")
	time.Sleep(time.Until(aws.ToTime(legacy.CreatedDate).Add(time.Second))) // the next whole second
	lambda := deploy("Lambda api-user-id")
	if !aws.ToTime(lambda.CreatedDate).After(aws.ToTime(legacy.CreatedDate)) {
		t.Fatalf("deployments created at %s and %s: no order", legacy.CreatedDate, lambda.CreatedDate)
	}
	ddb := dynamodb.NewFromConfig(awsCfg)
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(motoTable), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange}}}); err != nil {
		t.Fatal(err)
	}
	return &motoAPI{awsCfg: awsCfg, client: client, ddb: ddb, id: aws.ToString(api.Id), legacy: aws.ToString(legacy.Id), lambda: aws.ToString(lambda.Id),
		lambdaCreated: aws.ToTime(lambda.CreatedDate)}
}

func (m *motoAPI) target() target.Target {
	return target.Target{Kind: target.KindRESTStage, Resource: m.id, Slot: "service"}
}

// memory is Rewind's record of the stage as moto's DynamoDB holds it.
func (m *motoAPI) memory(t *testing.T) rollback.Record {
	t.Helper()
	rec, err := memory.New(m.ddb, motoTable, 0).Load(context.Background(), m.target())
	if err != nil {
		t.Fatalf("Rewind's memory as moto stored it: %v", err)
	}
	return rec
}

func (m *motoAPI) stage(t *testing.T) *apigateway.GetStageOutput {
	t.Helper()
	st, err := m.client.GetStage(context.Background(), &apigateway.GetStageInput{RestApiId: aws.String(m.id), StageName: aws.String("service")})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// handler is the responder as main builds it, over the SDK client pointed at moto.
func (m *motoAPI) handler(t *testing.T) *responder.Handler {
	t.Helper()
	env := map[string]string{config.EnvTargets: m.id + "/service", config.EnvMemoryTable: motoTable}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	h, err := responder.Build(cfg, m.awsCfg, responder.Options{NameTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// snsAlarm is the SNS event for luna-api-5xx going to ALARM at at, as SNS delivers it to Lambda.
func snsAlarm(t *testing.T, at time.Time) json.RawMessage {
	t.Helper()
	c := cloudwatch.StateChange{Old: "OK", New: "ALARM", At: at,
		Reason: "Threshold Crossed: 1 datapoint [12.0] was greater than or equal to the threshold (5.0).",
		Alarm: cloudwatch.Alarm{Name: "luna-api-5xx", AccountID: motoAccount, Region: "us-east-1", Namespace: "AWS/ApiGateway", Metric: "5XXError",
			Dimensions: []cloudwatch.Dimension{{Name: "ApiName", Value: "luna-api"}, {Name: "Stage", Value: "service"}},
			Period:     time.Minute, Threshold: 5, TopicARN: "arn:aws:sns:us-east-1:" + motoAccount + ":rewind-alarms"}}
	b, err := json.Marshal(c.SNSEvent(cloudwatch.Delivery{MessageID: "m-" + at.Format("150405.000"), SubscriptionID: "s-1", At: at}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func invocation() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "moto-1",
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:" + motoAccount + ":function:rewind"}), cancel
}

// onlyResult reads an invocation's answer that must hold exactly one result.
func onlyResult(t *testing.T) func(out any, err error) rollback.Result {
	return func(out any, err error) rollback.Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		a, ok := out.(responder.Answer)
		if !ok || len(a.Results) != 1 {
			t.Fatalf("answer %#v", out)
		}
		return a.Results[0]
	}
}

// TestAlarmRollsBackOnMoto: a stale alarm changes nothing; a fresh one moves moto's stage back to the
// EC2 deployment, its variables untouched, with Rewind's memory in moto's DynamoDB; its repeated
// delivery changes nothing more; status reads it all back.
func TestAlarmRollsBackOnMoto(t *testing.T) {
	m := newMotoAPI(t)
	h := m.handler(t)
	ctx, cancel := invocation()
	defer cancel()

	// Older than the live deployment: judged the previous release. moto has no lastUpdatedDate, so
	// this rests on the deployment's createdDate alone.
	r := onlyResult(t)(h.Handle(ctx, snsAlarm(t, m.lambdaCreated.Add(-30*time.Second))))
	if r.Outcome != rollback.OutcomeSkipped || r.Code != rollback.CodeStale {
		t.Fatalf("stale alarm: %+v", r)
	}
	if got := aws.ToString(m.stage(t).DeploymentId); got != m.lambda {
		t.Fatalf("a stale alarm moved the stage to %s", got)
	}

	fresh := snsAlarm(t, time.Now())
	r = onlyResult(t)(h.Handle(ctx, fresh))
	if r.Outcome != rollback.OutcomeRolledBack || r.From != m.lambda || r.To != m.legacy || r.Rule != rollback.RulePrevious ||
		r.Target != m.id+"/service" {
		t.Fatalf("fresh alarm: %+v", r)
	}
	st := m.stage(t)
	if got := aws.ToString(st.DeploymentId); got != m.legacy {
		t.Fatalf("moto's stage serves %s, want %s", got, m.legacy)
	}
	if len(st.Variables) != 0 {
		t.Errorf("Rewind wrote stage variables on moto: %v", st.Variables)
	}
	rec := m.memory(t)
	if mem := rec.Memory; !mem.IsBad(m.lambda) || mem.Last == nil || mem.Last.To != m.legacy || mem.Last.By != rollback.ByAlarm || rec.Claim != nil {
		t.Errorf("memory %+v (claim %+v)", mem, rec.Claim)
	}

	r = onlyResult(t)(h.Handle(ctx, fresh))
	if r.Outcome != rollback.OutcomeSkipped || r.Code != rollback.CodeRepeat {
		t.Errorf("repeated delivery: %+v", r)
	}
	if again := m.memory(t); again.Version != rec.Version {
		t.Errorf("a repeated delivery wrote the memory: version %d, was %d", again.Version, rec.Version)
	}

	out, err := h.Handle(ctx, json.RawMessage(`{"action":"status"}`))
	if err != nil {
		t.Fatal(err)
	}
	status, ok := out.(rollback.Result)
	if !ok || status.Status == nil || status.Status.Current != m.legacy || len(status.Status.Deployments) != 2 ||
		len(status.Status.KnownBad) != 1 || status.Status.KnownBad[0] != m.lambda {
		t.Fatalf("status %#v", out)
	}
	if a := status.Status.Audit; len(a) == 0 || a[0].Code != rollback.CodeRolledBack {
		t.Errorf("audit log from moto's DynamoDB, newest first: %+v", a)
	}
}
