package apigateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Fault is a misbehaviour to inject into calls of one operation.
type Fault struct {
	// Status answers with this HTTP status and AWS's error for it (429 TooManyRequestsException,
	// 409 ConflictException, 500, 502, 503, ...). 0 answers normally (useful with Delay alone).
	Status int
	// Reset hijacks the TCP connection and closes it with a reset, sending nothing: the client sees a
	// transport error. It needs a real connection (httptest.NewServer or Start), not a recorder.
	Reset bool
	// Delay holds the answer back this long; a client that gives up first just goes away, and a
	// write that had not been applied yet is then not applied at all.
	Delay time.Duration
	// Times is how many consecutive calls of the operation the fault affects; 0 means 1.
	Times int
	// AfterApply first carries the call out (a write changes the stage), then delays, fails or
	// resets: the response is lost although the change happened. For reads it makes no difference.
	AfterApply bool
}

type queuedFault struct {
	Fault
	left int
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

// AnyOperation as the op of InjectFault matches every operation.
const AnyOperation = "*"

// InjectFault queues f for op, an SDK operation name such as "GetStage" or "UpdateStage", or "*"
// for any operation. Faults for an operation are used first-in first-out, each for f.Times calls;
// faults for the operation itself come before faults for "*".
func (s *Server) InjectFault(op string, f Fault) {
	n := f.Times
	if n <= 0 {
		n = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = append(s.faults[op], &queuedFault{Fault: f, left: n})
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

func (s *Server) takeFault(op string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{op, AnyOperation} {
		q := s.faults[key]
		if len(q) == 0 {
			continue
		}
		f := q[0]
		if f.left--; f.left == 0 {
			s.faults[key] = q[1:]
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// fire carries out a fault's delay and failure, reporting whether that settled the call (answered,
// reset, or abandoned because the client went away during the delay).
func (x *exchange) fire(ctx context.Context, f Fault) bool {
	if f.Delay > 0 && !sleep(ctx, f.Delay) {
		x.abandon(f.describe() + ",canceled")
		return true
	}
	switch {
	case f.Reset:
		x.reset(f.describe())
		return true
	case f.Status != 0:
		x.fail(faultError(f.Status), f.describe())
		return true
	}
	return false
}

// resetConnection takes the connection from net/http and closes it with SO_LINGER 0, so the peer
// gets a TCP RST ("connection reset by peer") instead of any response. Where the connection cannot
// be hijacked (HTTP/2, a recorder), it aborts the handler, which net/http turns into a broken
// connection or stream.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// SetLatency adds d to every control-plane call before it is handled; a client that gives up first
// leaves without an answer. 0 removes it.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

func (s *Server) currentLatency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency
}

// SetRateLimit applies a token bucket to all control-plane calls together, like the account's quota
// for managing APIs (SetRateLimit(10, 40) for the 10 requests per second, burst 40, Rewind plans
// for). Calls beyond it are answered 429 TooManyRequestsException. rps <= 0 removes the limit, which
// is the default. The bucket starts full. AWS's stricter per-operation quotas (the quotas page:
// "CreateDeployment: 1 request every 5 seconds per account") are not modelled.
func (s *Server) SetRateLimit(rps float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rps <= 0 {
		s.limiter = nil
		return
	}
	b := float64(max(burst, 1))
	s.limiter = &tokenBucket{rate: rps, burst: b, tokens: b, last: time.Now()}
}

func (s *Server) allow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limiter == nil || s.limiter.take(time.Now())
}

// tokenBucket runs on the real (monotonic) clock: a frozen Options.Now would otherwise never let it
// refill.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
