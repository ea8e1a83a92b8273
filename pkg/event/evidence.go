package event

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Evidence is what an alarm measured, as far as its notification says: the trigger's period and
// evaluation settings, and the datapoints the state change was decided on. Every field may be
// unknown (zero); reading it never fails a decode: a reason or reasonData Rewind cannot read just
// yields no datapoints.
//
// Where each field comes from:
//
//	                   SNS message (and bare / envelope)      EventBridge state change, alarm action
//	Period             Trigger.Period, else the longest       state.reasonData "period", else the longest
//	                   Trigger.Metrics[].MetricStat.Period    configuration.metrics[].metricStat.period
//	EvaluationPeriods  Trigger.EvaluationPeriods              configuration.evaluationPeriods
//	DatapointsToAlarm  Trigger.DatapointsToAlarm              configuration.datapointsToAlarm
//	Datapoints         NewStateReason                         state.reason (the same text), and the
//	                                                          missing periods of evaluatedDatapoints
//	Evaluated          -                                      state.reasonData "evaluatedDatapoints"
//
// When a setting is absent, the reason's own words fill it: "M out of the last N datapoints" gives
// EvaluationPeriods N, "(minimum M datapoints for OK -> ALARM transition)" DatapointsToAlarm M.
//
// The reason is CloudWatch's text (state.reason and NewStateReason are the same text):
//
//	Threshold Crossed: 1 datapoint [49.0 (01/12/26 11:40:20)] was greater than or equal to the threshold (10.0).
//	Threshold Crossed: 2 out of the last 3 datapoints [5.0 (22/09/20 13:10:00), 4.0 (22/09/20 13:05:00)] were greater
//	    than the threshold (3.0) (minimum 2 datapoints for OK -> ALARM transition).
//	Threshold Crossed: 1 out of the last 20 datapoints [613.0 (16/03/24 12:15:00)] was greater than or equal to the
//	    threshold (1.0) and 19 missing datapoints were treated as [NonBreaching] (minimum 1 datapoint for OK -> ALARM transition).
//	Thresholds Crossed: 1 out of the last 1 datapoints [0.0 (03/10/19 15:58:00)] was less than the lower thresholds
//	    [0.0205] or greater than the upper thresholds [0.3006] (minimum 1 datapoint for OK -> ALARM transition).
//	Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching].
//	Threshold Crossed: 1 datapoint (10.0) was greater than or equal to the threshold (10.0).   (before 2017: no time)
//
// Each listed datapoint is "value (dd/MM/yy HH:mm:ss)", the time being the start of its period, in
// UTC; the list holds the datapoints that satisfied the new state's condition (for ALARM, the ones
// that breached), newest first. Any other reason — "Insufficient Data: 10 datapoints were unknown.",
// "Unchecked: Initial alarm creation", a composite alarm's "… transitioned to ALARM at …", the free
// text of SetAlarmState ("testing alarm") — lists no datapoints. Reasons that do not start with
// "Threshold Crossed: " or "Thresholds Crossed: " are never read for datapoints, so a hand-set
// reason cannot pass for a measurement unless it copies CloudWatch's wording.
//
// state.reasonData is JSON in a string, e.g. {"version":"1.0","queryDate":"2024-02-17T11:53:08.423+0000",
// "startDate":"2024-02-17T11:51:00.000+0000","statistic":"SampleCount","period":60,"recentDatapoints":[1.0],
// "threshold":10.0,"evaluatedDatapoints":[{"timestamp":"2024-02-17T11:51:00.000+0000","sampleCount":1.0,"value":1.0}]}:
// evaluatedDatapoints lists every period the evaluation read, newest first, a period without data
// having no "value". Composite alarms' reasonData has "triggeringAlarms" instead. Sources: the
// CloudWatch User Guide's EventBridge examples (cloudwatch-and-eventbridge.html) and Lambda action
// payload (alarms-and-actions-Lambda.html, "Lambda-action-payload"), the samples in
// ../shared/samples (see SOURCES.md: docs-*, powertools-lambda-alarm-action-metric-math) and
// recorded DescribeAlarmHistory StateReasonData.
type Evidence struct {
	// Period is the length of one datapoint's period; 0 when not known (composite alarms).
	Period time.Duration
	// EvaluationPeriods is the N of "M out of N": how many periods the evaluation reads; 0 when not known.
	EvaluationPeriods int
	// DatapointsToAlarm is the M of "M out of N"; 0 when not known (CloudWatch then uses N).
	DatapointsToAlarm int
	// Datapoints are the datapoints the reason gives for the new state, newest first (for ALARM:
	// those that breached), plus, when missing data was treated as breaching and reasonData dates
	// the missing periods, those periods (Missing). Start is zero when AWS gave no usable time.
	Datapoints []Datapoint
	// Evaluated is every period the evaluation read (reasonData's evaluatedDatapoints), newest
	// first, breaching or not; empty for SNS, which does not carry them.
	Evaluated []Datapoint
	// MissingBreaching: the reason says missing datapoints were treated as breaching, so periods
	// without data count towards the alarm as well as the Datapoints listed.
	MissingBreaching bool
	// StateChangeTime is the alarm's (a copy, so Window needs nothing else).
	StateChangeTime time.Time
}

