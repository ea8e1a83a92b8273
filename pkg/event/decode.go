package event

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Kind names the shape of a payload.
type Kind string

// The shapes Decode accepts.
const (
	KindSNS          Kind = "sns"           // a Lambda SNS event: {"Records":[{"EventSource":"aws:sns","Sns":{…}}]}
	KindEventBridge  Kind = "eventbridge"   // an EventBridge event other than a schedule tick
	KindAlarmAction  Kind = "alarm-action"  // the payload of an alarm's Lambda action
	KindCommand      Kind = "command"       // a manual command: {"action":…}
	KindSNSEnvelope  Kind = "sns-envelope"  // one SNS notification as HTTP(S)/SQS subscribers get it
	KindAlarmMessage Kind = "alarm-message" // a bare CloudWatch alarm message
	KindSchedule     Kind = "schedule"      // an EventBridge "Scheduled Event"
)

// Record is one unit of work found in a payload. Exactly one of Alarm, Command, Schedule, Ignored
// and Err is set.
type Record struct {
	Source   string   // where in the payload: "Records[0]", "payload"
	Alarm    *Alarm   // an alarm state change (any state: OK and INSUFFICIENT_DATA too)
	Command  *Command // a manual command
	Schedule bool     // an EventBridge "Scheduled Event" (source aws.events): a periodic observe tick
	Ignored  string   // why this is not for Rewind (another service's notification, a subscription confirmation…)
	Err      error    // it claims to be for Rewind but is broken; wraps ErrBadInput
}

// MaxPayloadBytes is the largest payload Decode reads: Lambda's limit for synchronous invocations.
const MaxPayloadBytes = 6 << 20

// EventBridge detail types and sources Rewind understands.
const (
	detailTypeAlarm    = "CloudWatch Alarm State Change"
	detailTypeSchedule = "Scheduled Event"
	sourceCloudWatch   = "aws.cloudwatch"
	sourceEvents       = "aws.events"
)

const wantShapes = `want one of: an SNS event {"Records":[…]}, an EventBridge event {"detail-type","source","detail"}, ` +
	`an alarm Lambda action {"source":"aws.cloudwatch","alarmData"}, a command {"action":…}, ` +
	`an SNS notification {"Type":"Notification","Message"}, an alarm message {"AlarmName","NewStateValue"}`

// Decode reads one Lambda invocation payload. The error (wrapping ErrBadInput) is for payloads that
// are not usable at all; the Kind is returned with it when the shape was recognised. Otherwise
// every unit of work is a Record, including ones that are ignored or broken.
func Decode(payload []byte) (Kind, []Record, error) {
	if len(payload) > MaxPayloadBytes {
		return "", nil, bad("payload is %d bytes, more than %d (6 MiB)", len(payload), MaxPayloadBytes)
	}
	body := trimJSONSpace(payload)
	if len(body) == 0 {
		return "", nil, bad("payload is empty, want a JSON object; %s", wantShapes)
	}
	if body[0] != '{' {
		var v json.RawMessage
		if err := json.Unmarshal(body, &v); err != nil {
			return "", nil, bad("payload is not JSON: %s; %s", jsonProblem(err), wantShapes)
		}
		return "", nil, bad("payload is %s, want an object; %s", jsonKind(body), wantShapes)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return "", nil, bad("payload is not JSON: %s; %s", jsonProblem(err), wantShapes)
	}
	if len(top) == 0 {
		return "", nil, bad("payload is an empty JSON object; %s", wantShapes)
	}
	kind, err := shapeOf(top)
	if err != nil {
		return "", nil, err
	}
	switch kind {
	case KindSNS:
		recs, err := decodeSNSEvent(top["Records"])
		return kind, recs, err
	case KindEventBridge:
		rec, err := decodeEventBridge(body, top, ViaEventBridge)
		if err != nil {
			return kind, nil, err
		}
		rec.Source = "payload"
		if rec.Schedule {
			kind = KindSchedule
		}
		return kind, []Record{rec}, nil
	case KindAlarmAction:
		a, err := decodeAlarmAction(body)
		if err != nil {
			return kind, nil, err
		}
		return kind, []Record{{Source: "payload", Alarm: &a}}, nil
	case KindCommand:
		c, err := DecodeCommand(body)
		if err != nil {
			return kind, nil, err
		}
		return kind, []Record{{Source: "payload", Command: &c}}, nil
	case KindSNSEnvelope:
		var n events.SNSEntity
		if err := json.Unmarshal(body, &n); err != nil {
			return kind, nil, bad("SNS notification: %s", snsProblem(err, "Timestamp"))
		}
		return kind, []Record{snsRecord("payload", n, ViaSNSEnvelope)}, nil
	default: // KindAlarmMessage
		rec := recordOf(classifyMessage(body, ViaAlarmMessage, ""))
		rec.Source = "payload"
		return kind, []Record{rec}, nil
	}
}

