package rollbacktest

// Support the strategy packages' tests share: a decision clock moved by hand, the engine over a
// Store, the requests an alarm and a human send, the SDK configuration for a local fake, and the
// scenarios every strategy runs its own kind through (the loop guard, the dry run).

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// Base is the strategy tests' epoch: their builds are dated from it.
var Base = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// AWSConfig is the SDK configuration for a local fake: a fixed region and static credentials, and
// retries quick enough for tests. Each service client adds its own BaseEndpoint.
func AWSConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return awsretry.Policy{MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}.Retryer()
		},
	}
}

// NewEngine is the engine over s and store; its decision clock, unless o sets one, stands at now.
func NewEngine(s rollback.Strategy, store rollback.Store, o rollback.Options, now time.Time) *rollback.Engine {
	if o.Now == nil {
		o.Now = func() time.Time { return now }
	}
	return rollback.NewEngine(s, store, o)
}

// Alarm is an alarm's rollback request: alarm name went into alarm at at, for incident.
func Alarm(name, incident string, at time.Time) rollback.Request {
	return rollback.Request{Action: rollback.ActionRollback,
		Trigger: rollback.Trigger{By: rollback.ByAlarm, Alarm: name, Incident: incident, AlarmTime: at}}
}

// Manual is a human's request: action, on deployment dep ("" for none).
func Manual(action rollback.Action, dep string) rollback.Request {
	return rollback.Request{Action: action, DeploymentID: dep, Trigger: rollback.Trigger{By: rollback.ByManual}}
}

// Clock is a decision clock a test moves on by hand.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Tick moves the clock a second on and returns the new time.
func (c *Clock) Tick() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

// Do runs one request with a fresh decision time; an alarm's state change is dated then.
func Do(eng *rollback.Engine, clk *Clock, tg target.Target, req rollback.Request) rollback.Result {
	now := clk.Tick()
	if req.Trigger.By == rollback.ByAlarm {
		req.Trigger.AlarmTime = now
	}
	return eng.Do(context.Background(), tg, req)
}

// GuardRun is one strategy's target set up for the loop-guard scenario: what differs between kinds.
type GuardRun struct {
	Engine func(rollback.Options) *rollback.Engine // the engine over the target's strategy and Store
	Target target.Target
	Store  *Store
	Alarm  string // the alarm's name; the scenario numbers each alarm after it

	Good    string             // where every automatic rollback goes
	Release func(i int) string // what serves once a human has released the i-th build (1..max+3)
	// Forward is a human putting release i live (i > 1); deploy sends a manual deploy of dep through
	// the engine and fails the test unless it deploys.
	Forward func(t *testing.T, i int, deploy func(what, dep string))
	Writes  func() int                // writes to the target's service so far
	Live    func(t *testing.T) string // what the target serves

	// Optional, each for the checks one kind adds: RolledBack checks an automatic rollback's result;
	// Refusing runs just before the alarm past the limit and returns the check of what it left;
	// Cleared checks the target after the alarm that follows a clear.
	RolledBack func(t *testing.T, i int, res rollback.Result)
	Refusing   func(t *testing.T) func(t *testing.T, res rollback.Result)
	Cleared    func(t *testing.T)
}

