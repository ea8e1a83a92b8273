package reststage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/rewind-sre/rewind/pkg/target"
)

// This file answers one question of the check command: does a stage's live deployment invoke a
// Lambda function unqualified? A deployment that calls "function:api-user-id" runs whatever code
// $LATEST holds when the request arrives, so moving the stage to an older deployment does not take
// that code back; one that calls "function:api-user-id:live" (an alias) or ":7" (a version) pins it
// in the deployment, and a stage rollback does undo a release there.
//
// It reads the stage's export, GetExport with exportType oas30 and extensions=integrations (API
// reference, GetExport: "extensions='integrations' or extensions='apigateway' will export the API
// with x-amazon-apigateway-integration extensions"), which is one call however many methods the API
// has, and is of the deployment the stage serves (the canary's deployment, if any, is not in it).
// Each OpenAPI operation then carries its x-amazon-apigateway-integration object (developer guide:
// "an extended property of the OpenAPI Operation object"), whose type is aws_proxy or aws for a
// Lambda function and whose uri is then
// arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations (developer
// guide, Lambda integrations; "Set up a proxy resource with Lambda proxy integration" shows an export
// with one). The ANY method is the operation x-amazon-apigateway-any-method. A stage variable may
// stand for the function name or its alias/version (developer guide, stage variables reference:
// "function:${stageVariables.<function_variable_name>}" and
// "function:<function_name>:${stageVariables.<version_variable_name>}"); the export keeps it as
// written, so what it resolves to is per stage and is reported as not checked.

// ExportAPI is the part of the API Gateway client the Inspector uses.
type ExportAPI interface {
	GetExport(ctx context.Context, in *apigateway.GetExportInput, optFns ...func(*apigateway.Options)) (*apigateway.GetExportOutput, error)
}

var _ ExportAPI = (*apigateway.Client)(nil)

// Inspector reads what a REST stage's live deployment calls.
type Inspector struct{ api ExportAPI }

// NewInspector returns an inspector over an API Gateway client.
func NewInspector(api ExportAPI) *Inspector { return &Inspector{api: api} }

// LambdaRoute is one method of a deployment whose integration invokes a Lambda function.
type LambdaRoute struct {
	// Method is the HTTP method, "ANY" for x-amazon-apigateway-any-method.
	Method string
	// Path is the resource path, "/users/{id}".
	Path string
	// FunctionARN is the function as the integration URI names it, qualifier included: normally a
	// function ARN, "arn:aws:lambda:us-east-1:123456789012:function:api-user-id:live".
	FunctionARN string
	// Function is the function's name, "api-user-id".
	Function string
	// Qualifier is the alias or version after the name, "live" or "7"; empty when there is none.
	Qualifier string
	// PerStage is set when a stage variable stands for the function or its qualifier: what is
	// invoked is resolved per stage at request time, and is not checked.
	PerStage bool
}

// String is "METHOD /path -> function[:qualifier]", as a warning names the method.
func (r LambdaRoute) String() string {
	fn := r.Function
	if r.Qualifier != "" {
		fn += ":" + r.Qualifier
	}
	return r.Method + " " + r.Path + " -> " + fn
}

// Unqualified reports whether the route invokes the function's $LATEST: no alias or version, or
// "$LATEST" written out, with nothing left to a stage variable.
func (r LambdaRoute) Unqualified() bool {
	return !r.PerStage && (r.Qualifier == "" || r.Qualifier == "$LATEST")
}

// LambdaCheck is what UnqualifiedLambdas found on a stage's live deployment.
type LambdaCheck struct {
	// Unqualified invoke $LATEST: a stage rollback cannot undo a code change there.
	Unqualified []LambdaRoute
	// PerStage leave the function or its qualifier to a stage variable: resolved per stage, not checked.
	PerStage []LambdaRoute
}

// UnqualifiedLambdas reads the export of t's live deployment and reports its Lambda integrations
// that invoke a function unqualified, and apart from them those a stage variable decides. Errors name
// the stage and the operation; a missing API or stage wraps rollback.ErrNotFound.
func (i *Inspector) UnqualifiedLambdas(ctx context.Context, t target.Target) (LambdaCheck, error) {
	out, err := i.api.GetExport(ctx, &apigateway.GetExportInput{
		RestApiId:  aws.String(t.Resource),
		StageName:  aws.String(t.Slot),
		ExportType: aws.String("oas30"),
		Parameters: map[string]string{"extensions": "integrations"},
		Accepts:    aws.String("application/json"),
	})
	if err != nil {
		return LambdaCheck{}, fmt.Errorf("stage %s: get export: %w", t, classify(err))
	}
	routes, err := LambdaRoutes(out.Body)
	if err != nil {
		return LambdaCheck{}, fmt.Errorf("stage %s: read export: %w", t, err)
	}
	var check LambdaCheck
	for _, r := range routes {
		switch {
		case r.PerStage:
			check.PerStage = append(check.PerStage, r)
		case r.Unqualified():
			check.Unqualified = append(check.Unqualified, r)
		}
	}
	return check, nil
}

