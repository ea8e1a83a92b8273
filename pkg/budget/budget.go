// Package budget keeps Rewind's own control-plane calls under a share of the account's rate. API
// Gateway allows 10 requests per second for managing APIs, burst 40, per account and region, shared
// with the team's own deploys, and the quota cannot be raised (API Gateway Developer Guide, "Amazon API
// Gateway quotas": "API Gateway quotas for creating, deploying and managing an API", Total operations).
// A schedule that reads hundreds of targets back to back would use all of it, and starve the very
// rollback Rewind exists for.
//
// A Budget is a token bucket. Background calls (the schedule's observes and readiness checks,
// discovery) wait for a token; foreground calls (an alarm's decision, a command by hand) never wait,
// but draw a token all the same, into debt: the budget is Rewind's share in all, so the background
// work that follows in the same instance yields by what the foreground used. The debt is bounded
// (MaxDebt), so a long session by hand cannot stall the schedule for more than that.
//
// Which calls are background is said by the context (Background, Foreground; unmarked is
// foreground: an alarm must never wait because a caller forgot to say). The budget reaches every
// attempt of a call, retries included, through an SDK middleware (AddTo), so a client built with it
// in its APIOptions is paced whatever code calls it.
package budget

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Priority says whether a call may wait for the budget.
type Priority int

const (
	// Foreground calls never wait: alarms' decisions and commands by hand. They draw tokens into debt.
	Foreground Priority = iota
	// Background calls wait for a token, within their context's deadline.
	Background
)

func (p Priority) String() string {
	if p == Background {
		return "background"
	}
	return "foreground"
}

type priorityKey struct{}

// With marks ctx's calls with p.
func With(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// InBackground marks ctx's calls as background work: they wait for the budget. One line applies the
// budget to any work whose client carries the middleware: ctx = budget.InBackground(ctx).
func InBackground(ctx context.Context) context.Context { return With(ctx, Background) }

// PriorityOf is ctx's priority; unmarked contexts are Foreground.
func PriorityOf(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return p
}

// ErrNoToken is what a background call gets when its token would come after its context's deadline:
// it is refused at once rather than wait for nothing.
var ErrNoToken = errors.New("control-plane budget: no token before the deadline")

// MaxDebtWindow bounds foreground debt: at most this much of the budget's time can be owed, so after
// any burst of foreground calls the background waits at most this long before it goes on.
const MaxDebtWindow = time.Minute

// Budget is a token bucket safe for concurrent use.
type Budget struct {
	rate  float64 // tokens per second
	burst float64
	debt  float64 // the lowest the level goes for foreground calls (a negative number)
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	tokens float64
	last   time.Time
	stats  Stats
}

// Stats counts what a budget did.
type Stats struct {
	Background, Foreground int           // tokens taken by each
	Waited                 int           // background calls that had to wait
	Wait                   time.Duration // their waits together
	Refused                int           // background calls refused (ErrNoToken, or their context ended while waiting)
}

// Options adjust a Budget for tests; the zero value is production's.
type Options struct {
	Now   func() time.Time                                 // nil: time.Now
	Sleep func(ctx context.Context, d time.Duration) error // nil: a timer, ended early by ctx
}

// DefaultBurst is how many background calls may go out at once after a quiet spell: 2, so Rewind
// takes little of the account's own burst (40) and its calls are spread, not bunched.
const DefaultBurst = 2

// New returns a budget of rate requests per second that lets burst calls through at once (at least
// one). A burst is a count: scaling a test's time down scales the rate up and leaves the burst.
func New(rate float64, burst int, o Options) (*Budget, error) {
	if math.IsNaN(rate) || math.IsInf(rate, 0) || rate <= 0 {
		return nil, fmt.Errorf("control-plane budget: %v is not a positive number of requests per second", rate)
	}
	b := &Budget{rate: rate, burst: float64(max(1, burst)), now: o.Now, sleep: o.Sleep}
	b.debt = -rate * MaxDebtWindow.Seconds()
	if b.now == nil {
		b.now = time.Now
	}
	if b.sleep == nil {
		b.sleep = sleep
	}
	b.tokens, b.last = b.burst, b.now()
	return b, nil
}

// Rate is the budget's requests per second; Burst is how many it lets through at once.
func (b *Budget) Rate() float64  { return b.rate }
func (b *Budget) Burst() float64 { return b.burst }

// Stats reports what the budget has done so far.
func (b *Budget) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// refill brings the level up to now; b.mu is held.
func (b *Budget) refill(now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
}

// Take draws one token for a call of ctx's priority. Foreground: at once, whatever the level (down
// to the debt bound). Background: reserves the next token and waits for it; a token due after ctx's
// deadline is refused at once (ErrNoToken), and one whose wait ctx cuts short is given back.
func (b *Budget) Take(ctx context.Context) error {
	b.mu.Lock()
	now := b.now()
	b.refill(now)
	if PriorityOf(ctx) == Foreground {
		b.tokens = max(b.debt, b.tokens-1)
		b.stats.Foreground++
		b.mu.Unlock()
		return nil
	}
	wait := time.Duration(0)
	if b.tokens < 1 {
		wait = time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	}
	if dl, ok := ctx.Deadline(); ok && now.Add(wait).After(dl) {
		b.stats.Refused++
		b.mu.Unlock()
		noteRefused(ctx)
		return fmt.Errorf("%w (the next is due in %s)", ErrNoToken, wait.Round(time.Millisecond))
	}
	b.tokens--
	b.stats.Background++
	if wait > 0 {
		b.stats.Waited++
		b.stats.Wait += wait
	}
	b.mu.Unlock()
	if wait == 0 {
		return nil
	}
	if err := b.sleep(ctx, wait); err != nil {
		b.mu.Lock()
		b.tokens = min(b.burst, b.tokens+1)
		b.stats.Background--
		b.stats.Refused++
		b.mu.Unlock()
		noteRefused(ctx)
		return fmt.Errorf("control-plane budget: waiting %s for a token: %w", wait.Round(time.Millisecond), err)
	}
	return nil
}

// ReadyBy reports whether n background calls asked for now would all have their tokens by t: the
// schedule starts a piece of work only when its calls fit before the invocation's deadline.
func (b *Budget) ReadyBy(n int, t time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.refill(now)
	short := float64(n) - b.tokens
	if short <= 0 {
		return !now.After(t)
	}
	return !now.Add(time.Duration(short / b.rate * float64(time.Second))).After(t)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type refusalsKey struct{}

// Watch returns ctx with a count of the background calls the budget refuses under it, and a function
// that reads the count: work that lost a call to the budget (the deadline came first) is incomplete,
// and must not be taken for what it found (a readiness check whose reads were refused is no "not
// ready").
func Watch(ctx context.Context) (context.Context, func() int) {
	c := &counter{}
	return context.WithValue(ctx, refusalsKey{}, c), c.get
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func noteRefused(ctx context.Context) {
	if c, ok := ctx.Value(refusalsKey{}).(*counter); ok {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
}
