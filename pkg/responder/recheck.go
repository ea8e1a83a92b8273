package responder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/event"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// The schedule's re-check of alarms still in ALARM. CloudWatch notifies a transition, not a state:
// when a human's fix is broken too, the alarm stays in ALARM and no message comes. So each tick,
// before its paced observes, Rewind lists the alarms in ALARM that send to its topic (one paged
// DescribeAlarms), resolves each to a target as an alarm would be, and for those whose target went
// live after the alarm's transition (something changed it since) fetches the alarm's own metric
// (GetMetricData, batched) for the time the live deployment has been live, and applies the alarm's
// own rule to it (event.Rule). Only a breach measured on the live deployment goes to the engine, as
// an automatic rollback whose incident is (alarm, live deployment): once per pair, reported once.
// The REST-only build has no CloudWatch client, and no re-check.

// Watcher is what the re-check reads of CloudWatch; the Account Build makes is one.
type Watcher interface {
	// InAlarm lists the alarms in ALARM whose alarm actions include topicARN.
	InAlarm(ctx context.Context, topicARN string) ([]Watched, error)
	// Fresh fetches each alarm's watched series between start and end (one slice per alarm).
	Fresh(ctx context.Context, alarms [][]Query, start, end time.Time) ([][]event.Datapoint, error)
}

// Watched is an alarm in ALARM as the re-check reads it.
type Watched struct {
	Alarm        event.Alarm // name, ARN and metrics' dimensions, as the resolver reads alarms
	Transitioned time.Time   // its last transition (StateTransitionedTimestamp)
	Rule         event.Rule
	Queries      []Query // what GetMetricData is asked; the Returned one is what the alarm watches
	Cannot       string  // why its data cannot be re-evaluated (composite, anomaly band); "" when it can
}

// Query is one metric or expression of an alarm, as GetMetricData takes it. ID is "" for a
// single-metric alarm's one query (the batch names it).
type Query struct {
	ID, Expression, Label string
	Namespace, Metric     string
	Dimensions            []event.Dimension
	Period                time.Duration
	Stat, Unit            string
	Returned              bool
}

// maxLag is how late CloudWatch data may still come in: the re-check reads the alarm's periods of
// the last maxLag plus its N periods, no further back.
const maxLag = 15 * time.Minute

// candidate is an alarm whose target changed since its transition.
type candidate struct {
	w     Watched
	t     target.Target
	live  string
	since time.Time
}

// recheck runs the re-check (see above); nil when there is nothing to decide.
func (h *Handler) recheck(ctx context.Context) []rollback.Result {
	watch, ok := h.account.(Watcher)
	if !ok || h.cfg.AlarmTopicARN == "" {
		return nil
	}
	alarms, err := watch.InAlarm(ctx, h.cfg.AlarmTopicARN)
	if err != nil {
		h.recheckLog(ctx, slog.LevelError, rollback.CodeRecheckFailed, "", "", err.Error())
		return nil
	}
	cands := h.candidates(ctx, alarms)
	if len(cands) == 0 {
		return nil
	}
	now := h.engines[cands[0].t.Kind].Now()
	queries, start := make([][]Query, len(cands)), now
	for i, c := range cands {
		queries[i] = c.w.Queries
		look := now.Add(-time.Duration(max(c.w.Rule.EvaluationPeriods, 1))*c.w.Rule.Period - maxLag)
		start = minTime(start, maxTime(c.since, look))
	}
	data, err := watch.Fresh(ctx, queries, start, now)
	if err != nil {
		h.recheckLog(ctx, slog.LevelError, rollback.CodeRecheckFailed, "", "", err.Error())
		return nil
	}
	var out []rollback.Result
	done := map[string]bool{} // targets this tick already changed (or failed on): one decision per target
	for i, c := range cands {
		if done[c.t.String()] {
			continue
		}
		res, decided := h.recheckOne(ctx, c, data[i], now)
		if !decided {
			continue
		}
		if res.Outcome != rollback.OutcomeSkipped {
			done[c.t.String()] = true
		}
		if res.Code == rollback.CodeRepeat || res.Quiet {
			// Decided and reported on an earlier tick: no result (and no metric) every 5 minutes.
			h.recheckLog(ctx, slog.LevelDebug, res.Code, c.w.Alarm.Name, c.t.String(), res.Reason)
			continue
		}
		out = append(out, res)
	}
	return out
}

