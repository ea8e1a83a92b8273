// Package demo tells the seed's incident on one machine, with no AWS account: /user/{id} moves from
// the EC2 server to a new Lambda behind API Gateway, the release starts failing, a CloudWatch-style
// alarm on the stage's 5XXError fires, its notification reaches Rewind exactly as SNS delivers it to
// Lambda, and Rewind (the real bootstrap, under the AWS Lambda Runtime Interface Emulator) puts the
// stage back on the deployment that proxies to EC2. Traffic runs throughout, so the failure and the
// recovery are what a user would have seen.
//
// Everything listens on loopback; every process and server the demo starts is stopped when it ends,
// also on failure and on interrupt, and the demo checks that nothing is left.
package demo

import (
	"bufio"
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
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	cwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudwatch"
	"github.com/rewind-sre/rewind/pkg/support/demo/cloudwatch"
	"github.com/rewind-sre/rewind/pkg/support/demo/internal/modroot"
	"github.com/rewind-sre/rewind/pkg/support/demo/rie"
	"github.com/rewind-sre/rewind/pkg/support/demo/traffic"
	"github.com/rewind-sre/rewind/pkg/support/samtemplate"
)

// Options tune the story; the zero value of each field means its default.
type Options struct {
	Threshold float64       // 5XX responses within one alarm period that fire the alarm; default 10
	Period    time.Duration // the alarm's period; default 10s
	RPS       int           // requests per second at the stage; default 50
	Warmup    time.Duration // healthy traffic on the legacy deployment before the release; default 3s, at least 1s
	FailAfter time.Duration // the new Lambda answers this long, then fails; default 5s
	Recovery  time.Duration // traffic shown after the rollback; default 5s
	Port      int           // the data plane's port; 0 picks a free one
	Timeout   time.Duration // bound on the story, after the set-up; default 55s

	Out  io.Writer // the story; default os.Stdout
	Live bool      // rewrite the progress line in place (for a terminal)
	// Logs, when set, receives the emulator's and Rewind's own output as it happens; otherwise its
	// tail is printed only when something fails.
	Logs io.Writer
	// ModuleRoot is the Rewind checkout (the directory with go.mod); "" finds it from the working directory.
	ModuleRoot string
	// Emulator is the aws-lambda-rie to use; "" finds it, or installs it when it is missing.
	Emulator string
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Threshold == 0 {
		o.Threshold = 10
	}
	if o.RPS == 0 {
		o.RPS = 50
	}
	def(&o.Period, 10*time.Second)
	def(&o.Warmup, 3*time.Second)
	def(&o.FailAfter, 5*time.Second)
	def(&o.Recovery, 5*time.Second)
	def(&o.Timeout, 55*time.Second)
	if o.Out == nil {
		o.Out = os.Stdout
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.Threshold < 1:
		return fmt.Errorf("threshold %v: want at least 1 error per period", o.Threshold)
	case o.RPS < 1 || o.RPS > 1000:
		return fmt.Errorf("rps %d: want 1 to 1000 requests per second", o.RPS)
	case o.Period < time.Second || o.Period%time.Second != 0:
		return fmt.Errorf("period %s: want whole seconds, at least 1s", o.Period)
	case o.Warmup < time.Second:
		// API Gateway's dates are whole seconds: a release within the stage's first second would
		// carry a lastUpdatedDate after the alarm, and Rewind would rightly call the alarm stale.
		return fmt.Errorf("warmup %s: want at least 1s", o.Warmup)
	case o.FailAfter < 0 || o.Recovery < 0:
		return fmt.Errorf("fail-after %s, recovery %s: want durations of 0 or more", o.FailAfter, o.Recovery)
	case o.Port < 0 || o.Port > 65535:
		return fmt.Errorf("port %d: want 0 (any free port) to 65535", o.Port)
	case o.Timeout < 5*time.Second:
		return fmt.Errorf("timeout %s: want at least 5s", o.Timeout)
	}
	return nil
}

// setupTimeout bounds building the bootstrap and installing the emulator: minutes on a machine whose
// Go build cache is cold, seconds otherwise.
const setupTimeout = 10 * time.Minute

// The emulator passes every invocation a function ARN in its own fixed account and region, so the
// demo's API Gateway and alarm live there: an alarm from the function's own account needs no
// ALLOWED_ACCOUNTS.
const (
	account  = rie.AccountID
	region   = rie.Region
	topicARN = "arn:aws:sns:" + region + ":" + account + ":rewind-alarms"
)

// AlarmName is the demo's CloudWatch alarm.
const AlarmName = APIName + "-5xx"

