package target

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
)

// Mapping sends alarms whose whole name matches Pattern (a Glob: "*" and "?" match "/" too) to
// Target. It serves alarms that carry no ApiName dimension: Lambda Errors, composite alarms, custom
// metrics.
type Mapping struct {
	Pattern string
	Target  Target
	glob    *Glob // compiled by ParseMappings; nil in a Mapping written by hand
}

// Matches reports whether the mapping's glob matches the whole of alarmName. A Mapping written by
// hand has its Pattern compiled here; a malformed one matches nothing.
func (m Mapping) Matches(alarmName string) bool {
	if m.glob != nil {
		return m.glob.Match(alarmName)
	}
	g, err := CompileGlob(m.Pattern)
	return err == nil && g.Match(alarmName)
}

// ParseMappings reads ALARM_TARGETS: comma-separated "alarmNameGlob=target" pairs, the target named
// as TARGETS names it ("restApiId/stage", "http:apiId/stage", ...). The glob is everything before
// the last "=", so alarm names may contain "="; it is a Glob, matched against the whole alarm name
// with "*" and "?" matching "/" too ("luna-api/user-id/*" and "*/errors" both match
// "luna-api/user-id/errors"). A malformed glob is an error here, not when an alarm arrives. Each
// target must be allowed.
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
		g, err := CompileGlob(pattern)
		if err != nil {
			return nil, fmt.Errorf("mapping %s: glob %s: %w", quote(item), quote(pattern), err)
		}
		t, err := Parse(ts)
		if err != nil {
			return nil, fmt.Errorf("mapping %s: %w", quote(item), err)
		}
		allowedT, ok := Find(allowed, t.String())
		if !ok {
			// Explicit targets only: a mapping to a stage found by tag would outlive the tag.
			return nil, fmt.Errorf("mapping %s: target %s is not in TARGETS (a mapping names an explicit target, not a stage found by tag)", quote(item), t)
		}
		out = append(out, Mapping{Pattern: pattern, Target: allowedT, glob: &g})
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

// MetricDimensions is what the resolver reads, when an alarm has it, to see each metric the alarm
// watches on its own (event.Alarm has it): a metric-math alarm over two APIs then names two APIs,
// where its merged Dimensions would name only the first. An alarm without it, or with no metrics,
// is read as one metric with its merged Dimensions.
type MetricDimensions interface {
	MetricCount() int
	MetricDimension(i int, name string) (string, bool)
}

// ErrAmbiguous is what the error Resolve returns for an alarm that could mean more than one target
// is (errors.Is); the error is an *AmbiguousError.
var ErrAmbiguous = errors.New("ambiguous")

// AmbiguousError is an alarm Resolve moves no target for, because it could mean more than one: its
// metrics name two different allowed targets (two ApiName values, two stages of one API, two
// functions...), a metric of a whole API, function or distribution of which two or more are allowed
// targets (an API-wide alarm: ApiName without Stage), an allowed target and a resource that is not
// one (the alarm may fire for either), or an API name two REST APIs share.
type AmbiguousError struct {
	Alarm string // the alarm's name ("" when not known)
	// Candidates names everything the alarm could mean, two or more, in the order its metrics name
	// them: allowed targets by their names ("a1b2c3d4e5/prod"), other resources by their dimensions
	// and why they are no target.
	Candidates []string
	Targets    []Target // the allowed targets among Candidates
	Reason     string   // what makes it ambiguous
	Hint       string   // what would make it one target
}

// maxListed bounds the candidates an AmbiguousError's text lists.
const maxListed = 8

func (e *AmbiguousError) Error() string {
	listed := e.Candidates
	more := ""
	if len(listed) > maxListed {
		listed, more = listed[:maxListed], fmt.Sprintf(" and %d more", len(listed)-maxListed)
	}
	s := fmt.Sprintf("alarm %s is ambiguous: %s: %s%s; Rewind moves none of them", quote(e.Alarm), e.Reason, strings.Join(listed, ", "), more)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrAmbiguous) true.
func (e *AmbiguousError) Is(target error) bool { return target == ErrAmbiguous }

// Resolver decides which allowed target an alarm concerns.
type Resolver struct {
	targets  []Target // the scope's answer for the alarm being resolved (see scope.go)
	scope    Scope
	kinds    []Kind // the kinds the scope may hold, whether or not it holds one now
	mappings []Mapping
	names    *NameCache
}

// NewResolver builds a Resolver over a fixed list of targets. names may be nil when no alarm will
// carry ApiName.
func NewResolver(targets []Target, mappings []Mapping, names *NameCache) *Resolver {
	return NewScopedResolver(Static(targets), mappings, names)
}

