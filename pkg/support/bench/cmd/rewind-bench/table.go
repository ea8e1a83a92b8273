package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/bench"
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

// floorGoal is the goal on a decision's time over its floor: the time to the switch over
// 2·RTT + RTT_ddb (and, at large histories, (⌈N/500⌉ + 1)·RTT + RTT_ddb).
const floorGoal = 1.15

// oldFloorGoal is the goal the figures had before the memory moved into DynamoDB: the handler's
// time over 2·RTT.
const oldFloorGoal = 1.25

// floorName is BenchmarkFloor's sub-benchmark at a DynamoDB latency.
func floorName(ddb time.Duration, name string) string {
	return fmt.Sprintf("BenchmarkFloor/ddb=%dms/%s", ddb.Milliseconds(), name)
}

// latencies names the injected latencies of a floor figure.
func latencies(ddb time.Duration) string {
	return fmt.Sprintf("control plane %s, DynamoDB %s", msInt(latency), msInt(ddb))
}

func msInt(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// benchRows turns the Go benchmarks' medians into rows.
func benchRows(t *table, r results) {
	for _, c := range []struct {
		name, figure string
	}{
		{"BenchmarkRTT/op=GetStage/latency=50ms", "RTT: one GetStage at 50 ms injected latency (SDK over loopback HTTP, median)"},
		{"BenchmarkRTT/op=GetItem/latency=10ms", "RTT_ddb: one GetItem of a target's memory item (strongly consistent) at 10 ms injected latency (median)"},
		{"BenchmarkRTT/op=GetItem/latency=50ms", "RTT_ddb at 50 ms injected latency (median)"},
	} {
		if v, ok := r.median(c.name, "ns/op"); ok {
			t.add(c.figure, ms(nsD(v)), "", "")
		} else {
			t.notMeasured(c.figure, c.name+" did not run", "")
		}
	}
	goal := fmt.Sprintf("≤ %.2f × (2·RTT + RTT_ddb)", floorGoal)
	// floor adds the row of one decision: the time to the switch over the new floor, gated, with the
	// answer and the old figures (over 2·RTT) beside it.
	floor := func(ddb time.Duration, name, figure, goal string, gated bool) {
		bn := floorName(ddb, name)
		sw, ok1 := r.median(bn, "switch-ms")
		x, ok2 := r.median(bn, "x-floor")
		if !ok1 || !ok2 {
			t.notMeasured(figure, bn+" did not run", goal)
			return
		}
		ns, _ := r.median(bn, "ns/op")
		ax, _ := r.median(bn, "answer-x-floor")
		old, _ := r.median(bn, "x2RTT")
		oldW, _ := r.median(bn, "write-x2RTT")
		v := fmt.Sprintf("switch landed at %.1f ms = %.2f × (2·RTT + RTT_ddb); answer at %s = %.2f × (2·RTT + 2·RTT_ddb); old figure: answer %.2f × 2·RTT, switch %.2f × 2·RTT (old goal ≤ %.2f × 2·RTT: %s)",
			sw, x, ms(nsD(ns)), ax, old, oldW, oldFloorGoal, met(old <= oldFloorGoal))
		m := ""
		if gated {
			m = met(x <= floorGoal)
		}
		t.add(figure+", "+latencies(ddb), v, goal, m)
	}
	floor(memLatency, "history=10/alarm=no-ApiName", "Decision, history 10, alarm without ApiName (warm instance): time to the switch (UpdateStage answered)", goal, true)
	floor(memLatency, "history=500/alarm=no-ApiName", "Decision, history 500 (one full page), alarm without ApiName", goal, true)
	floor(memLatency, "history=10/alarm=ApiName/names=cached", "Decision, alarm with ApiName, name → id cached (within the 10 min TTL)", goal, true)
	floor(memLatency, "history=10/alarm=ApiName/names=expired", "Decision, alarm with ApiName, warm instance, cache older than its 10 min TTL", goal+" (no sequential round trip on a warm instance)", true)
	floor(memLatency, "history=10/alarm=ApiName/names=first-invocation", "Decision, alarm with ApiName, first invocation of an instance", "— (a cold instance must look the name up once)", false)
	floor(memLatency, "history=10/alarm=no-ApiName/notify=sns", "Decision with NOTIFY_TOPIC_ARN set (the template's default; SNS Publish at 50 ms after the memory is confirmed)", goal+" (the switch; the answer waits for SNS)", true)
	floor(memLatency, "history=10/alarm=no-ApiName/last-switch=within-1s", fmt.Sprintf("Decision within 1 s of Rewind's previous switch of the stage, which has changed since (every other row: that switch %s ago, bench.LastSwitchAge)", bench.LastSwitchAge),
		"— (by design the target is read again after the memory, to order the two reads: one more control-plane round trip)", false)
	floor(latency, "history=10/alarm=no-ApiName", "Decision, history 10, alarm without ApiName, DynamoDB as slow as the control plane", goal, true)
	floor(latency, "history=500/alarm=no-ApiName", "Decision, history 500, DynamoDB as slow as the control plane", goal, true)
	// The answer: the switch, then the confirmation and the audit entry together.
	for _, ddb := range []time.Duration{memLatency, latency} {
		bn := floorName(ddb, "history=10/alarm=no-ApiName")
		fig := "Answer (the switch, then the confirmation ∥ the audit entry: one more DynamoDB round trip), history 10, alarm without ApiName, " + latencies(ddb)
		ns, ok1 := r.median(bn, "ns/op")
		ax, ok2 := r.median(bn, "answer-x-floor")
		if !ok1 || !ok2 {
			t.notMeasured(fig, bn+" did not run", "")
			continue
		}
		sw, _ := r.median(bn, "switch-ms")
		t.add(fig, fmt.Sprintf("%s = %.2f × (2·RTT + 2·RTT_ddb), %.1f ms after the switch", ms(nsD(ns)), ax, float64(nsD(ns))/1e6-sw),
			"— (the switch has landed; floor 2·RTT + 2·RTT_ddb)", "")
	}

	// Scale.
	var calls, want, mem, times, server, allocs []string
	callsOK, memOK := len(histories) > 0, len(histories) > 0
	for _, n := range histories {
		name := fmt.Sprintf("BenchmarkScale/history=%d", n)
		c, ok := r.median(name, "cp-calls/op")
		if !ok {
			callsOK = false
			calls = append(calls, "?")
		} else {
			calls = append(calls, fmt.Sprint(c))
			callsOK = callsOK && int(c) == bench.Pages(n)+2
		}
		want = append(want, fmt.Sprint(bench.Pages(n)+2))
		g, ok1 := r.median(name, "ddb-GetItem/op")
		p, ok2 := r.median(name, "ddb-PutItem/op")
		all, ok3 := r.median(name, "ddb-calls/op")
		if !ok1 || !ok2 || !ok3 {
			memOK = false
			mem = append(mem, "?")
		} else {
			mem = append(mem, fmt.Sprintf("%g + %g", g, p))
			memOK = memOK && g == 1 && p == 3 && all == 4
		}
		ns, _ := r.median(name, "ns/op")
		times = append(times, ms(nsD(ns)))
		sv, _ := r.median(name, "ddb-server-ms/op")
		server = append(server, ms(time.Duration(sv*float64(time.Millisecond))))
		b, _ := r.median(name, "B/op")
		allocs = append(allocs, mb(b))
	}
	label := "history " + joinN(histories)
	t.add("Control-plane calls per decision, "+label, strings.Join(calls, " / "),
		"⌈N/500⌉ + 2 = "+strings.Join(want, " / "), met(callsOK))
	t.add("DynamoDB calls per rollback, GetItem + PutItem, "+label, strings.Join(mem, " / "),
		"1 + 3 (read the memory; claim, confirm, audit entry), and no other call", met(memOK))
	t5, ok5 := r.median("BenchmarkScale/history=5000", "ns/op")
	t50, ok50 := r.median("BenchmarkScale/history=50000", "ns/op")
	if ok5 && ok50 {
		growth := t50 / t5
		t.add("Handler time with no injected latency (Rewind's own work + loopback + the in-process local DynamoDB), "+label,
			strings.Join(times, " / ")+fmt.Sprintf(" (5,000 → 50,000: %.1f× for 10× the history); of which the local DynamoDB handling the calls: %s",
				growth, strings.Join(server, " / ")),
			"no quadratic step: < 20× for 10× (quadratic would be 100×)", met(growth < 20))
	} else {
		t.notMeasured("Handler time with no injected latency, "+label, "BenchmarkScale did not run", "")
	}
	var atLat []string
	atLatOK := true
	for _, n := range histories {
		bn := fmt.Sprintf("BenchmarkScaleAtLatency/history=%d", n)
		x, ok := r.median(bn, "write-x-floor")
		ax, _ := r.median(bn, "x-floor")
		ns, _ := r.median(bn, "ns/op")
		if !ok {
			atLat = append(atLat, "?")
			atLatOK = false
			continue
		}
		atLat = append(atLat, fmt.Sprintf("%s: switch %.2f×, answer %.2f×", ms(nsD(ns)), x, ax))
		atLatOK = atLatOK && x <= floorGoal
	}
	t.add("Decision at "+latencies(memLatency)+" over its floor: switch over (⌈N/500⌉ + 1)·RTT + RTT_ddb, answer over (⌈N/500⌉ + 1)·RTT + 2·RTT_ddb (pages are sequential; GetStage and GetItem ride along with the first), "+label,
		strings.Join(atLat, " / "), fmt.Sprintf("≤ %.2f × that floor (the switch)", floorGoal), met(atLatOK))
	d5, okd5 := r.median("BenchmarkDecideRollback/history=5000", "ns/deployment")
	d50, okd50 := r.median("BenchmarkDecideRollback/history=50000", "ns/deployment")
	n50, _ := r.median("BenchmarkDecideRollback/history=50000", "ns/op")
	if okd5 && okd50 {
		t.add("Pure decision (DecideRollback, worst-case memory), per deployment at 5,000 → 50,000",
			fmt.Sprintf("%.0f → %.0f ns (%s at 50,000)", d5, d50, ms(nsD(n50))),
			"no quadratic step: per-deployment cost grows < 5× for 10× the history (quadratic: 10×)", met(d50/d5 < 5))
	}
	t.add("Allocated per decision (benchmem B/op; the local gateway and DynamoDB allocate in the same process, and their garbage is counted too), "+label,
		strings.Join(allocs, " / "), "— (garbage; the peak is below)", "")
	if p, ok := r.median("BenchmarkPeakHeap/history=50000", "peak-heap-MiB"); ok {
		t.add("Peak heap above idle, one decision over 50,000, in-process (runtime/metrics /memory/classes/heap/objects:bytes sampled every 50 µs; the gateway and DynamoDB share the heap, so an upper bound)",
			fmt.Sprintf("%.1f MB", p*(1<<20)/1e6), "≤ 40 MB", met(p*(1<<20) <= 40e6))
	} else {
		t.notMeasured("Peak heap above idle at 50,000, in-process", "BenchmarkPeakHeap did not run", "≤ 40 MB")
	}
	discoveryRows(t, r)
}

func joinN(ns []int) string {
	var s []string
	for _, n := range ns {
		s = append(s, thousands(n))
	}
	return strings.Join(s, " / ")
}

func sizeRows(t *table, sizes map[string]int64, vs []variantSize, sh symbolShares) {
	for _, arch := range []string{"arm64", "amd64"} {
		fig := fmt.Sprintf("Binary size, linux/%s bootstrap with every strategy (make build: -tags lambda.norpc -trimpath -ldflags \"-s -w\")", arch)
		if s, ok := sizes[arch]; ok && s > 0 {
			t.add(fig, mb(float64(s)), "≤ 10 MB", met(s <= 10e6))
		} else {
			t.notMeasured(fig, "the build failed", "≤ 10 MB")
		}
	}
	restFig := "Binary size, linux/arm64, make build STRATEGIES=rest (REST stages, SNS notifications and the DynamoDB memory: the clients the core needs)"
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
	const coreFig = "Core (REST stage, notifications and memory: apigateway, sns and dynamodb clients), linux/arm64"
	delta := func(v variantSize, base int64) string {
		if v.err != nil {
			return v.err.Error()
		}
		if v.bytes == 0 {
			return "not built"
		}
		return fmt.Sprintf("%+.2f MB", float64(v.bytes-base)/1e6)
	}
	optional := []string{"apigatewayv2", "cloudfront", "lambda"}
	if core.err != nil || core.bytes == 0 {
		why := "the variant was not built"
		if core.err != nil {
			why = core.err.Error()
		}
		t.notMeasured(coreFig, why, "≤ 10 MB")
	} else {
		t.add(coreFig, mb(float64(core.bytes)), "≤ 10 MB", met(core.bytes <= 10e6))
		var extras []string
		for _, name := range optional {
			extras = append(extras, "+"+name+" "+delta(by["+"+name], core.bytes))
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

	// Every client's share, from the symbol table.
	const shareFig = "Each client's share of the linux/arm64 bootstrap (make build), from its symbol table: go tool nm -size of the same build with the symbol table kept, file-backed symbols summed by the package path in their name"
	if sh.symbols == 0 {
		t.notMeasured(shareFig, "the build with symbols or go tool nm failed", "")
		return
	}
	mbs := func(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }
	owners := []string{"dynamodb", "apigateway", "sns", "apigatewayv2", "cloudfront", "lambda", credentialChain}
	var parts []string
	var attributed int64
	for _, o := range owners {
		parts = append(parts, o+" "+mbs(sh.owners[o]))
	}
	var rewind int64
	for o, n := range sh.owners {
		attributed += n
		if strings.HasPrefix(o, "rewind ") {
			rewind += n
		}
	}
	check := "as large as make build's: -s -w dropped only the symbol table and DWARF"
	if !sh.strippedOK {
		check = fmt.Sprintf("**not make build's %s: did the sources change between the two builds?**", mbs(sh.strippedLd))
	}
	t.add(shareFig, fmt.Sprintf("%s; Rewind's own packages %s (pkg/memory %s). Symbols of these owners: %s of %s in all file-backed symbols; the binary's loaded sections %s (%s); the function table (runtime.pclntab) and closure metadata belong to no symbol",
		strings.Join(parts, "; "), mbs(rewind), mbs(sh.owners["rewind pkg/memory"]), mbs(attributed), mbs(sh.symbols), mbs(sh.loaded), check), "", "")

	// The DynamoDB client, which no variant can leave out: its symbols, and the whole-binary cost
	// that many symbol bytes stand for, at the ratio the optional strategies show between what they
	// add to make build (every strategy − STRATEGIES=rest: their clients and their Rewind packages)
	// and their symbols in the same binary.
	optSym := sh.owners["rewind pkg/rollback/httpstage"] + sh.owners["rewind pkg/rollback/lambdaalias"] + sh.owners["rewind pkg/rollback/cfbehavior"]
	for _, name := range optional {
		optSym += sh.owners[name]
	}
	ddb := sh.owners["dynamodb"] + sh.owners["rewind pkg/memory"]
	v := fmt.Sprintf("%s of symbols (service/dynamodb with its endpoint-discovery %s, pkg/memory %s)", mbs(ddb), mbs(sh.owners["dynamodb"]), mbs(sh.owners["rewind pkg/memory"]))
	if all, rest := sizes["arm64"], sizes["arm64 rest"]; all > rest && rest > 0 && optSym > 0 {
		ratio := float64(all-rest) / float64(optSym)
		v += fmt.Sprintf("; ≈ %s of the stripped binary (%.0f %% of make build's %s), at the ratio the optional strategies show between what they add to make build (every strategy − STRATEGIES=rest: %s) and their symbols (%s): %.2f×",
			mbs(int64(float64(ddb)*ratio)), 100*float64(ddb)*ratio/float64(all), mb(float64(all)), mbs(all-rest), mbs(optSym), ratio)
	}
	t.add("The DynamoDB client's (and Rewind's memory's) extra binary size, linux/arm64 (responder.Build always links it, so no variant can leave it out)", v, "", "")
}

func processRows(t *table, host string, colds []coldStart, inits map[string]time.Duration, big bigRun, side sideBySide, sideRTT, sideMemRTT time.Duration, r results) {
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
		// DynamoDB's client and Rewind's memory are always shown, however little they take.
		always := map[string]bool{"dynamodb": true, "rewind pkg/memory": true}
		var owners []owner
		for k, d := range inits {
			if k != "total" && k != rewindInit && (d >= 50*time.Microsecond || always[k]) {
				owners = append(owners, owner{k, d})
			}
		}
		for k := range always {
			if _, ok := inits[k]; !ok {
				owners = append(owners, owner{k, 0})
			}
		}
		sort.Slice(owners, func(i, j int) bool { return owners[i].d > owners[j].d })
		var parts []string
		for _, o := range owners {
			parts = append(parts, fmt.Sprintf("%s %.2f", o.name, float64(o.d)/float64(time.Millisecond)))
		}
		t.add("Package initialisation before main, by owner, ms (real bootstrap, GODEBUG=inittrace=1, median of 5 starts; each client's schemas and endpoints initialise whether or not TARGETS uses it; dynamodb includes service/internal/endpoint-discovery, which only it imports)",
			fmt.Sprintf("total %s, of which Rewind's own packages %s: %s", ms(inits["total"]), ms(inits[rewindInit]), strings.Join(parts, "; ")), "", "")
		memInit := "no init work (absent from inittrace)"
		if d, ok := inits["rewind pkg/memory"]; ok {
			memInit = ms(d)
		}
		ddbInit := "no init work (absent from inittrace)"
		if d, ok := inits["dynamodb"]; ok {
			ddbInit = fmt.Sprintf("%s = %.0f %% of all package init", ms(d), 100*float64(d)/float64(max(inits["total"], 1)))
		}
		t.add("The DynamoDB client's (and Rewind's memory's) extra cold start: their package init before main (GODEBUG=inittrace=1, median of 5 starts)",
			"service/dynamodb "+ddbInit+"; pkg/memory "+memInit, "", "")
	}
	if big.gcs > 0 {
		t.add("Peak heap of the real bootstrap deciding over 50,000 (its own process; GODEBUG=gctrace=1: largest heap at a GC start or end, and the last GC goal)",
			fmt.Sprintf("%.0f MB (goal after last GC %.0f MB; %d GCs)", big.gcPeakMB, big.gcLastGoalMB, big.gcs),
			"≤ 40 MB", met(max(big.gcPeakMB, big.gcLastGoalMB) <= 40))
		t.add("Peak RSS of that process (VmHWM; what Lambda reports as Max Memory Used), idle → after the decision",
			fmt.Sprintf("%.1f → %.1f MB", float64(big.rssIdleKB)/1000, float64(big.rssPeakKB)/1000), "", "")
		t.add("Control-plane calls the real bootstrap made for that decision", fmt.Sprint(big.calls),
			fmt.Sprint(bench.Pages(50000)+2), met(big.calls == bench.Pages(50000)+2))
		var ops []string
		total := 0
		for op, n := range big.memCalls {
			ops = append(ops, fmt.Sprintf("%s %d", op, n))
			total += n
		}
		sort.Strings(ops)
		t.add("DynamoDB calls the real bootstrap made for that decision", strings.Join(ops, ", "),
			"GetItem 1, PutItem 3", met(total == 4 && big.memCalls["GetItem"] == 1 && big.memCalls["PutItem"] == 3))
	} else {
		t.notMeasured("Peak heap of the real bootstrap deciding over 50,000", "the run failed", "≤ 40 MB")
	}

	label := fmt.Sprintf("at %s per control-plane call and %s per DynamoDB call, history 10", msInt(latency), msInt(memLatency))
	if sideRTT > 0 {
		t.add("Side by side: RTT in this run (one GetStage) / RTT_ddb (one GetItem)", ms(sideRTT)+" / "+ms(sideMemRTT), "", "")
	}
	inproc, okIn := r.median(floorName(memLatency, "history=10/alarm=no-ApiName"), "ns/op")
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
		t.add(fmt.Sprintf("AWS CLI v2 runbook at %s per call, history 10 (three processes in sequence; it keeps no memory, so makes no DynamoDB call; median of %d)", msInt(latency), len(side.cli)), ms(cli), "", "")
		x := float64(cli) / float64(medianD(side.warm))
		t.add("Speedup: runbook / Rewind warm (real bootstrap end to end)", fmt.Sprintf("%.1f×", x), "≥ 20×", met(x >= 20))
		if okIn {
			t.add("Speedup: runbook / Rewind handler (in-process benchmark, same latency)", fmt.Sprintf("%.1f×", float64(cli)/inproc), "≥ 20×", met(float64(cli)/inproc >= 20))
		}
		t.add("Speedup: runbook / Rewind cold (process start → answer)", fmt.Sprintf("%.1f×", float64(cli)/float64(medianD(side.cold))), "", "")
	}
}
