// Package samtemplate loads a CloudFormation/SAM template (YAML) into plain Go values, so tests can
// check properties of the template Rewind is deployed with (least privilege, safety settings).
//
// CloudFormation's short-form tags become the long form: !Sub "x" is map{"Fn::Sub": "x"},
// !Ref X is map{"Ref": "X"}, !GetAtt A.B is map{"Fn::GetAtt": ["A", "B"]}, !Condition C is
// map{"Condition": "C"}. Mappings are map[string]any, sequences []any, and scalars string, int64,
// float64, bool or nil as YAML resolves them. Anything the loader cannot represent faithfully
// (an unknown tag, a duplicate key, a merge key, several documents) is an error, never a guess:
// a check that looks at a silently wrong value would pass for the wrong reason.
package samtemplate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Template is a loaded template. Sections that are absent are empty maps, never nil.
type Template struct {
	Parameters map[string]any
	Conditions map[string]any
	// Globals is SAM's Globals section (e.g. Globals["Function"]).
	Globals   map[string]any
	Resources map[string]Resource
	Outputs   map[string]any
	// Doc is the whole document, for sections without a field here.
	Doc map[string]any
}

// Resource is one entry of Resources.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	// Condition is the resource's Condition attribute ("" when it has none).
	Condition string
	// Raw is the whole resource entry (DependsOn, DeletionPolicy, ...).
	Raw map[string]any
}

// ResourceNames returns the logical ids, sorted, so callers iterate deterministically.
func (t *Template) ResourceNames() []string {
	names := make([]string, 0, len(t.Resources))
	for name := range t.Resources {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse parses a template from YAML (JSON is YAML too).
func Parse(data []byte) (*Template, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("parse: %w", err)
		}
		return nil, fmt.Errorf("line %d: a template is one YAML document, found another", extra.Line)
	}
	v, err := convert(&root, 0)
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the template is a %T, want a mapping", v)
	}
	t := &Template{Doc: doc, Resources: map[string]Resource{}}
	for _, s := range []struct {
		name string
		dst  *map[string]any
	}{
		{"Parameters", &t.Parameters},
		{"Conditions", &t.Conditions},
		{"Globals", &t.Globals},
		{"Outputs", &t.Outputs},
	} {
		m, err := section(doc, s.name)
		if err != nil {
			return nil, err
		}
		*s.dst = m
	}
	resources, err := section(doc, "Resources")
	if err != nil {
		return nil, err
	}
	if len(resources) == 0 {
		return nil, errors.New("the template has no Resources")
	}
	for name, rv := range resources {
		raw, ok := rv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("resource %s is a %T, want a mapping", name, rv)
		}
		r := Resource{Raw: raw}
		if r.Type, ok = raw["Type"].(string); !ok || r.Type == "" {
			return nil, fmt.Errorf("resource %s has no Type string", name)
		}
		if r.Properties, err = section(raw, "Properties"); err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
		if r.Metadata, err = section(raw, "Metadata"); err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
		if c, present := raw["Condition"]; present {
			if r.Condition, ok = c.(string); !ok {
				return nil, fmt.Errorf("resource %s: Condition is a %T, want a condition name", name, c)
			}
		}
		t.Resources[name] = r
	}
	return t, nil
}

// section returns m[name] as a mapping; absent or null is an empty mapping.
func section(m map[string]any, name string) (map[string]any, error) {
	v, ok := m[name]
	if !ok || v == nil {
		return map[string]any{}, nil
	}
	s, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is a %T, want a mapping", name, v)
	}
	return s, nil
}

// intrinsicTags maps CloudFormation's short-form tags to their long-form keys. A tag not listed is
// an error: it is either a typo CloudFormation would reject or a function these checks do not know.
var intrinsicTags = map[string]string{
	"!Ref":          "Ref",
	"!Condition":    "Condition",
	"!Sub":          "Fn::Sub",
	"!GetAtt":       "Fn::GetAtt",
	"!If":           "Fn::If",
	"!Not":          "Fn::Not",
	"!Equals":       "Fn::Equals",
	"!And":          "Fn::And",
	"!Or":           "Fn::Or",
	"!Join":         "Fn::Join",
	"!Select":       "Fn::Select",
	"!Split":        "Fn::Split",
	"!FindInMap":    "Fn::FindInMap",
	"!Base64":       "Fn::Base64",
	"!Cidr":         "Fn::Cidr",
	"!GetAZs":       "Fn::GetAZs",
	"!ImportValue":  "Fn::ImportValue",
	"!Transform":    "Fn::Transform",
	"!ToJsonString": "Fn::ToJsonString",
	"!Length":       "Fn::Length",
}

// maxDepth bounds nesting (and alias chains), so a hostile or broken file cannot exhaust the stack.
const maxDepth = 200

func convert(n *yaml.Node, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("line %d: nested more than %d levels", n.Line, maxDepth)
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) != 1 {
			return nil, errors.New("empty template")
		}
		return convert(n.Content[0], depth+1)
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: alias without an anchor", n.Line)
		}
		return convert(n.Alias, depth+1)
	}
	tag := n.Tag
	if strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") && tag != "!" {
		key, known := intrinsicTags[tag]
		if !known {
			return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, tag)
		}
		var arg any
		var err error
		if n.Kind == yaml.ScalarNode {
			// The argument of a tagged scalar is its text: !Ref 5 names the parameter "5".
			arg = n.Value
			if key == "Fn::GetAtt" {
				res, attr, ok := strings.Cut(n.Value, ".")
				if !ok || res == "" || attr == "" {
					return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, n.Value)
				}
				arg = []any{res, attr}
			}
		} else if arg, err = convertUntagged(n, depth); err != nil {
			return nil, err
		}
		return map[string]any{key: arg}, nil
	}
	return convertUntagged(n, depth)
}

// convertUntagged converts n's content, ignoring an intrinsic tag on n itself.
func convertUntagged(n *yaml.Node, depth int) (any, error) {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key must be a plain string", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return nil, fmt.Errorf("line %d: YAML merge keys (<<) are not CloudFormation", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			v, err := convert(vn, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := convert(c, depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		return scalar(n)
	case yaml.AliasNode, yaml.DocumentNode:
		return convert(n, depth+1)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
}

func scalar(n *yaml.Node) (any, error) {
	tag := n.ShortTag()
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		tag = "!!str" // an intrinsic's scalar argument
	}
	switch tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not a boolean", n.Line, n.Value)
		}
		return b, nil
	case "!!int":
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not a 64-bit integer", n.Line, n.Value)
		}
		return i, nil
	case "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			// .inf, .nan: not something a template needs; keep the text.
			return n.Value, nil
		}
		return f, nil
	default:
		return n.Value, nil
	}
}
