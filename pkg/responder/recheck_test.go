package responder_test

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	cwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudwatch"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
)

// The schedule's re-check of alarms still in ALARM, through the SDK's wire against the local API
// Gateway, DynamoDB and CloudWatch (alarms and metric data): the fix a human deployed is broken
// too, the alarm never returns to OK, so no notification comes; the next tick reads the alarm's
// fresh data and decides.

const recheckTopic = "arn:aws:sns:us-east-1:" + account + ":rewind-AlarmTopic"

// recheckWorld is luna-api/prod on D2 (D1 before it), the 5xx alarm on it sending to Rewind's
// topic, and a handler built as main builds it, on a clock the test moves.
type recheckWorld struct {
	gw      *apigwlocal.Server
	cw      *cwlocal.Server
	clock   *simClock
	api     string
	h       *responder.Handler
	notes   *recordingNotifier
	logs    *lockedBuffer
	d1, d2  string
	release time.Time // when D2 went live
}

var recheckStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func newRecheckWorld(t *testing.T, envOf func(api string) map[string]string) *recheckWorld {
	t.Helper()
	w := &recheckWorld{clock: &simClock{t: recheckStart}, notes: &recordingNotifier{}, logs: &lockedBuffer{}}
	w.gw = apigwlocal.New(apigwlocal.Options{Region: rigRegion, AccountID: rigAccount, Now: w.clock.Now})
	w.cw = cwlocal.New(cwlocal.Options{Now: w.clock.Now, Account: account})
	ddb := ddblocal.New(ddblocal.Options{Now: w.clock.Now})
	ddb.CreateTable(memoryTable)
	srv := httptest.NewServer(w.cw.Front(ddb.Front(w.gw)))
	t.Cleanup(srv.Close)
	api := w.gw.CreateRestAPI("luna-api")
	w.api = api.ID
	d1, err := w.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{CreatedDate: recheckStart})
	must(t, err)
	must(t, w.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: d1.ID}))
	w.clock.Advance(time.Hour)
	w.release = w.clock.Now()
	d2 := w.deploy(t) // release D2
	w.d1, w.d2 = d1.ID, d2
	env := map[string]string{}
	if envOf != nil {
		env = envOf(api.ID)
	}
	if _, ok := env[config.EnvTargets]; !ok {
		env[config.EnvTargets] = api.ID + "/prod"
	}
	env[config.EnvAlarmTopicARN] = recheckTopic
	cfg, err := config.FromEnv(withTable(env))
	must(t, err)
	w.h, err = responder.Build(cfg, aws.Config{Region: rigRegion, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), Retryer: func() aws.Retryer { return fastRetry.Retryer() }},
		responder.Options{Log: slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Notifier: w.notes,
			Now: w.clock.Now, FunctionName: "rewind"})
	must(t, err)
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// deploy creates a deployment now and puts prod on it, as a release (or a human's fix) does.
func (w *recheckWorld) deploy(t *testing.T) string {
	t.Helper()
	d, err := w.gw.CreateDeployment(w.api, apigwlocal.DeploymentSpec{CreatedDate: w.clock.Now()})
	must(t, err)
	must(t, w.gw.SetDeploymentID(w.api, "prod", d.ID))
	return d.ID
}

func (w *recheckWorld) live(t *testing.T) string {
	t.Helper()
	st, ok := w.gw.Stage(w.api, "prod")
	if !ok {
		t.Fatal("no prod stage")
	}
	return st.DeploymentID
}

var prodDims = []cwlocal.Dimension{{Name: "ApiName", Value: "luna-api"}, {Name: "Stage", Value: "prod"}}

// fiveXXAlarm is the 5xx alarm: Sum of 5XXError >= 5, 2 of 3 one-minute periods.
func fiveXXAlarm(name string, dims []cwlocal.Dimension) cwlocal.Alarm {
	return cwlocal.Alarm{Name: name, Namespace: "AWS/ApiGateway", MetricName: "5XXError", Dimensions: dims, Statistic: "Sum", Period: 60,
		EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 5, ComparisonOperator: "GreaterThanOrEqualToThreshold",
		TreatMissingData: "notBreaching", AlarmActions: []string{recheckTopic}, OKActions: []string{recheckTopic}}
}

