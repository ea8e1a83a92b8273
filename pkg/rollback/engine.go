package rollback

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/rewind-sre/rewind/pkg/target"
)

// Engine runs decisions against one strategy and Rewind's memory: read the target and the memory in
// parallel, decide, then for a change claim it in the memory, switch the target and confirm.
type Engine struct {
	strategy Strategy
	store    Store
	dryRun   bool
	guard    Guard
	now      func() time.Time // the decision clock
	lease    time.Duration
	window   time.Duration
	log      *slog.Logger
}

// Options configure an Engine.
type Options struct {
	DryRun bool             // every change of a target becomes a plan; the target is never written
	Guard  Guard            // zero value: DefaultGuard
	Now    func() time.Time // the decision clock; nil: time.Now
	// Lease is how long a claim holds without a deadline on the context (0: DefaultLease). With one,
	// a claim holds until the deadline, plus leaseSlack.
	Lease time.Duration
	Log   *slog.Logger // for what the answer cannot carry (an audit entry not kept); nil discards
	// Window is the release window: automatic rollbacks only while the live deployment has been live
	// for less than this (0: always). Manual commands are not limited.
	Window time.Duration
}

// DefaultLease bounds a claim made without a deadline: the function's 30 s timeout.
const DefaultLease = 30 * time.Second

// leaseSlack covers a write still in flight when the claimer's deadline passed.
const leaseSlack = 2 * time.Second

// maxDecisions bounds how often one request decides again after losing a compare-and-set.
const maxDecisions = 5

// NewEngine builds an Engine over a strategy and the store of Rewind's memory.
func NewEngine(s Strategy, store Store, o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Guard == (Guard{}) {
		o.Guard = DefaultGuard
	}
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return &Engine{strategy: s, store: store, dryRun: o.DryRun, guard: o.Guard, now: o.Now, lease: o.Lease, window: o.Window, log: o.Log}
}

// Request is one change to consider.
type Request struct {
	Action       Action // rollback, deploy, observe, clear or recovery
	DeploymentID string // deploy only
	Trigger      Trigger
	DryRun       bool // in addition to the engine's own dry run
	// BeforeWrite, when set, is called once a decision would change the target (or report a dry-run
	// plan); an error stops it there, outcome failed. The responder confirms a speculative target here.
	BeforeWrite func(context.Context) error
}

// Do reads the target and its memory, decides and, unless dry, carries the decision out.
func (e *Engine) Do(ctx context.Context, t target.Target, req Request) (res Result) {
	start := time.Now() // the wall clock even when decisions use a test's: this is how long Rewind took
	res = Result{Action: req.Action, Target: t.String(), DryRun: e.dryRun || req.DryRun, Strategy: e.strategy.Name(),
		Alarm: req.Trigger.Alarm, Incident: req.Trigger.Incident}
	defer func() { res.DurationMS = float64(time.Since(start).Microseconds()) / 1000 }()
	withHistory := req.Action == ActionRollback || req.Action == ActionDeploy // observe and clear: the history can be 100 pages
	for decisions := 0; decisions < maxDecisions; {
		st, rec, failed := e.read(ctx, t, withHistory, &res)
		if failed {
			if res.Code == CodeReadFailed && req.Action == ActionObserve {
				e.blind(ctx, t, rec)
			}
			e.audit(ctx, t, res, req.Trigger)
			return res
		}
		if rec.Claim != nil {
			// Waiting for another instance is bounded by the deadline, not counted as a decision.
			finished, err := e.settle(ctx, t, st, rec)
			if err != nil {
				res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeBusy, err.Error()
				return res
			}
			if finished != nil && req.Trigger.Incident != "" && finished.incident() == req.Trigger.Incident {
				// This very incident's switch landed in an earlier invocation that stopped before
				// recording it: that is what this one answers, and notifies.
				res.Outcome, res.Code, res.From, res.To, res.Rule = outcomeOf(finished.Plan.Kind), CodeSettled, finished.Plan.From, finished.Plan.To, finished.Plan.Rule
				res.Reason = fmt.Sprintf("an earlier invocation switched %s from %s to %s for this incident and stopped before recording it; recorded now",
					t, finished.Plan.From, finished.Plan.To)
				return res
			}
			continue // read again: the claim is settled, or its owner is done
		}
		if again := e.decide(ctx, t, req, st, rec, &res); !again {
			return res
		}
		decisions++
	}
	res.Outcome, res.Code = OutcomeFailed, CodeContended
	res.Reason = fmt.Sprintf("%s: Rewind's memory of it kept changing under this decision (%d attempts); Lambda will retry", t, maxDecisions)
	return res
}

