// Package event decodes one Lambda invocation payload into what Rewind acts on: alarm state
// changes, manual commands and schedule ticks. It never calls AWS and never panics; every error
// wraps ErrBadInput, names the field at fault and quotes at most a short, escaped excerpt of input.
//
// Decode tells the shapes apart by their top-level keys:
//
//   - "Records": a Lambda SNS event (CloudWatch alarm → SNS topic → Lambda). Every record is read.
//     Records[i].Sns.Message is the JSON text of an alarm message (see AlarmMessage); a record from
//     another event source, a subscription confirmation, a plain-text message (AWS Budgets, "Hello
//     from SNS!") or another service's JSON (Auto Scaling, DMS, ElastiCache…) is Ignored; a message
//     that claims to be an alarm but is broken is the record's Err. A message that is an EventBridge
//     event (an EventBridge rule targeting the topic) is read as EventBridge.
//   - "detail-type" and "source": an EventBridge event. "CloudWatch Alarm State Change" from
//     aws.cloudwatch is an alarm (detail: AlarmStateChangeDetail, dimensions as an object);
//     "Scheduled Event" from aws.events is a schedule tick (Kind "schedule"); any other detail-type,
//     such as "CloudWatch Alarm Configuration Change", is Ignored. A broken alarm state change is
//     an error.
//   - "alarmData" with source aws.cloudwatch and no detail-type: the payload an alarm's own Lambda
//     action sends (AlarmActionEvent). A broken one is an error.
//   - "action": a manual command from `aws lambda invoke` (Command), read strictly: unknown or
//     repeated fields, nulls, wrong types, trailing data, unknown actions and malformed ids are errors.
//   - "Type" and "Message" without "Records": one SNS notification as HTTP(S) and SQS subscribers
//     receive it; the Message is read as in an SNS event.
//   - "AlarmName" or "NewStateValue": a bare alarm message (raw message delivery, a pasted test).
//
// A payload that mixes two shapes, is not a JSON object, is empty or is larger than 6 MiB is an
// error. Alarm messages are lenient about fields Rewind does not know (AWS keeps adding some) but
// strict about the values it relies on: the alarm name, the state (ALARM, OK or
// INSUFFICIENT_DATA), the state-change time ("2015-06-03T17:43:27.123+0000" or RFC 3339) and,
// when present, the alarm ARN.
//
// An Alarm keeps each metric's dimensions apart (Metrics: a metric-math alarm over two APIs has two
// metrics naming two ApiName values) besides the merged Dimensions, and says what the alarm measured
// (Evidence: the trigger's period and evaluation settings and the datapoints the reason and
// reasonData give, with their period's start). Reading the evidence never fails a decode.
package event
