package cfbehavior_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/cfbehavior"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

func TestAlarmSwitchesTheBehaviourToTheLegacyOriginInOneConditionalWrite(t *testing.T) {
	f := newFixture(t)
	etag, cfgBefore := f.view(t).ETag, leaves(f.view(t).Config)
	eng := f.engine(nil, rollback.Options{})
	res := eng.Do(context.Background(), f.target, alarm("00aa11bb22cc33dd"))
	if res.Outcome != rollback.OutcomeRolledBack || res.Code != rollback.CodeRolledBack || res.From != fresh || res.To != legacy || res.Rule != rollback.RuleFallback {
		t.Fatalf("%+v", res)
	}
	// One write. A second UpdateDistribution call is only the SDK retrying an answer lost with its
	// connection on a loaded machine: conditional on the ETag the first changed, it applies nothing.
	if n := f.cf.CallCount("UpdateDistribution"); f.cf.Writes() != 1 || n < 1 || n > 2 {
		t.Errorf("writes %d, UpdateDistribution calls %d; want one write", f.cf.Writes(), n)
	}
	v := f.view(t)
	if v.Behaviors[users] != legacy || v.Behaviors["/static/*"] != legacy || v.DefaultOrigin != legacy {
		t.Errorf("behaviours after rollback: %v, default %s", v.Behaviors, v.DefaultOrigin)
	}
	if v.ETag == etag || v.Status != "InProgress" {
		t.Errorf("an update must change the ETag and put the distribution InProgress: %s %s", v.ETag, v.Status)
	}
	if v.Comment != comment {
		t.Errorf("comment %q, want the owner's %q", v.Comment, comment)
	}
	// Everything else in the configuration came back through the SDK as it was: one origin changed,
	// nothing was dropped or added, the comment included.
	if got, want := changed(cfgBefore, leaves(v.Config)), []string{usersOrigin}; !slices.Equal(got, want) {
		t.Errorf("configuration changes: %v, want %v", got, want)
	}
	if m := f.store.Record(f.target).Memory; !m.IsBad(fresh) || m.Last == nil || m.Last.To != legacy || m.Last.Incident != "00aa11bb22cc33dd" {
		t.Errorf("memory %+v", m)
	}
	// The same incident again, and a second alarm: the behaviour stays on the legacy origin, no write.
	for _, c := range []struct {
		incident string
		code     rollback.Code
	}{{"00aa11bb22cc33dd", rollback.CodeRepeat}, {"99aa11bb22cc33dd", rollback.CodeStillServing}} {
		if again := eng.Do(context.Background(), f.target, alarm(c.incident)); again.Outcome != rollback.OutcomeSkipped || again.Code != c.code || f.cf.Writes() != 1 {
			t.Errorf("alarm %s after the rollback: %+v, want %s", c.incident, again, c.code)
		}
	}
}

