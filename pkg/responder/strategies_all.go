//go:build !rewind_rest_only

package responder

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/rewind-sre/rewind/pkg/event"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/cfbehavior"
	"github.com/rewind-sre/rewind/pkg/rollback/httpstage"
	"github.com/rewind-sre/rewind/pkg/rollback/lambdaalias"
	"github.com/rewind-sre/rewind/pkg/target"
)

// optionalStrategies are the kinds beyond the REST stage, each with its own client. A build with
// the rewind_rest_only tag (make build STRATEGIES=rest) leaves them, and their clients, out.
var optionalStrategies = map[target.Kind]func(aws.Config) rollback.Strategy{
	target.KindHTTPStage:   func(c aws.Config) rollback.Strategy { return httpstage.New(apigatewayv2.NewFromConfig(c)) },
	target.KindLambdaAlias: func(c aws.Config) rollback.Strategy { return lambdaalias.New(awslambda.NewFromConfig(c)) },
	target.KindCloudFront:  func(c aws.Config) rollback.Strategy { return cfbehavior.New(cloudfront.NewFromConfig(c)) },
}

const buildNote = ""

// newAccount is what "check" reads of the account: CloudWatch's alarms and Lambda's concurrency.
func newAccount(c aws.Config) Account {
	return cloudAccount{cw: cloudwatch.NewFromConfig(c), lam: awslambda.NewFromConfig(c)}
}

type cloudAccount struct {
	cw  cloudWatchAPI
	lam interface {
		GetFunctionConcurrency(ctx context.Context, in *awslambda.GetFunctionConcurrencyInput, optFns ...func(*awslambda.Options)) (*awslambda.GetFunctionConcurrencyOutput, error)
	}
}

// maxAlarmPages bounds the listing (MaxRecords 100 alarms a page: 10,000 alarms).
const maxAlarmPages = 100

func (a cloudAccount) AlarmsTo(ctx context.Context, topicARN string) ([]event.Alarm, error) {
	in := &cloudwatch.DescribeAlarmsInput{ActionPrefix: aws.String(topicARN), AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}}
	ms, err := a.metricAlarms(ctx, in, "describe alarms sending to "+topicARN, func(m cwtypes.MetricAlarm) bool {
		// ActionPrefix is a prefix: ...:rewind-alarms also finds ...:rewind-alarms-2.
		return slices.Contains(m.AlarmActions, topicARN) || slices.Contains(m.OKActions, topicARN)
	})
	out := make([]event.Alarm, len(ms))
	for i, m := range ms {
		out[i] = alarmOf(m)
	}
	return out, err
}

// metricAlarms lists every page of the metric alarms in answers (100 a page, at most maxAlarmPages),
// keeping those keep accepts; what names the listing in errors.
func (a cloudAccount) metricAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, what string, keep func(cwtypes.MetricAlarm) bool) ([]cwtypes.MetricAlarm, error) {
	in.MaxRecords = aws.Int32(100)
	var out []cwtypes.MetricAlarm
	p := cloudwatch.NewDescribeAlarmsPaginator(a.cw, in)
	for pages := 0; p.HasMorePages(); pages++ {
		if pages == maxAlarmPages {
			return nil, fmt.Errorf("%s: more than %d pages", what, maxAlarmPages)
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		for _, m := range page.MetricAlarms {
			if keep(m) {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// alarmOf is a metric alarm as the resolver reads alarms: its name and each metric's dimensions.
func alarmOf(m cwtypes.MetricAlarm) event.Alarm {
	a := event.Alarm{Name: aws.ToString(m.AlarmName), ARN: aws.ToString(m.AlarmArn)}
	add := func(ns, name string, dims []cwtypes.Dimension) {
		metric := event.Metric{Namespace: ns, Name: name}
		for _, d := range dims {
			dim := event.Dimension{Name: aws.ToString(d.Name), Value: aws.ToString(d.Value)}
			metric.Dimensions = append(metric.Dimensions, dim)
			if !slices.Contains(a.Dimensions, dim) {
				a.Dimensions = append(a.Dimensions, dim)
			}
		}
		a.Metrics = append(a.Metrics, metric)
	}
	if m.MetricName != nil {
		add(aws.ToString(m.Namespace), aws.ToString(m.MetricName), m.Dimensions)
	}
	for _, q := range m.Metrics {
		if s := q.MetricStat; s != nil && s.Metric != nil {
			add(aws.ToString(s.Metric.Namespace), aws.ToString(s.Metric.MetricName), s.Metric.Dimensions)
		}
	}
	return a
}

func (a cloudAccount) ReservedConcurrency(ctx context.Context, function string) (int32, bool, error) {
	out, err := a.lam.GetFunctionConcurrency(ctx, &awslambda.GetFunctionConcurrencyInput{FunctionName: aws.String(function)})
	if err != nil {
		return 0, false, fmt.Errorf("function %s: get function concurrency: %w", function, err)
	}
	if out.ReservedConcurrentExecutions == nil {
		return 0, false, nil
	}
	return *out.ReservedConcurrentExecutions, true, nil
}
