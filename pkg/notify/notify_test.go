package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rewind-sre/rewind/pkg/notify"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

var rolledBack = rollback.Result{Action: "rollback", Target: "a1b2c3d4e5/service", Outcome: rollback.OutcomeRolledBack,
	Code: rollback.CodeRolledBack, Rule: rollback.RulePrevious,
	From: "lmb002", To: "ec2001", Reason: "roll a1b2c3d4e5/service back from lmb002 to ec2001 (previous-created)",
	Alarm: "luna-api-5xx", AlarmState: "ALARM", Incident: "0123456789abcdef", DurationMS: 212}

// outcomes is one decision of each outcome Rewind notifies or could be asked to, with what an e-mail
// reader and a chat channel must be shown.
var outcomes = []struct {
	r rollback.Result
	// subject, text and chat hold fragments each must contain.
	subject    string
	text, chat []string
	// steps are fragments of the next steps, in order; none = no next steps.
	steps  []string
	thread string
}{
	{r: rolledBack, subject: "Rewind rolled back a1b2c3d4e5/service: lmb002 -> ec2001",
		text:   []string{"rolled-back (rollback)", "lmb002 -> ec2001", "luna-api-5xx (ALARM)", "previous-created", `"deploymentId":"lmb002"`, "--function-name rewind-fn"},
		chat:   []string{"rolled-back (rollback)", "`lmb002` → `ec2001`", "`luna-api-5xx` (ALARM)", "code `rolled-back`"},
		steps:  []string{`Undo, back to ` + "`lmb002`" + `: ` + "`" + `@aws lambda invoke --function-name rewind-fn --payload {"action":"deploy","target":"a1b2c3d4e5/service","deploymentId":"lmb002","force":true,"reason":"undo"}`, `{"action":"status","target":"a1b2c3d4e5/service"}`},
		thread: "0123456789abcdef"},
	{r: rollback.Result{Action: rollback.ActionDeploy, Target: "a1b2c3d4e5/service", Outcome: rollback.OutcomeDeployed, Code: rollback.CodeDeployed,
		From: "ec2001", To: "lmb003", Reason: "deploy lmb003 as asked", Source: "manual"},
		subject: "Rewind deployed a1b2c3d4e5/service: ec2001 -> lmb003",
		text:    []string{"deployed (deploy)", "ec2001 -> lmb003", `"deploymentId":"ec2001"`},
		chat:    []string{"deployed (deploy)", "`ec2001` → `lmb003`"},
		steps:   []string{`"deploymentId":"ec2001"`, `"action":"status"`}, thread: "a1b2c3d4e5/service"},
	{r: rollback.Result{Action: rollback.ActionRollback, Target: "http:h1b2c3d4e5/$default", Outcome: rollback.OutcomePlanned, Code: rollback.CodeRolledBack,
		From: "dep9", To: "dep8", Reason: "would roll back", DryRun: true, Alarm: "shop-5xx", AlarmState: "ALARM", Incident: "fedcba9876543210"},
		subject: "Rewind dry run on http:h1b2c3d4e5/$default: would go dep9 -> dep8",
		text:    []string{"planned (rollback)", "Dry run: nothing was changed.", `"action":"status","target":"http:h1b2c3d4e5/$default"`},
		chat:    []string{"planned (rollback)", "Dry run: nothing was changed."},
		steps:   []string{`{"action":"status","target":"http:h1b2c3d4e5/$default"}`, "dry run"}, thread: "fedcba9876543210"},
	{r: rollback.Result{Action: rollback.ActionRollback, Target: "lambda:api-user-id:live", Outcome: rollback.OutcomeFailed, Code: rollback.CodeNothingEarlier,
		Reason: "no earlier version that is not known bad", Alarm: "api-user-id-errors", AlarmState: "ALARM", Incident: "1111222233334444"},
		subject: "Rewind FAILED on lambda:api-user-id:live: a human must look",
		text:    []string{"failed (rollback)", "no earlier version", `"action":"status","target":"lambda:api-user-id:live"`},
		chat:    []string{"failed (rollback)", "code `nothing-earlier`", "no earlier version"},
		steps:   []string{`"action":"status"`, "A human must look"}, thread: "1111222233334444"},
	{r: rollback.Result{Action: rollback.ActionRollback, Target: "a1b2c3d4e5/service", Outcome: rollback.OutcomeSkipped, Code: rollback.CodeRepeat,
		Reason: "incident already handled", Incident: "0123456789abcdef"},
		subject: "Rewind skipped on a1b2c3d4e5/service",
		text:    []string{"skipped (rollback)", "already handled"},
		chat:    []string{"skipped (rollback)", "code `repeat`"}, thread: "0123456789abcdef"},
	{r: rollback.Result{Action: rollback.ActionNone, Outcome: rollback.OutcomeIgnored, Code: rollback.CodeNotForRewind,
		Reason: "not a CloudWatch alarm: \"CodePipeline\" event `x`\nsecond line", Source: "sns"},
		subject: "Rewind ignored on (unknown)",
		text:    []string{"ignored (none)", "Where:  (unknown)"},
		chat:    []string{"ignored (none)", "code `not-for-rewind`", "event `x` second line"}, thread: "rewind"},
}

