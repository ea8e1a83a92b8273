// Package bench measures how close Rewind comes to what its two services allow: a decision whose
// switch lands after two control-plane round trips and one DynamoDB round trip (GetStage ∥ the
// GetDeployments pages ∥ the memory's GetItem, then the claim's conditional PutItem, then
// UpdateStage), any history size in ⌈N/500⌉ pages plus the stage read and the write, one memory read
// and three memory writes per rollback, small heap, fast cold start. The benchmarks (bench_test.go)
// measure the handler over the real SDK wire against pkg/support/awslocal/apigateway and pkg/support/awslocal/dynamodb behind
// one endpoint; cmd/rewind-bench runs them, adds the process-level figures (binary size and each
// client's share of it, cold start, peak memory of the real bootstrap, the size of one target's
// memory item, the AWS CLI runbook side by side) and prints one table. Nothing here asserts a
// timing: benchmarks measure, tests check behaviour.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/reststage"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
	"github.com/rewind-sre/rewind/pkg/target"
)

// Account is the AWS account of every world: the alarms' and the invoked function's.
const Account = "123456789012"

// FunctionARN is the invoked function's ARN the runtime hands the handler; its account makes alarms
// from Account Rewind's own.
const FunctionARN = "arn:aws:lambda:us-east-1:" + Account + ":function:rewind"

// StageName is the stage every world's API serves.
const StageName = "prod"

// Base is the control plane's clock: deployments are created before it, and the stage's
// lastUpdatedDate starts there. It is fixed so the gateway's answers do not depend on the machine's
// date; alarms are dated a year later (AlarmTime), so none is ever stale however often a benchmark
// resets the stage (each reset moves lastUpdatedDate on by a second).
var Base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// attemptTimeout is main's: one HTTP attempt may take 5 s before it is retried.
const attemptTimeout = 5 * time.Second

// APINameTTL is main's NameCache TTL.
const APINameTTL = responder.APINameTTL

// MemoryTable is Rewind's memory table in every World's DynamoDB (MEMORY_TABLE).
const MemoryTable = "rewind-bench-memory"

// World is a local API Gateway and a local DynamoDB holding Rewind's memory table, served over
// loopback HTTP behind one endpoint (DynamoDB's calls, POST with X-Amz-Target DynamoDB_20120810.*,
// go to the DynamoDB; every other request to the gateway), as AWS_ENDPOINT_URL gives every client.
// The gateway holds one REST API ("luna-api") with a history of N deployments a minute apart and a
// stage live on the newest. Rollback moves the stage to the one before (Old); Reset puts it back on
// the newest (New) out of band, as a person's console "Change deployment" would, so every iteration
// of a benchmark makes the same decision. Rewind's memory of the stage is left as it is: after a few
// hundred rollbacks it holds as much as its bounds allow, which is where a long-lived target's is.
type World struct {
	GW     *apigwlocal.Server
	DDB    *ddblocal.Server // Rewind's memory: MemoryTable
	URL    string           // the one endpoint of both
	API    apigwlocal.RestAPI
	Target target.Target
	Old    string // the deployment a rollback goes to
	New    string // the live deployment
	N      int

	srv   *httptest.Server
	front *Replay
	mem   *delayed
}

// NewWorld builds a World with n ≥ 2 deployments, served until Close. With replay, repeated
// GetDeployments pages are answered by a Replay in front of the gateway.
func NewWorld(n int, replay bool) (*World, error) {
	gw := apigwlocal.New(apigwlocal.Options{Region: "us-east-1", AccountID: Account, Now: func() time.Time { return Base }})
	ddb := ddblocal.New(ddblocal.Options{})
	ddb.CreateTable(MemoryTable)
	w := &World{GW: gw, DDB: ddb, N: n}
	if err := w.AddAPI(n); err != nil {
		return nil, err
	}
	w.front = &Replay{Next: gw, enabled: replay}
	w.mem = &delayed{next: ddb.Front(w.front)}
	w.srv = httptest.NewServer(w.mem)
	w.URL = w.srv.URL
	return w, nil
}