func TestStatusShowsTheOriginAndWhetherTheChangeHasReachedTheEdges(t *testing.T) {
	f := newFixture(t)
	eng := f.engine(nil, rollback.Options{})
	if st := eng.Status(context.Background(), f.target); st.Status == nil || st.Status.Current != fresh || st.Status.Progress != "Deployed" {
		t.Fatalf("before: %+v", st.Status)
	}
	if res := eng.Do(context.Background(), f.target, alarm("00aa11bb22cc33dd")); res.Outcome != rollback.OutcomeRolledBack {
		t.Fatal(res.Reason)
	}
	st := eng.Status(context.Background(), f.target)
	s := st.Status
	if s == nil || st.Code != rollback.CodeStatus || s.Current != legacy || s.Progress != "InProgress" || !strings.Contains(st.Reason, "InProgress") {
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

func TestAChangedETagIsReadAgainAndTheOtherChangeKept(t *testing.T) {
	f := newFixture(t)
	rc := &racingClient{Client: f.client, races: 1, race: func() { f.cf.SetBehaviorOrigin(f.id, "/static/*", fresh) }}
	res := f.engine(rc, rollback.Options{}).Do(context.Background(), f.target, alarm("00aa11bb22cc33dd"))
	if res.Outcome != rollback.OutcomeRolledBack {
		t.Fatalf("%+v", res)
	}
	var ops []string
	for _, c := range f.cf.Calls() {
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

func TestThrottlingAndLostResponsesStillSwitchOnce(t *testing.T) {
	f := newFixture(t)
	f.cf.InjectFault("UpdateDistribution", awslocal.Fault{Status: 429, Times: 3})
	f.cf.InjectFault("UpdateDistribution", awslocal.Fault{Status: 500, AfterApply: true})
	res := f.engine(nil, rollback.Options{}).Do(context.Background(), f.target, alarm("00aa11bb22cc33dd"))
	// The lost response's retry carries the ETag from before the write: 412. Reading again finds the
	// behaviour already on the plan's origin, so the rollback is done, once.
	if res.Outcome != rollback.OutcomeRolledBack || f.view(t).Behaviors[users] != legacy || f.cf.Writes() != 1 {
		t.Fatalf("behaviour %s, writes %d: %+v", f.view(t).Behaviors[users], f.cf.Writes(), res)
	}
	if got := f.cf.CallCount("UpdateDistribution"); got != 5 {
		t.Errorf("UpdateDistribution calls = %d, want 3 throttled, 1 lost, 1 refused retry", got)
	}
	again := f.engine(nil, rollback.Options{}).Do(context.Background(), f.target, alarm("00aa11bb22cc33dd"))
	if again.Outcome != rollback.OutcomeSkipped || again.Code != rollback.CodeRepeat || f.cf.Writes() != 1 {
		t.Errorf("the same incident again: %+v", again)
	}
}

func TestDeployForwardAgainNeedsForceAfterARollback(t *testing.T) {
	f := newFixture(t)
	eng := f.engine(nil, rollback.Options{})
	if res := eng.Do(context.Background(), f.target, alarm("00aa11bb22cc33dd")); res.Outcome != rollback.OutcomeRolledBack {
		t.Fatal(res.Reason)
	}
	deploy := func(origin string, force bool) rollback.Result {
		r := manual(rollback.ActionDeploy, origin)
		r.Trigger.Force = force
		return eng.Do(context.Background(), f.target, r)
	}
	if res := deploy(fresh, false); res.Outcome != rollback.OutcomeFailed || res.Code != rollback.CodeKnownBad {
		t.Errorf("deploy of the origin just rolled back from: %+v", res)
	}
	if res := deploy(fresh, true); res.Outcome != rollback.OutcomeDeployed || res.Code != rollback.CodeDeployed || f.view(t).Behaviors[users] != fresh {
		t.Errorf("forced deploy forward: %+v", res)
	}
	if res := deploy("nope", false); res.Outcome != rollback.OutcomeFailed || res.Code != rollback.CodeUnknownDeployment {
		t.Errorf("deploy to an origin that does not exist: %+v", res)
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	missing := f.target
	missing.Slot = "/nope/*"
	if _, err := cfbehavior.New(f.client).Read(context.Background(), missing, true); !errors.Is(err, rollback.ErrNotFound) || !strings.Contains(err.Error(), users) {
		t.Errorf("unknown path pattern: %v", err)
	}
	noOrigin := f.target
	noOrigin.Fallback = "gone-origin"
	if res := f.engine(nil, rollback.Options{}).Do(context.Background(), noOrigin, alarm("00aa11bb22cc33dd")); res.Outcome != rollback.OutcomeFailed || res.Code != rollback.CodeFallbackMissing {
		t.Errorf("legacy origin not in the distribution: %+v", res)
	}
	otherDist := f.target
	otherDist.Resource = "E0000000000000"
	if _, err := cfbehavior.New(f.client).Read(context.Background(), otherDist, false); !errors.Is(err, rollback.ErrNotFound) {
		t.Errorf("unknown distribution: %v", err)
	}
	if f.cf.Writes() != 0 {
		t.Error("a refusal wrote")
	}
}
