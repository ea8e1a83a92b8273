package event

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// repoRoot walks up from the package directory to the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

func fixturesDir(t testing.TB) string { return filepath.Join(repoRoot(t), "testdata", "events") }

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantAlarm is an alarm's expected fields; Time is in RFC 3339.
type wantAlarm struct {
	Name, ARN, Account, Region, RegionName, State, Prev, Time string
	Composite                                                 bool
	Dims                                                      []Dimension
	Via, Delivery                                             string
}

// wantRecord: exactly one of Alarm, Command, Schedule, Ignored (a substring) or Err (a substring).
type wantRecord struct {
	Source   string
	Alarm    *wantAlarm
	Command  *Command
	Schedule bool
	Ignored  string
	Err      string
}

type wantPayload struct {
	Kind    Kind
	Err     string // substring of the top-level error; Records must then be nil
	Records []wantRecord
}

const (
	acct      = "123456789012"
	fiveARN   = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-api-prod-5xx"
	fiveTime  = "2026-03-14T09:26:53.589Z"
	fiveMsgID = "5b1d7a0e-3c2f-5a8e-9d41-0f6c2b7e8a13"
	usEast    = "US East (N. Virginia)"
)

var apiProd = []Dimension{{"ApiName", "orders-api"}, {"Stage", "prod"}}

func fiveAlarm(via, delivery, regionName string) *wantAlarm {
	return &wantAlarm{Name: "orders-api-prod-5xx", ARN: fiveARN, Account: acct, Region: "us-east-1", RegionName: regionName,
		State: "ALARM", Prev: "OK", Time: fiveTime, Dims: apiProd, Via: via, Delivery: delivery}
}

func ptr[T any](v T) *T { return &v }

