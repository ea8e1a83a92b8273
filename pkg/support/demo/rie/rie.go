// Package rie runs Rewind's real bootstrap under the AWS Lambda Runtime Interface Emulator
// (aws-lambda-rie), the way Lambda's provided runtime runs it: the bootstrap pulls invocations from
// a Runtime API and the emulator serves Lambda's Invoke API on loopback. It finds or installs the
// emulator, builds the bootstrap for this host, starts and invokes it, and stops every process it
// started, whatever happens.
package rie

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/ports"
)

// The emulator release the project pins; CI installs the same one.
const (
	Module  = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	Version = "v0.0.0-20261030222936-bef5c4ba774d"
	Binary  = "aws-lambda-rie"
)

// The emulator hands every invocation the function ARN
// arn:aws:lambda:us-east-1:012345678912:function:$AWS_LAMBDA_FUNCTION_NAME (fixed in its
// internal/lambda/rie/handlers.go at Version). Rewind acts only on alarms from the function's own
// account or ALLOWED_ACCOUNTS, so alarms meant for a function under the emulator come from AccountID.
const (
	AccountID = "012345678912"
	Region    = "us-east-1"
)

// InstallCommand is how to install the pinned emulator.
func InstallCommand() string { return "go install " + Module + "@" + Version }

// Find returns the emulator's path: on PATH, else where go install puts it (GOBIN, else GOPATH/bin).
func Find(ctx context.Context) (string, error) {
	if p, err := exec.LookPath(Binary); err == nil {
		return p, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%s is not on PATH and the go tool is not either, so GOPATH/bin cannot be searched: %w", Binary, err)
	}
	out, err := exec.CommandContext(ctx, goTool, "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOBIN GOPATH: %w", err)
	}
	// One line each, GOBIN first; an unset GOBIN is an empty first line, so only the end is trimmed.
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	var dirs []string
	if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
		dirs = append(dirs, strings.TrimSpace(lines[0]))
	}
	if len(lines) > 1 {
		for _, gp := range filepath.SplitList(strings.TrimSpace(lines[1])) {
			dirs = append(dirs, filepath.Join(gp, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, Binary)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not on PATH nor in %s: install it with %s", Binary, strings.Join(dirs, " or "), InstallCommand())
}

// Ensure finds the emulator or, when it is missing, installs the pinned release with go install (the
// Go module proxy serves it) and returns where it went. installed reports whether it had to.
func Ensure(ctx context.Context, progress io.Writer) (path string, installed bool, err error) {
	if p, err := Find(ctx); err == nil {
		return p, false, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", false, fmt.Errorf("install %s: the go tool is not on PATH: %w", Binary, err)
	}
	cmd := exec.CommandContext(ctx, goTool, "install", Module+"@"+Version)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if progress != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, progress), io.MultiWriter(&out, progress)
	}
	if err := cmd.Run(); err != nil {
		return "", false, fmt.Errorf("%s: %w\n%s", InstallCommand(), err, tail(out.String(), 2000))
	}
	p, err := Find(ctx)
	if err != nil {
		return "", false, fmt.Errorf("%s succeeded but: %w", InstallCommand(), err)
	}
	return p, true, nil
}

// BootstrapPackage is the Lambda function's main package, relative to the module root.
const BootstrapPackage = "./functions/responder"

// Build compiles the bootstrap for this host (GOOS=linux, this machine's GOARCH, -tags lambda.norpc
// as for Lambda's provided runtimes) into dir/bootstrap. It keeps go's default cgo setting and no
// -trimpath, unlike `make build`: the compiled SDK packages are then the ones `go run`, `go build
// ./...` and `go vet` already left in the build cache, which is what keeps `make demo` fast. The
// emulator runs the binary on this host, where dynamic linking is no problem.
func Build(ctx context.Context, moduleRoot, dir string) (string, error) {
	return BuildWithProgress(ctx, moduleRoot, dir, nil)
}

