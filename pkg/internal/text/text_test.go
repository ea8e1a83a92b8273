package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuoteCutsAtARuneBoundary(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{"short", 64, `"short"`},
		{strings.Repeat("a", 10), 4, `"aaaa"…(10 bytes)`},
		{"aaé", 3, `"aa"…(4 bytes)`},                                // é is 2 bytes: never half of it
		{"a\"b\nc", 64, `"a\"b\nc"`},                                // escaped
		{"\xff\xff\xff\xff\xff\xff", 3, `"\xff\xff\xff"…(6 bytes)`}, // invalid UTF-8: cut where it is
	} {
		if got := Quote(tc.s, tc.max); got != tc.want {
			t.Errorf("Quote(%q, %d) = %s, want %s", tc.s, tc.max, got, tc.want)
		}
	}
	for n := range 12 {
		if c := Clip("日本語テキスト", n); !utf8.ValidString(c) || len(c) > n {
			t.Errorf("Clip(…, %d) = %q", n, c)
		}
	}
}
