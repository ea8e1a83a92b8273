package apigateway_test

import (
	"context"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

func (e *env) update(stage string, ops ...types.PatchOperation) (*apigateway.UpdateStageOutput, error) {
	return e.client.UpdateStage(context.Background(), &apigateway.UpdateStageInput{RestApiId: &e.api.ID, StageName: aws.String(stage), PatchOperations: ops})
}

func TestUpdateStageSwitchesDeployment(t *testing.T) {
	e := newEnv(t)
	e.clock.Advance(time.Minute)
	out, err := e.update("prod", replace("/deploymentId", e.deps[0].ID), replace("/variables/rewind_last", "deploy:v2-v1"), replace("/description", "rolled back"))
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.DeploymentId) != e.deps[0].ID || out.Variables["rewind_last"] != "deploy:v2-v1" || aws.ToString(out.Description) != "rolled back" {
		t.Errorf("answer = %s %v %q", aws.ToString(out.DeploymentId), out.Variables, aws.ToString(out.Description))
	}
	st := e.stage(t, "prod")
	if st.DeploymentID != e.deps[0].ID || st.Variables["backend"] != "lambda" {
		t.Errorf("stage = %+v", st)
	}
	if !st.LastUpdatedDate.Equal(t0.Add(time.Minute)) || !aws.ToTime(out.LastUpdatedDate).Equal(st.LastUpdatedDate) {
		t.Errorf("lastUpdatedDate %v (wire %v), want %v", st.LastUpdatedDate, out.LastUpdatedDate, t0.Add(time.Minute))
	}
	if e.gw.Writes() != 1 {
		t.Errorf("writes = %d, want 1", e.gw.Writes())
	}
}

func TestLastUpdatedDateMovesOnEveryUpdate(t *testing.T) {
	e := newEnv(t) // the clock stands still
	var last time.Time
	for i := range 3 {
		out, err := e.update("prod", replace("/description", strings.Repeat("x", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		got := aws.ToTime(out.LastUpdatedDate)
		if !got.After(last) {
			t.Errorf("update %d: lastUpdatedDate %v not after %v", i, got, last)
		}
		last = got
	}
}

func TestUpdateStageToAMissingDeploymentChangesNothing(t *testing.T) {
	e := newEnv(t)
	before := e.stage(t, "prod")
	e.clock.Advance(time.Minute)
	_, err := e.update("prod", replace("/deploymentId", "nope12"))
	wantBadRequest(t, err, "Deployment id does not exist") // AWS's words
	if after := e.stage(t, "prod"); !reflect.DeepEqual(after, before) {
		t.Errorf("a refused update changed the stage:\n%+v\n%+v", before, after)
	}
	if e.gw.Writes() != 0 {
		t.Errorf("writes = %d, want 0", e.gw.Writes())
	}
}

func TestUpdateStageIsAllOrNothing(t *testing.T) {
	e := newEnv(t)
	before := e.stage(t, "prod")
	bad := []types.PatchOperation{
		replace("/variables/ok", "fine"),
		{Op: types.OpMove, Path: aws.String("/description"), From: aws.String("/deploymentId")},
		replace("/variables/bad", "no spaces"),
		replace("/canarySettings/percentTraffic", "101"),
		replace("/canarySettings/deploymentId", "nope12"),
		replace("/bogus", "x"),
		{Op: types.OpAdd, Path: aws.String("/canarySettings/deploymentId"), Value: aws.String(e.deps[0].ID)},
		{Op: types.OpCopy, Path: aws.String("/deploymentId"), From: aws.String("/canarySettings/deploymentId")}, // no canary
	}
	for i := 1; i < len(bad); i++ {
		ops := []types.PatchOperation{replace("/deploymentId", e.deps[2].ID), remove("/variables/backend"), bad[0], bad[i]}
		_, err := e.update("prod", ops...)
		wantBadRequest(t, err, "")
		if after := e.stage(t, "prod"); !reflect.DeepEqual(after, before) {
			t.Fatalf("ops %v half-applied: %+v", *ops[3].Path, after)
		}
	}
}

func TestUnknownPathsAndOpsNameThemselves(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		op   types.PatchOperation
		want string
	}{
		{replace("/bogus", "x"), "Invalid method setting path: /bogus."},
		{types.PatchOperation{Op: "frobnicate", Path: aws.String("/description"), Value: aws.String("x")}, `"frobnicate"`},
		{types.PatchOperation{Op: types.OpAdd, Path: aws.String("/canarySettings/deploymentId"), Value: aws.String(e.deps[0].ID)}, "Invalid add operation with path: /canarySettings/deploymentId"},
		{remove("/canarySettings/badPath"), "Cannot remove method setting canarySettings/badPath because there is no method setting for this method "},
		{replace("/*/*/logging/loglevel", "INFO"), "not implemented by apigwlocal"},
	} {
		_, err := e.update("prod", c.op)
		wantBadRequest(t, err, "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want it to say %q", c.op.Op, aws.ToString(c.op.Path), err, c.want)
		}
	}
}

func TestStageVariableCharset(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name, value string
		ok          bool
	}{
		{"url", "https://example.com/a?b=c&d=e,f#g~h", true},
		{"with_underscore9", "v-1.2_3", true},
		{"long", strings.Repeat("a", 512), true},
		{"toolong", strings.Repeat("a", 513), false},
		{"space", "a b", false},
		{"quote", `a"b`, false},
		{"plus", "a+b", false},
		{"percent", "a%20b", false},
		{"unicode", "café", false},
		{"has-dash", "v", false},
		{"has.dot", "v", false},
	} {
		_, err := e.update("prod", replace("/variables/"+c.name, c.value))
		if c.ok {
			if err != nil {
				t.Errorf("%s=%q refused: %v", c.name, c.value, err)
			} else if e.stage(t, "prod").Variables[c.name] != c.value {
				t.Errorf("%s not set", c.name)
			}
			continue
		}
		wantBadRequest(t, err, "")
		if err != nil && !strings.Contains(err.Error(), c.name) && !strings.Contains(err.Error(), c.value) {
			t.Errorf("%s=%q: message does not name it: %v", c.name, c.value, err)
		}
	}
	// AWS's own message, double space included.
	_, err := e.update("prod", replace("/variables/owner:app", "x"))
	wantBadRequest(t, err, "Invalid stage variable name: owner:app.  Please use names with only word characters.")
	// Removing a variable the stage does not have is not an error (a retried call does exactly that).
	if _, err := e.update("prod", remove("/variables/never_set")); err != nil {
		t.Errorf("removing a missing variable: %v", err)
	}
	if _, err := e.update("prod", remove("/variables/backend")); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.stage(t, "prod").Variables["backend"]; ok {
		t.Error("variable not removed")
	}
}

