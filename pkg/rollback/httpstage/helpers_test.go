package httpstage_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/httpstage"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	"github.com/rewind-sre/rewind/pkg/support/awslocal/apigwv2"
	"github.com/rewind-sre/rewind/pkg/target"
)

var base = rollbacktest.Base

// teamVars are the stage variables the team set on its stage.
var teamVars = map[string]string{"backend": "lambda", "lambdaAlias": "live"}

// fixture: a local HTTP API with n deployments a minute apart and a "live" stage on the newest (with
// the team's variables), reached through the real SDK client over HTTP; store is Rewind's memory.
type fixture struct {
	gw     *apigwv2.Server
	client *apigatewayv2.Client
	target target.Target
	deps   []apigwv2.Deployment
	store  *rollbacktest.Store
}

func newFixture(t *testing.T, n int, autoDeploy bool) *fixture {
	t.Helper()
	gw := apigwv2.New(func() time.Time { return base.Add(time.Duration(n) * time.Minute) })
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	id := gw.CreateAPI()
	f := &fixture{gw: gw, target: target.Target{Kind: target.KindHTTPStage, Resource: id, Slot: "live"}, store: rollbacktest.NewStore()}
	for i := range n {
		d, err := gw.CreateDeployment(id, apigwv2.Deployment{Description: fmt.Sprintf("build %d", i), CreatedDate: base.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		f.deps = append(f.deps, d)
	}
	if err := gw.CreateStage(id, apigwv2.Stage{Name: "live", DeploymentID: f.deps[n-1].ID, AutoDeploy: autoDeploy, Variables: teamVars}); err != nil {
		t.Fatal(err)
	}
	f.client = apigatewayv2.NewFromConfig(rollbacktest.AWSConfig(), func(o *apigatewayv2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return f
}

func (f *fixture) live(t *testing.T) apigwv2.Stage {
	t.Helper()
	st, ok := f.gw.Stage(f.target.Resource, "live")
	if !ok {
		t.Fatal("stage gone")
	}
	return st
}

// setLive points the stage at dep as a human in the console would (not counted in Writes).
func (f *fixture) setLive(t *testing.T, dep string) {
	t.Helper()
	if !f.gw.SetDeployment(f.target.Resource, f.target.Slot, dep) {
		t.Fatal("stage gone")
	}
}

// engine is the engine over api (nil: the fixture's client) and the fixture's store; its decision
// clock defaults to just after the alarms' time.
func (f *fixture) engine(api httpstage.API, o rollback.Options) *rollback.Engine {
	if api == nil {
		api = f.client
	}
	return rollbacktest.NewEngine(httpstage.New(api), f.store, o, base.Add(2*time.Hour+10*time.Second))
}

func alarm(incident string) rollback.Request {
	return rollbacktest.Alarm("http 5xx", incident, base.Add(2*time.Hour))
}

func manual(action rollback.Action, dep string) rollback.Request {
	return rollbacktest.Manual(action, dep)
}

// newClock and do are rollbacktest's, under the names the package's tests use.
var (
	newClock = rollbacktest.NewClock
	do       = rollbacktest.Do
)

// racingAPI runs race once, just before the n-th GetStage reaches the service: a human's change
// between Rewind's read and its write.
type racingAPI struct {
	httpstage.API
	n    int
	race func()

	mu    sync.Mutex
	calls int
}

func (r *racingAPI) GetStage(ctx context.Context, in *apigatewayv2.GetStageInput, o ...func(*apigatewayv2.Options)) (*apigatewayv2.GetStageOutput, error) {
	r.mu.Lock()
	r.calls++
	if r.calls == r.n {
		r.race()
	}
	r.mu.Unlock()
	return r.API.GetStage(ctx, in, o...)
}
