// Package notify publishes one message per decision to an SNS topic: a one-line subject and a short
// text an on-call engineer can act on, with the JSON result as a message attribute for machines.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
)

// API is the part of the SNS client the notifier uses.
type API interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ API = (*sns.Client)(nil)

// AttributeResult is the message attribute holding the JSON result.
const AttributeResult = "rewind.result"

// SNS publishes results to one topic.
type SNS struct {
	api      API
	topicARN string
	function string // the function's name, for the undo command
}

// New returns a notifier for topicARN; function names the Lambda in the "how to undo" line.
func New(api API, topicARN, function string) *SNS {
	return &SNS{api: api, topicARN: topicARN, function: function}
}

// Notify implements responder.Notifier.
func (n *SNS) Notify(ctx context.Context, r rollback.Result) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("notify %s: encode result: %w", n.topicARN, err)
	}
	_, err = n.api.Publish(ctx, &sns.PublishInput{
		TopicArn: &n.topicARN,
		Subject:  aws.String(Subject(r)),
		Message:  aws.String(Text(r, n.function)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			AttributeResult: {DataType: aws.String("String"), StringValue: aws.String(string(body))},
		},
	})
	if err != nil {
		return fmt.Errorf("notify %s: publish: %w", n.topicARN, err)
	}
	return nil
}

// Subject is one line of at most 100 ASCII characters, as SNS requires.
func Subject(r rollback.Result) string {
	var s string
	switch r.Outcome {
	case rollback.OutcomeRolledBack:
		s = fmt.Sprintf("Rewind rolled back %s: %s -> %s", r.Target, r.From, r.To)
	case rollback.OutcomeDeployed:
		s = fmt.Sprintf("Rewind deployed %s: %s -> %s", r.Target, r.From, r.To)
	case rollback.OutcomePlanned:
		s = fmt.Sprintf("Rewind dry run on %s: would go %s -> %s", r.Target, r.From, r.To)
	case rollback.OutcomeFailed:
		s = fmt.Sprintf("Rewind FAILED on %s: a human must look", orUnknown(r.Target))
	default:
		s = fmt.Sprintf("Rewind %s on %s", r.Outcome, orUnknown(r.Target))
	}
	return ascii(s, 100)
}

// Text is the human message: what, where, from -> to, why, and how to undo.
func Text(r rollback.Result, function string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "What:   %s (%s)\n", r.Outcome, r.Action)
	fmt.Fprintf(&b, "Where:  %s\n", orUnknown(r.Target))
	if r.From != "" || r.To != "" {
		fmt.Fprintf(&b, "Change: %s -> %s\n", orUnknown(r.From), orUnknown(r.To))
	}
	if r.Alarm != "" {
		fmt.Fprintf(&b, "Alarm:  %s (%s)\n", r.Alarm, r.AlarmState)
	}
	fmt.Fprintf(&b, "Why:    %s\n", r.Reason)
	if r.DryRun {
		b.WriteString("Dry run: nothing was changed.\n")
	}
	fn := function
	if fn == "" {
		fn = "<rewind function>"
	}
	switch r.Outcome {
	case rollback.OutcomeRolledBack, rollback.OutcomeDeployed:
		fmt.Fprintf(&b, "\nUndo:   aws lambda invoke --function-name %s --cli-binary-format raw-in-base64-out --payload '{\"action\":\"deploy\",\"target\":\"%s\",\"deploymentId\":\"%s\",\"force\":true,\"reason\":\"undo\"}' /dev/stdout\n", fn, r.Target, r.From)
	case rollback.OutcomeFailed, rollback.OutcomePlanned:
		fmt.Fprintf(&b, "\nStatus: aws lambda invoke --function-name %s --cli-binary-format raw-in-base64-out --payload '{\"action\":\"status\",\"target\":\"%s\"}' /dev/stdout\n", fn, r.Target)
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// ascii keeps printable ASCII (SNS subjects allow nothing else) and bounds the length.
func ascii(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}
