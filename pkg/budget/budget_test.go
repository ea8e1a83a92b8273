package budget_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/budget"
)

// fakeTime is a clock that only moves when a background call sleeps on it: every wait the budget
// asks for is recorded and passes at once.
type fakeTime struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeTime) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	f.t = f.t.Add(d)
	return ctx.Err()
}

func (f *fakeTime) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func newBudget(t *testing.T, rate float64) (*budget.Budget, *fakeTime) {
	t.Helper()
	ft := &fakeTime{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	b, err := budget.New(rate, budget.DefaultBurst, budget.Options{Now: ft.Now, Sleep: ft.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	return b, ft
}

func TestNewRefusesWhatIsNoRate(t *testing.T) {
	for _, r := range []float64{0, -1} {
		if _, err := budget.New(r, budget.DefaultBurst, budget.Options{}); err == nil {
			t.Errorf("New(%v) = nil error, want one", r)
		}
	}
}

func TestUnmarkedContextIsForeground(t *testing.T) {
	if p := budget.PriorityOf(context.Background()); p != budget.Foreground {
		t.Fatalf("unmarked: %s, want foreground (an alarm must never wait because nobody marked its context)", p)
	}
	if p := budget.PriorityOf(budget.InBackground(context.Background())); p != budget.Background {
		t.Fatalf("InBackground: %s", p)
	}
}

// Background calls are spaced 1/rate apart once the burst is spent; any window of w seconds holds at
// most burst + rate·w of them.
func TestBackgroundIsPacedAtTheRate(t *testing.T) {
	b, ft := newBudget(t, 2)
	ctx := budget.InBackground(context.Background())
	var at []time.Time
	for range 10 {
		if err := b.Take(ctx); err != nil {
			t.Fatal(err)
		}
		at = append(at, ft.Now())
	}
	// Burst 2 (one second of 2 rps), then one every 500 ms.
	if len(ft.waits) != 8 {
		t.Fatalf("waits %v, want 8 (the first 2 calls are the burst)", ft.waits)
	}
	for _, w := range ft.waits {
		if w != 500*time.Millisecond {
			t.Fatalf("waits %v, want 500 ms each", ft.waits)
		}
	}
	for i := range at {
		for j := i; j < len(at); j++ {
			w := at[j].Sub(at[i]).Seconds()
			if n := float64(j - i + 1); n > b.Burst()+b.Rate()*w+1e-9 {
				t.Fatalf("%v calls within %v s: over burst %v + rate %v × w", n, w, b.Burst(), b.Rate())
			}
		}
	}
	if s := b.Stats(); s.Background != 10 || s.Waited != 8 || s.Wait != 4*time.Second {
		t.Fatalf("stats %+v", s)
	}
}

// Foreground calls never wait, however empty the bucket; they put the budget in debt, and the
// background yields by that much afterwards.
func TestForegroundNeverWaitsAndTheBackgroundYields(t *testing.T) {
	b, ft := newBudget(t, 2)
	for range 6 {
		if err := b.Take(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(ft.waits) != 0 {
		t.Fatalf("a foreground call waited: %v", ft.waits)
	}
	// 2 tokens, 6 taken: 4 owed, and the next background call needs 5 more: 2.5 s at 2 rps.
	if err := b.Take(budget.InBackground(context.Background())); err != nil {
		t.Fatal(err)
	}
	if len(ft.waits) != 1 || ft.waits[0] != 2500*time.Millisecond {
		t.Fatalf("background waited %v after the foreground's 6 calls, want 2.5 s", ft.waits)
	}
}

// The debt is bounded: after any foreground burst the background waits at most MaxDebtWindow.
func TestDebtIsBounded(t *testing.T) {
	b, ft := newBudget(t, 2)
	for range 10_000 {
		_ = b.Take(context.Background())
	}
	_ = b.Take(budget.InBackground(context.Background()))
	if len(ft.waits) != 1 || ft.waits[0] > budget.MaxDebtWindow+time.Second {
		t.Fatalf("background waited %v after 10,000 foreground calls, want at most %v", ft.waits, budget.MaxDebtWindow)
	}
}

// A background call whose token would come after its deadline is refused at once, without a
// token taken, and Watch counts it.
func TestBackgroundRefusedPastTheDeadline(t *testing.T) {
	b, ft := newBudget(t, 2)
	bg := budget.InBackground(context.Background())
	_ = b.Take(bg)
	_ = b.Take(bg) // the burst is spent: the next token is 500 ms away
	ctx, cancel := context.WithDeadline(bg, ft.Now().Add(200*time.Millisecond))
	defer cancel()
	ctx, refused := budget.Watch(ctx)
	err := b.Take(ctx)
	if !errors.Is(err, budget.ErrNoToken) {
		t.Fatalf("err = %v, want ErrNoToken", err)
	}
	if refused() != 1 || len(ft.waits) != 0 {
		t.Fatalf("refused %d, waits %v", refused(), ft.waits)
	}
	if b.ReadyBy(1, ft.Now().Add(400*time.Millisecond)) || !b.ReadyBy(1, ft.Now().Add(500*time.Millisecond)) {
		t.Fatal("ReadyBy: the next token is due in exactly 500 ms")
	}
	if !b.ReadyBy(3, ft.Now().Add(1500*time.Millisecond)) || b.ReadyBy(3, ft.Now().Add(1400*time.Millisecond)) {
		t.Fatal("ReadyBy: 3 tokens are due in 1.5 s")
	}
	ft.Advance(time.Hour)
	if !b.ReadyBy(2, ft.Now()) || b.ReadyBy(3, ft.Now()) {
		t.Fatal("ReadyBy after an hour idle: the burst (2) is there at once, no more")
	}
}
