package lambdaalias_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
)

// The loop guard, counted in the store: max automatic rollbacks within the hour succeed (a human
// publishing and deploying a newer version between them), the next is refused and moves nothing; a
// manual rollback is not limited; clear resets the guard.
func TestLoopGuardHoldsAtItsLimit(t *testing.T) {
	for _, max := range []int{1, 3, 100} {
		t.Run(fmt.Sprintf("max=%d", max), func(t *testing.T) {
			f := newFixture(t, max+3, "2", nil) // 1 the good version, 2..max+3 the releases
			version := func(i int) string { return fmt.Sprint(i + 1) }
			clk := newClock(base.Add(24 * time.Hour))
			eng := f.engineWith(rollback.Options{Guard: rollback.Guard{Max: max, Window: time.Hour}, Now: clk.Now})
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
				r.Trigger.Alarm = fmt.Sprintf("errors #%d", i)
				return r
			}
			deploy := func(i int) {
				run("deploy "+version(i), manual(rollback.ActionDeploy, version(i)), rollback.CodeDeployed)
			}

			for i := 1; i <= max; i++ {
				if i > 1 {
					deploy(i)
				}
				if res := run(fmt.Sprintf("alarm %d", i), autoRollback(i), rollback.CodeRolledBack); res.From != version(i) || res.To != "1" {
					t.Fatalf("alarm %d: %s -> %s", i, res.From, res.To)
				}
			}
			if g := f.store.Record(f.target).Memory.Guard; len(g) != max {
				t.Errorf("guard counts %d rollbacks, want %d", len(g), max)
			}
			deploy(max + 1)
			writes := f.lam.Writes()
			res := run("the alarm past the limit", autoRollback(max+1), rollback.CodeLoopGuard)
			if res.Outcome != rollback.OutcomeFailed || f.lam.Writes() != writes || f.alias(t).FunctionVersion != version(max+1) {
				t.Errorf("refused rollback: outcome %s, %d writes, alias on %s", res.Outcome, f.lam.Writes()-writes, f.alias(t).FunctionVersion)
			}

			// A human is not limited, and a human's rollback does not count.
			if res := run("manual rollback", manual(rollback.ActionRollback, ""), rollback.CodeRolledBack); res.To != "1" {
				t.Errorf("manual rollback went to %s", res.To)
			}
			deploy(max + 2)
			run("an alarm still past the limit", autoRollback(max+2), rollback.CodeLoopGuard)
			run("clear", manual(rollback.ActionClear, ""), rollback.CodeCleared)
			run("the alarm after clear", autoRollback(max+3), rollback.CodeRolledBack)
			if a := f.alias(t); a.FunctionVersion != "1" || a.Description != ownerDesc {
				t.Errorf("after clear: alias %+v", a)
			}
		})
	}
}
