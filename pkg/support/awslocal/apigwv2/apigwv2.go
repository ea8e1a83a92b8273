// Package apigwv2 is a local API Gateway v2 (HTTP APIs) control plane the real SDK can be pointed at
// (o.BaseEndpoint): GetStage, GetDeployments (paged with maxResults/nextToken) and UpdateStage, in
// the service's REST-JSON wire format (lower-camel fields, ISO-8601 dates, "items"/"nextToken",
// errors in X-Amzn-ErrorType), with the fault injection of pkg/support/awslocal.
//
// What it models of AWS: a stage with autoDeploy on cannot be pointed at a deployment by hand
// (BadRequestException); a deploymentId that is not the API's is NotFoundException; stage variable
// values must match [A-Za-z0-9-._~:/?#&=,]+; UpdateStage merges stageVariables into the stage's
// (an empty value removes one) and leaves what it is not sent alone.
package apigwv2

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	"github.com/rewind-sre/rewind/pkg/support/awslocal/tagging"
)

// Deployment is one deployment of an HTTP API.
type Deployment struct {
	ID           string
	Description  string
	CreatedDate  time.Time
	AutoDeployed bool
}

// Stage is one stage of an HTTP API.
type Stage struct {
	Name         string
	DeploymentID string
	AutoDeploy   bool
	Variables    map[string]string
	LastUpdated  time.Time
	Tags         map[string]string // listed by TaggedResources for the local Tagging API
}

type api struct {
	deployments []Deployment
	stages      map[string]*Stage
}

// Server is the local control plane. It is safe for concurrent use.
type Server struct {
	*awslocal.Recorder
	now func() time.Time

	mu   sync.Mutex
	apis map[string]*api
	seq  int
}

// New returns an empty server whose dates come from now (nil: time.Now).
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	s := &Server{now: now, apis: map[string]*api{}}
	s.Recorder = awslocal.NewRecorder(now, func(w http.ResponseWriter, status int) {
		awslocal.WriteJSONError(w, status, awslocal.JSONCode(status), http.StatusText(status))
	})
	return s
}

// CreateAPI adds an HTTP API and returns its id.
func (s *Server) CreateAPI() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("h%09d", s.seq)
	s.apis[id] = &api{stages: map[string]*Stage{}}
	return id
}

// CreateDeployment adds a deployment (an id is made up when d.ID is empty) and returns it.
func (s *Server) CreateDeployment(apiID string, d Deployment) (Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apis[apiID]
	if !ok {
		return d, fmt.Errorf("no API %s", apiID)
	}
	if d.ID == "" {
		s.seq++
		d.ID = fmt.Sprintf("d%05d", s.seq)
	}
	if d.CreatedDate.IsZero() {
		d.CreatedDate = s.now()
	}
	d.CreatedDate = d.CreatedDate.UTC().Truncate(time.Second)
	a.deployments = append(a.deployments, d)
	return d, nil
}

// CreateStage adds a stage.
func (s *Server) CreateStage(apiID string, st Stage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apis[apiID]
	if !ok {
		return fmt.Errorf("no API %s", apiID)
	}
	st.Variables = maps.Clone(st.Variables)
	st.Tags = maps.Clone(st.Tags)
	if st.Variables == nil {
		st.Variables = map[string]string{}
	}
	if st.LastUpdated.IsZero() {
		st.LastUpdated = s.now().UTC().Truncate(time.Second)
	}
	a.stages[st.Name] = &st
	return nil
}

// TaggedResources lists the stages that have tags, by ARN in region (the fake has no region of its
// own), for the local Tagging API (a tagging.Source through tagging.SourceFunc).
func (s *Server) TaggedResources(region string) []tagging.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []tagging.Resource
	for id, a := range s.apis {
		for name, st := range a.stages {
			if len(st.Tags) > 0 {
				out = append(out, tagging.Resource{ARN: "arn:aws:apigateway:" + region + "::/apis/" + id + "/stages/" + name, Tags: maps.Clone(st.Tags)})
			}
		}
	}
	return out
}

