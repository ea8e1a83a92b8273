// Package cloudwatch is a local Amazon CloudWatch for the part Rewind reads: DescribeAlarms (check,
// and the schedule's re-check of alarms still in ALARM) and GetMetricData (the re-check's fresh data;
// metricdata.go says what of it is modelled),
// in the wire format the Go SDK (service/cloudwatch v1.75 and later) speaks, the Smithy RPC v2
// CBOR protocol (POST /service/GraniteServiceVersion20100801/operation/DescribeAlarms, CBOR bodies
// read and written with smithy-go's own encoding/cbor, timestamps as tag 1 epoch seconds, errors as
// a CBOR map with __type and message plus the X-Amzn-Query-Error header of an awsQueryCompatible
// service), with the fault injection of pkg/support/awslocal. moto_server (5.2.1) speaks only the older
// query protocol to CloudWatch and answers this one 404, so tests of the SDK client need this.
//
// Alarms and metric data are set up through the Go API (PutMetricAlarm, PutCompositeAlarm,
// SetAlarmState, DeleteAlarm, PutMetricData); the wire serves DescribeAlarms and GetMetricData only
// and refuses, loudly, every other operation and
// the members it does not model (ChildrenOfAlarmName, ParentsOfAlarmName).
//
// What it models of AWS: alarms listed in name order, MaxRecords from 1 to 100 (50 when not given)
// and an opaque NextToken that resumes after the last alarm sent (so alarms added or removed
// between pages neither repeat nor shift the rest); AlarmTypes (MetricAlarm when not given;
// CompositeAlarm; LogAlarm, of which there are none here), AlarmNames (at most 100) or
// AlarmNamePrefix (not both), StateValue, and ActionPrefix, which keeps the alarms with any action
// (AlarmActions, OKActions or InsufficientDataActions) starting with it: AWS's reference says the
// filter is on "a prefix for any action"; moto looks at AlarmActions only. Malformed tokens are
// InvalidNextToken, out-of-range values ValidationError, the typed errors the SDK decodes.
package cloudwatch

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

// Options configures a Server.
type Options struct {
	// Now is the clock for the call record and the alarms' timestamps; nil is time.Now.
	Now func() time.Time
	// Region and Account name the alarms' ARNs; empty are us-east-1 and 123456789012.
	Region, Account string
}

// Dimension is one dimension of a metric.
type Dimension struct{ Name, Value string }

// MetricStat is a metric and the statistic an alarm's query takes of it.
type MetricStat struct {
	Namespace, MetricName string
	Dimensions            []Dimension
	Period                int32  // seconds
	Stat                  string // Average, Sum, p99, ...
	Unit                  string // optional
}

// MetricQuery is one query of a metric-math alarm (MetricDataQuery): a metric (Stat) or an
// expression over the others.
type MetricQuery struct {
	ID         string
	Stat       *MetricStat // the metric; nil for an Expression
	Expression string
	Label      string
	ReturnData *bool  // the one query whose result the alarm watches has true; nil is not sent
	Period     int32  // for an Expression; 0 is not sent
	AccountID  string // cross-account queries; empty is not sent
}

// Alarm is a metric alarm: on one metric (Namespace, MetricName, Dimensions, Statistic or
// ExtendedStatistic, Period) or on metric math (Metrics), not both.
type Alarm struct {
	Name        string
	Description string

	Namespace, MetricName string
	Dimensions            []Dimension
	Statistic             string // SampleCount, Average, Sum, Minimum, Maximum
	ExtendedStatistic     string // p99, tm90, ...
	Period                int32
	Unit                  string

	Metrics []MetricQuery

	EvaluationPeriods  int32
	DatapointsToAlarm  int32 // 0 is not sent
	Threshold          float64
	ThresholdMetricID  string // anomaly-detection alarms, which have no Threshold
	ComparisonOperator string // GreaterThanThreshold, ...
	TreatMissingData   string // missing, notBreaching, ...

	ActionsEnabled                                   *bool // nil is true, as PutMetricAlarm's default
	AlarmActions, OKActions, InsufficientDataActions []string

	// State is OK, ALARM or INSUFFICIENT_DATA. Empty keeps an existing alarm's state, as AWS's
	// PutMetricAlarm does, and gives a new one INSUFFICIENT_DATA.
	State        string
	StateReason  string    // empty: AWS's reason for the state's origin
	StateUpdated time.Time // zero: now, when State is set or the alarm is new
}

// CompositeAlarm is a composite alarm: a rule over other alarms' states.
type CompositeAlarm struct {
	Name        string
	Description string
	AlarmRule   string // ALARM("a") OR ALARM("b")

	ActionsEnabled                                   *bool // nil is true
	AlarmActions, OKActions, InsufficientDataActions []string

	State        string // as Alarm's
	StateReason  string
	StateUpdated time.Time
}

// alarm is one stored alarm, metric or composite (alarm names are unique across both).
type alarm struct {
	metric    *Alarm
	composite *CompositeAlarm

	configured   time.Time // AlarmConfigurationUpdatedTimestamp
	transitioned time.Time // StateTransitionedTimestamp
}

func (a *alarm) name() string {
	if a.metric != nil {
		return a.metric.Name
	}
	return a.composite.Name
}

func (a *alarm) state() (value, reason string, updated time.Time) {
	if a.metric != nil {
		return a.metric.State, a.metric.StateReason, a.metric.StateUpdated
	}
	return a.composite.State, a.composite.StateReason, a.composite.StateUpdated
}

