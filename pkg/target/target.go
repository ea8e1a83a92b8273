// Package target names what Rewind may act on and decides which allowed target an alarm concerns.
//
// The grammar of one target (TARGETS is a comma-separated list of them):
//
//	restApiId/stage[@fallbackDeploymentId]                API Gateway REST API stage (also "rest:" + the same)
//	http:apiId/stage[@fallbackDeploymentId]               API Gateway HTTP API (v2) stage ("$default" too)
//	lambda:functionName:alias[@fallbackVersion]           Lambda alias
//	cloudfront:DISTRIBUTIONID:pathPattern@legacyOriginId  CloudFront cache behaviour and its legacy origin
//
// A target's name (String, and what a command's "target" says) is the same without the "@..." part,
// and a plain REST target has no "rest:" prefix. The CloudFront path pattern is everything between
// the distribution id's ":" and the "@", so it may hold "/", "*" and ":" (not "@" or ","; CloudFront
// allows "@" in a pattern, Rewind does not, so a name never reads two ways); "*" names the
// distribution's default cache behaviour. A CloudFront target in TARGETS must name its legacy origin:
// that origin is where an alarm sends the behaviour. An unknown kind is an error naming it.
package target

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rewind-sre/rewind/pkg/internal/text"
)

// Kind names the kind of resource a target is; each kind has its own rollback strategy.
type Kind string

// Kinds of target. KindRESTStage is what a plain "restApiId/stage" in TARGETS means.
const (
	KindRESTStage   Kind = "rest"       // API Gateway REST API stage
	KindHTTPStage   Kind = "http"       // API Gateway HTTP API (v2) stage
	KindLambdaAlias Kind = "lambda"     // Lambda function alias
	KindCloudFront  Kind = "cloudfront" // CloudFront distribution cache behaviour
)

// Kinds lists every kind, for messages and wiring.
var Kinds = []Kind{KindRESTStage, KindHTTPStage, KindLambdaAlias, KindCloudFront}

// Target is one thing Rewind is allowed to move: a slot of a resource that serves one deployment at a
// time. The fields mean, by kind:
//
//	kind        Resource           Slot                       Fallback
//	rest, http  API id             stage name                 pinned deployment id
//	lambda      function name      alias name                 pinned version
//	cloudfront  distribution id    cache behaviour's pattern  legacy origin id
type Target struct {
	Kind     Kind
	Resource string
	Slot     string
	// Fallback, when set, is where an alarm sends the target (the seed's "HTTP proxy to the old
	// EC2" deployment, or its EC2 origin in CloudFront), whatever the history says.
	Fallback string
}

// String is the target's name as TARGETS and manual commands write it, without the fallback:
// "restApiId/stage" for REST, "http:apiId/stage", "lambda:function:alias", "cloudfront:ID:pattern".
func (t Target) String() string {
	switch t.Kind {
	case KindHTTPStage:
		return "http:" + t.Resource + "/" + t.Slot
	case KindLambdaAlias:
		return "lambda:" + t.Resource + ":" + t.Slot
	case KindCloudFront:
		return "cloudfront:" + t.Resource + ":" + t.Slot
	}
	return t.Resource + "/" + t.Slot
}

// IsDefaultBehavior reports whether a CloudFront target names the default cache behaviour.
func (t Target) IsDefaultBehavior() bool { return t.Kind == KindCloudFront && t.Slot == "*" }

// Grammar is the grammar of one target, for messages that tell how to write TARGETS.
const Grammar = "restApiId/stage[@fallbackDeploymentId] (or rest:restApiId/stage[@fallbackDeploymentId]), " +
	"http:apiId/stage[@fallbackDeploymentId], lambda:functionName:alias[@fallbackVersion] or " +
	"cloudfront:DISTRIBUTIONID:pathPattern@legacyOriginId"

// ErrMalformed marks a target, id or stage name that does not fit AWS's alphabet.
var ErrMalformed = errors.New("malformed")

// ErrUnknownKind marks a target whose "kind:" prefix is none of Kinds.
var ErrUnknownKind = errors.New("unknown kind")

// ValidID reports whether s can be a REST API or deployment id.
func ValidID(s string) bool { return validID(s) }

// ValidStage reports whether s can be a stage name.
func ValidStage(s string) bool { return validStage(s) }

// CheckDeploymentID returns an error naming s when it cannot name a deployment of any kind of
// target (a deployment id, a Lambda version, a CloudFront origin id).
func CheckDeploymentID(s string) error {
	if !validDeployment(s) || strings.Contains(s, "..") {
		return fmt.Errorf("deployment id %s: %w (want 1-128 letters, digits or ._~:+- not starting with .)", quote(s), ErrMalformed)
	}
	return nil
}

