package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/bench"
	"github.com/rewind-sre/rewind/pkg/target"
)

// TestWorldRollsBackWithItsMemory checks what the benchmarks rely on: one World endpoint serves the
// gateway and Rewind's memory table, a rollback makes ⌈N/500⌉+2 control-plane calls and GetItem 1,
// PutItem 3 DynamoDB calls, leaves a memory item, and each service's latency holds its own calls.
func TestWorldRollsBackWithItsMemory(t *testing.T) {
	w, err := bench.NewWorld(10, false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	h, err := w.Handler(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the first decision writes the memory item, the second overwrites it
		if err := w.Reset(); err != nil {
			t.Fatal(err)
		}
		w.GW.ResetCalls()
		before := w.MemoryCalls()
		ctx, cancel := bench.InvokeContext()
		out, err := h.Handle(ctx, bench.AlarmEvent(i+1, ""))
		cancel()
		if err := w.CheckRolledBack(out, err); err != nil {
			t.Fatal(err)
		}
		if got, want := len(w.GW.Calls()), bench.Pages(10)+2; got != want {
			t.Errorf("decision %d: %d control-plane calls, want %d", i, got, want)
		}
		after := w.MemoryCalls()
		for op, want := range map[string]int{"GetItem": 1, "PutItem": 3} {
			if got := after[op] - before[op]; got != want {
				t.Errorf("decision %d: %d DynamoDB %s calls, want %d", i, got, op, want)
			}
		}
	}
	item, ok := w.MemoryItem(w.Target)
	if !ok {
		t.Fatal("no memory item after a rollback")
	}
	size, err := bench.ItemSize(item)
	if err != nil || size < 100 {
		t.Fatalf("memory item of %d bytes (%v): %v", size, err, item)
	}

	const d = 40 * time.Millisecond
	w.SetMemoryLatency(d)
	c := w.DynamoDB()
	pk, sk := bench.MemoryKey(w.Target)
	in := &dynamodb.GetItemInput{TableName: aws.String(bench.MemoryTable),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}}
	start := time.Now()
	if _, err := c.GetItem(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < d {
		t.Errorf("GetItem took %s with %s of memory latency", took, d)
	}
	start = time.Now()
	if w.Live(); time.Since(start) > d/2 {
		t.Error("the gateway was slowed by the memory latency")
	}
	w.SetMemoryLatency(0)
}

// TestItemSize checks the count against DynamoDB's documented rules on a small item.
func TestItemSize(t *testing.T) {
	item := map[string]any{
		"pk":      map[string]any{"S": "target#a/b"},                                     // 2 + 10
		"version": map[string]any{"N": "120"},                                            // 7 + (2+1)/2+1 = 2
		"ok":      map[string]any{"BOOL": true},                                          // 2 + 1
		"l":       map[string]any{"L": []any{map[string]any{"S": "abc"}}},                // 1 + 3 + 1 + 3
		"m":       map[string]any{"M": map[string]any{"k": map[string]any{"N": "-0.5"}}}, // 1 + 3 + 1 + 1 + 2
	}
	got, err := bench.ItemSize(item)
	if want := 12 + 9 + 3 + 8 + 8; err != nil || got != want {
		t.Fatalf("ItemSize = %d, %v; want %d", got, err, want)
	}
}

// TestBoundedMemoryFits saves the largest record Rewind writes and checks it is stored whole.
func TestBoundedMemoryFits(t *testing.T) {
	w, err := bench.NewWorld(2, false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i, claim := range []bool{false, true} {
		tg := target.Target{Kind: target.KindRESTStage, Resource: "bound" + string(rune('a'+i)), Slot: bench.StageName}
		size, err := w.MemoryItemSize(context.Background(), tg, bench.BoundedRecord(claim))
		if err != nil {
			t.Fatal(err)
		}
		if size <= 0 || size > bench.MaxItemBytes {
			t.Fatalf("claim %v: %d bytes", claim, size)
		}
		rec := bench.BoundedRecord(claim)
		if len(rec.Memory.Bad) != rollback.MaxBad || len(rec.Memory.Incidents) != rollback.MaxIncidents ||
			len(rec.Memory.Timeline) != rollback.MaxTimeline || len(rec.Memory.Guard) != rollback.MaxGuard {
			t.Fatal("BoundedRecord is not at the bounds")
		}
	}
}
