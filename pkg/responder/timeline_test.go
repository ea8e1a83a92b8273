package responder_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
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
	if r := answer(t, out).Results[0]; r.Action != rollback.ActionObserve || r.Outcome != rollback.OutcomeOK || r.Code != rollback.CodeRecorded || r.To != w.lambda {
		t.Fatalf("first observe: %+v", r)
	}
	writes := w.gw.Writes()
	out, err = h.Handle(invokeCtx(), json.RawMessage(scheduledEvent))
	if err != nil {
		t.Fatal(err)
	}
	if r := answer(t, out).Results[0]; r.Code != rollback.CodeUnchanged || w.gw.Writes() != writes {
		t.Errorf("an observe that learns nothing new must not write the stage: %s, %d stage writes", r.Code, w.gw.Writes()-writes)
	}
	if w.gw.Writes() != 0 {
		t.Errorf("observes wrote the stage %d times: the timeline lives in Rewind's table", w.gw.Writes())
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

// TestObserveStillRecordsWhenTheTimelineIsFull: the timeline keeps the newest rollback.MaxTimeline
// sightings. Once it is full, a new deployment going live must still be recorded, or "previous"
// means whatever was recorded last, however old: the rollback would skip every release since.
func TestObserveStillRecordsWhenTheTimelineIsFull(t *testing.T) {
	r := newRig(t, scheduleStart)
	api := r.gw.CreateRestAPI("shop")
	n := rollback.MaxTimeline + 2
	var past []rollback.Sighting
	for i := 1; i <= n; i++ {
		created := scheduleStart.Add(time.Duration(i-n-1) * 24 * time.Hour)
		if _, err := r.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: fmt.Sprintf("d%d", i), CreatedDate: created}); err != nil {
			t.Fatal(err)
		}
		if i < n-1 {
			past = append(past, rollback.Sighting{Deployment: fmt.Sprintf("d%d", i), Since: created.Add(time.Minute), How: rollback.HowObserved})
		}
	}
	key := api.ID + "/prod"
	r.seed(t, key, rollback.Memory{Timeline: past[len(past)-rollback.MaxTimeline:]}) // full, newest d(n-2)
	// d(n-1) goes live and the scheduled observe sees it.
	if err := r.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: fmt.Sprintf("d%d", n-1)}); err != nil {
		t.Fatal(err)
	}
	h := r.handler(t, map[string]string{config.EnvTargets: key}, fastRetry, nil)
	r.clock.Advance(time.Minute)
	if _, err := invoke(h, scheduleTick(r.clock.Now())); err != nil {
		t.Fatal(err)
	}
	mem := mustRecord(t, r.ddb, key).Memory
	if got := len(mem.Timeline); got != rollback.MaxTimeline {
		t.Errorf("timeline holds %d sightings, want the bound %d", got, rollback.MaxTimeline)
	}
	if cur := mem.Timeline[len(mem.Timeline)-1].Deployment; cur != fmt.Sprintf("d%d", n-1) {
		t.Errorf("the timeline's newest sighting is %s, want d%d, live since the last observe", cur, n-1)
	}
	// d(n) goes live and fails: the rollback goes to d(n-1), the release before it.
	r.clock.Advance(24 * time.Hour)
	if err := r.gw.SetDeploymentID(api.ID, "prod", fmt.Sprintf("d%d", n)); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Minute)
	a := alarmDef{name: "shop-5xx", state: "ALARM", at: r.clock.Now().Add(-time.Second), apiName: "shop", stage: "prod"}
	out, err := invoke(h, a.payload(viaSNS))
	if err != nil {
		t.Fatal(err)
	}
	if res := resultsOf(out)[0]; res.Code != rollback.CodeRolledBack || res.To != fmt.Sprintf("d%d", n-1) || res.Rule != rollback.RuleTimeline {
		t.Errorf("rollback from d%d: %s to %s by %q, want rolled-back to d%d by the timeline", n, res.Code, res.To, res.Rule, n-1)
	}
}
