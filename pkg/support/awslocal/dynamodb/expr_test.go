package dynamodb

import (
	"encoding/json"
	"strings"
	"testing"
)

// mustItem reads an item from DynamoDB JSON.
func mustItem(t *testing.T, src string) item {
	t.Helper()
	var it item
	if err := json.Unmarshal([]byte(src), &it); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return it
}

// exprItem is the item the condition cases are evaluated against.
const exprItem = `{"pk":{"S":"deploy#api"},"sk":{"S":"bad#2026-11-25"},"v":{"N":"10"},"name":{"S":"api"},
	"m":{"M":{"state":{"S":"open"},"n":{"N":"1.50"}}},"ok":{"BOOL":true},"ss":{"SS":["a","b"]},"b":{"B":"AAE="}}`

const exprValues = `{":ten":{"N":"10.0"},":nine":{"N":"9"},":bad":{"S":"bad#"},":open":{"S":"open"},":a":{"S":"a"},
	":z":{"S":"z"},":yes":{"BOOL":true},":ss":{"SS":["b","a"]},":b0":{"B":"AA=="},":n":{"N":"1.5"}}`

func TestConditionsEvaluateAsDynamoDBDoes(t *testing.T) {
	it := mustItem(t, exprItem)
	var values map[string]value
	if err := json.Unmarshal([]byte(exprValues), &values); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{"#m": "m", "#s": "state", "#name": "name", "#miss": "missing"}
	for _, c := range []struct {
		expr string
		want bool
	}{
		{"v = :ten", true}, // numbers by value: 10 = 10.0
		{"v <> :ten", false},
		{"v > :nine", true}, // as text "10" < "9"
		{"v < :nine", false},
		{"v <= :ten AND v >= :ten", true},
		{"v BETWEEN :nine AND :ten", true},
		{"#name BETWEEN :a AND :z", true},
		{"v = :a", false},     // types differ: never equal
		{"v <> :a", true},     // ... so always unequal
		{"v < :a", false},     // and unordered
		{"#miss <> :a", true}, // a missing attribute is unequal to anything
		{"#miss = :a", false},
		{"#miss < :a", false},
		{"attribute_exists(pk)", true},
		{"attribute_not_exists(pk)", false},
		{"attribute_exists(#m.#s)", true},
		{"attribute_exists(#m.nope)", false},
		{"attribute_exists(#name.#s)", false}, // a path through a non-map
		{"#m.#s = :open", true},
		{"#m.n = :n", true},
		{"begins_with(sk, :bad)", true},
		{"begins_with(b, :b0)", true},
		{"begins_with(v, :bad)", false},
		{"ok = :yes", true},
		{"ss = :ss", true}, // sets in any order
		{"NOT v = :ten", false},
		{"not v = :nine OR v = :nine", true},
		{"v = :nine OR v = :ten AND v = :nine", false}, // AND before OR
		{"(v = :nine OR v = :ten) AND attribute_exists(pk)", true},
		{"NOT (v = :nine OR v = :ten)", false},
		{"NOT attribute_exists(#miss) AND NOT NOT attribute_exists(pk)", true},
	} {
		ph := newPlaceholders(names, values)
		cond, err := parseCondition("ConditionExpression", c.expr, ph)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got := cond.eval(it); got != c.want {
			t.Errorf("%s = %v, want %v", c.expr, got, c.want)
		}
		if got := cond.eval(nil); c.expr == "attribute_not_exists(pk)" && !got {
			t.Errorf("%s on no item = false", c.expr)
		}
	}
}

func TestBadConditionsAreRefusedWithDynamoDBsMessages(t *testing.T) {
	values := map[string]value{":v": str("x"), ":n": {kind: "N", str: "1"}, ":yes": {kind: "BOOL", b: true}, ":hi": str("b"), ":lo": str("a")}
	for _, c := range []struct{ expr, want string }{
		{"", "Invalid ConditionExpression: The expression can not be empty;"},
		{"a = :missing", "An expression attribute value used in expression is not defined; attribute value: :missing"},
		{"#missing = :v", "An expression attribute name used in the document path is not defined; attribute name: #missing"},
		{"status = :v", "Attribute name is a reserved keyword; reserved keyword: status"},
		{"a = = :v", `Syntax error; token: "=", near: "= ="`},
		{"a = :v AND", `Syntax error; token: "<EOF>"`},
		{"(a = :v", `Syntax error; token: "<EOF>"`},
		{"a = :v)", `Syntax error; token: ")"`},
		{"a $ :v", `Syntax error; token: "$"`},
		{"attribute_exists(:v)", "Operator or function requires a document path; operator or function: attribute_exists"},
		{"attribute_exists(a, b)", "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"},
		{"begins_with(a, :n)", "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"},
		{"a < :yes", "Incorrect operand type for operator or function; operator: <, operand type: BOOL"},
		{"a BETWEEN :hi AND :lo", "The BETWEEN operator requires upper bound to be greater than or equal to lower bound"},
		{"no_such_fn(a)", "Invalid function name; function: no_such_fn"},
		{"if_not_exists(a, :v)", "The function is not allowed to be used this way in an expression; function: if_not_exists"},
		{"contains(a, :v)", "does not model the function contains"},
		{"a IN (:v)", "does not model the IN operator"},
		{"a[0] = :v", "does not model list indexes"},
	} {
		_, err := parseCondition("ConditionExpression", c.expr, newPlaceholders(map[string]string{}, values))
		if err == nil || err.code != "ValidationException" || !strings.Contains(err.msg, c.want) {
			t.Errorf("%q: %v, want a ValidationException with %q", c.expr, err, c.want)
		}
	}
}