// Report is what happened, for the caller to check.
type Report struct {
	Start          time.Time
	BuildTook      time.Duration // building the bootstrap
	Emulator       string        // path of aws-lambda-rie
	Installed      bool          // the demo installed the emulator
	DataPlane      string        // base URL users called
	Released       time.Time     // the new Lambda went live
	FirstFailure   time.Time     // when a user got the first 5xx
	Alarm          time.Time     // the alarm went to ALARM
	AlarmReason    string
	Delivered      time.Time     // the SNS event was handed to the function
	Answered       time.Time     // the function answered
	InvokeTook     time.Duration // the invocation's round trip, cold start included
	Handler        time.Duration // the handler's run, as the emulator's REPORT line says
	ColdStart      time.Duration // the bootstrap's init, on the first invocation (the observe), as the emulator reports it
	Observed       Decision      // Rewind's answer to the scheduled observe before the release
	Check          CheckAnswer   // Rewind's answer to {"action":"check"}, right after the release
	Checked        time.Time     // when it answered
	CheckTook      time.Duration // the check's round trip
	CheckWrites    int           // writes API Gateway's control plane applied while the check ran
	MemoryWrites   int           // writes Rewind's memory table applied while the check ran
	CheckCalls     []string      // the control-plane operations the check called, in order
	LiveAfterCheck string        // what the stage served once the check had answered
	Switched       time.Time     // Rewind's UpdateStage reached API Gateway
	FirstRecovered time.Time     // when a user got the first 2xx from the legacy deployment after the failure began
	Decision       Decision      // Rewind's answer to the alarm
	Status         StatusAnswer  // Rewind's answer to {"action":"status"} afterwards
	LiveAtEnd      string        // what the stage served at the end
	OK, Errors5xx  int           // responses over the whole run
	Other          int
	Listeners      []string // every loopback address the demo listened on
	Bootstrap      string   // path of the bootstrap the emulator ran (removed at the end)
}

// Decision is the part of Rewind's answer the story shows.
type Decision struct {
	Action     string  `json:"action"`
	Target     string  `json:"target"`
	Outcome    string  `json:"outcome"`
	From       string  `json:"from"`
	To         string  `json:"to"`
	Rule       string  `json:"rule,omitempty"`
	Reason     string  `json:"reason"`
	Alarm      string  `json:"alarm,omitempty"`
	DurationMS float64 `json:"durationMs,omitempty"`
}

// CheckAnswer is Rewind's answer to {"action":"check"}: whether the next alarm could roll the target
// back, the checks that say so, and what an alarm now would do.
type CheckAnswer struct {
	Action     string     `json:"action"`
	Target     string     `json:"target"`
	Outcome    string     `json:"outcome"`
	Code       string     `json:"code"`
	Ready      bool       `json:"ready"`
	Reason     string     `json:"reason"`
	Checks     []Check    `json:"checks"`
	Plan       *CheckPlan `json:"plan"`
	DurationMS float64    `json:"durationMs,omitempty"`
}

// Check is one of the check's checks.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"` // pass, warn or fail
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// CheckPlan is what an alarm at the time of the check would do.
type CheckPlan struct {
	Outcome string `json:"outcome"`
	Code    string `json:"code"`
	From    string `json:"from"`
	To      string `json:"to"`
	Rule    string `json:"rule"`
	Reason  string `json:"reason"`
}

// Find is the check of that name.
func (c CheckAnswer) Find(name string) (Check, bool) {
	for _, k := range c.Checks {
		if k.Name == name {
			return k, true
		}
	}
	return Check{}, false
}

// StatusAnswer is the part of Rewind's status answer the story shows.
type StatusAnswer struct {
	Outcome      string   `json:"outcome"`
	Current      string   `json:"current"`
	KnownBad     []string `json:"knownBad"`
	LastRollback *struct {
		Kind  string `json:"kind"`
		From  string `json:"from"`
		To    string `json:"to"`
		By    string `json:"by"`
		Alarm string `json:"alarm,omitempty"`
	} `json:"lastRollback"`
	Deployments []struct {
		ID   string `json:"id"`
		Live bool   `json:"live"`
		Bad  bool   `json:"bad"`
	} `json:"deployments"`
	// Audit is Rewind's audit log, newest first: every change it made, failure and plan.
	Audit []struct {
		At     time.Time `json:"at"`
		Action string    `json:"action"`
		Code   string    `json:"code"`
		From   string    `json:"from"`
		To     string    `json:"to"`
		Rule   string    `json:"rule"`
		By     string    `json:"by"`
		Alarm  string    `json:"alarm"`
	} `json:"audit"`
}

