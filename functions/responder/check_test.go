package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	cwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudwatch"
	lambdalocal "github.com/rewind-sre/rewind/pkg/support/awslocal/lambda"
)

// {"action":"check"} through the real SDK wire: the local API Gateway (with its export), Rewind's
// memory table, CloudWatch's alarms and Lambda's concurrency. The contract is the answer:
// ready, the checks by name and status, the plan. It never writes.

type checkAnswer struct {
	Action  string `json:"action"`
	Target  string `json:"target"`
	Outcome string `json:"outcome"`
	Code    string `json:"code"`
	Ready   bool   `json:"ready"`
	Reason  string `json:"reason"`
	Checks  []struct {
		Name, Status, Detail, Fix string
	} `json:"checks"`
	Plan *struct {
		Outcome, Code, From, To, Rule string
	} `json:"plan"`
}

func (a checkAnswer) status(name string) string {
	for _, c := range a.Checks {
		if c.Name == name {
			return c.Status
		}
	}
	return "missing"
}

func (a checkAnswer) detail(name string) string {
	for _, c := range a.Checks {
		if c.Name == name {
			return c.Detail
		}
	}
	return ""
}

func runCheck(t *testing.T, w *world, env map[string]string, payload string) (checkAnswer, []checkAnswer) {
	t.Helper()
	h := w.handlerWith(t, env)
	out, err := h.Handle(invokeCtx(), json.RawMessage(payload))
	if err != nil {
		t.Fatalf("check failed the invocation: %v", err)
	}
	b, _ := json.Marshal(out)
	var one checkAnswer
	var many struct{ Results []checkAnswer }
	if err := json.Unmarshal(b, &many); err == nil && len(many.Results) > 0 {
		return checkAnswer{}, many.Results
	}
	if err := json.Unmarshal(b, &one); err != nil {
		t.Fatal(err)
	}
	return one, nil
}

// readyWorld is the seed's API with a Lambda integration that calls the function unqualified, a
// history of three deployments, one alarm that reaches the stage and one whose ApiName is wrong.
func readyWorld(t *testing.T) (*world, string) {
	t.Helper()
	w := newWorld(t)
	api := w.rest.CreateRestAPI("shop-api")
	fn := "arn:aws:lambda:us-east-1:" + account + ":function:"
	methods := []apigwlocal.Method{
		{Path: "/orders", HTTPMethod: "GET", Integration: apigwlocal.LambdaProxy("us-east-1", fn+"orders:live")},
		{Path: "/users/{id}", HTTPMethod: "PUT", Integration: apigwlocal.LambdaProxy("us-east-1", fn+"api-user-id")},
	}
	var last string
	for i := range 3 {
		d, err := w.rest.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{CreatedDate: t0.Add(time.Duration(i) * time.Minute), Methods: methods})
		must(t, err)
		last = d.ID
	}
	must(t, w.rest.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: last}))
	w.cw.PutMetricAlarm(cwlocal.Alarm{Name: "shop-5xx", Namespace: "AWS/ApiGateway", MetricName: "5XXError", Period: 60, EvaluationPeriods: 1,
		Dimensions: []cwlocal.Dimension{{Name: "ApiName", Value: "shop-api"}, {Name: "Stage", Value: "prod"}}, AlarmActions: []string{alarmTopic}})
	w.cw.PutMetricAlarm(cwlocal.Alarm{Name: "shop-p99", Namespace: "AWS/ApiGateway", MetricName: "Latency", Period: 60, EvaluationPeriods: 1,
		Dimensions: []cwlocal.Dimension{{Name: "ApiName", Value: "Shop API"}, {Name: "Stage", Value: "prod"}}, AlarmActions: []string{alarmTopic}})
	w.lam.CreateFunction("rewind", lambdalocal.Version{Version: "1", LastModified: t0})
	return w, api.ID + "/prod"
}

func TestCheckOfAReadyStageWarnsWhatARollbackCannotUndo(t *testing.T) {
	w, tg := readyWorld(t)
	w.lam.SetReservedConcurrency("rewind", 2)
	a, _ := runCheck(t, w, map[string]string{config.EnvTargets: tg, config.EnvAlarmTopicARN: alarmTopic}, `{"action":"check"}`)
	if a.Action != "check" || a.Outcome != "ok" || a.Code != "checked" || !a.Ready || a.Target != tg {
		t.Fatalf("%+v", a)
	}
	for name, want := range map[string]string{"target-readable": "pass", "memory-readable": "pass", "somewhere-to-go": "pass",
		"lambda-qualified": "warn", "alarms-reach-target": "pass", "alarm-api-name": "warn", "reserved-concurrency": "pass"} {
		if got := a.status(name); got != want {
			t.Errorf("%s: %s (%s), want %s", name, got, a.detail(name), want)
		}
	}
	if d := a.detail("lambda-qualified"); !strings.Contains(d, "PUT /users/{id} -> api-user-id") || strings.Contains(d, "orders") {
		t.Errorf("unqualified integrations: %s", d)
	}
	if d := a.detail("alarms-reach-target"); !strings.Contains(d, "shop-5xx") {
		t.Errorf("reaching alarms: %s", d)
	}
	if d := a.detail("alarm-api-name"); !strings.Contains(d, "shop-p99") || !strings.Contains(d, "Shop API") {
		t.Errorf("misnamed alarm: %s", d)
	}
	if a.Plan == nil || a.Plan.Outcome != "planned" || a.Plan.Rule != "previous-created" || a.Plan.To == "" {
		t.Errorf("plan: %+v", a.Plan)
	}
	if w.rest.Writes() != 0 || w.ddb.Writes() != 0 {
		t.Errorf("check wrote: %d stage writes, %d memory writes", w.rest.Writes(), w.ddb.Writes())
	}
}

