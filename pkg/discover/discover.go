// Package discover finds the stages TARGETS' tag selectors name ("rest:tag:rewind=protect") with the
// Resource Groups Tagging API's GetResources, keeps the answer for a few minutes and refreshes it in
// the background: a target.Scope whose answer changes as stages are tagged, untagged and deleted.
//
// A warm instance never waits on a refresh while it has an answer; a cold one lists once, at first
// need. A name not in the answer (an alarm or a command about a stage tagged a moment ago) lists
// again at once, at most once per RecheckEvery. When discovery has no usable answer, the explicit
// targets are still served and everything else is an error (see target.Resolver.Resolve).
package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	"github.com/rewind-sre/rewind/pkg/internal/text"
	"github.com/rewind-sre/rewind/pkg/target"
)

// API is the call discovery makes.
type API interface {
	GetResources(ctx context.Context, in *rgt.GetResourcesInput, optFns ...func(*rgt.Options)) (*rgt.GetResourcesOutput, error)
}

var _ API = (*rgt.Client)(nil)

const (
	// TTL is how long an answer is served before a background refresh: a tag added is seen within
	// it (or at once, by the alarm or command that names the stage), a tag removed drops out after it.
	TTL = 5 * time.Minute
	// RecheckEvery bounds the listings a name not in the answer causes: at most one per interval.
	RecheckEvery = 10 * time.Second
	// MaxStale is the age past which an answer no refresh could replace is no longer used: a stage
	// untagged an hour ago must not stay Rewind's because the Tagging API has been failing since.
	MaxStale = time.Hour
	// PerPage is GetResources' largest page (ResourcesPerPage: 1 to 100).
	PerPage = 100
	// maxPages bounds one key's listing: 10,000 stages.
	maxPages = 100
	// refreshTimeout bounds a background refresh, which outlives the invocation that started it.
	refreshTimeout = 20 * time.Second
)

// Options configure a Scope; the zero value of each field is its default.
type Options struct {
	Region       string // the function's region: stages of another region are never targets
	TTL          time.Duration
	RecheckEvery time.Duration
	MaxStale     time.Duration
	Now          func() time.Time
	Log          *slog.Logger
}

// Skipped is a stage a selector matched that is not a target, and why.
type Skipped struct {
	ARN    string
	Reason string
}

// Answer is one listing: the stages the selectors found (without the explicit targets), sorted by
// name, and those matched but refused.
type Answer struct {
	Targets []target.Target
	Skipped []Skipped
	Calls   int       // GetResources calls the listing made
	At      time.Time // when it began
}

// Scope is TARGETS' explicit targets and the stages its selectors find now (a target.Scope).
type Scope struct {
	api  API
	spec target.Spec
	o    Options

	listing sync.Mutex // one listing at a time
	bg      sync.WaitGroup

	mu         sync.Mutex
	answer     *Answer         // the last good listing; nil: none yet
	targets    []target.Target // the explicit targets and answer's, merged once per listing
	err        error           // the last listing's error; nil after a good one
	tried      time.Time       // when the last listing began
	done       int             // listings finished, for callers that waited on another's
	refreshing bool
}

var _ target.Scope = (*Scope)(nil)

// New builds a Scope over spec (TARGETS read). It makes no call until first asked.
func New(api API, spec target.Spec, o Options) *Scope {
	if o.TTL == 0 {
		o.TTL = TTL
	}
	if o.RecheckEvery == 0 {
		o.RecheckEvery = RecheckEvery
	}
	if o.MaxStale == 0 {
		o.MaxStale = MaxStale
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return &Scope{api: api, spec: spec, o: o}
}

// Kinds are the explicit targets' kinds and the selectors'.
func (s *Scope) Kinds() []target.Kind { return s.spec.Kinds() }

// Dynamic is true when TARGETS has selectors.
func (s *Scope) Dynamic() bool { return len(s.spec.Selectors) > 0 }

// Peek is the explicit targets and the last answer's, without a call.
func (s *Scope) Peek() []target.Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answer == nil {
		return slices.Clone(s.spec.Explicit)
	}
	return s.targets
}

