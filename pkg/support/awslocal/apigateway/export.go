package apigateway

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// GetExport: what a deployment describes of itself, and how it is exported.
//
// What was relied on (AWS's own pages, read through their stored copies):
//   - API reference, GetExport: "GET /restapis/restapi_id/stages/stage_name/exports/export_type
//     ?parameters", header "Accept: accepts"; exportType "'oas30' for OpenAPI 3.0.x and 'swagger'
//     for Swagger/OpenAPI 2.0"; accepts "Currently application/json and application/yaml are
//     supported"; parameters "extensions='integrations' or extensions='apigateway' will export the
//     API with x-amazon-apigateway-integration extensions"; the answer is 200 with Content-Type
//     ("This will correspond to a valid 'accept' type in the request"), Content-Disposition and the
//     export as the body.
//   - Developer guide, "x-amazon-apigateway-integration object": an extended property of the
//     OpenAPI Operation object with type, uri, httpMethod ("For Lambda function invocations, the
//     value must be POST"), passthroughBehavior and more; x-amazon-apigateway-any-method stands for
//     the ANY method.
//   - Developer guide, "Set up a proxy resource with Lambda proxy integration with an OpenAPI
//     definition": an OpenAPI 3.0 and a 2.0 definition as API Gateway exports them. Their shape is
//     followed: info.title and info.version (a date), OAS 3.0's servers[0] with
//     "https://{id}.execute-api.{region}.amazonaws.com/{basePath}" and variables.basePath.default
//     "/{stage}", Swagger's host and basePath, path parameters declared on each operation,
//     "responses": {}, and the integration's type in lower case ("aws_proxy") with
//     "passthroughBehavior": "when_no_match".
//   - Developer guide, stage variables reference: a Lambda integration URI may hold
//     ${stageVariables.x} in place of the function name or its alias/version. The export keeps it as
//     written: the deployment, not the stage, is exported.
//
// Not checked against AWS: the "openapi" version string (the sample says "3.0.0", exports seen in
// the wild "3.0.1", used here); that info.version is the deployment's creation date; the
// Content-Disposition value; the order in which a missing stage, an unknown export type and an
// unsupported Accept are reported, and the codes and messages of the last two. Models, method
// responses, authorizers, request validators, CORS and Postman extensions are not modelled:
// extensions=authorizers or postman are accepted and add nothing.
//
// The Go SDK overwrites every API Gateway request's Accept with application/json (its
// APIGATEWAY:AcceptHeader middleware), so through it GetExport always answers JSON whatever
// GetExportInput.Accepts says; the CLI sends --accepts as it is.

// Method is one method of a REST API, what AWS models as a Resource (the path), a Method on it and
// the Method's Integration, flattened into one value.
type Method struct {
	// Path is the resource path: "/", "/users", "/users/{id}", "/{proxy+}".
	Path string
	// HTTPMethod is GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY.
	HTTPMethod string
	// Integration is what the method calls.
	Integration Integration
}

// Integration is a method's integration.
type Integration struct {
	// Type is AWS_PROXY, AWS, HTTP_PROXY, HTTP or MOCK, the model's IntegrationType.
	Type string
	// URI is, for AWS and AWS_PROXY, an API Gateway service ARN (a Lambda function's is what
	// LambdaURI makes); for HTTP and HTTP_PROXY, the backend's URL; for MOCK, empty.
	// ${stageVariables.x} in it is kept as written.
	URI string
	// HTTPMethod is the integration request's method. Empty means POST for AWS and AWS_PROXY (a
	// Lambda function is always invoked with POST) and the method's own for HTTP and HTTP_PROXY.
	HTTPMethod string
}

// LambdaURI is the integration URI by which API Gateway invokes a Lambda function, as the
// developer guide writes it: arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/
// {functionARN}/invocations. A qualifier (":alias" or ":version") on functionARN is kept.
func LambdaURI(region, functionARN string) string {
	return "arn:aws:apigateway:" + region + ":lambda:path/2015-03-31/functions/" + functionARN + "/invocations"
}

