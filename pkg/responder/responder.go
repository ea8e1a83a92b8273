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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

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
		rs = h.observeAll(ctx, false, rollback.BySchedule)
		rs = append(rs, h.recheck(ctx)...) // alarms still in ALARM, on data since what is live went live (recheck.go)
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

func (h *Handler) alarm(ctx context.Context, a event.Alarm) rollback.Result {
	r := rollback.Result{Action: rollback.ActionRollback, Alarm: a.Name, AlarmState: string(a.State), Incident: a.IncidentKey()}
	if why := h.foreign(ctx, a); why != "" {
		r.Outcome, r.Code, r.Reason = rollback.OutcomeIgnored, rollback.CodeOtherAccount, why
		return r
	}
	if fn, ok := a.Dimension("FunctionName"); ok && h.function != "" && fn == h.function {
		r.Outcome, r.Code = rollback.OutcomeIgnored, rollback.CodeOwnHealth
		r.Reason = fmt.Sprintf("alarm %s watches Rewind's own function %s: an alarm about Rewind never moves a target", quote(a.Name), fn)
		return r
	}
	trigger := rollback.Trigger{By: rollback.ByAlarm, Alarm: a.Name, Incident: r.Incident, AlarmTime: a.StateChangeTime}
	if end, ok := a.Evidence.LatestBreach(); ok {
		trigger.MeasuredUntil = end
	}
	switch a.State {
	case event.StateOK:
		// Recorded (never a write to the target): a late ALARM of this alarm is then old news, and an
		// incident Rewind rolled back is reported closed.
		r.Action = rollback.ActionRecovery
		t, ok, why, err := h.resolver.Resolve(ctx, a.Name, a)
		return h.rollbackTo(ctx, a, r, t, ok, why, err, rollback.Request{Action: rollback.ActionRecovery, Trigger: trigger})
	case event.StateAlarm:
	default:
		r.Outcome, r.Code, r.Reason = rollback.OutcomeIgnored, rollback.CodeNotAlarmState, fmt.Sprintf("alarm %s is %s: only a transition to ALARM acts", quote(a.Name), a.State)
		return r
	}
	req := rollback.Request{Action: rollback.ActionRollback, Trigger: trigger}
	if guess, ok := h.resolver.Speculate(a); ok {
		if res, confirmed := h.speculate(ctx, a, r, guess, req); confirmed {
			return res
		}
		// The name now means something else: the lookup just made refreshed the cache.
	}
	t, ok, why, err := h.resolver.Resolve(ctx, a.Name, a)
	return h.rollbackTo(ctx, a, r, t, ok, why, err, req)
}

// rollbackTo acts on a resolved alarm: resolution's failure or refusal, the region rule, then the
// rollback itself.
func (h *Handler) rollbackTo(ctx context.Context, a event.Alarm, r rollback.Result, t target.Target, ok bool, why string, err error, req rollback.Request) rollback.Result {
	if errors.Is(err, target.ErrAmbiguous) {
		r.Outcome, r.Code, r.Reason = rollback.OutcomeFailed, rollback.CodeAmbiguous, err.Error()
		return r
	}
	if err != nil {
		r.Outcome, r.Code, r.Reason = rollback.OutcomeFailed, rollback.CodeResolveFailed, err.Error()
		return r
	}
	if !ok {
		r.Outcome, r.Code, r.Reason = rollback.OutcomeIgnored, rollback.CodeNoTarget, why
		return r
	}
	if why := h.otherRegion(ctx, a, t); why != "" {
		r.Outcome, r.Code, r.Reason = rollback.OutcomeIgnored, rollback.CodeOtherRegion, why
		return r
	}
	res := h.do(ctx, t, req)
	res.AlarmState = string(a.State)
	return res
}

// errNameMoved stops a write to a speculative target that the fresh lookup does not confirm.
var errNameMoved = errors.New("the API name no longer resolves to this target")

