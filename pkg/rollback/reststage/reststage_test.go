package reststage_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/rewind-sre/rewind/pkg/apigwlocal"
	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/reststage"
	"github.com/rewind-sre/rewind/pkg/target"
)

var base = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// fixture is a local API Gateway with one API, n deployments a minute apart, and a prod stage live
// on the newest, reached through the real SDK client over HTTP.
type fixture struct {
	gw     *apigwlocal.Server
	client *apigateway.Client
	target target.Target
	deps   []apigwlocal.Deployment
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	// The control plane's clock stands just after the newest deployment, so alarms at base+1h are fresh.
	gw := apigwlocal.New(apigwlocal.Options{Region: "us-east-1", AccountID: "123456789012",
		Now: func() time.Time { return base.Add(time.Duration(n) * time.Minute) }})
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	api := gw.CreateRestAPI("users")
	f := &fixture{gw: gw, target: target.Target{Kind: target.KindRESTStage, APIID: api.ID, Stage: "prod"}}
	for i := range n {
		d, err := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Description: fmt.Sprintf("build %d", i), CreatedDate: base.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		f.deps = append(f.deps, d)
	}
	if err := gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: f.deps[n-1].ID, Variables: map[string]string{"backend": "lambda"}}); err != nil {
		t.Fatal(err)
	}
	f.client = apigateway.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return awsretry.Policy{MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}.Retryer()
		},
	}, func(o *apigateway.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return f
}

func (f *fixture) live(t *testing.T) apigwlocal.Stage {
	t.Helper()
	st, ok := f.gw.Stage(f.target.APIID, "prod")
	if !ok {
		t.Fatal("stage gone")
	}
	return st
}

func TestObserveReadsEveryPage(t *testing.T) {
	f := newFixture(t, 1234)
	st, err := reststage.New(f.client).Observe(context.Background(), f.target)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.History) != 1234 || st.Live != f.deps[1233].ID {
		t.Fatalf("history %d, live %s", len(st.History), st.Live)
	}
	if got := f.gw.CallCount("GetDeployments"); got != 3 {
		t.Errorf("GetDeployments calls = %d, want 3 pages of 500", got)
	}
	seen := map[string]bool{}
	for _, d := range st.History {
		seen[d.ID] = true
	}
	if len(seen) != 1234 {
		t.Errorf("history has %d distinct ids", len(seen))
	}
}

func TestApplyIsOneAtomicWriteWithMemory(t *testing.T) {
	f := newFixture(t, 3)
	s := reststage.New(f.client)
	ctx := context.Background()
	st, err := s.Observe(ctx, f.target)
	if err != nil {
		t.Fatal(err)
	}
	d := rollback.DecideRollback(f.target, st, rollback.Trigger{By: "alarm", Alarm: "api 5xx", Incident: "00aa11bb22cc33dd", AlarmTime: base.Add(time.Hour), Now: base.Add(time.Hour)})
	if d.Verdict != rollback.Act {
		t.Fatal(d.Reason)
	}
	before := f.gw.Writes()
	if err := s.Apply(ctx, f.target, d.Plan); err != nil {
		t.Fatal(err)
	}
	if w := f.gw.Writes() - before; w != 1 {
		t.Errorf("writes = %d, want exactly one UpdateStage", w)
	}
	live := f.live(t)
	if live.DeploymentID != f.deps[1].ID {
		t.Errorf("live = %s, want %s", live.DeploymentID, f.deps[1].ID)
	}
	if live.Variables["backend"] != "lambda" {
		t.Error("the API's own stage variables must be left alone")
	}
	again, err := s.Observe(ctx, f.target)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Memory.IsBad(f.deps[2].ID) || again.Memory.Last == nil || again.Memory.Last.To != f.deps[1].ID || again.Memory.Last.Incident != "00aa11bb22cc33dd" {
		t.Errorf("memory not recorded with the switch: %+v", again.Memory)
	}
}