// LambdaProxy is the AWS_PROXY (Lambda proxy) integration of a function, as LambdaURI names it.
func LambdaProxy(region, functionARN string) Integration {
	return Integration{Type: "AWS_PROXY", URI: LambdaURI(region, functionARN), HTTPMethod: "POST"}
}

// SetMethods replaces an API's current methods, as PutMethod and PutIntegration calls would: the
// next CreateDeployment over the wire snapshots them, and deployments made before keep theirs.
// It is a setup call: no faults, not recorded in Calls, not counted in Writes.
func (s *Server) SetMethods(apiID string, methods []Method) error {
	ms, apiErr := checkMethods(methods)
	if apiErr != nil {
		return apiErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, apiErr := s.apiLocked(apiID)
	if apiErr != nil {
		return apiErr
	}
	a.methods = ms
	return nil
}

var (
	httpMethods      = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}
	integrationTypes = []string{"AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK"}
)

// checkMethods validates methods and returns a copy sorted by path, then HTTP method (nil for none).
// The messages are this package's own, not AWS's.
func checkMethods(methods []Method) ([]Method, *Error) {
	if len(methods) == 0 {
		return nil, nil
	}
	out := slices.Clone(methods)
	seen := make(map[[2]string]bool, len(out))
	for _, m := range out {
		if err := checkResourcePath(m.Path); err != nil {
			return nil, err
		}
		if !slices.Contains(httpMethods, m.HTTPMethod) {
			return nil, errBadRequest("Invalid HTTP method %q for %s: one of %s", m.HTTPMethod, m.Path, strings.Join(httpMethods, ", "))
		}
		key := [2]string{m.Path, m.HTTPMethod}
		if seen[key] {
			return nil, errConflict(fmt.Sprintf("Method %s %s is given twice", m.HTTPMethod, m.Path))
		}
		seen[key] = true
		in := m.Integration
		if !slices.Contains(integrationTypes, in.Type) {
			return nil, errBadRequest("Invalid integration type %q for %s %s: one of %s", in.Type, m.HTTPMethod, m.Path, strings.Join(integrationTypes, ", "))
		}
		if in.Type != "MOCK" && in.URI == "" {
			return nil, errBadRequest("Integration of %s %s: a %s integration needs a uri", m.HTTPMethod, m.Path, in.Type)
		}
	}
	slices.SortFunc(out, func(a, b Method) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.HTTPMethod, b.HTTPMethod))
	})
	return out, nil
}

// checkResourcePath accepts "/" and "/part/part...", each part literal ([A-Za-z0-9._-]) or a path
// parameter "{name}", the last one possibly greedy "{name+}".
func checkResourcePath(p string) *Error {
	bad := func() *Error {
		return errBadRequest("Invalid resource path %q: \"/\" or /-separated parts, each of [A-Za-z0-9._-] or {param}, the last possibly {param+}", p)
	}
	if p == "/" {
		return nil
	}
	if !strings.HasPrefix(p, "/") {
		return bad()
	}
	parts := strings.Split(p[1:], "/")
	for i, part := range parts {
		name, isParam := strings.CutPrefix(part, "{")
		if isParam {
			name, isParam = strings.CutSuffix(name, "}")
			if !isParam {
				return bad()
			}
			if greedy, ok := strings.CutSuffix(name, "+"); ok {
				if i != len(parts)-1 {
					return bad()
				}
				name = greedy
			}
		}
		if name == "" {
			return bad()
		}
		for j := 0; j < len(name); j++ {
			c := name[j]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return bad()
			}
		}
	}
	return nil
}

// pathParams are the names of a resource path's parameters, in order.
func pathParams(p string) []string {
	var out []string
	for part := range strings.SplitSeq(p, "/") {
		if name, ok := strings.CutPrefix(part, "{"); ok {
			out = append(out, strings.TrimSuffix(strings.TrimSuffix(name, "}"), "+"))
		}
	}
	return out
}

const (
	exportOAS30   = "oas30"
	exportSwagger = "swagger"
	mimeJSON      = "application/json"
	mimeYAML      = "application/yaml"
)

