package emf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/emf"
	"github.com/rewind-sre/rewind/pkg/rollback"
)

// units are the units a metric datum may carry (MetricDatum's Unit,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html).
var units = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
	"Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
	"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}

// Limits of the specification and of CloudWatch's metric model. Verified: the record's size (the
// specification: "subject to the same limits as standard CloudWatch Logs events ... a maximum size of
// 256 KB"; one translation says 1 MB, the smaller is kept), 30 dimensions a metric (API_Dimension:
// "You can assign up to 30 dimensions to a metric"; Value 1..1024 ASCII characters, not only
// whitespace, no control characters). Not read in the stored pages (their excerpts stop earlier),
// kept from the specification as remembered: at most 100 metric definitions a directive, at most 100
// values a metric, names up to 1024 characters; a record within them is within any looser limit.
const (
	maxMetricsPerDirective = 100
	maxDimensionsPerSet    = 30
	maxValuesPerMetric     = 100
	maxNameLength          = 1024
	maxDimensionValue      = 1024
	maxEventBytes          = 256 << 10
)

// validate checks one log line against the EMF specification and returns what is wrong with it.
func validate(line []byte) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if len(line) > maxEventBytes {
		bad("%d bytes: more than a log event holds", len(line))
	}
	if n := bytes.Count(bytes.TrimRight(line, "\n"), []byte("\n")); n != 0 {
		bad("%d newlines inside the record: each line is its own log event", n)
	}
	var root map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return append(errs, "not a JSON object: "+err.Error())
	}
	if dec.More() {
		bad("data after the JSON object")
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		return append(errs, "no _aws object at the root")
	}
	ts, ok := aws["Timestamp"].(json.Number)
	if !ok {
		bad("_aws.Timestamp is %T, want a number", aws["Timestamp"])
	} else if _, err := ts.Int64(); err != nil {
		bad("_aws.Timestamp %s: want whole milliseconds since the epoch", ts)
	}
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		return append(errs, "_aws.CloudWatchMetrics: want a non-empty array of metric directives")
	}
	for i, d := range directives {
		dir, ok := d.(map[string]any)
		if !ok {
			bad("CloudWatchMetrics[%d] is %T, want an object", i, d)
			continue
		}
		if ns, ok := dir["Namespace"].(string); !ok || ns == "" || len(ns) > 255 || strings.HasPrefix(ns, ":") {
			bad("CloudWatchMetrics[%d].Namespace %v: want 1..255 characters, not starting with ':'", i, dir["Namespace"])
		}
		sets, ok := dir["Dimensions"].([]any)
		if !ok {
			bad("CloudWatchMetrics[%d].Dimensions is %T, want an array of dimension sets", i, dir["Dimensions"])
		}
		for j, s := range sets {
			set, ok := s.([]any)
			if !ok {
				bad("Dimensions[%d] is %T, want an array of names", j, s)
				continue
			}
			if len(set) > maxDimensionsPerSet {
				bad("Dimensions[%d] has %d dimensions, at most %d", j, len(set), maxDimensionsPerSet)
			}
			for _, n := range set {
				name, ok := n.(string)
				if !ok || name == "" || len(name) > 255 {
					bad("Dimensions[%d]: dimension name %v", j, n)
					continue
				}
				v, ok := root[name].(string)
				switch {
				case !ok:
					bad("dimension %s: the root member is %T, want a string", name, root[name])
				case strings.TrimSpace(v) == "" || len(v) > maxDimensionValue:
					bad("dimension %s = %q: want 1..%d characters, not only spaces", name, v, maxDimensionValue)
				case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }):
					bad("dimension %s = %q: only printable ASCII", name, v)
				}
			}
		}
		metrics, ok := dir["Metrics"].([]any)
		if !ok || len(metrics) == 0 || len(metrics) > maxMetricsPerDirective {
			bad("CloudWatchMetrics[%d].Metrics: want 1..%d metric definitions, got %v", i, maxMetricsPerDirective, dir["Metrics"])
		}
		seen := map[string]bool{}
		for _, m := range metrics {
			def, ok := m.(map[string]any)
			if !ok {
				bad("metric definition %v is not an object", m)
				continue
			}
			name, _ := def["Name"].(string)
			if name == "" || len(name) > maxNameLength {
				bad("metric definition %v: want a Name of 1..%d characters", def, maxNameLength)
				continue
			}
			if seen[name] {
				bad("metric %s defined twice", name)
			}
			seen[name] = true
			if u, present := def["Unit"]; present {
				if s, _ := u.(string); !slices.Contains(units, s) {
					bad("metric %s: unit %v is not a CloudWatch unit", name, u)
				}
			}
			switch v := root[name].(type) {
			case json.Number:
			case []any:
				if len(v) == 0 || len(v) > maxValuesPerMetric {
					bad("metric %s: %d values, want 1..%d", name, len(v), maxValuesPerMetric)
				}
				for _, e := range v {
					if _, ok := e.(json.Number); !ok {
						bad("metric %s: value %v is not a number", name, e)
					}
				}
			default:
				bad("metric %s: the root member is %T, want a number", name, root[name])
			}
			for _, s := range sets {
				if set, ok := s.([]any); ok && slices.Contains(set, any(name)) {
					bad("%s is both a metric and a dimension", name)
				}
			}
		}
	}
	return errs
}

