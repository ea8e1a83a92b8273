package cloudwatch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	cwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudwatch"
	lambdalocal "github.com/rewind-sre/rewind/pkg/support/awslocal/lambda"
)

const (
	topic = "arn:aws:sns:us-east-1:123456789012:rewind-alarms"
	other = "arn:aws:sns:us-east-1:123456789012:oncall"
)

var clock = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

func config(url string, attempts int) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		}}
}

// start serves a local CloudWatch and returns it with an SDK client (attempts 1: no retries).
func start(t *testing.T, attempts int) (*cwlocal.Server, *cloudwatch.Client) {
	t.Helper()
	cw, url := serve(t)
	return cw, cloudwatch.NewFromConfig(config(url, attempts))
}

func serve(t *testing.T) (*cwlocal.Server, string) {
	t.Helper()
	cw := cwlocal.New(cwlocal.Options{Now: func() time.Time { return clock }})
	srv := httptest.NewServer(cw)
	t.Cleanup(srv.Close)
	return cw, srv.URL
}

func errorMetric(name string, actions ...string) cwlocal.Alarm {
	return cwlocal.Alarm{Name: name, Namespace: "AWS/Lambda", MetricName: "Errors",
		Dimensions: []cwlocal.Dimension{{Name: "FunctionName", Value: "api-user-id"}}, Statistic: "Sum", Period: 60,
		EvaluationPeriods: 1, Threshold: 5, ComparisonOperator: "GreaterThanOrEqualToThreshold", AlarmActions: actions}
}

// lastAttempts is how many attempts (retries included) the last call of all sent.
var lastAttempts int

// all lists every page as Rewind's check does, returning the names in order and the page sizes.
func all(t *testing.T, c *cloudwatch.Client, in *cloudwatch.DescribeAlarmsInput) (names []string, pages []int) {
	t.Helper()
	p := cloudwatch.NewDescribeAlarmsPaginator(c, in)
	lastAttempts = 0
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("DescribeAlarms: %v", err)
		}
		for _, m := range page.MetricAlarms {
			names = append(names, aws.ToString(m.AlarmName))
		}
		for _, m := range page.CompositeAlarms {
			names = append(names, aws.ToString(m.AlarmName))
		}
		pages = append(pages, len(page.MetricAlarms)+len(page.CompositeAlarms))
		if r, ok := retry.GetAttemptResults(page.ResultMetadata); ok {
			lastAttempts += len(r.Results)
		}
	}
	return names, pages
}

func TestPagesOf120AlarmsWithMaxRecords50(t *testing.T) {
	cw, c := start(t, 3) // retries on: a keep-alive connection the server closed under load is no paging bug
	var want []string
	for _, i := range []int{7, 119, 0, 63} { // put out of order: DescribeAlarms lists by name
		cw.PutMetricAlarm(errorMetric(fmt.Sprintf("alarm-%03d", i), topic))
	}
	for i := range 120 {
		want = append(want, fmt.Sprintf("alarm-%03d", i))
		cw.PutMetricAlarm(errorMetric(want[i], topic))
	}
	names, pages := all(t, c, &cloudwatch.DescribeAlarmsInput{ActionPrefix: aws.String(topic),
		AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm}, MaxRecords: aws.Int32(50)})
	if !slices.Equal(names, want) || !slices.Equal(pages, []int{50, 50, 20}) {
		t.Errorf("pages %v of %d alarms, first %v; want 50, 50, 20 in name order", pages, len(names), names[:min(3, len(names))])
	}
	// Three pages, three calls, but for a retry the client made itself (a keep-alive connection lost
	// under load): the server saw no call the client did not attempt.
	if n, sent := cw.CallCount("DescribeAlarms"), lastAttempts; n < 3 || n > sent {
		t.Errorf("%d DescribeAlarms calls for %d attempts the client sent, want 3 pages' worth", n, sent)
	}
	// Without MaxRecords, AWS's default of 50; 100 is the most a page holds.
	if _, pages := all(t, c, &cloudwatch.DescribeAlarmsInput{}); !slices.Equal(pages, []int{50, 50, 20}) {
		t.Errorf("default pages %v, want 50, 50, 20", pages)
	}
	if _, pages := all(t, c, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(100)}); !slices.Equal(pages, []int{100, 20}) {
		t.Errorf("MaxRecords 100: pages %v", pages)
	}
	for _, n := range []int32{0, 101} {
		_, err := c.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(n)})
		if code := errCode(err); code != "ValidationError" {
			t.Errorf("MaxRecords %d: %v (code %q), want ValidationError", n, err, code)
		}
	}
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestAPageResumesAfterTheLastAlarmSent: alarms added and removed between pages neither repeat nor
// hide the ones after them.
func TestAPageResumesAfterTheLastAlarmSent(t *testing.T) {
	cw, c := start(t, 1)
	for _, n := range []string{"b", "d", "f", "h"} {
		cw.PutMetricAlarm(errorMetric(n, topic))
	}
	first, err := c.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(2)})
	if err != nil || len(first.MetricAlarms) != 2 || first.NextToken == nil {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	cw.PutMetricAlarm(errorMetric("a", topic)) // before the token: not seen
	cw.DeleteAlarm("d")                        // the token's own alarm
	cw.PutMetricAlarm(errorMetric("e", topic)) // after it: seen
	names, _ := all(t, c, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(2), NextToken: first.NextToken})
	if !slices.Equal(names, []string{"e", "f", "h"}) {
		t.Errorf("after the first page: %v, want e f h", names)
	}
	_, err = c.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{NextToken: aws.String("not-a-token")})
	var bad *types.InvalidNextToken
	if !errors.As(err, &bad) || bad.ErrorCode() != "InvalidNextToken" {
		t.Errorf("a made-up NextToken: %v, want InvalidNextToken", err)
	}
}

