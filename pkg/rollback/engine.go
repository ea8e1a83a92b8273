package rollback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rewind-sre/rewind/pkg/target"
)

// Outcome is what happened, in every answer, log line and notification.
type Outcome string

const (
	OutcomeRolledBack Outcome = "rolled-back"
	OutcomeDeployed   Outcome = "deployed"
	OutcomePlanned    Outcome = "planned" // dry run: the plan, nothing written
	OutcomeSkipped    Outcome = "skipped" // nothing to change
	OutcomeIgnored    Outcome = "ignored" // not for Rewind, or not for an allowed target
	OutcomeFailed     Outcome = "failed"  // could not decide or write; the invocation fails
	OutcomeOK         Outcome = "ok"      // status answered
)

// Result is the one shape of an answer: what the manual command returns, what is logged and notified.
type Result struct {
	Action     Action  `json:"action"`
	Target     string  `json:"target"`
	Outcome    Outcome `json:"outcome"`
	Code       Code    `json:"code"`
	From       string  `json:"from"`
	To         string  `json:"to"`
	Reason     string  `json:"reason"`
	Rule       Rule    `json:"rule,omitempty"`
	DryRun     bool    `json:"dryRun"`
	Source     string  `json:"source,omitempty"`
	Alarm      string  `json:"alarm,omitempty"`
	AlarmState string  `json:"alarmState,omitempty"`
	Incident   string  `json:"incident,omitempty"`
	Strategy   string  `json:"strategy,omitempty"`
	DurationMS float64 `json:"durationMs"`
	// Status is set for "status" answers only.
	Status *Status `json:"-"`
}

// Status is the answer to "status": what is live and what history and memory say.
type Status struct {
	Current      string           `json:"current"`
	Canary       *Canary          `json:"canary"`
	Deployments  []DeploymentView `json:"deployments"`
	LastRollback *Change          `json:"lastRollback"`
	KnownBad     []string         `json:"knownBad"`
	Timeline     []TimelineView   `json:"timeline"`           // newest first
	Progress     string           `json:"progress,omitempty"` // State.Progress, e.g. CloudFront's InProgress/Deployed
}

// TimelineView is one sighting in a status answer.
type TimelineView struct {
	Sighting
	Bad bool `json:"bad"`
}

// DeploymentView is one history entry in a status answer, newest first.
type DeploymentView struct {
	Deployment
	Live bool `json:"live"`
	Bad  bool `json:"bad"`
}

// MarshalJSON flattens Status into the answer so "status" reads as one object.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	if r.Status == nil {
		return json.Marshal(plain(r))
	}
	return json.Marshal(struct {
		plain
		*Status
	}{plain(r), r.Status})
}

// Failed reports whether the result must fail the invocation (so Lambda retries and then keeps the
// event in the on-failure destination).
func (r Result) Failed() bool { return r.Outcome == OutcomeFailed }

// Engine runs decisions against one strategy.
type Engine struct {
	strategy Strategy
	dryRun   bool
	guard    Guard
	now      func() time.Time
}

// Options configure an Engine.
type Options struct {
	DryRun bool             // every change becomes a plan; nothing is written
	Guard  Guard            // zero value: DefaultGuard
	Now    func() time.Time // nil: time.Now
}

// NewEngine builds an Engine over a strategy.
func NewEngine(s Strategy, o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Guard == (Guard{}) {
		o.Guard = DefaultGuard
	}
	return &Engine{strategy: s, dryRun: o.DryRun, guard: o.Guard, now: o.Now}
}

// Request is one change to consider.
type Request struct {
	Action       Action // rollback, deploy, observe or clear
	DeploymentID string // deploy only
	Trigger      Trigger
	DryRun       bool // in addition to the engine's own dry run
	// BeforeWrite, when set, is called once a decision would change the target (or report a dry-run
	// plan); an error stops it there, outcome failed. The responder confirms a speculative target here.
	BeforeWrite func(context.Context) error
}

