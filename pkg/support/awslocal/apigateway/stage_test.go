package apigateway_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

func TestGetStageReturnsEveryField(t *testing.T) {
	e := newEnv(t)
	e.clock.Advance(time.Hour)
	err := e.gw.CreateStage(e.api.ID, apigwlocal.StageSpec{
		Name:         "beta",
		DeploymentID: e.deps[0].ID,
		Description:  "beta stage",
		Variables:    map[string]string{"sv0": "val0", "sv1": "val1"},
		Canary:       &apigwlocal.Canary{DeploymentID: e.deps[2].ID, PercentTraffic: 10.5, StageVariableOverrides: map[string]string{"sv1": "val2"}, UseStageCache: true},
		Tags:         map[string]string{"team": "users"},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.client.GetStage(context.Background(), &apigateway.GetStageInput{RestApiId: &e.api.ID, StageName: aws.String("beta")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.StageName) != "beta" || aws.ToString(out.DeploymentId) != e.deps[0].ID || aws.ToString(out.Description) != "beta stage" {
		t.Errorf("stage = %s on %s (%q)", aws.ToString(out.StageName), aws.ToString(out.DeploymentId), aws.ToString(out.Description))
	}
	if !maps.Equal(out.Variables, map[string]string{"sv0": "val0", "sv1": "val1"}) || !maps.Equal(out.Tags, map[string]string{"team": "users"}) {
		t.Errorf("variables %v tags %v", out.Variables, out.Tags)
	}
	c := out.CanarySettings
	if c == nil {
		t.Fatal("no canarySettings")
	}
	if aws.ToString(c.DeploymentId) != e.deps[2].ID || c.PercentTraffic != 10.5 || !c.UseStageCache || !maps.Equal(c.StageVariableOverrides, map[string]string{"sv1": "val2"}) {
		t.Errorf("canary = %+v", *c)
	}
	want := t0.Add(time.Hour)
	if !aws.ToTime(out.CreatedDate).Equal(want) || !aws.ToTime(out.LastUpdatedDate).Equal(want) {
		t.Errorf("dates %v %v, want %v", out.CreatedDate, out.LastUpdatedDate, want)
	}
	if out.CacheClusterEnabled || out.TracingEnabled || out.MethodSettings == nil || out.CacheClusterStatus != types.CacheClusterStatusNotAvailable {
		t.Errorf("defaults: cache %v tracing %v methodSettings %v status %q", out.CacheClusterEnabled, out.TracingEnabled, out.MethodSettings, out.CacheClusterStatus)
	}
}

func TestStageSnapshotIsACopy(t *testing.T) {
	e := newEnv(t)
	st := e.stage(t, "prod")
	st.Variables["backend"] = "changed"
	if e.stage(t, "prod").Variables["backend"] != "lambda" {
		t.Error("changing a snapshot changed the store")
	}
}

func TestMissingThingsAreNotFound(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cases := []struct {
		name, api, stage, msg string
	}{
		{"unknown stage", e.api.ID, "gone", "Invalid stage identifier specified"},
		{"unknown API", "abc", "prod", "Invalid API identifier specified 123456789012:abc"},
		{"API id with other characters", "ab$cd", "prod", "Invalid API identifier specified 123456789012:ab$cd"},
		{"API id that walks up", "..", "prod", "Invalid API identifier specified 123456789012:.."},
		{"stage name with a slash", e.api.ID, "pr/od", "Invalid stage identifier specified"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.client.GetStage(ctx, &apigateway.GetStageInput{RestApiId: aws.String(c.api), StageName: aws.String(c.stage)})
			var nf *types.NotFoundException
			if !errors.As(err, &nf) {
				t.Fatalf("err = %v, want NotFoundException", err)
			}
			if aws.ToString(nf.Message) != c.msg {
				t.Errorf("message %q, want %q", aws.ToString(nf.Message), c.msg)
			}
		})
	}
	_, err := e.client.GetDeployment(ctx, &apigateway.GetDeploymentInput{RestApiId: &e.api.ID, DeploymentId: aws.String("nope12")})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) || aws.ToString(nf.Message) != "Invalid Deployment identifier specified" {
		t.Errorf("GetDeployment of a missing id: %v", err)
	}
}

func TestGetStagesListsEveryStage(t *testing.T) {
	e := newEnv(t)
	if err := e.gw.CreateStage(e.api.ID, apigwlocal.StageSpec{Name: "beta", DeploymentID: e.deps[2].ID}); err != nil {
		t.Fatal(err)
	}
	out, err := e.client.GetStages(context.Background(), &apigateway.GetStagesInput{RestApiId: &e.api.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Item) != 2 || aws.ToString(out.Item[0].StageName) != "beta" || aws.ToString(out.Item[1].StageName) != "prod" {
		t.Fatalf("stages = %+v", out.Item)
	}
	only, err := e.client.GetStages(context.Background(), &apigateway.GetStagesInput{RestApiId: &e.api.ID, DeploymentId: &e.deps[2].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(only.Item) != 1 || aws.ToString(only.Item[0].StageName) != "beta" {
		t.Errorf("stages on %s = %+v", e.deps[2].ID, only.Item)
	}
}

func TestCreateAndDeleteOverTheWire(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	api, err := e.client.CreateRestApi(ctx, &apigateway.CreateRestApiInput{Name: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if len(aws.ToString(api.Id)) != 10 || aws.ToString(api.Name) != "orders" {
		t.Fatalf("api = %s %s", aws.ToString(api.Id), aws.ToString(api.Name))
	}
	got, err := e.client.GetRestApi(ctx, &apigateway.GetRestApiInput{RestApiId: api.Id})
	if err != nil || aws.ToString(got.Name) != "orders" {
		t.Fatalf("GetRestApi: %v %v", got, err)
	}
	dep, err := e.client.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: api.Id, Description: aws.String("first")})
	if err != nil {
		t.Fatal(err)
	}
	if len(aws.ToString(dep.Id)) != 6 || aws.ToString(dep.Description) != "first" {
		t.Errorf("deployment = %s %q", aws.ToString(dep.Id), aws.ToString(dep.Description))
	}
	st, err := e.client.CreateStage(ctx, &apigateway.CreateStageInput{RestApiId: api.Id, StageName: aws.String("dev"), DeploymentId: dep.Id,
		Variables: map[string]string{"v": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(st.DeploymentId) != aws.ToString(dep.Id) || st.Variables["v"] != "1" {
		t.Errorf("stage = %+v", st)
	}
	_, err = e.client.CreateStage(ctx, &apigateway.CreateStageInput{RestApiId: api.Id, StageName: aws.String("dev"), DeploymentId: dep.Id})
	var conflict *types.ConflictException
	if !errors.As(err, &conflict) {
		t.Errorf("creating a stage twice: %v, want ConflictException", err)
	}
	_, err = e.client.CreateStage(ctx, &apigateway.CreateStageInput{RestApiId: api.Id, StageName: aws.String("qa"), DeploymentId: aws.String("nope12")})
	wantBadRequest(t, err, "Deployment id does not exist")

	if _, err := e.client.DeleteStage(ctx, &apigateway.DeleteStageInput{RestApiId: api.Id, StageName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.gw.Stage(aws.ToString(api.Id), "dev"); ok {
		t.Error("stage still there after DeleteStage")
	}
	if w := e.gw.Writes(); w != 4 {
		t.Errorf("writes = %d, want 4 (api, deployment, stage, delete)", w)
	}
}

func TestCreateDeploymentOnAStage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// A stage that does not exist yet is created on the new deployment.
	d1, err := e.client.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: &e.api.ID, StageName: aws.String("qa"), StageDescription: aws.String("qa stage"),
		Variables: map[string]string{"v": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.stage(t, "qa"); st.DeploymentID != aws.ToString(d1.Id) || st.Description != "qa stage" || st.Variables["v"] != "1" {
		t.Errorf("new stage = %+v", st)
	}

	// An existing stage moves to the new deployment.
	d2, err := e.client.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: &e.api.ID, StageName: aws.String("prod")})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.stage(t, "prod"); st.DeploymentID != aws.ToString(d2.Id) || st.Variables["backend"] != "lambda" {
		t.Errorf("prod after deploy = %+v", st)
	}

	// A canary deployment goes to the canary; the stage keeps its deployment.
	d3, err := e.client.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: &e.api.ID, StageName: aws.String("prod"),
		CanarySettings: &types.DeploymentCanarySettings{PercentTraffic: 10, StageVariableOverrides: map[string]string{"backend": "canary"}}})
	if err != nil {
		t.Fatal(err)
	}
	st := e.stage(t, "prod")
	if st.DeploymentID != aws.ToString(d2.Id) || st.Canary == nil || st.Canary.DeploymentID != aws.ToString(d3.Id) || st.Canary.PercentTraffic != 10 {
		t.Errorf("prod after canary deploy = %+v canary %+v", st, st.Canary)
	}

	// With a canary on, a plain deployment to the stage is refused (AWS's message).
	_, err = e.client.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: &e.api.ID, StageName: aws.String("prod")})
	wantBadRequest(t, err, "Invalid deployment content specified.Non canary deployment not supported on stage prod because Canary is enabled. Provide CanarySettings in deploymentInput.")

	// A canary deployment needs an existing stage.
	_, err = e.client.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: &e.api.ID, StageName: aws.String("nostage"),
		CanarySettings: &types.DeploymentCanarySettings{PercentTraffic: 5}})
	wantBadRequest(t, err, "Invalid deployment content specified.Stage nostage must already be created before making a canary release deployment")
	if _, ok := e.gw.Stage(e.api.ID, "nostage"); ok {
		t.Error("a refused canary deployment created a stage")
	}
}
