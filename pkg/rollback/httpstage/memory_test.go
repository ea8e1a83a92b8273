package httpstage_test

// Rewind's memory lives in its Store, not in the stage's variables: the only thing Rewind writes on
// an HTTP API stage is its deploymentId.

import (
	"maps"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
)

func TestOnlyTheSwitchTouchesTheStage(t *testing.T) {
	f := newFixture(t, 4, false)
	before := f.live(t)
	clk := newClock(base.Add(2 * time.Hour))
	eng := f.engine(nil, rollback.Options{Now: clk.Now})
	for _, step := range []struct {
		name   string
		human  string // a deployment a human points the stage at first, "" none
		req    rollback.Request
		code   rollback.Code
		writes int // writes to the stage the step makes
		live   string
	}{
		{"alarm rollback", "", alarm("inc1"), rollback.CodeRolledBack, 1, f.deps[2].ID},
		{"manual deploy", "", manual(rollback.ActionDeploy, f.deps[1].ID), rollback.CodeDeployed, 1, f.deps[1].ID},
		{"observe of a human's change", f.deps[0].ID, rollback.Request{Action: rollback.ActionObserve, Trigger: rollback.Trigger{By: rollback.BySchedule}},
			rollback.CodeRecorded, 0, f.deps[0].ID},
		{"clear", "", manual(rollback.ActionClear, ""), rollback.CodeCleared, 0, f.deps[0].ID},
	} {
		if step.human != "" {
			f.setLive(t, step.human)
		}
		writes, updates, version := f.gw.Writes(), f.gw.CallCount("UpdateStage"), f.store.Record(f.target).Version
		res := do(eng, clk, f.target, step.req)
		if res.Code != step.code || res.Failed() {
			t.Fatalf("%s: %+v", step.name, res)
		}
		if got := f.gw.Writes() - writes; got != step.writes || f.gw.CallCount("UpdateStage")-updates != step.writes {
			t.Errorf("%s: %d writes to the stage, want %d", step.name, got, step.writes)
		}
		if f.store.Record(f.target).Version == version {
			t.Errorf("%s: nothing recorded in the store", step.name)
		}
		after := f.live(t)
		if after.DeploymentID != step.live {
			t.Errorf("%s: live %s, want %s", step.name, after.DeploymentID, step.live)
		}
		if !maps.Equal(after.Variables, before.Variables) || !maps.Equal(after.Variables, teamVars) {
			t.Errorf("%s: stage variables %v, want the team's %v", step.name, after.Variables, teamVars)
		}
	}
	rollbacktest.ClearedMemory(t, f.store.Record(f.target).Memory)
}
