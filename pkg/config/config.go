// Package config reads Rewind's settings from the environment. Every problem names the variable, so
// a bad deploy fails at init with a message that says what to fix.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/internal/ascii"
	"github.com/rewind-sre/rewind/pkg/target"
)

// Names of the environment variables Rewind reads (the AWS SDK reads its own: AWS_REGION,
// credentials, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_API_GATEWAY, ...).
const (
	// EnvTargets is the allow-list, required: a comma-separated list of targets, and Rewind never
	// touches anything else. A target is one of (target.Parse reads them, target.Grammar says them):
	//
	//	restApiId/stage[@fallbackDeploymentId]                API Gateway REST API stage; "rest:" before it names the same
	//	http:apiId/stage[@fallbackDeploymentId]               API Gateway HTTP API (v2) stage, "$default" too
	//	lambda:functionName:alias[@fallbackVersion]           Lambda alias; the fallback is a published version
	//	cloudfront:DISTRIBUTIONID:pathPattern@legacyOriginId  CloudFront cache behaviour ("*": the default one)
	//
	// The "@..." part pins where an alarm sends the target, whatever its history says; a CloudFront
	// target must have it (the legacy origin). Each target may be listed once, in any spelling.
	// Items may also be tag selectors (target.ParseSelector): rest:tag:KEY=VALUE, rest:tag:KEY,
	// http:tag:KEY=VALUE, http:tag:KEY, every such stage of the region (pkg/discover finds them).
	EnvTargets         = "TARGETS"
	EnvDryRun          = "DRY_RUN"
	EnvAlarmTargets    = "ALARM_TARGETS"
	EnvAllowedAccounts = "ALLOWED_ACCOUNTS"
	EnvLogLevel        = "LOG_LEVEL"
	EnvNotifyTopicARN  = "NOTIFY_TOPIC_ARN"
	EnvMaxAutoPerHour  = "MAX_AUTO_ROLLBACKS_PER_HOUR"
	// EnvMemoryTable, required: the name of the DynamoDB table Rewind keeps its memory in.
	EnvMemoryTable = "MEMORY_TABLE"
	// EnvAuditRetentionDays, optional: days (1 to 3650, default 400) an audit-log entry is kept before
	// DynamoDB's TTL expires it.
	EnvAuditRetentionDays = "AUDIT_RETENTION_DAYS"
	// EnvAutoRollbackWindow, optional: a Go duration (default 24h; 0: always). Automatic rollbacks
	// happen only while the live deployment has been live for less than this: past it an outage is
	// more likely not the release's, and a rollback would undo code that has served well.
	EnvAutoRollbackWindow = "AUTO_ROLLBACK_WINDOW"
	// EnvAlarmTopicARN, optional: the topic alarms send to Rewind through (the template's AlarmTopic),
	// so "check" can tell which alarms reach each target and the schedule re-checks the alarms still in
	// ALARM (unset: neither).
	EnvAlarmTopicARN = "ALARM_TOPIC_ARN"
	// EnvCentralNotifyTopicARN, optional: a second topic, usually another account's (an organization's
	// central one), that receives every notification NOTIFY_TOPIC_ARN does, the same message.
	EnvCentralNotifyTopicARN = "CENTRAL_NOTIFY_TOPIC_ARN"
	// EnvControlPlaneBudget, optional: requests per second (0.1 to 10, default 2) Rewind's background
	// calls (the schedule's observes and readiness checks, discovery) may make to the control planes
	// together. API Gateway allows 10 per account for managing APIs, shared with the team's deploys.
	EnvControlPlaneBudget = "CONTROL_PLANE_BUDGET"
)

// Env lists every variable above, for documentation checks.
var Env = []string{EnvTargets, EnvDryRun, EnvAlarmTargets, EnvAllowedAccounts, EnvLogLevel, EnvNotifyTopicARN, EnvMaxAutoPerHour,
	EnvMemoryTable, EnvAuditRetentionDays, EnvAutoRollbackWindow, EnvAlarmTopicARN, EnvCentralNotifyTopicARN, EnvControlPlaneBudget}

// DefaultControlPlaneBudget is 2 of the 10 requests per second API Gateway allows an account for
// managing APIs (API Gateway Developer Guide, "Amazon API Gateway quotas", Total operations: 10 per
// second, burst 40, not adjustable): the team's own deploys keep the rest.
const DefaultControlPlaneBudget = 2.0

