// Package responder is the Lambda handler: it decodes one invocation, decides which allowed target
// each alarm or command concerns, runs the rollback engine, logs one line per result and fails the
// invocation when any result failed (so Lambda retries it and then keeps it on-failure).
package responder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/rewind-sre/rewind/pkg/budget"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/emf"
	"github.com/rewind-sre/rewind/pkg/event"
	"github.com/rewind-sre/rewind/pkg/internal/text"
	"github.com/rewind-sre/rewind/pkg/notify"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// Notifier publishes results somewhere a person reads them. Failing to notify never fails a rollback.
type Notifier interface {
	Notify(ctx context.Context, r rollback.Result) error
}

// Handler answers invocations.
type Handler struct {
	cfg      config.Config
	engines  Engines
	resolver *target.Resolver
	notifier Notifier
	log      *slog.Logger
	metrics  io.Writer // one CloudWatch Embedded Metric Format line per result (Lambda's stdout)
	function string    // this function's name: alarms about Rewind itself are never Rewind's to act on
	// account and inspector serve "check"; nil where this bootstrap has no client for them.
	account   Account
	inspector Inspector
	// budget paces the background control-plane calls (pkg/budget); nil: no budget. checkCosts is what
	// each target's readiness check took last (target -> calls), to plan the next (pace.go).
	budget     *budget.Budget
	checkCosts sync.Map
}

// Engines holds one engine per kind of target (each over its own strategy).
type Engines map[target.Kind]*rollback.Engine

// New builds a Handler; notifier may be nil. Every configured target's kind must have an engine:
// a target nobody can move is a configuration error, found at init rather than during an incident.
func New(cfg config.Config, engines Engines, resolver *target.Resolver, notifier Notifier, log *slog.Logger) (*Handler, error) {
	for _, t := range cfg.Targets {
		if engines[t.Kind] == nil {
			return nil, fmt.Errorf("target %s: no strategy for kind %q", t, t.Kind)
		}
	}
	return &Handler{cfg: cfg, engines: engines, resolver: resolver, notifier: notifier, log: log, metrics: io.Discard}, nil
}

// do runs one request on the engine for the target's kind.
func (h *Handler) do(ctx context.Context, t target.Target, req rollback.Request) rollback.Result {
	return h.engines[t.Kind].Do(ctx, t, req)
}

// Answer is what an event invocation (SNS, EventBridge, alarm action) returns: one result per record.
type Answer struct {
	Results []rollback.Result `json:"results"`
}

// ErrFailed is what the error of an invocation any of whose results failed is (errors.Is).
var ErrFailed = errors.New("rewind failed")

// Failed is the error of an invocation any of whose results failed: Lambda reports its type name,
// "Failed", as the errorType, retries the event and then keeps it on-failure. Results holds every
// result of the invocation, failed or not, with its code.
type Failed struct {
	Results []rollback.Result
}

func (f *Failed) Error() string {
	var failed []string
	for _, r := range f.Results {
		if r.Failed() {
			if where := orSource(r); where != "" && !strings.HasPrefix(r.Reason, where) {
				failed = append(failed, where+": "+r.Reason)
			} else {
				failed = append(failed, r.Reason)
			}
		}
	}
	if len(f.Results) == 1 {
		return failed[0]
	}
	return fmt.Sprintf("%d of %d failed: %s", len(failed), len(f.Results), strings.Join(failed, "; "))
}

// Is makes errors.Is(err, ErrFailed) hold.
func (f *Failed) Is(target error) bool { return target == ErrFailed }

// Codes lists the failed results' codes.
func (f *Failed) Codes() []rollback.Code {
	var cs []rollback.Code
	for _, r := range f.Results {
		if r.Failed() {
			cs = append(cs, r.Code)
		}
	}
	return cs
}

// deadlineMargin is kept back from Lambda's deadline so a failing call still leaves time to log and
// return an error, rather than being killed with nothing said.
const deadlineMargin = 500 * time.Millisecond