// Parse reads one target (see the package doc for the grammar). A CloudFront target may leave out
// its legacy origin here, so a command can name it; ParseList requires it.
func Parse(s string) (Target, error) {
	kind, rest := KindRESTStage, s
	if k, r, ok := strings.Cut(s, ":"); ok && !strings.Contains(k, "/") {
		kind, rest = Kind(k), r
	}
	switch kind {
	case KindRESTStage, KindHTTPStage:
		t, err := parseStage(kind, s, rest)
		t.Kind = kind
		return t, err
	case KindLambdaAlias:
		return parseLambda(s, rest)
	case KindCloudFront:
		return parseCloudFront(s, rest)
	}
	return Target{}, fmt.Errorf("target %s: %w %s (want rest, http, lambda or cloudfront)", quote(s), ErrUnknownKind, quote(string(kind)))
}

// HTTPDefaultStage is the name of an HTTP API's default stage, the one stage name with a "$".
const HTTPDefaultStage = "$default"

func parseStage(kind Kind, s, body string) (Target, error) {
	body, fallback, hasFallback := strings.Cut(body, "@")
	api, stage, ok := strings.Cut(body, "/")
	switch {
	case !ok && kind == KindHTTPStage:
		return Target{}, fmt.Errorf("target %s: %w (want http:apiId/stage)", quote(s), ErrMalformed)
	case !ok:
		return Target{}, fmt.Errorf("target %s: %w (want restApiId/stage)", quote(s), ErrMalformed)
	case !ValidID(api):
		return Target{}, fmt.Errorf("target %s: API id %s: %w (want 1-64 letters or digits)", quote(s), quote(api), ErrMalformed)
	case !ValidStage(stage) && !(kind == KindHTTPStage && stage == HTTPDefaultStage):
		return Target{}, fmt.Errorf("target %s: stage %s: %w (want 1-128 letters, digits, - or _)", quote(s), quote(stage), ErrMalformed)
	case hasFallback && !ValidID(fallback):
		return Target{}, fmt.Errorf("target %s: fallback deployment %s: %w (want 1-64 letters or digits)", quote(s), quote(fallback), ErrMalformed)
	}
	return Target{Kind: KindRESTStage, Resource: api, Slot: stage, Fallback: fallback}, nil
}

func parseLambda(s, body string) (Target, error) {
	body, fallback, hasFallback := strings.Cut(body, "@")
	fn, alias, ok := strings.Cut(body, ":")
	switch {
	case !ok:
		return Target{}, fmt.Errorf("target %s: %w (want lambda:functionName:alias)", quote(s), ErrMalformed)
	case !validFunction(fn):
		return Target{}, fmt.Errorf("target %s: function name %s: %w (want 1-64 letters, digits, - or _)", quote(s), quote(fn), ErrMalformed)
	case !validAlias(alias) || allDigits(alias):
		return Target{}, fmt.Errorf("target %s: alias %s: %w (want 1-128 letters, digits, - or _, not only digits)", quote(s), quote(alias), ErrMalformed)
	case hasFallback && !validVersion(fallback):
		return Target{}, fmt.Errorf("target %s: fallback version %s: %w (want a published version number)", quote(s), quote(fallback), ErrMalformed)
	}
	return Target{Kind: KindLambdaAlias, Resource: fn, Slot: alias, Fallback: fallback}, nil
}

func parseCloudFront(s, body string) (Target, error) {
	dist, rest, ok := strings.Cut(body, ":")
	pattern, origin := rest, ""
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		pattern, origin = rest[:i], rest[i+1:]
	}
	switch {
	case !ok:
		return Target{}, fmt.Errorf("target %s: %w (want cloudfront:DISTRIBUTIONID:pathPattern@legacyOriginId)", quote(s), ErrMalformed)
	case !validDistribution(dist):
		return Target{}, fmt.Errorf("target %s: distribution id %s: %w (want upper-case letters and digits)", quote(s), quote(dist), ErrMalformed)
	case !validPathPattern(pattern):
		return Target{}, fmt.Errorf("target %s: path pattern %s: %w (want 1-255 of A-Z a-z 0-9 _-.*$/~:+&)", quote(s), quote(pattern), ErrMalformed)
	case strings.Contains(rest, "@") && !validOrigin(origin):
		return Target{}, fmt.Errorf("target %s: legacy origin id %s: %w (want 1-128 of A-Z a-z 0-9 ._~:+-)", quote(s), quote(origin), ErrMalformed)
	}
	return Target{Kind: KindCloudFront, Resource: dist, Slot: pattern, Fallback: origin}, nil
}

// quote bounds and escapes untrusted text before it goes into an error or a log line.
func quote(s string) string { return text.Quote(s, 64) }