var fixtureTable = map[string]wantPayload{
	"sns-apigw-5xx-alarm.json":     {Kind: KindSNS, Records: []wantRecord{{Source: "Records[0]", Alarm: fiveAlarm(ViaSNS, fiveMsgID, usEast)}}},
	"alarm-message-apigw-5xx.json": {Kind: KindAlarmMessage, Records: []wantRecord{{Source: "payload", Alarm: fiveAlarm(ViaAlarmMessage, "", usEast)}}},
	"sns-envelope-apigw-5xx.json":  {Kind: KindSNSEnvelope, Records: []wantRecord{{Source: "payload", Alarm: fiveAlarm(ViaSNSEnvelope, fiveMsgID, usEast)}}},
	"eventbridge-apigw-5xx-alarm.json": {Kind: KindEventBridge, Records: []wantRecord{{Source: "payload",
		Alarm: fiveAlarm(ViaEventBridge, "4c1f7e9a-8b2d-3c6e-0f1a-5d9b7c3e2a10", "")}}},
	"alarm-action-apigw-5xx.json": {Kind: KindAlarmAction, Records: []wantRecord{{Source: "payload", Alarm: fiveAlarm(ViaAlarmAction, "", "")}}},
	"sns-apigw-5xx-ok.json": {Kind: KindSNS, Records: []wantRecord{{Source: "Records[0]", Alarm: &wantAlarm{
		Name: "orders-api-prod-5xx", ARN: fiveARN, Account: acct, Region: "us-east-1", RegionName: usEast, State: "OK", Prev: "ALARM",
		Time: "2026-03-14T09:41:53.12Z", Dims: apiProd, Via: ViaSNS, Delivery: "9e2a6c31-7d4b-5f08-a1c3-2b8d4e6f0a57"}}}},
	"sns-apigw-5xx-insufficient-data.json": {Kind: KindSNS, Records: []wantRecord{{Source: "Records[0]", Alarm: &wantAlarm{
		Name: "orders-api-prod-5xx", ARN: fiveARN, Account: acct, Region: "us-east-1", RegionName: usEast, State: "INSUFFICIENT_DATA", Prev: "OK",
		Time: "2026-03-15T02:10:07.004Z", Dims: apiProd, Via: ViaSNS, Delivery: "0c4f8e21-93ab-5d67-b2e0-7a1c5d9f3e48"}}}},
	"sns-apigw-metric-math.json": {Kind: KindSNS, Records: []wantRecord{{Source: "Records[0]", Alarm: &wantAlarm{
		Name: "orders-api-prod-5xx-rate", ARN: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-api-prod-5xx-rate", Account: acct,
		Region: "us-east-1", RegionName: usEast, State: "ALARM", Prev: "OK", Time: "2026-03-14T09:27:31.002Z",
		Dims: apiProd, Via: ViaSNS, Delivery: "7a0b3e5c-1d2f-5e6a-8b9c-4d0e1f2a3b5c"}}}},
	"sns-apigw-anomaly-latency.json": {Kind: KindSNS, Records: []wantRecord{{Source: "Records[0]", Alarm: &wantAlarm{
		Name: "payments-api-live-latency-anomaly", ARN: "arn:aws:cloudwatch:eu-west-1:210987654321:alarm:payments-api-live-latency-anomaly",
		Account: "210987654321", Region: "eu-west-1", RegionName: "EU (Ireland)", State: "ALARM", Prev: "OK", Time: "2026-03-14T11:06:40.771Z",
		Dims: []Dimension{{"ApiName", "payments-api"}, {"Stage", "live"}}, Via: ViaSNS, Delivery: "3f6e9a2c-5b8d-5c1e-a0f4-6e2d8b1c7a90"}}}},
	"sns-apigw-metric-math-two-apis.json": {Kind: KindSNS, Records: []wantRecord{{Source: "Records[0]", Alarm: &wantAlarm{
		Name: "checkout-5xx-total", ARN: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-5xx-total", Account: acct,
		Region: "us-east-1", RegionName: usEast, State: "ALARM", Prev: "OK", Time: "2026-03-14T09:27:31.002Z",
		Dims: []Dimension{{"ApiName", "orders-api"}, {"Stage", "prod"}, {"ApiName", "users-api"}}, Via: ViaSNS,
		Delivery: "1b2c3d4e-5f60-5718-293a-4b5c6d7e8f90"}}}},
	"eventbridge-apigw-api-wide-5xx.json": {Kind: KindEventBridge, Records: []wantRecord{{Source: "payload", Alarm: &wantAlarm{
		Name: "orders-api-5xx-all-stages", ARN: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-api-5xx-all-stages", Account: acct,
		Region: "us-east-1", State: "ALARM", Prev: "OK", Time: "2026-03-14T09:26:41.21Z", Dims: []Dimension{{"ApiName", "orders-api"}},
		Via: ViaEventBridge, Delivery: "6d2e8f1a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"}}}},
	"alarm-action-apigw-5xx-missing-breaching.json": {Kind: KindAlarmAction, Records: []wantRecord{{Source: "payload", Alarm: &wantAlarm{
		Name: "orders-api-prod-5xx-or-silent", ARN: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-api-prod-5xx-or-silent", Account: acct,
		Region: "us-east-1", State: "ALARM", Prev: "OK", Time: "2026-03-14T09:26:12.881Z", Dims: apiProd, Via: ViaAlarmAction}}}},
	"sns-composite.json": {Kind: KindSNS, Records: []wantRecord{{Source: "Records[0]", Alarm: &wantAlarm{
		Name: "orders-api-prod-unhealthy", ARN: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-api-prod-unhealthy", Account: acct,
		Region: "us-east-1", RegionName: usEast, State: "ALARM", Prev: "OK", Time: "2026-03-14T09:26:54.012Z", Composite: true,
		Via: ViaSNS, Delivery: "c2d4e6f8-0a1b-5c3d-9e5f-7a9b1c3d5e7f"}}}},
	"sns-multi-record-alarm-and-budgets.json": {Kind: KindSNS, Records: []wantRecord{
		{Source: "Records[0]", Alarm: fiveAlarm(ViaSNS, fiveMsgID, usEast)},
		{Source: "Records[1]", Ignored: `message is not JSON (344 bytes of text), not a CloudWatch alarm (subject "AWS Budgets: monthly`},
	}},
	"sns-alarm-bad-time.json":      {Kind: KindSNS, Records: []wantRecord{{Source: "Records[0]", Err: `Records[0]: StateChangeTime "14/03/2026 09:26:53" is not a time`}}},
	"sns-alarm-missing-state.json": {Kind: KindSNS, Records: []wantRecord{{Source: "Records[0]", Err: "Records[0]: NewStateValue is missing"}}},
	"sns-eventbridge-via-sns.json": {Kind: KindSNS, Records: []wantRecord{{Source: "Records[0]", Alarm: &wantAlarm{
		Name: "orders-api-prod-latency-p99", ARN: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-api-prod-latency-p99", Account: acct,
		Region: "us-east-1", State: "ALARM", Prev: "INSUFFICIENT_DATA", Time: "2026-03-14T09:27:02.121Z", Dims: apiProd,
		Via: ViaSNS, Delivery: "d0e1f2a3-b4c5-5d6e-7f8a-9b0c1d2e3f4a"}}}},
	"sns-envelope-subscription-confirmation.json": {Kind: KindSNSEnvelope, Records: []wantRecord{{Source: "payload", Ignored: "SNS SubscriptionConfirmation"}}},
	"eventbridge-apigw-latency-p99.json": {Kind: KindEventBridge, Records: []wantRecord{{Source: "payload", Alarm: &wantAlarm{
		Name: "orders-api-prod-latency-p99", ARN: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-api-prod-latency-p99", Account: acct,
		Region: "us-east-1", State: "ALARM", Prev: "INSUFFICIENT_DATA", Time: "2026-03-14T09:27:02.121Z", Dims: apiProd,
		Via: ViaEventBridge, Delivery: "a7d3c1e5-2f4b-6a8c-0e2d-4f6a8c0e2d4f"}}}},
	"eventbridge-config-change.json": {Kind: KindEventBridge, Records: []wantRecord{{Source: "payload",
		Ignored: `EventBridge "CloudWatch Alarm Configuration Change" from "aws.cloudwatch" is not an alarm state change`}}},
	"eventbridge-bad-detail-string.json": {Kind: KindEventBridge, Err: "detail is a JSON string, want an object"},
	"scheduled-event.json":               {Kind: KindSchedule, Records: []wantRecord{{Source: "payload", Schedule: true}}},
	"command-status.json":                {Kind: KindCommand, Records: []wantRecord{{Source: "payload", Command: &Command{Action: "status"}}}},
	"command-rollback-dry-run.json": {Kind: KindCommand, Records: []wantRecord{{Source: "payload", Command: &Command{
		Action: "rollback", Target: "a1b2c3d4e5/prod", DryRun: ptr(true), Reason: "5xx spike after the 09:20 deploy — ticket OPS-1234"}}}},
	"command-deploy.json": {Kind: KindCommand, Records: []wantRecord{{Source: "payload", Command: &Command{
		Action: "deploy", Target: "a1b2c3d4e5/prod", DeploymentID: "k7x2p9", Force: true, DryRun: ptr(false)}}}},
	"command-bad-unknown-field.json":         {Kind: KindCommand, Err: `unknown field "stage"`},
	"command-bad-deploy-without-id.json":     {Kind: KindCommand, Err: "action deploy needs deploymentId"},
	"command-bad-id-on-rollback.json":        {Kind: KindCommand, Err: "deploymentId is only for action deploy, not rollback"},
	"command-bad-traversal-target.json":      {Kind: KindCommand, Err: `target "../a1b2c3d4e5/prod": API id ".."`},
	"command-bad-encoded-deployment-id.json": {Kind: KindCommand, Err: `deploymentId: deployment id "k7x2p9%2F.."`},
	"command-bad-unknown-action.json":        {Kind: KindCommand, Err: `action "ROLLBACK" is not one of status, rollback, deploy`},
	"command-bad-dryrun-string.json":         {Kind: KindCommand, Err: "field dryRun: want a boolean, got a JSON string"},
}

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixturesDir(t), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	for name := range fixtureTable {
		if !slices.Contains(names, name) {
			t.Errorf("%s is in the table but not in testdata/events", name)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			want, ok := fixtureTable[name]
			if !ok {
				t.Fatalf("testdata/events/%s has no expectation in fixtureTable: classify it", name)
			}
			kind, recs, err := Decode(readFixture(t, name))
			checkPayload(t, want, kind, recs, err)
		})
	}
}

