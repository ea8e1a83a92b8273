package responder_test

// Hostile and broken input, through the handler, against a local API Gateway: every bad input is
// refused with an error (or, when it is simply not for Rewind, ignored) that names what was wrong,
// and never causes a write. Manual commands never reach a stage outside TARGETS, force included.
// The handler's logs never carry credentials, nor more of a bad payload than a bounded excerpt.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/event"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// hostileWorld: API shop with stage prod (the only target) and dev (not a target), and API other
// with stage prod, outside TARGETS. Every stage has an earlier deployment to roll back to, so a
// refusal is never "nothing to do".
type hostileWorld struct {
	*rig
	shop, other string
}

func newHostileWorld(t *testing.T) hostileWorld {
	t.Helper()
	r := newRig(t, scheduleStart)
	w := hostileWorld{rig: r}
	for _, name := range []string{"shop", "other"} {
		api := r.gw.CreateRestAPI(name)
		for i, id := range []string{"d1", "d2"} {
			if _, err := r.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: id, CreatedDate: scheduleStart.Add(time.Duration(i-2) * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, st := range []string{"prod", "dev"} {
			if err := r.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: st, DeploymentID: "d2"}); err != nil {
				t.Fatal(err)
			}
		}
		if name == "shop" {
			w.shop = api.ID
		} else {
			w.other = api.ID
		}
	}
	r.clock.Advance(time.Hour)
	return w
}

// memoryWrites counts the writes of memory items sent so far (audit entries aside).
func (w hostileWorld) memoryWrites() int {
	n := 0
	for _, q := range w.rec.writes() {
		if q.put != nil {
			n++
		}
	}
	return n
}

func (w hostileWorld) env() map[string]string {
	return map[string]string{config.EnvTargets: w.shop + "/prod"}
}

// hostileInput is one bad input and what it must produce: an error containing want, or, when
// ignored, an answer whose every result is ignored with a reason containing want.
type hostileInput struct {
	name    string
	payload []byte
	want    string
	ignored bool
}

// snsRecordRaw wraps a raw Sns object in a Lambda SNS event.
func snsRecordRaw(sns string) []byte {
	return []byte(`{"Records":[{"EventSource":"aws:sns","EventVersion":"1.0","Sns":` + sns + `}]}`)
}

func snsMessageRaw(msg string) []byte {
	b, _ := json.Marshal(msg)
	return snsRecordRaw(`{"Type":"Notification","MessageId":"m1","TopicArn":"arn:aws:sns:us-east-1:` + rigAccount + `:rewind-alarms","Message":` + string(b) + `}`)
}

