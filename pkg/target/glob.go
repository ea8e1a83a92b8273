package target

import (
	"fmt"
	"path"
	"unicode/utf8"
)

// Glob is an ALARM_TARGETS alarm-name pattern, compiled. It matches the whole alarm name:
//
//	in the pattern  matches
//	*               any run of characters, "/" included: "luna-api/*" and "*/errors" both match "luna-api/user-id/errors"
//	?               any one character, "/" included
//	[...]           one character of the class: "[abc]", ranges "[a-z]", negated "[^a-z]"; inside a class "\"
//	                escapes the next character, and "-" and "]" must be escaped ("[\-\]]")
//	\c              the character c itself: "\*", "\?", "\[" and "\\" match "*", "?", "[" and "\"
//	anything else   itself
//
// This is Go's path.Match syntax with two changes: "*" and "?" match "/" too, because alarm names
// are often hierarchical ("luna-api/user-id/errors") and a "*" that stopped at "/", as path.Match's
// does, would match none of them; and a range whose ends are reversed ("[z-a]", which path.Match
// takes and which matches nothing) is refused. Every pattern path.Match refuses is refused here too,
// when the configuration is read rather than when an alarm arrives.
type Glob struct {
	pattern string
	toks    []globTok
}

type globKind uint8

const (
	globLiteral globKind = iota
	globAnyOne
	globStar
	globClass
)

type globTok struct {
	kind    globKind
	r       rune        // globLiteral
	negated bool        // globClass
	ranges  []runeRange // globClass
}

type runeRange struct{ lo, hi rune }

// CompileGlob reads pattern (see Glob). The error, wrapping path.ErrBadPattern, says what is wrong
// and where.
func CompileGlob(pattern string) (Glob, error) {
	if !utf8.ValidString(pattern) {
		return Glob{}, fmt.Errorf("not valid UTF-8: %w", path.ErrBadPattern)
	}
	g := Glob{pattern: pattern}
	for i := 0; i < len(pattern); {
		switch c := pattern[i]; c {
		case '*':
			if n := len(g.toks); n == 0 || g.toks[n-1].kind != globStar {
				g.toks = append(g.toks, globTok{kind: globStar})
			}
			i++
		case '?':
			g.toks = append(g.toks, globTok{kind: globAnyOne})
			i++
		case '[':
			tok, next, err := compileClass(pattern, i)
			if err != nil {
				return Glob{}, err
			}
			g.toks = append(g.toks, tok)
			i = next
		case '\\':
			if i+1 == len(pattern) {
				return Glob{}, fmt.Errorf("\\ at byte %d escapes nothing (a literal \\ is \\\\): %w", i, path.ErrBadPattern)
			}
			r, n := utf8.DecodeRuneInString(pattern[i+1:])
			g.toks = append(g.toks, globTok{kind: globLiteral, r: r})
			i += 1 + n
		default:
			r, n := utf8.DecodeRuneInString(pattern[i:])
			g.toks = append(g.toks, globTok{kind: globLiteral, r: r})
			i += n
		}
	}
	return g, nil
}

// compileClass reads the class starting at pattern[at] == '['; next is the byte after its "]".
func compileClass(pattern string, at int) (tok globTok, next int, err error) {
	tok.kind = globClass
	i := at + 1
	if i < len(pattern) && pattern[i] == '^' {
		tok.negated = true
		i++
	}
	for {
		if i >= len(pattern) {
			return globTok{}, 0, fmt.Errorf("[ at byte %d has no closing ]: %w", at, path.ErrBadPattern)
		}
		if pattern[i] == ']' && len(tok.ranges) > 0 {
			return tok, i + 1, nil
		}
		lo, n, err := classChar(pattern, i, at)
		if err != nil {
			return globTok{}, 0, err
		}
		i += n
		hi := lo
		if i < len(pattern) && pattern[i] == '-' {
			if hi, n, err = classChar(pattern, i+1, at); err != nil {
				return globTok{}, 0, err
			}
			i += 1 + n
			if hi < lo {
				return globTok{}, 0, fmt.Errorf("range %c-%c in the class at byte %d is empty (its ends are reversed): %w", lo, hi, at, path.ErrBadPattern)
			}
		}
		tok.ranges = append(tok.ranges, runeRange{lo, hi})
	}
}

// classChar reads one character of a class at pattern[i]: itself, or "\" and the character it
// escapes. An unescaped "-" or "]" where a character belongs is an error, as in path.Match.
func classChar(pattern string, i, at int) (r rune, n int, err error) {
	switch {
	case i >= len(pattern):
		return 0, 0, fmt.Errorf("[ at byte %d has no closing ]: %w", at, path.ErrBadPattern)
	case pattern[i] == '-' || pattern[i] == ']':
		return 0, 0, fmt.Errorf("unescaped %c at byte %d in the class at byte %d (write \\%c): %w", pattern[i], i, at, pattern[i], path.ErrBadPattern)
	case pattern[i] == '\\':
		if i+1 >= len(pattern) {
			return 0, 0, fmt.Errorf("[ at byte %d has no closing ]: %w", at, path.ErrBadPattern)
		}
		r, n = utf8.DecodeRuneInString(pattern[i+1:])
		return r, n + 1, nil
	}
	r, n = utf8.DecodeRuneInString(pattern[i:])
	return r, n, nil
}

// String is the pattern as written.
func (g Glob) String() string { return g.pattern }

// Match reports whether g matches all of name.
func (g Glob) Match(name string) bool {
	rs := []rune(name)
	t, n := 0, 0
	star, starN := -1, 0 // the last "*" seen and where in name it was tried from
	for n < len(rs) {
		switch {
		case t < len(g.toks) && g.toks[t].kind == globStar:
			star, starN = t, n
			t++
		case t < len(g.toks) && g.toks[t].matches(rs[n]):
			t++
			n++
		case star >= 0:
			// Let the last "*" take one more character and try again from there.
			starN++
			t, n = star+1, starN
		default:
			return false
		}
	}
	for t < len(g.toks) && g.toks[t].kind == globStar {
		t++
	}
	return t == len(g.toks)
}

func (t globTok) matches(r rune) bool {
	switch t.kind {
	case globLiteral:
		return r == t.r
	case globAnyOne:
		return true
	case globClass:
		in := false
		for _, rg := range t.ranges {
			if rg.lo <= r && r <= rg.hi {
				in = true
				break
			}
		}
		return in != t.negated
	}
	return false
}
