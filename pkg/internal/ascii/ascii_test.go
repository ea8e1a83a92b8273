package ascii

import (
	"regexp"
	"testing"
)

func TestNewSetReadsAClassLikeARegexp(t *testing.T) {
	for _, class := range []string{"A-Za-z0-9", "A-Za-z0-9_-", "A-Za-z0-9._~:+-", "A-Za-z0-9_.*$/~:+&-", "0-9", "-a", "a-", "-"} {
		re := regexp.MustCompile(`^[` + class + `]$`)
		c := NewSet(class)
		for b := 0; b < 256; b++ {
			if got, want := c.Has(byte(b)), b < 128 && re.MatchString(string(rune(b))); got != want {
				t.Errorf("class %q, byte %#x: %v, the regexp says %v", class, b, got, want)
			}
		}
	}
}