// Invoke is the Lambda entry point (aws-lambda-go's lambda.Handler): it takes the payload as bytes,
// so a payload that is not JSON at all reaches Rewind's decoder and is answered with what is wrong
// and which shapes are accepted, instead of the runtime's own JSON error.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := h.Handle(ctx, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// Handle decodes and answers one invocation: func(context.Context, json.RawMessage) (any, error).
func (h *Handler) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	// Decisions stop deadlineMargin before Lambda's deadline; notifications use the margin too, so a
	// decision that ran out of time is still reported.
	notifyCtx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-deadlineMargin))
		defer cancel()
	}
	kind, records, err := event.Decode(payload)
	if err != nil {
		h.log.WarnContext(ctx, "bad input", "error", err.Error(), "bytes", len(payload))
		return nil, err
	}
	results := make([]rollback.Result, 0, len(records))
	for _, rec := range records {
		results = append(results, h.record(ctx, notifyCtx, rec)...)
	}
	failed := false
	for _, r := range results {
		h.logResult(ctx, r)
		// Its own line, never inside a slog record: CloudWatch extracts EMF from whole stdout lines.
		// Not for the schedule's routine "nothing new": a custom metric costs for every month it gets data.
		if r.Code != rollback.CodeUnchanged {
			_, _ = h.metrics.Write(emf.Record(r, time.Now()))
		}
		failed = failed || r.Failed()
	}
	if failed {
		return nil, &Failed{Results: results}
	}
	if kind == event.KindCommand && len(results) == 1 { // one target, one object; several: {"results":[...]}
		return results[0], nil
	}
	return Answer{Results: results}, nil
}

func orSource(r rollback.Result) string {
	if r.Target != "" {
		return r.Target
	}
	return r.Source
}

// record handles one record; an observe of every target gives one result per target.
func (h *Handler) record(ctx, notifyCtx context.Context, rec event.Record) []rollback.Result {
	var rs []rollback.Result
	switch {
	case rec.Err != nil:
		rs = []rollback.Result{{Action: rollback.ActionRollback, Outcome: rollback.OutcomeFailed, Code: rollback.CodeBadInput, Reason: rec.Err.Error()}}
	case rec.Alarm != nil:
		rs = []rollback.Result{h.alarm(ctx, *rec.Alarm)}
	case rec.Command != nil:
		rs = h.command(ctx, *rec.Command)
	case rec.Schedule:
		// Alarms first: the alarms still in ALARM, on data since what is live went live (recheck.go),
		// then the paced observes and checks, which may use the rest of the invocation.
		rs = h.recheck(ctx)
		rs = append(rs, h.observeAll(ctx, false, rollback.BySchedule)...)
	default:
		rs = []rollback.Result{{Action: rollback.ActionNone, Outcome: rollback.OutcomeIgnored, Code: rollback.CodeNotForRewind, Reason: rec.Ignored}}
	}
	for i := range rs {
		r := &rs[i]
		r.Source = rec.Source
		r.DryRun = r.DryRun || h.cfg.DryRun
		h.notify(notifyCtx, *r)
	}
	return rs
}

// observeAll records what every target serves (the schedule, or "observe" without a target). The
// schedule's is paced by the control-plane budget and also checks readiness (tick, pace.go); by hand
// it reads every target at once, as a person asked.
func (h *Handler) observeAll(ctx context.Context, dryRun bool, by rollback.By) []rollback.Result {
	if by == rollback.BySchedule {
		return h.tick(ctx)
	}
	targets, scopeErr := h.resolver.Scope().Now(ctx)
	rs := make([]rollback.Result, 0, len(targets)+1)
	for _, t := range targets {
		rs = append(rs, h.do(ctx, t, rollback.Request{Action: rollback.ActionObserve, DryRun: dryRun, Trigger: rollback.Trigger{By: by}}))
	}
	if scopeErr != nil { // the explicit targets were observed; the tagged stages could not be listed
		rs = append(rs, discoveryFailed(rollback.ActionObserve, scopeErr))
	}
	return rs
}

