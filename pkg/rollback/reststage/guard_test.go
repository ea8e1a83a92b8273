package reststage_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
)

// The loop guard, counted in the store: max automatic rollbacks within the hour succeed (a human
// deploying a newer build between them), the next is refused and moves nothing; a manual rollback is
// not limited; clear resets the guard.
func TestLoopGuardHoldsAtItsLimit(t *testing.T) {
	for _, max := range []int{1, 3, 100} {
		t.Run(fmt.Sprintf("max=%d", max), func(t *testing.T) {
			f := newFixture(t, max+3) // d0 the good build, d1..d(max+2) the releases
			f.setLive(t, f.target, f.deps[1].ID)
			clk := newClock(base.Add(24 * time.Hour))
			eng := f.engine(rollback.Options{Guard: rollback.Guard{Max: max, Window: time.Hour}, Now: clk.Now})
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
				r.Trigger.Alarm = fmt.Sprintf("api 5xx #%d", i)
				return r
			}
			deploy := func(i int) {
				run(fmt.Sprintf("deploy d%d", i), manual(rollback.ActionDeploy, f.deps[i].ID), rollback.CodeDeployed)
			}

			for i := 1; i <= max; i++ {
				if i > 1 {
					deploy(i)
				}
				if res := run(fmt.Sprintf("alarm %d", i), autoRollback(i), rollback.CodeRolledBack); res.From != f.deps[i].ID || res.To != f.deps[0].ID {
					t.Fatalf("alarm %d: %s -> %s", i, res.From, res.To)
				}
			}
			if g := f.store.Record(f.target).Memory.Guard; len(g) != max {
				t.Errorf("guard counts %d rollbacks, want %d", len(g), max)
			}
			deploy(max + 1)
			writes := f.gw.Writes()
			res := run("the alarm past the limit", autoRollback(max+1), rollback.CodeLoopGuard)
			if res.Outcome != rollback.OutcomeFailed || f.gw.Writes() != writes || f.live(t).DeploymentID != f.deps[max+1].ID {
				t.Errorf("refused rollback: outcome %s, %d writes, live %s", res.Outcome, f.gw.Writes()-writes, f.live(t).DeploymentID)
			}
			if es := f.store.Entries(f.target); es[len(es)-1].Code != rollback.CodeLoopGuard {
				t.Errorf("the refusal is not in the audit log: %+v", es[len(es)-1])
			}

			// A human is not limited, and a human's rollback does not count.
			if res := run("manual rollback", manual(rollback.ActionRollback, ""), rollback.CodeRolledBack); res.To != f.deps[0].ID {
				t.Errorf("manual rollback went to %s", res.To)
			}
			deploy(max + 2)
			run("an alarm still past the limit", autoRollback(max+2), rollback.CodeLoopGuard)
			run("clear", manual(rollback.ActionClear, ""), rollback.CodeCleared)
			if res := run("the alarm after clear", autoRollback(max+3), rollback.CodeRolledBack); f.live(t).DeploymentID != f.deps[0].ID {
				t.Errorf("after clear: %+v, live %s", res, f.live(t).DeploymentID)
			}
		})
	}
}
