package rollback

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/target"
)

// Trigger is why a decision is being made.
type Trigger struct {
	By        By
	Alarm     string    // alarm name, for alarms
	Incident  string    // the alarm state change's key, for alarms
	AlarmTime time.Time // when the alarm changed state, for alarms
	// MeasuredUntil is the end of the newest period of data the alarm judged (its newest breaching
	// datapoint's start plus the period), zero when the alarm does not say: then AlarmTime bounds it.
	MeasuredUntil time.Time
	Force         bool // manual only: override "already rolled back" and staleness, never the allow-list
	Now           time.Time
	Guard         Guard // limits on automatic rollbacks
	// Window is how long after a deployment went live an alarm may still roll it back (0: always):
	// past it, an outage is more likely not the release's, and the rollback would undo a known-good one.
	Window time.Duration
	// Recheck marks the schedule's re-read of an alarm still in ALARM (AlarmTime is its transition),
	// judged on data measured since the live deployment went live; Incident names (alarm, live
	// deployment). What Rewind put live itself during that ALARM is never moved further back, and a
	// decision not to act is remembered, so it is reported once, not every tick.
	Recheck bool
}

// Guard stops a rollback loop: at most Max automatic rollbacks per target within Window. Beyond that
// Rewind refuses and a human must look ("clear" resets it). Manual commands are not limited.
type Guard struct {
	Max    int
	Window time.Duration
}

// DefaultGuard is 3 automatic rollbacks per stage per hour.
var DefaultGuard = Guard{Max: 3, Window: time.Hour}

// Verdict says whether to act.
type Verdict int

const (
	Act  Verdict = iota // carry out the plan
	Skip                // nothing to change; not an error
	Fail                // cannot decide safely; an error for the caller
)

// Decision is the outcome of Decide*: a verdict, a stable code, a reason a person can act on, and
// the plan.
type Decision struct {
	Verdict Verdict
	Code    Code
	Reason  string
	Plan    Plan
	// Recovery is set when an alarm's return to OK closes a rollback Rewind made.
	Recovery *RecoveryReport
}

// RecoveryReport is what closing an incident reports: the rollback's incident (the thread its
// notification opened), how long users were on the bad deployment, and how long the alarm took to
// clear after the rollback.
type RecoveryReport struct {
	Incident        string        `json:"incident"`
	OnBadDeployment time.Duration `json:"onBadDeploymentMs"` // 0 when the timeline does not date it
	UntilClear      time.Duration `json:"untilClearMs"`
}

func skip(code Code, format string, a ...any) Decision {
	return Decision{Verdict: Skip, Code: code, Reason: fmt.Sprintf(format, a...)}
}

func fail(code Code, format string, a ...any) Decision {
	return Decision{Verdict: Fail, Code: code, Reason: fmt.Sprintf(format, a...)}
}

