package target

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestParseKinds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
		name string
	}{
		{"a1b2c3d4e5/prod", Target{Kind: KindRESTStage, Resource: "a1b2c3d4e5", Slot: "prod"}, "a1b2c3d4e5/prod"},
		{"rest:a1b2c3d4e5/prod@d1", Target{Kind: KindRESTStage, Resource: "a1b2c3d4e5", Slot: "prod", Fallback: "d1"}, "a1b2c3d4e5/prod"},
		{"http:h1b2c3d4e5/$default", Target{Kind: KindHTTPStage, Resource: "h1b2c3d4e5", Slot: "$default"}, "http:h1b2c3d4e5/$default"},
		{"h1b2c3d4e5/$default", Target{}, ""},    // REST stages have no $default
		{"http:h1b2c3d4e5/$other", Target{}, ""}, // the one "$" name is $default
		{"http:h1b2c3d4e5/live@dep9", Target{Kind: KindHTTPStage, Resource: "h1b2c3d4e5", Slot: "live", Fallback: "dep9"}, "http:h1b2c3d4e5/live"},
		{"lambda:api-user-id:live", Target{Kind: KindLambdaAlias, Resource: "api-user-id", Slot: "live"}, "lambda:api-user-id:live"},
		{"lambda:api-user-id:live@7", Target{Kind: KindLambdaAlias, Resource: "api-user-id", Slot: "live", Fallback: "7"}, "lambda:api-user-id:live"},
		{"cloudfront:E2QWRUHAPOMQZL:/api/users/*@legacy-ec2", Target{Kind: KindCloudFront, Resource: "E2QWRUHAPOMQZL", Slot: "/api/users/*", Fallback: "legacy-ec2"}, "cloudfront:E2QWRUHAPOMQZL:/api/users/*"},
		{"cloudfront:E2QWRUHAPOMQZL:*@api-origin.luna.com", Target{Kind: KindCloudFront, Resource: "E2QWRUHAPOMQZL", Slot: "*", Fallback: "api-origin.luna.com"}, "cloudfront:E2QWRUHAPOMQZL:*"},
		{"cloudfront:E2QWRUHAPOMQZL:/u/@me/*@old", Target{}, ""}, // "@" in a pattern would read two ways
	} {
		got, err := Parse(tc.in)
		if tc.name == "" {
			if err == nil {
				t.Errorf("Parse(%q) = %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want || got.String() != tc.name {
			t.Errorf("Parse(%q) = %+v (%q), %v; want %+v (%q)", tc.in, got, got.String(), err, tc.want, tc.name)
		}
		if back, err := Parse(got.String()); err != nil || back.String() != tc.name {
			t.Errorf("the name %q does not parse back to itself: %+v, %v", got.String(), back, err)
		}
	}
}

func TestParseRefusesWithTheReason(t *testing.T) {
	for in, want := range map[string]string{
		"lamda:fn:live":                   `unknown kind "lamda"`,
		"s3:bucket/key":                   `unknown kind "s3"`,
		"http:abc":                        "want http:apiId/stage",
		"abc":                             "want restApiId/stage",
		"rest:abc/prod@../x":              "fallback deployment",
		"http:ab/c/d":                     "stage",
		"lambda:fn":                       "want lambda:functionName:alias",
		"lambda:fn:123":                   "not only digits",
		"lambda:fn:live@$LATEST":          "fallback version",
		"lambda:f n:live":                 "function name",
		"cloudfront:e2qw:/api/*@x":        "distribution id",
		"cloudfront:E2QW":                 "want cloudfront:",
		"cloudfront:E2QW:/api/%2F*@x":     "path pattern",
		"cloudfront:E2QW:/api/*@":         "legacy origin id",
		"cloudfront:E2QW:/api/*@a b":      "legacy origin id",
		"cloudfront:E2QW:/a pi/*@old":     "path pattern",
		"cloudfront:E2QW:/api/*@old/../x": "legacy origin id",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestParseListNeedsTheLegacyOriginAndRefusesDuplicatesAcrossSpellings(t *testing.T) {
	if _, err := ParseList("cloudfront:E2QW:/api/*"); err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "legacy origin") {
		t.Errorf("a CloudFront target without its legacy origin: %v", err)
	}
	if _, err := ParseList("abc/prod,rest:abc/prod@d1"); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("the same REST stage twice: %v", err)
	}
	list, err := ParseList("abc/prod, http:abc/prod, lambda:fn:live@3, cloudfront:E2QW:/api/*@old")
	if err != nil || len(list) != 4 {
		t.Fatalf("%v %v", list, err)
	}
	for name, kind := range map[string]Kind{"rest:abc/prod": KindRESTStage, "abc/prod": KindRESTStage, "http:abc/prod": KindHTTPStage,
		"lambda:fn:live": KindLambdaAlias, "cloudfront:E2QW:/api/*": KindCloudFront} {
		if got, ok := Find(list, name); !ok || got.Kind != kind {
			t.Errorf("Find(%q) = %+v, %v", name, got, ok)
		}
	}
	if _, ok := Find(list, "lambda:fn:other"); ok {
		t.Error("Find matched an alias that is not listed")
	}
}

func TestResolveByTheDimensionsOfEachKind(t *testing.T) {
	list, err := ParseList("abc/prod,http:h1/live,http:h1/beta,lambda:api-user-id:live,lambda:api-user-id:beta,lambda:solo:live,cloudfront:E2QW:/api/*@old")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := ParseMappings("users-errors*=lambda:api-user-id:beta", list)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver(list, maps, nil)
	for _, tc := range []struct {
		alarm string
		dims  dims
		want  string // "" = ignored
		why   string
	}{
		{"http 5xx", dims{"ApiId": "h1", "Stage": "live"}, "http:h1/live", ""},
		{"http 5xx any stage", dims{"ApiId": "h1"}, "", "ambiguous: its metric (dimensions ApiId=\"h1\") covers 2 targets: http:h1/live, http:h1/beta"},
		{"http other api", dims{"ApiId": "zz", "Stage": "live"}, "", "match no http target"},
		{"alias errors", dims{"FunctionName": "api-user-id", "Resource": "api-user-id:live"}, "lambda:api-user-id:live", ""},
		{"function errors", dims{"FunctionName": "solo"}, "lambda:solo:live", ""},
		{"function errors, two aliases", dims{"FunctionName": "api-user-id"}, "", "ambiguous: its metric (dimensions FunctionName=\"api-user-id\") covers 2 targets: lambda:api-user-id:live, lambda:api-user-id:beta"},
		{"version errors", dims{"FunctionName": "api-user-id", "Resource": "api-user-id:12"}, "", "match no lambda target"},
		{"users-errors-p1", dims{"FunctionName": "api-user-id", "Resource": "api-user-id:live"}, "lambda:api-user-id:beta", ""},
		{"cf 5xx", dims{"DistributionId": "E2QW", "Region": "Global"}, "cloudfront:E2QW:/api/*", ""},
		{"cf other", dims{"DistributionId": "E9", "Region": "Global"}, "", "match no cloudfront target"},
	} {
		got, ok, why, err := r.Resolve(context.Background(), tc.alarm, tc.dims)
		if strings.HasPrefix(tc.why, "ambiguous") {
			if !errors.Is(err, ErrAmbiguous) || ok || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), tc.alarm) {
				t.Errorf("%s: got %v ok=%v err=%v, want ambiguous: %s", tc.alarm, got, ok, err, tc.why)
			}
			if err != nil && !strings.Contains(err.Error(), "ALARM_TARGETS") {
				t.Errorf("%s: %v does not say that ALARM_TARGETS can map it", tc.alarm, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.alarm, err)
			continue
		}
		if tc.want != "" && (!ok || got.String() != tc.want) {
			t.Errorf("%s: got %v ok=%v (%s), want %s", tc.alarm, got, ok, why, tc.want)
		}
		if tc.want == "" && (ok || !strings.Contains(why, tc.why)) {
			t.Errorf("%s: got %v ok=%v (%s), want ignored: %s", tc.alarm, got, ok, why, tc.why)
		}
	}
	// One REST target only: a Lambda Errors alarm still reaches it, as before this grammar existed.
	single := NewResolver([]Target{{Kind: KindRESTStage, Resource: "abc", Slot: "prod"}}, nil, nil)
	if got, ok, _, _ := single.Resolve(context.Background(), "api-user-id errors", dims{"FunctionName": "api-user-id"}); !ok || got.String() != "abc/prod" {
		t.Errorf("single REST target: %v %v", got, ok)
	}
	// No REST target: an ApiName alarm (say, the API in front of the alias) goes by ALARM_TARGETS, and
	// no API Gateway client is needed to resolve it.
	aliasOnly, _ := ParseList("lambda:fn:live,lambda:fn:beta")
	m, _ := ParseMappings("api-5xx=lambda:fn:live", aliasOnly)
	if got, ok, why, err := NewResolver(aliasOnly, m, nil).Resolve(context.Background(), "api-5xx", dims{"ApiName": "users", "Stage": "prod"}); !ok || err != nil || got.String() != "lambda:fn:live" {
		t.Errorf("ApiName alarm without REST targets: %v %v %s %v", got, ok, why, err)
	}
	// One alias only: an alarm about another function is not about it.
	alias := NewResolver([]Target{{Kind: KindLambdaAlias, Resource: "fn", Slot: "live"}}, nil, nil)
	if got, ok, why, _ := alias.Resolve(context.Background(), "other errors", dims{"FunctionName": "other"}); ok {
		t.Errorf("an alarm on another function reached %v", got)
	} else if !strings.Contains(why, `FunctionName="other"`) {
		t.Errorf("reason %q does not name the dimension", why)
	}
}

