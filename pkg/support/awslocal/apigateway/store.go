package apigateway

import (
	"maps"
	"math/rand/v2"
	"net/http"
	"time"
)

// RestAPI is a REST API as the Go API reports it.
type RestAPI struct {
	ID          string
	Name        string
	CreatedDate time.Time
}

// Deployment is a deployment (an immutable snapshot of an API) as the Go API reports it.
type Deployment struct {
	ID          string
	Description string
	CreatedDate time.Time
}

// DeploymentSpec arranges a deployment with CreateDeployment.
type DeploymentSpec struct {
	// ID is the deployment id; empty means 6 random lower-case alphanumerics, like AWS's.
	ID          string
	Description string
	// CreatedDate; zero means Now(). Kept to the second, as everything the store keeps.
	CreatedDate time.Time
	// Backend serves this deployment's traffic on the data plane; nil answers 502 there.
	Backend http.Handler
	// Methods are the API's methods as this deployment snapshots them, each with its integration:
	// what GetExport of a stage on this deployment describes. The data plane does not route by them
	// (Backend serves every request). Nil means none.
	Methods []Method
}

// Canary is a stage's canary: a share of its traffic served by another deployment.
type Canary struct {
	DeploymentID           string
	PercentTraffic         float64
	StageVariableOverrides map[string]string
	UseStageCache          bool
}

// StageSpec arranges a stage with CreateStage.
type StageSpec struct {
	Name         string
	DeploymentID string
	Description  string
	Variables    map[string]string
	// Canary, if set; an empty Canary.DeploymentID means the stage's own deployment, as on AWS.
	Canary *Canary
	Tags   map[string]string
}

// Stage is a snapshot of a stage; its maps and Canary are copies the caller may keep.
type Stage struct {
	Name            string
	DeploymentID    string
	Description     string
	Variables       map[string]string
	Canary          *Canary
	Tags            map[string]string
	CreatedDate     time.Time
	LastUpdatedDate time.Time
}

func (c *Canary) clone() *Canary {
	if c == nil {
		return nil
	}
	out := *c
	out.StageVariableOverrides = maps.Clone(c.StageVariableOverrides)
	return &out
}

func (st Stage) clone() Stage {
	st.Variables = maps.Clone(st.Variables)
	st.Tags = maps.Clone(st.Tags)
	st.Canary = st.Canary.clone()
	return st
}

// apiState is one REST API and everything under it. Guarded by Server.mu.
type apiState struct {
	RestAPI
	description    string
	rootResourceID string
	tags           map[string]string
	deployments    map[string]*deployment
	stages         map[string]*stageState
	// methods are the API's current methods (SetMethods), which a CreateDeployment over the wire
	// snapshots, as AWS's deployment snapshots the API's resources.
	methods []Method
}

type deployment struct {
	Deployment
	backend http.Handler
	methods []Method // sorted by path, then method; never changed once created
}

type stageState struct {
	Stage
	// served counts data-plane requests, for the deterministic canary split.
	served uint64
}

const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomID(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[rand.IntN(len(alnum))]
	}
	return string(b)
}

// uniqueID draws random ids until one is free: AWS's are random, so a test must not assume order.
func uniqueID(n int, taken func(string) bool) string {
	for {
		if id := randomID(n); !taken(id) {
			return id
		}
	}
}

// clock is Now() at the store's precision.
func (s *Server) clock() time.Time { return truncate(s.now()) }

// touch bumps a stage's lastUpdatedDate. AWS's dates are whole seconds, so two updates within a
// second would carry the same date there; here the date moves on by a second instead, so a caller
// comparing lastUpdatedDate always sees that something changed. (A deliberate, documented deviation.)
func (s *Server) touch(st *stageState) {
	now := s.clock()
	if !now.After(st.LastUpdatedDate) {
		now = st.LastUpdatedDate.Add(time.Second)
	}
	st.LastUpdatedDate = now
}

// lookups; the caller holds s.mu.

func (s *Server) apiLocked(id string) (*apiState, *Error) {
	a, ok := s.apis[id]
	if !validID(id) || !ok {
		return nil, errNoAPI(s.account, id)
	}
	return a, nil
}

func (s *Server) stageLocked(apiID, name string) (*apiState, *stageState, *Error) {
	a, err := s.apiLocked(apiID)
	if err != nil {
		return nil, nil, err
	}
	st, ok := a.stages[name]
	if !validStageName(name) || !ok {
		return nil, nil, errNoStage
	}
	return a, st, nil
}

// CreateRestAPI creates a REST API with a random 10-character id, as AWS does.
func (s *Server) CreateRestAPI(name string) RestAPI {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createRestAPILocked(name, "", nil).RestAPI
}

// RenameRestAPI gives an API another name, as the console's or UpdateRestApi's /name does: what a
// name-to-id cache must not be fooled by.
func (s *Server) RenameRestAPI(id, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, apiErr := s.apiLocked(id)
	if apiErr != nil {
		return apiErr
	}
	a.Name = name
	return nil
}

