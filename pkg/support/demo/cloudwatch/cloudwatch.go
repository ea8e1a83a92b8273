// Package cloudwatch is the demo's stand-in for a CloudWatch metric alarm and its SNS action: it
// sums a metric into period-long datapoints, decides OK -> ALARM the way CloudWatch does ("M out of N"
// datapoints breaching the threshold), and writes the state change exactly as CloudWatch publishes it
// to SNS and SNS delivers it to a Lambda function.
//
// What differs from CloudWatch, on purpose: periods are seconds, not minutes, and are counted from the
// evaluator's start rather than the wall clock; and the newest, still-filling datapoint counts as soon
// as it breaches (CloudWatch evaluates once a minute, on data that may itself be a minute late). For a
// Sum compared with > or >= that is safe: a partial sum can only grow, so it never breaches early.
package cloudwatch

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Comparison operators (CloudWatch's names). Only the two for which a partial Sum is final are offered.
const (
	GreaterThanOrEqualToThreshold = "GreaterThanOrEqualToThreshold"
	GreaterThanThreshold          = "GreaterThanThreshold"
)

// Alarm states.
const (
	StateOK    = "OK"
	StateAlarm = "ALARM"
)

// Dimension is one metric dimension.
type Dimension struct{ Name, Value string }

// Alarm is a metric alarm on the Sum of one metric.
type Alarm struct {
	Name, Description string
	AccountID         string // the alarm's account, in its ARN
	Region            string // a region code, "us-east-1"
	Namespace, Metric string // "AWS/ApiGateway", "5XXError"
	Dimensions        []Dimension
	Period            time.Duration // at least a second, whole seconds
	EvaluationPeriods int           // N; 0 means 1
	DatapointsToAlarm int           // M; 0 means N
	Threshold         float64
	Comparison        string // GreaterThanOrEqualToThreshold (default) or GreaterThanThreshold
	// TopicARN is the SNS topic of the alarm's ALARM and OK actions.
	TopicARN string
	// ConfigUpdated is when the alarm was last configured (AlarmConfigurationUpdatedTimestamp).
	ConfigUpdated time.Time
}

// ARN is the alarm's ARN.
func (a Alarm) ARN() string {
	return "arn:aws:cloudwatch:" + a.Region + ":" + a.AccountID + ":alarm:" + a.Name
}

func (a Alarm) n() int { return max(a.EvaluationPeriods, 1) }

func (a Alarm) m() int {
	if a.DatapointsToAlarm <= 0 || a.DatapointsToAlarm > a.n() {
		return a.n()
	}
	return a.DatapointsToAlarm
}

func (a Alarm) comparison() string {
	if a.Comparison == "" {
		return GreaterThanOrEqualToThreshold
	}
	return a.Comparison
}

func (a Alarm) breaches(v float64) bool {
	if a.comparison() == GreaterThanThreshold {
		return v > a.Threshold
	}
	return v >= a.Threshold
}

// Validate says what is wrong with the alarm's settings.
func (a Alarm) Validate() error {
	switch {
	case a.Name == "":
		return fmt.Errorf("alarm: name is empty")
	case a.Period < time.Second || a.Period%time.Second != 0:
		return fmt.Errorf("alarm %s: period %s is not a whole number of seconds of at least 1s", a.Name, a.Period)
	case a.EvaluationPeriods < 0 || a.DatapointsToAlarm < 0 || a.DatapointsToAlarm > a.n():
		return fmt.Errorf("alarm %s: %d out of %d datapoints is not a valid M out of N", a.Name, a.DatapointsToAlarm, a.EvaluationPeriods)
	case a.Comparison != "" && a.Comparison != GreaterThanOrEqualToThreshold && a.Comparison != GreaterThanThreshold:
		return fmt.Errorf("alarm %s: comparison %q is not %s or %s", a.Name, a.Comparison, GreaterThanOrEqualToThreshold, GreaterThanThreshold)
	case math.IsNaN(a.Threshold) || math.IsInf(a.Threshold, 0):
		return fmt.Errorf("alarm %s: threshold %v is not a number", a.Name, a.Threshold)
	}
	return nil
}

// Datapoint is one period's Sum; Start is the period's start.
type Datapoint struct {
	Start time.Time
	Value float64
}

// StateChange is one transition of the alarm.
type StateChange struct {
	Alarm      Alarm
	Old, New   string
	Reason     string
	At         time.Time
	Datapoints []Datapoint // the datapoints evaluated, newest first
}

// Evaluator holds the metric's datapoints and the alarm's state. It is safe for concurrent use.
type Evaluator struct {
	alarm Alarm
	start time.Time

	mu      sync.Mutex
	sums    map[int64]float64 // period index -> Sum
	state   string
	alarmed int64 // the period in which the alarm last went to ALARM
}

// NewEvaluator starts an alarm in OK, its periods counted from start.
func NewEvaluator(a Alarm, start time.Time) (*Evaluator, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &Evaluator{alarm: a, start: start, sums: map[int64]float64{}, state: StateOK}, nil
}

func (e *Evaluator) period(t time.Time) int64 {
	d := t.Sub(e.start)
	if d < 0 {
		return -1 - int64(-d/e.alarm.Period)
	}
	return int64(d / e.alarm.Period)
}

// Put adds v to the metric at t (PutMetricData with a value, or one request's 0 or 1 of 5XXError).
func (e *Evaluator) Put(t time.Time, v float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sums[e.period(t)] += v
}

// State is the alarm's current state.
func (e *Evaluator) State() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

// Evaluate decides the state at now. It returns the change when the state changed.
//
// OK -> ALARM when M of the last N datapoints breach, the newest (still filling) one included;
// ALARM -> OK when fewer than M of the last N complete datapoints breach, once the period that
// alarmed is complete. Missing data is not
// breaching (TreatMissingData: notBreaching), which for a Sum is a datapoint of 0.
func (e *Evaluator) Evaluate(now time.Time) (StateChange, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.period(now)
	newest := cur
	if e.state == StateAlarm {
		// Only complete periods, from the one that alarmed on, can say the errors stopped.
		newest = cur - 1
		if newest < e.alarmed {
			return StateChange{}, false
		}
	}
	n, m := e.alarm.n(), e.alarm.m()
	dps := make([]Datapoint, 0, n)
	breaching := 0
	for p := newest; p > newest-int64(n); p-- {
		v := e.sums[p]
		dps = append(dps, Datapoint{Start: e.start.Add(time.Duration(p) * e.alarm.Period), Value: v})
		if e.alarm.breaches(v) {
			breaching++
		}
	}
	next := StateOK
	if breaching >= m {
		next = StateAlarm
	}
	if next == e.state {
		return StateChange{}, false
	}
	c := StateChange{Alarm: e.alarm, Old: e.state, New: next, At: now, Datapoints: dps, Reason: reason(e.alarm, next, dps, breaching)}
	e.state = next
	if next == StateAlarm {
		e.alarmed = cur
	}
	return c, true
}

// reason writes NewStateReason as CloudWatch does, e.g. "Threshold Crossed: 1 datapoint [12.0
// (25/11/26 03:14:00)] was greater than or equal to the threshold (5.0)." and, for M out of N,
// "Threshold Crossed: 2 out of the last 2 datapoints [14.0 (…), 9.0 (…)] were greater than or equal
// to the threshold (5.0) (minimum 2 datapoints for OK -> ALARM transition)."
func reason(a Alarm, to string, dps []Datapoint, breaching int) string {
	cmp := "greater than or equal to"
	if a.comparison() == GreaterThanThreshold {
		cmp = "greater than"
	}
	shown := dps
	if to == StateAlarm {
		shown = nil
		for _, d := range dps {
			if a.breaches(d.Value) {
				shown = append(shown, d)
			}
		}
	} else {
		cmp = "not " + cmp
	}
	vals := make([]string, len(shown))
	for i, d := range shown {
		vals[i] = formatValue(d.Value) + " (" + d.Start.UTC().Format("02/01/06 15:04:05") + ")"
	}
	list := "[" + strings.Join(vals, ", ") + "]"
	th := formatValue(a.Threshold)
	if a.n() == 1 {
		return fmt.Sprintf("Threshold Crossed: 1 datapoint %s was %s the threshold (%s).", list, cmp, th)
	}
	count := breaching
	if to == StateOK {
		count = len(dps) - breaching
	}
	return fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints %s were %s the threshold (%s) (minimum %d datapoints for %s -> %s transition).",
		count, a.n(), list, cmp, th, a.m(), map[string]string{StateAlarm: StateOK, StateOK: StateAlarm}[to], to)
}