func TestCheckDeploymentIDTakesOriginsAndVersionsButNoPaths(t *testing.T) {
	for _, ok := range []string{"a1b2c3", "7", "api-origin.luna.com", "legacy-ec2", "S3-my_bucket"} {
		if err := CheckDeploymentID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "../abc", "abc%2F", "abc def", "a/b", ".hidden", "a..b", strings.Repeat("a", 129)} {
		if err := CheckDeploymentID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestGrammarSaysWhatParseListTakes keeps the grammar that messages quote in step with the parser:
// every form it shows, written out, is a valid TARGETS entry, and every kind has a form.
func TestGrammarSaysWhatParseListTakes(t *testing.T) {
	examples := map[string]string{
		"restApiId/stage[@fallbackDeploymentId]":               "a1b2c3d4e5/prod@d1,a1b2c3d4e5/dev",
		"rest:restApiId/stage[@fallbackDeploymentId]":          "rest:a1b2c3d4e5/prod@d1,rest:a1b2c3d4e5/dev",
		"http:apiId/stage[@fallbackDeploymentId]":              "http:h1b2c3d4e5/$default@dep9,http:h1b2c3d4e5/live",
		"lambda:functionName:alias[@fallbackVersion]":          "lambda:api-user-id:live@7,lambda:api-user-id:beta",
		"cloudfront:DISTRIBUTIONID:pathPattern@legacyOriginId": "cloudfront:E2QWRUHAPOMQZL:/user/*@legacy-ec2",
	}
	for form, list := range examples {
		if !strings.Contains(Grammar, form) {
			t.Errorf("Grammar %q does not show %s", Grammar, form)
		}
		if _, err := ParseList(list); err != nil {
			t.Errorf("%s: %q: %v", form, list, err)
		}
	}
	for _, k := range Kinds {
		if k != KindRESTStage && !strings.Contains(Grammar, string(k)+":") {
			t.Errorf("Grammar %q has no form for kind %s", Grammar, k)
		}
	}
	if _, err := ParseList(" , "); err == nil || !strings.Contains(err.Error(), Grammar) {
		t.Errorf("an empty list: %v, want the grammar", err)
	}
}
