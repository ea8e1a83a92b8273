package dynamodb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// value is one AttributeValue as DynamoDB JSON carries it: a number is kept as the text DynamoDB
// answers for it (007.50 as 7.5, 1E2 as 100) and compared by numeric value, a binary as the bytes
// its base64 stood for. Values are never
// changed in place once stored, so items can share them.
type value struct {
	kind string           // S N B BOOL NULL L M SS NS BS
	str  string           // S; N's text; B's bytes
	b    bool             // BOOL
	list []value          // L
	m    map[string]value // M
	set  []string         // SS; NS (text); BS (bytes)
}

// item is one item: attribute name to value.
type item map[string]value

func str(s string) value { return value{kind: "S", str: s} }

// UnmarshalJSON reads an AttributeValue and checks it as DynamoDB does; its errors are *apiError.
func (v *value) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return serialization("an AttributeValue must be an object: " + err.Error())
	}
	switch {
	case len(m) == 0:
		return validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	case len(m) > 1:
		return validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	for kind, raw := range m {
		v.kind = kind
		return v.read(raw)
	}
	return nil
}

func (v *value) read(raw json.RawMessage) error {
	bad := func(err error) error {
		return serialization(fmt.Sprintf("the %s of an AttributeValue: %v", v.kind, err))
	}
	switch v.kind {
	case "S":
		if err := json.Unmarshal(raw, &v.str); err != nil {
			return bad(err)
		}
	case "N":
		if err := json.Unmarshal(raw, &v.str); err != nil {
			return bad(err)
		}
		d, msg := parseNumber(v.str)
		if msg != "" {
			return validation(msg)
		}
		v.str = d.String()
	case "B":
		var b []byte // encoding/json reads standard base64 into []byte
		if err := json.Unmarshal(raw, &b); err != nil {
			return bad(err)
		}
		v.str = string(b)
	case "BOOL":
		if err := json.Unmarshal(raw, &v.b); err != nil {
			return bad(err)
		}
	case "NULL":
		if err := json.Unmarshal(raw, &v.b); err != nil || !v.b {
			return validation("One or more parameter values were invalid: Null attribute value types must have the value of true")
		}
	case "L":
		if err := json.Unmarshal(raw, &v.list); err != nil {
			return err
		}
		if v.list == nil {
			v.list = []value{}
		}
	case "M":
		if err := json.Unmarshal(raw, &v.m); err != nil {
			return err
		}
		if v.m == nil {
			v.m = map[string]value{}
		}
	case "SS", "NS", "BS":
		return v.readSet(raw)
	default:
		return serialization("an AttributeValue has no data type " + v.kind)
	}
	return nil
}

func (v *value) readSet(raw json.RawMessage) error {
	if v.kind == "BS" {
		var bs [][]byte
		if err := json.Unmarshal(raw, &bs); err != nil {
			return serialization("the BS of an AttributeValue: " + err.Error())
		}
		for _, b := range bs {
			v.set = append(v.set, string(b))
		}
	} else if err := json.Unmarshal(raw, &v.set); err != nil {
		return serialization(fmt.Sprintf("the %s of an AttributeValue: %v", v.kind, err))
	}
	if len(v.set) == 0 {
		return validation("One or more parameter values were invalid: An " + v.kind + " may not be empty")
	}
	for i, e := range v.set {
		if v.kind == "NS" {
			d, msg := parseNumber(e)
			if msg != "" {
				return validation(msg)
			}
			e = d.String()
			v.set[i] = e
		}
		if slices.ContainsFunc(v.set[:i], func(x string) bool { return equal(v.member(x), v.member(e)) }) {
			return validation(fmt.Sprintf("One or more parameter values were invalid: Input collection %s contains duplicates.", v.kind))
		}
	}
	return nil
}

// member is one element of a set as a value of its own.
func (v value) member(s string) value {
	return value{kind: strings.TrimSuffix(v.kind, "S"), str: s}
}

// MarshalJSON writes the value back as the DynamoDB JSON it was read from.
func (v value) MarshalJSON() ([]byte, error) {
	var inner any
	switch v.kind {
	case "S", "N":
		inner = v.str
	case "B":
		inner = []byte(v.str)
	case "BOOL":
		inner = v.b
	case "NULL":
		inner = true
	case "L":
		inner = v.list
	case "M":
		inner = v.m
	case "BS":
		bs := make([][]byte, len(v.set))
		for i, s := range v.set {
			bs[i] = []byte(s)
		}
		inner = bs
	default:
		inner = v.set
	}
	return json.Marshal(map[string]any{v.kind: inner})
}

// equal is DynamoDB's "=": same type and value, numbers by numeric value, sets in any order.
func equal(a, b value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case "N":
		return number(a).cmp(number(b)) == 0
	case "BOOL":
		return a.b == b.b
	case "NULL":
		return true
	case "L":
		return slices.EqualFunc(a.list, b.list, equal)
	case "M":
		if len(a.m) != len(b.m) {
			return false
		}
		for k, x := range a.m {
			if y, ok := b.m[k]; !ok || !equal(x, y) {
				return false
			}
		}
		return true
	case "SS", "NS", "BS":
		return len(a.set) == len(b.set) && !slices.ContainsFunc(a.set, func(x string) bool {
			return !slices.ContainsFunc(b.set, func(y string) bool { return equal(a.member(x), b.member(y)) })
		})
	}
	return a.str == b.str
}

// number is the numeric value of an N (checked when it was read).
func number(v value) decimal {
	d, _ := parseNumber(v.str)
	return d
}

// order compares two values of one ordered type (S and B bytewise, N numerically); ok is false
// for any other pair, which no ordering comparison matches.
func order(a, b value) (c int, ok bool) {
	if a.kind != b.kind {
		return 0, false
	}
	switch a.kind {
	case "N":
		return number(a).cmp(number(b)), true
	case "S", "B":
		return strings.Compare(a.str, b.str), true
	}
	return 0, false
}

// size is the value's size as DynamoDB counts it toward the 400 KB item limit.
func size(v value) int {
	switch v.kind {
	case "S", "B":
		return len(v.str)
	case "N":
		return numberSize(v.str)
	case "BOOL", "NULL":
		return 1
	case "L":
		n := 3
		for _, e := range v.list {
			n += 1 + size(e)
		}
		return n
	case "M":
		n := 3
		for k, e := range v.m {
			n += 1 + len(k) + size(e)
		}
		return n
	}
	n := 0
	for _, e := range v.set {
		n += size(v.member(e))
	}
	return n
}

// numberSize is one byte per two significant digits, plus one.
func numberSize(s string) int {
	d := number(value{str: s})
	return (utf8.RuneCountInString(strings.TrimLeft(d.mant.String(), "-"))+1)/2 + 1
}

// itemSize is the item's size: its attribute names and values.
func itemSize(it item) int {
	n := 0
	for k, v := range it {
		n += len(k) + size(v)
	}
	return n
}

// maxItemSize is DynamoDB's limit on one item, 400 KB.
const maxItemSize = 400 * 1024

// plain is the item as generic DynamoDB JSON ({"S": "x"}, numbers as their text), for tests.
func plain(it item) map[string]any {
	b, _ := json.Marshal(it)
	var out map[string]any
	_ = json.NewDecoder(bytes.NewReader(b)).Decode(&out)
	return out
}
