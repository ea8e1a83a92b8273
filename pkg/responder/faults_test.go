package responder_test

// The fault matrix: every call Rewind makes for an alarm, on the control plane and on its memory
// table, under every fault the local services inject. Each cell checks the answer, that an error is
// returned exactly when the work could not be finished (so Lambda retries and the on-failure
// destination keeps the event), that the stage and Rewind's memory tell one story (untouched;
// switched and recorded; or a claim open for the switch, landed or not), and that the same alarm
// delivered again afterwards (once any claim's lease is over, as Lambda's retry comes a minute
// later) finishes the job with exactly one switch in all.

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
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

func (w faultWorld) key() string { return w.api + "/prod" }

// alarm is the 5XX alarm on shop/prod, fired a second and a half before now.
func (w faultWorld) alarm(name string) alarmDef {
	return alarmDef{name: name, state: "ALARM", at: w.clock.Now().Add(-1500 * time.Millisecond), apiName: "shop", stage: "prod"}
}

// consistent checks that the stage and Rewind's memory tell one story: untouched (d500, the
// incident not handled), or rolled back to d499 with d500 known bad, the incident handled and the
// change recorded; either way possibly under an open claim for exactly d500 -> d499 (the change
// begun and not confirmed), unless settled is set. The stage carries nothing of Rewind's. It returns
// whether the stage was rolled back.
func (w faultWorld) consistent(t *testing.T, incident string, settled bool) bool {
	t.Helper()
	st, _ := w.gw.Stage(w.api, "prod")
	rec := mustRecord(t, w.ddb, w.key())
	mem := rec.Memory
	if len(st.Variables) != 0 || len(st.Tags) != 0 {
		t.Errorf("Rewind wrote on the stage: variables %v, tags %v", st.Variables, st.Tags)
	}
	if c := rec.Claim; c != nil && (settled || c.Plan.From != faultLive || c.Plan.To != faultPrevious) {
		t.Errorf("an open claim %s %s -> %s remains (settled expected: %v)", c.Plan.Kind, c.Plan.From, c.Plan.To, settled)
	}
	recorded := mem.IsBad(faultLive) && slices.Contains(mem.Incidents, incident) && mem.Last != nil &&
		mem.Last.Kind == rollback.KindRollback && mem.Last.From == faultLive && mem.Last.To == faultPrevious
	switch st.DeploymentID {
	case faultLive:
		if mem.Last != nil || slices.Contains(mem.Incidents, incident) {
			t.Errorf("stage still serves %s but the memory records bad=%v incidents=%v last=%+v: the record without the switch", faultLive, mem.Bad, mem.Incidents, mem.Last)
		}
		return false
	case faultPrevious:
		if !recorded && rec.Claim == nil {
			t.Errorf("stage serves %s but its memory says bad=%v incidents=%v last=%+v and no claim is open: the switch without its record",
				faultPrevious, mem.Bad, mem.Incidents, mem.Last)
		}
		return true
	}
	t.Errorf("stage serves %s, want %s or %s", st.DeploymentID, faultLive, faultPrevious)
	return false
}