// Run tells the story. It returns an error when any step did not happen (the alarm did not fire,
// Rewind did not roll back, traffic did not recover, something was left running) or ctx ended.
func Run(ctx context.Context, o Options) (rep Report, err error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return rep, err
	}
	rep.Start = time.Now()
	p := newPrinter(o.Out, o.Live, rep.Start)

	p.textf("Rewind demo: the seed's incident on this machine, no AWS account needed.\n" +
		"/user/{id} moves from EC2 to a new Lambda behind API Gateway; the release breaks; a CloudWatch alarm\n" +
		"fires; SNS invokes Rewind (the real bootstrap, under aws-lambda-rie); Rewind switches the stage back.\n\n")

	root := o.ModuleRoot
	if root == "" {
		if root, err = moduleRoot(); err != nil {
			return rep, err
		}
	}
	tmp, err := os.MkdirTemp("", "rewind-demo-")
	if err != nil {
		return rep, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	// Set-up the README promises the target does itself: the emulator (installed if missing) and
	// the bootstrap, side by side since either can take a while on a cold machine. The build shows
	// its own progress (`go build -v`), so a cold build cache is not a silent half minute.
	p.textf("setup   building the bootstrap (go build %s; the first run on a machine compiles the AWS SDK) …\n", rie.BootstrapPackage)
	setupCtx, endSetup := context.WithTimeout(ctx, setupTimeout)
	defer endSetup()
	if o.Emulator == "" {
		if _, err := rie.Find(setupCtx); err != nil {
			p.textf("        %s is missing: installing it with %s …\n", rie.Binary, rie.InstallCommand())
		}
	}
	var wg sync.WaitGroup
	var buildErr, rieErr error
	var compiled int
	wg.Add(2)
	go func() {
		defer wg.Done()
		t := time.Now()
		meter := newBuildMeter(p)
		rep.Bootstrap, buildErr = rie.BuildWithProgress(setupCtx, root, tmp, meter)
		rep.BuildTook = time.Since(t)
		compiled = meter.finish()
	}()
	go func() {
		defer wg.Done()
		if o.Emulator != "" {
			rep.Emulator = o.Emulator
			return
		}
		rep.Emulator, rep.Installed, rieErr = rie.Ensure(setupCtx, nil)
	}()
	wg.Wait()
	if ctx.Err() != nil {
		return rep, fmt.Errorf("interrupted during the set-up: %w", ctx.Err())
	}
	if err := errors.Join(buildErr, rieErr); err != nil {
		return rep, err
	}
	how := "found"
	if rep.Installed {
		how = "installed"
	}
	cache := "all from Go's build cache"
	if compiled > 0 {
		cache = packages(compiled) + " compiled, kept in Go's build cache for the next run"
	}
	p.textf("        bootstrap built for linux/%s in %s (%s); aws-lambda-rie %s at %s\n",
		runtime.GOARCH, ms(rep.BuildTook), cache, how, rep.Emulator)

	// Restart the clock: the story starts when the stage does, and Timeout bounds the story alone.
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	rep.Start = time.Now()
	p.restart(rep.Start)
	alarm := cloudwatch.Alarm{
		Name: AlarmName, Description: "5XX on " + APIName + "/" + StageName + ": Rewind rolls the stage back",
		AccountID: account, Region: region, Namespace: "AWS/ApiGateway", Metric: "5XXError",
		Dimensions: []cloudwatch.Dimension{{Name: "ApiName", Value: APIName}, {Name: "Stage", Value: StageName}},
		Period:     o.Period, Threshold: o.Threshold, TopicARN: topicARN, ConfigUpdated: rep.Start.Add(-time.Hour),
	}
	w, err := newWorld(o.Port, rep.Start, alarm)
	if err != nil {
		return rep, err
	}
	defer func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		if serr := w.stop(stopCtx); serr != nil && err == nil {
			err = fmt.Errorf("stop the local servers: %w", serr)
		}
	}()
	rep.DataPlane = w.data + "/" + StageName
	rep.Listeners = append([]string(nil), w.addrs...)

	var logs io.Writer = io.Discard
	if o.Logs != nil {
		logs = o.Logs
	}
	fn, err := rie.Start(ctx, rie.Config{Emulator: rep.Emulator, Bootstrap: rep.Bootstrap, FunctionName: FunctionName, Env: functionEnv(w, tmp), Output: logs})
	if err != nil {
		return rep, err
	}
	rep.Listeners = append(rep.Listeners, strings.TrimPrefix(fn.Endpoint(), "http://"), fn.RuntimeAPI())
	rep.Bootstrap = fn.Bootstrap()
	defer func() {
		if serr := fn.Stop(); serr != nil && err == nil {
			err = serr
		}
		if err != nil && o.Logs == nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(o.Out, "\nthe emulator's and Rewind's output (last lines):\n%s\n", lastLines(fn.Logs(), 30))
		}
	}()

	eval, err := cloudwatch.NewEvaluator(alarm, rep.Start)
	if err != nil {
		return rep, err
	}

	p.textf("        API Gateway %s (%s), stage %s; users call %s%s\n", APIName, w.apiID, StageName, rep.DataPlane, userPathHelp)
	p.textf("          %s  %-40s live now\n", LegacyID, legacyDesc)
	p.textf("          %s  %-40s released at t+%02.0fs\n", LambdaID, lambdaDesc, o.Warmup.Seconds())
	p.textf("        Rewind: TARGETS=%s/%s, AWS_ENDPOINT_URL_API_GATEWAY=%s\n", w.apiID, StageName, w.control)
	p.textf("                its memory: MEMORY_TABLE=%s in a local DynamoDB, AWS_ENDPOINT_URL_DYNAMODB=%s\n", MemoryTable, w.memory)
	p.textf("                its account, for the check: the alarm in a local CloudWatch, AWS_ENDPOINT_URL_CLOUDWATCH=%s;\n", w.alarms)
	p.textf("                function %s (reserved concurrency %d) in a local Lambda, AWS_ENDPOINT_URL_LAMBDA=%s\n", FunctionName, ReservedConcurrency, w.lambda)
	p.textf("        alarm %s: Sum(5XXError) >= %g in %s on ApiName=%s, Stage=%s -> SNS -> Rewind\n",
		AlarmName, o.Threshold, o.Period, APIName, StageName)
	p.textf("        traffic: %d req/s\n\n", o.RPS)
	p.event(rep.Start, "stage %s live on %s (%s)", StageName, LegacyID, legacyLabel)
	if err := observe(ctx, p, fn, &rep); err != nil {
		return rep, err
	}

	st := &story{legacy: LegacyID, events: make(chan storyEvent, 4)}
	counter := traffic.NewCounter(rep.Start)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4 * o.RPS}}
	defer client.CloseIdleConnections()
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	trafficDone := make(chan error, 1)
	// waitTraffic stops the traffic and waits until every request it started has ended; once.
	waitTraffic := sync.OnceValue(func() error { stopTraffic(); return <-trafficDone })
	go func() {
		d := traffic.Driver{RPS: o.RPS, Client: client,
			URL: func(i int) string { return fmt.Sprintf("%s/user/%d", rep.DataPlane, 1000+i%500) }}
		trafficDone <- d.Run(trafficCtx, func(r traffic.Result) {
			counter.Add(r)
			if r.Class() == "5xx" {
				eval.Put(r.Received(), 1)
			}
			st.observe(r)
		})
	}()
	defer waitTraffic()

	if err := tell(ctx, o, p, w, fn, eval, counter, st, &rep); err != nil {
		return rep, err
	}
	if err := waitTraffic(); err != nil {
		return rep, err
	}
	p.done()
	rep.OK, rep.Errors5xx, rep.Other = counter.Totals()
	rep.LiveAtEnd = w.live()

	// What Rewind says afterwards, asked the way an operator would ask it.
	if err := askStatus(ctx, p, fn, &rep); err != nil {
		return rep, err
	}
	p.timeline([]step{
		{"first 5xx to a user", rep.FirstFailure},
		{"alarm " + AlarmName + " -> ALARM", rep.Alarm},
		{"notification delivered to Rewind", rep.Delivered},
		{"stage switched " + LambdaID + " -> " + LegacyID, rep.Switched},
		{"first 2xx after", rep.FirstRecovered},
	}, []string{
		fmt.Sprintf("users got 5xx for %s: %d of %d responses over the whole run",
			ms(rep.FirstRecovered.Sub(rep.FirstFailure)), rep.Errors5xx, rep.OK+rep.Errors5xx+rep.Other),
		inAWS(filepath.Join(root, "template.yaml"), rep.Switched.Sub(rep.Delivered)),
	})

	// Stop everything now (the deferred calls then do nothing) so the check below sees the end state.
	client.CloseIdleConnections()
	if err := fn.Stop(); err != nil {
		return rep, err
	}
	stopCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := w.stop(stopCtx); err != nil {
		return rep, fmt.Errorf("stop the local servers: %w", err)
	}
	if left := leftovers(rep); len(left) > 0 {
		return rep, fmt.Errorf("left running after the demo: %s", strings.Join(left, "; "))
	}
	p.textf("\ncleanup: emulator and bootstrap stopped, %d listeners closed; nothing left running.\n", len(rep.Listeners))
	return rep, nil
}

