package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// Decisions that stay right when time, humans and alarms disagree, through the handler and the real
// SDK wire (the pure rules have their own tests in pkg/rollback).

// restAlarm is an SNS delivery of the REST 5XX alarm on luna-api/service changing to state at at,
// its reason listing one datapoint of period 60 s starting at point.
func restAlarm(name, state string, at, point time.Time) json.RawMessage {
	msg, _ := json.Marshal(map[string]any{
		"AlarmName": name, "AWSAccountId": account, "NewStateValue": state, "OldStateValue": "OK",
		"NewStateReason":  "Threshold Crossed: 1 datapoint [30.0 (" + point.UTC().Format("02/01/06 15:04:05") + ")] was greater than or equal to the threshold (5.0).",
		"StateChangeTime": at.UTC().Format("2006-01-02T15:04:05.000-0700"), "Region": "US East (N. Virginia)",
		"AlarmArn": "arn:aws:cloudwatch:us-east-1:" + account + ":alarm:" + name,
		"Trigger": map[string]any{"MetricName": "5XXError", "Namespace": "AWS/ApiGateway", "StatisticType": "Statistic", "Statistic": "SUM",
			"Dimensions": []map[string]string{{"name": "ApiName", "value": "luna-api"}, {"name": "Stage", "value": "service"}},
			"Period":     60, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 5.0},
	})
	b, _ := json.Marshal(events.SNSEvent{Records: []events.SNSEventRecord{{EventSource: "aws:sns", EventVersion: "1.0",
		SNS: events.SNSEntity{Type: "Notification", MessageID: "m-" + name + state, TopicArn: alarmTopic, Message: string(msg), Timestamp: at}}}})
	return b
}

// A human deploys a fix; a lagging alarm's datapoints were all measured before it went live: the
// fix stays. An alarm on the fix's own data acts.
func TestALaggingAlarmLeavesAHumansFix(t *testing.T) {
	w := newWorld(t)
	fix, err := w.rest.CreateDeployment(w.restAPI, apigwlocal.DeploymentSpec{CreatedDate: t0.Add(11 * time.Minute)})
	must(t, err)
	must(t, w.rest.SetDeploymentID(w.restAPI, "service", fix.ID)) // the gateway's clock: live at t0+12m
	h := w.handler(t, w.restAPI+"/service")
	res := one(t)(h.Handle(invokeCtx(), restAlarm("luna-api-p99", "ALARM", t0.Add(20*time.Minute), t0.Add(10*time.Minute))))
	if res.Code != rollback.CodeStale || w.rest.Writes() != 0 {
		t.Fatalf("a lagging alarm: %+v, %d writes", res, w.rest.Writes())
	}
	res = one(t)(h.Handle(invokeCtx(), restAlarm("luna-api-5xx", "ALARM", t0.Add(20*time.Minute), t0.Add(15*time.Minute))))
	if res.Outcome != rollback.OutcomeRolledBack || res.From != fix.ID {
		t.Fatalf("an alarm on the fix's data: %+v", res)
	}
}

// An OK recorded first makes a late-delivered ALARM from before it old news.
func TestARetriedAlarmOlderThanItsOKDoesNothing(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, w.restAPI+"/service")
	ok := one(t)(h.Handle(invokeCtx(), restAlarm("luna-api-5xx", "OK", t0.Add(21*time.Minute), t0.Add(20*time.Minute))))
	if ok.Action != rollback.ActionRecovery || ok.Code != rollback.CodeOKRecorded || w.rest.Writes() != 0 {
		t.Fatalf("OK: %+v", ok)
	}
	late := one(t)(h.Handle(invokeCtx(), restAlarm("luna-api-5xx", "ALARM", t0.Add(20*time.Minute), t0.Add(19*time.Minute))))
	if late.Code != rollback.CodeRecoveredSince || w.rest.Writes() != 0 {
		t.Fatalf("a late ALARM: %+v", late)
	}
}

// A metric-math alarm over two protected APIs moves neither: it fails, naming both.
func TestAnAlarmNamingTwoTargetsMovesNeither(t *testing.T) {
	w := newWorld(t)
	var targets []string
	for _, name := range []string{"orders-api", "users-api"} {
		api := w.rest.CreateRestAPI(name)
		for i := range 2 {
			_, err := w.rest.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: name[:1] + string(rune('1'+i)), CreatedDate: t0.Add(time.Duration(i) * time.Minute)})
			must(t, err)
		}
		must(t, w.rest.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: name[:1] + "2"}))
		targets = append(targets, api.ID+"/prod")
	}
	payload, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "events", "sns-apigw-metric-math-two-apis.json"))
	must(t, err)
	h := w.handler(t, strings.Join(targets, ","))
	_, err = h.Handle(invokeCtx(), payload)
	if err == nil || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), targets[0]) || !strings.Contains(err.Error(), targets[1]) {
		t.Fatalf("err = %v, want a failure naming both targets", err)
	}
	if w.rest.Writes() != 0 {
		t.Errorf("an ambiguous alarm wrote %d times", w.rest.Writes())
	}
}

// Outside the release window an alarm says what it would do, and does nothing.
func TestOutsideTheReleaseWindowAnAlarmDoesNothing(t *testing.T) {
	w := newWorld(t)
	h := w.handlerWith(t, map[string]string{config.EnvTargets: w.restAPI + "/service", config.EnvAutoRollbackWindow: "5m"})
	res := one(t)(h.Handle(invokeCtx(), restAlarm("luna-api-5xx", "ALARM", t0.Add(20*time.Minute), t0.Add(19*time.Minute))))
	if res.Outcome != rollback.OutcomeSkipped || res.Code != rollback.CodeOutsideWindow || !strings.Contains(res.Reason, `"action":"rollback"`) || w.rest.Writes() != 0 {
		t.Fatalf("%+v, %d writes", res, w.rest.Writes())
	}
	cmd := one(t)(h.Handle(invokeCtx(), json.RawMessage(`{"action":"rollback"}`)))
	if cmd.Outcome != rollback.OutcomeRolledBack {
		t.Errorf("a manual rollback is not limited by the window: %+v", cmd)
	}
}