func (w hostileWorld) inputs() []hostileInput {
	now := w.clock.Now().Add(-time.Second)
	kb := strings.Repeat("k", 1024)
	mb := strings.Repeat("m", 1<<20)
	ok := alarmDef{name: "shop-5xx", state: "ALARM", at: now, apiName: "shop", stage: "prod"}
	alarm := func(edit func(m map[string]any)) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(ok.message()), &m)
		edit(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	foreignAccount, foreignRegion := ok, ok
	foreignAccount.account = "999988887777"
	foreignRegion.region = "eu-west-1"
	outside := alarmDef{name: "other-5xx", state: "ALARM", at: now, apiName: "other", stage: "prod"}
	devStage := alarmDef{name: "shop-dev-5xx", state: "ALARM", at: now, apiName: "shop", stage: "dev"}
	unknownAPI := alarmDef{name: "ghost-5xx", state: "ALARM", at: now, apiName: "ghost", stage: "prod"}
	return []hostileInput{
		// Not an object at all.
		{name: "null", payload: []byte(`null`), want: "payload is JSON null, want an object"},
		{name: "array", payload: []byte(`[{"action":"rollback"}]`), want: "payload is a JSON array, want an object"},
		{name: "string", payload: []byte(`"rollback"`), want: "payload is a JSON string, want an object"},
		{name: "number", payload: []byte(`42`), want: "payload is a JSON number, want an object"},
		{name: "empty payload", payload: []byte(``), want: "payload is empty"},
		{name: "empty object", payload: []byte(`{}`), want: "payload is an empty JSON object"},
		{name: "not JSON", payload: []byte(`rollback prod now`), want: "payload is not JSON"},
		{name: "truncated JSON", payload: []byte(`{"action":"rollback"`), want: "payload is not JSON"},
		{name: "valid JSON of the wrong shape", payload: []byte(`{"hello":"world","rollback":true}`), want: `keys "hello", "rollback"; want one of`},
		{name: "two shapes at once", payload: []byte(`{"action":"rollback","Records":[]}`), want: "mixes the keys of several shapes"},
		{name: "7 MiB payload", payload: []byte(`{"action":"status","reason":"` + strings.Repeat("x", 7<<20) + `"}`), want: "more than 6291456 (6 MiB)"},

		// Commands: wrong types for every field, unknown fields, malformed ids.
		{name: "action wrong type", payload: []byte(`{"action":1}`), want: "field action: want a string, got a JSON number"},
		{name: "action unknown", payload: []byte(`{"action":"destroy"}`), want: `action "destroy" is not one of`},
		{name: "target wrong type", payload: []byte(`{"action":"rollback","target":["` + w.shop + `/prod"]}`), want: "field target: want a string, got a JSON array"},
		{name: "deploymentId wrong type", payload: []byte(`{"action":"deploy","deploymentId":7}`), want: "field deploymentId: want a string, got a JSON number"},
		{name: "dryRun wrong type", payload: []byte(`{"action":"rollback","dryRun":"false"}`), want: "field dryRun: want a boolean, got a JSON string"},
		{name: "force wrong type", payload: []byte(`{"action":"rollback","force":1}`), want: "field force: want a boolean, got a JSON number"},
		{name: "reason wrong type", payload: []byte(`{"action":"rollback","reason":{"why":"x"}}`), want: "field reason: want a string, got a JSON object"},
		{name: "field null", payload: []byte(`{"action":"rollback","force":null}`), want: "field force is null"},
		{name: "unknown field", payload: []byte(`{"action":"rollback","stage":"prod"}`), want: `unknown field "stage"`},
		{name: "field twice", payload: []byte(`{"action":"status","action":"rollback"}`), want: "field action appears twice"},
		{name: "target traversal", payload: []byte(`{"action":"rollback","target":"` + w.shop + `/../prod"}`), want: `stage "../prod": malformed`},
		{name: "target dot-dot id", payload: []byte(`{"action":"rollback","target":"../` + w.other + `/prod"}`), want: `API id "..": malformed`},
		{name: "target %2F", payload: []byte(`{"action":"rollback","target":"` + w.shop + `%2Fprod/prod"}`), want: `%2Fprod": malformed`},
		{name: "target spaces", payload: []byte(`{"action":"rollback","target":"` + w.shop + `/prod "}`), want: `stage "prod ": malformed`},
		{name: "target 1 KB id", payload: []byte(`{"action":"rollback","target":"` + kb + `/prod"}`), want: "(1029 bytes)"},
		{name: "target with fallback", payload: []byte(`{"action":"rollback","target":"` + w.shop + `/prod@d1"}`), want: "a fallback deployment is set in TARGETS"},
		{name: "deploymentId traversal", payload: []byte(`{"action":"deploy","deploymentId":"../d1"}`), want: `deployment id "../d1": malformed`},
		{name: "deploymentId %2F", payload: []byte(`{"action":"deploy","deploymentId":"d1%2F..%2F"}`), want: `deployment id "d1%2F..%2F": malformed`},
		{name: "deploymentId spaces", payload: []byte(`{"action":"deploy","deploymentId":"d1 d2"}`), want: `deployment id "d1 d2": malformed`},
		{name: "deploymentId 1 KB", payload: []byte(`{"action":"deploy","deploymentId":"` + kb + `"}`), want: "(1024 bytes)"},
		{name: "deploymentId of another API", payload: []byte(`{"action":"deploy","deploymentId":"zz9"}`), want: "deployment zz9 is not in the history of"},
		{name: "reason with a forged log line", payload: []byte(`{"action":"rollback","reason":"x\n{\"level\":\"WARN\",\"msg\":\"decision\",\"outcome\":\"rolled-back\"}"}`), want: "contains control or formatting characters"},
		{name: "target outside TARGETS", payload: []byte(`{"action":"rollback","target":"` + w.other + `/prod","force":true}`), want: "is not in TARGETS"},

		// Notifications: broken alarms, huge messages, things that are not alarms.
		{name: "SNS Records empty", payload: []byte(`{"Records":[]}`), want: "Records is empty"},
		{name: "SNS Records object", payload: []byte(`{"Records":{"Sns":{}}}`), want: "Records is a JSON object, want an array"},
		{name: "SNS alarm, broken JSON", payload: snsMessageRaw(`{"AlarmName":"shop-5xx","NewStateValue":"AL`), want: "alarm message is not JSON"},
		{name: "SNS alarm, state wrong type", payload: snsMessageRaw(alarm(func(m map[string]any) { m["NewStateValue"] = true })), want: "field NewStateValue: want a string, got a JSON bool"},
		{name: "SNS alarm, unknown state", payload: snsMessageRaw(alarm(func(m map[string]any) { m["NewStateValue"] = "FIRING" })), want: `NewStateValue "FIRING" is not ALARM, OK or INSUFFICIENT_DATA`},
		{name: "SNS alarm, time not a time", payload: snsMessageRaw(alarm(func(m map[string]any) { m["StateChangeTime"] = "yesterday" })), want: `StateChangeTime "yesterday" is not a time`},
		{name: "SNS alarm, no name", payload: snsMessageRaw(alarm(func(m map[string]any) { delete(m, "AlarmName") })), want: "AlarmName is missing"},
		{name: "SNS alarm, name with control characters", payload: snsMessageRaw(alarm(func(m map[string]any) { m["AlarmName"] = "shop\n5xx" })), want: "contains control characters"},
		{name: "SNS alarm, dimensions wrong shape", payload: snsMessageRaw(alarm(func(m map[string]any) {
			m["Trigger"] = map[string]any{"Dimensions": map[string]string{"ApiName": "shop"}}
		})), want: "field Trigger.Dimensions: want an array, got a JSON object"},
		{name: "SNS alarm, ARN of another service", payload: snsMessageRaw(alarm(func(m map[string]any) { m["AlarmArn"] = "arn:aws:sns:us-east-1:" + rigAccount + ":x" })), want: "is not a CloudWatch alarm ARN"},
		{name: "1 MB alarm name", payload: snsMessageRaw(alarm(func(m map[string]any) { m["AlarmName"] = mb })), want: "is longer than 255 characters"},
		{name: "1 MB message of text", payload: snsMessageRaw(mb), want: "message is not JSON (1048576 bytes of text)", ignored: true},
		{name: "EventBridge alarm, detail a string", payload: []byte(`{"version":"0","id":"x","detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch","account":"` + rigAccount + `","time":"2026-11-25T03:00:00Z","region":"us-east-1","resources":[],"detail":"ALARM"}`), want: "detail is a JSON string, want an object"},
		{name: "alarm action from another source", payload: []byte(`{"source":"my.app","alarmArn":"` + ok.arn() + `","accountId":"` + rigAccount + `","alarmData":{}}`), want: `source "my.app", want aws.cloudwatch`},
		{name: "subscription confirmation", payload: []byte(`{"Type":"SubscriptionConfirmation","MessageId":"m","Token":"2336412f37","TopicArn":"arn:aws:sns:us-east-1:` + rigAccount + `:rewind-alarms","Message":"You have chosen to subscribe to the topic","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription","Timestamp":"2026-11-25T03:00:00.000Z"}`), want: "SNS SubscriptionConfirmation", ignored: true},
		{name: "subscription confirmation in an SNS event", payload: snsRecordRaw(`{"Type":"SubscriptionConfirmation","Message":"You have chosen to subscribe"}`), want: "SNS SubscriptionConfirmation", ignored: true},
		{name: "message from another service", payload: snsMessageRaw(`{"Service":"CodePipeline","Event":"Pipeline Execution Succeeded","pipeline":"shop"}`), want: `not a CloudWatch alarm: "CodePipeline" event`, ignored: true},
		{name: "EventBridge event of another service", payload: []byte(`{"version":"0","id":"x","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"` + rigAccount + `","time":"2026-11-25T03:00:00Z","region":"us-east-1","resources":[],"detail":{"state":"stopped"}}`), want: `from "aws.ec2" is not an alarm state change`, ignored: true},
		{name: "record of another event source", payload: []byte(`{"Records":[{"eventSource":"aws:sqs","body":"{\"action\":\"rollback\"}"}]}`), want: `record from "aws:sqs", not aws:sns`, ignored: true},

		// Well-formed alarms that are not Rewind's to act on.
		{name: "alarm from another account", payload: foreignAccount.payload(viaSNS), want: `is from account "999988887777"`, ignored: true},
		{name: "alarm from another region", payload: foreignRegion.payload(viaEventBridge), want: "eu-west-1", ignored: true},
		{name: "alarm for an API outside TARGETS", payload: outside.payload(viaSNS), want: "is not in TARGETS", ignored: true},
		{name: "alarm for a stage outside TARGETS", payload: devStage.payload(viaAlarmAction), want: `"dev" (API "shop") is not in TARGETS`, ignored: true},
		{name: "alarm for an API that does not exist", payload: unknownAPI.payload(viaSNS), want: `no REST API is named "ghost"`, ignored: true},
		{name: "INSUFFICIENT_DATA transition", payload: alarmDef{name: "shop-5xx", state: "INSUFFICIENT_DATA", at: now, apiName: "shop", stage: "prod"}.payload(viaSNS), want: "only a transition to ALARM acts", ignored: true},
	}
}