// tell runs the incident: the release, the failure, the alarm and its delivery, the recovery.
func tell(ctx context.Context, o Options, p *printer, w *world, fn *rie.Function, eval *cloudwatch.Evaluator,
	counter *traffic.Counter, st *story, rep *Report) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// From the alarm to the first 2xx after the rollback, lines are held and printed in time order
	// (see deliver); whatever ends the story prints what is held.
	defer p.release()
	tellEvent := func(ev storyEvent) {
		switch ev.kind {
		case "failure":
			rep.FirstFailure = ev.r.Received()
			p.event(rep.FirstFailure, "first 5xx: %d from %s (%s)", ev.r.Status, ev.r.Deployment, label(ev.r.Deployment))
		case "recovered":
			rep.FirstRecovered = ev.r.Received()
			p.event(rep.FirstRecovered, "first 2xx after: %d from %s (%s)", ev.r.Status, ev.r.Deployment, label(ev.r.Deployment))
			if !rep.Switched.IsZero() {
				p.release()
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the story did not finish within %s: %s (%w)", o.Timeout, rep.missing(), ctx.Err())
			}
			return fmt.Errorf("interrupted with %s: %w", rep.missing(), ctx.Err())
		case ev := <-st.events:
			tellEvent(ev)
		case now := <-tick.C:
			// What the traffic saw before this tick is told before the second it ends.
			for drained := false; !drained; {
				select {
				case ev := <-st.events:
					tellEvent(ev)
				default:
					drained = true
				}
			}
			sec := int(now.Sub(rep.Start)/time.Second) - 1
			if sec >= 0 {
				p.progress(counter.Get(sec))
			}
			// The release happens on a tick, so the second before it is shown first.
			if rep.Released.IsZero() && now.Sub(rep.Start) >= o.Warmup-50*time.Millisecond {
				rep.Released = time.Now()
				if err := w.release(rep.Released, o.FailAfter); err != nil {
					return err
				}
				st.arm()
				p.event(rep.Released, "release: stage %s -> %s (%s)", StageName, LambdaID, lambdaLabel)
				// What an operator would ask now: could the next alarm roll this release back?
				if err := check(ctx, p, w, fn, rep); err != nil {
					return err
				}
			}
			if rep.Alarm.IsZero() {
				if c, changed := eval.Evaluate(now); changed && c.New == cloudwatch.StateAlarm {
					if err := deliver(ctx, p, w, fn, c, rep); err != nil {
						return err
					}
				}
			}
			if !rep.Switched.IsZero() && !rep.FirstRecovered.IsZero() && now.Sub(rep.Switched) >= o.Recovery {
				return nil
			}
		}
	}
}

