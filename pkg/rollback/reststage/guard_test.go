package reststage_test

import (
	"fmt"
	"testing"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
)

// The loop guard, counted in the store: max automatic rollbacks within the hour succeed (a human
// deploying a newer build between them), the next is refused and moves nothing; a manual rollback is
// not limited; clear resets the guard.
func TestLoopGuardHoldsAtItsLimit(t *testing.T) {
	rollbacktest.Guard(t, func(t *testing.T, max int, _ *rollbacktest.Clock) rollbacktest.GuardRun {
		f := newFixture(t, max+3) // d0 the good build, d1..d(max+2) the releases
		f.setLive(t, f.target, f.deps[1].ID)
		return rollbacktest.GuardRun{
			Engine: f.engine, Target: f.target, Store: f.store, Alarm: "api 5xx",
			Good:    f.deps[0].ID,
			Release: func(i int) string { return f.deps[i].ID },
			Forward: func(_ *testing.T, i int, deploy func(what, dep string)) {
				deploy(fmt.Sprintf("deploy d%d", i), f.deps[i].ID)
			},
			Writes: f.gw.Writes,
			Live:   func(t *testing.T) string { return f.live(t).DeploymentID },
			Refusing: func(*testing.T) func(*testing.T, rollback.Result) {
				return func(t *testing.T, _ rollback.Result) {
					if es := f.store.Entries(f.target); es[len(es)-1].Code != rollback.CodeLoopGuard {
						t.Errorf("the refusal is not in the audit log: %+v", es[len(es)-1])
					}
				}
			},
		}
	}, 1, 3, 100)
}
