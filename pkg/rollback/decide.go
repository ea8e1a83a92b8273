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
	Force     bool      // manual only: override "already rolled back" and staleness, never the allow-list
	Now       time.Time
	Guard     Guard // limits on automatic rollbacks
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
}

func skip(code Code, format string, a ...any) Decision {
	return Decision{Verdict: Skip, Code: code, Reason: fmt.Sprintf(format, a...)}
}

func fail(code Code, format string, a ...any) Decision {
	return Decision{Verdict: Fail, Code: code, Reason: fmt.Sprintf(format, a...)}
}

// DecideRollback applies the rules for an alarm or a manual "rollback", in this order:
//  1. an incident already handled is not handled again (SNS and Lambda deliver at least once): repeat;
//  2. while the target still serves what a Rewind rollback put there (and has no active canary),
//     nothing moves it further back (a second alarm of the same incident): still-serving;
//  3. an alarm whose state change is older than when the live deployment went live is stale;
//  4. an alarm beyond the loop guard's automatic rollbacks per window fails: loop-guard;
//  5. an active canary is removed rather than the target moved: canary-removed;
//  6. otherwise the target goes to its pinned fallback, else to the deployment its timeline saw live
//     before the live one, else to the newest deployment created before the live one, never to a
//     known-bad one (chooseEarlier): rolled-back, or nothing-earlier and the fallback's failures.
//
// A manual Force overrides 2 and 3; the guard counts automatic rollbacks only.
func DecideRollback(t target.Target, s State, tr Trigger) Decision {
	mem := observe(s, tr.Now)
	if s.Memory.handled(tr.Incident) {
		return skip(CodeRepeat, "incident %s (alarm %s) was already handled on %s; this is a repeated delivery", tr.Incident, tr.Alarm, t)
	}
	canary := s.Canary.active(s.Live)
	if last := s.Memory.Last; last != nil && !tr.Force && !canary && last.To == s.Live &&
		(last.Kind == KindRollback || last.Kind == KindCanaryRollback) {
		return skip(CodeStillServing, "%s still serves %s, where Rewind's %s %s put it at %s (alarm %s); not moving further back without force",
			t, s.Live, last.By, last.Kind, last.At.UTC().Format(time.RFC3339), orNone(last.Alarm))
	}
	if tr.By == ByAlarm && !tr.Force && !tr.AlarmTime.IsZero() {
		if wentLive := liveSince(s); tr.AlarmTime.Add(staleTolerance).Before(wentLive) {
			return skip(CodeStale, "alarm %s changed state at %s, before %s changed at %s (live deployment %s): stale notification",
				tr.Alarm, tr.AlarmTime.UTC().Format(time.RFC3339Nano), t, wentLive.UTC().Format(time.RFC3339Nano), s.Live)
		}
	}
	if tr.By == ByAlarm && tr.Guard.Max > 0 {
		if recent := mem.autoRollbacksSince(tr.Now.Add(-tr.Guard.Window)); len(recent) >= tr.Guard.Max {
			return fail(CodeLoopGuard, "loop guard: %d automatic rollbacks of %s within %s (last at %s); refusing to roll back again, a human must look "+
				"(roll back by hand, or reset with {\"action\":\"clear\"})", len(recent), t, tr.Guard.Window, recent[len(recent)-1].Format(time.RFC3339))
		}
	}
	how := HowManualRollback
	if tr.By == ByAlarm {
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
		Reason: fmt.Sprintf("roll %s back from %s to %s (%s, created %s)", t, s.Live, to.ID, rule, to.CreatedDate.UTC().Format(time.RFC3339)),
		Plan: Plan{Kind: KindRollback, From: s.Live, To: to.ID, Rule: rule, RemoveCanary: s.Canary != nil,
			Memory: mem.with(change, s.Live).seen(to.ID, tr.Now, how)}}
}