// SetLatency makes every control-plane call take d longer, replayed pages included.
func (w *World) SetLatency(d time.Duration) {
	w.GW.SetLatency(d)
	w.front.setLatency(d)
}

// SetMemoryLatency makes every DynamoDB call take d longer, before it is handled, as SetLatency does
// for the control plane: a round trip to DynamoDB's regional endpoint. 0 removes it.
func (w *World) SetMemoryLatency(d time.Duration) { w.mem.set(d) }

// MemoryCalls counts the DynamoDB calls so far by operation ("GetItem", "PutItem", ...); the local
// DynamoDB keeps every call, so a benchmark counts one decision's as the difference of two counts.
func (w *World) MemoryCalls() map[string]int {
	out := map[string]int{}
	for _, c := range w.DDB.Calls() {
		out[c.Op]++
	}
	return out
}

// DynamoDB is a DynamoDB client built as Build builds Rewind's (AWSConfig), at the World's endpoint.
func (w *World) DynamoDB() *dynamodb.Client {
	return dynamodb.NewFromConfig(AWSConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(w.URL) })
}

// MemoryKey is the key of t's memory item: pk "target#" + t, sk "memory" (pkg/memory's layout).
func MemoryKey(t target.Target) (pk, sk string) { return "target#" + t.String(), "memory" }

// MemoryItem is the stored memory item of t, in DynamoDB JSON as the local DynamoDB holds it.
func (w *World) MemoryItem(t target.Target) (map[string]any, bool) {
	pk, sk := MemoryKey(t)
	return w.DDB.Item(MemoryTable, pk, sk)
}

// MemoryServerTime is the time the local DynamoDB has spent handling calls so far, its injected
// latency left out: it runs in the benchmark's process, so the handler's time with no latency
// includes it.
func (w *World) MemoryServerTime() time.Duration { return w.mem.spent() }

// delayed holds every DynamoDB call back by its latency, then hands the request on; other calls
// go straight on (the gateway applies its own latency). It adds up how long DynamoDB's calls took
// once handed on.
type delayed struct {
	next http.Handler

	mu      sync.Mutex
	latency time.Duration
	busy    time.Duration
}

func (d *delayed) spent() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.busy
}

func (d *delayed) set(l time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.latency = l
}

func (d *delayed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	l := d.latency
	d.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_") {
		d.next.ServeHTTP(w, r)
		return
	}
	if l > 0 {
		t := time.NewTimer(l)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client gave up first: nothing is handled, as the gateway does
		}
	}
	start := time.Now()
	d.next.ServeHTTP(w, r)
	took := time.Since(start)
	d.mu.Lock()
	d.busy += took
	d.mu.Unlock()
}

// Replayed is how many GetDeployments pages the front has answered from its copy so far.
func (w *World) Replayed() int { return w.front.hits() }

// Written is when the gateway last finished answering an UpdateStage: the moment the rollback had
// landed, whatever the handler did afterwards (notify, log).
func (w *World) Written() time.Time { return w.front.written() }

// AddAPI makes a fresh "luna-api" with n deployments the World's target (used by the process-level
// runs, where each bootstrap process gets an API of its own and so a clean stage memory).
func (w *World) AddAPI(n int) error {
	if n < 2 {
		return fmt.Errorf("world: a rollback needs at least 2 deployments, not %d", n)
	}
	api := w.GW.CreateRestAPI("luna-api")
	var ids []string
	for i := range n {
		d, err := w.GW.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{
			Description: fmt.Sprintf("build %d of luna-api", i),
			CreatedDate: Base.Add(time.Duration(i-n) * time.Minute),
		})
		if err != nil {
			return fmt.Errorf("world: create deployment %d of %d: %w", i, n, err)
		}
		ids = append(ids, d.ID)
	}
	if err := w.GW.CreateStage(api.ID, apigwlocal.StageSpec{Name: StageName, DeploymentID: ids[n-1]}); err != nil {
		return fmt.Errorf("world: create stage: %w", err)
	}
	w.API, w.N = api, n
	w.Target = target.Target{Kind: target.KindRESTStage, Resource: api.ID, Slot: StageName}
	w.Old, w.New = ids[n-2], ids[n-1]
	return nil
}

