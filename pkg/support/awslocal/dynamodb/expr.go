package dynamodb

import (
	"fmt"
	"slices"
	"strings"
)

// This file reads and evaluates condition, key condition and filter expressions: comparisons
// (= <> < <= > >=), BETWEEN, attribute_exists, attribute_not_exists, begins_with, AND, OR, NOT
// and parentheses, over document paths of names and map members (a.b, #a.#b) and :values.
// Precedence is DynamoDB's: NOT binds tighter than AND, AND tighter than OR.

// operand is a document path, a :value, or (in an update) a function of operands or a sum.
type operand struct {
	path  []string // the attribute names, placeholders resolved
	val   *value
	fn    string // if_not_exists, list_append
	arith string // "+" or "-" of args[0] and args[1]
	args  []operand
	text  string // as written, for messages
}

// cond is one node of a condition.
type cond struct {
	op   string    // AND OR NOT, a comparator, BETWEEN, or a function name
	kids []*cond   // AND, OR, NOT
	args []operand // comparisons, BETWEEN, functions
}

// parser reads one expression; what names the request member in its errors.
type parser struct {
	what string
	toks []token
	i    int
	ph   *placeholders
}

func newParser(what, src string, ph *placeholders) (*parser, *apiError) {
	if strings.TrimSpace(src) == "" {
		return nil, validationf("Invalid %s: The expression can not be empty;", what)
	}
	toks, bad := lex(src)
	if bad != "" {
		return nil, validationf("Invalid %s: Syntax error; token: %q, near: %q", what, bad, src)
	}
	return &parser{what: what, toks: toks, ph: ph}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i = min(p.i+1, len(p.toks)-1); return t }

func (p *parser) fail(format string, args ...any) *apiError {
	return validationf("Invalid %s: %s", p.what, fmt.Sprintf(format, args...))
}

// syntax is DynamoDB's syntax error at the current token, with the tokens around it.
func (p *parser) syntax() *apiError {
	near := p.peek().text
	if p.i > 0 {
		near = p.toks[p.i-1].text + " " + near
	}
	return p.fail("Syntax error; token: %q, near: %q", p.peek().text, near)
}

