package target

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
)

// Mapping sends alarms whose name matches Pattern (a path.Match glob) to Target. It serves alarms
// that carry no ApiName dimension: Lambda Errors, composite alarms, custom metrics.
type Mapping struct {
	Pattern string
	Target  Target
}

// ParseMappings reads ALARM_TARGETS: comma-separated "alarmNameGlob=target" pairs, the target named
// as TARGETS names it ("restApiId/stage", "http:apiId/stage", ...). The glob is everything before
// the last "=", so alarm names may contain "=". Each target must be allowed.
func ParseMappings(s string, allowed []Target) ([]Mapping, error) {
	var out []Mapping
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndex(item, "=")
		if i <= 0 {
			return nil, fmt.Errorf("mapping %s: %w (want alarmNameGlob=target, e.g. alarmNameGlob=restApiId/stage)", quote(item), ErrMalformed)
		}
		pattern, ts := item[:i], item[i+1:]
		if _, err := path.Match(pattern, ""); err != nil {
			return nil, fmt.Errorf("mapping %s: glob %s: %w", quote(item), quote(pattern), err)
		}
		t, err := Parse(ts)
		if err != nil {
			return nil, fmt.Errorf("mapping %s: %w", quote(item), err)
		}
		allowedT, ok := Find(allowed, t.String())
		if !ok {
			return nil, fmt.Errorf("mapping %s: target %s is not in TARGETS", quote(item), t)
		}
		out = append(out, Mapping{Pattern: pattern, Target: allowedT})
	}
	return out, nil
}

// ParseList reads TARGETS: comma-separated targets (see Grammar), at least one, no duplicates.
func ParseList(s string) ([]Target, error) {
	var out []Target
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		t, err := Parse(item)
		if err != nil {
			return nil, err
		}
		if _, dup := Find(out, t.String()); dup {
			return nil, fmt.Errorf("target %s is listed twice", t)
		}
		if t.Kind == KindCloudFront && t.Fallback == "" {
			return nil, fmt.Errorf("target %s: %w: a CloudFront target names the legacy origin an alarm switches to (want cloudfront:DISTRIBUTIONID:pathPattern@legacyOriginId)", quote(item), ErrMalformed)
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, errors.New("no targets (want a comma-separated list of " + Grammar + ")")
	}
	return out, nil
}

// Find returns the allowed target named s ("restApiId/stage", "rest:restApiId/stage",
// "http:apiId/stage", "lambda:function:alias" or "cloudfront:ID:pattern").
func Find(list []Target, s string) (Target, bool) {
	if t, err := Parse(s); err == nil {
		s = t.String() // one name per target: "rest:a/b" is "a/b"
	}
	for _, t := range list {
		if t.String() == s {
			return t, true
		}
	}
	return Target{}, false
}

// Dimensions is what the resolver needs of an alarm: its metric dimensions by name.
type Dimensions interface {
	Dimension(name string) (string, bool)
}

// Resolver decides which allowed target an alarm concerns.
type Resolver struct {
	targets  []Target
	mappings []Mapping
	names    *NameCache
}

// NewResolver builds a Resolver. names may be nil when no alarm will carry ApiName.
func NewResolver(targets []Target, mappings []Mapping, names *NameCache) *Resolver {
	return &Resolver{targets: targets, mappings: mappings, names: names}
}