// Now is the current answer. No answer yet: list now (a failed listing is not retried for
// RecheckEvery). An answer older than the TTL: served, and a refresh starts in the background. An
// answer older than MaxStale: list now, and when that fails serve the explicit targets only.
func (s *Scope) Now(ctx context.Context) ([]target.Target, error) {
	if !s.Dynamic() {
		return s.spec.Explicit, nil
	}
	s.mu.Lock()
	now := s.o.Now()
	a := s.answer
	switch {
	case a != nil && now.Sub(a.At) < s.o.TTL:
	case a != nil && now.Sub(a.At) < s.o.MaxStale:
		// One refresh at a time, and after a failed one not again for RecheckEvery.
		if !s.refreshing && now.Sub(s.tried) >= s.o.RecheckEvery {
			s.refreshing = true
			s.bg.Add(1)
			go s.background(context.WithoutCancel(ctx))
		}
	case s.err != nil && now.Sub(s.tried) < s.o.RecheckEvery:
		err := s.err
		s.mu.Unlock()
		return slices.Clone(s.spec.Explicit), err
	default:
		s.mu.Unlock()
		if err := s.Refresh(ctx); err != nil {
			return slices.Clone(s.spec.Explicit), err
		}
		return s.Peek(), nil
	}
	defer s.mu.Unlock()
	return s.targets, nil
}

func (s *Scope) background(ctx context.Context) {
	defer s.bg.Done()
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	_ = s.Refresh(ctx) // logged by Refresh; the answer before it is served until MaxStale
	s.mu.Lock()
	s.refreshing = false
	s.mu.Unlock()
}

// Wait waits for a background refresh under way to end (tests and the bench).
func (s *Scope) Wait() { s.bg.Wait() }

// Recheck lists again unless a listing began less than RecheckEvery ago; then it answers that
// listing's error (a failed listing cannot say the name is not a tagged stage).
func (s *Scope) Recheck(ctx context.Context) (bool, error) {
	if !s.Dynamic() {
		return false, nil
	}
	s.mu.Lock()
	if !s.tried.IsZero() && s.o.Now().Sub(s.tried) < s.o.RecheckEvery {
		err := s.err
		s.mu.Unlock()
		return false, err
	}
	s.mu.Unlock()
	return true, s.Refresh(ctx)
}

