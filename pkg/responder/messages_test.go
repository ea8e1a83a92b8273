package responder_test

// The payloads the tests send, as AWS sends them: CloudWatch's alarm state changes in each of the
// envelopes that reach Rewind (SNS, EventBridge, the alarm's own Lambda action) and the scheduled
// observe.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// alarmDef is one alarm state change.
type alarmDef struct {
	name, state     string
	account, region string // "" means the rig's
	at              time.Time
	apiName, stage  string // the ApiName and Stage dimensions; "" for none
	// point, when set, is the start of the one breaching datapoint's 60 s period, as CloudWatch
	// writes it in NewStateReason (and state.reason, with reasonData's evaluatedDatapoints).
	point time.Time
	// math, when set, makes the alarm metric math over these (ApiName, Stage) metrics, instead of
	// one metric on apiName and stage.
	math [][2]string
}

// measuredUntil is the end of the data the alarm judged, as the rules read it: the newest
// datapoint's period end, else (no dated datapoint) its state change.
func (a alarmDef) measuredUntil() time.Time {
	if !a.point.IsZero() {
		return a.point.Add(60 * time.Second)
	}
	return a.at
}

// reason is the alarm's NewStateReason, in CloudWatch's words; dated when point is set.
func (a alarmDef) reason() string {
	if a.point.IsZero() {
		return "Threshold Crossed: 1 datapoint [12.0] was greater than or equal to the threshold (5.0)."
	}
	return fmt.Sprintf("Threshold Crossed: 1 datapoint [12.0 (%s)] was greater than or equal to the threshold (5.0).", a.point.UTC().Format("02/01/06 15:04:05"))
}

// reasonData is state.reasonData for EventBridge and the alarm action ("" when point is unset).
func (a alarmDef) reasonData() string {
	if a.point.IsZero() {
		return ""
	}
	b, _ := json.Marshal(map[string]any{"version": "1.0", "queryDate": cwTime(a.at), "startDate": cwTime(a.point), "statistic": "Sum",
		"period": 60, "recentDatapoints": []float64{12}, "threshold": 5.0,
		"evaluatedDatapoints": []any{map[string]any{"timestamp": cwTime(a.point), "sampleCount": 1.0, "value": 12.0}}})
	return string(b)
}

func snsDims(apiName, stage string) []map[string]string {
	var dims []map[string]string
	if apiName != "" {
		dims = append(dims, map[string]string{"value": apiName, "name": "ApiName"})
	}
	if stage != "" {
		dims = append(dims, map[string]string{"value": stage, "name": "Stage"})
	}
	return dims
}