// DecideRollback applies the rules for an alarm or a manual "rollback", in this order:
//  1. an incident already handled is not handled again (SNS and Lambda deliver at least once): repeat;
//  2. an alarm whose recorded return to OK is newer than this ALARM is old news: recovered;
//  3. while the target still serves what a Rewind rollback put there during the same incident (its
//     alarm has not returned to OK, and within the loop guard's window; for a re-check, any rollback
//     made while the alarm was already in ALARM) and has no active canary, nothing moves it further
//     back: still-serving;
//  4. an alarm whose data was all measured before the live deployment went live is stale;
//  5. an alarm later than the release window after the live deployment went live acts no more:
//     outside-window (a human may, by hand);
//  6. an alarm beyond the loop guard's automatic rollbacks per window fails: loop-guard;
//  7. an active canary is removed rather than the target moved: canary-removed;
//  8. otherwise the target goes to its pinned fallback, else to the deployment its timeline saw live
//     before the live one, else to the newest deployment created strictly before the live one, never
//     to a known-bad one (chooseEarlier): rolled-back, or nothing-earlier and the fallback's failures.
//
// A manual Force overrides 3 and 4; 2, 4, 5 and 6 concern alarms only.
func DecideRollback(t target.Target, s State, tr Trigger) Decision {
	mem := sighted(s, tr.Now)
	alarm := tr.By == ByAlarm
	if s.Memory.handled(tr.Incident) {
		return skip(CodeRepeat, "incident %s (alarm %s) was already handled on %s; this is a repeated delivery", tr.Incident, tr.Alarm, t)
	}
	if r, ok := s.Memory.recovered(tr.Alarm); alarm && ok && !tr.AlarmTime.IsZero() && r.At.After(tr.AlarmTime) {
		return skip(CodeRecoveredSince, "alarm %s went to ALARM at %s but has been OK since %s: a late delivery of an incident that is over",
			tr.Alarm, stamp(tr.AlarmTime), stamp(r.At))
	}
	canary := s.Canary.active(s.Live)
	if last := s.Memory.Last; last != nil && !tr.Force && !canary && last.To == s.Live && (sameIncident(s.Memory, last, tr) || tr.during(last)) {
		return skip(CodeStillServing, "%s still serves %s, where Rewind's %s %s put it at %s%s, and that incident is not over; not moving further back without force",
			t, s.Live, last.By, last.Kind, stamp(last.At), alarmNote(last.Alarm))
	}
	wentLive := liveSince(s)
	if alarm && !tr.Force {
		if measured := tr.measured(); !measured.IsZero() && !measured.After(wentLive.Add(-staleTolerance)) {
			return skip(CodeStale, "alarm %s judged data measured until %s, before %s went live on %s at %s: stale, it says nothing about what is live",
				tr.Alarm, stamp(measured), s.Live, t, stamp(wentLive))
		}
	}
	if alarm && tr.Window > 0 && !wentLive.IsZero() && tr.Now.Sub(wentLive) > tr.Window {
		would := ""
		if to, rule, d := chooseEarlier(t, s, mem); d.Verdict == Act {
			would = fmt.Sprintf("; it would have rolled back to %s (%s): to do it, {\"action\":\"rollback\",\"target\":%q}", to.ID, rule, t.String())
		}
		return skip(CodeOutsideWindow, "%s has served %s since %s, longer than the release window (%s): not rolling back automatically%s",
			t, s.Live, stamp(wentLive), tr.Window, would)
	}
	if alarm && tr.Guard.Max > 0 {
		if recent := mem.autoRollbacksSince(tr.Now.Add(-tr.Guard.Window)); len(recent) >= tr.Guard.Max {
			return fail(CodeLoopGuard, "loop guard: %d automatic rollbacks of %s within %s (last at %s); refusing to roll back again, a human must look "+
				"(roll back by hand, or reset with {\"action\":\"clear\"})", len(recent), t, tr.Guard.Window, stamp(recent[len(recent)-1]))
		}
	}
	how := HowManualRollback
	if alarm {
		how = HowAutoRollback
	}
	change := Change{By: tr.By, At: tr.Now.UTC(), Incident: tr.Incident, Alarm: tr.Alarm}
	if canary {
		change.Kind, change.From, change.To = KindCanaryRollback, s.Canary.DeploymentID, s.Live
		return Decision{Verdict: Act, Code: CodeCanaryRemoved, Reason: fmt.Sprintf("remove the canary on %s (deployment %s, %g%% of traffic); all traffic back on %s",
			t, s.Canary.DeploymentID, s.Canary.PercentTraffic, s.Live),
			Plan: Plan{Kind: KindCanaryRollback, From: change.From, To: change.To, Rule: RuleCanary, RemoveCanary: true,
				Memory: mem.with(change, s.Canary.DeploymentID).seen(s.Live, tr.Now, how)}}
	}
	to, rule, d := chooseEarlier(t, s, mem)
	if d.Verdict != Act {
		return d
	}
	change.Kind, change.From, change.To = KindRollback, s.Live, to.ID
	return Decision{Verdict: Act, Code: CodeRolledBack,
		Reason: fmt.Sprintf("roll %s back from %s to %s (%s, created %s)", t, s.Live, to.ID, rule, stamp(to.CreatedDate)),
		Plan: Plan{Kind: KindRollback, From: s.Live, To: to.ID, Rule: rule, RemoveCanary: s.Canary != nil,
			Memory: mem.with(change, s.Live).seen(to.ID, tr.Now, how)}}
}

// measured is the end of the data the alarm judged: its newest datapoint's period, else its state
// change.
func (tr Trigger) measured() time.Time {
	if !tr.MeasuredUntil.IsZero() {
		return tr.MeasuredUntil
	}
	return tr.AlarmTime
}

