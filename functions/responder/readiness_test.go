package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
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

const scheduledTick = `{"version":"0","id":"tick","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",` +
	`"time":"2026-11-25T03:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/rewind-Observe"],"detail":{}}`

type notes struct {
	mu  sync.Mutex
	got []rollback.Result
}

func (n *notes) Notify(_ context.Context, r rollback.Result) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, r)
	return nil
}

// The schedule watches readiness: at most hourly, it checks each target, and tells once when one
// turns not ready and once when it is ready again, never every tick.
func TestTheScheduleTellsOnceWhenATargetTurnsNotReadyAndReadyAgain(t *testing.T) {
	w := newWorld(t)
	api := w.rest.CreateRestAPI("ready-api")
	for i, id := range []string{"old1", "new2"} {
		_, err := w.rest.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: id, CreatedDate: t0.Add(time.Duration(i) * time.Minute)})
		must(t, err)
	}
	must(t, w.rest.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: "new2"}))
	clock := t0.Add(20 * time.Minute)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	cfg, err := config.FromEnv(func(k string) string {
		return map[string]string{config.EnvTargets: api.ID + "/prod", config.EnvMemoryTable: e2eTable}[k]
	})
	must(t, err)
	n := &notes{}
	h, err := responder.Build(cfg, aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(w.url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")},
		responder.Options{Log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), Notifier: n, Now: now})
	must(t, err)
	tick := func() {
		t.Helper()
		if _, err := h.Handle(invokeCtx(), json.RawMessage(scheduledTick)); err != nil {
			t.Fatal(err)
		}
	}
	readiness := func() []rollback.Code {
		n.mu.Lock()
		defer n.mu.Unlock()
		var cs []rollback.Code
		for _, r := range n.got {
			if r.Action == rollback.ActionCheck {
				cs = append(cs, r.Code)
			}
		}
		return cs
	}
	tick()                                                  // ready: nothing to tell
	must(t, w.rest.SetDeploymentID(api.ID, "prod", "old1")) // a human goes back to the oldest: nowhere earlier
	for range 3 {
		advance(5 * time.Minute)
		tick()
	}
	if got := readiness(); len(got) != 0 {
		t.Fatalf("within the hour nothing is checked again: %v", got)
	}
	advance(time.Hour)
	tick()
	tick()
	if got := readiness(); len(got) != 1 || got[0] != rollback.CodeNotReady {
		t.Fatalf("turned not ready: %v, want one not-ready", got)
	}
	must(t, w.rest.SetDeploymentID(api.ID, "prod", "new2"))
	advance(time.Hour)
	tick()
	advance(time.Hour)
	tick()
	if got := readiness(); len(got) != 2 || got[1] != rollback.CodeReadyAgain {
		t.Fatalf("ready again: %v, want not-ready then one ready-again", got)
	}
}