func TestCheckOfAStageWithNowhereToGoIsNotReady(t *testing.T) {
	w := newWorld(t)
	api := w.rest.CreateRestAPI("lonely-api")
	d, err := w.rest.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{CreatedDate: t0})
	must(t, err)
	must(t, w.rest.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: d.ID}))
	w.lam.CreateFunction("rewind", lambdalocal.Version{Version: "1", LastModified: t0})
	a, _ := runCheck(t, w, map[string]string{config.EnvTargets: api.ID + "/prod", config.EnvAlarmTopicARN: alarmTopic}, `{"action":"check"}`)
	if a.Ready || a.status("somewhere-to-go") != "fail" || !strings.Contains(a.Reason, "not ready") {
		t.Fatalf("%+v", a)
	}
	for name, want := range map[string]string{"history-depth": "warn", "alarms-reach-target": "warn", "reserved-concurrency": "warn"} {
		if got := a.status(name); got != want {
			t.Errorf("%s: %s (%s), want %s", name, got, a.detail(name), want)
		}
	}
	if a.Plan == nil || a.Plan.Outcome != "failed" || a.Plan.Code != "nothing-earlier" {
		t.Errorf("plan: %+v", a.Plan)
	}
}

// A read that fails is a failed check or a warning naming the error, never a crashed answer.
func TestCheckSaysWhatItCouldNotRead(t *testing.T) {
	w, tg := readyWorld(t)
	w.cw.InjectFault(awslocal.AnyOperation, awslocal.Fault{Status: 500, Times: 1000})
	w.lam.InjectFault(awslocal.AnyOperation, awslocal.Fault{Status: 500, Times: 1000})
	a, _ := runCheck(t, w, map[string]string{config.EnvTargets: tg, config.EnvAlarmTopicARN: alarmTopic}, `{"action":"check"}`)
	if !a.Ready || a.status("alarms-reach-target") != "warn" || !strings.Contains(a.detail("alarms-reach-target"), "could not list") ||
		a.status("reserved-concurrency") != "warn" || !strings.Contains(a.detail("reserved-concurrency"), "could not read") {
		t.Fatalf("%+v", a)
	}
	w.ddb.InjectFault(awslocal.AnyOperation, awslocal.Fault{Status: 500, Times: 1000})
	a, _ = runCheck(t, w, map[string]string{config.EnvTargets: tg, config.EnvAlarmTopicARN: alarmTopic}, `{"action":"check"}`)
	if a.Ready || a.status("memory-readable") != "fail" {
		t.Fatalf("memory unreadable: %+v", a)
	}
}

// Without a target, every target is checked: one result each.
func TestCheckOfEveryTarget(t *testing.T) {
	w, tg := readyWorld(t)
	_, all := runCheck(t, w, map[string]string{config.EnvTargets: tg + "," + w.targets}, `{"action":"check"}`)
	if len(all) != 5 {
		t.Fatalf("%d results, want one per target (5)", len(all))
	}
	for _, a := range all {
		if a.Action != "check" || a.status("target-readable") != "pass" || a.status("alarms-reach-target") != "warn" {
			t.Errorf("%s: %+v", a.Target, a)
		}
	}
}

// A read the role is refused (AccessDenied) is a warning naming the refusal, and the check still
// answers: the export, the alarm listing, the function's concurrency.
func TestCheckNamesARefusedPermission(t *testing.T) {
	w, tg := readyWorld(t)
	w.rest.InjectFault("GetExport", apigwlocal.Fault{Status: 403, Times: 100})
	w.cw.InjectFault(awslocal.AnyOperation, awslocal.Fault{Status: 403, Times: 100})
	w.lam.InjectFault(awslocal.AnyOperation, awslocal.Fault{Status: 403, Times: 100})
	a, _ := runCheck(t, w, map[string]string{config.EnvTargets: tg, config.EnvAlarmTopicARN: alarmTopic}, `{"action":"check"}`)
	if !a.Ready {
		t.Fatalf("refused reads of optional checks made the target not ready: %+v", a)
	}
	for _, name := range []string{"lambda-qualified", "alarms-reach-target", "reserved-concurrency"} {
		if a.status(name) != "warn" || !strings.Contains(a.detail(name), "AccessDenied") {
			t.Errorf("%s: %s %q, want a warning naming AccessDenied", name, a.status(name), a.detail(name))
		}
	}
}
