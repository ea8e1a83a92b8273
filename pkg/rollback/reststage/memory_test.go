package reststage_test

// Rewind's memory lives in its Store, not on the stage: the only thing Rewind writes on a stage is
// the switch, so the team's variables, tags and description are what the team made them.

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/reststage"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/target"
)

// teamStage is a stage as a team leaves it: its own variables, tags and description.
func teamStage(name, dep string) apigwlocal.StageSpec {
	return apigwlocal.StageSpec{Name: name, DeploymentID: dep, Description: "Payments production (owned by team payments)",
		Variables: map[string]string{"lambdaAlias": "live", "backend": "lambda", "region": "eu-west-1"},
		Tags:      map[string]string{"team": "payments", "cost-center": "4711"}}
}

// sameAsTheTeamLeftIt fails unless the stage's variables, tags and description are want's.
func sameAsTheTeamLeftIt(t *testing.T, step string, got, want apigwlocal.Stage) {
	t.Helper()
	if !maps.Equal(got.Variables, want.Variables) || !maps.Equal(got.Tags, want.Tags) || got.Description != want.Description {
		t.Errorf("%s: the stage's own settings changed:\nvariables %v\ntags      %v\ndesc      %q\nwant      %v %v %q",
			step, got.Variables, got.Tags, got.Description, want.Variables, want.Tags, want.Description)
	}
}

func TestOnlyTheSwitchTouchesTheStage(t *testing.T) {
	f := newFixture(t, 4)
	tg := f.addStage(t, teamStage("payments", ""))
	before := f.stage(t, tg)
	clk := newClock(base.Add(time.Hour))
	eng := f.engine(rollback.Options{Now: clk.Now})
	observe := rollback.Request{Action: rollback.ActionObserve, Trigger: rollback.Trigger{By: rollback.BySchedule}}
	for _, step := range []struct {
		name   string
		human  string // a deployment a human points the stage at first (console), "" none
		req    rollback.Request
		code   rollback.Code
		writes int // writes to the stage the step makes
		live   string
	}{
		{"alarm rollback", "", alarm("inc1"), rollback.CodeRolledBack, 1, f.deps[2].ID},
		{"manual deploy", "", manual(rollback.ActionDeploy, f.deps[1].ID), rollback.CodeDeployed, 1, f.deps[1].ID},
		{"observe of a human's change", f.deps[0].ID, observe, rollback.CodeRecorded, 0, f.deps[0].ID},
		{"clear", "", manual(rollback.ActionClear, ""), rollback.CodeCleared, 0, f.deps[0].ID},
	} {
		if step.human != "" {
			f.setLive(t, tg, step.human)
		}
		writes, version := f.gw.Writes(), f.store.Record(tg).Version
		res := do(eng, clk, tg, step.req)
		if res.Code != step.code || res.Failed() {
			t.Fatalf("%s: %+v", step.name, res)
		}
		if got := f.gw.Writes() - writes; got != step.writes {
			t.Errorf("%s: %d writes to the stage, want %d", step.name, got, step.writes)
		}
		if f.store.Record(tg).Version == version {
			t.Errorf("%s: nothing recorded in the store", step.name)
		}
		after := f.stage(t, tg)
		if after.DeploymentID != step.live {
			t.Errorf("%s: live %s, want %s", step.name, after.DeploymentID, step.live)
		}
		sameAsTheTeamLeftIt(t, step.name, after, before)
	}
	m := f.store.Record(tg).Memory
	if len(m.Bad) != 0 || len(m.Guard) != 0 || len(m.Timeline) == 0 || m.Timeline[len(m.Timeline)-1].How == rollback.HowObserved && m.Timeline[len(m.Timeline)-1].Since.After(m.Last.At) /* a clear re-dates nothing */ {
		t.Errorf("memory after clear: %+v", m)
	}
	if m.Last == nil || m.Last.Kind != rollback.KindDeploy || m.Last.To != f.deps[1].ID {
		t.Errorf("last change %+v, want the deploy", m.Last)
	}
}

