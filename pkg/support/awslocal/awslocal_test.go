package awslocal_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

// server is one write operation ("Put") that counts how often it really ran.
func server(t *testing.T) (*awslocal.Recorder, *httptest.Server, *int) {
	t.Helper()
	ran := 0
	rec := awslocal.NewRecorder(nil, func(w http.ResponseWriter, status int) {
		awslocal.WriteJSONError(w, status, awslocal.JSONCode(status), "injected")
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.Serve(w, r, "Put", func(w http.ResponseWriter) bool {
			ran++
			awslocal.WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
			return true
		})
	}))
	t.Cleanup(srv.Close)
	return rec, srv, &ran
}

func put(ctx context.Context, url string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType") + " " + string(b), nil
}

func TestFaultsFireBeforeOrAfterTheChangeAsAsked(t *testing.T) {
	rec, srv, ran := server(t)
	rec.InjectFault("Put", awslocal.Fault{Status: 429, Times: 2})
	rec.InjectFault("Put", awslocal.Fault{Status: 500, AfterApply: true})
	rec.InjectFault(awslocal.AnyOperation, awslocal.Fault{Reset: true})
	for i, want := range []int{429, 429, 500} {
		status, body, err := put(context.Background(), srv.URL)
		if err != nil || status != want {
			t.Fatalf("call %d: %d %q %v, want %d", i, status, body, err, want)
		}
		if i == 0 && !strings.Contains(body, "TooManyRequestsException") {
			t.Errorf("429 body: %q", body)
		}
	}
	if *ran != 1 || rec.Writes() != 1 {
		t.Errorf("after two refusals and one lost answer: ran %d, writes %d; want the lost one applied", *ran, rec.Writes())
	}
	if _, _, err := put(context.Background(), srv.URL); err == nil || !errors.Is(err, syscall.ECONNRESET) && !strings.Contains(err.Error(), "EOF") {
		t.Errorf("reset: %v", err)
	}
	if status, _, err := put(context.Background(), srv.URL); err != nil || status != 200 || *ran != 2 {
		t.Errorf("after the faults: %d %v, ran %d", status, err, *ran)
	}
	calls := rec.Calls()
	var faults []string
	for _, c := range calls {
		faults = append(faults, c.Fault)
	}
	if got := strings.Join(faults, "|"); got != "status=429|status=429|status=500,after-apply|reset|" {
		t.Errorf("recorded faults %q", got)
	}
}

func TestAClientThatGivesUpDuringADelayChangesNothing(t *testing.T) {
	rec, srv, ran := server(t)
	rec.InjectFault("Put", awslocal.Fault{Delay: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := put(ctx, srv.URL); err == nil {
		t.Fatal("the client should have given up")
	}
	deadline := time.Now().Add(5 * time.Second)
	for (rec.CallCount("Put") == 0 || !strings.HasSuffix(rec.Calls()[0].Fault, "canceled")) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // until the server has settled the call
	}
	if c := rec.Calls(); len(c) != 1 || c[0].Fault != "delay=2s,canceled" || c[0].Status != 0 {
		t.Fatalf("calls %+v: want one delayed call that sent nothing", c)
	}
	if *ran != 0 || rec.Writes() != 0 {
		t.Errorf("a write whose client left during the delay was applied: ran %d", *ran)
	}
}

func TestTheQuotaLatencyAndRefusalsAreRecordedBeforeTheAnswer(t *testing.T) {
	rec, srv, ran := server(t)
	rec.SetRateLimit(0.001, 1) // one call, then no token for a quarter of an hour
	for i, want := range []int{200, 429} {
		status, body, err := put(context.Background(), srv.URL)
		// The call is complete in Calls as soon as the client has its answer: no waiting.
		if c := rec.Calls(); err != nil || status != want || len(c) != i+1 || c[i].Status != want {
			t.Fatalf("call %d: %d %q %v, calls %+v; want %d", i, status, body, err, c, want)
		}
	}
	if c := rec.Calls()[1]; c.Fault != "ratelimit" || *ran != 1 || rec.Writes() != 1 {
		t.Errorf("refused call %+v, ran %d, writes %d", c, *ran, rec.Writes())
	}
	rec.SetRateLimit(0, 0)

	rec.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := put(ctx, srv.URL); err == nil {
		t.Fatal("the client should have given up during the latency")
	}
	rec.SetLatency(0)
	deadline := time.Now().Add(5 * time.Second)
	for rec.Calls()[2].Fault == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // until the server has settled the call
	}
	if c := rec.Calls()[2]; c.Fault != "latency,canceled" || c.Status != 0 || *ran != 1 {
		t.Errorf("call given up during the latency: %+v, ran %d", c, *ran)
	}

	rec.InjectFault(awslocal.AnyOperation, awslocal.Fault{Status: 500})
	w := httptest.NewRecorder()
	rec.Refuse(w, "Unknown", func(w http.ResponseWriter) {
		awslocal.WriteJSONError(w, http.StatusNotFound, "UnknownOperationException", "no such operation")
	})
	if c := rec.Calls()[3]; w.Code != 404 || c.Op != "Unknown" || c.Status != 404 || c.Fault != "" {
		t.Errorf("refusal: sent %d, recorded %+v", w.Code, c)
	}
	if status, _, _ := put(context.Background(), srv.URL); status != 500 {
		t.Errorf("the refusal used up the queued fault: %d", status)
	}
	rec.ResetCalls()
	if len(rec.Calls()) != 0 || rec.Writes() != 0 || rec.CallCount("") != 0 {
		t.Error("ResetCalls left something")
	}
}