// deliver hands the alarm's state change to Rewind as SNS would, and checks what Rewind did.
func deliver(ctx context.Context, p *printer, w *world, fn *rie.Function, c cloudwatch.StateChange, rep *Report) error {
	rep.Alarm, rep.AlarmReason = c.At, c.Reason
	w.cw.SetAlarmState(AlarmName, cwlocal.StateAlarm, c.Reason)
	// The stage's switch is learned from API Gateway only after Rewind answers, and the first 2xx
	// after it may come before the answer: hold the lines until the recovery, then print them in
	// time order.
	p.hold()
	p.event(c.At, "ALARM %s: %s", AlarmName, c.Reason)
	payload, err := json.Marshal(c.SNSEvent(cloudwatch.Delivery{MessageID: newID(), SubscriptionID: newID(), At: time.Now()}))
	if err != nil {
		return err
	}
	rep.Delivered = time.Now()
	p.event(rep.Delivered, "SNS -> Lambda: SNSEvent with the alarm JSON as Message (%d bytes) to the bootstrap under aws-lambda-rie", len(payload))
	resp, err := fn.Invoke(ctx, payload)
	rep.Answered, rep.InvokeTook = time.Now(), resp.Took
	if err != nil {
		return err
	}
	if resp.Failed() {
		return fmt.Errorf("alarm delivery: Rewind failed the invocation (HTTP %d): %s %s %s", resp.Status, resp.ErrorType, resp.ErrorMessage, body(resp.Body))
	}
	var answer struct {
		Results []Decision `json:"results"`
	}
	if err := json.Unmarshal(resp.Body, &answer); err != nil || len(answer.Results) != 1 {
		return fmt.Errorf("alarm delivery: Rewind's answer is not one result: %v: %s", err, body(resp.Body))
	}
	rep.Decision = answer.Results[0]
	if r, ok := fn.Report(resp.RequestID); ok {
		rep.Handler = r.Duration
	}
	p.event(rep.Answered, "Rewind answered in %s: %s", ms(resp.Took), compactJSON(rep.Decision))
	if rep.Decision.Outcome != "rolled-back" || rep.Decision.To != LegacyID {
		return fmt.Errorf("alarm delivery: Rewind did not roll back to %s: outcome %s, to %q: %s", LegacyID, rep.Decision.Outcome, rep.Decision.To, rep.Decision.Reason)
	}
	at, ok := w.switchedAt()
	if live := w.live(); !ok || live != LegacyID {
		return fmt.Errorf("alarm delivery: Rewind says rolled back, but the stage serves %s (UpdateStage seen: %v)", live, ok)
	}
	rep.Switched = at
	p.event(at, "stage %s switched %s -> %s (%s) by Rewind's UpdateStage", StageName, LambdaID, LegacyID, legacyLabel)
	return nil
}

// TemplateAlarm is the example alarm in template.yaml the demo's alarm stands for.
const TemplateAlarm = "Api5XXAlarm"

