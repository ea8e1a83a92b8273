package cfbehavior_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"

	"github.com/rewind-sre/rewind/pkg/awslocal"
	cflocal "github.com/rewind-sre/rewind/pkg/awslocal/cloudfront"
	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/cfbehavior"
	"github.com/rewind-sre/rewind/pkg/target"
)

var base = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

const (
	legacy = "legacy-ec2"
	fresh  = "lambda-url"
	users  = "/api/users/*"
)

// fixture: the seed's distribution. /api/users/* goes to the new Lambda function URL origin, the
// rest (default and /static/*) to the old EC2 origin; reached through the real SDK over HTTP.
type fixture struct {
	cf     *cflocal.Server
	client *cloudfront.Client
	id     string
	target target.Target
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cf := cflocal.New(func() time.Time { return base }, 0)
	srv := httptest.NewServer(cf)
	t.Cleanup(srv.Close)
	id, err := cf.CreateDistribution(cflocal.Spec{ID: "E2QWRUHAPOMQZL", Comment: "Luna API",
		Origins:       []cflocal.Origin{{ID: legacy, DomainName: "api-origin.luna.com"}, {ID: fresh, DomainName: "abc123.lambda-url.us-east-1.on.aws"}},
		DefaultOrigin: legacy,
		Behaviors:     []cflocal.Behavior{{PathPattern: users, OriginID: fresh}, {PathPattern: "/static/*", OriginID: legacy}}})
	if err != nil {
		t.Fatal(err)
	}
	client := cloudfront.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return awsretry.Policy{MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}.Retryer()
		},
	}, func(o *cloudfront.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	tg, err := target.Parse("cloudfront:" + id + ":" + users + "@" + legacy)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{cf: cf, client: client, id: id, target: tg}
}

func (f *fixture) view(t *testing.T) cflocal.View {
	t.Helper()
	v, ok := f.cf.Distribution(f.id)
	if !ok {
		t.Fatal("distribution gone")
	}
	return v
}

func engine(api cfbehavior.API, dry bool) *rollback.Engine {
	return rollback.NewEngine(cfbehavior.New(api), rollback.Options{DryRun: dry, Now: func() time.Time { return base.Add(time.Hour + 10*time.Second) }})
}

func alarm(incident string) rollback.Request {
	return rollback.Request{Action: "rollback", Trigger: rollback.Trigger{By: "alarm", Alarm: "users 5xx", Incident: incident, AlarmTime: base.Add(time.Hour)}}
}

func TestAlarmSwitchesTheBehaviourToTheLegacyOriginInOneConditionalWrite(t *testing.T) {
	f := newFixture(t)
	etag, cfgBefore := f.view(t).ETag, leaves(f.view(t).Config)
	eng := engine(f.client, false)
	res := eng.Do(context.Background(), f.target, alarm("00aa11bb22cc33dd"))
	if res.Outcome != rollback.OutcomeRolledBack || res.From != fresh || res.To != legacy || res.Rule != rollback.RuleFallback {
		t.Fatalf("%+v", res)
	}
	if f.cf.Writes() != 1 || f.cf.CallCount("UpdateDistribution") != 1 {
		t.Errorf("writes %d, UpdateDistribution calls %d", f.cf.Writes(), f.cf.CallCount("UpdateDistribution"))
	}
	v := f.view(t)
	if v.Behaviors[users] != legacy || v.Behaviors["/static/*"] != legacy || v.DefaultOrigin != legacy {
		t.Errorf("behaviours after rollback: %v, default %s", v.Behaviors, v.DefaultOrigin)
	}
	if v.ETag == etag || v.Status != "InProgress" {
		t.Errorf("an update must change the ETag and put the distribution InProgress: %s %s", v.ETag, v.Status)
	}
	if !strings.HasPrefix(v.Comment, "Luna API rw: ") || utf8.RuneCountInString(v.Comment) > 128 {
		t.Errorf("comment %q", v.Comment)
	}
	// Everything else in the configuration came back through the SDK as it was: one origin and the
	// comment changed, nothing was dropped or added.
	after := leaves(v.Config)
	var changed []string
	for k, val := range cfgBefore {
		if after[k] != val {
			changed = append(changed, k)
		}
	}
	for k := range after {
		if _, ok := cfgBefore[k]; !ok {
			changed = append(changed, "+"+k)
		}
	}
	slices.Sort(changed)
	if want := []string{"/DistributionConfig/CacheBehaviors/Items/CacheBehavior[0]/TargetOriginId", "/DistributionConfig/Comment"}; !slices.Equal(changed, want) {
		t.Errorf("configuration changes: %v, want %v", changed, want)
	}
	// The same incident again, and a second alarm: the behaviour stays on the legacy origin, no write.
	for _, inc := range []string{"00aa11bb22cc33dd", "99aa11bb22cc33dd"} {
		if again := eng.Do(context.Background(), f.target, alarm(inc)); again.Outcome != rollback.OutcomeSkipped || f.cf.Writes() != 1 {
			t.Errorf("alarm %s after the rollback: %+v", inc, again)
		}
	}
}

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

