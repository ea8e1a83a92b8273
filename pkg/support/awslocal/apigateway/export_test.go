package apigateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"go.yaml.in/yaml/v3"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

const fnARN = "arn:aws:lambda:us-east-1:123456789012:function:"

// releaseMethods is an API with one method of every kind the check has to tell apart.
var releaseMethods = []apigwlocal.Method{
	{Path: "/users/{id}", HTTPMethod: "GET", Integration: apigwlocal.LambdaProxy("us-east-1", fnARN+"api-user-id:live")},
	{Path: "/users/{id}", HTTPMethod: "PUT", Integration: apigwlocal.LambdaProxy("us-east-1", fnARN+"api-user-id")},
	{Path: "/users", HTTPMethod: "POST", Integration: apigwlocal.Integration{Type: "AWS", URI: apigwlocal.LambdaURI("us-east-1", fnARN+"api-user-id:7")}},
	{Path: "/legacy/{proxy+}", HTTPMethod: "ANY", Integration: apigwlocal.Integration{Type: "HTTP_PROXY", URI: "https://api-origin.luna.com/{proxy}"}},
	{Path: "/beta", HTTPMethod: "GET", Integration: apigwlocal.LambdaProxy("us-east-1", fnARN+"${stageVariables.fn}")},
	{Path: "/", HTTPMethod: "OPTIONS", Integration: apigwlocal.Integration{Type: "MOCK"}},
}

// releaseStage adds a deployment with releaseMethods and a stage "live" on it.
func (e *env) releaseStage(t *testing.T) apigwlocal.Deployment {
	t.Helper()
	d, err := e.gw.CreateDeployment(e.api.ID, apigwlocal.DeploymentSpec{Description: "release", CreatedDate: t0, Methods: releaseMethods})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.gw.CreateStage(e.api.ID, apigwlocal.StageSpec{Name: "live", DeploymentID: d.ID}); err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) export(t *testing.T, stage, kind string, params map[string]string) (*apigateway.GetExportOutput, map[string]any) {
	t.Helper()
	out, err := e.client.GetExport(context.Background(), &apigateway.GetExportInput{RestApiId: &e.api.ID, StageName: &stage,
		ExportType: &kind, Parameters: params, Accepts: aws.String("application/json")})
	if err != nil {
		t.Fatalf("GetExport %s %s: %v", stage, kind, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Body, &doc); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, out.Body)
	}
	return out, doc
}

// at walks a decoded JSON document by object keys and array indexes ("0").
func at(doc any, keys ...string) any {
	for _, k := range keys {
		switch v := doc.(type) {
		case map[string]any:
			doc = v[k]
		case []any:
			i := int(k[0] - '0')
			if len(k) != 1 || i >= len(v) {
				return nil
			}
			doc = v[i]
		default:
			return nil
		}
	}
	return doc
}

func TestGetExportOAS30WithIntegrations(t *testing.T) {
	e := newEnv(t)
	e.releaseStage(t)
	out, doc := e.export(t, "live", "oas30", map[string]string{"extensions": "integrations"})
	if aws.ToString(out.ContentType) != "application/json" || !strings.HasPrefix(aws.ToString(out.ContentDisposition), "attachment; filename=") {
		t.Errorf("headers: Content-Type %q, Content-Disposition %q", aws.ToString(out.ContentType), aws.ToString(out.ContentDisposition))
	}
	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"openapi"}, "3.0.1"},
		{[]string{"info", "title"}, "users"},
		{[]string{"info", "version"}, "2026-03-01T12:00:00Z"},
		{[]string{"servers", "0", "url"}, "https://" + e.api.ID + ".execute-api.us-east-1.amazonaws.com/{basePath}"},
		{[]string{"servers", "0", "variables", "basePath", "default"}, "/live"},
		{[]string{"paths", "/users/{id}", "get", "parameters"}, []any{map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}}}},
		{[]string{"paths", "/users/{id}", "get", "responses"}, map[string]any{}},
		{[]string{"paths", "/users/{id}", "get", "x-amazon-apigateway-integration"}, map[string]any{"type": "aws_proxy", "httpMethod": "POST",
			"uri":                 "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnARN + "api-user-id:live/invocations",
			"passthroughBehavior": "when_no_match"}},
		{[]string{"paths", "/users/{id}", "put", "x-amazon-apigateway-integration", "uri"},
			"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnARN + "api-user-id/invocations"},
		{[]string{"paths", "/users", "post", "x-amazon-apigateway-integration", "type"}, "aws"},
		{[]string{"paths", "/legacy/{proxy+}", "x-amazon-apigateway-any-method", "parameters", "0", "name"}, "proxy"},
		{[]string{"paths", "/legacy/{proxy+}", "x-amazon-apigateway-any-method", "x-amazon-apigateway-integration"}, map[string]any{
			"type": "http_proxy", "httpMethod": "ANY", "uri": "https://api-origin.luna.com/{proxy}", "passthroughBehavior": "when_no_match"}},
		// The stage variable is the deployment's, unresolved: the export describes the deployment.
		{[]string{"paths", "/beta", "get", "x-amazon-apigateway-integration", "uri"},
			"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnARN + "${stageVariables.fn}/invocations"},
		{[]string{"paths", "/", "options", "x-amazon-apigateway-integration"}, map[string]any{"type": "mock", "passthroughBehavior": "when_no_match"}},
	} {
		if got := at(doc, c.path...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %#v, want %#v", strings.Join(c.path, "."), got, c.want)
		}
	}
	if paths, _ := doc["paths"].(map[string]any); len(paths) != 5 {
		t.Errorf("%d paths, want 5: %v", len(paths), paths)
	}
	if n := e.gw.CallCount("GetExport"); n != 1 || e.gw.Writes() != 0 {
		t.Errorf("%d GetExport calls and %d writes, want 1 and 0", n, e.gw.Writes())
	}
}

