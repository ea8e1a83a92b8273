package notify_test

// A validator for the part of JSON Schema (2020-12) that testdata/notify's schema uses. A keyword it
// does not implement is an error, never ignored: a schema that says more than the validator checks
// would pass messages for the wrong reason.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rewind-sre/rewind/pkg/notify"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// annotations are keywords that say nothing about validity.
var annotations = map[string]bool{"$schema": true, "$id": true, "$comment": true, "title": true, "description": true}

var assertions = map[string]bool{"type": true, "const": true, "enum": true, "required": true, "properties": true,
	"additionalProperties": true, "items": true, "minLength": true, "maxLength": true}

// chatbotSchema loads the custom notification schema the tests hold every message to.
func chatbotSchema(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "testdata", "notify", "chatbot-custom-notification.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	return s
}

// conform validates a JSON text against schema and returns what is wrong with it.
func conform(schema map[string]any, text string) []string {
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var errs []string
	check(schema, v, "$", &errs)
	return errs
}

func check(s map[string]any, v any, at string, errs *[]string) {
	bad := func(format string, args ...any) { *errs = append(*errs, at+": "+fmt.Sprintf(format, args...)) }
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !annotations[k] && !assertions[k] {
			bad("schema keyword %q is not implemented by this validator", k)
		}
	}
	if typ, ok := s["type"].(string); ok && !hasType(v, typ) {
		bad("is %s, want %s", typeOf(v), typ)
		return
	}
	if c, ok := s["const"]; ok && !equal(c, v) {
		bad("is %v, want %v", v, c)
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return equal(x, v) }) {
		bad("is %v, want one of %v", v, e)
	}
	if str, ok := v.(string); ok {
		n := utf8.RuneCountInString(str)
		if min, ok := s["minLength"].(float64); ok && float64(n) < min {
			bad("%d characters, want at least %v", n, min)
		}
		if max, ok := s["maxLength"].(float64); ok && float64(n) > max {
			bad("%d characters, want at most %v", n, max)
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range arr {
				check(items, e, fmt.Sprintf("%s[%d]", at, i), errs)
			}
		}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	for _, r := range asList(s["required"]) {
		if _, present := obj[r]; !present {
			bad("member %q is required", r)
		}
	}
	props, _ := s["properties"].(map[string]any)
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if ps, ok := props[k].(map[string]any); ok {
			check(ps, obj[k], at+"."+k, errs)
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap {
				bad("member %q is not in the schema", k)
			}
		case map[string]any:
			check(ap, obj[k], at+"."+k, errs)
		}
	}
}

func asList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func hasType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "null":
		return v == nil
	}
	return false
}

func typeOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func equal(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// mustConform fails the test when text is not a valid custom notification.
func mustConform(t *testing.T, text string) {
	t.Helper()
	for _, e := range conform(chatbotSchema(t), text) {
		t.Errorf("not a valid custom notification: %s\n%s", e, text)
	}
}

// TestSchemaValidatorCatchesBrokenNotifications proves the validator and the schema can fail: every
// broken copy of a valid notification is reported.
func TestSchemaValidatorCatchesBrokenNotifications(t *testing.T) {
	schema := chatbotSchema(t)
	good := notify.Chat(rolledBack, "rewind-fn")
	edit := func(f func(map[string]any)) string {
		b, _ := json.Marshal(good)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		f(m)
		out, _ := json.Marshal(m)
		return string(out)
	}
	b, _ := json.Marshal(good)
	if errs := conform(schema, string(b)); len(errs) != 0 {
		t.Fatalf("the good notification fails: %v", errs)
	}
	content := func(m map[string]any) map[string]any { return m["content"].(map[string]any) }
	metadata := func(m map[string]any) map[string]any { return m["metadata"].(map[string]any) }
	for name, c := range map[string]struct{ text, want string }{
		"plain text":           {"Rewind rolled back", "not JSON"},
		"version 2":            {edit(func(m map[string]any) { m["version"] = "2.0" }), "want 1.0"},
		"version a number":     {edit(func(m map[string]any) { m["version"] = 1.0 }), "is a number, want string"},
		"no version":           {edit(func(m map[string]any) { delete(m, "version") }), `"version" is required`},
		"source aws":           {edit(func(m map[string]any) { m["source"] = "aws.cloudwatch" }), "want custom"},
		"no content":           {edit(func(m map[string]any) { delete(m, "content") }), `"content" is required`},
		"no description":       {edit(func(m map[string]any) { delete(content(m), "description") }), `"description" is required`},
		"markdown type":        {edit(func(m map[string]any) { content(m)["textType"] = "markdown" }), "want one of"},
		"next step a number":   {edit(func(m map[string]any) { content(m)["nextSteps"] = []any{"a", 2} }), "nextSteps[1]: is a number"},
		"unknown member":       {edit(func(m map[string]any) { m["buttons"] = []any{} }), `"buttons" is not in the schema`},
		"unknown content":      {edit(func(m map[string]any) { content(m)["body"] = "x" }), `"body" is not in the schema`},
		"context not a string": {edit(func(m map[string]any) { metadata(m)["additionalContext"] = map[string]any{"n": 1} }), "additionalContext.n: is a number"},
		"empty thread":         {edit(func(m map[string]any) { metadata(m)["threadId"] = "" }), "at least 1"},
	} {
		errs := conform(schema, c.text)
		if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, c.want) }) {
			t.Errorf("%s: not reported (want %q); reported %v", name, c.want, errs)
		}
	}
	if errs := conform(map[string]any{"type": "string", "pattern": "^a$"}, `"a"`); len(errs) != 1 || !strings.Contains(errs[0], "not implemented") {
		t.Errorf("an unimplemented keyword must fail, got %v", errs)
	}
}