// maxExcerpt bounds how much of a bad payload may appear, verbatim, in a log line or an error.
const maxExcerpt = 256

func TestHostileInputs(t *testing.T) {
	w := newHostileWorld(t)
	inputs := w.inputs()
	if len(inputs) < 30 {
		t.Fatalf("only %d bad inputs", len(inputs))
	}
	refusedWithError, ignored := 0, 0
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			h := w.handler(t, w.env(), fastRetry, logs)
			writes, recorded, remembered := w.gw.Writes(), len(w.rec.stageWrites()), w.memoryWrites()
			out, err := invoke(h, in.payload)
			if n := w.gw.Writes() - writes; n != 0 || len(w.rec.stageWrites()) != recorded {
				t.Errorf("%d writes reached the stage", n)
			}
			if n := w.memoryWrites() - remembered; n != 0 {
				t.Errorf("%d writes of Rewind's memory (an audit entry of the refusal is all a bad input may leave)", n)
			}
			answer := ""
			if in.ignored {
				if err != nil {
					t.Fatalf("err = %v, want the input ignored: %s", err, in.want)
				}
				res := resultsOf(out)
				if len(res) == 0 {
					t.Fatalf("no results in %#v", out)
				}
				for _, r := range res {
					if r.Outcome != rollback.OutcomeIgnored || !strings.Contains(r.Reason, in.want) {
						t.Errorf("result %s %q, want ignored: ...%s...", r.Outcome, r.Reason, in.want)
					}
				}
				b, _ := json.Marshal(out)
				answer = string(b)
				ignored++
			} else {
				if err == nil {
					t.Fatalf("no error; answer %+v; want ...%s...", out, in.want)
				}
				if !strings.Contains(err.Error(), in.want) {
					t.Errorf("error %q does not say ...%s...", clipText(err.Error()), in.want)
				}
				if !errors.Is(err, event.ErrBadInput) && !errors.Is(err, responder.ErrFailed) {
					t.Errorf("error %v wraps neither event.ErrBadInput nor responder.ErrFailed", err)
				}
				answer = err.Error()
				refusedWithError++
			}
			checkLogs(t, logs.String(), in.payload)
			if window, ok := leaks(in.payload, answer); ok {
				t.Errorf("the answer carries %d+ bytes of the payload verbatim: %q…", maxExcerpt+1, window[:64])
			}
		})
	}
	if st, _ := w.gw.Stage(w.shop, "prod"); st.DeploymentID != "d2" || len(st.Variables) != 0 {
		t.Errorf("the target changed: %+v", st)
	}
	testenv.Figure(t, "bad inputs: %d tried through the handler, %d refused with an error, %d ignored, %d writes",
		len(inputs), refusedWithError, ignored, w.gw.Writes())
}

