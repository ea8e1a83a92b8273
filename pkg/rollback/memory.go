package rollback

import (
	"slices"
	"time"
)

// Memory is what Rewind knows about one target, kept in its own table (see Store), never on the
// target: which deployments it rolled back from, which incidents it has handled, its last change,
// the deployments it has seen live there, and the automatic rollbacks the loop guard counts.
type Memory struct {
	Bad       []string    // deployments Rewind rolled back from, oldest first, at most MaxBad
	Incidents []string    // incident keys already handled, oldest first, at most MaxIncidents
	Last      *Change     // the last change Rewind made, nil before the first
	Timeline  []Sighting  // deployments seen live on this target, oldest first, at most MaxTimeline
	Guard     []time.Time // automatic rollbacks since the last clear, oldest first, at most MaxGuard
	// Planned is the last dry-run plan reported (PlanKey), so the same plan is notified once.
	Planned string
}

// Sighting is one deployment seen serving a target: the target's own history, which API Gateway
// does not keep (deployments belong to the API, not to a stage).
type Sighting struct {
	Deployment string    `json:"deployment"`
	Since      time.Time `json:"since"` // when it went live, as well as Rewind knows
	How        How       `json:"how"`
}

// How says how Rewind learned of a sighting.
type How string

const (
	HowObserved       How = "observed"        // seen live by an observe (command, schedule, alarm)
	HowAutoRollback   How = "alarm-rollback"  // put live by an automatic rollback
	HowManualRollback How = "manual-rollback" // put live by a manual rollback
	HowDeploy         How = "deploy"          // put live by a manual deploy
	HowCleared        How = "cleared"         // known-bad marks and loop guard reset by a human
)

// Hows are every How, for decoders that must refuse what they do not know.
var Hows = []How{HowObserved, HowAutoRollback, HowManualRollback, HowDeploy, HowCleared}

// Change is one change Rewind made.
type Change struct {
	Kind     ChangeKind `json:"kind"`
	From     string     `json:"from"`
	To       string     `json:"to"`
	At       time.Time  `json:"at"`
	By       By         `json:"by"`
	Incident string     `json:"incident,omitempty"`
	Alarm    string     `json:"alarm,omitempty"`
}

// Bounds keep one target's memory small (a DynamoDB item holds 400 KB; these take a few KB) while
// holding more than any limit the template accepts: MAX_AUTO_ROLLBACKS_PER_HOUR goes up to 100.
const (
	MaxBad       = 100
	MaxIncidents = 100
	MaxTimeline  = 100
	MaxGuard     = 100
)

// IsBad reports whether Rewind has rolled back from deployment id.
func (m Memory) IsBad(id string) bool { return slices.Contains(m.Bad, id) }

// handled reports whether incident was already acted on.
func (m Memory) handled(incident string) bool {
	return incident != "" && slices.Contains(m.Incidents, incident)
}

// with returns a copy of m that records c, marks bad (if any) known bad and, for an automatic
// rollback, counts it for the loop guard.
func (m Memory) with(c Change, bad string) Memory {
	out := m.clone()
	out.Last = &c
	if bad != "" && !slices.Contains(out.Bad, bad) {
		out.Bad = appendBounded(out.Bad, bad, MaxBad)
	}
	if c.Incident != "" && !slices.Contains(out.Incidents, c.Incident) {
		out.Incidents = appendBounded(out.Incidents, c.Incident, MaxIncidents)
	}
	if c.By == ByAlarm && (c.Kind == KindRollback || c.Kind == KindCanaryRollback) {
		out.Guard = appendBounded(out.Guard, c.At, MaxGuard)
	}
	return out
}

// without returns a copy of m in which id is no longer known bad.
func (m Memory) without(id string) Memory {
	out := m.clone()
	out.Bad = slices.DeleteFunc(out.Bad, func(b string) bool { return b == id })
	return out
}

func (m Memory) clone() Memory {
	out := m
	out.Bad, out.Incidents, out.Timeline, out.Guard = slices.Clone(m.Bad), slices.Clone(m.Incidents), slices.Clone(m.Timeline), slices.Clone(m.Guard)
	return out
}

// seen returns a copy of m whose timeline ends with dep, adding a sighting when dep is not already the
// newest one (or when how is a change Rewind made, which always counts).
func (m Memory) seen(dep string, since time.Time, how How) Memory {
	out := m.clone()
	if n := len(out.Timeline); n > 0 && out.Timeline[n-1].Deployment == dep && how == HowObserved {
		return out
	}
	out.Timeline = appendBounded(out.Timeline, Sighting{Deployment: dep, Since: since.UTC().Truncate(time.Second), How: how}, MaxTimeline)
	return out
}

// current is the newest sighting, if any.
func (m Memory) current() (Sighting, bool) {
	if len(m.Timeline) == 0 {
		return Sighting{}, false
	}
	return m.Timeline[len(m.Timeline)-1], true
}

// autoRollbacksSince lists the automatic rollbacks at or after t.
func (m Memory) autoRollbacksSince(t time.Time) []time.Time {
	var at []time.Time
	for _, g := range m.Guard {
		if !g.Before(t) {
			at = append(at, g)
		}
	}
	return at
}

func appendBounded[T any](list []T, v T, max int) []T {
	list = append(list, v)
	if len(list) > max {
		list = list[len(list)-max:]
	}
	return list
}