func TestCanaryIsRemovedNotMoved(t *testing.T) {
	f := newFixture(t, 3)
	if err := f.gw.CreateStage(f.target.APIID, apigwlocal.StageSpec{Name: "canaried", DeploymentID: f.deps[1].ID,
		Canary: &apigwlocal.Canary{DeploymentID: f.deps[2].ID, PercentTraffic: 10.5}}); err != nil {
		t.Fatal(err)
	}
	tg := f.target
	tg.Stage = "canaried"
	s := reststage.New(f.client)
	st, err := s.Observe(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Canary == nil || st.Canary.DeploymentID != f.deps[2].ID || st.Canary.PercentTraffic != 10.5 {
		t.Fatalf("canary not observed: %+v", st.Canary)
	}
	d := rollback.DecideRollback(tg, st, rollback.Trigger{By: "alarm", Alarm: "a", Incident: "i1", AlarmTime: base.Add(time.Hour), Now: base.Add(time.Hour)})
	if d.Verdict != rollback.Act || d.Plan.Kind != rollback.KindCanaryRollback {
		t.Fatalf("%+v", d)
	}
	if err := s.Apply(context.Background(), tg, d.Plan); err != nil {
		t.Fatal(err)
	}
	got, _ := f.gw.Stage(tg.APIID, "canaried")
	if got.Canary != nil || got.DeploymentID != f.deps[1].ID {
		t.Errorf("after canary rollback: deployment %s canary %+v, want %s and no canary", got.DeploymentID, got.Canary, f.deps[1].ID)
	}
}

func TestMissingStageIsNotFound(t *testing.T) {
	f := newFixture(t, 2)
	tg := f.target
	tg.Stage = "gone"
	_, err := reststage.New(f.client).Observe(context.Background(), tg)
	if !errors.Is(err, rollback.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestApplyToMissingDeploymentChangesNothing(t *testing.T) {
	f := newFixture(t, 2)
	err := reststage.New(f.client).Apply(context.Background(), f.target, rollback.Plan{Kind: rollback.KindDeploy, From: f.deps[1].ID, To: "nope123",
		Memory: rollback.Memory{Last: &rollback.Change{Kind: rollback.KindDeploy, To: "nope123"}}})
	if err == nil {
		t.Fatal("switching to a deployment that does not exist must fail")
	}
	if live := f.live(t); live.DeploymentID != f.deps[1].ID || live.Variables[rollback.VarLast] != "" {
		t.Errorf("a refused write changed the stage: %+v", live)
	}
}

func TestSixThrottlesOnTheWriteStillRollBackOnce(t *testing.T) {
	f := newFixture(t, 3)
	f.gw.InjectFault("UpdateStage", apigwlocal.Fault{Status: 429, Times: 6})
	eng := rollback.NewEngine(reststage.New(f.client), rollback.Options{})
	res := eng.Do(context.Background(), f.target, rollback.Request{Action: "rollback", Trigger: rollback.Trigger{By: "manual"}})
	if res.Outcome != rollback.OutcomeRolledBack {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	if got := f.gw.CallCount("UpdateStage"); got != 7 {
		t.Errorf("UpdateStage calls = %d, want 6 throttled + 1", got)
	}
	if f.live(t).DeploymentID != f.deps[1].ID {
		t.Error("stage not rolled back")
	}
}

func TestLostResponseRetriedWritesTheSameState(t *testing.T) {
	f := newFixture(t, 3)
	f.gw.InjectFault("UpdateStage", apigwlocal.Fault{Status: 500, AfterApply: true})
	eng := rollback.NewEngine(reststage.New(f.client), rollback.Options{})
	res := eng.Do(context.Background(), f.target, rollback.Request{Action: "rollback", Trigger: rollback.Trigger{By: "manual"}})
	if res.Outcome != rollback.OutcomeRolledBack || f.live(t).DeploymentID != f.deps[1].ID {
		t.Fatalf("outcome %s (%s), live %s", res.Outcome, res.Reason, f.live(t).DeploymentID)
	}
	// The write landed twice; the second must not have gone a step further back.
	st, _ := reststage.New(f.client).Observe(context.Background(), f.target)
	if st.Memory.Last.From != f.deps[2].ID || len(st.Memory.Bad) != 1 {
		t.Errorf("memory after a replayed write: %+v", st.Memory)
	}
}