// Datapoint is one period's value as the alarm evaluated it.
type Datapoint struct {
	// Start is the start of the datapoint's period, UTC; zero when AWS gave no time, or one that
	// cannot be the alarm's (after the state change, or long before its evaluation window).
	Start time.Time
	// Value is the statistic over the period; 0 when Missing.
	Value float64
	// Missing: the period had no data (an evaluatedDatapoints entry without "value").
	Missing bool
}

// LatestBreach returns the end of the newest period among Datapoints: its Start plus Period.
// ok=false when that is not known: no datapoint has a time, the period is unknown, or missing
// datapoints counted as breaching and their periods are not dated (they may be the newest). For an
// ALARM it is when the data that raised it was last measured; for OK, when the data that cleared it was.
func (e Evidence) LatestBreach() (end time.Time, ok bool) {
	if e.Period <= 0 {
		return time.Time{}, false
	}
	if e.MissingBreaching && !slices.ContainsFunc(e.Datapoints, func(d Datapoint) bool { return d.Missing }) {
		return time.Time{}, false
	}
	for _, d := range e.Datapoints {
		if d.Start.IsZero() {
			continue
		}
		if t := d.Start.Add(e.Period); !ok || t.After(end) {
			end, ok = t, true
		}
	}
	return end, ok
}

// Window returns the span of time the evaluation read: from the start of the oldest Evaluated
// period to the end of the newest when reasonData dates them; otherwise the trigger's window,
// EvaluationPeriods (at least one) periods ending at StateChangeTime. With no known period it is
// the instant StateChangeTime.
func (e Evidence) Window() (start, end time.Time) {
	if e.Period > 0 {
		found := false
		for _, d := range e.Evaluated {
			if d.Start.IsZero() {
				continue
			}
			if !found || d.Start.Before(start) {
				start = d.Start
			}
			if t := d.Start.Add(e.Period); !found || t.After(end) {
				end = t
			}
			found = true
		}
		if found {
			return start, end
		}
	}
	n := max(e.EvaluationPeriods, 1)
	return e.StateChangeTime.Add(-time.Duration(n) * e.Period), e.StateChangeTime
}

// Bounds on what Evidence takes from a notification; anything outside is "not known".
const (
	maxPeriod            = 7 * 24 * time.Hour // CloudWatch allows periods up to a day; a week is generous
	maxEvaluationPeriods = 100000             // N × period ≤ 7 days at 10 s periods is 60480
	maxDatapoints        = 1000               // a reason is at most 1023 characters: ~40 datapoints
	maxReasonBytes       = 64 << 10           // a StateReason is at most 1023 characters
	reasonTimeLayout     = "02/01/06 15:04:05"
)

// evidenceInput is what each shape gives Evidence, before validation.
type evidenceInput struct {
	period, evaluationPeriods, datapointsToAlarm int64 // seconds, and counts, as sent
	reason, reasonData                           string
}

// buildEvidence reads in for an alarm that changed state at t.
func buildEvidence(in evidenceInput, t time.Time) Evidence {
	info := parseReason(in.reason)
	rd, rdOK := parseReasonData(in.reasonData)
	e := Evidence{StateChangeTime: t, Period: periodOf(in.period)}
	if rdOK && rd.period > 0 {
		e.Period = rd.period
	}
	e.EvaluationPeriods = countOf(in.evaluationPeriods)
	if e.EvaluationPeriods == 0 {
		e.EvaluationPeriods = countOf(int64(info.of))
	}
	e.DatapointsToAlarm = countOf(in.datapointsToAlarm)
	if e.DatapointsToAlarm == 0 {
		e.DatapointsToAlarm = countOf(int64(info.minimum))
	}
	if e.DatapointsToAlarm > e.EvaluationPeriods && e.EvaluationPeriods > 0 {
		e.DatapointsToAlarm = 0 // M > N cannot be; trust neither
	}
	// The oldest a datapoint of this evaluation can start: generous, as CloudWatch reads further back
	// when data is missing or late. Times outside [t-lookback, t] are misread (another date order)
	// or not the alarm's: they become "no time".
	window := time.Duration(max(e.EvaluationPeriods, 1)) * e.Period
	lookback := 2*window + 24*time.Hour
	plausible := func(d time.Time) time.Time {
		if d.IsZero() || d.After(t) || d.Before(t.Add(-lookback)) {
			return time.Time{}
		}
		return d
	}
	e.MissingBreaching = info.missingBreaching
	for _, d := range info.points {
		d.Start = plausible(d.Start)
		e.Datapoints = append(e.Datapoints, d)
	}
	if rdOK {
		allDated := true
		var missing []Datapoint
		for _, d := range rd.evaluated {
			d.Start = plausible(d.Start)
			e.Evaluated = append(e.Evaluated, d)
			if d.Missing {
				missing = append(missing, d)
				allDated = allDated && !d.Start.IsZero()
			}
		}
		// Missing periods count as breaching only when every one of them is dated; else LatestBreach
		// says it does not know.
		if e.MissingBreaching && allDated {
			e.Datapoints = append(e.Datapoints, missing...)
		}
	}
	newestFirst(e.Datapoints)
	newestFirst(e.Evaluated)
	return e
}

