package responder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rewind-sre/rewind/pkg/event"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/reststage"
	"github.com/rewind-sre/rewind/pkg/target"
)

// Account is what "check" reads beyond the targets: the alarms that send to Rewind's topic and the
// function's own concurrency. Build makes it from the CloudWatch and Lambda clients; a bootstrap built
// without them (STRATEGIES=rest) has none, and says so in its checks.
type Account interface {
	// AlarmsTo lists the alarms whose actions include topicARN, as alarms with their metrics'
	// dimensions (in any state: an alarm is ready to act whatever its state now).
	AlarmsTo(ctx context.Context, topicARN string) ([]event.Alarm, error)
	// ReservedConcurrency is function's reserved concurrency; set is false when it has none.
	ReservedConcurrency(ctx context.Context, function string) (n int32, set bool, err error)
}

// Inspector finds what a stage rollback cannot undo on a target: its live deployment's Lambda
// integrations that call a function unqualified ($LATEST). REST stages have one.
type Inspector interface {
	UnqualifiedLambdas(ctx context.Context, t target.Target) (reststage.LambdaCheck, error)
}

// check answers {"action":"check"} for ts: each target's own checks (the engine's), the Lambda
// integrations a stage rollback cannot undo, the alarms that reach it, and the function's
// concurrency. It never writes; a check whose read fails says so as a warning naming the error.
func (h *Handler) check(ctx context.Context, ts []target.Target) []rollback.Result {
	account := h.accountChecks(ctx)
	reach := h.alarmReach(ctx)
	out := make([]rollback.Result, 0, len(ts))
	for _, t := range ts {
		out = append(out, h.checkTarget(ctx, t, account, reach))
	}
	return out
}

// checkTarget is one target's checks, with the account's (read once for every target checked).
func (h *Handler) checkTarget(ctx context.Context, t target.Target, account []rollback.Check, reach reach) rollback.Result {
	res := h.engines[t.Kind].Check(ctx, t)
	rd := res.Readiness
	if rd == nil {
		return res
	}
	if t.Kind == target.KindRESTStage && h.inspector != nil {
		rd.Add(latestCheck(ctx, h.inspector, t))
	}
	rd.Add(reach.check(t)...)
	rd.Add(account...)
	if !rd.Ready {
		var why []string
		for _, c := range rd.Checks {
			if c.Status == rollback.CheckFail {
				why = append(why, c.Detail)
			}
		}
		res.Reason = fmt.Sprintf("%s is not ready: %s", t, strings.Join(why, "; "))
	}
	return res
}

func latestCheck(ctx context.Context, in Inspector, t target.Target) rollback.Check {
	c := rollback.Check{Name: "lambda-qualified"}
	found, err := in.UnqualifiedLambdas(ctx, t)
	switch {
	case err != nil:
		c.Status, c.Detail = rollback.CheckWarn, fmt.Sprintf("could not read the stage's export to look at its Lambda integrations: %v", err)
		c.Fix = "allow apigateway:GET on the stage's exports (/restapis/ID/stages/STAGE/exports/*)"
	case len(found.Unqualified) > 0:
		routes := make([]string, len(found.Unqualified))
		for i, r := range found.Unqualified {
			routes[i] = r.String()
		}
		c.Status, c.Detail = rollback.CheckWarn, fmt.Sprintf("the live deployment calls Lambda functions unqualified ($LATEST), which a stage rollback cannot undo: %s", strings.Join(routes, ", "))
		c.Fix = "integrate with an alias or version (function:NAME:live) and release new code by moving it (Rewind can roll back a Lambda alias too)"
	default:
		c.Status, c.Detail = rollback.CheckPass, "every Lambda integration of the live deployment calls a version or an alias"
	}
	return c
}

// accountChecks are the checks that concern the function, not a target.
func (h *Handler) accountChecks(ctx context.Context) []rollback.Check {
	c := rollback.Check{Name: "reserved-concurrency"}
	switch {
	case h.account == nil:
		c.Status, c.Detail = rollback.CheckWarn, "not checked: this bootstrap was built without the Lambda client (STRATEGIES=rest)"
	case h.function == "":
		c.Status, c.Detail = rollback.CheckWarn, "not checked: the function's name is unknown (AWS_LAMBDA_FUNCTION_NAME is not set)"
	default:
		n, set, err := h.account.ReservedConcurrency(ctx, h.function)
		switch {
		case err != nil:
			c.Status, c.Detail, c.Fix = rollback.CheckWarn, fmt.Sprintf("could not read the function's concurrency: %v", err), "allow lambda:GetFunctionConcurrency on this function"
		case !set:
			c.Status, c.Detail = rollback.CheckWarn, "Rewind's function has no reserved concurrency: a broken path that uses up the account's concurrency can keep Rewind from running"
			c.Fix = "set the template's ReservedConcurrency (default 2) when the account's quota allows it"
		default:
			c.Status, c.Detail = rollback.CheckPass, fmt.Sprintf("reserved concurrency %d", n)
		}
	}
	return []rollback.Check{c}
}

