package lambdaalias_test

// Rewind's memory lives in its Store, not in the alias's description: the only thing Rewind writes
// on an alias is its version and routing.

import (
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	"github.com/rewind-sre/rewind/pkg/target"
)

func TestOnlyTheSwitchTouchesTheAlias(t *testing.T) {
	f := newFixture(t, 4, "", nil)
	clk := newClock(base.Add(time.Hour))
	eng := f.engineWith(rollback.Options{Now: clk.Now})
	for _, step := range []struct {
		name   string
		human  string // a version a human points the alias at first, "" none
		req    rollback.Request
		code   rollback.Code
		writes int // writes to the alias the step makes
		live   string
	}{
		{"alarm rollback", "", alarm("inc1"), rollback.CodeRolledBack, 1, "3"},
		{"manual deploy", "", manual(rollback.ActionDeploy, "2"), rollback.CodeDeployed, 1, "2"},
		{"observe of a human's change", "1", rollback.Request{Action: rollback.ActionObserve, Trigger: rollback.Trigger{By: rollback.BySchedule}},
			rollback.CodeRecorded, 0, "1"},
		{"clear", "", manual(rollback.ActionClear, ""), rollback.CodeCleared, 0, "1"},
	} {
		if step.human != "" {
			f.setLive(t, step.human)
		}
		before, writes, version := f.alias(t), f.lam.Writes(), f.store.Record(f.target).Version
		res := do(eng, clk, f.target, step.req)
		if res.Code != step.code || res.Failed() {
			t.Fatalf("%s: %+v", step.name, res)
		}
		if got := f.lam.Writes() - writes; got != step.writes || f.lam.CallCount("UpdateAlias") != f.lam.Writes() {
			t.Errorf("%s: %d writes to the alias, want %d", step.name, got, step.writes)
		}
		if f.store.Record(f.target).Version == version {
			t.Errorf("%s: nothing recorded in the store", step.name)
		}
		after := f.alias(t)
		if after.FunctionVersion != step.live || after.Description != ownerDesc || len(after.Weights) != 0 {
			t.Errorf("%s: alias %+v, want version %s and the owner's description %q", step.name, after, step.live, ownerDesc)
		}
		if step.writes == 0 && after.RevisionID != before.RevisionID {
			t.Errorf("%s: the alias has a new revision: something wrote it", step.name)
		}
	}
	rollbacktest.ClearedMemory(t, f.store.Record(f.target).Memory)
}

// An observe decided before a canary rollback lands saves after it: its compare-and-set loses, it
// reads again and must keep the rollback's known-bad mark and incident, or the incident's next alarm
// rolls back a second time.
func TestAnObserveThatLosesToARollbackKeepsTheRollbacksMemory(t *testing.T) {
	f := newFixture(t, 3, "2", map[string]float64{"3": 0.1})
	eng := f.engine(false)
	armed := true // Save runs on the engine's goroutine: no lock needed
	f.store.Before = func(target.Target, rollback.Record) error {
		if !armed {
			return nil
		}
		armed = false
		// The observe is about to save what it read: the alarm's rollback lands first.
		if res := eng.Do(t.Context(), f.target, alarm("inc1")); res.Code != rollback.CodeCanaryRemoved {
			t.Errorf("rollback: %+v", res)
		}
		return nil
	}
	obs := eng.Do(t.Context(), f.target, rollback.Request{Action: rollback.ActionObserve, Trigger: rollback.Trigger{By: rollback.BySchedule}})
	if armed || obs.Failed() || obs.Code != rollback.CodeUnchanged {
		t.Fatalf("late observe: %+v (the race ran: %v)", obs, !armed)
	}
	if m := f.store.Record(f.target).Memory; !m.IsBad("3") || m.Last == nil || m.Last.Incident != "inc1" {
		t.Fatalf("the late observe undid the rollback's memory: %+v", m)
	}
	writes := f.lam.Writes()
	if again := eng.Do(t.Context(), f.target, alarm("inc1")); again.Code != rollback.CodeRepeat || f.lam.Writes() != writes {
		t.Errorf("the incident's next alarm: %+v", again)
	}
}