// shapeOf picks the payload's shape from its keys, refusing payloads that mix two shapes.
func shapeOf(top map[string]json.RawMessage) (Kind, error) {
	has := func(k string) bool { _, ok := top[k]; return ok }
	var kinds []Kind
	if has("Records") {
		kinds = append(kinds, KindSNS)
	}
	if has("detail-type") {
		kinds = append(kinds, KindEventBridge)
	} else if has("alarmData") {
		kinds = append(kinds, KindAlarmAction)
	}
	if has("action") {
		kinds = append(kinds, KindCommand)
	}
	if has("Type") && has("Message") {
		kinds = append(kinds, KindSNSEnvelope)
	}
	if has("AlarmName") || has("NewStateValue") {
		kinds = append(kinds, KindAlarmMessage)
	}
	switch len(kinds) {
	case 1:
		return kinds[0], nil
	case 0:
		return "", bad("payload is a JSON object with keys %s; %s", keyList(top), wantShapes)
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return "", bad("payload mixes the keys of several shapes (%s): keys %s", strings.Join(names, ", "), keyList(top))
}

// keyList names up to 8 keys of an object, sorted, each bounded and quoted.
func keyList(m map[string]json.RawMessage) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	const max = 8
	more := ""
	if len(keys) > max {
		more = fmt.Sprintf(" and %d more", len(keys)-max)
		keys = keys[:max]
	}
	for i, k := range keys {
		keys[i] = quote(clip(k, 32))
	}
	return strings.Join(keys, ", ") + more
}

// ---- SNS ----

func decodeSNSEvent(raw json.RawMessage) ([]Record, error) {
	if k := jsonKind(raw); k != "a JSON array" {
		return nil, bad("Records is %s, want an array of SNS records", k)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, bad("Records: %s", jsonProblem(err))
	}
	if len(items) == 0 {
		return nil, bad("Records is empty: an SNS event has at least one record")
	}
	recs := make([]Record, len(items))
	for i, item := range items {
		recs[i] = snsEventRecord(fmt.Sprintf("Records[%d]", i), item)
	}
	return recs, nil
}

func snsEventRecord(where string, raw json.RawMessage) Record {
	fail := func(err error) Record { return Record{Source: where, Err: within(where, err)} }
	if k := jsonKind(raw); k != "a JSON object" {
		return fail(bad("is %s, want an object", k))
	}
	var peek struct {
		EventSource *string         `json:"EventSource"`
		SNS         json.RawMessage `json:"Sns"`
	}
	if err := json.Unmarshal(raw, &peek); err != nil {
		return fail(bad("%s", jsonProblem(err)))
	}
	switch {
	case peek.EventSource == nil:
		return Record{Source: where, Ignored: "record has no EventSource; not an SNS record"}
	case *peek.EventSource != "aws:sns":
		return Record{Source: where, Ignored: fmt.Sprintf("record from %s, not aws:sns", quote(*peek.EventSource))}
	case peek.SNS == nil || string(peek.SNS) == "null":
		return fail(bad("Sns is missing"))
	case jsonKind(peek.SNS) != "a JSON object":
		return fail(bad("Sns is %s, want an object", jsonKind(peek.SNS)))
	}
	var r events.SNSEventRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return fail(bad("%s", snsProblem(err, "Sns.Timestamp")))
	}
	return snsRecord(where, r.SNS, ViaSNS)
}

