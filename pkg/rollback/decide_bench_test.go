package rollback_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// BenchmarkDecideRollback is the pure decision over histories of 10 to 50,000 deployments, in the
// worst shape Rewind's memory can have: a full timeline whose sightings are not in the history (each
// is looked up in vain) and a full known-bad list (checked for every candidate). ns/op over N shows
// whether any step grows faster than the history.
func BenchmarkDecideRollback(b *testing.B) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{10, 500, 5000, 50000} {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, uint64(n)))
			history := make([]rollback.Deployment, n)
			for i := range history {
				history[i] = rollback.Deployment{ID: fmt.Sprintf("%06x", r.IntN(1<<24)) + fmt.Sprint(i),
					CreatedDate: base.Add(time.Duration(i-n) * time.Minute), Description: "build"}
			}
			live := history[n-1].ID
			r.Shuffle(n, func(i, j int) { history[i], history[j] = history[j], history[i] }) // AWS lists in no order
			var mem rollback.Memory
			for i := range rollback.MaxBad {
				mem.Bad = append(mem.Bad, fmt.Sprintf("bad%03d", i))
			}
			for i := range rollback.MaxTimeline {
				mem.Timeline = append(mem.Timeline, rollback.Sighting{Deployment: fmt.Sprintf("gone%03d", i), Since: base.Add(-time.Duration(rollback.MaxTimeline-i) * time.Hour), How: rollback.HowObserved})
			}
			state := rollback.State{Live: live, History: history, Memory: mem, LastUpdated: base}
			t := target.Target{Kind: target.KindRESTStage, Resource: "a1b2c3d4e5", Slot: "prod"}
			tr := rollback.Trigger{By: "alarm", Alarm: "api-5xx", Incident: "inc", AlarmTime: base.Add(time.Hour), Now: base.Add(time.Hour),
				Guard: rollback.DefaultGuard}
			if d := rollback.DecideRollback(t, state, tr); d.Verdict != rollback.Act || d.Plan.Rule != rollback.RulePrevious {
				b.Fatalf("decision %v %s (%s), want a rollback by %s", d.Verdict, d.Plan.Rule, d.Reason, rollback.RulePrevious)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rollback.DecideRollback(t, state, tr)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/deployment")
		})
	}
}
