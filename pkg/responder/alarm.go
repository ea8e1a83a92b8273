package responder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rewind-sre/rewind/pkg/event"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// alarm decides one alarm notification: whose it is (account, region), which target it concerns,
// and, for an ALARM, the rollback; an OK is recorded for the incident it may close.
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
