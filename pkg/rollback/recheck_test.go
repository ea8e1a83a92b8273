package rollback

import (
	"testing"
	"time"
)

// A re-check (an alarm still in ALARM since 44, judged on data since the live deployment went live)
// never moves what Rewind itself put live while that alarm was in ALARM, however long ago; it does
// move a human's later change, and a notification's rules for "the same incident" are unchanged.
func TestARecheckNeverWalksBackFromRewindsOwnRollback(t *testing.T) {
	ownRollback := Memory{Bad: []string{"dep4"}, Last: &Change{Kind: KindRollback, From: "dep4", To: "dep3", At: at(45), By: ByAlarm, Alarm: "api-5xx"},
		Timeline: []Sighting{{Deployment: "dep3", Since: at(45), How: HowAutoRollback}}}
	recheck := func(now int) Trigger {
		tr := Trigger{By: ByAlarm, Alarm: "api-5xx", Incident: "still", AlarmTime: at(44), Now: at(now), Recheck: true, Guard: DefaultGuard}
		tr.MeasuredUntil = at(now - 1)
		return tr
	}
	s := State{Live: "dep3", History: history(), Memory: ownRollback}
	for _, now := range []int{50, 45 + 24*60} { // within the loop guard's hour, and a day later
		if d := DecideRollback(prod, s, recheck(now)); d.Code != CodeStillServing {
			t.Errorf("a re-check at %s moved Rewind's own rollback further back: %+v", at(now).Format(time.Kitchen), d)
		}
	}
	// The same memory, judged for a notification a day later: a new incident, as before.
	late := alarmAt(45+24*60, "new")
	late.Guard, late.MeasuredUntil = DefaultGuard, at(45+24*60)
	if d := DecideRollback(prod, s, late); d.Code == CodeStillServing {
		t.Errorf("a notification a day later is a new incident: %+v", d)
	}
	// A human's fix after the rollback is judged on its own data.
	fix := State{Live: "dep5", LastUpdated: at(60), History: append(history(), Deployment{ID: "dep5", CreatedDate: at(59)}), Memory: ownRollback}
	if d := DecideRollback(prod, fix, recheck(70)); d.Verdict != Act || d.Plan.From != "dep5" || d.Plan.To != "dep3" {
		t.Errorf("a re-check of a broken fix: %+v", d)
	}
}
