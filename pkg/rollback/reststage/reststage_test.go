package reststage_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/reststage"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

func TestReadReadsEveryPageOnlyWithHistory(t *testing.T) {
	f := newFixture(t, 1234)
	s := reststage.New(f.client)
	st, err := s.Read(context.Background(), f.target, true)
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
	// Observe and clear read without the history: one GetStage, no page of deployments.
	peek, err := s.Read(context.Background(), f.target, false)
	if err != nil {
		t.Fatal(err)
	}
	if peek.Live != f.deps[1233].ID || peek.History != nil || peek.LastUpdated.IsZero() || f.gw.CallCount("GetDeployments") != 3 {
		t.Errorf("read without history: live %s, %d deployments, updated %s; GetDeployments calls %d",
			peek.Live, len(peek.History), peek.LastUpdated, f.gw.CallCount("GetDeployments"))
	}
	if !reflect.DeepEqual(st.Memory, rollback.Memory{}) || !reflect.DeepEqual(peek.Memory, rollback.Memory{}) {
		t.Errorf("Read filled in memory (the engine reads it from its store): %+v, %+v", st.Memory, peek.Memory)
	}
}

func TestRollbackIsOneWriteOfTheDeploymentAndTheMemoryGoesToTheStore(t *testing.T) {
	f := newFixture(t, 3)
	rec := &recordingAPI{API: f.client}
	eng := rollback.NewEngine(reststage.New(rec), f.store, rollback.Options{Now: func() time.Time { return base.Add(time.Hour) }})
	res := eng.Do(context.Background(), f.target, alarm("00aa11bb22cc33dd"))
	if res.Outcome != rollback.OutcomeRolledBack || res.Code != rollback.CodeRolledBack || res.Strategy != "rest-stage" {
		t.Fatalf("%+v", res)
	}
	if w := f.gw.Writes(); w != 1 {
		t.Errorf("writes = %d, want exactly one UpdateStage", w)
	}
	if got := rec.paths(); len(got) != 1 || got[0] != "replace /deploymentId" {
		t.Errorf("patch operations %v, want only the deploymentId", got)
	}
	live := f.live(t)
	if live.DeploymentID != f.deps[1].ID {
		t.Errorf("live = %s, want %s", live.DeploymentID, f.deps[1].ID)
	}
	if !maps.Equal(live.Variables, map[string]string{"backend": "lambda"}) {
		t.Errorf("the API's own stage variables must be left alone: %v", live.Variables)
	}
	r := f.store.Record(f.target)
	if m := r.Memory; !m.IsBad(f.deps[2].ID) || m.Last == nil || m.Last.To != f.deps[1].ID || m.Last.Incident != "00aa11bb22cc33dd" || r.Claim != nil {
		t.Errorf("memory not recorded with the switch: %+v (claim %+v)", m, r.Claim)
	}
	if es := f.store.Entries(f.target); len(es) != 1 || es[0].Code != rollback.CodeRolledBack || es[0].To != f.deps[1].ID {
		t.Errorf("audit log %+v", es)
	}
}

func TestCanaryIsRemovedNotMoved(t *testing.T) {
	f := newFixture(t, 3)
	tg := f.addStage(t, apigwlocal.StageSpec{Name: "canaried", DeploymentID: f.deps[1].ID,
		Canary: &apigwlocal.Canary{DeploymentID: f.deps[2].ID, PercentTraffic: 10.5}})
	s := reststage.New(f.client)
	st, err := s.Read(context.Background(), tg, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Canary == nil || st.Canary.DeploymentID != f.deps[2].ID || st.Canary.PercentTraffic != 10.5 {
		t.Fatalf("canary not observed: %+v", st.Canary)
	}
	d := rollback.DecideRollback(tg, st, rollback.Trigger{By: rollback.ByAlarm, Alarm: "a", Incident: "i1", AlarmTime: base.Add(time.Hour), Now: base.Add(time.Hour)})
	if d.Verdict != rollback.Act || d.Code != rollback.CodeCanaryRemoved || d.Plan.Kind != rollback.KindCanaryRollback {
		t.Fatalf("%+v", d)
	}
	if err := s.Switch(context.Background(), tg, d.Plan); err != nil {
		t.Fatal(err)
	}
	got := f.stage(t, tg)
	if got.Canary != nil || got.DeploymentID != f.deps[1].ID {
		t.Errorf("after canary rollback: deployment %s canary %+v, want %s and no canary", got.DeploymentID, got.Canary, f.deps[1].ID)
	}
}

func TestMissingStageIsNotFound(t *testing.T) {
	f := newFixture(t, 2)
	tg := f.target
	tg.Slot = "gone"
	for _, withHistory := range []bool{true, false} {
		if _, err := reststage.New(f.client).Read(context.Background(), tg, withHistory); !errors.Is(err, rollback.ErrNotFound) {
			t.Errorf("history %v: err = %v, want ErrNotFound", withHistory, err)
		}
	}
}

func TestSwitchToMissingDeploymentChangesNothing(t *testing.T) {
	f := newFixture(t, 2)
	before := f.live(t)
	err := reststage.New(f.client).Switch(context.Background(), f.target, rollback.Plan{Kind: rollback.KindDeploy, From: f.deps[1].ID, To: "nope123",
		Memory: rollback.Memory{Last: &rollback.Change{Kind: rollback.KindDeploy, To: "nope123"}}})
	if err == nil {
		t.Fatal("switching to a deployment that does not exist must fail")
	}
	if live := f.live(t); live.DeploymentID != f.deps[1].ID || !maps.Equal(live.Variables, before.Variables) || f.gw.Writes() != 0 {
		t.Errorf("a refused write changed the stage: %+v (writes %d)", live, f.gw.Writes())
	}
}

func TestSixThrottlesOnTheWriteStillRollBackOnce(t *testing.T) {
	f := newFixture(t, 3)
	f.gw.InjectFault("UpdateStage", apigwlocal.Fault{Status: 429, Times: 6})
	res := f.engine(rollback.Options{}).Do(context.Background(), f.target, manual(rollback.ActionRollback, ""))
	if res.Outcome != rollback.OutcomeRolledBack || res.Code != rollback.CodeRolledBack {
		t.Fatalf("outcome %s (%s): %s", res.Outcome, res.Code, res.Reason)
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
	res := f.engine(rollback.Options{}).Do(context.Background(), f.target, manual(rollback.ActionRollback, ""))
	if res.Outcome != rollback.OutcomeRolledBack || f.live(t).DeploymentID != f.deps[1].ID {
		t.Fatalf("outcome %s (%s), live %s", res.Outcome, res.Reason, f.live(t).DeploymentID)
	}
	// The write landed twice; the second must not have gone a step further back.
	if m := f.store.Record(f.target).Memory; m.Last == nil || m.Last.From != f.deps[2].ID || len(m.Bad) != 1 {
		t.Errorf("memory after a replayed write: %+v", m)
	}
}
