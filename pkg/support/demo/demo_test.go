package demo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/demo"
	"github.com/rewind-sre/rewind/pkg/support/demo/rie"
	"github.com/rewind-sre/rewind/pkg/support/samtemplate"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// lockedBuffer is a bytes.Buffer a test may read while the demo writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func emulator(t *testing.T) string {
	t.Helper()
	p, err := rie.Find(context.Background())
	if err != nil {
		testenv.Missing(t, "aws-lambda-rie", rie.InstallCommand())
	}
	return p
}

// fast is the story at test speed: 1s of healthy traffic, 1s of a working Lambda, 2s periods.
func fast(t *testing.T, out io.Writer) demo.Options {
	return demo.Options{Threshold: 5, Period: 2 * time.Second, RPS: 40, Warmup: time.Second, FailAfter: time.Second,
		Recovery: time.Second, Timeout: 40 * time.Second, Out: out, Emulator: emulator(t)}
}

// nothingLeft checks, independently of the demo's own check, that no listener and no bootstrap
// process outlived the run.
func nothingLeft(t *testing.T, rep demo.Report) {
	t.Helper()
	if len(rep.Listeners) == 0 || rep.Bootstrap == "" {
		t.Fatalf("the report names no listeners (%v) or no bootstrap (%q): nothing to check", rep.Listeners, rep.Bootstrap)
	}
	for _, a := range rep.Listeners {
		if c, err := net.DialTimeout("tcp", a, 200*time.Millisecond); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", a)
		}
	}
	if pids := rie.Running(rep.Bootstrap); len(pids) > 0 {
		t.Errorf("bootstrap still running: pids %v", pids)
	}
}

