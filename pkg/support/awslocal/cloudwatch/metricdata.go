package cloudwatch

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// GetMetricData, as far as it is modelled here: samples a test puts in with PutMetricData, read
// back per query as AWS documents GetMetricData (API reference):
//   - MetricStat queries: the metric of that namespace, name and exact set of dimensions, the samples
//     of Unit when one is given, aggregated per Period by Stat (SampleCount, Sum, Average, Minimum,
//     Maximum, or a percentile pNN / pNN.N by nearest rank); periods start at StartTime rounded down
//     to the minute (AWS's rounding for data under 15 days old) and run up to EndTime, exclusive;
//     a period without samples has no datapoint;
//   - Expression queries: a subset of metric math, ids and numbers combined with + - * / and
//     parentheses, evaluated per timestamp where every id referenced has a value (division by zero:
//     no value); functions (FILL, SUM(METRICS()), ANOMALY_DETECTION_BAND, ...) are refused as not
//     modelled;
//   - results for the queries whose ReturnData is true or absent, in query order, StatusCode
//     Complete, newest first unless ScanBy is TimestampAscending; at most 500 queries with unique
//     ids of AWS's form, StartTime before EndTime.
//
// Not modelled (refused): NextToken (every answer fits one page, else the call is refused),
// LabelOptions, AccountId, Metrics Insights queries, statistics other than the above.

// Sample is one value PutMetricData put on a metric.
type Sample struct {
	At    time.Time
	Value float64
	Unit  string // empty: None
}

// PutMetricData adds samples to the metric of namespace, name and dimensions. It is setup, not a
// call: it is neither recorded nor counted.
func (s *Server) PutMetricData(namespace, name string, dims []Dimension, samples ...Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metrics == nil {
		s.metrics = map[string][]Sample{}
	}
	k := metricKey(namespace, name, dims)
	s.metrics[k] = append(s.metrics[k], samples...)
}

func metricKey(namespace, name string, dims []Dimension) string {
	ds := make([]string, len(dims))
	for i, d := range dims {
		ds[i] = d.Name + "=" + d.Value
	}
	slices.Sort(ds)
	return namespace + "\x00" + name + "\x00" + strings.Join(ds, "\x00")
}

// MaxQueries is how many MetricDataQuery structures one GetMetricData call takes.
const MaxQueries = 500

// defaultMaxDatapoints is GetMetricData's MaxDatapoints when not given.
const defaultMaxDatapoints = 100800

