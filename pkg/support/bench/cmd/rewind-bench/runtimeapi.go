package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/bench"
)

// runtimeAPI is the part of the Lambda Runtime API a Go runtime uses (2018-06-01: next, response,
// error, init error), served on loopback for one bootstrap process. It notes when the process first
// polls (it is ready) and when each invocation was handed out and answered.
type runtimeAPI struct {
	srv *httptest.Server

	pollOnce  sync.Once
	polled    chan struct{}
	firstPoll time.Time

	queue   chan *invocation
	answers chan answer
	closed  chan struct{}
}

type invocation struct {
	id      string
	payload []byte
	sent    chan time.Time // when the event went out on /next
}

type answer struct {
	id   string
	kind string // "response", "error" or "init-error"
	at   time.Time
	body []byte
}

func newRuntimeAPI() *runtimeAPI {
	rt := &runtimeAPI{polled: make(chan struct{}), queue: make(chan *invocation), answers: make(chan answer, 8), closed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", rt.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		rt.answer(w, r, r.PathValue("id"), "response")
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) {
		rt.answer(w, r, r.PathValue("id"), "error")
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		rt.answer(w, r, "", "init-error")
	})
	rt.srv = httptest.NewServer(mux)
	return rt
}

func (rt *runtimeAPI) addr() string { return strings.TrimPrefix(rt.srv.URL, "http://") }

func (rt *runtimeAPI) next(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	rt.pollOnce.Do(func() { rt.firstPoll = now; close(rt.polled) })
	select {
	case inv := <-rt.queue:
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(60*time.Second).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", bench.FunctionARN)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
		h.Set("Content-Type", "application/json")
		inv.sent <- time.Now()
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	case <-rt.closed:
	}
}

func (rt *runtimeAPI) answer(w http.ResponseWriter, r *http.Request, id, kind string) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	at := time.Now()
	w.WriteHeader(http.StatusAccepted)
	select {
	case rt.answers <- answer{id: id, kind: kind, at: at, body: body}:
	default: // nobody is waiting for more than 8: drop
	}
}

func (rt *runtimeAPI) close() {
	close(rt.closed)
	rt.srv.Close()
}

// proc is one bootstrap process talking to its own runtimeAPI.
type proc struct {
	cmd     *exec.Cmd
	rt      *runtimeAPI
	started time.Time
	exited  chan struct{}
	stdout  syncBuffer
	stderr  syncBuffer
	seq     int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lambdaEnv is the environment Lambda gives a provided.al2023 function, pointed at the World's
// endpoint for API Gateway and for DynamoDB, whose MemoryTable is MEMORY_TABLE (startProc adds the
// runtime API): no shared config files, credentials in the environment.
func lambdaEnv(home, worldURL, t string, extra ...string) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=en_US.UTF-8", "TZ=:UTC", "HOME=" + home,
		"AWS_LAMBDA_FUNCTION_NAME=rewind", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDBENCH", "AWS_SECRET_ACCESS_KEY=SECRETBENCH", "AWS_SESSION_TOKEN=TOKENBENCH",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_API_GATEWAY=" + worldURL,
		"AWS_ENDPOINT_URL_DYNAMODB=" + worldURL,
		"TARGETS=" + t,
		"AUTO_ROLLBACK_WINDOW=0", // alarms are dated a year after the history: no release window
		"MEMORY_TABLE=" + bench.MemoryTable,
		// Each process makes a few rollbacks of its own stage; the loop guard is not what is measured.
		"MAX_AUTO_ROLLBACKS_PER_HOUR=100",
	}
	return append(env, extra...)
}

func startProc(bin string, env []string) (*proc, error) {
	p := &proc{rt: newRuntimeAPI(), exited: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(env, "AWS_LAMBDA_RUNTIME_API="+p.rt.addr())
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		p.rt.close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// ready waits for the first poll of /next: how long init took.
func (p *proc) ready(within time.Duration) (time.Duration, error) {
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-p.rt.polled:
		return p.rt.firstPoll.Sub(p.started), nil
	case a := <-p.rt.answers:
		return 0, fmt.Errorf("bootstrap reported %s: %s", a.kind, a.body)
	case <-p.exited:
		return 0, fmt.Errorf("bootstrap exited during init: %s", tail(p.stderr.String()+p.stdout.String(), 10))
	case <-t.C:
		return 0, fmt.Errorf("bootstrap did not poll the runtime API within %s", within)
	}
}

// invoke hands payload out on /next and waits for the answer; sent is when it went out.
func (p *proc) invoke(payload []byte, within time.Duration) (sent time.Time, a answer, err error) {
	p.seq++
	inv := &invocation{id: fmt.Sprintf("req-%d", p.seq), payload: payload, sent: make(chan time.Time, 1)}
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case p.rt.queue <- inv:
	case <-p.exited:
		return sent, a, fmt.Errorf("bootstrap exited: %s", tail(p.stderr.String(), 10))
	case <-t.C:
		return sent, a, fmt.Errorf("bootstrap did not take invocation %s within %s", inv.id, within)
	}
	sent = <-inv.sent
	select {
	case a = <-p.rt.answers:
	case <-p.exited:
		return sent, a, fmt.Errorf("bootstrap exited during invocation %s: %s", inv.id, tail(p.stderr.String(), 10))
	case <-t.C:
		return sent, a, fmt.Errorf("bootstrap did not answer invocation %s within %s", inv.id, within)
	}
	if a.kind != "response" || a.id != inv.id {
		return sent, a, fmt.Errorf("invocation %s: bootstrap answered %s for %q: %s", inv.id, a.kind, a.id, a.body)
	}
	return sent, a, nil
}

