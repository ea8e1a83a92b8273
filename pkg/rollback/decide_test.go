package rollback

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/target"
)

var (
	t0   = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	prod = target.Target{Kind: target.KindRESTStage, Resource: "a1b2c3d4e5", Slot: "prod"}
)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// history is listed deliberately out of creation order: the listing order must mean nothing.
func history() []Deployment {
	return []Deployment{
		{ID: "dep3", CreatedDate: at(30), Description: "lambda v2"},
		{ID: "dep1", CreatedDate: at(10), Description: "http proxy to EC2"},
		{ID: "dep4", CreatedDate: at(40), Description: "lambda v3"},
		{ID: "dep2", CreatedDate: at(20), Description: "lambda v1"},
	}
}

func alarmAt(min int, incident string) Trigger {
	return Trigger{By: ByAlarm, Alarm: "api-5xx", Incident: incident, AlarmTime: at(min), Now: at(min + 1)}
}

func TestDecideRollback(t *testing.T) {
	rewindPut := func(to string, kind ChangeKind) Memory {
		return Memory{Bad: []string{"dep4"}, Incidents: []string{"inc-old"}, Last: &Change{Kind: kind, From: "dep4", To: to, At: at(45), By: ByAlarm, Alarm: "api-5xx"}}
	}
	tests := []struct {
		name       string
		target     target.Target
		state      State
		trigger    Trigger
		verdict    Verdict
		to         string
		rule       Rule
		code       Code
		canaryDrop bool
		reasonHas  []string
	}{
		{name: "previous by createdDate, not by listing order", state: State{Live: "dep4", History: history()},
			trigger: alarmAt(50, "inc1"), verdict: Act, to: "dep3", rule: RulePrevious, code: CodeRolledBack},
		{name: "known bad deployments are passed over", state: State{Live: "dep4", History: history(), Memory: Memory{Bad: []string{"dep3"}}},
			trigger: alarmAt(50, "inc1"), verdict: Act, to: "dep2", rule: RulePrevious},
		{name: "ties in createdDate are broken by id", state: State{Live: "dep9", History: []Deployment{
			{ID: "depB", CreatedDate: at(10)}, {ID: "dep9", CreatedDate: at(20)}, {ID: "depA", CreatedDate: at(10)}}},
			trigger: alarmAt(50, "inc1"), verdict: Act, to: "depB"},
		{name: "same incident delivered again", state: State{Live: "dep3", History: history(), Memory: Memory{Incidents: []string{"inc1"}}},
			trigger: alarmAt(50, "inc1"), verdict: Skip, code: CodeRepeat, reasonHas: []string{"inc1"}},
		{name: "second alarm while the stage serves what Rewind put there", state: State{Live: "dep3", History: history(), Memory: rewindPut("dep3", KindRollback)},
			trigger: alarmAt(50, "inc2"), verdict: Skip, code: CodeStillServing, reasonHas: []string{"dep3", "force"}},
		{name: "force overrides still-serving", state: State{Live: "dep3", History: history(), Memory: rewindPut("dep3", KindRollback)},
			trigger: Trigger{By: ByManual, Force: true, Now: at(50)}, verdict: Act, to: "dep2"},
		{name: "a human deployed since Rewind's rollback: act again", state: State{Live: "dep4", History: history(), Memory: rewindPut("dep3", KindRollback)},
			trigger: alarmAt(50, "inc2"), verdict: Act, to: "dep3"},
		{name: "stale: alarm older than the live deployment", state: State{Live: "dep4", History: history()},
			trigger: alarmAt(35, "inc1"), verdict: Skip, code: CodeStale},
		{name: "stale: alarm older than the stage's last change (switch to an old deployment)", state: State{Live: "dep2", LastUpdated: at(48), History: history()},
			trigger: alarmAt(47, "inc1"), verdict: Skip, code: CodeStale},
		{name: "force overrides staleness", state: State{Live: "dep4", History: history()},
			trigger: Trigger{By: ByAlarm, Force: true, Alarm: "x", Incident: "i", AlarmTime: at(35), Now: at(50)}, verdict: Act, to: "dep3"},
		{name: "active canary is removed, deploymentId kept", state: State{Live: "dep3", Canary: &Canary{DeploymentID: "dep4", PercentTraffic: 10.5}, History: history()},
			trigger: alarmAt(50, "inc1"), verdict: Act, to: "dep3", rule: RuleCanary, code: CodeCanaryRemoved, canaryDrop: true, reasonHas: []string{"dep4", "10.5%"}},
		{name: "canary at 0% is not the suspect: roll back and drop it", state: State{Live: "dep4", Canary: &Canary{DeploymentID: "dep3", PercentTraffic: 0}, History: history()},
			trigger: alarmAt(50, "inc1"), verdict: Act, to: "dep3", rule: RulePrevious, canaryDrop: true},
		{name: "nothing earlier: fail naming the ids", state: State{Live: "dep1", History: history()},
			trigger: alarmAt(50, "inc1"), verdict: Fail, code: CodeNothingEarlier, reasonHas: []string{"dep1"}},
		{name: "everything earlier is bad: fail naming them", state: State{Live: "dep3", History: history(), Memory: Memory{Bad: []string{"dep2", "dep1"}}},
			trigger: alarmAt(50, "inc1"), verdict: Fail, code: CodeNothingEarlier, reasonHas: []string{"dep2, dep1"}},
		{name: "live deployment missing from history", state: State{Live: "gone", History: history()},
			trigger: alarmAt(50, "inc1"), verdict: Fail, code: CodeLiveNotInHistory, reasonHas: []string{"gone"}},
		{name: "pinned fallback wins over previous", target: withFallback("dep1"), state: State{Live: "dep4", History: history()},
			trigger: alarmAt(50, "inc1"), verdict: Act, to: "dep1", rule: RuleFallback},
		{name: "already on the pinned fallback", target: withFallback("dep1"), state: State{Live: "dep1", History: history()},
			trigger: alarmAt(50, "inc1"), verdict: Skip, code: CodeOnFallback},
		{name: "pinned fallback that does not exist", target: withFallback("nope"), state: State{Live: "dep4", History: history()},
			trigger: alarmAt(50, "inc1"), verdict: Fail, code: CodeFallbackMissing, reasonHas: []string{"nope"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := tc.target
			if tg.Resource == "" {
				tg = prod
			}
			d := DecideRollback(tg, tc.state, tc.trigger)
			if d.Verdict != tc.verdict {
				t.Fatalf("verdict = %v (%s), want %v", d.Verdict, d.Reason, tc.verdict)
			}
			if tc.code != "" && d.Code != tc.code {
				t.Errorf("code = %s (%s), want %s", d.Code, d.Reason, tc.code)
			}
			if d.Code == "" {
				t.Errorf("decision without a code: %s", d.Reason)
			}
			for _, s := range tc.reasonHas {
				if !strings.Contains(d.Reason, s) {
					t.Errorf("reason %q lacks %q", d.Reason, s)
				}
			}
			if tc.verdict != Act {
				return
			}
			if d.Plan.To != tc.to {
				t.Errorf("to = %s, want %s", d.Plan.To, tc.to)
			}
			if tc.rule != "" && d.Plan.Rule != tc.rule {
				t.Errorf("rule = %s, want %s", d.Plan.Rule, tc.rule)
			}
			if d.Plan.RemoveCanary != tc.canaryDrop {
				t.Errorf("RemoveCanary = %v, want %v", d.Plan.RemoveCanary, tc.canaryDrop)
			}
			// What Rewind rolled back from is known bad afterwards, and the incident is remembered.
			if !d.Plan.Memory.IsBad(d.Plan.From) {
				t.Errorf("memory does not mark %s bad: %+v", d.Plan.From, d.Plan.Memory)
			}
			if tc.trigger.Incident != "" && !d.Plan.Memory.handled(tc.trigger.Incident) {
				t.Errorf("memory does not record incident %s", tc.trigger.Incident)
			}
			if d.Plan.Memory.Last == nil || d.Plan.Memory.Last.To != tc.to {
				t.Errorf("memory's last change = %+v, want to=%s", d.Plan.Memory.Last, tc.to)
			}
		})
	}
}