func TestActionPrefixKeepsAlarmsWithAnyActionStartingWithIt(t *testing.T) {
	cw, c := start(t, 1)
	cw.PutMetricAlarm(errorMetric("to-topic", other, topic))
	cw.PutMetricAlarm(errorMetric("to-other", other))
	cw.PutMetricAlarm(errorMetric("no-actions"))
	ok := errorMetric("ok-to-topic")
	ok.OKActions = []string{topic}
	cw.PutMetricAlarm(ok)
	insufficient := errorMetric("insufficient-to-topic")
	insufficient.InsufficientDataActions = []string{topic}
	cw.PutMetricAlarm(insufficient)
	// A prefix is a prefix: a topic whose name starts with the other's matches it too.
	cw.PutMetricAlarm(errorMetric("to-topic-2", topic+"-2"))
	cw.PutCompositeAlarm(cwlocal.CompositeAlarm{Name: "composite-to-topic", AlarmRule: `ALARM("to-topic")`, AlarmActions: []string{topic}})

	names, _ := all(t, c, &cloudwatch.DescribeAlarmsInput{ActionPrefix: aws.String(topic),
		AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm}})
	if want := []string{"insufficient-to-topic", "ok-to-topic", "to-topic", "to-topic-2"}; !slices.Equal(names, want) {
		t.Errorf("ActionPrefix %s: %v, want %v", topic, names, want)
	}
	names, _ = all(t, c, &cloudwatch.DescribeAlarmsInput{ActionPrefix: aws.String(topic),
		AlarmTypes: []types.AlarmType{types.AlarmTypeCompositeAlarm}})
	if !slices.Equal(names, []string{"composite-to-topic"}) {
		t.Errorf("composite alarms to the topic: %v", names)
	}
	names, _ = all(t, c, &cloudwatch.DescribeAlarmsInput{ActionPrefix: aws.String("arn:aws:sns:us-east-1:123456789012:"),
		AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm}})
	if len(names) != 6 || slices.Contains(names, "no-actions") {
		t.Errorf("every alarm with an SNS action, both types: %v", names)
	}
}