// alarmTiming is what decides how soon a CloudWatch alarm can go to ALARM.
type alarmTiming struct {
	Period            time.Duration
	EvaluationPeriods int
	DatapointsToAlarm int // DatapointsToAlarm, or EvaluationPeriods when the alarm does not set it
}

// Detection is the least time from the first breaching datapoint to ALARM: DatapointsToAlarm
// periods must close breaching (CloudWatch's metric delay comes on top).
func (a alarmTiming) Detection() time.Duration { return time.Duration(a.DatapointsToAlarm) * a.Period }

// templateAlarmTiming reads TemplateAlarm's period and evaluation periods from the template at path.
func templateAlarmTiming(path string) (alarmTiming, error) {
	t, err := samtemplate.Load(path)
	if err != nil {
		return alarmTiming{}, err
	}
	r, ok := t.Resources[TemplateAlarm]
	if !ok || r.Type != "AWS::CloudWatch::Alarm" {
		return alarmTiming{}, fmt.Errorf("%s: no CloudWatch alarm %s", path, TemplateAlarm)
	}
	num := func(name string) (int, bool) {
		v, ok := r.Properties[name].(int64)
		return int(v), ok && v > 0
	}
	period, ok1 := num("Period")
	evals, ok2 := num("EvaluationPeriods")
	if !ok1 || !ok2 {
		return alarmTiming{}, fmt.Errorf("%s: %s: want a literal Period and EvaluationPeriods, got %v and %v",
			path, TemplateAlarm, r.Properties["Period"], r.Properties["EvaluationPeriods"])
	}
	datapoints, ok := num("DatapointsToAlarm")
	if !ok {
		datapoints = evals
	}
	return alarmTiming{Period: time.Duration(period) * time.Second, EvaluationPeriods: evals, DatapointsToAlarm: datapoints}, nil
}

// inAWS is the same incident with the template's alarm, in one line: CloudWatch's detection (the
// alarm's periods), SNS's delivery to Lambda (typically well under a second) and Rewind (what it
// took here, from the notification to the stage switched).
func inAWS(template string, rewind time.Duration) string {
	detection := "at least 1 min (CloudWatch's standard periods are 60 s or more)"
	if a, err := templateAlarmTiming(template); err == nil {
		evals := fmt.Sprintf("%d evaluation period", a.EvaluationPeriods)
		if a.EvaluationPeriods != 1 {
			evals += "s"
		}
		if a.DatapointsToAlarm != a.EvaluationPeriods {
			evals = fmt.Sprintf("%d of %s", a.DatapointsToAlarm, evals)
		}
		detection = fmt.Sprintf("at least %s (Period %d s, %s)", minutes(a.Detection()), int(a.Period.Seconds()), evals)
	}
	return fmt.Sprintf("in AWS with template.yaml's %s: detection %s, SNS -> Lambda < 1 s, Rewind %s (as here)",
		TemplateAlarm, detection, ms(rewind))
}

// minutes writes a whole number of minutes as "2 min", anything else as seconds.
func minutes(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return fmt.Sprintf("%d s", int(d.Seconds()))
}

// command invokes Rewind with {"action": action}, as `aws lambda invoke` would; a failed invocation
// is an error naming the action.
func command(ctx context.Context, fn *rie.Function, action string) (rie.Response, error) {
	resp, err := fn.Invoke(ctx, []byte(`{"action":"`+action+`"}`))
	if err == nil && resp.Failed() {
		err = fmt.Errorf("%s failed (HTTP %d): %s %s %s", action, resp.Status, resp.ErrorType, resp.ErrorMessage, body(resp.Body))
	}
	return resp, err
}

// observe is what template.yaml's schedule does every 5 minutes: Rewind records what the stage serves,
// so that later "previous" means what this stage served before, not merely an older deployment.
func observe(ctx context.Context, p *printer, fn *rie.Function, rep *Report) error {
	resp, err := fn.Invoke(ctx, scheduledEvent(time.Now()))
	if err == nil && resp.Failed() {
		err = fmt.Errorf("scheduled observe failed (HTTP %d): %s %s %s", resp.Status, resp.ErrorType, resp.ErrorMessage, body(resp.Body))
	}
	if err != nil {
		return err
	}
	if r, ok := fn.Report(resp.RequestID); ok {
		rep.ColdStart = r.Init
	}
	var answer struct {
		Results []Decision `json:"results"`
	}
	// One observe result; the schedule may add its readiness check's answer when that changed (here,
	// on the stage's oldest deployment, rightly not ready).
	if err := json.Unmarshal(resp.Body, &answer); err != nil || len(answer.Results) == 0 ||
		answer.Results[0].Action != "observe" || answer.Results[0].Outcome != "ok" {
		return fmt.Errorf("observe: want an ok observe result: %v: %s", err, body(resp.Body))
	}
	rep.Observed = answer.Results[0]
	now := time.Now()
	p.event(now, "Rewind's scheduled observe (every 5 minutes in template.yaml): %s", rep.Observed.Reason)
	for _, r := range answer.Results[1:] {
		if r.Action != "check" || r.Outcome != "ok" {
			return fmt.Errorf("observe: an unexpected %s result (%s): %s", r.Action, r.Outcome, body(resp.Body))
		}
		p.event(now, "the schedule's readiness check: %s", r.Reason)
	}
	return nil
}