// RecoveryNotifier is a Notifier that also reports an incident closing in the thread its rollback
// opened (notify.SNS is one).
type RecoveryNotifier interface {
	NotifyRecovered(ctx context.Context, rec notify.Recovery) error
}

// notify publishes r when someone should hear of it; failing to never changes the decision.
func (h *Handler) notify(ctx context.Context, r rollback.Result) {
	if h.notifier == nil || !notifiable(r) {
		return
	}
	var err error
	if rn, ok := h.notifier.(RecoveryNotifier); ok && r.Recovery != nil {
		err = rn.NotifyRecovered(ctx, notify.Recovery{Target: r.Target, Incident: r.Recovery.Incident, Alarm: r.Alarm,
			OnBadDeployment: r.Recovery.OnBadDeployment, UntilClear: r.Recovery.UntilClear})
	} else {
		err = h.notifier.Notify(ctx, r)
	}
	if err != nil {
		h.log.WarnContext(ctx, "notify failed; the decision stands", "error", err.Error(), "target", r.Target, "outcome", string(r.Outcome))
	}
}

// notifiable: decisions that change something, fail, or plan a change (once: not a plan already
// reported); an incident closing; and every transition to ALARM Rewind does not act on, with its
// reason (but a repeated delivery of one already handled). Not the routine rest.
func notifiable(r rollback.Result) bool {
	if r.Quiet {
		return false
	}
	switch r.Outcome {
	case rollback.OutcomeRolledBack, rollback.OutcomeDeployed, rollback.OutcomeFailed, rollback.OutcomePlanned:
		return true
	case rollback.OutcomeSkipped, rollback.OutcomeIgnored:
		return r.AlarmState == string(event.StateAlarm) && r.Code != rollback.CodeRepeat
	}
	return r.Code == rollback.CodeRecovered || r.Code == rollback.CodeNotReady || r.Code == rollback.CodeReadyAgain
}

// readinessEvery is how often the schedule checks each target's readiness: the check reads the whole
// history, the stage's export and the account's alarms, too much for every 5-minute tick.
const readinessEvery = time.Hour

// noteReadiness records the schedule's readiness check res of t, and answers it (to be notified)
// only when the target turned not ready or is ready again.
func (h *Handler) noteReadiness(ctx context.Context, t target.Target, res rollback.Result) (rollback.Result, bool) {
	e := h.engines[t.Kind]
	if res.Readiness == nil {
		return rollback.Result{}, false
	}
	changed, err := e.NoteReadiness(ctx, t, res.Readiness.Ready)
	if err != nil {
		h.log.WarnContext(ctx, "could not note the readiness check", "target", t.String(), "error", err.Error())
		return rollback.Result{}, false
	}
	if !changed {
		return rollback.Result{}, false
	}
	res.Code = rollback.CodeReadyAgain
	if !res.Readiness.Ready {
		res.Code = rollback.CodeNotReady
	}
	return res, true
}

// logResult writes one "decision" line per result; a production change is a warning, a failure an error.
func (h *Handler) logResult(ctx context.Context, r rollback.Result) {
	level := slog.LevelInfo
	switch r.Outcome {
	case rollback.OutcomeFailed:
		level = slog.LevelError
	case rollback.OutcomeRolledBack, rollback.OutcomeDeployed:
		level = slog.LevelWarn // a production change: stands out in the logs
	}
	h.log.Log(ctx, level, "decision", "action", string(r.Action), "target", r.Target, "outcome", string(r.Outcome),
		"code", string(r.Code), "from", r.From, "to", r.To, "reason", r.Reason, "rule", string(r.Rule), "dryRun", r.DryRun, "alarm", r.Alarm,
		"alarmState", r.AlarmState, "incident", r.Incident, "source", r.Source, "durationMs", r.DurationMS)
}

// quote bounds and escapes untrusted text for answers and logs.
func quote(s string) string { return text.Quote(s, 128) }