// operationKeys are the keys of an OpenAPI path item that are operations, and their HTTP methods.
var operationKeys = map[string]string{
	"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE", "options": "OPTIONS", "head": "HEAD",
	"patch": "PATCH", "trace": "TRACE", "x-amazon-apigateway-any-method": "ANY",
}

// exportDoc is as much of an OpenAPI 3.0 or Swagger 2.0 document as is read: the version and, for
// each path, its items undecoded, since a path item holds more than operations ("parameters",
// "summary", "x-..." extensions).
type exportDoc struct {
	OpenAPI string                                `json:"openapi"`
	Swagger string                                `json:"swagger"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

type exportOperation struct {
	Integration *struct {
		Type string `json:"type"`
		URI  string `json:"uri"`
	} `json:"x-amazon-apigateway-integration"`
}

// errNoIntegration marks an export with an operation but no x-amazon-apigateway-integration: API
// Gateway deploys no method without an integration, so the export was made without
// extensions=integrations, and what the methods call cannot be told from it.
var errNoIntegration = errors.New("has no x-amazon-apigateway-integration (was the export asked for with extensions=integrations?)")

// LambdaRoutes reads every Lambda integration of an API Gateway export, OpenAPI 3.0 or Swagger 2.0 in
// JSON with x-amazon-apigateway-integration extensions, sorted by path, then method. Integrations of
// other types, and AWS integrations of other services, are not Lambda routes and are left out.
func LambdaRoutes(export []byte) ([]LambdaRoute, error) {
	var doc exportDoc
	if err := json.Unmarshal(export, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON export: %w", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") && doc.Swagger != "2.0" {
		return nil, errors.New(`not an OpenAPI 3.0 or Swagger 2.0 export: no "openapi": "3.x" or "swagger": "2.0"`)
	}
	if doc.Paths == nil {
		return nil, errors.New(`not an OpenAPI export: no "paths"`)
	}
	var routes []LambdaRoute
	for path, item := range doc.Paths {
		for key, raw := range item {
			method, ok := operationKeys[key]
			if !ok {
				continue
			}
			var op exportOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			if op.Integration == nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, errNoIntegration)
			}
			switch strings.ToUpper(op.Integration.Type) {
			case "AWS_PROXY", "AWS":
			default:
				continue
			}
			fn, ok := lambdaFunction(op.Integration.URI)
			if !ok {
				continue
			}
			r := parseFunction(fn)
			r.Method, r.Path = method, path
			routes = append(routes, r)
		}
	}
	slices.SortFunc(routes, func(a, b LambdaRoute) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	return routes, nil
}

// lambdaFunction returns the function an integration URI invokes, if it is a Lambda one:
// arn:{partition}:apigateway:{region}:lambda:path/{api version}/functions/{function}/invocations.
func lambdaFunction(uri string) (string, bool) {
	parts := strings.SplitN(uri, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "apigateway" || parts[4] != "lambda" {
		return "", false
	}
	path, ok := strings.CutPrefix(parts[5], "path/")
	if !ok {
		return "", false
	}
	_, fn, ok := strings.Cut(path, "/functions/")
	if !ok {
		return "", false
	}
	fn, ok = strings.CutSuffix(fn, "/invocations")
	return fn, ok && fn != ""
}

// parseFunction splits what an integration invokes into name and qualifier. It is a function ARN,
// arn:{partition}:lambda:{region}:{account}:function:{name}[:{qualifier}], or a partial one
// ({account}:function:{name}[:{qualifier}]), or a name[:qualifier] as Lambda's Invoke also takes.
// A stage variable in the name or the qualifier makes the route per stage; one in the region or
// account leaves the name and qualifier as written, which decide.
func parseFunction(fn string) LambdaRoute {
	r := LambdaRoute{FunctionARN: fn}
	rest := fn
	if i := strings.Index(fn, ":function:"); i >= 0 {
		rest = fn[i+len(":function:"):]
	}
	r.Function, r.Qualifier, _ = strings.Cut(rest, ":")
	r.PerStage = strings.Contains(rest, "${")
	return r
}
