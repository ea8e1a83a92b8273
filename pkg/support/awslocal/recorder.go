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
// Every answer is buffered and the call's status recorded before it is sent, so a client that has
// its answer finds the call complete in Calls; and an AfterApply fault can replace the handler's
// answer after the change has landed. A caller that has a body to read reads it first: net/http
// only notices a client going away (ending the waits here) once the body has been consumed.
func (r *Recorder) Serve(w http.ResponseWriter, req *http.Request, op string, h Handler) {
	c := r.begin(op)
	ctx := req.Context()
	if d := r.currentLatency(); d > 0 && !sleep(ctx, d) {
		r.finish(w, c, "latency,canceled", nil)
		return
	}
	if !r.allow() {
		r.finish(w, c, "ratelimit", r.errorAnswer(http.StatusTooManyRequests))
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
		r.finish(w, c, strings.TrimPrefix(desc+",canceled", ","), nil)
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
	r.finish(w, c, desc, rec)
}

// Refuse records a call of op that the service answers itself before it counts as an operation (a
// path no operation has, a body it cannot read): no latency, rate limit or fault applies, nothing
// is applied, and write writes the answer.
func (r *Recorder) Refuse(w http.ResponseWriter, op string, write func(w http.ResponseWriter)) {
	c := r.begin(op)
	rec := httptest.NewRecorder()
	write(rec)
	r.finish(w, c, "", rec)
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

// finish records how the call ended, then sends answer (nil: nothing is sent).
func (r *Recorder) finish(w http.ResponseWriter, c *Call, fault string, answer *httptest.ResponseRecorder) {
	status := 0
	if answer != nil {
		status = answer.Code
	}
	r.mu.Lock()
	c.Status, c.Fault = status, fault
	r.mu.Unlock()
	if answer == nil {
		return
	}
	for k, v := range answer.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(answer.Code)
	_, _ = w.Write(answer.Body.Bytes())
}

func (r *Recorder) errorAnswer(status int) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	r.writeErr(rec, status)
	return rec
}

// fire carries out a fault's delay and failure, reporting whether that settled the call (answered,
// reset, or abandoned because the client went away during the delay).
func (r *Recorder) fire(w http.ResponseWriter, req *http.Request, c *Call, f Fault, desc string) bool {
	if f.Delay > 0 && !sleep(req.Context(), f.Delay) {
		r.finish(w, c, desc+",canceled", nil)
		return true
	}
	switch {
	case f.Reset:
		r.finish(w, c, desc, nil)
		reset(w)
		return true
	case f.Status != 0:
		r.finish(w, c, desc, r.errorAnswer(f.Status))
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
