package rollback

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Memory is what Rewind keeps on the target itself (no datastore): which deployments it rolled back
// from, which incidents it has handled, its last change, and the deployments it has seen live there.
// It is written in the same call as the switch, so the two can never disagree.
type Memory struct {
	Bad       []string   // deployments Rewind rolled back from, oldest first, at most MaxBad
	Incidents []string   // incident keys already handled, oldest first, at most MaxIncidents
	Last      *Change    // the last change Rewind made, nil before the first
	Timeline  []Sighting // deployments seen live on this target, oldest first, at most MaxTimeline
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

var howCodes = map[How]string{HowObserved: "o", HowAutoRollback: "a", HowManualRollback: "m", HowDeploy: "d", HowCleared: "c"}

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

// Bounds keep the memory inside AWS's 512-character stage variable values.
const (
	MaxBad       = 16
	MaxIncidents = 8
	MaxTimeline  = 16
	maxAlarmName = 64
	maxValue     = 512 // AWS's limit on a stage variable value
)

// IsBad reports whether Rewind has rolled back from deployment id.
func (m Memory) IsBad(id string) bool { return slices.Contains(m.Bad, id) }

// handled reports whether incident was already acted on.
func (m Memory) handled(incident string) bool {
	return incident != "" && slices.Contains(m.Incidents, incident)
}

// with returns a copy of m that records c.
func (m Memory) with(c Change, bad string) Memory {
	out := Memory{Bad: slices.Clone(m.Bad), Incidents: slices.Clone(m.Incidents), Last: &c, Timeline: slices.Clone(m.Timeline)}
	if bad != "" && !slices.Contains(out.Bad, bad) {
		out.Bad = appendBounded(out.Bad, bad, MaxBad)
	}
	if c.Incident != "" && !slices.Contains(out.Incidents, c.Incident) {
		out.Incidents = appendBounded(out.Incidents, c.Incident, MaxIncidents)
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
	return Memory{Bad: slices.Clone(m.Bad), Incidents: slices.Clone(m.Incidents), Last: m.Last, Timeline: slices.Clone(m.Timeline)}
}

// seen returns a copy of m whose timeline ends with dep, adding a sighting when dep is not already the
// newest one (or when how is a change Rewind made, which always counts).
func (m Memory) seen(dep string, since time.Time, how How) Memory {
	out := m.clone()
	if n := len(out.Timeline); n > 0 && out.Timeline[n-1].Deployment == dep && how == HowObserved {
		return out
	}
	out.Timeline = append(out.Timeline, Sighting{Deployment: dep, Since: since.UTC().Truncate(time.Second), How: how})
	if len(out.Timeline) > MaxTimeline {
		out.Timeline = out.Timeline[len(out.Timeline)-MaxTimeline:]
	}
	for len(out.Timeline) > 1 && len(encodeTimeline(out.Timeline)) > maxValue {
		out.Timeline = out.Timeline[1:] // long ids: keep within a stage variable value
	}
	return out
}

// current is the newest sighting, if any.
func (m Memory) current() (Sighting, bool) {
	if len(m.Timeline) == 0 {
		return Sighting{}, false
	}
	return m.Timeline[len(m.Timeline)-1], true
}

// autoRollbacksSince counts automatic rollbacks at or after t and after the last "cleared" mark.
func (m Memory) autoRollbacksSince(t time.Time) []time.Time {
	var at []time.Time
	for _, s := range m.Timeline {
		switch {
		case s.How == HowCleared:
			at = nil
		case s.How == HowAutoRollback && !s.Since.Before(t):
			at = append(at, s.Since)
		}
	}
	return at
}

func appendBounded(list []string, v string, max int) []string {
	list = append(list, v)
	if len(list) > max {
		list = list[len(list)-max:]
	}
	return list
}

// Names of the stage variables (letters, digits and underscores, as AWS requires) that hold Memory.
const (
	VarBad       = "rewind_bad"
	VarIncidents = "rewind_incidents"
	VarLast      = "rewind_last"
	VarTimeline  = "rewind_timeline"
)

// Encode renders m as key/value strings whose values use only characters valid in both stage variable
// values (alphanumerics and -._~:/?#&=,) and resource tags (letters, digits, spaces and _.:/=+-@):
// ids joined with ".", and the last change as "key=value" pairs joined with "/".
func (m Memory) Encode() map[string]string {
	out := map[string]string{
		VarBad:       strings.Join(m.Bad, "."),
		VarIncidents: strings.Join(m.Incidents, "."),
		VarLast:      "",
		VarTimeline:  encodeTimeline(m.Timeline),
	}
	if c := m.Last; c != nil {
		out[VarLast] = strings.Join([]string{
			"kind=" + string(c.Kind), "from=" + c.From, "to=" + c.To, "at=" + strconv.FormatInt(c.At.Unix(), 10),
			"by=" + string(c.By), "incident=" + c.Incident, "alarm=" + SafeName(c.Alarm),
		}, "/")
	}
	return out
}

// DecodeMemory reads what Encode wrote. Unknown or damaged values are reported, not guessed at:
// a memory Rewind cannot read must stop it from acting rather than make it forget what is bad.
func DecodeMemory(vars map[string]string) (Memory, error) {
	var m Memory
	m.Bad = splitIDs(vars[VarBad])
	m.Incidents = splitIDs(vars[VarIncidents])
	tl, err := decodeTimeline(vars[VarTimeline])
	if err != nil {
		return m, err
	}
	m.Timeline = tl
	last := vars[VarLast]
	if last == "" {
		return m, nil
	}
	c := Change{}
	for _, kv := range strings.Split(last, "/") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return m, fmt.Errorf("stage variable %s: %q is not key=value", VarLast, kv)
		}
		switch k {
		case "kind":
			c.Kind = ChangeKind(v)
		case "from":
			c.From = v
		case "to":
			c.To = v
		case "at":
			sec, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return m, fmt.Errorf("stage variable %s: at=%q: %w", VarLast, v, err)
			}
			c.At = time.Unix(sec, 0).UTC()
		case "by":
			c.By = By(v)
		case "incident":
			c.Incident = v
		case "alarm":
			c.Alarm = v
		default:
			// A newer Rewind may record more; ignoring an unknown key loses nothing we rely on.
		}
	}
	if c.To == "" {
		return m, fmt.Errorf("stage variable %s: %q names no deployment (to=)", VarLast, last)
	}
	m.Last = &c
	return m, nil
}