// formatValue writes numbers as CloudWatch's reasons do: one decimal at least ("12.0", "0.5").
func formatValue(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// regionNames are the display names CloudWatch writes in the message's Region field.
var regionNames = map[string]string{
	"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
	"us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)",
	"ap-northeast-1": "Asia Pacific (Tokyo)", "ap-northeast-2": "Asia Pacific (Seoul)",
}

func regionName(code string) string {
	if n, ok := regionNames[code]; ok {
		return n
	}
	return code
}

// cwTime is CloudWatch's timestamp layout in alarm messages: "2026-03-14T09:26:53.589+0000".
const cwTime = "2006-01-02T15:04:05.000-0700"

// message is the JSON CloudWatch publishes to SNS for a metric alarm, its fields in CloudWatch's order.
type message struct {
	AlarmName                          string   `json:"AlarmName"`
	AlarmDescription                   string   `json:"AlarmDescription"`
	AWSAccountID                       string   `json:"AWSAccountId"`
	AlarmConfigurationUpdatedTimestamp string   `json:"AlarmConfigurationUpdatedTimestamp"`
	NewStateValue                      string   `json:"NewStateValue"`
	NewStateReason                     string   `json:"NewStateReason"`
	StateChangeTime                    string   `json:"StateChangeTime"`
	Region                             string   `json:"Region"`
	AlarmArn                           string   `json:"AlarmArn"`
	OldStateValue                      string   `json:"OldStateValue"`
	OKActions                          []string `json:"OKActions"`
	AlarmActions                       []string `json:"AlarmActions"`
	InsufficientDataActions            []string `json:"InsufficientDataActions"`
	Trigger                            trigger  `json:"Trigger"`
}

type trigger struct {
	MetricName                       string      `json:"MetricName"`
	Namespace                        string      `json:"Namespace"`
	StatisticType                    string      `json:"StatisticType"`
	Statistic                        string      `json:"Statistic"`
	Unit                             *string     `json:"Unit"`
	Dimensions                       []dimension `json:"Dimensions"`
	Period                           int64       `json:"Period"`
	EvaluationPeriods                int         `json:"EvaluationPeriods"`
	DatapointsToAlarm                int         `json:"DatapointsToAlarm"`
	ComparisonOperator               string      `json:"ComparisonOperator"`
	Threshold                        jsonFloat   `json:"Threshold"`
	TreatMissingData                 string      `json:"TreatMissingData"`
	EvaluateLowSampleCountPercentile string      `json:"EvaluateLowSampleCountPercentile"`
}

// dimension is written value first, as CloudWatch does.
type dimension struct {
	Value string `json:"value"`
	Name  string `json:"name"`
}

// jsonFloat writes 5 as 5.0, as CloudWatch's messages do.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) { return []byte(formatValue(float64(f))), nil }

// Message is the SNS Message CloudWatch publishes for the change: the alarm JSON, as text.
func (c StateChange) Message() string {
	a := c.Alarm
	actions := []string{}
	if a.TopicARN != "" {
		actions = []string{a.TopicARN}
	}
	dims := make([]dimension, len(a.Dimensions))
	for i, d := range a.Dimensions {
		dims[i] = dimension{Value: d.Value, Name: d.Name}
	}
	updated := a.ConfigUpdated
	if updated.IsZero() {
		updated = c.At
	}
	m := message{
		AlarmName: a.Name, AlarmDescription: a.Description, AWSAccountID: a.AccountID,
		AlarmConfigurationUpdatedTimestamp: updated.UTC().Format(cwTime),
		NewStateValue:                      c.New, NewStateReason: c.Reason, StateChangeTime: c.At.UTC().Format(cwTime),
		Region: regionName(a.Region), AlarmArn: a.ARN(), OldStateValue: c.Old,
		OKActions: actions, AlarmActions: actions, InsufficientDataActions: []string{},
		Trigger: trigger{MetricName: a.Metric, Namespace: a.Namespace, StatisticType: "Statistic", Statistic: "SUM",
			Dimensions: dims, Period: int64(a.Period / time.Second), EvaluationPeriods: a.n(), DatapointsToAlarm: a.m(),
			ComparisonOperator: a.comparison(), Threshold: jsonFloat(a.Threshold), TreatMissingData: "notBreaching"},
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // only strings and numbers: cannot fail
	}
	return string(b)
}

// Subject is the SNS Subject CloudWatch sets: `ALARM: "name" in US East (N. Virginia)`.
func (c StateChange) Subject() string {
	s := fmt.Sprintf("%s: %q in %s", c.New, c.Alarm.Name, regionName(c.Alarm.Region))
	if len(s) > 100 { // SNS subjects are at most 100 characters
		s = s[:100]
	}
	return s
}

// Delivery is one SNS delivery of the change to a Lambda subscriber.
type Delivery struct {
	MessageID      string // the notification's MessageId
	SubscriptionID string // the last part of the subscription ARN
	At             time.Time
}

// SNSEvent is the event SNS invokes a subscribed Lambda function with for this change: one record,
// the alarm JSON as its Message (aws-lambda-go's events.SNSEvent, as the Lambda console's "SNS
// Notification" test event and AWS's documentation show it).
func (c StateChange) SNSEvent(d Delivery) events.SNSEvent {
	topic := c.Alarm.TopicARN
	return events.SNSEvent{Records: []events.SNSEventRecord{{
		EventVersion:         "1.0",
		EventSubscriptionArn: topic + ":" + d.SubscriptionID,
		EventSource:          "aws:sns",
		SNS: events.SNSEntity{
			Type:              "Notification",
			MessageID:         d.MessageID,
			TopicArn:          topic,
			Subject:           c.Subject(),
			Message:           c.Message(),
			Timestamp:         d.At.UTC().Truncate(time.Millisecond), // SNS stamps milliseconds
			SignatureVersion:  "1",
			Signature:         "EXAMPLE",
			SigningCertURL:    "https://sns." + c.Alarm.Region + ".amazonaws.com/SimpleNotificationService-0000000000000000000000000000000.pem",
			UnsubscribeURL:    "https://sns." + c.Alarm.Region + ".amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + topic + ":" + d.SubscriptionID,
			MessageAttributes: map[string]any{},
		},
	}}}
}
