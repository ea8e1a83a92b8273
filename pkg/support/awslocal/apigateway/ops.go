package apigateway

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// This file holds the control-plane operations other than UpdateStage (patch.go). Each one takes the
// lock once, so it sees and changes a consistent store, and builds its reply from copies, since the
// reply is marshalled after the lock is released.

func (s *Server) getRestAPIs(r *http.Request) (reply, *Error) {
	limit, after, err := pageArgs(r)
	if err != nil {
		return reply{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids, next := page(slices.Sorted(maps.Keys(s.apis)), limit, after)
	out := listJSON[restAPIJSON]{Item: make([]restAPIJSON, 0, len(ids)), Position: next}
	for _, id := range ids {
		out.Item = append(out.Item, s.apis[id].toJSON())
	}
	return reply{status: http.StatusOK, body: out}, nil
}

func (a *apiState) toJSON() restAPIJSON {
	return restAPIJSON{
		ID:                    a.ID,
		Name:                  a.Name,
		Description:           a.description,
		CreatedDate:           epoch(a.CreatedDate),
		APIKeySource:          "HEADER",
		EndpointConfiguration: endpointConfigJSON{Types: []string{"EDGE"}},
		RootResourceID:        a.rootResourceID,
		Tags:                  maps.Clone(a.tags),
	}
}

func (s *Server) getRestAPI(r *http.Request) (reply, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.apiLocked(r.PathValue("restApiId"))
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: a.toJSON()}, nil
}

func (s *Server) createRestAPI(r *http.Request) (reply, *Error) {
	var in createRestAPIInput
	if err := readJSON(r, &in); err != nil {
		return reply{}, err
	}
	if strings.TrimSpace(in.Name) == "" {
		return reply{}, errBadRequest("Invalid REST API name specified")
	}
	if err := checkTags(in.Tags); err != nil {
		return reply{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.createRestAPILocked(in.Name, in.Description, in.Tags)
	return reply{status: http.StatusCreated, body: a.toJSON(), write: true}, nil
}

func (s *Server) getDeployments(r *http.Request) (reply, *Error) {
	limit, after, err := pageArgs(r)
	if err != nil {
		return reply{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.apiLocked(r.PathValue("restApiId"))
	if err != nil {
		return reply{}, err
	}
	// AWS promises no order for deployments; listing them by id (random, so not by age) keeps a
	// consumer from getting away with assuming the newest comes first or last.
	ids, next := page(slices.Sorted(maps.Keys(a.deployments)), limit, after)
	out := listJSON[deploymentJSON]{Item: make([]deploymentJSON, 0, len(ids)), Position: next}
	for _, id := range ids {
		out.Item = append(out.Item, a.deployments[id].toJSON())
	}
	return reply{status: http.StatusOK, body: out}, nil
}

func (d *deployment) toJSON() deploymentJSON {
	return deploymentJSON{ID: d.ID, Description: d.Description, CreatedDate: epoch(d.CreatedDate)}
}

func (s *Server) getDeployment(r *http.Request) (reply, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.apiLocked(r.PathValue("restApiId"))
	if err != nil {
		return reply{}, err
	}
	id := r.PathValue("deploymentId")
	d, ok := a.deployments[id]
	if !validID(id) || !ok {
		return reply{}, errNoDeployment
	}
	return reply{status: http.StatusOK, body: d.toJSON()}, nil
}

// createDeployment follows what AWS documents and answers (create-canary-deployment in the
// developer guide; messages recorded by LocalStack against AWS and quoted in serverless#11518):
//   - no stageName: just a deployment;
//   - stageName of a missing stage: the stage is created on the new deployment;
//   - stageName of a stage: the stage moves to the new deployment, unless the stage has a canary,
//     which is an error: a canary-enabled stage only takes canary deployments;
//   - canarySettings: the stage must exist; the new deployment becomes the canary's, and the
//     stage's own deployment stays.
func (s *Server) createDeployment(r *http.Request) (reply, *Error) {
	var in createDeploymentInput
	if err := readJSON(r, &in); err != nil {
		return reply{}, err
	}
	if err := checkVariables(in.Variables); err != nil {
		return reply{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.apiLocked(r.PathValue("restApiId"))
	if err != nil {
		return reply{}, err
	}
	stageName := ""
	if in.StageName != nil {
		stageName = *in.StageName
	}
	st := a.stages[stageName]
	switch {
	case in.CanarySettings != nil:
		if stageName == "" {
			provided := "null"
			if in.StageName != nil {
				provided = ""
			}
			return reply{}, errBadRequest("Invalid deployment content specified.Non null and non empty stageName must be provided for canary deployment. Provided value is %s", provided)
		}
		if st == nil {
			return reply{}, errBadRequest("Invalid deployment content specified.Stage %s must already be created before making a canary release deployment", stageName)
		}
		if p := in.CanarySettings.PercentTraffic; p != nil {
			if err := checkPercent(*p); err != nil {
				return reply{}, err
			}
		}
		if err := checkVariables(in.CanarySettings.StageVariableOverrides); err != nil {
			return reply{}, err
		}
	case stageName != "":
		if err := checkStageName(stageName); err != nil {
			return reply{}, err
		}
		if st != nil && st.Canary != nil {
			return reply{}, errBadRequest("Invalid deployment content specified.Non canary deployment not supported on stage %s because Canary is enabled. Provide CanarySettings in deploymentInput.", stageName)
		}
	}

	// Everything is validated: from here on nothing fails, so the call applies whole or not at all.
	d, err := s.createDeploymentLocked(a, DeploymentSpec{Description: in.Description, Methods: a.methods})
	if err != nil {
		return reply{}, err
	}
	switch {
	case in.CanarySettings != nil:
		c := st.Canary.clone()
		if c == nil {
			c = &Canary{}
		}
		c.DeploymentID = d.ID
		if p := in.CanarySettings.PercentTraffic; p != nil {
			c.PercentTraffic = *p
		}
		c.StageVariableOverrides = maps.Clone(in.CanarySettings.StageVariableOverrides)
		c.UseStageCache = in.CanarySettings.UseStageCache
		st.Canary = c
		deployToStage(st, in)
		s.touch(st)
	case st != nil:
		st.DeploymentID = d.ID
		deployToStage(st, in)
		s.touch(st)
	case stageName != "":
		if _, err := s.createStageLocked(a, StageSpec{Name: stageName, DeploymentID: d.ID, Description: in.StageDescription, Variables: in.Variables}); err != nil {
			return reply{}, err // cannot happen: validated above
		}
	}
	return reply{status: http.StatusCreated, body: d.toJSON(), write: true}, nil
}

// deployToStage carries a CreateDeployment's stage settings over to an existing stage: the variables
// given are set (others are kept) and a stageDescription replaces the description.
func deployToStage(st *stageState, in createDeploymentInput) {
	if len(in.Variables) > 0 {
		if st.Variables == nil {
			st.Variables = map[string]string{}
		}
		maps.Copy(st.Variables, in.Variables)
	}
	if in.StageDescription != "" {
		st.Description = in.StageDescription
	}
}

func (s *Server) getStages(r *http.Request) (reply, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.apiLocked(r.PathValue("restApiId"))
	if err != nil {
		return reply{}, err
	}
	// GetStages is not paginated in the model: it answers every stage, optionally only those on
	// one deployment (the deploymentId query parameter).
	dep := r.URL.Query().Get("deploymentId")
	out := listJSON[stageJSON]{Item: []stageJSON{}}
	for _, name := range slices.Sorted(maps.Keys(a.stages)) {
		if st := a.stages[name]; dep == "" || st.DeploymentID == dep {
			out.Item = append(out.Item, st.toJSON())
		}
	}
	return reply{status: http.StatusOK, body: out}, nil
}

func (st *Stage) toJSON() stageJSON {
	out := stageJSON{
		StageName:          st.Name,
		DeploymentID:       st.DeploymentID,
		Description:        st.Description,
		CacheClusterStatus: "NOT_AVAILABLE",
		MethodSettings:     map[string]json.RawMessage{},
		Variables:          maps.Clone(st.Variables),
		Tags:               maps.Clone(st.Tags),
		CreatedDate:        epoch(st.CreatedDate),
		LastUpdatedDate:    epoch(st.LastUpdatedDate),
	}
	if c := st.Canary; c != nil {
		out.CanarySettings = &canaryJSON{
			DeploymentID:           c.DeploymentID,
			PercentTraffic:         c.PercentTraffic,
			StageVariableOverrides: maps.Clone(c.StageVariableOverrides),
			UseStageCache:          c.UseStageCache,
		}
	}
	return out
}

func (s *Server) getStage(r *http.Request) (reply, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, st, err := s.stageLocked(r.PathValue("restApiId"), r.PathValue("stageName"))
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: st.toJSON()}, nil
}

func (s *Server) createStage(r *http.Request) (reply, *Error) {
	var in createStageInput
	if err := readJSON(r, &in); err != nil {
		return reply{}, err
	}
	spec := StageSpec{Name: in.StageName, DeploymentID: in.DeploymentID, Description: in.Description, Variables: in.Variables, Tags: in.Tags}
	if c := in.CanarySettings; c != nil {
		spec.Canary = &Canary{DeploymentID: c.DeploymentID, StageVariableOverrides: c.StageVariableOverrides, UseStageCache: c.UseStageCache}
		if c.PercentTraffic != nil {
			spec.Canary.PercentTraffic = *c.PercentTraffic
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.apiLocked(r.PathValue("restApiId"))
	if err != nil {
		return reply{}, err
	}
	st, err := s.createStageLocked(a, spec)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, body: st.toJSON(), write: true}, nil
}

func (s *Server) deleteStage(r *http.Request) (reply, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, st, err := s.stageLocked(r.PathValue("restApiId"), r.PathValue("stageName"))
	if err != nil {
		return reply{}, err
	}
	delete(a.stages, st.Name)
	return reply{status: http.StatusAccepted, write: true}, nil
}