// reach is which alarms reach which target, as the resolver would send them.
type reach struct {
	err       error
	unset     bool
	alarms    int
	byTarget  map[string][]string
	ambiguous []string            // "alarm: reason"
	misnamed  map[string][]string // stage -> "alarm (ApiName X)" that names no API in TARGETS
}

func (h *Handler) alarmReach(ctx context.Context) reach {
	r := reach{byTarget: map[string][]string{}, misnamed: map[string][]string{}}
	switch {
	case h.account == nil:
		r.err = errors.New("this bootstrap was built without the CloudWatch client (STRATEGIES=rest)")
		return r
	case h.cfg.AlarmTopicARN == "":
		r.unset = true
		return r
	}
	alarms, err := h.account.AlarmsTo(ctx, h.cfg.AlarmTopicARN)
	if err != nil {
		r.err = err
		return r
	}
	r.alarms = len(alarms)
	for _, a := range alarms {
		t, ok, _, err := h.resolver.Resolve(ctx, a.Name, a)
		switch {
		case errors.Is(err, target.ErrAmbiguous):
			r.ambiguous = append(r.ambiguous, err.Error())
		case err != nil:
			r.ambiguous = append(r.ambiguous, fmt.Sprintf("alarm %s: %v", quote(a.Name), err))
		case ok:
			r.byTarget[t.String()] = append(r.byTarget[t.String()], a.Name)
		default:
			if name, has := a.Dimension("ApiName"); has {
				stage, _ := a.Dimension("Stage")
				r.misnamed[stage] = append(r.misnamed[stage], fmt.Sprintf("%s (ApiName %s)", quote(a.Name), quote(name)))
			}
		}
	}
	return r
}

func (r reach) check(t target.Target) []rollback.Check {
	c := rollback.Check{Name: "alarms-reach-target"}
	switch {
	case r.err != nil:
		c.Status, c.Detail = rollback.CheckWarn, fmt.Sprintf("could not list the alarms that send to Rewind: %v", r.err)
		c.Fix = "allow cloudwatch:DescribeAlarms"
	case r.unset:
		c.Status, c.Detail, c.Fix = rollback.CheckWarn, "ALARM_TOPIC_ARN is not set: which alarms reach Rewind cannot be told", "set it to the alarm topic (the template does)"
	case len(r.byTarget[t.String()]) == 0:
		c.Status = rollback.CheckWarn
		c.Detail = fmt.Sprintf("none of the %d alarms that send to Rewind's topic reaches %s: no alarm will roll it back", r.alarms, t)
		c.Fix = "add the AlarmTopicArn output to an alarm's actions, with dimensions that name this target (ApiName and Stage for a REST stage)"
	default:
		names := slices.Clone(r.byTarget[t.String()])
		slices.Sort(names)
		c.Status, c.Detail = rollback.CheckPass, fmt.Sprintf("%d alarm(s) reach %s: %s", len(names), t, strings.Join(names, ", "))
	}
	out := []rollback.Check{c}
	if len(r.ambiguous) > 0 {
		out = append(out, rollback.Check{Name: "alarms-ambiguous", Status: rollback.CheckWarn, Detail: strings.Join(r.ambiguous, "; "),
			Fix: "give each alarm one target: one API and stage (or one alias, one path pattern) per alarm"})
	}
	if m := r.misnamed[t.Slot]; t.Kind == target.KindRESTStage && len(m) > 0 {
		out = append(out, rollback.Check{Name: "alarm-api-name", Status: rollback.CheckWarn,
			Detail: fmt.Sprintf("alarms name an ApiName no API in TARGETS has, so they reach nothing: %s", strings.Join(m, ", ")),
			Fix:    "set the template's RestApiName to the API's name, as CloudWatch's ApiName dimension shows it"})
	}
	return out
}
