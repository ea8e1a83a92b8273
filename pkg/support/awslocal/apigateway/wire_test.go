package apigateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

func raw(t *testing.T, method, url, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if len(b) > 0 {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, url, b)
		}
	}
	return resp, m
}

func TestWireShape(t *testing.T) {
	e := newEnv(t)
	base := e.srv.URL + "/restapis/" + e.api.ID

	resp, stage := raw(t, "GET", base+"/stages/prod", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("GetStage: %d %v", resp.StatusCode, resp.Header)
	}
	for key, want := range map[string]any{
		"stageName": "prod", "deploymentId": e.deps[1].ID, "cacheClusterEnabled": false, "tracingEnabled": false,
		"cacheClusterStatus": "NOT_AVAILABLE", "methodSettings": map[string]any{}, "variables": map[string]any{"backend": "lambda"},
		// Epoch seconds as a JSON number.
		"createdDate": json.Number("1772366400"), "lastUpdatedDate": json.Number("1772366400"),
	} {
		if !reflect.DeepEqual(stage[key], want) {
			t.Errorf("%s = %#v, want %#v", key, stage[key], want)
		}
	}
	for _, absent := range []string{"canarySettings", "tags", "description"} {
		if _, ok := stage[absent]; ok {
			t.Errorf("empty %s is sent; AWS leaves it out", absent)
		}
	}

	resp, list := raw(t, "GET", base+"/deployments?limit=2", "")
	if items, _ := list["item"].([]any); resp.StatusCode != 200 || len(items) != 2 || list["position"] == nil {
		t.Errorf("GetDeployments: %d %v", resp.StatusCode, list)
	}

	resp, errBody := raw(t, "GET", base+"/stages/gone", "")
	if resp.StatusCode != 404 || resp.Header.Get("x-amzn-ErrorType") != "NotFoundException" || errBody["message"] != "Invalid stage identifier specified" || len(errBody) != 1 {
		t.Errorf("404: %d %v %v", resp.StatusCode, resp.Header, errBody)
	}

	for _, c := range []struct{ method, url, body string }{
		{"GET", e.srv.URL + "/nothing/here", ""},
		{"POST", base + "/stages/prod", "{}"},
		{"GET", base + "/stages/prod/extra", ""},
		{"GET", e.srv.URL + "/restapis/", ""},
	} {
		resp, body := raw(t, c.method, c.url, c.body)
		if resp.StatusCode != 404 || resp.Header.Get("x-amzn-ErrorType") == "" || body["message"] == nil {
			t.Errorf("%s %s: %d %v %v", c.method, c.url, resp.StatusCode, resp.Header, body)
		}
	}

	// The success statuses of the model's @http traits.
	for _, c := range []struct {
		method, url, body string
		status            int
	}{
		{"POST", e.srv.URL + "/restapis", `{"name":"x"}`, 201},
		{"POST", base + "/deployments", `{}`, 201},
		{"POST", base + "/stages", `{"stageName":"s2","deploymentId":"` + e.deps[0].ID + `"}`, 201},
		{"PUT", e.srv.URL + "/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2F" + e.api.ID + "%2Fstages%2Fs2", `{"tags":{"a":"b"}}`, 204},
		{"DELETE", e.srv.URL + "/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Frestapis%2F" + e.api.ID + "%2Fstages%2Fs2?tagKeys=a", "", 204},
		{"DELETE", base + "/stages/s2", "", 202},
	} {
		if resp, _ := raw(t, c.method, c.url, c.body); resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.url, resp.StatusCode, c.status)
		}
	}

	if resp, body := raw(t, "PATCH", base+"/stages/prod", `{"patchOperations":`); resp.StatusCode != 400 || body["message"] == nil {
		t.Errorf("malformed body: %d %v", resp.StatusCode, body)
	}
}

