package responder

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rewind-sre/rewind/pkg/event"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

func (h *Handler) command(ctx context.Context, c event.Command) []rollback.Result {
	dryRun := c.DryRun != nil && *c.DryRun
	if c.Action == rollback.ActionObserve && c.Target == "" {
		return h.observeAll(ctx, dryRun, rollback.ByManual)
	}
	if c.Action == rollback.ActionCheck && c.Target == "" {
		targets, err := h.resolver.Scope().Now(ctx)
		if err != nil {
			return append(h.check(ctx, targets), discoveryFailed(c.Action, err))
		}
		return h.check(ctx, targets)
	}
	t, err := h.commandTarget(ctx, c)
	if errors.Is(err, errDiscovery) {
		return []rollback.Result{discoveryFailed(c.Action, err)}
	}
	if err != nil {
		return []rollback.Result{{Action: c.Action, Outcome: rollback.OutcomeFailed, Code: rollback.CodeTargetNotAllowed, Reason: err.Error()}}
	}
	switch c.Action {
	case rollback.ActionStatus:
		return []rollback.Result{h.engines[t.Kind].Status(ctx, t)}
	case rollback.ActionCheck:
		return h.check(ctx, []target.Target{t})
	case rollback.ActionRollback, rollback.ActionDeploy, rollback.ActionObserve, rollback.ActionClear:
		return []rollback.Result{h.do(ctx, t, rollback.Request{Action: c.Action, DeploymentID: c.DeploymentID,
			DryRun: dryRun, Trigger: rollback.Trigger{By: rollback.ByManual, Force: c.Force}})}
	}
	return []rollback.Result{{Action: c.Action, Target: t.String(), Outcome: rollback.OutcomeFailed, Code: rollback.CodeUnknownAction,
		Reason: fmt.Sprintf("unknown action %s", quote(string(c.Action)))}}
}

// commandTarget finds the command's target in the allow-list; force never widens it.
// A name not in the scope's answer lists the tagged stages again (bounded) before it is refused.
func (h *Handler) commandTarget(ctx context.Context, c event.Command) (target.Target, error) {
	scope := h.resolver.Scope()
	if c.Target == "" {
		targets := scope.Peek()
		if len(targets) == 1 && !scope.Dynamic() { // with selectors, "the one target" changes as tags do
			return targets[0], nil
		}
		return target.Target{}, fmt.Errorf("%d targets are configured: name one with \"target\" (one of %s)", len(targets), list(targets))
	}
	t, ok, err := target.FindIn(ctx, scope, c.Target)
	if err != nil {
		return target.Target{}, fmt.Errorf("%w: target %s is not an explicit target, and the tagged stages could not be listed: %w", errDiscovery, quote(c.Target), err)
	}
	if !ok {
		return target.Target{}, fmt.Errorf("target %s is not in TARGETS (%s)", quote(c.Target), list(scope.Peek()))
	}
	return t, nil
}

// errDiscovery marks a command refused because the tagged stages could not be listed.
var errDiscovery = errors.New("discovery failed")

// discoveryFailed is the failed result of an answer the tagged stages could not be listed for: the
// invocation fails (a schedule's is retried), and the reason names the listing's error.
func discoveryFailed(a rollback.Action, err error) rollback.Result {
	return rollback.Result{Action: a, Outcome: rollback.OutcomeFailed, Code: rollback.CodeDiscoveryFailed,
		Reason: fmt.Sprintf("TARGETS' tag selectors: %v", err)}
}

// list names the targets, the first maxListed of them (tag selectors can find hundreds).
func list(ts []target.Target) string {
	s := make([]string, 0, min(len(ts), maxListed)+1)
	for _, t := range ts[:min(len(ts), maxListed)] {
		s = append(s, t.String())
	}
	if len(ts) > maxListed {
		s = append(s, fmt.Sprintf("and %d more", len(ts)-maxListed))
	}
	return strings.Join(s, ", ")
}

const maxListed = 20