func (a alarmDef) acct() string { return cmpOr(a.account, rigAccount) }
func (a alarmDef) reg() string  { return cmpOr(a.region, rigRegion) }
func (a alarmDef) arn() string {
	return "arn:aws:cloudwatch:" + a.reg() + ":" + a.acct() + ":alarm:" + a.name
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// incident is the alarm's incident key as pkg/event documents it: the first 16 hex digits of the
// SHA-256 of ARN|State|StateChangeTime (UTC, RFC 3339 with nanoseconds).
func (a alarmDef) incident() string {
	sum := sha256.Sum256([]byte(a.arn() + "|" + a.state + "|" + a.at.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:8])
}

// cwTime is CloudWatch's timestamp form: 2026-11-25T03:20:00.000+0000.
func cwTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-0700") }

// message is the JSON CloudWatch publishes to SNS for a metric alarm.
func (a alarmDef) message() string {
	old := "OK"
	if a.state == "OK" {
		old = "ALARM"
	}
	trigger := map[string]any{"MetricName": "5XXError", "Namespace": "AWS/ApiGateway", "StatisticType": "Statistic",
		"Statistic": "SUM", "Unit": nil, "Dimensions": snsDims(a.apiName, a.stage), "Period": 60, "EvaluationPeriods": 1,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 5.0, "TreatMissingData": "notBreaching"}
	if len(a.math) > 0 {
		// Metric math, as CloudWatch publishes it: no metric of its own, Trigger.Metrics instead.
		queries := []any{map[string]any{"Expression": "SUM(METRICS())", "Id": "e1", "Label": "5xx of both", "ReturnData": true}}
		for k, m := range a.math {
			queries = append(queries, map[string]any{"Id": fmt.Sprintf("m%d", k+1), "ReturnData": false,
				"MetricStat": map[string]any{"Metric": map[string]any{"Dimensions": snsDims(m[0], m[1]), "MetricName": "5XXError", "Namespace": "AWS/ApiGateway"},
					"Period": 60, "Stat": "Sum"}})
		}
		trigger = map[string]any{"Period": 60, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 5.0,
			"TreatMissingData": "notBreaching", "Metrics": queries}
	}
	b, _ := json.Marshal(map[string]any{
		"AlarmName": a.name, "AlarmDescription": "Rewind rolls back", "AWSAccountId": a.acct(),
		"AlarmConfigurationUpdatedTimestamp": "2026-11-25T02:00:00.000+0000",
		"NewStateValue":                      a.state, "NewStateReason": a.reason(),
		"StateChangeTime": cwTime(a.at), "Region": "US East (N. Virginia)", "AlarmArn": a.arn(), "OldStateValue": old,
		"Trigger": trigger,
	})
	return string(b)
}

// detail is the alarm as EventBridge's detail and the alarm action's alarmData carry it.
func (a alarmDef) detail() map[string]any {
	dims := func(apiName, stage string) map[string]string {
		d := map[string]string{}
		if apiName != "" {
			d["ApiName"] = apiName
		}
		if stage != "" {
			d["Stage"] = stage
		}
		return d
	}
	metric := func(id string, ret bool, apiName, stage string) map[string]any {
		return map[string]any{"id": id, "returnData": ret,
			"metricStat": map[string]any{"metric": map[string]any{"namespace": "AWS/ApiGateway", "name": "5XXError", "dimensions": dims(apiName, stage)},
				"period": 60, "stat": "Sum"}}
	}
	metrics := []any{metric("m1", true, a.apiName, a.stage)}
	if len(a.math) > 0 {
		metrics = []any{map[string]any{"id": "e1", "expression": "SUM(METRICS())", "label": "5xx of both", "returnData": true}}
		for k, m := range a.math {
			metrics = append(metrics, metric(fmt.Sprintf("m%d", k+1), false, m[0], m[1]))
		}
	}
	state := map[string]any{"value": a.state, "reason": "Threshold Crossed", "timestamp": cwTime(a.at)}
	if !a.point.IsZero() {
		state["reason"], state["reasonData"] = a.reason(), a.reasonData()
	}
	return map[string]any{
		"alarmName":     a.name,
		"state":         state,
		"previousState": map[string]any{"value": "OK", "reason": "", "timestamp": cwTime(a.at.Add(-time.Hour))},
		"configuration": map[string]any{"metrics": metrics},
	}
}

// envelope is how an alarm reaches Rewind.
type envelope int

const (
	viaSNS envelope = iota
	viaEventBridge
	viaAlarmAction
)

func (e envelope) String() string { return [...]string{"sns", "eventbridge", "alarm-action"}[e] }

// payload wraps the alarm in an envelope.
func (a alarmDef) payload(e envelope) []byte {
	switch e {
	case viaEventBridge:
		b, _ := json.Marshal(map[string]any{"version": "0", "id": "eb-" + a.incident(), "detail-type": "CloudWatch Alarm State Change",
			"source": "aws.cloudwatch", "account": a.acct(), "time": a.at.UTC().Format(time.RFC3339), "region": a.reg(),
			"resources": []string{a.arn()}, "detail": a.detail()})
		return b
	case viaAlarmAction:
		b, _ := json.Marshal(map[string]any{"source": "aws.cloudwatch", "alarmArn": a.arn(), "accountId": a.acct(),
			"time": cwTime(a.at), "region": a.reg(), "alarmData": a.detail()})
		return b
	}
	return snsPayload(a.message())
}

// snsPayload is a Lambda SNS event with one record per message.
func snsPayload(messages ...string) []byte {
	type sns struct {
		Type, MessageId, TopicArn, Subject, Message, Timestamp, SignatureVersion, Signature, SigningCertUrl, UnsubscribeUrl string
	}
	type record struct {
		EventSource, EventVersion, EventSubscriptionArn string
		Sns                                             sns
	}
	var ev struct{ Records []record }
	topic := "arn:aws:sns:" + rigRegion + ":" + rigAccount + ":rewind-alarms"
	for i, m := range messages {
		sum := sha256.Sum256([]byte(m))
		ev.Records = append(ev.Records, record{EventSource: "aws:sns", EventVersion: "1.0", EventSubscriptionArn: topic + ":2bcfbf39",
			Sns: sns{Type: "Notification", MessageId: fmt.Sprintf("%x-%d", sum[:6], i), TopicArn: topic, Subject: "ALARM",
				Message: m, Timestamp: "2026-11-25T03:20:00.000Z", SignatureVersion: "1", Signature: "EXAMPLE",
				SigningCertUrl: "EXAMPLE", UnsubscribeUrl: "EXAMPLE"}})
	}
	b, _ := json.Marshal(ev)
	return b
}

// scheduleTick is the EventBridge "Scheduled Event" of the observe schedule (template.yaml).
func scheduleTick(at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "tick", "detail-type": "Scheduled Event", "source": "aws.events",
		"account": rigAccount, "time": at.UTC().Format(time.RFC3339), "region": rigRegion,
		"resources": []string{"arn:aws:events:" + rigRegion + ":" + rigAccount + ":rule/rewind-observe"}, "detail": map[string]any{}})
	return b
}
