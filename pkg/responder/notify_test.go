package responder_test

import (
	"context"
	"encoding/json"
	"errors"
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
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
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
	if len(n.got) != 1 || n.got[0].Outcome != rollback.OutcomeRolledBack || n.got[0].To != w.legacy {
		t.Fatalf("notified %+v, want exactly the one rollback", n.got)
	}
	// A failure is notified too (and fails the invocation).
	if _, err := h.Handle(invokeCtx(), json.RawMessage(`{"action":"deploy","deploymentId":"nope12"}`)); err == nil {
		t.Fatal("deploy of a missing deployment must fail")
	}
	if len(n.got) != 2 || n.got[1].Outcome != rollback.OutcomeFailed {
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
