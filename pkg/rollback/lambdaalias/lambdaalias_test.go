package lambdaalias_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/rewind-sre/rewind/pkg/awslocal"
	lambdalocal "github.com/rewind-sre/rewind/pkg/awslocal/lambda"
	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/lambdaalias"
	"github.com/rewind-sre/rewind/pkg/target"
)

var base = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

const fn = "api-user-id"

// fixture: a local Lambda with function api-user-id, versions 1..n published a minute apart, and
// alias "live" on version n (described by its owner), reached through the real SDK over HTTP.
type fixture struct {
	lam    *lambdalocal.Server
	client *lambda.Client
	target target.Target
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
	if err := lam.CreateAlias(fn, lambdalocal.Alias{Name: "live", FunctionVersion: live, Description: "production traffic", Weights: weights}); err != nil {
		t.Fatal(err)
	}
	client := lambda.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return awsretry.Policy{MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}.Retryer()
		},
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return &fixture{lam: lam, client: client, target: target.Target{Kind: target.KindLambdaAlias, APIID: fn, Stage: "live"}}
}

func (f *fixture) alias(t *testing.T) lambdalocal.Alias {
	t.Helper()
	a, ok := f.lam.Alias(fn, "live")
	if !ok {
		t.Fatal("alias gone")
	}
	return a
}

func (f *fixture) engine(dry bool) *rollback.Engine {
	return rollback.NewEngine(lambdaalias.New(f.client), rollback.Options{DryRun: dry, Now: func() time.Time { return base.Add(time.Hour + 10*time.Second) }})
}

func alarm(incident string) rollback.Request {
	return rollback.Request{Action: "rollback", Trigger: rollback.Trigger{By: "alarm", Alarm: "api-user-id live errors", Incident: incident, AlarmTime: base.Add(time.Hour)}}
}

func TestAlarmPointsTheAliasBackAndRecordsWhyInOneWrite(t *testing.T) {
	f := newFixture(t, 3, "", nil)
	eng := f.engine(false)
	res := eng.Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || res.From != "3" || res.To != "2" || res.Strategy != "lambda-alias" || res.Target != "lambda:api-user-id:live" {
		t.Fatalf("%+v", res)
	}
	if f.lam.Writes() != 1 || f.lam.CallCount("UpdateAlias") != 1 {
		t.Errorf("writes %d, UpdateAlias calls %d; want one", f.lam.Writes(), f.lam.CallCount("UpdateAlias"))
	}
	a := f.alias(t)
	if a.FunctionVersion != "2" || !strings.HasPrefix(a.Description, "production traffic rewind: ") || len(a.Description) > 256 {
		t.Errorf("alias after rollback: %+v", a)
	}
	_, mem, err := lambdaalias.DecodeDescription(a.Description)
	if err != nil || !mem.IsBad("3") || mem.Last == nil || mem.Last.Incident != "inc1" || mem.Last.To != "2" {
		t.Errorf("memory %+v, %v", mem, err)
	}
	if again := eng.Do(context.Background(), f.target, alarm("inc1")); again.Outcome != rollback.OutcomeSkipped || f.lam.Writes() != 1 {
		t.Errorf("repeated delivery: %+v", again)
	}
	// Forward again by hand: version 3 is known bad, so only with force.
	if dep := eng.Do(context.Background(), f.target, rollback.Request{Action: "deploy", DeploymentID: "3", Trigger: rollback.Trigger{By: "manual"}}); dep.Outcome != rollback.OutcomeFailed {
		t.Errorf("deploy of a known-bad version: %+v", dep)
	}
	if dep := eng.Do(context.Background(), f.target, rollback.Request{Action: "deploy", DeploymentID: "3", Trigger: rollback.Trigger{By: "manual", Force: true}}); dep.Outcome != rollback.OutcomeDeployed || f.alias(t).FunctionVersion != "3" {
		t.Errorf("forced deploy: %+v", dep)
	}
}

