package event

import "github.com/aws/aws-lambda-go/events"

// AlarmMessage is the JSON text CloudWatch puts in an SNS notification's Message: aws-lambda-go's
// CloudWatchAlarmSNSPayload plus the fields composite alarms add, and a Trigger that has the
// DatapointsToAlarm aws-lambda-go lacks. Unknown fields (AWS keeps adding some:
// AlarmConfigurationUpdatedTimestamp, ActionExecutedAfterMuteWindow, OKActions…) are ignored.
//
// Trigger shadows the embedded CloudWatchAlarmSNSPayload.Trigger: encoding/json fills this one, and
// the embedded one stays empty. Read the trigger as m.Trigger, never m.CloudWatchAlarmSNSPayload.Trigger.
type AlarmMessage struct {
	events.CloudWatchAlarmSNSPayload
	Trigger            AlarmTrigger      `json:"Trigger"`
	AlarmRule          string            `json:"AlarmRule"`          // composite alarms only
	TriggeringChildren []TriggeringChild `json:"TriggeringChildren"` // composite alarms only; may be empty
}

// AlarmTrigger is the SNS message's Trigger: aws-lambda-go's CloudWatchAlarmTrigger plus
// DatapointsToAlarm, the M of an "M out of N" alarm (absent or 0 when M = N = EvaluationPeriods),
// and ExtendedStatistic.
type AlarmTrigger struct {
	events.CloudWatchAlarmTrigger
	DatapointsToAlarm int64  `json:"DatapointsToAlarm"`
	ExtendedStatistic string `json:"ExtendedStatistic"` // a percentile ("p99") when StatisticType is ExtendedStatistic
}

// TriggeringChild is one child alarm whose change made a composite alarm change.
type TriggeringChild struct {
	ARN   string               `json:"Arn"`
	State TriggeringChildState `json:"State"`
}

// TriggeringChildState is a child alarm's state when it triggered its parent.
type TriggeringChildState struct {
	Value     string `json:"Value"`
	Timestamp string `json:"Timestamp"`
}

// AlarmStateChangeDetail is the detail of an EventBridge "CloudWatch Alarm State Change" event,
// and the alarmData of the payload an alarm's Lambda action sends. aws-lambda-go has no type for it.
type AlarmStateChangeDetail struct {
	AlarmName     string             `json:"alarmName"`
	State         AlarmState         `json:"state"`
	PreviousState AlarmState         `json:"previousState"`
	Configuration AlarmConfiguration `json:"configuration"`
}

// AlarmState is one state of an alarm. Timestamp is CloudWatch's "2019-10-02T17:04:40.989+0000"
// form (not RFC 3339). ReasonData is JSON inside a string.
type AlarmState struct {
	Value                   string `json:"value"`
	Reason                  string `json:"reason"`
	ReasonData              string `json:"reasonData,omitempty"`
	Timestamp               string `json:"timestamp"`
	ActionsSuppressedBy     string `json:"actionsSuppressedBy,omitempty"`
	ActionsSuppressedReason string `json:"actionsSuppressedReason,omitempty"`
}

// AlarmConfiguration is the part of an alarm's configuration state-change events carry. Metric
// alarms have Metrics (one, or several for metric math and anomaly detection); composite alarms
// have AlarmRule. EvaluationPeriods and DatapointsToAlarm are in "CloudWatch Alarm Configuration
// Change" events and may be in state changes; 0 when absent.
type AlarmConfiguration struct {
	Description       string             `json:"description,omitempty"`
	AlarmRule         string             `json:"alarmRule,omitempty"`
	Metrics           []AlarmMetricQuery `json:"metrics,omitempty"`
	EvaluationPeriods int64              `json:"evaluationPeriods,omitempty"`
	DatapointsToAlarm int64              `json:"datapointsToAlarm,omitempty"`
}

// AlarmMetricQuery is one metric or expression of an alarm: MetricStat is set for a metric,
// Expression for metric math or an anomaly detection band.
type AlarmMetricQuery struct {
	ID         string           `json:"id"`
	Expression string           `json:"expression,omitempty"`
	Label      string           `json:"label,omitempty"`
	ReturnData bool             `json:"returnData"`
	MetricStat *AlarmMetricStat `json:"metricStat,omitempty"`
}

// AlarmMetricStat is a metric with the period and statistic the alarm evaluates it at.
type AlarmMetricStat struct {
	Metric AlarmMetric `json:"metric"`
	Period int64       `json:"period"`
	Stat   string      `json:"stat"`
}

// AlarmMetric names a metric. Unlike the SNS message, dimensions are an object, name → value.
type AlarmMetric struct {
	Namespace  string            `json:"namespace"`
	Name       string            `json:"name"`
	Dimensions map[string]string `json:"dimensions"`
}

// AlarmActionEvent is the payload a CloudWatch alarm sends when its action is a Lambda function
// (no SNS, no EventBridge envelope). Time is in CloudWatch's "+0000" form, so it is kept as text.
type AlarmActionEvent struct {
	Source    string                 `json:"source"`
	AlarmArn  string                 `json:"alarmArn"`
	AccountID string                 `json:"accountId"`
	Time      string                 `json:"time"`
	Region    string                 `json:"region"`
	AlarmData AlarmStateChangeDetail `json:"alarmData"`
}