// Refresh lists now and keeps the answer; a failed listing keeps the answer before it. A caller
// that waited on another's listing takes its result instead of listing again.
func (s *Scope) Refresh(ctx context.Context) error {
	s.mu.Lock()
	seen := s.done
	s.mu.Unlock()
	s.listing.Lock()
	defer s.listing.Unlock()
	s.mu.Lock()
	if s.done != seen {
		err := s.err
		s.mu.Unlock()
		return err
	}
	s.tried = s.o.Now()
	s.mu.Unlock()
	a, err := s.List(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done++
	s.err = err
	if err != nil {
		s.o.Log.WarnContext(ctx, "target discovery failed", "error", err.Error(), "selectors", len(s.spec.Selectors))
		return err
	}
	s.answer, s.targets = &a, s.merged(a)
	for _, sk := range a.Skipped {
		s.o.Log.WarnContext(ctx, "tagged stage is not a target", "arn", sk.ARN, "reason", sk.Reason)
	}
	s.o.Log.DebugContext(ctx, "targets discovered", "targets", len(a.Targets), "skipped", len(a.Skipped), "calls", a.Calls)
	return nil
}

// merged is the explicit targets, then a's that are not also explicit (explicit wins: it may pin a
// fallback), clipped so that a caller's append never writes into the next caller's answer.
func (s *Scope) merged(a Answer) []target.Target {
	out := slices.Clone(s.spec.Explicit)
	explicit := make(map[string]bool, len(out))
	for _, t := range out {
		explicit[t.String()] = true
	}
	for _, t := range a.Targets {
		if !explicit[t.String()] {
			out = append(out, t)
		}
	}
	return slices.Clip(out)
}

// ErrDiscovery marks a listing that failed.
var ErrDiscovery = errors.New("target discovery failed")

// List makes one listing: for each distinct tag key of the selectors, every page of GetResources
// over the selectors' stage types, the key, and its values (AWS ANDs filters of different keys
// and ORs the values of one key, so one call per key keeps selectors of different keys apart).
func (s *Scope) List(ctx context.Context) (Answer, error) {
	a := Answer{At: s.o.Now()}
	found := map[string]bool{}
	for _, key := range s.keys() {
		in := s.input(key)
		p := rgt.NewGetResourcesPaginator(s.api, in)
		for pages := 0; p.HasMorePages(); pages++ {
			if pages == maxPages {
				return Answer{}, fmt.Errorf("%w: tag key %s: more than %d pages of %d stages", ErrDiscovery, quote(key), maxPages, PerPage)
			}
			page, err := p.NextPage(ctx)
			a.Calls++
			if err != nil {
				return Answer{}, fmt.Errorf("%w: tagging GetResources for tag key %s: %w", ErrDiscovery, quote(key), err)
			}
			for _, m := range page.ResourceTagMappingList {
				s.take(&a, found, m)
			}
		}
	}
	slices.SortFunc(a.Targets, func(x, y target.Target) int {
		return cmpString(x.String(), y.String())
	})
	return a, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// keys are the selectors' distinct tag keys, in TARGETS' order.
func (s *Scope) keys() []string {
	var keys []string
	for _, sel := range s.spec.Selectors {
		if !slices.Contains(keys, sel.Key) {
			keys = append(keys, sel.Key)
		}
	}
	return keys
}

// input is the request for one key: its selectors' kinds and values (none: any value).
func (s *Scope) input(key string) *rgt.GetResourcesInput {
	var types, values []string
	anyValue := false
	for _, sel := range s.spec.Selectors {
		if sel.Key != key {
			continue
		}
		if t := typeOf(sel.Kind); !slices.Contains(types, t) {
			types = append(types, t)
		}
		anyValue = anyValue || sel.AnyValue
		if !sel.AnyValue && !slices.Contains(values, sel.Value) {
			values = append(values, sel.Value)
		}
	}
	f := rgttypes.TagFilter{Key: aws.String(key)}
	if !anyValue {
		f.Values = values
	}
	return &rgt.GetResourcesInput{ResourceTypeFilters: types, TagFilters: []rgttypes.TagFilter{f}, ResourcesPerPage: aws.Int32(PerPage)}
}

// take adds one resource of a page to a: a target, skipped with a reason, or nothing (a stage of
// another kind, or whose value the request's OR of values matched for another selector's kind).
func (s *Scope) take(a *Answer, found map[string]bool, m rgttypes.ResourceTagMapping) {
	arn := aws.ToString(m.ResourceARN)
	tags := make(map[string]string, len(m.Tags))
	for _, t := range m.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	st, err := parseStageARN(arn)
	if err != nil {
		a.Skipped = append(a.Skipped, Skipped{ARN: arn, Reason: err.Error()})
		return
	}
	if !slices.ContainsFunc(s.spec.Selectors, func(sel target.Selector) bool { return sel.Kind == st.kind && sel.Matches(tags) }) {
		return
	}
	if s.o.Region != "" && st.region != s.o.Region {
		a.Skipped = append(a.Skipped, Skipped{ARN: arn, Reason: fmt.Sprintf("the stage is in region %s; this function serves %s", st.region, s.o.Region)})
		return
	}
	t := target.Target{Kind: st.kind, Resource: st.api, Slot: st.stage}
	if fb, ok := tags[target.FallbackTag]; ok {
		if !target.ValidID(fb) {
			a.Skipped = append(a.Skipped, Skipped{ARN: arn, Reason: fmt.Sprintf("tag %s=%s is not a deployment id (want 1-64 letters or digits): fix or remove it",
				target.FallbackTag, quote(fb))})
			return
		}
		t.Fallback = fb
	}
	if !found[t.String()] {
		found[t.String()] = true
		a.Targets = append(a.Targets, t)
	}
}

func quote(s string) string { return text.Quote(s, 128) }

// Pages is how many GetResources calls one key's listing of n stages makes: ⌈n/PerPage⌉, at least 1.
func Pages(n int) int { return max(1, (n+PerPage-1)/PerPage) }