// AWS allows 100 stage variables. A stage holding 98 of the team's could not also hold Rewind's
// memory: the old PATCH that wrote both would have been refused. The switch writes none.
func TestNinetyEightStageVariablesRollBackUntouched(t *testing.T) {
	f := newFixture(t, 3)
	vars := map[string]string{}
	for i := range 98 {
		vars[fmt.Sprintf("team_var_%02d", i)] = fmt.Sprintf("value-%02d", i)
	}
	tg := f.addStage(t, apigwlocal.StageSpec{Name: "crowded", Variables: vars})
	rec := &recordingAPI{API: f.client}
	eng := rollback.NewEngine(reststage.New(rec), f.store, rollback.Options{Now: func() time.Time { return base.Add(time.Hour) }})
	res := eng.Do(t.Context(), tg, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || res.Code != rollback.CodeRolledBack || res.To != f.deps[1].ID {
		t.Fatalf("%+v", res)
	}
	after := f.stage(t, tg)
	if after.DeploymentID != f.deps[1].ID || len(after.Variables) != 98 || !maps.Equal(after.Variables, vars) {
		t.Errorf("live %s, %d variables (equal: %v)", after.DeploymentID, len(after.Variables), maps.Equal(after.Variables, vars))
	}
	if got := rec.paths(); !reflect.DeepEqual(got, []string{"replace /deploymentId"}) {
		t.Errorf("patch operations %v, want only the deploymentId (no /variables/*)", got)
	}
	if !f.store.Record(tg).Memory.IsBad(f.deps[2].ID) {
		t.Errorf("memory %+v", f.store.Record(tg).Memory)
	}
}

// Two stages of one API are two targets: each has its own record, and what Rewind does on one
// leaves the other's record as it was.
func TestTwoStagesOfOneAPIKeepSeparateMemories(t *testing.T) {
	f := newFixture(t, 4)
	prod := f.target
	staging := f.addStage(t, apigwlocal.StageSpec{Name: "staging", DeploymentID: f.deps[1].ID})
	clk := newClock(base.Add(time.Hour))
	eng := f.engine(rollback.Options{Now: clk.Now})
	observe := manual(rollback.ActionObserve, "")

	if res := do(eng, clk, prod, alarm("inc1")); res.Code != rollback.CodeRolledBack || res.To != f.deps[2].ID {
		t.Fatalf("prod rollback: %+v", res)
	}
	if r := f.store.Record(staging); r.Version != 0 {
		t.Errorf("prod's rollback wrote staging's record: %+v", r)
	}
	for _, c := range []struct {
		name            string
		observed, other target.Target
		human           string // what a human points the observed stage at first
	}{
		{"observe staging", staging, prod, ""},
		{"observe prod after a human's change", prod, staging, f.deps[0].ID},
	} {
		if c.human != "" {
			f.setLive(t, c.observed, c.human)
		}
		other, writes := f.store.Record(c.other), f.gw.Writes()
		otherLog := f.store.Entries(c.other)
		res := do(eng, clk, c.observed, observe)
		if res.Code != rollback.CodeRecorded {
			t.Fatalf("%s: %+v", c.name, res)
		}
		if got := f.store.Record(c.other); !reflect.DeepEqual(got, other) {
			t.Errorf("%s changed %s's record:\n%+v\nwas\n%+v", c.name, c.other, got, other)
		}
		if got := f.store.Entries(c.other); len(got) != len(otherLog) {
			t.Errorf("%s wrote %s's audit log: %+v", c.name, c.other, got)
		}
		if f.gw.Writes() != writes {
			t.Errorf("%s wrote to API Gateway", c.name)
		}
	}
	ps, ss := f.store.Record(prod).Memory, f.store.Record(staging).Memory
	if want := []string{f.deps[3].ID, f.deps[2].ID, f.deps[0].ID}; !slices.Equal(seen(ps), want) ||
		!ps.IsBad(f.deps[3].ID) || ps.Last == nil || ps.Last.Incident != "inc1" {
		t.Errorf("prod's memory %+v, want timeline %v", ps, want)
	}
	if want := []string{f.deps[1].ID}; !slices.Equal(seen(ss), want) || ss.Last != nil || len(ss.Bad) != 0 {
		t.Errorf("staging's memory %+v, want timeline %v", ss, want)
	}
}

// seen lists a timeline's deployments, oldest first.
func seen(m rollback.Memory) []string {
	var out []string
	for _, s := range m.Timeline {
		out = append(out, s.Deployment)
	}
	return out
}