// stop kills the process (it never exits on its own: it polls for the next event) and the runtime API.
func (p *proc) stop() {
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
	}
	p.rt.close()
}

// status reads a field of /proc/<pid>/status in kB ("VmHWM", "VmRSS").
func (p *proc) status(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`(?m)^` + field + `:\s+(\d+) kB$`).FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("/proc/%d/status has no %s", p.cmd.Process.Pid, field)
	}
	return strconv.ParseInt(string(m[1]), 10, 64)
}

// checkRolledBack reads the bootstrap's answer: one result, rolled back from New to Old.
func checkRolledBack(w *bench.World, body []byte) error {
	var a struct {
		Results []struct{ Outcome, From, To, Reason string } `json:"results"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("answer %s: %w", body, err)
	}
	if len(a.Results) != 1 || a.Results[0].Outcome != "rolled-back" || a.Results[0].From != w.New || a.Results[0].To != w.Old {
		return fmt.Errorf("answer %s, want one rolled-back %s -> %s", body, w.New, w.Old)
	}
	if live := w.Live(); live != w.Old {
		return fmt.Errorf("stage serves %s after the answer, want %s", live, w.Old)
	}
	return nil
}

// gcPeak reads GODEBUG=gctrace=1 lines ("gc 3 @0.1s 2%: ..., 4->5->2 MB, 5 MB goal, ...") and
// returns the largest heap any GC started or ended with, the last goal (the ceiling on the heap
// since the last GC) and how many GCs ran.
func gcPeak(stderr string) (peakMB, lastGoalMB float64, gcs int) {
	re := regexp.MustCompile(`(\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)
	s := bufio.NewScanner(strings.NewReader(stderr))
	for s.Scan() {
		m := re.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		gcs++
		start, _ := strconv.ParseFloat(m[1], 64)
		end, _ := strconv.ParseFloat(m[2], 64)
		goal, _ := strconv.ParseFloat(m[4], 64)
		peakMB = max(peakMB, start, end)
		lastGoalMB = goal
	}
	return peakMB, lastGoalMB, gcs
}

// coldStart is one process's figures.
type coldStart struct {
	init, first, warm, toFirstAnswer time.Duration
}

// runColdStarts starts the bootstrap reps times, each against an API of its own with a history of
// 10: init (start → first poll), the first invocation (an alarm that rolls back), a second, warm one.
// One more start comes first and is not counted: it reads the just-built binary into the page
// cache, which Lambda's own cache has done before any init it times.
func runColdStarts(ctx context.Context, bin, home string, w *bench.World, reps int, seq *int) ([]coldStart, error) {
	var out []coldStart
	for i := -1; i < reps; i++ {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if err := w.AddAPI(10); err != nil {
			return out, err
		}
		p, err := startProc(bin, lambdaEnv(home, w.URL, w.Target.String()))
		if err != nil {
			return out, err
		}
		cs, err := func() (coldStart, error) {
			defer p.stop()
			var cs coldStart
			var err error
			if cs.init, err = p.ready(10 * time.Second); err != nil {
				return cs, err
			}
			*seq++
			sent, a, err := p.invoke(bench.AlarmEvent(*seq, ""), 30*time.Second)
			if err != nil {
				return cs, err
			}
			if err := checkRolledBack(w, a.body); err != nil {
				return cs, err
			}
			cs.first, cs.toFirstAnswer = a.at.Sub(sent), a.at.Sub(p.started)
			if err := w.Reset(); err != nil {
				return cs, err
			}
			*seq++
			sent, a, err = p.invoke(bench.AlarmEvent(*seq, ""), 30*time.Second)
			if err != nil {
				return cs, err
			}
			if err := checkRolledBack(w, a.body); err != nil {
				return cs, err
			}
			cs.warm = a.at.Sub(sent)
			return cs, nil
		}()
		if err != nil {
			return out, fmt.Errorf("cold start %d: %w", i+1, err)
		}
		if i >= 0 {
			out = append(out, cs)
		}
	}
	return out, nil
}

// bigRun is the real bootstrap deciding over a large history in its own process.
type bigRun struct {
	calls                  int            // control-plane calls
	memCalls               map[string]int // DynamoDB calls by operation
	gcPeakMB, gcLastGoalMB float64
	gcs                    int
	rssIdleKB, rssPeakKB   int64
	took                   time.Duration
}

func runBig(ctx context.Context, bin, home string, w *bench.World, n int, seq *int) (bigRun, error) {
	var r bigRun
	if err := w.AddAPI(n); err != nil {
		return r, err
	}
	w.GW.ResetCalls()
	memBefore := w.MemoryCalls()
	p, err := startProc(bin, lambdaEnv(home, w.URL, w.Target.String(), "GODEBUG=gctrace=1"))
	if err != nil {
		return r, err
	}
	defer p.stop()
	if _, err := p.ready(10 * time.Second); err != nil {
		return r, err
	}
	if r.rssIdleKB, err = p.status("VmHWM"); err != nil {
		return r, err
	}
	*seq++
	sent, a, err := p.invoke(bench.AlarmEvent(*seq, ""), 120*time.Second)
	if err != nil {
		return r, err
	}
	r.took = a.at.Sub(sent)
	if err := checkRolledBack(w, a.body); err != nil {
		return r, err
	}
	if r.rssPeakKB, err = p.status("VmHWM"); err != nil {
		return r, err
	}
	r.calls = len(w.GW.Calls())
	w.GW.ResetCalls()
	r.memCalls = map[string]int{}
	for op, n := range w.MemoryCalls() {
		if d := n - memBefore[op]; d > 0 {
			r.memCalls[op] = d
		}
	}
	r.gcPeakMB, r.gcLastGoalMB, r.gcs = gcPeak(p.stderr.String())
	if r.gcs == 0 {
		return r, errors.New("no gctrace lines from the bootstrap (GODEBUG=gctrace=1 ignored?)")
	}
	return r, nil
}

// initCosts starts the bootstrap reps times with GODEBUG=inittrace=1 and returns the median clock
// time of package initialisation per owner: Rewind's packages (by package), each AWS service
// client, and everything else.
func initCosts(bin, home string, w *bench.World, reps int) (map[string]time.Duration, error) {
	re := regexp.MustCompile(`^init (\S+) @\S+ ms, ([0-9.]+) ms clock`)
	samples := map[string][]time.Duration{}
	for i := 0; i < reps; i++ {
		p, err := startProc(bin, lambdaEnv(home, w.URL, w.Target.String(), "GODEBUG=inittrace=1"))
		if err != nil {
			return nil, err
		}
		_, err = p.ready(10 * time.Second)
		p.stop()
		if err != nil {
			return nil, err
		}
		sum := map[string]time.Duration{}
		for _, l := range strings.Split(p.stderr.String(), "\n") {
			m := re.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			f, _ := strconv.ParseFloat(m[2], 64)
			d := time.Duration(f * float64(time.Millisecond))
			owner := initOwner(m[1])
			sum[owner] += d
			sum["total"] += d
			if strings.HasPrefix(owner, "rewind ") {
				sum[rewindInit] += d
			}
		}
		for k, d := range sum {
			samples[k] = append(samples[k], d)
		}
	}
	out := map[string]time.Duration{}
	for k, ds := range samples {
		for len(ds) < reps { // an owner absent from some runs took no time there
			ds = append(ds, 0)
		}
		out[k] = medianD(ds)
	}
	return out, nil
}

// rewindInit is the key of initCosts' figure for all of Rewind's own packages together.
const rewindInit = "rewind, all packages"

// initOwner groups a package: "rewind pkg/target", "apigateway", "credential chain (sts, sso,
// ssooidc, signin)", "other". The SDK's service/internal/endpoint-discovery is DynamoDB's: no other
// client in the bootstrap imports it (go list -deps); the other service/internal packages are shared.
func initOwner(pkg string) string {
	if rest, ok := strings.CutPrefix(pkg, "github.com/rewind-sre/rewind/"); ok {
		return "rewind " + rest
	}
	if rest, ok := strings.CutPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/"); ok {
		return clientOwner(rest)
	}
	return "other"
}

// credentialChain is the owner of the clients config.LoadDefaultConfig's credential chain links.
const credentialChain = "credential chain (sts, sso, ssooidc, signin)"

// clientOwner names the owner of a package under github.com/aws/aws-sdk-go-v2/service/ (rest is the
// path after it): the client, the credential chain, or "other" for the shared internal packages.
func clientOwner(rest string) string {
	svc, sub, _ := strings.Cut(rest, "/")
	switch svc {
	case "sts", "sso", "ssooidc", "signin":
		return credentialChain
	case "internal":
		if sub == "endpoint-discovery" || strings.HasPrefix(sub, "endpoint-discovery/") {
			return "dynamodb"
		}
		return "other"
	}
	return svc
}
