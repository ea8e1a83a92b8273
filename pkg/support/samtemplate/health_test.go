package samtemplate

// Rewind's own health: the alarms on the on-failure queue, the function's Errors and its Throttles,
// which tell people (NotifyTopic) and must never reach AlarmTopic: an alarm there makes Rewind roll
// the API back, and Rewind being unwell is no reason to.

import (
	"os"
	"strings"
	"testing"
)

const notifyTopic = "NotifyTopic"

// healthAlarms are the alarms on Rewind itself and what each watches.
var healthAlarms = []struct{ name, namespace, metric, dim, value string }{
	{"FailedEventsQueueAlarm", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${FailedEventsQueue.QueueName}"},
	{"ResponderErrorsAlarm", "AWS/Lambda", "Errors", "FunctionName", "${" + functionID + "}"},
	{"ResponderThrottlesAlarm", "AWS/Lambda", "Throttles", "FunctionName", "${" + functionID + "}"},
}

var alarmActionLists = []string{"AlarmActions", "OKActions", "InsufficientDataActions"}

// alarmDimensions returns an alarm's dimensions, rendered, by name.
func alarmDimensions(props map[string]any) map[string][]string {
	dims := map[string][]string{}
	for _, d := range flatten(props["Dimensions"]) {
		dm, _ := d.(map[string]any)
		if n, ok := dm["Name"].(string); ok {
			dims[n] = append(dims[n], render(dm["Value"])...)
		}
	}
	return dims
}

// aboutRewind says why an alarm watches Rewind itself (its namespace, its function, its queue), or "".
// Metric-math alarms are looked into metric by metric.
func aboutRewind(props map[string]any) string {
	metrics := []map[string]any{props}
	for _, m := range flatten(props["Metrics"]) {
		if mq, ok := m.(map[string]any); ok {
			if stat, ok := dig(mq, "MetricStat", "Metric"); ok {
				if sm, ok := stat.(map[string]any); ok {
					metrics = append(metrics, sm)
				}
			}
		}
	}
	for _, m := range metrics {
		for _, ns := range render(m["Namespace"]) {
			if ns == "Rewind" {
				return "it watches the Rewind namespace"
			}
		}
		for name, vals := range alarmDimensions(m) {
			for _, v := range vals {
				if strings.Contains(v, "${"+functionID+"}") || strings.Contains(v, "${"+functionID+".") || strings.Contains(v, "${FailedEventsQueue") {
					return "its dimension " + name + " names " + v
				}
			}
		}
	}
	return ""
}

// checkHealthAlarms: each health alarm exists whatever the parameters, watches what it must with a
// threshold of one, and sends ALARM and OK to NotifyTopic and nothing else; and no alarm of the
// template that watches Rewind itself sends anything to AlarmTopic.
func checkHealthAlarms(t *Template) []problem {
	var ps problems
	for _, want := range healthAlarms {
		r, ok := t.Resources[want.name]
		if !ok || r.Type != "AWS::CloudWatch::Alarm" {
			ps.add(want.name, "missing, or not an AWS::CloudWatch::Alarm")
			continue
		}
		if r.Condition != "" {
			ps.add(want.name, "Condition %s: Rewind's health is watched whatever the parameters", r.Condition)
		}
		p := r.Properties
		if ns, _ := p["Namespace"].(string); ns != want.namespace {
			ps.add(want.name, "Namespace %v: want %s", p["Namespace"], want.namespace)
		}
		if m, _ := p["MetricName"].(string); m != want.metric {
			ps.add(want.name, "MetricName %v: want %s", p["MetricName"], want.metric)
		}
		dims := alarmDimensions(p)
		if got := dims[want.dim]; len(dims) != 1 || len(got) != 1 || got[0] != want.value {
			ps.add(want.name, "dimensions %v: want only %s = %s", dims, want.dim, want.value)
		}
		if n, ok := asInt(p["Threshold"]); !ok || n != 1 {
			ps.add(want.name, "Threshold %v: want 1 (one failed event, error or throttle is worth telling)", p["Threshold"])
		}
		if op, _ := p["ComparisonOperator"].(string); op != "GreaterThanOrEqualToThreshold" {
			ps.add(want.name, "ComparisonOperator %v: want GreaterThanOrEqualToThreshold", p["ComparisonOperator"])
		}
		if enabled, ok := p["ActionsEnabled"].(bool); ok && !enabled {
			ps.add(want.name, "ActionsEnabled is false: nobody would be told")
		}
		for _, list := range []string{"AlarmActions", "OKActions"} {
			got := strs(p[list])
			if len(got) == 0 {
				ps.add(want.name, "no %s: want %s", list, notifyTopic)
			}
			for _, a := range got {
				if a != "${"+notifyTopic+"}" {
					ps.add(want.name, "%s names %s: a health alarm goes to %s only, never %s", list, a, notifyTopic, alarmTopic)
				}
			}
		}
	}
	for _, name := range t.ResourceNames() {
		r := t.Resources[name]
		if r.Type != "AWS::CloudWatch::Alarm" && r.Type != "AWS::CloudWatch::CompositeAlarm" {
			continue
		}
		why := aboutRewind(r.Properties)
		if why == "" {
			continue
		}
		for _, list := range alarmActionLists {
			for _, a := range strs(r.Properties[list]) {
				if strings.Contains(a, "${"+alarmTopic+"}") {
					ps.add(name, "is about Rewind (%s) and its %s name %s: Rewind would roll the API back because Rewind is unwell", why, list, alarmTopic)
				}
			}
		}
	}
	return ps
}

func TestTemplateHealthAlarmsTellPeopleNeverRewind(t *testing.T) {
	report(t, checkHealthAlarms(loadReal(t)))
}

// Unique anchors in the template: the actions of each health alarm, with what follows them.
const (
	queueActions    = "      AlarmActions:\n        - !Ref NotifyTopic\n      OKActions:\n        - !Ref NotifyTopic\n\n  ResponderErrorsAlarm:\n"
	errorsActions   = "      AlarmActions:\n        - !Ref NotifyTopic\n      OKActions:\n        - !Ref NotifyTopic\n\n  ResponderThrottlesAlarm:\n"
	throttleActions = "      AlarmActions:\n        - !Ref NotifyTopic\n      OKActions:\n        - !Ref NotifyTopic\n\n  # ---- The dashboard ----\n"
)

func healthMutations() []mutation {
	return []mutation{
		{name: "queue alarm to AlarmTopic", check: checkHealthAlarms, want: "FailedEventsQueueAlarm: AlarmActions names ${AlarmTopic}",
			edits: [][2]string{{queueActions, strings.Replace(queueActions, "AlarmActions:\n        - !Ref NotifyTopic", "AlarmActions:\n        - !Ref AlarmTopic", 1)}}},
		{name: "errors OK to AlarmTopic", check: checkHealthAlarms, want: "ResponderErrorsAlarm: is about Rewind",
			edits: [][2]string{{errorsActions, strings.Replace(errorsActions, "OKActions:\n        - !Ref NotifyTopic", "OKActions:\n        - !Ref AlarmTopic", 1)}}},
		{name: "throttles to both topics", check: checkHealthAlarms, want: "ResponderThrottlesAlarm: AlarmActions names ${AlarmTopic}",
			edits: [][2]string{{throttleActions, strings.Replace(throttleActions, "AlarmActions:\n        - !Ref NotifyTopic", "AlarmActions:\n        - !Ref NotifyTopic\n        - !Ref AlarmTopic", 1)}}},
		{name: "insufficient data to AlarmTopic", check: checkHealthAlarms, want: "its InsufficientDataActions name AlarmTopic",
			edits: [][2]string{{queueActions, strings.Replace(queueActions, "      OKActions:", "      InsufficientDataActions:\n        - !Ref AlarmTopic\n      OKActions:", 1)}}},
		{name: "no OK", check: checkHealthAlarms, want: "ResponderErrorsAlarm: no OKActions",
			edits: [][2]string{{errorsActions, strings.Replace(errorsActions, "      OKActions:\n        - !Ref NotifyTopic\n", "", 1)}}},
		{name: "another alarm on Rewind's errors to AlarmTopic", check: checkHealthAlarms, want: "RewindDurationAlarm: is about Rewind (its dimension FunctionName",
			edits: [][2]string{{resourcesEnd, `
  RewindDurationAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Duration
      Dimensions:
        - Name: FunctionName
          Value: !Ref ResponderFunction
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 20000
      ComparisonOperator: GreaterThanThreshold
      AlarmActions: [!Ref AlarmTopic]
` + resourcesEnd}}},
		{name: "a metric-math alarm on Rewind's namespace to AlarmTopic", check: checkHealthAlarms, want: "it watches the Rewind namespace",
			edits: [][2]string{{resourcesEnd, `
  RewindFailureRateAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Metrics:
        - Id: f
          MetricStat:
            Metric: {Namespace: Rewind, MetricName: Failures, Dimensions: [{Name: Target, Value: !Sub "${RestApiId}/${StageName}"}]}
            Period: 60
            Stat: Sum
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      AlarmActions: [!Ref AlarmTopic]
` + resourcesEnd}}},
		{name: "queue alarm removed", check: checkHealthAlarms, want: "FailedEventsQueueAlarm: missing",
			edits: [][2]string{{"  FailedEventsQueueAlarm:\n", "  FailedEventsAlarm:\n"}}},
		{name: "messages sent instead of waiting", check: checkHealthAlarms, want: "MetricName NumberOfMessagesSent",
			edits: [][2]string{{"      MetricName: ApproximateNumberOfMessagesVisible\n", "      MetricName: NumberOfMessagesSent\n"}}},
		{name: "throttles of another function", check: checkHealthAlarms, want: "ResponderThrottlesAlarm: dimensions",
			edits: [][2]string{{"      MetricName: Throttles\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref ResponderFunction\n",
				"      MetricName: Throttles\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref LambdaFunctionName\n"}}},
		{name: "five errors before anyone is told", check: checkHealthAlarms, want: "Threshold 5",
			edits: [][2]string{{"      MetricName: Errors\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref ResponderFunction\n      Statistic: Sum\n      Period: 60\n      EvaluationPeriods: 1\n      DatapointsToAlarm: 1\n      Threshold: 1\n",
				"      MetricName: Errors\n      Dimensions:\n        - Name: FunctionName\n          Value: !Ref ResponderFunction\n      Statistic: Sum\n      Period: 60\n      EvaluationPeriods: 1\n      DatapointsToAlarm: 1\n      Threshold: 5\n"}}},
		{name: "only with a chat channel", check: checkHealthAlarms, want: "Condition HasChat",
			edits: [][2]string{{"  ResponderErrorsAlarm:\n    Type: AWS::CloudWatch::Alarm\n", "  ResponderErrorsAlarm:\n    Type: AWS::CloudWatch::Alarm\n    Condition: HasChat\n"}}},
	}
}

func TestHealthAlarmCheckCatchesBrokenTemplates(t *testing.T) {
	orig, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range healthMutations() {
		t.Run(m.name, func(t *testing.T) { runMutation(t, orig, m) })
	}
}
