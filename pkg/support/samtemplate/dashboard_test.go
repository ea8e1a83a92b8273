package samtemplate

// The dashboard: its body is JSON built with !Sub from the parameters, and every metric it names must
// exist, in the namespace and under the dimensions AWS publishes it with, or as Rewind's EMF records
// write it (pkg/emf's exported names, not restated here).

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/emf"
)

const dashboardID = "Dashboard"

// publishedMetrics is what AWS publishes: namespace -> the metrics and the dimension sets each is
// published under. Only names read in AWS's pages (or AWS's own generated CDK metric lists) are here;
// a metric this table lacks fails the check, never passes it.
//   - AWS/ApiGateway, REST APIs ("Amazon API Gateway dimensions and metrics",
//     https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html):
//     4XXError, 5XXError, CacheHitCount, CacheMissCount, Count, IntegrationLatency, Latency; by ApiName,
//     ApiName+Stage, ApiName+Method+Resource+Stage (also in aws-cdk-lib's generated
//     apigateway-canned-metrics).
//   - AWS/Lambda: Invocations, Errors, DeadLetterErrors, DestinationDeliveryFailures, Throttles,
//     Duration, ConcurrentExecutions, UnreservedConcurrentExecutions; by FunctionName,
//     FunctionName+Resource, FunctionName+Resource+ExecutedVersion, and across all functions (the
//     dimension sets of aws-cdk-lib's generated lambda-canned-metrics; the metrics as AWS's Lambda
//     metrics page, https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html, names
//     them, read here through third-party copies).
//   - AWS/SQS ("Available CloudWatch metrics for Amazon SQS",
//     https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html,
//     and CloudWatch Application Insights' SQS list): by QueueName (aws-cdk-lib's sqs metrics).
var publishedMetrics = map[string]struct {
	metrics []string
	dims    [][]string
}{
	"AWS/ApiGateway": {
		[]string{"4XXError", "5XXError", "CacheHitCount", "CacheMissCount", "Count", "IntegrationLatency", "Latency"},
		[][]string{{"ApiName"}, {"ApiName", "Stage"}, {"ApiName", "Method", "Resource", "Stage"}}},
	"AWS/Lambda": {
		[]string{"Invocations", "Errors", "DeadLetterErrors", "DestinationDeliveryFailures", "Throttles", "Duration",
			"ConcurrentExecutions", "UnreservedConcurrentExecutions"},
		[][]string{{}, {"FunctionName"}, {"FunctionName", "Resource"}, {"FunctionName", "Resource", "ExecutedVersion"}}},
	"AWS/SQS": {
		[]string{"ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible",
			"ApproximateNumberOfMessagesVisible", "NumberOfEmptyReceives", "NumberOfMessagesDeleted", "NumberOfMessagesReceived", "NumberOfMessagesSent", "SentMessageSize"},
		[][]string{{"QueueName"}}},
}

// namespaces is publishedMetrics with Rewind's own namespace, from pkg/emf.
func namespaces() map[string]struct {
	metrics []string
	dims    [][]string
} {
	out := map[string]struct {
		metrics []string
		dims    [][]string
	}{}
	for k, v := range publishedMetrics {
		out[k] = v
	}
	var names []string
	for _, m := range emf.Metrics {
		names = append(names, m.Name)
	}
	out[emf.Namespace] = struct {
		metrics []string
		dims    [][]string
	}{names, emf.DimensionSets}
	return out
}

// placeholder is what a reference becomes in the filled body: a quote-free marker a check can read
// back ("<<RestApiName>>", "<<FailedEventsQueue.QueueName>>"); a Number parameter becomes a number.
func placeholder(t *Template, ref string) string {
	if p, ok := t.Parameters[ref].(map[string]any); ok && p["Type"] == "Number" {
		return "7"
	}
	return "<<" + ref + ">>"
}

// dimensionValues: what each dimension of a dashboard metric must be, as placeholders.
func dimensionValues(tpl *Template) map[string][]string {
	var outcomes []string
	for _, o := range emf.Outcomes {
		outcomes = append(outcomes, string(o))
	}
	var targets []string
	if props, ok := functionProps(tpl); ok {
		for _, r := range render(envVars(props)["TARGETS"]) {
			for _, one := range strings.Split(r, ",") {
				one, _, _ = strings.Cut(one, "@") // a pinned fallback is not part of the target's name
				if one != "" {
					targets = append(targets, ref.ReplaceAllString(one, "<<$1>>"))
				}
			}
		}
	}
	return map[string][]string{
		"ApiName":      {"<<RestApiName>>"},
		"Stage":        {"<<StageName>>"},
		"FunctionName": {"<<" + functionID + ">>"},
		"QueueName":    {"<<FailedEventsQueue.QueueName>>"},
		emf.DimTarget:  targets,
		emf.DimOutcome: outcomes,
	}
}

