package reststage_test

import (
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/reststage"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// A dry run, the engine's or the request's, plans and never switches; the same plan decided again
// is answered quietly (not notified twice).
func TestDryRunPlansOnceAndNeverSwitches(t *testing.T) {
	rollbacktest.DryRun(t, func(t *testing.T) rollbacktest.DryRunTarget {
		f := newFixture(t, 3)
		return rollbacktest.DryRunTarget{Engine: f.engine, Target: f.target, Store: f.store, Alarm: alarm("inc1"), To: f.deps[1].ID,
			Untouched: func(t *testing.T) bool {
				return f.gw.Writes() == 0 && f.gw.CallCount("UpdateStage") == 0 && f.live(t).DeploymentID == f.deps[2].ID
			},
			Check: func(t *testing.T) {
				if m := f.store.Record(f.target).Memory; m.Planned == "" || len(m.Bad) != 0 || m.Last != nil {
					t.Errorf("a dry run marked something bad or recorded a change: %+v", m)
				}
			},
		}
	})
}

// A REST stage has no conditional write: Switch does not read first, and a plan already carried out
// (a retry after a lost answer) writes the same values again and is no error.
func TestSwitchOfAPlanAlreadyCarriedOutIsNoError(t *testing.T) {
	for _, c := range []struct {
		name   string
		stage  func(f *fixture) apigwlocal.StageSpec
		kind   rollback.ChangeKind
		wantTo int // index in deps
	}{
		{"rollback", func(f *fixture) apigwlocal.StageSpec {
			return apigwlocal.StageSpec{Name: "plain", DeploymentID: f.deps[2].ID}
		}, rollback.KindRollback, 1},
		{"canary rollback", func(f *fixture) apigwlocal.StageSpec {
			return apigwlocal.StageSpec{Name: "canaried", DeploymentID: f.deps[1].ID, Canary: &apigwlocal.Canary{DeploymentID: f.deps[2].ID, PercentTraffic: 20}}
		}, rollback.KindCanaryRollback, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 3)
			tg := f.addStage(t, c.stage(f))
			s := reststage.New(f.client)
			st, err := s.Read(t.Context(), tg, true)
			if err != nil {
				t.Fatal(err)
			}
			d := rollback.DecideRollback(tg, st, rollback.Trigger{By: rollback.ByManual, Now: base.Add(2 * time.Hour)})
			if d.Verdict != rollback.Act || d.Plan.Kind != c.kind {
				t.Fatalf("%+v", d)
			}
			for attempt := 1; attempt <= 2; attempt++ {
				if err := s.Switch(t.Context(), tg, d.Plan); err != nil {
					t.Fatalf("attempt %d: %v", attempt, err)
				}
				if got := f.stage(t, tg); got.DeploymentID != f.deps[c.wantTo].ID || got.Canary != nil {
					t.Errorf("attempt %d: live %s canary %+v", attempt, got.DeploymentID, got.Canary)
				}
			}
		})
	}
}