// TestEveryOutcome: for each outcome, the subject, the e-mail text and the chat notification say what
// happened and what to do, every message is a valid custom notification, and the published Message
// gives e-mail the text and everything else the custom notification.
func TestEveryOutcome(t *testing.T) {
	for _, c := range outcomes {
		t.Run(string(c.r.Outcome), func(t *testing.T) {
			subject := notify.Subject(c.r)
			if subject != c.subject {
				t.Errorf("subject %q, want %q", subject, c.subject)
			}
			text := notify.Text(c.r, "rewind-fn")
			for _, want := range c.text {
				if !strings.Contains(text, want) {
					t.Errorf("e-mail text lacks %q:\n%s", want, text)
				}
			}
			chat := notify.Chat(c.r, "rewind-fn")
			checkChat(t, chat, c.r, c.thread)
			for _, want := range c.chat {
				if !strings.Contains(chat.Content.Description, want) {
					t.Errorf("chat description lacks %q:\n%s", want, chat.Content.Description)
				}
			}
			if len(chat.Content.NextSteps) != len(c.steps) {
				t.Errorf("next steps %q, want %d", chat.Content.NextSteps, len(c.steps))
			}
			for i, want := range c.steps {
				if i < len(chat.Content.NextSteps) && !strings.Contains(chat.Content.NextSteps[i], want) {
					t.Errorf("next step %d %q lacks %q", i, chat.Content.NextSteps[i], want)
				}
			}
			msg, err := notify.Message(chat, text)
			if err != nil {
				t.Fatal(err)
			}
			email, def := perProtocol(t, msg)
			if email != text {
				t.Errorf("e-mail gets %q, want the text %q", email, text)
			}
			mustConform(t, def)
			var back notify.Notification
			if err := json.Unmarshal([]byte(def), &back); err != nil || !same(back, chat) {
				t.Errorf("default is %s (%v), want the chat notification", def, err)
			}
		})
	}
}

// checkChat holds one decision's notification to what every notification must be.
func checkChat(t *testing.T, n notify.Notification, r rollback.Result, thread string) {
	t.Helper()
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	mustConform(t, string(b))
	if n.Content.Title != notify.Subject(r) {
		t.Errorf("title %q, want the subject %q", n.Content.Title, notify.Subject(r))
	}
	if n.Metadata.ThreadID != thread {
		t.Errorf("threadId %q, want %q (the incident, else the target)", n.Metadata.ThreadID, thread)
	}
	if n.Metadata.EventType != "rewind-"+string(r.Outcome) {
		t.Errorf("eventType %q", n.Metadata.EventType)
	}
	if !slices.Contains(n.Content.Keywords, string(r.Outcome)) {
		t.Errorf("keywords %q lack the outcome", n.Content.Keywords)
	}
	if r.Target != "" && !slices.Contains(n.Metadata.RelatedResources, r.Target) {
		t.Errorf("relatedResources %q lack the target", n.Metadata.RelatedResources)
	}
	for k, want := range map[string]string{"outcome": string(r.Outcome), "code": string(r.Code), "target": r.Target, "incident": r.Incident} {
		if got := n.Metadata.AdditionalContext[k]; got != want {
			t.Errorf("additionalContext[%s] = %q, want %q", k, got, want)
		}
	}
	if strings.Count(n.Content.Description, "`")%2 != 0 {
		t.Errorf("unbalanced code spans in %q", n.Content.Description)
	}
}