// snsProblem describes an SNS decoding error; the only time field is the notification Timestamp.
func snsProblem(err error, timeField string) string {
	p := jsonProblem(err)
	if strings.HasPrefix(p, "time ") {
		return timeField + ": " + p
	}
	return p
}

// snsRecord turns one SNS notification into a Record.
func snsRecord(where string, n events.SNSEntity, via string) Record {
	var rec Record
	switch n.Type {
	case "Notification", "":
		rec = recordOf(classifyMessage([]byte(n.Message), via, n.MessageID))
		if rec.Ignored != "" && n.Subject != "" {
			rec.Ignored += " (subject " + quote(n.Subject) + ")"
		}
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		rec.Ignored = "SNS " + n.Type + ": confirm or cancel subscriptions outside Rewind"
	default:
		rec.Ignored = "SNS message of type " + quote(n.Type) + ", not Notification"
	}
	if rec.Err != nil {
		rec.Err = within(where, rec.Err)
	}
	rec.Source = where
	return rec
}

// message is what one alarm-shaped text turned out to be.
type message struct {
	alarm    *Alarm
	schedule bool
	ignored  string
	err      error
}

func recordOf(m message) Record {
	return Record{Alarm: m.alarm, Schedule: m.schedule, Ignored: m.ignored, Err: m.err}
}

// classifyMessage reads one SNS Message body: a CloudWatch alarm message, an EventBridge event an
// EventBridge rule sent to the topic, or something else (ignored). Text that claims to be an alarm
// but is broken is an error.
func classifyMessage(msg []byte, via, deliveryID string) message {
	body := trimJSONSpace(msg)
	if len(body) == 0 {
		return message{ignored: "message is empty"}
	}
	if body[0] != '{' {
		if json.Valid(body) {
			return message{ignored: fmt.Sprintf("message is %s, not a CloudWatch alarm", jsonKind(body))}
		}
		return message{ignored: fmt.Sprintf("message is not JSON (%d bytes of text), not a CloudWatch alarm", len(body))}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		if claimsAlarm(body) {
			return message{err: bad("alarm message is not JSON: %s", jsonProblem(err))}
		}
		return message{ignored: "message is not JSON, not a CloudWatch alarm"}
	}
	_, hasName := top["AlarmName"]
	_, hasState := top["NewStateValue"]
	_, hasDetailType := top["detail-type"]
	switch {
	case hasName || hasState:
		a, err := alarmFromMessage(body, via, deliveryID)
		if err != nil {
			return message{err: err}
		}
		return message{alarm: &a}
	case hasDetailType:
		rec, err := decodeEventBridge(body, top, via)
		if err != nil {
			return message{err: err}
		}
		if rec.Alarm != nil {
			rec.Alarm.DeliveryID = deliveryID
		}
		return message{alarm: rec.Alarm, schedule: rec.Schedule, ignored: rec.Ignored}
	}
	return message{ignored: "JSON message is not a CloudWatch alarm: " + describeForeign(top)}
}

// claimsAlarm: broken JSON that names alarm fields is a broken alarm, not someone else's text.
func claimsAlarm(b []byte) bool {
	return strings.Contains(string(b), `"AlarmName"`) || strings.Contains(string(b), `"NewStateValue"`)
}

// describeForeign says briefly what a non-alarm JSON message is, for the Ignored reason.
func describeForeign(top map[string]json.RawMessage) string {
	var event, service string
	_ = json.Unmarshal(top["Event"], &event)
	_ = json.Unmarshal(top["Service"], &service)
	switch {
	case event != "" && service != "":
		return fmt.Sprintf("%s event %s", quote(clip(service, 40)), quote(clip(event, 60)))
	case event != "":
		return fmt.Sprintf("event %s", quote(clip(event, 60)))
	}
	return "keys " + keyList(top)
}

