package responder_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/rollback"
)

// expiringNames gives the world's name cache a clock the test moves past the cache's TTL (a minute
// in the test handler), the way a warm instance meets an alarm long after its last lookup.
func expiringNames(w *world) (expire func()) {
	var mu sync.Mutex
	now := t0
	w.namesNow = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	return func() { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Hour) }
}

// On a warm instance whose name cache has expired, the lookup runs alongside the stage and history
// reads, not in front of them: GetRestApis is held until GetStage has arrived, which only happens if
// Rewind reads with its cached guess while it looks the name up again.
func TestExpiredNameIsLookedUpAlongsideTheReads(t *testing.T) {
	w := newWorld(t)
	expire := expiringNames(w)
	stageRead := make(chan struct{})
	var once sync.Once
	var sequential atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/stages/"):
			once.Do(func() { close(stageRead) })
		case r.Method == http.MethodGet && r.URL.Path == "/restapis" && w.namesNow().After(t0):
			select {
			case <-stageRead:
			case <-time.After(5 * time.Second):
				sequential.Store(true) // the reads waited for the lookup: answer it so the test can end
			}
		}
		w.ddb.Front(w.gw).ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	h := w.handler(t, map[string]string{})

	// The first alarm fills the cache (an API outside TARGETS: ignored).
	out, err := h.Handle(invokeCtx(), snsEvent(alarmMessage(alarmSpec{name: "other-5xx", at: t0.Add(time.Hour), apiName: "other-api", stage: "service"})))
	if err != nil || answer(t, out).Results[0].Outcome != rollback.OutcomeIgnored {
		t.Fatalf("filling the cache: %+v, %v", out, err)
	}
	// Within the TTL the cache answers alone: no lookup at all.
	if _, err := h.Handle(invokeCtx(), snsEvent(alarmMessage(alarmSpec{name: "other-5xx", at: t0.Add(time.Hour), apiName: "other-api", stage: "service"}))); err != nil {
		t.Fatal(err)
	}
	if n := w.gw.CallCount("GetRestApis"); n != 1 {
		t.Fatalf("GetRestApis calls = %d with a fresh cache, want the first lookup only", n)
	}
	expire()
	out, err = h.Handle(invokeCtx(), snsEvent(fiveXX(w, t0.Add(20*time.Minute))))
	if err != nil {
		t.Fatal(err)
	}
	if r := answer(t, out).Results[0]; r.Outcome != rollback.OutcomeRolledBack || r.To != w.legacy {
		t.Fatalf("%+v", r)
	}
	if sequential.Load() {
		t.Error("the stage was read only after the API name lookup answered: the lookup added a round trip")
	}
	if n := w.gw.CallCount("GetRestApis"); n != 2 {
		t.Errorf("GetRestApis calls = %d, want 2 (the first lookup, and the one confirming the expired guess)", n)
	}
}

// The guess from an expired cache is only a guess: if the name now belongs to another API, the
// guessed stage is never written, and the alarm goes where the name leads now (or nowhere).
func TestAnExpiredGuessIsNeverWrittenWhenTheNameMoved(t *testing.T) {
	for _, tc := range []struct {
		name        string
		otherListed bool
	}{{"to another target", true}, {"to an API outside TARGETS", false}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			expire := expiringNames(w)
			targets := w.apiID + "/service"
			if tc.otherListed {
				targets += "," + w.other + "/service"
			}
			h := w.handler(t, map[string]string{config.EnvTargets: targets})
			if _, err := h.Handle(invokeCtx(), snsEvent(alarmMessage(alarmSpec{name: "probe", at: t0.Add(time.Hour), apiName: "no-such-api", stage: "service"}))); err != nil {
				t.Fatal(err)
			}
			// luna-api is renamed and other-api takes its name, after Rewind listed them.
			if err := w.gw.RenameRestAPI(w.apiID, "luna-api-v1"); err != nil {
				t.Fatal(err)
			}
			if err := w.gw.RenameRestAPI(w.other, "luna-api"); err != nil {
				t.Fatal(err)
			}
			expire()
			out, err := h.Handle(invokeCtx(), snsEvent(fiveXX(w, t0.Add(20*time.Minute))))
			r := answer(t, out).Results[0]
			if w.live(t).DeploymentID != w.lambda {
				t.Fatalf("the guessed stage %s/service was moved: %+v", w.apiID, r)
			}
			if tc.otherListed {
				if err != nil || r.Outcome != rollback.OutcomeRolledBack || r.Target != w.other+"/service" {
					t.Errorf("want %s/service rolled back: %+v, %v", w.other, r, err)
				}
				return
			}
			if err != nil || r.Outcome != rollback.OutcomeIgnored || r.Code != rollback.CodeNoTarget || w.gw.Writes() != 0 {
				t.Errorf("want ignored, no write: %+v, %v, %d writes", r, err, w.gw.Writes())
			}
		})
	}
}