// newestFirst sorts datapoints by Start, newest first, undated ones last, keeping the given order
// among equals.
func newestFirst(ds []Datapoint) {
	slices.SortStableFunc(ds, func(a, b Datapoint) int {
		switch {
		case a.Start.IsZero() && b.Start.IsZero():
			return 0
		case a.Start.IsZero():
			return 1
		case b.Start.IsZero():
			return -1
		}
		return b.Start.Compare(a.Start)
	})
}

func periodOf(seconds int64) time.Duration {
	if seconds <= 0 || seconds > int64(maxPeriod/time.Second) {
		return 0
	}
	return time.Duration(seconds) * time.Second
}

func countOf(n int64) int {
	if n <= 0 || n > maxEvaluationPeriods {
		return 0
	}
	return int(n)
}

// ---- the reason ----

// reasonInfo is what parseReason read from a reason CloudWatch wrote.
type reasonInfo struct {
	ok               bool        // the reason is an evaluation in CloudWatch's words and was read
	points           []Datapoint // as listed (newest first); Start zero when the item has no readable time
	crossed, of      int         // "M out of the last N datapoints" (M = N = k for "k datapoint(s)"); 0 when not said
	minimum          int         // "(minimum M datapoints for … -> ALARM transition)"; 0 when not said
	missingBreaching bool        // "… missing datapoints were treated as [Breaching]"
}

var reasonPrefixes = []string{"Threshold Crossed: ", "Thresholds Crossed: "}

// parseReason reads a reason CloudWatch wrote for a metric alarm's evaluation (see Evidence). A
// reason it cannot read entirely — another wording, a malformed list, a value that is not a finite
// number — gives ok=false and nothing else. A datapoint whose time does not read as dd/MM/yy
// HH:mm:ss (LocalStack's "MM/DD/YY HH:MM:SS" placeholder) keeps its value with no time.
func parseReason(s string) reasonInfo {
	if len(s) > maxReasonBytes {
		return reasonInfo{}
	}
	rest, found := "", false
	for _, p := range reasonPrefixes {
		if rest, found = strings.CutPrefix(s, p); found {
			break
		}
	}
	if !found {
		return reasonInfo{}
	}
	if r, ok := strings.CutPrefix(rest, "no datapoints were received for "); ok {
		n, r, ok := leadingCount(r)
		if !ok || !strings.HasPrefix(r, " period") {
			return reasonInfo{}
		}
		return reasonInfo{ok: true, of: n, minimum: minimumToAlarm(r), missingBreaching: treatedAsBreaching(r)}
	}
	m, r, ok := leadingCount(rest)
	if !ok {
		return reasonInfo{}
	}
	n := m
	if r2, ok := strings.CutPrefix(r, " out of the last "); ok {
		if n, r, ok = leadingCount(r2); !ok {
			return reasonInfo{}
		}
	}
	if r2, ok := strings.CutPrefix(r, " datapoints "); ok {
		r = r2
	} else if r2, ok := strings.CutPrefix(r, " datapoint "); ok {
		r = r2
	} else {
		return reasonInfo{}
	}
	points, r, ok := parseDatapointList(r)
	if !ok {
		return reasonInfo{}
	}
	return reasonInfo{ok: true, points: points, crossed: m, of: n, minimum: minimumToAlarm(r), missingBreaching: treatedAsBreaching(r)}
}