// speculate runs the rollback on the target an expired name cache guessed while the name is looked up
// again in parallel, so the lookup costs no round trip of its own; nothing is written (nor a dry-run
// plan reported) until the lookup confirms the guess. confirmed=false: the name now resolves elsewhere,
// nothing was written, and the caller must resolve again (the cache is fresh by then).
func (h *Handler) speculate(ctx context.Context, a event.Alarm, r rollback.Result, guess target.Target, req rollback.Request) (rollback.Result, bool) {
	type lookup struct {
		t   target.Target
		ok  bool
		why string
		err error
	}
	confirms := func(l *lookup) bool { return l.err == nil && l.ok && l.t.String() == guess.String() }
	answer := make(chan lookup, 1)
	go func() {
		t, ok, why, err := h.resolver.Resolve(ctx, a.Name, a)
		answer <- lookup{t, ok, why, err}
	}()
	var fresh *lookup
	wait := func(ctx context.Context) (*lookup, error) {
		if fresh == nil {
			select {
			case l := <-answer:
				fresh = &l
			case <-ctx.Done():
				return nil, fmt.Errorf("API name lookup: %w", ctx.Err())
			}
		}
		return fresh, nil
	}
	req.BeforeWrite = func(ctx context.Context) error {
		l, err := wait(ctx)
		switch {
		case err != nil:
			return err
		case l.err != nil:
			return l.err
		case !confirms(l):
			return errNameMoved
		}
		return nil
	}
	res := h.rollbackTo(ctx, a, r, guess, true, "", nil, req)
	// A decision that wrote nothing (a repeat, a stale alarm) was still about the guess: it stands only
	// if the lookup confirms the guess too.
	l, err := wait(ctx)
	if err != nil {
		// Out of time before the lookup answered: nothing was written, and the answer is unconfirmed.
		r.Outcome, r.Code, r.Reason = rollback.OutcomeFailed, rollback.CodeUnconfirmed, fmt.Sprintf("alarm %s: %v", quote(a.Name), err)
		return r, true
	}
	if l.err != nil {
		return h.rollbackTo(ctx, a, r, l.t, l.ok, l.why, l.err, req), true
	}
	if !confirms(l) {
		h.log.InfoContext(ctx, "API name resolves elsewhere now; deciding again", "alarm", a.Name, "guessed", guess.String())
		return rollback.Result{}, false
	}
	return res, true
}

// foreign says why an alarm from another account is ignored, or "" when it may act.
func (h *Handler) foreign(ctx context.Context, a event.Alarm) string {
	own := ""
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		own = arnField(lc.InvokedFunctionArn, 4)
	}
	if a.AccountID != "" && (a.AccountID == own || slices.Contains(h.cfg.AllowedAccounts, a.AccountID)) {
		return ""
	}
	if own == "" && len(h.cfg.AllowedAccounts) == 0 {
		return fmt.Sprintf("alarm %s: cannot tell this function's account (no invoked function ARN) and ALLOWED_ACCOUNTS is empty", quote(a.Name))
	}
	return fmt.Sprintf("alarm %s is from account %s; this function runs in %s and ALLOWED_ACCOUNTS does not name it",
		quote(a.Name), quote(a.AccountID), orUnknown(own))
}

// otherRegion says why an alarm from another region than the clients' is ignored for t, or "".
// The regional clients reach their own region's resources only, so an alarm on a same-named API
// elsewhere must not move the one here. CloudFront is global and its metrics, and so its alarms, live
// in us-east-1 whatever region Rewind runs in. The clients' region comes from the configuration (in
// Lambda, AWS_REGION); the invoked function ARN's is the fallback.
func (h *Handler) otherRegion(ctx context.Context, a event.Alarm, t target.Target) string {
	own := h.cfg.Region
	if lc, ok := lambdacontext.FromContext(ctx); ok && own == "" {
		own = arnField(lc.InvokedFunctionArn, 3)
	}
	if t.Kind == target.KindCloudFront || a.Region == "" || own == "" || a.Region == own {
		return ""
	}
	return fmt.Sprintf("alarm %s is from region %s; %s is in this function's region, %s", quote(a.Name), a.Region, t, own)
}

