package budget_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/budget"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

type local struct {
	gw  *apigwlocal.Server
	api apigwlocal.RestAPI
	url string
}

func newLocal(t *testing.T) local {
	t.Helper()
	gw := apigwlocal.New(apigwlocal.Options{})
	api := gw.CreateRestAPI("users")
	d, err := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Description: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: d.ID}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return local{gw: gw, api: api, url: srv.URL}
}

// client is an API Gateway client with the budget in its APIOptions, as responder.Build makes them,
// and a fast copy of the production retry policy.
func (l local) client(b *budget.Budget) *apigateway.Client {
	policy := awsretry.Policy{MaxAttempts: 5, BaseDelay: 1e6, MaxDelay: 5e6}
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(l.url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer:     func() aws.Retryer { return policy.Retryer() }}
	cfg.APIOptions = append(cfg.APIOptions, b.AddTo)
	return apigateway.NewFromConfig(cfg)
}

func (l local) getStage(ctx context.Context, c *apigateway.Client) error {
	_, err := c.GetStage(ctx, &apigateway.GetStageInput{RestApiId: &l.api.ID, StageName: aws.String("prod")})
	return err
}

// Every attempt draws a token, the retry after a 429 too.
func TestEveryAttemptDrawsAToken(t *testing.T) {
	l := newLocal(t)
	b, err := budget.New(1000, budget.DefaultBurst, budget.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.gw.InjectFault("GetStage", apigwlocal.Fault{Status: 429, Times: 2})
	if err := l.getStage(budget.InBackground(context.Background()), l.client(b)); err != nil {
		t.Fatal(err)
	}
	if n, s := l.gw.CallCount("GetStage"), b.Stats(); n != 3 || s.Background != 3 {
		t.Fatalf("%d attempts reached the gateway, the budget counted %+v: want 3 and 3", n, s)
	}
}

// Foreground calls through a budgeted client never wait, even on an empty budget; they are counted.
func TestForegroundCallsDoNotWait(t *testing.T) {
	l := newLocal(t)
	b, err := budget.New(0.01, budget.DefaultBurst, budget.Options{}) // one call every 100 s
	if err != nil {
		t.Fatal(err)
	}
	c := l.client(b)
	for range 5 {
		if err := l.getStage(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if s := b.Stats(); s.Foreground != 5 || s.Waited != 0 || s.Background != 0 {
		t.Fatalf("stats %+v, want 5 foreground calls and no wait", s)
	}
	// The background now owes them: a call with a deadline is refused at once, not sent.
	ctx, cancel := context.WithTimeout(budget.InBackground(context.Background()), 1e9)
	defer cancel()
	before := l.gw.CallCount("GetStage")
	if err := l.getStage(ctx, c); err == nil {
		t.Fatal("a background call owed 500 s of budget went through")
	}
	if l.gw.CallCount("GetStage") != before {
		t.Fatal("the refused call reached the gateway")
	}
}

// Background calls from several goroutines through one budget under the gateway's own rate limit
// (scaled: 40 rps budget against a 100 rps, burst 5 limit) are never throttled.
func TestBackgroundStaysUnderTheAccountsLimit(t *testing.T) {
	l := newLocal(t)
	l.gw.SetRateLimit(100, 5)
	b, err := budget.New(40, budget.DefaultBurst, budget.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := l.client(b)
	ctx := budget.InBackground(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				if err := l.getStage(ctx, c); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for _, call := range l.gw.Calls() {
		if call.Status == 429 {
			t.Fatalf("a call was throttled: %+v", call)
		}
	}
	if n := l.gw.CallCount("GetStage"); n != 40 {
		t.Fatalf("%d calls, want 40", n)
	}
}
