package responder_test

// The fault matrix: every control-plane call Rewind makes for an alarm, under every fault the local
// API Gateway injects. Each cell checks the answer, that an error is returned exactly when the work
// could not be finished (so Lambda retries and the on-failure destination keeps the event), that the
// stage and Rewind's memory agree (switched and recorded, or neither), and that the same alarm
// delivered again afterwards never rolls back a second time.

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/apigwlocal"
	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/internal/testenv"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
)

// faultWorld is one API with 501 deployments, so its history takes two GetDeployments pages of 500,
// and stage prod serving the newest (d500); the rollback goes to d499.
type faultWorld struct {
	*rig
	api string
}

const (
	faultLive     = "d500"
	faultPrevious = "d499"
)

func newFaultWorld(t *testing.T) faultWorld {
	t.Helper()
	r := newRig(t, scheduleStart)
	api := r.gw.CreateRestAPI("shop")
	for i := range 501 {
		if _, err := r.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: fmt.Sprintf("d%03d", i),
			CreatedDate: scheduleStart.Add(time.Duration(i-501) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: faultLive}); err != nil {
		t.Fatal(err)
	}
	return faultWorld{rig: r, api: api.ID}
}

func (w faultWorld) env() map[string]string {
	return map[string]string{config.EnvTargets: w.api + "/prod"}
}

// alarm is the 5XX alarm on shop/prod, fired a second and a half before now.
func (w faultWorld) alarm(name string) alarmDef {
	return alarmDef{name: name, state: "ALARM", at: w.clock.Now().Add(-1500 * time.Millisecond), apiName: "shop", stage: "prod"}
}

// consistent checks that the stage and Rewind's memory tell the same story: untouched (d500, no
// memory), or rolled back to d499 with d500 known bad, the incident handled and the change recorded.
// It returns whether the stage was rolled back.
func (w faultWorld) consistent(t *testing.T, incident string) bool {
	t.Helper()
	st, _ := w.gw.Stage(w.api, "prod")
	mem, err := rollback.DecodeMemory(st.Variables)
	if err != nil {
		t.Fatalf("Rewind's memory does not decode: %v (%v)", err, st.Variables)
	}
	switch st.DeploymentID {
	case faultLive:
		if len(st.Variables) != 0 {
			t.Errorf("stage still serves %s but carries memory %v: the record without the switch", faultLive, st.Variables)
		}
		return false
	case faultPrevious:
		if !mem.IsBad(faultLive) || !slices.Contains(mem.Incidents, incident) || mem.Last == nil ||
			mem.Last.Kind != rollback.KindRollback || mem.Last.From != faultLive || mem.Last.To != faultPrevious {
			t.Errorf("stage serves %s but its memory says bad=%v incidents=%v last=%+v: the switch without its record",
				faultPrevious, mem.Bad, mem.Incidents, mem.Last)
		}
		return true
	}
	t.Errorf("stage serves %s, want %s or %s", st.DeploymentID, faultLive, faultPrevious)
	return false
}

