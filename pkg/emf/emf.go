// Package emf writes each decision as one CloudWatch Embedded Metric Format (EMF) record: a JSON
// object on a line of its own in the function's log stream, from which CloudWatch Logs makes metrics
// in the Rewind namespace without a single CloudWatch API call (and without cloudwatch:PutMetricData
// in the role).
//
// The record (Specification: Embedded metric format,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
//
//   - the log event is a JSON object with no other data before or after it, of at most 256 KB;
//   - "_aws" holds Timestamp (milliseconds since the epoch) and CloudWatchMetrics, one metric
//     directive with the Namespace, the Dimensions (an array of dimension sets, each an array of
//     at most 30 dimension names) and the Metrics (at most 100, each a Name and a Unit);
//   - every dimension a set names is a top-level string member, every metric a top-level number.
//
// What is written, per decision:
//
//	Decisions        Count         1
//	Rollbacks        Count         1 when the outcome is rolled-back, else 0
//	Failures         Count         1 when the outcome is failed, else 0
//	DecisionLatency  Milliseconds  the decision's durationMs
//
// under two dimension sets: [Target, Outcome] (what happened to each target, e.g. the planned,
// failed and rolled-back decisions of a1b2c3d4e5/prod) and [Target] (each target's totals, so a
// dashboard or an alarm reads "rollbacks of this stage" without naming every outcome). A decision
// without a target (an input that was not for Rewind) is counted under Target "none". The record
// also carries code, action and dryRun as plain members, for CloudWatch Logs Insights; they are not
// dimensions, so they cost no metrics.
//
// Where to write it, with the template's LoggingConfig LogFormat JSON. Lambda formats application
// logs as JSON itself only for the managed runtimes that have built-in loggers (Java, .NET, Node.js,
// Python; "Configuring JSON and plain text log formats",
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html); for them
// the setting covers both system and application logs. Rewind runs on provided.al2023, an OS-only
// runtime: there the setting changes Lambda's own system (platform) log lines, and what the program
// writes to stdout reaches CloudWatch Logs as written, one log event per line ("When using Lambda,
// no agent is required ... Anything logged to STDOUT is sent to CloudWatch Logs via the Lambda
// Logging Agent",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Libraries.html).
// So a record written as its own line to stdout is extracted. (An older revision of the
// specification page said the same of Lambda directly: "Writing JSON to standard out in the embedded
// metric format is sufficient", even after the metadata Lambda may prepend.) A record nested inside
// another JSON object (a field of a slog line, or a managed runtime's JSON wrapper; the libraries page
// warns that older Node.js EMF libraries lose metrics under the JSON log format) is not: the metric
// directive must be at the root of the event. Write Record's bytes straight to os.Stdout, never
// through the logger.
//
// Unverified here (no AWS account): that Lambda passes a provided.al2023 function's stdout through
// unchanged under LogFormat JSON is read from the pages above, which list the runtimes Lambda
// reformats and do not name OS-only runtimes among them; it is not observed.
package emf

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
)

// Namespace is the CloudWatch namespace of Rewind's metrics.
const Namespace = "Rewind"

// The dimension names.
const (
	DimTarget  = "Target"
	DimOutcome = "Outcome"
)

// DimensionSets are the dimension sets of every record, in the order written.
var DimensionSets = [][]string{{DimTarget, DimOutcome}, {DimTarget}}

// The metric names.
const (
	MetricDecisions       = "Decisions"
	MetricRollbacks       = "Rollbacks"
	MetricFailures        = "Failures"
	MetricDecisionLatency = "DecisionLatency"
)

// Metric is one metric definition: its name and CloudWatch unit.
type Metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// Metrics are the metric definitions of every record, in the order written.
var Metrics = []Metric{
	{MetricDecisions, "Count"},
	{MetricRollbacks, "Count"},
	{MetricFailures, "Count"},
	{MetricDecisionLatency, "Milliseconds"},
}

// NoTarget is the Target dimension of a decision that names no target.
const NoTarget = "none"

// Outcomes are the values the Outcome dimension takes: every outcome a decision can have.
var Outcomes = []rollback.Outcome{
	rollback.OutcomeRolledBack, rollback.OutcomeDeployed, rollback.OutcomePlanned, rollback.OutcomeSkipped,
	rollback.OutcomeIgnored, rollback.OutcomeFailed, rollback.OutcomeOK,
}

// maxDimensionValue is the longest dimension value CloudWatch keeps (a Dimension's Value is 1 to
// 1024 characters, https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html).
const maxDimensionValue = 1024

type directive struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []Metric   `json:"Metrics"`
}

type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// Record returns the EMF record of one decision made at at, as one line ending in "\n".
func Record(r rollback.Result, at time.Time) []byte {
	latency := r.DurationMS
	if math.IsNaN(latency) || math.IsInf(latency, 0) || latency < 0 {
		latency = 0
	}
	doc := map[string]any{
		"_aws": metadata{Timestamp: at.UnixMilli(), CloudWatchMetrics: []directive{{
			Namespace: Namespace, Dimensions: DimensionSets, Metrics: Metrics}}},
		DimTarget:             dimension(r.Target, NoTarget),
		DimOutcome:            dimension(string(r.Outcome), "unknown"),
		MetricDecisions:       1,
		MetricRollbacks:       count(r.Outcome == rollback.OutcomeRolledBack),
		MetricFailures:        count(r.Outcome == rollback.OutcomeFailed),
		MetricDecisionLatency: latency,
		"code":                string(r.Code),
		"action":              string(r.Action),
		"dryRun":              r.DryRun,
	}
	line, err := json.Marshal(doc)
	if err != nil {
		// Every value above is a string, a bool or a finite number: Marshal cannot fail.
		panic("emf: " + err.Error())
	}
	return append(line, '\n')
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dimension makes s a valid dimension value: printable ASCII (anything else becomes "?"), at most
// maxDimensionValue characters, and never empty (empty becomes orElse).
func dimension(s, orElse string) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() >= maxDimensionValue {
			break
		}
		if c >= 0x20 && c < 0x7f {
			b.WriteRune(c)
		} else {
			b.WriteByte('?')
		}
	}
	if strings.TrimSpace(b.String()) == "" {
		return orElse
	}
	return b.String()
}