// scheduledEvent is what EventBridge Scheduler's rule in template.yaml (the function's Observe event)
// delivers: a "Scheduled Event" from aws.events.
func scheduledEvent(at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "demo-observe", "detail-type": "Scheduled Event", "source": "aws.events",
		"account": account, "time": at.UTC().Format(time.RFC3339), "region": region,
		"resources": []string{"arn:aws:events:" + region + ":" + account + ":rule/rewind-Observe"}, "detail": map[string]any{}})
	return b
}

// check asks Rewind {"action":"check"} with the release live (before it, the stage serves the oldest
// deployment and there is rightly nowhere to go), shows the answer in one line, and fails the story
// unless Rewind is ready with a plan back to the legacy deployment and wrote nothing.
func check(ctx context.Context, p *printer, w *world, fn *rie.Function, rep *Report) error {
	calls, stageWrites, memoryWrites := len(w.gw.Calls()), w.gw.Writes(), w.ddb.Writes()
	resp, err := command(ctx, fn, "check")
	rep.Checked, rep.CheckTook = time.Now(), resp.Took
	if err != nil {
		return err
	}
	for _, c := range w.gw.Calls()[calls:] {
		rep.CheckCalls = append(rep.CheckCalls, c.Op)
	}
	rep.CheckWrites, rep.MemoryWrites = w.gw.Writes()-stageWrites, w.ddb.Writes()-memoryWrites
	rep.LiveAfterCheck = w.live()
	if err := json.Unmarshal(resp.Body, &rep.Check); err != nil || rep.Check.Action != "check" {
		return fmt.Errorf("check: want one check answer: %v: %s", err, body(resp.Body))
	}
	c := rep.Check
	var pass int
	var warns, fails []string
	for _, k := range c.Checks {
		switch k.Status {
		case "pass":
			pass++
		case "warn":
			warns = append(warns, fmt.Sprintf("%s (%s)", k.Name, k.Detail))
		default:
			fails = append(fails, fmt.Sprintf("%s (%s)", k.Name, k.Detail))
		}
	}
	line := "check: not ready — " + c.Reason
	if pl := c.Plan; c.Ready && pl != nil && pl.Outcome == "planned" {
		line = fmt.Sprintf("check: ready — an alarm now would roll %s back from %s to %s (%s)", c.Target, pl.From, pl.To, pl.Rule)
	} else if c.Ready {
		line = "check: ready, but " + c.Reason
	}
	line += fmt.Sprintf("; %d of %d checks pass", pass, len(c.Checks))
	if len(fails) > 0 {
		line += "; failed: " + strings.Join(fails, ", ")
	}
	if len(warns) > 0 {
		line += "; warnings: " + strings.Join(warns, ", ")
	}
	p.event(rep.Checked, "%s; answered in %s", line, ms(rep.CheckTook))
	switch pl := c.Plan; {
	case c.Outcome != "ok" || !c.Ready:
		return fmt.Errorf("check: Rewind is not ready right after the release (outcome %s): %s", c.Outcome, c.Reason)
	case pl == nil || pl.Outcome != "planned" || pl.From != LambdaID || pl.To != LegacyID:
		return fmt.Errorf("check: an alarm now would not roll %s back to %s: plan %s", LambdaID, LegacyID, compactJSON(pl))
	case rep.CheckWrites != 0 || rep.LiveAfterCheck != LambdaID:
		return fmt.Errorf("check: it wrote the stage (%d writes among %v); the stage serves %s", rep.CheckWrites, rep.CheckCalls, rep.LiveAfterCheck)
	}
	return nil
}

