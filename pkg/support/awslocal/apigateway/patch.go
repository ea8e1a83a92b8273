package apigateway

import (
	"net/http"
	"strconv"
	"strings"
)

// UpdateStage applies a list of JSON-Patch-like operations to a stage. They are applied in order to
// a copy, and the copy replaces the stage only if every one of them was valid: a call changes all it
// asks for or nothing, which is what a caller sending its switch and its bookkeeping in one PATCH
// relies on.
//
// Supported (paths from the API reference's patch-operations page and the canary guides):
//
//	replace /deploymentId                      value must be a deployment of the API
//	copy    /deploymentId from /canarySettings/deploymentId           (promote the canary)
//	replace|add /description, remove /description
//	replace|add /variables/{name}, remove /variables/{name}
//	copy    /variables from /canarySettings/stageVariableOverrides    (promote its variables)
//	remove  /canarySettings
//	replace /canarySettings/percentTraffic | deploymentId | useStageCache
//	replace|remove /canarySettings/stageVariableOverrides/{name}
//
// What AWS does when /deploymentId is replaced on a stage that has a canary, from the developer
// guide: promoting a canary is exactly a write of /deploymentId (a copy from
// /canarySettings/deploymentId) on a canary-enabled stage, and "Promoting a canary release does not
// disable the canary on the stage. To disable a canary, you must remove the canary settings"
// (promote-canary-deployment); the guide's stage after promotion still has the canary's own
// deploymentId and percentTraffic, which the same call resets separately. The guide's "The stage
// cannot be associated with any non-canary deployment until the canary settings are removed"
// (create-canary-deployment) is about CreateDeployment, which then fails with "Non canary deployment
// not supported on stage ... because Canary is enabled" (serverless/serverless#11518). So a replace
// of /deploymentId moves only the stage's base deployment: the canary keeps its deploymentId and
// percentTraffic and keeps serving its share of the traffic. A rollback that must stop the canary's
// traffic has to remove /canarySettings (or zero its percentTraffic) in the same call. A plain
// replace, as opposed to the documented copy, was not observed against AWS directly.
func (s *Server) updateStage(r *http.Request) (reply, *Error) {
	var in updateStageInput
	if err := readJSON(r, &in); err != nil {
		return reply{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, st, err := s.stageLocked(r.PathValue("restApiId"), r.PathValue("stageName"))
	if err != nil {
		return reply{}, err
	}
	next := st.Stage.clone()
	for _, op := range in.PatchOperations {
		if err := applyPatch(a, &next, op); err != nil {
			return reply{}, err
		}
	}
	applied := len(in.PatchOperations) > 0
	if applied {
		st.Stage = next
		s.touch(st)
	}
	return reply{status: http.StatusOK, body: st.toJSON(), write: applied}, nil
}

func applyPatch(a *apiState, st *Stage, op patchOpJSON) *Error {
	switch op.Op {
	case "add", "remove", "replace", "copy":
	default:
		// "move" and "test" are in the model's Op enum, but no stage path supports them.
		return errBadRequest("Invalid patch operation specified: %q. Must be one of: [add, remove, replace, copy]", op.Op)
	}
	if op.Op == "copy" {
		return applyCopy(st, op)
	}
	path := op.Path
	switch {
	case path == "/deploymentId":
		if op.Op != "replace" {
			return invalidOp(op)
		}
		id, err := value(op)
		if err != nil {
			return err
		}
		if _, ok := a.deployments[id]; !ok {
			return errDeploymentIDDoesNotExist()
		}
		st.DeploymentID = id

	case path == "/description":
		if op.Op == "remove" {
			st.Description = ""
			return nil
		}
		d, err := value(op)
		if err != nil {
			return err
		}
		st.Description = d

	case strings.HasPrefix(path, "/variables/"):
		name := unescapePointer(strings.TrimPrefix(path, "/variables/"))
		if err := checkVariableName(name); err != nil {
			return err
		}
		if op.Op == "remove" {
			// Removing a variable the stage does not have is a no-op here. Not checked against AWS;
			// it keeps a retried call (after a lost response) from failing on its own first attempt.
			delete(st.Variables, name)
			return nil
		}
		v, err := value(op)
		if err != nil {
			return err
		}
		if err := checkVariableValue(v); err != nil {
			return err
		}
		if st.Variables == nil {
			st.Variables = map[string]string{}
		}
		st.Variables[name] = v

	case path == "/canarySettings":
		if op.Op != "remove" {
			return invalidOp(op)
		}
		// Removing a canary that is not there is a no-op, for the same reason as variables.
		st.Canary = nil

	case strings.HasPrefix(path, "/canarySettings/"):
		return applyCanaryPatch(a, st, op, strings.TrimPrefix(path, "/canarySettings/"))

	default:
		if implementedElsewhere(path) {
			return errBadRequest("Patch path %s is valid on AWS but not implemented by apigwlocal", path)
		}
		return invalidPath(path)
	}
	return nil
}

// applyCanaryPatch handles /canarySettings/{sub}. Only replace is accepted for the canary's fields, and
// add is refused with AWS's message ("Invalid add operation with path: /canarySettings/deploymentId",
// recorded by LocalStack against AWS). Writing any field of a stage without a canary creates one,
// starting on the stage's deployment at 0% (LocalStack's AWS snapshot
// test_create_canary_deployment_by_stage_update; localstack-recorded-update-stage-canary-zero-percent.json).
func applyCanaryPatch(a *apiState, st *Stage, op patchOpJSON, sub string) *Error {
	known := sub == "percentTraffic" || sub == "deploymentId" || sub == "useStageCache" || strings.HasPrefix(sub, "stageVariableOverrides/")
	switch {
	case !known && op.Op == "remove":
		// AWS's words, trailing space included (localstack-recorded-error-400-remove-canary-trailing-space.json).
		return errBadRequest("Cannot remove method setting canarySettings/%s because there is no method setting for this method ", sub)
	case !known:
		return invalidPath(op.Path)
	case op.Op == "add":
		return invalidOp(op)
	case op.Op == "remove" && !strings.HasPrefix(sub, "stageVariableOverrides/"):
		return invalidOp(op)
	}

	if name, ok := strings.CutPrefix(sub, "stageVariableOverrides/"); ok {
		name = unescapePointer(name)
		if err := checkVariableName(name); err != nil {
			return err
		}
		if op.Op == "remove" {
			// The canary guide removes a canary variable this way (update-canary-deployment).
			if st.Canary != nil {
				delete(st.Canary.StageVariableOverrides, name)
			}
			return nil
		}
		v, err := value(op)
		if err != nil {
			return err
		}
		if err := checkVariableValue(v); err != nil {
			return err
		}
		c := canaryOf(st)
		if c.StageVariableOverrides == nil {
			c.StageVariableOverrides = map[string]string{}
		}
		c.StageVariableOverrides[name] = v
		return nil
	}

	v, err := value(op)
	if err != nil {
		return err
	}
	switch sub {
	case "percentTraffic":
		p, convErr := strconv.ParseFloat(v, 64)
		if convErr != nil {
			return errBadRequest("Invalid canary percentTraffic %q: must be a number between 0.0 and 100.0", v)
		}
		if err := checkPercent(p); err != nil {
			return err
		}
		canaryOf(st).PercentTraffic = p
	case "deploymentId":
		if _, ok := a.deployments[v]; !ok {
			return errDeploymentIDDoesNotExist()
		}
		canaryOf(st).DeploymentID = v
	case "useStageCache":
		b, convErr := strconv.ParseBool(v)
		if convErr != nil {
			return errBadRequest("Invalid canary useStageCache %q: must be true or false", v)
		}
		canaryOf(st).UseStageCache = b
	}
	return nil
}

// canaryOf returns the stage's canary, creating the one AWS creates when a canary field is written
// on a stage without one.
func canaryOf(st *Stage) *Canary {
	if st.Canary == nil {
		st.Canary = &Canary{DeploymentID: st.DeploymentID}
	}
	return st.Canary
}

// applyCopy is promotion: the only copies AWS accepts go from the canary to the stage. The error
// texts are AWS's as recorded by LocalStack (test_update_stage_with_copy_ops); copying the canary's
// variables merges them over the stage's, as in the guide's promote example.
func applyCopy(st *Stage, op patchOpJSON) *Error {
	from := ""
	if op.From != nil {
		from = *op.From
	}
	valid := op.Path == "/deploymentId" && from == "/canarySettings/deploymentId" ||
		op.Path == "/variables" && from == "/canarySettings/stageVariableOverrides"
	if !valid {
		return errBadRequest("Invalid copy operation with path: %s and from %s. Valid copy:path are [/deploymentId, /variables] and valid copy:from are [/canarySettings/deploymentId, /canarySettings/stageVariableOverrides]", op.Path, from)
	}
	if st.Canary == nil {
		return errBadRequest("Promotion not available. Canary does not exist.")
	}
	if op.Path == "/deploymentId" {
		st.DeploymentID = st.Canary.DeploymentID
		return nil
	}
	if len(st.Canary.StageVariableOverrides) > 0 && st.Variables == nil {
		st.Variables = map[string]string{}
	}
	for k, v := range st.Canary.StageVariableOverrides {
		st.Variables[k] = v
	}
	return nil
}

func value(op patchOpJSON) (string, *Error) {
	if op.Value == nil {
		return "", errBadRequest("Invalid patch operation: %s %s requires a value", op.Op, op.Path)
	}
	return *op.Value, nil
}

// invalidOp is AWS's answer to an operation a path does not support (recorded by LocalStack:
// "Invalid add operation with path: /canarySettings/deploymentId").
func invalidOp(op patchOpJSON) *Error {
	return errBadRequest("Invalid %s operation with path: %s", op.Op, op.Path)
}

// invalidPath follows AWS's message for an unknown stage path ("Invalid method setting path: ...
// Must be one of: [...]", recorded by LocalStack), listing the paths this server implements.
func invalidPath(path string) *Error {
	return errBadRequest("Invalid method setting path: %s. Must be one of: [/deploymentId, /description, /variables/{variable_name}, "+
		"/canarySettings, /canarySettings/percentTraffic, /canarySettings/deploymentId, /canarySettings/useStageCache, "+
		"/canarySettings/stageVariableOverrides/{variable_name}]", path)
}

// implementedElsewhere reports paths AWS accepts on a stage that this server does not model, so that
// a caller is told the truth rather than that AWS would refuse them.
func implementedElsewhere(path string) bool {
	switch path {
	case "/cacheClusterEnabled", "/cacheClusterSize", "/clientCertificateId", "/accessLogSettings",
		"/accessLogSettings/destinationArn", "/accessLogSettings/format", "/tracingEnabled",
		"/documentationVersion", "/webAclArn":
		return true
	}
	// Method settings: /{resourcePath}/{httpMethod}/{area}/{setting}, e.g. /*/*/logging/loglevel.
	return strings.Count(path, "/") >= 4 && !strings.HasPrefix(path, "/variables/") && !strings.HasPrefix(path, "/canarySettings/")
}

// unescapePointer undoes JSON Pointer escaping (RFC 6901): "~1" is "/", "~0" is "~".
func unescapePointer(s string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
}