// Resolve returns the target an alarm concerns. ok=false with a reason means the alarm is not for an
// allowed target (ignore it); err means the question could not be answered (fail, so it is retried).
//
// In order: an ApiName dimension names a REST API (its Stage dimension the stage) when there are REST
// targets; an ALARM_TARGETS
// glob matching the alarm's name; the dimensions of the other kinds (ApiId+Stage: an HTTP API stage;
// FunctionName+Resource "function:alias": a Lambda alias; DistributionId: a CloudFront target), when
// they name exactly one target; the single target when there is only one.
func (r *Resolver) Resolve(ctx context.Context, alarmName string, dims Dimensions) (t Target, ok bool, reason string, err error) {
	if apiName, has := dims.Dimension("ApiName"); has && r.hasKind(KindRESTStage) {
		return r.byAPIName(ctx, apiName, dims)
	}
	for _, m := range r.mappings {
		if match, _ := path.Match(m.Pattern, alarmName); match {
			return m.Target, true, "", nil
		}
	}
	matches, kind, what := r.byDimensions(dims)
	switch {
	case len(matches) == 1:
		return matches[0], true, "", nil
	case len(matches) > 1:
		return Target{}, false, fmt.Sprintf("alarm %s: %s match %d targets (%s); map the alarm with ALARM_TARGETS",
			quote(alarmName), what, len(matches), names(matches)), nil
	case what != "" && r.hasKind(kind):
		// The alarm is about a resource of a kind Rewind protects, but not one it may move: it must not
		// fall through to "the single target", which is some other resource.
		return Target{}, false, fmt.Sprintf("alarm %s: %s match no %s target in TARGETS and no ALARM_TARGETS mapping",
			quote(alarmName), what, kind), nil
	}
	if len(r.targets) == 1 {
		return r.targets[0], true, "", nil
	}
	return Target{}, false, fmt.Sprintf("alarm %s has no ApiName dimension and matches no ALARM_TARGETS mapping (%d targets configured)",
		quote(alarmName), len(r.targets)), nil
}

// byDimensions finds the targets an alarm's metric dimensions name, for the kinds other than REST.
// what describes the dimensions, or is "" when the alarm has none of them.
func (r *Resolver) byDimensions(dims Dimensions) (matches []Target, kind Kind, what string) {
	keep := func(k Kind, ok func(Target) bool) []Target {
		var out []Target
		for _, t := range r.targets {
			if t.Kind == k && ok(t) {
				out = append(out, t)
			}
		}
		return out
	}
	if id, has := dims.Dimension("ApiId"); has {
		stage, hasStage := dims.Dimension("Stage")
		what = "dimensions ApiId=" + quote(id)
		if hasStage {
			what += " Stage=" + quote(stage)
		}
		return keep(KindHTTPStage, func(t Target) bool { return t.APIID == id && (!hasStage || t.Stage == stage) }), KindHTTPStage, what
	}
	if fn, has := dims.Dimension("FunctionName"); has {
		// Resource is "function:alias" (or "function:version") on a per-alias metric; a metric of the
		// whole function has no Resource and names an alias only when the function has one target.
		res, hasRes := dims.Dimension("Resource")
		what = "dimensions FunctionName=" + quote(fn)
		if hasRes {
			what += " Resource=" + quote(res)
		}
		return keep(KindLambdaAlias, func(t Target) bool { return t.APIID == fn && (!hasRes || res == fn+":"+t.Stage) }), KindLambdaAlias, what
	}
	if id, has := dims.Dimension("DistributionId"); has {
		return keep(KindCloudFront, func(t Target) bool { return t.APIID == id }), KindCloudFront, "dimension DistributionId=" + quote(id)
	}
	return nil, "", ""
}

func (r *Resolver) hasKind(k Kind) bool {
	for _, t := range r.targets {
		if t.Kind == k {
			return true
		}
	}
	return false
}

func names(ts []Target) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

func (r *Resolver) byAPIName(ctx context.Context, apiName string, dims Dimensions) (Target, bool, string, error) {
	if r.names == nil {
		return Target{}, false, "", fmt.Errorf("API name %s: no API Gateway client to resolve it", quote(apiName))
	}
	ids, err := r.names.IDs(ctx, apiName)
	if err != nil {
		return Target{}, false, "", fmt.Errorf("API name %s: resolve to id: %w", quote(apiName), err)
	}
	return r.byAPIID(apiName, ids, dims)
}

