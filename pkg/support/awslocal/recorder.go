package awslocal

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Fault is a misbehaviour to inject into calls of one operation.
type Fault struct {
	// Status answers with this HTTP status and the service's error for it (429, 409, 412, 500, 502,
	// 503, ...). 0 answers normally (useful with Delay alone).
	Status int
	// Reset closes the TCP connection with a reset, sending nothing: the client sees a transport
	// error. It needs a real connection (httptest.NewServer), not a recorder.
	Reset bool
	// Delay holds the answer back; a client that gives up first just goes away, and a write that had
	// not been applied yet is then not applied at all.
	Delay time.Duration
	// Times is how many consecutive calls of the operation the fault affects; 0 means 1.
	Times int
	// AfterApply first carries the call out (a write lands), then delays, fails or resets: the
	// response is lost although the change happened. For reads it makes no difference.
	AfterApply bool
}

// describe names the fault for Call.Fault.
func (f Fault) describe() string {
	var parts []string
	if f.Delay > 0 {
		parts = append(parts, "delay="+f.Delay.String())
	}
	if f.Reset {
		parts = append(parts, "reset")
	} else if f.Status != 0 {
		parts = append(parts, fmt.Sprintf("status=%d", f.Status))
	}
	if f.AfterApply {
		parts = append(parts, "after-apply")
	}
	if len(parts) == 0 {
		return "noop"
	}
	return strings.Join(parts, ",")
}

// Call is one call as a local service saw it.
type Call struct {
	// Op is the SDK operation name (or a name the service gives a request it turned away, such as
	// the REST API Gateway's UnknownOperation).
	Op string
	// Status is the HTTP status sent; 0 if none was (a reset, a client that went away, or a call
	// still in flight).
	Status int
	// At is when the call arrived, by the service's clock.
	At time.Time
	// Fault names what was injected ("status=429", "reset", "delay=2s,status=500,after-apply",
	// "ratelimit", "latency,canceled", ...); empty for a normal call.
	Fault string
}

// AnyOperation as the op of InjectFault matches every operation.
const AnyOperation = "*"

// ErrorWriter writes the service's own error for an HTTP status (JSON or XML, with the code its SDK
// maps to a retryable or typed error).
type ErrorWriter func(w http.ResponseWriter, status int)

// Recorder queues faults, adds latency, applies a request-rate quota, records calls and counts
// applied writes. Its zero value is not usable; use NewRecorder. It is safe for concurrent use.
type Recorder struct {
	now      func() time.Time
	writeErr ErrorWriter

	mu      sync.Mutex
	faults  map[string][]*queued
	latency time.Duration
	limiter *tokenBucket
	calls   []*Call
	writes  int
}

type queued struct {
	Fault
	left int
}

// NewRecorder returns a Recorder; now may be nil (time.Now).
func NewRecorder(now func() time.Time, writeErr ErrorWriter) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{now: now, writeErr: writeErr, faults: map[string][]*queued{}}
}

// InjectFault queues f for op (an SDK operation name such as "GetStage", or "*" for any operation).
// Faults for an operation are used first-in first-out, each for f.Times calls; the operation's own
// faults come before "*" faults.
func (r *Recorder) InjectFault(op string, f Fault) {
	n := max(f.Times, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults[op] = append(r.faults[op], &queued{Fault: f, left: n})
}

// ClearFaults drops every queued fault.
func (r *Recorder) ClearFaults() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.faults)
}

func (r *Recorder) take(op string) (Fault, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, key := range []string{op, AnyOperation} {
		q := r.faults[key]
		if len(q) == 0 {
			continue
		}
		f := q[0]
		if f.left--; f.left == 0 {
			r.faults[key] = q[1:]
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// Calls returns a copy of the calls so far, in arrival order.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Call, len(r.calls))
	for i, c := range r.calls {
		out[i] = *c
	}
	return out
}

// CallCount counts calls of op ("" or "*": all), faulted ones included.
func (r *Recorder) CallCount(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if op == "" || op == AnyOperation || c.Op == op {
			n++
		}
	}
	return n
}

// Writes counts calls that changed state and were applied, including those whose response an
// AfterApply fault then lost. Setup through the Go API is not counted.
func (r *Recorder) Writes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writes
}

