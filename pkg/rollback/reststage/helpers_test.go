package reststage_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/reststage"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/target"
)

var base = rollbacktest.Base

// fixture is a local API Gateway with one API, n deployments a minute apart, and a prod stage live
// on the newest, reached through the real SDK client over HTTP; store is Rewind's memory.
type fixture struct {
	gw     *apigwlocal.Server
	client *apigateway.Client
	target target.Target
	deps   []apigwlocal.Deployment
	store  *rollbacktest.Store
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	// The control plane's clock stands just after the newest deployment, so alarms at base+1h are fresh.
	gw := apigwlocal.New(apigwlocal.Options{Region: "us-east-1", AccountID: "123456789012",
		Now: func() time.Time { return base.Add(time.Duration(n) * time.Minute) }})
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	api := gw.CreateRestAPI("users")
	f := &fixture{gw: gw, target: target.Target{Kind: target.KindRESTStage, Resource: api.ID, Slot: "prod"}, store: rollbacktest.NewStore()}
	for i := range n {
		d, err := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Description: fmt.Sprintf("build %d", i), CreatedDate: base.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		f.deps = append(f.deps, d)
	}
	if err := gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: f.deps[n-1].ID, Variables: map[string]string{"backend": "lambda"}}); err != nil {
		t.Fatal(err)
	}
	f.client = apigateway.NewFromConfig(rollbacktest.AWSConfig(), func(o *apigateway.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return f
}

// addStage creates another stage of the fixture's API (on the newest deployment unless spec names
// one) and returns it as a target.
func (f *fixture) addStage(t *testing.T, spec apigwlocal.StageSpec) target.Target {
	t.Helper()
	if spec.DeploymentID == "" {
		spec.DeploymentID = f.deps[len(f.deps)-1].ID
	}
	if err := f.gw.CreateStage(f.target.Resource, spec); err != nil {
		t.Fatal(err)
	}
	tg := f.target
	tg.Slot = spec.Name
	return tg
}

// stage is what the fake holds of tg's stage now.
func (f *fixture) stage(t *testing.T, tg target.Target) apigwlocal.Stage {
	t.Helper()
	st, ok := f.gw.Stage(tg.Resource, tg.Slot)
	if !ok {
		t.Fatalf("stage %s gone", tg)
	}
	return st
}

func (f *fixture) live(t *testing.T) apigwlocal.Stage {
	t.Helper()
	return f.stage(t, f.target)
}

// setLive points tg's stage at dep as a human's "Change deployment" in the console does: not a write
// through the API, so Writes does not count it.
func (f *fixture) setLive(t *testing.T, tg target.Target, dep string) {
	t.Helper()
	if err := f.gw.SetDeploymentID(tg.Resource, tg.Slot, dep); err != nil {
		t.Fatal(err)
	}
}

// engine is the engine over the fixture's client and store; its decision clock defaults to just
// after the alarms' time.
func (f *fixture) engine(o rollback.Options) *rollback.Engine {
	return rollbacktest.NewEngine(reststage.New(f.client), f.store, o, base.Add(time.Hour+10*time.Second))
}

func alarm(incident string) rollback.Request {
	return rollbacktest.Alarm("api 5xx", incident, base.Add(time.Hour))
}

func manual(action rollback.Action, dep string) rollback.Request {
	return rollbacktest.Manual(action, dep)
}

// newClock and do are rollbacktest's, under the names the package's tests use.
var (
	newClock = rollbacktest.NewClock
	do       = rollbacktest.Do
)

// recordingAPI keeps every UpdateStage the strategy sends.
type recordingAPI struct {
	reststage.API
	mu      sync.Mutex
	updates []*apigateway.UpdateStageInput
}

func (r *recordingAPI) UpdateStage(ctx context.Context, in *apigateway.UpdateStageInput, o ...func(*apigateway.Options)) (*apigateway.UpdateStageOutput, error) {
	r.mu.Lock()
	r.updates = append(r.updates, in)
	r.mu.Unlock()
	return r.API.UpdateStage(ctx, in, o...)
}

// paths lists the patch paths of every UpdateStage sent, in order.
func (r *recordingAPI) paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, in := range r.updates {
		for _, op := range in.PatchOperations {
			out = append(out, string(op.Op)+" "+aws.ToString(op.Path))
		}
	}
	return out
}
