package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/bench"
)

type row struct{ figure, value, goal, met string }

type table struct{ rows []row }

func (t *table) add(figure, value, goal, met string) {
	t.rows = append(t.rows, row{figure, value, goal, met})
}

// notMeasured adds a row for a figure that could not be measured, saying why.
func (t *table) notMeasured(figure, why, goal string) {
	t.add(figure, "not measured: "+why, goal, "not measured")
}

func (t *table) print(w io.Writer) {
	fmt.Fprintln(w, "| figure | value | goal | met? |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", cell(r.figure), cell(r.value), cell(r.goal), cell(r.met))
	}
}

func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
}

func nsD(ns float64) time.Duration { return time.Duration(ns) }

func mb(bytes float64) string { return fmt.Sprintf("%.1f MB", bytes/1e6) }

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

const floorGoal = 1.25

// benchRows turns the Go benchmarks' medians into rows.
func benchRows(t *table, r results) {
	rtt, okRTT := r.median("BenchmarkRTT", "ns/op")
	if okRTT {
		t.add(fmt.Sprintf("RTT: one GetStage at %s injected latency (SDK over loopback HTTP, median)", ms(latency)), ms(nsD(rtt)), "", "")
	} else {
		t.notMeasured("RTT: one GetStage at 50 ms injected latency", "BenchmarkRTT did not run", "")
	}
	floor := func(name, figure, goal string, gated bool) {
		ns, ok1 := r.median("BenchmarkFloor/"+name, "ns/op")
		x, ok2 := r.median("BenchmarkFloor/"+name, "x2RTT")
		wx, _ := r.median("BenchmarkFloor/"+name, "write-x2RTT")
		if !ok1 || !ok2 {
			t.notMeasured(figure, "BenchmarkFloor/"+name+" did not run", goal)
			return
		}
		v := fmt.Sprintf("%s = %.2f × 2·RTT (write answered at %.2f ×)", ms(nsD(ns)), x, wx)
		m := ""
		if gated {
			m = met(x <= floorGoal)
		}
		t.add(figure, v, goal, m)
	}
	goal := fmt.Sprintf("≤ %.2f × 2·RTT", floorGoal)
	floor("history=10/alarm=no-ApiName", "Decision, history 10, alarm without ApiName: handler time (warm instance)", goal, true)
	floor("history=500/alarm=no-ApiName", "Decision, history 500 (one full page), alarm without ApiName", goal, true)
	floor("history=10/alarm=ApiName/names=cached", "Decision, alarm with ApiName, name → id cached (within the 10 min TTL)", goal, true)
	floor("history=10/alarm=ApiName/names=expired", "Decision, alarm with ApiName, warm instance, cache older than its 10 min TTL", goal+" (no sequential round trip on a warm instance)", true)
	floor("history=10/alarm=ApiName/names=first-invocation", "Decision, alarm with ApiName, first invocation of an instance", "— (a cold instance must look the name up once)", false)
	floor("history=10/alarm=no-ApiName/notify=sns", "Decision with NOTIFY_TOPIC_ARN set (the template's default): SNS Publish at 50 ms after the write", goal, true)

	// Scale.
	var calls, want, times, allocs []string
	callsOK := len(histories) > 0
	for _, n := range histories {
		name := fmt.Sprintf("BenchmarkScale/history=%d", n)
		c, ok := r.median(name, "calls/op")
		if !ok {
			callsOK = false
			calls = append(calls, "?")
		} else {
			calls = append(calls, fmt.Sprint(c))
			callsOK = callsOK && int(c) == bench.Pages(n)+2
		}
		want = append(want, fmt.Sprint(bench.Pages(n)+2))
		ns, _ := r.median(name, "ns/op")
		times = append(times, ms(nsD(ns)))
		b, _ := r.median(name, "B/op")
		allocs = append(allocs, mb(b))
	}
	label := "history " + joinN(histories)
	t.add("Control-plane calls per decision, "+label, strings.Join(calls, " / "),
		"⌈N/500⌉ + 2 = "+strings.Join(want, " / "), met(callsOK))
	t5, ok5 := r.median("BenchmarkScale/history=5000", "ns/op")
	t50, ok50 := r.median("BenchmarkScale/history=50000", "ns/op")
	if ok5 && ok50 {
		growth := t50 / t5
		t.add("Handler time with no injected latency (Rewind's own work + loopback), "+label,
			strings.Join(times, " / ")+fmt.Sprintf(" (5,000 → 50,000: %.1f× for 10× the history)", growth),
			"no quadratic step: < 20× for 10× (quadratic would be 100×)", met(growth < 20))
	} else {
		t.notMeasured("Handler time with no injected latency, "+label, "BenchmarkScale did not run", "")
	}
	var atLat []string
	atLatOK := true
	for _, n := range histories {
		x, ok := r.median(fmt.Sprintf("BenchmarkScaleAtLatency/history=%d", n), "x-floor")
		ns, _ := r.median(fmt.Sprintf("BenchmarkScaleAtLatency/history=%d", n), "ns/op")
		if !ok {
			atLat = append(atLat, "?")
			atLatOK = false
			continue
		}
		atLat = append(atLat, fmt.Sprintf("%s = %.2f×", ms(nsD(ns)), x))
		atLatOK = atLatOK && x <= floorGoal
	}
	t.add("Handler time at 50 ms per call over its floor, (⌈N/500⌉ + 1) × RTT (pages are sequential; GetStage rides along), "+label,
		strings.Join(atLat, " / "), fmt.Sprintf("≤ %.2f × that floor", floorGoal), met(atLatOK))
	d5, okd5 := r.median("BenchmarkDecideRollback/history=5000", "ns/deployment")
	d50, okd50 := r.median("BenchmarkDecideRollback/history=50000", "ns/deployment")
	n50, _ := r.median("BenchmarkDecideRollback/history=50000", "ns/op")
	if okd5 && okd50 {
		t.add("Pure decision (DecideRollback, worst-case memory), per deployment at 5,000 → 50,000",
			fmt.Sprintf("%.0f → %.0f ns (%s at 50,000)", d5, d50, ms(nsD(n50))),
			"no quadratic step: per-deployment cost grows < 5× for 10× the history (quadratic: 10×)", met(d50/d5 < 5))
	}
	t.add("Allocated per decision (benchmem B/op), "+label, strings.Join(allocs, " / "), "— (garbage; the peak is below)", "")
	if p, ok := r.median("BenchmarkPeakHeap/history=50000", "peak-heap-MiB"); ok {
		t.add("Peak heap above idle, one decision over 50,000, in-process (runtime/metrics /memory/classes/heap/objects:bytes sampled every 50 µs; the gateway shares the heap, so an upper bound)",
			fmt.Sprintf("%.1f MB", p*(1<<20)/1e6), "≤ 40 MB", met(p*(1<<20) <= 40e6))
	} else {
		t.notMeasured("Peak heap above idle at 50,000, in-process", "BenchmarkPeakHeap did not run", "≤ 40 MB")
	}
}

