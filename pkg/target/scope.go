package target

import (
	"context"
	"fmt"
	"slices"
)

// Scope is the targets Rewind may act on now: TARGETS' explicit targets and, when TARGETS has
// selectors, the stages discovery last found carrying their tags (pkg/discover). The Resolver and
// the handler's allow-list read it; a fixed list is Static.
type Scope interface {
	// Now is the current answer. It does not wait on a refresh when there is an answer (a cold
	// instance lists once). err: discovery has no usable answer; the explicit targets are still
	// returned, so alarms for them still act.
	Now(ctx context.Context) ([]Target, error)
	// Peek is the current answer without any call: nothing discovered yet is only the explicit ones.
	Peek() []Target
	// Recheck lists again for a name the answer does not hold (a stage tagged a moment ago), at most
	// once per a bounded interval; listed says whether it did. A Static scope never lists.
	Recheck(ctx context.Context) (listed bool, err error)
	// Kinds are the kinds the scope may hold, now or after a refresh.
	Kinds() []Kind
	// Dynamic: the scope changes as tags do (TARGETS has selectors).
	Dynamic() bool
}

// Static is a scope of a fixed list of targets (TARGETS without selectors).
func Static(ts []Target) Scope { return static(ts) }

type static []Target

func (s static) Now(context.Context) ([]Target, error) { return s, nil }
func (s static) Peek() []Target                        { return s }
func (s static) Recheck(context.Context) (bool, error) { return false, nil }
func (s static) Dynamic() bool                         { return false }
func (s static) Kinds() []Kind                         { return Spec{Explicit: s}.Kinds() }

// NewScopedResolver builds a Resolver over a scope whose answer may change between alarms.
func NewScopedResolver(scope Scope, mappings []Mapping, names *NameCache) *Resolver {
	return &Resolver{scope: scope, kinds: scope.Kinds(), mappings: mappings, names: names}
}

// Scope is the resolver's scope: the handler's allow-list for commands is the same one.
func (r *Resolver) Scope() Scope { return r.scope }

// with is r answering from the targets ts.
func (r *Resolver) with(ts []Target) *Resolver {
	c := *r
	c.targets = ts
	return &c
}

// Resolve returns the target an alarm concerns (see resolve for the rules), from the scope's current
// answer. An alarm the answer has no target for, when the scope is dynamic, makes the scope list
// again (bounded), so a stage tagged since the last listing is acted on at first sight. When
// discovery has no answer and the alarm concerns no explicit target, it may concern a tagged stage:
// that is an error (the invocation fails and Lambda retries), never an ignored alarm.
func (r *Resolver) Resolve(ctx context.Context, alarmName string, dims Dimensions) (t Target, ok bool, reason string, err error) {
	scopeErr, relistErr := lookAgain(ctx, r.scope, func(ts []Target) bool {
		t, ok, reason, err = r.with(ts).resolve(ctx, alarmName, dims)
		return ok || err != nil
	})
	switch {
	case relistErr != nil:
		return Target{}, false, "", fmt.Errorf("alarm %s: no target in TARGETS' last answer, and listing the tagged stages again failed: %w", quote(alarmName), relistErr)
	case !ok && err == nil && scopeErr != nil:
		return Target{}, false, "", fmt.Errorf("alarm %s: no explicit target, and it may concern a tagged stage: %w", quote(alarmName), scopeErr)
	}
	return t, ok, reason, err
}

// FindIn finds the target named s in the scope's answer; a name not in it makes a dynamic scope
// list again (bounded) before it is refused. err: the name is in no answer and discovery failed.
func FindIn(ctx context.Context, sc Scope, s string) (Target, bool, error) {
	var t Target
	var ok bool
	scopeErr, relistErr := lookAgain(ctx, sc, func(ts []Target) bool {
		t, ok = Find(ts, s)
		return ok
	})
	switch {
	case ok:
		return t, true, nil
	case relistErr != nil:
		return Target{}, false, relistErr
	}
	return Target{}, false, scopeErr
}

// lookAgain runs look over the scope's answer and, when it finds nothing in a dynamic scope, once more
// after the scope lists again (Recheck, bounded). scopeErr is the last answer's own error (discovery
// has no usable answer); relistErr a re-list that failed. A Static scope is looked at once.
func lookAgain(ctx context.Context, sc Scope, look func([]Target) bool) (scopeErr, relistErr error) {
	ts, scopeErr := sc.Now(ctx)
	if look(ts) || !sc.Dynamic() {
		return nil, nil
	}
	listed, err := sc.Recheck(ctx)
	if err != nil {
		return scopeErr, err
	}
	if listed {
		ts, scopeErr = sc.Now(ctx)
		look(ts)
	}
	return scopeErr, nil
}

// Names lists the targets' names, sorted.
func Names(ts []Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	slices.Sort(out)
	return out
}