// MaxControlPlaneBudget is the whole of that quota.
const MaxControlPlaneBudget = 10.0

// DefaultAutoRollbackWindow is a day: long enough for a release's first peak of traffic and a night's
// batch, short enough that an outage weeks later does not roll production back to weeks-old code.
const DefaultAutoRollbackWindow = 24 * time.Hour

// Config is Rewind's configuration.
type Config struct {
	Targets []target.Target // the allow-list's explicit targets: nothing else is ever touched
	// Selectors add every stage carrying their tag (discovered; see pkg/discover) to the allow-list.
	Selectors       []target.Selector
	DryRun          bool             // decide and report, write nothing
	AlarmTargets    []target.Mapping // alarm name globs to targets, for alarms without ApiName
	AllowedAccounts []string         // accounts whose alarms count, besides the function's own
	LogLevel        slog.Level
	NotifyTopicARN  string // where each decision is published; empty: nowhere
	AlarmTopicARN   string // the topic alarms reach Rewind through; empty: "check" cannot tell
	MaxAutoPerHour  int    // loop guard: automatic rollbacks per target per hour before Rewind refuses
	MemoryTable     string // the DynamoDB table holding Rewind's memory of every target
	AuditRetention  time.Duration
	// AutoRollbackWindow is the release window: an alarm rolls back only a deployment live for less
	// than this (0: always).
	AutoRollbackWindow time.Duration
	// Region is the region the clients call: AWS_REGION here, and main sets it from the aws.Config the
	// SDK loaded. Alarms of regional resources from another region are not Rewind's to act on.
	Region string

	// CentralNotifyTopicARN also receives every notification (an organization's topic); empty: none.
	CentralNotifyTopicARN string
	// ControlPlaneBudget is the requests per second Rewind's background calls may make (FromEnv: 2
	// unless set); 0, which only a Config built in code has, is no budget at all.
	ControlPlaneBudget float64
}

// The two checks below are ascii.Set checks, not package-level regexps: compiling
// `[A-Za-z0-9_-]{1,256}` repeats the class 256 times and cost about 1 ms of every cold start before
// main ran. Each accepts exactly what the regexp in its comment does (TestChecksMatchTheRegexps).

var (
	digits      = ascii.NewSet("0-9")
	lowerDash   = ascii.NewSet("a-z-")
	regionChars = ascii.NewSet("a-z0-9-")
	topicChars  = ascii.NewSet("A-Za-z0-9_-")
	tableChars  = ascii.NewSet("A-Za-z0-9_.-")
)

// validAccount is ^[0-9]{12}$.
func validAccount(s string) bool { return digits.Span(s, 12, 12) }

// validTopicARN is ^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$. No class there
// holds ":", so the ARN is exactly six ":"-separated fields.
func validTopicARN(s string) bool {
	f := strings.Split(s, ":")
	if len(f) != 6 || f[0] != "arn" || f[2] != "sns" {
		return false
	}
	partition, ok := strings.CutPrefix(f[1], "aws")
	region, account, name := f[3], f[4], f[5]
	return ok && lowerDash.All(partition) && region != "" && regionChars.All(region) &&
		validAccount(account) && topicChars.Span(name, 1, 256)
}