func (a *alarm) actions() [][]string {
	if a.metric != nil {
		return [][]string{a.metric.AlarmActions, a.metric.OKActions, a.metric.InsufficientDataActions}
	}
	return [][]string{a.composite.AlarmActions, a.composite.OKActions, a.composite.InsufficientDataActions}
}

// Server is the local CloudWatch. It is safe for concurrent use.
type Server struct {
	*awslocal.Recorder
	now             func() time.Time
	region, account string

	mu      sync.Mutex
	alarms  map[string]*alarm
	metrics map[string][]Sample // PutMetricData's samples by metric (metricKey)
}

// New returns a server with no alarms.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Account == "" {
		o.Account = "123456789012"
	}
	return &Server{Recorder: awslocal.NewRecorder(o.Now, writeFault), now: o.Now, region: o.Region, account: o.Account,
		alarms: map[string]*alarm{}}
}

// The states of an alarm.
const (
	StateOK               = "OK"
	StateAlarm            = "ALARM"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// initialReason is what AWS gives a new alarm as its StateReason.
const initialReason = "Unchecked: Initial alarm creation"

// PutMetricAlarm adds a metric alarm or replaces the alarm of that name (its configuration wholly,
// its state only when a.State is set), as AWS's PutMetricAlarm does. It is setup, not a call: it
// is neither recorded nor counted as a write.
func (s *Server) PutMetricAlarm(a Alarm) {
	a = cloneAlarm(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.alarms[a.Name]
	st := s.settle(old, &a.State, &a.StateReason, &a.StateUpdated)
	st.metric = &a
	s.alarms[a.Name] = st
}

// PutCompositeAlarm adds a composite alarm or replaces the alarm of that name, as PutMetricAlarm.
func (s *Server) PutCompositeAlarm(c CompositeAlarm) {
	c.AlarmActions, c.OKActions, c.InsufficientDataActions = slices.Clone(c.AlarmActions), slices.Clone(c.OKActions), slices.Clone(c.InsufficientDataActions)
	c.ActionsEnabled = cloneBool(c.ActionsEnabled)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.alarms[c.Name]
	st := s.settle(old, &c.State, &c.StateReason, &c.StateUpdated)
	st.composite = &c
	s.alarms[c.Name] = st
}

// settle fills in a put alarm's state from the alarm it replaces (old may be nil) and returns its
// new entry.
func (s *Server) settle(old *alarm, state, reason *string, updated *time.Time) *alarm {
	now := s.now().UTC().Truncate(time.Millisecond)
	st := &alarm{configured: now}
	switch {
	case *state == "" && old != nil:
		*state, *reason, *updated = old.state()
		st.transitioned = old.transitioned
		return st
	case *state == "":
		*state = StateInsufficientData
	}
	if *reason == "" {
		*reason = initialReason
	}
	if updated.IsZero() {
		*updated = now
	}
	*updated = updated.UTC().Truncate(time.Millisecond)
	st.transitioned = *updated
	if old != nil {
		if prev, _, _ := old.state(); prev == *state {
			st.transitioned = old.transitioned
		}
	}
	return st
}

// SetAlarmState sets an alarm's state as AWS's SetAlarmState does (the time is now), and reports
// whether the alarm exists.
func (s *Server) SetAlarmState(name, state, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.alarms[name]
	if a == nil {
		return false
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	if prev, _, _ := a.state(); prev != state {
		a.transitioned = now
	}
	if a.metric != nil {
		a.metric.State, a.metric.StateReason, a.metric.StateUpdated = state, reason, now
	} else {
		a.composite.State, a.composite.StateReason, a.composite.StateUpdated = state, reason, now
	}
	return true
}

// DeleteAlarm removes an alarm and reports whether it was there.
func (s *Server) DeleteAlarm(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.alarms[name]
	delete(s.alarms, name)
	return ok
}

// Alarm returns a copy of a metric alarm, or false.
func (s *Server) Alarm(name string) (Alarm, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.alarms[name]
	if a == nil || a.metric == nil {
		return Alarm{}, false
	}
	return cloneAlarm(*a.metric), true
}

// AlarmARN is the ARN AWS gives an alarm of this name.
func (s *Server) AlarmARN(name string) string {
	return "arn:aws:cloudwatch:" + s.region + ":" + s.account + ":alarm:" + name
}

func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

func cloneStat(m *MetricStat) *MetricStat {
	if m == nil {
		return nil
	}
	c := *m
	c.Dimensions = slices.Clone(m.Dimensions)
	return &c
}

func cloneAlarm(a Alarm) Alarm {
	a.Dimensions = slices.Clone(a.Dimensions)
	a.AlarmActions, a.OKActions, a.InsufficientDataActions = slices.Clone(a.AlarmActions), slices.Clone(a.OKActions), slices.Clone(a.InsufficientDataActions)
	a.ActionsEnabled = cloneBool(a.ActionsEnabled)
	qs := make([]MetricQuery, len(a.Metrics))
	for i, q := range a.Metrics {
		q.Stat, q.ReturnData = cloneStat(q.Stat), cloneBool(q.ReturnData)
		qs[i] = q
	}
	if a.Metrics != nil {
		a.Metrics = qs
	}
	return a
}

// ServicePath is where every call of this service goes: POST ServicePath + operation name.
const ServicePath = "/service/GraniteServiceVersion20100801/operation/"

// Front serves CloudWatch's calls (paths under ServicePath) and hands every other request to next:
// one local endpoint for every client, as AWS_ENDPOINT_URL gives them.
func (s *Server) Front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, ServicePath) {
			s.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
