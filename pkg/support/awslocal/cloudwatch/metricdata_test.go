package cloudwatch_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	cwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudwatch"
)

func stat(ns, name, stat string, period int32, dims ...types.Dimension) *types.MetricStat {
	return &types.MetricStat{Metric: &types.Metric{Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: dims},
		Period: aws.Int32(period), Stat: aws.String(stat)}
}

// GetMetricData through the SDK: per-period statistics from StartTime (rounded down to the minute)
// to EndTime (exclusive), newest first, a subset of metric math, and only ReturnData queries back.
func TestGetMetricDataAggregatesPerPeriodThroughTheSDK(t *testing.T) {
	cw, c := start(t, 1)
	dims := []cwlocal.Dimension{{Name: "ApiName", Value: "luna-api"}, {Name: "Stage", Value: "prod"}}
	at := func(m, s int) time.Time {
		return clock.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	cw.PutMetricData("AWS/ApiGateway", "5XXError", dims,
		cwlocal.Sample{At: at(-1, 0), Value: 100}, // before StartTime's minute
		cwlocal.Sample{At: at(0, 5), Value: 2}, cwlocal.Sample{At: at(0, 50), Value: 4},
		cwlocal.Sample{At: at(2, 0), Value: 9},
		cwlocal.Sample{At: at(3, 0), Value: 50}) // at EndTime: excluded
	cw.PutMetricData("AWS/ApiGateway", "Count", dims, cwlocal.Sample{At: at(0, 1), Value: 10}, cwlocal.Sample{At: at(2, 1), Value: 0})
	sdkDims := []types.Dimension{{Name: aws.String("Stage"), Value: aws.String("prod")}, {Name: aws.String("ApiName"), Value: aws.String("luna-api")}}
	out, err := c.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(at(0, 30)), EndTime: aws.Time(at(3, 0)),
		MetricDataQueries: []types.MetricDataQuery{
			{Id: aws.String("sum"), MetricStat: stat("AWS/ApiGateway", "5XXError", "Sum", 60, sdkDims...)},
			{Id: aws.String("avg"), MetricStat: stat("AWS/ApiGateway", "5XXError", "Average", 60, sdkDims...)},
			{Id: aws.String("n"), MetricStat: stat("AWS/ApiGateway", "Count", "Sum", 60, sdkDims...), ReturnData: aws.Bool(false)},
			{Id: aws.String("rate"), Expression: aws.String("(sum / n) * 100"), Label: aws.String("error rate")},
			{Id: aws.String("other"), MetricStat: stat("AWS/ApiGateway", "5XXError", "Sum", 60)}, // no dimensions: another metric
		}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float64{}
	var ids []string
	for _, r := range out.MetricDataResults {
		ids = append(ids, aws.ToString(r.Id))
		got[aws.ToString(r.Id)] = r.Values
		if aws.ToString(r.Id) == "sum" && (len(r.Timestamps) != 2 || !r.Timestamps[0].Equal(at(2, 0)) || !r.Timestamps[1].Equal(at(0, 0))) {
			t.Errorf("sum's timestamps %v, want the periods starting %v and %v, newest first", r.Timestamps, at(2, 0), at(0, 0))
		}
	}
	if !slices.Equal(ids, []string{"sum", "avg", "rate", "other"}) {
		t.Fatalf("results %v: ReturnData false is not returned, the rest in query order", ids)
	}
	if !slices.Equal(got["sum"], []float64{9, 6}) || !slices.Equal(got["avg"], []float64{9, 3}) || !slices.Equal(got["rate"], []float64{60}) || len(got["other"]) != 0 {
		t.Errorf("values %v", got)
	}
	for name, in := range map[string]*cloudwatch.GetMetricDataInput{
		"start after end": {StartTime: aws.Time(at(3, 0)), EndTime: aws.Time(at(0, 0)),
			MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("a"), MetricStat: stat("N", "M", "Sum", 60)}}},
		"duplicate ids": {StartTime: aws.Time(at(0, 0)), EndTime: aws.Time(at(3, 0)),
			MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("a"), MetricStat: stat("N", "M", "Sum", 60)}, {Id: aws.String("a"), Expression: aws.String("a")}}},
		"an id of the wrong form": {StartTime: aws.Time(at(0, 0)), EndTime: aws.Time(at(3, 0)),
			MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("M1"), MetricStat: stat("N", "M", "Sum", 60)}}},
		"a function": {StartTime: aws.Time(at(0, 0)), EndTime: aws.Time(at(3, 0)),
			MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("a"), MetricStat: stat("N", "M", "Sum", 60)}, {Id: aws.String("e"), Expression: aws.String("FILL(a, 0)")}}},
		"an unknown id": {StartTime: aws.Time(at(0, 0)), EndTime: aws.Time(at(3, 0)),
			MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("e"), Expression: aws.String("zz * 2")}}},
	} {
		if _, err := c.GetMetricData(context.Background(), in); err == nil {
			t.Errorf("%s: no error", name)
		} else if code := errCode(err); code == "" {
			t.Errorf("%s: %v has no error code", name, err)
		}
	}
}