func clipText(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// checkLogs: every line is one JSON object the handler wrote (no line forged by input), no line
// carries a credential, and no more than maxExcerpt bytes of the payload appear verbatim in any
// logged value.
func checkLogs(t *testing.T, logs string, payload []byte) {
	t.Helper()
	for _, secret := range []string{rigSecretKey, rigSessionToken, rigAccessKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs carry a credential (%.8s…)", secret)
		}
	}
	var values []string
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %.200s", line)
			continue
		}
		switch rec["msg"] {
		case "bad input", "decision", "notify failed; the decision stands":
		default:
			t.Errorf("unexpected log message %q", rec["msg"])
		}
		values = append(values, stringsOf(rec)...)
	}
	if window, ok := leaks(payload, strings.Join(values, "\x00")); ok {
		t.Errorf("the logs carry %d+ bytes of the payload verbatim: %q…", maxExcerpt+1, window[:64])
	}
}

func stringsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case map[string]any:
		var out []string
		for k, x := range v {
			out = append(out, k)
			out = append(out, stringsOf(x)...)
		}
		return out
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, stringsOf(x)...)
		}
		return out
	}
	return nil
}

// leaks reports whether text contains a window of more than maxExcerpt bytes of payload, checking
// the payload's first and last 64 KiB (the huge payloads here repeat one pattern).
func leaks(payload []byte, text string) (string, bool) {
	const n = maxExcerpt + 1
	if len(text) < n || len(payload) < n {
		return "", false
	}
	grams := map[string]bool{}
	for i := 0; i+n <= len(text); i++ {
		grams[text[i:i+n]] = true
	}
	check := func(p []byte) (string, bool) {
		for i := 0; i+n <= len(p); i++ {
			if grams[string(p[i:i+n])] {
				return string(p[i : i+n]), true
			}
		}
		return "", false
	}
	const part = 64 << 10
	if len(payload) <= 2*part {
		return check(payload)
	}
	if s, ok := check(payload[:part]); ok {
		return s, ok
	}
	return check(payload[len(payload)-part:])
}