// ResetCalls forgets the calls so far and sets Writes back to zero.
func (r *Recorder) ResetCalls() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
	r.writes = 0
}

// Handler carries out one call into w and reports whether it changed state.
type Handler func(w http.ResponseWriter) (applied bool)

// Serve runs one call of op: it records the call, waits out the latency, applies the rate limit,
// fires a queued fault before or after the handler as the fault says, and counts an applied write.
// The call's end is recorded before its answer is sent, so a client that has its answer finds the
// call complete in Calls; the handler's answer is buffered, so that an AfterApply fault can replace
// it after the change has landed. A caller that has a body to read reads it first: net/http
// only notices a client going away (ending the waits here) once the body has been consumed.
func (r *Recorder) Serve(w http.ResponseWriter, req *http.Request, op string, h Handler) {
	c := r.begin(op)
	ctx := req.Context()
	if d := r.currentLatency(); d > 0 && !sleep(ctx, d) {
		r.end(c, 0, "latency,canceled")
		return
	}
	if !r.allow() {
		r.fail(w, c, http.StatusTooManyRequests, "ratelimit")
		return
	}
	f, faulted := r.take(op)
	desc := ""
	if faulted {
		// Recorded before it fires, so a client that sees the fault also sees it in Calls.
		desc = f.describe()
		r.setFault(c, desc)
	}
	if faulted && !f.AfterApply && r.fire(w, req, c, f, desc) {
		return
	}
	if ctx.Err() != nil { // the client went away: nothing is applied, nothing sent
		r.end(c, 0, strings.TrimPrefix(desc+",canceled", ","))
		return
	}
	rec := httptest.NewRecorder()
	if h(rec) {
		r.mu.Lock()
		r.writes++
		r.mu.Unlock()
	}
	if faulted && f.AfterApply && r.fire(w, req, c, f, desc) {
		return
	}
	r.send(w, c, desc, rec)
}

// Refuse records a call of op that the service answers itself before it counts as an operation (a
// path no operation has, a body it cannot read): no latency, rate limit or fault applies, nothing
// is applied, and write writes the answer.
func (r *Recorder) Refuse(w http.ResponseWriter, op string, write func(w http.ResponseWriter)) {
	c := r.begin(op)
	rec := httptest.NewRecorder()
	write(rec)
	r.send(w, c, "", rec)
}

func (r *Recorder) begin(op string) *Call {
	c := &Call{Op: op, At: r.now()}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
	return c
}

func (r *Recorder) setFault(c *Call, desc string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.Fault = desc
}

// end records how the call ended: the status sent (0: none) and what was injected.
func (r *Recorder) end(c *Call, status int, fault string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.Status, c.Fault = status, fault
}

// send records the call's end, then sends the answer the handler wrote.
func (r *Recorder) send(w http.ResponseWriter, c *Call, fault string, answer *httptest.ResponseRecorder) {
	r.end(c, answer.Code, fault)
	for k, v := range answer.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(answer.Code)
	_, _ = w.Write(answer.Body.Bytes())
}

// fail records the call's end with status, then has the service write its error for status into
// the very writer given to Serve, where a service may have put what its error depends on. The
// status recorded is the one asked for, even where the service sends another for it (CloudWatch
// throttles with a 400).
func (r *Recorder) fail(w http.ResponseWriter, c *Call, status int, fault string) {
	r.end(c, status, fault)
	r.writeErr(w, status)
}

// fire carries out a fault's delay and failure, reporting whether that settled the call (answered,
// reset, or abandoned because the client went away during the delay).
func (r *Recorder) fire(w http.ResponseWriter, req *http.Request, c *Call, f Fault, desc string) bool {
	if f.Delay > 0 && !sleep(req.Context(), f.Delay) {
		r.end(c, 0, desc+",canceled")
		return true
	}
	switch {
	case f.Reset:
		r.end(c, 0, desc)
		reset(w)
		return true
	case f.Status != 0:
		r.fail(w, c, f.Status, desc)
		return true
	}
	return false
}

// reset takes the connection from net/http and closes it with SO_LINGER 0, so the peer gets a TCP
// RST ("connection reset by peer") instead of any response. Where the connection cannot be hijacked
// (HTTP/2, a recorder), it aborts the handler, which net/http turns into a broken connection or
// stream.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
