package rollback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewind-sre/rewind/pkg/target"
)

// CheckStatus is one readiness check's verdict.
type CheckStatus string

const (
	CheckPass CheckStatus = "pass"
	CheckWarn CheckStatus = "warn" // worth fixing; the next alarm can still roll the target back
	CheckFail CheckStatus = "fail" // the next alarm could not roll the target back
)

// Check is one readiness check: what was checked, its verdict, what was found and how to fix it.
type Check struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail"`
	Fix    string      `json:"fix,omitempty"`
}

// Readiness is the answer to "check": whether the next alarm can roll the target back, the checks
// that say so, and what an alarm now would do.
type Readiness struct {
	Ready  bool    `json:"ready"`
	Checks []Check `json:"checks"`
	Plan   *Result `json:"plan"`
}

// Add appends checks, and keeps Ready true exactly while no check fails.
func (r *Readiness) Add(cs ...Check) {
	r.Checks = append(r.Checks, cs...)
	r.Ready = true
	for _, c := range r.Checks {
		if c.Status == CheckFail {
			r.Ready = false
		}
	}
}

// Check answers whether the next alarm could roll t back: the target and Rewind's memory can be read,
// there is an earlier deployment that is not known bad (or a pinned fallback that exists and is not
// known bad), and what an alarm now would do. It never writes. The responder adds the checks that
// need more than the target (alarms, the function's concurrency).
func (e *Engine) Check(ctx context.Context, t target.Target) (res Result) {
	start := time.Now()
	res = Result{Action: ActionCheck, Target: t.String(), DryRun: true, Strategy: e.strategy.Name(), Readiness: &Readiness{}}
	defer func() { res.DurationMS = float64(time.Since(start).Microseconds()) / 1000 }()
	res.Outcome, res.Code = OutcomeOK, CodeChecked
	rd := res.Readiness
	st, rec, failed := e.read(ctx, t, true, &res)
	if failed {
		name, fix := "target-readable", "check TARGETS and that the function's role may read this target"
		if res.Code == CodeMemoryFailed {
			name, fix = "memory-readable", "check MEMORY_TABLE and that the role may GetItem, PutItem and Query on it"
		}
		rd.Add(Check{Name: name, Status: CheckFail, Detail: res.Reason, Fix: fix})
		res.Outcome, res.Code, res.Reason = OutcomeOK, CodeChecked, fmt.Sprintf("%s is not ready: %s", t, res.Reason)
		return res
	}
	rd.Add(Check{Name: "target-readable", Status: CheckPass, Detail: fmt.Sprintf("%s serves %s; %d deployments in its history", t, st.Live, len(st.History))},
		Check{Name: "memory-readable", Status: CheckPass, Detail: fmt.Sprintf("Rewind's memory of %s: %d known bad, %d sightings", t, len(rec.Memory.Bad), len(rec.Memory.Timeline))})
	now := e.now()
	if to, rule, d := chooseEarlier(t, st, sighted(st, now)); d.Verdict == Act {
		rd.Add(Check{Name: "somewhere-to-go", Status: CheckPass, Detail: fmt.Sprintf("an alarm now would roll %s back to %s (%s)", t, to.ID, rule)})
	} else if d.Verdict == Skip { // already on its pinned fallback: there is nowhere further to go, and no need
		rd.Add(Check{Name: "somewhere-to-go", Status: CheckPass, Detail: d.Reason})
	} else {
		rd.Add(Check{Name: "somewhere-to-go", Status: CheckFail, Detail: d.Reason,
			Fix: "keep earlier deployments (docs/release-tools.md), pin an existing fallback in TARGETS, or {\"action\":\"clear\"} marks that no longer hold"})
	}
	if t.Kind != target.KindCloudFront && len(st.History) <= 2 {
		rd.Add(Check{Name: "history-depth", Status: CheckWarn,
			Detail: fmt.Sprintf("the history keeps %d deployments: after the next release there will be nothing earlier to roll back to", len(st.History)),
			Fix:    "keep a deployment per release: SAM DeletionPolicy Retain, CDK retainDeployments, Terraform (docs/release-tools.md)"})
	}
	// What an alarm now would do: the dry-run answer, decided on what was just read.
	tr := Trigger{By: ByAlarm, Alarm: "check", AlarmTime: now, Now: now, Guard: e.guard, Window: e.window}
	st.Memory = rec.Memory
	d := DecideRollback(t, st, tr)
	plan := Result{Action: ActionRollback, Target: t.String(), DryRun: true, Code: d.Code, Reason: d.Reason, Rule: d.Plan.Rule, From: st.Live, To: st.Live}
	switch d.Verdict {
	case Act:
		plan.Outcome, plan.From, plan.To, plan.Reason = OutcomePlanned, d.Plan.From, d.Plan.To, "dry run: "+d.Reason+"; nothing was changed"
	case Skip:
		plan.Outcome = OutcomeSkipped
	default:
		plan.Outcome = OutcomeFailed
	}
	rd.Plan = &plan
	res.From, res.To = st.Live, st.Live
	res.Reason = fmt.Sprintf("%s is ready: an alarm now would %s", t, d.Reason)
	if !rd.Ready {
		res.Reason = fmt.Sprintf("%s is not ready: the next alarm could not roll it back", t)
	}
	return res
}

// ReadinessDue reports whether the schedule's readiness check of t is due (none within every), from
// Rewind's memory.
func (e *Engine) ReadinessDue(ctx context.Context, t target.Target, every time.Duration) (bool, error) {
	p, err := e.Pending(ctx, t, every)
	return p.ReadinessDue, err
}

// Pending is what the schedule orders its work on a target by, from Rewind's memory alone (no call
// to the target): when an observe last saw it, when its readiness was last checked, and whether a
// check is due (none within every, and no change under way).
type Pending struct {
	SeenAt, CheckedAt time.Time
	ReadinessDue      bool
}

// Pending reads t's memory and says what the schedule has to do there.
func (e *Engine) Pending(ctx context.Context, t target.Target, every time.Duration) (Pending, error) {
	rec, err := e.store.Load(ctx, t)
	if err != nil {
		return Pending{}, err
	}
	return Pending{SeenAt: rec.Memory.SeenAt, CheckedAt: rec.Memory.CheckedAt,
		ReadinessDue: rec.Claim == nil && e.now().Sub(rec.Memory.CheckedAt) >= every}, nil
}

// NoteReadiness records what the schedule's check found, and reports whether it changed: a target
// that turned not ready (or, first seen, is not ready), or is ready again. A lost compare-and-set
// means another instance just noted it: no change to report.
func (e *Engine) NoteReadiness(ctx context.Context, t target.Target, ready bool) (changed bool, err error) {
	rec, err := e.store.Load(ctx, t)
	if err != nil || rec.Claim != nil {
		return false, err
	}
	first := rec.Memory.CheckedAt.IsZero()
	changed = rec.Memory.NotReady == ready || (first && !ready)
	if first && ready {
		changed = false
	}
	next := Record{Memory: rec.Memory.clone(), Switched: rec.Switched}
	next.Memory.CheckedAt, next.Memory.NotReady = e.now().UTC(), !ready
	if _, err := e.store.Save(ctx, t, rec, next); err != nil {
		if errors.Is(err, ErrConflict) {
			return false, nil
		}
		return false, err
	}
	return changed, nil
}