// errors puts one 5XXError sample of value v per minute for the next n minutes, from now.
func (w *recheckWorld) errors(dims []cwlocal.Dimension, n int, v float64) {
	for i := range n {
		w.cw.PutMetricData("AWS/ApiGateway", "5XXError", dims, cwlocal.Sample{At: w.clock.Now().Add(time.Duration(i)*time.Minute + 10*time.Second), Value: v})
	}
}

// incident: D2 breaks, the alarm goes to ALARM and SNS delivers it; Rewind rolls back to D1.
func (w *recheckWorld) incident(t *testing.T) {
	t.Helper()
	w.errors(prodDims, 5, 30)
	w.clock.Advance(5 * time.Minute)
	a := fiveXXAlarm("luna-5xx", prodDims)
	a.State, a.StateReason = cwlocal.StateAlarm, "Threshold Crossed"
	w.cw.PutMetricAlarm(a)
	at := w.clock.Now()
	w.clock.Advance(20 * time.Second) // SNS delivers it
	res := w.invoke(t, snsEvent(alarmMessage(alarmSpec{name: "luna-5xx", at: at, apiName: "luna-api", stage: "prod"})))
	if len(res) != 1 || (res[0].Code != rollback.CodeRolledBack && res[0].Outcome != rollback.OutcomePlanned) {
		t.Fatalf("the incident: %+v", res)
	}
}

func (w *recheckWorld) invoke(t *testing.T, payload []byte) []rollback.Result {
	t.Helper()
	out, err := invoke(w.h, payload)
	return resultsOfErr(out, err)
}

// tick runs one scheduled observe and returns the re-check's results (those not of observe).
func (w *recheckWorld) tick(t *testing.T) []rollback.Result {
	t.Helper()
	var rs []rollback.Result
	for _, r := range w.invoke(t, scheduleTick(w.clock.Now())) {
		if r.Action == rollback.ActionRollback {
			rs = append(rs, r)
		}
	}
	return rs
}

// notified is the codes of the notifications of automatic rollbacks so far.
func (w *recheckWorld) notified() []rollback.Code {
	w.notes.mu.Lock()
	defer w.notes.mu.Unlock()
	var cs []rollback.Code
	for _, r := range w.notes.got {
		if r.Action == rollback.ActionRollback {
			cs = append(cs, r.Code)
		}
	}
	return cs
}

