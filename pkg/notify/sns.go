package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
)

// SNS publishes results to one topic, or to two: the stack's own and an organization's central one.
type SNS struct {
	topics   []destination
	function string // the function's name, for the undo command
	origin   Origin
}

// destination is one topic and the client that reaches it (SNS publishes only to topics of the region
// it is called in, so a topic elsewhere needs a client of its own).
type destination struct {
	api API
	arn string
}

// New returns a notifier for topicARN; function names the Lambda in the "how to undo" line.
func New(api API, topicARN, function string) *SNS {
	return &SNS{topics: []destination{{api, topicARN}}, function: function}
}

// Also makes n publish every message to topicARN too, through api: the same message, at the same
// time, and one topic failing neither delays nor stops the other.
func (n *SNS) Also(api API, topicARN string) *SNS {
	n.topics = append(n.topics, destination{api, topicARN})
	return n
}

// From makes every message say where it was decided (see Origin).
func (n *SNS) From(o Origin) *SNS {
	n.origin = o
	return n
}

// Notify implements responder.Notifier.
func (n *SNS) Notify(ctx context.Context, r rollback.Result) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("notify %s: encode result: %w", n.names(), err)
	}
	return n.publish(ctx, Subject(r), Chat(r, n.function), Text(r, n.function), AttributeResult, string(body))
}

// NotifyRecovered publishes that the target recovered from an incident, in the incident's thread.
func (n *SNS) NotifyRecovered(ctx context.Context, rec Recovery) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("notify %s: encode recovery: %w", n.names(), err)
	}
	return n.publish(ctx, RecoveredSubject(rec), Recovered(rec, n.function), RecoveredText(rec), AttributeRecovery, string(body))
}

func (n *SNS) names() string {
	arns := make([]string, len(n.topics))
	for i, d := range n.topics {
		arns[i] = d.arn
	}
	return strings.Join(arns, ", ")
}

// publish sends one message to every topic, concurrently; the error joins each topic's failure.
func (n *SNS) publish(ctx context.Context, subject string, chat Notification, text, attr, value string) error {
	origin := n.originFor(ctx)
	msg, err := Message(WithOrigin(chat, origin), TextWithOrigin(text, origin))
	if err != nil {
		return fmt.Errorf("notify %s: %w", n.names(), err)
	}
	attrs := map[string]types.MessageAttributeValue{
		attr: {DataType: aws.String("String"), StringValue: aws.String(value)},
	}
	// The origin as attributes too, so a central topic's subscription can filter on them.
	for name, v := range map[string]string{AttributeAccount: origin.Account, AttributeRegion: origin.Region} {
		if v != "" {
			attrs[name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	send := func(d destination) error {
		_, err := d.api.Publish(ctx, &sns.PublishInput{
			TopicArn:          aws.String(d.arn),
			Subject:           aws.String(subject),
			MessageStructure:  aws.String(MessageStructure),
			Message:           aws.String(msg),
			MessageAttributes: attrs,
		})
		if err != nil {
			return fmt.Errorf("notify %s: publish: %w", d.arn, err)
		}
		return nil
	}
	if len(n.topics) == 1 {
		return send(n.topics[0])
	}
	errs := make([]error, len(n.topics))
	var wg sync.WaitGroup
	for i, d := range n.topics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = send(d)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
