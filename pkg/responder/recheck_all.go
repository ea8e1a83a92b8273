//go:build !rewind_rest_only

package responder

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/rewind-sre/rewind/pkg/event"
)

// cloudWatchAPI is what Rewind calls of CloudWatch: DescribeAlarms (check, and the re-check) and
// GetMetricData (the re-check's fresh data). Both only read.
type cloudWatchAPI interface {
	cloudwatch.DescribeAlarmsAPIClient
	cloudwatch.GetMetricDataAPIClient
}

var _ cloudWatchAPI = (*cloudwatch.Client)(nil)

var _ Watcher = cloudAccount{}

// InAlarm lists, in pages of 100, the metric alarms in ALARM whose AlarmActions include topicARN
// exactly, with actions enabled (an alarm whose actions are off was muted by a human). Composite
// alarms are not listed: their state is a rule over other alarms, nothing to re-evaluate, and listing
// them takes DescribeAlarms on "*" (template.yaml grants it on this account's alarms only).
func (a cloudAccount) InAlarm(ctx context.Context, topicARN string) ([]Watched, error) {
	in := &cloudwatch.DescribeAlarmsInput{ActionPrefix: aws.String(topicARN), StateValue: cwtypes.StateValueAlarm,
		AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}}
	ms, err := a.metricAlarms(ctx, in, "describe alarms in ALARM sending to "+topicARN, func(m cwtypes.MetricAlarm) bool {
		enabled := m.ActionsEnabled == nil || *m.ActionsEnabled
		return m.StateValue == cwtypes.StateValueAlarm && slices.Contains(m.AlarmActions, topicARN) && enabled
	})
	out := make([]Watched, len(ms))
	for i, m := range ms {
		out[i] = watchedOf(m)
	}
	return out, err
}

func transitioned(t, updated *time.Time) time.Time {
	if t != nil {
		return t.UTC()
	}
	return aws.ToTime(updated).UTC()
}

// watchedOf reads a metric alarm's rule and the queries that fetch what it watches.
func watchedOf(m cwtypes.MetricAlarm) Watched {
	w := Watched{Alarm: alarmOf(m), Transitioned: transitioned(m.StateTransitionedTimestamp, m.StateUpdatedTimestamp)}
	op, err := event.ParseComparison(string(m.ComparisonOperator))
	switch {
	case m.ThresholdMetricId != nil:
		w.Cannot = "an anomaly-detection alarm compares against a band CloudWatch models, not a threshold"
		return w
	case m.EvaluationCriteria != nil:
		w.Cannot = "an alarm with evaluation criteria is not a threshold over periods"
		return w
	case err != nil:
		w.Cannot = err.Error()
		return w
	}
	w.Rule = event.Rule{Comparison: op, Threshold: aws.ToFloat64(m.Threshold), EvaluationPeriods: int(aws.ToInt32(m.EvaluationPeriods)),
		DatapointsToAlarm: int(aws.ToInt32(m.DatapointsToAlarm)), Period: time.Duration(aws.ToInt32(m.Period)) * time.Second}
	if m.MetricName != nil {
		stat := string(m.Statistic)
		if m.ExtendedStatistic != nil {
			stat = *m.ExtendedStatistic
		}
		w.Queries = []Query{{Namespace: aws.ToString(m.Namespace), Metric: aws.ToString(m.MetricName), Dimensions: dims(m.Dimensions),
			Period: w.Rule.Period, Stat: stat, Unit: string(m.Unit), Returned: true}}
		return w
	}
	returned := 0
	for _, q := range m.Metrics {
		mq := Query{ID: aws.ToString(q.Id), Expression: aws.ToString(q.Expression), Label: aws.ToString(q.Label),
			Returned: aws.ToBool(q.ReturnData) || len(m.Metrics) == 1}
		if q.AccountId != nil {
			w.Cannot = "a cross-account metric-math query"
			return w
		}
		if s := q.MetricStat; s != nil && s.Metric != nil {
			mq.Namespace, mq.Metric, mq.Dimensions = aws.ToString(s.Metric.Namespace), aws.ToString(s.Metric.MetricName), dims(s.Metric.Dimensions)
			mq.Period, mq.Stat, mq.Unit = time.Duration(aws.ToInt32(s.Period))*time.Second, aws.ToString(s.Stat), string(s.Unit)
			w.Rule.Period = max(w.Rule.Period, mq.Period) // an expression's period is its metrics'
		}
		if mq.Returned {
			returned++
		}
		w.Queries = append(w.Queries, mq)
	}
	if returned != 1 {
		w.Cannot = fmt.Sprintf("a metric-math alarm must watch exactly one of its queries (ReturnData); this one has %d", returned)
	}
	return w
}