// Close stops the server.
func (w *World) Close() { w.srv.Close() }

// Reset puts the stage back on the newest deployment without a control-plane call, as a release
// tool's redeploy would, and ages Rewind's memory of it as the time between a rollback and the next
// release would: the memory's switch is dated LastSwitchAge ago (AgeMemory).
func (w *World) Reset() error {
	if err := w.GW.SetDeploymentID(w.API.ID, StageName, w.New); err != nil {
		return err
	}
	return w.AgeMemory(w.Target, LastSwitchAge)
}

// LastSwitchAge is how long ago Reset dates Rewind's last switch of the stage. A decision that finds
// the target serving something its memory has not seen, within a second (the engine's bound on
// clock skew) of the last switch it recorded, reads the target again after the memory, to order the
// two reads: one more control-plane round trip. Back-to-back rollbacks of one stage, as a benchmark
// makes them, would pay it every time; an alarm after a release does not, and that is what the
// figures measure. BenchmarkFloor measures the recent case as well.
const LastSwitchAge = 2 * time.Second

// AgeMemory dates the switch recorded in t's memory item (pkg/memory's switchedAt) age before now,
// through an UpdateItem handed to the local DynamoDB in-process: no latency, no network, but a call
// it records (op UpdateItem). An item without a recorded switch is left alone.
func (w *World) AgeMemory(t target.Target, age time.Duration) error {
	pk, sk := MemoryKey(t)
	body, _ := json.Marshal(map[string]any{
		"TableName":                 MemoryTable,
		"Key":                       map[string]any{"pk": map[string]string{"S": pk}, "sk": map[string]string{"S": sk}},
		"UpdateExpression":          "SET #s = :s",
		"ConditionExpression":       "attribute_exists(#s)",
		"ExpressionAttributeNames":  map[string]string{"#s": "switchedAt"},
		"ExpressionAttributeValues": map[string]any{":s": map[string]string{"S": time.Now().Add(-age).UTC().Format(time.RFC3339Nano)}},
	})
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.UpdateItem")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	rec := httptest.NewRecorder()
	w.DDB.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK && !strings.Contains(rec.Body.String(), "ConditionalCheckFailedException") {
		return fmt.Errorf("world: age the memory of %s: %d %s", t, rec.Code, rec.Body.String())
	}
	return nil
}

// Live is the deployment the stage serves.
func (w *World) Live() string {
	st, _ := w.GW.Stage(w.API.ID, StageName)
	return st.DeploymentID
}

// Client is an API Gateway client built as main builds it (awsretry.Default, 5 s per attempt, the
// SDK's buildable HTTP client), with static credentials and the World's endpoint.
func (w *World) Client() *apigateway.Client {
	return apigateway.NewFromConfig(AWSConfig(), func(o *apigateway.Options) { o.BaseEndpoint = aws.String(w.URL) })
}

// AWSConfig is main's aws.Config without the environment: region, static credentials, the retry
// policy and the HTTP client.
func AWSConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBENCH", "SECRETBENCH", "TOKENBENCH"),
		Retryer:     func() aws.Retryer { return awsretry.Default.Retryer() },
		HTTPClient:  awshttp.NewBuildableClient().WithTimeout(attemptTimeout),
	}
}

