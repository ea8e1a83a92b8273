package target

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// alarm is an alarm with several metrics, as event.Alarm gives them: Dimension answers from the
// metrics merged in order (the first value of a name), MetricDimension from each one.
type alarm []dims

func (a alarm) Dimension(n string) (string, bool) {
	for _, m := range a {
		if v, ok := m[n]; ok {
			return v, true
		}
	}
	return "", false
}
func (a alarm) MetricCount() int { return len(a) }
func (a alarm) MetricDimension(i int, n string) (string, bool) {
	v, ok := a[i][n]
	return v, ok
}

var _ MetricDimensions = alarm{}

func api(name, stage string) dims {
	if stage == "" {
		return dims{"ApiName": name}
	}
	return dims{"ApiName": name, "Stage": stage}
}

// ambiguityWorld: users has two allowed stages, orders one (its dev stage exists but is not a
// target), twin is a name two APIs share.
func ambiguityWorld(t *testing.T) (*Resolver, *fakeRestApis, *time.Time) {
	t.Helper()
	apis := &fakeRestApis{apis: map[string]string{"aaaa000001": "users", "aaaa000002": "orders", "aaaa000003": "twin", "aaaa000004": "twin", "aaaa000005": "misc"}}
	now := time.Unix(0, 0)
	names := NewNameCache(apis, time.Minute, func() time.Time { return now })
	list, err := ParseList("aaaa000001/prod,aaaa000001/dev,aaaa000002/prod,aaaa000003/prod," +
		"http:h1/live,http:h1/beta,lambda:fn1:live,lambda:fn2:live,cloudfront:E2QW:/api/*@old,cloudfront:E2QW:/img/*@old2,cloudfront:E9:*@x")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := ParseMappings("mapped-*=lambda:fn1:live", list)
	if err != nil {
		t.Fatal(err)
	}
	return NewResolver(list, maps, names), apis, &now
}

type resolveCase struct {
	name, alarm string
	dims        Dimensions
	want        string   // the target; "" = not one
	ignore      string   // ignored, with this in the reason
	candidates  []string // ambiguous: exactly these candidates (targets, then what is not one)
	rest        bool     // a metric has ApiName: Speculate may answer
}

