package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewind-sre/rewind/pkg/notify"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// The member account that decides and the organization's central account that reads every member's
// decisions, each in its own region.
var (
	member  = notify.Origin{Account: "111122223333", Region: "eu-west-1"}
	central = notify.Origin{Account: "999988887777", Region: "us-east-1"}
)

// TestEveryMessageSaysWhereItWasDecided: with an origin, every outcome's chat notification (still a
// valid custom notification) and e-mail text carry the account and region, right after "Where:", and
// additionalContext holds both; without one, nothing changes.
func TestEveryMessageSaysWhereItWasDecided(t *testing.T) {
	chats := map[string]notify.Notification{"recovered": notify.Recovered(recovery, "rewind-fn")}
	texts := map[string]string{"recovered": notify.RecoveredText(recovery)}
	for _, c := range outcomes {
		chats[string(c.r.Outcome)] = notify.Chat(c.r, "rewind-fn")
		texts[string(c.r.Outcome)] = notify.Text(c.r, "rewind-fn")
	}
	for name, chat := range chats {
		stamped := notify.WithOrigin(chat, member)
		b, _ := json.Marshal(stamped)
		mustConform(t, string(b))
		if !strings.Contains(stamped.Content.Description, "\nAccount: `111122223333 in eu-west-1`") {
			t.Errorf("%s: description lacks the account line:\n%s", name, stamped.Content.Description)
		}
		if after(stamped.Content.Description, "Where:") != "Account: `111122223333 in eu-west-1`" {
			t.Errorf("%s: the account line does not follow Where:\n%s", name, stamped.Content.Description)
		}
		ctx := stamped.Metadata.AdditionalContext
		if ctx["account"] != member.Account || ctx["region"] != member.Region {
			t.Errorf("%s: additionalContext %v lacks the account and region", name, ctx)
		}
		if _, leaked := chat.Metadata.AdditionalContext["account"]; leaked {
			t.Errorf("%s: WithOrigin changed the notification it was given", name)
		}
		if !same(notify.WithOrigin(chat, notify.Origin{}), chat) {
			t.Errorf("%s: an empty origin changed the notification", name)
		}
		text := notify.TextWithOrigin(texts[name], member)
		if after(text, "Where:") != "Account: 111122223333 in eu-west-1" {
			t.Errorf("%s: the e-mail's account line does not follow Where:\n%s", name, text)
		}
		if notify.TextWithOrigin(texts[name], notify.Origin{}) != texts[name] {
			t.Errorf("%s: an empty origin changed the text", name)
		}
	}
}

// after is the line that follows the first line starting with prefix.
func after(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	return ""
}

func TestTopicARNFields(t *testing.T) {
	arn := "arn:aws-us-gov:sns:us-gov-west-1:999988887777:org-decisions"
	if notify.TopicAccount(arn) != "999988887777" || notify.TopicRegion(arn) != "us-gov-west-1" {
		t.Errorf("%s: account %q region %q", arn, notify.TopicAccount(arn), notify.TopicRegion(arn))
	}
	for _, bad := range []string{"", "999988887777", "arn:aws:sqs:us-east-1:999988887777:q", "arn:aws:sns:us-east-1:999988887777:a:b"} {
		if notify.TopicAccount(bad) != "" || notify.TopicRegion(bad) != "" {
			t.Errorf("%q read as a topic ARN", bad)
		}
	}
}

// asAccount makes every request of a client moto's as account (moto_server's x-moto-account-id).
type asAccount struct {
	account string
	next    http.RoundTripper
}

func (a asAccount) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("x-moto-account-id", a.account)
	return a.next.RoundTrip(r)
}

// party is one account's clients, in its region, against moto.
type party struct {
	sns *sns.Client
	sqs *sqs.Client
}

func newParty(url string, o notify.Origin) party {
	cfg := aws.Config{Region: o.Region, Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		HTTPClient: &http.Client{Transport: asAccount{o.Account, http.DefaultTransport}}}
	return party{
		sns: sns.NewFromConfig(cfg, func(so *sns.Options) { so.BaseEndpoint = aws.String(url) }),
		sqs: sqs.NewFromConfig(cfg, func(so *sqs.Options) { so.BaseEndpoint = aws.String(url) }),
	}
}

// topicWithQueue creates a topic and an SQS queue (SNS envelope) subscribed to it, in p's account and
// region, and returns the topic's ARN and the queue's URL.
func (p party) topicWithQueue(t *testing.T, o notify.Origin, name string) (string, *string) {
	t.Helper()
	ctx := context.Background()
	topic, err := p.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-reader")})
	if err != nil {
		t.Fatal(err)
	}
	queueARN := "arn:aws:sqs:" + o.Region + ":" + o.Account + ":" + name + "-reader"
	if _, err := p.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN)}); err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:sns:" + o.Region + ":" + o.Account + ":" + name; aws.ToString(topic.TopicArn) != want {
		t.Fatalf("moto made topic %s, want %s", aws.ToString(topic.TopicArn), want)
	}
	return aws.ToString(topic.TopicArn), q.QueueUrl
}

