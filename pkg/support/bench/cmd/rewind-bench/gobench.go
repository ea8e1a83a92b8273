package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// benchstatCmd is benchstat at a version the Go module proxy serves, run with `go run` so nothing is
// added to go.mod.
const benchstatCmd = "golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"

// goBench is one `go test -bench` invocation. Benchmarks bound by the injected latency get a fixed
// iteration count; the CPU-bound ones a time; the 5-second ones run once per count.
type goBench struct {
	pattern   string
	benchtime string
	pkgs      []string
}

func goBenches(root string) []goBench {
	runs := []goBench{
		{pattern: "^Benchmark(RTT|Floor)$", benchtime: "6x", pkgs: []string{"./pkg/support/bench"}},
		{pattern: "^BenchmarkScale$", benchtime: "0.3s", pkgs: []string{"./pkg/support/bench"}},
		{pattern: "^Benchmark(ScaleAtLatency|PeakHeap|Discovery)$", benchtime: "1x", pkgs: []string{"./pkg/support/bench"}},
		{pattern: "^BenchmarkObserveBudget$", benchtime: "1x", pkgs: []string{"./pkg/support/bench"}},
	}
	if others := benchPackages(root); len(others) > 0 {
		runs = append(runs, goBench{pattern: ".", benchtime: "0.2s", pkgs: others})
	}
	return runs
}

// benchPackages lists the packages outside pkg/support/bench with benchmarks (*_bench_test.go next to the
// code they measure, or any other test file declaring a Benchmark).
func benchPackages(root string) []string {
	seen := map[string]bool{}
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, "_test.go") {
			return nil
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		if dir == filepath.Join("pkg", "support", "bench") || seen["./"+filepath.ToSlash(dir)] {
			return nil
		}
		src, err := os.ReadFile(path)
		if err == nil && regexp.MustCompile(`(?m)^func Benchmark\w*\(b \*testing\.B\)`).Match(src) {
			seen["./"+filepath.ToSlash(dir)] = true
		}
		return nil
	})
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// runGoBenches runs every invocation -count times into raw (the text benchstat reads) and returns it.
func runGoBenches(ctx context.Context, root string, count int, raw io.Writer) ([]byte, error) {
	var all bytes.Buffer
	for _, g := range goBenches(root) {
		args := append([]string{"test", "-run", "^$", "-bench", g.pattern, "-benchtime", g.benchtime,
			"-count", strconv.Itoa(count), "-benchmem", "-timeout", "20m"}, g.pkgs...)
		progress("go %s", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		cmd.Stderr = os.Stderr
		var out bytes.Buffer
		cmd.Stdout = io.MultiWriter(&out, raw)
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go test -bench %s: %w\n%s", g.pattern, err, tail(out.String(), 40))
		}
		progress("  done in %s", time.Since(start).Round(time.Second))
		all.Write(out.Bytes())
	}
	return all.Bytes(), nil
}

// benchstat summarizes the raw output; an error (say, no module proxy) is reported, not fatal.
func benchstat(ctx context.Context, root, rawFile string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "run", benchstatCmd, rawFile)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("benchstat: %w: %s", err, tail(string(out), 10))
	}
	return string(out), nil
}

// results holds every value of every metric of every benchmark, by name without the -GOMAXPROCS
// suffix ("BenchmarkFloor/history=10/alarm=no-ApiName") and unit ("ns/op", "x2RTT").
type results map[string]map[string][]float64

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.+)$`)

func parseBench(raw []byte) results {
	r := results{}
	s := bufio.NewScanner(bytes.NewReader(raw))
	for s.Scan() {
		m := benchLine.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if r[m[1]] == nil {
				r[m[1]] = map[string][]float64{}
			}
			r[m[1]][f[i+1]] = append(r[m[1]][f[i+1]], v)
		}
	}
	return r
}

// median of one metric, and whether it was measured.
func (r results) median(name, unit string) (float64, bool) {
	vs := r[name][unit]
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

func median(vs []float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
