// Package rollback decides what to do with a stage when an alarm fires or a human asks, and carries it
// out through a Strategy. The decision (Decide*) is a pure function of the trigger and the observed
// state; the Strategy only reads and writes, so the rules are testable without any AWS wire.
package rollback

import (
	"context"
	"errors"
	"time"

	"github.com/rewind-sre/rewind/pkg/target"
)

// Strategy reads and switches one kind of target (REST stage, HTTP API stage, ...). It never writes
// anything on the target but the switch: Rewind's memory lives in its Store.
type Strategy interface {
	// Name is the strategy's name in logs and answers.
	Name() string
	// Read reads what is live and, withHistory, the complete deployment history (else State.History
	// is nil). It leaves State.Memory empty: the engine reads that from its Store.
	Read(ctx context.Context, t target.Target, withHistory bool) (State, error)
	// Switch carries out a plan's change of the target (the deployment it serves, its canary) and
	// nothing else. A plan that was already carried out (a retry after a lost answer) is no error.
	// Where the API can make the write conditional, a target that no longer serves p.From (or, for a
	// canary rollback, p.To) is left alone and the error wraps ErrChanged.
	Switch(ctx context.Context, t target.Target, p Plan) error
}

// ErrChanged marks a switch refused because the target changed since it was read: someone else's
// change stands, and the decision is made again on what is live now.
var ErrChanged = errors.New("changed since it was read")

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
	Memory      Memory       // what Rewind knows of the target, from its Store
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
	Memory       Memory // the memory to record once the change is made
}
