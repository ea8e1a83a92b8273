// Package awsretry is the retry policy for Rewind's AWS calls. A rollback happens during an incident,
// when the control plane may be throttling (API Gateway's account quota is 10 requests per second,
// burst 40): the SDK's default of 3 attempts gives up too early. This policy keeps retrying throttles,
// 5xx, conflicts and dropped connections with capped, jittered backoff until the invocation's
// deadline, which bounds it.
package awsretry

import (
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Policy bounds the retries.
type Policy struct {
	MaxAttempts int           // per call, including the first
	BaseDelay   time.Duration // first backoff ceiling; doubles per attempt
	MaxDelay    time.Duration // backoff ceiling
}

// Default fits an invocation of a few seconds to 30 s: up to 12 attempts, backoff 50 ms doubling to
// 1 s. Six throttles in a row cost at most 0.1+0.2+0.4+0.8+1+1 = 3.5 s.
var Default = Policy{MaxAttempts: 12, BaseDelay: 50 * time.Millisecond, MaxDelay: time.Second}

// Retryer returns an aws.Retryer for p. The client-side retry quota is off: its token bucket is meant
// to shed load from healthy callers, and would make Rewind give up in exactly the storm it exists for.
func (p Policy) Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = p.MaxAttempts
		o.MaxBackoff = p.MaxDelay
		o.Backoff = jitter{base: p.BaseDelay, max: p.MaxDelay}
		o.RateLimiter = ratelimit.None
		// "Unable to complete operation due to concurrent modification. Please try again later."
		o.Retryables = append(o.Retryables, retry.RetryableErrorCode{Codes: map[string]struct{}{"ConflictException": {}}})
	})
}

// jitter is "full jitter" exponential backoff: a uniform delay in [0, min(max, base*2^attempt)].
type jitter struct{ base, max time.Duration }

func (j jitter) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	ceiling := j.max
	if attempt < 30 {
		if d := j.base << attempt; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return rand.N(ceiling + 1), nil
}