// DecodeAlarmMessage reads one SNS Message body: the JSON text CloudWatch publishes for an alarm
// state change (an EventBridge alarm state-change event, as an EventBridge rule publishes it, is
// accepted too). Anything else is an error wrapping ErrBadInput.
func DecodeAlarmMessage(msg []byte) (Alarm, error) {
	if len(msg) > MaxPayloadBytes {
		return Alarm{}, bad("alarm message is %d bytes, more than %d", len(msg), MaxPayloadBytes)
	}
	m := classifyMessage(msg, ViaAlarmMessage, "")
	switch {
	case m.err != nil:
		return Alarm{}, m.err
	case m.alarm != nil:
		return *m.alarm, nil
	case m.schedule:
		return Alarm{}, bad("not an alarm message: an EventBridge scheduled event")
	}
	return Alarm{}, bad("not an alarm message: %s", m.ignored)
}

// alarmFromMessage decodes a CloudWatch alarm message: lenient about fields it does not know,
// strict about the types of those it does and about the values Rewind relies on.
func alarmFromMessage(body []byte, via, deliveryID string) (Alarm, error) {
	var m AlarmMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return Alarm{}, bad("alarm message: %s", jsonProblem(err))
	}
	tr := m.Trigger
	var metrics []Metric
	if tr.MetricName != "" || tr.Namespace != "" || len(tr.Dimensions) > 0 {
		stat := tr.Statistic
		if stat == "" {
			stat = tr.ExtendedStatistic
		}
		metrics = append(metrics, Metric{Namespace: tr.Namespace, Name: tr.MetricName, Stat: stat,
			Period: periodOf(tr.Period), Dimensions: snsDimensions(tr.Dimensions)})
	}
	period := tr.Period
	longest := int64(0)
	for _, q := range tr.Metrics {
		ms := q.MetricStat
		longest = max(longest, ms.Period, q.Period)
		if q.Expression != "" && ms.Metric.MetricName == "" && ms.Metric.Namespace == "" && len(ms.Metric.Dimensions) == 0 {
			continue // an expression (metric math, an anomaly detection band) watches no metric of its own
		}
		metrics = append(metrics, Metric{ID: q.ID, Namespace: ms.Metric.Namespace, Name: ms.Metric.MetricName, Stat: ms.Stat,
			Period: periodOf(ms.Period), Dimensions: snsDimensions(ms.Metric.Dimensions)})
	}
	if period <= 0 {
		period = longest
	}
	return buildAlarm(alarmInput{
		name: m.AlarmName, arn: m.AlarmARN, account: m.AWSAccountID, regionName: m.Region,
		state: m.NewStateValue, prevState: m.OldStateValue, reason: m.NewStateReason, time: m.StateChangeTime,
		composite: m.AlarmRule != "" || len(m.TriggeringChildren) > 0, metrics: metrics,
		evidence: evidenceInput{period: period, evaluationPeriods: tr.EvaluationPeriods, datapointsToAlarm: tr.DatapointsToAlarm,
			reason: m.NewStateReason},
		fName: "AlarmName", fARN: "AlarmArn", fState: "NewStateValue", fPrev: "OldStateValue", fTime: "StateChangeTime",
	}, via, deliveryID)
}

func snsDimensions(ds []events.CloudWatchDimension) []Dimension {
	out := make([]Dimension, 0, len(ds))
	for _, d := range ds {
		out = append(out, Dimension{Name: d.Name, Value: d.Value})
	}
	return out
}

// ---- EventBridge and the alarm action ----

