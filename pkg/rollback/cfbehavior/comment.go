package cfbehavior

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rewind-sre/rewind/pkg/internal/ascii"
	"github.com/rewind-sre/rewind/pkg/rollback"
)

// MaxComment is CloudFront's limit on a distribution's Comment.
const MaxComment = 128

// marker starts Rewind's part of the comment; the owner's text before it is kept as it is.
const marker = "rw:"

// The comment is small, so the memory is written compactly:
//
//	owner text rw: l=KIND.BY.FROM.TO.AT b=ORIGIN.ORIGIN i=INCIDENT.INCIDENT t=ORIGIN-AT-HOW.ORIGIN-AT-HOW
//
// ORIGIN is 4 hex digits of the origin id's FNV-1a hash (mapped back through the distribution's
// origins when read; an origin no longer there stays "?hash" and matches nothing), AT is Unix seconds
// in base 36, INCIDENT is the 16-hex incident key in 11 characters of base64url, and KIND, BY and
// HOW are one letter. The last change keeps no alarm name or incident (the incidents list has them).
var (
	kindCodes = map[string]string{string(rollback.KindRollback): "r", string(rollback.KindCanaryRollback): "c", string(rollback.KindDeploy): "d", string(rollback.KindRecord): "o"}
	byCodes   = map[string]string{"alarm": "a", "manual": "m", "schedule": "s"}
	howCodes  = map[rollback.How]string{rollback.HowObserved: "o", rollback.HowAutoRollback: "a", rollback.HowManualRollback: "m",
		rollback.HowDeploy: "d", rollback.HowCleared: "c"}
)

// hex16 is ^[0-9a-f]{16}$ and rawSafe ^[A-Za-z0-9_-]{1,16}$, as ascii.Set checks: package-level
// regexps are compiled at every cold start, before main runs, whether or not CloudFront is a target.
var (
	hexLower = ascii.NewSet("0-9a-f")
	safe     = ascii.NewSet("A-Za-z0-9_-")
)

func hex16(s string) bool   { return hexLower.Span(s, 16, 16) }
func rawSafe(s string) bool { return safe.Span(s, 1, 16) }

func ref(origin string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(origin))
	return fmt.Sprintf("%04x", h.Sum32()&0xffff)
}

func at(t time.Time) string { return strconv.FormatInt(t.Unix(), 36) }