// sameJSON reports whether two JSON texts hold the same custom notification.
func sameJSON(a, b string) bool {
	var x, y notify.Notification
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && same(x, y)
}

func same(a, b notify.Notification) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// perProtocol decodes a MessageStructure=json Message: exactly "default" and "email", both strings.
func perProtocol(t *testing.T, msg string) (email, def string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(msg), &m); err != nil {
		t.Fatalf("Message is not JSON: %v\n%s", err, msg)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"default", "email"}) {
		t.Errorf("Message members %v, want default and email", keys)
	}
	email, _ = m["email"].(string)
	def, _ = m["default"].(string)
	if email == "" || def == "" {
		t.Fatalf("default and email must be non-empty strings: %s", msg)
	}
	return email, def
}

func TestSubjectIsShortASCII(t *testing.T) {
	long := rolledBack
	long.Outcome, long.Target = rollback.OutcomeFailed, strings.Repeat("ü", 200)
	if s := notify.Subject(long); len(s) > 100 || strings.ContainsFunc(s, func(r rune) bool { return r > 0x7e || r < 0x20 }) {
		t.Errorf("subject must be ≤100 printable ASCII: %q", s)
	}
	rec := notify.Recovery{Target: strings.Repeat("é", 300)}
	if s := notify.RecoveredSubject(rec); len(s) > 100 || strings.ContainsFunc(s, func(r rune) bool { return r > 0x7e || r < 0x20 }) {
		t.Errorf("recovered subject must be ≤100 printable ASCII: %q", s)
	}
}

// TestHostileTextStaysBounded: an alarm name or reason of any length or alphabet gives a valid,
// bounded notification whose markdown the text cannot break out of.
func TestHostileTextStaysBounded(t *testing.T) {
	r := rolledBack
	r.Alarm = strings.Repeat("`ü\n", 40000)
	r.Reason = strings.Repeat("x", 1<<20)
	n := notify.Chat(r, "rewind-fn")
	checkChat(t, n, r, r.Incident)
	b, _ := json.Marshal(n)
	if len(b) > 32<<10 {
		t.Errorf("notification of %d bytes from hostile text", len(b))
	}
	if strings.Contains(n.Content.Description, "\nü") {
		t.Errorf("a newline of the alarm name reached the description")
	}
}

var recovery = notify.Recovery{Target: "a1b2c3d4e5/service", Incident: "0123456789abcdef", Alarm: "luna-api-5xx",
	OnBadDeployment: 4*time.Minute + 12*time.Second + 300*time.Millisecond, UntilClear: 3 * time.Minute}

// TestRecovered: the "recovered" message is in the incident's thread, says recovered, and says how
// long users were on the bad deployment and how long until the alarm cleared.
func TestRecovered(t *testing.T) {
	n := notify.Recovered(recovery, "rewind-fn")
	b, _ := json.Marshal(n)
	mustConform(t, string(b))
	decision := notify.Chat(rolledBack, "rewind-fn")
	if n.Metadata.ThreadID != decision.Metadata.ThreadID {
		t.Errorf("threadId %q, want the decision's %q", n.Metadata.ThreadID, decision.Metadata.ThreadID)
	}
	if !strings.Contains(n.Content.Title, "recovered") || n.Metadata.EventType != "rewind-recovered" {
		t.Errorf("title %q, eventType %q", n.Content.Title, n.Metadata.EventType)
	}
	for _, want := range []string{"`a1b2c3d4e5/service`", "`luna-api-5xx` (OK)", "bad deployment for 4m12s", "cleared 3m0s after the rollback"} {
		if !strings.Contains(n.Content.Description, want) {
			t.Errorf("description lacks %q:\n%s", want, n.Content.Description)
		}
	}
	if n.Metadata.AdditionalContext["onBadDeploymentMs"] != "252300" || n.Metadata.AdditionalContext["untilClearMs"] != "180000" {
		t.Errorf("additionalContext %v", n.Metadata.AdditionalContext)
	}
	text := notify.RecoveredText(recovery)
	for _, want := range []string{"What:   recovered", "bad deployment for 4m12s", "cleared 3m0s", "Incident: 0123456789abcdef"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	// Without an incident the thread is the target's; a sub-second span keeps its milliseconds.
	quick := notify.Recovered(notify.Recovery{Target: "a/b", UntilClear: 250 * time.Millisecond}, "")
	if quick.Metadata.ThreadID != "a/b" || !strings.Contains(quick.Content.Description, "cleared 250ms") {
		t.Errorf("quick recovery: %+v", quick)
	}
	var attr map[string]any
	body, _ := json.Marshal(recovery)
	if err := json.Unmarshal(body, &attr); err != nil || attr["onBadDeploymentMs"] != 252300.0 || attr["untilClearMs"] != 180000.0 {
		t.Errorf("recovery attribute %s (%v)", body, err)
	}
}

type failingSNS struct{}

func (failingSNS) Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return nil, errors.New("AuthorizationError")
}

