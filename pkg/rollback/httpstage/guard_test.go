package httpstage_test

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
		f := newFixture(t, max+3, false) // d0 the good build, d1..d(max+2) the releases
		f.setLive(t, f.deps[1].ID)
		return rollbacktest.GuardRun{
			Engine: func(o rollback.Options) *rollback.Engine { return f.engine(nil, o) },
			Target: f.target, Store: f.store, Alarm: "http 5xx",
			Good:    f.deps[0].ID,
			Release: func(i int) string { return f.deps[i].ID },
			Forward: func(_ *testing.T, i int, deploy func(what, dep string)) {
				deploy(fmt.Sprintf("deploy d%d", i), f.deps[i].ID)
			},
			Writes: f.gw.Writes,
			Live:   func(t *testing.T) string { return f.live(t).DeploymentID },
		}
	}, 1, 3, 100)
}