func incident(s string) string {
	if hex16(s) {
		b, _ := hex.DecodeString(s)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	if rawSafe(s) {
		return "~" + s
	}
	return "" // not representable: dropped rather than stored wrong
}

// EncodeComment puts m after the owner's text in at most MaxComment characters. When it does not fit,
// the oldest sightings go first, then the oldest incidents, the oldest known-bad marks, the end of the
// owner's text, and at last everything but the last change and the newest known-bad origin.
func EncodeComment(owner string, m rollback.Memory) string {
	owner = strings.TrimSpace(owner)
	tl, inc, bad := m.Timeline, m.Incidents, m.Bad
	for {
		s := joinComment(owner, m.Last, bad, inc, tl)
		if utf8.RuneCountInString(s) <= MaxComment {
			return s
		}
		switch {
		case len(tl) > 1:
			tl = tl[1:]
		case len(inc) > 1:
			inc = inc[1:]
		case len(bad) > 1:
			bad = bad[1:]
		case owner != "":
			r := []rune(owner)
			owner = strings.TrimSpace(string(r[:max(0, len(r)-(utf8.RuneCountInString(s)-MaxComment))]))
		case len(tl) > 0:
			tl = nil
		case len(inc) > 0:
			inc = nil
		default:
			return string([]rune(s)[:MaxComment]) // unreachable: the last change and one mark take < 60
		}
	}
}

func joinComment(owner string, last *rollback.Change, bad, incidents []string, tl []rollback.Sighting) string {
	parts := []string{marker}
	if c := last; c != nil {
		parts = append(parts, "l="+strings.Join([]string{code(kindCodes, string(c.Kind)), code(byCodes, string(c.By)), ref(c.From), ref(c.To), at(c.At)}, "."))
	}
	if len(bad) > 0 {
		refs := make([]string, len(bad))
		for i, b := range bad {
			refs[i] = ref(b)
		}
		parts = append(parts, "b="+strings.Join(refs, "."))
	}
	var incs []string
	for _, i := range incidents {
		if e := incident(i); e != "" {
			incs = append(incs, e)
		}
	}
	if len(incs) > 0 {
		parts = append(parts, "i="+strings.Join(incs, "."))
	}
	if len(tl) > 0 {
		ss := make([]string, len(tl))
		for i, s := range tl {
			ss[i] = ref(s.Deployment) + "-" + at(s.Since) + "-" + howCodes[s.How]
		}
		parts = append(parts, "t="+strings.Join(ss, "."))
	}
	if owner == "" {
		return strings.Join(parts, " ")
	}
	return owner + " " + strings.Join(parts, " ")
}

func code(codes map[string]string, v string) string {
	if c, ok := codes[v]; ok {
		return c
	}
	return "x"
}

// DecodeComment splits a comment into the owner's text and Rewind's memory, mapping origin
// references back through origins.
func DecodeComment(comment string, origins []string) (owner string, m rollback.Memory, err error) {
	i := strings.LastIndex(comment, marker)
	if i < 0 || (i > 0 && comment[i-1] != ' ') {
		return comment, m, nil
	}
	owner = strings.TrimSpace(comment[:i])
	byRef := map[string]string{}
	for _, o := range origins {
		byRef[ref(o)] = o
	}
	origin := func(r string) string {
		if o, ok := byRef[r]; ok {
			return o
		}
		return "?" + r
	}
	for _, kv := range strings.Fields(comment[i+len(marker):]) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return owner, m, fmt.Errorf("%q is not key=value", kv)
		}
		switch k {
		case "l":
			f := strings.Split(v, ".")
			if len(f) != 5 {
				return owner, m, fmt.Errorf("last change %q: want kind.by.from.to.at", v)
			}
			sec, err := strconv.ParseInt(f[4], 36, 64)
			if err != nil {
				return owner, m, fmt.Errorf("last change %q: time: %w", v, err)
			}
			m.Last = &rollback.Change{Kind: rollback.ChangeKind(decode(kindCodes, f[0])), By: rollback.By(decode(byCodes, f[1])), From: origin(f[2]), To: origin(f[3]), At: time.Unix(sec, 0).UTC()}
		case "b":
			for _, r := range strings.Split(v, ".") {
				m.Bad = append(m.Bad, origin(r))
			}
		case "i":
			for _, e := range strings.Split(v, ".") {
				if raw, ok := strings.CutPrefix(e, "~"); ok {
					m.Incidents = append(m.Incidents, raw)
					continue
				}
				b, err := base64.RawURLEncoding.DecodeString(e)
				if err != nil {
					return owner, m, fmt.Errorf("incident %q: %w", e, err)
				}
				m.Incidents = append(m.Incidents, hex.EncodeToString(b))
			}
		case "t":
			for _, e := range strings.Split(v, ".") {
				f := strings.Split(e, "-")
				if len(f) != 3 {
					return owner, m, fmt.Errorf("sighting %q: want origin-at-how", e)
				}
				sec, err := strconv.ParseInt(f[1], 36, 64)
				if err != nil {
					return owner, m, fmt.Errorf("sighting %q: time: %w", e, err)
				}
				how := rollback.How("")
				for h, c := range howCodes {
					if c == f[2] {
						how = h
					}
				}
				if how == "" {
					return owner, m, fmt.Errorf("sighting %q: unknown how %q", e, f[2])
				}
				m.Timeline = append(m.Timeline, rollback.Sighting{Deployment: origin(f[0]), Since: time.Unix(sec, 0).UTC(), How: how})
			}
		default:
			// A newer Rewind may record more; ignoring an unknown key loses nothing this one relies on.
		}
	}
	return owner, m, nil
}

func decode(codes map[string]string, c string) string {
	for k, v := range codes {
		if v == c {
			return k
		}
	}
	return ""
}
