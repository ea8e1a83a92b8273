package bench_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/rewind-sre/rewind/pkg/budget"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/support/bench"
	"github.com/rewind-sre/rewind/pkg/target"
)

// The observe budget held, at the account's own scale: the local gateway limits the control plane
// as an account is (SetRateLimit(10, 40)), every call takes Latency and every DynamoDB call
// MemoryLatency. A release tool has just used the account's burst (40 calls) when the schedule's
// tick starts observing 500 stages; a moment later an alarm on one of them reaches another
// instance. With the default budget (2 rps) the tick leaves the account room and the alarm is
// decided as fast as alone; with no budget the tick's back-to-back reads (one every round trip)
// outrun the quota and the alarm's own calls meet 429s.
const (
	fleetSize = 500
	// fleetTick is the tick's invocation timeout: a shortened Lambda timeout (30 s), so a run takes
	// seconds; the tick paces the same way whatever its length.
	fleetTick = 4 * time.Second
	// alarmAfter is when the alarm comes, into the tick.
	alarmAfter = 1500 * time.Millisecond
	alarmStage = "s137"
)

// front is a recording proxy in front of the World, one per instance, so each instance's
// control-plane calls (DynamoDB's are left out) are told apart: arrival time and status.
type front struct {
	srv *httptest.Server
	mu  sync.Mutex
	at  []time.Time
	st  []int
}

func newFront(b *testing.B, to string) *front {
	u, err := url.Parse(to)
	if err != nil {
		b.Fatal(err)
	}
	f := &front{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // a tick's calls cut off by its deadline are expected
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_") {
			proxy.ServeHTTP(w, r)
			return
		}
		at := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(sw, r)
		f.mu.Lock()
		f.at, f.st = append(f.at, at), append(f.st, sw.status)
		f.mu.Unlock()
	}))
	b.Cleanup(f.srv.Close)
	return f
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// since returns the calls from index i on: their arrival times and how many were throttled.
func (f *front) since(i int) (at []time.Time, throttled int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := i; k < len(f.at); k++ {
		at = append(at, f.at[k])
		if f.st[k] == http.StatusTooManyRequests {
			throttled++
		}
	}
	return at, throttled
}

func (f *front) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.at)
}

// maxInWindow is the most calls in any window of w.
func maxInWindow(at []time.Time, w time.Duration) int {
	most := 0
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < w; j++ {
			n++
		}
		most = max(most, n)
	}
	return most
}

// fleetHandler builds an instance over 500 targets, as bench.World.Handler builds one over one: the
// alarm "luna-api-errors" (no ApiName) goes to alarmStage; rate 0 is no budget.
func fleetHandler(b *testing.B, w *bench.World, endpoint string, targets []string, rate float64) *responder.Handler {
	cfg, err := config.FromEnv(func(k string) string {
		switch k {
		case config.EnvTargets:
			return strings.Join(targets, ",")
		case config.EnvAlarmTargets:
			return "luna-api-errors=" + w.API.ID + "/" + alarmStage
		case config.EnvMemoryTable:
			return bench.MemoryTable
		case config.EnvAutoRollbackWindow:
			return "0"
		}
		return ""
	})
	if err != nil {
		b.Fatal(err)
	}
	cfg.ControlPlaneBudget = rate
	awsCfg := bench.AWSConfig()
	awsCfg.BaseEndpoint = aws.String(endpoint)
	h, err := responder.Build(cfg, awsCfg, responder.Options{Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Guard: &rollback.Guard{Max: 1 << 30, Window: time.Hour}})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// fleetWorld is a World whose API has 500 stages on its newest deployment, behind the account's
// quota, at the benchmark latencies.
func fleetWorld(b *testing.B) (*bench.World, []string) {
	w, err := bench.NewWorld(2, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Close)
	targets := make([]string, fleetSize)
	for i := range targets {
		stage := fmt.Sprintf("s%03d", i)
		if err := w.GW.CreateStage(w.API.ID, apigwlocal.StageSpec{Name: stage, DeploymentID: w.New}); err != nil {
			b.Fatal(err)
		}
		targets[i] = w.API.ID + "/" + stage
	}
	w.SetLatency(Latency)
	w.SetMemoryLatency(MemoryLatency)
	w.GW.SetRateLimit(10, 40)
	return w, targets
}

// drain spends the account's burst as a release tool's deploy would: 40 calls, at once.
func drain(c *apigateway.Client) {
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			_, _ = c.GetRestApis(context.Background(), &apigateway.GetRestApisInput{}, func(o *apigateway.Options) { o.RetryMaxAttempts = 1 })
		})
	}
	wg.Wait()
}