func TestPlaceholdersMustAllBeUsed(t *testing.T) {
	ph := newPlaceholders(map[string]string{"#a": "a", "#b": "b"}, map[string]value{":x": str("x"), ":y": str("y")})
	if _, err := parseCondition("ConditionExpression", "#a = :x", ph); err != nil {
		t.Fatal(err)
	}
	if err := ph.unused(); err == nil || err.msg != "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}" {
		t.Errorf("unused: %v", err)
	}
	if _, err := parseUpdate("SET #b = :y", ph); err != nil {
		t.Fatal(err)
	}
	if err := ph.unused(); err != nil {
		t.Errorf("after the update used the rest: %v", err)
	}
}

func TestUpdatesApplyAsDynamoDBDoes(t *testing.T) {
	old := mustItem(t, `{"pk":{"S":"p"},"n":{"N":"1.5"},"l":{"L":[{"S":"a"}]},"m":{"M":{"x":{"S":"1"},"y":{"S":"2"}}},"gone":{"S":"g"}}`)
	values := map[string]value{":one": {kind: "N", str: "1"}, ":big": {kind: "N", str: "1E+2"}, ":v": str("v"),
		":l": {kind: "L", list: []value{str("b")}}, ":zero": {kind: "N", str: "0"}}
	for _, c := range []struct{ expr, want string }{
		{"SET n = n + :one", `"n":{"N":"2.5"}`},
		{"SET n = :big - n", `"n":{"N":"98.5"}`},
		{"SET c = if_not_exists(c, :zero) + :one", `"c":{"N":"1"}`},
		{"SET n = if_not_exists(n, :zero)", `"n":{"N":"1.5"}`},
		{"SET l = list_append(l, :l)", `"l":{"L":[{"S":"a"},{"S":"b"}]}`},
		{"SET l = list_append(:l, l)", `"l":{"L":[{"S":"b"},{"S":"a"}]}`},
		{"SET m.x = :v, m.z = :v", `"m":{"M":{"x":{"S":"v"},"y":{"S":"2"},"z":{"S":"v"}}}`},
		{"REMOVE gone, m.y, nothing", `"m":{"M":{"x":{"S":"1"}}}`},
		{"SET a = n, n = :one", `"a":{"N":"1.5"}`}, // values come from the item before the update
		{"remove gone set a = :v", `"a":{"S":"v"}`},
	} {
		u, err := parseUpdate(c.expr, newPlaceholders(nil, values))
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		after, err := u.apply(old)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		b, _ := json.Marshal(after)
		if !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %s, want it to hold %s", c.expr, b, c.want)
		}
	}
	if b, _ := json.Marshal(old); !strings.Contains(string(b), `"n":{"N":"1.5"}`) || !strings.Contains(string(b), `"gone"`) ||
		!strings.Contains(string(b), `"y":{"S":"2"}`) {
		t.Errorf("an update changed the stored item: %s", b)
	}
}

func TestBadUpdatesAreRefused(t *testing.T) {
	old := mustItem(t, `{"pk":{"S":"p"},"s":{"S":"text"},"n":{"N":"1"}}`)
	values := map[string]value{":one": {kind: "N", str: "1"}, ":v": str("v")}
	for _, c := range []struct{ expr, want string }{
		{"SET a = :v SET b = :v", `The "SET" section can only be used once`},
		{"SET a = :v REMOVE a", "Two document paths overlap with each other"},
		{"SET m.a = :v, m = :v", "Two document paths overlap with each other"},
		{"SET a :v", "Syntax error"},
		{"ADD n :one", "does not model the ADD section"},
		{"DELETE s :v", "does not model the DELETE section"},
		{"SET a = size(s)", "The function is not allowed in an update expression; function: size"},
		{"SET a = if_not_exists(:v, :v)", "Operator or function requires a document path; operator or function: if_not_exists"},
		{"FROB a", "Syntax error"},
	} {
		_, err := parseUpdate(c.expr, newPlaceholders(nil, values))
		if err == nil || !strings.Contains(err.msg, c.want) {
			t.Errorf("%q: %v, want %q", c.expr, err, c.want)
		}
	}
	for _, c := range []struct{ expr, want string }{
		{"SET s = s + :one", "An operand in the update expression has an incorrect data type"},
		{"SET a = nowhere", "The provided expression refers to an attribute that does not exist in the item"},
		{"SET s.x = :v", "The document path provided in the update expression is invalid for update"},
		{"SET l = list_append(s, :v)", "operator or function: list_append, operand type: S"},
	} {
		u, err := parseUpdate(c.expr, newPlaceholders(nil, values))
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		if _, err := u.apply(old); err == nil || !strings.Contains(err.msg, c.want) {
			t.Errorf("%q applied: %v, want %q", c.expr, err, c.want)
		}
	}
}

