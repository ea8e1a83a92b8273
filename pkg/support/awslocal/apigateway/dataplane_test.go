package apigateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// echo answers which deployment served, the path it was given, and what the data plane told it.
func echo(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inv, _ := apigwlocal.InvocationFrom(r.Context())
		fmt.Fprintf(w, "%s %s %s canary=%t backend=%s", name, r.URL.Path, r.URL.RawQuery, inv.Canary, inv.StageVariables["backend"])
	})
}

type dataEnv struct {
	*env
	data *httptest.Server
	ids  map[string]string // name -> deployment id
}

func newDataEnv(t *testing.T) *dataEnv {
	t.Helper()
	e := &dataEnv{env: newEnv(t), ids: map[string]string{}}
	for _, name := range []string{"blue", "green"} {
		d, err := e.gw.CreateDeployment(e.api.ID, apigwlocal.DeploymentSpec{Description: name, Backend: echo(name)})
		if err != nil {
			t.Fatal(err)
		}
		e.ids[name] = d.ID
	}
	if err := e.gw.CreateStage(e.api.ID, apigwlocal.StageSpec{Name: "live", DeploymentID: e.ids["blue"], Variables: map[string]string{"backend": "stable"}}); err != nil {
		t.Fatal(err)
	}
	e.data = httptest.NewServer(e.gw.DataPlane(e.api.ID))
	t.Cleanup(e.data.Close)
	return e
}

func (e *dataEnv) get(t *testing.T, path string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(e.data.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestDataPlaneServesTheLiveDeployment(t *testing.T) {
	e := newDataEnv(t)
	if code, body, _ := e.get(t, "/live/users/42?x=1"); code != 200 || body != "blue /users/42 x=1 canary=false backend=stable" {
		t.Errorf("got %d %q", code, body)
	}
	if _, body, _ := e.get(t, "/live"); body != "blue /  canary=false backend=stable" {
		t.Errorf("stage root: %q", body)
	}
	if err := e.gw.SetDeploymentID(e.api.ID, "live", e.ids["green"]); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := e.get(t, "/live/users/42"); body != "green /users/42  canary=false backend=stable" {
		t.Errorf("after the switch: %q", body)
	}
	// A rollback over the wire moves the traffic back.
	if _, err := e.update("live", replace("/deploymentId", e.ids["blue"])); err != nil {
		t.Fatal(err)
	}
	if _, body, _ := e.get(t, "/live/users/42"); body != "blue /users/42  canary=false backend=stable" {
		t.Errorf("after the rollback: %q", body)
	}
	if e.gw.CallCount(apigwlocal.AnyOperation) != 1 {
		t.Errorf("data-plane requests were recorded as control-plane calls: %+v", e.gw.Calls())
	}
}

func TestDataPlaneErrorsLikeAPIGateway(t *testing.T) {
	e := newDataEnv(t)
	code, body, h := e.get(t, "/nostage/x")
	if code != http.StatusForbidden || body != `{"message":"Forbidden"}` || h.Get("Content-Type") != "application/json" {
		t.Errorf("unknown stage: %d %q %v", code, body, h)
	}
	if code, _, _ := e.get(t, "/"); code != http.StatusForbidden {
		t.Errorf("no stage: %d", code)
	}
	// Deployments made without a backend (e.g. by CreateDeployment over the wire) answer 502.
	if err := e.gw.CreateStage(e.api.ID, apigwlocal.StageSpec{Name: "bare", DeploymentID: e.deps[0].ID}); err != nil {
		t.Fatal(err)
	}
	code, body, _ = e.get(t, "/bare/x")
	var msg map[string]string
	if code != http.StatusBadGateway || json.Unmarshal([]byte(body), &msg) != nil || msg["message"] != "Internal server error" {
		t.Errorf("no backend: %d %q", code, body)
	}
	other := httptest.NewServer(e.gw.DataPlane("zzzzzzzzzz"))
	defer other.Close()
	resp, err := http.Get(other.URL + "/live/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unknown API: %d", resp.StatusCode)
	}
}

func TestCanarySplitsTrafficDeterministically(t *testing.T) {
	e := newDataEnv(t)
	if _, err := e.update("live", replace("/canarySettings/deploymentId", e.ids["green"]), replace("/canarySettings/percentTraffic", "25"),
		replace("/canarySettings/stageVariableOverrides/backend", "canary")); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for range 200 {
		_, body, _ := e.get(t, "/live/x")
		counts[body]++
	}
	want := map[string]int{
		"blue /x  canary=false backend=stable": 150,
		"green /x  canary=true backend=canary": 50,
	}
	if len(counts) != 2 || counts["blue /x  canary=false backend=stable"] != 150 || counts["green /x  canary=true backend=canary"] != 50 {
		t.Errorf("split = %v, want %v", counts, want)
	}

	// Removing the canary sends everything to the stage's deployment again.
	if _, err := e.update("live", remove("/canarySettings")); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, body, _ := e.get(t, "/live/x"); body != "blue /x  canary=false backend=stable" {
			t.Fatalf("after removing the canary: %q", body)
		}
	}
}

func TestCanaryAtAHundredPercentTakesEverything(t *testing.T) {
	e := newDataEnv(t)
	if _, err := e.update("live", replace("/canarySettings/deploymentId", e.ids["green"]), replace("/canarySettings/percentTraffic", "100")); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, body, _ := e.get(t, "/live/x"); body != "green /x  canary=true backend=stable" {
			t.Fatalf("got %q", body)
		}
	}
}
