package reststage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/reststage"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/target"
)

const userFn = "arn:aws:lambda:us-east-1:123456789012:function:api-user-id"

// releaseStage adds a deployment with one method of every kind the check tells apart, and a stage
// "live" serving it.
func (f *fixture) releaseStage(t *testing.T) target.Target {
	t.Helper()
	d, err := f.gw.CreateDeployment(f.target.Resource, apigwlocal.DeploymentSpec{Description: "release", CreatedDate: base, Methods: []apigwlocal.Method{
		{Path: "/users/{id}", HTTPMethod: "GET", Integration: apigwlocal.LambdaProxy("us-east-1", userFn+":live")},
		{Path: "/users/{id}", HTTPMethod: "PUT", Integration: apigwlocal.LambdaProxy("us-east-1", userFn)},
		{Path: "/users", HTTPMethod: "POST", Integration: apigwlocal.Integration{Type: "AWS", URI: apigwlocal.LambdaURI("us-east-1", userFn+":7")}},
		{Path: "/legacy/{proxy+}", HTTPMethod: "ANY", Integration: apigwlocal.Integration{Type: "HTTP_PROXY", URI: "https://api-origin.luna.com/{proxy}"}},
		{Path: "/beta", HTTPMethod: "GET", Integration: apigwlocal.LambdaProxy("us-east-1", "arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return f.addStage(t, apigwlocal.StageSpec{Name: "live", DeploymentID: d.ID, Variables: map[string]string{"fn": "api-user-id"}})
}

func TestUnqualifiedLambdasOverTheWire(t *testing.T) {
	f := newFixture(t, 2)
	live := f.releaseStage(t)
	// One throttle on the way: the client's retryer takes it, as for every other call.
	f.gw.InjectFault("GetExport", apigwlocal.Fault{Status: 429})

	check, err := reststage.NewInspector(f.client).UnqualifiedLambdas(context.Background(), live)
	if err != nil {
		t.Fatal(err)
	}
	want := []reststage.LambdaRoute{{Method: "PUT", Path: "/users/{id}", FunctionARN: userFn, Function: "api-user-id"}}
	if !reflect.DeepEqual(check.Unqualified, want) {
		t.Errorf("unqualified = %+v, want %+v", check.Unqualified, want)
	}
	if len(check.Unqualified) == 1 && check.Unqualified[0].String() != "PUT /users/{id} -> api-user-id" {
		t.Errorf("String() = %q", check.Unqualified[0].String())
	}
	perStage := []reststage.LambdaRoute{{Method: "GET", Path: "/beta", FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}",
		Function: "${stageVariables.fn}", PerStage: true}}
	if !reflect.DeepEqual(check.PerStage, perStage) {
		t.Errorf("per stage = %+v, want %+v", check.PerStage, perStage)
	}
	if n, w := f.gw.CallCount("GetExport"), f.gw.Writes(); n != 2 || w != 0 {
		t.Errorf("%d GetExport calls (one throttled) and %d writes, want 2 and 0", n, w)
	}
}

// TestUnqualifiedLambdasReadsTheLiveDeployment: the answer is about what the stage serves now; a
// deployment without methods has nothing to report.
func TestUnqualifiedLambdasReadsTheLiveDeployment(t *testing.T) {
	f := newFixture(t, 2)
	live := f.releaseStage(t)
	in := reststage.NewInspector(f.client)
	f.setLive(t, live, f.deps[0].ID)
	check, err := in.UnqualifiedLambdas(context.Background(), live)
	if err != nil || check.Unqualified != nil || check.PerStage != nil {
		t.Errorf("on a deployment without methods: %+v, %v", check, err)
	}
}

func TestUnqualifiedLambdasNotFound(t *testing.T) {
	f := newFixture(t, 1)
	in := reststage.NewInspector(f.client)
	for _, tg := range []target.Target{
		{Kind: target.KindRESTStage, Resource: f.target.Resource, Slot: "gone"},
		{Kind: target.KindRESTStage, Resource: "nosuchapi1", Slot: "prod"},
	} {
		_, err := in.UnqualifiedLambdas(context.Background(), tg)
		if !errors.Is(err, rollback.ErrNotFound) || !strings.HasPrefix(err.Error(), "stage "+tg.String()+": get export: ") {
			t.Errorf("%s: %v, want stage %s: get export: ... wrapping rollback.ErrNotFound", tg, err, tg)
		}
	}
}

// exportFunc is an ExportAPI that answers with a fixed body.
type exportFunc func() (*apigateway.GetExportOutput, error)

func (f exportFunc) GetExport(context.Context, *apigateway.GetExportInput, ...func(*apigateway.Options)) (*apigateway.GetExportOutput, error) {
	return f()
}

func TestUnqualifiedLambdasRefusesAnExportItCannotRead(t *testing.T) {
	tg := target.Target{Kind: target.KindRESTStage, Resource: "a1b2c3d4e5", Slot: "prod"}
	for name, body := range map[string]string{
		"not JSON":             `<html>`,
		"not OpenAPI":          `{"message":"hello"}`,
		"no paths":             `{"openapi":"3.0.1"}`,
		"without integrations": `{"openapi":"3.0.1","paths":{"/users":{"get":{"responses":{}}}}}`,
		"a malformed method":   `{"swagger":"2.0","paths":{"/users":{"get":[]}}}`,
	} {
		in := reststage.NewInspector(exportFunc(func() (*apigateway.GetExportOutput, error) {
			return &apigateway.GetExportOutput{Body: []byte(body)}, nil
		}))
		_, err := in.UnqualifiedLambdas(context.Background(), tg)
		if err == nil || !strings.HasPrefix(err.Error(), "stage a1b2c3d4e5/prod: read export: ") {
			t.Errorf("%s: %v, want stage a1b2c3d4e5/prod: read export: ...", name, err)
		}
	}
}

// TestLambdaRoutesOfADocumentedExport: the parser over an OpenAPI 3.0 export in the shape AWS's
// developer guide shows (Jackson's " : " spacing, lower-case integration types, the ANY method as
// x-amazon-apigateway-any-method, models under components), written for this test.
func TestLambdaRoutesOfADocumentedExport(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "oas30-export-integrations.json"))
	if err != nil {
		t.Fatal(err)
	}
	routes, err := reststage.LambdaRoutes(body)
	if err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:lambda:us-east-1:123456789012:function:"
	want := []struct {
		route       reststage.LambdaRoute
		unqualified bool
		str         string
	}{
		{reststage.LambdaRoute{Method: "GET", Path: "/beta", FunctionARN: arn + "${stageVariables.fn}", Function: "${stageVariables.fn}", PerStage: true},
			false, "GET /beta -> ${stageVariables.fn}"},
		{reststage.LambdaRoute{Method: "ANY", Path: "/orders/{proxy+}", FunctionARN: arn + "api-orders:${stageVariables.alias}", Function: "api-orders",
			Qualifier: "${stageVariables.alias}", PerStage: true}, false, "ANY /orders/{proxy+} -> api-orders:${stageVariables.alias}"},
		{reststage.LambdaRoute{Method: "GET", Path: "/users", FunctionARN: arn + "api-users:live", Function: "api-users", Qualifier: "live"},
			false, "GET /users -> api-users:live"},
		{reststage.LambdaRoute{Method: "POST", Path: "/users", FunctionARN: arn + "api-users:7", Function: "api-users", Qualifier: "7"},
			false, "POST /users -> api-users:7"},
		{reststage.LambdaRoute{Method: "GET", Path: "/users/{id}", FunctionARN: arn + "api-user-id", Function: "api-user-id"},
			true, "GET /users/{id} -> api-user-id"},
		// $LATEST written out is still $LATEST.
		{reststage.LambdaRoute{Method: "PUT", Path: "/users/{id}", FunctionARN: arn + "api-user-id:$LATEST", Function: "api-user-id", Qualifier: "$LATEST"},
			true, "PUT /users/{id} -> api-user-id:$LATEST"},
	}
	if len(routes) != len(want) {
		t.Fatalf("%d routes, want %d (mock, HTTP proxy and S3 are not Lambda): %+v", len(routes), len(want), routes)
	}
	for i, w := range want {
		r := routes[i]
		if r != w.route || r.Unqualified() != w.unqualified || r.String() != w.str {
			t.Errorf("route %d = %+v (unqualified %v, %q), want %+v (%v, %q)", i, r, r.Unqualified(), r.String(), w.route, w.unqualified, w.str)
		}
	}
}

// TestLambdaRoutesFunctionForms: what an integration may name as its function, and the URIs that are
// not Lambda's.
func TestLambdaRoutesFunctionForms(t *testing.T) {
	for _, c := range []struct {
		uri, function, qualifier string
		perStage, lambda         bool
	}{
		{uri: "arn:aws-cn:apigateway:cn-north-1:lambda:path/2015-03-31/functions/arn:aws-cn:lambda:cn-north-1:123456789012:function:f:prod/invocations",
			function: "f", qualifier: "prod", lambda: true},
		{uri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/123456789012:function:f/invocations", function: "f", lambda: true},
		{uri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/f:3/invocations", function: "f", qualifier: "3", lambda: true},
		// A stage variable for the region leaves the name and qualifier to decide.
		{uri: "arn:aws:apigateway:${stageVariables.region}:lambda:path/2015-03-31/functions/arn:aws:lambda:${stageVariables.region}:123456789012:function:f/invocations",
			function: "f", lambda: true},
		{uri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${stageVariables.fnArn}/invocations",
			function: "${stageVariables.fnArn}", perStage: true, lambda: true},
		{uri: "arn:aws:apigateway:us-east-1:s3:path/bucket/{key}"},
		{uri: "arn:aws:apigateway:us-east-1:dynamodb:action/PutItem"},
		{uri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f"},
		{uri: "arn:aws:lambda:us-east-1:123456789012:function:f"},
	} {
		body := `{"openapi":"3.0.1","paths":{"/":{"get":{"x-amazon-apigateway-integration":{"type":"AWS_PROXY","uri":"` + c.uri + `"}}}}}`
		routes, err := reststage.LambdaRoutes([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", c.uri, err)
		}
		if !c.lambda {
			if len(routes) != 0 {
				t.Errorf("%s is not a Lambda integration, read as %+v", c.uri, routes)
			}
			continue
		}
		if len(routes) != 1 || routes[0].Function != c.function || routes[0].Qualifier != c.qualifier || routes[0].PerStage != c.perStage {
			t.Errorf("%s: %+v, want function %q qualifier %q per stage %v", c.uri, routes, c.function, c.qualifier, c.perStage)
		}
	}
}