// Resolve returns the target an alarm concerns. ok=false with a reason means the alarm is not for an
// allowed target (ignore it); an error wrapping ErrAmbiguous (an *AmbiguousError) means it could
// mean more than one and moves none; any other err means the question could not be answered (fail,
// so it is retried).
//
// Each metric of the alarm (see MetricDimensions) names a resource by its dimensions: ApiName (and
// Stage) a REST API (stage) when there are REST targets, resolved to an id by name; ApiId (+ Stage)
// an HTTP API stage; FunctionName (+ Resource "function:alias") a Lambda alias; DistributionId a
// CloudFront distribution's behaviours. Dimensions of a kind with no target in TARGETS name
// nothing. In order:
//
//  1. When a metric has ApiName and there are REST targets, the metrics decide (ALARM_TARGETS is not
//     read): exactly one allowed target named, and nothing else, is the answer; two or more allowed
//     targets, or one and a resource that is not an allowed target, are ambiguous; none is ignored.
//  2. Otherwise the first ALARM_TARGETS glob that matches the alarm's whole name.
//  3. Otherwise the metrics decide as in 1, when any names a resource.
//  4. Otherwise the single target, when there is only one.
//
// A metric of a whole API, function or distribution (no Stage or Resource) names every allowed
// target of it: exactly one is the answer (an API-wide alarm on an API with one allowed stage moves
// that stage), two or more are ambiguous.
func (r *Resolver) resolve(ctx context.Context, alarmName string, dims Dimensions) (t Target, ok bool, reason string, err error) {
	lookup := func(apiName string) ([]string, error) {
		if r.names == nil {
			return nil, fmt.Errorf("API name %s: no API Gateway client to resolve it", quote(apiName))
		}
		ids, err := r.names.IDs(ctx, apiName)
		if err != nil {
			return nil, fmt.Errorf("API name %s: resolve to id: %w", quote(apiName), err)
		}
		return ids, nil
	}
	metrics := metricsOf(dims)
	if !r.restFirst(metrics) {
		for _, m := range r.mappings {
			if m.Matches(alarmName) {
				return m.Target, true, "", nil
			}
		}
	}
	refs, err := r.refs(alarmName, metrics, lookup)
	if err != nil {
		return Target{}, false, "", err
	}
	if len(refs) == 0 {
		if len(r.targets) == 1 && !r.scope.Dynamic() { // with selectors, "the one target" changes as tags do
			return r.targets[0], true, "", nil
		}
		return Target{}, false, fmt.Sprintf("alarm %s has no ApiName dimension and matches no ALARM_TARGETS mapping (%d targets configured)",
			quote(alarmName), len(r.targets)), nil
	}
	return r.decide(alarmName, refs)
}

// Speculate answers, from the name cache alone, which target an alarm naming a REST API by ApiName
// concerns, when the cache knows every name but is older than its TTL: a guess to start reading with
// while Resolve looks the names up again in parallel, so the lookup adds no round trip in front of
// the reads. The guess must be confirmed by Resolve before anything is written. It is Resolve's own
// rule on the cached ids, so it never guesses where Resolve, on the same ids, would find the alarm
// ambiguous or not for a target. ok=false: nothing to guess from (no metric has ApiName, there are
// no REST targets, the cache is fresh or does not know a name), or the guess is not one target.
func (r *Resolver) Speculate(dims Dimensions) (Target, bool) {
	r = r.with(r.scope.Peek())
	metrics := metricsOf(dims)
	if r.names == nil || !r.restFirst(metrics) {
		return Target{}, false
	}
	stale := false
	lookup := func(apiName string) ([]string, error) {
		ids, fresh, known := r.names.Cached(apiName)
		if !known {
			return nil, errNotCached
		}
		stale = stale || !fresh
		return ids, nil
	}
	refs, err := r.refs("", metrics, lookup)
	if err != nil || len(refs) == 0 || !stale {
		return Target{}, false
	}
	t, ok, _, err := r.decide("", refs)
	return t, ok && err == nil
}

var errNotCached = errors.New("API name not in the cache")

// metricsOf returns the dimensions of each metric of an alarm.
func metricsOf(dims Dimensions) []Dimensions {
	if m, ok := dims.(MetricDimensions); ok {
		if n := m.MetricCount(); n > 0 {
			out := make([]Dimensions, n)
			for i := range out {
				out[i] = metricView{m, i}
			}
			return out
		}
	}
	return []Dimensions{dims}
}

type metricView struct {
	m MetricDimensions
	i int
}

func (v metricView) Dimension(name string) (string, bool) { return v.m.MetricDimension(v.i, name) }

