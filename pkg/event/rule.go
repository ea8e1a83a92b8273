package event

import (
	"fmt"
	"slices"
	"time"
)

// Comparison is a metric alarm's ComparisonOperator against a static threshold, as CloudWatch
// spells it. The anomaly-detection band's operators (LessThanLowerOrGreaterThanUpperThreshold, ...)
// compare against another time series and are not Comparisons: such an alarm cannot be re-evaluated
// from its threshold.
type Comparison string

// The static-threshold comparisons (PutMetricAlarm's ComparisonOperator).
const (
	GreaterThanOrEqualToThreshold Comparison = "GreaterThanOrEqualToThreshold"
	GreaterThanThreshold          Comparison = "GreaterThanThreshold"
	LessThanThreshold             Comparison = "LessThanThreshold"
	LessThanOrEqualToThreshold    Comparison = "LessThanOrEqualToThreshold"
)

// ParseComparison reads a ComparisonOperator; any other is an error naming it.
func ParseComparison(s string) (Comparison, error) {
	c := Comparison(s)
	switch c {
	case GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold:
		return c, nil
	}
	return "", fmt.Errorf("comparison operator %s is not a static threshold (want one of %s, %s, %s, %s)", quote(s),
		GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold)
}

// breaches reports whether v is on the alarm side of threshold.
func (c Comparison) breaches(v, threshold float64) bool {
	switch c {
	case GreaterThanOrEqualToThreshold:
		return v >= threshold
	case GreaterThanThreshold:
		return v > threshold
	case LessThanThreshold:
		return v < threshold
	case LessThanOrEqualToThreshold:
		return v <= threshold
	}
	return false
}

// Rule is a metric alarm's own rule: its comparison and threshold, its period, and "M out of N"
// (DatapointsToAlarm of EvaluationPeriods).
type Rule struct {
	Comparison        Comparison
	Threshold         float64
	Period            time.Duration
	EvaluationPeriods int // N
	DatapointsToAlarm int // M; 0 is N, as CloudWatch takes an absent DatapointsToAlarm
}

// Evaluation is a Rule applied to fresh data.
type Evaluation struct {
	Breaching bool
	// Fresh is how many of the evaluated periods have a datapoint measured entirely within the span
	// evaluated (since..until): fewer than M can never breach.
	Fresh int
	// Evidence is what the evaluation read, in the shape an alarm's notification gives it:
	// Datapoints the breaching ones, Evaluated every one of the N periods (Missing where there was
	// no fresh datapoint), both newest first; StateChangeTime is until.
	Evidence Evidence
}

// TooFew reports whether there were fewer fresh datapoints than the rule needs to breach.
func (e Evaluation) TooFew() bool { return e.Fresh < e.Evidence.DatapointsToAlarm }

// Evaluate applies the rule to points (each a period's statistic, Start its period's start) the way
// CloudWatch's "Evaluating an alarm" describes it (User Guide, alarm-evaluation: the alarm looks at
// the most recent EvaluationPeriods periods and goes to ALARM when at least DatapointsToAlarm of
// them breach), restricted to data measured entirely within [since, until]: a point whose period
// starts before since or ends after until (a period still filling) is not read. The N periods end
// with the newest such point's period: CloudWatch too evaluates the most recent datapoints it has
// when the newest periods have none yet. A period without a fresh point counts as not breaching,
// whatever the alarm's TreatMissingData ("alarms-and-missing-data": notBreaching): Rewind never
// acts on absence. Points off the newest point's period grid, and repeats of a period, are ignored.
func (r Rule) Evaluate(points []Datapoint, since, until time.Time) (Evaluation, error) {
	if _, err := ParseComparison(string(r.Comparison)); err != nil {
		return Evaluation{}, err
	}
	n, m := r.EvaluationPeriods, r.DatapointsToAlarm
	if m == 0 {
		m = n
	}
	switch {
	case r.Period <= 0:
		return Evaluation{}, fmt.Errorf("period %s: want a positive period", r.Period)
	case n <= 0:
		return Evaluation{}, fmt.Errorf("evaluation periods %d: want at least 1", n)
	case m < 0 || m > n:
		return Evaluation{}, fmt.Errorf("datapoints to alarm %d of %d evaluation periods: want 1 to %d", m, n, n)
	}
	ev := Evaluation{Evidence: Evidence{Period: r.Period, EvaluationPeriods: n, DatapointsToAlarm: m, StateChangeTime: until}}
	fresh := map[time.Time]float64{}
	var newest time.Time
	for _, p := range points {
		if p.Missing || p.Start.IsZero() || p.Start.Before(since) || p.Start.Add(r.Period).After(until) {
			continue
		}
		start := p.Start.UTC()
		if _, dup := fresh[start]; dup {
			continue
		}
		fresh[start] = p.Value
		if start.After(newest) {
			newest = start
		}
	}
	if len(fresh) == 0 {
		return ev, nil
	}
	breaching := 0
	for k := range n {
		start := newest.Add(-time.Duration(k) * r.Period)
		v, ok := fresh[start]
		d := Datapoint{Start: start, Value: v, Missing: !ok}
		ev.Evidence.Evaluated = append(ev.Evidence.Evaluated, d)
		if !ok {
			continue
		}
		ev.Fresh++
		if r.Comparison.breaches(v, r.Threshold) {
			breaching++
			ev.Evidence.Datapoints = append(ev.Evidence.Datapoints, d)
		}
	}
	ev.Breaching = breaching >= m
	slices.SortStableFunc(ev.Evidence.Datapoints, func(a, b Datapoint) int { return b.Start.Compare(a.Start) })
	return ev, nil
}