func TestOtherFilters(t *testing.T) {
	cw, c := start(t, 1)
	for _, n := range []string{"api-errors", "api-latency", "db-cpu"} {
		cw.PutMetricAlarm(errorMetric(n, topic))
	}
	if !cw.SetAlarmState("api-latency", cwlocal.StateAlarm, "Threshold Crossed: 1 datapoint [9.0] was greater than the threshold (5.0).") {
		t.Fatal("SetAlarmState: no alarm")
	}
	for _, c2 := range []struct {
		in   cloudwatch.DescribeAlarmsInput
		want []string
	}{
		{cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("api-")}, []string{"api-errors", "api-latency"}},
		{cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"db-cpu", "api-errors", "gone"}}, []string{"api-errors", "db-cpu"}},
		{cloudwatch.DescribeAlarmsInput{StateValue: types.StateValueAlarm}, []string{"api-latency"}},
		{cloudwatch.DescribeAlarmsInput{StateValue: types.StateValueInsufficientData, AlarmNamePrefix: aws.String("api")}, []string{"api-errors"}},
		{cloudwatch.DescribeAlarmsInput{AlarmTypes: []types.AlarmType{types.AlarmTypeCompositeAlarm}}, nil},
		{cloudwatch.DescribeAlarmsInput{AlarmNames: []string{}, AlarmTypes: []types.AlarmType{}}, []string{"api-errors", "api-latency", "db-cpu"}},
	} {
		if names, _ := all(t, c, &c2.in); !slices.Equal(names, c2.want) {
			t.Errorf("%+v: %v, want %v", c2.in, names, c2.want)
		}
	}
	out, err := c.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"api-latency"}})
	if err != nil || len(out.MetricAlarms) != 1 {
		t.Fatalf("DescribeAlarms: %+v, %v", out, err)
	}
	if m := out.MetricAlarms[0]; m.StateValue != types.StateValueAlarm || !strings.HasPrefix(aws.ToString(m.StateReason), "Threshold Crossed") {
		t.Errorf("state %s (%s)", m.StateValue, aws.ToString(m.StateReason))
	}

	for _, c2 := range []struct {
		in   cloudwatch.DescribeAlarmsInput
		want any
		code string
	}{
		{cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"a"}, AlarmNamePrefix: aws.String("a")}, new(*types.InvalidParameterCombinationException), "InvalidParameterCombination"},
		{cloudwatch.DescribeAlarmsInput{ChildrenOfAlarmName: aws.String("composite")}, new(*types.InvalidParameterValueException), "InvalidParameterValue"},
		{cloudwatch.DescribeAlarmsInput{StateValue: "FIRING"}, new(*types.ValidationException), "ValidationError"},
		{cloudwatch.DescribeAlarmsInput{ActionPrefix: aws.String("")}, new(*types.ValidationException), "ValidationError"},
	} {
		_, err := c.DescribeAlarms(context.Background(), &c2.in)
		if !errors.As(err, c2.want) || errCode(err) != c2.code {
			t.Errorf("%+v: %v (code %q), want %T %s", c2.in, err, errCode(err), c2.want, c2.code)
		}
	}
}