// arnField reads field i of an ARN: arn:partition:service:region:account:resource.
func arnField(arn string, i int) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[i]
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown account"
	}
	return s
}

func (h *Handler) command(ctx context.Context, c event.Command) []rollback.Result {
	dryRun := c.DryRun != nil && *c.DryRun
	if c.Action == rollback.ActionObserve && c.Target == "" {
		return h.observeAll(ctx, dryRun, rollback.ByManual)
	}
	if c.Action == rollback.ActionCheck && c.Target == "" {
		targets, err := h.resolver.Scope().Now(ctx)
		if err != nil {
			return append(h.check(ctx, targets), discoveryFailed(c.Action, err))
		}
		return h.check(ctx, targets)
	}
	t, err := h.commandTarget(ctx, c)
	if errors.Is(err, errDiscovery) {
		return []rollback.Result{discoveryFailed(c.Action, err)}
	}
	if err != nil {
		return []rollback.Result{{Action: c.Action, Outcome: rollback.OutcomeFailed, Code: rollback.CodeTargetNotAllowed, Reason: err.Error()}}
	}
	switch c.Action {
	case rollback.ActionStatus:
		return []rollback.Result{h.engines[t.Kind].Status(ctx, t)}
	case rollback.ActionCheck:
		return h.check(ctx, []target.Target{t})
	case rollback.ActionRollback, rollback.ActionDeploy, rollback.ActionObserve, rollback.ActionClear:
		return []rollback.Result{h.do(ctx, t, rollback.Request{Action: c.Action, DeploymentID: c.DeploymentID,
			DryRun: dryRun, Trigger: rollback.Trigger{By: rollback.ByManual, Force: c.Force}})}
	}
	return []rollback.Result{{Action: c.Action, Target: t.String(), Outcome: rollback.OutcomeFailed, Code: rollback.CodeUnknownAction,
		Reason: fmt.Sprintf("unknown action %s", quote(string(c.Action)))}}
}

// commandTarget finds the command's target in the allow-list; force never widens it.
// A name not in the scope's answer lists the tagged stages again (bounded) before it is refused.
func (h *Handler) commandTarget(ctx context.Context, c event.Command) (target.Target, error) {
	scope := h.resolver.Scope()
	if c.Target == "" {
		targets := scope.Peek()
		if len(targets) == 1 && !scope.Dynamic() { // with selectors, "the one target" changes as tags do
			return targets[0], nil
		}
		return target.Target{}, fmt.Errorf("%d targets are configured: name one with \"target\" (one of %s)", len(targets), list(targets))
	}
	t, ok, err := target.FindIn(ctx, scope, c.Target)
	if err != nil {
		return target.Target{}, fmt.Errorf("%w: target %s is not an explicit target, and the tagged stages could not be listed: %w", errDiscovery, quote(c.Target), err)
	}
	if !ok {
		return target.Target{}, fmt.Errorf("target %s is not in TARGETS (%s)", quote(c.Target), list(scope.Peek()))
	}
	return t, nil
}

// errDiscovery marks a command refused because the tagged stages could not be listed.
var errDiscovery = errors.New("discovery failed")

// discoveryFailed is the failed result of an answer the tagged stages could not be listed for: the
// invocation fails (a schedule's is retried), and the reason names the listing's error.
func discoveryFailed(a rollback.Action, err error) rollback.Result {
	return rollback.Result{Action: a, Outcome: rollback.OutcomeFailed, Code: rollback.CodeDiscoveryFailed,
		Reason: fmt.Sprintf("TARGETS' tag selectors: %v", err)}
}

// list names the targets, the first maxListed of them (tag selectors can find hundreds).
func list(ts []target.Target) string {
	s := make([]string, 0, min(len(ts), maxListed)+1)
	for _, t := range ts[:min(len(ts), maxListed)] {
		s = append(s, t.String())
	}
	if len(ts) > maxListed {
		s = append(s, fmt.Sprintf("and %d more", len(ts)-maxListed))
	}
	return strings.Join(s, ", ")
}

const maxListed = 20

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
