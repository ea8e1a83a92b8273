package httpstage_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/httpstage"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	"github.com/rewind-sre/rewind/pkg/support/awslocal/apigwv2"
	"github.com/rewind-sre/rewind/pkg/target"
)

func TestAlarmRollsTheStageBackInOneWriteAndRemembers(t *testing.T) {
	f := newFixture(t, 3, false)
	eng := f.engine(nil, rollback.Options{})
	res := eng.Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || res.Code != rollback.CodeRolledBack || res.From != f.deps[2].ID || res.To != f.deps[1].ID || res.Strategy != "http-stage" {
		t.Fatalf("%+v", res)
	}
	if w := f.gw.Writes(); w != 1 {
		t.Errorf("writes = %d, want one UpdateStage", w)
	}
	live := f.live(t)
	if live.DeploymentID != f.deps[1].ID {
		t.Errorf("live = %s, want %s", live.DeploymentID, f.deps[1].ID)
	}
	if !maps.Equal(live.Variables, teamVars) {
		t.Errorf("the API's own stage variables changed: %v", live.Variables)
	}
	if m := f.store.Record(f.target).Memory; !m.IsBad(f.deps[2].ID) || m.Last == nil || m.Last.Incident != "inc1" || m.Last.To != f.deps[1].ID {
		t.Errorf("memory %+v", m)
	}
	// The same incident again (SNS delivers at least once): nothing moves, nothing is written.
	again := eng.Do(context.Background(), f.target, alarm("inc1"))
	if again.Outcome != rollback.OutcomeSkipped || again.Code != rollback.CodeRepeat || f.gw.Writes() != 1 {
		t.Errorf("repeated delivery: %+v, writes %d", again, f.gw.Writes())
	}
	// A human sends it back to the bad build: deploy refuses it as known bad without force.
	dep := eng.Do(context.Background(), f.target, manual(rollback.ActionDeploy, f.deps[2].ID))
	if dep.Outcome != rollback.OutcomeFailed || dep.Code != rollback.CodeKnownBad {
		t.Errorf("deploy of the known-bad build: %+v", dep)
	}
	forced := manual(rollback.ActionDeploy, f.deps[2].ID)
	forced.Trigger.Force = true
	fwd := eng.Do(context.Background(), f.target, forced)
	if fwd.Outcome != rollback.OutcomeDeployed || fwd.Code != rollback.CodeDeployed || f.live(t).DeploymentID != f.deps[2].ID {
		t.Errorf("forced deploy: %+v", fwd)
	}
	if f.store.Record(f.target).Memory.IsBad(f.deps[2].ID) {
		t.Error("a forced deploy leaves its deployment marked bad")
	}
}

func TestAutoDeployStageIsRefusedWithTheReason(t *testing.T) {
	f := newFixture(t, 3, true)
	res := f.engine(nil, rollback.Options{}).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeFailed || res.Code != rollback.CodeReadFailed || !strings.Contains(res.Reason, httpstage.ErrAutoDeploy.Error()) {
		t.Fatalf("%+v", res)
	}
	if f.gw.Writes() != 0 || f.gw.CallCount("UpdateStage") != 0 || f.live(t).DeploymentID != f.deps[2].ID {
		t.Errorf("an auto-deploy stage was written to")
	}
	for _, withHistory := range []bool{true, false} {
		if _, err := httpstage.New(f.client).Read(context.Background(), f.target, withHistory); !errors.Is(err, httpstage.ErrAutoDeploy) {
			t.Errorf("Read (history %v): %v", withHistory, err)
		}
	}
	if err := httpstage.New(f.client).Switch(context.Background(), f.target, rollback.Plan{Kind: rollback.KindRollback, From: f.deps[2].ID, To: f.deps[1].ID}); !errors.Is(err, httpstage.ErrAutoDeploy) {
		t.Errorf("Switch: %v", err)
	}
	if f.gw.CallCount("UpdateStage") != 0 {
		t.Error("Switch wrote an auto-deploy stage")
	}
}

func TestStatusShowsLiveHistoryAndKnownBad(t *testing.T) {
	f := newFixture(t, 60, false) // 3 pages at the default 25
	eng := f.engine(nil, rollback.Options{})
	if res := eng.Do(context.Background(), f.target, alarm("inc1")); res.Outcome != rollback.OutcomeRolledBack {
		t.Fatal(res.Reason)
	}
	f.gw.Recorder.ClearFaults()
	before := f.gw.CallCount("GetDeployments")
	st := eng.Status(context.Background(), f.target)
	if st.Outcome != rollback.OutcomeOK || st.Code != rollback.CodeStatus || st.Status == nil {
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
	if len(s.Audit) != 1 || s.Audit[0].Code != rollback.CodeRolledBack {
		t.Errorf("audit in status: %+v", s.Audit)
	}
}

func TestThrottledWriteIsRetriedAndLandsOnce(t *testing.T) {
	f := newFixture(t, 3, false)
	f.gw.InjectFault("UpdateStage", awslocal.Fault{Status: 429, Times: 4})
	f.gw.InjectFault("GetDeployments", awslocal.Fault{Reset: true})
	res := f.engine(nil, rollback.Options{}).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || f.live(t).DeploymentID != f.deps[1].ID {
		t.Fatalf("%+v", res)
	}
	if got := f.gw.CallCount("UpdateStage"); got != 5 || f.gw.Writes() != 1 {
		t.Errorf("UpdateStage calls %d, writes %d; want 4 throttled + 1, one write", got, f.gw.Writes())
	}
}

func TestTheDefaultStageGoesThroughTheWire(t *testing.T) {
	f := newFixture(t, 3, false)
	if err := f.gw.CreateStage(f.target.Resource, apigwv2.Stage{Name: "$default", DeploymentID: f.deps[2].ID}); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Parse("http:" + f.target.Resource + "/$default")
	if err != nil {
		t.Fatal(err)
	}
	res := f.engine(nil, rollback.Options{}).Do(context.Background(), tg, alarm("inc1"))
	if st, _ := f.gw.Stage(f.target.Resource, "$default"); res.Outcome != rollback.OutcomeRolledBack || st.DeploymentID != f.deps[1].ID {
		t.Fatalf("%+v; $default serves %s", res, st.DeploymentID)
	}
	if f.store.Record(tg).Memory.Last == nil || f.store.Record(f.target).Version != 0 {
		t.Errorf("the rollback of %s is not recorded under its own name", tg)
	}
}

func TestMissingStageIsNotFound(t *testing.T) {
	f := newFixture(t, 2, false)
	tg := f.target
	tg.Slot = "gone"
	for _, withHistory := range []bool{true, false} {
		if _, err := httpstage.New(f.client).Read(context.Background(), tg, withHistory); !errors.Is(err, rollback.ErrNotFound) {
			t.Errorf("history %v: err = %v", withHistory, err)
		}
	}
}