// blind notes in the memory, once, that observing the target has begun to fail (an HTTP API stage
// with autoDeploy on, a target that keeps being unreadable): sightings from before this spell may
// have missed a release. Best effort: the memory must have been readable.
func (e *Engine) blind(ctx context.Context, t target.Target, rec Record) {
	if rec.Version == 0 || !rec.Memory.BlindSince.IsZero() || rec.Claim != nil {
		return
	}
	next := Record{Memory: rec.Memory.clone(), Switched: rec.Switched}
	next.Memory.BlindSince = e.now().UTC()
	if _, err := e.store.Save(ctx, t, rec, next); err != nil && !errors.Is(err, ErrConflict) {
		e.log.WarnContext(ctx, "could not note a failed observe", "target", t.String(), "error", err.Error())
	}
}

func outcomeOf(k ChangeKind) Outcome {
	if k == KindDeploy {
		return OutcomeDeployed
	}
	return OutcomeRolledBack
}

// read reads the target and its memory in parallel. failed: res says why.
//
// In parallel, the target may be read before another instance's switch lands and the memory after
// that switch is confirmed: a view that never was (the old deployment, with the memory of moving it).
// A switch is confirmed after it lands, so a memory whose last switch is older than the start of
// this read (less clockSkew between instances) came with a target read that saw it, and so did a
// target that serves what the memory's newest sighting says. Otherwise the target is read once
// more, after the memory, which orders the two.
func (e *Engine) read(ctx context.Context, t target.Target, withHistory bool, res *Result) (State, Record, bool) {
	var (
		wg     sync.WaitGroup
		rec    Record
		memErr error
	)
	start := time.Now()
	wg.Go(func() { rec, memErr = e.store.Load(ctx, t) })
	st, err := e.strategy.Read(ctx, t, withHistory)
	wg.Wait()
	if err == nil && memErr == nil && !rec.Switched.Before(start.Add(-clockSkew)) {
		if cur, ok := rec.Memory.current(); !ok || cur.Deployment != st.Live {
			st, err = e.strategy.Read(ctx, t, withHistory)
		}
	}
	switch {
	case err != nil:
		res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeReadFailed, fmt.Sprintf("could not read %s: %v", t, err)
		return st, rec, true
	case memErr != nil:
		res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeMemoryFailed,
			fmt.Sprintf("could not read Rewind's memory of %s, so nothing was changed: %v", t, memErr)
		return st, rec, true
	}
	res.From = st.Live
	st.Memory = rec.Memory
	return st, rec, false
}