// during reports whether a re-check's alarm was already in ALARM when Rewind made its last change, a
// rollback: the rollback did not clear the alarm, so what still breaches is not what Rewind put live
// (a downstream outage), and walking further back every tick would undo history.
func (tr Trigger) during(last *Change) bool {
	return tr.Recheck && (last.Kind == KindRollback || last.Kind == KindCanaryRollback) && !last.At.Before(tr.AlarmTime)
}

// sameIncident reports whether Rewind's last change, a rollback, belongs to an incident still open for
// tr: its alarm has not returned to OK since, and it is within the loop guard's window. Past either,
// a new alarm on the deployment Rewind went back to is a new incident.
func sameIncident(m Memory, last *Change, tr Trigger) bool {
	if last.Kind != KindRollback && last.Kind != KindCanaryRollback {
		return false
	}
	if r, ok := m.recovered(last.Alarm); ok && last.Alarm != "" && r.At.After(last.At) {
		return false
	}
	return tr.Guard.Window <= 0 || tr.Now.Sub(last.At) < tr.Guard.Window
}

// DecideRecovery records an alarm's return to OK (never writing the target). When it closes an
// incident Rewind rolled back, the answer says so, once: how long users were on the bad deployment and
// how long the alarm took to clear after the rollback.
func DecideRecovery(t target.Target, s State, tr Trigger) Decision {
	if prev, ok := s.Memory.recovered(tr.Alarm); ok && !tr.AlarmTime.After(prev.At) {
		return skip(CodeRepeat, "alarm %s's return to OK at %s is already recorded", tr.Alarm, stamp(tr.AlarmTime))
	}
	rec := Recovery{Alarm: tr.Alarm, At: tr.AlarmTime.UTC()}
	last := s.Memory.Last
	closes := last != nil && last.By == ByAlarm && last.Alarm == tr.Alarm && last.To == s.Live &&
		(last.Kind == KindRollback || last.Kind == KindCanaryRollback) && last.At.Before(tr.AlarmTime)
	if prev, ok := s.Memory.recovered(tr.Alarm); ok && last != nil && prev.At.After(last.At) {
		closes = false // this rollback's recovery was already reported
	}
	rec.Reported = closes
	plan := Plan{Kind: KindRecord, From: s.Live, To: s.Live, Rule: RuleRecovered, Memory: sighted(s, tr.Now).withRecovery(rec)}
	if !closes {
		return Decision{Verdict: Act, Code: CodeOKRecorded, Plan: plan,
			Reason: fmt.Sprintf("alarm %s is OK since %s; recorded for %s (nothing to change)", tr.Alarm, stamp(tr.AlarmTime), t)}
	}
	report := &RecoveryReport{Incident: last.Incident, UntilClear: tr.AlarmTime.Sub(last.At)}
	reason := fmt.Sprintf("%s recovered: alarm %s is OK since %s, %s after Rewind rolled it back from %s to %s",
		t, tr.Alarm, stamp(tr.AlarmTime), report.UntilClear.Round(time.Second), last.From, last.To)
	if bad, ok := sightingOf(s.Memory, last.From, last.At); ok {
		report.OnBadDeployment = last.At.Sub(bad)
		reason += fmt.Sprintf("; users were on %s for %s", last.From, report.OnBadDeployment.Round(time.Second))
	}
	return Decision{Verdict: Act, Code: CodeRecovered, Plan: plan, Reason: reason, Recovery: report}
}

// sightingOf is when dep last went live on the target before at, from the timeline.
func sightingOf(m Memory, dep string, at time.Time) (time.Time, bool) {
	for i := len(m.Timeline) - 1; i >= 0; i-- {
		if s := m.Timeline[i]; s.Deployment == dep && !s.Since.After(at) {
			return s.Since, true
		}
	}
	return time.Time{}, false
}

