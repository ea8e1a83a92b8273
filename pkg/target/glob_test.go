package target

import (
	"context"
	"errors"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestGlobMatchesTheWholeNameSlashesIncluded(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		// "/" is a character like any other.
		{"luna-api/user-id/*", "luna-api/user-id/errors", true},
		{"*/errors", "luna-api/user-id/errors", true},
		{"*-errors", "luna-api/user-id/db-errors", true},
		{"*-errors", "luna-api/user-id/errors", false}, // no "-" before "errors"
		{"*errors", "luna-api/user-id/errors", true},
		{"luna-api/*", "luna-api/user-id/errors", true},
		{"*/errors", "luna-api/user-id/errors", true},
		{"luna-api/*/errors", "luna-api/user-id/errors", true},
		{"luna-api/*/errors", "luna-api/a/b/errors", true},
		{"*", "a/b/c", true},
		{"luna-api/???????/errors", "luna-api/user-id/errors", true},
		{"luna-api?user-id?errors", "luna-api/user-id/errors", true},
		{"luna-api[/]user-id[/]errors", "luna-api/user-id/errors", true},
		{"luna-api[^/]user-id/errors", "luna-api/user-id/errors", false},
		// The whole name, not a part of it.
		{"luna-api/user-id", "luna-api/user-id/errors", false},
		{"user-id/*", "luna-api/user-id/errors", false},
		{"*/errors", "luna-api/user-id/errors-p99", false},
		{"errors", "errors", true},
		{"errors", "Errors", false},
		{"", "", true},
		{"", "x", false},
		{"*", "", true},
		{"?", "", false},
		// Stars: several, consecutive, backtracking.
		{"*a*b*c*", "xxaxxbxxcxx", true},
		{"*a*b*c*", "xxaxxcxxbxx", false},
		{"a**b", "ab", true},
		{"a*b", "a/x/y/b", true},
		{"*ab", "aab", true},
		{"*aab", "aaab", true},
		{strings.Repeat("*a", 20) + "*b", strings.Repeat("a", 60), false},
		// Classes and escapes.
		{"checkout-[0-9]", "checkout-7", true},
		{"checkout-[0-9]", "checkout-x", false},
		{"checkout-[^0-9]", "checkout-x", true},
		{"[a-cx-z]", "y", true},
		{"[\\]\\-]", "]", true},
		{"[\\]\\-]", "-", true},
		{"a\\*b", "a*b", true},
		{"a\\*b", "axb", false},
		{"a\\?", "a?", true},
		{"\\[x]", "[x]", true},
		{"a\\\\b", "a\\b", true},
		// Characters, not bytes.
		{"注文API?5xx", "注文API/5xx", true},
		{"?", "注", true},
		{"[注文]", "文", true},
		{"caf?", "café", true},
	} {
		g, err := CompileGlob(tc.pattern)
		if err != nil {
			t.Errorf("CompileGlob(%q): %v", tc.pattern, err)
			continue
		}
		if got := g.Match(tc.name); got != tc.want {
			t.Errorf("%q matches %q: %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
		if g.String() != tc.pattern {
			t.Errorf("String() = %q, want %q", g.String(), tc.pattern)
		}
	}
}

func TestGlobRefusesMalformedPatterns(t *testing.T) {
	for pattern, want := range map[string]string{
		"[":          "[ at byte 0 has no closing ]",
		"checkout-[": "[ at byte 9 has no closing ]",
		"[abc":       "[ at byte 0 has no closing ]",
		"[^":         "[ at byte 0 has no closing ]",
		"[]":         "unescaped ] at byte 1",
		"[]a]":       "unescaped ] at byte 1",
		"[-a]":       "unescaped - at byte 1",
		"[a-]":       "unescaped ] at byte 3",
		"[a--]":      "unescaped - at byte 3",
		"[z-a]":      "range z-a in the class at byte 0 is empty",
		"x\\":        "\\ at byte 1 escapes nothing",
		"[a\\":       "[ at byte 0 has no closing ]",
		"\xff*":      "not valid UTF-8",
	} {
		_, err := CompileGlob(pattern)
		if err == nil || !errors.Is(err, path.ErrBadPattern) || !strings.Contains(err.Error(), want) {
			t.Errorf("CompileGlob(%q) = %v, want an error wrapping path.ErrBadPattern with %q", pattern, err, want)
		}
	}
}

func TestParseMappingsUsesTheGlobs(t *testing.T) {
	list, _ := ParseList("abc/prod,def/prod")
	maps, err := ParseMappings("luna-api/user-id/*=abc/prod, *-latency=def/prod", list)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver(list, maps, nil)
	for name, want := range map[string]string{
		"luna-api/user-id/errors":     "abc/prod",
		"luna-api/orders/p99-latency": "def/prod",
		"luna-api/user-id/x":          "abc/prod",
	} {
		if got, ok, why, err := r.Resolve(context.Background(), name, dims{}); !ok || err != nil || got.String() != want {
			t.Errorf("%s: %v %v %s %v, want %s", name, got, ok, why, err, want)
		}
	}
	if _, ok, _, _ := r.Resolve(context.Background(), "luna-api/orders/errors", dims{}); ok {
		t.Error("an unmapped name reached a target")
	}
	for in, want := range map[string]string{
		"checkout-[=abc/prod":   `glob "checkout-[": [ at byte 9 has no closing ]`,
		"[z-a]*=abc/prod":       "is empty (its ends are reversed)",
		"a\\=abc/prod":          "escapes nothing",
		"ok-*=abc/prod,[=abc/x": `mapping "[=abc/x": glob "["`,
	} {
		if _, err := ParseMappings(in, list); err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, path.ErrBadPattern) {
			t.Errorf("ParseMappings(%q) = %v, want %q", in, err, want)
		}
	}
	// A Mapping written by hand compiles its Pattern when used; a malformed one matches nothing.
	if !(Mapping{Pattern: "a/*"}).Matches("a/b/c") || (Mapping{Pattern: "["}).Matches("[") {
		t.Error("hand-written mappings")
	}
}

// FuzzGlobAgreesWithPathMatch: on names without "/", where path.Match's "*" and "?" behave as
// Glob's, the two agree; every pattern path.Match refuses, CompileGlob refuses too.
func FuzzGlobAgreesWithPathMatch(f *testing.F) {
	for _, s := range [][2]string{{"*-errors", "api-errors"}, {"a[b-d]?*", "acxyz"}, {"[^a]\\*", "b*"}, {"[", ""}, {"*a*b", "xaxb"}, {"[\\]]", "]"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(name) || len(pattern) > 64 || len(name) > 256 {
			return
		}
		g, err := CompileGlob(pattern)
		_, pathErr := path.Match(pattern, "")
		if pathErr != nil && err == nil {
			t.Fatalf("path.Match refuses %q (%v), CompileGlob takes it", pattern, pathErr)
		}
		if err != nil {
			if !errors.Is(err, path.ErrBadPattern) {
				t.Fatalf("error %v does not wrap path.ErrBadPattern", err)
			}
			if pathErr == nil && !strings.Contains(err.Error(), "reversed") {
				t.Fatalf("CompileGlob refuses %q (%v), path.Match takes it", pattern, err)
			}
			return
		}
		if strings.Contains(name, "/") {
			return
		}
		want, err := path.Match(pattern, name)
		if err == nil && g.Match(name) != want {
			t.Fatalf("%q on %q: Glob %v, path.Match %v", pattern, name, g.Match(name), want)
		}
	})
}
