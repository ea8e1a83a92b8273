package config

import (
	"strings"
	"testing"
)

// The central topic (an organization's, usually another account's) is optional, must be an SNS topic
// ARN, and must not be the local topic itself.
func TestCentralNotifyTopic(t *testing.T) {
	base := map[string]string{EnvTargets: "a1b2c3d4e5/prod", EnvMemoryTable: "rewind",
		EnvNotifyTopicARN: "arn:aws:sns:eu-west-1:111122223333:rewind-notify"}
	with := func(v string) map[string]string {
		m := map[string]string{EnvCentralNotifyTopicARN: v}
		for k, x := range base {
			m[k] = x
		}
		return m
	}
	c, err := FromEnv(env(base))
	if err != nil || c.CentralNotifyTopicARN != "" {
		t.Fatalf("unset: %q, %v", c.CentralNotifyTopicARN, err)
	}
	central := "arn:aws:sns:us-east-1:999988887777:org-rewind-decisions"
	if c, err = FromEnv(env(with(" " + central + " "))); err != nil || c.CentralNotifyTopicARN != central {
		t.Fatalf("set: %q, %v", c.CentralNotifyTopicARN, err)
	}
	for _, bad := range []string{
		"999988887777", // an account, not a topic
		"arn:aws:sqs:us-east-1:999988887777:org-queue", // a queue
		"arn:aws:sns:us-east-1:99998888777:org",        // 11 digits
		"arn:aws:sns:us-east-1:999988887777:org/x",     // not a topic name
		base[EnvNotifyTopicARN],                        // the local topic twice
	} {
		_, err := FromEnv(env(with(bad)))
		if err == nil || !strings.Contains(err.Error(), EnvCentralNotifyTopicARN) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s=%q: err = %v, want one naming the variable and the value", EnvCentralNotifyTopicARN, bad, err)
		}
	}
}
