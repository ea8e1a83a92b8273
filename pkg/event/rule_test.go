package event_test

import (
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/event"
)

// The rules, as CloudWatch's User Guide states them ("Evaluating an alarm", alarm-evaluation; and
// "Configuring how CloudWatch alarms treat missing data", alarms-and-missing-data), and as Rewind
// restricts them for a re-check:
//   - a datapoint breaches when its value is on the alarm side of the threshold (>=, >, <, <=);
//   - the alarm looks at the most recent N (EvaluationPeriods) periods and is in ALARM when at least
//     M (DatapointsToAlarm; M = N when not set) of them breach;
//   - a period with no datapoint is not breaching (treated as notBreaching), never as breaching;
//   - only datapoints measured entirely while the deployment was live count: a period that began
//     before it went live, or has not ended yet, is not read.
//
// Each case below is worked out by hand from those rules; the expected counts are not computed.
func TestRuleEvaluatesMOutOfNOnFreshData(t *testing.T) {
	live := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) // the deployment went live
	at := func(min int) time.Time { return live.Add(time.Duration(min) * time.Minute) }
	pts := func(vals ...float64) []event.Datapoint { // one per minute from live, oldest first
		out := make([]event.Datapoint, len(vals))
		for i, v := range vals {
			out[i] = event.Datapoint{Start: at(i), Value: v}
		}
		return out
	}
	rule := func(op event.Comparison, th float64, n, m int) event.Rule {
		return event.Rule{Comparison: op, Threshold: th, Period: time.Minute, EvaluationPeriods: n, DatapointsToAlarm: m}
	}
	ge := event.GreaterThanOrEqualToThreshold
	for _, tc := range []struct {
		name      string
		rule      event.Rule
		points    []event.Datapoint
		since     time.Time
		until     time.Time
		breaching bool
		fresh     int
		newest    time.Time // start of the newest breaching datapoint; zero when none
	}{
		{"1 of 1, the newest breaches", rule(ge, 5, 1, 0), pts(1, 9), live, at(2), true, 1, at(1)},
		{"1 of 1, the newest is healthy though an older one breached", rule(ge, 5, 1, 0), pts(9, 1), live, at(2), false, 1, time.Time{}},
		{"equal to the threshold breaches >=", rule(ge, 5, 1, 0), pts(5), live, at(1), true, 1, at(0)},
		{"equal to the threshold does not breach >", rule(event.GreaterThanThreshold, 5, 1, 0), pts(5), live, at(1), false, 1, time.Time{}},
		{"< breaches below", rule(event.LessThanThreshold, 0.9, 1, 0), pts(0.5), live, at(1), true, 1, at(0)},
		{"<= breaches at", rule(event.LessThanOrEqualToThreshold, 0.5, 1, 0), pts(0.5), live, at(1), true, 1, at(0)},
		{"3 of 3 (M unset is N): all three breach", rule(ge, 5, 3, 0), pts(6, 7, 8), live, at(3), true, 3, at(2)},
		{"3 of 3: one healthy among them", rule(ge, 5, 3, 0), pts(6, 1, 8), live, at(3), false, 3, time.Time{}},
		{"2 of 3: two breach", rule(ge, 5, 3, 2), pts(6, 1, 8), live, at(3), true, 3, at(2)},
		{"2 of 3: only the last 3 count, the 4th back breaching does not", rule(ge, 5, 3, 2), pts(9, 1, 1, 8), live, at(4), false, 3, time.Time{}},
		{"3 of 3 with only 2 periods since live: the third is missing, not breaching", rule(ge, 5, 3, 0), pts(9, 9), live, at(2), false, 2, time.Time{}},
		{"2 of 3 with 2 breaching periods since live is enough", rule(ge, 5, 3, 2), pts(9, 9), live, at(2), true, 2, at(1)},
		{"a gap is missing data, not breaching", rule(ge, 5, 3, 3),
			[]event.Datapoint{{Start: at(0), Value: 9}, {Start: at(2), Value: 9}}, live, at(3), false, 2, time.Time{}},
		{"a period that began before the deployment went live is not read", rule(ge, 5, 1, 0),
			[]event.Datapoint{{Start: live.Add(-30 * time.Second), Value: 99}}, live, at(1), false, 0, time.Time{}},
		{"a period still filling is not read", rule(ge, 5, 1, 0), pts(1, 99), live, at(1).Add(30 * time.Second), false, 1, time.Time{}},
		{"no data at all: nothing fresh", rule(ge, 5, 1, 0), nil, live, at(5), false, 0, time.Time{}},
		{"the newest datapoint anchors the periods when the last minutes have none yet", rule(ge, 5, 2, 0), pts(9, 9), live, at(10), true, 2, at(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := tc.rule.Evaluate(tc.points, tc.since, tc.until)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Breaching != tc.breaching || ev.Fresh != tc.fresh {
				t.Fatalf("breaching %v fresh %d, want %v and %d (%+v)", ev.Breaching, ev.Fresh, tc.breaching, tc.fresh, ev.Evidence)
			}
			end, ok := ev.Evidence.LatestBreach()
			switch {
			case tc.newest.IsZero() && tc.breaching:
				t.Fatal("a breaching case names its newest breaching datapoint")
			case tc.breaching && (!ok || !end.Equal(tc.newest.Add(time.Minute))):
				t.Errorf("latest breach %v %v, want the end of the period starting %v", end, ok, tc.newest)
			case ok && !end.After(tc.since):
				t.Errorf("latest breach %v is not after the deployment went live", end)
			}
			if len(ev.Evidence.Evaluated) != 0 && len(ev.Evidence.Evaluated) != tc.rule.EvaluationPeriods {
				t.Errorf("%d evaluated periods, want N = %d", len(ev.Evidence.Evaluated), tc.rule.EvaluationPeriods)
			}
		})
	}
}

func TestRuleRefusesWhatItCannotEvaluate(t *testing.T) {
	ok := event.Rule{Comparison: event.GreaterThanThreshold, Threshold: 1, Period: time.Minute, EvaluationPeriods: 3, DatapointsToAlarm: 2}
	for name, r := range map[string]event.Rule{
		"an anomaly band": func() event.Rule { r := ok; r.Comparison = "LessThanLowerOrGreaterThanUpperThreshold"; return r }(),
		"no period":       func() event.Rule { r := ok; r.Period = 0; return r }(),
		"no N":            func() event.Rule { r := ok; r.EvaluationPeriods = 0; return r }(),
		"M above N":       func() event.Rule { r := ok; r.DatapointsToAlarm = 4; return r }(),
	} {
		if _, err := r.Evaluate(nil, time.Time{}, time.Now()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := event.ParseComparison("GreaterThanUpperThreshold"); err == nil {
		t.Error("an anomaly-detection operator parsed as a static threshold")
	}
}