func TestStatusShowsTheOriginAndWhetherTheChangeHasReachedTheEdges(t *testing.T) {
	f := newFixture(t)
	eng := engine(f.client, false)
	if st := eng.Status(context.Background(), f.target); st.Status == nil || st.Status.Current != fresh || st.Status.Progress != "Deployed" {
		t.Fatalf("before: %+v", st.Status)
	}
	if res := eng.Do(context.Background(), f.target, alarm("00aa11bb22cc33dd")); res.Outcome != rollback.OutcomeRolledBack {
		t.Fatal(res.Reason)
	}
	st := eng.Status(context.Background(), f.target)
	s := st.Status
	if s == nil || s.Current != legacy || s.Progress != "InProgress" || !strings.Contains(st.Reason, "InProgress") {
		t.Fatalf("after the switch: %+v (%s)", s, st.Reason)
	}
	if len(s.Deployments) != 2 || len(s.KnownBad) != 1 || s.KnownBad[0] != fresh || s.LastRollback == nil || s.LastRollback.To != legacy || s.LastRollback.From != fresh {
		t.Errorf("origins %+v, known bad %v, last %+v", s.Deployments, s.KnownBad, s.LastRollback)
	}
	f.cf.Propagate(f.id)
	if s := eng.Status(context.Background(), f.target).Status; s.Progress != "Deployed" {
		t.Errorf("after propagation: %s", s.Progress)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	f := newFixture(t)
	before := f.view(t)
	res := engine(f.client, true).Do(context.Background(), f.target, alarm("00aa11bb22cc33dd"))
	if res.Outcome != rollback.OutcomePlanned || res.To != legacy {
		t.Fatalf("%+v", res)
	}
	after := f.view(t)
	if f.cf.Writes() != 0 || f.cf.CallCount("UpdateDistribution") != 0 || after.ETag != before.ETag || after.Behaviors[users] != fresh || after.Comment != "Luna API" {
		t.Error("dry run wrote")
	}
}

// racingClient changes another behaviour of the distribution right after Rewind's first read, as a
// colleague in the console would: Rewind's If-Match then no longer matches.
type racingClient struct {
	*cloudfront.Client
	once sync.Once
	race func()
}

func (c *racingClient) GetDistributionConfig(ctx context.Context, in *cloudfront.GetDistributionConfigInput, o ...func(*cloudfront.Options)) (*cloudfront.GetDistributionConfigOutput, error) {
	out, err := c.Client.GetDistributionConfig(ctx, in, o...)
	c.once.Do(c.race)
	return out, err
}

func TestAChangedETagIsReadAgainAndTheOtherChangeKept(t *testing.T) {
	f := newFixture(t)
	rc := &racingClient{Client: f.client, race: func() { f.cf.SetBehaviorOrigin(f.id, "/static/*", fresh) }}
	res := engine(rc, false).Do(context.Background(), f.target, alarm("00aa11bb22cc33dd"))
	if res.Outcome != rollback.OutcomeRolledBack {
		t.Fatalf("%+v", res)
	}
	calls := f.cf.Calls()
	var ops []string
	for _, c := range calls {
		ops = append(ops, fmt.Sprintf("%s:%d", c.Op, c.Status))
	}
	want := "GetDistribution:200 GetDistributionConfig:200 UpdateDistribution:412 GetDistributionConfig:200 UpdateDistribution:200"
	if strings.Join(ops, " ") != want {
		t.Errorf("calls: %s\nwant:  %s", strings.Join(ops, " "), want)
	}
	v := f.view(t)
	if v.Behaviors[users] != legacy || v.Behaviors["/static/*"] != fresh {
		t.Errorf("behaviours %v: want the rollback and the colleague's change both", v.Behaviors)
	}
}

func TestTheBehaviourMovedSinceTheReadIsNotOverwritten(t *testing.T) {
	f := newFixture(t)
	rc := &racingClient{Client: f.client, race: func() {}}
	s := cfbehavior.New(rc)
	st, err := s.Observe(context.Background(), f.target)
	if err != nil {
		t.Fatal(err)
	}
	d := rollback.DecideRollback(f.target, st, rollback.Trigger{By: "manual", Now: base.Add(time.Hour)})
	f.cf.SetBehaviorOrigin(f.id, users, legacy) // someone already switched it by hand
	etag := f.view(t).ETag
	if err := s.Apply(context.Background(), f.target, d.Plan); err == nil || !strings.Contains(err.Error(), "now routes to "+legacy) {
		t.Fatalf("Apply = %v", err)
	}
	if f.cf.Writes() != 0 || f.view(t).ETag != etag {
		t.Error("wrote over a change made since the read")
	}
}

func TestThrottlingAndLostResponsesStillSwitchOnce(t *testing.T) {
	f := newFixture(t)
	f.cf.InjectFault("UpdateDistribution", awslocal.Fault{Status: 429, Times: 3})
	f.cf.InjectFault("UpdateDistribution", awslocal.Fault{Status: 500, AfterApply: true})
	res := engine(f.client, false).Do(context.Background(), f.target, alarm("00aa11bb22cc33dd"))
	// The lost response's retry carries the ETag from before the write: 412. Reading again finds this
	// very write in place (the behaviour and the comment it wrote), so the rollback is done, once.
	if res.Outcome != rollback.OutcomeRolledBack || f.view(t).Behaviors[users] != legacy || f.cf.Writes() != 1 {
		t.Fatalf("behaviour %s, writes %d: %+v", f.view(t).Behaviors[users], f.cf.Writes(), res)
	}
	if got := f.cf.CallCount("UpdateDistribution"); got != 5 {
		t.Errorf("UpdateDistribution calls = %d, want 3 throttled, 1 lost, 1 refused retry", got)
	}
	again := engine(f.client, false).Do(context.Background(), f.target, alarm("00aa11bb22cc33dd"))
	if again.Outcome != rollback.OutcomeSkipped || f.cf.Writes() != 1 {
		t.Errorf("the same incident again: %+v", again)
	}
}

func TestDeployForwardAgainNeedsForceAfterARollback(t *testing.T) {
	f := newFixture(t)
	eng := engine(f.client, false)
	if res := eng.Do(context.Background(), f.target, alarm("00aa11bb22cc33dd")); res.Outcome != rollback.OutcomeRolledBack {
		t.Fatal(res.Reason)
	}
	deploy := func(force bool) rollback.Result {
		return eng.Do(context.Background(), f.target, rollback.Request{Action: "deploy", DeploymentID: fresh, Trigger: rollback.Trigger{By: "manual", Force: force}})
	}
	if res := deploy(false); res.Outcome != rollback.OutcomeFailed || res.Code != rollback.CodeKnownBad {
		t.Errorf("deploy of the origin just rolled back from: %+v", res)
	}
	if res := deploy(true); res.Outcome != rollback.OutcomeDeployed || f.view(t).Behaviors[users] != fresh {
		t.Errorf("forced deploy forward: %+v", res)
	}
	if res := eng.Do(context.Background(), f.target, rollback.Request{Action: "deploy", DeploymentID: "nope", Trigger: rollback.Trigger{By: "manual"}}); res.Outcome != rollback.OutcomeFailed {
		t.Errorf("deploy to an origin that does not exist: %+v", res)
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	missing := f.target
	missing.Stage = "/nope/*"
	if _, err := cfbehavior.New(f.client).Observe(context.Background(), missing); !errors.Is(err, rollback.ErrNotFound) || !strings.Contains(err.Error(), users) {
		t.Errorf("unknown path pattern: %v", err)
	}
	noOrigin := f.target
	noOrigin.Fallback = "gone-origin"
	if res := engine(f.client, false).Do(context.Background(), noOrigin, alarm("00aa11bb22cc33dd")); res.Outcome != rollback.OutcomeFailed || !strings.Contains(res.Reason, "gone-origin") {
		t.Errorf("legacy origin not in the distribution: %+v", res)
	}
	otherDist := f.target
	otherDist.APIID = "E0000000000000"
	if _, err := cfbehavior.New(f.client).Observe(context.Background(), otherDist); !errors.Is(err, rollback.ErrNotFound) {
		t.Errorf("unknown distribution: %v", err)
	}
	if f.cf.Writes() != 0 {
		t.Error("a refusal wrote")
	}
}

func TestCommentKeepsTheOwnersTextAndTheNewestMemoryIn128(t *testing.T) {
	origins := []string{"legacy-ec2", "lambda-url", "blue", "green"}
	var m rollback.Memory
	for i := range 16 {
		m.Incidents = append(m.Incidents, fmt.Sprintf("%016x", i+1))
		m.Timeline = append(m.Timeline, rollback.Sighting{Deployment: origins[i%4], Since: base.Add(time.Duration(i) * time.Hour), How: rollback.HowAutoRollback})
	}
	m.Bad = []string{"blue", "green", "lambda-url"}
	m.Last = &rollback.Change{Kind: rollback.KindRollback, From: "lambda-url", To: "legacy-ec2", At: base, By: "alarm"}
	for _, owner := range []string{"", "Luna API", strings.Repeat("ü", 120)} {
		c := cfbehavior.EncodeComment(owner, m)
		if utf8.RuneCountInString(c) > 128 || !utf8.ValidString(c) {
			t.Errorf("owner %q: %d characters", owner, utf8.RuneCountInString(c))
		}
		gotOwner, got, err := cfbehavior.DecodeComment(c, origins)
		if err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		if !strings.HasPrefix(owner, gotOwner) || (len(owner) < 20 && gotOwner != owner) {
			t.Errorf("owner %q came back %q", owner, gotOwner)
		}
		if got.Last == nil || *got.Last != *m.Last || !got.IsBad("lambda-url") {
			t.Errorf("the last change or the newest known-bad origin was lost: %+v (%q)", got, c)
		}
		if n := len(got.Incidents); n > 0 && got.Incidents[n-1] != m.Incidents[15] {
			t.Errorf("incidents: %v", got.Incidents)
		}
	}
	// A comment Rewind did not write is all the owner's.
	if owner, got, err := cfbehavior.DecodeComment("prod: users api", origins); err != nil || owner != "prod: users api" || got.Last != nil {
		t.Errorf("%q %+v %v", owner, got, err)
	}
}