func alarmNote(alarm string) string {
	if alarm == "" {
		return ""
	}
	return " (alarm " + alarm + ")"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// DecideObserve records the live deployment in the timeline when it is new there, and in any case
// when it was seen (for targets that keep no change time of their own).
func DecideObserve(t target.Target, s State, now time.Time) Decision {
	mem := sighted(s, now)
	// Compare the newest sighting, not the timeline's length: a full timeline keeps its length when it
	// records a new deployment.
	if cur, ok := s.Memory.current(); ok && cur.Deployment == s.Live {
		return Decision{Verdict: Act, Code: CodeUnchanged, Reason: fmt.Sprintf("%s serves %s, as the timeline already says", t, s.Live),
			Plan: Plan{Kind: KindRecord, From: s.Live, To: s.Live, Rule: RuleObserved, Memory: mem}}
	}
	since := mem.Timeline[len(mem.Timeline)-1].Since
	return Decision{Verdict: Act, Code: CodeRecorded, Reason: fmt.Sprintf("recorded %s live on %s since %s", s.Live, t, since.Format(time.RFC3339)),
		Plan: Plan{Kind: KindRecord, From: s.Live, To: s.Live, Rule: RuleObserved, Memory: mem}}
}

// DecideClear forgets the known-bad marks and resets the loop guard. It leaves the timeline as it is:
// a clear is no release, and re-dating the live deployment would make a pending alarm stale.
func DecideClear(t target.Target, s State, tr Trigger) Decision {
	mem := sighted(s, tr.Now)
	cleared := mem.Bad
	mem.Bad, mem.Guard = nil, nil
	return Decision{Verdict: Act, Code: CodeCleared, Reason: fmt.Sprintf("clear %s: forget the known-bad marks (%s) and start the loop guard again", t, orNone(strings.Join(cleared, ", "))),
		Plan: Plan{Kind: KindRecord, From: s.Live, To: s.Live, Rule: RuleCleared, Memory: mem}}
}

// sighted adds the live deployment to the timeline when it is not already the newest sighting, notes
// when it was seen, and ends a spell of failed observing. When neither the deployment's creation, the
// target's last change nor an earlier look bounds when it went live (a CloudFront origin), the
// sighting's time stays unknown (zero): "now" would date an old deployment as new, and make every
// alarm about it stale.
func sighted(s State, now time.Time) Memory {
	m := s.Memory.seen(s.Live, liveSince(s), HowObserved)
	m.SeenAt = now.UTC()
	if !m.BlindSince.IsZero() {
		m.BlindSince, m.BlindUntil = time.Time{}, now.UTC()
	}
	return m
}

// DecideDeploy applies the rules for a manual "deploy" (the console's "Change Deployment").
func DecideDeploy(t target.Target, s State, id string, tr Trigger) Decision {
	dep, ok := find(s.History, id)
	if !ok {
		return fail(CodeUnknownDeployment, "deployment %s is not in the history of %s (%d deployments)", id, t, len(s.History))
	}
	if id == s.Live && s.Canary == nil {
		return skip(CodeAlreadyLive, "%s already serves %s", t, id)
	}
	mem := sighted(s, tr.Now)
	forced := ""
	if mem.IsBad(id) {
		if !tr.Force {
			return fail(CodeKnownBad, "deployment %s on %s is known bad (Rewind rolled back from it); deploy it with force to override", id, t)
		}
		mem = mem.without(id)
		forced = fmt.Sprintf("; forced: %s is no longer marked known bad", id)
	}
	change := Change{Kind: KindDeploy, From: s.Live, To: id, By: tr.By, At: tr.Now.UTC()}
	return Decision{Verdict: Act, Code: CodeDeployed,
		Reason: fmt.Sprintf("switch %s from %s to %s (created %s)%s", t, s.Live, id, stamp(dep.CreatedDate), forced),
		Plan: Plan{Kind: KindDeploy, From: s.Live, To: id, Rule: RuleNamed, RemoveCanary: s.Canary != nil,
			Memory: mem.with(change, "").seen(id, tr.Now, HowDeploy)}}
}

// chooseEarlier picks where a rollback goes: the pinned fallback; else the most recent deployment seen
// live on this target before the current one (created before it, not known bad); else, when the
// timeline knows nothing earlier, the newest deployment created before the live one that is not known
// bad. Deployments belong to the API, not the stage, so the last rule can pick a build that only ever
// went to another stage: the timeline is what makes "previous" mean previous on this stage.
// The listing order of the history means nothing.
func chooseEarlier(t target.Target, s State, mem Memory) (Deployment, Rule, Decision) {
	if t.Fallback != "" {
		fb, ok := find(s.History, t.Fallback)
		switch {
		case !ok:
			return fb, "", fail(CodeFallbackMissing, "pinned fallback deployment %s of %s is not in its history", t.Fallback, t)
		case t.Fallback == s.Live:
			return fb, "", skip(CodeOnFallback, "%s already serves its pinned fallback %s", t, s.Live)
		case s.Memory.IsBad(t.Fallback):
			return fb, "", fail(CodeFallbackKnownBad, "pinned fallback deployment %s of %s is known bad (Rewind rolled back from it)", t.Fallback, t)
		}
		return fb, RuleFallback, Decision{Verdict: Act}
	}
	live, ok := find(s.History, s.Live)
	if !ok {
		return Deployment{}, "", fail(CodeLiveNotInHistory, "live deployment %s of %s is not in the API's deployment history (%d deployments)", s.Live, t, len(s.History))
	}
	for i := len(mem.Timeline) - 1; i >= 0; i-- {
		seen := mem.Timeline[i]
		if seen.Since.Before(mem.BlindUntil) {
			break // older than a spell Rewind could not observe the target: a release may be missing
		}
		if seen.Deployment == s.Live || mem.IsBad(seen.Deployment) {
			continue
		}
		if d, ok := find(s.History, seen.Deployment); ok && before(d, live) {
			return d, RuleTimeline, Decision{Verdict: Act}
		}
	}
	var best *Deployment
	for i := range s.History {
		d := &s.History[i]
		if d.ID == s.Live || !before(*d, live) || s.Memory.IsBad(d.ID) {
			continue
		}
		if best == nil || before(*best, *d) || (best.CreatedDate.Equal(d.CreatedDate) && best.ID < d.ID) {
			best = d // ties between candidates by id, so the choice is stable
		}
	}
	if best == nil {
		return Deployment{}, "", fail(CodeNothingEarlier, "nothing to roll %s back to: no deployment created before %s (%s) that is not known bad (history: %d; known bad: %s)",
			t, s.Live, live.CreatedDate.UTC().Format(time.RFC3339), len(s.History), orNone(strings.Join(s.Memory.Bad, ", ")))
	}
	return *best, RulePrevious, Decision{Verdict: Act}
}

// before reports whether a was created strictly earlier than b. Deployments of the same second (dev
// and prod deployed from one release) are siblings, never each other's "earlier": a sibling of the
// live deployment is the same broken snapshot.
func before(a, b Deployment) bool { return a.CreatedDate.Before(b.CreatedDate) }

// sortNewestFirst orders a history for display.
func sortNewestFirst(h []Deployment) {
	slices.SortFunc(h, func(a, b Deployment) int {
		if c := b.CreatedDate.Compare(a.CreatedDate); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
}

// staleTolerance absorbs clock skew between CloudWatch and API Gateway and the whole-second dates the
// control plane reports; a notification from before a deployment is minutes old, not a second.
const staleTolerance = time.Second

// liveSince is when the live deployment went live, as well as Rewind can tell: the latest of its
// creation, the target's last change (a human's "Change Deployment" to an old deployment, or a canary
// started since, shows only there; Rewind itself changes a target only by switching it), and the
// timeline's sighting of it. Where it is not the newest sighting, it went live after Rewind last saw
// the previous one there: for a target that keeps no change time (a Lambda alias), that look bounds
// it. Data measured before that judged something else.
func liveSince(s State) time.Time {
	t := wentLiveBounds(s)
	if cur, ok := s.Memory.current(); ok && cur.Deployment == s.Live {
		if cur.Since.After(t) {
			t = cur.Since
		}
	} else if s.LastUpdated.IsZero() && s.Memory.SeenAt.After(t) {
		t = s.Memory.SeenAt // the target keeps no change time of its own
	}
	return t
}

// wentLiveBounds is the latest of the live deployment's creation and the stage's last change.
func wentLiveBounds(s State) time.Time {
	t := time.Time{}
	if d, ok := find(s.History, s.Live); ok {
		t = d.CreatedDate
	}
	if s.LastUpdated.After(t) {
		t = s.LastUpdated
	}
	return t
}

func find(h []Deployment, id string) (Deployment, bool) {
	for _, d := range h {
		if d.ID == id {
			return d, true
		}
	}
	return Deployment{}, false
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