// candidates resolves each alarm to a target and keeps those whose target went live after the
// alarm's transition; what it drops is logged with its code.
func (h *Handler) candidates(ctx context.Context, alarms []Watched) []candidate {
	type live struct {
		id    string
		since time.Time
		err   error
	}
	lives := map[string]live{}
	var out []candidate
	for _, w := range alarms {
		name := w.Alarm.Name
		if fn, ok := w.Alarm.Dimension("FunctionName"); ok && h.function != "" && fn == h.function {
			h.recheckLog(ctx, slog.LevelDebug, rollback.CodeOwnHealth, name, "", "the alarm watches Rewind's own function")
			continue
		}
		t, ok, why, err := h.resolver.Resolve(ctx, name, w.Alarm)
		switch {
		case errors.Is(err, target.ErrAmbiguous):
			h.recheckLog(ctx, slog.LevelInfo, rollback.CodeAmbiguous, name, "", err.Error())
			continue
		case err != nil:
			h.recheckLog(ctx, slog.LevelWarn, rollback.CodeResolveFailed, name, "", err.Error())
			continue
		case !ok:
			h.recheckLog(ctx, slog.LevelDebug, rollback.CodeNoTarget, name, "", why)
			continue
		case w.Cannot != "":
			h.recheckLog(ctx, slog.LevelInfo, rollback.CodeCannotRecheck, name, t.String(), "alarm "+quote(name)+" cannot be re-evaluated on fresh data: "+w.Cannot)
			continue
		}
		l, seen := lives[t.String()]
		if !seen {
			l.id, l.since, l.err = h.engines[t.Kind].LiveSince(ctx, t)
			lives[t.String()] = l
		}
		switch {
		case l.err != nil:
			h.recheckLog(ctx, slog.LevelWarn, rollback.CodeRecheckFailed, name, t.String(), l.err.Error())
		case l.since.Before(w.Transitioned.Truncate(time.Second)): // went-live times are whole seconds
			h.recheckLog(ctx, slog.LevelDebug, rollback.CodeUnchanged, name, t.String(),
				fmt.Sprintf("%s has served %s since %s, before the alarm went to ALARM at %s: its notification was about it", t, l.id, stamp(l.since), stamp(w.Transitioned)))
		default:
			out = append(out, candidate{w: w, t: t, live: l.id, since: l.since})
		}
	}
	return out
}

// recheckOne evaluates one candidate's fresh data and, when it breaches, decides. decided=false:
// nothing to decide (logged).
func (h *Handler) recheckOne(ctx context.Context, c candidate, points []event.Datapoint, now time.Time) (rollback.Result, bool) {
	name := c.w.Alarm.Name
	ev, err := c.w.Rule.Evaluate(points, c.since, now)
	if err != nil {
		h.recheckLog(ctx, slog.LevelInfo, rollback.CodeCannotRecheck, name, c.t.String(), "alarm "+quote(name)+": "+err.Error())
		return rollback.Result{}, false
	}
	m := ev.Evidence.DatapointsToAlarm
	if !ev.Breaching {
		code, what := rollback.CodeNotBreaching, "does not breach"
		if ev.TooFew() {
			code, what = rollback.CodeTooFewFresh, "has too few datapoints yet"
		}
		h.recheckLog(ctx, slog.LevelInfo, code, name, c.t.String(), fmt.Sprintf("alarm %s is still in ALARM, but the data since %s went live on %s at %s %s (%d fresh of %d periods, %d needed)",
			quote(name), c.live, c.t, stamp(c.since), what, ev.Fresh, ev.Evidence.EvaluationPeriods, m))
		return rollback.Result{}, false
	}
	tr := rollback.Trigger{By: rollback.ByAlarm, Alarm: name, Incident: c.w.Alarm.RecheckKey(c.w.Transitioned, c.t.String(), c.live), AlarmTime: c.w.Transitioned, Recheck: true}
	tr.MeasuredUntil, _ = ev.Evidence.LatestBreach()
	res := h.do(ctx, c.t, rollback.Request{Action: rollback.ActionRollback, Trigger: tr})
	res.AlarmState = string(event.StateAlarm)
	res.Reason = fmt.Sprintf("alarm %s is still in ALARM (since %s) on fresh data since %s went live at %s: %d of the last %d datapoints breach (%s): %s",
		quote(name), stamp(c.w.Transitioned), c.live, stamp(c.since), len(ev.Evidence.Datapoints), ev.Evidence.EvaluationPeriods, values(ev.Evidence.Datapoints), res.Reason)
	return res, true
}

// values lists up to 5 datapoints' values, newest first.
func values(ds []event.Datapoint) string {
	var s []string
	for i, d := range ds {
		if i == 5 {
			s = append(s, "...")
			break
		}
		s = append(s, strconv.FormatFloat(d.Value, 'g', 6, 64))
	}
	return strings.Join(s, ", ")
}

func (h *Handler) recheckLog(ctx context.Context, level slog.Level, code rollback.Code, alarm, t, reason string) {
	h.log.Log(ctx, level, "re-check", "code", string(code), "alarm", alarm, "target", t, "reason", reason)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