// Guard is the loop guard, counted in the store, at each of limits: max automatic rollbacks within
// the hour succeed (a human releasing a newer build between them), the next is refused and moves
// nothing; a manual rollback is not limited; clear resets the guard. setup builds the target for a
// run at limit max, with the decision clock the scenario moves (a fake may date its changes by it).
func Guard(t *testing.T, setup func(t *testing.T, max int, clk *Clock) GuardRun, limits ...int) {
	t.Helper()
	for _, max := range limits {
		t.Run(fmt.Sprintf("max=%d", max), func(t *testing.T) {
			clk := NewClock(Base.Add(24 * time.Hour))
			g := setup(t, max, clk)
			eng := g.Engine(rollback.Options{Guard: rollback.Guard{Max: max, Window: time.Hour}, Now: clk.Now})
			run := func(what string, req rollback.Request, want rollback.Code) rollback.Result {
				t.Helper()
				res := Do(eng, clk, g.Target, req)
				if res.Code != want {
					t.Fatalf("%s: code %s, want %s: %+v", what, res.Code, want, res)
				}
				return res
			}
			autoRollback := func(i int) rollback.Request {
				r := Alarm(g.Alarm, fmt.Sprintf("inc-%03d", i), time.Time{})
				r.Trigger.Alarm = fmt.Sprintf("%s #%d", g.Alarm, i)
				return r
			}
			forward := func(i int) {
				t.Helper()
				g.Forward(t, i, func(what, dep string) {
					t.Helper()
					run(what, Manual(rollback.ActionDeploy, dep), rollback.CodeDeployed)
				})
			}

			for i := 1; i <= max; i++ {
				if i > 1 {
					forward(i)
				}
				res := run(fmt.Sprintf("alarm %d", i), autoRollback(i), rollback.CodeRolledBack)
				if res.From != g.Release(i) || res.To != g.Good {
					t.Fatalf("alarm %d: %s -> %s", i, res.From, res.To)
				}
				if g.RolledBack != nil {
					g.RolledBack(t, i, res)
				}
			}
			if got := g.Store.Record(g.Target).Memory.Guard; len(got) != max {
				t.Errorf("guard counts %d rollbacks, want %d", len(got), max)
			}
			forward(max + 1)
			var refused func(*testing.T, rollback.Result)
			if g.Refusing != nil {
				refused = g.Refusing(t)
			}
			writes := g.Writes()
			res := run("the alarm past the limit", autoRollback(max+1), rollback.CodeLoopGuard)
			if live := g.Live(t); res.Outcome != rollback.OutcomeFailed || g.Writes() != writes || live != g.Release(max+1) {
				t.Errorf("refused rollback: outcome %s, %d writes, live %s", res.Outcome, g.Writes()-writes, live)
			}
			if refused != nil {
				refused(t, res)
			}

			// A human is not limited, and a human's rollback does not count.
			if res := run("manual rollback", Manual(rollback.ActionRollback, ""), rollback.CodeRolledBack); res.To != g.Good {
				t.Errorf("manual rollback went to %s", res.To)
			}
			forward(max + 2)
			run("an alarm still past the limit", autoRollback(max+2), rollback.CodeLoopGuard)
			run("clear", Manual(rollback.ActionClear, ""), rollback.CodeCleared)
			res = run("the alarm after clear", autoRollback(max+3), rollback.CodeRolledBack)
			if live := g.Live(t); live != g.Good {
				t.Errorf("after clear: %+v, live %s", res, live)
			}
			if g.Cleared != nil {
				g.Cleared(t)
			}
		})
	}
}

// DryRunTarget is one strategy's target set up for the dry-run scenario.
type DryRunTarget struct {
	Engine func(rollback.Options) *rollback.Engine // the engine over the target's strategy and Store
	Target target.Target
	Store  *Store
	Alarm  rollback.Request // the alarm to plan on
	To     string           // where the plan goes

	Untouched func(t *testing.T) bool // whether the target is as set up: nothing written, nothing moved
	Check     func(t *testing.T)      // optional: a check the kind adds after the scenario
}

// DryRun is a dry run, the engine's or the request's: it plans and never switches, and the same plan
// decided again is answered quietly (not notified twice).
func DryRun(t *testing.T, setup func(t *testing.T) DryRunTarget) {
	t.Helper()
	for _, c := range []struct {
		name string
		opts rollback.Options
		req  func(rollback.Request) rollback.Request
	}{
		{"engine dry run", rollback.Options{DryRun: true}, func(r rollback.Request) rollback.Request { return r }},
		{"request dry run", rollback.Options{}, func(r rollback.Request) rollback.Request { r.DryRun = true; return r }},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := setup(t)
			eng := d.Engine(c.opts)
			for i, wantQuiet := range []bool{false, true} {
				res := eng.Do(t.Context(), d.Target, c.req(d.Alarm))
				if res.Outcome != rollback.OutcomePlanned || res.Code != rollback.CodeRolledBack || res.To != d.To || !res.DryRun || res.Quiet != wantQuiet {
					t.Fatalf("dry run %d: %+v (quiet %v, want %v)", i+1, res, res.Quiet, wantQuiet)
				}
			}
			if !d.Untouched(t) {
				t.Error("dry run wrote")
			}
			if es := d.Store.Entries(d.Target); len(es) != 1 || !es[0].DryRun || es[0].Outcome != rollback.OutcomePlanned {
				t.Errorf("audit log %+v, want the plan once", es)
			}
			if d.Check != nil {
				d.Check(t)
			}
		})
	}
}

// ClearedMemory fails unless m is a memory after a clear that followed a deploy: nothing marked bad,
// no guard, the deploy the last change, and the clear re-dating nothing.
func ClearedMemory(t *testing.T, m rollback.Memory) {
	t.Helper()
	if len(m.Bad) != 0 || len(m.Guard) != 0 || m.Timeline[len(m.Timeline)-1].How == rollback.HowObserved && m.Timeline[len(m.Timeline)-1].Since.After(m.Last.At) /* a clear re-dates nothing */ || m.Last.Kind != rollback.KindDeploy {
		t.Errorf("memory after clear: %+v", m)
	}
}