var queryID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]{0,254}$`)

type dataQuery struct {
	id, label, expression string
	stat                  *MetricStat
	returnData            bool
}

type series map[time.Time]float64

func (s *Server) getMetricData(req cbor.Map) (cbor.Map, *apiError) {
	var (
		queries    []dataQuery
		start, end time.Time
		ascending  bool
		maxPoints  = int32(defaultMaxDatapoints)
	)
	for _, k := range slices.Sorted(maps.Keys(req)) {
		v := req[k]
		var aerr *apiError
		switch k {
		case "MetricDataQueries":
			queries, aerr = readQueries(v)
		case "StartTime", "EndTime":
			t, err := cbor.AsTime(v)
			if err != nil {
				return nil, serialization(fmt.Sprintf("%s: %v", k, err))
			}
			if k == "StartTime" {
				start = t.UTC()
			} else {
				end = t.UTC()
			}
		case "ScanBy":
			var by string
			if by, aerr = asString(k, v); aerr == nil {
				switch by {
				case "TimestampAscending":
					ascending = true
				case "TimestampDescending":
				default:
					aerr = validationf("1 validation error detected: Value '%s' at 'scanBy' failed to satisfy constraint: "+
						"Member must satisfy enum value set: [TimestampDescending, TimestampAscending]", by)
				}
			}
		case "MaxDatapoints":
			maxPoints, aerr = asInt32(k, v)
		default:
			aerr = notModeled("GetMetricData with " + k)
		}
		if aerr != nil {
			return nil, aerr
		}
	}
	switch {
	case len(queries) == 0 || len(queries) > MaxQueries:
		return nil, validationf("The collection MetricDataQueries must not be empty and must hold at most %d queries (it holds %d).", MaxQueries, len(queries))
	case start.IsZero() || end.IsZero():
		return nil, validation("StartTime and EndTime are required.")
	case !start.Before(end):
		return nil, invalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
	}
	start = start.Truncate(time.Minute)
	s.mu.Lock()
	computed, aerr := s.compute(queries, start, end)
	s.mu.Unlock()
	if aerr != nil {
		return nil, aerr
	}
	results, total := cbor.List{}, 0
	for _, q := range queries {
		if !q.returnData {
			continue
		}
		ts := slices.SortedFunc(maps.Keys(computed[q.id]), func(a, b time.Time) int {
			if ascending {
				return a.Compare(b)
			}
			return b.Compare(a)
		})
		stamps, values := cbor.List{}, cbor.List{}
		for _, t := range ts {
			stamps, values = append(stamps, timestamp(t)), append(values, float(computed[q.id][t]))
		}
		total += len(ts)
		label := q.label
		if label == "" {
			label = q.id
		}
		results = append(results, cbor.Map{"Id": str(q.id), "Label": str(label), "Timestamps": stamps, "Values": values,
			"StatusCode": str("Complete"), "Messages": cbor.List{}})
	}
	if total > int(maxPoints) {
		return nil, notModeled(fmt.Sprintf("paging GetMetricData (%d datapoints, MaxDatapoints %d)", total, maxPoints))
	}
	return cbor.Map{"MetricDataResults": results, "Messages": cbor.List{}}, nil
}

// compute evaluates every query: metrics first, then expressions in an order that has each one's
// operands computed (a cycle or an unknown id is a ValidationError).
func (s *Server) compute(queries []dataQuery, start, end time.Time) (map[string]series, *apiError) {
	out := map[string]series{}
	for _, q := range queries {
		if q.stat != nil {
			vals, aerr := s.aggregate(*q.stat, start, end)
			if aerr != nil {
				return nil, aerr
			}
			out[q.id] = vals
		}
	}
	pending := slices.DeleteFunc(slices.Clone(queries), func(q dataQuery) bool { return q.stat != nil })
	for len(pending) > 0 {
		progressed := false
		for i := 0; i < len(pending); i++ {
			q := pending[i]
			e, err := parseExpression(q.expression)
			if err != nil {
				return nil, err
			}
			ids := e.ids(nil)
			if !slices.ContainsFunc(ids, func(id string) bool { _, ok := out[id]; return !ok }) {
				out[q.id] = e.series(out, ids)
				pending = slices.Delete(pending, i, i+1)
				i--
				progressed = true
				continue
			}
			for _, id := range ids {
				if !slices.ContainsFunc(queries, func(x dataQuery) bool { return x.id == id }) {
					return nil, validationf("Error in expression '%s': Unrecognized metric or expression id %s", q.id, id)
				}
			}
		}
		if !progressed {
			return nil, validation("Circular dependency between the expressions of MetricDataQueries.")
		}
	}
	return out, nil
}

// aggregate is one MetricStat's datapoints between start and end.
func (s *Server) aggregate(st MetricStat, start, end time.Time) (series, *apiError) {
	period := time.Duration(st.Period) * time.Second
	var bucket map[time.Time][]float64 = map[time.Time][]float64{}
	for _, smp := range s.metrics[metricKey(st.Namespace, st.MetricName, st.Dimensions)] {
		at := smp.At.UTC()
		if at.Before(start) || !at.Before(end) || (st.Unit != "" && smp.Unit != st.Unit) {
			continue
		}
		b := start.Add(at.Sub(start) / period * period)
		bucket[b] = append(bucket[b], smp.Value)
	}
	out := series{}
	for b, vs := range bucket {
		v, aerr := statistic(st.Stat, vs)
		if aerr != nil {
			return nil, aerr
		}
		out[b] = v
	}
	return out, nil
}

func statistic(stat string, vs []float64) (float64, *apiError) {
	sum := 0.0
	for _, v := range vs {
		sum += v
	}
	switch stat {
	case "SampleCount":
		return float64(len(vs)), nil
	case "Sum":
		return sum, nil
	case "Average":
		return sum / float64(len(vs)), nil
	case "Minimum":
		return slices.Min(vs), nil
	case "Maximum":
		return slices.Max(vs), nil
	}
	if p, ok := strings.CutPrefix(stat, "p"); ok {
		if q, err := strconv.ParseFloat(p, 64); err == nil && q >= 0 && q <= 100 {
			sorted := slices.Clone(vs)
			sort.Float64s(sorted)
			rank := max(int(math.Ceil(q/100*float64(len(sorted)))), 1) // nearest rank
			return sorted[rank-1], nil
		}
	}
	return 0, notModeled("the statistic " + stat)
}

func readQueries(v cbor.Value) ([]dataQuery, *apiError) {
	l, ok := v.(cbor.List)
	if !ok {
		return nil, serialization(fmt.Sprintf("MetricDataQueries is a CBOR %T, want a list", v))
	}
	var out []dataQuery
	for i, e := range l {
		m, ok := e.(cbor.Map)
		if !ok {
			return nil, serialization(fmt.Sprintf("MetricDataQueries[%d] is a CBOR %T, want a map", i, e))
		}
		q, aerr := readQuery(m)
		if aerr != nil {
			return nil, aerr
		}
		switch {
		case !queryID.MatchString(q.id):
			return nil, validationf("The value %s for parameter MetricDataQueries.member.%d.Id is invalid: it must start with a lowercase letter "+
				"and hold only letters, numbers and underscores.", q.id, i+1)
		case slices.ContainsFunc(out, func(x dataQuery) bool { return x.id == q.id }):
			return nil, validationf("The values for parameter id in MetricDataQueries are not unique: %s.", q.id)
		case (q.stat == nil) == (q.expression == ""):
			return nil, validationf("Exactly one of MetricStat and Expression must be given in MetricDataQueries.member.%d.", i+1)
		}
		out = append(out, q)
	}
	return out, nil
}

func readQuery(m cbor.Map) (dataQuery, *apiError) {
	q := dataQuery{returnData: true}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		var aerr *apiError
		switch k {
		case "Id":
			q.id, aerr = asString(k, v)
		case "Label":
			q.label, aerr = asString(k, v)
		case "Expression":
			q.expression, aerr = asString(k, v)
		case "ReturnData":
			b, ok := v.(cbor.Bool)
			if !ok {
				return q, serialization(fmt.Sprintf("ReturnData is a CBOR %T, want a boolean", v))
			}
			q.returnData = bool(b)
		case "Period": // an expression's period: its operands' here
			_, aerr = asInt32(k, v)
		case "MetricStat":
			q.stat, aerr = readStat(v)
		default:
			aerr = notModeled("MetricDataQuery with " + k)
		}
		if aerr != nil {
			return q, aerr
		}
	}
	return q, nil
}

func readStat(v cbor.Value) (*MetricStat, *apiError) {
	m, ok := v.(cbor.Map)
	if !ok {
		return nil, serialization(fmt.Sprintf("MetricStat is a CBOR %T, want a map", v))
	}
	st := &MetricStat{}
	for k, v := range m {
		var aerr *apiError
		switch k {
		case "Stat":
			st.Stat, aerr = asString(k, v)
		case "Unit":
			st.Unit, aerr = asString(k, v)
		case "Period":
			st.Period, aerr = asInt32(k, v)
		case "Metric":
			mm, ok := v.(cbor.Map)
			if !ok {
				return nil, serialization(fmt.Sprintf("Metric is a CBOR %T, want a map", v))
			}
			aerr = readMetric(mm, st)
		default:
			aerr = notModeled("MetricStat with " + k)
		}
		if aerr != nil {
			return nil, aerr
		}
	}
	if st.Period < 1 || (st.Period >= 60 && st.Period%60 != 0) || (st.Period < 60 && !slices.Contains([]int32{1, 5, 10, 20, 30}, st.Period)) {
		return nil, validationf("The parameter MetricStat.Period %d must be 1, 5, 10, 20, 30 or a multiple of 60.", st.Period)
	}
	if st.Stat == "" || st.MetricName == "" || st.Namespace == "" {
		return nil, validation("MetricStat needs Metric.Namespace, Metric.MetricName and Stat.")
	}
	return st, nil
}

func readMetric(m cbor.Map, st *MetricStat) *apiError {
	for k, v := range m {
		var aerr *apiError
		switch k {
		case "Namespace":
			st.Namespace, aerr = asString(k, v)
		case "MetricName":
			st.MetricName, aerr = asString(k, v)
		case "Dimensions":
			l, ok := v.(cbor.List)
			if !ok {
				return serialization(fmt.Sprintf("Dimensions is a CBOR %T, want a list", v))
			}
			for _, e := range l {
				dm, ok := e.(cbor.Map)
				if !ok {
					return serialization("a dimension is not a map")
				}
				name, err1 := asString("Name", dm["Name"])
				value, err2 := asString("Value", dm["Value"])
				if err1 != nil || err2 != nil {
					return serialization("a dimension needs a Name and a Value")
				}
				st.Dimensions = append(st.Dimensions, Dimension{Name: name, Value: value})
			}
		default:
			aerr = notModeled("Metric with " + k)
		}
		if aerr != nil {
			return aerr
		}
	}
	return nil
}