// Handler builds the responder with responder.Build, as main does, over AWSConfig pointed at the
// World (every client, DynamoDB's included): MEMORY_TABLE is the World's MemoryTable, main's name
// cache TTL (namesNow is its clock, nil for time.Now), a JSON logger (to io.Discard: the formatting
// is paid, the writing is not) and notifier, which may be nil. The loop guard is lifted so a
// benchmark can roll the same stage back as often as it likes; everything else is main's.
func (w *World) Handler(notifier responder.Notifier, namesNow func() time.Time) (*responder.Handler, error) {
	cfg, err := config.FromEnv(func(k string) string {
		switch k {
		case config.EnvTargets:
			return w.Target.String()
		case config.EnvMemoryTable:
			return MemoryTable
		case config.EnvAutoRollbackWindow:
			return "0" // alarms are dated a year after the history (AlarmTime): no release window
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	awsCfg := AWSConfig()
	awsCfg.BaseEndpoint = aws.String(w.URL)
	return responder.Build(cfg, awsCfg, responder.Options{Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Notifier: notifier, NamesNow: namesNow, Guard: &rollback.Guard{Max: 1 << 30, Window: time.Hour}})
}

// InvokeContext is what Lambda passes a handler: a deadline and the invoked function's ARN.
func InvokeContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "bench", InvokedFunctionArn: FunctionARN}), cancel
}

// AlarmTime is the state change time of the i-th alarm: a year after Base, i milliseconds apart, so
// every alarm is a new incident and none is older than the stage's last change.
func AlarmTime(i int) time.Time {
	return Base.AddDate(1, 0, 0).Add(time.Duration(i) * time.Millisecond)
}