// decide makes one decision on what was read and carries it out. again: a compare-and-set was lost
// or the target changed under the switch, so nothing was changed and the caller reads again.
func (e *Engine) decide(ctx context.Context, t target.Target, req Request, st State, rec Record, res *Result) (again bool) {
	req.Trigger.Now, req.Trigger.Guard, req.Trigger.Window = e.now(), e.guard, e.window
	var d Decision
	switch req.Action {
	case ActionDeploy:
		d = DecideDeploy(t, st, req.DeploymentID, req.Trigger)
	case ActionRollback:
		d = DecideRollback(t, st, req.Trigger)
	case ActionObserve:
		d = DecideObserve(t, st, req.Trigger.Now)
	case ActionClear:
		d = DecideClear(t, st, req.Trigger)
	case ActionRecovery:
		d = DecideRecovery(t, st, req.Trigger)
	default:
		res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeUnknownAction, fmt.Sprintf("unknown action %q", req.Action)
		return false
	}
	res.Code, res.Reason, res.Rule, res.Recovery = d.Code, d.Reason, d.Plan.Rule, d.Recovery
	if d.Verdict != Act && req.Trigger.Recheck && d.Code != CodeRepeat && e.remember(ctx, t, rec, req.Trigger.Incident) {
		return true
	}
	switch d.Verdict {
	case Skip:
		res.Outcome, res.To = OutcomeSkipped, st.Live
		if req.Action == ActionObserve {
			res.Outcome = OutcomeOK
		}
		return false
	case Fail:
		res.Outcome = OutcomeFailed
		e.audit(ctx, t, *res, req.Trigger)
		return false
	}
	res.From, res.To = d.Plan.From, d.Plan.To
	if req.BeforeWrite != nil {
		if err := req.BeforeWrite(ctx); err != nil {
			res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeUnconfirmed, fmt.Sprintf("%s: %v", d.Reason, err)
			return false
		}
	}
	// An observe or an alarm's recovery only records, in Rewind's own table: a dry run records too, so
	// its plans are the plans a live run would make.
	if d.Plan.Kind == KindRecord && (req.Action == ActionObserve || req.Action == ActionRecovery || !res.DryRun) {
		return e.record(ctx, t, rec, d, req, res)
	}
	if res.DryRun {
		return e.plan(ctx, t, st, rec, d, req, res)
	}
	return e.change(ctx, t, rec, d, req, res)
}

// record writes a decision that changes only the memory (observe, clear).
func (e *Engine) record(ctx context.Context, t target.Target, rec Record, d Decision, req Request, res *Result) bool {
	if _, err := e.store.Save(ctx, t, rec, Record{Memory: d.Plan.Memory, Switched: rec.Switched}); err != nil {
		return e.saveFailed(err, t, "record", res)
	}
	res.Outcome = OutcomeOK
	if d.Code != CodeUnchanged { // the schedule's every tick is no audit entry; a release seen is
		e.audit(ctx, t, *res, req.Trigger)
	}
	return false
}

// plan reports a dry run's plan, and records what it observed and which plan it reported, so the
// same plan decided again is not reported again.
func (e *Engine) plan(ctx context.Context, t target.Target, st State, rec Record, d Decision, req Request, res *Result) bool {
	res.Outcome, res.Reason = OutcomePlanned, "dry run: "+d.Reason+"; nothing was changed"
	key := planKey(d.Plan)
	res.Quiet = rec.Memory.Planned == key
	mem := sighted(st, req.Trigger.Now)
	mem.Planned = key
	if _, err := e.store.Save(ctx, t, rec, Record{Memory: mem, Switched: rec.Switched}); err != nil {
		return e.saveFailed(err, t, "record the plan", res)
	}
	if !res.Quiet {
		e.audit(ctx, t, *res, req.Trigger)
	}
	return false
}

// planKey names a plan for "reported already": its change and where it goes.
func planKey(p Plan) string { return fmt.Sprintf("%s:%s>%s:%s", p.Kind, p.From, p.To, p.Rule) }

// change claims the change in the memory, switches the target and confirms: a crash between any two
// steps leaves a claim that the next reader settles by what the target serves.
func (e *Engine) change(ctx context.Context, t target.Target, rec Record, d Decision, req Request, res *Result) bool {
	claim := &Claim{ID: newClaimID(), Plan: d.Plan, By: req.Trigger.By, Alarm: req.Trigger.Alarm, At: req.Trigger.Now, Expires: e.expiry(ctx)}
	claimed, err := e.store.Save(ctx, t, rec, Record{Memory: rec.Memory, Claim: claim, Switched: rec.Switched})
	if err != nil {
		return e.saveFailed(err, t, "claim the change", res)
	}
	if err := e.strategy.Switch(ctx, t, d.Plan); err != nil {
		if errors.Is(err, ErrChanged) {
			// Nothing was switched: let the claim go and decide again on what is live now.
			if _, relErr := e.store.Save(ctx, t, claimed, Record{Memory: rec.Memory, Switched: rec.Switched}); relErr != nil && !errors.Is(relErr, ErrConflict) {
				e.log.WarnContext(ctx, "could not release a claim; the next invocation settles it", "target", t.String(), "error", relErr.Error())
			}
			return true
		}
		// The switch may or may not have landed: the claim stays, and whoever reads it after it
		// expires settles it by what the target serves.
		res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeWriteFailed, fmt.Sprintf("%s: %v", d.Reason, err)
		e.audit(ctx, t, *res, req.Trigger)
		return false
	}
	res.Outcome = outcomeOf(d.Plan.Kind)
	// The switch is made: confirm it and keep its audit entry at once (two items, one round trip).
	var wg sync.WaitGroup
	wg.Go(func() { e.audit(ctx, t, *res, req.Trigger) })
	_, err = e.store.Save(ctx, t, claimed, Record{Memory: d.Plan.Memory, Switched: time.Now()})
	wg.Wait()
	if err != nil {
		// The switch landed, and the answer says so; the invocation still fails, so the retry records it.
		res.Code = CodeUnrecorded
		res.Reason = fmt.Sprintf("%s: switched, but could not record it in Rewind's memory (%v); the next invocation records it", d.Reason, err)
	}
	return false
}

