package cfbehavior_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/cfbehavior"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	cflocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudfront"
)

// A dry run, the engine's or the request's, plans and never switches; the same plan decided again
// is answered quietly (not notified twice).
func TestDryRunPlansOnceAndNeverSwitches(t *testing.T) {
	rollbacktest.DryRun(t, func(t *testing.T) rollbacktest.DryRunTarget {
		f := newFixture(t)
		before := f.view(t)
		return rollbacktest.DryRunTarget{Engine: func(o rollback.Options) *rollback.Engine { return f.engine(nil, o) },
			Target: f.target, Store: f.store, Alarm: alarm("00aa11bb22cc33dd"), To: legacy,
			Untouched: func(t *testing.T) bool {
				after := f.view(t)
				return f.cf.Writes() == 0 && f.cf.CallCount("UpdateDistribution") == 0 && after.ETag == before.ETag && after.Behaviors[users] == fresh && after.Comment == comment
			},
		}
	})
}

// Switch reads the configuration and writes with its ETag: a behaviour that no longer routes to the
// plan's From is left alone (ErrChanged), one already on its To is a plan carried out (no error, no
// write), and a distribution that keeps changing between read and write is ErrChanged.
func TestSwitchWritesOnlyOverWhatTheDecisionRead(t *testing.T) {
	const blue = "blue"
	for _, c := range []struct {
		name     string
		human    func(t *testing.T, f *fixture) cfbehavior.API // between Rewind's read and its switch; the client to switch with
		to       string                                        // the plan's To, "" as decided
		wantErr  error
		wantLive string
		says     string // what the error says
		updates  int    // UpdateDistribution calls the switch makes
	}{
		{"moved by a human since the read", func(t *testing.T, f *fixture) cfbehavior.API {
			f.setOrigin(t, users, blue)
			return f.client
		}, "", rollback.ErrChanged, blue, "now routes to " + blue, 0},
		{"already carried out (a retry after a lost answer)", func(t *testing.T, f *fixture) cfbehavior.API {
			f.setOrigin(t, users, legacy)
			return f.client
		}, "", nil, legacy, "", 0},
		{"changed between every read and write", func(t *testing.T, f *fixture) cfbehavior.API {
			return &racingClient{Client: f.client, races: 3, race: func() { f.cf.SetBehaviorOrigin(f.id, "/static/*", blue) }}
		}, "", rollback.ErrChanged, fresh, "kept changing", 3},
		{"the plan's origin is not in the distribution", func(t *testing.T, f *fixture) cfbehavior.API { return f.client },
			"gone-origin", rollback.ErrNotFound, fresh, "no origin gone-origin", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixtureWith(t, nil, func(s *cflocal.Spec) {
				s.Origins = append(s.Origins, cflocal.Origin{ID: blue, DomainName: "blue.luna.com"})
			})
			st, err := cfbehavior.New(f.client).Read(t.Context(), f.target, true)
			if err != nil {
				t.Fatal(err)
			}
			d := rollback.DecideRollback(f.target, st, rollback.Trigger{By: rollback.ByManual, Now: base.Add(time.Hour)})
			if d.Verdict != rollback.Act || d.Plan.From != fresh || d.Plan.To != legacy {
				t.Fatalf("%+v", d)
			}
			if c.to != "" {
				d.Plan.To = c.to
			}
			api := c.human(t, f)
			writes, updates, etag := f.cf.Writes(), f.cf.CallCount("UpdateDistribution"), f.view(t).ETag
			err = cfbehavior.New(api).Switch(t.Context(), f.target, d.Plan)
			if !errors.Is(err, c.wantErr) { // errors.Is(err, nil): err == nil
				t.Fatalf("Switch = %v, want %v", err, c.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), c.says) {
				t.Errorf("Switch = %v: does not say %q", err, c.says)
			}
			if f.cf.Writes() != writes || f.cf.CallCount("UpdateDistribution")-updates != c.updates || f.view(t).Behaviors[users] != c.wantLive {
				t.Errorf("writes %d, UpdateDistribution calls %d, behaviour on %s; want no write, %d calls, %s",
					f.cf.Writes()-writes, f.cf.CallCount("UpdateDistribution")-updates, f.view(t).Behaviors[users], c.updates, c.wantLive)
			}
			if c.updates == 0 && f.view(t).ETag != etag {
				t.Error("the distribution was written over")
			}
		})
	}
}
