package lambdaalias_test

import (
	"context"
	"testing"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

func TestAlarmPointsTheAliasBackInOneWriteAndRemembers(t *testing.T) {
	f := newFixture(t, 3, "", nil)
	eng := f.engine(false)
	res := eng.Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || res.Code != rollback.CodeRolledBack || res.From != "3" || res.To != "2" ||
		res.Strategy != "lambda-alias" || res.Target != "lambda:api-user-id:live" {
		t.Fatalf("%+v", res)
	}
	// One write. A second UpdateAlias is only the SDK retrying an answer lost with its connection on a
	// loaded machine: conditional on the RevisionId the first changed, it applies nothing.
	if n := f.lam.CallCount("UpdateAlias"); f.lam.Writes() != 1 || n < 1 || n > 2 {
		t.Errorf("writes %d, UpdateAlias calls %d; want one write", f.lam.Writes(), n)
	}
	if a := f.alias(t); a.FunctionVersion != "2" || a.Description != ownerDesc {
		t.Errorf("alias after rollback: %+v, want version 2 and the owner's description", a)
	}
	if m := f.store.Record(f.target).Memory; !m.IsBad("3") || m.Last == nil || m.Last.Incident != "inc1" || m.Last.To != "2" {
		t.Errorf("memory %+v", m)
	}
	if again := eng.Do(context.Background(), f.target, alarm("inc1")); again.Code != rollback.CodeRepeat || f.lam.Writes() != 1 {
		t.Errorf("repeated delivery: %+v", again)
	}
	// Forward again by hand: version 3 is known bad, so only with force.
	if dep := eng.Do(context.Background(), f.target, manual(rollback.ActionDeploy, "3")); dep.Outcome != rollback.OutcomeFailed || dep.Code != rollback.CodeKnownBad {
		t.Errorf("deploy of a known-bad version: %+v", dep)
	}
	forced := manual(rollback.ActionDeploy, "3")
	forced.Trigger.Force = true
	if dep := eng.Do(context.Background(), f.target, forced); dep.Code != rollback.CodeDeployed || f.alias(t).FunctionVersion != "3" || f.alias(t).Description != ownerDesc {
		t.Errorf("forced deploy: %+v, alias %+v", dep, f.alias(t))
	}
}

func TestWeightedRoutingIsDroppedNotTheAliasMoved(t *testing.T) {
	f := newFixture(t, 3, "2", map[string]float64{"3": 0.1})
	res := f.engine(false).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || res.Code != rollback.CodeCanaryRemoved || res.Rule != rollback.RuleCanary || res.From != "3" || res.To != "2" {
		t.Fatalf("%+v", res)
	}
	a := f.alias(t)
	if a.FunctionVersion != "2" || len(a.Weights) != 0 || a.Description != ownerDesc {
		t.Errorf("alias: version %s weights %v description %q; want 2, no routing, the owner's", a.FunctionVersion, a.Weights, a.Description)
	}
	if m := f.store.Record(f.target).Memory; !m.IsBad("3") || m.Last == nil || m.Last.Kind != rollback.KindCanaryRollback {
		t.Errorf("the canary version is not marked bad: %+v", m)
	}
}

func TestStatusListsEveryPublishedVersionNewestFirst(t *testing.T) {
	f := newFixture(t, 120, "", map[string]float64{"119": 0.25}) // 121 with $LATEST: 3 pages of 50
	st := f.engine(false).Status(context.Background(), f.target)
	if st.Outcome != rollback.OutcomeOK || st.Code != rollback.CodeStatus || st.Status == nil {
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

func TestObserveReadsNoVersions(t *testing.T) {
	f := newFixture(t, 120, "", nil)
	res := f.engine(false).Do(context.Background(), f.target, rollback.Request{Action: rollback.ActionObserve, Trigger: rollback.Trigger{By: rollback.BySchedule}})
	if res.Code != rollback.CodeRecorded || f.lam.CallCount("ListVersionsByFunction") != 0 || f.lam.CallCount("GetAlias") != 1 {
		t.Errorf("%+v: ListVersionsByFunction calls %d, GetAlias calls %d; want one GetAlias alone",
			res, f.lam.CallCount("ListVersionsByFunction"), f.lam.CallCount("GetAlias"))
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
	if r := f.store.Record(f.target); r.Claim != nil || !r.Memory.IsBad("3") {
		t.Errorf("record %+v", r)
	}
}

func TestAliasOnLatestIsRefused(t *testing.T) {
	f := newFixture(t, 3, "$LATEST", nil)
	res := f.engine(false).Do(context.Background(), f.target, alarm("inc1"))
	if res.Outcome != rollback.OutcomeFailed || res.Code != rollback.CodeReadFailed || f.lam.Writes() != 0 {
		t.Errorf("%+v", res)
	}
	if f.store.Record(f.target).Version != 0 {
		t.Error("a refused read recorded memory")
	}
}