// Do observes the target, decides and, unless dry, applies.
func (e *Engine) Do(ctx context.Context, t target.Target, req Request) (res Result) {
	start := time.Now() // the wall clock even when decisions use a test's: this is how long Rewind took
	res = Result{Action: req.Action, Target: t.String(), DryRun: e.dryRun || req.DryRun, Strategy: e.strategy.Name(),
		Alarm: req.Trigger.Alarm, Incident: req.Trigger.Incident}
	defer func() { res.DurationMS = float64(time.Since(start).Microseconds()) / 1000 }()

	read := e.strategy.Observe
	if req.Action == ActionObserve || req.Action == ActionClear {
		read = e.strategy.Peek // the history is not needed, and can be 100 pages
	}
	state, err := read(ctx, t)
	if err != nil {
		res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeReadFailed, fmt.Sprintf("read %s: %v", t, err)
		return res
	}
	res.From = state.Live
	req.Trigger.Now, req.Trigger.Guard = e.now(), e.guard
	var d Decision
	switch req.Action {
	case ActionDeploy:
		d = DecideDeploy(t, state, req.DeploymentID, req.Trigger)
	case ActionRollback:
		d = DecideRollback(t, state, req.Trigger)
	case ActionObserve:
		d = DecideObserve(t, state, req.Trigger.Now)
	case ActionClear:
		d = DecideClear(t, state, req.Trigger)
	default:
		res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeUnknownAction, fmt.Sprintf("unknown action %q", req.Action)
		return res
	}
	res.Code, res.Reason, res.Rule = d.Code, d.Reason, d.Plan.Rule
	switch d.Verdict {
	case Skip:
		res.Outcome, res.To = OutcomeSkipped, state.Live
		if req.Action == ActionObserve {
			res.Outcome = OutcomeOK
		}
		return res
	case Fail:
		res.Outcome = OutcomeFailed
		return res
	}
	res.From, res.To = d.Plan.From, d.Plan.To
	if req.BeforeWrite != nil {
		if err := req.BeforeWrite(ctx); err != nil {
			res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeUnconfirmed, fmt.Sprintf("%s: %v", d.Reason, err)
			return res
		}
	}
	if res.DryRun {
		res.Outcome, res.Reason = OutcomePlanned, "dry run: would "+d.Reason
		return res
	}
	if err := e.strategy.Apply(ctx, t, d.Plan); err != nil {
		res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeWriteFailed, fmt.Sprintf("%s: %v", d.Reason, err)
		return res
	}
	switch d.Plan.Kind {
	case KindDeploy:
		res.Outcome = OutcomeDeployed
	case KindRecord:
		res.Outcome = OutcomeOK
	default:
		res.Outcome = OutcomeRolledBack
	}
	return res
}

// Status answers what the target serves, its history newest first and Rewind's memory.
func (e *Engine) Status(ctx context.Context, t target.Target) Result {
	res := Result{Action: ActionStatus, Target: t.String(), DryRun: e.dryRun, Strategy: e.strategy.Name()}
	state, err := e.strategy.Observe(ctx, t)
	if err != nil {
		res.Outcome, res.Code, res.Reason = OutcomeFailed, CodeReadFailed, fmt.Sprintf("read %s: %v", t, err)
		return res
	}
	history := append([]Deployment(nil), state.History...)
	SortNewestFirst(history)
	views := make([]DeploymentView, len(history))
	for i, d := range history {
		views[i] = DeploymentView{Deployment: d, Live: d.ID == state.Live, Bad: state.Memory.IsBad(d.ID)}
	}
	res.Outcome, res.Code, res.From, res.To = OutcomeOK, CodeStatus, state.Live, state.Live
	res.Reason = fmt.Sprintf("%s serves %s; %d deployments in history", t, state.Live, len(history))
	if state.Progress != "" {
		res.Reason += "; the last change is " + state.Progress
	}
	timeline := make([]TimelineView, 0, len(state.Memory.Timeline))
	for i := len(state.Memory.Timeline) - 1; i >= 0; i-- {
		s := state.Memory.Timeline[i]
		timeline = append(timeline, TimelineView{Sighting: s, Bad: state.Memory.IsBad(s.Deployment)})
	}
	res.Status = &Status{Current: state.Live, Canary: state.Canary, Deployments: views,
		LastRollback: state.Memory.Last, KnownBad: append([]string{}, state.Memory.Bad...), Timeline: timeline, Progress: state.Progress}
	return res
}

// IsNotFound reports whether err says a target or deployment does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