func TestPublishErrorIsReturned(t *testing.T) {
	n := notify.New(failingSNS{}, "arn:aws:sns:us-east-1:123456789012:t", "fn")
	if err := n.Notify(context.Background(), rolledBack); err == nil || !strings.Contains(err.Error(), "AuthorizationError") {
		t.Fatalf("err = %v", err)
	}
	if err := n.NotifyRecovered(context.Background(), recovery); err == nil || !strings.Contains(err.Error(), "AuthorizationError") {
		t.Fatalf("err = %v", err)
	}
}

// recording passes Publish on and keeps what was published.
type recording struct {
	notify.API
	mu  sync.Mutex
	ins []*sns.PublishInput
}

func (r *recording) Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error) {
	r.mu.Lock()
	r.ins = append(r.ins, in)
	r.mu.Unlock()
	return r.API.Publish(ctx, in, optFns...)
}

// delivery is one message as one subscriber received it.
type delivery struct {
	subject, message, attrName, attrValue string
}

// TestPublishThroughMotoToSQS sends every outcome's notification and a recovery through moto_server's
// SNS to an SQS queue with the SNS envelope, one with raw delivery, and an HTTP endpoint (the kind of
// subscription AWS Chatbot's is), and reads them back as each subscriber would: the queues and the
// endpoint get the custom notification; an e-mail subscriber, whose delivery moto does not make, gets
// the "email" member of what was published.
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
	queues := map[bool]*string{}
	for _, raw := range []bool{false, true} {
		name := map[bool]string{false: "oncall", true: "oncall-raw"}[raw]
		q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		queues[raw] = q.QueueUrl
		in := &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String("arn:aws:sqs:us-east-1:123456789012:" + name)}
		if raw {
			in.Attributes = map[string]string{"RawMessageDelivery": "true"}
		}
		if _, err := snsc.Subscribe(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	var (
		httpMu  sync.Mutex
		posted  []delivery
		badPost []string
	)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var env struct {
			Type, Subject, Message string
			MessageAttributes      map[string]struct{ Type, Value string }
		}
		httpMu.Lock()
		defer httpMu.Unlock()
		if err := json.Unmarshal(body, &env); err != nil || env.Type != "Notification" {
			badPost = append(badPost, string(body))
			return
		}
		d := delivery{subject: env.Subject, message: env.Message}
		posted = append(posted, d)
	}))
	defer endpoint.Close()
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(endpoint.URL + "/chatbot")}); err != nil {
		t.Fatal(err)
	}

	rec := &recording{API: snsc}
	n := notify.New(rec, *topic.TopicArn, "rewind-fn")
	for _, c := range outcomes {
		if err := n.Notify(ctx, c.r); err != nil {
			t.Fatalf("%s: %v", c.r.Outcome, err)
		}
	}
	if err := n.NotifyRecovered(ctx, recovery); err != nil {
		t.Fatal(err)
	}
	total := len(outcomes) + 1

	// What each protocol must see, in publish order.
	type expected struct {
		subject, chat, email, attrName, attrValue string
	}
	var want []expected
	for _, c := range outcomes {
		b, _ := json.Marshal(notify.Chat(c.r, "rewind-fn"))
		res, _ := json.Marshal(c.r)
		want = append(want, expected{notify.Subject(c.r), string(b), notify.Text(c.r, "rewind-fn"), notify.AttributeResult, string(res)})
	}
	b, _ := json.Marshal(notify.Recovered(recovery, "rewind-fn"))
	recJSON, _ := json.Marshal(recovery)
	want = append(want, expected{notify.RecoveredSubject(recovery), string(b), notify.RecoveredText(recovery), notify.AttributeRecovery, string(recJSON)})

	// E-mail: the published input, per protocol.
	if len(rec.ins) != total {
		t.Fatalf("%d publishes, want %d", len(rec.ins), total)
	}
	for i, in := range rec.ins {
		if aws.ToString(in.MessageStructure) != "json" || aws.ToString(in.Subject) != want[i].subject {
			t.Errorf("publish %d: MessageStructure %q, Subject %q", i, aws.ToString(in.MessageStructure), aws.ToString(in.Subject))
		}
		email, def := perProtocol(t, aws.ToString(in.Message))
		if email != want[i].email {
			t.Errorf("publish %d: an e-mail reader gets %q, want %q", i, email, want[i].email)
		}
		if strings.Contains(email, `"version"`) || strings.HasPrefix(email, "{") {
			t.Errorf("publish %d: the e-mail is not plain text: %q", i, email)
		}
		if !sameJSON(def, want[i].chat) {
			t.Errorf("publish %d: default %s, want the chat notification %s", i, def, want[i].chat)
		}
	}

	for _, raw := range []bool{false, true} {
		got := receive(t, sqsc, queues[raw], total)
		for i, d := range got {
			if !raw && d.subject != want[i].subject {
				t.Errorf("raw=%v message %d: Subject %q, want %q", raw, i, d.subject, want[i].subject)
			}
			if !sameJSON(d.message, want[i].chat) {
				t.Errorf("raw=%v message %d: %s\nwant the custom notification %s", raw, i, d.message, want[i].chat)
			}
			mustConform(t, d.message)
			if d.attrName != want[i].attrName || d.attrValue != want[i].attrValue {
				t.Errorf("raw=%v message %d: attribute %s=%s, want %s=%s", raw, i, d.attrName, d.attrValue, want[i].attrName, want[i].attrValue)
			}
		}
	}
	var res rollback.Result
	if err := json.Unmarshal([]byte(want[0].attrValue), &res); err != nil || res.Outcome != rollback.OutcomeRolledBack || res.To != "ec2001" || res.Incident != "0123456789abcdef" {
		t.Errorf("result attribute = %+v (%v)", res, err)
	}

	// HTTP(S): what AWS Chatbot's subscription reads, the custom notification in the SNS envelope.
	deadline := time.Now().Add(5 * time.Second)
	for {
		httpMu.Lock()
		n := len(posted)
		httpMu.Unlock()
		if n >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	httpMu.Lock()
	defer httpMu.Unlock()
	if len(badPost) > 0 || len(posted) != total {
		t.Fatalf("the HTTP endpoint got %d notifications (want %d) and %d other posts: %q", len(posted), total, len(badPost), badPost)
	}
	for i, d := range posted {
		if !sameJSON(d.message, want[i].chat) || d.subject != want[i].subject {
			t.Errorf("HTTP post %d: Subject %q Message %s, want the custom notification", i, d.subject, d.message)
		}
	}
}

