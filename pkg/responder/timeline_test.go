package responder_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/apigwlocal"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
)

// scheduledEvent is what an EventBridge schedule delivers.
const scheduledEvent = `{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events",
"account":"123456789012","time":"2026-11-25T03:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/rewind-observe"],"detail":{}}`

func TestTimelineChoosesWhatThisStageServedNotWhatWasCreatedLast(t *testing.T) {
	w := newWorld(t) // legacy (t0) and lambda (t0+10m, live)
	devOnly, _ := w.gw.CreateDeployment(w.apiID, apigwlocal.DeploymentSpec{Description: "dev build, never in prod", CreatedDate: t0.Add(14 * time.Minute)})
	release, _ := w.gw.CreateDeployment(w.apiID, apigwlocal.DeploymentSpec{Description: "Lambda v2", CreatedDate: t0.Add(16 * time.Minute)})
	h := w.handler(t, map[string]string{})

	// The schedule sees the Lambda deployment live, then the release goes live and the schedule sees it.
	out, err := h.Handle(invokeCtx(), json.RawMessage(scheduledEvent))
	if err != nil {
		t.Fatal(err)
	}
	if r := answer(t, out).Results[0]; r.Action != rollback.ActionObserve || r.Outcome != rollback.OutcomeOK || r.Code != rollback.CodeRecorded || !strings.Contains(r.Reason, w.lambda) {
		t.Fatalf("first observe: %+v", r)
	}
	writes := w.gw.Writes()
	if _, err := h.Handle(invokeCtx(), json.RawMessage(scheduledEvent)); err != nil {
		t.Fatal(err)
	}
	if w.gw.Writes() != writes {
		t.Error("an observe that learns nothing new must not write")
	}
	if err := w.gw.SetDeploymentID(w.apiID, "service", release.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handle(invokeCtx(), json.RawMessage(`{"action":"observe"}`)); err != nil {
		t.Fatal(err)
	}

	out, err = h.Handle(invokeCtx(), snsEvent(fiveXX(w, t0.Add(20*time.Minute))))
	if err != nil {
		t.Fatal(err)
	}
	r := answer(t, out).Results[0]
	if r.Outcome != rollback.OutcomeRolledBack || r.To != w.lambda || r.Rule != rollback.RuleTimeline {
		t.Fatalf("rolled to %s by %q (%s); want %s by the timeline, never the dev-only %s", r.To, r.Rule, r.Reason, w.lambda, devOnly.ID)
	}

	out, err = h.Handle(invokeCtx(), json.RawMessage(`{"action":"status"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	var status struct {
		Timeline []struct {
			Deployment string
			How        string
			Bad        bool
		}
	}
	if err := json.Unmarshal(b, &status); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(status.Timeline)
	want := fmt.Sprintf("[{%s alarm-rollback false} {%s observed true} {%s observed false}]", w.lambda, release.ID, w.lambda)
	if got != want {
		t.Errorf("status timeline (newest first) = %s, want %s", got, want)
	}
}

func TestPinnedFallbackWins(t *testing.T) {
	w := newWorld(t)
	newer, _ := w.gw.CreateDeployment(w.apiID, apigwlocal.DeploymentSpec{CreatedDate: t0.Add(15 * time.Minute)})
	_ = w.gw.SetDeploymentID(w.apiID, "service", newer.ID)
	h := w.handler(t, map[string]string{config.EnvTargets: w.apiID + "/service@" + w.legacy})
	out, err := h.Handle(invokeCtx(), snsEvent(fiveXX(w, t0.Add(20*time.Minute))))
	if err != nil {
		t.Fatal(err)
	}
	if r := answer(t, out).Results[0]; r.To != w.legacy || r.Rule != rollback.RuleFallback {
		t.Fatalf("%+v: want the pinned legacy deployment %s, not the previous %s", r, w.legacy, w.lambda)
	}
}

func TestLoopGuardRefusesTheFourthAutomaticRollbackInAnHour(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, map[string]string{config.EnvMaxAutoPerHour: "3"})
	for i := 1; i <= 4; i++ {
		// A new release goes live and breaks: a fresh incident each time.
		rel, _ := w.gw.CreateDeployment(w.apiID, apigwlocal.DeploymentSpec{Description: fmt.Sprintf("release %d", i), CreatedDate: t0.Add(time.Duration(10+i) * time.Minute)})
		_ = w.gw.SetDeploymentID(w.apiID, "service", rel.ID)
		msg := alarmMessage(alarmSpec{name: fmt.Sprintf("luna-api-5xx-%d", i), at: t0.Add(20 * time.Minute), apiName: "luna-api", stage: "service"})
		out, err := h.Handle(invokeCtx(), snsEvent(msg))
		if i <= 3 {
			if err != nil || answer(t, out).Results[0].Outcome != rollback.OutcomeRolledBack {
				t.Fatalf("rollback %d: %v %+v", i, err, out)
			}
			continue
		}
		if f := (*responder.Failed)(nil); !errors.As(err, &f) || !slices.Equal(f.Codes(), []rollback.Code{rollback.CodeLoopGuard}) {
			t.Fatalf("rollback 4: err = %v, want the loop guard to refuse", err)
		}
		if w.live(t).DeploymentID != rel.ID {
			t.Error("a refused rollback moved the stage")
		}
	}
	if _, err := h.Handle(invokeCtx(), json.RawMessage(`{"action":"clear","reason":"fixed the build pipeline"}`)); err != nil {
		t.Fatal(err)
	}
	out, err := h.Handle(invokeCtx(), snsEvent(alarmMessage(alarmSpec{name: "luna-api-5xx-5", at: t0.Add(21 * time.Minute), apiName: "luna-api", stage: "service"})))
	if err != nil || answer(t, out).Results[0].Outcome != rollback.OutcomeRolledBack {
		t.Fatalf("after clear: %v %+v", err, out)
	}
}
