package event

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// State is an alarm's state, as CloudWatch spells it.
type State string

// Alarm states.
const (
	StateAlarm            State = "ALARM"
	StateOK               State = "OK"
	StateInsufficientData State = "INSUFFICIENT_DATA"
)

// How an alarm arrived (Alarm.Via).
const (
	ViaSNS          = "sns"           // Records[].Sns.Message of a Lambda SNS event
	ViaEventBridge  = "eventbridge"   // an EventBridge "CloudWatch Alarm State Change" event
	ViaAlarmAction  = "alarm-action"  // the alarm's own Lambda action
	ViaSNSEnvelope  = "sns-envelope"  // an SNS notification as HTTP/SQS subscribers get it
	ViaAlarmMessage = "alarm-message" // a bare alarm message (raw delivery, a pasted test)
)

// Alarm is one alarm state change, whatever way it arrived.
type Alarm struct {
	Name, ARN, AccountID string // AccountID: the ARN's when there is an ARN, else AWSAccountId / accountId / account
	// Region is a region code ("us-east-1") when one is known (from the ARN, else EventBridge's or the
	// alarm action's region); "" otherwise. RegionName is the SNS message's "Region", a display name
	// such as "US East (N. Virginia)".
	Region        string
	RegionName    string
	State         State
	PreviousState State // "" when the message has none
	Reason        string
	// StateChangeTime is when the alarm changed state (SNS StateChangeTime, EventBridge and alarm
	// action state.timestamp). Never zero.
	StateChangeTime time.Time
	Composite       bool        // a composite alarm (it has an alarm rule)
	Dimensions      []Dimension // of every metric the alarm watches, de-duplicated, in first-seen order
	// Metrics are the metrics the alarm watches, each with its own dimensions: one for a
	// single-metric alarm, one per metric (not per expression) of a metric-math or anomaly
	// detection alarm, none for a composite alarm. Dimensions merges theirs.
	Metrics    []Metric
	Evidence   Evidence // what the alarm measured: its period, evaluation and datapoints
	Via        string   // ViaSNS, ViaEventBridge, ViaAlarmAction, ViaSNSEnvelope or ViaAlarmMessage
	DeliveryID string   // SNS MessageId or EventBridge id; "" when none
}

// Dimension is one metric dimension.
type Dimension struct{ Name, Value string }

// Metric is one metric an alarm watches. SNS: the Trigger's MetricName, Namespace, Dimensions,
// Statistic (or ExtendedStatistic) and Period, or one Trigger.Metrics[].MetricStat; EventBridge and
// the alarm action: one configuration.metrics[].metricStat.
type Metric struct {
	ID         string // the query id of a metric-math alarm ("m1"); "" for a single-metric SNS alarm
	Namespace  string
	Name       string
	Stat       string
	Period     time.Duration // 0 when not given
	Dimensions []Dimension   // de-duplicated, nameless ones dropped; EventBridge's sorted by name
}

// Dimension returns the value of the metric's dimension called name (case-sensitive).
func (m Metric) Dimension(name string) (string, bool) {
	for _, d := range m.Dimensions {
		if d.Name == name {
			return d.Value, true
		}
	}
	return "", false
}

// MetricCount is len(a.Metrics). With MetricDimension it lets pkg/target resolve each metric on its
// own (target.MetricDimensions), so a metric-math alarm over two APIs is seen to name two.
func (a Alarm) MetricCount() int { return len(a.Metrics) }

// MetricDimension returns the value of dimension name of metric i; false when i is out of range or
// the metric has no such dimension.
func (a Alarm) MetricDimension(i int, name string) (string, bool) {
	if i < 0 || i >= len(a.Metrics) {
		return "", false
	}
	return a.Metrics[i].Dimension(name)
}

// Dimension returns the first value of the dimension called name (case-sensitive, as in CloudWatch).
func (a Alarm) Dimension(name string) (string, bool) {
	for _, d := range a.Dimensions {
		if d.Name == name {
			return d.Value, true
		}
	}
	return "", false
}

// IncidentKey identifies this state change: the same change delivered twice, or once by SNS and
// once by EventBridge, has the same key. It is the first 16 hex digits of the SHA-256 of
// ARN-or-Name | State | StateChangeTime (UTC, RFC 3339 with nanoseconds).
func (a Alarm) IncidentKey() string {
	return a.key("", string(a.State), a.StateChangeTime.UTC().Format(time.RFC3339Nano))
}

// RecheckKey identifies "this alarm, still in ALARM since its transition at since, on what on names"
// (the target and its live deployment): the incident of the schedule's re-check. Its text starts
// with "recheck|", so it never equals an IncidentKey.
func (a Alarm) RecheckKey(since time.Time, on ...string) string {
	return a.key("recheck|", append([]string{since.UTC().Format(time.RFC3339Nano)}, on...)...)
}

// key is the first 16 hex digits of the SHA-256 of prefix ARN-or-Name | parts joined by "|".
func (a Alarm) key(prefix string, parts ...string) string {
	id := a.ARN
	if id == "" {
		id = a.Name
	}
	sum := sha256.Sum256([]byte(prefix + id + "|" + strings.Join(parts, "|")))
	return hex.EncodeToString(sum[:8])
}

// Valid reports whether s is one of the three alarm states.
func (s State) Valid() bool {
	return s == StateAlarm || s == StateOK || s == StateInsufficientData
}