func TestGetExportWithoutExtensionsHasNoIntegrations(t *testing.T) {
	e := newEnv(t)
	e.releaseStage(t)
	for _, params := range []map[string]string{nil, {"extensions": "authorizers"}, {"extensions": "postman"}} {
		out, doc := e.export(t, "live", "oas30", params)
		if strings.Contains(string(out.Body), "x-amazon-apigateway-integration") {
			t.Errorf("parameters %v: integrations exported:\n%s", params, out.Body)
		}
		if at(doc, "paths", "/users/{id}", "put", "responses") == nil {
			t.Errorf("parameters %v: the methods are missing:\n%s", params, out.Body)
		}
	}
	// "apigateway" asks for every API Gateway extension, integrations among them.
	if _, doc := e.export(t, "live", "oas30", map[string]string{"extensions": "apigateway"}); at(doc, "paths", "/users", "post", "x-amazon-apigateway-integration") == nil {
		t.Error("extensions=apigateway exported no integration")
	}
}

func TestGetExportSwagger(t *testing.T) {
	e := newEnv(t)
	e.releaseStage(t)
	_, doc := e.export(t, "live", "swagger", map[string]string{"extensions": "integrations"})
	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"swagger"}, "2.0"},
		{[]string{"host"}, e.api.ID + ".execute-api.us-east-1.amazonaws.com"},
		{[]string{"basePath"}, "/live"},
		{[]string{"schemes"}, []any{"https"}},
		{[]string{"paths", "/users/{id}", "get", "parameters"}, []any{map[string]any{"name": "id", "in": "path", "required": true, "type": "string"}}},
		{[]string{"paths", "/users/{id}", "put", "x-amazon-apigateway-integration", "type"}, "aws_proxy"},
	} {
		if got := at(doc, c.path...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %#v, want %#v", strings.Join(c.path, "."), got, c.want)
		}
	}
	for _, absent := range []string{"openapi", "servers"} {
		if _, ok := doc[absent]; ok {
			t.Errorf("a Swagger 2.0 export has %s", absent)
		}
	}
}