// moves returns the distinct rollbacks (from -> to) the stage was given, from the writes applied.
func (w faultWorld) moves() []string {
	var out []string
	for _, e := range w.rec.entries() {
		if e.patch == nil || e.patch.deploymentID == "" {
			continue
		}
		mem, _ := e.patch.memory()
		if mem.Last == nil {
			continue
		}
		m := mem.Last.From + "->" + e.patch.deploymentID
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// faultCall is one control-plane call of the alarm path; skip is how many calls of the operation
// pass before the fault (1 for the second page of the history).
type faultCall struct {
	name, op string
	skip     int
}

var faultCalls = []faultCall{
	{"GetRestApis", "GetRestApis", 0},
	{"GetStage", "GetStage", 0},
	{"GetDeployments-page1", "GetDeployments", 0},
	{"GetDeployments-page2", "GetDeployments", 1},
	{"UpdateStage", "UpdateStage", 0},
}

// faultKind is one misbehaviour; deadline faults hold the answer past the invocation's deadline.
type faultKind struct {
	name     string
	fault    apigwlocal.Fault
	deadline bool
}

var faultKinds = []faultKind{
	{"429x6", apigwlocal.Fault{Status: http.StatusTooManyRequests, Times: 6}, false},
	{"500x2", apigwlocal.Fault{Status: http.StatusInternalServerError, Times: 2}, false},
	{"503x2", apigwlocal.Fault{Status: http.StatusServiceUnavailable, Times: 2}, false},
	{"409x2", apigwlocal.Fault{Status: http.StatusConflict, Times: 2}, false},
	{"reset-x2", apigwlocal.Fault{Reset: true, Times: 2}, false},
	{"reset-after-apply", apigwlocal.Fault{Reset: true, AfterApply: true}, false},
	{"slower-than-deadline", apigwlocal.Fault{Delay: 3 * time.Second}, true},
	{"slower-than-deadline-after-apply", apigwlocal.Fault{Delay: 3 * time.Second, AfterApply: true}, true},
}

// deadlineBudget is what an invocation with a deadline fault has: the responder keeps 500 ms of
// Lambda's deadline back, so its calls get 150 ms, far less than the fault's delay.
const deadlineBudget = 500*time.Millisecond + 150*time.Millisecond

func TestFaultMatrix(t *testing.T) {
	cells := 0
	for _, call := range faultCalls {
		for _, kind := range faultKinds {
			cells++
			t.Run(call.name+"/"+kind.name, func(t *testing.T) {
				t.Parallel()
				faultCell(t, call, kind)
			})
		}
	}
	testenv.Figure(t, "fault matrix: %d control-plane calls x %d faults = %d cells (plus the account rate limit with several instances, "+
		"and six throttled writes under the production retry policy)", len(faultCalls), len(faultKinds), cells)
}

func faultCell(t *testing.T, call faultCall, kind faultKind) {
	w := newFaultWorld(t)
	h := w.handler(t, w.env(), fastRetry, nil)
	for range call.skip {
		w.gw.InjectFault(call.op, apigwlocal.Fault{}) // lets the first page through untouched
	}
	w.gw.InjectFault(call.op, kind.fault)
	w.clock.Advance(time.Minute)
	a := w.alarm("shop-5xx")

	timeout := 30 * time.Second
	if kind.deadline {
		timeout = deadlineBudget
	}
	ctx, cancel := lambdaCtx(timeout)
	out, err := h.Handle(ctx, a.payload(viaSNS))
	cancel()
	w.rec.quiesce(3)

	// The fault really happened to the call it names.
	var hit []apigwlocal.Call
	for _, c := range w.gw.Calls() {
		if c.Op == call.op && c.Fault != "" && c.Fault != "noop" {
			hit = append(hit, c)
		}
	}
	if len(hit) == 0 {
		t.Fatalf("no %s call met the fault; calls: %+v", call.op, w.gw.Calls())
	}

	rolledBack := w.consistent(t, a.incident())
	switch {
	case kind.deadline:
		if !errors.Is(err, responder.ErrFailed) || !strings.Contains(err.Error(), "deadline exceeded") {
			t.Fatalf("err = %v, want the invocation to fail on its deadline (so Lambda retries)", err)
		}
		if f := hit[0].Fault; !strings.HasSuffix(f, "canceled") {
			t.Errorf("the slow call ended %q: the client should have given up at its deadline, not waited", f)
		}
		// Only a write that was applied before the answer was held can have moved the stage.
		if want := call.op == "UpdateStage" && kind.fault.AfterApply; rolledBack != want {
			t.Errorf("rolled back = %v, want %v", rolledBack, want)
		}
	default:
		if err != nil {
			t.Fatalf("err = %v: the retry policy should absorb %s on %s", err, kind.name, call.name)
		}
		if r := resultsOf(out); len(r) != 1 || r[0].Outcome != rollback.OutcomeRolledBack || r[0].To != faultPrevious {
			t.Fatalf("results = %+v", r)
		}
		if !rolledBack {
			t.Fatal("answered rolled-back, but the stage did not move")
		}
		if n := w.gw.CallCount(call.op); n < call.skip+kindTimes(kind.fault)+1 {
			t.Errorf("%s was called %d times; the fault takes %d calls, so it was not retried past it", call.op, n, kindTimes(kind.fault))
		}
	}

	// The same notification again (SNS redelivers; Lambda retries a failed invocation): at most
	// one rollback in all.
	out, err = invoke(h, a.payload(viaSNS))
	if err != nil {
		t.Fatalf("repeat: %v", err)
	}
	r := resultsOf(out)[0]
	if rolledBack && (r.Outcome != rollback.OutcomeSkipped || r.Code != rollback.CodeRepeat) {
		t.Errorf("repeat after the rollback: %s (%s), want skipped as a repeated delivery of the incident", r.Outcome, r.Reason)
	}
	if !rolledBack && r.Outcome != rollback.OutcomeRolledBack {
		t.Errorf("retry after a failed invocation: %s (%s), want rolled-back", r.Outcome, r.Reason)
	}
	if !w.consistent(t, a.incident()) {
		t.Error("after the repeat the stage is not rolled back")
	}
	if m := w.moves(); len(m) != 1 || m[0] != faultLive+"->"+faultPrevious {
		t.Errorf("rollbacks applied: %v, want exactly one %s->%s", m, faultLive, faultPrevious)
	}
}

func kindTimes(f apigwlocal.Fault) int { return max(f.Times, 1) }

// TestSixThrottledWritesRollBackOnceWithTheProductionPolicy: the figure, with
// awsretry.Default itself (its real backoff, not the tests' millisecond one) and Lambda's 30 s
// timeout: six 429s in a row on UpdateStage still end in one rollback, in one invocation.
func TestSixThrottledWritesRollBackOnceWithTheProductionPolicy(t *testing.T) {
	w := newFaultWorld(t)
	h := w.handler(t, w.env(), awsretry.Default, nil)
	w.gw.InjectFault("UpdateStage", apigwlocal.Fault{Status: http.StatusTooManyRequests, Times: 6})
	w.clock.Advance(time.Minute)
	a := w.alarm("shop-5xx")
	out, err := invoke(h, a.payload(viaSNS))
	if err != nil {
		t.Fatal(err)
	}
	if r := resultsOf(out)[0]; r.Outcome != rollback.OutcomeRolledBack || r.To != faultPrevious {
		t.Fatalf("%+v", r)
	}
	if n := w.gw.CallCount("UpdateStage"); n != 7 {
		t.Errorf("UpdateStage calls = %d, want 6 throttled and 1 that went through", n)
	}
	if n := w.gw.Writes(); n != 1 {
		t.Errorf("writes = %d, want 1", n)
	}
	w.consistent(t, a.incident())
}

// TestAccountRateLimitWithSeveralInstances: API Gateway's account quota (10 requests per second,
// burst 40) already spent by someone else when four instances get the incident's alarms at once
// (the same notification twice, a second alarm, and a person asking for status), with the
// production retry policy. Whatever the throttling costs, the stage moves once; an instance that
// gives up fails its invocation, and Lambda's retry of it changes nothing further.
func TestAccountRateLimitWithSeveralInstances(t *testing.T) {
	w := newFaultWorld(t)
	w.gw.SetRateLimit(10, 40)
	for i := 0; ; i++ { // someone else's calls spend the burst, to the last token
		resp, err := http.Get(w.url + "/restapis")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		if i == 1000 {
			t.Fatal("the rate limit never answered 429")
		}
	}
	w.clock.Advance(time.Minute)
	first, second := w.alarm("shop-5xx"), w.alarm("shop-p99")
	payloads := [][]byte{first.payload(viaSNS), first.payload(viaEventBridge), second.payload(viaSNS), []byte(`{"action":"status"}`)}
	insts := make([]*responder.Handler, len(payloads))
	for i := range insts {
		insts[i] = w.handler(t, w.env(), awsretry.Default, nil)
	}
	errs := make([]error, len(payloads))
	var wg sync.WaitGroup
	for i := range payloads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = invoke(insts[i], payloads[i])
		}()
	}
	wg.Wait()
	w.rec.quiesce(3)
	throttled := 0
	for _, c := range w.gw.Calls() {
		if c.Fault == "ratelimit" {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("no call was throttled: the test did not test the quota")
	}
	failed := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed++
		if !errors.Is(err, responder.ErrFailed) {
			t.Errorf("instance %d: %v does not wrap ErrFailed", i, err)
		}
		// Lambda retries the failed invocation.
		if _, err := invoke(insts[i], payloads[i]); err != nil {
			t.Errorf("instance %d, Lambda's retry: %v", i, err)
		}
	}
	st, _ := w.gw.Stage(w.api, "prod")
	mem, _ := rollback.DecodeMemory(st.Variables)
	incident := first.incident()
	if slices.Contains(mem.Incidents, second.incident()) {
		incident = second.incident() // the second alarm's instance got there first
	}
	if !w.consistent(t, incident) {
		t.Error("the stage was not rolled back")
	}
	if m := w.moves(); len(m) != 1 || m[0] != faultLive+"->"+faultPrevious {
		t.Errorf("rollbacks applied: %v, want exactly one %s->%s", m, faultLive, faultPrevious)
	}
	testenv.Figure(t, "rate limit 10 rps burst 40, 4 instances: %d calls throttled, %d of 4 invocations failed and were retried, 1 rollback",
		throttled, failed)
}
