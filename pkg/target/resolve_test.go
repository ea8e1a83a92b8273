package target

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"
)

// fakeRestApis serves GetRestApis in pages of two, like a long account listing.
type fakeRestApis struct {
	apis  map[string]string // id -> name
	calls int
}

func (f *fakeRestApis) GetRestApis(_ context.Context, in *apigateway.GetRestApisInput, _ ...func(*apigateway.Options)) (*apigateway.GetRestApisOutput, error) {
	f.calls++
	ids := make([]string, 0, len(f.apis))
	for id := range f.apis {
		ids = append(ids, id)
	}
	slices.Sort(ids) // stable order so pages are well defined
	start := 0
	if in.Position != nil {
		for i, id := range ids {
			if id == *in.Position {
				start = i
			}
		}
	}
	out := &apigateway.GetRestApisOutput{}
	for i := start; i < len(ids) && i < start+2; i++ {
		out.Items = append(out.Items, types.RestApi{Id: aws.String(ids[i]), Name: aws.String(f.apis[ids[i]])})
	}
	if start+2 < len(ids) {
		out.Position = aws.String(ids[start+2])
	}
	return out, nil
}

type dims map[string]string

func (d dims) Dimension(n string) (string, bool) { v, ok := d[n]; return v, ok }

func TestResolve(t *testing.T) {
	api := &fakeRestApis{apis: map[string]string{"aaaa000001": "users", "aaaa000002": "orders", "aaaa000003": "twin", "aaaa000004": "twin", "aaaa000005": "misc"}}
	now := time.Unix(0, 0)
	names := NewNameCache(api, time.Minute, func() time.Time { return now })
	targets, _ := ParseList("aaaa000001/prod,aaaa000001/dev,aaaa000002/prod,aaaa000003/prod")
	maps, err := ParseMappings("user-lambda-*=aaaa000001/prod", targets)
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver(targets, maps, names)
	tests := []struct {
		name   string
		alarm  string
		dims   dims
		want   string
		ignore string
		err    string
	}{
		{"ApiName and Stage", "x", dims{"ApiName": "users", "Stage": "dev"}, "aaaa000001/dev", "", ""},
		{"ApiName on the last page", "x", dims{"ApiName": "misc", "Stage": "prod"}, "", "not in TARGETS", ""},
		{"stage not allowed", "x", dims{"ApiName": "orders", "Stage": "dev"}, "", "not in TARGETS", ""},
		{"ApiName without Stage, one allowed stage", "x", dims{"ApiName": "orders"}, "aaaa000002/prod", "", ""},
		{"ApiName without Stage, several allowed stages", "x", dims{"ApiName": "users"}, "", "", `ambiguous: its metric (dimensions ApiName="users") covers 2 targets: aaaa000001/prod, aaaa000001/dev`},
		{"unknown API name", "x", dims{"ApiName": "ghost", "Stage": "prod"}, "", "no REST API is named", ""},
		{"ambiguous API name is an error", "x", dims{"ApiName": "twin", "Stage": "prod"}, "", "", `API name "twin" is ambiguous: REST APIs aaaa000003, aaaa000004 share it: aaaa000003/prod, aaaa000004/prod`},
		{"mapping by alarm name", "user-lambda-errors", dims{"FunctionName": "api-user-id"}, "aaaa000001/prod", "", ""},
		{"unmapped with several targets", "disk-full", dims{}, "", "no ApiName dimension", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, why, err := r.Resolve(context.Background(), tc.alarm, tc.dims)
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrAmbiguous) {
					t.Fatalf("err = %v, want ErrAmbiguous with %q", err, tc.err)
				}
			case tc.ignore != "":
				if ok || err != nil || !strings.Contains(why, tc.ignore) {
					t.Fatalf("got %v ok=%v why=%q err=%v, want ignored with %q", got, ok, why, err, tc.ignore)
				}
			default:
				if !ok || err != nil || got.String() != tc.want {
					t.Fatalf("got %v ok=%v why=%q err=%v, want %s", got, ok, why, err, tc.want)
				}
			}
		})
	}
	single := NewResolver(targets[:1], nil, names)
	if got, ok, _, _ := single.Resolve(context.Background(), "composite-anything", dims{}); !ok || got.String() != "aaaa000001/prod" {
		t.Errorf("a single target takes alarms without ApiName: %v %v", got, ok)
	}
}

func TestNameCacheSavesRoundTripsWhileFresh(t *testing.T) {
	api := &fakeRestApis{apis: map[string]string{"aaaa000001": "users"}}
	now := time.Unix(0, 0)
	c := NewNameCache(api, time.Minute, func() time.Time { return now })
	for range 3 {
		if ids, err := c.IDs(context.Background(), "users"); err != nil || len(ids) != 1 {
			t.Fatal(ids, err)
		}
	}
	if api.calls != 1 {
		t.Fatalf("warm lookups made %d listings, want 1", api.calls)
	}
	now = now.Add(2 * time.Minute)
	api.apis["aaaa000009"] = "users"
	if ids, _ := c.IDs(context.Background(), "users"); len(ids) != 2 {
		t.Fatalf("after the TTL the listing must be read again and show the new twin: %v", ids)
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{"", "abc", "/prod", "abc/", "a b/prod", "../x/prod", "abc/pr od", "abc/prod@", "abc/prod@../x", "abc%2F/prod", strings.Repeat("a", 65) + "/prod"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	got, err := Parse("a1b2c3d4e5/prod@d1legacy")
	if err != nil || got.Resource != "a1b2c3d4e5" || got.Slot != "prod" || got.Fallback != "d1legacy" || got.String() != "a1b2c3d4e5/prod" {
		t.Errorf("Parse = %+v, %v", got, err)
	}
}
