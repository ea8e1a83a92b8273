package cloudwatch_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/event"
	"github.com/rewind-sre/rewind/pkg/support/demo/cloudwatch"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

var t0 = time.Date(2026, 11, 25, 21, 14, 0, 0, time.UTC)

func alarm() cloudwatch.Alarm {
	return cloudwatch.Alarm{
		Name: "luna-api-5xx", Description: "5XX on luna-api/service: Rewind rolls back",
		AccountID: "012345678912", Region: "us-east-1", Namespace: "AWS/ApiGateway", Metric: "5XXError",
		Dimensions: []cloudwatch.Dimension{{Name: "ApiName", Value: "luna-api"}, {Name: "Stage", Value: "service"}},
		Period:     10 * time.Second, Threshold: 10,
		TopicARN: "arn:aws:sns:us-east-1:012345678912:rewind-alarms",
	}
}

func evaluator(t *testing.T, a cloudwatch.Alarm) *cloudwatch.Evaluator {
	t.Helper()
	e, err := cloudwatch.NewEvaluator(a, t0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestAlarmsWhenThePeriodsSumReachesTheThreshold: 9 errors in a period stay OK; the 10th alarms at
// once, in the still-filling period, and the reason names the datapoint as CloudWatch does.
func TestAlarmsWhenThePeriodsSumReachesTheThreshold(t *testing.T) {
	e := evaluator(t, alarm())
	for i := range 9 {
		e.Put(t0.Add(time.Duration(i)*100*time.Millisecond), 1)
	}
	if c, changed := e.Evaluate(t0.Add(time.Second)); changed {
		t.Fatalf("9 < 10 must stay OK, got %+v", c)
	}
	e.Put(t0.Add(1500*time.Millisecond), 1)
	c, changed := e.Evaluate(t0.Add(2 * time.Second))
	if !changed || c.Old != "OK" || c.New != "ALARM" {
		t.Fatalf("10 >= 10 must alarm: changed=%v %+v", changed, c)
	}
	want := "Threshold Crossed: 1 datapoint [10.0 (25/11/26 21:14:00)] was greater than or equal to the threshold (10.0)."
	if c.Reason != want {
		t.Errorf("reason\n got %q\nwant %q", c.Reason, want)
	}
	if _, again := e.Evaluate(t0.Add(3 * time.Second)); again {
		t.Error("a second evaluation in ALARM must not report another change")
	}
}

// TestErrorsSpreadOverTwoPeriodsDoNotAlarm: the Sum is per period, not a sliding window.
func TestErrorsSpreadOverTwoPeriodsDoNotAlarm(t *testing.T) {
	e := evaluator(t, alarm())
	for i := range 8 {
		e.Put(t0.Add(9*time.Second+time.Duration(i)*10*time.Millisecond), 1)  // 8 late in period 0
		e.Put(t0.Add(10*time.Second+time.Duration(i)*10*time.Millisecond), 1) // 8 early in period 1
	}
	for s := 1; s <= 20; s++ {
		if c, changed := e.Evaluate(t0.Add(time.Duration(s) * time.Second)); changed {
			t.Fatalf("at +%ds: 8 and 8 in two periods must not alarm: %+v", s, c)
		}
	}
}

// TestMOutOfN: 2 out of 3 datapoints must breach; one breaching period is not enough.
func TestMOutOfN(t *testing.T) {
	a := alarm()
	a.EvaluationPeriods, a.DatapointsToAlarm, a.Threshold = 3, 2, 5
	e := evaluator(t, a)
	e.Put(t0.Add(time.Second), 7) // period 0 breaches
	if _, changed := e.Evaluate(t0.Add(25 * time.Second)); changed {
		t.Fatal("1 of 3 must stay OK")
	}
	e.Put(t0.Add(21*time.Second), 5) // period 2 breaches
	c, changed := e.Evaluate(t0.Add(25 * time.Second))
	if !changed || c.New != "ALARM" {
		t.Fatalf("2 of 3 must alarm: %+v", c)
	}
	if !strings.HasPrefix(c.Reason, "Threshold Crossed: 2 out of the last 3 datapoints [5.0 (25/11/26 21:14:20), 7.0 (25/11/26 21:14:00)]") ||
		!strings.HasSuffix(c.Reason, "(minimum 2 datapoints for OK -> ALARM transition).") {
		t.Errorf("reason %q", c.Reason)
	}
}

// TestBackToOKOnlyOnCompletePeriods: an alarm does not clear on a period that is still filling.
func TestBackToOKOnlyOnCompletePeriods(t *testing.T) {
	e := evaluator(t, alarm())
	e.Put(t0.Add(time.Second), 20)
	if _, changed := e.Evaluate(t0.Add(2 * time.Second)); !changed {
		t.Fatal("want ALARM")
	}
	if c, changed := e.Evaluate(t0.Add(12 * time.Second)); changed {
		t.Fatalf("period 0 breached and is the newest complete one: must stay ALARM, got %+v", c)
	}
	c, changed := e.Evaluate(t0.Add(20 * time.Second))
	if !changed || c.New != "OK" {
		t.Fatalf("period 1 complete with 0 errors: want OK, got %v %+v", changed, c)
	}
	if !strings.Contains(c.Reason, "was not greater than or equal to the threshold (10.0)") {
		t.Errorf("reason %q", c.Reason)
	}
}

func TestValidate(t *testing.T) {
	for name, mod := range map[string]func(*cloudwatch.Alarm){
		"period":     func(a *cloudwatch.Alarm) { a.Period = 1500 * time.Millisecond },
		"name":       func(a *cloudwatch.Alarm) { a.Name = "" },
		"m>n":        func(a *cloudwatch.Alarm) { a.EvaluationPeriods, a.DatapointsToAlarm = 1, 2 },
		"comparison": func(a *cloudwatch.Alarm) { a.Comparison = "LessThanThreshold" },
	} {
		a := alarm()
		mod(&a)
		if _, err := cloudwatch.NewEvaluator(a, t0); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func stateChange(t *testing.T) cloudwatch.StateChange {
	t.Helper()
	e := evaluator(t, alarm())
	e.Put(t0.Add(time.Second), 12)
	c, ok := e.Evaluate(t0.Add(1234 * time.Millisecond))
	if !ok {
		t.Fatal("want a change")
	}
	return c
}

// TestRewindReadsTheSNSEvent: the event the demo delivers is what Rewind's own decoder takes for an
// SNS-delivered alarm, with the account, dimensions and time Rewind acts on.
func TestRewindReadsTheSNSEvent(t *testing.T) {
	c := stateChange(t)
	b, err := json.Marshal(c.SNSEvent(cloudwatch.Delivery{MessageID: "m-1", SubscriptionID: "s-1", At: t0.Add(1300 * time.Millisecond)}))
	if err != nil {
		t.Fatal(err)
	}
	kind, recs, err := event.Decode(b)
	if err != nil || kind != event.KindSNS || len(recs) != 1 || recs[0].Alarm == nil {
		t.Fatalf("Decode: kind=%s err=%v recs=%+v", kind, err, recs)
	}
	a := recs[0].Alarm
	if a.Name != "luna-api-5xx" || a.State != "ALARM" || a.PreviousState != "OK" || a.AccountID != "012345678912" ||
		a.Region != "us-east-1" || a.Via != event.ViaSNS || a.DeliveryID != "m-1" {
		t.Errorf("alarm %+v", a)
	}
	if !a.StateChangeTime.Equal(t0.Add(1234 * time.Millisecond)) {
		t.Errorf("StateChangeTime %s", a.StateChangeTime)
	}
	if v, _ := a.Dimension("ApiName"); v != "luna-api" {
		t.Errorf("ApiName %q", v)
	}
	if v, _ := a.Dimension("Stage"); v != "service" {
		t.Errorf("Stage %q", v)
	}
}

// TestSNSEventHasTheSampleShape: every key of the repository's SNS alarm sample (modelled on what
// SNS delivers) is in the demo's event, at every level, with values of the same JSON type, and the
// demo adds none.
func TestSNSEventHasTheSampleShape(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "testdata", "events", "sns-apigw-5xx-alarm.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sample map[string]any
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(stateChange(t).SNSEvent(cloudwatch.Delivery{MessageID: "m", SubscriptionID: "s", At: t0}))
	var ours map[string]any
	if err := json.Unmarshal(b, &ours); err != nil {
		t.Fatal(err)
	}
	rec := func(m map[string]any) map[string]any { return m["Records"].([]any)[0].(map[string]any) }
	sns := func(m map[string]any) map[string]any { return rec(m)["Sns"].(map[string]any) }
	msg := func(m map[string]any) map[string]any {
		var v map[string]any
		if err := json.Unmarshal([]byte(sns(m)["Message"].(string)), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	trig := func(m map[string]any) map[string]any { return msg(m)["Trigger"].(map[string]any) }
	for level, pair := range map[string][2]map[string]any{
		"top": {sample, ours}, "Records[0]": {rec(sample), rec(ours)}, "Sns": {sns(sample), sns(ours)},
		"Message": {msg(sample), msg(ours)}, "Trigger": {trig(sample), trig(ours)},
	} {
		want, got := slices.Sorted(maps.Keys(pair[0])), slices.Sorted(maps.Keys(pair[1]))
		if !slices.Equal(want, got) {
			t.Errorf("%s keys\n got %v\nwant %v", level, got, want)
			continue
		}
		for _, k := range want {
			if tw, tg := jsonType(pair[0][k]), jsonType(pair[1][k]); tw != tg {
				t.Errorf("%s.%s is %s, the sample's is %s", level, k, tg, tw)
			}
		}
	}
	if !strings.Contains(sns(ours)["Message"].(string), `"Threshold":10.0,`) {
		t.Errorf("CloudWatch writes the threshold as 10.0: %s", sns(ours)["Message"])
	}
	if s := sns(ours)["Subject"]; s != `ALARM: "luna-api-5xx" in US East (N. Virginia)` {
		t.Errorf("Subject %q", s)
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	}
	return "object"
}
