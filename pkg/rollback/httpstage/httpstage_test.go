package httpstage_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"

	"github.com/rewind-sre/rewind/pkg/awslocal"
	"github.com/rewind-sre/rewind/pkg/awslocal/apigwv2"
	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/httpstage"
	"github.com/rewind-sre/rewind/pkg/target"
)

var base = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// fixture: a local HTTP API with n deployments a minute apart and a "live" stage on the newest,
// reached through the real SDK client over HTTP.
type fixture struct {
	gw     *apigwv2.Server
	client *apigatewayv2.Client
	target target.Target
	deps   []apigwv2.Deployment
}

func newFixture(t *testing.T, n int, autoDeploy bool) *fixture {
	t.Helper()
	gw := apigwv2.New(func() time.Time { return base.Add(time.Duration(n) * time.Minute) })
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	id := gw.CreateAPI()
	f := &fixture{gw: gw, target: target.Target{Kind: target.KindHTTPStage, APIID: id, Stage: "live"}}
	for i := range n {
		d, err := gw.CreateDeployment(id, apigwv2.Deployment{Description: fmt.Sprintf("build %d", i), CreatedDate: base.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		f.deps = append(f.deps, d)
	}
	if err := gw.CreateStage(id, apigwv2.Stage{Name: "live", DeploymentID: f.deps[n-1].ID, AutoDeploy: autoDeploy,
		Variables: map[string]string{"backend": "lambda"}}); err != nil {
		t.Fatal(err)
	}
	f.client = apigatewayv2.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return awsretry.Policy{MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}.Retryer()
		},
	}, func(o *apigatewayv2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return f
}

func (f *fixture) live(t *testing.T) apigwv2.Stage {
	t.Helper()
	st, ok := f.gw.Stage(f.target.APIID, "live")
	if !ok {
		t.Fatal("stage gone")
	}
	return st
}

func (f *fixture) engine(o rollback.Options) *rollback.Engine {
	if o.Now == nil {
		o.Now = func() time.Time { return base.Add(2*time.Hour + 10*time.Second) }
	}
	return rollback.NewEngine(httpstage.New(f.client), o)
}

func alarm(incident string) rollback.Request {
	return rollback.Request{Action: "rollback", Trigger: rollback.Trigger{By: "alarm", Alarm: "http 5xx", Incident: incident, AlarmTime: base.Add(2 * time.Hour)}}
}

func TestAlarmRollsTheStageBackInOneWriteAndRemembers(t *testing.T) {
	f := newFixture(t, 3, false)
	eng := f.engine(rollback.Options{})
	res := eng.Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || res.From != f.deps[2].ID || res.To != f.deps[1].ID || res.Strategy != "http-stage" {
		t.Fatalf("%+v", res)
	}
	if w := f.gw.Writes(); w != 1 {
		t.Errorf("writes = %d, want one UpdateStage", w)
	}
	live := f.live(t)
	if live.DeploymentID != f.deps[1].ID {
		t.Errorf("live = %s, want %s", live.DeploymentID, f.deps[1].ID)
	}
	if live.Variables["backend"] != "lambda" {
		t.Errorf("the API's own stage variable was lost: %v", live.Variables)
	}
	// The same incident again (SNS delivers at least once): nothing moves, nothing is written.
	again := eng.Do(context.Background(), f.target, alarm("inc1"))
	if again.Outcome != rollback.OutcomeSkipped || again.Code != rollback.CodeRepeat || f.gw.Writes() != 1 {
		t.Errorf("repeated delivery: %+v, writes %d", again, f.gw.Writes())
	}
	// A human sends it back to the bad build: deploy refuses it as known bad without force.
	dep := eng.Do(context.Background(), f.target, rollback.Request{Action: "deploy", DeploymentID: f.deps[2].ID, Trigger: rollback.Trigger{By: "manual"}})
	if dep.Outcome != rollback.OutcomeFailed || dep.Code != rollback.CodeKnownBad {
		t.Errorf("deploy of the known-bad build: %+v", dep)
	}
	fwd := eng.Do(context.Background(), f.target, rollback.Request{Action: "deploy", DeploymentID: f.deps[2].ID, Trigger: rollback.Trigger{By: "manual", Force: true}})
	if fwd.Outcome != rollback.OutcomeDeployed || f.live(t).DeploymentID != f.deps[2].ID {
		t.Errorf("forced deploy: %+v", fwd)
	}
}

func TestAutoDeployStageIsRefusedWithTheReason(t *testing.T) {
	f := newFixture(t, 3, true)
	res := f.engine(rollback.Options{}).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeFailed || !strings.Contains(res.Reason, "auto-deploy is on: no history to go back to") {
		t.Fatalf("%+v", res)
	}
	if f.gw.Writes() != 0 || f.gw.CallCount("UpdateStage") != 0 || f.live(t).DeploymentID != f.deps[2].ID {
		t.Errorf("an auto-deploy stage was written to")
	}
	if _, err := httpstage.New(f.client).Peek(context.Background(), f.target); !errors.Is(err, httpstage.ErrAutoDeploy) {
		t.Errorf("Peek: %v", err)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	f := newFixture(t, 3, false)
	res := f.engine(rollback.Options{DryRun: true}).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomePlanned || res.To != f.deps[1].ID || !res.DryRun {
		t.Fatalf("%+v", res)
	}
	if f.gw.Writes() != 0 || f.gw.CallCount("UpdateStage") != 0 || f.live(t).DeploymentID != f.deps[2].ID {
		t.Error("dry run wrote")
	}
}

func TestStatusShowsLiveHistoryAndKnownBad(t *testing.T) {
	f := newFixture(t, 60, false) // 3 pages at the default 25
	eng := f.engine(rollback.Options{})
	if res := eng.Do(context.Background(), f.target, alarm("inc1")); res.Outcome != rollback.OutcomeRolledBack {
		t.Fatal(res.Reason)
	}
	f.gw.Recorder.ClearFaults()
	before := f.gw.CallCount("GetDeployments")
	st := eng.Status(context.Background(), f.target)
	if st.Outcome != rollback.OutcomeOK || st.Status == nil {
		t.Fatalf("%+v", st)
	}
	if got := f.gw.CallCount("GetDeployments") - before; got != 3 {
		t.Errorf("GetDeployments calls = %d, want 3 pages", got)
	}
	s := st.Status
	if s.Current != f.deps[58].ID || len(s.Deployments) != 60 || s.Deployments[0].ID != f.deps[59].ID || !s.Deployments[0].Bad || !s.Deployments[1].Live {
		t.Errorf("status: current %s, %d deployments, first %+v, second %+v", s.Current, len(s.Deployments), s.Deployments[0], s.Deployments[1])
	}
	if s.LastRollback == nil || s.LastRollback.Incident != "inc1" || len(s.KnownBad) != 1 || s.KnownBad[0] != f.deps[59].ID {
		t.Errorf("memory in status: %+v %v", s.LastRollback, s.KnownBad)
	}
}

func TestThrottledWriteIsRetriedAndLandsOnce(t *testing.T) {
	f := newFixture(t, 3, false)
	f.gw.InjectFault("UpdateStage", awslocal.Fault{Status: 429, Times: 4})
	f.gw.InjectFault("GetDeployments", awslocal.Fault{Reset: true})
	res := f.engine(rollback.Options{}).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || f.live(t).DeploymentID != f.deps[1].ID {
		t.Fatalf("%+v", res)
	}
	if got := f.gw.CallCount("UpdateStage"); got != 5 || f.gw.Writes() != 1 {
		t.Errorf("UpdateStage calls %d, writes %d; want 4 throttled + 1, one write", got, f.gw.Writes())
	}
}

func TestAStageMovedSinceTheReadIsNotOverwritten(t *testing.T) {
	f := newFixture(t, 3, false)
	s := httpstage.New(f.client)
	st, err := s.Observe(context.Background(), f.target)
	if err != nil {
		t.Fatal(err)
	}
	d := rollback.DecideRollback(f.target, st, rollback.Trigger{By: "manual", Now: base.Add(time.Hour)})
	if d.Verdict != rollback.Act {
		t.Fatal(d.Reason)
	}
	f.gw.SetDeployment(f.target.APIID, "live", f.deps[0].ID) // a human, meanwhile
	err = s.Apply(context.Background(), f.target, d.Plan)
	if err == nil || !strings.Contains(err.Error(), "now serves "+f.deps[0].ID) {
		t.Fatalf("Apply = %v", err)
	}
	if f.gw.Writes() != 0 || f.live(t).DeploymentID != f.deps[0].ID {
		t.Error("the human's change was overwritten")
	}
}

func TestTheDefaultStageGoesThroughTheWire(t *testing.T) {
	f := newFixture(t, 3, false)
	if err := f.gw.CreateStage(f.target.APIID, apigwv2.Stage{Name: "$default", DeploymentID: f.deps[2].ID}); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Parse("http:" + f.target.APIID + "/$default")
	if err != nil {
		t.Fatal(err)
	}
	res := f.engine(rollback.Options{}).Do(context.Background(), tg, alarm("inc1"))
	if st, _ := f.gw.Stage(f.target.APIID, "$default"); res.Outcome != rollback.OutcomeRolledBack || st.DeploymentID != f.deps[1].ID {
		t.Fatalf("%+v; $default serves %s", res, st.DeploymentID)
	}
}

func TestMissingStageIsNotFound(t *testing.T) {
	f := newFixture(t, 2, false)
	tg := f.target
	tg.Stage = "gone"
	if _, err := httpstage.New(f.client).Observe(context.Background(), tg); !errors.Is(err, rollback.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}