// TestAlarmMembers reads back a single-metric alarm and a metric-math one: the members Rewind's
// check reads (name, ARN, each metric's dimensions) and the rest of MetricAlarm.
func TestAlarmMembers(t *testing.T) {
	cw, c := start(t, 1)
	at := time.Date(2026, 11, 25, 2, 59, 58, 123_000_000, time.UTC)
	single := errorMetric("api-errors", topic)
	single.Description, single.DatapointsToAlarm, single.TreatMissingData, single.Unit = "5xx", 1, "notBreaching", "Count"
	single.State, single.StateReason, single.StateUpdated = cwlocal.StateOK, "fine", at
	single.OKActions = []string{other}
	cw.PutMetricAlarm(single)
	yes, no := true, false
	dims := func(fn, res string) []cwlocal.Dimension {
		return []cwlocal.Dimension{{Name: "FunctionName", Value: fn}, {Name: "Resource", Value: res}}
	}
	cw.PutMetricAlarm(cwlocal.Alarm{Name: "api-error-rate", EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 0.05,
		ComparisonOperator: "GreaterThanThreshold", AlarmActions: []string{topic},
		Metrics: []cwlocal.MetricQuery{
			{ID: "errors", ReturnData: &no, Stat: &cwlocal.MetricStat{Namespace: "AWS/Lambda", MetricName: "Errors",
				Dimensions: dims("api-user-id", "api-user-id:live"), Period: 60, Stat: "Sum"}},
			{ID: "invocations", ReturnData: &no, Stat: &cwlocal.MetricStat{Namespace: "AWS/Lambda", MetricName: "Invocations",
				Dimensions: dims("api-user-id", "api-user-id:live"), Period: 60, Stat: "Sum", Unit: "Count"}},
			{ID: "rate", Expression: "errors / invocations", Label: "error rate", ReturnData: &yes},
		}})

	out, err := c.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{ActionPrefix: aws.String(topic),
		AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm}})
	if err != nil || len(out.MetricAlarms) != 2 || out.NextToken != nil {
		t.Fatalf("DescribeAlarms: %+v, %v", out, err)
	}
	math, m := out.MetricAlarms[0], out.MetricAlarms[1]
	if aws.ToString(m.AlarmName) != "api-errors" || aws.ToString(m.AlarmArn) != "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-errors" ||
		aws.ToString(m.Namespace) != "AWS/Lambda" || aws.ToString(m.MetricName) != "Errors" || m.Statistic != types.StatisticSum ||
		aws.ToInt32(m.Period) != 60 || aws.ToInt32(m.EvaluationPeriods) != 1 || aws.ToInt32(m.DatapointsToAlarm) != 1 ||
		aws.ToFloat64(m.Threshold) != 5 || m.ComparisonOperator != types.ComparisonOperatorGreaterThanOrEqualToThreshold ||
		aws.ToString(m.AlarmDescription) != "5xx" || aws.ToString(m.TreatMissingData) != "notBreaching" || m.Unit != types.StandardUnitCount ||
		!aws.ToBool(m.ActionsEnabled) || !slices.Equal(m.AlarmActions, []string{topic}) || !slices.Equal(m.OKActions, []string{other}) ||
		m.InsufficientDataActions == nil || len(m.InsufficientDataActions) != 0 ||
		m.StateValue != types.StateValueOk || aws.ToString(m.StateReason) != "fine" || m.Metrics != nil {
		t.Errorf("single-metric alarm: %+v", m)
	}
	if len(m.Dimensions) != 1 || aws.ToString(m.Dimensions[0].Name) != "FunctionName" || aws.ToString(m.Dimensions[0].Value) != "api-user-id" {
		t.Errorf("dimensions %+v", m.Dimensions)
	}
	if !aws.ToTime(m.StateUpdatedTimestamp).Equal(at) || !aws.ToTime(m.StateTransitionedTimestamp).Equal(at) ||
		!aws.ToTime(m.AlarmConfigurationUpdatedTimestamp).Equal(clock) {
		t.Errorf("timestamps: updated %v, transitioned %v, configured %v", m.StateUpdatedTimestamp, m.StateTransitionedTimestamp, m.AlarmConfigurationUpdatedTimestamp)
	}

	if aws.ToString(math.AlarmName) != "api-error-rate" || math.MetricName != nil || math.Namespace != nil || math.Statistic != "" ||
		math.Period != nil || len(math.Dimensions) != 0 || math.StateValue != types.StateValueInsufficientData ||
		aws.ToString(math.StateReason) != "Unchecked: Initial alarm creation" || aws.ToFloat64(math.Threshold) != 0.05 || len(math.Metrics) != 3 {
		t.Fatalf("metric-math alarm: %+v", math)
	}
	for i, q := range math.Metrics[:2] {
		s := q.MetricStat
		if s == nil || s.Metric == nil || aws.ToString(s.Metric.Namespace) != "AWS/Lambda" || aws.ToInt32(s.Period) != 60 || aws.ToString(s.Stat) != "Sum" ||
			aws.ToBool(q.ReturnData) || q.Expression != nil {
			t.Errorf("query %d: %+v", i, q)
			continue
		}
		var got []string
		for _, d := range s.Metric.Dimensions {
			got = append(got, aws.ToString(d.Name)+"="+aws.ToString(d.Value))
		}
		if !slices.Equal(got, []string{"FunctionName=api-user-id", "Resource=api-user-id:live"}) {
			t.Errorf("query %d dimensions %v", i, got)
		}
	}
	if math.Metrics[1].MetricStat.Unit != types.StandardUnitCount || aws.ToString(math.Metrics[0].MetricStat.Metric.MetricName) != "Errors" {
		t.Errorf("queries: %+v %+v", math.Metrics[0].MetricStat, math.Metrics[1].MetricStat)
	}
	if r := math.Metrics[2]; aws.ToString(r.Id) != "rate" || aws.ToString(r.Expression) != "errors / invocations" ||
		aws.ToString(r.Label) != "error rate" || !aws.ToBool(r.ReturnData) || r.MetricStat != nil {
		t.Errorf("expression query: %+v", r)
	}
}

