package cloudwatch

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// expr is a parsed metric-math expression of the modelled subset: ids, numbers, + - * / and
// parentheses, with the usual precedence.
type expr struct {
	op          byte // 0: a leaf
	id          string
	num         float64
	left, right *expr
}

func (e *expr) ids(acc []string) []string {
	switch {
	case e.op != 0:
		return e.right.ids(e.left.ids(acc))
	case e.id != "" && !slices.Contains(acc, e.id):
		return append(acc, e.id)
	}
	return acc
}

// series evaluates e at every timestamp where each id it references has a value.
func (e *expr) series(known map[string]series, ids []string) series {
	out := series{}
	if len(ids) == 0 {
		return out // a constant has no timestamps of its own
	}
	for t := range known[ids[0]] {
		if v, ok := e.at(known, t); ok {
			out[t] = v
		}
	}
	return out
}

func (e *expr) at(known map[string]series, t time.Time) (float64, bool) {
	switch {
	case e.op == 0 && e.id != "":
		v, ok := known[e.id][t]
		return v, ok
	case e.op == 0:
		return e.num, true
	}
	a, ok1 := e.left.at(known, t)
	b, ok2 := e.right.at(known, t)
	if !ok1 || !ok2 {
		return 0, false
	}
	var v float64
	switch e.op {
	case '+':
		v = a + b
	case '-':
		v = a - b
	case '*':
		v = a * b
	case '/':
		if b == 0 {
			return 0, false
		}
		v = a / b
	}
	return v, !math.IsInf(v, 0) && !math.IsNaN(v)
}

type mathParser struct {
	toks []string
	i    int
}

func parseExpression(s string) (*expr, *apiError) {
	toks, ok := tokenize(s)
	if !ok {
		return nil, notModeled("the metric math expression " + strconv.Quote(s) + " (only ids, numbers, + - * / and parentheses are)")
	}
	p := &mathParser{toks: toks}
	e := p.sum()
	if e == nil || p.i != len(toks) {
		return nil, notModeled("the metric math expression " + strconv.Quote(s) + " (only ids, numbers, + - * / and parentheses are)")
	}
	return e, nil
}

func tokenize(s string) ([]string, bool) {
	var toks []string
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case c == ' ':
			i++
		case strings.ContainsRune("+-*/()", c):
			toks, i = append(toks, string(c)), i+1
		case unicode.IsLetter(c) || unicode.IsDigit(c) || c == '.' || c == '_':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '.' || s[j] == '_') {
				j++
			}
			toks, i = append(toks, s[i:j]), j
		default:
			return nil, false
		}
	}
	return toks, len(toks) > 0
}

func (p *mathParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *mathParser) sum() *expr { return p.binary("+-", p.product) }

func (p *mathParser) product() *expr { return p.binary("*/", p.leaf) }

func (p *mathParser) binary(ops string, next func() *expr) *expr {
	left := next()
	for left != nil && len(p.peek()) == 1 && strings.Contains(ops, p.peek()) {
		op := p.peek()[0]
		p.i++
		right := next()
		if right == nil {
			return nil
		}
		left = &expr{op: op, left: left, right: right}
	}
	return left
}

func (p *mathParser) leaf() *expr {
	t := p.peek()
	p.i++
	switch {
	case t == "(":
		e := p.sum()
		if e == nil || p.peek() != ")" {
			return nil
		}
		p.i++
		return e
	case queryID.MatchString(t):
		return &expr{id: t}
	}
	if v, err := strconv.ParseFloat(t, 64); err == nil {
		return &expr{num: v}
	}
	return nil
}