// Stage returns a copy of a stage.
func (s *Server) Stage(apiID, name string) (Stage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apis[apiID]
	if !ok || a.stages[name] == nil {
		return Stage{}, false
	}
	st := *a.stages[name]
	st.Variables = maps.Clone(st.Variables)
	return st, true
}

var routes = []awslocal.Route{
	{Method: "GET", Path: "/v2/apis/{apiId}/stages/{stageName}", Op: "GetStage"},
	{Method: "PATCH", Path: "/v2/apis/{apiId}/stages/{stageName}", Op: "UpdateStage"},
	{Method: "GET", Path: "/v2/apis/{apiId}/deployments", Op: "GetDeployments"},
}

// DefaultPageSize is the page GetDeployments answers without maxResults.
const DefaultPageSize = 25

// ServeHTTP is the control plane (apigateway.{region}.amazonaws.com).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, params, ok := awslocal.Match(routes, r.Method, r.URL.EscapedPath())
	if !ok {
		awslocal.WriteJSONError(w, http.StatusNotFound, "NotFoundException", "no such operation: "+r.Method+" "+r.URL.Path)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		awslocal.WriteJSONError(w, http.StatusBadRequest, "BadRequestException", err.Error())
		return
	}
	s.Serve(w, r, rt.Op, func(w http.ResponseWriter) bool {
		switch rt.Op {
		case "GetStage":
			s.getStage(w, params)
		case "GetDeployments":
			s.getDeployments(w, r, params)
		case "UpdateStage":
			return s.updateStage(w, params, body)
		}
		return false
	})
}

type stageJSON struct {
	StageName       string            `json:"stageName"`
	DeploymentID    string            `json:"deploymentId,omitempty"`
	AutoDeploy      bool              `json:"autoDeploy"`
	StageVariables  map[string]string `json:"stageVariables,omitempty"`
	CreatedDate     string            `json:"createdDate"`
	LastUpdatedDate string            `json:"lastUpdatedDate"`
}

func toJSON(st *Stage) stageJSON {
	return stageJSON{StageName: st.Name, DeploymentID: st.DeploymentID, AutoDeploy: st.AutoDeploy, StageVariables: st.Variables,
		CreatedDate: awslocal.ISO8601(st.LastUpdated), LastUpdatedDate: awslocal.ISO8601(st.LastUpdated)}
}

func (s *Server) stage(params map[string]string) (*api, *Stage, string) {
	a, ok := s.apis[params["apiId"]]
	if !ok {
		return nil, nil, fmt.Sprintf("Invalid API identifier specified %s", params["apiId"])
	}
	st := a.stages[params["stageName"]]
	if st == nil {
		return a, nil, fmt.Sprintf("Invalid stage identifier specified %s", params["stageName"])
	}
	return a, st, ""
}

func (s *Server) getStage(w http.ResponseWriter, params map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, st, msg := s.stage(params)
	if st == nil {
		awslocal.WriteJSONError(w, http.StatusNotFound, "NotFoundException", msg)
		return
	}
	awslocal.WriteJSON(w, http.StatusOK, toJSON(st))
}

