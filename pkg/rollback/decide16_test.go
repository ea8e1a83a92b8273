package rollback

import (
	"strings"
	"testing"
	"time"
)

// Decisions that stay right when time, humans and alarms disagree: each case is a scenario in which
// an earlier Rewind moved production wrongly.

func TestALaggingAlarmNeverUndoesAHumansFix(t *testing.T) {
	// The 5xx alarm rolled dep4 back to dep3 at 45; on-call deployed the fix dep5 at 47; the p99
	// alarm changed state at 48 on datapoints all measured before 46.
	h := append(history(), Deployment{ID: "dep5", CreatedDate: at(46)})
	s := State{Live: "dep5", LastUpdated: at(47), History: h, Memory: Memory{Bad: []string{"dep4"},
		Last:     &Change{Kind: KindDeploy, From: "dep3", To: "dep5", At: at(47), By: ByManual},
		Timeline: []Sighting{{Deployment: "dep3", Since: at(45), How: HowAutoRollback}, {Deployment: "dep5", Since: at(47), How: HowDeploy}}}}
	lagging := alarmAt(48, "p99")
	lagging.MeasuredUntil = at(46)
	if d := DecideRollback(prod, s, lagging); d.Code != CodeStale {
		t.Fatalf("data measured before the fix moved it: %+v", d)
	}
	fresh := alarmAt(50, "p99b")
	fresh.MeasuredUntil = at(49) // a breaching period that ended while dep5 served
	if d := DecideRollback(prod, s, fresh); d.Verdict != Act || d.Plan.To != "dep3" {
		t.Fatalf("an alarm on the fix's own data must act: %+v", d)
	}
}

func TestACanaryStartedAfterTheAlarmIsNotRemovedByIt(t *testing.T) {
	s := State{Live: "dep3", LastUpdated: at(42), Canary: &Canary{DeploymentID: "dep4", PercentTraffic: 10}, History: history(),
		Memory: Memory{Timeline: []Sighting{{Deployment: "dep3", Since: at(30), How: HowObserved}}}}
	if d := DecideRollback(prod, s, alarmAt(41, "late")); d.Code != CodeStale {
		t.Fatalf("an alarm from before the canary removed it: %+v", d)
	}
	if d := DecideRollback(prod, s, alarmAt(44, "canary")); d.Code != CodeCanaryRemoved {
		t.Fatalf("an alarm on the canary's data: %+v", d)
	}
}

func TestAnAliasMovedByAHumanIsDatedByRewindsLastLook(t *testing.T) {
	// Aliases keep no change time: a human moved 3 -> 4 after Rewind last saw 3 at 40.
	s := State{Live: "4", History: []Deployment{{ID: "3", CreatedDate: at(10)}, {ID: "4", CreatedDate: at(20)}},
		Memory: Memory{SeenAt: at(40), Timeline: []Sighting{{Deployment: "3", Since: at(10), How: HowObserved}}}}
	if d := DecideRollback(prod, s, alarmAt(39, "retried")); d.Code != CodeStale {
		t.Fatalf("a retried alarm from before the human's move moved it further back: %+v", d)
	}
	if d := DecideRollback(prod, s, alarmAt(42, "new")); d.Verdict != Act || d.Plan.To != "3" {
		t.Fatalf("an alarm after Rewind's look: %+v", d)
	}
}

func TestARecordedOKMakesAnOlderAlarmOldNews(t *testing.T) {
	s := State{Live: "dep4", History: history()}
	ok := alarmAt(44, "")
	d := DecideRecovery(prod, s, ok)
	if d.Verdict != Act || d.Code != CodeOKRecorded || d.Plan.Kind != KindRecord {
		t.Fatalf("%+v", d)
	}
	s.Memory = d.Plan.Memory
	if d := DecideRollback(prod, s, alarmAt(43, "retry")); d.Code != CodeRecoveredSince {
		t.Fatalf("a retried ALARM from before the OK: %+v", d)
	}
	if d := DecideRecovery(prod, s, ok); d.Code != CodeRepeat {
		t.Fatalf("the same OK again: %+v", d)
	}
}