func dims(ds []cwtypes.Dimension) []event.Dimension {
	out := make([]event.Dimension, len(ds))
	for i, d := range ds {
		out[i] = event.Dimension{Name: aws.ToString(d.Name), Value: aws.ToString(d.Value)}
	}
	return out
}

// maxQueries is how many queries one GetMetricData call takes (the API's limit).
const maxQueries = 500

// maxDataPages bounds one call's pages (100,800 datapoints each).
const maxDataPages = 10

// Fresh fetches what each alarm watches between start and end, alarms batched into as few
// GetMetricData calls as their query ids (unique within a call) and the 500-query limit allow.
func (a cloudAccount) Fresh(ctx context.Context, alarms [][]Query, start, end time.Time) ([][]event.Datapoint, error) {
	out := make([][]event.Datapoint, len(alarms))
	var (
		batch   []cwtypes.MetricDataQuery
		watched = map[string]int{} // returned query id -> alarm index
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := a.fetch(ctx, batch, start, end, func(id string, ts []time.Time, vs []float64) {
			i, ok := watched[id]
			for k := 0; ok && k < len(ts) && k < len(vs); k++ {
				out[i] = append(out[i], event.Datapoint{Start: ts[k].UTC(), Value: vs[k]})
			}
		})
		batch, watched = nil, map[string]int{}
		return err
	}
	for i, qs := range alarms {
		ids := make([]string, len(qs))
		for k, q := range qs {
			ids[k] = q.ID
			if ids[k] == "" {
				ids[k] = "rewind" + strconv.Itoa(i) // a single-metric alarm's one query
			}
		}
		clash := slices.ContainsFunc(batch, func(b cwtypes.MetricDataQuery) bool { return slices.Contains(ids, aws.ToString(b.Id)) })
		if clash || len(batch)+len(qs) > maxQueries {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		for k, q := range qs {
			batch = append(batch, sdkQuery(ids[k], q))
			if q.Returned {
				watched[ids[k]] = i
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func (a cloudAccount) fetch(ctx context.Context, qs []cwtypes.MetricDataQuery, start, end time.Time, got func(string, []time.Time, []float64)) error {
	p := cloudwatch.NewGetMetricDataPaginator(a.cw, &cloudwatch.GetMetricDataInput{MetricDataQueries: qs, StartTime: aws.Time(start), EndTime: aws.Time(end)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages == maxDataPages {
			return fmt.Errorf("get metric data: more than %d pages", maxDataPages)
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("get metric data (%d queries, %s to %s): %w", len(qs), start.Format(time.RFC3339), end.Format(time.RFC3339), err)
		}
		for _, r := range page.MetricDataResults {
			got(aws.ToString(r.Id), r.Timestamps, r.Values)
		}
	}
	return nil
}

func sdkQuery(id string, q Query) cwtypes.MetricDataQuery {
	out := cwtypes.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(q.Returned)}
	if q.Label != "" {
		out.Label = aws.String(q.Label)
	}
	if q.Expression != "" {
		out.Expression = aws.String(q.Expression)
		return out
	}
	ds := make([]cwtypes.Dimension, len(q.Dimensions))
	for i, d := range q.Dimensions {
		ds[i] = cwtypes.Dimension{Name: aws.String(d.Name), Value: aws.String(d.Value)}
	}
	out.MetricStat = &cwtypes.MetricStat{Metric: &cwtypes.Metric{Namespace: aws.String(q.Namespace), MetricName: aws.String(q.Metric), Dimensions: ds},
		Period: aws.Int32(int32(q.Period / time.Second)), Stat: aws.String(q.Stat), Unit: cwtypes.StandardUnit(q.Unit)}
	return out
}