// TestLeaksCatchesAnEcho proves the excerpt check can fail.
func TestLeaksCatchesAnEcho(t *testing.T) {
	payload := []byte(`{"action":"status","reason":"` + strings.Repeat("z", 2000) + `"}`)
	if _, ok := leaks(payload, "error: "+strings.Repeat("z", maxExcerpt+1)); !ok {
		t.Error("a verbatim echo of 257 bytes went unnoticed")
	}
	if _, ok := leaks(payload, "error: "+strings.Repeat("z", maxExcerpt)); ok {
		t.Error("a 256-byte excerpt counted as a leak")
	}
}

// TestForceNeverWidensTargets: every manual action, with and without force and dryRun, naming a
// stage outside TARGETS (another API, another stage of the target's API, a case variant, an API
// that does not exist) is refused before any call touches that stage, and nothing is written.
func TestForceNeverWidensTargets(t *testing.T) {
	w := newHostileWorld(t)
	h := w.handler(t, w.env(), fastRetry, nil)
	outside := []string{w.other + "/prod", w.shop + "/dev", strings.ToUpper(w.shop) + "/prod", w.shop + "/PROD", "zzzzzzzzzz/prod"}
	tried := 0
	for _, tgt := range outside {
		for _, action := range rollback.Actions {
			for _, force := range []bool{false, true} {
				for _, dry := range []string{"", `,"dryRun":false`, `,"dryRun":true`} {
					cmd := fmt.Sprintf(`{"action":%q,"target":%q,"force":%v%s`, action, tgt, force, dry)
					if action == "deploy" {
						cmd += `,"deploymentId":"d1"`
					}
					cmd += "}"
					before := len(w.rec.requests())
					_, err := invoke(h, []byte(cmd))
					tried++
					if !errors.Is(err, responder.ErrFailed) || !strings.Contains(err.Error(), "is not in TARGETS") {
						t.Errorf("%s: err = %v, want refused: not in TARGETS", cmd, err)
					}
					if reqs := w.rec.requests()[before:]; len(reqs) != 0 {
						t.Errorf("%s: %d calls reached AWS, first %s %s", cmd, len(reqs), reqs[0].method, reqs[0].path)
					}
				}
			}
		}
	}
	if w.gw.Writes() != 0 || len(w.rec.writes()) != 0 {
		t.Errorf("writes: %d", w.gw.Writes())
	}

	// With several targets, a command without one is refused rather than guessed.
	two := map[string]string{config.EnvTargets: w.shop + "/prod," + w.other + "/prod"}
	if _, err := invoke(w.handler(t, two, fastRetry, nil), []byte(`{"action":"rollback","force":true}`)); err == nil ||
		!strings.Contains(err.Error(), `name one with "target"`) {
		t.Errorf("command without a target, two targets: %v", err)
	}
	// An alarm mapping cannot point outside TARGETS either: the function refuses to start.
	bad := map[string]string{config.EnvTargets: w.shop + "/prod", config.EnvAlarmTargets: "*=" + w.other + "/prod"}
	if _, err := w.newHandler(bad, fastRetry, nil); err == nil || !strings.Contains(err.Error(), "not in TARGETS") {
		t.Errorf("ALARM_TARGETS outside TARGETS: %v", err)
	}
	testenv.Figure(t, "manual commands outside TARGETS: %d tried (%d stages x %d actions x force x dryRun), all refused, 0 calls to those stages, 0 writes", tried, len(outside), len(rollback.Actions))
}