// BuildWithProgress is Build with `go build -v`: progress, when not nil, receives the go tool's
// output as it comes, one import path a line for each package it compiles (none that the build cache
// already holds), and any compiler errors. A warm cache writes nothing to it.
func BuildWithProgress(ctx context.Context, moduleRoot, dir string, progress io.Writer) (string, error) {
	if runtime.GOOS != "linux" {
		return "", fmt.Errorf("build bootstrap: the Lambda Runtime Interface Emulator runs Linux binaries; this host is %s", runtime.GOOS)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build bootstrap: the go tool is not on PATH: %w", err)
	}
	out := filepath.Join(dir, "bootstrap")
	args := []string{"build", "-tags", "lambda.norpc", "-o", out, BootstrapPackage}
	if progress != nil {
		args = []string{"build", "-v", "-tags", "lambda.norpc", "-o", out, BootstrapPackage}
	}
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var b syncBuffer
	b.max = 1 << 20
	cmd.Stdout, cmd.Stderr = &b, &b
	if progress != nil {
		w := io.MultiWriter(&b, progress)
		cmd.Stdout, cmd.Stderr = w, w
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build bootstrap (go build -tags lambda.norpc %s in %s): %w\n%s", BootstrapPackage, moduleRoot, err, tail(b.String(), 4000))
	}
	return out, nil
}

// Config says what to run.
type Config struct {
	Emulator  string // path to aws-lambda-rie
	Bootstrap string // path to the function's bootstrap
	// Env is the function's whole environment (KEY=VALUE): the emulator passes its own environment to
	// the function, so nothing of this process's reaches either except PATH. That keeps a developer's
	// AWS_PROFILE or credentials away from a function meant to talk only to local endpoints.
	Env []string
	// Output receives the emulator's and the function's output (START/REPORT lines, Rewind's JSON
	// logs, init errors). nil keeps it only for Logs.
	Output io.Writer
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME, the last part of the function ARN; default "rewind".
	FunctionName string
	// Timeout is the function timeout the emulator enforces; default 30s (Rewind's template value).
	Timeout time.Duration
}

// Function is one emulator with the bootstrap under it.
type Function struct {
	cfg         Config
	dir         string // the function's own directory, removed by Stop
	bootstrap   string // the copy of the bootstrap the emulator runs
	cmd         *exec.Cmd
	invokeAddr  string
	runtimeAddr string
	logs        *syncBuffer
	exited      chan struct{}
	waitErr     error
	stopOnce    sync.Once
	stopErr     error
}

// startAttempts bounds retries when a port picked as free was taken before the emulator bound it.
const startAttempts = 3

// readyWithin bounds the wait for the emulator's Invoke API to accept connections.
const readyWithin = 10 * time.Second

