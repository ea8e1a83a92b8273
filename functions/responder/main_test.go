package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/support/awslocal/apigwv2"
	cflocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudfront"
	cwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudwatch"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
	lambdalocal "github.com/rewind-sre/rewind/pkg/support/awslocal/lambda"
)

const account = "123456789012"

var t0 = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

// world is one local AWS behind one endpoint, as AWS_ENDPOINT_URL would give every client: the REST
// and HTTP API Gateways, Lambda and CloudFront, each holding one thing the seed's team might protect.
type world struct {
	ddb     *ddblocal.Server // Rewind's memory table, e2eTable
	cw      *cwlocal.Server  // the account's alarms, for check
	rest    *apigwlocal.Server
	v2      *apigwv2.Server
	lam     *lambdalocal.Server
	cf      *cflocal.Server
	url     string
	restAPI string
	httpAPI string
	targets string
	region  string // the clients' region; "" is us-east-1
}

func newWorld(t *testing.T) *world {
	t.Helper()
	clock := func() time.Time { return t0.Add(12 * time.Minute) }
	w := &world{rest: apigwlocal.New(apigwlocal.Options{Now: clock}), v2: apigwv2.New(clock), lam: lambdalocal.New(clock), cf: cflocal.New(clock, 0)}
	mux := http.NewServeMux()
	mux.Handle("/restapis", w.rest)
	mux.Handle("/restapis/", w.rest)
	mux.Handle("/v2/", w.v2)
	mux.Handle("/2015-03-31/", w.lam)
	mux.Handle("/2017-10-31/", w.lam) // function concurrency
	mux.Handle("/2019-09-30/", w.lam)
	mux.Handle("/2020-05-31/", w.cf)
	w.ddb = ddblocal.New(ddblocal.Options{Now: clock})
	w.ddb.CreateTable(e2eTable)
	w.cw = cwlocal.New(cwlocal.Options{Now: clock, Account: account})
	srv := httptest.NewServer(w.cw.Front(w.ddb.Front(mux)))
	t.Cleanup(srv.Close)
	w.url = srv.URL

	api := w.rest.CreateRestAPI("luna-api")
	d1, _ := w.rest.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{CreatedDate: t0})
	d2, _ := w.rest.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{CreatedDate: t0.Add(10 * time.Minute)})
	_ = d1
	must(t, w.rest.CreateStage(api.ID, apigwlocal.StageSpec{Name: "service", DeploymentID: d2.ID}))
	w.restAPI = api.ID

	w.httpAPI = w.v2.CreateAPI()
	for i := range 2 {
		_, err := w.v2.CreateDeployment(w.httpAPI, apigwv2.Deployment{ID: fmt.Sprintf("hd%d", i+1), CreatedDate: t0.Add(time.Duration(i*10) * time.Minute)})
		must(t, err)
	}
	must(t, w.v2.CreateStage(w.httpAPI, apigwv2.Stage{Name: "live", DeploymentID: "hd2"}))

	w.lam.CreateFunction("api-user-id", lambdalocal.Version{Version: "1", LastModified: t0}, lambdalocal.Version{Version: "2", LastModified: t0.Add(10 * time.Minute)})
	must(t, w.lam.CreateAlias("api-user-id", lambdalocal.Alias{Name: "live", FunctionVersion: "2"}))

	_, err := w.cf.CreateDistribution(cflocal.Spec{ID: "E2QWRUHAPOMQZL", Comment: "Luna",
		Origins:       []cflocal.Origin{{ID: "legacy-ec2", DomainName: "api-origin.luna.com"}, {ID: "lambda-url", DomainName: "x.lambda-url.us-east-1.on.aws"}},
		DefaultOrigin: "legacy-ec2", Behaviors: []cflocal.Behavior{{PathPattern: "/api/users/*", OriginID: "lambda-url"}}})
	must(t, err)
	w.targets = strings.Join([]string{api.ID + "/service", "http:" + w.httpAPI + "/live", "lambda:api-user-id:live",
		"cloudfront:E2QWRUHAPOMQZL:/api/users/*@legacy-ec2"}, ",")
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// handler wires Rewind exactly as main does, over real SDK clients pointed at the world.
func (w *world) handler(t *testing.T, targets string) *responder.Handler {
	t.Helper()
	return w.handlerWith(t, map[string]string{config.EnvTargets: targets})
}

// alarmTopic is the world's alarm topic, as the template passes it in ALARM_TOPIC_ARN.
const alarmTopic = "arn:aws:sns:us-east-1:" + account + ":rewind-AlarmTopic"

