package responder

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/rewind-sre/rewind/pkg/budget"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// The schedule's tick spreads its reads over the invocation instead of bursting: every control-plane
// call it makes is background work (budget.InBackground), paced by the instance's budget, and a
// piece of work starts only when its calls fit before the deadline less tickReserve. Targets it does
// not reach go first on the next tick: the tick observes the least recently seen first, by the SeenAt
// of Rewind's memory (a target never seen, or just added, has none and comes first), so none waits
// more than ⌈targets / targets-per-tick⌉ ticks. Readiness checks (hourly per target, and heavier:
// the history, the export, the account's alarms) go after the observes, with at most a quarter of
// the tick while targets still wait to be observed, the most overdue first that fits.

// tickReserve is kept back from the invocation's deadline (itself deadlineMargin before Lambda's)
// for what a read still needs once its token is there: its answer, the memory's write, the log.
const tickReserve = time.Second

// observeCost is the control-plane calls one observe may make: the target's read, and a second when
// Rewind's own last switch of it is recent (the engine reads it again to order the two reads).
const observeCost = 2

// accountCheckCost is what a tick's readiness checks read once for all their targets: the alarms that
// send to Rewind (a page), an API name lookup for those alarms, the function's concurrency.
const accountCheckCost = 3

// checkCost is what one target's readiness check is first planned to read: its state and a page of
// history, and for a REST stage its export.
func checkCost(k target.Kind) int {
	switch k {
	case target.KindRESTStage:
		return 3
	case target.KindCloudFront:
		return 1
	}
	return 2
}

// readinessShare is the part of a tick (1/readinessShare) readiness checks may take while targets
// still wait to be observed.
const readinessShare = 4

// pendingReads bounds the memory reads made at once to order a tick's work (DynamoDB, not a
// control plane: not paced).
const pendingReads = 16

type pendingTarget struct {
	t target.Target
	p rollback.Pending
}

// tick is the schedule's observe of every target, paced by the budget (see above).
func (h *Handler) tick(ctx context.Context) []rollback.Result {
	ctx = budget.InBackground(ctx)
	start := time.Now()
	before := h.budgetStats()
	stop, bounded := ctx.Deadline()
	stop = stop.Add(-tickReserve)
	// The memories are read first, to order the observes; one target needs no order, and its memory
	// is read (for the readiness check) after its observe, as before there was a budget.
	targets, scopeErr := h.resolver.Scope().Now(ctx) // discovery, when due, draws on the budget too
	order, due := targets, []pendingTarget(nil)
	ordered := len(order) > 1
	if ordered {
		order, due = h.pending(ctx, order)
	}
	observeUntil := stop
	if len(due) > 0 && bounded {
		observeUntil = start.Add(stop.Sub(start) * (readinessShare - 1) / readinessShare)
	}
	rs := make([]rollback.Result, 0, len(order))
	next := 0
	observe := func(until time.Time) {
		for ; next < len(order) && h.fits(observeCost, until, bounded); next++ {
			rs = append(rs, h.do(ctx, order[next], rollback.Request{Action: rollback.ActionObserve, Trigger: rollback.Trigger{By: rollback.BySchedule}}))
		}
	}
	observe(observeUntil)
	if !ordered {
		_, due = h.pending(ctx, order)
	}
	checked, notes := h.readinessTick(ctx, due, stop, bounded)
	rs = append(rs, notes...)
	observe(stop)
	if scopeErr != nil { // the targets known were observed; the tagged stages could not be listed
		rs = append(rs, discoveryFailed(rollback.ActionObserve, scopeErr))
	}
	after := h.budgetStats()
	level := slog.LevelDebug
	if next < len(order) || checked < len(due) {
		level = slog.LevelInfo // some work waits for the next tick: worth a line
	}
	h.log.Log(ctx, level, "schedule tick", "targets", len(order), "observed", next, "readinessDue", len(due), "readinessChecked", checked,
		"budgetRps", h.cfg.ControlPlaneBudget, "backgroundCalls", after.Background-before.Background,
		"budgetWaitMs", (after.Wait - before.Wait).Milliseconds(), "durationMs", time.Since(start).Milliseconds())
	return rs
}