func TestRecoveryClosesARollbackOnceAndEndsStillServing(t *testing.T) {
	s := State{Live: "dep4", History: history(), Memory: Memory{Timeline: []Sighting{{Deployment: "dep4", Since: at(40), How: HowObserved}}}}
	rb := DecideRollback(prod, s, alarmAt(50, "inc1"))
	s = apply(s, rb.Plan, at(51))
	if d := DecideRollback(prod, s, alarmAt(52, "inc2")); d.Code != CodeStillServing {
		t.Fatalf("within the incident: %+v", d)
	}
	ok := alarmAt(60, "")
	d := DecideRecovery(prod, s, ok)
	if d.Code != CodeRecovered || d.Recovery == nil || d.Recovery.UntilClear != 9*time.Minute || d.Recovery.OnBadDeployment != 11*time.Minute ||
		d.Recovery.Incident != "inc1" {
		t.Fatalf("recovery: %+v %+v", d, d.Recovery)
	}
	s.Memory = d.Plan.Memory
	later := alarmAt(61, "")
	later.AlarmTime = at(65)
	if again := DecideRecovery(prod, s, later); again.Code != CodeOKRecorded {
		t.Errorf("the rollback's recovery is reported once: %+v", again)
	}
	// The incident is over: a new alarm on dep3 is a new incident and acts.
	if d := DecideRollback(prod, s, alarmAt(70, "inc3")); d.Verdict != Act || d.Plan.To != "dep2" {
		t.Errorf("after the OK: %+v", d)
	}
	// Without an OK, still-serving ends with the loop guard's window.
	s2 := apply(State{Live: "dep4", History: history()}, rb.Plan, at(51))
	late := alarmAt(51+61, "inc4")
	late.Guard = DefaultGuard
	if d := DecideRollback(prod, s2, late); d.Code == CodeStillServing {
		t.Errorf("an hour later the incident is over: %+v", d)
	}
}

func TestSameSecondSiblingsAreNeverEarlier(t *testing.T) {
	h := []Deployment{{ID: "old", CreatedDate: at(10)}, {ID: "devSibling", CreatedDate: at(20)}, {ID: "prodLive", CreatedDate: at(20)}}
	s := State{Live: "prodLive", History: h}
	if d := DecideRollback(prod, s, alarmAt(30, "inc")); d.Plan.To != "old" {
		t.Fatalf("rolled back to %s (%s), want old: the sibling is the same snapshot", d.Plan.To, d.Reason)
	}
}

func TestATimelineWithAGapIsNotTrusted(t *testing.T) {
	// Observing failed (autoDeploy on) until 40: sightings older than that may have missed releases.
	h := []Deployment{{ID: "a", CreatedDate: at(1)}, {ID: "b", CreatedDate: at(20)}, {ID: "c", CreatedDate: at(35)}, {ID: "d", CreatedDate: at(41)}}
	s := State{Live: "d", History: h, Memory: Memory{BlindUntil: at(40),
		Timeline: []Sighting{{Deployment: "a", Since: at(1), How: HowObserved}, {Deployment: "d", Since: at(41), How: HowObserved}}}}
	d := DecideRollback(prod, s, alarmAt(45, "inc"))
	if d.Plan.To != "c" || d.Plan.Rule != RulePrevious {
		t.Fatalf("to %s by %s, want c by previous-created (the sighting of a predates the gap)", d.Plan.To, d.Plan.Rule)
	}
	// A failed observe starts the spell, the next good one ends it.
	blind := State{Live: "d", History: h, Memory: Memory{BlindSince: at(30)}}
	if m := DecideObserve(prod, blind, at(42)).Plan.Memory; !m.BlindSince.IsZero() || !m.BlindUntil.Equal(at(42)) {
		t.Errorf("after the gap: since %s until %s", m.BlindSince, m.BlindUntil)
	}
}

func TestClearNeverRedatesTheLiveDeployment(t *testing.T) {
	s := State{Live: "dep4", History: history(), Memory: Memory{Bad: []string{"dep3"}, Timeline: []Sighting{{Deployment: "dep4", Since: at(40), How: HowObserved}}}}
	d := DecideClear(prod, s, Trigger{By: ByManual, Now: at(55)})
	s = apply(s, d.Plan, at(55))
	if cur, _ := s.Memory.current(); !cur.Since.Equal(at(40)) || len(s.Memory.Bad) != 0 {
		t.Fatalf("clear: timeline %+v bad %v", s.Memory.Timeline, s.Memory.Bad)
	}
	if d := DecideRollback(prod, s, alarmAt(50, "pending")); d.Verdict != Act {
		t.Errorf("a pending retry from before the clear became stale: %+v", d)
	}
}

func TestOutsideTheReleaseWindowAnAlarmOnlySaysWhatItWouldDo(t *testing.T) {
	s := State{Live: "dep4", History: history(), Memory: Memory{Timeline: []Sighting{{Deployment: "dep4", Since: at(40), How: HowObserved}}}}
	tr := alarmAt(40+3*24*60, "weeks-later")
	tr.Window = 24 * time.Hour
	d := DecideRollback(prod, s, tr)
	if d.Verdict != Skip || d.Code != CodeOutsideWindow || !strings.Contains(d.Reason, "dep3") || !strings.Contains(d.Reason, `"action":"rollback"`) {
		t.Fatalf("%+v", d)
	}
	man := Trigger{By: ByManual, Now: tr.Now, Window: tr.Window}
	if d := DecideRollback(prod, s, man); d.Verdict != Act {
		t.Errorf("a manual rollback is not limited by the window: %+v", d)
	}
	tr.Window = 0
	if d := DecideRollback(prod, s, tr); d.Verdict != Act {
		t.Errorf("window 0 means always: %+v", d)
	}
}