// Start runs the emulator with the bootstrap on two free loopback ports, one for the Invoke API and
// one for the Runtime API, and returns once the Invoke API accepts connections. The emulator starts
// the bootstrap (its init) on the first invocation, as Lambda does on a cold start.
func Start(ctx context.Context, cfg Config) (*Function, error) {
	if cfg.FunctionName == "" {
		cfg.FunctionName = "rewind"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	bootstrap, err := filepath.Abs(cfg.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("start %s: bootstrap %s: %w", Binary, cfg.Bootstrap, err)
	}
	cfg.Bootstrap = bootstrap
	var errs []error
	for range startAttempts {
		f, err := start(ctx, cfg)
		if err == nil {
			return f, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("start %s: %w", Binary, errors.Join(errs...))
}

func start(ctx context.Context, cfg Config) (*Function, error) {
	invokePort, err := ports.Free() // below the ephemeral range: no httptest server takes it before the emulator binds
	if err != nil {
		return nil, err
	}
	runtimePort, err := ports.Free()
	if err != nil {
		return nil, err
	}
	// The function runs its own copy of the bootstrap, in a directory of its own: Stop finds what is
	// left of it by that path, which no other Function (the same build run twice) can share.
	dir, err := os.MkdirTemp("", "rewind-rie-")
	if err != nil {
		return nil, fmt.Errorf("function directory: %w", err)
	}
	bootstrap := filepath.Join(dir, "bootstrap")
	if err := copyExecutable(cfg.Bootstrap, bootstrap); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	f := &Function{
		cfg:         cfg,
		dir:         dir,
		bootstrap:   bootstrap,
		invokeAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(invokePort)),
		runtimeAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(runtimePort)),
		logs:        &syncBuffer{max: 1 << 20},
		exited:      make(chan struct{}),
	}
	// The emulator's flags (internal/lambda/rie/run.go): the Invoke API defaults to 0.0.0.0:8080 and
	// the Runtime API to 127.0.0.1:9001; both are moved to free loopback ports so runs never collide.
	cmd := exec.Command(cfg.Emulator,
		"--runtime-interface-emulator-address", f.invokeAddr,
		"--runtime-api-address", f.runtimeAddr,
		f.bootstrap)
	cmd.Dir = dir
	env := []string{"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_FUNCTION_NAME=" + cfg.FunctionName,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(int(cfg.Timeout.Seconds()))}
	cmd.Env = append(env, cfg.Env...)
	var out io.Writer = f.logs
	if cfg.Output != nil {
		out = io.MultiWriter(f.logs, cfg.Output)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so Stop can signal the emulator and anything it forks in one go; and a
	// SIGTERM if this process dies first, so the emulator shuts its runtime down rather than being
	// left behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	// A runtime that outlives the emulator would hold the output pipe open; Wait must not wait for it.
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("exec %s: %w", cfg.Emulator, err)
	}
	f.cmd = cmd
	go func() {
		f.waitErr = cmd.Wait()
		close(f.exited)
	}()
	if err := f.waitReady(ctx); err != nil {
		_ = f.Stop()
		return nil, fmt.Errorf("%w\n%s", err, tail(f.Logs(), 2000))
	}
	return f, nil
}

func (f *Function) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(readyWithin)
	for time.Now().Before(deadline) {
		select {
		case <-f.exited:
			return fmt.Errorf("%s exited before serving %s: %v", Binary, f.invokeAddr, f.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := net.DialTimeout("tcp", f.invokeAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not serve %s within %s", Binary, f.invokeAddr, readyWithin)
}

// Endpoint is the Lambda endpoint to give `aws lambda invoke --endpoint-url`.
func (f *Function) Endpoint() string { return "http://" + f.invokeAddr }

// FunctionName is the name to invoke: the emulator serves one function, "function", whatever
// AWS_LAMBDA_FUNCTION_NAME says.
func (f *Function) FunctionName() string { return "function" }

// InvokeURL is Lambda's Invoke API on the emulator.
func (f *Function) InvokeURL() string {
	return f.Endpoint() + "/2015-03-31/functions/function/invocations"
}

// FunctionARN is the ARN the emulator passes to the handler (Lambda-Runtime-Invoked-Function-Arn).
func (f *Function) FunctionARN() string {
	return "arn:aws:lambda:" + Region + ":" + AccountID + ":function:" + f.cfg.FunctionName
}

// RuntimeAPI is the address the bootstrap pulls invocations from (AWS_LAMBDA_RUNTIME_API).
func (f *Function) RuntimeAPI() string { return f.runtimeAddr }

// Logs returns what the emulator and the function printed so far (the last MiB).
func (f *Function) Logs() string { return f.logs.String() }

// Response is the emulator's answer to one invocation.
type Response struct {
	RequestID string // the invocation's request id (the context's AwsRequestID)
	Status    int
	Body      []byte
	Took      time.Duration
	// ErrorType and ErrorMessage are set when the handler failed. The emulator answers such an
	// invocation with HTTP 200 and the error as the body, as Lambda does (Lambda also sets
	// X-Amz-Function-Error; the emulator does not), so the body is what tells.
	ErrorType, ErrorMessage string
}

// Failed reports whether the invocation did not produce a result: the handler returned an error,
// or the emulator could not run it (an init failure answers 502 with an empty body).
func (r Response) Failed() bool {
	return r.Status != http.StatusOK || r.ErrorType != "" || r.ErrorMessage != ""
}

// Invoke sends one event to the function and waits for its answer.
func (f *Function) Invoke(ctx context.Context, payload []byte) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.InvokeURL(), bytes.NewReader(payload))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	// The emulator takes the invocation's request id from this header, so its REPORT line can be found.
	id := newRequestID()
	req.Header.Set("X-Amzn-RequestId", id)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("invoke %s: %w", f.InvokeURL(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 6<<20)) // Lambda's synchronous response limit
	if err != nil {
		return Response{}, fmt.Errorf("invoke %s: read answer: %w", f.InvokeURL(), err)
	}
	r := Response{RequestID: id, Status: resp.StatusCode, Body: body, Took: time.Since(start)}
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &fe) == nil {
		r.ErrorType, r.ErrorMessage = fe.ErrorType, fe.ErrorMessage
	}
	return r, nil
}

// Report is what the emulator measured for one invocation.
type Report struct {
	Duration time.Duration // the handler's run, as on Lambda's REPORT line
	Init     time.Duration // the bootstrap's init (cold start), when this invocation had one
}

// reportWithin bounds the wait for the emulator's REPORT line, which it prints just before answering.
const reportWithin = time.Second

// Report reads the emulator's REPORT line for the invocation with request id, and the init it
// reported before it when the invocation was a cold start.
func (f *Function) Report(requestID string) (Report, bool) {
	deadline := time.Now().Add(reportWithin)
	for {
		if r, ok := parseReport(f.Logs(), requestID); ok || time.Now().After(deadline) {
			return r, ok
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// parseReport finds "REPORT RequestId: id\t…Duration: 3.21 ms\t…" and, between that invocation's
// START line and it, rapid's "INIT REPORT(durationMs: 17.35…)".
func parseReport(logs, id string) (Report, bool) {
	var r Report
	startAt := strings.Index(logs, "START RequestId: "+id)
	if startAt < 0 {
		return r, false
	}
	rest := logs[startAt:]
	i := strings.Index(rest, "REPORT RequestId: "+id)
	if i < 0 {
		return r, false
	}
	if j := strings.Index(rest[:i], "INIT REPORT(durationMs: "); j >= 0 {
		v := rest[j+len("INIT REPORT(durationMs: "):]
		if k := strings.IndexByte(v, ')'); k > 0 {
			if ms, err := strconv.ParseFloat(v[:k], 64); err == nil {
				r.Init = time.Duration(ms * float64(time.Millisecond))
			}
		}
	}
	line, _, _ := strings.Cut(rest[i:], "\n")
	for _, field := range strings.Split(line, "\t") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(field), "Duration: "); ok {
			if ms, err := strconv.ParseFloat(strings.TrimSuffix(v, " ms"), 64); err == nil {
				r.Duration = time.Duration(ms * float64(time.Millisecond))
				return r, true
			}
		}
	}
	return r, false
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// stopGrace is how long the emulator gets to shut its runtime down after SIGTERM before SIGKILL.
const stopGrace = 3 * time.Second

// Bootstrap is the path of the bootstrap copy this function runs (removed by Stop), by which
// Running finds its processes.
func (f *Function) Bootstrap() string { return f.bootstrap }

// Stop ends the emulator and the bootstrap and waits for them; it may be called more than once.
// SIGTERM first (the emulator then kills its runtime), SIGKILL to the whole group after stopGrace,
// and last any process still running this Function's copy of the bootstrap: the emulator puts the
// runtime in a process group of its own, which a SIGKILL of the emulator's group does not reach.
func (f *Function) Stop() error {
	f.stopOnce.Do(func() {
		defer os.RemoveAll(f.dir)
		if f.cmd == nil || f.cmd.Process == nil {
			return
		}
		pgid := f.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-f.exited:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			select {
			case <-f.exited:
			case <-time.After(stopGrace):
				f.stopErr = fmt.Errorf("stop %s (pid %d): still running after SIGKILL", Binary, pgid)
			}
		}
		if n := killRunning(f.bootstrap); n > 0 {
			// Not an error: the work is done, but it says the emulator left its runtime behind.
			fmt.Fprintf(f.logs, "rie: killed %d leftover bootstrap process(es)\n", n)
		}
	})
	return f.stopErr
}

// Running lists the pids of processes whose executable is path (from /proc/*/exe).
func Running(path string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil {
			continue
		}
		if strings.TrimSuffix(exe, " (deleted)") == path {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killRunning SIGKILLs, by pid, each process running the binary at path: the bootstrap built for this
// Function into a private directory, so nothing else can match.
func killRunning(path string) int {
	pids := Running(path)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return len(pids)
}

// copyExecutable copies the file at from to to, executable.
func copyExecutable(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return fmt.Errorf("bootstrap copy: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("bootstrap copy %s: %w", to, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("bootstrap copy %s: %w", to, err)
	}
	return nil
}

// syncBuffer keeps the last max bytes written, safely for the emulator's output goroutine and readers.
type syncBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	if over := len(s.b) - s.max; over > 0 {
		s.b = append(s.b[:0], s.b[over:]...)
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
