package responder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
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
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
)

const account = "123456789012"

var (
	t0        = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	handledAt = t0.Add(20*time.Minute + 10*time.Second)
)

// world is one local API Gateway holding the seed's API: deployment 1 proxies to the old EC2,
// deployment 2 is the new Lambda, live on prod.
type world struct {
	gw     *apigwlocal.Server
	ddb    *ddblocal.Server // Rewind's memory table, behind the same endpoint
	url    string
	apiID  string
	legacy string
	lambda string
	logs   *syncWriter // shared by every handler of the world, like one log group
	other  string      // the API named other-api, not in TARGETS unless a test puts it there
	// namesNow is the name cache's clock (nil: the wall clock).
	namesNow func() time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	// The control plane's clock: the stage goes live at t0+12m; alarms in the tests come after.
	gw := apigwlocal.New(apigwlocal.Options{Region: "us-east-1", AccountID: account, Now: func() time.Time { return t0.Add(12 * time.Minute) }})
	ddb := ddblocal.New(ddblocal.Options{})
	ddb.CreateTable(memoryTable)
	srv := httptest.NewServer(ddb.Front(gw))
	t.Cleanup(srv.Close)
	api := gw.CreateRestAPI("luna-api")
	legacy, _ := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Description: "HTTP proxy to api-origin.luna.com", CreatedDate: t0})
	lambda, _ := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Description: "Lambda api-user-id", CreatedDate: t0.Add(10 * time.Minute)})
	if err := gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "service", DeploymentID: lambda.ID}); err != nil {
		t.Fatal(err)
	}
	// A second API with the same shape, not in TARGETS: it must never be touched.
	other := gw.CreateRestAPI("other-api")
	od, _ := gw.CreateDeployment(other.ID, apigwlocal.DeploymentSpec{CreatedDate: t0})
	od2, _ := gw.CreateDeployment(other.ID, apigwlocal.DeploymentSpec{CreatedDate: t0.Add(time.Minute)})
	_ = od
	if err := gw.CreateStage(other.ID, apigwlocal.StageSpec{Name: "service", DeploymentID: od2.ID}); err != nil {
		t.Fatal(err)
	}
	return &world{gw: gw, ddb: ddb, url: srv.URL, apiID: api.ID, legacy: legacy.ID, lambda: lambda.ID, other: other.ID, logs: &syncWriter{w: &bytes.Buffer{}}}
}

// handler builds a responder the way main does, over the real SDK client.
func (w *world) handler(t *testing.T, env map[string]string) *responder.Handler {
	t.Helper()
	if _, ok := env[config.EnvTargets]; !ok {
		env[config.EnvTargets] = w.apiID + "/service"
	}
	cfg, err := config.FromEnv(withTable(env))
	if err != nil {
		t.Fatal(err)
	}
	awsCfg := aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(w.url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return awsretry.Policy{MaxAttempts: 8, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}.Retryer()
		},
	}
	// Rewind's clock: it handles alarms at t0+20m10s, just after the 5XX alarm fired at t0+20m.
	h, err := responder.Build(cfg, awsCfg, responder.Options{Log: slog.New(slog.NewJSONHandler(w.logs, nil)),
		Now: func() time.Time { return handledAt }, NamesNow: w.namesNow, NameTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func (w *world) live(t *testing.T) apigwlocal.Stage {
	t.Helper()
	st, ok := w.gw.Stage(w.apiID, "service")
	if !ok {
		t.Fatal("stage gone")
	}
	return st
}

// invokeCtx is what Lambda passes: the invoked function's ARN names the account.
func invokeCtx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	_ = cancel
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       "req-1",
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:" + account + ":function:rewind",
	})
}

type alarmSpec struct {
	name, state, account string
	at                   time.Time
	apiName, stage       string
}