// moves returns the distinct switches (from -> to) the stage was given, from the writes applied.
func (w faultWorld) moves() []string {
	var out []string
	for _, e := range w.rec.entries() {
		if e.patch == nil || e.patch.deploymentID == "" || e.before.DeploymentID == e.patch.deploymentID {
			continue
		}
		m := e.before.DeploymentID + "->" + e.patch.deploymentID
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// awaitLease waits until no claim of the world's stage holds any more (Lambda's retry comes a minute
// after the failure; the lease is the failed invocation's deadline and two seconds).
func (w faultWorld) awaitLease(t *testing.T) {
	t.Helper()
	if c := mustRecord(t, w.ddb, w.key()).Claim; c != nil {
		time.Sleep(time.Until(c.Expires) + 10*time.Millisecond)
	}
}

// faultCall is one call of the alarm path; skip is how many calls of the operation pass before the
// fault (1 for the second page of the history); memory marks a call to the memory table, whose
// PutItems are told apart by what they write.
type faultCall struct {
	name, op string
	skip     int
	memory   bool
}

var faultCalls = []faultCall{
	{"GetRestApis", "GetRestApis", 0, false},
	{"GetStage", "GetStage", 0, false},
	{"GetDeployments-page1", "GetDeployments", 0, false},
	{"GetDeployments-page2", "GetDeployments", 1, false},
	{"UpdateStage", "UpdateStage", 0, false},
	{"GetItem", "GetItem", 0, true},
	{"PutItem-claim", "PutItem", 0, true},   // the claim, before the switch
	{"PutItem-confirm", "PutItem", 0, true}, // the memory recorded once switched
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

// matrixTimeout is the function's timeout in the cells without a deadline fault: short, as a
// claim left open holds until the failed invocation's deadline (by the wall clock), and the cell
// waits that out before Lambda's retry.
const matrixTimeout = 5 * time.Second

// deadlineBudget is what an invocation with a deadline fault has: the responder keeps 500 ms of
// Lambda's deadline back, so its calls get 150 ms, far less than the fault's delay.
const deadlineBudget = 500*time.Millisecond + 150*time.Millisecond

func TestFaultMatrix(t *testing.T) {
	cells := 0
	for _, call := range faultCalls {
		for _, kind := range faultKinds {
			if call.op == "GetItem" && kind.fault.Status == http.StatusConflict {
				continue // a read never fails a condition
			}
			cells++
			t.Run(call.name+"/"+kind.name, func(t *testing.T) {
				t.Parallel()
				faultCell(t, call, kind)
			})
		}
	}
	testenv.Figure(t, "fault matrix: %d calls (control plane and memory table) x %d faults = %d cells (plus the account rate limit with several instances, "+
		"and six throttled writes under the production retry policy)", len(faultCalls), len(faultKinds), cells)
}

// cellWant is what a cell's first invocation must do: fail (an error, so Lambda retries), and
// whether the stage ends up switched.
func cellWant(call faultCall, kind faultKind) (fails, switched bool) {
	confirm := call.name == "PutItem-confirm" // the switch was made before the fault
	switch {
	case kind.deadline:
		return true, confirm || (call.op == "UpdateStage" && kind.fault.AfterApply)
	case confirm && kind.fault.Status == http.StatusConflict:
		// Another writer's record over the claim (what a ConditionalCheckFailed says): the switch is
		// made and cannot be recorded; the claim stays for the next invocation to settle.
		return true, true
	}
	return false, true
}

// inject puts f on the call: apigwlocal.Fault is awslocal.Fault, so one fault serves every service.
func (w faultWorld) inject(call faultCall, f apigwlocal.Fault) {
	switch call.name {
	case "PutItem-claim":
		w.rec.faultPuts(isClaim, f)
		return
	case "PutItem-confirm":
		w.rec.faultPuts(isConfirm, f)
		return
	}
	for range call.skip { // lets the first calls through untouched
		w.gw.InjectFault(call.op, apigwlocal.Fault{})
	}
	if call.memory {
		w.ddb.InjectFault(call.op, f)
		return
	}
	w.gw.InjectFault(call.op, f)
}

// hits lists the calls of op that met a fault.
func (w faultWorld) hits(call faultCall) []awslocal.Call {
	var calls []awslocal.Call
	if call.memory {
		calls = w.ddb.Calls()
	} else {
		for _, c := range w.gw.Calls() {
			calls = append(calls, awslocal.Call{Op: c.Op, Status: c.Status, Fault: c.Fault})
		}
	}
	var hit []awslocal.Call
	for _, c := range calls {
		if c.Op == call.op && c.Fault != "" && c.Fault != "noop" {
			hit = append(hit, c)
		}
	}
	return hit
}

func faultCell(t *testing.T, call faultCall, kind faultKind) {
	w := newFaultWorld(t)
	h := w.handler(t, w.env(), fastRetry, nil)
	w.inject(call, kind.fault)
	w.clock.Advance(time.Minute)
	a := w.alarm("shop-5xx")

	timeout := matrixTimeout
	if kind.deadline {
		timeout = deadlineBudget
	}
	ctx, cancel := lambdaCtx(timeout)
	out, err := h.Handle(ctx, a.payload(viaSNS))
	cancel()
	w.rec.quiesce(3)
	hit := w.hits(call)
	if len(hit) == 0 {
		t.Fatalf("no %s call met the fault", call.name)
	}
	fails, switched := cellWant(call, kind)
	if got := w.consistent(t, a.incident(), false); got != switched {
		t.Errorf("switched = %v, want %v", got, switched)
	}
	switch {
	case kind.deadline:
		if !errors.Is(err, responder.ErrFailed) || !strings.Contains(err.Error(), "deadline exceeded") {
			t.Fatalf("err = %v, want the invocation to fail on its deadline (so Lambda retries)", err)
		}
		if f := hit[0].Fault; !kind.fault.AfterApply && !strings.HasSuffix(f, "canceled") {
			t.Errorf("the slow call ended %q: the client should have given up at its deadline, not waited", f)
		}
	case fails:
		if err == nil {
			t.Fatalf("no error; answer %+v: the work is not finished, Lambda must retry", resultsOf(out))
		}
	default:
		if err != nil {
			t.Fatalf("err = %v: the retry policy (or deciding again) should absorb %s on %s", err, kind.name, call.name)
		}
		if r := resultsOf(out); len(r) != 1 || r[0].Outcome != rollback.OutcomeRolledBack || r[0].Code != rollback.CodeRolledBack || r[0].To != faultPrevious {
			t.Fatalf("results = %+v", r)
		}
		if c := mustRecord(t, w.ddb, w.key()).Claim; c != nil {
			t.Errorf("answered rolled-back, but a claim is still open: %+v", c.Plan)
		}
	}
	w.retry(t, h, a, err == nil)
}

// retry delivers the cell's alarm again once any claim's lease is over: the job is finished with
// one switch in all, and nothing is left open.
func (w faultWorld) retry(t *testing.T, h *responder.Handler, a alarmDef, firstOK bool) {
	t.Helper()
	w.awaitLease(t)
	out, err := invoke(h, a.payload(viaSNS))
	if err != nil {
		t.Fatalf("repeat: %v", err)
	}
	r := resultsOf(out)[0]
	if firstOK && (r.Outcome != rollback.OutcomeSkipped || r.Code != rollback.CodeRepeat) {
		t.Errorf("repeat after the rollback: %s/%s (%s), want skipped as a repeated delivery of the incident", r.Outcome, r.Code, r.Reason)
	}
	if !w.consistent(t, a.incident(), true) {
		t.Error("after the repeat the stage is not rolled back")
	}
	if m := w.moves(); len(m) != 1 || m[0] != faultLive+"->"+faultPrevious {
		t.Errorf("switches applied: %v, want exactly one %s->%s", m, faultLive, faultPrevious)
	}
}

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
	w.consistent(t, a.incident(), true)
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
	w.awaitLease(t)
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
	w.awaitLease(t)
	mem := mustRecord(t, w.ddb, w.key()).Memory
	incident := first.incident()
	if slices.Contains(mem.Incidents, second.incident()) {
		incident = second.incident() // the second alarm's instance got there first
	}
	if !w.consistent(t, incident, true) {
		t.Error("the stage was not rolled back")
	}
	if m := w.moves(); len(m) != 1 || m[0] != faultLive+"->"+faultPrevious {
		t.Errorf("rollbacks applied: %v, want exactly one %s->%s", m, faultLive, faultPrevious)
	}
	testenv.Figure(t, "rate limit 10 rps burst 40, 4 instances: %d calls throttled, %d of 4 invocations failed and were retried, 1 rollback",
		throttled, failed)
}
