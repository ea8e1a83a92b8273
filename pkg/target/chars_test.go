package target

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/internal/ascii"
)

// validators are the hand-written checks and the regexps they replaced, which stay here as their
// specification; class is the regexp's alphabet, to build strings that get past the first byte.
var validators = []struct {
	name  string
	check func(string) bool
	re    *regexp.Regexp
	class string
}{
	{"id", validID, regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`), "A-Za-z0-9"},
	{"stage", validStage, regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`), "A-Za-z0-9_-"},
	{"deployment", validDeployment, regexp.MustCompile(`^[A-Za-z0-9_~+-][A-Za-z0-9._~:+-]{0,127}$`), "A-Za-z0-9._~:+-"},
	{"function", validFunction, regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`), "A-Za-z0-9_-"},
	{"alias", validAlias, regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`), "A-Za-z0-9_-"},
	{"version", validVersion, regexp.MustCompile(`^[0-9]{1,10}$`), "0-9"},
	{"digits", allDigits, regexp.MustCompile(`^[0-9]+$`), "0-9"},
	{"distribution", validDistribution, regexp.MustCompile(`^[A-Z0-9]{1,32}$`), "A-Z0-9"},
	{"path pattern", validPathPattern, regexp.MustCompile(`^[A-Za-z0-9_.*$/~:+&-]{1,255}$`), "A-Za-z0-9_.*$/~:+&-"},
	{"origin", validOrigin, regexp.MustCompile(`^[A-Za-z0-9._~:+-]{1,128}$`), "A-Za-z0-9._~:+-"},
}

// noise is what a string may hold besides its class: every ASCII byte, a newline at the end (which
// a Perl "$" would let through and Go's does not), non-ASCII, look-alikes and invalid UTF-8.
var noise = func() []string {
	var n []string
	for b := 0; b < 128; b++ {
		n = append(n, string(rune(b)))
	}
	return append(n, "é", "Ａ", "٣", "\u2028", "\ufffd", "\xff", "\xc3", "\x80", "🙂")
}()

// expand lists a class's bytes ("a-c_" → "abc_").
func expand(class string) string {
	var b strings.Builder
	c := ascii.NewSet(class)
	for i := 0; i < 128; i++ {
		if c.Has(byte(i)) {
			b.WriteByte(byte(i))
		}
	}
	return b.String()
}

// lengths sit on and beside every bound the regexps count to.
var lengths = []int{0, 1, 2, 3, 9, 10, 11, 12, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 254, 255, 256, 257}

func candidate(r *rand.Rand, class string) string {
	n := lengths[r.IntN(len(lengths))]
	var b strings.Builder
	for range n {
		if r.IntN(60) == 0 {
			b.WriteString(noise[r.IntN(len(noise))])
		} else {
			b.WriteByte(class[r.IntN(len(class))])
		}
	}
	s := b.String()
	if r.IntN(20) == 0 {
		s += "\n"
	}
	return s
}

func TestValidatorsMatchTheRegexps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, v := range validators {
		class := expand(v.class)
		accepted := 0
		for range 20000 {
			s := candidate(r, class)
			if got, want := v.check(s), v.re.MatchString(s); got != want {
				t.Fatalf("%s(%q) = %v, the regexp %s says %v", v.name, s, got, v.re, want)
			} else if got {
				accepted++
			}
		}
		if accepted < 1000 {
			t.Errorf("%s: only %d of 20000 candidates accepted: the comparison sees too little of the accepted set", v.name, accepted)
		}
		for _, s := range append(noise, "", "\n", "a\n", "\na", ".a", "a..b", "$default") {
			if got, want := v.check(s), v.re.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v, the regexp %s says %v", v.name, s, got, v.re, want)
			}
		}
	}
}

// FuzzValidatorsMatchTheRegexps gives every validator the same input as its regexp.
func FuzzValidatorsMatchTheRegexps(f *testing.F) {
	for _, s := range []string{"a1b2c3d4e5", "prod", "/api/users/*", "api-origin.luna.com", "E2QWRUHAPOMQZL", "123", ".x", "a\n", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range validators {
			if got, want := v.check(s), v.re.MatchString(s); got != want {
				t.Fatalf("%s(%q) = %v, the regexp %s says %v", v.name, s, got, v.re, want)
			}
		}
	})
}
