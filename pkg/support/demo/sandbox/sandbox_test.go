package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/demo/rie"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// TestSandbox is `make sandbox` as a newcomer uses it: the real command in its own process (its
// real bootstrap under the emulator), every aws line it prints run exactly as printed with the AWS
// CLI v2 (and its curl lines), one sample and a fresh alarm through `make sandbox-event`, then
// SIGINT: the process must exit 0 and leave nothing running or listening.
func TestSandbox(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Lambda Runtime Interface Emulator runs Linux binaries")
	}
	begin := time.Now()
	if _, err := rie.Find(context.Background()); err != nil {
		testenv.Missing(t, "aws-lambda-rie", rie.InstallCommand())
	}
	cli := testenv.AWSCLIv2(t)
	testenv.Tool(t, "apt-get install -y curl", "curl")
	testenv.Tool(t, "apt-get install -y make", "make")
	root := testenv.RepoRoot(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "rewind-sandbox")
	if out, err := exec.Command("go", "build", "-C", root, "-o", bin, "./pkg/support/demo/cmd/rewind-sandbox").CombinedOutput(); err != nil {
		t.Fatalf("go build the command: %v\n%s", err, out)
	}
	env := cleanEnv(t, tmp, cli)
	logFile := filepath.Join(tmp, "sandbox.log")

	sb := exec.Command(bin, "-log", logFile)
	sb.Dir, sb.Env = root, env
	stdout, err := sb.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	sb.Stderr = &stderr
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- sb.Wait()
	}()
	stopped := false
	defer func() {
		if !stopped {
			_ = sb.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				_ = sb.Process.Kill()
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("stderr:\n%s\nlog file (last 4000 bytes):\n%s", stderr.String(), tail(string(b), 4000))
		}
	}()

	// Up to the "Ready." line: the start's output.
	var printed []string
	timeout := time.After(3 * time.Minute) // a cold build cache compiles the AWS SDK
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the sandbox exited before it was ready:\n%s\nstderr: %s", strings.Join(printed, "\n"), stderr.String())
			}
			printed = append(printed, l)
			if strings.HasPrefix(l, "Ready.") {
				break wait
			}
		case <-timeout:
			t.Fatalf("the sandbox was not ready within 3 minutes:\n%s", strings.Join(printed, "\n"))
		}
	}
	ready := time.Since(begin)
	start := strings.Join(printed, "\n")
	t.Logf("ready in %s", ready.Round(time.Millisecond))

	// Where it listens: the fixed default ports, unless it said one was taken (another sandbox).
	endpoint := "http://127.0.0.1:" + strconv.Itoa(DefaultPort)
	if strings.Contains(start, "NOTE: port ") {
		t.Logf("a default port was taken: %s", grepLine(start, "NOTE: port "))
	}
	for _, l := range printed {
		if f := strings.Fields(l); len(f) >= 4 && f[0] == "Rewind" && f[1] == "(Lambda" {
			endpoint = f[4]
		}
	}
	info := getInfo(t, endpoint)
	if info.Invoke != endpoint || len(info.Targets) != 4 || !strings.Contains(start, "TARGETS="+strings.Join(info.Targets, ",")) {
		t.Fatalf("info %+v: want the endpoint printed and the four targets in TARGETS", info)
	}
	for _, want := range []string{"tail -f " + logFile, "LOG_LEVEL=verbose in your shell is not passed on", "make sandbox-event EVENT=alarm",
		"502", "X-Amz-Function-Error"} {
		if !strings.Contains(start, want) {
			t.Errorf("the start's output does not say %q", want)
		}
	}
	events, _ := sampleEvents(root)
	for _, e := range events {
		if !strings.Contains(start, "make sandbox-event EVENT="+strings.TrimSuffix(e, ".json")+"\n") {
			t.Errorf("no sandbox-event line for %s", e)
		}
	}

	// Every command line, in the order printed.
	var cmds []string
	for _, l := range printed {
		l = strings.TrimSpace(l)
		for _, prefix := range []string{shellQuote(cli) + " ", "aws ", "curl ", "make ", EndpointEnv + "="} {
			if strings.HasPrefix(l, prefix) {
				cmds = append(cmds, l)
				break
			}
		}
	}
	run := func(line string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, "bash", "-c", line)
		c.Dir, c.Env = root, env
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut // a pipe: the CLI reopens /dev/stdout
		if err := c.Run(); err != nil {
			t.Fatalf("%s\n%v\nstdout: %s\nstderr: %s", line, err, out.String(), errOut.String())
		}
		return out.String()
	}
	var invokes, deploys int
	var sampleLine, alarmLine, deployLine string
	for _, line := range cmds {
		switch {
		case strings.Contains(line, " lambda invoke "):
			invokes++
			if !strings.HasPrefix(line, shellQuote(cli)+" ") && !strings.HasPrefix(line, "aws ") {
				t.Errorf("the line does not call the AWS CLI v2 (%s): %s", cli, line)
			}
			checkAnswer(t, endpoint, line, payloadOf(t, line), func() []byte { return cliAnswer(t, line, run(line)) })
			if strings.Contains(line, `"action":"deploy"`) {
				deploys++
				deployLine = line
			}
		case strings.Contains(line, " apigateway get-stage "):
			if got := strings.TrimSpace(run(line)); got != LegacyID {
				t.Errorf("%s: %q, want %s after the rollback", line, got, LegacyID)
			}
		case strings.HasPrefix(line, "curl ") && strings.Contains(line, InvocationsPath):
			checkAnswer(t, endpoint, line, curlPayload(t, line), func() []byte { return curlAnswer(t, line, run(line)) })
		case strings.HasPrefix(line, "curl "):
			out := run(line)
			if !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.Contains(out, DeploymentHeader+": "+LegacyID) || !strings.Contains(out, "EC2") {
				t.Errorf("%s: users should get EC2's answer from %s first:\n%s", line, LegacyID, out)
			}
		case strings.HasSuffix(line, "make sandbox-event EVENT=sns-apigw-5xx-alarm"):
			sampleLine = line
		case strings.HasSuffix(line, "make sandbox-event EVENT="+FreshAlarm):
			alarmLine = line
		}
	}
	if invokes != 9 || deploys != 1 {
		t.Fatalf("ran %d aws lambda invoke lines (%d deploy), want the 6 steps and 3 statuses; printed:\n%s", invokes, deploys, start)
	}

	// The same walkthrough with the curl lines printed when no AWS CLI v2 is found; it can be run
	// again from the start, since the last step clears the mark the rollback left.
	g := guide{invoke: info.Invoke, data: info.DataPlane, control: info.Control, targets: info.Targets, logFile: info.LogFile}
	for _, s := range append(g.walkthrough(), g.others()...) {
		line := g.curlInvoke(s.cmd.String())
		checkAnswer(t, endpoint, line, s.cmd.String(), func() []byte { return curlAnswer(t, line, run(line)) })
	}

	// A failed invocation carries X-Amz-Function-Error, as on Lambda (the emulator leaves it out).
	resp, err := http.Post(endpoint+InvocationsPath, "application/json", strings.NewReader(`{"action":"explode"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "Unhandled" || !bytes.Contains(body, []byte(`"errorType"`)) {
		t.Errorf("a bad command: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	// sandbox-event: a sample, ignored as from another account, and a fresh alarm after a release.
	if sampleLine == "" || alarmLine == "" {
		t.Fatalf("no make sandbox-event line for the sample or the fresh alarm in:\n%s", start)
	}
	out := run(sampleLine)
	for _, want := range []string{"ignored", "other-account", "123456789012", "why:", "EVENT=" + FreshAlarm} {
		if !strings.Contains(out, want) {
			t.Errorf("%s does not say %q:\n%s", sampleLine, want, out)
		}
	}
	checkAnswer(t, endpoint, deployLine, payloadOf(t, deployLine), func() []byte { return cliAnswer(t, deployLine, run(deployLine)) })
	if out := run(alarmLine); !strings.Contains(out, "rolled-back: "+RESTTarget) {
		t.Errorf("%s after the release: want the stage rolled back:\n%s", alarmLine, out)
	} else if live := getInfo(t, endpoint).Live[RESTTarget]; live != LegacyID {
		t.Errorf("after the fresh alarm the stage serves %s", live)
	}

	// What runs now, to check it is gone: the emulator and the bootstrap under it.
	procs := descendants(sb.Process.Pid)
	if len(procs) < 2 {
		t.Errorf("want the emulator and the bootstrap under the sandbox, found %v", procs)
	}
	if err := sb.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	stopped = true
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGINT: %v (want exit 0)\n%s\nstderr: %s", err, strings.Join(rest, "\n"), stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the sandbox did not exit within 20 s of SIGINT")
	}
	if !strings.Contains(strings.Join(rest, "\n"), "nothing left running") {
		t.Errorf("the stop says:\n%s", strings.Join(rest, "\n"))
	}
	for _, a := range info.Listeners {
		if c, err := net.DialTimeout("tcp", a, 200*time.Millisecond); err == nil {
			c.Close()
			t.Errorf("%s still listens after the sandbox exited", a)
		}
	}
	if pids := rie.Running(info.Bootstrap); len(pids) > 0 {
		t.Errorf("bootstrap processes left: %v", pids)
	}
	for _, pid := range procs {
		if alive(pid) {
			t.Errorf("process %d (started under the sandbox) still runs", pid)
		}
	}
	if b, _ := os.ReadFile(logFile); !bytes.Contains(b, []byte("START RequestId")) || !bytes.Contains(b, []byte(`"msg":"decision"`)) {
		t.Errorf("the log file has no emulator START line or Rewind decision:\n%s", tail(string(b), 2000))
	}
	testenv.Figure(t, "make sandbox: ready in %s; every printed command run, stopped cleanly, in %s in all",
		ready.Round(100*time.Millisecond), time.Since(begin).Round(100*time.Millisecond))
}

// checkAnswer checks one command's answer by its action; answer runs the line and returns Rewind's
// answer. A dry run must write nothing.
func checkAnswer(t *testing.T, endpoint, line, payload string, answer func() []byte) {
	t.Helper()
	var c command
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		t.Fatalf("%s: payload %q: %v", line, payload, err)
	}
	before := getInfo(t, endpoint)
	b := answer()
	rs, err := decodeResults(b)
	if err != nil {
		t.Fatalf("%s: %v: %s", line, err, b)
	}
	want := map[string]string{"status": "ok", "deploy": "deployed", "observe": "ok", "clear": "ok", "rollback": "rolled-back"}[c.Action]
	if c.DryRun {
		want = "planned"
	}
	for _, r := range rs {
		if r.Outcome != want || (c.Target != "" && r.Target != c.Target) {
			t.Errorf("%s: outcome %s for %s, want %s: %s", line, r.Outcome, r.Target, want, b)
		}
	}
	after := getInfo(t, endpoint)
	switch {
	case c.Action == "observe" && len(rs) != 4:
		t.Errorf("%s: %d results, want one per target: %s", line, len(rs), b)
	case c.DryRun && (after.Writes != before.Writes || after.Live[RESTTarget] != before.Live[RESTTarget]):
		t.Errorf("%s: the dry run wrote: %d -> %d writes, live %s -> %s", line, before.Writes, after.Writes, before.Live[RESTTarget], after.Live[RESTTarget])
	case c.Action == "rollback" && !c.DryRun && (rs[0].To != LegacyID || after.Live[RESTTarget] != LegacyID):
		t.Errorf("%s: want the stage back on %s, it serves %s: %s", line, LegacyID, after.Live[RESTTarget], b)
	case c.Action == "deploy" && after.Live[RESTTarget] != LambdaID:
		t.Errorf("%s: the stage serves %s", line, after.Live[RESTTarget])
	}
}

// cliAnswer splits what `aws lambda invoke ... /dev/stdout` printed: Rewind's answer, then the
// CLI's own output, which must say StatusCode 200 and no FunctionError.
func cliAnswer(t *testing.T, line, out string) []byte {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var answer json.RawMessage
	var meta map[string]any
	if err := dec.Decode(&answer); err != nil {
		t.Fatalf("%s: the answer is not JSON: %v\n%s", line, err, out)
	}
	if err := dec.Decode(&meta); err != nil {
		t.Fatalf("%s: no CLI output after the answer: %v\n%s", line, err, out)
	}
	if sc, _ := meta["StatusCode"].(float64); sc != 200 || meta["FunctionError"] != nil {
		t.Fatalf("%s: the CLI says %v:\n%s", line, meta, out)
	}
	return answer
}

// curlAnswer splits what `curl -i` printed: headers, then Rewind's answer.
func curlAnswer(t *testing.T, line, out string) []byte {
	t.Helper()
	head, body, ok := strings.Cut(out, "\r\n\r\n")
	if !ok || !strings.HasPrefix(head, "HTTP/1.1 200") || strings.Contains(strings.ToLower(head), "x-amz-function-error") {
		t.Fatalf("%s: want 200 without X-Amz-Function-Error:\n%s", line, out)
	}
	return []byte(strings.TrimSpace(body))
}

// payloadOf reads the payload of a printed aws line: --payload '...'.
func payloadOf(t *testing.T, line string) string {
	t.Helper()
	_, rest, ok := strings.Cut(line, "--payload '")
	p, _, ok2 := strings.Cut(rest, "' ")
	if !ok || !ok2 {
		t.Fatalf("no --payload '...' in %s", line)
	}
	return p
}

// curlPayload reads the payload of a printed curl line: -d '...'.
func curlPayload(t *testing.T, line string) string {
	t.Helper()
	_, rest, ok := strings.Cut(line, "-d '")
	p, _, ok2 := strings.Cut(rest, "' ")
	if !ok || !ok2 {
		t.Fatalf("no -d '...' in %s", line)
	}
	return p
}

func getInfo(t *testing.T, endpoint string) Info {
	t.Helper()
	info, err := sandboxInfo(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// cleanEnv is the environment of a newcomer's shell: no AWS configuration or credentials (HOME is
// empty), the Go caches kept (HOME moved), and LOG_LEVEL=verbose, which would kill the emulator if
// the sandbox passed it on.
func cleanEnv(t *testing.T, tmp, cli string) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	goenv := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(goenv) != 3 {
		t.Fatalf("go env: %q", out)
	}
	home := filepath.Join(tmp, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "REWIND_SANDBOX_") || k == "LOG_LEVEL" || k == "HOME" || k == "MAKEFLAGS" || k == "MFLAGS" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "GOCACHE="+goenv[0], "GOMODCACHE="+goenv[1], "GOPATH="+goenv[2],
		"AWS_CLI_V2="+cli, "LOG_LEVEL=verbose")
}

// descendants lists the processes under pid, from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so read after the last ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			parent[p] = pp
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

func grepLine(s, substr string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// TestFrontMakesUpForTheEmulator: the invoke endpoint adds X-Amz-Function-Error to a failed
// invocation and answers an init failure (the emulator's 502 with an empty body) as Lambda does,
// with the bootstrap's own words.
func TestFrontMakesUpForTheEmulator(t *testing.T) {
	emulator := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch string(b) {
		case "init":
			w.WriteHeader(http.StatusBadGateway)
		case "fail":
			_, _ = w.Write([]byte(`{"errorMessage":"bad input: not JSON","errorType":"inputError"}`))
		default:
			_, _ = w.Write([]byte(`{"results":[]}`))
		}
	}))
	defer emulator.Close()
	var notes []string
	f, err := newInvokeFront(emulator.URL, func() Info { return Info{Sandbox: "rewind"} },
		func() string { return "START\nrewind: configuration: TARGETS is required\n" }, "/tmp/x.log",
		func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) })
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(f)
	defer front.Close()
	post := func(body string) (*http.Response, string) {
		resp, err := http.Post(front.URL+InvocationsPath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := post("ok"); resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" || body != `{"results":[]}` {
		t.Errorf("an answer: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if resp, body := post("fail"); resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(body, "inputError") {
		t.Errorf("a failed invocation: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body := post("init")
	var fe struct{ ErrorType, ErrorMessage string }
	_ = json.Unmarshal([]byte(body), &fe)
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "Unhandled" || fe.ErrorType != "Runtime.ExitError" ||
		!strings.Contains(fe.ErrorMessage, "rewind: configuration: TARGETS is required") || !strings.Contains(fe.ErrorMessage, "/tmp/x.log") {
		t.Errorf("a failed init: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if len(notes) != 2 {
		t.Errorf("want a log line for the failure and the init failure, got %q", notes)
	}
	if _, err := sandboxInfo(context.Background(), front.URL); err != nil {
		t.Errorf("info: %v", err)
	}
	if _, err := sandboxInfo(context.Background(), emulator.URL); !errors.Is(err, ErrNoSandbox) {
		t.Errorf("something else on the port: %v, want ErrNoSandbox", err)
	}
}

// TestSendEventWithoutASandbox says so plainly.
func TestSendEventWithoutASandbox(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	err = SendEvent(context.Background(), EventOptions{Event: FreshAlarm, Endpoint: "http://" + addr, ModuleRoot: testenv.RepoRoot(t), Out: io.Discard})
	if !errors.Is(err, ErrNoSandbox) || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "make sandbox") {
		t.Errorf("got %v", err)
	}
	err = SendEvent(context.Background(), EventOptions{Event: "no-such-event", Endpoint: "http://" + addr, ModuleRoot: testenv.RepoRoot(t), Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "sns-apigw-5xx-alarm") {
		t.Errorf("an unknown event should list the samples: %v", err)
	}
}

// TestGuideWithOnlyV1 prints curl lines and says why.
func TestGuideWithOnlyV1(t *testing.T) {
	var b bytes.Buffer
	guide{invoke: "http://127.0.0.1:8910", data: "http://127.0.0.1:8911", control: "http://127.0.0.1:8912",
		cli: awsCLI{V1: "aws-cli/1.45.11 at /usr/local/bin/aws"}, targets: []string{RESTTarget, "http:h1/live", "lambda:f:live", "cloudfront:E1:*@o"},
		logFile: "/tmp/l.log", events: []string{"a.json"}, pid: 1}.print(&b)
	out := b.String()
	for _, want := range []string{"Only the AWS CLI v1 was found (aws-cli/1.45.11 at /usr/local/bin/aws)", "lacks --cli-binary-format",
		"curl -sS -i -w '\\n' -d '{\"action\":\"status\",\"target\":\"lunaapi001/service\"}' http://127.0.0.1:8910" + InvocationsPath,
		"make sandbox-event EVENT=a\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the guide does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "lambda invoke --endpoint-url") {
		t.Errorf("aws lines printed for a v1:\n%s", out)
	}
}