func askStatus(ctx context.Context, p *printer, fn *rie.Function, rep *Report) error {
	resp, err := command(ctx, fn, "status")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.Body, &rep.Status); err != nil {
		return fmt.Errorf("status answer: %w: %s", err, body(resp.Body))
	}
	deps := make([]string, 0, len(rep.Status.Deployments))
	for _, d := range rep.Status.Deployments {
		s := d.ID
		if d.Live {
			s += " live"
		}
		if d.Bad {
			s += " bad"
		}
		deps = append(deps, s)
	}
	last := "none"
	if lr := rep.Status.LastRollback; lr != nil {
		last = fmt.Sprintf("%s %s -> %s by %s %s", lr.Kind, lr.From, lr.To, lr.By, lr.Alarm)
	}
	compact := compactJSON(struct {
		Outcome     string   `json:"outcome"`
		Current     string   `json:"current"`
		KnownBad    []string `json:"knownBad"`
		Last        string   `json:"lastRollback"`
		Deployments []string `json:"deployments"`
	}{rep.Status.Outcome, rep.Status.Current, rep.Status.KnownBad, last, deps})
	p.textf("\nstatus  {\"action\":\"status\"} answers (abridged):\n        %s\n", compact)
	p.textf("        audit log (Rewind's own table, newest first):\n")
	for _, e := range rep.Status.Audit {
		who := e.By
		if e.Alarm != "" {
			who += " " + e.Alarm
		}
		p.textf("          %s  %-8s %-12s %s -> %s (%s, by %s)\n", e.At.UTC().Format("15:04:05"), e.Action, e.Code, e.From, e.To, orDash(e.Rule), who)
	}
	if rep.Status.Current != LegacyID {
		return fmt.Errorf("status says %s is live, want %s", rep.Status.Current, LegacyID)
	}
	if len(rep.Status.Audit) == 0 || rep.Status.Audit[0].Code != "rolled-back" {
		return fmt.Errorf("status's audit log does not start with the rollback: %s", body(resp.Body))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// story watches the traffic for the moments the timeline needs.
type story struct {
	legacy string
	events chan storyEvent

	mu        sync.Mutex
	armed     bool // the release happened
	failed    bool
	recovered bool
}

type storyEvent struct {
	kind string // "failure" or "recovered"
	r    traffic.Result
}

func (s *story) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = true
}

// observe takes every result, from many goroutines. The first 5xx after the release is the
// failure; the first 2xx from the legacy deployment sent after that is the recovery.
func (s *story) observe(r traffic.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ev storyEvent
	switch {
	case s.armed && !s.failed && r.Class() == "5xx":
		s.failed, ev = true, storyEvent{"failure", r}
	case s.failed && !s.recovered && r.Class() == "2xx" && r.Deployment == s.legacy:
		s.recovered, ev = true, storyEvent{"recovered", r}
	default:
		return
	}
	s.events <- ev // two events at most, and the channel holds four
}

func (r Report) missing() string {
	for _, s := range []struct {
		what string
		at   time.Time
	}{{"no release", r.Released}, {"no 5xx yet", r.FirstFailure}, {"no alarm yet", r.Alarm},
		{"no rollback yet", r.Switched}, {"no 2xx after the rollback yet", r.FirstRecovered}} {
		if s.at.IsZero() {
			return s.what
		}
	}
	return "still showing the recovery"
}

// functionEnv is the bootstrap's whole environment. Only the demo's local services are reachable (API
// Gateway, DynamoDB, and CloudWatch and Lambda for the check): every other AWS endpoint points at a
// closed loopback port and no shared config or credentials are read, so the demo can never reach a
// real account whatever the developer's shell holds.
func functionEnv(w *world, tmp string) []string {
	return []string{
		"TARGETS=" + w.apiID + "/" + StageName,
		"AWS_REGION=" + region,
		"AWS_ACCESS_KEY_ID=demo", "AWS_SECRET_ACCESS_KEY=demo",
		"AWS_ENDPOINT_URL_API_GATEWAY=" + w.control,
		"AWS_ENDPOINT_URL_DYNAMODB=" + w.memory,
		"MEMORY_TABLE=" + MemoryTable,
		"AWS_ENDPOINT_URL_CLOUDWATCH=" + w.alarms,
		"AWS_ENDPOINT_URL_LAMBDA=" + w.lambda,
		"ALARM_TOPIC_ARN=" + topicARN,
		"AWS_ENDPOINT_URL=http://127.0.0.1:1",
		"AWS_CONFIG_FILE=" + filepath.Join(tmp, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(tmp, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"HOME=" + tmp,
	}
}

// leftovers lists what still runs or listens after the demo stopped everything.
func leftovers(rep Report) []string {
	var left []string
	for _, a := range rep.Listeners {
		if c, err := net.DialTimeout("tcp", a, 200*time.Millisecond); err == nil {
			c.Close()
			left = append(left, "a listener on "+a)
		}
	}
	if pids := rie.Running(rep.Bootstrap); len(pids) > 0 {
		left = append(left, fmt.Sprintf("bootstrap processes %v", pids))
	}
	return left
}

// moduleRoot is the Rewind checkout holding the working directory.
func moduleRoot() (string, error) { return modroot.Find("demo") }

// newID is a random UUID-shaped id, as SNS message and subscription ids are.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// compactJSON is v as one line, "->" left readable.
func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(b.String())
}

func body(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 800 {
		return string(b[:800]) + "…"
	}
	return string(b)
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
