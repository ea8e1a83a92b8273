// Package ascii checks strings against ASCII character classes without regexps. A package-level
// regexp with counted repetition ({1,64}, {1,256}, ...) compiles into a program that repeats its
// class that many times, at every cold start before main runs; a Set is two words. Every class is
// ASCII, so a check over bytes refuses non-ASCII and invalid UTF-8 just as such a regexp does, and
// counting bytes counts runes.
package ascii

// Set is a set of ASCII bytes.
type Set [2]uint64

// NewSet reads a regexp class body without its brackets: "A-Za-z0-9_-" (a "-" first or last is
// itself).
func NewSet(class string) Set {
	var c Set
	for i := 0; i < len(class); i++ {
		lo, hi := class[i], class[i]
		if i+2 < len(class) && class[i+1] == '-' {
			hi = class[i+2]
			i += 2
		}
		for b := int(lo); b <= int(hi); b++ {
			c[b>>6] |= 1 << (b & 63)
		}
	}
	return c
}

// Has reports whether b is in c.
func (c *Set) Has(b byte) bool { return b < 128 && c[b>>6]&(1<<(b&63)) != 0 }

// All reports whether every byte of s is in c (true for "").
func (c *Set) All(s string) bool {
	for i := 0; i < len(s); i++ {
		if !c.Has(s[i]) {
			return false
		}
	}
	return true
}

// Span reports whether s is min to max bytes, all in c: the regexp ^[class]{min,max}$.
func (c *Set) Span(s string, min, max int) bool {
	return len(s) >= min && len(s) <= max && c.All(s)
}
