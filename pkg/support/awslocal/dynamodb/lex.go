package dynamodb

import (
	_ "embed"
	"slices"
	"strings"
)

// The tokens every expression is made of, the reserved words, and the placeholders a request's
// expressions share.

// reservedWords is DynamoDB's list of reserved words (the Developer Guide's "Reserved words in
// DynamoDB"; moto's and dynalite's copies are the same 573 words). A name on it must be written
// through an ExpressionAttributeNames placeholder.
//
//go:embed reserved.txt
var reservedWords string

var reserved = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(reservedWords) {
		m[w] = true
	}
	return m
}()

type tokKind int

const (
	tEOF   tokKind = iota
	tIdent         // a bare name, keyword or function name
	tName          // #name
	tValue         // :value
	tOp            // punctuation and comparators
)

type token struct {
	kind tokKind
	text string
}

func isWordChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// lex splits an expression into tokens; bad is a character no expression may hold.
func lex(s string) (toks []token, bad string) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '#' || c == ':' || isWordChar(c):
			j := i + 1
			for j < len(s) && isWordChar(s[j]) {
				j++
			}
			kind := map[byte]tokKind{'#': tName, ':': tValue}[c]
			if kind == tEOF {
				kind = tIdent
			}
			toks = append(toks, token{kind, s[i:j]})
			i = j
			continue
		}
		op := punctuation(s[i:])
		if op == "" {
			return nil, string(c)
		}
		toks = append(toks, token{tOp, op})
		i += len(op)
	}
	return append(toks, token{tEOF, "<EOF>"}), ""
}

// punctuation is the operator s starts with, or "".
func punctuation(s string) string {
	for _, op := range []string{"<>", "<=", ">=", "=", "<", ">", "(", ")", ",", ".", "[", "]", "+", "-"} {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return ""
}

// placeholders are a request's ExpressionAttributeNames and ExpressionAttributeValues and which of
// them its expressions used: DynamoDB refuses a request that defines one it does not use.
type placeholders struct {
	names      map[string]string
	values     map[string]value
	usedNames  map[string]bool
	usedValues map[string]bool
}

func newPlaceholders(names map[string]string, values map[string]value) *placeholders {
	return &placeholders{names: names, values: values, usedNames: map[string]bool{}, usedValues: map[string]bool{}}
}

// unused is DynamoDB's refusal of a placeholder no expression of the request used.
func (ph *placeholders) unused() *apiError {
	check := func(member string, defined []string, used map[string]bool) *apiError {
		var left []string
		for _, k := range defined {
			if !used[k] {
				left = append(left, k)
			}
		}
		if len(left) == 0 {
			return nil
		}
		slices.Sort(left)
		return validationf("Value provided in %s unused in expressions: keys: {%s}", member, strings.Join(left, ", "))
	}
	var names, values []string
	for k := range ph.names {
		names = append(names, k)
	}
	for k := range ph.values {
		values = append(values, k)
	}
	if err := check("ExpressionAttributeNames", names, ph.usedNames); err != nil {
		return err
	}
	return check("ExpressionAttributeValues", values, ph.usedValues)
}