func (s *Server) createRestAPILocked(name, description string, tags map[string]string) *apiState {
	id := uniqueID(10, func(id string) bool { _, ok := s.apis[id]; return ok })
	a := &apiState{
		RestAPI:        RestAPI{ID: id, Name: name, CreatedDate: s.clock()},
		description:    description,
		rootResourceID: randomID(10),
		tags:           maps.Clone(tags),
		deployments:    map[string]*deployment{},
		stages:         map[string]*stageState{},
	}
	s.apis[id] = a
	return a
}

// CreateDeployment adds a deployment to an API without touching any stage (the wire's
// CreateDeployment with a stageName is the way to deploy to a stage).
func (s *Server) CreateDeployment(apiID string, spec DeploymentSpec) (Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, apiErr := s.apiLocked(apiID)
	if apiErr != nil {
		return Deployment{}, apiErr
	}
	d, apiErr := s.createDeploymentLocked(a, spec)
	if apiErr != nil {
		return Deployment{}, apiErr
	}
	return d.Deployment, nil
}

func (s *Server) createDeploymentLocked(a *apiState, spec DeploymentSpec) (*deployment, *Error) {
	id := spec.ID
	if id == "" {
		id = uniqueID(6, func(id string) bool { _, ok := a.deployments[id]; return ok })
	} else if !validID(id) {
		return nil, errBadRequest("Invalid deployment id %q: only [A-Za-z0-9] allowed", id)
	} else if _, ok := a.deployments[id]; ok {
		return nil, errConflict("Deployment " + id + " already exists")
	}
	methods, apiErr := checkMethods(spec.Methods)
	if apiErr != nil {
		return nil, apiErr
	}
	created := truncate(spec.CreatedDate)
	if spec.CreatedDate.IsZero() {
		created = s.clock()
	}
	d := &deployment{Deployment: Deployment{ID: id, Description: spec.Description, CreatedDate: created}, backend: spec.Backend, methods: methods}
	a.deployments[id] = d
	return d, nil
}

// CreateStage adds a stage to an API.
func (s *Server) CreateStage(apiID string, spec StageSpec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, apiErr := s.apiLocked(apiID)
	if apiErr != nil {
		return apiErr
	}
	if _, apiErr := s.createStageLocked(a, spec); apiErr != nil {
		return apiErr
	}
	return nil
}

func (s *Server) createStageLocked(a *apiState, spec StageSpec) (*stageState, *Error) {
	if err := checkStageName(spec.Name); err != nil {
		return nil, err
	}
	if _, ok := a.stages[spec.Name]; ok {
		// Wording not checked against AWS; the status and code are the model's for this case.
		return nil, errConflict("Stage already exists")
	}
	if _, ok := a.deployments[spec.DeploymentID]; !ok {
		return nil, errDeploymentIDDoesNotExist()
	}
	if err := checkVariables(spec.Variables); err != nil {
		return nil, err
	}
	if err := checkTags(spec.Tags); err != nil {
		return nil, err
	}
	canary := spec.Canary.clone()
	if canary != nil {
		// An omitted canary deploymentId starts as the stage's own: AWS fills it in
		// (go-to-k/cdk-real-drift#633 observes it on a fresh stage; LocalStack's AWS-validated
		// CreateStage does the same).
		if canary.DeploymentID == "" {
			canary.DeploymentID = spec.DeploymentID
		}
		if _, ok := a.deployments[canary.DeploymentID]; !ok {
			return nil, errDeploymentIDDoesNotExist()
		}
		if err := checkPercent(canary.PercentTraffic); err != nil {
			return nil, err
		}
		if err := checkVariables(canary.StageVariableOverrides); err != nil {
			return nil, err
		}
	}
	now := s.clock()
	st := &stageState{Stage: Stage{
		Name:            spec.Name,
		DeploymentID:    spec.DeploymentID,
		Description:     spec.Description,
		Variables:       maps.Clone(spec.Variables),
		Canary:          canary,
		Tags:            maps.Clone(spec.Tags),
		CreatedDate:     now,
		LastUpdatedDate: now,
	}}
	a.stages[spec.Name] = st
	return st, nil
}

// Stage returns a deep copy of a stage, or false if the API or the stage does not exist.
func (s *Server) Stage(apiID, stage string) (Stage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, st, err := s.stageLocked(apiID, stage)
	if err != nil {
		return Stage{}, false
	}
	return st.Stage.clone(), true
}

// SetDeploymentID points a stage at another deployment the way a person's "Change deployment" in
// the console does: out of band, so it takes no faults, is not recorded in Calls and is not counted
// in Writes, but it does bump lastUpdatedDate as any change to the stage does.
func (s *Server) SetDeploymentID(apiID, stage, depID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, st, apiErr := s.stageLocked(apiID, stage)
	if apiErr != nil {
		return apiErr
	}
	if _, ok := a.deployments[depID]; !ok {
		return errDeploymentIDDoesNotExist()
	}
	st.DeploymentID = depID
	s.touch(st)
	return nil
}
