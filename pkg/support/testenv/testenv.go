// Package testenv finds and starts what tests need outside Go: the shared samples, moto_server,
// dynalite, the AWS CLI, the Lambda Runtime Interface Emulator. In CI (CI=true) a missing tool fails the test with
// a message saying how to install it; on a developer's machine it skips.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/ports"
)

// InCI reports whether the tests run under CI, where nothing may be skipped for want of a tool.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing fails (CI) or skips (elsewhere) a test that cannot run without something.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is missing (CI must not skip this test): %s", what, install)
	}
	t.Skipf("%s is missing: %s", what, install)
}

// RepoRoot is the module root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Samples is ../shared/samples beside the repository (read-only published payloads).
func Samples(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared", "samples")
	if _, err := os.Stat(dir); err != nil {
		Missing(t, "the shared samples folder "+dir, "CI lays ../shared beside the clone")
	}
	return dir
}

// Tool finds an executable: the first of candidates that exists (absolute paths or PATH names).
func Tool(t testing.TB, install string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	Missing(t, strings.Join(candidates, " or "), install)
	return ""
}

// AWSCLIv2 is the AWS CLI v2 (v1 lacks --cli-binary-format); Debian's package installs /usr/bin/aws.
func AWSCLIv2(t testing.TB) string {
	t.Helper()
	for _, c := range []string{os.Getenv("AWS_CLI_V2"), "/usr/bin/aws", "aws"} {
		if c == "" {
			continue
		}
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		out, err := exec.Command(p, "--version").CombinedOutput()
		if err == nil && strings.HasPrefix(string(out), "aws-cli/2.") {
			return p
		}
	}
	Missing(t, "AWS CLI v2", "apt-get install -y awscli (gives /usr/bin/aws 2.x), or set AWS_CLI_V2")
	return ""
}

// FreePort returns a loopback port nobody listens on right now, below the ephemeral range, so a
// parallel test binary's httptest server cannot be given it before the tool binds it.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := ports.Free()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Moto starts moto_server on a free loopback port for the test's lifetime and returns its URL. It
// checks that what answers is moto (its /moto-api/data.json), and tries another port if moto could
// not bind the one picked.
func Moto(t testing.TB) string {
	t.Helper()
	bin := Tool(t, "moto_server ships on this image (pip install 'moto[server]')", "moto_server")
	return startOnAFreePort(t, "moto_server", func() (string, error) { return startMoto(t, bin) })
}

// startOnAFreePort runs start up to three times: a port picked as free can be taken before the
// server binds it.
func startOnAFreePort(t testing.TB, what string, start func() (string, error)) string {
	t.Helper()
	var last error
	for range 3 {
		url, err := start()
		if err == nil {
			return url
		}
		last = err
	}
	t.Fatalf("%s: %v", what, last)
	return ""
}

func startMoto(t testing.TB, bin string) (string, error) {
	port := FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Env = append(os.Environ(), "MOTO_ALLOW_NONEXISTENT_REGION=true")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		cancel()
		return "", fmt.Errorf("start: %w", err)
	}
	go func() { // keep the pipe drained so moto never blocks on logging
		s := bufio.NewScanner(stderr)
		for s.Scan() {
		}
	}()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() { cancel(); <-exited }
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			cancel()
			return "", fmt.Errorf("exited before answering on port %d (taken?)", port)
		default:
		}
		if resp, err := http.Get(url + "/moto-api/data.json"); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			// moto answers its state as a JSON object; nothing else here serves that path.
			ok := resp.StatusCode == http.StatusOK && json.Valid(body) && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))
			if !ok {
				stop()
				return "", fmt.Errorf("port %d answers, but not as moto (status %d)", port, resp.StatusCode)
			}
			t.Cleanup(stop)
			return url, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", fmt.Errorf("did not answer on port %d within 30s", port)
}

// dynaliteInstall is how .ci/run installs dynalite, pinned, under the repository's .tools folder
// (never its top level).
const dynaliteInstall = "npm install --prefix .tools --no-audit --no-fund dynalite@4.0.0"

// Dynalite starts dynalite (an in-memory DynamoDB on LevelDB's memdown, written against the real
// service by people outside this project) on a free loopback port for the test's lifetime and
// returns its URL. Its tables turn ACTIVE at once (--createTableMs 0, and likewise for delete and
// update) instead of after dynalite's default half second, so a test that waits for ACTIVE waits
// for one DescribeTable, as against the local server. It checks that what answers is a DynamoDB and
// tries another port if dynalite could not bind the one picked.
func Dynalite(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), ".tools", "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(bin); err != nil {
		Missing(t, "dynalite ("+bin+")", dynaliteInstall)
	}
	return startOnAFreePort(t, "dynalite", func() (string, error) { return startDynalite(t, bin) })
}

func startDynalite(t testing.TB, bin string) (string, error) {
	port := FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--host", "127.0.0.1", "--port", fmt.Sprint(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	var out bytes.Buffer // dynalite logs only its address and failures; kept for the error
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		return "", fmt.Errorf("start: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() { cancel(); <-exited }
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			cancel()
			return "", fmt.Errorf("exited before answering on port %d (taken?): %s", port, strings.TrimSpace(out.String()))
		default:
		}
		if resp, err := http.Get(url + "/"); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			resp.Body.Close()
			// DynamoDB, and dynalite after it, answers a GET with its health line.
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "healthy: dynamodb") {
				stop()
				return "", fmt.Errorf("port %d answers, but not as dynalite (status %d)", port, resp.StatusCode)
			}
			t.Cleanup(stop)
			return url, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", fmt.Errorf("did not answer on port %d within 30s", port)
}

// WaitHTTP waits until url answers anything.
func WaitHTTP(t testing.TB, url string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within %s", url, within)
}

// Figure logs a figure a test measured (how many schedules, cells, inputs) and, when REWIND_FIGURES
// names a file, appends it there as one line: go test hides a passing test's log, and make test
// prints that file after the run so the README's figures can be read from its output.
func Figure(tb testing.TB, format string, args ...any) {
	tb.Helper()
	line := fmt.Sprintf(format, args...)
	tb.Log(line)
	path := os.Getenv("REWIND_FIGURES")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		tb.Errorf("REWIND_FIGURES: %v", err)
		return
	}
	defer f.Close()
	// One write of one line: appends from parallel test binaries do not interleave.
	if _, err := f.WriteString(tb.Name() + ": " + strings.ReplaceAll(line, "\n", " ") + "\n"); err != nil {
		tb.Errorf("REWIND_FIGURES: %v", err)
	}
}
