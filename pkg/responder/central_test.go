package responder_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/notify"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// snsToMoto sends the requests signed for SNS (the service in the credential scope of their
// Authorization header) to moto_server and everything else to the world's fakes, so one aws.Config,
// as main builds it, reaches both. It also records the region each SNS request was signed for.
type snsToMoto struct {
	moto    *url.URL
	regions chan string
}

func (s snsToMoto) RoundTrip(r *http.Request) (*http.Response, error) {
	auth := r.Header.Get("Authorization")
	if !strings.Contains(auth, "/sns/aws4_request") {
		return http.DefaultTransport.RoundTrip(r)
	}
	if _, scope, ok := strings.Cut(auth, "Credential="); ok {
		if f := strings.Split(scope, "/"); len(f) > 2 {
			select {
			case s.regions <- f[2]:
			default:
			}
		}
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = s.moto.Scheme, s.moto.Host, s.moto.Host
	return http.DefaultTransport.RoundTrip(r)
}

// motoTopic creates a topic in account/region with an SQS queue subscribed, returning both.
func motoTopic(t *testing.T, motoURL, acct, region, name string) (string, func() []string) {
	t.Helper()
	cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		HTTPClient: &http.Client{Transport: motoAccount{acct}}}
	snsc := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(motoURL) })
	sqsc := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(motoURL) })
	ctx := context.Background()
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-reader")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:" + region + ":" + acct + ":" + name + "-reader")}); err != nil {
		t.Fatal(err)
	}
	// read returns the SNS Message of every notification waiting in the queue.
	read := func() []string {
		var out []string
		for {
			got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Messages) == 0 {
				return out
			}
			for _, m := range got.Messages {
				var env struct{ Message string }
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
					t.Fatal(err)
				}
				out = append(out, env.Message)
				if _, err := sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return aws.ToString(topic.TopicArn), read
}

type motoAccount struct{ account string }

func (m motoAccount) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("x-moto-account-id", m.account)
	return http.DefaultTransport.RoundTrip(r)
}

// TestBuildPublishesToTheCentralTopicToo: with NOTIFY_TOPIC_ARN and CENTRAL_NOTIFY_TOPIC_ARN (another
// account's topic, in another region), responder.Build's notifier publishes a rollback to both, the
// same message, saying this account and region; the central topic is reached by a client signing for
// its region. With the central topic gone, the next decision stands, the local topic still gets it,
// and the failure is logged naming the central topic.
func TestBuildPublishesToTheCentralTopicToo(t *testing.T) {
	w := newWorld(t)
	motoURL := testenv.Moto(t)
	localARN, readLocal := motoTopic(t, motoURL, account, "us-east-1", "rewind-notify")
	centralARN, readCentral := motoTopic(t, motoURL, "999988887777", "eu-central-1", "org-rewind-decisions")

	cfg, err := config.FromEnv(withTable(map[string]string{config.EnvTargets: w.apiID + "/service",
		config.EnvNotifyTopicARN: localARN, config.EnvCentralNotifyTopicARN: centralARN}))
	if err != nil {
		t.Fatal(err)
	}
	mu, _ := url.Parse(motoURL)
	route := snsToMoto{moto: mu, regions: make(chan string, 16)}
	awsCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(w.url), HTTPClient: &http.Client{Transport: route},
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	h, err := responder.Build(cfg, awsCfg, responder.Options{Log: slog.New(slog.NewJSONHandler(w.logs, nil)), FunctionName: "rewind",
		Now: func() time.Time { return handledAt }, NameTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Handle(invokeCtx(), snsEvent(fiveXX(w, t0.Add(20*time.Minute))))
	if err != nil {
		t.Fatal(err)
	}
	if r := answer(t, out).Results[0]; r.Outcome != rollback.OutcomeRolledBack {
		t.Fatalf("%+v", r)
	}
	local, central := readLocal(), readCentral()
	if len(local) != 1 || len(central) != 1 || local[0] != central[0] {
		t.Fatalf("local topic got %q, central %q; want the one rollback, the same message", local, central)
	}
	var chat notify.Notification
	if err := json.Unmarshal([]byte(central[0]), &chat); err != nil {
		t.Fatal(err)
	}
	if c := chat.Metadata.AdditionalContext; c["account"] != account || c["region"] != "us-east-1" || c["outcome"] != string(rollback.OutcomeRolledBack) {
		t.Errorf("the central reader cannot tell where it came from: %v", c)
	}
	signed := map[string]bool{}
	for len(route.regions) > 0 {
		signed[<-route.regions] = true
	}
	if !signed["us-east-1"] || !signed["eu-central-1"] {
		t.Errorf("SNS requests signed for %v, want us-east-1 (the local topic) and eu-central-1 (the central one)", signed)
	}

	// The central topic is gone: the decision stands, the local topic gets it, the log says why the
	// central one did not.
	cc := sns.NewFromConfig(aws.Config{Region: "eu-central-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		HTTPClient: &http.Client{Transport: motoAccount{"999988887777"}}}, func(o *sns.Options) { o.BaseEndpoint = aws.String(motoURL) })
	if _, err := cc.DeleteTopic(context.Background(), &sns.DeleteTopicInput{TopicArn: aws.String(centralARN)}); err != nil {
		t.Fatal(err)
	}
	out, err = h.Handle(invokeCtx(), json.RawMessage(`{"action":"deploy","deploymentId":"`+w.lambda+`","force":true,"reason":"forward again"}`))
	if err != nil {
		t.Fatalf("a failed central notification failed the invocation: %v", err)
	}
	if r := resultsOf(out); len(r) != 1 || r[0].Outcome != rollback.OutcomeDeployed || w.live(t).DeploymentID != w.lambda {
		t.Fatalf("%+v", r)
	}
	if got := readLocal(); len(got) != 1 || !strings.Contains(got[0], "deployed") {
		t.Errorf("the local topic got %q after the central one failed, want the deploy", got)
	}
	logs := w.logs.String()
	if !strings.Contains(logs, "notify failed; the decision stands") || !strings.Contains(logs, centralARN) {
		t.Errorf("the central topic's failure is not logged with its ARN:\n%s", logs)
	}
}
