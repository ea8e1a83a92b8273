package main

import (
	"context"
	"fmt"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/bench"
	"github.com/rewind-sre/rewind/pkg/target"
)

// manyRollbacks is how many alarm rollbacks of one stage fill every list an alarm adds to.
const manyRollbacks = 150

// memSizes are sizes of one target's memory item, in bytes as DynamoDB counts them.
type memSizes struct {
	afterOne, afterMany int // after one alarm rollback, after manyRollbacks
	bound, boundClaim   int // BoundedRecord without and with its claim
}

// memorySizes rolls a fresh stage of w back by alarm manyRollbacks times through responder.Build's
// handler (no injected latency) and reads its memory item from the local DynamoDB after the first
// and the last; then saves the bounded records with pkg/memory and reads theirs.
func memorySizes(ctx context.Context, w *bench.World, seq *int) (memSizes, error) {
	var m memSizes
	if err := w.AddAPI(10); err != nil {
		return m, err
	}
	h, err := w.Handler(nil, nil)
	if err != nil {
		return m, err
	}
	for i := 1; i <= manyRollbacks; i++ {
		if err := w.Reset(); err != nil {
			return m, err
		}
		*seq++
		ictx, cancel := bench.InvokeContext()
		out, err := h.Handle(ictx, bench.AlarmEvent(*seq, ""))
		cancel()
		if err := w.CheckRolledBack(out, err); err != nil {
			return m, fmt.Errorf("rollback %d: %w", i, err)
		}
		item, ok := w.MemoryItem(w.Target)
		if !ok {
			return m, fmt.Errorf("rollback %d: no memory item for %s", i, w.Target)
		}
		n, err := bench.ItemSize(item)
		if err != nil {
			return m, err
		}
		if i == 1 {
			m.afterOne = n
		}
		m.afterMany = n
	}
	for i, claim := range []bool{false, true} {
		t := target.Target{Kind: target.KindRESTStage, Resource: fmt.Sprintf("zzbound%03d", i), Slot: bench.StageName} // 10 characters, as API ids
		n, err := w.MemoryItemSize(ctx, t, bench.BoundedRecord(claim))
		if err != nil {
			return m, fmt.Errorf("the bounded record (claim %v): %w", claim, err)
		}
		if claim {
			m.boundClaim = n
		} else {
			m.bound = n
		}
	}
	return m, nil
}

func memoryRows(t *table, m memSizes) {
	goal := fmt.Sprintf("≤ 400 KB (%s bytes: DynamoDB's item limit)", thousands(bench.MaxItemBytes))
	size := func(n int) string {
		return fmt.Sprintf("%s bytes (%.1f KB, %.1f %% of the limit)", thousands(n), float64(n)/1024, 100*float64(n)/bench.MaxItemBytes)
	}
	if m.afterOne == 0 {
		t.notMeasured("Memory per target: its item in the memory table", "the rollbacks did not run", goal)
		return
	}
	t.add("Memory per target: its item in the memory table after one alarm rollback (bytes as DynamoDB counts them: attribute names + values)",
		size(m.afterOne), goal, met(m.afterOne <= bench.MaxItemBytes))
	t.add(fmt.Sprintf("Memory per target after %d alarm rollbacks of one stage (incidents, timeline and loop guard at their bound of %d)", manyRollbacks, rollback.MaxIncidents),
		size(m.afterMany), goal, met(m.afterMany <= bench.MaxItemBytes))
	if m.bound > 0 {
		t.add(fmt.Sprintf("Memory per target at its bounds: MaxBad %d, MaxIncidents %d, MaxTimeline %d, MaxGuard %d all full, last change and plan, 6-character deployment ids, a 255-character alarm name",
			rollback.MaxBad, rollback.MaxIncidents, rollback.MaxTimeline, rollback.MaxGuard), size(m.bound), goal, met(m.bound <= bench.MaxItemBytes))
	}
	if m.boundClaim > 0 {
		t.add("Memory per target at its bounds with an open claim (written before the switch; the claim carries the memory to record, so the item is its largest)",
			size(m.boundClaim), goal, met(m.boundClaim <= bench.MaxItemBytes))
	}
}