func (p *parser) keyword(w string) bool {
	if t := p.peek(); t.kind == tIdent && strings.EqualFold(t.text, w) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expect(op string) *apiError {
	if t := p.peek(); t.kind != tOp || t.text != op {
		return p.syntax()
	}
	p.next()
	return nil
}

// parseCondition reads a whole condition expression.
func parseCondition(what, src string, ph *placeholders) (*cond, *apiError) {
	p, err := newParser(what, src, ph)
	if err != nil {
		return nil, err
	}
	c, err := p.or()
	if err == nil && p.peek().kind != tEOF {
		err = p.syntax()
	}
	return c, err
}

func (p *parser) or() (*cond, *apiError)  { return p.binary("OR", p.and) }
func (p *parser) and() (*cond, *apiError) { return p.binary("AND", p.not) }

func (p *parser) binary(op string, operand func() (*cond, *apiError)) (*cond, *apiError) {
	left, err := operand()
	for err == nil && p.keyword(op) {
		var right *cond
		if right, err = operand(); err == nil {
			left = &cond{op: op, kids: []*cond{left, right}}
		}
	}
	return left, err
}

func (p *parser) not() (*cond, *apiError) {
	if !p.keyword("NOT") {
		return p.primary()
	}
	c, err := p.not()
	return &cond{op: "NOT", kids: []*cond{c}}, err
}

var comparators = []string{"=", "<>", "<", "<=", ">", ">="}

func (p *parser) primary() (*cond, *apiError) {
	if t := p.peek(); t.kind == tOp && t.text == "(" {
		p.next()
		c, err := p.or()
		if err == nil {
			err = p.expect(")")
		}
		return c, err
	}
	if t := p.peek(); t.kind == tIdent && p.toks[p.i+1].text == "(" {
		return p.function()
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	switch t := p.peek(); {
	case t.kind == tOp && slices.Contains(comparators, t.text):
		p.next()
		right, err := p.operand()
		if err != nil {
			return nil, err
		}
		return p.compare(t.text, left, right)
	case p.keyword("BETWEEN"):
		return p.between(left)
	case t.kind == tIdent && strings.EqualFold(t.text, "IN"):
		return nil, notModeled("the IN operator")
	}
	return nil, p.syntax()
}

// compare checks what DynamoDB checks of an ordering comparison's values before any item is read.
func (p *parser) compare(op string, left, right operand) (*cond, *apiError) {
	if op != "=" && op != "<>" {
		for _, o := range []operand{left, right} {
			if o.val != nil && o.val.kind != "S" && o.val.kind != "N" && o.val.kind != "B" {
				return nil, p.fail("Incorrect operand type for operator or function; operator: %s, operand type: %s", op, o.val.kind)
			}
		}
	}
	return &cond{op: op, args: []operand{left, right}}, nil
}

func (p *parser) between(x operand) (*cond, *apiError) {
	lo, err := p.operand()
	if err != nil {
		return nil, err
	}
	if !p.keyword("AND") {
		return nil, p.syntax()
	}
	hi, err := p.operand()
	if err != nil {
		return nil, err
	}
	if lo.val != nil && hi.val != nil {
		if c, ok := order(*lo.val, *hi.val); ok && c > 0 || lo.val.kind != hi.val.kind {
			return nil, p.fail("The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: %s, upper bound operand: %s", lo.text, hi.text)
		}
	}
	return &cond{op: "BETWEEN", args: []operand{x, lo, hi}}, nil
}

// conditionFunctions are the functions a condition may call, by how many operands they take.
var conditionFunctions = map[string]int{"attribute_exists": 1, "attribute_not_exists": 1, "begins_with": 2}

func (p *parser) function() (*cond, *apiError) {
	name := p.next().text
	p.next() // (
	switch {
	case name == "contains" || name == "attribute_type" || name == "size":
		return nil, notModeled("the function " + name)
	case name == "if_not_exists" || name == "list_append":
		return nil, p.fail("The function is not allowed to be used this way in an expression; function: %s", name)
	case conditionFunctions[name] == 0:
		return nil, p.fail("Invalid function name; function: %s", name)
	}
	args, err := p.arguments(p.operand)
	if err != nil {
		return nil, err
	}
	if len(args) != conditionFunctions[name] {
		return nil, p.fail("Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d", name, len(args))
	}
	if args[0].path == nil {
		return nil, p.fail("Operator or function requires a document path; operator or function: %s", name)
	}
	if name == "begins_with" && args[1].val != nil && args[1].val.kind != "S" && args[1].val.kind != "B" {
		return nil, p.fail("Incorrect operand type for operator or function; operator or function: begins_with, operand type: %s", args[1].val.kind)
	}
	return &cond{op: name, args: args}, nil
}

// arguments reads a function's operands up to its closing parenthesis (the opening one read).
func (p *parser) arguments(read func() (operand, *apiError)) ([]operand, *apiError) {
	var args []operand
	for {
		a, err := read()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		switch p.peek().text {
		case ")":
			p.next()
			return args, nil
		case ",":
			p.next()
		default:
			return nil, p.syntax()
		}
	}
}

// operand reads a :value or a document path.
func (p *parser) operand() (operand, *apiError) {
	t := p.peek()
	if t.kind == tValue {
		p.next()
		v, ok := p.ph.values[t.text]
		if !ok {
			return operand{}, p.fail("An expression attribute value used in expression is not defined; attribute value: %s", t.text)
		}
		p.ph.usedValues[t.text] = true
		return operand{val: &v, text: t.text}, nil
	}
	return p.path()
}

// path reads a document path: names or #placeholders joined by dots.
func (p *parser) path() (operand, *apiError) {
	var o operand
	for {
		t := p.peek()
		switch {
		case t.kind == tName:
			name, ok := p.ph.names[t.text]
			if !ok {
				return o, p.fail("An expression attribute name used in the document path is not defined; attribute name: %s", t.text)
			}
			p.ph.usedNames[t.text] = true
			o.path = append(o.path, name)
		case t.kind == tIdent && (t.text[0] < '0' || t.text[0] > '9'):
			if reserved[strings.ToUpper(t.text)] {
				return o, p.fail("Attribute name is a reserved keyword; reserved keyword: %s", t.text)
			}
			o.path = append(o.path, t.text)
		default:
			return o, p.syntax()
		}
		p.next()
		o.text += t.text
		switch p.peek().text {
		case "[":
			return o, notModeled("list indexes in document paths")
		case ".":
			o.text += "."
			p.next()
			continue
		}
		return o, nil
	}
}

// get is the operand's value in an item; ok is false for a path the item does not have.
func (o operand) get(it item) (value, bool) {
	if o.val != nil {
		return *o.val, true
	}
	v, ok := it[o.path[0]]
	for _, name := range o.path[1:] {
		if !ok || v.kind != "M" {
			return value{}, false
		}
		v, ok = v.m[name]
	}
	return v, ok
}

// eval is the condition's truth for an item (nil when there is none).
func (c *cond) eval(it item) bool {
	switch c.op {
	case "AND":
		return c.kids[0].eval(it) && c.kids[1].eval(it)
	case "OR":
		return c.kids[0].eval(it) || c.kids[1].eval(it)
	case "NOT":
		return !c.kids[0].eval(it)
	case "attribute_exists", "attribute_not_exists":
		_, ok := c.args[0].get(it)
		return ok == (c.op == "attribute_exists")
	}
	a, aok := c.args[0].get(it)
	b, bok := c.args[1].get(it)
	switch c.op {
	case "<>": // a missing attribute is not equal to anything
		return !aok || !bok || !equal(a, b)
	case "=":
		return aok && bok && equal(a, b)
	case "begins_with":
		return aok && bok && a.kind == b.kind && (a.kind == "S" || a.kind == "B") && strings.HasPrefix(a.str, b.str)
	case "BETWEEN":
		hi, hok := c.args[2].get(it)
		fromLo, okLo := order(a, b)
		toHi, okHi := order(a, hi)
		return aok && bok && hok && okLo && okHi && fromLo >= 0 && toHi <= 0
	}
	n, ok := order(a, b)
	if !aok || !bok || !ok {
		return false
	}
	switch c.op {
	case "<":
		return n < 0
	case "<=":
		return n <= 0
	case ">":
		return n > 0
	}
	return n >= 0 // >=
}
