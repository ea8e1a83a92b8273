package responder

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/target"
)

// Build makes an engine, and so a client, only for the kinds TARGETS names: a REST-only deployment
// builds the API Gateway client and nothing else, and only it resolves alarms' ApiName.
func TestOnlyTheKindsConfiguredGetAClient(t *testing.T) {
	for targets, want := range map[string][]target.Kind{
		"abc/prod":                     {target.KindRESTStage},
		"lambda:fn:live,http:h1/live":  {target.KindHTTPStage, target.KindLambdaAlias},
		"cloudfront:E1:/api/*@old":     {target.KindCloudFront},
		"abc/prod,cloudfront:E1:*@old": {target.KindRESTStage, target.KindCloudFront},
	} {
		list, err := target.ParseList(targets)
		if err != nil {
			t.Fatal(err)
		}
		h, err := Build(config.Config{Targets: list, MaxAutoPerHour: 3}, aws.Config{Region: "us-east-1"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []target.Kind
		for k := range h.engines {
			got = append(got, k)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: engines for %v, want %v", targets, got, want)
		}
	}
}