var resolveCases = []resolveCase{
	// What must stay as it was.
	{name: "one metric, ApiName and Stage", dims: alarm{api("users", "dev")}, want: "aaaa000001/dev", rest: true},
	{name: "API-wide alarm, one allowed stage", dims: alarm{api("orders", "")}, want: "aaaa000002/prod", rest: true},
	{name: "ratio of two metrics of one stage", dims: alarm{api("orders", "prod"), api("orders", "prod")}, want: "aaaa000002/prod", rest: true},
	{name: "API-wide and per-stage metrics of a one-stage API", dims: alarm{api("orders", ""), api("orders", "prod")}, want: "aaaa000002/prod", rest: true},
	{name: "an unprotected kind beside the API", dims: alarm{api("orders", "prod"), dims{"InstanceId": "i-1"}}, want: "aaaa000002/prod", rest: true},
	{name: "merged dimensions only", dims: dims{"ApiName": "users", "Stage": "prod"}, want: "aaaa000001/prod", rest: true},
	{name: "no metric names a resource", alarm: "disk-full", dims: alarm{dims{"InstanceId": "i-1"}}, ignore: "no ApiName dimension"},
	{name: "two APIs, neither a target", dims: alarm{api("ghost", "prod"), api("misc", "prod")}, rest: true,
		ignore: `no REST API is named "ghost" in this account and region; aaaa000005/"prod" (API "misc") is not in TARGETS`},

	// Two allowed targets.
	{name: "metric math over two APIs", dims: alarm{api("users", "prod"), api("orders", "prod")}, rest: true,
		candidates: []string{"aaaa000001/prod", "aaaa000002/prod"}},
	{name: "two stages of one API", dims: alarm{api("users", "prod"), api("users", "dev")}, rest: true,
		candidates: []string{"aaaa000001/prod", "aaaa000001/dev"}},
	{name: "API-wide alarm, two allowed stages", dims: alarm{api("users", "")}, rest: true,
		candidates: []string{"aaaa000001/prod", "aaaa000001/dev"}},
	{name: "API-wide alarm, two allowed stages, merged dimensions", dims: dims{"ApiName": "users"}, rest: true,
		candidates: []string{"aaaa000001/prod", "aaaa000001/dev"}},
	{name: "an API and a Lambda alias", dims: alarm{api("orders", "prod"), dims{"FunctionName": "fn1", "Resource": "fn1:live"}}, rest: true,
		candidates: []string{"aaaa000002/prod", "lambda:fn1:live"}},
	{name: "two HTTP API stages", dims: alarm{dims{"ApiId": "h1", "Stage": "live"}, dims{"ApiId": "h1", "Stage": "beta"}},
		candidates: []string{"http:h1/live", "http:h1/beta"}},
	{name: "an HTTP API without Stage", dims: alarm{dims{"ApiId": "h1"}}, candidates: []string{"http:h1/live", "http:h1/beta"}},
	{name: "two functions", dims: alarm{dims{"FunctionName": "fn1"}, dims{"FunctionName": "fn2"}},
		candidates: []string{"lambda:fn1:live", "lambda:fn2:live"}},
	{name: "a distribution with two behaviours", dims: alarm{dims{"DistributionId": "E2QW", "Region": "Global"}},
		candidates: []string{"cloudfront:E2QW:/api/*", "cloudfront:E2QW:/img/*"}},
	{name: "a distribution with one behaviour", dims: alarm{dims{"DistributionId": "E9", "Region": "Global"}}, want: "cloudfront:E9:*"},

	// One allowed target and a resource that is not one: the alarm may fire for either.
	{name: "an allowed stage and one that is not", dims: alarm{api("orders", "prod"), api("orders", "dev")}, rest: true,
		candidates: []string{"aaaa000002/prod", `dimensions ApiName="orders" Stage="dev" (API aaaa000002, not in TARGETS)`}},
	{name: "an allowed API and an unknown one", dims: alarm{api("orders", "prod"), api("ghost", "prod")}, rest: true,
		candidates: []string{"aaaa000002/prod", `dimensions ApiName="ghost" Stage="prod" (no REST API of that name in this account and region)`}},
	{name: "an allowed alias and another function", dims: alarm{dims{"FunctionName": "fn1", "Resource": "fn1:live"}, dims{"FunctionName": "other"}},
		candidates: []string{"lambda:fn1:live", `dimensions FunctionName="other" (no lambda target in TARGETS)`}},

	// Two REST APIs share the name.
	{name: "a shared API name", dims: alarm{api("twin", "prod")}, rest: true, candidates: []string{"aaaa000003/prod", "aaaa000004/prod"}},

	// ALARM_TARGETS comes before the other kinds' dimensions, never before ApiName.
	{name: "a mapped alarm over two functions", alarm: "mapped-errors", dims: alarm{dims{"FunctionName": "fn1"}, dims{"FunctionName": "fn2"}}, want: "lambda:fn1:live"},
	{name: "a mapped alarm over two APIs", alarm: "mapped-5xx", dims: alarm{api("users", "prod"), api("orders", "prod")}, rest: true,
		candidates: []string{"aaaa000001/prod", "aaaa000002/prod"}},
}

func TestResolveRefusesAmbiguousAlarms(t *testing.T) {
	r, _, _ := ambiguityWorld(t)
	for _, tc := range resolveCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.alarm == "" {
				tc.alarm = tc.name
			}
			got, ok, why, err := r.Resolve(context.Background(), tc.alarm, tc.dims)
			switch {
			case tc.candidates != nil:
				var amb *AmbiguousError
				if !errors.Is(err, ErrAmbiguous) || !errors.As(err, &amb) || ok || got != (Target{}) {
					t.Fatalf("got %v ok=%v why=%q err=%v, want ambiguous", got, ok, why, err)
				}
				if !slices.Equal(amb.Candidates, tc.candidates) || amb.Alarm != tc.alarm {
					t.Errorf("candidates %q of alarm %q, want %q", amb.Candidates, amb.Alarm, tc.candidates)
				}
				for _, c := range tc.candidates {
					if !strings.Contains(err.Error(), c) {
						t.Errorf("%q does not name %s", err, c)
					}
				}
				for _, target := range amb.Targets {
					if !slices.Contains(tc.candidates, target.String()) {
						t.Errorf("target %s is no candidate", target)
					}
				}
				if !strings.Contains(err.Error(), quote(tc.alarm)) || !strings.Contains(err.Error(), "Rewind moves none of them") {
					t.Errorf("%q does not name the alarm or say nothing moves", err)
				}
			case tc.ignore != "":
				if ok || err != nil || !strings.Contains(why, tc.ignore) {
					t.Fatalf("got %v ok=%v why=%q err=%v, want ignored: %s", got, ok, why, err, tc.ignore)
				}
			default:
				if !ok || err != nil || got.String() != tc.want {
					t.Fatalf("got %v ok=%v why=%q err=%v, want %s", got, ok, why, err, tc.want)
				}
			}
		})
	}
}

