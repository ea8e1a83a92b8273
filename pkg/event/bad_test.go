package event

import (
	"errors"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

const (
	okAlarmMsg = `{\"AlarmName\":\"a\",\"NewStateValue\":\"ALARM\",\"StateChangeTime\":\"2026-03-14T09:26:53.589+0000\"}`
	ebHead     = `"version":"0","id":"x","detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch","account":"123456789012","time":"2026-03-14T09:26:53Z","region":"us-east-1","resources":[]`
)

func snsWith(record string) string { return `{"Records":[` + record + `]}` }

func snsMsg(message string) string {
	return snsWith(`{"EventSource":"aws:sns","Sns":{"Type":"Notification","MessageId":"m","Message":"` + message + `"}}`)
}

func ebWith(detail string) string { return `{` + ebHead + `,"detail":` + detail + `}` }

// TestBadInputs: every payload here is refused (top-level error) or, where it is one broken unit
// of work inside a valid envelope, yields a single record whose Err says so. Either way the text
// names the problem and stays bounded.
func TestBadInputs(t *testing.T) {
	big := strings.Repeat("a", 1024)
	huge := `{"action":"status","reason":"` + strings.Repeat("x", 7<<20) + `"}`
	tests := []struct {
		name, in, want string
		recordErr      bool // the error is the single record's Err, not Decode's
	}{
		{"empty", ``, "payload is empty", false},
		{"whitespace", " \n\t ", "payload is empty", false},
		{"null", `null`, "payload is JSON null, want an object", false},
		{"array", `[]`, "payload is a JSON array, want an object", false},
		{"array of events", `[{"action":"status"}]`, "payload is a JSON array, want an object", false},
		{"string", `"str"`, "payload is a JSON string, want an object", false},
		{"number", `1`, "payload is a JSON number, want an object", false},
		{"boolean", `true`, "payload is a JSON boolean, want an object", false},
		{"empty object", `{}`, "payload is an empty JSON object; want one of", false},
		{"wrong shape", `{"hello":"world"}`, `keys "hello"; want one of: an SNS event`, false},
		{"not JSON", `hello`, "payload is not JSON: invalid JSON at byte 1", false},
		{"truncated", `{"action":"status"`, "payload is not JSON", false},
		{"trailing data", `{"action":"status"} {"action":"rollback"}`, "payload is not JSON: invalid JSON", false},
		{"7 MiB", huge, "more than 6291456 (6 MiB)", false},
		{"mixed shapes", `{"action":"status","Records":[]}`, "mixes the keys of several shapes (sns, command)", false},

		// Commands: every field with a wrong type, unknown fields, nulls, duplicates, bad values.
		{"action number", `{"action":1}`, "field action: want a string, got a JSON number", false},
		{"action object", `{"action":{"do":"rollback"}}`, "field action: want a string, got a JSON object", false},
		{"action null", `{"action":null}`, "field action is null", false},
		{"action empty", `{"action":""}`, "field action is missing", false},
		{"action unknown", `{"action":"destroy"}`, `action "destroy" is not one of status, rollback, deploy`, false},
		{"action wrong case", `{"action":"Rollback"}`, `action "Rollback" is not one of`, false},
		{"target number", `{"action":"status","target":42}`, "field target: want a string, got a JSON number", false},
		{"target array", `{"action":"status","target":["a/b"]}`, "field target: want a string, got a JSON array", false},
		{"target empty", `{"action":"status","target":""}`, "field target is empty", false},
		{"target no stage", `{"action":"status","target":"abc123"}`, `target "abc123": malformed (want restApiId/stage)`, false},
		{"target traversal", `{"action":"status","target":"../../etc/passwd"}`, `API id ".."`, false},
		{"target encoded slash", `{"action":"status","target":"abc%2F123/prod"}`, `API id "abc%2F123"`, false},
		{"target space", `{"action":"status","target":"abc 123/prod"}`, `API id "abc 123"`, false},
		{"target stage traversal", `{"action":"status","target":"abc123/../prod"}`, `stage "../prod"`, false},
		{"target fallback", `{"action":"rollback","target":"abc123/prod@dep1"}`, "a fallback deployment is set in TARGETS", false},
		{"target 1 KB", `{"action":"status","target":"` + big + `/prod"}`, `…(1029 bytes)`, false},
		{"deploymentId number", `{"action":"deploy","deploymentId":7}`, "field deploymentId: want a string, got a JSON number", false},
		{"deploymentId traversal", `{"action":"deploy","deploymentId":"../abc"}`, `deploymentId: deployment id "../abc": malformed`, false},
		{"deploymentId encoded", `{"action":"deploy","deploymentId":"abc%2F"}`, `deployment id "abc%2F"`, false},
		{"deploymentId space", `{"action":"deploy","deploymentId":"abc def"}`, `deployment id "abc def"`, false},
		{"deploymentId 1 KB", `{"action":"deploy","deploymentId":"` + big + `"}`, `…(1024 bytes)`, false},
		{"deploymentId empty", `{"action":"deploy","deploymentId":""}`, "field deploymentId is empty", false},
		{"deploymentId on status", `{"action":"status","deploymentId":"abc123"}`, "deploymentId is only for action deploy, not status", false},
		{"deploy without id", `{"action":"deploy"}`, "action deploy needs deploymentId", false},
		{"dryRun string", `{"action":"rollback","dryRun":"false"}`, "field dryRun: want a boolean, got a JSON string", false},
		{"dryRun number", `{"action":"rollback","dryRun":0}`, "field dryRun: want a boolean, got a JSON number", false},
		{"dryRun null", `{"action":"rollback","dryRun":null}`, "field dryRun is null", false},
		{"force string", `{"action":"rollback","force":"yes"}`, "field force: want a boolean, got a JSON string", false},
		{"reason number", `{"action":"rollback","reason":5}`, "field reason: want a string, got a JSON number", false},
		{"reason too long", `{"action":"rollback","reason":"` + strings.Repeat("r", 257) + `"}`, "reason is 257 bytes, more than 256", false},
		{"reason control", `{"action":"rollback","reason":"ok\u001b[31mred"}`, "contains control or formatting characters", false},
		{"reason newline", `{"action":"rollback","reason":"line1\nline2"}`, "contains control or formatting characters", false},
		{"reason bidi override", `{"action":"rollback","reason":"abc\u202Edef"}`, "contains control or formatting characters", false},
		{"reason bad UTF-8", "{\"action\":\"rollback\",\"reason\":\"\xff\xfe\"}", "reason is not valid UTF-8", false},
		{"reason lone surrogate", `{"action":"rollback","reason":"\udc00"}`, "reason is not valid UTF-8", false},
		{"unknown field", `{"action":"status","verbose":true}`, `unknown field "verbose"; fields are action, target`, false},
		{"field wrong case", `{"action":"deploy","deploymentID":"abc"}`, `unknown field "deploymentID" (did you mean "deploymentId"?)`, false},
		{"duplicate field", `{"action":"status","action":"rollback"}`, "field action appears twice", false},

		// SNS.
		{"Records null", `{"Records":null}`, "Records is JSON null, want an array", false},
		{"Records object", `{"Records":{}}`, "Records is a JSON object, want an array", false},
		{"Records empty", `{"Records":[]}`, "Records is empty", false},
		{"record is a string", snsWith(`"x"`), "Records[0]: is a JSON string, want an object", true},
		{"EventSource number", snsWith(`{"EventSource":1}`), "Records[0]: field EventSource: want a string, got a JSON number", true},
		{"Sns missing", snsWith(`{"EventSource":"aws:sns"}`), "Records[0]: Sns is missing", true},
		{"Sns string", snsWith(`{"EventSource":"aws:sns","Sns":"x"}`), "Records[0]: Sns is a JSON string, want an object", true},
		{"Message not a string", snsWith(`{"EventSource":"aws:sns","Sns":{"Message":{"AlarmName":"a"}}}`), "Records[0]: field Sns.Message: want a string, got a JSON object", true},
		{"Sns Timestamp bad", snsWith(`{"EventSource":"aws:sns","Sns":{"Timestamp":"yesterday","Message":"x"}}`), `Records[0]: Sns.Timestamp: time "yesterday" is not an RFC 3339 time`, true},
		{"alarm missing state", snsMsg(`{\"AlarmName\":\"a\",\"StateChangeTime\":\"2026-03-14T09:26:53Z\"}`), "Records[0]: NewStateValue is missing", true},
		{"alarm missing name", snsMsg(`{\"NewStateValue\":\"ALARM\",\"StateChangeTime\":\"2026-03-14T09:26:53Z\"}`), "Records[0]: AlarmName is missing", true},
		{"alarm bad state", snsMsg(`{\"AlarmName\":\"a\",\"NewStateValue\":\"FIRING\",\"StateChangeTime\":\"2026-03-14T09:26:53Z\"}`), `NewStateValue "FIRING" is not ALARM, OK or INSUFFICIENT_DATA`, true},
		{"alarm lower-case state", snsMsg(`{\"AlarmName\":\"a\",\"NewStateValue\":\"alarm\",\"StateChangeTime\":\"2026-03-14T09:26:53Z\"}`), `NewStateValue "alarm" is not`, true},
		{"alarm bad old state", snsMsg(`{\"AlarmName\":\"a\",\"NewStateValue\":\"OK\",\"OldStateValue\":\"?\",\"StateChangeTime\":\"2026-03-14T09:26:53Z\"}`), `OldStateValue "?" is not`, true},
		{"alarm missing time", snsMsg(`{\"AlarmName\":\"a\",\"NewStateValue\":\"ALARM\"}`), "StateChangeTime is missing", true},
		{"alarm epoch time", snsMsg(`{\"AlarmName\":\"a\",\"NewStateValue\":\"ALARM\",\"StateChangeTime\":\"1433353407\"}`), `StateChangeTime "1433353407" is not a time`, true},
		{"alarm long time", snsMsg(`{\"AlarmName\":\"a\",\"NewStateValue\":\"ALARM\",\"StateChangeTime\":\"` + big + `\"}`), `StateChangeTime "aaaa`, true},
		{"alarm name number", snsMsg(`{\"AlarmName\":7,\"NewStateValue\":\"ALARM\"}`), "alarm message: field AlarmName: want a string, got a JSON number", true},
		{"alarm name control", snsMsg(`{\"AlarmName\":\"a\\u0000b\",\"NewStateValue\":\"ALARM\",\"StateChangeTime\":\"2026-03-14T09:26:53Z\"}`), "AlarmName \"a\\x00b\" contains control characters", true},
		{"alarm name too long", snsMsg(`{\"AlarmName\":\"` + strings.Repeat("n", 256) + `\",\"NewStateValue\":\"ALARM\",\"StateChangeTime\":\"2026-03-14T09:26:53Z\"}`), "is longer than 255 characters", true},
		{"alarm bad ARN", snsMsg(`{\"AlarmName\":\"a\",\"NewStateValue\":\"ALARM\",\"StateChangeTime\":\"2026-03-14T09:26:53Z\",\"AlarmArn\":\"arn:aws:sns:us-east-1:1:topic\"}`), `AlarmArn "arn:aws:sns:us-east-1:1:topic" is not a CloudWatch alarm ARN`, true},
		{"alarm dimensions object", snsMsg(`{\"AlarmName\":\"a\",\"NewStateValue\":\"ALARM\",\"Trigger\":{\"Dimensions\":{\"ApiName\":\"x\"}}}`), "field Trigger.Dimensions: want an array, got a JSON object", true},
		{"alarm truncated JSON", snsMsg(`{\"AlarmName\":\"a\",\"NewStateValue\":\"AL`), "alarm message is not JSON", true},

		// EventBridge and the alarm action.
		{"detail string", ebWith(`"{\"alarmName\":\"a\"}"`), "detail is a JSON string, want an object", false},
		{"detail null", ebWith(`null`), "detail is JSON null, want an object", false},
		{"detail missing", `{` + ebHead + `}`, "EventBridge alarm state change has no detail", false},
		{"detail alarmData", `{` + ebHead + `,"alarmData":{}}`, "has no detail (it has alarmData", false},
		{"detail state not object", ebWith(`{"alarmName":"a","state":"ALARM"}`), "detail: field state: want an object, got a JSON string", false},
		{"detail missing timestamp", ebWith(`{"alarmName":"a","state":{"value":"ALARM"}}`), "detail.state.timestamp is missing", false},
		{"detail bad state", ebWith(`{"alarmName":"a","state":{"value":"BAD","timestamp":"2026-03-14T09:26:53.589+0000"}}`), `detail.state.value "BAD" is not`, false},
		{"detail missing name", ebWith(`{"state":{"value":"ALARM","timestamp":"2026-03-14T09:26:53.589+0000"}}`), "detail.alarmName is missing", false},
		{"detail dimensions array", ebWith(`{"alarmName":"a","state":{"value":"ALARM","timestamp":"2026-03-14T09:26:53.589+0000"},"configuration":{"metrics":[{"metricStat":{"metric":{"dimensions":[{"name":"ApiName","value":"x"}]}}}]}}`), "want an object, got a JSON array", false},
		{"detail-type number", `{"detail-type":1,"source":"aws.cloudwatch","detail":{}}`, "field detail-type: want a string, got a JSON number", false},
		{"EventBridge no source", `{"detail-type":"CloudWatch Alarm State Change","detail":{}}`, "source is missing", false},
		{"EventBridge bad time", `{"detail-type":"Scheduled Event","source":"aws.events","time":"now"}`, `field time: time "now" is not an RFC 3339 time`, false},
		{"alarm action wrong source", `{"source":"my.app","alarmData":{}}`, `source "my.app", want aws.cloudwatch`, false},
		{"alarm action data string", `{"source":"aws.cloudwatch","alarmData":"x"}`, "field alarmData: want an object, got a JSON string", false},
		{"alarm action data null", `{"source":"aws.cloudwatch","alarmData":null}`, "alarmData is JSON null, want an object", false},
		{"alarm action bad ARN", `{"source":"aws.cloudwatch","alarmArn":"arn:aws:cloudwatch:us-east-1: 1:alarm:x","alarmData":{"alarmName":"x","state":{"value":"ALARM","timestamp":"2026-03-14T09:26:53.589+0000"}}}`, `alarmArn "arn:aws:cloudwatch:us-east-1: 1:alarm:x" is not a CloudWatch alarm ARN`, false},

		// Bare alarm message and SNS envelope.
		{"bare alarm no time", `{"AlarmName":"a","NewStateValue":"OK"}`, "StateChangeTime is missing", true},
		{"bare alarm name only", `{"AlarmName":"a"}`, "NewStateValue is missing", true},
		{"envelope message number", `{"Type":"Notification","Message":5}`, "SNS notification: field Message: want a string, got a JSON number", false},
	}
	if len(tests) < 30 {
		t.Fatalf("only %d bad inputs", len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, recs, err := Decode([]byte(tc.in))
			checkInvariants(t, recs, err)
			if tc.recordErr {
				if err != nil {
					t.Fatalf("Decode error %v, want a record error %q", err, tc.want)
				}
				if len(recs) != 1 || recs[0].Err == nil {
					t.Fatalf("want one record with Err %q, got %+v", tc.want, recs)
				}
				err = recs[0].Err
			} else if err == nil {
				t.Fatalf("no error, want %q; records %+v", tc.want, recs)
			}
			checkErr(t, err, tc.want)
			if len(tc.in) > 2000 && len(err.Error()) > 600 {
				t.Errorf("error echoes too much of a %d-byte input: %d bytes", len(tc.in), len(err.Error()))
			}
		})
	}
}

