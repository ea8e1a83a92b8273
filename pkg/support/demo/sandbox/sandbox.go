// Package sandbox is `make sandbox`: Rewind to try by hand on one machine, with no AWS account. It
// serves, on loopback only, a local API Gateway seeded like the demo (the luna-api REST API, stage
// service on dep1, the HTTP proxy to EC2, with dep2, the new and broken Lambda, ready to release),
// the other kinds' local control planes with one target each (an HTTP API stage, a Lambda alias, a
// CloudFront behaviour), Rewind's memory table in a local DynamoDB, and the real bootstrap under the
// AWS Lambda Runtime Interface Emulator, until it is interrupted. It prints the `aws lambda invoke`
// lines to try (curl lines when no AWS CLI v2 is found) and, on SIGINT or SIGTERM, stops everything
// it started and checks that nothing is left.
//
// SendEvent is `make sandbox-event`: it sends a sample event, or a fresh alarm, to a running sandbox
// and prints the answer, saying plainly why Rewind ignored it when it did.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/demo/internal/modroot"
	"github.com/rewind-sre/rewind/pkg/support/demo/rie"
)

// The sandbox's fixed loopback ports: the invoke endpoint on DefaultPort, the REST API's data plane
// on DefaultPort+1, the local AWS control plane on DefaultPort+2. PortEnv (or -port) moves all three;
// a port that is taken falls back to a free one, and the sandbox says so.
const (
	DefaultPort = 8910
	PortEnv     = "REWIND_SANDBOX_PORT"
	// EndpointEnv tells sandbox-event where the sandbox's invoke endpoint is, when not on the port.
	EndpointEnv = "REWIND_SANDBOX_ENDPOINT"
)

