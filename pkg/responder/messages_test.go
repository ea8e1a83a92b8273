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
	var dims []map[string]string
	if a.apiName != "" {
		dims = append(dims, map[string]string{"value": a.apiName, "name": "ApiName"})
	}
	if a.stage != "" {
		dims = append(dims, map[string]string{"value": a.stage, "name": "Stage"})
	}
	old := "OK"
	if a.state == "OK" {
		old = "ALARM"
	}
	b, _ := json.Marshal(map[string]any{
		"AlarmName": a.name, "AlarmDescription": "Rewind rolls back", "AWSAccountId": a.acct(),
		"AlarmConfigurationUpdatedTimestamp": "2026-11-25T02:00:00.000+0000",
		"NewStateValue":                      a.state, "NewStateReason": "Threshold Crossed: 1 datapoint [12.0] was greater than or equal to the threshold (5.0).",
		"StateChangeTime": cwTime(a.at), "Region": "US East (N. Virginia)", "AlarmArn": a.arn(), "OldStateValue": old,
		"Trigger": map[string]any{"MetricName": "5XXError", "Namespace": "AWS/ApiGateway", "StatisticType": "Statistic",
			"Statistic": "SUM", "Unit": nil, "Dimensions": dims, "Period": 60, "EvaluationPeriods": 1,
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 5.0, "TreatMissingData": "notBreaching"},
	})
	return string(b)
}

// detail is the alarm as EventBridge's detail and the alarm action's alarmData carry it.
func (a alarmDef) detail() map[string]any {
	dims := map[string]string{}
	if a.apiName != "" {
		dims["ApiName"] = a.apiName
	}
	if a.stage != "" {
		dims["Stage"] = a.stage
	}
	return map[string]any{
		"alarmName":     a.name,
		"state":         map[string]any{"value": a.state, "reason": "Threshold Crossed", "timestamp": cwTime(a.at)},
		"previousState": map[string]any{"value": "OK", "reason": "", "timestamp": cwTime(a.at.Add(-time.Hour))},
		"configuration": map[string]any{"metrics": []any{map[string]any{"id": "m1", "returnData": true,
			"metricStat": map[string]any{"metric": map[string]any{"namespace": "AWS/ApiGateway", "name": "5XXError", "dimensions": dims},
				"period": 60, "stat": "Sum"}}}},
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
