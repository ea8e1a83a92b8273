// Command rewind-bench is `make bench`: it runs the Go benchmarks (pkg/support/bench and every package with
// benchmarks, -count 6, summarized with benchstat), builds the Lambda bootstrap for arm64 and amd64
// as the Makefile does, prices each AWS client (extra clients by variant builds, every client by the
// bootstrap's symbol table), measures the real bootstrap's cold start and memory against a local
// Lambda Runtime API, API Gateway and DynamoDB, measures the size of one target's memory item, runs
// the AWS CLI runbook side by side with Rewind at the same latency, and prints one markdown table:
// figure, value, goal, met.
//
// Nothing here is a test: figures are reported, goals are compared, and the only checks are that
// each rollback measured really happened (the stage moved, with the expected calls).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewind-sre/rewind/pkg/support/bench"
)

// latency is what every control-plane call is made to take, here and in pkg/support/bench's benchmarks.
const latency = 50 * time.Millisecond

// memLatency is what every DynamoDB call is made to take, here and in pkg/support/bench's main figures
// (which also run DynamoDB at latency, as slow as the control plane).
const memLatency = 10 * time.Millisecond

// histories are the sizes the issue asks about.
var histories = []int{10, 500, 5000, 50000}

func main() {
	count := flag.Int("count", 6, "go test -count for every benchmark")
	coldReps := flag.Int("cold", 20, "bootstrap cold starts to measure")
	sideReps := flag.Int("side", 5, "runbook and Rewind runs side by side")
	quick := flag.Bool("quick", false, "count 1, 3 cold starts, 2 side by side: to check the harness, not to quote")
	keep := flag.Bool("keep", false, "keep the work directory (raw benchmark output, binaries)")
	skipGo := flag.Bool("skip-go", false, "skip the Go benchmarks (process-level figures only)")
	bootstrap := flag.String("bootstrap", "", "run this linux bootstrap for the process-level figures instead of the one built here (to measure a change)")
	flag.Parse()
	if *quick {
		*count, *coldReps, *sideReps = 1, 3, 2
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	root, err := repoRoot()
	if err != nil {
		fatal(err)
	}
	work, err := os.MkdirTemp("", "rewind-bench-")
	if err != nil {
		fatal(err)
	}
	if *keep {
		progress("work directory: %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	home := filepath.Join(work, "home")
	_ = os.MkdirAll(home, 0o755)

	t := &table{}
	failed := false
	note := func(err error) {
		if err != nil {
			failed = true
			progress("ERROR: %v", err)
		}
	}

	// 1. Go benchmarks.
	res := results{}
	if !*skipGo {
		progress("== Go benchmarks (-count %d): about 5 minutes on 2 cores", *count)
		rawFile := filepath.Join(work, "bench.txt")
		rawOut, err := os.Create(rawFile)
		if err != nil {
			fatal(err)
		}
		raw, err := runGoBenches(ctx, root, *count, rawOut)
		rawOut.Close()
		note(err)
		res = parseBench(raw)
		summary, err := benchstat(ctx, root, rawFile)
		if err != nil {
			summary = "benchstat did not run (" + err.Error() + "); raw output:\n\n" + string(raw)
		}
		fmt.Printf("## Go benchmarks (go test -count %d, summarized by benchstat)\n\n```\n%s```\n\n", *count, summary)
		benchRows(t, res)
		budgetRows(t, res)
	}

	// 2. Builds.
	progress("== builds")
	host := "amd64"
	if runtime.GOARCH == "arm64" {
		host = "arm64"
	}
	bins := map[string]string{}
	if *bootstrap == "" {
		for _, arch := range []string{"arm64", "amd64"} {
			bin, err := buildBootstrap(ctx, root, filepath.Join(work, "bin-"+arch), arch, "all")
			note(err)
			bins[arch] = bin
		}
		sizes := map[string]int64{}
		for arch, bin := range bins {
			if bin != "" {
				sizes[arch] = fileSize(bin)
			}
		}
		if bin, err := buildBootstrap(ctx, root, filepath.Join(work, "bin-arm64-rest"), "arm64", "rest"); err == nil {
			sizes["arm64 rest"] = fileSize(bin)
		} else {
			note(err)
		}
		variantSizes := buildVariants(ctx, root, filepath.Join(work, "variants"), "arm64")
		var shares symbolShares
		if bins["arm64"] != "" {
			progress("== each client's share of the linux/arm64 bootstrap, from its symbol table (go tool nm -size)")
			shares, err = priceBySymbols(ctx, root, filepath.Join(work, "bin-arm64-symbols"), "arm64", bins["arm64"])
			note(err)
		}
		sizeRows(t, sizes, variantSizes, shares)
	} else {
		t.add("Binary size, the -bootstrap given (linux/"+host+")", mb(float64(fileSize(*bootstrap))), "≤ 10 MB", met(fileSize(*bootstrap) <= 10e6))
	}

	// 3. Process-level: the real bootstrap against a local Runtime API and API Gateway.
	w, err := bench.NewWorld(10, false)
	if err != nil {
		fatal(err)
	}
	defer w.Close()
	seq := 0
	progress("== Rewind's memory of one target: its item's size after rollbacks and at its bounds")
	mem, err := memorySizes(ctx, w, &seq)
	note(err)
	memoryRows(t, mem)

	bin := bins[host]
	if *bootstrap != "" {
		bin = *bootstrap
	}
	var colds []coldStart
	var inits map[string]time.Duration
	var big bigRun
	var side sideBySide
	var sideRTT, sideMemRTT time.Duration
	cli := awsCLIv2()
	if bin == "" || runtime.GOOS != "linux" {
		note(fmt.Errorf("no linux/%s bootstrap to run on this machine: process-level figures not measured", host))
	} else {
		progress("== cold starts (%d, linux/%s bootstrap, no injected latency)", *coldReps, host)
		colds, err = runColdStarts(ctx, bin, home, w, *coldReps, &seq)
		note(err)

		progress("== package init by owner (GODEBUG=inittrace=1, 5 starts)")
		inits, err = initCosts(bin, home, w, 5)
		note(err)

		progress("== the real bootstrap over 50,000 deployments (its own process, GODEBUG=gctrace=1)")
		big, err = runBig(ctx, bin, home, w, 50000, &seq)
		note(err)

		progress("== side by side at %s per control-plane call, %s per DynamoDB call: AWS CLI runbook and Rewind (%d each)", ms(latency), ms(memLatency), *sideReps)
		if cli == "" {
			progress("AWS CLI v2 not found: the runbook is not measured. Install: %s", installCLI)
		}
		if err := w.AddAPI(10); err != nil {
			fatal(err)
		}
		w.SetLatency(latency)
		w.SetMemoryLatency(memLatency)
		sideRTT, err = measureRTT(w)
		note(err)
		sideMemRTT, err = measureMemoryRTT(w)
		note(err)
		side, err = runSideBySide(ctx, bin, cli, home, w, *sideReps, &seq)
		note(err)
		w.SetLatency(0)
		w.SetMemoryLatency(0)
	}
	processRows(t, host, colds, inits, big, side, sideRTT, sideMemRTT, res)

	wall := time.Since(began).Round(time.Second)
	fmt.Printf("## Rewind performance\n\n%s\n\n", machine(wall))
	t.print(os.Stdout)
	if failed {
		fmt.Println("\nSome figures were not measured: see the errors above.")
		os.Exit(1)
	}
}

// measureRTT is one GetStage's time at w's latency, median of 7 on a warm connection.
func measureRTT(w *bench.World) (time.Duration, error) {
	c := w.Client()
	in := &apigateway.GetStageInput{RestApiId: aws.String(w.API.ID), StageName: aws.String(bench.StageName)}
	var ds []time.Duration
	for i := 0; i < 8; i++ {
		start := time.Now()
		if _, err := c.GetStage(context.Background(), in); err != nil {
			return 0, fmt.Errorf("GetStage: %w", err)
		}
		if i > 0 { // the first one connects
			ds = append(ds, time.Since(start))
		}
	}
	return medianD(ds), nil
}

// measureMemoryRTT is one strongly consistent GetItem of a memory item (it need not exist) at w's
// memory latency, median of 7 on a warm connection, as measureRTT measures the control plane.
func measureMemoryRTT(w *bench.World) (time.Duration, error) {
	c := w.DynamoDB()
	pk, sk := bench.MemoryKey(w.Target)
	in := &dynamodb.GetItemInput{TableName: aws.String(bench.MemoryTable), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}}
	var ds []time.Duration
	for i := 0; i < 8; i++ {
		start := time.Now()
		if _, err := c.GetItem(context.Background(), in); err != nil {
			return 0, fmt.Errorf("GetItem: %w", err)
		}
		if i > 0 {
			ds = append(ds, time.Since(start))
		}
	}
	return medianD(ds), nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run rewind-bench inside the Rewind module (make bench)")
	}
	return filepath.Dir(mod), nil
}

// machine is the table's header line: what ran it, and when.
func machine(wall time.Duration) string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("Machine: %s, nproc %d, %s/%s, %s. Date: %s. Harness wall time: %s.",
		model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"), wall)
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "rewind-bench: "+format+"\n", a...)
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "rewind-bench: %v\n", err)
	os.Exit(1)
}

func medianD(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// p90 is the nearest-rank 90th percentile.
func p90(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*9 + 9) / 10
	return s[min(max(i-1, 0), len(s)-1)]
}
