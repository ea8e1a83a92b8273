package dynamodb

import (
	"maps"
	"slices"
	"strings"
)

// An update expression: SET path = value [+|- value], with if_not_exists and list_append, and
// REMOVE path, each section at most once, in either order. ADD and DELETE are not modeled.

type setAction struct {
	path []string
	val  operand
}

type update struct {
	sets    []setAction
	removes [][]string
}

// parseUpdate reads an UpdateExpression.
func parseUpdate(src string, ph *placeholders) (*update, *apiError) {
	p, err := newParser("UpdateExpression", src, ph)
	if err != nil {
		return nil, err
	}
	u := &update{}
	seen := map[string]bool{}
	for p.peek().kind != tEOF {
		section := strings.ToUpper(p.peek().text)
		if p.peek().kind != tIdent || section != "SET" && section != "REMOVE" && section != "ADD" && section != "DELETE" {
			return nil, p.syntax()
		}
		if seen[section] {
			return nil, p.fail("The %q section can only be used once in an update expression;", section)
		}
		seen[section] = true
		p.next()
		if err := p.section(section, u); err != nil {
			return nil, err
		}
	}
	return u, u.overlap(p)
}

// section reads one section's comma-separated actions.
func (p *parser) section(name string, u *update) *apiError {
	if name == "ADD" || name == "DELETE" {
		return notModeled("the " + name + " section of update expressions")
	}
	for {
		path, err := p.path()
		if err != nil {
			return err
		}
		if name == "REMOVE" {
			u.removes = append(u.removes, path.path)
		} else {
			if err := p.expect("="); err != nil {
				return err
			}
			v, err := p.setValue()
			if err != nil {
				return err
			}
			u.sets = append(u.sets, setAction{path: path.path, val: v})
		}
		if t := p.peek(); t.kind != tOp || t.text != "," {
			return nil
		}
		p.next()
	}
}

// setValue is the right-hand side of a SET action: a term, or the sum or difference of two.
func (p *parser) setValue() (operand, *apiError) {
	a, err := p.term()
	if err != nil {
		return a, err
	}
	if t := p.peek(); t.kind == tOp && (t.text == "+" || t.text == "-") {
		p.next()
		b, err := p.term()
		return operand{arith: t.text, args: []operand{a, b}, text: a.text + " " + t.text + " " + b.text}, err
	}
	return a, nil
}

// term is an operand or one of the update functions.
func (p *parser) term() (operand, *apiError) {
	t := p.peek()
	if t.kind != tIdent || p.toks[p.i+1].text != "(" {
		return p.operand()
	}
	p.next()
	p.next()
	switch t.text {
	case "if_not_exists", "list_append":
	case "attribute_exists", "attribute_not_exists", "begins_with", "contains", "attribute_type", "size":
		return operand{}, p.fail("The function is not allowed in an update expression; function: %s", t.text)
	default:
		return operand{}, p.fail("Invalid function name; function: %s", t.text)
	}
	args, err := p.arguments(p.term)
	if err != nil {
		return operand{}, err
	}
	if len(args) != 2 {
		return operand{}, p.fail("Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d", t.text, len(args))
	}
	if t.text == "if_not_exists" && args[0].path == nil {
		return operand{}, p.fail("Operator or function requires a document path; operator or function: if_not_exists")
	}
	return operand{fn: t.text, args: args, text: t.text + "(...)"}, nil
}

// overlap refuses two actions on one path, or on a path and a member of it, as DynamoDB does.
func (u *update) overlap(p *parser) *apiError {
	var paths [][]string
	for _, s := range u.sets {
		paths = append(paths, s.path)
	}
	paths = append(paths, u.removes...)
	for i, a := range paths {
		for _, b := range paths[:i] {
			short, long := a, b
			if len(short) > len(long) {
				short, long = long, short
			}
			if slices.Equal(short, long[:len(short)]) {
				return p.fail("Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [%s], path two: [%s]",
					strings.Join(b, ", "), strings.Join(a, ", "))
			}
		}
	}
	return nil
}

// paths are the top-level attributes the update writes, for refusing a change to the key.
func (u *update) paths() []string {
	var out []string
	for _, s := range u.sets {
		out = append(out, s.path[0])
	}
	for _, r := range u.removes {
		out = append(out, r[0])
	}
	return out
}

// apply returns the item the update makes of old (which it does not change): every value is
// computed from old, as DynamoDB does, before any is set.
func (u *update) apply(old item) (item, *apiError) {
	vals := make([]value, len(u.sets))
	for i, s := range u.sets {
		v, err := evalSet(s.val, old)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	out := maps.Clone(old)
	if out == nil {
		out = item{}
	}
	for i, s := range u.sets {
		if !assign(out, s.path, vals[i]) {
			return nil, validation("The document path provided in the update expression is invalid for update")
		}
	}
	for _, r := range u.removes {
		remove(out, r)
	}
	return out, nil
}

func evalSet(o operand, old item) (value, *apiError) {
	switch {
	case o.arith != "":
		a, err := evalSet(o.args[0], old)
		if err != nil {
			return a, err
		}
		b, err := evalSet(o.args[1], old)
		if err != nil {
			return b, err
		}
		if a.kind != "N" || b.kind != "N" {
			return value{}, validation("An operand in the update expression has an incorrect data type")
		}
		text, msg := number(a).add(number(b), map[string]int{"+": 1, "-": -1}[o.arith])
		if msg != "" {
			return value{}, validation(msg)
		}
		return value{kind: "N", str: text}, nil
	case o.fn == "if_not_exists":
		if v, ok := o.args[0].get(old); ok {
			return v, nil
		}
		return evalSet(o.args[1], old)
	case o.fn == "list_append":
		a, err := evalSet(o.args[0], old)
		if err != nil {
			return a, err
		}
		b, err := evalSet(o.args[1], old)
		if err != nil {
			return b, err
		}
		if a.kind != "L" || b.kind != "L" {
			return value{}, validationf("Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: %s", map[bool]string{true: b.kind, false: a.kind}[a.kind == "L"])
		}
		return value{kind: "L", list: append(slices.Clip(a.list), b.list...)}, nil
	}
	v, ok := o.get(old)
	if !ok {
		return value{}, validation("The provided expression refers to an attribute that does not exist in the item")
	}
	return v, nil
}

// assign sets path in it (a shallow copy it owns), copying each map on the way so values already
// stored are not changed; false when a parent is missing or not a map.
func assign(it item, path []string, v value) bool {
	if len(path) == 1 {
		it[path[0]] = v
		return true
	}
	parent, ok := it[path[0]]
	if !ok || parent.kind != "M" {
		return false
	}
	m := maps.Clone(parent.m)
	if !assign(m, path[1:], v) {
		return false
	}
	it[path[0]] = value{kind: "M", m: m}
	return true
}

// remove deletes path from it, copying maps as assign does; a path that is not there is no error.
func remove(it item, path []string) {
	if len(path) == 1 {
		delete(it, path[0])
		return
	}
	parent, ok := it[path[0]]
	if !ok || parent.kind != "M" {
		return
	}
	m := maps.Clone(parent.m)
	remove(m, path[1:])
	it[path[0]] = value{kind: "M", m: m}
}
