package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rewind-sre/rewind/pkg/support/demo/rie"
)

// Crash-safe order, with the real bootstrap killed (SIGKILL, as Lambda ends a sandbox at its
// timeout) at each point between the steps of a rollback: claim in the memory table, switch the
// stage, confirm. The retry, on a fresh instance once the dead one's claim has expired, settles the
// claim by what the stage serves: never a second switch for one incident, never a lost record of one
// that happened.
func TestKilledBetweenStepsTheRetryFinishesOrAbandons(t *testing.T) {
	rieBinary(t)
	bin, err := rie.Build(context.Background(), repoRoot(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, point := range []struct {
		name string
		// hold picks the request the first instance is killed at, before it is served.
		hold func(op string, body []byte) bool
		// After the retry: the outcome and code it answers.
		outcome, code string
	}{
		{name: "after the claim, before the switch", hold: func(op string, _ []byte) bool { return op == "UpdateStage" },
			outcome: "rolled-back", code: "rolled-back"},
		{name: "after the switch, before the confirmation", hold: func() func(string, []byte) bool {
			claims := 0
			return func(op string, body []byte) bool {
				if op != "PutItem" || !bytes.Contains(body, []byte(`"sk":{"S":"memory"}`)) {
					return false
				}
				claims++
				return claims == 2 // the first PutItem of the memory item is the claim, the second confirms it
			}
		}(), outcome: "rolled-back", code: "settled"}, // the retry reports the switch it found landed, so it is notified
	} {
		t.Run(point.name, func(t *testing.T) {
			t.Parallel()
			g := newE2EGateway(t)
			arrived, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			g.front = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				if point.hold(operation(r), body) {
					held := false
					once.Do(func() { held = true })
					if held {
						close(arrived)
						<-release
						w.WriteHeader(http.StatusServiceUnavailable) // the caller is dead; nothing was applied
						return
					}
				}
				next.ServeHTTP(w, r)
			}
			env := append(g.endpoints(), "TARGETS="+g.apiID+"/service")
			const timeout = 3 * time.Second
			first := startFunctionWith(t, rie.Config{Bootstrap: bin, Timeout: timeout}, env...)
			event := nowAlarm(t, "luna-api-5xx")
			started := time.Now()
			go func() { _, _ = first.Invoke(context.Background(), event) }()
			select {
			case <-arrived:
			case <-time.After(20 * time.Second):
				t.Fatalf("the held call never came:\n%s", first.Logs())
			}
			for _, pid := range rie.Running(first.Bootstrap()) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			close(release)

			// Lambda's retry runs on another instance. The dead one's claim holds until its deadline
			// (the timeout less Rewind's 0.5 s margin) plus 2 s: the retry waits for that, then settles.
			time.Sleep(time.Until(started.Add(timeout + 2*time.Second)))
			retry := startFunctionWith(t, rie.Config{Bootstrap: bin, Timeout: 10 * time.Second}, env...)
			resp, err := retry.Invoke(context.Background(), event)
			if err != nil || resp.Failed() {
				t.Fatalf("retry: %v %s\n%s", err, resp.Body, retry.Logs())
			}
			var answer struct {
				Results []struct{ Outcome, Code, To string } `json:"results"`
			}
			if err := json.Unmarshal(resp.Body, &answer); err != nil || len(answer.Results) != 1 {
				t.Fatalf("retry answered %s", resp.Body)
			}
			if r := answer.Results[0]; r.Outcome != point.outcome || r.Code != point.code {
				t.Errorf("retry: %+v, want %s (%s)", r, point.outcome, point.code)
			}
			if g.live(t) != g.legacy || g.gw.Writes() != 1 {
				t.Errorf("stage on %s after %d writes, want %s after exactly one switch", g.live(t), g.gw.Writes(), g.legacy)
			}
			item, ok := g.ddb.Item(e2eTable, "target#"+g.apiID+"/service", "memory")
			if !ok {
				t.Fatal("no memory item")
			}
			bad, _ := json.Marshal(item["bad"])
			if _, open := item["claim"]; open || string(bad) != `{"L":[{"S":"`+g.lambdaRelease+`"}]}` {
				t.Errorf("memory after the retry: claim %v, bad %s; want no open claim and %s known bad", item["claim"], bad, g.lambdaRelease)
			}
			if !strings.Contains(retry.Logs(), "settled an open claim") {
				t.Errorf("the retry did not say it settled the claim:\n%s", retry.Logs())
			}
		})
	}
}

// operation names a call to the local endpoint: DynamoDB's X-Amz-Target, or UpdateStage for a PATCH.
func operation(r *http.Request) string {
	if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810."); ok {
		return op
	}
	if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/stages/") {
		return "UpdateStage"
	}
	return r.Method + " " + r.URL.Path
}

// nowAlarm is the SNS delivery of a 5XX alarm on luna-api/service in the emulator's account and
// region, changing state now.
func nowAlarm(t *testing.T, name string) []byte {
	t.Helper()
	msg, _ := json.Marshal(map[string]any{
		"AlarmName": name, "AWSAccountId": rie.AccountID, "NewStateValue": "ALARM", "OldStateValue": "OK",
		"NewStateReason": "Threshold Crossed", "StateChangeTime": time.Now().UTC().Format("2006-01-02T15:04:05.000-0700"),
		"Region": "US East (N. Virginia)", "AlarmArn": "arn:aws:cloudwatch:" + rie.Region + ":" + rie.AccountID + ":alarm:" + name,
		"Trigger": map[string]any{"MetricName": "5XXError", "Namespace": "AWS/ApiGateway", "StatisticType": "Statistic", "Statistic": "SUM",
			"Dimensions": []map[string]string{{"name": "ApiName", "value": "luna-api"}, {"name": "Stage", "value": "service"}},
			"Period":     60, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 5.0},
	})
	b, err := json.Marshal(events.SNSEvent{Records: []events.SNSEventRecord{{EventSource: "aws:sns", EventVersion: "1.0",
		SNS: events.SNSEntity{Type: "Notification", MessageID: "m-" + name, TopicArn: "arn:aws:sns:" + rie.Region + ":" + rie.AccountID + ":rewind-alarms",
			Message: string(msg), Timestamp: time.Now()}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