func (e *env) canaryStage(t *testing.T) {
	t.Helper()
	err := e.gw.CreateStage(e.api.ID, apigwlocal.StageSpec{Name: "canaried", DeploymentID: e.deps[1].ID, Variables: map[string]string{"sv1": "val1"},
		Canary: &apigwlocal.Canary{DeploymentID: e.deps[2].ID, PercentTraffic: 10.5, StageVariableOverrides: map[string]string{"sv1": "val2", "sv2": "val3"}}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRemoveCanary(t *testing.T) {
	e := newEnv(t)
	e.canaryStage(t)
	out, err := e.update("canaried", remove("/canarySettings"), replace("/deploymentId", e.deps[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	if out.CanarySettings != nil || aws.ToString(out.DeploymentId) != e.deps[0].ID {
		t.Errorf("answer: canary %+v on %s", out.CanarySettings, aws.ToString(out.DeploymentId))
	}
	if st := e.stage(t, "canaried"); st.Canary != nil {
		t.Errorf("canary still there: %+v", st.Canary)
	}
	// Again, as a retry after a lost response would: removing no canary is not an error.
	if _, err := e.update("canaried", remove("/canarySettings"), replace("/deploymentId", e.deps[0].ID)); err != nil {
		t.Errorf("replayed removal: %v", err)
	}
}

// Replacing /deploymentId leaves the canary as it is (see the comment on updateStage for the sources).
func TestReplacingDeploymentKeepsTheCanary(t *testing.T) {
	e := newEnv(t)
	e.canaryStage(t)
	if _, err := e.update("canaried", replace("/deploymentId", e.deps[0].ID)); err != nil {
		t.Fatal(err)
	}
	st := e.stage(t, "canaried")
	if st.DeploymentID != e.deps[0].ID || st.Canary == nil || st.Canary.DeploymentID != e.deps[2].ID || st.Canary.PercentTraffic != 10.5 {
		t.Errorf("stage %s canary %+v", st.DeploymentID, st.Canary)
	}
}

// The developer guide's promotion, done with copy operations.
func TestPromoteCanary(t *testing.T) {
	e := newEnv(t)
	e.canaryStage(t)
	_, err := e.update("canaried",
		types.PatchOperation{Op: types.OpCopy, Path: aws.String("/deploymentId"), From: aws.String("/canarySettings/deploymentId")},
		replace("/canarySettings/percentTraffic", "0.0"),
		types.PatchOperation{Op: types.OpCopy, Path: aws.String("/variables"), From: aws.String("/canarySettings/stageVariableOverrides")},
	)
	if err != nil {
		t.Fatal(err)
	}
	st := e.stage(t, "canaried")
	if st.DeploymentID != e.deps[2].ID || st.Canary == nil || st.Canary.PercentTraffic != 0 || st.Canary.DeploymentID != e.deps[2].ID {
		t.Errorf("after promotion: %s, canary %+v", st.DeploymentID, st.Canary)
	}
	if !maps.Equal(st.Variables, map[string]string{"sv1": "val2", "sv2": "val3"}) {
		t.Errorf("variables %v", st.Variables)
	}
	_, err = e.update("prod", types.PatchOperation{Op: types.OpCopy, Path: aws.String("/deploymentId"), From: aws.String("/canarySettings/deploymentId")})
	wantBadRequest(t, err, "Promotion not available. Canary does not exist.")
	_, err = e.update("canaried", types.PatchOperation{Op: types.OpCopy, Path: aws.String("/canarySettings/deploymentId"), From: aws.String("/deploymentId")})
	wantBadRequest(t, err, "Invalid copy operation with path: /canarySettings/deploymentId and from /deploymentId. Valid copy:path are [/deploymentId, /variables] and valid copy:from are [/canarySettings/deploymentId, /canarySettings/stageVariableOverrides]")
}

// Writing a canary field on a stage without a canary starts one on the stage's deployment at 0%.
func TestCanaryFieldCreatesCanary(t *testing.T) {
	e := newEnv(t)
	if _, err := e.update("prod", replace("/canarySettings/stageVariableOverrides/backend", "canary")); err != nil {
		t.Fatal(err)
	}
	st := e.stage(t, "prod")
	if st.Canary == nil || st.Canary.DeploymentID != e.deps[1].ID || st.Canary.PercentTraffic != 0 || st.Canary.StageVariableOverrides["backend"] != "canary" {
		t.Fatalf("canary %+v", st.Canary)
	}
	if _, err := e.update("prod", replace("/canarySettings/deploymentId", e.deps[2].ID), replace("/canarySettings/percentTraffic", "25"),
		replace("/canarySettings/useStageCache", "true"), remove("/canarySettings/stageVariableOverrides/backend")); err != nil {
		t.Fatal(err)
	}
	c := e.stage(t, "prod").Canary
	if c.DeploymentID != e.deps[2].ID || c.PercentTraffic != 25 || !c.UseStageCache || len(c.StageVariableOverrides) != 0 {
		t.Errorf("canary %+v", c)
	}
	for _, v := range []string{"-1", "100.5", "NaN", "ten"} {
		_, err := e.update("prod", replace("/canarySettings/percentTraffic", v))
		wantBadRequest(t, err, "")
	}
}

func TestSetDeploymentIDIsOutOfBand(t *testing.T) {
	e := newEnv(t)
	e.gw.InjectFault(apigwlocal.AnyOperation, apigwlocal.Fault{Status: 500})
	e.clock.Advance(time.Hour)
	if err := e.gw.SetDeploymentID(e.api.ID, "prod", e.deps[2].ID); err != nil {
		t.Fatal(err)
	}
	st := e.stage(t, "prod")
	if st.DeploymentID != e.deps[2].ID || !st.LastUpdatedDate.Equal(t0.Add(time.Hour)) {
		t.Errorf("stage %+v", st)
	}
	if e.gw.Writes() != 0 || len(e.gw.Calls()) != 0 {
		t.Errorf("writes %d calls %v: the console is not a control-plane caller", e.gw.Writes(), e.gw.Calls())
	}
	if err := e.gw.SetDeploymentID(e.api.ID, "prod", "nope12"); err == nil {
		t.Error("switching to a missing deployment succeeded")
	}
	if err := e.gw.SetDeploymentID(e.api.ID, "gone", e.deps[0].ID); err == nil {
		t.Error("switching a missing stage succeeded")
	}
}