// TestLogsCarryNoCredentials runs the handler's busiest paths (a rollback, a failure, status, a bad
// input) at debug level and looks for the credentials in everything it logged and answered.
func TestLogsCarryNoCredentials(t *testing.T) {
	w := newHostileWorld(t)
	logs := &lockedBuffer{}
	h := w.handler(t, w.env(), fastRetry, logs)
	ok := alarmDef{name: "shop-5xx", state: "ALARM", at: w.clock.Now().Add(-time.Second), apiName: "shop", stage: "prod"}
	var answers []string
	for _, p := range [][]byte{ok.payload(viaSNS), []byte(`{"action":"status"}`), []byte(`{"action":"rollback","force":true}`),
		[]byte(`{"action":"deploy","deploymentId":"nope"}`), []byte(`null`)} {
		out, err := invoke(h, p)
		b, _ := json.Marshal(out)
		answers = append(answers, string(b), fmt.Sprint(err))
	}
	w.gw.InjectFault("GetStage", apigwlocal.Fault{Status: 403, Times: 20}) // an AccessDenied: the error path of the SDK
	_, err := invoke(h, []byte(`{"action":"status"}`))
	answers = append(answers, fmt.Sprint(err))
	all := logs.String() + strings.Join(answers, "\n")
	if !strings.Contains(logs.String(), `"outcome":"rolled-back"`) || !strings.Contains(fmt.Sprint(err), "AccessDenied") {
		t.Fatalf("the paths did not run as meant: %s", all)
	}
	for _, secret := range []string{rigSecretKey, rigSessionToken, rigAccessKey} {
		if strings.Contains(all, secret) {
			t.Errorf("logs or answers carry a credential (%.8s…)", secret)
		}
	}
}
