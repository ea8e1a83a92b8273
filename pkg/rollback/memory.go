package rollback

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Memory is what Rewind keeps on the target itself (no datastore): which deployments it rolled back
// from, which incidents it has handled, and its last change. It is written in the same call as the
// switch, so the two can never disagree.
type Memory struct {
	Bad       []string // deployments Rewind rolled back from, oldest first, at most MaxBad
	Incidents []string // incident keys already handled, oldest first, at most MaxIncidents
	Last      *Change  // the last change Rewind made, nil before the first
}

// Change is one change Rewind made.
type Change struct {
	Kind     string    `json:"kind"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	At       time.Time `json:"at"`
	By       string    `json:"by"` // "alarm" or "manual"
	Incident string    `json:"incident,omitempty"`
	Alarm    string    `json:"alarm,omitempty"`
}

// Bounds keep the memory inside AWS's 512-character stage variable values.
const (
	MaxBad       = 16
	MaxIncidents = 8
	maxAlarmName = 64
)

// IsBad reports whether Rewind has rolled back from deployment id.
func (m Memory) IsBad(id string) bool { return slices.Contains(m.Bad, id) }

// handled reports whether incident was already acted on.
func (m Memory) handled(incident string) bool {
	return incident != "" && slices.Contains(m.Incidents, incident)
}

// with returns a copy of m that records c.
func (m Memory) with(c Change, bad string) Memory {
	out := Memory{Bad: slices.Clone(m.Bad), Incidents: slices.Clone(m.Incidents), Last: &c}
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
	out := Memory{Bad: slices.DeleteFunc(slices.Clone(m.Bad), func(b string) bool { return b == id }),
		Incidents: slices.Clone(m.Incidents), Last: m.Last}
	return out
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
)

// Encode renders m as key/value strings whose values use only characters valid in both stage variable
// values (alphanumerics and -._~:/?#&=,) and resource tags (letters, digits, spaces and _.:/=+-@):
// ids joined with ".", and the last change as "key=value" pairs joined with "/".
func (m Memory) Encode() map[string]string {
	out := map[string]string{
		VarBad:       strings.Join(m.Bad, "."),
		VarIncidents: strings.Join(m.Incidents, "."),
		VarLast:      "",
	}
	if c := m.Last; c != nil {
		out[VarLast] = strings.Join([]string{
			"kind=" + c.Kind, "from=" + c.From, "to=" + c.To, "at=" + strconv.FormatInt(c.At.Unix(), 10),
			"by=" + c.By, "incident=" + c.Incident, "alarm=" + SafeName(c.Alarm),
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
			c.Kind = v
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
			c.By = v
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