func withFallback(id string) target.Target { f := prod; f.Fallback = id; return f }

func TestDecideDeploy(t *testing.T) {
	st := State{Live: "dep3", History: history(), Memory: Memory{Bad: []string{"dep4"}}}
	man := Trigger{By: ByManual, Now: at(60)}
	if d := DecideDeploy(prod, st, "dep1", man); d.Verdict != Act || d.Plan.To != "dep1" || d.Plan.Kind != KindDeploy {
		t.Errorf("deploy dep1: %+v", d)
	}
	if d := DecideDeploy(prod, st, "zzz", man); d.Verdict != Fail || d.Code != CodeUnknownDeployment || !strings.Contains(d.Reason, "zzz") {
		t.Errorf("deploy unknown: %+v", d)
	}
	if d := DecideDeploy(prod, st, "dep3", man); d.Verdict != Skip || d.Code != CodeAlreadyLive {
		t.Errorf("deploy live: %+v", d)
	}
	if d := DecideDeploy(prod, st, "dep4", man); d.Verdict != Fail || d.Code != CodeKnownBad {
		t.Errorf("deploy bad without force: %+v", d)
	}
	forced := man
	forced.Force = true
	d := DecideDeploy(prod, st, "dep4", forced)
	if d.Verdict != Act || d.Plan.Memory.IsBad("dep4") {
		t.Errorf("deploy bad with force should act and clear the mark: %+v", d)
	}
	withCanary := st
	withCanary.Canary = &Canary{DeploymentID: "dep4", PercentTraffic: 5}
	if d := DecideDeploy(prod, withCanary, "dep3", man); d.Verdict != Act || !d.Plan.RemoveCanary {
		t.Errorf("deploy onto a canary stage must drop the canary: %+v", d)
	}
}

