// Package rollback decides what to do with a stage when an alarm fires or a human asks, and carries it
// out through a Strategy. The decision (Decide*) is a pure function of the trigger and the observed
// state; the Strategy only reads and writes, so the rules are testable without any AWS wire.
package rollback

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/rewind-sre/rewind/pkg/target"
)

// Strategy reads and writes one kind of target (REST stage, HTTP API stage, ...).
type Strategy interface {
	// Name is the strategy's name in logs and answers.
	Name() string
	// Observe reads what is live and the complete deployment history, with Rewind's memory.
	Observe(ctx context.Context, t target.Target) (State, error)
	// Peek reads what is live and Rewind's memory, without the history (State.History is nil).
	Peek(ctx context.Context, t target.Target) (State, error)
	// Apply carries out a plan in one atomic write where the API allows it: the switch and the
	// memory that records it land together or not at all.
	Apply(ctx context.Context, t target.Target, p Plan) error
}

// ErrNotFound marks a target or deployment that does not exist (wrapped by strategies).
var ErrNotFound = errors.New("not found")

// Deployment is one entry of a target's deployment history.
type Deployment struct {
	ID          string    `json:"id"`
	CreatedDate time.Time `json:"createdDate"`
	Description string    `json:"description"`
}

// Canary is a stage's canary: a share of traffic served by another deployment.
type Canary struct {
	DeploymentID   string  `json:"deploymentId"`
	PercentTraffic float64 `json:"percentTraffic"`
}

// State is what a Strategy observed.
type State struct {
	Live        string       // deployment the stage serves
	Canary      *Canary      // nil when the stage has none
	LastUpdated time.Time    // when the stage last changed; zero when the API does not say
	History     []Deployment // complete, in no particular order
	Memory      Memory       // what Rewind recorded on the target
	// Progress is how far the target's last change has spread where the service says so (CloudFront:
	// "InProgress" until every edge has it, then "Deployed"); empty for targets that switch at once.
	Progress string
}

// active reports whether the canary really sends traffic to another deployment.
func (c *Canary) active(live string) bool {
	return c != nil && c.DeploymentID != "" && c.DeploymentID != live && c.PercentTraffic > 0
}

// Plan is one decided change.
type Plan struct {
	Kind         ChangeKind
	From, To     string
	Rule         Rule
	RemoveCanary bool   // the write must drop canarySettings (AWS refuses deploymentId changes otherwise)
	Memory       Memory // the memory to record with the switch
	Prior        Memory // the memory as observed, so a strategy can tell what to clear
}

// MemoryOver is the memory to write over cur, the memory a strategy has just read again before its
// write: the parts the plan changes from what it decided on (Prior), and cur's for the rest. A
// concurrent instance's write to another part (an observe's timeline, a rollback's known-bad list)
// survives, as it does with the REST stage's PATCH of only the variables a plan changes.
func (p Plan) MemoryOver(cur Memory) Memory {
	out := cur.clone()
	if !slices.Equal(p.Memory.Bad, p.Prior.Bad) {
		out.Bad = slices.Clone(p.Memory.Bad)
	}
	if !slices.Equal(p.Memory.Incidents, p.Prior.Incidents) {
		out.Incidents = slices.Clone(p.Memory.Incidents)
	}
	if !sameChange(p.Memory.Last, p.Prior.Last) {
		out.Last = p.Memory.Last
	}
	if !slices.EqualFunc(p.Memory.Timeline, p.Prior.Timeline, func(a, b Sighting) bool {
		return a.Deployment == b.Deployment && a.How == b.How && a.Since.Equal(b.Since)
	}) {
		out.Timeline = slices.Clone(p.Memory.Timeline)
	}
	return out
}

func sameChange(a, b *Change) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.At, y.At = time.Time{}, time.Time{}
	return x == y && a.At.Equal(b.At)
}
