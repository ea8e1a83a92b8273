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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/rewind-sre/rewind/pkg/notify"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/support/bench"
)

// Latency is what every control-plane call is made to take: a round trip to a real regional
// endpoint plus API Gateway's own handling is of this order.
const Latency = 50 * time.Millisecond

// MemoryLatency is what every DynamoDB call is made to take in the main figures: DynamoDB answers a
// single-item read or write within a few milliseconds of the network. The floor is also measured
// with DynamoDB as slow as the control plane (Latency), which is its worst case.
const MemoryLatency = 10 * time.Millisecond

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
	return median7(b, func() error {
		_, err := c.GetStage(context.Background(), &apigateway.GetStageInput{RestApiId: aws.String(w.API.ID), StageName: aws.String(bench.StageName)})
		return err
	})
}

// memRTT is one DynamoDB round trip at the world's memory latency, measured as rtt measures the
// control plane's: the median of 7 strongly consistent GetItems of the target's memory item (what
// every decision reads) on a warm connection.
func memRTT(b *testing.B, w *bench.World, c *dynamodb.Client) time.Duration {
	b.Helper()
	pk, sk := bench.MemoryKey(w.Target)
	in := &dynamodb.GetItemInput{TableName: aws.String(bench.MemoryTable), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}}
	return median7(b, func() error { _, err := c.GetItem(context.Background(), in); return err })
}

