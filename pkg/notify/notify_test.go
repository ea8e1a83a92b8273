package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewind-sre/rewind/pkg/internal/testenv"
	"github.com/rewind-sre/rewind/pkg/notify"
	"github.com/rewind-sre/rewind/pkg/rollback"
)

var rolledBack = rollback.Result{Action: "rollback", Target: "a1b2c3d4e5/service", Outcome: rollback.OutcomeRolledBack,
	From: "lmb002", To: "ec2001", Reason: "roll a1b2c3d4e5/service back from lmb002 to ec2001 (previous-created)",
	Alarm: "luna-api-5xx", AlarmState: "ALARM", Incident: "0123456789abcdef"}

func TestSubjectAndText(t *testing.T) {
	if s := notify.Subject(rolledBack); s != "Rewind rolled back a1b2c3d4e5/service: lmb002 -> ec2001" {
		t.Errorf("subject %q", s)
	}
	long := rolledBack
	long.Outcome, long.Target = rollback.OutcomeFailed, strings.Repeat("ü", 200)
	if s := notify.Subject(long); len(s) > 100 || strings.ContainsFunc(s, func(r rune) bool { return r > 0x7e || r < 0x20 }) {
		t.Errorf("subject must be ≤100 printable ASCII: %q", s)
	}
	text := notify.Text(rolledBack, "rewind-fn")
	for _, want := range []string{"rolled-back", "a1b2c3d4e5/service", "lmb002 -> ec2001", "luna-api-5xx", "previous-created",
		`"action":"deploy","target":"a1b2c3d4e5/service","deploymentId":"lmb002"`, "--function-name rewind-fn"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

type failingSNS struct{}

func (failingSNS) Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return nil, errors.New("AuthorizationError")
}

func TestPublishErrorIsReturned(t *testing.T) {
	err := notify.New(failingSNS{}, "arn:aws:sns:us-east-1:123456789012:t", "fn").Notify(context.Background(), rolledBack)
	if err == nil || !strings.Contains(err.Error(), "AuthorizationError") {
		t.Fatalf("err = %v", err)
	}
}

// TestPublishThroughMotoToSQS sends a notification through moto_server's SNS to an SQS subscription and
// reads it back as a subscriber would: the SNS JSON envelope with Subject, Message and the attribute.
func TestPublishThroughMotoToSQS(t *testing.T) {
	url := testenv.Moto(t)
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	snsc := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(url) })
	sqsc := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(url) })

	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("rewind-notify")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("oncall")})
	if err != nil {
		t.Fatal(err)
	}
	qarn := "arn:aws:sqs:us-east-1:123456789012:oncall"
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(qarn)}); err != nil {
		t.Fatal(err)
	}
	if err := notify.New(snsc, *topic.TopicArn, "rewind-fn").Notify(ctx, rolledBack); err != nil {
		t.Fatal(err)
	}
	got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 {
		t.Fatalf("received %d messages, want exactly 1", len(got.Messages))
	}
	var envelope struct {
		Subject           string
		Message           string
		MessageAttributes map[string]struct{ Type, Value string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(got.Messages[0].Body)), &envelope); err != nil {
		t.Fatal(err)
	}
	if envelope.Subject != notify.Subject(rolledBack) || !strings.Contains(envelope.Message, "lmb002 -> ec2001") {
		t.Errorf("envelope = %+v", envelope)
	}
	var res rollback.Result
	if err := json.Unmarshal([]byte(envelope.MessageAttributes[notify.AttributeResult].Value), &res); err != nil {
		t.Fatalf("result attribute: %v (%+v)", err, envelope.MessageAttributes)
	}
	if res.Outcome != rollback.OutcomeRolledBack || res.To != "ec2001" || res.Incident != "0123456789abcdef" {
		t.Errorf("result attribute = %+v", res)
	}
}
