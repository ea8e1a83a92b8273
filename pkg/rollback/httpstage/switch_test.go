package httpstage_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/httpstage"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
)

// A dry run, the engine's or the request's, plans and never switches; the same plan decided again
// is answered quietly (not notified twice).
func TestDryRunPlansOnceAndNeverSwitches(t *testing.T) {
	rollbacktest.DryRun(t, func(t *testing.T) rollbacktest.DryRunTarget {
		f := newFixture(t, 3, false)
		return rollbacktest.DryRunTarget{Engine: func(o rollback.Options) *rollback.Engine { return f.engine(nil, o) },
			Target: f.target, Store: f.store, Alarm: alarm("inc1"), To: f.deps[1].ID,
			Untouched: func(t *testing.T) bool {
				return f.gw.Writes() == 0 && f.gw.CallCount("UpdateStage") == 0 && f.live(t).DeploymentID == f.deps[2].ID
			},
		}
	})
}

// Switch reads the stage before it writes: one that no longer serves the plan's From is left alone
// (ErrChanged), and one that already serves its To is a plan carried out (no error, no write).
func TestSwitchWritesOnlyOverWhatTheDecisionRead(t *testing.T) {
	for _, c := range []struct {
		name    string
		human   int // the deployment (index) a human points the stage at after Rewind's read
		wantErr error
	}{
		{"moved by a human since the read", 0, rollback.ErrChanged},
		{"already carried out (a retry after a lost answer)", 1, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 3, false)
			s := httpstage.New(f.client)
			st, err := s.Read(t.Context(), f.target, true)
			if err != nil {
				t.Fatal(err)
			}
			d := rollback.DecideRollback(f.target, st, rollback.Trigger{By: rollback.ByManual, Now: base.Add(time.Hour)})
			if d.Verdict != rollback.Act || d.Plan.From != f.deps[2].ID || d.Plan.To != f.deps[1].ID {
				t.Fatalf("%+v", d)
			}
			f.setLive(t, f.deps[c.human].ID)
			err = s.Switch(t.Context(), f.target, d.Plan)
			if !errors.Is(err, c.wantErr) { // errors.Is(err, nil): err == nil
				t.Fatalf("Switch = %v, want %v", err, c.wantErr)
			}
			if c.wantErr != nil && !strings.Contains(err.Error(), "now serves "+f.deps[c.human].ID) {
				t.Errorf("Switch = %v: does not say what the stage serves", err)
			}
			if f.gw.Writes() != 0 || f.gw.CallCount("UpdateStage") != 0 || f.live(t).DeploymentID != f.deps[c.human].ID {
				t.Error("the stage was written over")
			}
		})
	}
}

// Through the engine: the stage moved between Rewind's read and its switch, so nothing is written
// over it, and the decision is made again on what is live now.
func TestAStageMovedDuringTheSwitchIsDecidedAgain(t *testing.T) {
	f := newFixture(t, 4, false)
	// The engine's Read is the first GetStage, the Switch's re-read the second.
	api := &racingAPI{API: f.client, n: 2, race: func() { f.gw.SetDeployment(f.target.Resource, f.target.Slot, f.deps[1].ID) }}
	res := f.engine(api, rollback.Options{}).Do(t.Context(), f.target, manual(rollback.ActionRollback, ""))
	if res.Outcome != rollback.OutcomeRolledBack || res.From != f.deps[1].ID || res.To != f.deps[0].ID {
		t.Fatalf("%+v, want %s -> %s", res, f.deps[1].ID, f.deps[0].ID)
	}
	if f.gw.Writes() != 1 || f.live(t).DeploymentID != f.deps[0].ID {
		t.Errorf("writes %d, live %s", f.gw.Writes(), f.live(t).DeploymentID)
	}
	r := f.store.Record(f.target)
	if r.Claim != nil || !r.Memory.IsBad(f.deps[1].ID) || r.Memory.IsBad(f.deps[3].ID) {
		t.Errorf("record %+v: want no open claim, only what was really rolled back from marked bad", r)
	}
}