// handlerWith is handler with more of the environment (TARGETS included); the function is named
// "rewind", as invokeCtx's ARN says.
func (w *world) handlerWith(t *testing.T, env map[string]string) *responder.Handler {
	t.Helper()
	env[config.EnvMemoryTable] = e2eTable
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	must(t, err)
	region := "us-east-1"
	if w.region != "" {
		region = w.region
	}
	awsCfg := aws.Config{Region: region, BaseEndpoint: aws.String(w.url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return awsretry.Policy{MaxAttempts: 6, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}.Retryer()
		}}
	h, err := responder.Build(cfg, awsCfg, responder.Options{Log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)),
		FunctionName: "rewind", Now: func() time.Time { return t0.Add(20*time.Minute + 10*time.Second) }})
	must(t, err)
	return h
}

func invokeCtx() context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		AwsRequestID: "req-1", InvokedFunctionArn: "arn:aws:lambda:us-east-1:" + account + ":function:rewind"})
}

// alarm is an SNS delivery of a CloudWatch alarm on one metric with the given dimensions.
func alarm(name, namespace string, dims ...string) json.RawMessage {
	var ds []map[string]string
	for i := 0; i+1 < len(dims); i += 2 {
		ds = append(ds, map[string]string{"name": dims[i], "value": dims[i+1]})
	}
	msg, _ := json.Marshal(map[string]any{
		"AlarmName": name, "AWSAccountId": account, "NewStateValue": "ALARM", "OldStateValue": "OK",
		"NewStateReason": "Threshold Crossed", "StateChangeTime": t0.Add(20 * time.Minute).Format("2006-01-02T15:04:05.000-0700"),
		"Region": "US East (N. Virginia)", "AlarmArn": "arn:aws:cloudwatch:us-east-1:" + account + ":alarm:" + name,
		"Trigger": map[string]any{"MetricName": "Errors", "Namespace": namespace, "StatisticType": "Statistic", "Statistic": "SUM",
			"Dimensions": ds, "Period": 60, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 5.0},
	})
	ev := events.SNSEvent{Records: []events.SNSEventRecord{{EventSource: "aws:sns", EventVersion: "1.0",
		SNS: events.SNSEntity{Type: "Notification", MessageID: "m-" + name, TopicArn: "arn:aws:sns:us-east-1:" + account + ":rewind-alarms",
			Message: string(msg), Timestamp: t0.Add(20 * time.Minute)}}}}
	b, _ := json.Marshal(ev)
	return b
}

// one reads the single result of an invocation: one(t)(h.Handle(ctx, payload)).
func one(t *testing.T) func(any, error) rollback.Result {
	return func(out any, err error) rollback.Result {
		t.Helper()
		return only(t, out, err)
	}
}

func only(t *testing.T, out any, err error) rollback.Result {
	t.Helper()
	if err != nil {
		t.Fatalf("invocation failed: %v", err)
	}
	switch a := out.(type) {
	case responder.Answer:
		if len(a.Results) != 1 {
			t.Fatalf("%d results", len(a.Results))
		}
		return a.Results[0]
	case rollback.Result:
		return a
	}
	t.Fatalf("answer is %T", out)
	return rollback.Result{}
}

func TestEachAlarmReachesTheTargetItsDimensionsName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		event func(w *world) json.RawMessage
		want  func(w *world) string // the target that must have moved
		moved func(t *testing.T, w *world) bool
	}{
		{"lambda alias by FunctionName+Resource",
			func(*world) json.RawMessage {
				return alarm("users-errors", "AWS/Lambda", "FunctionName", "api-user-id", "Resource", "api-user-id:live")
			},
			func(*world) string { return "lambda:api-user-id:live" },
			func(t *testing.T, w *world) bool {
				a, _ := w.lam.Alias("api-user-id", "live")
				return a.FunctionVersion == "1"
			}},
		{"cloudfront behaviour by DistributionId",
			func(*world) json.RawMessage {
				return alarm("cf-5xx", "AWS/CloudFront", "DistributionId", "E2QWRUHAPOMQZL", "Region", "Global")
			},
			func(*world) string { return "cloudfront:E2QWRUHAPOMQZL:/api/users/*" },
			func(t *testing.T, w *world) bool {
				v, _ := w.cf.Distribution("E2QWRUHAPOMQZL")
				return v.Behaviors["/api/users/*"] == "legacy-ec2"
			}},
		{"http stage by ApiId+Stage",
			func(w *world) json.RawMessage {
				return alarm("http-5xx", "AWS/ApiGateway", "ApiId", w.httpAPI, "Stage", "live")
			},
			func(w *world) string { return "http:" + w.httpAPI + "/live" },
			func(t *testing.T, w *world) bool {
				st, _ := w.v2.Stage(w.httpAPI, "live")
				return st.DeploymentID == "hd1"
			}},
		{"rest stage by ApiName+Stage",
			func(*world) json.RawMessage {
				return alarm("rest-5xx", "AWS/ApiGateway", "ApiName", "luna-api", "Stage", "service")
			},
			func(w *world) string { return w.restAPI + "/service" },
			func(t *testing.T, w *world) bool { return w.rest.Writes() == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			res := one(t)(w.handler(t, w.targets).Handle(invokeCtx(), tc.event(w)))
			if res.Outcome != rollback.OutcomeRolledBack || res.Target != tc.want(w) {
				t.Fatalf("%+v, want %s rolled back", res, tc.want(w))
			}
			if !tc.moved(t, w) {
				t.Error("the target did not move")
			}
			// Nothing else was written.
			writes := w.rest.Writes() + w.v2.Writes() + w.lam.Writes() + w.cf.Writes()
			if writes != 1 {
				t.Errorf("%d writes across the world, want 1", writes)
			}
		})
	}
}