func TestNumbersAreExactDecimals(t *testing.T) {
	for _, c := range []struct{ a, b, sum, diff string }{
		{"1.5", "1", "2.5", "0.5"},
		{"0.1", "0.2", "0.3", "-0.1"}, // float64 would make 0.30000000000000004
		{"1E+2", "-0.001", "99.999", "100.001"},
		{"12345678901234567890123456789012345678", "1", "12345678901234567890123456789012345679", "12345678901234567890123456789012345677"},
		{"-0", "0.000", "0", "0"},
	} {
		a, _ := parseNumber(c.a)
		b, _ := parseNumber(c.b)
		if sum, msg := a.add(b, 1); sum != c.sum || msg != "" {
			t.Errorf("%s + %s = %s %s, want %s", c.a, c.b, sum, msg, c.sum)
		}
		if diff, msg := a.add(b, -1); diff != c.diff || msg != "" {
			t.Errorf("%s - %s = %s %s, want %s", c.a, c.b, diff, msg, c.diff)
		}
	}
	for text, want := range map[string]string{
		"abc": "cannot be converted to a numeric value: abc", "1e": "cannot be converted", "": "cannot be converted", "1.2.3": "cannot be converted",
		"123456789012345678901234567890123456789": "more than 38 significant digits",
		"1E126": "Number overflow", "1E-131": "Number underflow",
	} {
		if _, msg := parseNumber(text); !strings.Contains(msg, want) {
			t.Errorf("parseNumber(%q): %q, want %q", text, msg, want)
		}
	}
	ten, _ := parseNumber("10")
	if nine, _ := parseNumber("9.99"); ten.cmp(nine) <= 0 {
		t.Error("10 <= 9.99")
	}
	if big, _ := parseNumber("9E125"); !strings.Contains(func() string { _, msg := big.add(big, 1); return msg }(), "overflow") {
		t.Error("9E125 + 9E125 is no overflow")
	}
}

func TestAttributeValuesAreCheckedAsTheyAreRead(t *testing.T) {
	for src, want := range map[string]string{
		`{}`:                        "Supplied AttributeValue is empty",
		`{"S":"a","N":"1"}`:         "more than one datatypes",
		`{"N":"x"}`:                 "The parameter cannot be converted to a numeric value: x",
		`{"NULL":false}`:            "Null attribute value types must have the value of true",
		`{"SS":[]}`:                 "An SS may not be empty",
		`{"SS":["a","a"]}`:          "contains duplicates",
		`{"NS":["1","1.0"]}`:        "contains duplicates",
		`{"X":"1"}`:                 "no data type X",
		`{"L":[{"S":"a"},{}]}`:      "Supplied AttributeValue is empty",
		`{"M":{"a":{"N":"1e999"}}}`: "Number overflow",
		`{"B":"not base64!"}`:       "the B of an AttributeValue",
	} {
		var v value
		err := json.Unmarshal([]byte(src), &v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
	it := mustItem(t, `{"s":{"S":"✓"},"n":{"N":"-12.500"},"b":{"B":"AAE="},"l":{"L":[{"NULL":true},{"BOOL":false}]},"bs":{"BS":["AQ=="]}}`)
	b, _ := json.Marshal(it)
	if got := string(b); got != `{"b":{"B":"AAE="},"bs":{"BS":["AQ=="]},"l":{"L":[{"NULL":true},{"BOOL":false}]},"n":{"N":"-12.5"},"s":{"S":"✓"}}` {
		t.Errorf("written back: %s", got) // numbers trimmed as DynamoDB answers them
	}
	// 1 (s) + 3 (✓) + 1 (n) + 3 (-12.5: one byte per two digits, plus one) + 1 + 2 + 1 + 3+1+1+1+1 + 2 + 1
	if got := itemSize(it); got != 22 {
		t.Errorf("itemSize = %d", got)
	}
}
