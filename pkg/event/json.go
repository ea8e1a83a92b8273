package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// The JSON helpers decoding uses: what kind of JSON value a payload or member is, and a bounded
// description of encoding/json's errors.

// jsonProblem describes an encoding/json error without echoing more than a bounded excerpt of the
// input. encoding/json's own texts may carry whole values (a 1 MB number, a whole time string).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, clip(se.Error(), 120))
	case errors.As(err, &te):
		got, _, _ := strings.Cut(te.Value, " ") // "number 1e999" → "number"
		// Embedded structs show up in the path under their Go name; the JSON has no such level.
		field := te.Field
		for _, embedded := range []string{"CloudWatchAlarmSNSPayload.", "CloudWatchAlarmTrigger."} {
			field = strings.ReplaceAll(field, embedded, "")
		}
		field = strings.TrimLeft(field, ".")
		if field == "" {
			return fmt.Sprintf("want %s, got a JSON %s", jsonKindOf(te.Type), clip(got, 16))
		}
		return fmt.Sprintf("field %s: want %s, got a JSON %s", clip(field, 120), jsonKindOf(te.Type), clip(got, 16))
	case errors.As(err, &pe):
		return fmt.Sprintf("time %s is not an RFC 3339 time", quote(pe.Value))
	default:
		return quote(err.Error())
	}
}

// jsonKindOf names the JSON kind a Go type decodes from.
func jsonKindOf(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return jsonKindOf(t.Elem())
	}
	return "a " + t.Kind().String()
}

// jsonKind names the kind of one JSON value from its first byte ("an object", "a string", …).
func jsonKind(raw []byte) string {
	raw = trimJSONSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "a JSON object"
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	case 'n':
		return "JSON null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "a JSON number"
	}
	return "not JSON"
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
