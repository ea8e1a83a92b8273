package apigateway

import "time"

// Call is one control-plane call as the server saw it.
type Call struct {
	// Op is the SDK operation name, or UnknownOperation.
	Op string
	// Status is the HTTP status sent; 0 if none was (a reset, a client that went away, or a call
	// still in flight).
	Status int
	// At is when the call arrived, by Options.Now.
	At time.Time
	// Fault names what was injected ("status=429", "reset", "delay=2s,status=500,after-apply",
	// "ratelimit", ...); empty for a normal call.
	Fault string
}

func (s *Server) beginCall(op string) *Call {
	c := &Call{Op: op, At: s.now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	return c
}

func (s *Server) endCall(c *Call, status int, fault string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Status, c.Fault = status, fault
}

// Calls returns a copy of the calls so far, in the order they arrived.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = *c
	}
	return out
}

// CallCount returns how many calls of op arrived ("*" or "" counts all), faulted ones included.
func (s *Server) CallCount(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if op == "" || op == AnyOperation || c.Op == op {
			n++
		}
	}
	return n
}

// ResetCalls forgets the calls so far and sets Writes back to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
	s.writes = 0
}

// Writes returns how many control-plane calls changed state and were applied (CreateRestApi,
// CreateDeployment, CreateStage, UpdateStage, DeleteStage, TagResource, UntagResource), including
// those whose response an AfterApply fault then lost. The Go API's setup calls are not counted.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}