func TestCommandErrorsWrapTargetErrors(t *testing.T) {
	for _, in := range []string{`{"action":"status","target":"../x/prod"}`, `{"action":"deploy","deploymentId":"../x"}`} {
		_, _, err := Decode([]byte(in))
		if !errors.Is(err, ErrBadInput) || !errors.Is(err, target.ErrMalformed) {
			t.Errorf("%s: %v does not wrap both ErrBadInput and target.ErrMalformed", in, err)
		}
	}
}

func TestCommandValidate(t *testing.T) {
	f := false
	good := []Command{
		{Action: "status"},
		{Action: "rollback", Target: "abc123/prod", DryRun: &f, Force: true, Reason: "5xx après déploiement 🚒"},
		{Action: "deploy", Target: "abc123/prod_v2-b", DeploymentID: "k7x2p9"},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if err := (Command{Action: "status", Reason: strings.Repeat("é", 129)}).Validate(); err == nil {
		t.Error("a 258-byte reason passed")
	}
	for _, a := range rollback.Actions {
		c := Command{Action: a}
		if a == "deploy" {
			c.DeploymentID = "abc"
		}
		if err := c.Validate(); err != nil {
			t.Errorf("known action %s: %v", a, err)
		}
	}
}

// Non-alarm traffic on the topic is ignored, not an error, and never mistaken for an alarm.
func TestIgnoredMessages(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"SQS record", snsWith(`{"eventSource":"aws:sqs","body":"{}"}`), `record from "aws:sqs", not aws:sns`},
		{"no EventSource", snsWith(`{"Sns":{"Message":"` + okAlarmMsg + `"}}`), "record has no EventSource"},
		{"unsubscribe", snsWith(`{"EventSource":"aws:sns","Sns":{"Type":"UnsubscribeConfirmation","Message":"bye"}}`), "SNS UnsubscribeConfirmation"},
		{"odd SNS type", snsWith(`{"EventSource":"aws:sns","Sns":{"Type":"Other","Message":"` + okAlarmMsg + `"}}`), `SNS message of type "Other", not Notification`},
		{"empty message", snsMsg(``), "message is empty"},
		{"JSON number message", snsMsg(`42`), "message is a JSON number, not a CloudWatch alarm"},
		{"JSON array message", snsMsg(`[1]`), "message is a JSON array"},
		{"text with alarm words", snsMsg(`ALARM: NewStateValue went to ALARM`), "message is not JSON"},
		{"broken non-alarm JSON", snsMsg(`{\"Event\":`), "message is not JSON, not a CloudWatch alarm"},
		{"EventBridge other event via SNS", snsMsg(`{\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\",\"detail\":{}}`), `EventBridge "EC2 Instance State-change Notification" from "aws.ec2"`},
		{"alarm state change from custom source", ebWith(`{}`)[:0] + `{"detail-type":"CloudWatch Alarm State Change","source":"my.app","detail":{}}`, `from "my.app", not aws.cloudwatch`},
		{"schedule from custom source", `{"detail-type":"Scheduled Event","source":"my.app","detail":{}}`, `EventBridge "Scheduled Event" from "my.app" is not an alarm state change`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, recs, err := Decode([]byte(tc.in))
			checkInvariants(t, recs, err)
			if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Ignored, tc.want) {
				t.Errorf("err %v records %+v, want one ignored %q", err, recs, tc.want)
			}
		})
	}
}

