package cloudwatch

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/smithy-go/encoding/cbor"
)

// DescribeAlarms' page sizes, as AWS's.
const (
	DefaultMaxRecords = 50
	MaxMaxRecords     = 100
)

// The alarm types of AlarmTypes.
const (
	TypeMetricAlarm    = "MetricAlarm"
	TypeCompositeAlarm = "CompositeAlarm"
	TypeLogAlarm       = "LogAlarm"
)

// describeInput is DescribeAlarms' request; nil members were not sent.
type describeInput struct {
	actionPrefix, namePrefix, state, nextToken *string
	names, types                               []string
	maxRecords                                 int32
}

func readDescribeInput(in cbor.Map) (describeInput, *apiError) {
	d := describeInput{maxRecords: DefaultMaxRecords}
	text := func(k string, v cbor.Value) (*string, *apiError) {
		s, err := asString(k, v)
		return &s, err
	}
	// In name order, so that of two bad members the same one is always reported.
	for _, k := range slices.Sorted(maps.Keys(in)) {
		v := in[k]
		var err *apiError
		switch k {
		case "ActionPrefix":
			d.actionPrefix, err = text(k, v)
		case "AlarmNamePrefix":
			d.namePrefix, err = text(k, v)
		case "StateValue":
			d.state, err = text(k, v)
		case "NextToken":
			d.nextToken, err = text(k, v)
		case "AlarmNames": // the SDK sends an empty list for an empty slice: no filter, as AWS takes it
			if d.names, err = asStrings(k, v); len(d.names) == 0 {
				d.names = nil
			}
		case "AlarmTypes": // empty is MetricAlarm, as when it is not sent
			d.types, err = asStrings(k, v)
		case "MaxRecords":
			d.maxRecords, err = asInt32(k, v)
			if err == nil && (d.maxRecords < 1 || d.maxRecords > MaxMaxRecords) {
				err = validationf("1 validation error detected: Value '%d' at 'maxRecords' failed to satisfy constraint: "+
					"Member must have value %s", d.maxRecords, rangeText(d.maxRecords < 1, 1, MaxMaxRecords))
			}
		case "ChildrenOfAlarmName", "ParentsOfAlarmName":
			err = notModeled("DescribeAlarms with " + k)
		default:
			err = notModeled("the request member " + k)
		}
		if err != nil {
			return d, err
		}
	}
	for _, c := range []struct {
		name string
		v    *string
		max  int
	}{{"actionPrefix", d.actionPrefix, 1024}, {"alarmNamePrefix", d.namePrefix, 255}, {"nextToken", d.nextToken, 1024}} {
		if c.v == nil {
			continue
		}
		minLen := 1
		if c.name == "nextToken" {
			minLen = 0
		}
		if n := utf8.RuneCountInString(*c.v); n < minLen || n > c.max {
			return d, validationf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: "+
				"Member must have length %s", *c.v, c.name, rangeText(n < minLen, minLen, c.max))
		}
	}
	if len(d.names) > 100 {
		return d, validation("1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: " +
			"Member must have length less than or equal to 100")
	}
	for _, n := range d.names {
		if l := utf8.RuneCountInString(n); l < 1 || l > 255 {
			return d, validationf("1 validation error detected: Value '%s' at 'alarmNames' failed to satisfy constraint: "+
				"Member must satisfy constraint: [Member must have length %s]", n, rangeText(l < 1, 1, 255))
		}
	}
	if d.state != nil && !slices.Contains([]string{StateOK, StateAlarm, StateInsufficientData}, *d.state) {
		return d, validationf("1 validation error detected: Value '%s' at 'stateValue' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]", *d.state)
	}
	for _, t := range d.types {
		if !slices.Contains([]string{TypeMetricAlarm, TypeCompositeAlarm, TypeLogAlarm}, t) {
			return d, validationf("1 validation error detected: Value '[%s]' at 'alarmTypes' failed to satisfy constraint: "+
				"Member must satisfy constraint: [Member must satisfy enum value set: [CompositeAlarm, MetricAlarm, LogAlarm]]",
				strings.Join(d.types, ", "))
		}
	}
	if d.names != nil && d.namePrefix != nil {
		return d, invalidParameterCombination("AlarmNames and AlarmNamePrefix cannot both be specified.")
	}
	return d, nil
}

