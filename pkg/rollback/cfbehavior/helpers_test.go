package cfbehavior_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/cfbehavior"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	cflocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudfront"
	"github.com/rewind-sre/rewind/pkg/target"
)

var base = rollbacktest.Base

const (
	legacy  = "legacy-ec2"
	fresh   = "lambda-url"
	users   = "/api/users/*"
	comment = "Luna API" // the distribution's comment, as its owner wrote it
	// usersOrigin is where the users behaviour's origin sits in the configuration (see leaves).
	usersOrigin = "/DistributionConfig/CacheBehaviors/Items/CacheBehavior[0]/TargetOriginId"
)

// fixture: the seed's distribution. /api/users/* goes to the new Lambda function URL origin, the
// rest (default and /static/*) to the old EC2 origin; reached through the real SDK over HTTP; store is
// Rewind's memory.
type fixture struct {
	cf     *cflocal.Server
	client *cloudfront.Client
	id     string
	target target.Target
	store  *rollbacktest.Store
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, nil, nil) }

// newFixtureWith is newFixture with the fake's clock (nil: always base) and changes to the seed's spec.
func newFixtureWith(t *testing.T, now func() time.Time, change func(*cflocal.Spec)) *fixture {
	t.Helper()
	if now == nil {
		now = func() time.Time { return base }
	}
	cf := cflocal.New(now, 0)
	srv := httptest.NewServer(cf)
	t.Cleanup(srv.Close)
	spec := cflocal.Spec{ID: "E2QWRUHAPOMQZL", Comment: comment,
		Origins:       []cflocal.Origin{{ID: legacy, DomainName: "api-origin.luna.com"}, {ID: fresh, DomainName: "abc123.lambda-url.us-east-1.on.aws"}},
		DefaultOrigin: legacy,
		Behaviors:     []cflocal.Behavior{{PathPattern: users, OriginID: fresh}, {PathPattern: "/static/*", OriginID: legacy}}}
	if change != nil {
		change(&spec)
	}
	id, err := cf.CreateDistribution(spec)
	if err != nil {
		t.Fatal(err)
	}
	client := cloudfront.NewFromConfig(rollbacktest.AWSConfig(), func(o *cloudfront.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	f := &fixture{cf: cf, client: client, id: id, store: rollbacktest.NewStore()}
	f.target = f.behavior(t, users)
	return f
}

// behavior is the target of the distribution's behaviour for pattern, with the legacy origin.
func (f *fixture) behavior(t *testing.T, pattern string) target.Target {
	t.Helper()
	tg, err := target.Parse("cloudfront:" + f.id + ":" + pattern + "@" + legacy)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func (f *fixture) view(t *testing.T) cflocal.View {
	t.Helper()
	v, ok := f.cf.Distribution(f.id)
	if !ok {
		t.Fatal("distribution gone")
	}
	return v
}

// setOrigin points the behaviour for pattern at origin as a human in the console would (not counted
// in Writes).
func (f *fixture) setOrigin(t *testing.T, pattern, origin string) {
	t.Helper()
	if !f.cf.SetBehaviorOrigin(f.id, pattern, origin) {
		t.Fatalf("no behaviour %s", pattern)
	}
}

// engine is the engine over api (nil: the fixture's client) and the fixture's store; its decision
// clock defaults to just after the alarms' time.
func (f *fixture) engine(api cfbehavior.API, o rollback.Options) *rollback.Engine {
	if api == nil {
		api = f.client
	}
	return rollbacktest.NewEngine(cfbehavior.New(api), f.store, o, base.Add(time.Hour+10*time.Second))
}

func alarm(incident string) rollback.Request {
	return rollbacktest.Alarm("users 5xx", incident, base.Add(time.Hour))
}

func manual(action rollback.Action, origin string) rollback.Request {
	return rollbacktest.Manual(action, origin)
}

// newClock and do are rollbacktest's, under the names the package's tests use.
var (
	newClock = rollbacktest.NewClock
	do       = rollbacktest.Do
)

// leaves flattens a configuration to path -> text, each element numbered among its same-named siblings.
func leaves(n *cflocal.Node) map[string]string {
	out := map[string]string{}
	var walk func(n *cflocal.Node, path string)
	walk = func(n *cflocal.Node, path string) {
		if len(n.Nodes) == 0 {
			out[path] = strings.TrimSpace(n.Text)
			return
		}
		seen := map[string]int{}
		for _, c := range n.Nodes {
			name := c.XMLName.Local
			p := path + "/" + name
			if i := seen[name]; i > 0 || countNamed(n, name) > 1 {
				p = fmt.Sprintf("%s[%d]", p, i)
			}
			seen[name]++
			walk(c, p)
		}
	}
	walk(n, "/"+n.XMLName.Local)
	return out
}

func countNamed(n *cflocal.Node, name string) int {
	k := 0
	for _, c := range n.Nodes {
		if c.XMLName.Local == name {
			k++
		}
	}
	return k
}

// changed lists the leaves that differ between two flattened configurations ("+" for added ones).
func changed(before, after map[string]string) []string {
	var out []string
	for k, v := range before {
		if after[k] != v {
			out = append(out, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			out = append(out, "+"+k)
		}
	}
	slices.Sort(out)
	return out
}

// racingClient changes the distribution right after each of Rewind's first races reads of its
// configuration, as a colleague in the console would: Rewind's If-Match then no longer matches.
type racingClient struct {
	*cloudfront.Client
	races int
	race  func()

	mu    sync.Mutex
	calls int
}

func (c *racingClient) GetDistributionConfig(ctx context.Context, in *cloudfront.GetDistributionConfigInput, o ...func(*cloudfront.Options)) (*cloudfront.GetDistributionConfigOutput, error) {
	out, err := c.Client.GetDistributionConfig(ctx, in, o...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls++; c.calls <= c.races {
		c.race()
	}
	return out, err
}
