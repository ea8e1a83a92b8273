// Package awslocal holds what the local AWS services under it share: fault injection, the record of
// calls and the count of applied writes, the same ideas pkg/support/awslocal/apigateway uses for API Gateway REST.
// Each service package (apigwv2, lambda, cloudfront) speaks its own wire format and says, per
// status, which error its SDK expects; this package decides when a fault fires and whether the
// change it hides was applied.
package awslocal

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Fault is a misbehaviour to inject into calls of one operation.
type Fault struct {
	// Status answers with this HTTP status and the service's error for it (429, 409, 412, 500, 503,
	// ...). 0 answers normally (useful with Delay alone).
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
	// response is lost although the change happened.
	AfterApply bool
}

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
	Op     string    // the SDK operation name
	Status int       // HTTP status sent; 0 when none was (reset, client gone)
	At     time.Time // when it arrived
	Fault  string    // what was injected; empty for a normal call
}

// AnyOperation as the op of InjectFault matches every operation.
const AnyOperation = "*"

// ErrorWriter writes the service's own error for an HTTP status (JSON or XML, with the code its SDK
// maps to a retryable or typed error).
type ErrorWriter func(w http.ResponseWriter, status int)

// Recorder queues faults, records calls and counts applied writes. Its zero value is not usable;
// use NewRecorder. It is safe for concurrent use.
type Recorder struct {
	now      func() time.Time
	writeErr ErrorWriter

	mu     sync.Mutex
	faults map[string][]*queued
	calls  []*Call
	writes int
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

// InjectFault queues f for op (an SDK operation name, or "*"). Faults for an operation are used
// first-in first-out, each for f.Times calls; the operation's own faults come before "*" faults.
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

// Handler carries out one call into w and reports whether it changed state.
type Handler func(w http.ResponseWriter) (applied bool)

// Serve runs one call of op: it records the call, fires a queued fault before or after the handler
// as the fault says, and counts an applied write. The handler's answer is buffered so that an
// AfterApply fault can replace it after the change has landed.
func (r *Recorder) Serve(w http.ResponseWriter, req *http.Request, op string, h Handler) {
	c := &Call{Op: op, At: r.now()}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	status := r.serve(req.Context(), w, c, h)
	r.mu.Lock()
	c.Status = status
	r.mu.Unlock()
}

// serve carries the call out and returns the status sent (0: none).
func (r *Recorder) serve(ctx context.Context, w http.ResponseWriter, c *Call, h Handler) int {
	f, faulted := r.take(c.Op)
	if faulted {
		// Recorded before it fires, so a client that sees the fault also sees it in Calls.
		r.setFault(c, f.describe())
	}
	if faulted && !f.AfterApply {
		if status, done := r.fire(ctx, w, f); done {
			if status == 0 && !f.Reset {
				r.setFault(c, f.describe()+",canceled")
			}
			return status
		}
	}
	if ctx.Err() != nil {
		r.setFault(c, c.Fault+",canceled") // the client went away: nothing is applied, nothing sent
		return 0
	}
	rec := httptest.NewRecorder()
	if h(rec) {
		r.mu.Lock()
		r.writes++
		r.mu.Unlock()
	}
	if faulted && f.AfterApply {
		if status, done := r.fire(ctx, w, f); done {
			return status
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	return rec.Code
}

func (r *Recorder) setFault(c *Call, desc string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.Fault = desc
}

// fire carries out a fault's delay and failure; done reports that the response is settled.
func (r *Recorder) fire(ctx context.Context, w http.ResponseWriter, f Fault) (status int, done bool) {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return 0, true
		case <-t.C:
		}
	}
	switch {
	case f.Reset:
		reset(w)
		return 0, true
	case f.Status != 0:
		r.writeErr(w, f.Status)
		return f.Status, true
	}
	return 0, false
}

// reset closes the connection with SO_LINGER 0, so the peer reads "connection reset by peer".
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

// Route is one operation of a REST-style service: method and path template ("{name}" segments;
// a final "{name+}" takes the rest of the path).
type Route struct {
	Method, Path, Op string
}

// Match finds the route for a request and the values of its path parameters (unescaped).
func Match(routes []Route, method, escapedPath string) (Route, map[string]string, bool) {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	for _, rt := range routes {
		if rt.Method != method {
			continue
		}
		if params, ok := matchPath(strings.Split(strings.Trim(rt.Path, "/"), "/"), segs); ok {
			return rt, params, true
		}
	}
	return Route{}, nil, false
}

func matchPath(tmpl, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "+}") {
			if i >= len(segs) {
				return nil, false
			}
			v, err := unescape(strings.Join(segs[i:], "/"))
			if err != nil {
				return nil, false
			}
			params[t[1:len(t)-2]] = v
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			v, err := unescape(segs[i])
			if err != nil || v == "" {
				return nil, false
			}
			params[t[1:len(t)-1]] = v
			continue
		}
		if t != segs[i] {
			return nil, false
		}
	}
	return params, len(tmpl) == len(segs)
}

func unescape(s string) (string, error) { return url.PathUnescape(s) }

// WriteJSONError writes an error the way REST-JSON services do: the code in X-Amzn-ErrorType and the
// body {"message": ...}, which is where the SDK's deserializers look.
func WriteJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message, "Message": message})
}

// JSONCode is the REST-JSON error code AWS services commonly answer for a status.
func JSONCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "TooManyRequestsException"
	case http.StatusConflict:
		return "ConflictException"
	case http.StatusBadRequest:
		return "BadRequestException"
	case http.StatusNotFound:
		return "NotFoundException"
	case http.StatusForbidden:
		return "AccessDeniedException"
	case http.StatusPreconditionFailed:
		return "PreconditionFailedException"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailableException"
	case http.StatusInternalServerError:
		return "InternalFailure"
	}
	return http.StatusText(status)
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ISO8601 is how the REST-JSON services with date-time timestamps (API Gateway v2) write a time.
func ISO8601(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