var subRef = regexp.MustCompile(`\$\{([^}!]*)\}`)

// quoteFree: a parameter's value can never hold " or \ (which would break the JSON it is written into).
func quoteFree(p map[string]any) bool {
	if p["Type"] == "Number" {
		return true
	}
	if vals, ok := p["AllowedValues"].([]any); ok {
		for _, v := range vals {
			if strings.ContainsAny(fmt.Sprint(v), `"\`) {
				return false
			}
		}
		return true
	}
	pat, ok := p["AllowedPattern"].(string)
	if !ok {
		return false
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return false
	}
	for _, probe := range []string{`a"b`, `a\b`, `"`, `\`, `a"`, `a\`} {
		if re.MatchString(probe) {
			return false
		}
	}
	return true
}

type widgetMetric struct {
	namespace, name string
	dims            map[string]string
	stat            string
}

// checkDashboard: the body renders to one JSON text whose every reference is a parameter, a pseudo
// parameter or a resource attribute of the template, whose parameters cannot break the JSON, which
// parses once filled in, whose metric widgets name a region and only metrics that exist under the
// dimensions given (with the right values), whose alarm widget names the template's alarms, and
// which shows what the dashboard is for.
func checkDashboard(tpl *Template) []problem {
	var ps problems
	r, ok := tpl.Resources[dashboardID]
	if !ok || r.Type != "AWS::CloudWatch::Dashboard" {
		ps.add(dashboardID, "missing, or not an AWS::CloudWatch::Dashboard")
		return ps
	}
	if r.Condition != "" {
		ps.add(dashboardID, "Condition %s: the dashboard exists whatever the parameters", r.Condition)
	}
	// The body differs by mode only: with RestApiId it shows that stage too (HasExplicitStage).
	for _, explicit := range []bool{true, false} {
		conds := map[string]bool{explicitStage: explicit}
		bodies := render(underConditions(r.Properties["DashboardBody"], conds))
		if len(bodies) != 1 {
			ps.add(dashboardID, "DashboardBody renders %d ways with %s=%v, want one !Sub text", len(bodies), explicitStage, explicit)
			continue
		}
		ps = append(ps, checkDashboardBody(tpl, bodies[0], conds)...)
	}
	return ps
}

// checkDashboardBody checks one rendering of the body, with conds (HasExplicitStage) fixed.
func checkDashboardBody(tpl *Template, body string, conds map[string]bool) []problem {
	var ps problems
	explicit := conds[explicitStage]
	dashboardID := fmt.Sprintf("%s (%s=%v)", dashboardID, explicitStage, explicit)
	for _, m := range subRef.FindAllStringSubmatch(body, -1) {
		name := m[1]
		res, _, _ := strings.Cut(name, ".")
		_, isParam := tpl.Parameters[name]
		_, isRes := tpl.Resources[res]
		switch {
		case isParam:
			if !quoteFree(tpl.Parameters[name].(map[string]any)) {
				ps.add(dashboardID, "parameter %s may hold \" or \\, which would break the body's JSON: give it an AllowedPattern that refuses them", name)
			}
		case strings.HasPrefix(name, "AWS::"):
		case isRes:
		default:
			ps.add(dashboardID, "${%s} is neither a parameter, a pseudo parameter nor a resource of the template", name)
		}
	}
	filled := subRef.ReplaceAllStringFunc(body, func(m string) string { return placeholder(tpl, m[2:len(m)-1]) })
	var doc struct {
		Widgets []struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(filled), &doc); err != nil {
		ps.add(dashboardID, "DashboardBody is not JSON once filled in: %v", err)
		return ps
	}
	if len(doc.Widgets) == 0 || len(doc.Widgets) > 500 {
		ps.add(dashboardID, "%d widgets: want 1..500", len(doc.Widgets))
	}
	spaces := namespaces()
	values := dimensionValues(tpl)
	var shown []widgetMetric
	var alarms []string
	for i, w := range doc.Widgets {
		where := fmt.Sprintf("%s widget %d (%s)", dashboardID, i, w.Type)
		switch w.Type {
		case "metric":
			if reg, _ := w.Properties["region"].(string); reg == "" {
				ps.add(where, "no region: a metric widget must name one")
			}
			stat, _ := w.Properties["stat"].(string)
			rows, ok := w.Properties["metrics"].([]any)
			if !ok || len(rows) == 0 {
				ps.add(where, "no metrics array")
			}
			var prev []any
			for j, row := range rows {
				m, err := metricRow(row, prev, stat)
				if err != nil {
					ps.add(where, "metrics[%d]: %v", j, err)
					continue
				}
				prev, _ = row.([]any)
				shown = append(shown, m)
				ns, known := spaces[m.namespace]
				if !known {
					ps.add(where, "metrics[%d]: namespace %q: not one this check knows AWS publishes, nor Rewind's %q", j, m.namespace, emf.Namespace)
					continue
				}
				if !slices.Contains(ns.metrics, m.name) {
					ps.add(where, "metrics[%d]: %s is not published in %s (it has %s)", j, m.name, m.namespace, strings.Join(ns.metrics, ", "))
				}
				keys := make([]string, 0, len(m.dims))
				for k := range m.dims {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				if !slices.ContainsFunc(ns.dims, func(set []string) bool { return sameSet(set, keys) }) {
					ps.add(where, "metrics[%d]: %s %s has no dimension set %v (it has %v)", j, m.namespace, m.name, keys, ns.dims)
				}
				for _, k := range keys {
					if want, ok := values[k]; ok && !slices.Contains(want, m.dims[k]) {
						ps.add(where, "metrics[%d]: dimension %s = %q: want one of %q", j, k, m.dims[k], want)
					}
				}
			}
		case "alarm":
			list, _ := w.Properties["alarms"].([]any)
			if len(list) == 0 {
				ps.add(where, "no alarms")
			}
			for _, a := range list {
				s, _ := a.(string)
				res, isArn := strings.CutSuffix(strings.TrimSuffix(strings.TrimPrefix(s, "<<"), ">>"), ".Arn")
				if r, ok := tpl.Resources[res]; !isArn || !ok || r.Type != "AWS::CloudWatch::Alarm" {
					ps.add(where, "alarm %q: want the Arn of one of the template's AWS::CloudWatch::Alarm resources", s)
					continue
				}
				if r := tpl.Resources[res]; r.Condition != "" && !conds[r.Condition] {
					ps.add(where, "alarm %s exists only with %s: the body cannot name it", res, r.Condition)
				}
				alarms = append(alarms, res)
			}
		case "text":
		default:
			ps.add(where, "widget type %q: this check knows metric, alarm and text", w.Type)
		}
	}
	// What the dashboard is for: Rewind's health always; with RestApiId, that stage and Rewind's
	// decisions on it too.
	stage := map[string]string{"ApiName": "<<RestApiName>>", "Stage": "<<StageName>>"}
	wants := []widgetMetric{
		{"AWS/Lambda", "Errors", map[string]string{"FunctionName": "<<" + functionID + ">>"}, ""},
		{"AWS/Lambda", "Throttles", map[string]string{"FunctionName": "<<" + functionID + ">>"}, ""},
		{"AWS/SQS", "ApproximateNumberOfMessagesVisible", map[string]string{"QueueName": "<<FailedEventsQueue.QueueName>>"}, ""},
	}
	wantAlarms := healthAlarmNames()
	if explicit {
		wants = append(wants, []widgetMetric{
			{"AWS/ApiGateway", "Count", stage, ""}, {"AWS/ApiGateway", "4XXError", stage, ""},
			{"AWS/ApiGateway", "5XXError", stage, ""}, {"AWS/ApiGateway", "Latency", stage, "p99"},
			{emf.Namespace, emf.MetricRollbacks, nil, ""}, {emf.Namespace, emf.MetricFailures, nil, ""}, {emf.Namespace, emf.MetricDecisions, nil, ""},
		}...)
		wantAlarms = append(append([]string{}, exampleAlarms...), wantAlarms...)
	}
	for _, want := range wants {
		if !slices.ContainsFunc(shown, func(m widgetMetric) bool {
			if m.namespace != want.namespace || m.name != want.name || (want.stat != "" && m.stat != want.stat) {
				return false
			}
			for k, v := range want.dims {
				if m.dims[k] != v {
					return false
				}
			}
			return want.dims == nil || len(m.dims) == len(want.dims)
		}) {
			ps.add(dashboardID, "does not show %s %s %v%s", want.namespace, want.name, want.dims, map[bool]string{true: " (" + want.stat + ")"}[want.stat != ""])
		}
	}
	for _, a := range wantAlarms {
		if !slices.Contains(alarms, a) {
			ps.add(dashboardID, "the alarm widget does not show %s", a)
		}
	}
	return ps
}

func healthAlarmNames() []string {
	var out []string
	for _, h := range healthAlarms {
		out = append(out, h.name)
	}
	return out
}

// metricRow reads one row of a metric widget's "metrics": namespace, metric name, then dimension
// name/value pairs, and at most one rendering-options object, last. "." repeats the previous row's
// element at that place. Metric math ({"expression": ...}) cannot be checked, so it is refused.
func metricRow(row any, prev []any, widgetStat string) (widgetMetric, error) {
	elems, ok := row.([]any)
	if !ok {
		return widgetMetric{}, fmt.Errorf("a row is %T, want an array", row)
	}
	m := widgetMetric{dims: map[string]string{}, stat: widgetStat}
	var strs []string
	for i, e := range elems {
		switch v := e.(type) {
		case string:
			if v == "." {
				if i >= len(prev) {
					return m, fmt.Errorf(`"." at %d with no previous row's element to repeat`, i)
				}
				p, _ := prev[i].(string)
				v = p
			}
			strs = append(strs, v)
		case map[string]any:
			if i != len(elems)-1 {
				return m, fmt.Errorf("options object at %d: it must come last", i)
			}
			if _, math := v["expression"]; math {
				return m, fmt.Errorf("metric math cannot be checked")
			}
			if s, ok := v["stat"].(string); ok {
				m.stat = s
			}
		default:
			return m, fmt.Errorf("element %d is %T", i, e)
		}
	}
	if len(strs) < 2 || len(strs)%2 != 0 {
		return m, fmt.Errorf("%q: want namespace, metric name and name/value pairs", strs)
	}
	m.namespace, m.name = strs[0], strs[1]
	for i := 2; i < len(strs); i += 2 {
		if _, dup := m.dims[strs[i]]; dup {
			return m, fmt.Errorf("dimension %s twice", strs[i])
		}
		m.dims[strs[i]] = strs[i+1]
	}
	return m, nil
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func TestTemplateDashboardNamesOnlyMetricsThatExist(t *testing.T) {
	report(t, checkDashboard(loadReal(t)))
}

func dashboardMutations() []mutation {
	return []mutation{
		{name: "5xxError is HTTP API spelling", check: checkDashboard, want: "5xxError is not published in AWS/ApiGateway",
			edits: [][2]string{{`["AWS/ApiGateway", "5XXError", "ApiName"`, `["AWS/ApiGateway", "5xxError", "ApiName"`}}},
		{name: "REST metric by HTTP API dimensions", check: checkDashboard, want: "has no dimension set [ApiId Stage]",
			edits: [][2]string{{`["AWS/ApiGateway", "Count", "ApiName", "${RestApiName}"`, `["AWS/ApiGateway", "Count", "ApiId", "${RestApiId}"`}}},
		{name: "the stage by its id", check: checkDashboard, want: `dimension ApiName = "<<RestApiId>>"`,
			edits: [][2]string{{`["AWS/ApiGateway", "4XXError", "ApiName", "${RestApiName}"`, `["AWS/ApiGateway", "4XXError", "ApiName", "${RestApiId}"`}}},
		{name: "a Rewind metric emf does not write", check: checkDashboard, want: "RollbackCount is not published in Rewind",
			edits: [][2]string{{`["Rewind", "Rollbacks", "Target"`, `["Rewind", "RollbackCount", "Target"`}}},
		{name: "a Rewind dimension set emf does not write", check: checkDashboard, want: "Rewind Failures has no dimension set [Outcome]",
			edits: [][2]string{{`["Rewind", "Failures", "Target", "${RestApiId}/${StageName}"`, `["Rewind", "Failures", "Outcome", "failed"`}}},
		{name: "an outcome Rewind has not", check: checkDashboard, want: `dimension Outcome = "dry-run"`,
			edits: [][2]string{{`"Outcome", "planned"`, `"Outcome", "dry-run"`}}},
		{name: "a target Rewind has not", check: checkDashboard, want: `dimension Target = "<<RestApiName>>/<<StageName>>"`,
			edits: [][2]string{{`["Rewind", "Decisions", "Target", "${RestApiId}/${StageName}", "Outcome", "skipped"`, `["Rewind", "Decisions", "Target", "${RestApiName}/${StageName}", "Outcome", "skipped"`}}},
		{name: "another function's errors", check: checkDashboard, want: `dimension FunctionName = "<<LambdaFunctionName>>"`,
			edits: [][2]string{{`["AWS/Lambda", "Errors", "FunctionName", "${ResponderFunction}"`, `["AWS/Lambda", "Errors", "FunctionName", "${LambdaFunctionName}"`}}},
		{name: "an SQS namespace typo", check: checkDashboard, want: `namespace "AWS/SQS2"`,
			edits: [][2]string{{`["AWS/SQS", "ApproximateNumberOfMessagesVisible"`, `["AWS/SQS2", "ApproximateNumberOfMessagesVisible"`}}},
		{name: "p50 instead of p99", check: checkDashboard, want: "does not show AWS/ApiGateway Latency",
			edits: [][2]string{{`"stat": "p99", "period": 60,`, `"stat": "p50", "period": 60,`}}},
		{name: "no region", check: checkDashboard, want: "no region",
			edits: [][2]string{{`"title": "${StageName}: p99 latency (ms)", "region": "${AWS::Region}",`, `"title": "${StageName}: p99 latency (ms)",`}}},
		{name: "a topic in the alarm widget", check: checkDashboard, want: `alarm "<<NotifyTopic>>"`,
			edits: [][2]string{{`"${ResponderErrorsAlarm.Arn}"`, `"${NotifyTopic}"`}}},
		{name: "a conditional alarm in the body", check: checkDashboard, want: "alarm HttpApi5XXAlarm exists only with HasHttpStage",
			edits: [][2]string{{`"${ResponderErrorsAlarm.Arn}"`, `"${ResponderErrorsAlarm.Arn}", "${HttpApi5XXAlarm.Arn}"`}}},
		{name: "a health alarm left out", check: checkDashboard, want: "does not show ResponderThrottlesAlarm",
			edits: [][2]string{{`, "${ResponderThrottlesAlarm.Arn}"`, ``}}},
		{name: "an unknown reference", check: checkDashboard, want: "${Stage} is neither",
			edits: [][2]string{{`"title": "${StageName}: p99 latency (ms)"`, `"title": "${Stage}: p99 latency (ms)"`}}},
		{name: "broken JSON", check: checkDashboard, want: "not JSON once filled in",
			edits: [][2]string{{`{"label": "4XX"}],`, `{"label": "4XX"}]`}}},
		{name: "a parameter that may hold quotes", check: checkDashboard, want: "parameter RestApiName may hold",
			edits: [][2]string{{"    AllowedPattern: '^[^\"\\\\]*$'\n", ""}}},
		{name: "metric math", check: checkDashboard, want: "metric math cannot be checked",
			edits: [][2]string{{`{"label": "5XX"}]`, `{"label": "5XX"}], [{"expression": "m1/m2", "label": "rate"}]`}}},
	}
}

func TestDashboardCheckCatchesBrokenTemplates(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range dashboardMutations() {
		t.Run(m.name, func(t *testing.T) { runMutation(t, orig, m) })
	}
}

func TestMetricRowReadsShorthand(t *testing.T) {
	prev := []any{"AWS/Lambda", "Errors", "FunctionName", "f"}
	m, err := metricRow([]any{".", "Throttles", ".", ".", map[string]any{"stat": "Maximum"}}, prev, "Sum")
	if err != nil || m.namespace != "AWS/Lambda" || m.name != "Throttles" || m.dims["FunctionName"] != "f" || m.stat != "Maximum" {
		t.Errorf("metricRow = %+v, %v", m, err)
	}
	for _, bad := range [][]any{{"AWS/Lambda"}, {"AWS/Lambda", "Errors", "FunctionName"}, {map[string]any{}, "x"}, {".", "Errors"}} {
		if _, err := metricRow(bad, nil, ""); err == nil {
			t.Errorf("metricRow(%v) accepted", bad)
		}
	}
}
