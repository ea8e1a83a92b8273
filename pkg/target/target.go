// Package target names what Rewind may act on and decides which allowed target an alarm concerns.
package target

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Kind names the kind of resource a target is; each kind has its own rollback strategy.
type Kind string

// KindRESTStage is an API Gateway REST API stage, the only kind today. It is what a plain
// "restApiId/stage" in TARGETS means.
const KindRESTStage Kind = "rest"

// Target is one stage Rewind is allowed to move.
type Target struct {
	Kind  Kind
	APIID string
	Stage string
	// Fallback, when set, is the deployment an alarm sends the stage to (the seed's
	// "HTTP proxy to the old EC2" deployment), whatever the history says.
	Fallback string
}

// String is the form TARGETS and manual commands use: "restApiId/stage".
func (t Target) String() string { return t.APIID + "/" + t.Stage }

// ErrMalformed marks a target, id or stage name that does not fit AWS's alphabet.
var ErrMalformed = errors.New("malformed")

var (
	// API Gateway ids are 10 lower-case alphanumerics; the looser bound keeps emulators' ids working
	// while still refusing anything that could change a request path (/, %, .., spaces).
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)
	stagePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// ValidID reports whether s can be a REST API or deployment id.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// ValidStage reports whether s can be a stage name.
func ValidStage(s string) bool { return stagePattern.MatchString(s) }

// CheckDeploymentID returns an error naming s when it cannot be a deployment id.
func CheckDeploymentID(s string) error {
	if !ValidID(s) {
		return fmt.Errorf("deployment id %s: %w (want 1-64 letters or digits)", quote(s), ErrMalformed)
	}
	return nil
}

// Parse reads one "restApiId/stage" or "restApiId/stage@fallbackDeploymentId".
func Parse(s string) (Target, error) {
	body, fallback, hasFallback := strings.Cut(s, "@")
	api, stage, ok := strings.Cut(body, "/")
	switch {
	case !ok:
		return Target{}, fmt.Errorf("target %s: %w (want restApiId/stage)", quote(s), ErrMalformed)
	case !ValidID(api):
		return Target{}, fmt.Errorf("target %s: API id %s: %w (want 1-64 letters or digits)", quote(s), quote(api), ErrMalformed)
	case !ValidStage(stage):
		return Target{}, fmt.Errorf("target %s: stage %s: %w (want 1-128 letters, digits, - or _)", quote(s), quote(stage), ErrMalformed)
	case hasFallback && !ValidID(fallback):
		return Target{}, fmt.Errorf("target %s: fallback deployment %s: %w", quote(s), quote(fallback), ErrMalformed)
	}
	return Target{Kind: KindRESTStage, APIID: api, Stage: stage, Fallback: fallback}, nil
}

// quote bounds and escapes untrusted text before it goes into an error or a log line.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q…(%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}