// receive reads n messages from a queue, in order, as SQS subscribers see them: for an envelope, the
// SNS JSON with Subject, Message and the attribute; for raw delivery, the message itself with the
// attribute as an SQS message attribute.
func receive(t *testing.T, sqsc *sqs.Client, queue *string, n int) []delivery {
	t.Helper()
	var out []delivery
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		got, err := sqsc.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: queue, MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got.Messages {
			out = append(out, decode(t, m))
			if _, err := sqsc.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: queue, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(out) != n {
		t.Fatalf("received %d messages from %s, want %d", len(out), aws.ToString(queue), n)
	}
	return out
}

func decode(t *testing.T, m sqstypes.Message) delivery {
	t.Helper()
	body := aws.ToString(m.Body)
	for name, a := range m.MessageAttributes { // raw delivery
		return delivery{message: body, attrName: name, attrValue: aws.ToString(a.StringValue)}
	}
	var env struct {
		Type, Subject, Message string
		MessageAttributes      map[string]struct{ Type, Value string }
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil || env.Type != "Notification" {
		t.Fatalf("not an SNS envelope (%v): %s", err, body)
	}
	d := delivery{subject: env.Subject, message: env.Message}
	for name, a := range env.MessageAttributes {
		d.attrName, d.attrValue = name, a.Value
	}
	return d
}