// fleetAlarm runs alarm i through h and checks it rolled alarmStage back; it resets the stage first.
func fleetAlarm(b *testing.B, w *bench.World, h *responder.Handler, i int) time.Duration {
	t := target.Target{Kind: target.KindRESTStage, Resource: w.API.ID, Slot: alarmStage}
	if err := w.GW.SetDeploymentID(w.API.ID, alarmStage, w.New); err != nil {
		b.Fatal(err)
	}
	if err := w.AgeMemory(t, bench.LastSwitchAge); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := bench.InvokeContext()
	defer cancel()
	start := time.Now()
	out, err := h.Handle(ctx, bench.AlarmEvent(i, ""))
	took := time.Since(start)
	a, ok := out.(responder.Answer)
	if err != nil || !ok || len(a.Results) != 1 || a.Results[0].Outcome != rollback.OutcomeRolledBack || a.Results[0].Target != t.String() {
		b.Fatalf("alarm: %#v %v, want %s rolled back", out, err, t)
	}
	return took
}

// BenchmarkObserveBudget is "observe budget held": the tick's calls per second against its budget,
// and the alarm's decision time during the tick against the same alarm alone.
func BenchmarkObserveBudget(b *testing.B) {
	w, targets := fleetWorld(b)
	team := w.Client()
	for _, c := range []struct {
		name string
		rate float64
	}{{"budget=2rps", config.DefaultControlPlaneBudget}, {"budget=none", 0}} {
		b.Run(c.name, func(b *testing.B) {
			obsFront, alarmFront := newFront(b, w.URL), newFront(b, w.URL)
			observer := fleetHandler(b, w, obsFront.srv.URL, targets, c.rate)
			alarmer := fleetHandler(b, w, alarmFront.srv.URL, targets, config.DefaultControlPlaneBudget)
			var alone, during, rps, window, alarm429, tick429, calls, tickMS float64
			for range b.N {
				time.Sleep(time.Second) // the account's quota refills enough for the alarm alone
				alarmSeq++
				alone += float64(fleetAlarm(b, w, alarmer, alarmSeq)) / 1e6
				drain(team)
				o0, a0 := obsFront.count(), alarmFront.count()
				var wg sync.WaitGroup
				var tickTook time.Duration
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), fleetTick)
					defer cancel()
					start := time.Now()
					_, _ = observer.Handle(ctx, scheduleEvent())
					tickTook = time.Since(start)
				})
				time.Sleep(alarmAfter)
				alarmSeq++
				during += float64(fleetAlarm(b, w, alarmer, alarmSeq)) / 1e6
				wg.Wait()
				at, thr := obsFront.since(o0)
				_, athr := alarmFront.since(a0)
				if len(at) > budget.DefaultBurst {
					// The rate after the burst: calls beyond the first DefaultBurst over their span.
					rps += float64(len(at)-budget.DefaultBurst) / at[len(at)-1].Sub(at[0]).Seconds()
				}
				calls += float64(len(at))
				tickMS += float64(tickTook.Milliseconds())
				window += float64(maxInWindow(at, time.Second))
				tick429 += float64(thr)
				alarm429 += float64(athr)
			}
			n := float64(b.N)
			b.ReportMetric(rps/n, "tick-rps")
			b.ReportMetric(calls/n, "tick-calls")
			b.ReportMetric(tickMS/n, "tick-ms")
			b.ReportMetric(c.rate, "budget-rps")
			b.ReportMetric(window/n, "tick-max-calls-1s")
			b.ReportMetric(tick429/n, "tick-429s")
			b.ReportMetric(during/n, "alarm-ms")
			b.ReportMetric(alone/n, "alarm-alone-ms")
			b.ReportMetric(during/alone, "alarm-x-alone")
			b.ReportMetric(alarm429/n, "alarm-429s")
		})
	}
}

// scheduleEvent is EventBridge's Scheduled Event, as the template's schedule sends it.
func scheduleEvent() []byte {
	return []byte(`{"version":"0","id":"tick","detail-type":"Scheduled Event","source":"aws.events","account":"` + bench.Account +
		`","time":"2027-01-01T00:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:` + bench.Account +
		`:rule/rewind-observe"],"detail":{}}`)
}