// BasePort is the invoke endpoint's port: PortEnv, else DefaultPort.
func BasePort() (int, error) {
	v := strings.TrimSpace(os.Getenv(PortEnv))
	if v == "" {
		return DefaultPort, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65533 {
		return 0, fmt.Errorf("%s=%q: want a port from 1 to 65533 (the sandbox takes it and the two after it)", PortEnv, v)
	}
	return p, nil
}

// DefaultEndpoint is where sandbox-event looks for the sandbox: EndpointEnv, else the base port.
func DefaultEndpoint() string {
	if e := strings.TrimSpace(os.Getenv(EndpointEnv)); e != "" {
		return strings.TrimRight(e, "/")
	}
	p, err := BasePort()
	if err != nil {
		p = DefaultPort
	}
	return "http://127.0.0.1:" + strconv.Itoa(p)
}

// Options configure Run; the zero value of each field means its default.
type Options struct {
	// Port is the invoke endpoint's port, the data plane's is Port+1 and the control plane's Port+2;
	// 0 means BasePort(). -1 takes free ports for all three (tests).
	Port int
	// LogFile receives the bootstrap's and the emulator's output; default rewind-sandbox.log in the
	// temp directory (rewind-sandbox-PID.log when the invoke port is taken, likely by another sandbox).
	LogFile string
	// LogLevel is Rewind's LOG_LEVEL: debug, info, warn or error ("": Rewind's default, info). The
	// emulator reads the same variable; these four it accepts too.
	LogLevel string
	// AWSCLI is the AWS CLI v2 the printed lines use; "" finds it, CLINone prints curl lines.
	AWSCLI string
	// Out receives what the sandbox prints; default os.Stdout.
	Out io.Writer
	// ModuleRoot is the Rewind checkout; "" finds it from the working directory.
	ModuleRoot string
	// Emulator is the aws-lambda-rie to run; "" finds it, or installs the pinned one.
	Emulator string
	// Bootstrap is a bootstrap already built for this host; "" builds one.
	Bootstrap string
}

// setupTimeout bounds building the bootstrap and installing the emulator.
const setupTimeout = 10 * time.Minute

// Run starts the sandbox, prints how to use it, serves until ctx ends (the command cancels it on
// SIGINT or SIGTERM), then stops everything it started and checks that nothing is left running or
// listening. It returns nil after a clean stop.
func Run(ctx context.Context, o Options) (err error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	out := o.Out
	p := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }
	switch o.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log level %q: want debug, info, warn or error (Rewind's levels; the emulator, which reads the same LOG_LEVEL, accepts these too)", o.LogLevel)
	}
	base := o.Port
	if base == 0 {
		if base, err = BasePort(); err != nil {
			return err
		}
	}
	ports := [3]int{} // invoke, data, control; 0: a free one
	if base > 0 {
		ports = [3]int{base, base + 1, base + 2}
	}

	p("Rewind sandbox: a local API Gateway (and the other kinds' local control planes) with Rewind's real bootstrap\n" +
		"under the AWS Lambda Runtime Interface Emulator, on 127.0.0.1 only; no AWS account is used or reachable.\n\n")
	root := o.ModuleRoot
	if root == "" {
		if root, err = moduleRoot(); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "rewind-sandbox-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	// The invoke port first: whether it is taken decides the default log file.
	inv, err := listen("the invoke endpoint", ports[0])
	if err != nil {
		return err
	}
	invClosed := false
	defer func() {
		if !invClosed {
			inv.Close()
		}
	}()

	p("setup   building the bootstrap and finding aws-lambda-rie and the AWS CLI (the first build on a machine compiles the AWS SDK: a minute or two) …\n")
	setupCtx, endSetup := context.WithTimeout(ctx, setupTimeout)
	defer endSetup()
	var (
		wg               sync.WaitGroup
		bootstrap        = o.Bootstrap
		emulator         = o.Emulator
		installed        bool
		buildErr, rieErr error
		buildTook        time.Duration
		cli              awsCLI
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		if bootstrap != "" {
			return
		}
		t := time.Now()
		bootstrap, buildErr = rie.Build(setupCtx, root, tmp)
		buildTook = time.Since(t)
	}()
	go func() {
		defer wg.Done()
		if emulator == "" {
			emulator, installed, rieErr = rie.Ensure(setupCtx, nil)
		}
	}()
	go func() { defer wg.Done(); cli = findAWSCLI(setupCtx, o.AWSCLI) }()
	wg.Wait()
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted during the set-up: %w", ctx.Err())
	}
	if err := errors.Join(buildErr, rieErr); err != nil {
		return err
	}
	how := "found at " + emulator
	if installed {
		how = "installed with " + rie.InstallCommand() + " at " + emulator
	}
	built := "given"
	if o.Bootstrap == "" {
		built = "built for linux/" + runtime.GOARCH + " in " + seconds(buildTook)
	}
	p("        bootstrap %s; aws-lambda-rie %s\n", built, how)

	logFile := o.LogFile
	if logFile == "" {
		name := "rewind-sandbox.log"
		if inv.note != "" {
			name = fmt.Sprintf("rewind-sandbox-%d.log", os.Getpid())
		}
		logFile = filepath.Join(os.TempDir(), name)
	}
	if logFile, err = filepath.Abs(logFile); err != nil {
		return err
	}
	lf, err := os.Create(logFile)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	defer lf.Close()
	logs := &lockedWriter{w: lf}
	note := func(format string, args ...any) {
		fmt.Fprintf(logs, time.Now().UTC().Format("2006-01-02T15:04:05.000Z")+" "+format+"\n", args...)
	}

	w, err := newWorld(ports[2], ports[1], time.Now())
	if err != nil {
		return err
	}
	var (
		fn        *rie.Function
		front     *server
		listeners []string
	)
	// stopAll stops everything, the function first; it may be called more than once.
	stopAll := sync.OnceValue(func() error {
		var errs []error
		if front != nil {
			errs = append(errs, front.stop(context.Background()))
		}
		if fn != nil {
			errs = append(errs, fn.Stop())
		}
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errs = append(errs, w.stop(stopCtx))
		return errors.Join(errs...)
	})
	defer func() {
		if serr := stopAll(); serr != nil && err == nil {
			err = serr
		}
	}()

	env := functionEnv(w, tmp, o.LogLevel)
	fn, err = rie.Start(ctx, rie.Config{Emulator: emulator, Bootstrap: bootstrap, Env: env, Output: logs})
	if err != nil {
		return err
	}
	note("sandbox: aws-lambda-rie serves %s (Runtime API %s); the bootstrap %s; TARGETS=%s", fn.Endpoint(), fn.RuntimeAPI(), fn.Bootstrap(), strings.Join(w.targets(), ","))

	invokeURL := "http://" + inv.Addr().String()
	listeners = []string{inv.Addr().String(), strings.TrimPrefix(w.data, "http://"), strings.TrimPrefix(w.control, "http://"),
		strings.TrimPrefix(fn.Endpoint(), "http://"), fn.RuntimeAPI()}
	info := func() Info {
		return Info{Sandbox: "rewind", PID: os.Getpid(), Invoke: invokeURL, Emulator: fn.Endpoint(), Runtime: fn.RuntimeAPI(),
			DataPlane: w.data, Control: w.control, LogFile: logFile, Bootstrap: fn.Bootstrap(), Targets: w.targets(),
			Account: rie.AccountID, Region: rie.Region, Live: w.live(), Writes: w.writes(), Listeners: slices.Clone(listeners)}
	}
	f, err := newInvokeFront(fn.Endpoint(), info, fn.Logs, logFile, note)
	if err != nil {
		return err
	}
	invClosed = true // the server owns it now
	front = startServer(inv, f)

	// The schedule's observe, once, as template.yaml's runs every 5 minutes: it starts the bootstrap
	// (its init), so a broken init shows here rather than on the first command, and it records what
	// each target serves.
	warm, err := fn.Invoke(ctx, scheduledEvent(time.Now()))
	switch {
	case err != nil:
		return fmt.Errorf("the first invocation (the schedule's observe): %w; the emulator's and the bootstrap's output is in %s", err, logFile)
	case warm.Status != 200:
		return fmt.Errorf("the bootstrap did not start: the emulator answered HTTP %d to the first invocation (a failed init); the bootstrap said: %s\n(the whole output is in %s)",
			warm.Status, f.initError(), logFile)
	case warm.Failed():
		return fmt.Errorf("the schedule's observe failed: %s: %s (the whole output is in %s)", warm.ErrorType, warm.ErrorMessage, logFile)
	}
	initNote := ""
	if r, ok := fn.Report(warm.RequestID); ok && r.Init > 0 {
		initNote = fmt.Sprintf(" (its init took %.1f ms)", float64(r.Init.Microseconds())/1000)
	}

	p("\nListening on 127.0.0.1 only:\n")
	p("  %-28s %s   aws lambda invoke --endpoint-url; the function is named \"function\"\n", "Rewind (Lambda Invoke API)", invokeURL)
	p("  %-28s %s   what users call: /%s/user/{id}\n", APIName+" data plane", w.data, StageName)
	p("  %-28s %s   API Gateway (REST and HTTP APIs), Lambda, CloudFront, DynamoDB (Rewind's memory)\n", "local AWS control plane", w.control)
	p("  %-28s %s   the emulator's own Invoke API, behind the first (Runtime API %s)\n", "aws-lambda-rie", fn.Endpoint(), fn.RuntimeAPI())
	if base > 0 {
		p("  Ports %d-%d are the sandbox's fixed defaults (-port N or %s=N moves them to N, N+1, N+2).\n", base, base+2, PortEnv)
	}
	for _, n := range append([]string{inv.note}, w.notes...) {
		if n != "" {
			p("  NOTE: %s; the lines below use it.\n", n)
		}
	}
	ts := w.targets()
	p("\nSeeded (account %s and region %s, the emulator's: alarms from there are this function's own):\n", rie.AccountID, rie.Region)
	p("  %-50s REST API %s, stage %s: %s (HTTP proxy to EC2) live; %s (the new Lambda, broken: 502) ready to release\n", ts[0], APIName, StageName, LegacyID, LambdaID)
	p("  %-50s HTTP API stage %s: hd2 live, hd1 before it\n", ts[1], HTTPStage)
	p("  %-50s Lambda alias %s: version 2 live, version 1 before it\n", ts[2], AliasName)
	p("  %-50s CloudFront behaviour %s: origin %s; %s is where Rewind sends it back\n", ts[3], BehaviorPattern, NewOrigin, LegacyOrigin)
	p("  Rewind: TARGETS=%s\n          MEMORY_TABLE=%s; the schedule's observe ran once%s: %s\n", strings.Join(ts, ","), MemoryTable, initNote, observed(warm.Body))
	if v, ok := os.LookupEnv("LOG_LEVEL"); ok {
		p("  NOTE: LOG_LEVEL=%s in your shell is not passed on (the emulator reads it too, and exits on a level it does not know).\n", v)
	}

	eventEnv := ""
	if invokeURL != DefaultEndpoint() {
		eventEnv = EndpointEnv + "=" + invokeURL + " "
	}
	events, _ := sampleEvents(root)
	guide{invoke: invokeURL, data: w.data, control: w.control, cli: cli, targets: ts, logFile: logFile,
		events: events, eventEnv: eventEnv, pid: os.Getpid()}.print(out)

	<-ctx.Done()
	p("\nstopping: the emulator and the bootstrap, %d listeners …\n", len(listeners))
	if err := stopAll(); err != nil {
		return err
	}
	if left := leftovers(listeners, fn.Bootstrap()); len(left) > 0 {
		return fmt.Errorf("left running after the sandbox stopped: %s", strings.Join(left, "; "))
	}
	p("stopped: emulator and bootstrap gone, %d listeners closed; nothing left running. The log stays in %s\n", len(listeners), logFile)
	return nil
}