// exportFormat picks the answer's content type from Accept: the first of its types that is
// supported, where none, */* and application/* mean JSON.
func exportFormat(accept string) (string, *Error) {
	if strings.TrimSpace(accept) == "" {
		return mimeJSON, nil
	}
	for t := range strings.SplitSeq(accept, ",") {
		t, _, _ = strings.Cut(t, ";")
		switch t = strings.ToLower(strings.TrimSpace(t)); t {
		case mimeJSON, mimeYAML:
			return t, nil
		case "*/*", "application/*":
			return mimeJSON, nil
		}
	}
	return "", errBadRequest("Unsupported content type %q: application/json or application/yaml", accept)
}

// withIntegrations reports whether the extensions parameter asks for x-amazon-apigateway-integration.
// A comma-separated list is read as a combination, an assumption: the reference says "any
// combination" without saying how one is written.
func withIntegrations(values []string) bool {
	for _, v := range values {
		for e := range strings.SplitSeq(v, ",") {
			if e := strings.TrimSpace(e); e == "integrations" || e == "apigateway" {
				return true
			}
		}
	}
	return false
}

// exportInput is what an export is built from, copied out under the lock.
type exportInput struct {
	region, apiID, title, description, stage string
	version                                  time.Time
	methods                                  []Method
}

func (s *Server) getExport(r *http.Request) (reply, *Error) {
	s.mu.Lock()
	a, st, apiErr := s.stageLocked(r.PathValue("restApiId"), r.PathValue("stageName"))
	if apiErr != nil {
		s.mu.Unlock()
		return reply{}, apiErr
	}
	// The stage's own deployment is exported, never its canary's; methods are never changed once a
	// deployment holds them, so sharing the slice outside the lock is safe.
	d := a.deployments[st.DeploymentID]
	if d == nil { // cannot happen: a stage's deployment always exists, and none is ever deleted
		s.mu.Unlock()
		return reply{}, errNoDeployment
	}
	in := exportInput{region: s.region, apiID: a.ID, title: a.Name, description: a.description, stage: st.Name,
		version: d.CreatedDate, methods: d.methods}
	s.mu.Unlock()

	kind := r.PathValue("exportType")
	if kind != exportOAS30 && kind != exportSwagger {
		return reply{}, errBadRequest("Invalid export type %q: oas30 or swagger", kind)
	}
	format, apiErr := exportFormat(r.Header.Get("Accept"))
	if apiErr != nil {
		return reply{}, apiErr
	}
	doc := buildExport(kind, in, withIntegrations(r.URL.Query()["extensions"]))
	data, err := encodeExport(doc, format)
	if err != nil {
		// Only this package's own shapes are encoded; failing here is a bug in it.
		panic(fmt.Sprintf("apigwlocal: encode export: %v", err))
	}
	ext := "json"
	if format == mimeYAML {
		ext = "yaml"
	}
	return reply{status: http.StatusOK, body: &file{contentType: format, data: data, header: map[string]string{
		"Content-Disposition": fmt.Sprintf(`attachment; filename="%s-%s-%s.%s"`, in.apiID, in.stage, kind, ext),
	}}}, nil
}

// Export shapes: OpenAPI 3.0 and Swagger 2.0 share info, paths and operations; they differ in how
// the server is named and how a parameter's type is written.

type exportDocJSON struct {
	OpenAPI  string              `json:"openapi,omitempty"`
	Swagger  string              `json:"swagger,omitempty"`
	Info     exportInfoJSON      `json:"info"`
	Host     string              `json:"host,omitempty"`
	BasePath string              `json:"basePath,omitempty"`
	Schemes  []string            `json:"schemes,omitempty"`
	Servers  []exportServerJSON  `json:"servers,omitempty"`
	Paths    map[string]pathJSON `json:"paths"`
}

type exportInfoJSON struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Version     string `json:"version"`
}

type exportServerJSON struct {
	URL       string                        `json:"url"`
	Variables map[string]serverVariableJSON `json:"variables"`
}

type serverVariableJSON struct {
	Default string `json:"default"`
}