// TestDemoTellsTheStory runs the whole demo: the real bootstrap under the emulator rolls the stage
// back on the alarm, users get 2xx again, status says so, and nothing is left running.
func TestDemoTellsTheStory(t *testing.T) {
	var out bytes.Buffer
	rep, err := demo.Run(context.Background(), fast(t, &out))
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	order := []struct {
		what string
		at   time.Time
	}{{"release", rep.Released}, {"check", rep.Checked}, {"first 5xx", rep.FirstFailure}, {"alarm", rep.Alarm}, {"delivered", rep.Delivered},
		{"switched", rep.Switched}, {"first 2xx after", rep.FirstRecovered}}
	for i, s := range order {
		if s.at.IsZero() {
			t.Fatalf("%s did not happen", s.what)
		}
		// Every moment is read from the same monotonic clock (API Gateway's Calls included).
		if i > 0 && s.at.Before(order[i-1].at) {
			t.Errorf("%s at %s comes before %s at %s", s.what, s.at, order[i-1].what, order[i-1].at)
		}
	}
	if d := rep.Decision; d.Outcome != "rolled-back" || d.From != demo.LambdaID || d.To != demo.LegacyID || d.Alarm != demo.AlarmName {
		t.Errorf("decision %+v", d)
	}
	// The scheduled observe saw the legacy deployment live, so the timeline, not creation order, chose.
	if rep.Observed.Outcome != "ok" || rep.Decision.Rule != "timeline" {
		t.Errorf("observe %+v; the rollback's rule is %q, want timeline", rep.Observed, rep.Decision.Rule)
	}
	if s := rep.Status; s.Current != demo.LegacyID || len(s.KnownBad) != 1 || s.KnownBad[0] != demo.LambdaID ||
		s.LastRollback == nil || s.LastRollback.By != "alarm" {
		t.Errorf("status %+v", s)
	}
	if rep.LiveAtEnd != demo.LegacyID || rep.Errors5xx == 0 || rep.OK == 0 {
		t.Errorf("live at end %s, 2xx %d, 5xx %d", rep.LiveAtEnd, rep.OK, rep.Errors5xx)
	}
	if rep.InvokeTook <= 0 || rep.Handler <= 0 {
		t.Errorf("invoke took %s, the emulator's REPORT said %s", rep.InvokeTook, rep.Handler)
	}
	checkedRightAfterRelease(t, rep)
	for _, want := range []string{"ALARM luna-api-5xx: Threshold Crossed",
		"check: ready — an alarm now would roll ", "back from dep2 to dep1 (timeline)", `"outcome":"rolled-back"`, "first 2xx after",
		"timeline", "notification delivered to Rewind", "nothing left running", "bootstrap built for linux/",
		templateLine(t)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	inTimeOrder(t, out.String())
	nothingLeft(t, rep)
}

// checkedRightAfterRelease: the report holds Rewind's answer to {"action":"check"} asked with the
// release live: ready, a plan back to the legacy deployment, the demo's alarm reaching the stage
// through the local CloudWatch, the reservation read from the local Lambda, an answer in
// milliseconds (an account read sent to a closed port would retry for seconds), and nothing written.
func checkedRightAfterRelease(t *testing.T, rep demo.Report) {
	t.Helper()
	c := rep.Check
	if c.Action != "check" || c.Outcome != "ok" || c.Code != "checked" || !c.Ready || !strings.HasSuffix(c.Target, "/"+demo.StageName) {
		t.Errorf("check answer %+v: want ok, checked, ready, on the stage", c)
	}
	if pl := c.Plan; pl == nil || pl.Outcome != "planned" || pl.From != demo.LambdaID || pl.To != demo.LegacyID || pl.Rule != "timeline" {
		t.Errorf("check's plan %+v: want planned %s -> %s by the timeline", pl, demo.LambdaID, demo.LegacyID)
	}
	for name, detail := range map[string]string{
		"alarms-reach-target":  demo.AlarmName,
		"reserved-concurrency": fmt.Sprint(demo.ReservedConcurrency),
		"somewhere-to-go":      demo.LegacyID,
		"target-readable":      demo.LambdaID,
		"lambda-qualified":     "",
	} {
		if k, ok := c.Find(name); !ok || k.Status != "pass" || !strings.Contains(k.Detail, detail) {
			t.Errorf("check %s: %+v (found %v), want pass naming %q", name, k, ok, detail)
		}
	}
	for _, k := range c.Checks {
		if k.Status == "fail" {
			t.Errorf("check %s failed: %s", k.Name, k.Detail)
		}
	}
	if rep.CheckTook <= 0 || rep.CheckTook > time.Second {
		t.Errorf("the check took %s, want milliseconds", rep.CheckTook)
	}
	// Nothing of the check wrote the stage (nor Rewind's memory): no write applied, no write called,
	// and the release still live; and it did read the stage, so the count is of something.
	if rep.CheckWrites != 0 || rep.MemoryWrites != 0 || rep.LiveAfterCheck != demo.LambdaID {
		t.Errorf("during the check: %d control-plane writes, %d memory writes; the stage served %s after it",
			rep.CheckWrites, rep.MemoryWrites, rep.LiveAfterCheck)
	}
	if len(rep.CheckCalls) == 0 {
		t.Error("the check called nothing on the control plane")
	}
	for _, op := range rep.CheckCalls {
		if !strings.HasPrefix(op, "Get") {
			t.Errorf("the check called %s on the control plane (all its calls: %v), want reads only", op, rep.CheckCalls)
		}
	}
}

// templateLine is the start of the demo's line on the same incident in AWS, read independently from
// template.yaml's example 5XX alarm: detection takes DatapointsToAlarm (here EvaluationPeriods) periods.
func templateLine(t *testing.T) string {
	t.Helper()
	tpl, err := samtemplate.Load("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := tpl.Resources[demo.TemplateAlarm].Properties
	period, ok1 := a["Period"].(int64)
	evals, ok2 := a["EvaluationPeriods"].(int64)
	if dp, ok := a["DatapointsToAlarm"].(int64); !ok1 || !ok2 || !ok || dp != evals || period%60 != 0 {
		t.Fatalf("%s: Period %v, EvaluationPeriods %v, DatapointsToAlarm %v: this test expects whole minutes, every period breaching",
			demo.TemplateAlarm, a["Period"], a["EvaluationPeriods"], a["DatapointsToAlarm"])
	}
	plural := ""
	if evals != 1 {
		plural = "s"
	}
	return fmt.Sprintf("in AWS with template.yaml's %s: detection at least %d min (Period %d s, %d evaluation period%s), SNS -> Lambda < 1 s, Rewind ",
		demo.TemplateAlarm, period*evals/60, period, evals, plural)
}

var (
	eventLine    = regexp.MustCompile(`^t\+(\d+\.\d\d)s  `)
	progressLine = regexp.MustCompile(`^t\+(\d+)s  `)
)

// inTimeOrder checks that the story's lines read in time order: each event (t+09.05s) no earlier than
// the one before it, and a second of traffic (t+10s, the second ending then) neither after an event
// later than it nor before an event earlier than it, give or take the tick's own jitter.
func inTimeOrder(t *testing.T, out string) {
	t.Helper()
	const slack = 0.1
	lastEvent, lastAny, lastLine := -1.0, -1.0, ""
	for _, line := range strings.Split(out, "\n") {
		if m := eventLine.FindStringSubmatch(line); m != nil {
			at, _ := strconv.ParseFloat(m[1], 64)
			if at < lastEvent || at < lastAny-slack {
				t.Errorf("out of time order:\n  %s\nafter\n  %s", line, lastLine)
			}
			lastEvent, lastAny, lastLine = at, max(lastAny, at), line
		} else if m := progressLine.FindStringSubmatch(line); m != nil {
			at, _ := strconv.ParseFloat(m[1], 64)
			if at < lastAny-slack {
				t.Errorf("out of time order:\n  %s\nafter\n  %s", line, lastLine)
			}
			lastAny, lastLine = max(lastAny, at), line
		}
	}
	if lastEvent < 0 {
		t.Error("no event lines in the output")
	}
}

// TestInterruptLeavesNothingBehind: a run ended early, as by Ctrl-C, stops the emulator, the
// bootstrap and every server before Run returns.
func TestInterruptLeavesNothingBehind(t *testing.T) {
	var out lockedBuffer
	o := fast(t, &out)
	o.FailAfter = time.Hour // no alarm: the interrupt comes mid-story
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Interrupt once the emulator runs (its listeners are the last the demo opens).
		for !strings.Contains(out.String(), "stage service live on dep1") {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(1500 * time.Millisecond)
		cancel()
	}()
	rep, err := demo.Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled\n%s", err, out.String())
	}
	nothingLeft(t, rep)
}

func TestOptionsAreChecked(t *testing.T) {
	for name, o := range map[string]demo.Options{
		"warmup":    {Warmup: 500 * time.Millisecond},
		"period":    {Period: 1500 * time.Millisecond},
		"rps":       {RPS: -1},
		"threshold": {Threshold: 0.5},
		"port":      {Port: 70000},
	} {
		var out bytes.Buffer
		o.Out = &out
		if _, err := demo.Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want one naming %s", name, err, name)
		}
	}
}
