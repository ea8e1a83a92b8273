package event

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dp writes a datapoint as the tables below do: "14@2026-03-14T09:25:00Z", "10" (no time) or
// "missing@2026-03-14T09:25:00Z".
func dp(d Datapoint) string {
	v := strconv.FormatFloat(d.Value, 'g', -1, 64)
	if d.Missing {
		v = "missing"
	}
	if d.Start.IsZero() {
		return v
	}
	return v + "@" + d.Start.Format(time.RFC3339)
}

func dps(ds []Datapoint) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = dp(d)
	}
	return out
}

// wantEvidence is an alarm's expected Evidence. Latest is LatestBreach's end ("" = not known);
// Window, when set, is Window()'s "start..end" (RFC 3339).
type wantEvidence struct {
	Period                time.Duration
	N, M                  int
	MissingBreaching      bool
	Datapoints, Evaluated []string
	Latest                string
	Window                string
}

const (
	m1 = time.Minute
	m5 = 5 * time.Minute
)

var fiveDatapoints = wantEvidence{Period: m1, N: 2, M: 2, Datapoints: []string{"14@2026-03-14T09:25:00Z", "9@2026-03-14T09:24:00Z"},
	Latest: "2026-03-14T09:26:00Z", Window: "2026-03-14T09:24:53.589Z..2026-03-14T09:26:53.589Z"}

var p99Datapoints = wantEvidence{Period: m5, N: 3, M: 3, Datapoints: []string{"3120@2026-03-14T09:25:00Z"}, Latest: "2026-03-14T09:30:00Z"}

// evidenceTable: the evidence of every sample and fixture alarm that carries datapoints, by
// "samples/<dir>/<file>" or "events/<file>" (the alarm of the file's first record that has one).
// TestEvidenceOfEverySample fails for an alarm with datapoints that is not here.
var evidenceTable = map[string]wantEvidence{
	// Real published notifications (../shared/samples, see SOURCES.md).
	"samples/bare_alarm/cpp-test-lambda-errors-alarm-to-ok.json": {Period: m5, N: 1,
		Datapoints: []string{"0@2024-03-19T17:14:00Z"}, Latest: "2024-03-19T17:19:00Z", Window: "2024-03-19T17:14:14.422Z..2024-03-19T17:19:14.422Z"},
	"samples/bare_alarm/cpp-test-wafv2-three-dimensions-missing-nonbreaching.json": {Period: m1, N: 20, M: 1,
		Datapoints: []string{"613@2024-03-16T12:15:00Z"}, Latest: "2024-03-16T12:16:00Z", Window: "2024-03-16T11:56:45.77Z..2024-03-16T12:16:45.77Z"},
	// "1 datapoint (10.0)": the wording before datapoints had times.
	"samples/bare_alarm/legiti-region-localhost-apostrophe.json": {Period: m5, N: 1, Datapoints: []string{"10"}},
	"samples/bare_alarm/realworld-extendedstatistic-type-with-average-value.json": {Period: m1, N: 1, M: 1,
		Datapoints: []string{"0.337675@2021-12-19T23:01:00Z"}, Latest: "2021-12-19T23:02:00Z"},
	"samples/eventbridge_alarm/docs-anomaly-detection-band.json": {Period: m1, N: 1, M: 1,
		Datapoints: []string{"0@2019-10-03T15:58:00Z"}, Latest: "2019-10-03T15:59:00Z"},
	"samples/eventbridge_alarm/docs-metric-math-insufficient-to-alarm.json": {Period: m5, N: 1, M: 1,
		Datapoints: []string{"45628@2019-10-02T17:10:00Z"}, Latest: "2019-10-02T17:15:00Z"},
	"samples/eventbridge_alarm/docs-single-metric-cpu-ok-to-alarm.json": {Period: m5, N: 1, M: 1,
		Datapoints: []string{"99.50160229693434@2019-10-02T16:59:00Z"}, Latest: "2019-10-02T17:04:00Z"},
	"samples/odd/powertools-lambda-alarm-action-metric-math.json": {Period: m1, N: 1, M: 1,
		Datapoints: []string{"1@2024-02-17T11:51:00Z"}, Evaluated: []string{"1@2024-02-17T11:51:00Z"},
		Latest: "2024-02-17T11:52:00Z", Window: "2024-02-17T11:51:00Z..2024-02-17T11:52:00Z"},
	"samples/sns_alarm/lambda-cw-slack-rds-null-description.json": {Period: m5, N: 1, Datapoints: []string{"10"}},
	// aws-lambda-go's hand-made fixtures write "06/03/15 17:43:27" for a change on 3 June 2015: read as
	// CloudWatch's dd/MM/yy that is 6 March, three months before the change, so the time is refused.
	"samples/sns_alarm/lambda-go-metric-math-ec2.json":              {Period: m1, N: 1, M: 1, Datapoints: []string{"1234"}},
	"samples/sns_alarm/lambda-go-single-metric-ec2-networkout.json": {Period: m1, N: 1, M: 1, Datapoints: []string{"1234"}},
	"samples/sns_alarm/notify-slack-ok-custom-metric-null-unit.json": {Period: m1, N: 1,
		Datapoints: []string{"1@2019-02-12T15:44:00Z"}, Latest: "2019-02-12T15:45:00Z"},
	"samples/sns_alarm/realworld-anomaly-band-alb-p90-ok.json": {Period: 15 * time.Minute, N: 2,
		Datapoints: []string{"0.0025642349034637954@2021-06-29T15:20:00Z"}, Latest: "2021-06-29T15:35:00Z"},
	"samples/sns_alarm/realworld-lambda-invocations-insufficient-to-alarm-arn-mismatch.json": {Period: m1, N: 1, M: 1,
		Datapoints: []string{"2@2023-10-10T06:40:00Z"}, Latest: "2023-10-10T06:41:00Z"},
	// No Trigger: no period, so no end for the datapoint, and a window that is the instant of the change.
	"samples/sns_alarm/ts-japanese-description-no-trigger.json": {N: 1, Datapoints: []string{"1@2025-01-08T12:00:00Z"},
		Window: "2025-01-08T12:00:00Z..2025-01-08T12:00:00Z"},

	// testdata/events.
	"events/alarm-action-apigw-5xx.json":             fiveDatapoints,
	"events/alarm-message-apigw-5xx.json":            fiveDatapoints,
	"events/eventbridge-apigw-5xx-alarm.json":        fiveDatapoints,
	"events/sns-apigw-5xx-alarm.json":                fiveDatapoints,
	"events/sns-envelope-apigw-5xx.json":             fiveDatapoints,
	"events/sns-multi-record-alarm-and-budgets.json": fiveDatapoints,
	"events/eventbridge-apigw-latency-p99.json":      p99Datapoints,
	"events/sns-eventbridge-via-sns.json":            p99Datapoints,
	"events/sns-apigw-5xx-ok.json": {Period: m1, N: 2, M: 2, Datapoints: []string{"0@2026-03-14T09:40:00Z", "1@2026-03-14T09:39:00Z"},
		Latest: "2026-03-14T09:41:00Z"},
	"events/sns-apigw-anomaly-latency.json": {Period: m5, N: 3, M: 3, Datapoints: []string{"2875.4@2026-03-14T11:05:00Z"},
		Latest: "2026-03-14T11:10:00Z"},
	"events/sns-apigw-metric-math.json": {Period: m1, N: 1, M: 1, Datapoints: []string{"6.25@2026-03-14T09:26:00Z"},
		Latest: "2026-03-14T09:27:00Z"},
	"events/sns-apigw-metric-math-two-apis.json": {Period: m1, N: 1, M: 1, Datapoints: []string{"12@2026-03-14T09:26:00Z"},
		Latest: "2026-03-14T09:27:00Z"},
	// 2 out of 3: the reason lists the two that breached, reasonData all three evaluated.
	"events/eventbridge-apigw-api-wide-5xx.json": {Period: m1, N: 3, M: 2,
		Datapoints: []string{"8@2026-03-14T09:25:00Z", "6@2026-03-14T09:23:00Z"},
		Evaluated:  []string{"8@2026-03-14T09:25:00Z", "1@2026-03-14T09:24:00Z", "6@2026-03-14T09:23:00Z"},
		Latest:     "2026-03-14T09:26:00Z", Window: "2026-03-14T09:23:00Z..2026-03-14T09:26:00Z"},
	// Missing data treated as breaching: the missing period (dated by reasonData) is the newest breach.
	"events/alarm-action-apigw-5xx-missing-breaching.json": {Period: m1, N: 2, M: 2, MissingBreaching: true,
		Datapoints: []string{"missing@2026-03-14T09:25:00Z", "7@2026-03-14T09:24:00Z"},
		Evaluated:  []string{"missing@2026-03-14T09:25:00Z", "7@2026-03-14T09:24:00Z"},
		Latest:     "2026-03-14T09:26:00Z", Window: "2026-03-14T09:24:00Z..2026-03-14T09:26:00Z"},
}