func TestAlarmOnAFunctionNobodyListedMovesNothing(t *testing.T) {
	w := newWorld(t)
	res := one(t)(w.handler(t, w.targets).Handle(invokeCtx(), alarm("other-errors", "AWS/Lambda", "FunctionName", "other", "Resource", "other:live")))
	if res.Outcome != rollback.OutcomeIgnored || !strings.Contains(res.Reason, `FunctionName="other"`) {
		t.Errorf("%+v", res)
	}
	if w.rest.Writes()+w.v2.Writes()+w.lam.Writes()+w.cf.Writes() != 0 {
		t.Error("something was written")
	}
}

func TestStatusAndDryRunByCommandForEachKind(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, w.targets)
	for _, name := range []string{"lambda:api-user-id:live", "cloudfront:E2QWRUHAPOMQZL:/api/users/*", "http:" + w.httpAPI + "/live"} {
		res := one(t)(h.Handle(invokeCtx(), json.RawMessage(`{"action":"status","target":"`+name+`"}`)))
		if res.Outcome != rollback.OutcomeOK || res.Target != name || res.Status == nil {
			t.Errorf("status %s: %+v", name, res)
		}
		plan := one(t)(h.Handle(invokeCtx(), json.RawMessage(`{"action":"rollback","dryRun":true,"target":"`+name+`"}`)))
		if plan.Outcome != rollback.OutcomePlanned {
			t.Errorf("dry run %s: %+v", name, plan)
		}
	}
	cf := one(t)(h.Handle(invokeCtx(), json.RawMessage(`{"action":"status","target":"cloudfront:E2QWRUHAPOMQZL:/api/users/*"}`)))
	if cf.Status.Current != "lambda-url" || cf.Status.Progress != "Deployed" {
		t.Errorf("cloudfront status: %+v", cf.Status)
	}
	if w.rest.Writes()+w.v2.Writes()+w.lam.Writes()+w.cf.Writes() != 0 {
		t.Error("status or dry run wrote")
	}
}

// Rewind in Seoul: CloudFront's metrics, and so its alarms, live in us-east-1, and must still reach
// the distribution; a regional resource's alarm from us-east-1 names something in another region
// (a function of the same name there) and must not move the one here. The region is the clients'
// (AWS_REGION), not the invoked ARN's: the Lambda emulator's ARN always says us-east-1.
func TestOnlyCloudFrontAlarmsCrossRegions(t *testing.T) {
	seoul := invokeCtx() // arn:aws:lambda:us-east-1:…, as under the emulator
	w := newWorld(t)
	w.region = "ap-northeast-2"
	h := w.handler(t, w.targets)
	res := one(t)(h.Handle(seoul, alarm("cf-5xx", "AWS/CloudFront", "DistributionId", "E2QWRUHAPOMQZL", "Region", "Global")))
	if res.Outcome != rollback.OutcomeRolledBack {
		t.Fatalf("CloudFront alarm from us-east-1: %+v", res)
	}
	writes := w.rest.Writes() + w.v2.Writes() + w.lam.Writes() + w.cf.Writes()
	res = one(t)(h.Handle(seoul, alarm("users-errors", "AWS/Lambda", "FunctionName", "api-user-id", "Resource", "api-user-id:live")))
	if res.Outcome != rollback.OutcomeIgnored || !strings.Contains(res.Reason, "region us-east-1") || !strings.Contains(res.Reason, "ap-northeast-2") {
		t.Errorf("Lambda alarm from us-east-1: %+v", res)
	}
	if now := w.rest.Writes() + w.v2.Writes() + w.lam.Writes() + w.cf.Writes(); now != writes {
		t.Errorf("the other region's alarm wrote %d times", now-writes)
	}
}
