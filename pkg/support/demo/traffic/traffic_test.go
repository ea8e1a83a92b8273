package traffic_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/demo/traffic"
)

// TestDriverCountsWhatUsersSee: a server that answers 200 then 502 is seen as 2xx then 5xx, with the
// deployment each answer names, and Run returns only after every request it started has ended.
func TestDriverCountsWhatUsersSee(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) <= 10 {
			w.Header().Set(traffic.DeploymentHeader, "dep1")
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set(traffic.DeploymentHeader, "dep2")
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()

	start := time.Now()
	c := traffic.NewCounter(start)
	var mu sync.Mutex
	var results []traffic.Result
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	err := traffic.Driver{URL: func(int) string { return srv.URL + "/service/user/1" }, RPS: 50}.Run(ctx, func(r traffic.Result) {
		c.Add(r)
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	recorded := len(results)
	mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	late := len(results) - recorded
	answered := 0
	for _, r := range results {
		if r.Status != 0 {
			answered++
		} else if !errors.Is(r.Err, context.DeadlineExceeded) {
			t.Errorf("a request failed for another reason than the end of the run: %v", r.Err)
		}
	}
	mu.Unlock()
	if late != 0 {
		t.Fatalf("%d results recorded after Run returned: it left requests in flight", late)
	}
	// A request cut off by the end of the run may have reached the server: served >= answered.
	if got := int(served.Load()); got < answered {
		t.Fatalf("server served %d, driver got %d answers", got, answered)
	}
	ok, bad, _ := c.Totals()
	if ok != 10 || bad != answered-10 || bad < 5 {
		t.Errorf("totals 2xx=%d 5xx=%d of %d answers", ok, bad, answered)
	}
	s := c.Get(0)
	if s.Deployments["dep1"] != 10 || s.Deployments["dep2"] != bad {
		t.Errorf("by deployment %v", s.Deployments)
	}
}

func TestDriverRejectsABadRate(t *testing.T) {
	if err := (traffic.Driver{URL: func(int) string { return "" }}).Run(context.Background(), func(traffic.Result) {}); err == nil {
		t.Fatal("RPS 0 must be an error, not a loop that never sends")
	}
}

func TestClass(t *testing.T) {
	for status, want := range map[int]string{200: "2xx", 204: "2xx", 502: "5xx", 500: "5xx", 403: "other", 0: "other"} {
		if got := (traffic.Result{Status: status}).Class(); got != want {
			t.Errorf("%d: %s, want %s", status, got, want)
		}
	}
}
