package cfbehavior_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
)

// The loop guard, counted in the store. CloudFront keeps no dated history, so every rollback goes to
// the pinned legacy origin and a human switches the behaviour back to the new origin between alarms.
// max automatic rollbacks within the hour succeed, the next is refused and moves nothing; a manual
// rollback is not limited; clear resets the guard.
func TestLoopGuardHoldsAtItsLimit(t *testing.T) {
	for _, max := range []int{1, 3, 100} {
		t.Run(fmt.Sprintf("max=%d", max), func(t *testing.T) {
			clk := newClock(base.Add(24 * time.Hour))
			f := newFixtureWith(t, clk.Now, nil) // the distribution's LastModifiedTime is by the same clock
			eng := f.engine(nil, rollback.Options{Guard: rollback.Guard{Max: max, Window: time.Hour}, Now: clk.Now})
			run := func(what string, req rollback.Request, want rollback.Code) rollback.Result {
				t.Helper()
				res := do(eng, clk, f.target, req)
				if res.Code != want {
					t.Fatalf("%s: code %s, want %s: %+v", what, res.Code, want, res)
				}
				return res
			}
			autoRollback := func(i int) rollback.Request {
				r := alarm(fmt.Sprintf("inc-%03d", i))
				r.Trigger.Alarm = fmt.Sprintf("users 5xx #%d", i)
				return r
			}
			backToFresh := func() { f.setOrigin(t, users, fresh) } // a human, in the console

			for i := 1; i <= max; i++ {
				if i > 1 {
					backToFresh()
				}
				if res := run(fmt.Sprintf("alarm %d", i), autoRollback(i), rollback.CodeRolledBack); res.From != fresh || res.To != legacy || res.Rule != rollback.RuleFallback {
					t.Fatalf("alarm %d: %s -> %s (%s)", i, res.From, res.To, res.Rule)
				}
			}
			if g := f.store.Record(f.target).Memory.Guard; len(g) != max {
				t.Errorf("guard counts %d rollbacks, want %d", len(g), max)
			}
			backToFresh()
			writes, etag := f.cf.Writes(), f.view(t).ETag
			res := run("the alarm past the limit", autoRollback(max+1), rollback.CodeLoopGuard)
			if v := f.view(t); res.Outcome != rollback.OutcomeFailed || f.cf.Writes() != writes || v.ETag != etag || v.Behaviors[users] != fresh {
				t.Errorf("refused rollback: outcome %s, %d writes, behaviour on %s", res.Outcome, f.cf.Writes()-writes, v.Behaviors[users])
			}

			// A human is not limited, and a human's rollback does not count.
			if res := run("manual rollback", manual(rollback.ActionRollback, ""), rollback.CodeRolledBack); res.To != legacy {
				t.Errorf("manual rollback went to %s", res.To)
			}
			backToFresh()
			run("an alarm still past the limit", autoRollback(max+2), rollback.CodeLoopGuard)
			run("clear", manual(rollback.ActionClear, ""), rollback.CodeCleared)
			run("the alarm after clear", autoRollback(max+3), rollback.CodeRolledBack)
			if v := f.view(t); v.Behaviors[users] != legacy || v.Comment != comment {
				t.Errorf("after clear: behaviour on %s, comment %q", v.Behaviors[users], v.Comment)
			}
		})
	}
}
