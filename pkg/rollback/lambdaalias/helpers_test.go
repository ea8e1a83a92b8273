package lambdaalias_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/lambdaalias"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	lambdalocal "github.com/rewind-sre/rewind/pkg/support/awslocal/lambda"
	"github.com/rewind-sre/rewind/pkg/target"
)

var base = rollbacktest.Base

const (
	fn        = "api-user-id"
	ownerDesc = "production traffic" // the alias's description, as its owner wrote it
)

// fixture: a local Lambda with function api-user-id, versions 1..n published a minute apart, and
// alias "live" on version live (default n, described by its owner), reached through the real SDK
// over HTTP; store is Rewind's memory.
type fixture struct {
	lam    *lambdalocal.Server
	client *lambda.Client
	target target.Target
	store  *rollbacktest.Store
}

func newFixture(t *testing.T, n int, live string, weights map[string]float64) *fixture {
	t.Helper()
	lam := lambdalocal.New(nil)
	srv := httptest.NewServer(lam)
	t.Cleanup(srv.Close)
	var vs []lambdalocal.Version
	for i := 1; i <= n; i++ {
		vs = append(vs, lambdalocal.Version{Version: fmt.Sprint(i), Description: fmt.Sprintf("build %d", i), LastModified: base.Add(time.Duration(i) * time.Minute)})
	}
	lam.CreateFunction(fn, vs...)
	if live == "" {
		live = fmt.Sprint(n)
	}
	if err := lam.CreateAlias(fn, lambdalocal.Alias{Name: "live", FunctionVersion: live, Description: ownerDesc, Weights: weights}); err != nil {
		t.Fatal(err)
	}
	client := lambda.NewFromConfig(rollbacktest.AWSConfig(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return &fixture{lam: lam, client: client, target: target.Target{Kind: target.KindLambdaAlias, Resource: fn, Slot: "live"}, store: rollbacktest.NewStore()}
}

func (f *fixture) alias(t *testing.T) lambdalocal.Alias {
	t.Helper()
	a, ok := f.lam.Alias(fn, "live")
	if !ok {
		t.Fatal("alias gone")
	}
	return a
}

// setLive points the alias at version as a human would (not counted in Writes).
func (f *fixture) setLive(t *testing.T, version string) {
	t.Helper()
	if !f.lam.SetAliasVersion(fn, "live", version) {
		t.Fatal("alias gone")
	}
}

func (f *fixture) engine(dry bool) *rollback.Engine {
	return f.engineWith(rollback.Options{DryRun: dry})
}

// engineWith is the engine over the fixture's client and store; its decision clock defaults to just
// after the alarms' time.
func (f *fixture) engineWith(o rollback.Options) *rollback.Engine {
	return rollbacktest.NewEngine(lambdaalias.New(f.client), f.store, o, base.Add(time.Hour+10*time.Second))
}

func alarm(incident string) rollback.Request {
	return rollbacktest.Alarm("api-user-id live errors", incident, base.Add(time.Hour))
}

func manual(action rollback.Action, version string) rollback.Request {
	return rollbacktest.Manual(action, version)
}

// newClock and do are rollbacktest's, under the names the package's tests use.
var (
	newClock = rollbacktest.NewClock
	do       = rollbacktest.Do
)
