package bench_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/rewind-sre/rewind/pkg/bench"
	"github.com/rewind-sre/rewind/pkg/notify"
	"github.com/rewind-sre/rewind/pkg/responder"
)

// Latency is what every control-plane call is made to take: a round trip to a real regional
// endpoint plus API Gateway's own handling is of this order.
const Latency = 50 * time.Millisecond

// Histories are the sizes the issue asks about: one page, exactly one full page, ten and a hundred.
var Histories = []int{10, 500, 5000, 50000}

// worlds keeps one World per size for the whole run: a benchmark function is called several times
// (b.N = 1, then more), and building 50,000 deployments each time would dominate the run.
var (
	worldsMu sync.Mutex
	worlds   = map[string]*bench.World{}
)

func world(b *testing.B, n int, replay bool) *bench.World {
	b.Helper()
	worldsMu.Lock()
	defer worldsMu.Unlock()
	key := fmt.Sprint(n, replay)
	if w, ok := worlds[key]; ok {
		return w
	}
	w, err := bench.NewWorld(n, replay)
	if err != nil {
		b.Fatal(err)
	}
	worlds[key] = w // closed when the process ends
	return w
}

// rtt is one GetStage round trip at the world's latency: the median of 7 on a warm connection.
func rtt(b *testing.B, w *bench.World, c *apigateway.Client) time.Duration {
	b.Helper()
	var d []time.Duration
	for range 7 {
		start := time.Now()
		if _, err := c.GetStage(context.Background(), &apigateway.GetStageInput{RestApiId: aws.String(w.API.ID), StageName: aws.String(bench.StageName)}); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// decide runs one alarm through h and checks that it rolled the stage back; the stage is reset
// first, outside the timer. It returns how long after the call the rollback's write was answered.
func decide(b *testing.B, w *bench.World, h *responder.Handler, i int, apiName string) (written time.Duration) {
	b.StopTimer()
	if err := w.Reset(); err != nil {
		b.Fatal(err)
	}
	ev := bench.AlarmEvent(i, apiName)
	ctx, cancel := bench.InvokeContext()
	defer cancel()
	b.StartTimer()
	start := time.Now()
	out, err := h.Handle(ctx, ev)
	b.StopTimer()
	if err := w.CheckRolledBack(out, err); err != nil {
		b.Fatal(err)
	}
	written = w.Written().Sub(start)
	b.StartTimer()
	return written
}

// alarmSeq numbers alarms across the whole run, so every alarm is a new incident.
var alarmSeq int

// BenchmarkRTT is one GetStage at the injected latency: the round trip the floor is counted in.
func BenchmarkRTT(b *testing.B) {
	w := world(b, 10, false)
	w.SetLatency(Latency)
	defer w.SetLatency(0)
	c := w.Client()
	in := &apigateway.GetStageInput{RestApiId: aws.String(w.API.ID), StageName: aws.String(bench.StageName)}
	if _, err := c.GetStage(context.Background(), in); err != nil { // connect outside the timer
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := c.GetStage(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloor is the whole handler (SNS event in, answer out) for one alarm that rolls the stage
// back, at Latency per control-plane call, on a warm instance. x2RTT is its time over two round
// trips measured in the same benchmark (the floor: GetStage ‖ GetDeployments, then UpdateStage);
// write-x2RTT is the same for the moment the write was answered, i.e. when the rollback landed.
//
// Name resolution for alarms that carry ApiName: "cached" is the name cache within its TTL (a
// second alarm within 10 minutes); "expired" a warm instance whose last resolution is older than
// the TTL, which is how most alarms find it (incidents are rarer than every 10 minutes);
// "first-invocation" a new handler and client per alarm.
func BenchmarkFloor(b *testing.B) {
	cases := []struct {
		name    string
		n       int
		apiName string
		names   string // "cached", "expired" or "first-invocation"
		notify  bool
	}{
		{name: "history=10/alarm=no-ApiName", n: 10},
		{name: "history=500/alarm=no-ApiName", n: 500},
		{name: "history=10/alarm=ApiName/names=cached", n: 10, apiName: "luna-api", names: "cached"},
		{name: "history=10/alarm=ApiName/names=expired", n: 10, apiName: "luna-api", names: "expired"},
		{name: "history=10/alarm=ApiName/names=first-invocation", n: 10, apiName: "luna-api", names: "first-invocation"},
		{name: "history=10/alarm=no-ApiName/notify=sns", n: 10, notify: true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			w := world(b, tc.n, false)
			w.SetLatency(Latency)
			defer w.SetLatency(0)
			var notifier responder.Notifier
			if tc.notify {
				srv := bench.SNSServer(Latency)
				defer srv.Close()
				client := sns.NewFromConfig(bench.AWSConfig(), func(o *sns.Options) { o.BaseEndpoint = aws.String(srv.URL) })
				notifier = notify.New(client, "arn:aws:sns:us-east-1:"+bench.Account+":rewind-notify", "rewind")
			}
			// The name cache's clock moves on by more than the TTL between alarms in "expired".
			var (
				clockMu sync.Mutex
				clock   = time.Now()
			)
			namesNow := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
			c := w.Client()
			h, err := w.Handler(notifier, namesNow)
			if err != nil {
				b.Fatal(err)
			}
			alarmSeq++
			decide(b, w, h, alarmSeq, tc.apiName) // warm: connections open, names cached
			round := rtt(b, w, c)
			var written time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				switch tc.names {
				case "expired":
					clockMu.Lock()
					clock = clock.Add(bench.APINameTTL + time.Minute)
					clockMu.Unlock()
				case "first-invocation":
					if h, err = w.Handler(notifier, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				alarmSeq++
				written += decide(b, w, h, alarmSeq, tc.apiName)
			}
			b.StopTimer()
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(perOp)/float64(2*round), "x2RTT")
			b.ReportMetric(float64(written/time.Duration(b.N))/float64(2*round), "write-x2RTT")
			b.ReportMetric(float64(round)/float64(time.Millisecond), "RTT-ms")
		})
	}
}

// BenchmarkScale is the handler over histories of every size with no injected latency, so what is
// left is Rewind's own work (SDK, decoding, deciding) and loopback HTTP; calls/op is what
// apigwlocal recorded for one decision (the goal: ⌈N/500⌉ pages + GetStage + UpdateStage). Pages
// after the first decision are replayed (see bench.Replay): the local gateway's listing is itself
// quadratic and would otherwise be most of the figure.
func BenchmarkScale(b *testing.B) {
	for _, n := range Histories {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			w := world(b, n, true)
			h, err := w.Handler(nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			w.GW.ResetCalls()
			replayed := w.Replayed()
			alarmSeq++
			decide(b, w, h, alarmSeq, "")
			calls := len(w.GW.Calls()) + w.Replayed() - replayed // pages replayed are calls too
			b.ResetTimer()
			for range b.N {
				alarmSeq++
				decide(b, w, h, alarmSeq, "")
			}
			b.StopTimer()
			w.GW.ResetCalls() // Calls grows with every call; keep the run's memory flat
			b.ReportMetric(float64(calls), "calls/op")
			b.ReportMetric(float64(calls-bench.Pages(n)-2), "extra-calls/op")
		})
	}
}

// BenchmarkScaleAtLatency is BenchmarkScale at Latency: pages cannot be fetched in parallel (each
// needs the previous one's position), so the floor is ⌈N/500⌉ round trips for the history, the
// stage read riding along with the first, plus the write. x-floor is the time over that.
func BenchmarkScaleAtLatency(b *testing.B) {
	for _, n := range Histories {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			w := world(b, n, true)
			c := w.Client()
			h, err := w.Handler(nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			alarmSeq++
			decide(b, w, h, alarmSeq, "") // fill the replay and open connections, without the latency
			w.SetLatency(Latency)
			defer w.SetLatency(0)
			round := rtt(b, w, c)
			b.ResetTimer()
			for range b.N {
				alarmSeq++
				decide(b, w, h, alarmSeq, "")
			}
			b.StopTimer()
			w.GW.ResetCalls()
			perOp := b.Elapsed() / time.Duration(b.N)
			floor := time.Duration(bench.Pages(n)+1) * round
			b.ReportMetric(float64(perOp)/float64(floor), "x-floor")
		})
	}
}

// BenchmarkPeakHeap samples the heap (runtime/metrics /memory/classes/heap/objects:bytes, live and
// not-yet-swept objects) every 50 µs during one decision, after a GC, and reports the highest value
// above the level before the decision. The local gateway lives in the same heap, and its live data
// (every deployment) raises the GC's goal, so garbage can pile higher here than in the bootstrap:
// this is an upper bound. rewind-bench also measures the real bootstrap in its own process.
func BenchmarkPeakHeap(b *testing.B) {
	for _, n := range Histories {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			w := world(b, n, true)
			h, err := w.Handler(nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			alarmSeq++
			decide(b, w, h, alarmSeq, "")
			var peak uint64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				runtime.GC()
				base := heapObjects()
				stop := sampleHeap()
				b.StartTimer()
				alarmSeq++
				decide(b, w, h, alarmSeq, "")
				b.StopTimer()
				if top := stop(); top > base && top-base > peak {
					peak = top - base
				}
				b.StartTimer()
			}
			b.StopTimer()
			w.GW.ResetCalls()
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap samples heapObjects until the returned stop is called, which returns the highest.
func sampleHeap() (stop func() uint64) {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		high := heapObjects()
		t := time.NewTicker(50 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				result <- max(high, heapObjects())
				return
			case <-t.C:
				high = max(high, heapObjects())
			}
		}
	}()
	return func() uint64 { close(done); return <-result }
}