// TestPublishToTheLocalAndTheCentralTopicThroughMoto: a member account's Rewind (eu-west-1) publishes
// each decision to its own topic and to the organization's central topic (another account, in
// us-east-1, reached by a client of that region), and both readers get the same subject, message and
// attributes, which say the member's account and region (the invoked function's ARN's, over the
// configured origin). Then one topic at a time is gone: the publish reports that topic's ARN, and the
// other still receives.
func TestPublishToTheLocalAndTheCentralTopicThroughMoto(t *testing.T) {
	url := testenv.Moto(t)
	local, org := newParty(url, member), newParty(url, central)
	localARN, localQueue := local.topicWithQueue(t, member, "rewind-notify")
	centralARN, centralQueue := org.topicWithQueue(t, central, "org-rewind-decisions")

	// The member's central client signs for the central topic's region, as responder.Build makes it.
	toCentral := newParty(url, notify.Origin{Account: member.Account, Region: notify.TopicRegion(centralARN)}).sns
	n := notify.New(local.sns, localARN, "rewind-fn").Also(toCentral, centralARN).From(notify.Origin{Account: "000000000000", Region: "eu-west-1"})
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		InvokedFunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:rewind-fn"})
	if err := n.Notify(ctx, rolledBack); err != nil {
		t.Fatal(err)
	}
	if err := n.NotifyRecovered(ctx, recovery); err != nil {
		t.Fatal(err)
	}
	got := map[string][]envelope{"local": receiveAll(t, local.sqs, localQueue, 2), "central": receiveAll(t, org.sqs, centralQueue, 2)}
	for i, d := range got["central"] {
		if l := got["local"][i]; !reflect.DeepEqual(d, l) {
			t.Errorf("message %d: the central reader got %+v, the local one %+v; want the same", i, d, l)
		}
		for name, want := range map[string]string{notify.AttributeAccount: member.Account, notify.AttributeRegion: member.Region} {
			if d.attrs[name] != want {
				t.Errorf("message %d: attribute %s = %q, want %q (attributes %v)", i, name, d.attrs[name], want, d.attrs)
			}
		}
		mustConform(t, d.message)
		var chat notify.Notification
		if err := json.Unmarshal([]byte(d.message), &chat); err != nil {
			t.Fatal(err)
		}
		if c := chat.Metadata.AdditionalContext; c["account"] != member.Account || c["region"] != member.Region ||
			!strings.Contains(chat.Content.Description, "Account: `111122223333 in eu-west-1`") {
			t.Errorf("message %d does not say it came from %+v: %s", i, member, d.message)
		}
	}
	if c := got["central"]; c[0].subject != notify.Subject(rolledBack) || c[0].attrs[notify.AttributeResult] == "" ||
		c[1].subject != notify.RecoveredSubject(recovery) || c[1].attrs[notify.AttributeRecovery] == "" {
		t.Errorf("central reader got %+v", c)
	}

	// One topic gone: the other still gets the message, and the error names the one that failed.
	gone := func(p party, arn string) {
		if _, err := p.sns.DeleteTopic(context.Background(), &sns.DeleteTopicInput{TopicArn: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
	}
	gone(org, centralARN)
	err := n.Notify(ctx, rolledBack)
	if err == nil || !strings.Contains(err.Error(), centralARN) || strings.Contains(err.Error(), localARN) {
		t.Fatalf("central topic gone: err = %v, want one naming %s only", err, centralARN)
	}
	receiveAll(t, local.sqs, localQueue, 1)

	centralARN, centralQueue = org.topicWithQueue(t, central, "org-rewind-decisions")
	gone(local, localARN)
	err = n.Notify(ctx, rolledBack)
	if err == nil || !strings.Contains(err.Error(), localARN) || strings.Contains(err.Error(), centralARN) {
		t.Fatalf("local topic gone: err = %v, want one naming %s only", err, localARN)
	}
	if d := receiveAll(t, org.sqs, centralQueue, 1)[0]; d.subject != notify.Subject(rolledBack) {
		t.Errorf("central reader got %+v after the local topic failed", d)
	}
}

// envelope is one SNS message as an SQS subscriber reads it, every attribute kept.
type envelope struct {
	subject, message string
	attrs            map[string]string
}

func receiveAll(t *testing.T, sqsc *sqs.Client, queue *string, n int) []envelope {
	t.Helper()
	var out []envelope
	for len(out) < n {
		got, err := sqsc.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: queue, MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) == 0 {
			t.Fatalf("%s: %d messages, want %d", aws.ToString(queue), len(out), n)
		}
		for _, m := range got.Messages {
			var env struct {
				Type, Subject, Message string
				MessageAttributes      map[string]struct{ Type, Value string }
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil || env.Type != "Notification" {
				t.Fatalf("not an SNS envelope (%v): %s", err, aws.ToString(m.Body))
			}
			e := envelope{subject: env.Subject, message: env.Message, attrs: map[string]string{}}
			for k, a := range env.MessageAttributes {
				e.attrs[k] = a.Value
			}
			out = append(out, e)
			if _, err := sqsc.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: queue, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(out) != n {
		t.Fatalf("%s: %d messages, want %d", aws.ToString(queue), len(out), n)
	}
	return out
}

// TestACentralTopicOfAnotherRegionNeedsItsRegionsClient: SNS publishes only to topics of the region it
// is called in, and moto holds it to that too; so a client of the member's region cannot reach the
// central topic, which is why responder.Build gives the central topic a client of its own region.
func TestACentralTopicOfAnotherRegionNeedsItsRegionsClient(t *testing.T) {
	url := testenv.Moto(t)
	org := newParty(url, central)
	centralARN, _ := org.topicWithQueue(t, central, "org-rewind-decisions")
	wrongRegion := newParty(url, notify.Origin{Account: member.Account, Region: member.Region}).sns
	err := notify.New(wrongRegion, centralARN, "fn").Notify(context.Background(), rolledBack)
	if err == nil || !strings.Contains(err.Error(), centralARN) {
		t.Fatalf("publish to a us-east-1 topic through an eu-west-1 client: err = %v, want a failure naming the topic", err)
	}
}
