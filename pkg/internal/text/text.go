// Package text bounds untrusted text (alarm names, ids, payload excerpts) before it goes into an
// error, an answer or a log line: one rune-safe way for every package.
package text

import (
	"fmt"
	"unicode/utf8"
)

// Quote returns s quoted and escaped (%q), cut at a rune boundary at or before max bytes when
// longer, with the length it had: `"abc…"…(300 bytes)`. An excerpt never ends in half a character
// (which %q would print as escapes of bytes s does not have on their own).
func Quote(s string, max int) string {
	if len(s) > max {
		return fmt.Sprintf("%q…(%d bytes)", Clip(s, max), len(s))
	}
	return fmt.Sprintf("%q", s)
}

// Clip cuts s to at most n bytes without splitting a UTF-8 sequence. Bytes that start no rune
// (invalid UTF-8) are cut where they are.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	if !utf8.RuneStart(s[i]) {
		return s[:n] // no rune start within reach: invalid UTF-8, cut at n
	}
	return s[:i]
}
