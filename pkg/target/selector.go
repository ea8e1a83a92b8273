package target

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Selector in TARGETS names every stage of one kind in the function's region that carries a tag:
//
//	rest:tag:KEY=VALUE   every REST API stage tagged KEY with the value VALUE
//	rest:tag:KEY         every REST API stage tagged KEY, whatever its value
//	http:tag:KEY=VALUE   HTTP API (v2) stages likewise (and http:tag:KEY)
//
// The tag must be on the stage itself: a tag on a REST API is inherited by its stages for IAM
// (ABAC) but is not returned as the stage's by the Resource Groups Tagging API, so discovery does
// not see it. KEY is everything before the first "=" (a key holding "=" cannot be selected).
// "rest:tag:" cannot be an explicit target: ":" is not in an API id's alphabet.
type Selector struct {
	Kind  Kind   // KindRESTStage or KindHTTPStage
	Key   string // the tag key
	Value string // the tag value; ignored when AnyValue
	// AnyValue: the selector names the key alone (rest:tag:KEY), so any value matches.
	AnyValue bool
}

// FallbackTag is the stage tag whose value pins a discovered stage's fallback deployment, as
// "@deploymentId" does for an explicit target. A malformed value makes the stage no target.
const FallbackTag = "rewind:fallback"

// SelectorGrammar is the grammar of a selector, for messages.
const SelectorGrammar = "rest:tag:KEY=VALUE, rest:tag:KEY, http:tag:KEY=VALUE or http:tag:KEY"

// String is the selector as TARGETS writes it.
func (s Selector) String() string {
	if s.AnyValue {
		return string(s.Kind) + ":tag:" + s.Key
	}
	return string(s.Kind) + ":tag:" + s.Key + "=" + s.Value
}

// Matches reports whether a resource with tags is selected.
func (s Selector) Matches(tags map[string]string) bool {
	v, ok := tags[s.Key]
	return ok && (s.AnyValue || v == s.Value)
}

// IsSelector reports whether a TARGETS item is written as a selector ("kind:tag:..."), well formed
// or not, so a malformed one is reported as a selector rather than as a strange target.
func IsSelector(item string) bool {
	kind, rest, ok := strings.Cut(item, ":")
	return ok && (strings.HasPrefix(rest, "tag:") || kind == "tag")
}

// ParseSelector reads one selector. Keys and values follow AWS's tagging rules ("Tag naming limits
// and requirements", docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html): a key is 1-128
// and a value 0-256 Unicode letters, digits, spaces and _ . : / = + - @, and a key may not start
// with "aws:" (AWS reserves it). A value may not be empty here: write rest:tag:KEY for any value.
func ParseSelector(s string) (Selector, error) {
	kind, rest, _ := strings.Cut(s, ":")
	body, isTag := strings.CutPrefix(rest, "tag:")
	switch {
	case kind == "tag":
		return Selector{}, fmt.Errorf("selector %s: %w: name the kind of stage (want %s)", quote(s), ErrMalformed, SelectorGrammar)
	case !isTag:
		return Selector{}, fmt.Errorf("selector %s: %w (want %s)", quote(s), ErrMalformed, SelectorGrammar)
	case Kind(kind) != KindRESTStage && Kind(kind) != KindHTTPStage:
		return Selector{}, fmt.Errorf("selector %s: %w %s: only REST and HTTP API stages are found by tag (want %s)", quote(s), ErrUnknownKind, quote(kind), SelectorGrammar)
	}
	key, value, hasValue := strings.Cut(body, "=")
	switch {
	case !validTagKey(key):
		return Selector{}, fmt.Errorf("selector %s: tag key %s: %w (want 1-128 letters, digits, spaces or _.:/+-@, not starting with aws:)", quote(s), quote(key), ErrMalformed)
	case hasValue && value == "":
		return Selector{}, fmt.Errorf("selector %s: %w: empty tag value (write %s:tag:%s for any value)", quote(s), ErrMalformed, kind, key)
	case hasValue && !validTagValue(value):
		return Selector{}, fmt.Errorf("selector %s: tag value %s: %w (want 1-256 letters, digits, spaces or _.:/=+-@)", quote(s), quote(value), ErrMalformed)
	}
	return Selector{Kind: Kind(kind), Key: key, Value: value, AnyValue: !hasValue}, nil
}

// tagChar is AWS's tag alphabet: Unicode letters and digits, whitespace (a space here: TARGETS is
// one line) and _ . : / = + - @.
func tagChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || strings.ContainsRune("_.:/=+-@", r)
}

func validTagKey(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= 128 && !strings.HasPrefix(strings.ToLower(s), "aws:") && !strings.ContainsRune(s, '=') &&
		strings.TrimSpace(s) == s && allTagChars(s)
}

func validTagValue(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= 256 && strings.TrimSpace(s) == s && allTagChars(s)
}

func allTagChars(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !tagChar(r) {
			return false
		}
	}
	return true
}

// Spec is TARGETS read: the explicit targets and the selectors, in the order written.
type Spec struct {
	Explicit  []Target
	Selectors []Selector
}

// Kinds lists the kinds the spec's targets may have now or later: explicit targets' and selectors'.
func (s Spec) Kinds() []Kind {
	var out []Kind
	add := func(k Kind) {
		for _, have := range out {
			if have == k {
				return
			}
		}
		out = append(out, k)
	}
	for _, t := range s.Explicit {
		add(t.Kind)
	}
	for _, sel := range s.Selectors {
		add(sel.Kind)
	}
	return out
}

// ParseSpec reads TARGETS: comma-separated explicit targets (see Grammar) and selectors (see
// SelectorGrammar), at least one item, none twice. A stage a selector also matches stays one
// target, the explicit one (with its pinned fallback): discovery merges them.
func ParseSpec(s string) (Spec, error) {
	var spec Spec
	var explicit []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" || !IsSelector(item) {
			explicit = append(explicit, item)
			continue
		}
		sel, err := ParseSelector(item)
		if err != nil {
			return Spec{}, err
		}
		for _, have := range spec.Selectors {
			if have == sel {
				return Spec{}, fmt.Errorf("selector %s is listed twice", sel)
			}
		}
		spec.Selectors = append(spec.Selectors, sel)
	}
	if len(spec.Selectors) == 0 {
		ts, err := ParseList(s)
		return Spec{Explicit: ts}, err
	}
	if joined := strings.Join(explicit, ","); strings.Trim(joined, ", ") != "" {
		ts, err := ParseList(joined)
		if err != nil {
			return Spec{}, err
		}
		spec.Explicit = ts
	}
	return spec, nil
}
