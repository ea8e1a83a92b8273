package main

import "fmt"

// discoveryRows is BenchmarkDiscovery's row: one listing of 500 tagged stages at the injected
// latency, its GetResources calls against ⌈500/100⌉ sequential pages, and its time over that floor.
func discoveryRows(t *table, r results) {
	const name = "BenchmarkDiscovery"
	figure := "Discovery of 500 tagged REST stages (TARGETS rest:tag:rewind=protect, 1,000 stages in all), 50 ms per GetResources call: calls, time, over ⌈500/100⌉ · RTT"
	calls, ok1 := r.median(name, "calls/op")
	list, ok2 := r.median(name, "list-ms")
	x, ok3 := r.median(name, "x-floor")
	if !ok1 || !ok2 || !ok3 {
		t.notMeasured(figure, name+" did not run", "5 calls")
		return
	}
	t.add(figure, fmt.Sprintf("%g calls, %.0f ms = %.2f × the floor (a cold instance pays it once; a warm one in the background every 5 min)", calls, list, x),
		"5 calls, ≤ 1.2 × the floor", met(calls == 5 && x <= 1.2))
}
