package apigateway_test

import (
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable fake clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a local API Gateway served over real HTTP and the real SDK client pointed at it, with one
// API holding three deployments and a "prod" stage live on the second.
type env struct {
	gw     *apigwlocal.Server
	srv    *httptest.Server
	client *apigateway.Client
	clock  *clock
	api    apigwlocal.RestAPI
	deps   []apigwlocal.Deployment
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := &clock{now: t0}
	gw := apigwlocal.New(apigwlocal.Options{Region: "us-east-1", AccountID: "123456789012", Now: c.Now})
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	e := &env{gw: gw, srv: srv, clock: c, client: newClient(srv.URL)}
	e.api = gw.CreateRestAPI("users")
	for i, desc := range []string{"v1", "v2", "v3"} {
		d, err := gw.CreateDeployment(e.api.ID, apigwlocal.DeploymentSpec{Description: desc, CreatedDate: t0.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		e.deps = append(e.deps, d)
	}
	if err := gw.CreateStage(e.api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: e.deps[1].ID, Variables: map[string]string{"backend": "lambda"}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// newClient is the SDK client exactly as production builds it, pointed at url, without retries so
// every fault reaches the test.
func newClient(url string) *apigateway.Client {
	return apigateway.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		RetryMaxAttempts: 1,
	}, func(o *apigateway.Options) { o.BaseEndpoint = aws.String(url) })
}

func (e *env) stage(t *testing.T, name string) apigwlocal.Stage {
	t.Helper()
	st, ok := e.gw.Stage(e.api.ID, name)
	if !ok {
		t.Fatalf("stage %s is gone", name)
	}
	return st
}

func replace(path, value string) types.PatchOperation {
	return types.PatchOperation{Op: types.OpReplace, Path: aws.String(path), Value: aws.String(value)}
}

func remove(path string) types.PatchOperation {
	return types.PatchOperation{Op: types.OpRemove, Path: aws.String(path)}
}

func wantBadRequest(t *testing.T, err error, msg string) {
	t.Helper()
	var br *types.BadRequestException
	if !errors.As(err, &br) {
		t.Fatalf("err = %v, want BadRequestException", err)
	}
	if msg != "" && aws.ToString(br.Message) != msg {
		t.Errorf("message = %q, want %q", aws.ToString(br.Message), msg)
	}
}