// recheckCodes is the codes the re-check logged for alarm.
func (w *recheckWorld) recheckCodes(alarm string) []rollback.Code {
	var cs []rollback.Code
	for line := range strings.SplitSeq(w.logs.String(), "\n") {
		var l struct{ Msg, Code, Alarm string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "re-check" && l.Alarm == alarm {
			cs = append(cs, rollback.Code(l.Code))
		}
	}
	return cs
}

func codes(rs []rollback.Result) []rollback.Code {
	var cs []rollback.Code
	for _, r := range rs {
		cs = append(cs, r.Code)
	}
	return cs
}

// The scenario: D2 breaks, Rewind rolls back to D1; on-call deploys D3, broken too; the alarm never
// leaves ALARM. The next tick rolls D3 back, once, and says so; the tick after is a repeat.
func TestTheRecheckRollsBackABrokenFixWhileTheAlarmStaysInALARM(t *testing.T) {
	w := newRecheckWorld(t, nil)
	w.incident(t)
	if w.live(t) != w.d1 {
		t.Fatalf("the incident left prod on %s, want D1 %s", w.live(t), w.d1)
	}
	w.clock.Advance(5 * time.Minute)
	d3 := w.deploy(t) // the human's fix
	w.errors(prodDims, 5, 25)
	w.clock.Advance(5 * time.Minute)
	rs := w.tick(t)
	if len(rs) != 1 || rs[0].Code != rollback.CodeRolledBack || rs[0].From != d3 || rs[0].To != w.d1 || w.live(t) != w.d1 {
		t.Fatalf("tick on the broken fix: %+v; prod on %s, want rolled back from D3 %s to D1 %s", rs, w.live(t), d3, w.d1)
	}
	if !strings.Contains(rs[0].Reason, "still in ALARM") || !strings.Contains(rs[0].Reason, d3) {
		t.Errorf("the reason does not say why: %s", rs[0].Reason)
	}
	if got := w.notified(); !slices.Equal(got, []rollback.Code{rollback.CodeRolledBack, rollback.CodeRolledBack}) {
		t.Errorf("notified %v, want the incident's rollback and the re-check's", got)
	}
	// Still in ALARM on D1 (a downstream outage): what Rewind put live is not moved further back,
	// and that is told once.
	w.errors(prodDims, 5, 25)
	for range 3 {
		w.clock.Advance(5 * time.Minute)
		rs = append(rs, w.tick(t)...)
	}
	if got := codes(rs[1:]); !slices.Equal(got, []rollback.Code{rollback.CodeStillServing}) || w.live(t) != w.d1 {
		t.Fatalf("ticks on D1: %v, prod on %s; want one still-serving and D1 %s", got, w.live(t), w.d1)
	}
	if got := w.notified(); len(got) != 3 || got[2] != rollback.CodeStillServing {
		t.Errorf("notified %v, want one still-serving after the two rollbacks", got)
	}
}

// A healthy fix: the alarm has not returned to OK yet, but the fix's own data does not breach.
func TestTheRecheckLeavesAHealthyFix(t *testing.T) {
	w := newRecheckWorld(t, nil)
	w.incident(t)
	w.clock.Advance(5 * time.Minute)
	d3 := w.deploy(t)
	w.errors(prodDims, 5, 1)
	w.clock.Advance(5 * time.Minute)
	if rs := w.tick(t); len(rs) != 0 || w.live(t) != d3 {
		t.Fatalf("a healthy fix: %+v, prod on %s", rs, w.live(t))
	}
	if got := w.recheckCodes("luna-5xx"); !slices.Contains(got, rollback.CodeNotBreaching) {
		t.Errorf("logged %v, want not-breaching", got)
	}
	if got := w.notified(); len(got) != 1 {
		t.Errorf("notified %v: only the incident's rollback", got)
	}
}

// Too few fresh datapoints: one breaching minute of a 2-of-3 alarm since the fix went live.
func TestTheRecheckWaitsForEnoughFreshData(t *testing.T) {
	w := newRecheckWorld(t, nil)
	w.incident(t)
	w.clock.Advance(5 * time.Minute)
	d3 := w.deploy(t)
	w.errors(prodDims, 1, 30)
	w.clock.Advance(2 * time.Minute)
	if rs := w.tick(t); len(rs) != 0 || w.live(t) != d3 {
		t.Fatalf("one datapoint: %+v, prod on %s", rs, w.live(t))
	}
	if got := w.recheckCodes("luna-5xx"); !slices.Contains(got, rollback.CodeTooFewFresh) {
		t.Errorf("logged %v, want too-few-datapoints", got)
	}
}

// Data measured before the fix went live never acts: the breaching minutes are all D2's.
func TestTheRecheckNeverActsOnDataFromBeforeTheFix(t *testing.T) {
	w := newRecheckWorld(t, nil)
	w.incident(t) // 5 breaching minutes, all before D3
	w.clock.Advance(5 * time.Minute)
	d3 := w.deploy(t)
	w.clock.Advance(5 * time.Minute)
	if rs := w.tick(t); len(rs) != 0 || w.live(t) != d3 {
		t.Fatalf("old data: %+v, prod on %s", rs, w.live(t))
	}
}

// No fix at all: D1, where Rewind went, still breaches: reported once, never walked further back.
func TestTheRecheckNeverMovesRewindsOwnRollbackFurtherBack(t *testing.T) {
	w := newRecheckWorld(t, nil)
	w.incident(t)
	w.errors(prodDims, 60, 25)
	var rs []rollback.Result
	for range 14 { // 70 minutes: past the loop guard's hour, when "the same incident" would end
		w.clock.Advance(5 * time.Minute)
		rs = append(rs, w.tick(t)...)
	}
	if got := codes(rs); !slices.Equal(got, []rollback.Code{rollback.CodeStillServing}) || w.live(t) != w.d1 {
		t.Fatalf("ticks on D1: %v, prod on %s; want one still-serving, D1 %s", got, w.live(t), w.d1)
	}
}

// A composite alarm's state is a rule over other alarms: the re-check does not list it (listing
// composites takes DescribeAlarms on "*"), so nothing moves however its children's data looks.
func TestTheRecheckLeavesCompositeAlarms(t *testing.T) {
	w := newRecheckWorld(t, func(api string) map[string]string {
		return map[string]string{config.EnvAlarmTargets: "luna-composite=" + api + "/prod"}
	})
	w.cw.PutCompositeAlarm(cwlocal.CompositeAlarm{Name: "luna-composite", AlarmRule: `ALARM("luna-5xx")`, AlarmActions: []string{recheckTopic},
		State: cwlocal.StateAlarm, StateUpdated: w.release.Add(-time.Minute)})
	w.errors(prodDims, 5, 30)
	w.clock.Advance(5 * time.Minute)
	if rs := w.tick(t); len(rs) != 0 || w.live(t) != w.d2 || w.cw.CallCount("GetMetricData") != 0 {
		t.Fatalf("a composite alarm: %+v, prod on %s, %d GetMetricData", rs, w.live(t), w.cw.CallCount("GetMetricData"))
	}
}

// An anomaly-detection alarm compares against a band CloudWatch models: it cannot be re-evaluated
// from a threshold, and says so with its code.
func TestTheRecheckSkipsAnomalyDetectionAlarms(t *testing.T) {
	w := newRecheckWorld(t, nil)
	a := cwlocal.Alarm{Name: "luna-anomaly", EvaluationPeriods: 2, ThresholdMetricID: "band", ComparisonOperator: "GreaterThanUpperThreshold",
		Metrics: []cwlocal.MetricQuery{
			{ID: "m1", Stat: &cwlocal.MetricStat{Namespace: "AWS/ApiGateway", MetricName: "5XXError", Dimensions: prodDims, Period: 60, Stat: "Sum"}, ReturnData: aws.Bool(true)},
			{ID: "band", Expression: "ANOMALY_DETECTION_BAND(m1, 2)", ReturnData: aws.Bool(true)}},
		AlarmActions: []string{recheckTopic}, State: cwlocal.StateAlarm, StateUpdated: w.release.Add(-time.Minute)}
	w.cw.PutMetricAlarm(a)
	w.errors(prodDims, 5, 30)
	w.clock.Advance(5 * time.Minute)
	if rs := w.tick(t); len(rs) != 0 || w.live(t) != w.d2 {
		t.Fatalf("an anomaly-detection alarm: %+v, prod on %s", rs, w.live(t))
	}
	if got := w.recheckCodes("luna-anomaly"); !slices.Equal(got, []rollback.Code{rollback.CodeCannotRecheck}) {
		t.Errorf("logged %v, want cannot-recheck", got)
	}
}

// An API-wide alarm on an API with two allowed stages names two targets: it moves neither.
func TestTheRecheckMovesNothingForAnAmbiguousAlarm(t *testing.T) {
	w := newRecheckWorld(t, func(api string) map[string]string {
		return map[string]string{config.EnvTargets: api + "/prod," + api + "/dev"}
	})
	must(t, w.gw.CreateStage(w.api, apigwlocal.StageSpec{Name: "dev", DeploymentID: w.d1}))
	apiWide := []cwlocal.Dimension{{Name: "ApiName", Value: "luna-api"}}
	a := fiveXXAlarm("luna-api-5xx", apiWide)
	a.State, a.StateUpdated = cwlocal.StateAlarm, w.release.Add(-time.Minute) // in ALARM before D2 went live
	w.cw.PutMetricAlarm(a)
	w.errors(apiWide, 5, 30)
	w.clock.Advance(5 * time.Minute)
	if rs := w.tick(t); len(rs) != 0 || w.live(t) != w.d2 {
		t.Fatalf("an ambiguous alarm: %+v, prod on %s", rs, w.live(t))
	}
	if got := w.recheckCodes("luna-api-5xx"); !slices.Equal(got, []rollback.Code{rollback.CodeAmbiguous}) {
		t.Errorf("logged %v, want ambiguous", got)
	}
}

// A dry run plans the re-check's rollback, reports it once, and never writes.
func TestADryRunRecheckPlansOnce(t *testing.T) {
	w := newRecheckWorld(t, func(string) map[string]string { return map[string]string{config.EnvDryRun: "true"} })
	w.incident(t) // planned: D2 stays
	w.clock.Advance(5 * time.Minute)
	d3 := w.deploy(t)
	w.errors(prodDims, 15, 25)
	w.clock.Advance(5 * time.Minute)
	rs := w.tick(t)
	if len(rs) != 1 || rs[0].Outcome != rollback.OutcomePlanned || rs[0].From != d3 || w.live(t) != d3 {
		t.Fatalf("a dry run: %+v, prod on %s", rs, w.live(t))
	}
	for range 2 {
		w.clock.Advance(5 * time.Minute)
		rs = append(rs, w.tick(t)...)
	}
	if got := w.notified(); len(got) != 2 || len(rs) != 1 || w.live(t) != d3 {
		t.Errorf("notified %v, results %v, prod on %s: want the incident's plan and one re-check plan", got, codes(rs), w.live(t))
	}
}

// The same, when D1's data first breaches after the loop guard's hour (when "the same incident"
// of an alarm's notification is over): the alarm never left ALARM, so it still is Rewind's rollback.
func TestTheRecheckNeverMovesRewindsOwnRollbackAfterTheGuardsHour(t *testing.T) {
	w := newRecheckWorld(t, nil)
	w.incident(t)
	w.clock.Advance(65 * time.Minute)
	w.errors(prodDims, 10, 25)
	var rs []rollback.Result
	for range 3 {
		w.clock.Advance(5 * time.Minute)
		rs = append(rs, w.tick(t)...)
	}
	if got := codes(rs); !slices.Equal(got, []rollback.Code{rollback.CodeStillServing}) || w.live(t) != w.d1 {
		t.Fatalf("ticks on D1: %v, prod on %s; want one still-serving, D1 %s", got, w.live(t), w.d1)
	}
}

// A metric-math alarm is re-read with its own queries (here an error rate, 5XXError / Count), in the
// same GetMetricData call as the single-metric alarm on the same stage: one call for both.
func TestTheRecheckReadsMetricMathAlarmsInOneBatch(t *testing.T) {
	w := newRecheckWorld(t, nil)
	w.clock.Advance(5 * time.Minute)
	rate := cwlocal.Alarm{Name: "luna-error-rate", EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 10, ComparisonOperator: "GreaterThanThreshold",
		Metrics: []cwlocal.MetricQuery{
			{ID: "m1", Stat: &cwlocal.MetricStat{Namespace: "AWS/ApiGateway", MetricName: "5XXError", Dimensions: prodDims, Period: 60, Stat: "Sum"}, ReturnData: aws.Bool(false)},
			{ID: "m2", Stat: &cwlocal.MetricStat{Namespace: "AWS/ApiGateway", MetricName: "Count", Dimensions: prodDims, Period: 60, Stat: "Sum"}, ReturnData: aws.Bool(false)},
			{ID: "e1", Expression: "100 * m1 / m2", Label: "error rate", ReturnData: aws.Bool(true)}},
		AlarmActions: []string{recheckTopic}, State: cwlocal.StateAlarm}
	w.cw.PutMetricAlarm(rate) // in ALARM on D2
	five := fiveXXAlarm("luna-5xx", prodDims)
	five.State, five.Threshold = cwlocal.StateAlarm, 50 // 6 errors a minute do not breach it: the rate does
	w.cw.PutMetricAlarm(five)
	w.clock.Advance(5 * time.Minute)
	d3 := w.deploy(t)
	for i := range 5 { // 6 errors of 20 requests a minute: 30 %
		at := w.clock.Now().Add(time.Duration(i)*time.Minute + 10*time.Second)
		w.cw.PutMetricData("AWS/ApiGateway", "5XXError", prodDims, cwlocal.Sample{At: at, Value: 6})
		w.cw.PutMetricData("AWS/ApiGateway", "Count", prodDims, cwlocal.Sample{At: at, Value: 20})
	}
	w.clock.Advance(5 * time.Minute)
	rs := w.tick(t)
	if len(rs) != 1 || rs[0].Code != rollback.CodeRolledBack || rs[0].From != d3 || rs[0].Alarm != "luna-error-rate" || w.live(t) == d3 {
		t.Fatalf("tick: %+v, prod on %s; want one rollback from D3 %s by the error rate", rs, w.live(t), d3)
	}
	if got := w.recheckCodes("luna-5xx"); !slices.Equal(got, []rollback.Code{rollback.CodeNotBreaching}) {
		t.Errorf("the 5xx alarm logged %v, want not-breaching", got)
	}
	if n := w.cw.CallCount("GetMetricData"); n != 1 {
		t.Errorf("%d GetMetricData calls, want one for both alarms", n)
	}
	if !strings.Contains(rs[0].Reason, "30") {
		t.Errorf("the reason does not give the datapoints' values (30 %%): %s", rs[0].Reason)
	}
}