func joinN(ns []int) string {
	var s []string
	for _, n := range ns {
		s = append(s, thousands(n))
	}
	return strings.Join(s, " / ")
}

func sizeRows(t *table, sizes map[string]int64, vs []variantSize) {
	for _, arch := range []string{"arm64", "amd64"} {
		fig := fmt.Sprintf("Binary size, linux/%s bootstrap with every strategy (make build: -tags lambda.norpc -trimpath -ldflags \"-s -w\")", arch)
		if s, ok := sizes[arch]; ok && s > 0 {
			t.add(fig, mb(float64(s)), "≤ 10 MB", met(s <= 10e6))
		} else {
			t.notMeasured(fig, "the build failed", "≤ 10 MB")
		}
	}
	restFig := "Binary size, linux/arm64, make build STRATEGIES=rest (REST stages and SNS notifications: the clients the core needs)"
	if s, ok := sizes["arm64 rest"]; ok && s > 0 {
		t.add(restFig, mb(float64(s)), "≤ 10 MB", met(s <= 10e6))
	} else {
		t.notMeasured(restFig, "the build failed", "≤ 10 MB")
	}
	by := map[string]variantSize{}
	for _, v := range vs {
		by[v.name] = v
	}
	core := by["core"]
	const coreFig = "Core (REST stage and notifications: apigateway and sns clients), linux/arm64"
	if core.err != nil || core.bytes == 0 {
		why := "the variant was not built"
		if core.err != nil {
			why = core.err.Error()
		}
		t.notMeasured(coreFig, why, "≤ 10 MB")
		return
	}
	t.add(coreFig, mb(float64(core.bytes)), "≤ 10 MB", met(core.bytes <= 10e6))
	delta := func(v variantSize, base int64) string {
		if v.err != nil {
			return v.err.Error()
		}
		if v.bytes == 0 {
			return "not built"
		}
		return fmt.Sprintf("%+.2f MB", float64(v.bytes-base)/1e6)
	}
	var extras []string
	for _, name := range []string{"+apigatewayv2", "+cloudfront", "+lambda"} {
		extras = append(extras, name+" "+delta(by[name], core.bytes))
	}
	t.add("What each extra client adds to the core, linux/arm64 (one variant binary each, the operations a strategy calls kept reachable)",
		strings.Join(extras, "; "), "", "")
	if all := by["all"]; all.err == nil && all.bytes > 0 {
		t.add("Core + every client (apigatewayv2, cloudfront, lambda), linux/arm64", mb(float64(all.bytes)), "≤ 10 MB (if every strategy is wired)", met(all.bytes <= 10e6))
	}
	if all, envAll := by["all"], by["all, aws.Config from the environment"]; all.bytes > 0 && envAll.err == nil && envAll.bytes > 0 {
		t.add("Core + every client with aws.Config from Lambda's environment instead of config.LoadDefaultConfig (whose credential chain links the STS, SSO, SSO OIDC and sign-in clients), linux/arm64",
			fmt.Sprintf("%s (%s)", mb(float64(envAll.bytes)), delta(envAll, all.bytes)), "≤ 10 MB", met(envAll.bytes <= 10e6))
	}
}