func TestWeightedRoutingIsDroppedNotTheAliasMoved(t *testing.T) {
	f := newFixture(t, 3, "2", map[string]float64{"3": 0.1})
	res := f.engine(false).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || res.Rule != rollback.RuleCanary || res.From != "3" || res.To != "2" {
		t.Fatalf("%+v", res)
	}
	a := f.alias(t)
	if a.FunctionVersion != "2" || len(a.Weights) != 0 {
		t.Errorf("alias: version %s weights %v; want 2 and no routing", a.FunctionVersion, a.Weights)
	}
	if _, mem, _ := lambdaalias.DecodeDescription(a.Description); !mem.IsBad("3") {
		t.Errorf("the canary version is not marked bad: %+v", mem)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	f := newFixture(t, 3, "", nil)
	res := f.engine(true).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomePlanned || res.To != "2" {
		t.Fatalf("%+v", res)
	}
	if f.lam.Writes() != 0 || f.lam.CallCount("UpdateAlias") != 0 || f.alias(t).FunctionVersion != "3" || f.alias(t).Description != "production traffic" {
		t.Error("dry run wrote")
	}
}

func TestStatusListsEveryPublishedVersionNewestFirst(t *testing.T) {
	f := newFixture(t, 120, "", map[string]float64{"119": 0.25}) // 121 with $LATEST: 3 pages of 50
	st := f.engine(false).Status(context.Background(), f.target)
	if st.Outcome != rollback.OutcomeOK || st.Status == nil {
		t.Fatalf("%+v", st)
	}
	s := st.Status
	if s.Current != "120" || len(s.Deployments) != 120 || s.Deployments[0].ID != "120" || !s.Deployments[0].Live || s.Deployments[119].ID != "1" {
		t.Errorf("status: current %s, %d versions, first %+v", s.Current, len(s.Deployments), s.Deployments[0])
	}
	if s.Canary == nil || s.Canary.DeploymentID != "119" || s.Canary.PercentTraffic != 25 {
		t.Errorf("canary: %+v", s.Canary)
	}
	if got := f.lam.CallCount("ListVersionsByFunction"); got != 3 {
		t.Errorf("ListVersionsByFunction calls = %d, want 3 pages", got)
	}
	for _, d := range s.Deployments {
		if d.ID == "$LATEST" {
			t.Error("$LATEST is listed as something to go back to")
		}
	}
}

func TestAnotherWriterBetweenReadAndWriteIsReadAgainNotOverwritten(t *testing.T) {
	f := newFixture(t, 3, "", nil)
	f.lam.InjectFault("UpdateAlias", awslocal.Fault{Status: 412})
	res := f.engine(false).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || f.alias(t).FunctionVersion != "2" {
		t.Fatalf("%+v", res)
	}
	if got := f.lam.CallCount("UpdateAlias"); got != 2 {
		t.Errorf("UpdateAlias calls = %d, want a refused one and one after reading again", got)
	}

	// The alias moved (a human pointed it at 1) after Rewind decided: Rewind does not write.
	g := newFixture(t, 3, "", nil)
	s := lambdaalias.New(g.client)
	st, err := s.Observe(context.Background(), g.target)
	if err != nil {
		t.Fatal(err)
	}
	d := rollback.DecideRollback(g.target, st, rollback.Trigger{By: "manual", Now: base.Add(time.Hour)})
	g.lam.SetAliasVersion(fn, "live", "1")
	if err := s.Apply(context.Background(), g.target, d.Plan); err == nil || !strings.Contains(err.Error(), "now serves version 1") {
		t.Errorf("Apply = %v", err)
	}
	if g.lam.Writes() != 0 || g.alias(t).FunctionVersion != "1" {
		t.Error("the human's change was overwritten")
	}
}

func TestALostResponseIsRecognisedAsRewindsOwnWrite(t *testing.T) {
	f := newFixture(t, 3, "2", map[string]float64{"3": 0.5})
	f.lam.InjectFault("UpdateAlias", awslocal.Fault{Status: 502, AfterApply: true})
	res := f.engine(false).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || f.lam.Writes() != 1 {
		t.Fatalf("%+v, writes %d", res, f.lam.Writes())
	}
	if a := f.alias(t); a.FunctionVersion != "2" || len(a.Weights) != 0 {
		t.Errorf("alias %+v", a)
	}
	if got := f.lam.CallCount("UpdateAlias"); got != 2 {
		t.Errorf("UpdateAlias calls = %d, want the lost one and its refused retry", got)
	}
}

func TestAliasOnLatestIsRefused(t *testing.T) {
	f := newFixture(t, 3, "$LATEST", nil)
	res := f.engine(false).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeFailed || !strings.Contains(res.Reason, "not a published version") || f.lam.Writes() != 0 {
		t.Errorf("%+v", res)
	}
}

func TestDescriptionKeepsTheOwnersTextAndFitsIn256(t *testing.T) {
	var m rollback.Memory
	for i := range 16 {
		m.Bad = append(m.Bad, fmt.Sprint(1000+i))
		m.Incidents = append(m.Incidents, fmt.Sprintf("%016x", i))
		m.Timeline = append(m.Timeline, rollback.Sighting{Deployment: fmt.Sprint(1000 + i), Since: base.Add(time.Duration(i) * time.Hour), How: rollback.HowAutoRollback})
	}
	m.Last = &rollback.Change{Kind: rollback.KindRollback, From: "1015", To: "1014", At: base, By: "alarm", Incident: "000000000000000f", Alarm: strings.Repeat("x", 64)}
	for _, owner := range []string{"", "production traffic", strings.Repeat("é", 200)} {
		d := lambdaalias.EncodeDescription(owner, m)
		if utf8.RuneCountInString(d) > 256 || !utf8.ValidString(d) {
			t.Errorf("owner %d bytes: description %d characters (valid %v)", len(owner), utf8.RuneCountInString(d), utf8.ValidString(d))
		}
		prefix, got, err := lambdaalias.DecodeDescription(d)
		if err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		if !strings.HasPrefix(owner, prefix) || (len(owner) < 100 && prefix != owner) {
			t.Errorf("owner text %q came back as %q", owner, prefix)
		}
		if got.Last == nil || got.Last.To != "1014" || !got.IsBad("1015") || len(got.Timeline) == 0 || got.Timeline[len(got.Timeline)-1].Deployment != "1015" {
			t.Errorf("the newest memory was lost: %+v", got)
		}
	}
}

// An observe decided before a canary rollback lands writes after it: the alias still serves the
// version the observe read, so the write goes ahead, but it must keep the rollback's known-bad mark
// and incident, or the incident's next alarm rolls back a second time.
func TestAConcurrentObserveKeepsTheRollbacksMemory(t *testing.T) {
	f := newFixture(t, 3, "2", map[string]float64{"3": 0.1})
	s := lambdaalias.New(f.client)
	st, err := s.Peek(context.Background(), f.target)
	if err != nil {
		t.Fatal(err)
	}
	observe := rollback.DecideObserve(f.target, st, base.Add(time.Hour))
	if observe.Verdict != rollback.Act {
		t.Fatalf("observe: %+v", observe)
	}
	eng := f.engine(false)
	if res := eng.Do(context.Background(), f.target, alarm("inc1")); res.Outcome != rollback.OutcomeRolledBack || res.Rule != rollback.RuleCanary {
		t.Fatalf("rollback: %+v", res)
	}
	if err := s.Apply(context.Background(), f.target, observe.Plan); err != nil {
		t.Fatalf("late observe: %v", err)
	}
	_, mem, err := lambdaalias.DecodeDescription(f.alias(t).Description)
	if err != nil || !mem.IsBad("3") || mem.Last == nil || mem.Last.Incident != "inc1" {
		t.Fatalf("the late observe undid the rollback's memory: %+v, %v", mem, err)
	}
	writes := f.lam.Writes()
	if again := eng.Do(context.Background(), f.target, alarm("inc1")); again.Outcome != rollback.OutcomeSkipped || f.lam.Writes() != writes {
		t.Errorf("the incident's next alarm: %+v", again)
	}
}
