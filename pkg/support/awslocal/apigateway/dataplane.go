package apigateway

import (
	"context"
	"maps"
	"math"
	"net/http"
	"net/url"
	"strings"
)

// DataPlane returns the handler for an API's traffic, what {apiID}.execute-api.{region}.amazonaws.com
// serves: a request for /{stage}/{rest...} goes to the Backend of the deployment the stage is live on,
// as /{rest...}. A stage with a canary sends PercentTraffic percent of its requests to the canary's
// deployment instead; the split is deterministic (request n goes to the canary when
// floor((n+1)p/100) > floor(np/100)), so a test can count on exactly p of every 100.
//
// As API Gateway answers: a stage that does not exist gets 403 {"message":"Forbidden"}; a deployment
// without a backend gets 502 {"message":"Internal server error"}, what API Gateway sends when the
// integration fails. The data plane takes no faults and is not recorded in Calls.
func (s *Server) DataPlane(apiID string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveData(apiID, w, r) })
}

// Invocation is what the data plane tells a backend about the request it routes.
type Invocation struct {
	Stage        string
	DeploymentID string
	// Canary reports whether the request was routed to the stage's canary.
	Canary bool
	// StageVariables are the stage's variables, with the canary's overrides on top for a canary
	// request, as API Gateway resolves $stageVariables.
	StageVariables map[string]string
}

type invocationKey struct{}

// InvocationFrom returns the Invocation of a request the data plane routed to a backend.
func InvocationFrom(ctx context.Context) (Invocation, bool) {
	inv, ok := ctx.Value(invocationKey{}).(Invocation)
	return inv, ok
}

func (s *Server) serveData(apiID string, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", newRequestID())
	stageEsc, restEsc, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	stage, err := url.PathUnescape(stageEsc)
	if err != nil {
		stage = ""
	}
	inv, backend, ok := s.route(apiID, stage)
	if !ok {
		w.Header().Set("x-amzn-ErrorType", "ForbiddenException")
		writeDataError(w, http.StatusForbidden, "Forbidden")
		return
	}
	if backend == nil {
		w.Header().Set("x-amzn-ErrorType", "InternalServerErrorException")
		writeDataError(w, http.StatusBadGateway, "Internal server error")
		return
	}

	r2 := r.Clone(context.WithValue(r.Context(), invocationKey{}, inv))
	rest, err := url.PathUnescape(restEsc)
	if err != nil {
		rest = restEsc
	}
	// RawPath keeps the client's escaping; net/url ignores it if it does not match Path.
	r2.URL.Path, r2.URL.RawPath = "/"+rest, "/"+restEsc
	r2.RequestURI = r2.URL.RequestURI()
	backend.ServeHTTP(w, r2)
}

// route picks the deployment for one request and counts it for the canary split.
func (s *Server) route(apiID, stage string) (Invocation, http.Handler, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apis[apiID]
	if !ok {
		return Invocation{}, nil, false
	}
	st, ok := a.stages[stage]
	if !ok {
		return Invocation{}, nil, false
	}
	inv := Invocation{Stage: stage, DeploymentID: st.DeploymentID, StageVariables: maps.Clone(st.Variables)}
	n := st.served
	st.served++
	if c := st.Canary; c != nil && math.Floor(float64(n+1)*c.PercentTraffic/100) > math.Floor(float64(n)*c.PercentTraffic/100) {
		inv.Canary = true
		inv.DeploymentID = c.DeploymentID
		if inv.StageVariables == nil {
			inv.StageVariables = map[string]string{}
		}
		maps.Copy(inv.StageVariables, c.StageVariableOverrides)
	}
	var backend http.Handler
	if d := a.deployments[inv.DeploymentID]; d != nil {
		backend = d.backend
	}
	return inv, backend, true
}

func writeDataError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"message":"` + msg + `"}`))
}