// restFirst: a metric has ApiName and there are REST targets, so the metrics decide before
// ALARM_TARGETS is read.
func (r *Resolver) restFirst(metrics []Dimensions) bool {
	if !r.hasKind(KindRESTStage) {
		return false
	}
	for _, m := range metrics {
		if _, has := m.Dimension("ApiName"); has {
			return true
		}
	}
	return false
}

// ref is the resource one metric names.
type ref struct {
	kind    Kind
	what    string   // the dimensions naming it: `ApiName="orders" Stage="prod"`
	matches []Target // the allowed targets it names; several for a metric of a whole API, function or distribution
	why     string   // when matches is empty: why it is no target, as the ignored alarm's reason says it
	note    string   // the same, short, for an AmbiguousError's candidates
}

// maxAPINames bounds the distinct ApiName values one alarm may make Rewind look up (CloudWatch
// allows 10 metrics in an alarm): more is an ambiguous alarm, decided without listing APIs again
// for each name.
const maxAPINames = 10

// refs returns the resource each metric names, skipping metrics that name none. lookup gives the
// ids of the REST APIs called a name; each name is looked up once.
func (r *Resolver) refs(alarmName string, metrics []Dimensions, lookup func(string) ([]string, error)) ([]ref, error) {
	ids := map[string][]string{}
	var out []ref
	for _, d := range metrics {
		apiName, hasAPIName := d.Dimension("ApiName")
		if !hasAPIName || !r.hasKind(KindRESTStage) {
			if rf, named := r.byDimensions(alarmName, d); named {
				out = append(out, rf)
			}
			continue
		}
		got, seen := ids[apiName]
		if !seen {
			if len(ids) == maxAPINames {
				return nil, &AmbiguousError{Alarm: alarmName, Reason: fmt.Sprintf("its metrics name more than %d APIs", maxAPINames),
					Candidates: apiNamesOf(ids), Hint: "alarm on one API per alarm"}
			}
			var err error
			if got, err = lookup(apiName); err != nil {
				return nil, err
			}
			ids[apiName] = got
		}
		rf, err := r.byAPIID(alarmName, apiName, got, d)
		if err != nil {
			return nil, err
		}
		out = append(out, rf)
	}
	return out, nil
}

// apiNamesOf lists the API names looked up, sorted, as dimensions.
func apiNamesOf(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, "ApiName="+quote(k))
	}
	slices.Sort(keys)
	return keys
}

// decide answers from the resources an alarm's metrics name (at least one).
func (r *Resolver) decide(alarmName string, refs []ref) (Target, bool, string, error) {
	var cands []Target
	var others []string
	wide := ""
	for _, rf := range refs {
		if len(rf.matches) == 0 {
			if d := rf.what + " (" + rf.note + ")"; !slices.Contains(others, d) {
				others = append(others, d)
			}
			continue
		}
		if len(rf.matches) > 1 && wide == "" {
			wide = rf.what
		}
		for _, t := range rf.matches {
			if !slices.ContainsFunc(cands, func(c Target) bool { return c.String() == t.String() }) {
				cands = append(cands, t)
			}
		}
	}
	switch {
	case len(cands) == 1 && len(others) == 0:
		return cands[0], true, "", nil
	case len(cands) == 0:
		whys := make([]string, 0, len(refs))
		for _, rf := range refs {
			if !slices.Contains(whys, rf.why) {
				whys = append(whys, rf.why)
			}
		}
		return Target{}, false, strings.Join(whys, "; "), nil
	}
	e := &AmbiguousError{Alarm: alarmName, Targets: cands}
	for _, t := range cands {
		e.Candidates = append(e.Candidates, t.String())
	}
	e.Candidates = append(e.Candidates, others...)
	switch {
	case wide != "" && len(refs) == 1:
		e.Reason = fmt.Sprintf("its metric (%s) covers %d targets", wide, len(cands))
	case len(others) == 0:
		e.Reason = fmt.Sprintf("its metrics name %d targets", len(cands))
	default:
		e.Reason = "its metrics name a target and resources that are not targets"
	}
	e.Hint = "alarm on one target per alarm: ApiName with Stage, ApiId with Stage, FunctionName with Resource"
	if !slices.ContainsFunc(refs, func(rf ref) bool { return rf.kind == KindRESTStage }) {
		// Without ApiName, ALARM_TARGETS is read before the metrics (Resolve's step 2).
		e.Hint += "; or map the alarm to one target with ALARM_TARGETS"
	}
	return Target{}, false, "", e
}

