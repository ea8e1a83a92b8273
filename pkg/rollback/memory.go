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
	// Recoveries are the latest transition to OK of each alarm that reached this target, at most
	// MaxRecoveries: an ALARM older than its alarm's recorded OK is old news.
	Recoveries []Recovery
	// SeenAt is when an observe last saw the newest sighting still live: where the target itself keeps
	// no change time (a Lambda alias), a change found later happened after it.
	SeenAt time.Time
	// BlindSince is when observing the target began to fail (zero while it works), and BlindUntil when
	// it worked again after that: sightings older than BlindUntil may have missed a release.
	BlindSince, BlindUntil time.Time
	// CheckedAt is when the schedule last checked the target's readiness, and NotReady what it found:
	// a change is notified once, not every tick.
	CheckedAt time.Time
	NotReady  bool
}

// Recovery is an alarm's transition to OK, and whether it was reported as closing a rollback.
type Recovery struct {
	Alarm    string    `json:"alarm"`
	At       time.Time `json:"at"`
	Reported bool      `json:"reported"`
}

// Sighting is one deployment seen serving a target: the target's own history, which API Gateway
// does not keep (deployments belong to the API, not to a stage).
type Sighting struct {
	Deployment string    `json:"deployment"`
	Since      time.Time `json:"since"` // when it went live, as well as Rewind knows; zero when nothing dates it
	How        How       `json:"how"`
}

// How says how Rewind learned of a sighting.
type How string

const (
	HowObserved       How = "observed"        // seen live by an observe (command, schedule, alarm)
	HowAutoRollback   How = "alarm-rollback"  // put live by an automatic rollback
	HowManualRollback How = "manual-rollback" // put live by a manual rollback
	HowDeploy         How = "deploy"          // put live by a manual deploy
)

// Hows are every How, for decoders that must refuse what they do not know.
var Hows = []How{HowObserved, HowAutoRollback, HowManualRollback, HowDeploy}

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
	MaxBad        = 100
	MaxIncidents  = 100
	MaxTimeline   = 100
	MaxGuard      = 100
	MaxRecoveries = 100
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
	out.Recoveries = slices.Clone(m.Recoveries)
	return out
}

// seen returns a copy of m whose timeline ends with dep, adding a sighting when dep is not already the
// newest one (or when how is a change Rewind made, which always counts).
func (m Memory) seen(dep string, since time.Time, how How) Memory {
	out := m.clone()
	if n := len(out.Timeline); n > 0 && out.Timeline[n-1].Deployment == dep && how == HowObserved {
		return out
	}
	if !since.IsZero() {
		since = since.UTC().Truncate(time.Second)
	}
	out.Timeline = appendBounded(out.Timeline, Sighting{Deployment: dep, Since: since, How: how}, MaxTimeline)
	return out
}

// current is the newest sighting, if any.
func (m Memory) current() (Sighting, bool) {
	if len(m.Timeline) == 0 {
		return Sighting{}, false
	}
	return m.Timeline[len(m.Timeline)-1], true
}

// recovered returns the recorded transition to OK of alarm, if any.
func (m Memory) recovered(alarm string) (Recovery, bool) {
	for _, r := range m.Recoveries {
		if r.Alarm == alarm {
			return r, true
		}
	}
	return Recovery{}, false
}

// withRecovery returns a copy of m whose record of alarm's OK is r (the newest kept last).
func (m Memory) withRecovery(r Recovery) Memory {
	out := m.clone()
	out.Recoveries = slices.DeleteFunc(out.Recoveries, func(x Recovery) bool { return x.Alarm == r.Alarm })
	out.Recoveries = appendBounded(out.Recoveries, r, MaxRecoveries)
	return out
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