// AlarmMessage is the JSON CloudWatch publishes to SNS for the i-th state change to ALARM. With
// apiName "" the alarm watches a Lambda function's Errors (no ApiName dimension: the single target
// is the one it concerns); otherwise API Gateway's 5XXError of apiName's stage.
func AlarmMessage(i int, apiName string) string {
	name, ns, metric := "luna-api-errors", "AWS/Lambda", "Errors"
	dims := []map[string]string{{"name": "FunctionName", "value": "api-user-id"}}
	if apiName != "" {
		name, ns, metric = "luna-api-5xx", "AWS/ApiGateway", "5XXError"
		dims = []map[string]string{{"name": "ApiName", "value": apiName}, {"name": "Stage", "value": StageName}}
	}
	m := map[string]any{
		"AlarmName": name, "AlarmDescription": "Rewind rolls back", "AWSAccountId": Account,
		"AlarmConfigurationUpdatedTimestamp": "2026-01-01T00:00:00.000+0000",
		"NewStateValue":                      "ALARM", "NewStateReason": "Threshold Crossed: 1 datapoint [12.0] was greater than or equal to the threshold (5.0).",
		"StateChangeTime": AlarmTime(i).UTC().Format("2006-01-02T15:04:05.000-0700"), "Region": "US East (N. Virginia)",
		"AlarmArn": "arn:aws:cloudwatch:us-east-1:" + Account + ":alarm:" + name, "OldStateValue": "OK",
		"Trigger": map[string]any{"MetricName": metric, "Namespace": ns, "StatisticType": "Statistic", "Statistic": "SUM",
			"Unit": nil, "Dimensions": dims, "Period": 60, "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 5.0, "TreatMissingData": "notBreaching", "EvaluateLowSampleCountPercentile": ""},
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// AlarmEvent is the i-th alarm as SNS delivers it to Lambda.
func AlarmEvent(i int, apiName string) json.RawMessage {
	ev := events.SNSEvent{Records: []events.SNSEventRecord{{EventVersion: "1.0", EventSource: "aws:sns",
		EventSubscriptionArn: "arn:aws:sns:us-east-1:" + Account + ":rewind-alarms:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
		SNS: events.SNSEntity{Type: "Notification", MessageID: fmt.Sprintf("95df01b4-ee98-5cb9-9903-%012d", i),
			TopicArn: "arn:aws:sns:us-east-1:" + Account + ":rewind-alarms", Subject: "ALARM: \"luna-api\" in US East (N. Virginia)",
			Message: AlarmMessage(i, apiName), Timestamp: AlarmTime(i), SignatureVersion: "1", Signature: "EXAMPLE",
			SigningCertURL: "EXAMPLE", UnsubscribeURL: "EXAMPLE"}}}}
	b, _ := json.Marshal(ev)
	return b
}

// CheckRolledBack reports an error unless out is an event answer with one rolled-back result that
// moved the World's stage from New to Old, and the stage serves Old.
func (w *World) CheckRolledBack(out any, err error) error {
	if err != nil {
		return fmt.Errorf("handler: %w", err)
	}
	a, ok := out.(responder.Answer)
	if !ok || len(a.Results) != 1 {
		return fmt.Errorf("handler answered %#v, want one result", out)
	}
	r := a.Results[0]
	if r.Outcome != rollback.OutcomeRolledBack || r.From != w.New || r.To != w.Old {
		return fmt.Errorf("handler: %s %s -> %s (%s), want rolled-back %s -> %s", r.Outcome, r.From, r.To, r.Reason, w.New, w.Old)
	}
	if live := w.Live(); live != w.Old {
		return fmt.Errorf("stage serves %s after the rollback, want %s", live, w.Old)
	}
	return nil
}

// Pages is ⌈n/500⌉, the GetDeployments pages a history of n needs.
func Pages(n int) int { return (n + reststage.PageSize - 1) / reststage.PageSize }

// SNSServer is a stand-in for SNS's Publish (query protocol, XML answer), slow by latency like the
// control plane, for measuring the handler with notifications on.
func SNSServer(latency time.Duration) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(latency)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>`+
			`<MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult>`+
			`<ResponseMetadata><RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId></ResponseMetadata></PublishResponse>`)
	}))
}

// Replay fronts the local API Gateway. It notes when each UpdateStage was answered and, when
// enabled, answers repeated GetDeployments pages from a copy of the gateway's own first answer, after
// the same injected latency. apigwlocal sorts every deployment id on every page
// (slices.Sorted(maps.Keys(...)) in getDeployments), so listing N deployments costs the double
// O(N²/500·log N): three quarters of the time of a 50,000-deployment decision is the double sorting.
// Replaying keeps the figures about Rewind. It is only right while the API's deployments do not
// change, which holds in every benchmark: they change the stage, never the history. Every other call
// (GetStage, UpdateStage, GetRestApis) goes to the gateway.
type Replay struct {
	Next    http.Handler
	enabled bool

	mu        sync.Mutex
	latency   time.Duration
	pages     map[string]recorded
	nhits     int
	lastWrite time.Time
}

type recorded struct {
	status int
	header http.Header
	body   []byte
}

func (p *Replay) hits() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nhits
}

func (p *Replay) written() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastWrite
}

func (p *Replay) setLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

func (p *Replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPatch {
		p.Next.ServeHTTP(w, r)
		p.mu.Lock()
		p.lastWrite = time.Now()
		p.mu.Unlock()
		return
	}
	if !p.enabled || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/deployments") {
		p.Next.ServeHTTP(w, r)
		return
	}
	key := r.URL.RequestURI()
	p.mu.Lock()
	rec, ok := p.pages[key]
	latency := p.latency
	if ok {
		p.nhits++
	}
	p.mu.Unlock()
	if !ok {
		rw := httptest.NewRecorder()
		p.Next.ServeHTTP(rw, r)
		rec = recorded{status: rw.Code, header: rw.Header().Clone(), body: rw.Body.Bytes()}
		if rec.status == http.StatusOK {
			p.mu.Lock()
			if p.pages == nil {
				p.pages = map[string]recorded{}
			}
			p.pages[key] = rec
			p.mu.Unlock()
		}
	} else if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	maps.Copy(w.Header(), rec.header)
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body)
}