// Speculate answers, from the name cache alone, which target an alarm naming a REST API by ApiName
// concerns, when the cache knows the name but is older than its TTL: a guess to start reading with
// while Resolve looks the name up again in parallel, so the lookup adds no round trip in front of the
// reads. The guess must be confirmed by Resolve before anything is written. ok=false: nothing to guess
// from (the alarm has no ApiName, the cache is fresh or empty, or the guess is not one target).
func (r *Resolver) Speculate(dims Dimensions) (Target, bool) {
	apiName, has := dims.Dimension("ApiName")
	if !has || r.names == nil || !r.hasKind(KindRESTStage) {
		return Target{}, false
	}
	ids, fresh, known := r.names.Cached(apiName)
	if !known || fresh {
		return Target{}, false
	}
	t, ok, _, err := r.byAPIID(apiName, ids, dims)
	return t, ok && err == nil
}

// byAPIID finds the target among the REST APIs named apiName (ids) and the alarm's Stage dimension.
func (r *Resolver) byAPIID(apiName string, ids []string, dims Dimensions) (Target, bool, string, error) {
	switch len(ids) {
	case 0:
		return Target{}, false, fmt.Sprintf("no REST API is named %s in this account and region", quote(apiName)), nil
	case 1:
	default:
		return Target{}, false, "", fmt.Errorf("API name %s is ambiguous: REST APIs %s share it", quote(apiName), strings.Join(ids, ", "))
	}
	stage, hasStage := dims.Dimension("Stage")
	var matches []Target
	for _, t := range r.targets {
		if t.Kind == KindRESTStage && t.APIID == ids[0] && (!hasStage || t.Stage == stage) {
			matches = append(matches, t)
		}
	}
	switch {
	case len(matches) == 1:
		return matches[0], true, "", nil
	case len(matches) > 1:
		return Target{}, false, fmt.Sprintf("alarm on API %s (%s) names no Stage and several stages of it are targets", quote(apiName), ids[0]), nil
	case hasStage:
		return Target{}, false, fmt.Sprintf("%s/%s (API %s) is not in TARGETS", ids[0], quote(stage), quote(apiName)), nil
	default:
		return Target{}, false, fmt.Sprintf("API %s (%s) has no stage in TARGETS", quote(apiName), ids[0]), nil
	}
}

// NameCache resolves REST API names to ids with GetRestApis (all pages) and remembers the answer for
// a while, so a warm instance spends no round trip on it. Names are not unique in API Gateway; every
// id sharing the name is kept so ambiguity is seen, never hidden.
type NameCache struct {
	api apigateway.GetRestApisAPIClient
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	fetched time.Time
	byName  map[string][]string
}

var _ apigateway.GetRestApisAPIClient = (*apigateway.Client)(nil)

// NewNameCache caches for ttl; now may be nil (time.Now).
func NewNameCache(api apigateway.GetRestApisAPIClient, ttl time.Duration, now func() time.Time) *NameCache {
	if now == nil {
		now = time.Now
	}
	return &NameCache{api: api, ttl: ttl, now: now}
}

// Cached answers from the last listing alone, without a call: the ids it gave name, whether that
// listing is still within the TTL, and whether there has been a listing that knew the name.
func (c *NameCache) Cached(name string) (ids []string, fresh, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids, known = c.byName[name]
	return ids, known && c.now().Sub(c.fetched) < c.ttl, known
}

// IDs returns the ids of every REST API named name, sorted. A name missing from a fresh-enough
// listing is looked up again, since it may be an API created since.
func (c *NameCache) IDs(ctx context.Context, name string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ids, ok := c.byName[name]; ok && c.now().Sub(c.fetched) < c.ttl {
		return ids, nil
	}
	byName := map[string][]string{}
	p := apigateway.NewGetRestApisPaginator(c.api, &apigateway.GetRestApisInput{Limit: aws.Int32(500)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, api := range page.Items {
			n := aws.ToString(api.Name)
			byName[n] = append(byName[n], aws.ToString(api.Id))
		}
	}
	for _, ids := range byName {
		slices.Sort(ids)
	}
	c.byName, c.fetched = byName, c.now()
	return byName[name], nil
}