// fits reports whether n background calls would have their tokens by until (without a budget:
// whether until is still ahead).
func (h *Handler) fits(n int, until time.Time, bounded bool) bool {
	switch {
	case !bounded:
		return true
	case h.budget == nil:
		return time.Now().Before(until)
	}
	return h.budget.ReadyBy(n, until)
}

func (h *Handler) budgetStats() budget.Stats {
	if h.budget == nil {
		return budget.Stats{}
	}
	return h.budget.Stats()
}

// pending reads every target's memory (a few at a time) and returns the targets in the order the
// tick observes them, least recently seen first, and those whose readiness check is due, least
// recently checked first. A memory that cannot be read puts its target first (its observe then
// says why) and out of the readiness checks.
func (h *Handler) pending(ctx context.Context, ts []target.Target) (order []target.Target, due []pendingTarget) {
	ps := make([]pendingTarget, len(ts))
	ok := make([]bool, len(ts))
	sem := make(chan struct{}, pendingReads)
	var wg sync.WaitGroup
	for i, t := range ts {
		ps[i].t = t
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p, err := h.engines[t.Kind].Pending(ctx, t, readinessEvery)
			ps[i].p, ok[i] = p, err == nil
		})
	}
	wg.Wait()
	for i, p := range ps {
		if ok[i] && p.p.ReadinessDue {
			due = append(due, p)
		}
	}
	slices.SortStableFunc(ps, func(a, b pendingTarget) int { return a.p.SeenAt.Compare(b.p.SeenAt) })
	slices.SortStableFunc(due, func(a, b pendingTarget) int { return a.p.CheckedAt.Compare(b.p.CheckedAt) })
	order = make([]target.Target, len(ps))
	for i, p := range ps {
		order[i] = p.t
	}
	return order, due
}

// readinessTick checks the readiness of the due targets whose calls fit before stop, in order (the
// account's alarms and concurrency are read once for all of them), and answers those whose
// readiness changed. A check any of whose reads the budget refused (the deadline came first) is
// dropped unnoted: a check that could not read is no finding, and its target stays due. What each
// check took is learned, so a target whose history takes more pages than planned is planned right
// next time, and one too large for what is left of a tick waits for a tick with room while smaller
// ones go ahead.
func (h *Handler) readinessTick(ctx context.Context, due []pendingTarget, stop time.Time, bounded bool) (checked int, rs []rollback.Result) {
	if len(due) == 0 || !h.fits(accountCheckCost+1, stop, bounded) { // the account's reads and the least a check takes
		return 0, nil
	}
	actx, refused := budget.Watch(ctx)
	account, reach := h.accountChecks(actx), h.alarmReach(actx)
	if refused() > 0 {
		h.log.InfoContext(ctx, "readiness checks cut short by the control-plane budget; they stay due", "refused", refused())
		return 0, nil
	}
	for _, p := range due {
		cost := h.plannedCost(p.t)
		if !h.fits(cost, stop, bounded) {
			continue
		}
		tctx, refused := budget.Watch(ctx)
		before := h.budgetStats().Background
		res := h.checkTarget(tctx, p.t, account, reach)
		took := h.budgetStats().Background - before
		if n := refused(); n > 0 {
			h.learnCost(p.t, took+n+1) // at least: the refused calls were needed too, and the pages after them
			h.log.InfoContext(ctx, "readiness check cut short by the control-plane budget; it stays due", "target", p.t.String(),
				"calls", took, "refused", n, "planned", cost)
			continue
		}
		h.learnCost(p.t, took)
		checked++
		if r, ok := h.noteReadiness(ctx, p.t, res); ok {
			rs = append(rs, r)
		}
	}
	return checked, rs
}

// plannedCost is what t's readiness check is planned to take: what it took last time in this
// instance, else checkCost.
func (h *Handler) plannedCost(t target.Target) int {
	if n, ok := h.checkCosts.Load(t.String()); ok {
		return max(n.(int), 1)
	}
	return checkCost(t.Kind)
}

func (h *Handler) learnCost(t target.Target, calls int) {
	if h.budget != nil {
		h.checkCosts.Store(t.String(), calls)
	}
}
