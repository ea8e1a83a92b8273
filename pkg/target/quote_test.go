package target

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuoteCutsAtARuneBoundary(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("é", 40),                    // 2 bytes each: byte 64 starts a rune
		"x" + strings.Repeat("é", 40),              // byte 64 is the second byte of a rune
		strings.Repeat("€", 30),                    // 3 bytes each
		"ab" + strings.Repeat("🙂", 20),             // 4 bytes each, byte 64 mid-rune
		strings.Repeat("a", 63) + "🙂" + "tail",     // a 4-byte rune straddling the cut
		strings.Repeat("a", 61) + "🙂" + "tail",     // one ending exactly at 65
		strings.Repeat("a", 100),                   // ASCII: cut at 64 exactly
		strings.Repeat("\x80", 100),                // invalid UTF-8 only: cut where it falls
		strings.Repeat("a", 62) + "\xe2\x82" + "x", // a truncated rune in the input stays as it was
	} {
		q := quote(s)
		body, _, ok := strings.Cut(q, "…(")
		if !ok {
			t.Fatalf("quote(%d bytes) = %q: not marked as cut", len(s), q)
		}
		if !utf8.ValidString(q) {
			t.Errorf("quote(%q) = %q is not valid UTF-8", s, q)
		}
		excerpt, err := strconv.Unquote(body)
		if err != nil {
			t.Fatalf("quote(%q) = %q: %v", s, q, err)
		}
		if !strings.HasPrefix(s, excerpt) || len(excerpt) > 64 || len(excerpt) < 64-3 {
			t.Errorf("quote(%q) kept %q: want a prefix of 61-64 bytes", s, excerpt)
		}
		if utf8.ValidString(s) && !utf8.ValidString(excerpt) {
			t.Errorf("quote(%q) kept %q, half a character", s, excerpt)
		}
		if !strings.HasSuffix(q, "…("+strconv.Itoa(len(s))+" bytes)") {
			t.Errorf("quote(%q) = %q does not give the length", s, q)
		}
	}
	if q := quote("short é"); q != `"short é"` {
		t.Errorf("quote of a short string = %s", q)
	}
}