// functionEnv is the bootstrap's whole environment (the emulator's too: it passes its own on). Every
// client Rewind has goes to the local control plane; every other AWS endpoint is a closed loopback
// port, and no shared config or credentials file is read, so nothing can reach a real account
// whatever the shell holds. LOG_LEVEL is set only when asked for, never taken from the shell.
func functionEnv(w *world, tmp, logLevel string) []string {
	env := []string{
		"TARGETS=" + strings.Join(w.targets(), ","),
		"MEMORY_TABLE=" + MemoryTable,
		"AWS_REGION=" + rie.Region,
		"AWS_ACCESS_KEY_ID=sandbox", "AWS_SECRET_ACCESS_KEY=sandbox",
		"AWS_ENDPOINT_URL_API_GATEWAY=" + w.control,
		"AWS_ENDPOINT_URL_APIGATEWAYV2=" + w.control,
		"AWS_ENDPOINT_URL_LAMBDA=" + w.control,
		"AWS_ENDPOINT_URL_CLOUDFRONT=" + w.control,
		"AWS_ENDPOINT_URL_DYNAMODB=" + w.control,
		"AWS_ENDPOINT_URL=http://127.0.0.1:1",
		"AWS_CONFIG_FILE=" + filepath.Join(tmp, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(tmp, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"HOME=" + tmp,
	}
	if logLevel != "" {
		env = append(env, "LOG_LEVEL="+logLevel)
	}
	return env
}

// scheduledEvent is what template.yaml's schedule (the function's Observe event) delivers.
func scheduledEvent(at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "sandbox-observe", "detail-type": "Scheduled Event", "source": "aws.events",
		"account": rie.AccountID, "time": at.UTC().Format(time.RFC3339), "region": rie.Region,
		"resources": []string{"arn:aws:events:" + rie.Region + ":" + rie.AccountID + ":rule/rewind-Observe"}, "detail": map[string]any{}})
	return b
}

