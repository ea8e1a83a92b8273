package responder_test

// The rig the reliability tests (schedules, faults, races, hostile input, the decision table) share:
// a local API Gateway and a local DynamoDB (Rewind's memory table) behind one loopback endpoint and a
// recording proxy (recorder_test.go), a clock the test moves, handlers built the way main builds
// them, captured logs.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	cwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudwatch"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
	"github.com/rewind-sre/rewind/pkg/support/awslocal/tagging"
)

// The account and region the rig's function runs in, and credentials that must never be logged.
const (
	rigAccount      = "123456789012"
	rigRegion       = "us-east-1"
	rigAccessKey    = "AKIAREWINDTESTKEY001"
	rigSecretKey    = "rewindSecretKey/do+not+log/0123456789abcdefXYZ"
	rigSessionToken = "IQoJb3JpZ2luREWINDSESSIONTOKEN/do+not+log/9876543210"
	rigFunctionARN  = "arn:aws:lambda:" + rigRegion + ":" + rigAccount + ":function:rewind"
)

// fastRetry is the production policy's shape with millisecond delays, so a test of many faults
// stays quick; awsretry.Default itself is used where its real timing is the point.
var fastRetry = awsretry.Policy{MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// simClock is a clock a test moves by hand. The local API Gateway (dates it hands out) and the
// engine (when it decides) share one, so "the alarm fired after the deployment went live" is exact.
// Claims expire by the wall clock (the function's deadline), not by this one.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lockedBuffer is an io.Writer several handlers may log to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rig is one local API Gateway, one local DynamoDB and one local CloudWatch on a loopback port,
// behind a proxy that records every request.
type rig struct {
	gw    *apigwlocal.Server
	ddb   *ddblocal.Server // Rewind's memory table, memoryTable, behind the same endpoint
	cw    *cwlocal.Server  // the account's alarms and metric data (the schedule's re-check reads them)
	url   string
	clock *simClock
	rec   *recorder
	logs  *lockedBuffer
}

// newRig starts a rig whose clock starts at start. It is closed when tb ends.
func newRig(tb testing.TB, start time.Time) *rig {
	tb.Helper()
	r, stop := startRig(start, 0)
	tb.Cleanup(stop)
	return r
}

// startRig starts a rig whose API Gateway's clock runs skew behind the rig's (CloudWatch's and
// Lambda's): services' clocks are not one clock. stop closes it.
func startRig(start time.Time, skew time.Duration) (*rig, func()) {
	clock := &simClock{t: start}
	gwNow := func() time.Time { return clock.Now().Add(-skew) }
	gw := apigwlocal.New(apigwlocal.Options{Region: rigRegion, AccountID: rigAccount, Now: gwNow})
	ddb := ddblocal.New(ddblocal.Options{Now: clock.Now})
	ddb.CreateTable(memoryTable)
	cw := cwlocal.New(cwlocal.Options{Now: clock.Now, Region: rigRegion, Account: rigAccount})
	// The Tagging API, fed by the gateway's stage tags, answers the rig's discovery (TARGETS selectors).
	rec := &recorder{next: tagging.New(tagging.Options{}, gw).Front(cw.Front(ddb.Front(gw))), gw: gw, ddb: ddb, conns: map[net.Conn]http.ConnState{}}
	srv := httptest.NewUnstartedServer(rec)
	srv.Config.ConnState = rec.connState
	srv.Start()
	return &rig{gw: gw, ddb: ddb, cw: cw, url: srv.URL, clock: clock, rec: rec, logs: &lockedBuffer{}}, srv.Close
}

// handler builds a responder the way functions/responder/main.go does (config from the
// environment, the loop guard from MAX_AUTO_ROLLBACKS_PER_HOUR, one JSON logger), over the real SDK
// clients pointed at the rig. Each call is a separate instance: its own clients and name cache, like
// a separate Lambda sandbox. Logs go to logs (the rig's when nil) at debug level, the most a
// deployment could log.
func (r *rig) handler(tb testing.TB, env map[string]string, policy awsretry.Policy, logs io.Writer) *responder.Handler {
	tb.Helper()
	h, err := r.newHandler(env, policy, logs)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func (r *rig) newHandler(env map[string]string, policy awsretry.Policy, logs io.Writer) (*responder.Handler, error) {
	return r.build(env, policy, logs, responder.Options{})
}

// build is newHandler with the options a test sets (a notifier); Log, Now and NameTTL are the rig's.
func (r *rig) build(env map[string]string, policy awsretry.Policy, logs io.Writer, o responder.Options) (*responder.Handler, error) {
	cfg, err := config.FromEnv(withTable(env))
	if err != nil {
		return nil, err
	}
	if logs == nil {
		logs = r.logs
	}
	o.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.Now, o.NameTTL = r.clock.Now, time.Hour
	return responder.Build(cfg, r.awsConfig(policy), o)
}

// instance builds a handler whose requests carry app in their User-Agent (request.from), so a
// test's gate can hold one instance's calls and not another's.
func (r *rig) instance(tb testing.TB, env map[string]string, app string, o responder.Options) *responder.Handler {
	tb.Helper()
	cfg, err := config.FromEnv(withTable(env))
	if err != nil {
		tb.Fatal(err)
	}
	o.Log = slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.Now, o.NameTTL = r.clock.Now, time.Hour
	awsCfg := r.awsConfig(fastRetry)
	awsCfg.AppID = app
	h, err := responder.Build(cfg, awsCfg, o)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// awsConfig is what every client of the rig is built from.
func (r *rig) awsConfig(policy awsretry.Policy) aws.Config {
	return aws.Config{
		Region:       rigRegion,
		BaseEndpoint: aws.String(r.url),
		Credentials:  credentials.NewStaticCredentialsProvider(rigAccessKey, rigSecretKey, rigSessionToken),
		Retryer:      func() aws.Retryer { return policy.Retryer() },
	}
}

// memoryTable is the name of Rewind's memory table in every test's local DynamoDB.
const memoryTable = "rewind-memory"

// withTable reads env, with MEMORY_TABLE naming the test's local table unless env sets it, and
// CONTROL_PLANE_BUDGET at the most the account allows (10) unless env sets it: the budget paces by
// the wall clock, and a test's schedule ticks come back to back, not 5 minutes apart
// (budget_test.go tests the budget itself).
func withTable(env map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		switch k {
		case config.EnvMemoryTable:
			return memoryTable
		case config.EnvControlPlaneBudget:
			return "10"
		}
		return ""
	}
}

// lambdaCtx is what Lambda passes an invocation: the function's ARN (its account and region) and a
// deadline.
func lambdaCtx(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "rig", InvokedFunctionArn: rigFunctionARN}), cancel
}

// invoke runs one invocation with Lambda's 30 s timeout (template.yaml).
func invoke(h *responder.Handler, payload []byte) (any, error) {
	ctx, cancel := lambdaCtx(30 * time.Second)
	defer cancel()
	return h.Handle(ctx, payload)
}

// resultsOf flattens a handler's answer, or a failed invocation's error, into its results.
func resultsOf(out any) []rollback.Result {
	switch v := out.(type) {
	case responder.Answer:
		return v.Results
	case rollback.Result:
		return []rollback.Result{v}
	}
	return nil
}

// failedCodes is the codes of a failed invocation's failed results (nil for no error, or an error
// that is not a *responder.Failed).
func failedCodes(err error) []rollback.Code {
	var f *responder.Failed
	if !errors.As(err, &f) {
		return nil
	}
	return f.Codes()
}

// resultsOfErr is every result of an invocation, whether it failed or not.
func resultsOfErr(out any, err error) []rollback.Result {
	var f *responder.Failed
	if errors.As(err, &f) {
		return f.Results
	}
	return resultsOf(out)
}