// everyPayload reads every file of testdata/events and of the shared samples (when present), by the
// names evidenceTable uses.
func everyPayload(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	files, err := filepath.Glob(filepath.Join(fixturesDir(t), "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out["events/"+filepath.Base(f)] = b
	}
	dir := samplesDir(t)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(p) == "SOURCES.md" {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		out["samples/"+filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEvidenceOfEverySample(t *testing.T) {
	payloads := everyPayload(t)
	for name := range evidenceTable {
		if _, ok := payloads[name]; !ok {
			t.Errorf("%s is in evidenceTable but is no file", name)
		}
	}
	dated := 0
	for name, b := range payloads {
		_, recs, _ := Decode(b)
		seen := false
		for _, r := range recs {
			if r.Alarm == nil {
				continue
			}
			a := *r.Alarm
			checkEvidenceInvariants(t, name+" "+r.Source, a)
			if slices.ContainsFunc(a.Evidence.Datapoints, func(d Datapoint) bool { return !d.Start.IsZero() }) {
				dated++
			}
			if seen {
				continue
			}
			want, listed := evidenceTable[name]
			if !listed {
				if len(a.Evidence.Datapoints)+len(a.Evidence.Evaluated) > 0 {
					t.Errorf("%s: alarm with datapoints %v not in evidenceTable: add what it must give", name, dps(a.Evidence.Datapoints))
				}
				continue
			}
			seen = true
			checkEvidence(t, name, a.Evidence, want)
		}
		if _, listed := evidenceTable[name]; listed && !seen {
			t.Errorf("%s: in evidenceTable but decodes to no alarm", name)
		}
	}
	if dated < 20 {
		t.Errorf("only %d alarms with dated datapoints: the samples are not being read", dated)
	}
}

func checkEvidence(t *testing.T, name string, e Evidence, w wantEvidence) {
	t.Helper()
	if e.Period != w.Period || e.EvaluationPeriods != w.N || e.DatapointsToAlarm != w.M || e.MissingBreaching != w.MissingBreaching {
		t.Errorf("%s: period %v N %d M %d missing-breaching %v, want %v %d %d %v", name, e.Period, e.EvaluationPeriods,
			e.DatapointsToAlarm, e.MissingBreaching, w.Period, w.N, w.M, w.MissingBreaching)
	}
	if got := dps(e.Datapoints); !slices.Equal(got, w.Datapoints) && !(len(got) == 0 && len(w.Datapoints) == 0) {
		t.Errorf("%s: datapoints %v, want %v", name, got, w.Datapoints)
	}
	if got := dps(e.Evaluated); !slices.Equal(got, w.Evaluated) && !(len(got) == 0 && len(w.Evaluated) == 0) {
		t.Errorf("%s: evaluated %v, want %v", name, got, w.Evaluated)
	}
	end, ok := e.LatestBreach()
	switch {
	case w.Latest == "" && ok:
		t.Errorf("%s: LatestBreach %s, want not known", name, end.Format(time.RFC3339Nano))
	case w.Latest != "" && (!ok || end.Format(time.RFC3339Nano) != w.Latest):
		t.Errorf("%s: LatestBreach %s %v, want %s", name, end.Format(time.RFC3339Nano), ok, w.Latest)
	}
	if w.Window != "" {
		s, en := e.Window()
		if got := s.UTC().Format(time.RFC3339Nano) + ".." + en.UTC().Format(time.RFC3339Nano); got != w.Window {
			t.Errorf("%s: Window %s, want %s", name, got, w.Window)
		}
	}
}

// checkEvidenceInvariants holds for every alarm: datapoint times are UTC, never after the state
// change; for an ALARM whose reason CloudWatch wrote, every datapoint the reason lists is kept and
// ends (start + period) at most one period after the state change (the newest period may still be
// filling); the window and LatestBreach stay within that too.
func checkEvidenceInvariants(t testing.TB, where string, a Alarm) {
	t.Helper()
	e := a.Evidence
	at := a.StateChangeTime
	if !e.StateChangeTime.Equal(at) {
		t.Errorf("%s: Evidence.StateChangeTime %v, alarm's %v", where, e.StateChangeTime, at)
	}
	if e.Period < 0 || e.Period > maxPeriod || e.EvaluationPeriods < 0 || e.DatapointsToAlarm < 0 ||
		(e.EvaluationPeriods > 0 && e.DatapointsToAlarm > e.EvaluationPeriods) {
		t.Errorf("%s: period %v N %d M %d", where, e.Period, e.EvaluationPeriods, e.DatapointsToAlarm)
	}
	for _, list := range [][]Datapoint{e.Datapoints, e.Evaluated} {
		for _, d := range list {
			if math.IsNaN(d.Value) || math.IsInf(d.Value, 0) || (d.Missing && d.Value != 0) {
				t.Errorf("%s: datapoint %+v", where, d)
			}
			if d.Start.IsZero() {
				continue
			}
			if d.Start.Location() != time.UTC || d.Start.After(at) {
				t.Errorf("%s: datapoint %s starts after the state change %s or not in UTC", where, dp(d), at.Format(time.RFC3339Nano))
			}
			if d.Start.Add(e.Period).After(at.Add(e.Period)) {
				t.Errorf("%s: datapoint %s ends more than a period after the state change %s", where, dp(d), at.Format(time.RFC3339Nano))
			}
		}
	}
	if info := parseReason(a.Reason); a.State == StateAlarm && info.ok && len(e.Datapoints) < len(info.points) {
		t.Errorf("%s: the reason lists %d datapoints, Evidence has %d", where, len(info.points), len(e.Datapoints))
	}
	if end, ok := e.LatestBreach(); ok && (end.After(at.Add(e.Period)) || e.Period == 0) {
		t.Errorf("%s: LatestBreach %s after the state change %s plus a period", where, end, at)
	}
	if s, en := e.Window(); s.After(en) || en.After(at.Add(e.Period)) {
		t.Errorf("%s: Window %s..%s", where, s, en)
	}
}

func TestParseReason(t *testing.T) {
	type want struct {
		ok               bool
		points           []string
		crossed, of, min int
		missingBreaching bool
	}
	for _, tc := range []struct {
		reason string
		want   want
	}{
		// The examples AWS's documentation and the samples show.
		{"Threshold Crossed: 1 datapoint [49.0 (01/12/26 11:40:20)] was greater than or equal to the threshold (10.0).",
			want{ok: true, points: []string{"49@2026-12-01T11:40:20Z"}, crossed: 1, of: 1}},
		{"Threshold Crossed: 2 out of the last 3 datapoints [5.0 (22/09/20 13:10:00), 4.0 (22/09/20 13:05:00)] were greater than the threshold (3.0) (minimum 2 datapoints for OK -> ALARM transition).",
			want{ok: true, points: []string{"5@2020-09-22T13:10:00Z", "4@2020-09-22T13:05:00Z"}, crossed: 2, of: 3, min: 2}},
		{"Threshold Crossed: 1 out of the last 20 datapoints [613.0 (16/03/24 12:15:00)] was greater than or equal to the threshold (1.0) and 19 missing datapoints were treated as [NonBreaching] (minimum 1 datapoint for OK -> ALARM transition).",
			want{ok: true, points: []string{"613@2024-03-16T12:15:00Z"}, crossed: 1, of: 20, min: 1}},
		{"Thresholds Crossed: 1 out of the last 1 datapoints [0.0 (03/10/19 15:58:00)] was less than the lower thresholds [0.020599444741798756] or greater than the upper thresholds [0.3006915352732461] (minimum 1 datapoint for OK -> ALARM transition).",
			want{ok: true, points: []string{"0@2019-10-03T15:58:00Z"}, crossed: 1, of: 1, min: 1}},
		{"Thresholds Crossed: 1 out of the last 2 datapoints [0.0025642349034637954 (29/06/21 15:20:00)] was not greater than the upper thresholds [0.3309826664011767] (minimum 1 datapoint for ALARM -> OK transition).",
			want{ok: true, points: []string{"0.0025642349034637954@2021-06-29T15:20:00Z"}, crossed: 1, of: 2}},
		{"Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching].",
			want{ok: true, of: 2, missingBreaching: true}},
		{"Threshold Crossed: 1 out of the last 2 datapoints [7.0 (14/03/26 09:24:00)] was greater than or equal to the threshold (5.0) and 1 missing datapoint was treated as [Breaching] (minimum 2 datapoints for OK -> ALARM transition).",
			want{ok: true, points: []string{"7@2026-03-14T09:24:00Z"}, crossed: 1, of: 2, min: 2, missingBreaching: true}},
		{"Threshold Crossed: 1 datapoint (10.0) was greater than or equal to the threshold (10.0).",
			want{ok: true, points: []string{"10"}, crossed: 1, of: 1}},
		// LocalStack's snapshot placeholder for the time: the value stays, without a time.
		{"Threshold Crossed: 1 datapoint [21.5 (MM/DD/YY HH:MM:SS)] was greater than the threshold (21.0).",
			want{ok: true, points: []string{"21.5"}, crossed: 1, of: 1}},
		// What Rewind's own demo and bench write.
		{"Threshold Crossed: 1 datapoint [12.0] was greater than or equal to the threshold (5.0).", want{ok: true, points: []string{"12"}, crossed: 1, of: 1}},
		// Percentiles, Java's exponent form, negatives.
		{"Threshold Crossed: 1 out of the last 1 datapoints [1.2345E7 (14/03/26 09:25:00)] was greater than the threshold (2500.0) (minimum 1 datapoint for OK -> ALARM transition).",
			want{ok: true, points: []string{"1.2345e+07@2026-03-14T09:25:00Z"}, crossed: 1, of: 1, min: 1}},
		{"Threshold Crossed: 2 out of the last 2 datapoints [-3.5 (14/03/26 09:25:00), -4.0E-4 (14/03/26 09:24:00)] were less than the threshold (0.0) (minimum 2 datapoints for OK -> ALARM transition).",
			want{ok: true, points: []string{"-3.5@2026-03-14T09:25:00Z", "-0.0004@2026-03-14T09:24:00Z"}, crossed: 2, of: 2, min: 2}},
		{"Threshold Crossed: 0 out of the last 3 datapoints [] were greater than the threshold (5.0) (minimum 2 datapoints for ALARM -> OK transition).",
			want{ok: true, crossed: 0, of: 3}},

		// Not an evaluation: no datapoints.
		{"Insufficient Data: 10 datapoints were unknown.", want{}},
		{"Unchecked: Initial alarm creation", want{}},
		{"testing alarm", want{}},
		{"forced test reason", want{}},
		{"Threshold Crossed", want{}},
		{"arn:aws:cloudwatch:us-east-1:427809481713:alarm:x transitioned to ALARM at Wednesday 10 November, 2021 02:45:55 UTC", want{}},
		{"", want{}},
		// A hand-set reason in other words is never read, even with a list in it.
		{"Manually set: 1 datapoint [49.0 (01/12/26 11:40:20)]", want{}},
		{"threshold crossed: 1 datapoint [49.0 (01/12/26 11:40:20)] was greater", want{}},

		// Malformed: nothing at all.
		{"Threshold Crossed: 1 datapoint [49.0 (01/12/26 11:40:20) was greater", want{}},
		{"Threshold Crossed: 1 datapoint [NaN (01/12/26 11:40:20)] was greater", want{}},
		{"Threshold Crossed: 1 datapoint [Infinity] was greater", want{}},
		{"Threshold Crossed: 1 datapoint [1e999] was greater", want{}},
		{"Threshold Crossed: 1 datapoint [0x1p3] was greater", want{}},
		{"Threshold Crossed: 1 datapoint [49.0 (01/12/26 11:40:20)), 3.0] was greater", want{}},
		{"Threshold Crossed: 1 datapoint [49.0 (01/12/26 11:40:20),3.0] was greater", want{}},
		{"Threshold Crossed: 1 datapoint [, ] was greater", want{}},
		{"Threshold Crossed: one datapoint [49.0] was greater", want{}},
		{"Threshold Crossed: 1 datapoint 49.0 was greater", want{}},
		{"Threshold Crossed: 1234567890 datapoints [1.0]", want{}},
		{"Threshold Crossed: 2 out of the last three datapoints [1.0]", want{}},
		{"Threshold Crossed: no datapoints were received for many periods", want{}},
	} {
		got := parseReason(tc.reason)
		g := want{ok: got.ok, points: dps(got.points), crossed: got.crossed, of: got.of, min: got.minimum, missingBreaching: got.missingBreaching}
		if len(g.points) == 0 {
			g.points = nil
		}
		if fmt.Sprint(g) != fmt.Sprint(tc.want) {
			t.Errorf("parseReason(%q)\n got %+v\nwant %+v", tc.reason, g, tc.want)
		}
	}
	long := "Threshold Crossed: 1 datapoint [" + strings.Repeat("1.0, ", maxDatapoints) + "1.0] was greater"
	if got := parseReason(long); got.ok || got.points != nil {
		t.Errorf("more than %d datapoints: %+v", maxDatapoints, got.ok)
	}
}

func TestParseReasonData(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
		period   time.Duration
		eval     []string
	}{
		{"evaluatedDatapoints", `{"version":"1.0","queryDate":"2024-02-17T11:53:08.423+0000","startDate":"2024-02-17T11:51:00.000+0000","statistic":"SampleCount","period":60,"recentDatapoints":[1.0],"threshold":10.0,"evaluatedDatapoints":[{"timestamp":"2024-02-17T11:51:00.000+0000","sampleCount":1.0,"value":1.0}]}`,
			true, m1, []string{"1@2024-02-17T11:51:00Z"}},
		{"missing periods have no value", `{"period":60,"recentDatapoints":[],"evaluatedDatapoints":[{"timestamp":"2023-08-04T12:30:00.000+0000"},{"timestamp":"2023-08-04T12:29:00.000+0000"}]}`,
			true, m1, []string{"missing@2023-08-04T12:30:00Z", "missing@2023-08-04T12:29:00Z"}},
		{"no evaluatedDatapoints", `{"version":"1.0","queryDate":"2019-10-02T17:04:40.985+0000","startDate":"2019-10-02T16:59:00.000+0000","statistic":"Average","period":300,"recentDatapoints":[99.50160229693434],"threshold":50.0}`,
			true, m5, nil},
		{"RFC 3339 timestamps", `{"period":300,"evaluatedDatapoints":[{"timestamp":"2026-01-29T09:55:00Z","value":85.0}]}`, true, m5, []string{"85@2026-01-29T09:55:00Z"}},
		{"a timestamp that does not read", `{"period":60,"evaluatedDatapoints":[{"timestamp":"2023-08-04T12: 30: 00.000+0000","value":1}]}`, true, m1, []string{"1"}},
		{"composite", `{"triggeringAlarms":[{"arn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh","state":{"value":"ALARM","timestamp":"2022-07-22T15:57:45.394+0000"}}]}`, true, 0, nil},
		{"absurd period", `{"period":99999999999}`, true, 0, nil},
		{"empty", ``, false, 0, nil},
		{"not JSON", `{"period":60,`, false, 0, nil},
		{"an array", `[{"period":60}]`, false, 0, nil},
		{"a string", `"{\"period\":60}"`, false, 0, nil},
		{"null", `null`, false, 0, nil},
		{"period as text", `{"period":"60","evaluatedDatapoints":[{"timestamp":"2024-02-17T11:51:00.000+0000","value":1.0}]}`, false, 0, nil},
		{"value as text", `{"period":60,"evaluatedDatapoints":[{"timestamp":"2024-02-17T11:51:00.000+0000","value":"1.0"}]}`, false, 0, nil},
		{"trailing data", `{"period":60} {}`, false, 0, nil},
	} {
		rd, ok := parseReasonData(tc.in)
		if ok != tc.ok || rd.period != tc.period || !slices.Equal(dps(rd.evaluated), tc.eval) && len(rd.evaluated)+len(tc.eval) > 0 {
			t.Errorf("%s: ok %v period %v evaluated %v, want %v %v %v", tc.name, ok, rd.period, dps(rd.evaluated), tc.ok, tc.period, tc.eval)
		}
	}
	many := `{"period":60,"evaluatedDatapoints":[` + strings.Repeat(`{"timestamp":"2024-02-17T11:51:00.000+0000"},`, maxDatapoints) + `{}]}`
	if _, ok := parseReasonData(many); ok {
		t.Errorf("more than %d evaluated datapoints accepted", maxDatapoints)
	}
}

// A reason or reasonData Rewind cannot read never fails the decode: the alarm comes through with
// no datapoints.
func TestUnreadableEvidenceNeverFailsADecode(t *testing.T) {
	for _, reasonData := range []string{`not json`, `{"period":"sixty"}`, `[1,2]`, `{"evaluatedDatapoints":{"a":1}}`} {
		detail := `{"alarmName":"a","state":{"value":"ALARM","reason":"Threshold Crossed: 1 datapoint [oops (x)] was","reasonData":` +
			strconv.Quote(reasonData) + `,"timestamp":"2026-03-14T09:26:53.589+0000"}}`
		_, recs, err := Decode([]byte(ebWith(detail)))
		if err != nil || len(recs) != 1 || recs[0].Alarm == nil {
			t.Fatalf("reasonData %s: %v %+v", reasonData, err, recs)
		}
		if e := recs[0].Alarm.Evidence; len(e.Datapoints)+len(e.Evaluated) != 0 || e.Period != 0 {
			t.Errorf("reasonData %s: evidence %+v", reasonData, e)
		}
	}
	a, err := DecodeAlarmMessage([]byte(`{"AlarmName":"a","NewStateValue":"ALARM","StateChangeTime":"2026-03-14T09:26:53Z",
		"NewStateReason":"Threshold Crossed: 1 datapoint [1.0 (99/99/99 99:99:99)] was","Trigger":{"Period":-60,"EvaluationPeriods":0}}`))
	if err != nil {
		t.Fatal(err)
	}
	if e := a.Evidence; e.Period != 0 || dps(e.Datapoints)[0] != "1" {
		t.Errorf("evidence %+v", e)
	}
}

func TestEvidenceSettings(t *testing.T) {
	msg := func(trigger, reason string) Evidence {
		t.Helper()
		a, err := DecodeAlarmMessage([]byte(`{"AlarmName":"a","NewStateValue":"ALARM","StateChangeTime":"2026-03-14T09:26:53Z",
			"NewStateReason":` + strconv.Quote(reason) + `,"Trigger":` + trigger + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return a.Evidence
	}
	const r23 = "Threshold Crossed: 2 out of the last 3 datapoints [5.0 (14/03/26 09:25:00), 4.0 (14/03/26 09:23:00)] were greater than the threshold (3.0) (minimum 2 datapoints for OK -> ALARM transition)."
	for _, tc := range []struct {
		name, trigger, reason string
		period                time.Duration
		n, m                  int
	}{
		{"the trigger's settings", `{"Period":60,"EvaluationPeriods":5,"DatapointsToAlarm":4}`, r23, m1, 5, 4},
		{"the reason fills what the trigger lacks", `{"Period":60}`, r23, m1, 3, 2},
		{"metric math: the longest metric period", `{"Metrics":[{"Id":"e1","Expression":"m1+m2"},{"Id":"m1","MetricStat":{"Period":60}},{"Id":"m2","MetricStat":{"Period":300}}]}`, r23, m5, 3, 2},
		{"an expression's own period", `{"Metrics":[{"Id":"e1","Expression":"SELECT SUM(x)","Period":120}]}`, "", 2 * time.Minute, 0, 0},
		{"M > N is refused", `{"Period":60,"EvaluationPeriods":2,"DatapointsToAlarm":3}`, "", m1, 2, 0},
		{"absurd values are unknown", `{"Period":8640000,"EvaluationPeriods":1000000,"DatapointsToAlarm":-1}`, "", 0, 0, 0},
		{"the minimum of an ALARM -> OK transition is not M", `{"Period":60,"EvaluationPeriods":3}`,
			"Threshold Crossed: 2 out of the last 3 datapoints [0.0 (14/03/26 09:25:00), 0.0 (14/03/26 09:24:00)] were not greater than the threshold (3.0) (minimum 2 datapoints for ALARM -> OK transition).", m1, 3, 0},
	} {
		e := msg(tc.trigger, tc.reason)
		if e.Period != tc.period || e.EvaluationPeriods != tc.n || e.DatapointsToAlarm != tc.m {
			t.Errorf("%s: period %v N %d M %d, want %v %d %d", tc.name, e.Period, e.EvaluationPeriods, e.DatapointsToAlarm, tc.period, tc.n, tc.m)
		}
	}
	// EventBridge: reasonData's period wins over the metrics'; configuration's counts over the reason's.
	detail := `{"alarmName":"a","state":{"value":"ALARM","reason":` + strconv.Quote(r23) + `,"reasonData":"{\"period\":120}","timestamp":"2026-03-14T09:26:53.589+0000"},
		"configuration":{"evaluationPeriods":4,"datapointsToAlarm":3,"metrics":[{"id":"m1","metricStat":{"metric":{"namespace":"AWS/ApiGateway","name":"5XXError","dimensions":{}},"period":60,"stat":"Sum"}}]}}`
	_, recs, err := Decode([]byte(ebWith(detail)))
	if err != nil {
		t.Fatal(err)
	}
	if e := recs[0].Alarm.Evidence; e.Period != 2*time.Minute || e.EvaluationPeriods != 4 || e.DatapointsToAlarm != 3 {
		t.Errorf("EventBridge: period %v N %d M %d", e.Period, e.EvaluationPeriods, e.DatapointsToAlarm)
	}
}

func TestDatapointTimesMustBeTheAlarms(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	for _, tc := range []struct {
		name, when string
		kept       bool
	}{
		{"a minute before", "14/03/26 09:25:00", true},
		{"the still-filling period", "14/03/26 09:26:00", true},
		{"the very instant", "14/03/26 09:26:53", true},
		{"after the state change", "14/03/26 09:27:00", false},
		{"a day later (another date order)", "15/03/26 09:25:00", false},
		{"within a day and two windows", "13/03/26 10:00:00", true},
		{"months before (MM/dd read as dd/MM)", "03/01/26 09:25:00", false},
	} {
		e := buildEvidence(evidenceInput{period: 60, evaluationPeriods: 5,
			reason: "Threshold Crossed: 1 datapoint [9.0 (" + tc.when + ")] was greater than the threshold (5.0)."}, at)
		if kept := !e.Datapoints[0].Start.IsZero(); kept != tc.kept {
			t.Errorf("%s: kept %v, want %v", tc.name, kept, tc.kept)
		}
	}
}

func TestLatestBreachAndWindow(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	ts := func(hm string) time.Time {
		t, _ := time.Parse("2006-01-02T15:04Z", "2026-03-14T"+hm+"Z")
		return t
	}
	for _, tc := range []struct {
		name       string
		e          Evidence
		latest     string // "" = not known
		start, end string
	}{
		{"the newest datapoint's end", Evidence{Period: m1, EvaluationPeriods: 3, StateChangeTime: at,
			Datapoints: []Datapoint{{Start: ts("09:23"), Value: 6}, {Start: ts("09:25"), Value: 8}}}, "09:26", "09:23:53", "09:26:53"},
		{"undated datapoints are skipped", Evidence{Period: m1, StateChangeTime: at,
			Datapoints: []Datapoint{{Value: 6}, {Start: ts("09:20"), Value: 8}}}, "09:21", "09:25:53", "09:26:53"},
		{"no dated datapoint", Evidence{Period: m5, EvaluationPeriods: 2, StateChangeTime: at, Datapoints: []Datapoint{{Value: 6}}}, "", "09:16:53", "09:26:53"},
		{"no period", Evidence{StateChangeTime: at, Datapoints: []Datapoint{{Start: ts("09:25"), Value: 6}}}, "", "09:26:53", "09:26:53"},
		{"missing breaching, undated", Evidence{Period: m1, EvaluationPeriods: 2, MissingBreaching: true, StateChangeTime: at,
			Datapoints: []Datapoint{{Start: ts("09:24"), Value: 7}}}, "", "09:24:53", "09:26:53"},
		{"missing breaching, dated", Evidence{Period: m1, EvaluationPeriods: 2, MissingBreaching: true, StateChangeTime: at,
			Datapoints: []Datapoint{{Start: ts("09:25"), Missing: true}, {Start: ts("09:24"), Value: 7}},
			Evaluated:  []Datapoint{{Start: ts("09:25"), Missing: true}, {Start: ts("09:24"), Value: 7}}}, "09:26", "09:24:00", "09:26:00"},
		{"the window is what was evaluated", Evidence{Period: m1, EvaluationPeriods: 5, StateChangeTime: at,
			Datapoints: []Datapoint{{Start: ts("09:22"), Value: 9}},
			Evaluated:  []Datapoint{{Start: ts("09:25"), Value: 1}, {Start: ts("09:22"), Value: 9}, {Value: 3}}}, "09:23", "09:22:00", "09:26:00"},
		{"nothing known", Evidence{StateChangeTime: at}, "", "09:26:53", "09:26:53"},
	} {
		end, ok := tc.e.LatestBreach()
		got := ""
		if ok {
			got = end.Format("15:04")
		}
		if got != tc.latest {
			t.Errorf("%s: LatestBreach %q, want %q", tc.name, got, tc.latest)
		}
		s, en := tc.e.Window()
		if s.Format("15:04:05") != tc.start || en.Format("15:04:05") != tc.end {
			t.Errorf("%s: Window %s..%s, want %s..%s", tc.name, s.Format("15:04:05"), en.Format("15:04:05"), tc.start, tc.end)
		}
	}
}

func TestMetricsKeepEachMetricsDimensions(t *testing.T) {
	_, recs, err := Decode(readFixture(t, "sns-apigw-metric-math-two-apis.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := recs[0].Alarm
	if len(a.Metrics) != 2 || a.MetricCount() != 2 {
		t.Fatalf("metrics %+v: the expression e1 is no metric", a.Metrics)
	}
	for i, want := range []string{"orders-api", "users-api"} {
		m := a.Metrics[i]
		if v, _ := a.MetricDimension(i, "ApiName"); v != want || m.Namespace != "AWS/ApiGateway" || m.Name != "5XXError" || m.Stat != "Sum" || m.Period != m1 {
			t.Errorf("metric %d: %+v, ApiName %q", i, m, v)
		}
		if v, _ := a.MetricDimension(i, "Stage"); v != "prod" {
			t.Errorf("metric %d Stage %q", i, v)
		}
	}
	if _, ok := a.MetricDimension(2, "ApiName"); ok {
		t.Error("metric 2 of 2 answered")
	}
	if _, ok := a.MetricDimension(-1, "ApiName"); ok {
		t.Error("metric -1 answered")
	}
	if v, _ := a.Dimension("ApiName"); v != "orders-api" {
		t.Errorf("merged ApiName %q: the first, as before", v)
	}
	// A single-metric SNS alarm: one metric, no id; a composite: none.
	_, recs, _ = Decode(readFixture(t, "sns-apigw-5xx-alarm.json"))
	if m := recs[0].Alarm.Metrics; len(m) != 1 || m[0].ID != "" || m[0].Name != "5XXError" || !slices.Equal(m[0].Dimensions, apiProd) {
		t.Errorf("single metric: %+v", m)
	}
	_, recs, _ = Decode(readFixture(t, "sns-composite.json"))
	if m := recs[0].Alarm.Metrics; len(m) != 0 {
		t.Errorf("composite: %+v", m)
	}
	// EventBridge: one metric per metricStat, dimensions sorted by name.
	eb := `{"alarmName":"a","state":{"value":"ALARM","timestamp":"2026-03-14T09:26:53.589+0000"},"configuration":{"metrics":[
	 {"id":"m1","metricStat":{"metric":{"namespace":"AWS/ApiGateway","name":"5XXError","dimensions":{"Stage":"prod","ApiName":"x"}},"period":60,"stat":"Sum"}},
	 {"id":"m2","metricStat":{"metric":{"namespace":"AWS/ApiGateway","name":"5XXError","dimensions":{"Stage":"beta","ApiName":"x"}},"period":60,"stat":"Sum"}},
	 {"id":"e1","expression":"m1+m2","returnData":true}]}}`
	_, recs, err = Decode([]byte(ebWith(eb)))
	if err != nil {
		t.Fatal(err)
	}
	a = recs[0].Alarm
	if len(a.Metrics) != 2 || a.Metrics[1].ID != "m2" || !slices.Equal(a.Metrics[1].Dimensions, []Dimension{{"ApiName", "x"}, {"Stage", "beta"}}) {
		t.Errorf("EventBridge metrics %+v", a.Metrics)
	}
}

// FuzzParseReason: any text reads without panicking; what it gives is bounded, finite and UTC; a
// reason that is not read gives nothing; and the list it read, written out again in CloudWatch's
// form, reads back the same.
func FuzzParseReason(f *testing.F) {
	for _, s := range []string{
		"Threshold Crossed: 1 datapoint [49.0 (01/12/26 11:40:20)] was greater than or equal to the threshold (10.0).",
		"Threshold Crossed: 2 out of the last 3 datapoints [5.0 (22/09/20 13:10:00), 4.0 (22/09/20 13:05:00)] were greater than the threshold (3.0) (minimum 2 datapoints for OK -> ALARM transition).",
		"Threshold Crossed: 1 out of the last 20 datapoints [613.0 (16/03/24 12:15:00)] was greater than or equal to the threshold (1.0) and 19 missing datapoints were treated as [NonBreaching] (minimum 1 datapoint for OK -> ALARM transition).",
		"Thresholds Crossed: 1 out of the last 1 datapoints [0.0 (03/10/19 15:58:00)] was less than the lower thresholds [0.0205] or greater than the upper thresholds [0.3006] (minimum 1 datapoint for OK -> ALARM transition).",
		"Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching].",
		"Threshold Crossed: 1 datapoint (10.0) was greater than or equal to the threshold (10.0).",
		"Threshold Crossed: 1 datapoint [21.5 (MM/DD/YY HH:MM:SS)] was greater than the threshold (21.0).",
		"Threshold Crossed: 1 datapoint [12.0] was greater than or equal to the threshold (5.0).",
		"Insufficient Data: 10 datapoints were unknown.", "Unchecked: Initial alarm creation", "testing alarm", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		info := parseReason(s)
		if !info.ok && (info.points != nil || info.of != 0 || info.crossed != 0 || info.minimum != 0 || info.missingBreaching) {
			t.Fatalf("not read, yet %+v", info)
		}
		if len(info.points) > maxDatapoints || info.of < 0 || info.of > 999999999 || info.minimum < 0 {
			t.Fatalf("unbounded: %d points, of %d, minimum %d", len(info.points), info.of, info.minimum)
		}
		for _, d := range info.points {
			if math.IsNaN(d.Value) || math.IsInf(d.Value, 0) || d.Missing {
				t.Fatalf("datapoint %+v", d)
			}
			if !d.Start.IsZero() && (d.Start.Location() != time.UTC || d.Start.Nanosecond() != 0) {
				t.Fatalf("datapoint time %v", d.Start)
			}
		}
		if again := parseReason(s); fmt.Sprint(again) != fmt.Sprint(info) {
			t.Fatalf("two reads differ: %+v, %+v", info, again)
		}
		if !info.ok || len(info.points) == 0 {
			return
		}
		items := make([]string, len(info.points))
		for i, d := range info.points {
			items[i] = strconv.FormatFloat(d.Value, 'f', -1, 64)
			if !d.Start.IsZero() {
				items[i] += " (" + d.Start.Format(reasonTimeLayout) + ")"
			}
		}
		again := parseReason(fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] were greater than the threshold (1.0).",
			info.crossed, info.of, strings.Join(items, ", ")))
		if !again.ok || fmt.Sprint(dps(again.points)) != fmt.Sprint(dps(info.points)) {
			t.Fatalf("written out again, %v reads as %v (%v)", dps(info.points), dps(again.points), again.ok)
		}
	})
}

// FuzzParseReasonData: any text reads without panicking into finite, UTC, bounded datapoints.
func FuzzParseReasonData(f *testing.F) {
	for _, s := range []string{
		`{"version":"1.0","queryDate":"2024-02-17T11:53:08.423+0000","startDate":"2024-02-17T11:51:00.000+0000","statistic":"SampleCount","period":60,"recentDatapoints":[1.0],"threshold":10.0,"evaluatedDatapoints":[{"timestamp":"2024-02-17T11:51:00.000+0000","sampleCount":1.0,"value":1.0}]}`,
		`{"period":60,"evaluatedDatapoints":[{"timestamp":"2023-08-04T12:30:00.000+0000"}]}`,
		`{"triggeringAlarms":[]}`, `null`, `[]`, ``, `{`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rd, ok := parseReasonData(s)
		if !ok && (rd.period != 0 || rd.evaluated != nil) {
			t.Fatalf("not read, yet %+v", rd)
		}
		if rd.period < 0 || rd.period > maxPeriod || len(rd.evaluated) > maxDatapoints {
			t.Fatalf("unbounded: %+v", rd)
		}
		for _, d := range rd.evaluated {
			if math.IsNaN(d.Value) || math.IsInf(d.Value, 0) || (d.Missing && d.Value != 0) {
				t.Fatalf("datapoint %+v", d)
			}
			if !d.Start.IsZero() && d.Start.Location() != time.UTC {
				t.Fatalf("datapoint time %v", d.Start)
			}
		}
		at := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
		e := buildEvidence(evidenceInput{period: 60, reason: "Threshold Crossed: 1 datapoint [1.0 (14/03/26 09:25:00)] was greater than the threshold (0.5).", reasonData: s}, at)
		if end, ok := e.LatestBreach(); ok && end.After(at.Add(e.Period)) {
			t.Fatalf("LatestBreach %v", end)
		}
	})
}