// FromEnv reads the configuration through getenv (os.Getenv in main, a map in tests). Every problem
// is reported, together (errors.Join), so one failed deploy says everything there is to fix.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{Region: strings.TrimSpace(getenv("AWS_REGION")), MaxAutoPerHour: 3, AuditRetention: 400 * 24 * time.Hour,
		AutoRollbackWindow: DefaultAutoRollbackWindow, ControlPlaneBudget: DefaultControlPlaneBudget}
	var errs []error
	problem := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	switch raw := strings.TrimSpace(getenv(EnvTargets)); {
	case raw == "":
		problem("%s is required: a comma-separated list of the targets Rewind may act on, each %s, or a selector %s", EnvTargets, target.Grammar, target.SelectorGrammar)
	default:
		spec, err := target.ParseSpec(raw)
		targets := spec.Explicit
		switch {
		case errors.Is(err, target.ErrMalformed) || errors.Is(err, target.ErrUnknownKind):
			problem("%s: %w; a target is %s, a selector %s", EnvTargets, err, target.Grammar, target.SelectorGrammar)
		case err != nil:
			problem("%s: %w", EnvTargets, err)
		}
		c.Targets, c.Selectors = targets, spec.Selectors
		if err == nil && targets == nil {
			c.Targets = []target.Target{} // selectors alone: ALARM_TARGETS is still read (and may name nothing)
		}
	}
	if v := strings.TrimSpace(getenv(EnvDryRun)); v != "" {
		switch strings.ToLower(v) {
		case "true":
			c.DryRun = true
		case "false":
		default:
			problem("%s: %q is not true or false", EnvDryRun, v)
		}
	}
	if c.Targets != nil {
		var err error
		if c.AlarmTargets, err = target.ParseMappings(getenv(EnvAlarmTargets), c.Targets); err != nil {
			problem("%s: %w", EnvAlarmTargets, err)
		}
	}
	for _, a := range strings.Split(getenv(EnvAllowedAccounts), ",") {
		switch a = strings.TrimSpace(a); {
		case a == "":
		case !validAccount(a):
			problem("%s: %q is not a 12-digit AWS account id", EnvAllowedAccounts, a)
		default:
			c.AllowedAccounts = append(c.AllowedAccounts, a)
		}
	}
	if v := strings.TrimSpace(getenv(EnvLogLevel)); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			problem("%s: %q is not debug, info, warn or error", EnvLogLevel, v)
		}
	}
	if v := strings.TrimSpace(getenv(EnvMaxAutoPerHour)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			problem("%s: %q is not a whole number from 1 to 100", EnvMaxAutoPerHour, v)
		}
		c.MaxAutoPerHour = n
	}
	switch v := strings.TrimSpace(getenv(EnvMemoryTable)); {
	case v == "":
		problem("%s is required: the name of the DynamoDB table Rewind keeps its memory in (the template's MemoryTable)", EnvMemoryTable)
	case !tableChars.Span(v, 3, 255):
		problem("%s: %q is not a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -)", EnvMemoryTable, v)
	default:
		c.MemoryTable = v
	}
	if v := strings.TrimSpace(getenv(EnvAuditRetentionDays)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			problem("%s: %q is not a whole number of days from 1 to 3650", EnvAuditRetentionDays, v)
		}
		c.AuditRetention = time.Duration(n) * 24 * time.Hour
	}
	if v := strings.TrimSpace(getenv(EnvAutoRollbackWindow)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			problem("%s: %q is not a duration such as 24h, 90m or 0 (always)", EnvAutoRollbackWindow, v)
		}
		c.AutoRollbackWindow = d
	}
	if v := strings.TrimSpace(getenv(EnvAlarmTopicARN)); v != "" {
		if !validTopicARN(v) {
			problem("%s: %q is not an SNS topic ARN", EnvAlarmTopicARN, v)
		}
		c.AlarmTopicARN = v
	}
	if v := strings.TrimSpace(getenv(EnvNotifyTopicARN)); v != "" {
		if !validTopicARN(v) {
			problem("%s: %q is not an SNS topic ARN", EnvNotifyTopicARN, v)
		}
		c.NotifyTopicARN = v
	}
	if v := strings.TrimSpace(getenv(EnvCentralNotifyTopicARN)); v != "" {
		switch {
		case !validTopicARN(v):
			problem("%s: %q is not an SNS topic ARN", EnvCentralNotifyTopicARN, v)
		case v == c.NotifyTopicARN:
			problem("%s: %q is NOTIFY_TOPIC_ARN itself; every message would be published to it twice", EnvCentralNotifyTopicARN, v)
		}
		c.CentralNotifyTopicARN = v
	}
	if v := strings.TrimSpace(getenv(EnvControlPlaneBudget)); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || !(n >= 0.1 && n <= MaxControlPlaneBudget) { // !(…) also refuses NaN
			problem("%s: %q is not a number of requests per second from 0.1 to %g (API Gateway allows an account %g for managing APIs, shared with its deploys)",
				EnvControlPlaneBudget, v, MaxControlPlaneBudget, MaxControlPlaneBudget)
		}
		c.ControlPlaneBudget = n
	}
	return c, errors.Join(errs...)
}