func number(t *testing.T, root map[string]any, name string) float64 {
	t.Helper()
	n, ok := root[name].(json.Number)
	if !ok {
		t.Fatalf("%s is %T", name, root[name])
	}
	f, err := n.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestEveryRecordIsEMF: a decision of every outcome (and the edge cases: no target, odd text, an
// impossible latency) gives one line that parses as EMF, whose metric values say what happened.
func TestEveryRecordIsEMF(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	base := rollback.Result{Action: rollback.ActionRollback, Target: "a1b2c3d4e5/prod", Code: rollback.CodeRolledBack, DurationMS: 41.5}
	cases := map[string]rollback.Result{}
	for _, o := range emf.Outcomes {
		r := base
		r.Outcome = o
		cases[string(o)] = r
	}
	cases["no target"] = rollback.Result{Action: rollback.ActionNone, Outcome: rollback.OutcomeIgnored, Code: rollback.CodeNotForRewind}
	cases["odd target"] = rollback.Result{Outcome: rollback.OutcomeFailed, Target: "ü\n" + strings.Repeat("x", 3000)}
	cases["NaN latency"] = rollback.Result{Outcome: rollback.OutcomeSkipped, Target: "t/s", DurationMS: math.NaN()}
	cases["negative latency"] = rollback.Result{Outcome: rollback.OutcomeSkipped, Target: "t/s", DurationMS: -3}
	cases["cloudfront target"] = rollback.Result{Outcome: rollback.OutcomeRolledBack, Target: "cloudfront:E2QWRUHAPOMQZL:/api/users/*", DryRun: true}

	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			line := emf.Record(r, at)
			if !bytes.HasSuffix(line, []byte("\n")) {
				t.Errorf("the record does not end its line: %q", line)
			}
			for _, e := range validate(line) {
				t.Errorf("%s\n%s", e, line)
			}
			var root map[string]any
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			if err := dec.Decode(&root); err != nil {
				t.Fatal(err)
			}
			aws := root["_aws"].(map[string]any)
			if ts, _ := aws["Timestamp"].(json.Number).Int64(); ts != at.UnixMilli() {
				t.Errorf("Timestamp %d, want %d (milliseconds)", ts, at.UnixMilli())
			}
			dir := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
			if dir["Namespace"] != emf.Namespace {
				t.Errorf("Namespace %v", dir["Namespace"])
			}
			want := map[string]float64{emf.MetricDecisions: 1, emf.MetricRollbacks: 0, emf.MetricFailures: 0}
			if r.Outcome == rollback.OutcomeRolledBack {
				want[emf.MetricRollbacks] = 1
			}
			if r.Outcome == rollback.OutcomeFailed {
				want[emf.MetricFailures] = 1
			}
			for m, v := range want {
				if got := number(t, root, m); got != v {
					t.Errorf("%s = %v, want %v", m, got, v)
				}
			}
			latency := r.DurationMS
			if math.IsNaN(latency) || latency < 0 {
				latency = 0
			}
			if got := number(t, root, emf.MetricDecisionLatency); got != latency {
				t.Errorf("DecisionLatency = %v, want %v", got, latency)
			}
			target := root[emf.DimTarget].(string)
			switch {
			case r.Target == "":
				if target != emf.NoTarget {
					t.Errorf("Target %q, want %q for a decision without one", target, emf.NoTarget)
				}
			case strings.ContainsFunc(r.Target, func(c rune) bool { return c < 0x20 || c > 0x7e }) || len(r.Target) > maxDimensionValue:
				// validate() has checked it is a valid dimension value.
			case target != r.Target:
				t.Errorf("Target %q, want %q", target, r.Target)
			}
			if root[emf.DimOutcome] != string(r.Outcome) {
				t.Errorf("Outcome %v, want %s", root[emf.DimOutcome], r.Outcome)
			}
		})
	}
}

