package rollback

import (
	"context"
	"errors"
	"time"

	"github.com/rewind-sre/rewind/pkg/target"
)

// Store keeps Rewind's memory of each target, one record per target, outside the target itself: a
// release tool that rewrites the target cannot erase what Rewind knows is bad, and the only thing
// Rewind writes on the target is the switch. Every write is a compare-and-set against the version
// read, so two instances deciding at once cannot both act: one wins, the other reads again.
// pkg/memory implements it over DynamoDB.
type Store interface {
	// Load reads t's record; a target never written has the zero Record (Version 0). A record that
	// cannot be read is an error: Rewind must not act on a memory it cannot see.
	Load(ctx context.Context, t target.Target) (Record, error)
	// Save writes next as t's record if the stored one is still at prev's version, and returns next
	// with its new version. Another writer's record in between is ErrConflict.
	Save(ctx context.Context, t target.Target, prev, next Record) (Record, error)
	// Audit keeps one entry of t's audit log.
	Audit(ctx context.Context, t target.Target, e Entry) error
	// Recent lists t's newest n audit entries, newest first.
	Recent(ctx context.Context, t target.Target, n int) ([]Entry, error)
}

// ErrConflict marks a Save that lost to another writer.
var ErrConflict = errors.New("another writer changed it first")

// Record is one target's stored memory, an open claim if a change is under way, and the version
// every Save compares against.
type Record struct {
	Memory  Memory
	Claim   *Claim
	Version int64 // 0: never written
	// Switched is when the last switch Rewind recorded had landed, by the wall clock of the instance
	// that confirmed it (zero before the first): a reader uses it to tell whether its read of the
	// target could predate that switch.
	Switched time.Time
}

// Claim is a change begun and not yet confirmed: written before the switch, replaced by the memory
// it carries once the switch is made. A claim left open by an instance that died is finished (the
// target serves Plan.To: the switch happened) or abandoned (it does not) by the next one to read it,
// once Expires has passed.
type Claim struct {
	ID      string    // unique per claim
	Plan    Plan      // what is being done; Plan.Memory is what to record when it is done
	By      By        // who asked
	Alarm   string    // the alarm, for alarms
	At      time.Time // when the decision was made (the decision clock)
	Expires time.Time // the claimer's deadline (wall clock): after it, the claimer is gone
}

// Entry is one line of a target's audit log: every change, every failure, every dry-run plan.
type Entry struct {
	At       time.Time `json:"at"`
	Action   Action    `json:"action"`
	Outcome  Outcome   `json:"outcome"`
	Code     Code      `json:"code"`
	From     string    `json:"from,omitempty"`
	To       string    `json:"to,omitempty"`
	Rule     Rule      `json:"rule,omitempty"`
	By       By        `json:"by,omitempty"`
	Alarm    string    `json:"alarm,omitempty"`
	Incident string    `json:"incident,omitempty"`
	DryRun   bool      `json:"dryRun,omitempty"`
	Reason   string    `json:"reason"`
}

// AuditShown is how many audit entries a status answer shows.
const AuditShown = 20

// incident is the incident the claimed change was for, "" for a manual one.
func (c *Claim) incident() string {
	if last := c.Plan.Memory.Last; last != nil {
		return last.Incident
	}
	return ""
}
