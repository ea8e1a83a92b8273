package lambdaalias_test

import (
	"fmt"
	"testing"

	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
)

// The loop guard, counted in the store: max automatic rollbacks within the hour succeed (a human
// publishing and deploying a newer version between them), the next is refused and moves nothing; a
// manual rollback is not limited; clear resets the guard.
func TestLoopGuardHoldsAtItsLimit(t *testing.T) {
	rollbacktest.Guard(t, func(t *testing.T, max int, _ *rollbacktest.Clock) rollbacktest.GuardRun {
		f := newFixture(t, max+3, "2", nil) // 1 the good version, 2..max+3 the releases
		version := func(i int) string { return fmt.Sprint(i + 1) }
		return rollbacktest.GuardRun{
			Engine: f.engineWith, Target: f.target, Store: f.store, Alarm: "errors",
			Good:    "1",
			Release: version,
			Forward: func(_ *testing.T, i int, deploy func(what, dep string)) {
				deploy("deploy "+version(i), version(i))
			},
			Writes: f.lam.Writes,
			Live:   func(t *testing.T) string { return f.alias(t).FunctionVersion },
			Cleared: func(t *testing.T) {
				if a := f.alias(t); a.FunctionVersion != "1" || a.Description != ownerDesc {
					t.Errorf("after clear: alias %+v", a)
				}
			},
		}
	}, 1, 3, 100)
}