// pathJSON maps an operation key ("get", ..., "x-amazon-apigateway-any-method") to its operation.
type pathJSON map[string]operationJSON

type operationJSON struct {
	Parameters  []parameterJSON  `json:"parameters,omitempty"`
	Responses   struct{}         `json:"responses"`
	Integration *integrationJSON `json:"x-amazon-apigateway-integration,omitempty"`
}

type parameterJSON struct {
	Name     string      `json:"name"`
	In       string      `json:"in"`
	Required bool        `json:"required"`
	Type     string      `json:"type,omitempty"`   // Swagger 2.0
	Schema   *schemaJSON `json:"schema,omitempty"` // OpenAPI 3.0
}

type schemaJSON struct {
	Type string `json:"type"`
}

type integrationJSON struct {
	Type                string `json:"type"`
	HTTPMethod          string `json:"httpMethod,omitempty"`
	URI                 string `json:"uri,omitempty"`
	PassthroughBehavior string `json:"passthroughBehavior"`
}

// operationKey is the key of a method in an OpenAPI path item.
func operationKey(httpMethod string) string {
	if httpMethod == "ANY" {
		return "x-amazon-apigateway-any-method"
	}
	return strings.ToLower(httpMethod)
}

func buildExport(kind string, in exportInput, integrations bool) exportDocJSON {
	doc := exportDocJSON{
		Info:  exportInfoJSON{Title: in.title, Description: in.description, Version: in.version.UTC().Format(time.RFC3339)},
		Paths: map[string]pathJSON{},
	}
	host := in.apiID + ".execute-api." + in.region + ".amazonaws.com"
	if kind == exportSwagger {
		doc.Swagger, doc.Host, doc.BasePath, doc.Schemes = "2.0", host, "/"+in.stage, []string{"https"}
	} else {
		srv := exportServerJSON{URL: "https://" + host + "/{basePath}", Variables: map[string]serverVariableJSON{"basePath": {Default: "/" + in.stage}}}
		doc.OpenAPI, doc.Servers = "3.0.1", []exportServerJSON{srv}
	}
	for _, m := range in.methods {
		var op operationJSON
		for _, name := range pathParams(m.Path) {
			p := parameterJSON{Name: name, In: "path", Required: true}
			if kind == exportSwagger {
				p.Type = "string"
			} else {
				p.Schema = &schemaJSON{Type: "string"}
			}
			op.Parameters = append(op.Parameters, p)
		}
		if integrations {
			op.Integration = exportIntegration(m)
		}
		if doc.Paths[m.Path] == nil {
			doc.Paths[m.Path] = pathJSON{}
		}
		doc.Paths[m.Path][operationKey(m.HTTPMethod)] = op
	}
	return doc
}

func exportIntegration(m Method) *integrationJSON {
	in := m.Integration
	out := &integrationJSON{Type: strings.ToLower(in.Type), HTTPMethod: in.HTTPMethod, URI: in.URI, PassthroughBehavior: "when_no_match"}
	if out.HTTPMethod == "" {
		switch in.Type {
		case "AWS", "AWS_PROXY":
			out.HTTPMethod = "POST"
		case "HTTP", "HTTP_PROXY":
			out.HTTPMethod = m.HTTPMethod
		}
	}
	return out
}

// encodeExport writes doc as indented JSON (without HTML escaping, so an S3 action URI's "&" stays
// readable) or as YAML in block style, with the same keys in the same order.
func encodeExport(doc exportDocJSON, format string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if format != mimeYAML {
		return buf.Bytes(), nil
	}
	// JSON is YAML: parse it into nodes, drop the flow style it comes with, and write them out.
	var n yaml.Node
	if err := yaml.Unmarshal(buf.Bytes(), &n); err != nil {
		return nil, err
	}
	blockStyle(&n)
	var out bytes.Buffer
	yenc := yaml.NewEncoder(&out)
	yenc.SetIndent(2)
	if err := yenc.Encode(&n); err != nil {
		return nil, err
	}
	if err := yenc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// blockStyle clears every node's style; the encoder then quotes only the strings that need it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