// byDimensions finds the resource one metric names by the dimensions of the kinds other than REST
// (with REST targets, ApiName is read by byAPIID). named=false: the metric has none of them, or
// only of kinds with no target in TARGETS.
func (r *Resolver) byDimensions(alarmName string, dims Dimensions) (rf ref, named bool) {
	keep := func(k Kind, ok func(Target) bool) []Target {
		var out []Target
		for _, t := range r.targets {
			if t.Kind == k && ok(t) {
				out = append(out, t)
			}
		}
		return out
	}
	switch {
	case r.has(dims, "ApiId", KindHTTPStage):
		id, _ := dims.Dimension("ApiId")
		stage, hasStage := dims.Dimension("Stage")
		rf = ref{kind: KindHTTPStage, what: "dimensions ApiId=" + quote(id)}
		if hasStage {
			rf.what += " Stage=" + quote(stage)
		}
		rf.matches = keep(KindHTTPStage, func(t Target) bool { return t.Resource == id && (!hasStage || t.Slot == stage) })
	case r.has(dims, "FunctionName", KindLambdaAlias):
		// Resource is "function:alias" (or "function:version") on a per-alias metric; a metric of the
		// whole function has no Resource and names every alias of it that is a target.
		fn, _ := dims.Dimension("FunctionName")
		res, hasRes := dims.Dimension("Resource")
		rf = ref{kind: KindLambdaAlias, what: "dimensions FunctionName=" + quote(fn)}
		if hasRes {
			rf.what += " Resource=" + quote(res)
		}
		rf.matches = keep(KindLambdaAlias, func(t Target) bool { return t.Resource == fn && (!hasRes || res == fn+":"+t.Slot) })
	case r.has(dims, "DistributionId", KindCloudFront):
		id, _ := dims.Dimension("DistributionId")
		rf = ref{kind: KindCloudFront, what: "dimension DistributionId=" + quote(id)}
		rf.matches = keep(KindCloudFront, func(t Target) bool { return t.Resource == id })
	default:
		return ref{}, false
	}
	if len(rf.matches) == 0 {
		// The alarm is about a resource of a kind Rewind protects, but not one it may move: it must not
		// fall through to "the single target", which is some other resource.
		rf.why = fmt.Sprintf("alarm %s: %s match no %s target in TARGETS and no ALARM_TARGETS mapping", quote(alarmName), rf.what, rf.kind)
		rf.note = fmt.Sprintf("no %s target in TARGETS", rf.kind)
	}
	return rf, true
}

// has: dims has the dimension name and TARGETS has a target of kind k.
func (r *Resolver) has(dims Dimensions, name string, k Kind) bool {
	_, ok := dims.Dimension(name)
	return ok && r.hasKind(k)
}

func (r *Resolver) hasKind(k Kind) bool {
	if slices.Contains(r.kinds, k) {
		return true
	}
	for _, t := range r.targets {
		if t.Kind == k {
			return true
		}
	}
	return false
}

// byAPIID finds the resource one metric with ApiName names, among the REST APIs named apiName
// (ids) and its Stage dimension. Two APIs sharing the name is ambiguous: an error.
func (r *Resolver) byAPIID(alarmName, apiName string, ids []string, dims Dimensions) (ref, error) {
	stage, hasStage := dims.Dimension("Stage")
	rf := ref{kind: KindRESTStage, what: "dimensions ApiName=" + quote(apiName)}
	if hasStage {
		rf.what += " Stage=" + quote(stage)
	}
	switch len(ids) {
	case 0:
		rf.why = fmt.Sprintf("no REST API is named %s in this account and region", quote(apiName))
		rf.note = "no REST API of that name in this account and region"
		return rf, nil
	case 1:
	default:
		e := &AmbiguousError{Alarm: alarmName, Reason: fmt.Sprintf("API name %s is ambiguous: REST APIs %s share it", quote(apiName), strings.Join(ids, ", ")),
			Hint: "give the APIs different names"}
		for _, id := range ids {
			name := id
			if hasStage {
				name += "/" + stage
			}
			e.Candidates = append(e.Candidates, name)
			for _, t := range r.targets {
				if t.Kind == KindRESTStage && t.Resource == id && (!hasStage || t.Slot == stage) {
					e.Targets = append(e.Targets, t)
				}
			}
		}
		return ref{}, e
	}
	for _, t := range r.targets {
		if t.Kind == KindRESTStage && t.Resource == ids[0] && (!hasStage || t.Slot == stage) {
			rf.matches = append(rf.matches, t)
		}
	}
	if len(rf.matches) == 0 {
		if hasStage {
			rf.why = fmt.Sprintf("%s/%s (API %s) is not in TARGETS", ids[0], quote(stage), quote(apiName))
			rf.note = fmt.Sprintf("API %s, not in TARGETS", ids[0])
		} else {
			rf.why = fmt.Sprintf("API %s (%s) has no stage in TARGETS", quote(apiName), ids[0])
			rf.note = fmt.Sprintf("API %s, no stage of it in TARGETS", ids[0])
		}
	}
	return rf, nil
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