func checkPayload(t *testing.T, want wantPayload, kind Kind, recs []Record, err error) {
	t.Helper()
	if kind != want.Kind {
		t.Errorf("kind = %q, want %q", kind, want.Kind)
	}
	if want.Err != "" {
		if err == nil {
			t.Fatalf("no error, want one containing %q (records %+v)", want.Err, recs)
		}
		checkErr(t, err, want.Err)
		if recs != nil {
			t.Errorf("records %+v with an error", recs)
		}
		return
	}
	if err != nil {
		t.Fatalf("error %v", err)
	}
	if len(recs) != len(want.Records) {
		t.Fatalf("%d records, want %d: %+v", len(recs), len(want.Records), recs)
	}
	for i, w := range want.Records {
		checkRecord(t, recs[i], w)
	}
}

func checkErr(t *testing.T, err error, substr string) {
	t.Helper()
	if !errors.Is(err, ErrBadInput) {
		t.Errorf("error %v does not wrap ErrBadInput", err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
	if len(err.Error()) > 1024 {
		t.Errorf("error is %d bytes", len(err.Error()))
	}
}

func checkRecord(t *testing.T, r Record, w wantRecord) {
	t.Helper()
	if r.Source != w.Source {
		t.Errorf("Source = %q, want %q", r.Source, w.Source)
	}
	set := 0
	for _, b := range []bool{r.Alarm != nil, r.Command != nil, r.Schedule, r.Ignored != "", r.Err != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		t.Errorf("record %s has %d of Alarm/Command/Schedule/Ignored/Err set: %+v", r.Source, set, r)
	}
	switch {
	case w.Err != "":
		if r.Err == nil {
			t.Fatalf("%s: no Err, want %q (record %+v)", r.Source, w.Err, r)
		}
		checkErr(t, r.Err, w.Err)
	case w.Ignored != "":
		if !strings.Contains(r.Ignored, w.Ignored) {
			t.Errorf("%s: Ignored = %q, want it to contain %q", r.Source, r.Ignored, w.Ignored)
		}
	case w.Schedule:
		if !r.Schedule {
			t.Errorf("%s: not a schedule: %+v", r.Source, r)
		}
	case w.Command != nil:
		if r.Command == nil {
			t.Fatalf("%s: no command: %+v", r.Source, r)
		}
		checkCommand(t, *r.Command, *w.Command)
	case w.Alarm != nil:
		if r.Alarm == nil {
			t.Fatalf("%s: no alarm: %+v (err %v)", r.Source, r, r.Err)
		}
		checkAlarm(t, *r.Alarm, *w.Alarm)
	}
}

func checkCommand(t *testing.T, got, want Command) {
	t.Helper()
	if got.Action != want.Action || got.Target != want.Target || got.DeploymentID != want.DeploymentID ||
		got.Force != want.Force || got.Reason != want.Reason || (got.DryRun == nil) != (want.DryRun == nil) ||
		(got.DryRun != nil && *got.DryRun != *want.DryRun) {
		t.Errorf("command = %+v, want %+v", got, want)
	}
}

func checkAlarm(t *testing.T, a Alarm, w wantAlarm) {
	t.Helper()
	wt, err := time.Parse(time.RFC3339Nano, w.Time)
	if err != nil {
		t.Fatalf("bad test time %q", w.Time)
	}
	got := wantAlarm{Name: a.Name, ARN: a.ARN, Account: a.AccountID, Region: a.Region, RegionName: a.RegionName,
		State: string(a.State), Prev: string(a.PreviousState), Composite: a.Composite, Dims: a.Dimensions, Via: a.Via, Delivery: a.DeliveryID}
	w.Time = ""
	if !a.StateChangeTime.Equal(wt) {
		t.Errorf("StateChangeTime = %s, want %s", a.StateChangeTime.Format(time.RFC3339Nano), wt.Format(time.RFC3339Nano))
	}
	if len(got.Dims) == 0 && len(w.Dims) == 0 {
		got.Dims, w.Dims = nil, nil
	}
	if !equalAlarm(got, w) {
		t.Errorf("alarm\n got %+v\nwant %+v", got, w)
	}
}

func equalAlarm(a, b wantAlarm) bool {
	return a.Name == b.Name && a.ARN == b.ARN && a.Account == b.Account && a.Region == b.Region &&
		a.RegionName == b.RegionName && a.State == b.State && a.Prev == b.Prev && a.Composite == b.Composite &&
		slices.Equal(a.Dims, b.Dims) && a.Via == b.Via && a.Delivery == b.Delivery
}

// The same state change of orders-api-prod-5xx arrives five ways; all must give one incident key.
func TestIncidentKeySameChangeEveryWay(t *testing.T) {
	files := []string{"sns-apigw-5xx-alarm.json", "alarm-message-apigw-5xx.json", "sns-envelope-apigw-5xx.json",
		"eventbridge-apigw-5xx-alarm.json", "alarm-action-apigw-5xx.json", "sns-multi-record-alarm-and-budgets.json"}
	keys := map[string]bool{}
	for _, f := range files {
		_, recs, err := Decode(readFixture(t, f))
		if err != nil || len(recs) == 0 || recs[0].Alarm == nil {
			t.Fatalf("%s: %v %+v", f, err, recs)
		}
		keys[recs[0].Alarm.IncidentKey()] = true
	}
	if len(keys) != 1 {
		t.Errorf("incident keys differ: %v", keys)
	}
	_, ok, _ := Decode(readFixture(t, "sns-apigw-5xx-ok.json"))
	if keys[ok[0].Alarm.IncidentKey()] {
		t.Error("the OK transition has the ALARM transition's key")
	}
}

func TestIncidentKey(t *testing.T) {
	base := Alarm{Name: "n", ARN: fiveARN, State: "ALARM", StateChangeTime: time.Date(2026, 3, 14, 9, 26, 53, 589e6, time.UTC)}
	// sha256("arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-api-prod-5xx|ALARM|2026-03-14T09:26:53.589Z")
	if got, want := base.IncidentKey(), "896797de676d87e3"; got != want {
		t.Errorf("IncidentKey = %s, want %s", got, want)
	}
	sameInstant := base
	sameInstant.StateChangeTime = base.StateChangeTime.In(time.FixedZone("x", 3600))
	sameInstant.Name = "other name, same ARN"
	if sameInstant.IncidentKey() != base.IncidentKey() {
		t.Error("the key depends on the time zone or on the name when there is an ARN")
	}
	noARN := Alarm{Name: "n", State: "ALARM", StateChangeTime: base.StateChangeTime}
	if noARN.IncidentKey() == base.IncidentKey() || len(noARN.IncidentKey()) != 16 {
		t.Errorf("no-ARN key %q", noARN.IncidentKey())
	}
	for _, change := range []func(*Alarm){
		func(a *Alarm) { a.State = "OK" },
		func(a *Alarm) { a.StateChangeTime = a.StateChangeTime.Add(time.Millisecond) },
		func(a *Alarm) { a.ARN += "x" },
	} {
		a := base
		change(&a)
		if a.IncidentKey() == base.IncidentKey() {
			t.Errorf("%+v has the base key", a)
		}
	}
}

func TestDimension(t *testing.T) {
	a := Alarm{Dimensions: []Dimension{{"ApiName", "a"}, {"Stage", "prod"}, {"ApiName", "b"}}}
	if v, ok := a.Dimension("ApiName"); !ok || v != "a" {
		t.Errorf("ApiName = %q %v", v, ok)
	}
	if _, ok := a.Dimension("apiname"); ok {
		t.Error("dimension names must be case-sensitive")
	}
	if _, ok := a.Dimension("Method"); ok {
		t.Error("missing dimension found")
	}
}

func TestStateChangeTimeForms(t *testing.T) {
	want := time.Date(2015, 6, 3, 17, 43, 27, 123e6, time.UTC)
	for _, s := range []string{"2015-06-03T17:43:27.123+0000", "2015-06-03T17:43:27.123Z", "2015-06-03T19:43:27.123+02:00",
		"2015-06-03T19:43:27.123+0200", "2015-06-03T17:43:27.123000000Z"} {
		got, err := parseAlarmTime("StateChangeTime", s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q → %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "date", "2015-06-03 17:43:27", "2015-06-03T17: 43: 27.123+0000", "0001-01-01T00:00:00Z",
		"1970-01-01T00:00:00Z", " 2015-06-03T17:43:27Z", "2015-06-03T17:43:27", "1433353407"} {
		if _, err := parseAlarmTime("StateChangeTime", s); err == nil || !errors.Is(err, ErrBadInput) ||
			!strings.Contains(err.Error(), "StateChangeTime") {
			t.Errorf("%q: err = %v", s, err)
		}
	}
}

// Dimensions of every metric, de-duplicated in first-seen order; EventBridge's object sorted by key.
func TestDimensionsOfEveryMetric(t *testing.T) {
	msg := `{"AlarmName":"a","NewStateValue":"ALARM","StateChangeTime":"2026-03-14T09:26:53.589+0000",
	"Trigger":{"Dimensions":[{"name":"ApiName","value":"x"}],"Metrics":[
	 {"Id":"m1","MetricStat":{"Metric":{"Dimensions":[{"name":"Stage","value":"prod"},{"name":"ApiName","value":"x"}]}}},
	 {"Id":"e1","Expression":"m1*2"},
	 {"Id":"m2","MetricStat":{"Metric":{"Dimensions":[{"name":"Resource","value":"/orders"},{"name":"","value":"nameless"}]}}}]}}`
	a, err := DecodeAlarmMessage([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	want := []Dimension{{"ApiName", "x"}, {"Stage", "prod"}, {"Resource", "/orders"}}
	if !slices.Equal(a.Dimensions, want) {
		t.Errorf("dimensions %v, want %v", a.Dimensions, want)
	}
	eb := `{"detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch","region":"us-east-1","account":"123456789012",
	"detail":{"alarmName":"a","state":{"value":"ALARM","timestamp":"2026-03-14T09:26:53.589+0000"},"configuration":{"metrics":[
	 {"id":"m1","metricStat":{"metric":{"dimensions":{"Stage":"prod","Method":"GET","ApiName":"x"}}}},
	 {"id":"m2","metricStat":{"metric":{"dimensions":{"Stage":"beta","ApiName":"x"}}}}]}}}`
	_, recs, err := Decode([]byte(eb))
	if err != nil {
		t.Fatal(err)
	}
	want = []Dimension{{"ApiName", "x"}, {"Method", "GET"}, {"Stage", "prod"}, {"Stage", "beta"}}
	if got := recs[0].Alarm.Dimensions; !slices.Equal(got, want) {
		t.Errorf("dimensions %v, want %v", got, want)
	}
	if v, _ := recs[0].Alarm.Dimension("Stage"); v != "prod" {
		t.Errorf("first Stage = %q", v)
	}
	if recs[0].Alarm.ARN != "" || recs[0].Alarm.AccountID != acct || recs[0].Alarm.Region != "us-east-1" {
		t.Errorf("no resources: %+v", recs[0].Alarm)
	}
}

func TestAccountAndRegion(t *testing.T) {
	for _, tc := range []struct {
		name, msg, account, region string
	}{
		{"ARN wins over AWSAccountId", `"AlarmArn":"arn:aws:cloudwatch:eu-west-1:111111111111:alarm:a","AWSAccountId":"222222222222","Region":"EU (Ireland)"`, "111111111111", "eu-west-1"},
		{"no ARN", `"AWSAccountId":"222222222222","Region":"EU (Ireland)"`, "222222222222", ""},
		{"placeholder ARN region", `"AlarmArn":"arn:aws:cloudwatch:REGION:ACCOUNT:alarm:a"`, "ACCOUNT", ""},
		{"GovCloud", `"AlarmArn":"arn:aws-us-gov:cloudwatch:us-gov-west-1:111111111111:alarm:a"`, "111111111111", "us-gov-west-1"},
		{"account with a space is dropped", `"AWSAccountId":"1111 2222"`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := DecodeAlarmMessage([]byte(`{"AlarmName":"a","NewStateValue":"ALARM","StateChangeTime":"2026-03-14T09:26:53Z",` + tc.msg + `}`))
			if err != nil {
				t.Fatal(err)
			}
			if a.AccountID != tc.account || a.Region != tc.region {
				t.Errorf("account %q region %q, want %q %q", a.AccountID, a.Region, tc.account, tc.region)
			}
		})
	}
	// The alarm action: ARN account over accountId, region from the payload when the ARN has none usable.
	_, recs, err := Decode([]byte(`{"source":"aws.cloudwatch","alarmArn":"arn:aws:cloudwatch:eu-west-1:912397435824:alarm:x",
		"accountId":"123456789012","region":"eu-west-1","alarmData":{"alarmName":"x","state":{"value":"OK","timestamp":"2024-02-17T11:53:08.431+0000"}}}`))
	if err != nil || recs[0].Alarm.AccountID != "912397435824" || recs[0].Alarm.Region != "eu-west-1" {
		t.Errorf("alarm action: %v %+v", err, recs)
	}
}

// A re-check's incident is one per (alarm, transition, target, live deployment), and never an alarm
// transition's own.
func TestRecheckKeyIsItsOwnIncident(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC)
	a := Alarm{Name: "luna-5xx", ARN: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:luna-5xx", State: StateAlarm, StateChangeTime: at}
	k := a.RecheckKey(at, "abc/prod", "d3")
	if k != a.RecheckKey(at.In(time.FixedZone("KST", 9*3600)), "abc/prod", "d3") || len(k) != 16 {
		t.Errorf("RecheckKey %q is not one stable 16-digit key for the same instant", k)
	}
	for _, other := range []string{a.RecheckKey(at, "abc/prod", "d4"), a.RecheckKey(at.Add(time.Second), "abc/prod", "d3"), a.IncidentKey()} {
		if other == k {
			t.Errorf("two different incidents share the key %q", k)
		}
	}
}