func TestMemoryKeepsItsBounds(t *testing.T) {
	m := Memory{}
	for i := range 2 * MaxBad { // more than the bounds, to see them hold
		m = m.with(Change{Kind: KindRollback, From: fmt.Sprintf("d%d", i), To: "dep1", At: at(i), By: ByAlarm,
			Incident: fmt.Sprintf("inc%d", i)}, fmt.Sprintf("d%d", i)).seen("dep1", at(i), HowAutoRollback)
	}
	if len(m.Bad) != MaxBad || len(m.Incidents) != MaxIncidents || len(m.Timeline) != MaxTimeline || len(m.Guard) != MaxGuard {
		t.Fatalf("bounds not kept: %d bad, %d incidents, %d sightings, %d guard", len(m.Bad), len(m.Incidents), len(m.Timeline), len(m.Guard))
	}
	if m.Bad[MaxBad-1] != fmt.Sprintf("d%d", 2*MaxBad-1) || m.Bad[0] != fmt.Sprintf("d%d", MaxBad) {
		t.Errorf("the oldest marks must go first: %s .. %s", m.Bad[0], m.Bad[MaxBad-1])
	}
}

// apply is what the engine does with a plan: its memory is kept and, for a switch, the plan's
// deployment goes live (the target's last change moves; a record-only plan never touches the target).
func apply(s State, p Plan, now time.Time) State {
	s.Memory = p.Memory
	if p.Kind != KindRecord {
		s.LastUpdated = now
	}
	if p.RemoveCanary {
		s.Canary = nil
	}
	if p.Kind != KindCanaryRollback && p.Kind != KindRecord {
		s.Live = p.To
	}
	return s
}

func TestTimelineMakesPreviousMeanPreviousOnThisStage(t *testing.T) {
	// prod1 and prod2 went to prod; devonly was created between them and only ever went to dev.
	h := []Deployment{{ID: "prod2", CreatedDate: at(30)}, {ID: "devonly", CreatedDate: at(20)}, {ID: "prod1", CreatedDate: at(10)}}
	s := State{Live: "prod1", LastUpdated: at(11), History: h}
	d := DecideObserve(prod, s, at(12))
	if d.Verdict != Act {
		t.Fatal(d.Reason)
	}
	s = apply(s, d.Plan, at(12))
	if d := DecideObserve(prod, s, at(13)); d.Code != CodeUnchanged || len(d.Plan.Memory.Timeline) != 1 || !d.Plan.Memory.SeenAt.Equal(at(13)) {
		t.Fatalf("a second observe of the same deployment adds no sighting, only when it was seen: %+v", d)
	}
	s.Live, s.LastUpdated = "prod2", at(31) // the release
	s = apply(s, DecideObserve(prod, s, at(32)).Plan, at(32))

	d = DecideRollback(prod, s, alarmAt(40, "inc1"))
	if d.Verdict != Act || d.Plan.To != "prod1" || d.Plan.Rule != RuleTimeline {
		t.Fatalf("with a timeline: to %s by %s (%s), want prod1 by timeline", d.Plan.To, d.Plan.Rule, d.Reason)
	}
	s.Memory.Timeline = nil
	d = DecideRollback(prod, s, alarmAt(40, "inc1"))
	if d.Plan.To != "devonly" || d.Plan.Rule != RulePrevious {
		t.Fatalf("without a timeline the createdDate rule applies and says so: to %s by %s", d.Plan.To, d.Plan.Rule)
	}
}