// observed sums up the observe's answer: each target's outcome.
func observed(body []byte) string {
	rs, _ := decodeResults(body)
	var parts []string
	for _, r := range rs {
		parts = append(parts, r.Target+" "+r.Outcome)
	}
	if len(parts) == 0 {
		return strings.TrimSpace(string(body))
	}
	return strings.Join(parts, ", ")
}

// leftovers lists what still listens or runs.
func leftovers(addrs []string, bootstrap string) []string {
	var left []string
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, 200*time.Millisecond); err == nil {
			c.Close()
			left = append(left, "a listener on "+a)
		}
	}
	if pids := rie.Running(bootstrap); len(pids) > 0 {
		left = append(left, fmt.Sprintf("bootstrap processes %v", pids))
	}
	return left
}

// sampleEvents lists the files in testdata/events.
func sampleEvents(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "testdata", "events"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	slices.SortFunc(names, func(a, b string) int { // by name: "x.json" before "x-more.json"
		return strings.Compare(strings.TrimSuffix(a, ".json"), strings.TrimSuffix(b, ".json"))
	})
	return names, nil
}

// moduleRoot is the Rewind checkout holding the working directory.
func moduleRoot() (string, error) { return modroot.Find("sandbox") }

// lockedWriter serializes writes from the emulator's output and the sandbox's own notes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