func median7(b *testing.B, call func() error) time.Duration {
	b.Helper()
	if err := call(); err != nil { // connect
		b.Fatal(err)
	}
	var d []time.Duration
	for range 7 {
		start := time.Now()
		if err := call(); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// decide runs one alarm through h and checks that it rolled the stage back; the stage is reset
// first (World.Reset: Rewind's last switch of it is dated a while ago), outside the timer. It
// returns how long after the call the rollback's write was answered.
func decide(b *testing.B, w *bench.World, h *responder.Handler, i int, apiName string) (written time.Duration) {
	b.StopTimer()
	if err := w.Reset(); err != nil {
		b.Fatal(err)
	}
	return decideNow(b, w, h, i, apiName)
}

// resetStageOnly puts the stage back on the newest deployment and leaves Rewind's memory as it is:
// its last switch is the previous decision's, moments ago. The timer must be stopped.
func resetStageOnly(b *testing.B, w *bench.World) {
	b.Helper()
	if err := w.GW.SetDeploymentID(w.API.ID, bench.StageName, w.New); err != nil {
		b.Fatal(err)
	}
}

// decideNow is decide without the reset; the timer must be stopped.
func decideNow(b *testing.B, w *bench.World, h *responder.Handler, i int, apiName string) (written time.Duration) {
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

// BenchmarkRTT is one round trip of each service at its injected latency, the units the floors are
// counted in: GetStage for the control plane, a strongly consistent GetItem of a target's memory item
// for DynamoDB.
func BenchmarkRTT(b *testing.B) {
	cases := []struct {
		name    string
		latency time.Duration
		memory  bool
	}{
		{name: "op=GetStage/latency=50ms", latency: Latency},
		{name: "op=GetItem/latency=10ms", latency: MemoryLatency, memory: true},
		{name: "op=GetItem/latency=50ms", latency: Latency, memory: true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			w := world(b, 10, false)
			h, err := w.Handler(nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			alarmSeq++
			decide(b, w, h, alarmSeq, "") // the memory item exists, as it does after the first decision
			var call func() error
			if tc.memory {
				w.SetMemoryLatency(tc.latency)
				defer w.SetMemoryLatency(0)
				c := w.DynamoDB()
				pk, sk := bench.MemoryKey(w.Target)
				in := &dynamodb.GetItemInput{TableName: aws.String(bench.MemoryTable), ConsistentRead: aws.Bool(true),
					Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}}
				call = func() error { _, err := c.GetItem(context.Background(), in); return err }
			} else {
				w.SetLatency(tc.latency)
				defer w.SetLatency(0)
				c := w.Client()
				in := &apigateway.GetStageInput{RestApiId: aws.String(w.API.ID), StageName: aws.String(bench.StageName)}
				call = func() error { _, err := c.GetStage(context.Background(), in); return err }
			}
			if err := call(); err != nil { // connect outside the timer
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFloor is the whole handler (SNS event in, answer out) for one alarm that rolls the stage
// back, at Latency per control-plane call and ddb per DynamoDB call, on a warm instance. A rollback
// reads the stage and its memory together (GetStage ∥ GetDeployments ∥ GetItem), claims the change
// (PutItem), switches (UpdateStage), then confirms it and keeps its audit entry together (PutItem ∥
// PutItem): the switch lands at 2 control-plane round trips and 1 DynamoDB round trip at the least,
// the answer one DynamoDB round trip later. x-floor is the time to the switch (the gateway answered
// the UpdateStage) over 2·RTT + RTT_ddb, both round trips measured in the same benchmark;
// answer-x-floor the handler's whole time over 2·RTT + 2·RTT_ddb; x2RTT and write-x2RTT are the same
// two times over 2·RTT, the floor before Rewind kept its memory in DynamoDB.
//
// Name resolution for alarms that carry ApiName: "cached" is the name cache within its TTL (a
// second alarm within 10 minutes); "expired" a warm instance whose last resolution is older than
// the TTL, which is how most alarms find it (incidents are rarer than every 10 minutes);
// "first-invocation" a new handler and client per alarm.
func BenchmarkFloor(b *testing.B) {
	type floorCase struct {
		name    string
		n       int
		apiName string
		names   string // "cached", "expired" or "first-invocation"
		notify  bool
		recent  bool // the stage's last switch is the previous iteration's (resetStageOnly)
		ddb     time.Duration
	}
	var cases []floorCase
	for _, ddb := range []time.Duration{MemoryLatency, Latency} {
		cases = append(cases,
			floorCase{name: "history=10/alarm=no-ApiName", n: 10, ddb: ddb},
			floorCase{name: "history=500/alarm=no-ApiName", n: 500, ddb: ddb})
		if ddb != MemoryLatency {
			continue // equal latencies: the worst case, for the plain decision only
		}
		cases = append(cases,
			floorCase{name: "history=10/alarm=ApiName/names=cached", n: 10, apiName: "luna-api", names: "cached", ddb: ddb},
			floorCase{name: "history=10/alarm=ApiName/names=expired", n: 10, apiName: "luna-api", names: "expired", ddb: ddb},
			floorCase{name: "history=10/alarm=ApiName/names=first-invocation", n: 10, apiName: "luna-api", names: "first-invocation", ddb: ddb},
			floorCase{name: "history=10/alarm=no-ApiName/notify=sns", n: 10, notify: true, ddb: ddb},
			floorCase{name: "history=10/alarm=no-ApiName/last-switch=within-1s", n: 10, recent: true, ddb: ddb})
	}
	for _, tc := range cases {
		b.Run(fmt.Sprintf("ddb=%dms/%s", tc.ddb.Milliseconds(), tc.name), func(b *testing.B) {
			w := world(b, tc.n, false)
			w.SetLatency(Latency)
			defer w.SetLatency(0)
			w.SetMemoryLatency(tc.ddb)
			defer w.SetMemoryLatency(0)
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
			h, err := w.Handler(notifier, namesNow)
			if err != nil {
				b.Fatal(err)
			}
			alarmSeq++
			decide(b, w, h, alarmSeq, tc.apiName) // warm: connections open, names cached
			round, memRound := rtt(b, w, w.Client()), memRTT(b, w, w.DynamoDB())
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
				alarmSeq++
				if tc.recent {
					resetStageOnly(b, w)
					written += decideNow(b, w, h, alarmSeq, tc.apiName)
					continue
				}
				b.StartTimer()
				written += decide(b, w, h, alarmSeq, tc.apiName)
			}
			b.StopTimer()
			perOp, switched := b.Elapsed()/time.Duration(b.N), written/time.Duration(b.N)
			b.ReportMetric(float64(switched)/float64(time.Millisecond), "switch-ms")
			b.ReportMetric(float64(switched)/float64(2*round+memRound), "x-floor")
			b.ReportMetric(float64(perOp)/float64(2*round+2*memRound), "answer-x-floor")
			b.ReportMetric(float64(perOp)/float64(2*round), "x2RTT")
			b.ReportMetric(float64(switched)/float64(2*round), "write-x2RTT")
			b.ReportMetric(float64(round)/float64(time.Millisecond), "RTT-ms")
			b.ReportMetric(float64(memRound)/float64(time.Millisecond), "ddb-RTT-ms")
		})
	}
}

// BenchmarkScale is the handler over histories of every size with no injected latency, so what is
// left is Rewind's own work (SDK, decoding, deciding) and loopback HTTP. The calls of one decision
// are counted per service: cp-calls/op is what apigwlocal recorded (the goal: ⌈N/500⌉ pages +
// GetStage + UpdateStage), ddb-GetItem/op and ddb-PutItem/op what the local DynamoDB recorded (the
// goal: the memory read; the claim, the confirmation and the audit entry), ddb-calls/op all of
// DynamoDB's. Pages after the first decision are replayed (see bench.Replay): the local gateway's
// listing is itself quadratic and would otherwise be most of the figure. The local DynamoDB runs in
// this process too: ddb-server-ms/op is the time it spent handling one decision's calls, which is
// in ns/op (and its garbage in B/op) but is not Rewind's.
func BenchmarkScale(b *testing.B) {
	for _, n := range Histories {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			w := world(b, n, true)
			h, err := w.Handler(nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := w.Reset(); err != nil {
				b.Fatal(err)
			}
			w.GW.ResetCalls()
			replayed, mem := w.Replayed(), w.MemoryCalls() // after the reset, whose UpdateItem is not the decision's
			alarmSeq++
			decideNow(b, w, h, alarmSeq, "")
			calls := len(w.GW.Calls()) + w.Replayed() - replayed // pages replayed are calls too
			memAfter := w.MemoryCalls()
			memTotal := 0
			for op, c := range memAfter {
				memTotal += c - mem[op]
			}
			served := w.MemoryServerTime()
			b.ResetTimer()
			for range b.N {
				alarmSeq++
				decide(b, w, h, alarmSeq, "")
			}
			b.StopTimer()
			b.ReportMetric(float64(w.MemoryServerTime()-served)/float64(time.Millisecond)/float64(b.N), "ddb-server-ms/op")
			w.GW.ResetCalls() // Calls grows with every call; keep the run's memory flat
			b.ReportMetric(float64(calls), "cp-calls/op")
			b.ReportMetric(float64(memAfter["GetItem"]-mem["GetItem"]), "ddb-GetItem/op")
			b.ReportMetric(float64(memAfter["PutItem"]-mem["PutItem"]), "ddb-PutItem/op")
			b.ReportMetric(float64(memTotal), "ddb-calls/op")
		})
	}
}

// BenchmarkScaleAtLatency is BenchmarkScale at Latency per control-plane call and MemoryLatency per
// DynamoDB call: pages cannot be fetched in parallel (each needs the previous one's position), so
// the switch lands at the earliest after ⌈N/500⌉ round trips for the history (the stage read and
// the memory read riding along with the first), the claim's DynamoDB round trip and the write; the
// answer one DynamoDB round trip later. x-floor is the handler's time over (⌈N/500⌉ + 1)·RTT +
// 2·RTT_ddb, write-x-floor the time to the switch over (⌈N/500⌉ + 1)·RTT + RTT_ddb.
func BenchmarkScaleAtLatency(b *testing.B) {
	for _, n := range Histories {
		b.Run(fmt.Sprintf("history=%d", n), func(b *testing.B) {
			w := world(b, n, true)
			h, err := w.Handler(nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			alarmSeq++
			decide(b, w, h, alarmSeq, "") // fill the replay and open connections, without the latency
			w.SetLatency(Latency)
			defer w.SetLatency(0)
			w.SetMemoryLatency(MemoryLatency)
			defer w.SetMemoryLatency(0)
			round, memRound := rtt(b, w, w.Client()), memRTT(b, w, w.DynamoDB())
			var written time.Duration
			b.ResetTimer()
			for range b.N {
				alarmSeq++
				written += decide(b, w, h, alarmSeq, "")
			}
			b.StopTimer()
			w.GW.ResetCalls()
			perOp, switched := b.Elapsed()/time.Duration(b.N), written/time.Duration(b.N)
			floor := time.Duration(bench.Pages(n)+1)*round + memRound
			b.ReportMetric(float64(perOp)/float64(floor+memRound), "x-floor")
			b.ReportMetric(float64(switched)/float64(floor), "write-x-floor")
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