func TestTimelineKeepsLateAlarmsFresh(t *testing.T) {
	// prod2 went live at 30; an observe at 35 recorded it; the alarm fired at 33 and arrived late. It
	// judged prod2 and must act.
	s := State{Live: "prod2", LastUpdated: at(30), History: history()}
	s.History = append(s.History, Deployment{ID: "prod2", CreatedDate: at(29)})
	s = apply(s, DecideObserve(prod, s, at(35)).Plan, at(35))
	if d := DecideRollback(prod, s, alarmAt(33, "inc1")); d.Verdict != Act {
		t.Fatalf("late alarm judged stale: %s", d.Reason)
	}
	if d := DecideRollback(prod, s, alarmAt(29, "inc1")); d.Verdict != Skip || d.Code != CodeStale {
		t.Fatalf("an alarm older than the sighting is stale: %+v", d)
	}
}

func TestLoopGuard(t *testing.T) {
	s := State{Live: "r0", History: []Deployment{{ID: "r0", CreatedDate: at(0)}}}
	guard := Guard{Max: 3, Window: time.Hour}
	release := func(i int) {
		id := "r" + string(rune('0'+i))
		s.History = append(s.History, Deployment{ID: id, CreatedDate: at(i * 10)})
		s.Live, s.LastUpdated = id, at(i*10+1)
	}
	for i := 1; i <= 5; i++ {
		release(i)
		tr := alarmAt(i*10+2, "inc"+string(rune('0'+i)))
		tr.Guard = guard
		d := DecideRollback(prod, s, tr)
		switch {
		case i <= 3 && d.Verdict != Act:
			t.Fatalf("rollback %d refused: %s", i, d.Reason)
		case i == 4:
			if d.Verdict != Fail || d.Code != CodeLoopGuard {
				t.Fatalf("rollback 4 within the hour: %+v, want refused by the loop guard", d)
			}
			// A human may still roll back by hand: the guard limits automation only.
			if m := DecideRollback(prod, s, Trigger{By: ByManual, Now: at(i*10 + 3), Guard: guard}); m.Verdict != Act {
				t.Fatalf("manual rollback refused: %s", m.Reason)
			}
			c := DecideClear(prod, s, Trigger{By: ByManual, Now: at(i*10 + 3)})
			s = apply(s, c.Plan, at(i*10+3))
			if len(s.Memory.Bad) != 0 {
				t.Fatalf("clear kept known-bad marks: %v", s.Memory.Bad)
			}
			continue
		case i == 5 && d.Verdict != Act:
			t.Fatalf("after clear the guard starts again: %s", d.Reason)
		}
		s = apply(s, d.Plan, at(i*10+2))
	}
	// An hour later the window has passed.
	tr := alarmAt(200, "late")
	tr.Guard = guard
	s.Memory.Timeline = append(s.Memory.Timeline, Sighting{Deployment: "r9", Since: at(100), How: HowAutoRollback},
		Sighting{Deployment: "r9", Since: at(101), How: HowAutoRollback}, Sighting{Deployment: "r9", Since: at(102), How: HowAutoRollback})
	release(6)
	if d := DecideRollback(prod, s, tr); d.Code == CodeLoopGuard {
		t.Fatalf("rollbacks older than the window still count: %s", d.Reason)
	}
}

func TestStaleToleratesClockSkewOfASecond(t *testing.T) {
	s := State{Live: "dep4", LastUpdated: at(40), History: history()}
	tr := alarmAt(40, "inc1")
	tr.AlarmTime = at(40).Add(-800 * time.Millisecond) // CloudWatch's clock a little behind API Gateway's
	if d := DecideRollback(prod, s, tr); d.Verdict != Act {
		t.Fatalf("sub-second skew judged stale: %s", d.Reason)
	}
	tr.AlarmTime = at(40).Add(-2 * time.Second)
	if d := DecideRollback(prod, s, tr); d.Verdict != Skip {
		t.Fatalf("an alarm two seconds before the change is stale: %+v", d)
	}
}