// Speculate is Resolve's rule on the cached ids: whenever it guesses, Resolve (on the same ids)
// gives that target; it never guesses for an alarm Resolve finds ambiguous or not for a target.
func TestSpeculateNeverGuessesWhatResolveRefuses(t *testing.T) {
	for _, tc := range resolveCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.alarm == "" {
				tc.alarm = tc.name
			}
			r, _, now := ambiguityWorld(t)
			if _, ok := r.Speculate(tc.dims); ok {
				t.Fatal("a guess from an empty cache")
			}
			want, ok, _, err := r.Resolve(context.Background(), tc.alarm, tc.dims) // fills the cache
			if _, guessed := r.Speculate(tc.dims); guessed {
				t.Error("a guess from a fresh cache: Resolve is as fast")
			}
			*now = now.Add(2 * time.Minute)
			guess, guessed := r.Speculate(tc.dims)
			switch {
			case guessed && (err != nil || !ok || guess.String() != want.String()):
				t.Errorf("Speculate guessed %v where Resolve gives %v ok=%v err=%v", guess, want, ok, err)
			case !guessed && tc.rest && ok && err == nil:
				t.Errorf("Speculate did not guess %v from a stale cache", want)
			case guessed && !tc.rest:
				t.Errorf("Speculate guessed %v for an alarm without ApiName", guess)
			}
		})
	}
}

func TestSpeculateNeedsEveryNameCached(t *testing.T) {
	r, _, now := ambiguityWorld(t)
	if _, _, _, err := r.Resolve(context.Background(), "a", alarm{api("orders", "prod")}); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(2 * time.Minute)
	if g, ok := r.Speculate(alarm{api("orders", "prod")}); !ok || g.String() != "aaaa000002/prod" {
		t.Fatalf("Speculate on a stale cache: %v %v", g, ok)
	}
	// "brand-new" was not in the listing: the cache cannot say it is no API (it may be new).
	if g, ok := r.Speculate(alarm{api("orders", "prod"), api("brand-new", "prod")}); ok {
		t.Errorf("guessed %v with a name the cache does not know", g)
	}
}

func TestAmbiguousErrorStaysShort(t *testing.T) {
	r, apis, _ := ambiguityWorld(t)
	var many alarm
	for i := range 12 {
		many = append(many, api(fmt.Sprintf("api-%02d", i), "prod"))
	}
	_, ok, _, err := r.Resolve(context.Background(), "all the APIs", many)
	if !errors.Is(err, ErrAmbiguous) || ok || !strings.Contains(err.Error(), "more than 10 APIs") {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if apis.calls > 3*maxAPINames {
		t.Errorf("%d GetRestApis calls for one alarm", apis.calls)
	}
	long := &AmbiguousError{Alarm: strings.Repeat("x", 300), Reason: "r"}
	for i := range 50 {
		long.Candidates = append(long.Candidates, fmt.Sprintf("aaaa%06d/prod", i))
	}
	if n := len(long.Error()); n > 512 || !strings.Contains(long.Error(), "and 42 more") {
		t.Errorf("%d bytes: %s", n, long.Error())
	}
}

// A lookup that fails is an error to retry, not ambiguity, even beside a metric that could decide.
func TestLookupFailureIsNotAmbiguity(t *testing.T) {
	list, _ := ParseList("aaaa000001/prod,aaaa000002/prod")
	r := NewResolver(list, nil, nil) // no API Gateway client
	_, ok, _, err := r.Resolve(context.Background(), "x", alarm{api("users", "prod"), api("orders", "prod")})
	if err == nil || ok || errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "no API Gateway client") {
		t.Errorf("ok=%v err=%v", ok, err)
	}
}