func processRows(t *table, host string, colds []coldStart, inits map[string]time.Duration, big bigRun, side sideBySide, sideRTT time.Duration, r results) {
	if len(colds) == 0 {
		t.notMeasured("Init: process start → first poll of the Runtime API", "no cold starts ran", "≤ 10 ms")
	} else {
		var init, first, warm, total []time.Duration
		for _, c := range colds {
			init = append(init, c.init)
			first = append(first, c.first)
			warm = append(warm, c.warm)
			total = append(total, c.toFirstAnswer)
		}
		n := len(colds)
		t.add(fmt.Sprintf("Init: process start → first poll of the Runtime API (linux/%s bootstrap, median / p90 of %d)", host, n),
			ms(medianD(init))+" / "+ms(p90(init)), "≤ 10 ms", met(medianD(init) <= 10*time.Millisecond))
		t.add("First invocation: event handed out → answer, history 10, no injected latency (median / p90)",
			ms(medianD(first))+" / "+ms(p90(first)), "", "")
		t.add("Process start → first answer (init + first invocation), no injected latency (median / p90)",
			ms(medianD(total))+" / "+ms(p90(total)), "", "")
		t.add("Second (warm) invocation, no injected latency (median / p90)", ms(medianD(warm))+" / "+ms(p90(warm)), "", "")
	}
	if len(inits) > 0 {
		type owner struct {
			name string
			d    time.Duration
		}
		var owners []owner
		for k, d := range inits {
			if k != "total" && k != rewindInit && d >= 50*time.Microsecond {
				owners = append(owners, owner{k, d})
			}
		}
		sort.Slice(owners, func(i, j int) bool { return owners[i].d > owners[j].d })
		var parts []string
		for _, o := range owners {
			parts = append(parts, fmt.Sprintf("%s %.2f", o.name, float64(o.d)/float64(time.Millisecond)))
		}
		t.add("Package initialisation before main, by owner, ms (real bootstrap, GODEBUG=inittrace=1, median of 5 starts; each client's schemas and endpoints initialise whether or not TARGETS uses it)",
			fmt.Sprintf("total %s, of which Rewind's own packages %s: %s", ms(inits["total"]), ms(inits[rewindInit]), strings.Join(parts, "; ")), "", "")
	}
	if big.gcs > 0 {
		t.add("Peak heap of the real bootstrap deciding over 50,000 (its own process; GODEBUG=gctrace=1: largest heap at a GC start or end, and the last GC goal)",
			fmt.Sprintf("%.0f MB (goal after last GC %.0f MB; %d GCs)", big.gcPeakMB, big.gcLastGoalMB, big.gcs),
			"≤ 40 MB", met(max(big.gcPeakMB, big.gcLastGoalMB) <= 40))
		t.add("Peak RSS of that process (VmHWM; what Lambda reports as Max Memory Used), idle → after the decision",
			fmt.Sprintf("%.1f → %.1f MB", float64(big.rssIdleKB)/1000, float64(big.rssPeakKB)/1000), "", "")
		t.add("Control-plane calls the real bootstrap made for that decision", fmt.Sprint(big.calls),
			fmt.Sprint(bench.Pages(50000)+2), met(big.calls == bench.Pages(50000)+2))
	} else {
		t.notMeasured("Peak heap of the real bootstrap deciding over 50,000", "the run failed", "≤ 40 MB")
	}

	label := fmt.Sprintf("at %s per call, history 10", ms(latency))
	if sideRTT > 0 {
		t.add("Side by side: RTT in this run (one GetStage)", ms(sideRTT), "", "")
	}
	inproc, okIn := r.median("BenchmarkFloor/history=10/alarm=no-ApiName", "ns/op")
	if len(side.warm) > 0 {
		t.add(fmt.Sprintf("Rewind, warm: real bootstrap, event handed out → answer %s (median of %d)", label, len(side.warm)),
			ms(medianD(side.warm)), "", "")
		t.add("Rewind, cold: process start → answer (median)", ms(medianD(side.cold))+fmt.Sprintf(" (of which the invocation %s)", ms(medianD(side.coldInvoke))), "", "")
	}
	switch {
	case side.cliPath == "":
		t.notMeasured("AWS CLI v2 runbook (get-stage, get-deployments, update-stage: three processes in sequence)",
			"AWS CLI v2 not found; install: "+installCLI, "")
		t.notMeasured("Speedup: runbook / Rewind warm", "no AWS CLI v2", "≥ 20×")
	case len(side.cli) == 0 || len(side.warm) == 0:
		t.notMeasured("AWS CLI v2 runbook", "the side-by-side run failed", "")
	default:
		cli := medianD(side.cli)
		t.add(fmt.Sprintf("AWS CLI v2 runbook %s (three processes in sequence, median of %d)", label, len(side.cli)), ms(cli), "", "")
		x := float64(cli) / float64(medianD(side.warm))
		t.add("Speedup: runbook / Rewind warm (real bootstrap end to end)", fmt.Sprintf("%.1f×", x), "≥ 20×", met(x >= 20))
		if okIn {
			t.add("Speedup: runbook / Rewind handler (in-process benchmark, same latency)", fmt.Sprintf("%.1f×", float64(cli)/inproc), "≥ 20×", met(float64(cli)/inproc >= 20))
		}
		t.add("Speedup: runbook / Rewind cold (process start → answer)", fmt.Sprintf("%.1f×", float64(cli)/float64(medianD(side.cold))), "", "")
	}
}
