package responder_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// recordingNotifier keeps what would have been published, and can be made to fail.
type recordingNotifier struct {
	mu   sync.Mutex
	got  []rollback.Result
	fail bool
}

func (n *recordingNotifier) Notify(_ context.Context, r rollback.Result) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, r)
	if n.fail {
		return errors.New("sns: AuthorizationError")
	}
	return nil
}

func notifyingHandler(t *testing.T, w *world, n responder.Notifier, env map[string]string) *responder.Handler {
	t.Helper()
	env[config.EnvTargets] = w.apiID + "/service"
	cfg, err := config.FromEnv(withTable(env))
	if err != nil {
		t.Fatal(err)
	}
	awsCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(w.url), Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	h, err := responder.Build(cfg, awsCfg, responder.Options{Log: slog.New(slog.NewJSONHandler(w.logs, nil)), Notifier: n,
		Now: func() time.Time { return handledAt }, NameTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestEachChangeIsNotifiedOnceAndRoutineOnesNot(t *testing.T) {
	w := newWorld(t)
	n := &recordingNotifier{}
	h := notifyingHandler(t, w, n, map[string]string{})
	alarm := snsEvent(fiveXX(w, t0.Add(20*time.Minute)))
	for _, payload := range []json.RawMessage{alarm, alarm, json.RawMessage(`{"action":"status"}`),
		snsEvent(alarmMessage(alarmSpec{name: "luna-api-5xx", state: "OK", at: t0.Add(30 * time.Minute), apiName: "luna-api", stage: "service"}))} {
		if _, err := h.Handle(invokeCtx(), payload); err != nil {
			t.Fatal(err)
		}
	}
	// The rollback once (not its repeat, not the status), and the alarm's return to OK closing it.
	if len(n.got) != 2 || n.got[0].Code != rollback.CodeRolledBack || n.got[0].To != w.legacy || n.got[1].Code != rollback.CodeRecovered {
		t.Fatalf("notified %+v, want the one rollback and its recovery", n.got)
	}
	// A failure is notified too (and fails the invocation).
	if _, err := h.Handle(invokeCtx(), json.RawMessage(`{"action":"deploy","deploymentId":"nope12"}`)); err == nil {
		t.Fatal("deploy of a missing deployment must fail")
	}
	if len(n.got) != 3 || n.got[2].Outcome != rollback.OutcomeFailed || n.got[2].Code != rollback.CodeUnknownDeployment {
		t.Fatalf("failure not notified: %+v", n.got)
	}
}

func TestDryRunPlansAreNotified(t *testing.T) {
	w := newWorld(t)
	n := &recordingNotifier{}
	h := notifyingHandler(t, w, n, map[string]string{config.EnvDryRun: "true"})
	if _, err := h.Handle(invokeCtx(), snsEvent(fiveXX(w, t0.Add(20*time.Minute)))); err != nil {
		t.Fatal(err)
	}
	if len(n.got) != 1 || n.got[0].Outcome != rollback.OutcomePlanned || !n.got[0].DryRun {
		t.Fatalf("notified %+v, want the dry-run plan", n.got)
	}
}

func TestNotifyFailureNeverFailsOrUndoesTheRollback(t *testing.T) {
	w := newWorld(t)
	h := notifyingHandler(t, w, &recordingNotifier{fail: true}, map[string]string{})
	out, err := h.Handle(invokeCtx(), snsEvent(fiveXX(w, t0.Add(20*time.Minute))))
	if err != nil {
		t.Fatalf("a failed notification failed the invocation: %v", err)
	}
	if r := answer(t, out).Results[0]; r.Outcome != rollback.OutcomeRolledBack || w.live(t).DeploymentID != w.legacy {
		t.Fatalf("%+v", r)
	}
	if !strings.Contains(w.logs.String(), "notify failed") {
		t.Error("the failed notification is not logged")
	}
}

// TestADryRunStaysQuiet: with DRY_RUN=true, the scheduled observe repeated twelve times notifies
// nothing, and an alarm delivered twice notifies its plan once; the plan uses the timeline the
// schedule kept (the demo's shape: d2 observed live, d3 released, the alarm plans d3 -> d2 by the
// timeline); no write ever reaches the stage.
func TestADryRunStaysQuiet(t *testing.T) {
	r := newRig(t, scheduleStart)
	api := r.gw.CreateRestAPI("shop")
	for i := 1; i <= 3; i++ {
		if _, err := r.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: fmt.Sprintf("d%d", i),
			CreatedDate: scheduleStart.Add(time.Duration(i-4) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: "d2"}); err != nil {
		t.Fatal(err)
	}
	n := &recordingNotifier{}
	h := r.instance(t, map[string]string{config.EnvTargets: api.ID + "/prod", config.EnvDryRun: "true"}, "dry", responder.Options{Notifier: n})
	tick := func() {
		t.Helper()
		r.clock.Advance(5 * time.Minute)
		if _, err := invoke(h, scheduleTick(r.clock.Now())); err != nil {
			t.Fatal(err)
		}
	}
	for range 12 {
		tick()
	}
	if len(n.got) != 0 {
		t.Fatalf("the schedule's observes notified %d times: %+v", len(n.got), n.got)
	}
	if err := r.gw.SetDeploymentID(api.ID, "prod", "d3"); err != nil { // a release: d3 goes live
		t.Fatal(err)
	}
	tick()
	r.clock.Advance(time.Minute)
	alarm := alarmDef{name: "shop-5xx", state: "ALARM", at: r.clock.Now().Add(-time.Second), apiName: "shop", stage: "prod"}.payload(viaSNS)
	for range 2 {
		out, err := invoke(h, alarm)
		if err != nil {
			t.Fatal(err)
		}
		if res := resultsOf(out)[0]; res.Outcome != rollback.OutcomePlanned || res.Code != rollback.CodeRolledBack || res.From != "d3" || res.To != "d2" || res.Rule != rollback.RuleTimeline {
			t.Fatalf("dry-run alarm: %s/%s %s -> %s by %q; want planned/rolled-back d3 -> d2 by the timeline", res.Outcome, res.Code, res.From, res.To, res.Rule)
		}
	}
	tick()
	if len(n.got) != 1 || n.got[0].Outcome != rollback.OutcomePlanned || !n.got[0].DryRun || n.got[0].Rule != rollback.RuleTimeline {
		t.Errorf("notified %d times (%+v), want the plan once", len(n.got), n.got)
	}
	if w := r.rec.stageWrites(); len(w) != 0 || r.gw.Writes() != 0 {
		t.Errorf("the dry run sent %d writes to the stage", len(w))
	}
	if st, _ := r.gw.Stage(api.ID, "prod"); st.DeploymentID != "d3" {
		t.Errorf("stage serves %s, want d3 untouched", st.DeploymentID)
	}
}
