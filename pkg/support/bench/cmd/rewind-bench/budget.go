package main

import "fmt"

// budgetRows are "observe budget held" (BenchmarkObserveBudget): a tick observing 500 stages behind
// the account's quota (10 rps, burst 40, just spent by a release), and an alarm decided by another
// instance during it, with the default budget and with none.
func budgetRows(t *table, r results) {
	const held, none = "BenchmarkObserveBudget/budget=2rps", "BenchmarkObserveBudget/budget=none"
	fig := fmt.Sprintf("Observe budget held: schedule tick over 500 stages at the default CONTROL_PLANE_BUDGET (2 rps) behind the account's quota (10 rps, burst 40, spent by a release just before), control plane %s: calls/s after the burst of 2; most calls in any 1 s; 429s", msInt(latency))
	rps, ok1 := r.median(held, "tick-rps")
	most, ok2 := r.median(held, "tick-max-calls-1s")
	thr, _ := r.median(held, "tick-429s")
	if !ok1 || !ok2 {
		t.notMeasured(fig, "BenchmarkObserveBudget did not run", "≤ 2 rps; ≤ 4 in any second (burst 2 + 2); no 429")
	} else {
		t.add(fig, fmt.Sprintf("%.2f rps; %.0f in 1 s; %.0f 429s", rps, most, thr), "≤ 2 rps; ≤ 4 in any second (burst 2 + 2); no 429",
			met(rps <= 2.05 && most <= 4 && thr == 0))
	}
	fig = "Alarm decided by another instance 1.5 s into that tick (alarm without ApiName, history 2), " + latencies(memLatency) + ": time, over the same alarm alone; its 429s"
	during, ok1 := r.median(held, "alarm-ms")
	x, ok2 := r.median(held, "alarm-x-alone")
	a429, _ := r.median(held, "alarm-429s")
	if !ok1 || !ok2 {
		t.notMeasured(fig, "BenchmarkObserveBudget did not run", fmt.Sprintf("≤ %.2f × alone; no 429", floorGoal))
	} else {
		t.add(fig, fmt.Sprintf("%.0f ms = %.2f × alone; %.0f 429s", during, x, a429), fmt.Sprintf("≤ %.2f × alone; no 429", floorGoal), met(x <= floorGoal && a429 == 0))
	}
	fig = "The same with no budget (what the schedule did before): the tick's calls/s and 429s; the alarm's time over alone and its 429s"
	nrps, ok1 := r.median(none, "tick-rps")
	nthr, _ := r.median(none, "tick-429s")
	nx, ok2 := r.median(none, "alarm-x-alone")
	na429, _ := r.median(none, "alarm-429s")
	nms, _ := r.median(none, "alarm-ms")
	if !ok1 || !ok2 {
		t.notMeasured(fig, "BenchmarkObserveBudget did not run", "")
	} else {
		t.add(fig, fmt.Sprintf("tick %.1f rps, %.0f 429s; alarm %.0f ms = %.2f × alone, %.0f 429s", nrps, nthr, nms, nx, na429), "— (the starvation the budget prevents)", "")
	}
}
