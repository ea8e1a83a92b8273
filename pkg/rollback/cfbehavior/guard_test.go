package cfbehavior_test

import (
	"testing"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
)

// The loop guard, counted in the store. CloudFront keeps no dated history, so every rollback goes to
// the pinned legacy origin and a human switches the behaviour back to the new origin between alarms.
// max automatic rollbacks within the hour succeed, the next is refused and moves nothing; a manual
// rollback is not limited; clear resets the guard.
func TestLoopGuardHoldsAtItsLimit(t *testing.T) {
	rollbacktest.Guard(t, func(t *testing.T, _ int, clk *rollbacktest.Clock) rollbacktest.GuardRun {
		f := newFixtureWith(t, clk.Now, nil) // the distribution's LastModifiedTime is by the same clock
		return rollbacktest.GuardRun{
			Engine: func(o rollback.Options) *rollback.Engine { return f.engine(nil, o) },
			Target: f.target, Store: f.store, Alarm: "users 5xx",
			Good:    legacy,
			Release: func(int) string { return fresh },
			Forward: func(t *testing.T, _ int, _ func(what, dep string)) { f.setOrigin(t, users, fresh) }, // a human, in the console
			Writes:  f.cf.Writes,
			Live:    func(t *testing.T) string { return f.view(t).Behaviors[users] },
			RolledBack: func(t *testing.T, i int, res rollback.Result) {
				if res.Rule != rollback.RuleFallback {
					t.Fatalf("alarm %d: %s -> %s (%s)", i, res.From, res.To, res.Rule)
				}
			},
			Refusing: func(t *testing.T) func(*testing.T, rollback.Result) {
				etag := f.view(t).ETag
				return func(t *testing.T, _ rollback.Result) {
					if v := f.view(t); v.ETag != etag {
						t.Errorf("refused rollback: the distribution has a new ETag (%s, was %s)", v.ETag, etag)
					}
				}
			},
			Cleared: func(t *testing.T) {
				if v := f.view(t); v.Comment != comment {
					t.Errorf("after clear: behaviour on %s, comment %q", v.Behaviors[users], v.Comment)
				}
			},
		}
	}, 1, 3, 100)
}