// saveFailed answers a Save's error: a lost compare-and-set means decide again (again = true).
func (e *Engine) saveFailed(err error, t target.Target, what string, res *Result) bool {
	if errors.Is(err, ErrConflict) {
		return true
	}
	res.Outcome, res.Code = OutcomeFailed, CodeMemoryFailed
	res.Reason = fmt.Sprintf("could not %s in Rewind's memory of %s, so nothing was changed: %v", what, t, err)
	return false
}

// settle deals with an open claim: one whose owner may still be at work is waited for (a short
// while, within the deadline); an expired one is finished if the target serves what it claimed,
// else abandoned. Either way the caller reads again.
func (e *Engine) settle(ctx context.Context, t target.Target, st State, rec Record) (finished *Claim, err error) {
	c := rec.Claim
	if wait := time.Until(c.Expires); wait > 0 {
		pause := min(wait, claimPoll)
		select {
		case <-time.After(pause):
			return nil, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: another change (%s %s -> %s, claimed at %s) was still under way when this invocation ran out of time; Lambda will retry",
				t, c.Plan.Kind, c.Plan.From, c.Plan.To, c.At.UTC().Format(time.RFC3339))
		}
	}
	// withHistory may have been false: only Live and Canary matter here.
	done := st.Live == c.Plan.To && (!c.Plan.RemoveCanary || st.Canary == nil)
	next, what := Record{Memory: rec.Memory, Switched: rec.Switched}, "abandoned"
	if done {
		// The switch landed before the claim expired, at the latest.
		next, what = Record{Memory: c.Plan.Memory, Switched: c.Expires}, "finished"
	} else if st.Live != c.Plan.From && c.incident() != "" {
		// Something else is live now: whether the switch landed first cannot be told, so its incident
		// counts as handled rather than be acted on twice.
		next.Memory.Incidents = appendBounded(next.Memory.Incidents, c.incident(), MaxIncidents)
	}
	if _, err := e.store.Save(ctx, t, rec, next); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, nil // someone else settled it: read again
		}
		return nil, fmt.Errorf("%s: could not settle an earlier invocation's open claim in Rewind's memory: %w", t, err)
	}
	e.log.WarnContext(ctx, "settled an open claim", "target", t.String(), "settled", what, "kind", string(c.Plan.Kind),
		"from", c.Plan.From, "to", c.Plan.To, "live", st.Live, "claimedAt", c.At)
	entry := Entry{At: e.now(), Action: claimAction(c.Plan.Kind), Outcome: OutcomeOK, Code: CodeSettled, From: c.Plan.From, To: c.Plan.To,
		Rule: c.Plan.Rule, By: c.By, Alarm: c.Alarm,
		Reason: fmt.Sprintf("%s an earlier invocation's change %s -> %s (it stopped before recording it): %s serves %s", what, c.Plan.From, c.Plan.To, t, st.Live)}
	entry.Incident = c.incident()
	e.keep(ctx, t, entry)
	if done {
		return c, nil
	}
	return nil, nil
}

// clockSkew bounds how far apart two instances' wall clocks may be (Lambda's hosts keep theirs
// synchronised far closer than this).
const clockSkew = time.Second

