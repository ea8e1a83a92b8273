package lambdaalias_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/lambdaalias"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

// A dry run, the engine's or the request's, plans and never switches; the same plan decided again
// is answered quietly (not notified twice).
func TestDryRunPlansOnceAndNeverSwitches(t *testing.T) {
	rollbacktest.DryRun(t, func(t *testing.T) rollbacktest.DryRunTarget {
		f := newFixture(t, 3, "", nil)
		before := f.alias(t)
		return rollbacktest.DryRunTarget{Engine: f.engineWith, Target: f.target, Store: f.store, Alarm: alarm("inc1"), To: "2",
			Untouched: func(t *testing.T) bool {
				a := f.alias(t)
				return f.lam.Writes() == 0 && f.lam.CallCount("UpdateAlias") == 0 && a.FunctionVersion == "3" && a.Description == ownerDesc && a.RevisionID == before.RevisionID
			},
		}
	})
}

// Switch reads the alias and writes with its RevisionId: an alias that no longer serves what the
// decision was made on is left alone (ErrChanged), one that already serves the plan is a plan
// carried out (no error, no write), and one that keeps changing between read and write is ErrChanged.
func TestSwitchWritesOnlyOverWhatTheDecisionRead(t *testing.T) {
	dropRouting := func(t *testing.T, f *fixture) {
		if _, err := f.client.UpdateAlias(t.Context(), &lambda.UpdateAliasInput{FunctionName: aws.String(fn), Name: aws.String("live"),
			RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}}); err != nil {
			t.Fatal(err)
		}
	}
	canary := map[string]float64{"3": 0.1}
	for _, c := range []struct {
		name     string
		live     string
		weights  map[string]float64
		human    func(t *testing.T, f *fixture) // between Rewind's read and its switch
		wantErr  error
		wantLive string
		says     string // what the error says the alias serves
		updates  int    // UpdateAlias calls the switch makes
	}{
		{"moved by a human since the read", "", nil, func(t *testing.T, f *fixture) { f.setLive(t, "1") }, rollback.ErrChanged, "1", "now serves version 1", 0},
		{"already carried out", "", nil, func(t *testing.T, f *fixture) { f.setLive(t, "2") }, nil, "2", "", 0},
		{"canary: moved by a human since the read", "2", canary, func(t *testing.T, f *fixture) { f.setLive(t, "1") }, rollback.ErrChanged, "1", "now serves version 1", 0},
		{"canary: routing already dropped", "2", canary, dropRouting, nil, "2", "", 0},
		{"changed between every read and write", "", nil, func(t *testing.T, f *fixture) {
			f.lam.InjectFault("UpdateAlias", awslocal.Fault{Status: 412, Times: 3})
		}, rollback.ErrChanged, "3", "kept changing", 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, 3, c.live, c.weights)
			s := lambdaalias.New(f.client)
			st, err := s.Read(t.Context(), f.target, true)
			if err != nil {
				t.Fatal(err)
			}
			d := rollback.DecideRollback(f.target, st, rollback.Trigger{By: rollback.ByManual, Now: base.Add(time.Hour)})
			if d.Verdict != rollback.Act || d.Plan.To != "2" {
				t.Fatalf("%+v", d)
			}
			c.human(t, f)
			writes, updates := f.lam.Writes(), f.lam.CallCount("UpdateAlias")
			err = s.Switch(t.Context(), f.target, d.Plan)
			if !errors.Is(err, c.wantErr) { // errors.Is(err, nil): err == nil
				t.Fatalf("Switch = %v, want %v", err, c.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), c.says) {
				t.Errorf("Switch = %v: does not say %q", err, c.says)
			}
			if f.lam.Writes() != writes || f.lam.CallCount("UpdateAlias")-updates != c.updates || f.alias(t).FunctionVersion != c.wantLive {
				t.Errorf("writes %d, UpdateAlias calls %d, alias on %s; want no write, %d calls, %s",
					f.lam.Writes()-writes, f.lam.CallCount("UpdateAlias")-updates, f.alias(t).FunctionVersion, c.updates, c.wantLive)
			}
		})
	}
}