// TestTimestampsKeepTheirMilliseconds over many instants: the SDK truncates the float it reads
// (int64(f*1e3) milliseconds), which past 2038 (epoch seconds over 2^31) would often lose one.
func TestTimestampsKeepTheirMilliseconds(t *testing.T) {
	cw, c := start(t, 3) // retries on, as for paging: a connection lost under load is no timestamp bug
	var want []time.Time
	for i := range 100 {
		base := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
		if i%2 == 1 {
			base = time.Date(2038, 6, 1, 0, 0, 0, 0, time.UTC)
		}
		at := base.Add(time.Duration(i*7919+1) * time.Millisecond)
		want = append(want, at)
		cw.PutMetricAlarm(cwlocal.Alarm{Name: fmt.Sprintf("t-%03d", i), State: cwlocal.StateOK, StateUpdated: at})
	}
	out, err := c.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(100)})
	if err != nil {
		t.Fatalf("DescribeAlarms: %v", err)
	}
	if len(out.MetricAlarms) != 100 {
		t.Fatalf("DescribeAlarms: %d alarms, want 100", len(out.MetricAlarms))
	}
	for i, m := range out.MetricAlarms {
		if got := aws.ToTime(m.StateUpdatedTimestamp); !got.Equal(want[i]) {
			t.Errorf("%s: %v, want %v", aws.ToString(m.AlarmName), got.UTC(), want[i])
		}
	}
}

func TestFaults(t *testing.T) {
	cw, url := serve(t)
	cw.PutMetricAlarm(errorMetric("api-errors", topic))
	retrying, once := cloudwatch.NewFromConfig(config(url, 3)), cloudwatch.NewFromConfig(config(url, 1))

	cw.InjectFault("DescribeAlarms", awslocal.Fault{Status: http.StatusTooManyRequests, Times: 2})
	out, err := retrying.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{})
	if err != nil || len(out.MetricAlarms) != 1 {
		t.Fatalf("throttled twice, then: %+v, %v", out, err)
	}
	var faults []string
	for _, c := range cw.Calls() {
		faults = append(faults, fmt.Sprintf("%d:%s", c.Status, c.Fault))
	}
	if !slices.Equal(faults, []string{"429:status=429", "429:status=429", "200:"}) {
		t.Errorf("calls %v", faults)
	}

	cw.InjectFault("DescribeAlarms", awslocal.Fault{Status: http.StatusTooManyRequests})
	_, err = once.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{})
	if errCode(err) != "Throttling" || !retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
		t.Errorf("throttled, no retries: %v (code %q), want Throttling", err, errCode(err))
	}
	cw.InjectFault(awslocal.AnyOperation, awslocal.Fault{Status: http.StatusInternalServerError})
	_, err = once.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{})
	var internal *types.InternalServiceFault
	if !errors.As(err, &internal) || errCode(err) != "InternalServiceError" || aws.ToString(internal.Message) == "" {
		t.Errorf("500: %v (code %q), want InternalServiceFault", err, errCode(err))
	}
	cw.InjectFault("DescribeAlarms", awslocal.Fault{Status: http.StatusServiceUnavailable, Times: 2})
	if _, err := retrying.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{}); err != nil {
		t.Errorf("503 twice, retried: %v", err)
	}
	cw.InjectFault("DescribeAlarms", awslocal.Fault{Status: http.StatusServiceUnavailable})
	if _, err := once.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{}); errCode(err) != "ServiceUnavailable" {
		t.Errorf("503: %v (code %q)", err, errCode(err))
	}
	if cw.Writes() != 0 {
		t.Errorf("writes = %d; DescribeAlarms writes nothing", cw.Writes())
	}
}