func rangeText[T int | int32](under bool, lo, hi T) string {
	if under {
		return fmt.Sprintf("greater than or equal to %d", lo)
	}
	return fmt.Sprintf("less than or equal to %d", hi)
}

// tokenPrefix starts every NextToken (base64url of it and the last alarm name sent).
const tokenPrefix = "rewind-awslocal-cloudwatch:after:"

func nextToken(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + after))
}

func readToken(tok string) (after string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(b), tokenPrefix)
}

func (s *Server) describeAlarms(req cbor.Map) (cbor.Map, *apiError) {
	in, aerr := readDescribeInput(req)
	if aerr != nil {
		return nil, aerr
	}
	after, resume := "", false
	if in.nextToken != nil && *in.nextToken != "" {
		if after, resume = readToken(*in.nextToken); !resume {
			return nil, invalidNextToken()
		}
	}
	types := in.types
	if len(types) == 0 {
		types = []string{TypeMetricAlarm}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*alarm
	for _, name := range slices.Sorted(maps.Keys(s.alarms)) {
		if resume && name <= after {
			continue
		}
		if a := s.alarms[name]; s.matches(a, in, types) {
			match = append(match, a)
		}
	}
	page := match[:min(len(match), int(in.maxRecords))]
	out := cbor.Map{}
	metric, composite := cbor.List{}, cbor.List{}
	for _, a := range page {
		if a.metric != nil {
			metric = append(metric, s.metricAlarm(a))
		} else {
			composite = append(composite, s.compositeAlarm(a))
		}
	}
	if slices.Contains(types, TypeMetricAlarm) {
		out["MetricAlarms"] = metric
	}
	if slices.Contains(types, TypeCompositeAlarm) {
		out["CompositeAlarms"] = composite
	}
	if slices.Contains(types, TypeLogAlarm) {
		out["LogAlarms"] = cbor.List{} // there are none here
	}
	if len(page) < len(match) {
		out["NextToken"] = str(nextToken(page[len(page)-1].name()))
	}
	return out, nil
}

func (s *Server) matches(a *alarm, in describeInput, types []string) bool {
	kind := TypeMetricAlarm
	if a.composite != nil {
		kind = TypeCompositeAlarm
	}
	if !slices.Contains(types, kind) {
		return false
	}
	if in.names != nil && !slices.Contains(in.names, a.name()) {
		return false
	}
	if in.namePrefix != nil && !strings.HasPrefix(a.name(), *in.namePrefix) {
		return false
	}
	if state, _, _ := a.state(); in.state != nil && state != *in.state {
		return false
	}
	if in.actionPrefix != nil {
		return slices.ContainsFunc(a.actions(), func(actions []string) bool {
			return slices.ContainsFunc(actions, func(x string) bool { return strings.HasPrefix(x, *in.actionPrefix) })
		})
	}
	return true
}

func enabled(b *bool) bool { return b == nil || *b }

func dimensions(ds []Dimension) cbor.List {
	l := make(cbor.List, 0, len(ds))
	for _, d := range ds {
		l = append(l, cbor.Map{"Name": str(d.Name), "Value": str(d.Value)})
	}
	return l
}

// metricAlarm is a MetricAlarm as DescribeAlarms answers it: empty optional members are left out,
// the action lists and Dimensions are always there (empty for a metric-math alarm), as AWS's.
func (s *Server) metricAlarm(st *alarm) cbor.Map {
	a := st.metric
	m := cbor.Map{
		"AlarmName":                          str(a.Name),
		"AlarmArn":                           str(s.AlarmARN(a.Name)),
		"AlarmConfigurationUpdatedTimestamp": timestamp(st.configured),
		"ActionsEnabled":                     boolean(enabled(a.ActionsEnabled)),
		"AlarmActions":                       list(a.AlarmActions),
		"OKActions":                          list(a.OKActions),
		"InsufficientDataActions":            list(a.InsufficientDataActions),
		"StateValue":                         str(a.State),
		"StateReason":                        str(a.StateReason),
		"StateUpdatedTimestamp":              timestamp(a.StateUpdated),
		"StateTransitionedTimestamp":         timestamp(st.transitioned),
		"Dimensions":                         dimensions(a.Dimensions),
		"EvaluationPeriods":                  integer(int64(a.EvaluationPeriods)),
	}
	set := func(k, v string) {
		if v != "" {
			m[k] = str(v)
		}
	}
	set("AlarmDescription", a.Description)
	set("Namespace", a.Namespace)
	set("MetricName", a.MetricName)
	set("Statistic", a.Statistic)
	set("ExtendedStatistic", a.ExtendedStatistic)
	set("Unit", a.Unit)
	set("ComparisonOperator", a.ComparisonOperator)
	set("TreatMissingData", a.TreatMissingData)
	set("ThresholdMetricId", a.ThresholdMetricID)
	if a.Period > 0 {
		m["Period"] = integer(int64(a.Period))
	}
	if a.DatapointsToAlarm > 0 {
		m["DatapointsToAlarm"] = integer(int64(a.DatapointsToAlarm))
	}
	if a.ThresholdMetricID == "" {
		m["Threshold"] = float(a.Threshold)
	}
	if len(a.Metrics) > 0 {
		qs := make(cbor.List, 0, len(a.Metrics))
		for _, q := range a.Metrics {
			qs = append(qs, metricQuery(q))
		}
		m["Metrics"] = qs
	}
	return m
}

func metricQuery(q MetricQuery) cbor.Map {
	m := cbor.Map{"Id": str(q.ID)}
	if st := q.Stat; st != nil {
		metric := cbor.Map{"Dimensions": dimensions(st.Dimensions)}
		if st.Namespace != "" {
			metric["Namespace"] = str(st.Namespace)
		}
		if st.MetricName != "" {
			metric["MetricName"] = str(st.MetricName)
		}
		stat := cbor.Map{"Metric": metric, "Period": integer(int64(st.Period)), "Stat": str(st.Stat)}
		if st.Unit != "" {
			stat["Unit"] = str(st.Unit)
		}
		m["MetricStat"] = stat
	}
	if q.Expression != "" {
		m["Expression"] = str(q.Expression)
	}
	if q.Label != "" {
		m["Label"] = str(q.Label)
	}
	if q.ReturnData != nil {
		m["ReturnData"] = boolean(*q.ReturnData)
	}
	if q.Period > 0 {
		m["Period"] = integer(int64(q.Period))
	}
	if q.AccountID != "" {
		m["AccountId"] = str(q.AccountID)
	}
	return m
}

func (s *Server) compositeAlarm(st *alarm) cbor.Map {
	a := st.composite
	m := cbor.Map{
		"AlarmName":                          str(a.Name),
		"AlarmArn":                           str(s.AlarmARN(a.Name)),
		"AlarmConfigurationUpdatedTimestamp": timestamp(st.configured),
		"ActionsEnabled":                     boolean(enabled(a.ActionsEnabled)),
		"AlarmActions":                       list(a.AlarmActions),
		"OKActions":                          list(a.OKActions),
		"InsufficientDataActions":            list(a.InsufficientDataActions),
		"AlarmRule":                          str(a.AlarmRule),
		"StateValue":                         str(a.State),
		"StateReason":                        str(a.StateReason),
		"StateUpdatedTimestamp":              timestamp(a.StateUpdated),
		"StateTransitionedTimestamp":         timestamp(st.transitioned),
	}
	if a.Description != "" {
		m["AlarmDescription"] = str(a.Description)
	}
	return m
}
