package lambdaalias_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	lambdalocal "github.com/rewind-sre/rewind/pkg/awslocal/lambda"
	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/lambdaalias"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	"github.com/rewind-sre/rewind/pkg/target"
)

var base = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

const (
	fn        = "api-user-id"
	ownerDesc = "production traffic" // the alias's description, as its owner wrote it
)

// fixture: a local Lambda with function api-user-id, versions 1..n published a minute apart, and
// alias "live" on version live (default n, described by its owner), reached through the real SDK
// over HTTP; store is Rewind's memory.
type fixture struct {
	lam    *lambdalocal.Server
	client *lambda.Client
	target target.Target
	store  *rollbacktest.Store
}

func newFixture(t *testing.T, n int, live string, weights map[string]float64) *fixture {
	t.Helper()
	lam := lambdalocal.New(nil)
	srv := httptest.NewServer(lam)
	t.Cleanup(srv.Close)
	var vs []lambdalocal.Version
	for i := 1; i <= n; i++ {
		vs = append(vs, lambdalocal.Version{Version: fmt.Sprint(i), Description: fmt.Sprintf("build %d", i), LastModified: base.Add(time.Duration(i) * time.Minute)})
	}
	lam.CreateFunction(fn, vs...)
	if live == "" {
		live = fmt.Sprint(n)
	}
	if err := lam.CreateAlias(fn, lambdalocal.Alias{Name: "live", FunctionVersion: live, Description: ownerDesc, Weights: weights}); err != nil {
		t.Fatal(err)
	}
	client := lambda.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return awsretry.Policy{MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}.Retryer()
		},
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return &fixture{lam: lam, client: client, target: target.Target{Kind: target.KindLambdaAlias, Resource: fn, Slot: "live"}, store: rollbacktest.NewStore()}
}

func (f *fixture) alias(t *testing.T) lambdalocal.Alias {
	t.Helper()
	a, ok := f.lam.Alias(fn, "live")
	if !ok {
		t.Fatal("alias gone")
	}
	return a
}

// setLive points the alias at version as a human would (not counted in Writes).
func (f *fixture) setLive(t *testing.T, version string) {
	t.Helper()
	if !f.lam.SetAliasVersion(fn, "live", version) {
		t.Fatal("alias gone")
	}
}

func (f *fixture) engine(dry bool) *rollback.Engine {
	return f.engineWith(rollback.Options{DryRun: dry})
}

// engineWith is the engine over the fixture's client and store; its decision clock defaults to just
// after the alarms' time.
func (f *fixture) engineWith(o rollback.Options) *rollback.Engine {
	if o.Now == nil {
		o.Now = func() time.Time { return base.Add(time.Hour + 10*time.Second) }
	}
	return rollback.NewEngine(lambdaalias.New(f.client), f.store, o)
}

func alarm(incident string) rollback.Request {
	return rollback.Request{Action: rollback.ActionRollback,
		Trigger: rollback.Trigger{By: rollback.ByAlarm, Alarm: "api-user-id live errors", Incident: incident, AlarmTime: base.Add(time.Hour)}}
}

func manual(action rollback.Action, version string) rollback.Request {
	return rollback.Request{Action: action, DeploymentID: version, Trigger: rollback.Trigger{By: rollback.ByManual}}
}

// clock is a decision clock a test moves on by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(start time.Time) *clock { return &clock{now: start} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Tick moves the clock a second on and returns the new time.
func (c *clock) Tick() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

// do runs one request with a fresh decision time; an alarm's state change is dated then.
func do(eng *rollback.Engine, clk *clock, tg target.Target, req rollback.Request) rollback.Result {
	now := clk.Tick()
	if req.Trigger.By == rollback.ByAlarm {
		req.Trigger.AlarmTime = now
	}
	return eng.Do(context.Background(), tg, req)
}