// TestTheWire checks what the SDK does not show: the error map and headers, and the refusals of
// what is not modeled.
func TestTheWire(t *testing.T) {
	cw := cwlocal.New(cwlocal.Options{})
	srv := httptest.NewServer(cw)
	t.Cleanup(srv.Close)
	post := func(path, protocol, ctype string, body []byte) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(string(body)))
		if protocol != "" {
			req.Header.Set("Smithy-Protocol", protocol)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	const describe = cwlocal.ServicePath + "DescribeAlarms"
	// {"NextToken": "x"}, definite-length: 0xa1 0x69 "NextToken" 0x61 "x"
	badToken := append(append([]byte{0xa1, 0x69}, "NextToken"...), 0x61, 'x')
	for _, c := range []struct {
		name, path, protocol, ctype string
		body                        []byte
		status                      int
		typ, query                  string
	}{
		{"bad token", describe, "rpc-v2-cbor", "application/cbor", badToken, 400, "com.amazonaws.cloudwatch#InvalidNextToken", "InvalidNextToken;Sender"},
		{"no body", describe, "rpc-v2-cbor", "", nil, 200, "", ""},
		{"no protocol header", describe, "", "application/cbor", []byte{0xa0}, 400, "com.amazon.coral.service#SerializationException", "MalformedInput;Sender"},
		{"JSON body", describe, "rpc-v2-cbor", "application/json", []byte(`{}`), 400, "com.amazon.coral.service#SerializationException", "MalformedInput;Sender"},
		{"not CBOR", describe, "rpc-v2-cbor", "application/cbor", []byte{0xff}, 400, "com.amazon.coral.service#SerializationException", "MalformedInput;Sender"},
		{"other operation", cwlocal.ServicePath + "PutMetricAlarm", "rpc-v2-cbor", "application/cbor", []byte{0xa0}, 404, "com.amazon.coral.service#UnknownOperationException", "InvalidAction;Sender"},
		{"query protocol", "/", "", "application/x-www-form-urlencoded", []byte("Action=DescribeAlarms&Version=2010-08-01"), 404, "com.amazon.coral.service#UnknownOperationException", "InvalidAction;Sender"},
	} {
		resp, body := post(c.path, c.protocol, c.ctype, c.body)
		if resp.StatusCode != c.status || resp.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || resp.Header.Get("Content-Type") != "application/cbor" ||
			resp.Header.Get("X-Amzn-Query-Error") != c.query || !strings.Contains(string(body), c.typ) {
			t.Errorf("%s: %d %v %q", c.name, resp.StatusCode, resp.Header, body)
		}
		if c.typ != "" && !strings.Contains(string(body), "message") {
			t.Errorf("%s: no message in %q", c.name, body)
		}
	}
	// A modeled operation the server does not carry is refused before any call is recorded, and so
	// is the SDK's own call of it.
	c := cloudwatch.NewFromConfig(config(srv.URL, 1))
	_, err := c.PutMetricAlarm(context.Background(), &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("x"),
		EvaluationPeriods: aws.Int32(1), ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold})
	if errCode(err) != "InvalidAction" || !strings.Contains(err.Error(), "does not model PutMetricAlarm") {
		t.Errorf("PutMetricAlarm: %v (code %q)", err, errCode(err))
	}
	if n := cw.CallCount(""); n != 4 {
		t.Errorf("%d calls recorded, want the 4 that reached DescribeAlarms' decoding", n)
	}
}

// TestFrontSharesAnEndpointWithLambda: CloudWatch's calls reach the local CloudWatch, everything
// else (here Lambda's GetFunctionConcurrency) the handler behind it.
func TestFrontSharesAnEndpointWithLambda(t *testing.T) {
	cw := cwlocal.New(cwlocal.Options{})
	lam := lambdalocal.New(nil)
	srv := httptest.NewServer(cw.Front(lam))
	t.Cleanup(srv.Close)
	cw.PutMetricAlarm(errorMetric("api-errors", topic))
	lam.CreateFunction("api-user-id")
	lam.CreateFunction("batch")
	lam.SetReservedConcurrency("batch", 25)
	cfg := config(srv.URL, 1)
	c, l := cloudwatch.NewFromConfig(cfg), awslambda.NewFromConfig(cfg)

	out, err := c.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{ActionPrefix: aws.String(topic)})
	if err != nil || len(out.MetricAlarms) != 1 {
		t.Fatalf("DescribeAlarms through the front: %+v, %v", out, err)
	}
	none, err := l.GetFunctionConcurrency(context.Background(), &awslambda.GetFunctionConcurrencyInput{FunctionName: aws.String("api-user-id")})
	if err != nil || none.ReservedConcurrentExecutions != nil {
		t.Errorf("GetFunctionConcurrency, none reserved: %+v, %v", none, err)
	}
	some, err := l.GetFunctionConcurrency(context.Background(), &awslambda.GetFunctionConcurrencyInput{FunctionName: aws.String("batch")})
	if err != nil || aws.ToInt32(some.ReservedConcurrentExecutions) != 25 {
		t.Errorf("GetFunctionConcurrency: %+v, %v", some, err)
	}
	_, err = l.GetFunctionConcurrency(context.Background(), &awslambda.GetFunctionConcurrencyInput{FunctionName: aws.String("nope")})
	var nf *lambdatypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("GetFunctionConcurrency of no function: %v", err)
	}
	if cw.CallCount("") != 1 || lam.CallCount("GetFunctionConcurrency") != 3 {
		t.Errorf("calls: cloudwatch %v, lambda %v", cw.Calls(), lam.Calls())
	}
}