// alarmMessage is the JSON CloudWatch publishes to SNS for a single-metric alarm.
func alarmMessage(a alarmSpec) string {
	if a.account == "" {
		a.account = account
	}
	if a.state == "" {
		a.state = "ALARM"
	}
	dims := []map[string]string{}
	if a.apiName != "" {
		dims = append(dims, map[string]string{"value": a.apiName, "name": "ApiName"})
	}
	if a.stage != "" {
		dims = append(dims, map[string]string{"value": a.stage, "name": "Stage"})
	}
	m := map[string]any{
		"AlarmName": a.name, "AlarmDescription": "Rewind rolls back", "AWSAccountId": a.account,
		"AlarmConfigurationUpdatedTimestamp": "2026-11-25T02:00:00.000+0000",
		"NewStateValue":                      a.state,
		// The datapoint that breached: the minute before the state change (what the alarm measured).
		"NewStateReason":  fmt.Sprintf("Threshold Crossed: 1 datapoint [12.0 (%s)] was greater than or equal to the threshold (5.0).", a.at.Add(-time.Minute).UTC().Format("02/01/06 15:04:05")),
		"StateChangeTime": a.at.UTC().Format("2006-01-02T15:04:05.000-0700"), "Region": "US East (N. Virginia)",
		"AlarmArn": "arn:aws:cloudwatch:us-east-1:" + a.account + ":alarm:" + a.name, "OldStateValue": "OK",
		"Trigger": map[string]any{"MetricName": "5XXError", "Namespace": "AWS/ApiGateway", "StatisticType": "Statistic", "Statistic": "SUM",
			"Unit": nil, "Dimensions": dims, "Period": 60, "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 5.0, "TreatMissingData": "notBreaching", "EvaluateLowSampleCountPercentile": ""},
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// snsEvent wraps messages exactly as SNS delivers them to Lambda.
func snsEvent(messages ...string) json.RawMessage {
	ev := events.SNSEvent{}
	for i, msg := range messages {
		ev.Records = append(ev.Records, events.SNSEventRecord{EventVersion: "1.0", EventSource: "aws:sns",
			EventSubscriptionArn: "arn:aws:sns:us-east-1:" + account + ":rewind-alarms:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
			SNS: events.SNSEntity{Type: "Notification", MessageID: fmt.Sprintf("95df01b4-ee98-5cb9-9903-4c221d41eb5%d", i),
				TopicArn: "arn:aws:sns:us-east-1:" + account + ":rewind-alarms", Subject: "ALARM: \"x\" in US East (N. Virginia)",
				Message: msg, Timestamp: t0.Add(time.Hour), SignatureVersion: "1", Signature: "EXAMPLE", SigningCertURL: "EXAMPLE", UnsubscribeURL: "EXAMPLE"}})
	}
	b, _ := json.Marshal(ev)
	return b
}

func answer(t *testing.T, out any) responder.Answer {
	t.Helper()
	a, ok := out.(responder.Answer)
	if !ok {
		t.Fatalf("answer is %T, want responder.Answer", out)
	}
	return a
}

func fiveXX(w *world, at time.Time) string {
	return alarmMessage(alarmSpec{name: "luna-api-5xx", at: at, apiName: "luna-api", stage: "service"})
}

func TestAlarmRollsBackToThePreviousDeployment(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, map[string]string{})
	out, err := h.Handle(invokeCtx(), snsEvent(fiveXX(w, t0.Add(20*time.Minute))))
	if err != nil {
		t.Fatal(err)
	}
	res := answer(t, out).Results
	if len(res) != 1 || res[0].Outcome != rollback.OutcomeRolledBack || res[0].Code != rollback.CodeRolledBack || res[0].From != w.lambda || res[0].To != w.legacy {
		t.Fatalf("results = %+v", res)
	}
	mem := mustRecord(t, w.ddb, w.apiID+"/service").Memory
	if !mem.IsBad(w.lambda) || mem.Last == nil || mem.Last.From != w.lambda || mem.Last.To != w.legacy || len(mem.Incidents) != 1 {
		t.Errorf("Rewind's memory after the rollback: bad %v, last %+v, incidents %v", mem.Bad, mem.Last, mem.Incidents)
	}
	if st := w.live(t); len(st.Variables) != 0 || len(st.Tags) != 0 {
		t.Errorf("Rewind wrote on the stage: %v %v", st.Variables, st.Tags)
	}
	if res[0].DurationMS <= 0 {
		t.Errorf("durationMs = %v, want the time the rollback took", res[0].DurationMS)
	}
	if w.live(t).DeploymentID != w.legacy {
		t.Errorf("stage serves %s, want the legacy deployment %s", w.live(t).DeploymentID, w.legacy)
	}
	if !strings.Contains(w.logs.String(), `"outcome":"rolled-back"`) {
		t.Errorf("no decision log line: %s", w.logs)
	}
}

func TestOneRollbackPerIncident(t *testing.T) {
	w := newWorld(t)
	// A third deployment so a cascade (lambda -> legacy -> nothing) would be visible as a second step.
	newer, _ := w.gw.CreateDeployment(w.apiID, apigwlocal.DeploymentSpec{Description: "Lambda v2", CreatedDate: t0.Add(15 * time.Minute)})
	if err := w.gw.SetDeploymentID(w.apiID, "service", newer.ID); err != nil {
		t.Fatal(err)
	}
	h := w.handler(t, map[string]string{})
	fired := t0.Add(20 * time.Minute)
	first := fiveXX(w, fired)
	if _, err := h.Handle(invokeCtx(), snsEvent(first)); err != nil {
		t.Fatal(err)
	}
	writes := w.gw.Writes()

	// (a) the same notification again, (b) the latency alarm of the same incident, which fires after
	// the rollback because its three-minute window still holds the bad minutes.
	latency := alarmMessage(alarmSpec{name: "luna-api-p99", at: fired.Add(2 * time.Minute), apiName: "luna-api", stage: "service"})
	for _, ev := range []json.RawMessage{snsEvent(first), snsEvent(latency), snsEvent(first, latency)} {
		out, err := h.Handle(invokeCtx(), ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range answer(t, out).Results {
			if r.Outcome != rollback.OutcomeSkipped {
				t.Errorf("repeat/second alarm: %s (%s), want skipped", r.Outcome, r.Reason)
			}
		}
	}
	if w.gw.Writes() != writes {
		t.Errorf("repeats wrote %d more times", w.gw.Writes()-writes)
	}
	if got := w.live(t).DeploymentID; got != w.lambda {
		t.Errorf("stage serves %s, want %s (one step back, no cascade)", got, w.lambda)
	}

	// A human puts the new build back (the control plane's clock says nothing newer happened), and
	// SNS delivers the first notification once more: only its incident key tells it is old news.
	if err := w.gw.SetDeploymentID(w.apiID, "service", newer.ID); err != nil {
		t.Fatal(err)
	}
	out, err := h.Handle(invokeCtx(), snsEvent(first))
	if err != nil {
		t.Fatal(err)
	}
	if r := answer(t, out).Results[0]; r.Outcome != rollback.OutcomeSkipped || r.Code != rollback.CodeRepeat {
		t.Errorf("redelivery after a human's switch: %+v", r)
	}
	if got := w.live(t).DeploymentID; got != newer.ID {
		t.Errorf("stage serves %s, want the human's choice %s", got, newer.ID)
	}
}

func TestConcurrentInstancesRollBackOnce(t *testing.T) {
	for round := range 20 {
		w := newWorld(t)
		newer, _ := w.gw.CreateDeployment(w.apiID, apigwlocal.DeploymentSpec{CreatedDate: t0.Add(15 * time.Minute)})
		_ = w.gw.SetDeploymentID(w.apiID, "service", newer.ID)
		w.gw.SetLatency(time.Millisecond) // widen the race window
		fired := t0.Add(20 * time.Minute)
		msgs := []string{fiveXX(w, fired), fiveXX(w, fired),
			alarmMessage(alarmSpec{name: "luna-api-p99", at: fired.Add(time.Minute), apiName: "luna-api", stage: "service"}),
			alarmMessage(alarmSpec{name: "luna-api-4xx", at: fired.Add(2 * time.Minute), apiName: "luna-api", stage: "service"})}
		var wg sync.WaitGroup
		for i := range 8 { // eight instances, each with its own handler and client, like separate Lambda sandboxes
			h := w.handler(t, map[string]string{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := h.Handle(invokeCtx(), snsEvent(msgs[i%len(msgs)])); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := w.live(t).DeploymentID; got != w.lambda {
			t.Fatalf("round %d: stage serves %s, want %s: concurrent instances cascaded", round, got, w.lambda)
		}
	}
}

// TestOnlyAlarmActs: OK and INSUFFICIENT_DATA never write to the stage. INSUFFICIENT_DATA is
// ignored; an OK is recorded in Rewind's own table (a late ALARM of the alarm is then old news).
func TestOnlyAlarmActs(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, map[string]string{})
	for state, code := range map[string]rollback.Code{"OK": rollback.CodeOKRecorded, "INSUFFICIENT_DATA": rollback.CodeNotAlarmState} {
		out, err := h.Handle(invokeCtx(), snsEvent(alarmMessage(alarmSpec{name: "luna-api-5xx", state: state, at: t0.Add(time.Hour), apiName: "luna-api", stage: "service"})))
		if err != nil {
			t.Fatal(err)
		}
		if r := answer(t, out).Results[0]; r.Code != code || r.Outcome == rollback.OutcomeRolledBack {
			t.Errorf("%s: %s/%s, want code %s", state, r.Outcome, r.Code, code)
		}
	}
	if w.gw.Writes() != 0 || w.live(t).DeploymentID != w.lambda {
		t.Error("OK/INSUFFICIENT_DATA wrote to the stage")
	}
}

func TestStaleAlarmIsSkipped(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, map[string]string{})
	out, err := h.Handle(invokeCtx(), snsEvent(fiveXX(w, t0.Add(5*time.Minute)))) // before the Lambda deployment existed
	if err != nil {
		t.Fatal(err)
	}
	if r := answer(t, out).Results[0]; r.Outcome != rollback.OutcomeSkipped || r.Code != rollback.CodeStale {
		t.Fatalf("%+v", r)
	}
	if w.gw.Writes() != 0 {
		t.Error("stale alarm wrote")
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, map[string]string{config.EnvDryRun: "true"})
	out, err := h.Handle(invokeCtx(), snsEvent(fiveXX(w, t0.Add(20*time.Minute))))
	if err != nil {
		t.Fatal(err)
	}
	r := answer(t, out).Results[0]
	if r.Outcome != rollback.OutcomePlanned || r.To != w.legacy || !r.DryRun {
		t.Fatalf("%+v", r)
	}
	h2 := w.handler(t, map[string]string{})
	out, err = h2.Handle(invokeCtx(), json.RawMessage(`{"action":"rollback","dryRun":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := out.(rollback.Result); r.Outcome != rollback.OutcomePlanned || r.To != w.legacy {
		t.Fatalf("%+v", r)
	}
	if w.gw.Writes() != 0 || w.gw.CallCount("UpdateStage") != 0 {
		t.Error("dry run wrote")
	}
}

func TestAlarmsThatAreNotOursAreIgnoredWithoutAWriteOrCall(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, map[string]string{})
	foreign := alarmMessage(alarmSpec{name: "luna-api-5xx", account: "999988887777", at: t0.Add(time.Hour), apiName: "luna-api", stage: "service"})
	out, err := h.Handle(invokeCtx(), snsEvent(foreign, "Hello from SNS!", `{"Event Source":"replication-task","Event ID":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range answer(t, out).Results {
		if r.Outcome != rollback.OutcomeIgnored {
			t.Errorf("%+v", r)
		}
	}
	if len(w.gw.Calls()) != 0 {
		t.Errorf("ignored input made AWS calls: %+v", w.gw.Calls())
	}
	// An API that exists but is not in TARGETS: resolved, then refused.
	out, err = h.Handle(invokeCtx(), snsEvent(alarmMessage(alarmSpec{name: "other-5xx", at: t0.Add(time.Hour), apiName: "other-api", stage: "service"})))
	if err != nil {
		t.Fatal(err)
	}
	if r := answer(t, out).Results[0]; r.Outcome != rollback.OutcomeIgnored || r.Code != rollback.CodeNoTarget {
		t.Errorf("%+v", r)
	}
	if w.gw.Writes() != 0 {
		t.Error("wrote for an API outside TARGETS")
	}
}

func TestAllowedAccount(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, map[string]string{config.EnvAllowedAccounts: "999988887777"})
	out, err := h.Handle(invokeCtx(), snsEvent(alarmMessage(alarmSpec{name: "x", account: "999988887777", at: t0.Add(time.Hour), apiName: "luna-api", stage: "service"})))
	if err != nil {
		t.Fatal(err)
	}
	if r := answer(t, out).Results[0]; r.Outcome != rollback.OutcomeRolledBack {
		t.Fatalf("%+v", r)
	}
}

func TestNothingEarlierFailsTheInvocation(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, map[string]string{})
	if _, err := h.Handle(invokeCtx(), snsEvent(fiveXX(w, t0.Add(20*time.Minute)))); err != nil {
		t.Fatal(err)
	}
	// The legacy deployment is now live and the Lambda one known bad: a forced rollback has nowhere to go.
	_, err := h.Handle(invokeCtx(), json.RawMessage(`{"action":"rollback","force":true}`))
	if !errors.Is(err, responder.ErrFailed) || !slices.Equal(failedCodes(err), []rollback.Code{rollback.CodeNothingEarlier}) || !strings.Contains(err.Error(), w.legacy) {
		t.Fatalf("err = %v, want nothing-earlier, naming %s", err, w.legacy)
	}
	if w.gw.Writes() != 1 {
		t.Errorf("writes = %d, want only the first rollback", w.gw.Writes())
	}
}

func TestStageGoneFails(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, map[string]string{config.EnvTargets: w.apiID + "/gone"})
	_, err := h.Handle(invokeCtx(), json.RawMessage(`{"action":"status"}`))
	if !errors.Is(err, responder.ErrFailed) || !slices.Equal(failedCodes(err), []rollback.Code{rollback.CodeReadFailed}) || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("err = %v, want read-failed", err)
	}
}

func TestManualCommands(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, map[string]string{})
	ctx := invokeCtx()

	out, err := h.Handle(ctx, json.RawMessage(`{"action":"status"}`))
	if err != nil {
		t.Fatal(err)
	}
	var status map[string]any
	b, _ := json.Marshal(out)
	if err := json.Unmarshal(b, &status); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"action", "target", "outcome", "from", "to", "reason", "current", "canary", "deployments", "lastRollback"} {
		if _, ok := status[k]; !ok {
			t.Errorf("status answer lacks %q: %s", k, b)
		}
	}
	deps := status["deployments"].([]any)
	if status["current"] != w.lambda || status["canary"] != nil || len(deps) != 2 || deps[0].(map[string]any)["id"] != w.lambda || deps[0].(map[string]any)["live"] != true {
		t.Errorf("status = %s", b)
	}

	out, err = h.Handle(ctx, json.RawMessage(`{"action":"rollback","reason":"users report 502"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := out.(rollback.Result); r.Outcome != rollback.OutcomeRolledBack || r.To != w.legacy {
		t.Fatalf("rollback: %+v", r)
	}
	out, err = h.Handle(ctx, json.RawMessage(fmt.Sprintf(`{"action":"deploy","target":"%s/service","deploymentId":"%s","force":true}`, w.apiID, w.lambda)))
	if err != nil {
		t.Fatal(err)
	}
	if r := out.(rollback.Result); r.Outcome != rollback.OutcomeDeployed || w.live(t).DeploymentID != w.lambda {
		t.Fatalf("deploy: %+v", r)
	}

	writes := w.gw.Writes()
	for _, bad := range []string{
		`{"action":"rollback","target":"` + w.apiID + `/../prod"}`,
		`{"action":"deploy","deploymentId":"%2F"}`,
		`{"action":"rollback","colour":"red"}`,
		`{"action":"nuke"}`,
		`{"action":"rollback","target":"zzzzzzzzzz/service","force":true}`,
		`{"action":"deploy","deploymentId":"nope12"}`,
	} {
		if _, err := h.Handle(ctx, json.RawMessage(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if w.gw.Writes() != writes {
		t.Error("bad commands wrote")
	}
}
