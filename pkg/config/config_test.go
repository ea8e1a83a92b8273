package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		EnvTargets:            " a1b2c3d4e5/prod , zz99/dev@legacy1",
		EnvDryRun:             "TRUE",
		EnvAlarmTargets:       "lambda-*-errors=a1b2c3d4e5/prod,latency=zz99/dev",
		EnvAllowedAccounts:    "111122223333",
		EnvLogLevel:           "debug",
		EnvNotifyTopicARN:     "arn:aws:sns:ap-northeast-1:111122223333:rewind-notify",
		EnvMemoryTable:        "rewind-MemoryTable-1A2B3C",
		EnvAuditRetentionDays: "30",
		EnvControlPlaneBudget: "0.5",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Targets) != 2 || c.Targets[1].Fallback != "legacy1" || !c.DryRun || c.LogLevel != slog.LevelDebug ||
		len(c.AlarmTargets) != 2 || c.AlarmTargets[1].Target.Fallback != "legacy1" || c.AllowedAccounts[0] != "111122223333" {
		t.Errorf("config = %+v", c)
	}
	if c.MemoryTable != "rewind-MemoryTable-1A2B3C" || c.AuditRetention != 30*24*time.Hour {
		t.Errorf("memory table %q, retention %s", c.MemoryTable, c.AuditRetention)
	}
	if c.ControlPlaneBudget != 0.5 {
		t.Errorf("control-plane budget %v, want 0.5", c.ControlPlaneBudget)
	}
	d, err := FromEnv(env(map[string]string{EnvTargets: "a1b2c3d4e5/prod", EnvMemoryTable: "rewind"}))
	if err != nil || d.AuditRetention != 400*24*time.Hour || d.MaxAutoPerHour != 3 || d.ControlPlaneBudget != 2 {
		t.Errorf("defaults: retention %s, guard %d, budget %v, %v", d.AuditRetention, d.MaxAutoPerHour, d.ControlPlaneBudget, err)
	}
}

// Every problem is reported at once, each naming its variable: one failed deploy says all there is
// to fix.
func TestFromEnvReportsEveryProblemTogether(t *testing.T) {
	_, err := FromEnv(env(map[string]string{EnvTargets: "a1b2c3d4e5", EnvDryRun: "yes", EnvLogLevel: "loud",
		EnvMaxAutoPerHour: "0", EnvAuditRetentionDays: "9999", EnvNotifyTopicARN: "x"}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, v := range []string{EnvTargets, EnvDryRun, EnvLogLevel, EnvMaxAutoPerHour, EnvMemoryTable + " is required", EnvAuditRetentionDays, EnvNotifyTopicARN} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("%v\ndoes not name %s", err, v)
		}
	}
}

func TestFromEnvErrorsNameTheVariable(t *testing.T) {
	ok := "a1b2c3d4e5/prod"
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"missing targets", map[string]string{}, "TARGETS is required"},
		{"blank targets", map[string]string{EnvTargets: " , "}, "TARGETS"},
		{"no stage", map[string]string{EnvTargets: "a1b2c3d4e5"}, "TARGETS"},
		{"traversal", map[string]string{EnvTargets: "../x/prod"}, "TARGETS"},
		{"encoded slash", map[string]string{EnvTargets: "a1%2Fb/prod"}, "TARGETS"},
		{"duplicate", map[string]string{EnvTargets: ok + "," + ok}, "listed twice"},
		{"dry run word", map[string]string{EnvTargets: ok, EnvDryRun: "yes"}, "DRY_RUN"},
		{"mapping outside targets", map[string]string{EnvTargets: ok, EnvAlarmTargets: "x=other1/prod"}, "ALARM_TARGETS"},
		{"mapping without =", map[string]string{EnvTargets: ok, EnvAlarmTargets: "just-a-name"}, "ALARM_TARGETS"},
		{"bad glob", map[string]string{EnvTargets: ok, EnvAlarmTargets: "[=a1b2c3d4e5/prod"}, "ALARM_TARGETS"},
		{"bad account", map[string]string{EnvTargets: ok, EnvAllowedAccounts: "1234"}, "ALLOWED_ACCOUNTS"},
		{"bad level", map[string]string{EnvTargets: ok, EnvLogLevel: "loud"}, "LOG_LEVEL"},
		{"bad topic", map[string]string{EnvTargets: ok, EnvNotifyTopicARN: "arn:aws:sqs:us-east-1:111122223333:q"}, "NOTIFY_TOPIC_ARN"},
		{"missing table", map[string]string{EnvTargets: ok}, "MEMORY_TABLE is required"},
		{"bad table", map[string]string{EnvTargets: ok, EnvMemoryTable: "a/b"}, "MEMORY_TABLE"},
		{"short table", map[string]string{EnvTargets: ok, EnvMemoryTable: "ab"}, "MEMORY_TABLE"},
		{"retention zero", map[string]string{EnvTargets: ok, EnvMemoryTable: "rewind", EnvAuditRetentionDays: "0"}, "AUDIT_RETENTION_DAYS"},
		{"retention words", map[string]string{EnvTargets: ok, EnvMemoryTable: "rewind", EnvAuditRetentionDays: "a year"}, "AUDIT_RETENTION_DAYS"},
		{"budget zero", map[string]string{EnvTargets: ok, EnvMemoryTable: "rewind", EnvControlPlaneBudget: "0"}, "CONTROL_PLANE_BUDGET: \"0\" is not a number of requests per second from 0.1 to 10"},
		{"budget over the quota", map[string]string{EnvTargets: ok, EnvMemoryTable: "rewind", EnvControlPlaneBudget: "11"}, "CONTROL_PLANE_BUDGET"},
		{"budget words", map[string]string{EnvTargets: ok, EnvMemoryTable: "rewind", EnvControlPlaneBudget: "two"}, "CONTROL_PLANE_BUDGET"},
		{"budget NaN", map[string]string{EnvTargets: ok, EnvMemoryTable: "rewind", EnvControlPlaneBudget: "NaN"}, "CONTROL_PLANE_BUDGET"},
		{"budget infinite", map[string]string{EnvTargets: ok, EnvMemoryTable: "rewind", EnvControlPlaneBudget: "+Inf"}, "CONTROL_PLANE_BUDGET"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromEnv(env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to name %q", err, tc.want)
			}
		})
	}
}

// TestTargetsMessagesGiveTheWholeGrammar: a missing or malformed TARGETS says how to write every kind.
func TestTargetsMessagesGiveTheWholeGrammar(t *testing.T) {
	for _, v := range []string{"", "a1b2c3d4e5", "s3:bucket/key", "cloudfront:E2QW:/api/*"} {
		_, err := FromEnv(env(map[string]string{EnvTargets: v}))
		if err == nil {
			t.Fatalf("TARGETS=%q accepted", v)
		}
		for _, form := range []string{"restApiId/stage[@fallbackDeploymentId]", "rest:", "http:apiId/stage[@fallbackDeploymentId]",
			"lambda:functionName:alias[@fallbackVersion]", "cloudfront:DISTRIBUTIONID:pathPattern@legacyOriginId"} {
			if !strings.Contains(err.Error(), form) {
				t.Errorf("TARGETS=%q: %v\ndoes not show %s", v, err, form)
			}
		}
	}
}