// encodeTimeline writes sightings as "deployment-unixSeconds-code" joined by ".".
func encodeTimeline(tl []Sighting) string {
	parts := make([]string, len(tl))
	for i, s := range tl {
		parts[i] = s.Deployment + "-" + strconv.FormatInt(s.Since.Unix(), 10) + "-" + howCodes[s.How]
	}
	return strings.Join(parts, ".")
}

func decodeTimeline(v string) ([]Sighting, error) {
	if v == "" {
		return nil, nil
	}
	var out []Sighting
	for _, part := range strings.Split(v, ".") {
		f := strings.Split(part, "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("stage variable %s: %q is not deployment-time-how", VarTimeline, part)
		}
		sec, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("stage variable %s: %q: %w", VarTimeline, part, err)
		}
		how := How("")
		for h, code := range howCodes {
			if code == f[2] {
				how = h
			}
		}
		if how == "" {
			return nil, fmt.Errorf("stage variable %s: %q: unknown how %q", VarTimeline, part, f[2])
		}
		out = append(out, Sighting{Deployment: f[0], Since: time.Unix(sec, 0).UTC(), How: how})
	}
	return out, nil
}

func splitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}

// SafeName keeps the letters, digits, '-', '_' and '.' of an alarm name, bounded, so it can be stored
// in a stage variable or tag and logged without escaping.
func SafeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxAlarmName {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