func TestDecodeAlarmMessageRefusesOtherShapes(t *testing.T) {
	for in, want := range map[string]string{
		`Hello from SNS!`:     "not an alarm message: message is not JSON",
		`{"action":"status"}`: `not an alarm message: JSON message is not a CloudWatch alarm: keys "action"`,
		`{"detail-type":"Scheduled Event","source":"aws.events"}`: "not an alarm message: an EventBridge scheduled event",
		`{"AlarmName":"a","NewStateValue":"ALARM"}`:               "StateChangeTime is missing",
	} {
		_, err := DecodeAlarmMessage([]byte(in))
		if err == nil {
			t.Errorf("%s: no error", in)
			continue
		}
		checkErr(t, err, want)
	}
}

// Hand-written and AWS variants of the alarm message that must decode.
func TestAlarmMessageVariants(t *testing.T) {
	for name, in := range map[string]string{
		"RFC 3339 Z, no OldStateValue": `{"AlarmName":"a","NewStateValue":"ALARM","StateChangeTime":"2026-03-14T09:26:53Z"}`,
		"unknown fields and nulls": `{"AlarmName":"a","NewStateValue":"OK","StateChangeTime":"2026-03-14T09:26:53.589+0000","AlarmDescription":null,
			"ActionExecutedAfterMuteWindow":false,"SomethingNew":{"nested":[1,2]},"Trigger":{"Unit":null,"Threshold":null,"Dimensions":null}}`,
		"capitalised dimension keys": `{"AlarmName":"a","NewStateValue":"OK","StateChangeTime":"2026-03-14T09:26:53Z","Trigger":{"Dimensions":[{"Name":"ApiName","Value":"x"}]}}`,
		"UTF-8 name":                 `{"AlarmName":"注文API 5xx","NewStateValue":"ALARM","StateChangeTime":"2026-03-14T09:26:53Z"}`,
	} {
		t.Run(name, func(t *testing.T) {
			a, err := DecodeAlarmMessage([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, []Record{{Source: "x", Alarm: &a}}, nil)
		})
	}
	a, _ := DecodeAlarmMessage([]byte(`{"AlarmName":"a","NewStateValue":"OK","StateChangeTime":"2026-03-14T09:26:53Z","Trigger":{"Dimensions":[{"Name":"ApiName","Value":"x"}]}}`))
	if v, _ := a.Dimension("ApiName"); v != "x" {
		t.Errorf("ApiName = %q", v)
	}
}