// decodeEventBridge reads an EventBridge event: an alarm state change, a schedule tick, or
// something ignored. The returned Record has no Source.
func decodeEventBridge(body []byte, top map[string]json.RawMessage, via string) (Record, error) {
	var e events.CloudWatchEvent
	if err := json.Unmarshal(body, &e); err != nil {
		p := jsonProblem(err)
		if strings.HasPrefix(p, "time ") {
			p = "field time: " + p
		}
		return Record{}, bad("EventBridge event: %s", p)
	}
	switch {
	case e.DetailType == "":
		return Record{}, bad("EventBridge event: detail-type is empty")
	case e.Source == "":
		return Record{}, bad("EventBridge event %s: source is missing", quote(e.DetailType))
	case e.DetailType == detailTypeSchedule && e.Source == sourceEvents:
		return Record{Schedule: true}, nil
	case e.DetailType != detailTypeAlarm:
		return Record{Ignored: fmt.Sprintf("EventBridge %s from %s is not an alarm state change", quote(e.DetailType), quote(e.Source))}, nil
	case e.Source != sourceCloudWatch:
		return Record{Ignored: fmt.Sprintf("EventBridge %s from %s, not aws.cloudwatch", quote(e.DetailType), quote(e.Source))}, nil
	}
	raw, ok := top["detail"]
	if !ok {
		hint := ""
		if _, has := top["alarmData"]; has {
			hint = " (it has alarmData, which only an alarm's Lambda action payload has, and that has no detail-type)"
		}
		return Record{}, bad("EventBridge alarm state change has no detail%s", hint)
	}
	if k := jsonKind(raw); k != "a JSON object" {
		return Record{}, bad("EventBridge alarm state change: detail is %s, want an object", k)
	}
	var d AlarmStateChangeDetail
	if err := json.Unmarshal(raw, &d); err != nil {
		return Record{}, bad("EventBridge alarm state change: detail: %s", jsonProblem(err))
	}
	arn := ""
	for _, r := range e.Resources {
		if _, ok := parseAlarmARN(r); ok {
			arn = r
			break
		}
	}
	a, err := buildAlarm(detailInput(d, "detail", arn, e.AccountID, e.Region), via, e.ID)
	if err != nil {
		return Record{}, within("EventBridge alarm state change", err)
	}
	return Record{Alarm: &a}, nil
}

// decodeAlarmAction reads the payload an alarm's Lambda action sends.
func decodeAlarmAction(body []byte) (Alarm, error) {
	var e AlarmActionEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return Alarm{}, bad("alarm action payload: %s", jsonProblem(err))
	}
	if e.Source != sourceCloudWatch {
		return Alarm{}, bad("alarm action payload: source %s, want aws.cloudwatch", quote(e.Source))
	}
	var top struct {
		AlarmData json.RawMessage `json:"alarmData"`
	}
	_ = json.Unmarshal(body, &top) // cannot fail: the same text decoded above
	if k := jsonKind(top.AlarmData); k != "a JSON object" {
		return Alarm{}, bad("alarm action payload: alarmData is %s, want an object", k)
	}
	in := detailInput(e.AlarmData, "alarmData", e.AlarmArn, e.AccountID, e.Region)
	in.fARN = "alarmArn"
	a, err := buildAlarm(in, ViaAlarmAction, "")
	if err != nil {
		return Alarm{}, within("alarm action payload", err)
	}
	return a, nil
}

// detailInput maps an EventBridge detail or alarm-action alarmData onto alarmInput; where names the
// object for errors ("detail", "alarmData").
func detailInput(d AlarmStateChangeDetail, where, arn, account, region string) alarmInput {
	var metrics []Metric
	longest := int64(0)
	for _, m := range d.Configuration.Metrics {
		if ms := m.MetricStat; ms != nil {
			longest = max(longest, ms.Period)
			metrics = append(metrics, Metric{ID: m.ID, Namespace: ms.Metric.Namespace, Name: ms.Metric.Name, Stat: ms.Stat,
				Period: periodOf(ms.Period), Dimensions: mapDimensions(ms.Metric.Dimensions)})
		}
	}
	c := d.Configuration
	return alarmInput{
		name: d.AlarmName, arn: arn, account: account, region: region,
		state: d.State.Value, prevState: d.PreviousState.Value, reason: d.State.Reason, time: d.State.Timestamp,
		composite: c.AlarmRule != "", metrics: metrics,
		evidence: evidenceInput{period: longest, evaluationPeriods: c.EvaluationPeriods, datapointsToAlarm: c.DatapointsToAlarm,
			reason: d.State.Reason, reasonData: d.State.ReasonData},
		fName: where + ".alarmName", fARN: "resources", fState: where + ".state.value",
		fPrev: where + ".previousState.value", fTime: where + ".state.timestamp",
	}
}