func TestStartServesUntilStopped(t *testing.T) {
	gw := apigwlocal.New(apigwlocal.Options{})
	api := gw.CreateRestAPI("demo")
	url, stop, err := gw.Start("")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("url %s", url)
	}
	out, err := newClient(url).GetRestApi(context.Background(), &apigateway.GetRestApiInput{RestApiId: &api.ID})
	if err != nil || aws.ToString(out.Name) != "demo" {
		t.Fatalf("GetRestApi: %v %v", out, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := stop(ctx); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if _, err := http.Get(url + "/restapis"); err == nil {
		t.Error("still serving after stop")
	}
}

// samples finds the published API Gateway samples beside the repository, as CI lays them out.
func samples(t *testing.T) string {
	t.Helper()
	return filepath.Join(testenv.Samples(t), "apigateway")
}

// The developer guide's canary walkthrough, replayed: the stage this server answers must be the
// JSON AWS printed, key for key (these samples are raw wire bodies with epoch dates).
func TestMatchesTheDeveloperGuideSamples(t *testing.T) {
	dir := samples(t)
	c := &clock{now: time.Unix(1511379050, 0)}
	gw := apigwlocal.New(apigwlocal.Options{Now: c.Now})
	srv := httpServer(t, gw)
	client := newClient(srv)
	api := gw.CreateRestAPI("guide")
	for _, id := range []string{"du4ot1", "a6rox0", "cifeiw"} {
		if _, err := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{"sv0": "val0", "sv1": "val1"}
	ctx := context.Background()

	// The guide deploys prod, then a canary deployment onto it; here the canary is set with UpdateStage
	// (its ids are fixed by the guide), then get-stage must print what the guide printed.
	if err := gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: "du4ot1", Variables: vars}); err != nil {
		t.Fatal(err)
	}
	c.Set(time.Unix(1511379433, 0))
	_, err := client.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: &api.ID, StageName: aws.String("prod"), PatchOperations: []types.PatchOperation{
		replace("/canarySettings/deploymentId", "a6rox0"), replace("/canarySettings/percentTraffic", "10.5"),
		replace("/canarySettings/stageVariableOverrides/sv1", "val2"), replace("/canarySettings/stageVariableOverrides/sv2", "val3"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, got := raw(t, "GET", srv+"/restapis/"+api.ID+"/stages/prod", "")
	sameJSON(t, filepath.Join(dir, "docs-get-stage-canary-10.5pct-epoch.json"), got)

	// "update-stage" attaching a canary to beta: the guide's answer, canary on the stage's deployment.
	c.Set(time.Unix(1511380879, 0))
	if err := gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "beta", DeploymentID: "cifeiw", Variables: vars}); err != nil {
		t.Fatal(err)
	}
	c.Set(time.Unix(1511381930, 0))
	body := `{"patchOperations":[{"op":"replace","path":"/canarySettings/percentTraffic","value":"10.5"},` +
		`{"op":"replace","path":"/canarySettings/useStageCache","value":"false"},` +
		`{"op":"replace","path":"/canarySettings/stageVariableOverrides/sv1","value":"val2"},` +
		`{"op":"replace","path":"/canarySettings/stageVariableOverrides/sv2","value":"val3"}]}`
	_, got = raw(t, "PATCH", srv+"/restapis/"+api.ID+"/stages/beta", body)
	sameJSON(t, filepath.Join(dir, "docs-update-stage-canary-same-deployment.json"), got)
}

func httpServer(t *testing.T, h http.Handler) string {
	t.Helper()
	url, stop, err := h.(*apigwlocal.Server).Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(context.Background()) })
	return url
}

// sameJSON compares an AWS sample with what this server sent: every key of the sample must be there
// with the same value; the only extra key allowed is tracingEnabled, which AWS added to Stage after
// the guide was written.
func sameJSON(t *testing.T, samplePath string, got map[string]any) {
	t.Helper()
	b, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if !jsonEqual(got[k], v) {
			t.Errorf("%s: %s = %#v, AWS says %#v", filepath.Base(samplePath), k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && k != "tracingEnabled" {
			t.Errorf("%s: extra key %s = %#v", filepath.Base(samplePath), k, got[k])
		}
	}
}

// jsonEqual compares decoded JSON, numbers by value (10.5 and 10.50 are the same number).
func jsonEqual(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		af, _ := an.Float64()
		bf, _ := bn.Float64()
		return af == bf
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		if len(am) != len(bm) {
			return false
		}
		for k := range am {
			if !jsonEqual(am[k], bm[k]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