func (s *Server) getDeployments(w http.ResponseWriter, r *http.Request, params map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apis[params["apiId"]]
	if !ok {
		awslocal.WriteJSONError(w, http.StatusNotFound, "NotFoundException", "Invalid API identifier specified "+params["apiId"])
		return
	}
	size := DefaultPageSize
	if v := r.URL.Query().Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			awslocal.WriteJSONError(w, http.StatusBadRequest, "BadRequestException", "maxResults must be a number from 1 to 500")
			return
		}
		size = n
	}
	start := 0
	if tok := r.URL.Query().Get("nextToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(a.deployments) {
			awslocal.WriteJSONError(w, http.StatusBadRequest, "BadRequestException", "Invalid nextToken")
			return
		}
		start = n
	}
	type item struct {
		DeploymentID     string `json:"deploymentId"`
		Description      string `json:"description,omitempty"`
		CreatedDate      string `json:"createdDate"`
		AutoDeployed     bool   `json:"autoDeployed"`
		DeploymentStatus string `json:"deploymentStatus"`
	}
	out := struct {
		Items     []item `json:"items"`
		NextToken string `json:"nextToken,omitempty"`
	}{Items: []item{}}
	end := min(start+size, len(a.deployments))
	for _, d := range a.deployments[start:end] {
		out.Items = append(out.Items, item{DeploymentID: d.ID, Description: d.Description, CreatedDate: awslocal.ISO8601(d.CreatedDate),
			AutoDeployed: d.AutoDeployed, DeploymentStatus: "DEPLOYED"})
	}
	if end < len(a.deployments) {
		out.NextToken = strconv.Itoa(end)
	}
	awslocal.WriteJSON(w, http.StatusOK, out)
}

// AWS's documented alphabet for stage variable values and names.
var (
	varValue = regexp.MustCompile(`^[A-Za-z0-9\-._~:/?#&=,]+$`)
	varName  = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

func (s *Server) updateStage(w http.ResponseWriter, params map[string]string, body []byte) bool {
	var in struct {
		DeploymentID   *string           `json:"deploymentId"`
		AutoDeploy     *bool             `json:"autoDeploy"`
		Description    *string           `json:"description"`
		StageVariables map[string]string `json:"stageVariables"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		awslocal.WriteJSONError(w, http.StatusBadRequest, "BadRequestException", "Invalid request body: "+err.Error())
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, st, msg := s.stage(params)
	if st == nil {
		awslocal.WriteJSONError(w, http.StatusNotFound, "NotFoundException", msg)
		return false
	}
	// Validate everything before changing anything: the update lands whole or not at all.
	autoDeploy := st.AutoDeploy
	if in.AutoDeploy != nil {
		autoDeploy = *in.AutoDeploy
	}
	if in.DeploymentID != nil {
		if autoDeploy {
			awslocal.WriteJSONError(w, http.StatusBadRequest, "BadRequestException", "Deployment id cannot be updated for a stage with autoDeploy enabled")
			return false
		}
		if !slices.ContainsFunc(a.deployments, func(d Deployment) bool { return d.ID == *in.DeploymentID }) {
			awslocal.WriteJSONError(w, http.StatusNotFound, "NotFoundException", "Invalid deployment identifier specified "+*in.DeploymentID)
			return false
		}
	}
	for k, v := range in.StageVariables {
		if !varName.MatchString(k) || (v != "" && !varValue.MatchString(v)) || len(v) > 2048 {
			awslocal.WriteJSONError(w, http.StatusBadRequest, "BadRequestException", fmt.Sprintf("Invalid stage variable %s=%q", k, v))
			return false
		}
	}
	if in.DeploymentID != nil {
		st.DeploymentID = *in.DeploymentID
	}
	st.AutoDeploy = autoDeploy
	for k, v := range in.StageVariables {
		if v == "" {
			delete(st.Variables, k)
		} else {
			st.Variables[k] = v
		}
	}
	st.LastUpdated = s.now().UTC().Truncate(time.Second)
	awslocal.WriteJSON(w, http.StatusOK, toJSON(st))
	return true
}

// SetDeployment points a stage at a deployment as a human would in the console (no checks), and
// counts as a change to the stage.
func (s *Server) SetDeployment(apiID, stage, deploymentID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apis[apiID]
	if !ok || a.stages[stage] == nil {
		return false
	}
	a.stages[stage].DeploymentID = deploymentID
	a.stages[stage].LastUpdated = s.now().UTC().Truncate(time.Second)
	return true
}