// TestGetExportFollowsTheLiveDeployment: the export is of the deployment the stage serves now, never
// its canary's, and a deployment keeps the methods it was made with.
func TestGetExportFollowsTheLiveDeployment(t *testing.T) {
	e := newEnv(t)
	release := e.releaseStage(t)
	fixed, err := e.gw.CreateDeployment(e.api.ID, apigwlocal.DeploymentSpec{Methods: []apigwlocal.Method{
		{Path: "/users/{id}", HTTPMethod: "PUT", Integration: apigwlocal.LambdaProxy("us-east-1", fnARN+"api-user-id:live")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	uri := func(doc map[string]any) any {
		return at(doc, "paths", "/users/{id}", "put", "x-amazon-apigateway-integration", "uri")
	}
	ext := map[string]string{"extensions": "integrations"}

	if err := e.gw.SetDeploymentID(e.api.ID, "live", fixed.ID); err != nil {
		t.Fatal(err)
	}
	if _, doc := e.export(t, "live", "oas30", ext); !strings.Contains(uri(doc).(string), "api-user-id:live/") || len(doc["paths"].(map[string]any)) != 1 {
		t.Errorf("after the switch the export is not the new deployment's: %v", doc["paths"])
	}

	// A canary on the old deployment changes nothing: the stage's own deployment is exported.
	if _, err := e.client.UpdateStage(context.Background(), &apigateway.UpdateStageInput{RestApiId: &e.api.ID, StageName: aws.String("live"),
		PatchOperations: []types.PatchOperation{replace("/canarySettings/deploymentId", release.ID), replace("/canarySettings/percentTraffic", "50")}}); err != nil {
		t.Fatal(err)
	}
	if _, doc := e.export(t, "live", "oas30", ext); len(doc["paths"].(map[string]any)) != 1 {
		t.Errorf("the canary's deployment was exported: %v", doc["paths"])
	}

	// A deployment without methods exports an empty API.
	if _, doc := e.export(t, "prod", "oas30", ext); !reflect.DeepEqual(doc["paths"], map[string]any{}) {
		t.Errorf("paths of a deployment without methods: %v", doc["paths"])
	}
}

// TestWireDeploymentSnapshotsTheAPIsMethods: CreateDeployment over the wire takes the API's current
// methods; SetMethods afterwards changes the next deployment, not that one.
func TestWireDeploymentSnapshotsTheAPIsMethods(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v1 := []apigwlocal.Method{{Path: "/users/{id}", HTTPMethod: "GET", Integration: apigwlocal.LambdaProxy("us-east-1", fnARN+"api-user-id")}}
	if err := e.gw.SetMethods(e.api.ID, v1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: &e.api.ID, StageName: aws.String("wire")}); err != nil {
		t.Fatal(err)
	}
	v1[0].Path = "/changed" // the caller's slice is not kept
	if err := e.gw.SetMethods(e.api.ID, []apigwlocal.Method{{Path: "/other", HTTPMethod: "GET", Integration: apigwlocal.Integration{Type: "MOCK"}}}); err != nil {
		t.Fatal(err)
	}
	_, doc := e.export(t, "wire", "oas30", map[string]string{"extensions": "integrations"})
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) != 1 || at(doc, "paths", "/users/{id}", "get", "x-amazon-apigateway-integration", "type") != "aws_proxy" {
		t.Errorf("the wire deployment's export: %v", paths)
	}
	if err := e.gw.SetMethods("nosuchapi1", nil); err == nil {
		t.Error("SetMethods on a missing API succeeded")
	}
}

func TestMethodsAreValidated(t *testing.T) {
	e := newEnv(t)
	lambda := apigwlocal.LambdaProxy("us-east-1", fnARN+"f")
	for _, c := range []struct {
		name    string
		methods []apigwlocal.Method
	}{
		{"no leading slash", []apigwlocal.Method{{Path: "users", HTTPMethod: "GET", Integration: lambda}}},
		{"trailing slash", []apigwlocal.Method{{Path: "/users/", HTTPMethod: "GET", Integration: lambda}}},
		{"empty part", []apigwlocal.Method{{Path: "/a//b", HTTPMethod: "GET", Integration: lambda}}},
		{"greedy not last", []apigwlocal.Method{{Path: "/{proxy+}/x", HTTPMethod: "GET", Integration: lambda}}},
		{"unclosed parameter", []apigwlocal.Method{{Path: "/{id", HTTPMethod: "GET", Integration: lambda}}},
		{"lower-case method", []apigwlocal.Method{{Path: "/", HTTPMethod: "get", Integration: lambda}}},
		{"unknown type", []apigwlocal.Method{{Path: "/", HTTPMethod: "GET", Integration: apigwlocal.Integration{Type: "LAMBDA", URI: "x"}}}},
		{"no uri", []apigwlocal.Method{{Path: "/", HTTPMethod: "GET", Integration: apigwlocal.Integration{Type: "HTTP_PROXY"}}}},
		{"twice", []apigwlocal.Method{{Path: "/", HTTPMethod: "GET", Integration: lambda}, {Path: "/", HTTPMethod: "GET", Integration: lambda}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.gw.CreateDeployment(e.api.ID, apigwlocal.DeploymentSpec{Methods: c.methods})
			var apiErr *apigwlocal.Error
			if !errors.As(err, &apiErr) || apiErr.Status/100 != 4 {
				t.Errorf("CreateDeployment: %v, want a 4xx *Error", err)
			}
			if err := e.gw.SetMethods(e.api.ID, c.methods); err == nil {
				t.Error("SetMethods accepted them")
			}
		})
	}
}

func TestGetExportNotFound(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ api, stage, msg string }{
		{e.api.ID, "gone", "Invalid stage identifier specified"},
		{"nosuchapi1", "prod", "Invalid API identifier specified 123456789012:nosuchapi1"},
	} {
		_, err := e.client.GetExport(context.Background(), &apigateway.GetExportInput{RestApiId: aws.String(c.api), StageName: aws.String(c.stage), ExportType: aws.String("oas30")})
		var nf *types.NotFoundException
		if !errors.As(err, &nf) || aws.ToString(nf.Message) != c.msg {
			t.Errorf("%s/%s: %v, want NotFoundException: %s", c.api, c.stage, err, c.msg)
		}
	}
}

func TestGetExportTakesFaults(t *testing.T) {
	e := newEnv(t)
	e.gw.InjectFault("GetExport", apigwlocal.Fault{Status: 429})
	_, err := e.client.GetExport(context.Background(), &apigateway.GetExportInput{RestApiId: &e.api.ID, StageName: aws.String("prod"), ExportType: aws.String("oas30")})
	var tooMany *types.TooManyRequestsException
	if !errors.As(err, &tooMany) {
		t.Fatalf("err = %v, want TooManyRequestsException", err)
	}
	if calls := e.gw.Calls(); len(calls) != 1 || calls[0].Op != "GetExport" || calls[0].Status != 429 || calls[0].Fault != "status=429" {
		t.Errorf("calls = %+v", calls)
	}
}

// rawExport is GetExport over plain HTTP, with the Accept header the SDK would not let through.
func rawExport(t *testing.T, url, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
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
	return resp, b
}

func TestGetExportFormats(t *testing.T) {
	e := newEnv(t)
	e.releaseStage(t)
	base := e.srv.URL + "/restapis/" + e.api.ID + "/stages/live/exports/"

	_, jsonBody := rawExport(t, base+"oas30?extensions=integrations", "application/json")
	var fromJSON map[string]any
	if err := json.Unmarshal(jsonBody, &fromJSON); err != nil {
		t.Fatal(err)
	}
	resp, yamlBody := rawExport(t, base+"oas30?extensions=integrations", "application/yaml")
	var fromYAML map[string]any
	if err := yaml.Unmarshal(yamlBody, &fromYAML); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, yamlBody)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" || !strings.HasSuffix(resp.Header.Get("Content-Disposition"), `.yaml"`) {
		t.Errorf("YAML export: %d %v", resp.StatusCode, resp.Header)
	}
	if strings.HasPrefix(string(yamlBody), "{") || !strings.Contains(string(yamlBody), "openapi: 3.0.1\n") {
		t.Errorf("YAML export is not in block style:\n%s", yamlBody)
	}
	if !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Errorf("YAML and JSON exports differ:\n%s\n%s", jsonBody, yamlBody)
	}

	for _, accept := range []string{"", "*/*", "text/html, application/json;q=0.9"} {
		if resp, _ := rawExport(t, base+"swagger", accept); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Accept %q: %d %s", accept, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	for _, c := range []struct{ url, accept string }{
		{base + "oas30", "text/html"},
		{base + "postman", "application/json"},
		{base + "OAS30", "application/json"},
	} {
		resp, body := rawExport(t, c.url, c.accept)
		if resp.StatusCode != 400 || resp.Header.Get("x-amzn-ErrorType") != "BadRequestException" || !strings.Contains(string(body), `"message"`) {
			t.Errorf("%s (Accept %s): %d %v %s", c.url, c.accept, resp.StatusCode, resp.Header, body)
		}
	}

	// The Go SDK sets Accept: application/json on every API Gateway request, Accepts or not.
	out, err := e.client.GetExport(context.Background(), &apigateway.GetExportInput{RestApiId: &e.api.ID, StageName: aws.String("live"),
		ExportType: aws.String("oas30"), Accepts: aws.String("application/yaml")})
	if err != nil || aws.ToString(out.ContentType) != "application/json" {
		t.Errorf("SDK with Accepts yaml: %v, Content-Type %q", err, aws.ToString(out.ContentType))
	}
}