// alarmInput is what every shape yields before validation; the f* fields name the input fields,
// so an error says "StateChangeTime" for SNS and "detail.state.timestamp" for EventBridge.
type alarmInput struct {
	name, arn, account, region, regionName string
	state, prevState, reason, time         string
	composite                              bool
	metrics                                []Metric
	evidence                               evidenceInput
	fName, fARN, fState, fPrev, fTime      string
}

// maxNameLen is CloudWatch's limit on alarm names, in characters.
const maxNameLen = 255

// buildAlarm validates what Rewind relies on and builds the Alarm.
func buildAlarm(in alarmInput, via, deliveryID string) (Alarm, error) {
	if err := checkName(in.fName, in.name); err != nil {
		return Alarm{}, err
	}
	if err := checkState(in.fState, in.state, true); err != nil {
		return Alarm{}, err
	}
	if err := checkState(in.fPrev, in.prevState, false); err != nil {
		return Alarm{}, err
	}
	t, err := parseAlarmTime(in.fTime, in.time)
	if err != nil {
		return Alarm{}, err
	}
	var dims []Dimension
	for i := range in.metrics {
		in.metrics[i].Dimensions = dedupe(in.metrics[i].Dimensions)
		dims = append(dims, in.metrics[i].Dimensions...)
	}
	a := Alarm{
		Name: in.name, State: State(in.state), PreviousState: State(in.prevState), Reason: in.reason,
		StateChangeTime: t, Composite: in.composite, Via: via, DeliveryID: deliveryID,
		RegionName: in.regionName, Dimensions: dedupe(dims), Metrics: in.metrics,
		Evidence: buildEvidence(in.evidence, t),
	}
	account, region := in.account, in.region
	if in.arn != "" {
		arn, ok := parseAlarmARN(in.arn)
		if !ok {
			return Alarm{}, bad("%s %s is not a CloudWatch alarm ARN (want arn:partition:cloudwatch:region:account:alarm:name)", in.fARN, quote(in.arn))
		}
		a.ARN, account = in.arn, arn.account
		if validRegion(arn.region) {
			region = arn.region
		}
	}
	if validRegion(region) {
		a.Region = region
	}
	if plainToken(account) {
		a.AccountID = account
	}
	return a, nil
}

func checkName(field, name string) error {
	switch {
	case name == "":
		return bad("%s is missing", field)
	case !utf8.ValidString(name):
		return bad("%s %s is not valid UTF-8", field, quote(name))
	case utf8.RuneCountInString(name) > maxNameLen:
		return bad("%s %s is longer than %d characters", field, quote(name), maxNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return bad("%s %s contains control characters", field, quote(name))
	}
	return nil
}

func checkState(field, state string, required bool) error {
	if state == "" {
		if required {
			return bad("%s is missing", field)
		}
		return nil
	}
	if !State(state).Valid() {
		return bad("%s %s is not ALARM, OK or INSUFFICIENT_DATA", field, quote(state))
	}
	return nil
}

// Time layouts CloudWatch uses: "2015-06-03T17:43:27.123+0000" (SNS, EventBridge state timestamps,
// alarm actions) and RFC 3339 ("…Z", "…+00:00") as hand-written events and some tools write it.
// Fractional seconds are optional in both (time.Parse accepts them after the seconds).
var timeLayouts = []string{"2006-01-02T15:04:05Z0700", time.RFC3339}

// minAlarmTime rejects zero and near-zero times that a default or a typo produces.
var minAlarmTime = time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)

func parseAlarmTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, bad("%s is missing", field)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Before(minAlarmTime) {
				return time.Time{}, bad("%s %s is before 1970", field, quote(s))
			}
			return t, nil
		}
	}
	return time.Time{}, bad("%s %s is not a time (want 2006-01-02T15:04:05.000+0000 or RFC 3339)", field, quote(s))
}

type alarmARN struct{ partition, region, account, name string }

// parseAlarmARN reads arn:partition:cloudwatch:region:account:alarm:name. The name may hold spaces
// and colons; the other parts may not hold spaces.
func parseAlarmARN(s string) (alarmARN, bool) {
	p := strings.SplitN(s, ":", 7)
	if len(p) != 7 || p[0] != "arn" || p[2] != "cloudwatch" || p[5] != "alarm" || p[6] == "" {
		return alarmARN{}, false
	}
	for _, part := range []string{p[1], p[3], p[4]} {
		if !plainToken(part) {
			return alarmARN{}, false
		}
	}
	if strings.IndexFunc(p[6], unicode.IsControl) >= 0 || !utf8.ValidString(p[6]) {
		return alarmARN{}, false
	}
	return alarmARN{partition: p[1], region: p[3], account: p[4], name: p[6]}, true
}

// plainToken: 1-64 printable, non-space ASCII characters.
func plainToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// regionPattern matches region codes: us-east-1, eu-central-2, us-gov-west-1, us-isob-east-1, …
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

func validRegion(s string) bool { return regionPattern.MatchString(s) }

// dedupe drops repeated and nameless dimensions, keeping the first-seen order.
func dedupe(ds []Dimension) []Dimension {
	var out []Dimension
	for _, d := range ds {
		if d.Name == "" || slices.Contains(out, d) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// mapDimensions turns EventBridge's {"name": "value"} into dimensions, sorted by name.
func mapDimensions(m map[string]string) []Dimension {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Dimension, 0, len(keys))
	for _, k := range keys {
		out = append(out, Dimension{Name: k, Value: m[k]})
	}
	return out
}