// claimPoll is how long a reader waits before looking at another instance's open claim again.
const claimPoll = 100 * time.Millisecond

func claimAction(k ChangeKind) Action {
	if k == KindDeploy {
		return ActionDeploy
	}
	return ActionRollback
}

// expiry is when a claim made now stops holding: the invocation's deadline (Lambda stops the
// instance there), plus the time a write already sent may still take.
func (e *Engine) expiry(ctx context.Context) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl.Add(leaseSlack)
	}
	return time.Now().Add(e.lease)
}

func newClaimID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand's documented contract)
	return hex.EncodeToString(b)
}

// audit keeps res in the audit log.
func (e *Engine) audit(ctx context.Context, t target.Target, res Result, tr Trigger) {
	at := tr.Now
	if at.IsZero() {
		at = e.now()
	}
	e.keep(ctx, t, Entry{At: at, Action: res.Action, Outcome: res.Outcome, Code: res.Code, From: res.From, To: res.To,
		Rule: res.Rule, By: tr.By, Alarm: res.Alarm, Incident: res.Incident, DryRun: res.DryRun, Reason: res.Reason})
}

// auditBudget is the time an audit entry may take once the decision's own context is spent.
const auditBudget = 300 * time.Millisecond

// keep writes an audit entry; failing to keep one never changes the decision, and is logged.
func (e *Engine) keep(ctx context.Context, t target.Target, entry Entry) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), auditBudget)
		defer cancel()
	}
	if err := e.store.Audit(ctx, t, entry); err != nil {
		e.log.WarnContext(ctx, "audit entry not kept; the decision stands", "target", t.String(), "code", string(entry.Code), "error", err.Error())
	}
}

// Status answers what the target serves, its history newest first, Rewind's memory and the newest
// audit entries.
func (e *Engine) Status(ctx context.Context, t target.Target) (res Result) {
	start := time.Now()
	res = Result{Action: ActionStatus, Target: t.String(), DryRun: e.dryRun, Strategy: e.strategy.Name()}
	defer func() { res.DurationMS = float64(time.Since(start).Microseconds()) / 1000 }()
	var (
		wg       sync.WaitGroup
		entries  []Entry
		auditErr error
	)
	wg.Go(func() { entries, auditErr = e.store.Recent(ctx, t, AuditShown) })
	st, rec, failed := e.read(ctx, t, true, &res)
	wg.Wait()
	if failed {
		return res
	}
	if auditErr != nil {
		res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeMemoryFailed, fmt.Sprintf("could not read the audit log of %s: %v", t, auditErr)
		return res
	}
	res.Status = statusOf(st, rec, entries)
	res.Outcome, res.Code, res.From, res.To = OutcomeOK, CodeStatus, st.Live, st.Live
	res.Reason = fmt.Sprintf("%s serves %s; %d deployments in history", t, st.Live, len(st.History))
	if st.Progress != "" {
		res.Reason += "; the last change is " + st.Progress
	}
	if c := rec.Claim; c != nil {
		res.Reason += fmt.Sprintf("; a change %s -> %s is under way (claimed at %s)", c.Plan.From, c.Plan.To, c.At.UTC().Format(time.RFC3339))
	}
	return res
}

func statusOf(st State, rec Record, entries []Entry) *Status {
	history := append([]Deployment(nil), st.History...)
	sortNewestFirst(history)
	views := make([]DeploymentView, len(history))
	for i, d := range history {
		views[i] = DeploymentView{Deployment: d, Live: d.ID == st.Live, Bad: st.Memory.IsBad(d.ID)}
	}
	timeline := make([]TimelineView, 0, len(st.Memory.Timeline))
	for i := len(st.Memory.Timeline) - 1; i >= 0; i-- {
		s := st.Memory.Timeline[i]
		timeline = append(timeline, TimelineView{Sighting: s, Bad: st.Memory.IsBad(s.Deployment)})
	}
	if entries == nil {
		entries = []Entry{}
	}
	return &Status{Current: st.Live, Canary: st.Canary, Deployments: views, LastRollback: rec.Memory.Last,
		KnownBad: append([]string{}, rec.Memory.Bad...), Timeline: timeline, Progress: st.Progress, Audit: entries}
}