// parseDatapointList reads "[v (time), v (time)]", "[v, v]", "[]" or the old "(v)" / "(v, v)" at
// the start of s, and returns what follows it. Neither form nests, so the first closing bracket
// ends the list (the anomaly band's "[0.02]" thresholds come after it).
func parseDatapointList(s string) (points []Datapoint, rest string, ok bool) {
	var closing byte
	switch {
	case strings.HasPrefix(s, "["):
		closing = ']'
	case strings.HasPrefix(s, "("):
		closing = ')'
	default:
		return nil, "", false
	}
	i := strings.IndexByte(s, closing)
	if i < 0 {
		return nil, "", false
	}
	body, rest := s[1:i], s[i+1:]
	if body == "" {
		return nil, rest, closing == ']'
	}
	for item := range strings.SplitSeq(body, ", ") {
		if len(points) == maxDatapoints {
			return nil, "", false
		}
		var d Datapoint
		if closing == ')' {
			d.Value, ok = parseReasonValue(item) // old form: values only
		} else {
			d, ok = parseReasonItem(item)
		}
		if !ok {
			return nil, "", false
		}
		points = append(points, d)
	}
	return points, rest, true
}

// parseReasonItem reads "49.0 (01/12/26 11:40:20)" or "49.0".
func parseReasonItem(s string) (Datapoint, bool) {
	val, at, hasTime := strings.Cut(s, " (")
	v, ok := parseReasonValue(val)
	if !ok {
		return Datapoint{}, false
	}
	d := Datapoint{Value: v}
	if hasTime {
		at, ok := strings.CutSuffix(at, ")")
		if !ok || strings.ContainsAny(at, "()") {
			return Datapoint{}, false
		}
		if t, err := time.ParseInLocation(reasonTimeLayout, at, time.UTC); err == nil {
			d.Start = t
		}
	}
	return d, true
}

// parseReasonValue reads a number as CloudWatch writes it (Java's Double.toString: "49.0",
// "0.0666851903306472", "1.0E7", "-3.5"): finite, decimal, nothing else.
func parseReasonValue(s string) (float64, bool) {
	if s == "" || len(s) > 64 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// leadingCount reads 1 to 9 digits at the start of s.
func leadingCount(s string) (n int, rest string, ok bool) {
	i := 0
	for i < len(s) && i < 10 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 9 {
		return 0, s, false
	}
	n, _ = strconv.Atoi(s[:i])
	return n, s[i:], true
}

// minimumToAlarm reads "(minimum M datapoint(s) for X -> ALARM transition)" anywhere in s. The
// minimum of an "-> OK" transition is N-M+1, not M, and is not read.
func minimumToAlarm(s string) int {
	_, r, ok := strings.Cut(s, "(minimum ")
	if !ok {
		return 0
	}
	m, r, ok := leadingCount(r)
	if !ok {
		return 0
	}
	clause, _, closed := strings.Cut(r, ")")
	if !closed || !strings.HasSuffix(clause, " -> ALARM transition") {
		return 0
	}
	return m
}

func treatedAsBreaching(s string) bool {
	return strings.Contains(s, " missing datapoints were treated as [Breaching]") ||
		strings.Contains(s, " missing datapoint was treated as [Breaching]")
}

// ---- reasonData ----

// reasonDataJSON is the part of state.reasonData Evidence reads.
type reasonDataJSON struct {
	Period              int64 `json:"period"`
	EvaluatedDatapoints []struct {
		Timestamp string   `json:"timestamp"`
		Value     *float64 `json:"value"`
	} `json:"evaluatedDatapoints"`
}

type reasonData struct {
	period    time.Duration
	evaluated []Datapoint
}

// parseReasonData reads state.reasonData. ok=false when it is empty or not the JSON object AWS
// writes (any syntax or type error): it is then ignored as a whole. An evaluated datapoint whose
// timestamp does not read (CloudWatch's "2024-02-17T11:51:00.000+0000" or RFC 3339) has no Start.
func parseReasonData(s string) (reasonData, bool) {
	if s == "" || len(s) > MaxPayloadBytes {
		return reasonData{}, false
	}
	var raw reasonDataJSON
	if jsonKind([]byte(s)) != "a JSON object" || json.Unmarshal([]byte(s), &raw) != nil {
		return reasonData{}, false
	}
	if len(raw.EvaluatedDatapoints) > maxDatapoints {
		return reasonData{}, false
	}
	rd := reasonData{period: periodOf(raw.Period)}
	for _, p := range raw.EvaluatedDatapoints {
		d := Datapoint{Missing: p.Value == nil}
		if p.Value != nil {
			if math.IsInf(*p.Value, 0) || math.IsNaN(*p.Value) {
				return reasonData{}, false
			}
			d.Value = *p.Value
		}
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, p.Timestamp); err == nil {
				d.Start = t.UTC()
				break
			}
		}
		rd.evaluated = append(rd.evaluated, d)
	}
	return rd, true
}
