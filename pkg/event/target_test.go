package event

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/rewind-sre/rewind/pkg/target"
)

// An Alarm is what pkg/target resolves: merged dimensions, and each metric's apart.
var (
	_ target.Dimensions       = Alarm{}
	_ target.MetricDimensions = Alarm{}
)

type restApis map[string]string // id -> name

func (r restApis) GetRestApis(context.Context, *apigateway.GetRestApisInput, ...func(*apigateway.Options)) (*apigateway.GetRestApisOutput, error) {
	out := &apigateway.GetRestApisOutput{}
	for id, name := range r {
		out.Items = append(out.Items, types.RestApi{Id: aws.String(id), Name: aws.String(name)})
	}
	return out, nil
}

// The metric-math alarm over orders-api and users-api names two targets: its merged dimensions
// alone would name only orders-api.
func TestAlarmsResolvePerMetric(t *testing.T) {
	list, err := target.ParseList("ordersid01/prod,usersid001/prod")
	if err != nil {
		t.Fatal(err)
	}
	r := target.NewResolver(list, nil, target.NewNameCache(restApis{"ordersid01": "orders-api", "usersid001": "users-api"}, 0, nil))
	for file, want := range map[string]string{
		"sns-apigw-metric-math-two-apis.json": "", // ambiguous
		"sns-apigw-metric-math.json":          "ordersid01/prod",
		"eventbridge-apigw-5xx-alarm.json":    "ordersid01/prod",
	} {
		_, recs, err := Decode(readFixture(t, file))
		if err != nil {
			t.Fatal(err)
		}
		a := *recs[0].Alarm
		got, ok, why, err := r.Resolve(context.Background(), a.Name, a)
		switch {
		case want == "" && (!errors.Is(err, target.ErrAmbiguous) || ok):
			t.Errorf("%s: %v %v %q %v, want ambiguous", file, got, ok, why, err)
		case want != "" && (!ok || err != nil || got.String() != want):
			t.Errorf("%s: %v %v %q %v, want %s", file, got, ok, why, err, want)
		}
	}
}

// The API-wide alarm (ApiName without Stage) moves the API's one allowed stage, and nothing when it
// has two.
func TestAPIWideAlarmResolves(t *testing.T) {
	_, recs, err := Decode(readFixture(t, "eventbridge-apigw-api-wide-5xx.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := *recs[0].Alarm
	names := target.NewNameCache(restApis{"ordersid01": "orders-api"}, 0, nil)
	one, _ := target.ParseList("ordersid01/prod")
	two, _ := target.ParseList("ordersid01/prod,ordersid01/dev")
	if got, ok, why, err := target.NewResolver(one, nil, names).Resolve(context.Background(), a.Name, a); !ok || err != nil || got.String() != "ordersid01/prod" {
		t.Errorf("one allowed stage: %v %v %q %v", got, ok, why, err)
	}
	if got, ok, why, err := target.NewResolver(two, nil, names).Resolve(context.Background(), a.Name, a); ok || !errors.Is(err, target.ErrAmbiguous) {
		t.Errorf("two allowed stages: %v %v %q %v", got, ok, why, err)
	}
}
