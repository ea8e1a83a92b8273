package awsretry

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/smithy-go"
)

func TestBackoffIsCappedFullJitter(t *testing.T) {
	j := jitter{base: 50 * time.Millisecond, max: time.Second}
	for attempt := 1; attempt <= 40; attempt++ {
		ceiling := min(time.Second, 50*time.Millisecond<<min(attempt, 20))
		var maxSeen time.Duration
		for range 200 {
			d, err := j.BackoffDelay(attempt, nil)
			if err != nil || d < 0 || d > ceiling {
				t.Fatalf("attempt %d: delay %v (err %v), want within [0, %v]", attempt, d, err, ceiling)
			}
			maxSeen = max(maxSeen, d)
		}
		if maxSeen < ceiling/4 { // full jitter spreads over the whole range
			t.Errorf("attempt %d: 200 delays all below %v: not jittered over [0, %v]", attempt, maxSeen, ceiling)
		}
	}
}

func TestWhatIsRetried(t *testing.T) {
	r := Default.Retryer()
	if r.MaxAttempts() != Default.MaxAttempts {
		t.Errorf("MaxAttempts = %d", r.MaxAttempts())
	}
	for code, want := range map[string]bool{
		"TooManyRequestsException": true,  // the account quota
		"ConflictException":        true,  // "concurrent modification, try again later"
		"BadRequestException":      false, // a refused write must not be hammered
		"NotFoundException":        false,
	} {
		err := &smithy.GenericAPIError{Code: code, Message: "x"}
		if got := r.IsErrorRetryable(err); got != want {
			t.Errorf("%s retryable = %v, want %v", code, got, want)
		}
	}
	if r.IsErrorRetryable(errors.New("plain")) {
		t.Error("an unknown error must not be retried")
	}
	// The retry quota is off: a storm of retries never runs out of tokens.
	for range 1000 {
		if _, err := r.GetRetryToken(t.Context(), &smithy.GenericAPIError{Code: "TooManyRequestsException"}); err != nil {
			t.Fatalf("retry quota exhausted: %v", err)
		}
	}
}
