package awslocal

import (
	"context"
	"time"
)

// SetLatency adds d to every call Serve runs, before it is handled; a client that gives up first
// leaves without an answer (Call.Fault "latency,canceled"). 0 removes it.
func (r *Recorder) SetLatency(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latency = d
}

func (r *Recorder) currentLatency() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.latency
}

// SetRateLimit applies a token bucket to all calls Serve runs together, like an account's quota for
// a service's control plane (SetRateLimit(10, 40) for API Gateway's 10 requests per second, burst
// 40, which Rewind plans for). Calls beyond it are answered with the service's 429 (Call.Fault
// "ratelimit"). rps <= 0 removes the limit, which is the default. The bucket starts full.
// Per-operation quotas (API Gateway's "CreateDeployment: 1 request every 5 seconds per account")
// are not modelled.
func (r *Recorder) SetRateLimit(rps float64, burst int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rps <= 0 {
		r.limiter = nil
		return
	}
	b := float64(max(burst, 1))
	r.limiter = &tokenBucket{rate: rps, burst: b, tokens: b, last: time.Now()}
}

func (r *Recorder) allow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.limiter == nil || r.limiter.take(time.Now())
}

// tokenBucket runs on the real (monotonic) clock: a frozen service clock would otherwise never let
// it refill.
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

// sleep waits for d or until ctx ends (the client gave up or went away), reporting whether the
// whole of d passed. The timer is stopped either way, so nothing outlives the request.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
