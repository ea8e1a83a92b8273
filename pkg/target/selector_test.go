package target

import (
	"errors"
	"strings"
	"testing"
)

func TestSelectorGrammar(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Selector
		err  error  // nil: parses
		says string // a piece of the error
	}{
		{in: "rest:tag:rewind=protect", want: Selector{Kind: KindRESTStage, Key: "rewind", Value: "protect"}},
		{in: "http:tag:rewind=protect", want: Selector{Kind: KindHTTPStage, Key: "rewind", Value: "protect"}},
		{in: "rest:tag:rewind", want: Selector{Kind: KindRESTStage, Key: "rewind", AnyValue: true}},
		{in: "rest:tag:team/app=a b:c=d", want: Selector{Kind: KindRESTStage, Key: "team/app", Value: "a b:c=d"}},
		{in: "rest:tag:équipe=paiements", want: Selector{Kind: KindRESTStage, Key: "équipe", Value: "paiements"}},
		{in: "rest:tag:k@x.+-_=v@x.+-_/", want: Selector{Kind: KindRESTStage, Key: "k@x.+-_", Value: "v@x.+-_/"}},
		{in: "tag:rewind=protect", err: ErrMalformed, says: "name the kind"},
		{in: "lambda:tag:rewind=protect", err: ErrUnknownKind, says: "only REST and HTTP"},
		{in: "rest:tag:", err: ErrMalformed, says: "tag key"},
		{in: "rest:tag:=protect", err: ErrMalformed, says: "tag key"},
		{in: "rest:tag:rewind=", err: ErrMalformed, says: "for any value"},
		{in: "rest:tag:aws:cloudformation:stack-name=x", err: ErrMalformed, says: "aws:"},
		{in: "rest:tag:AWS:x=y", err: ErrMalformed, says: "aws:"},
		{in: "rest:tag:re*wind=protect", err: ErrMalformed, says: "tag key"},
		{in: "rest:tag:rewind=pro%74ect", err: ErrMalformed, says: "tag value"},
		{in: "rest:tag:" + strings.Repeat("k", 129) + "=v", err: ErrMalformed, says: "1-128"},
		{in: "rest:tag:k=" + strings.Repeat("v", 257), err: ErrMalformed, says: "1-256"},
		{in: "rest:tag:k=\xff", err: ErrMalformed, says: "tag value"},
		{in: "rest:tag:k=a\tb", err: ErrMalformed, says: "tag value"},
	} {
		got, err := ParseSelector(c.in)
		switch {
		case c.err == nil && err != nil:
			t.Errorf("%q: %v", c.in, err)
		case c.err == nil && got != c.want:
			t.Errorf("%q: %+v, want %+v", c.in, got, c.want)
		case c.err == nil && got.String() != c.in:
			t.Errorf("%q reads back as %q", c.in, got)
		case c.err != nil && (!errors.Is(err, c.err) || !strings.Contains(err.Error(), c.says)):
			t.Errorf("%q: error %v, want %v saying %q", c.in, err, c.err, c.says)
		}
	}
}

func TestSpecMixesTargetsAndSelectors(t *testing.T) {
	spec, err := ParseSpec("a1b2c3d4e5/prod@dep123, rest:tag:rewind=protect, http:h1/$default, rest:tag:team")
	if err != nil {
		t.Fatal(err)
	}
	if got := Names(spec.Explicit); strings.Join(got, ",") != "a1b2c3d4e5/prod,http:h1/$default" || spec.Explicit[0].Fallback != "dep123" {
		t.Errorf("explicit: %v %+v", got, spec.Explicit)
	}
	if len(spec.Selectors) != 2 || spec.Selectors[1].String() != "rest:tag:team" {
		t.Errorf("selectors: %v", spec.Selectors)
	}
	if k := spec.Kinds(); len(k) != 2 || k[0] != KindRESTStage || k[1] != KindHTTPStage {
		t.Errorf("kinds: %v", k)
	}
	only, err := ParseSpec("rest:tag:rewind=protect")
	if err != nil || len(only.Explicit) != 0 || len(only.Selectors) != 1 {
		t.Errorf("a selector alone: %+v, %v", only, err)
	}
	for in, says := range map[string]string{
		"rest:tag:a=b, rest:tag:a=b":     "listed twice",
		"a1/prod, rest:tag:a=b, a1/prod": "listed twice",
		"rest:tag:a=b, a1/pr od":         "stage",
		"rest:tag:a=b, tag:a=b":          "name the kind",
		" , ":                            "no targets",
	} {
		if _, err := ParseSpec(in); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want an error saying %q", in, err, says)
		}
	}
}

func TestSelectorMatches(t *testing.T) {
	tags := map[string]string{"rewind": "protect", "team": ""}
	for s, want := range map[string]bool{"rest:tag:rewind=protect": true, "rest:tag:rewind=watch": false, "rest:tag:rewind": true,
		"rest:tag:team": true, "rest:tag:other": false} {
		sel, err := ParseSelector(s)
		if err != nil {
			t.Fatal(err)
		}
		if sel.Matches(tags) != want {
			t.Errorf("%s matches %v: %v", s, tags, !want)
		}
	}
}
