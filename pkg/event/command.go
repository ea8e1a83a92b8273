package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// Command is a manual command, sent with `aws lambda invoke --payload '{"action":"status"}'`.
type Command struct {
	Action       rollback.Action `json:"action"`                 // one of rollback.Actions
	Target       string          `json:"target,omitempty"`       // a TARGETS name without "@...": "restApiId/stage", "http:…", "lambda:…", "cloudfront:…"; optional
	DeploymentID string          `json:"deploymentId,omitempty"` // required for deploy, refused otherwise
	DryRun       *bool           `json:"dryRun,omitempty"`       // nil: the function's default
	Force        bool            `json:"force,omitempty"`
	Reason       string          `json:"reason,omitempty"` // ≤ MaxReasonBytes, valid UTF-8, no control characters
}

// actionList is rollback.Actions as the errors say them.
func actionList() string {
	s := make([]string, len(rollback.Actions))
	for i, a := range rollback.Actions {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// MaxReasonBytes bounds Command.Reason.
const MaxReasonBytes = 256

// maxCommandBytes bounds a command payload: the largest valid one is well under 1 KiB.
const maxCommandBytes = 16 << 10

// commandFields are the JSON names of Command's fields, in documentation order.
var commandFields = []string{"action", "target", "deploymentId", "dryRun", "force", "reason"}

// DecodeCommand reads one manual command strictly: an object with only Command's fields (exact
// spelling, each at most once, none null, right types), nothing after it, and values that pass
// Validate.
func DecodeCommand(payload []byte) (Command, error) {
	if len(payload) > maxCommandBytes {
		return Command{}, bad("command is %d bytes, more than %d", len(payload), maxCommandBytes)
	}
	keys, values, err := objectMembers(payload)
	if err != nil {
		return Command{}, within("command", err)
	}
	seen := map[string]bool{}
	for i, k := range keys {
		if !slices.Contains(commandFields, k) {
			hint := ""
			for _, f := range commandFields {
				if strings.EqualFold(f, k) {
					hint = " (did you mean " + quote(f) + "?)"
				}
			}
			return Command{}, bad("command: unknown field %s%s; fields are %s", quote(k), hint, strings.Join(commandFields, ", "))
		}
		if seen[k] {
			return Command{}, bad("command: field %s appears twice", k)
		}
		seen[k] = true
		v := values[i]
		switch {
		case string(v) == "null":
			return Command{}, bad("command: field %s is null", k)
		case (k == "target" || k == "deploymentId") && string(v) == `""`:
			return Command{}, bad("command: field %s is empty (leave it out instead)", k)
		case k == "reason" && !utf8.Valid(v):
			return Command{}, bad("command: field reason is not valid UTF-8")
		}
	}
	var c Command
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Command{}, bad("command: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Command{}, bad("command: data after the JSON object")
	}
	if err := c.Validate(); err != nil {
		return Command{}, err
	}
	return c, nil
}

// Validate checks a Command's values: a known action, a well-formed target, a deploymentId exactly
// when the action is deploy, and a short, printable reason.
func (c Command) Validate() error {
	if c.Action == "" {
		return bad("command: field action is missing (one of %s)", actionList())
	}
	if !slices.Contains(rollback.Actions, c.Action) {
		return bad("command: action %s is not one of %s", quote(string(c.Action)), actionList())
	}
	if c.Target != "" {
		if strings.Contains(c.Target, "@") {
			return bad("command: target %s: want a target's name without \"@\" (restApiId/stage, http:apiId/stage, lambda:function:alias or cloudfront:ID:pathPattern; a fallback deployment is set in TARGETS, not in a command)", quote(c.Target))
		}
		if _, err := target.Parse(c.Target); err != nil {
			return badCause(err, "command: %s", err.Error())
		}
	}
	switch {
	case c.Action == rollback.ActionDeploy && c.DeploymentID == "":
		return bad("command: action deploy needs deploymentId")
	case c.Action != rollback.ActionDeploy && c.DeploymentID != "":
		return bad("command: deploymentId is only for action deploy, not %s", c.Action)
	case c.DeploymentID != "":
		if err := target.CheckDeploymentID(c.DeploymentID); err != nil {
			return badCause(err, "command: deploymentId: %s", err.Error())
		}
	}
	return checkReason(c.Reason)
}

func checkReason(s string) error {
	switch {
	case len(s) > MaxReasonBytes:
		return bad("command: reason is %d bytes, more than %d", len(s), MaxReasonBytes)
	case !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError):
		return bad("command: reason is not valid UTF-8")
	case strings.IndexFunc(s, unprintable) >= 0:
		return bad("command: reason %s contains control or formatting characters", quote(s))
	}
	return nil
}

// unprintable: control characters, and format characters (bidi overrides, zero-width) and line
// separators that can disguise what a log line says.
func unprintable(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

// objectMembers reads a JSON object's members in order, duplicates included, and refuses anything
// after it.
func objectMembers(data []byte) (keys []string, values []json.RawMessage, err error) {
	data = trimJSONSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, nil, bad("is %s, want an object", jsonKind(data))
	}
	if !json.Valid(data) {
		var v json.RawMessage
		return nil, nil, bad("%s", jsonProblem(json.Unmarshal(data, &v)))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '{'
		return nil, nil, bad("%s", jsonProblem(err))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, bad("%s", jsonProblem(err))
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, bad("%s", jsonProblem(err))
		}
		keys, values = append(keys, key), append(values, v)
	}
	return keys, values, nil
}