// DecideObserve records the live deployment in the timeline when it is new there.
func DecideObserve(t target.Target, s State, now time.Time) Decision {
	// Compare the newest sighting, not the timeline's length: a full timeline keeps its length when it
	// records a new deployment.
	if cur, ok := s.Memory.current(); ok && cur.Deployment == s.Live {
		return skip(CodeUnchanged, "%s serves %s, as the timeline already says", t, s.Live)
	}
	mem := observe(s, now)
	since := mem.Timeline[len(mem.Timeline)-1].Since
	return Decision{Verdict: Act, Code: CodeRecorded, Reason: fmt.Sprintf("recorded %s live on %s since %s", s.Live, t, since.Format(time.RFC3339)),
		Plan: Plan{Kind: KindRecord, From: s.Live, To: s.Live, Rule: RuleObserved, Memory: mem}}
}

// DecideClear forgets the known-bad marks and resets the loop guard, and says so in the timeline.
func DecideClear(t target.Target, s State, tr Trigger) Decision {
	mem := observe(s, tr.Now).seen(s.Live, tr.Now, HowCleared)
	cleared := mem.Bad
	mem.Bad, mem.Guard = nil, nil
	return Decision{Verdict: Act, Code: CodeCleared, Reason: fmt.Sprintf("cleared %s: known bad was %s; the loop guard starts again", t, orNone(strings.Join(cleared, ", "))),
		Plan: Plan{Kind: KindRecord, From: s.Live, To: s.Live, Rule: RuleCleared, Memory: mem}}
}

// observe adds the live deployment to the timeline when it is not already the newest sighting.
// When neither the deployment's creation nor the stage's last change is known, now is the best bound.
func observe(s State, now time.Time) Memory {
	since := wentLiveBounds(s)
	if since.IsZero() {
		since = now
	}
	return s.Memory.seen(s.Live, since, HowObserved)
}

// DecideDeploy applies the rules for a manual "deploy" (the console's "Change Deployment").
func DecideDeploy(t target.Target, s State, id string, tr Trigger) Decision {
	dep, ok := find(s.History, id)
	if !ok {
		return fail(CodeUnknownDeployment, "deployment %s does not exist in API %s (%d deployments in its history)", id, t.APIID, len(s.History))
	}
	if id == s.Live && s.Canary == nil {
		return skip(CodeAlreadyLive, "%s already serves %s", t, id)
	}
	mem := observe(s, tr.Now)
	if mem.IsBad(id) {
		if !tr.Force {
			return fail(CodeKnownBad, "deployment %s on %s is known bad (Rewind rolled back from it); deploy it with force to override", id, t)
		}
		mem = mem.without(id)
	}
	change := Change{Kind: KindDeploy, From: s.Live, To: id, By: tr.By, At: tr.Now.UTC()}
	return Decision{Verdict: Act, Code: CodeDeployed,
		Reason: fmt.Sprintf("switch %s from %s to %s (created %s)", t, s.Live, id, dep.CreatedDate.UTC().Format(time.RFC3339)),
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
			return fb, "", fail(CodeFallbackMissing, "pinned fallback deployment %s of %s does not exist in API %s", t.Fallback, t, t.APIID)
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
		if best == nil || before(*best, *d) {
			best = d
		}
	}
	if best == nil {
		return Deployment{}, "", fail(CodeNothingEarlier, "nothing to roll %s back to: no deployment created before %s (%s) that is not known bad (history: %d; known bad: %s)",
			t, s.Live, live.CreatedDate.UTC().Format(time.RFC3339), len(s.History), orNone(strings.Join(s.Memory.Bad, ", ")))
	}
	return *best, RulePrevious, Decision{Verdict: Act}
}

// before orders deployments by creation time, ties broken by id, so the order is total and stable.
func before(a, b Deployment) bool {
	if c := a.CreatedDate.Compare(b.CreatedDate); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

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

// liveSince is when the live deployment went live, as well as Rewind can tell: the timeline's sighting
// when it has one; otherwise not before the deployment was created, and not before the stage last
// changed (a human's "Change Deployment" to an old deployment shows only there). An alarm older than
// that judged something else.
func liveSince(s State) time.Time {
	if cur, ok := s.Memory.current(); ok && cur.Deployment == s.Live {
		if d, ok := find(s.History, s.Live); ok && cur.Since.Before(d.CreatedDate) {
			return d.CreatedDate
		}
		return cur.Since
	}
	return wentLiveBounds(s)
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