// TestRecordDeclaresTheExportedNames: the directive names exactly DimensionSets and Metrics, the names
// the template's dashboard is checked against.
func TestRecordDeclaresTheExportedNames(t *testing.T) {
	var doc struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []emf.Metric
			}
		} `json:"_aws"`
	}
	if err := json.Unmarshal(emf.Record(rollback.Result{Outcome: rollback.OutcomePlanned, Target: "a/b"}, time.Unix(0, 0)), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("%d directives, want 1", len(doc.AWS.CloudWatchMetrics))
	}
	d := doc.AWS.CloudWatchMetrics[0]
	if fmt.Sprint(d.Dimensions) != fmt.Sprint(emf.DimensionSets) || fmt.Sprint(d.Metrics) != fmt.Sprint(emf.Metrics) {
		t.Errorf("directive %+v, want dimensions %v and metrics %v", d, emf.DimensionSets, emf.Metrics)
	}
}

// TestValidatorCatchesBrokenRecords proves validate can fail: each broken record is reported.
func TestValidatorCatchesBrokenRecords(t *testing.T) {
	good := string(emf.Record(rollback.Result{Outcome: rollback.OutcomeRolledBack, Target: "a/b"}, time.Unix(1, 0)))
	if errs := validate([]byte(good)); len(errs) != 0 {
		t.Fatalf("the good record fails: %v", errs)
	}
	var many []string
	for i := range 101 {
		many = append(many, fmt.Sprintf(`{"Name":"m%d","Unit":"Count"}`, i))
	}
	for name, c := range map[string]struct{ line, want string }{
		"not JSON":            {`decision target=a/b`, "not a JSON object"},
		"prefixed":            {"INFO " + good, "not a JSON object"},
		"no _aws":             {`{"Decisions":1}`, "no _aws"},
		"timestamp as string": {strings.Replace(good, `"Timestamp":1000`, `"Timestamp":"1000"`, 1), "Timestamp is string"},
		"timestamp seconds.ms": {strings.Replace(good, `"Timestamp":1000`, `"Timestamp":1.5`, 1),
			"whole milliseconds"},
		"dimension missing":  {strings.Replace(good, `"Target":"a/b",`, ``, 1), "dimension Target"},
		"dimension a number": {strings.Replace(good, `"Target":"a/b"`, `"Target":7`, 1), "want a string"},
		"metric missing":     {strings.Replace(good, `"Rollbacks":1,`, ``, 1), "metric Rollbacks"},
		"metric a string":    {strings.Replace(good, `"Rollbacks":1`, `"Rollbacks":"1"`, 1), "metric Rollbacks"},
		"bad unit":           {strings.Replace(good, `"Unit":"Milliseconds"`, `"Unit":"ms"`, 1), "not a CloudWatch unit"},
		"101 metrics":        {strings.Replace(good, `"Metrics":[`, `"Metrics":[`+strings.Join(many, ",")+`,`, 1), "1..100 metric definitions"},
		"31 dimensions":      {strings.Replace(good, `["Target"]]`, `["Target","`+strings.Repeat(`d","`, 30)+`e"]]`, 1), "at most 30"},
		"two lines":          {strings.TrimSuffix(good, "\n") + "\n" + good, "newlines inside"},
	} {
		errs := validate([]byte(c.line))
		if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, c.want) }) {
			t.Errorf("%s: validate did not report %q; it reported %v", name, c.want, errs)
		}
	}
}
