package cfbehavior_test

// Rewind's memory lives in its Store, not in the distribution's comment: the only thing Rewind
// writes on a distribution is one behaviour's origin.

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	cflocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudfront"
	"github.com/rewind-sre/rewind/pkg/target"
)

func TestOnlyTheSwitchTouchesTheDistribution(t *testing.T) {
	f := newFixture(t)
	initial := leaves(f.view(t).Config)
	clk := newClock(base.Add(time.Hour))
	eng := f.engine(nil, rollback.Options{Now: clk.Now})
	forced := manual(rollback.ActionDeploy, fresh)
	forced.Trigger.Force = true // fresh is known bad after the rollback
	for _, step := range []struct {
		name   string
		human  string // an origin a human points the behaviour at first, "" none
		req    rollback.Request
		code   rollback.Code
		writes int // writes to the distribution the step makes
		live   string
	}{
		{"alarm rollback", "", alarm("inc1"), rollback.CodeRolledBack, 1, legacy},
		{"manual deploy", "", forced, rollback.CodeDeployed, 1, fresh},
		{"observe of a human's change", legacy, rollback.Request{Action: rollback.ActionObserve, Trigger: rollback.Trigger{By: rollback.BySchedule}},
			rollback.CodeRecorded, 0, legacy},
		{"clear", "", manual(rollback.ActionClear, ""), rollback.CodeCleared, 0, legacy},
	} {
		if step.human != "" {
			f.setOrigin(t, users, step.human)
		}
		before, version := f.view(t), f.store.Record(f.target).Version
		writes, updates := f.cf.Writes(), f.cf.CallCount("UpdateDistribution")
		res := do(eng, clk, f.target, step.req)
		if res.Code != step.code || res.Failed() {
			t.Fatalf("%s: %+v", step.name, res)
		}
		if got := f.cf.Writes() - writes; got != step.writes || f.cf.CallCount("UpdateDistribution")-updates != step.writes {
			t.Errorf("%s: %d writes to the distribution, want %d", step.name, got, step.writes)
		}
		if f.store.Record(f.target).Version == version {
			t.Errorf("%s: nothing recorded in the store", step.name)
		}
		after := f.view(t)
		if after.Behaviors[users] != step.live || after.Comment != comment {
			t.Errorf("%s: behaviour on %s, comment %q; want %s and the owner's %q", step.name, after.Behaviors[users], after.Comment, step.live, comment)
		}
		if got := changed(initial, leaves(after.Config)); len(got) > 1 || (len(got) == 1 && got[0] != usersOrigin) {
			t.Errorf("%s: configuration changes %v, want at most %s", step.name, got, usersOrigin)
		}
		if step.writes == 0 && after.ETag != before.ETag {
			t.Errorf("%s: the distribution has a new ETag: something wrote it", step.name)
		}
	}
	rollbacktest.ClearedMemory(t, f.store.Record(f.target).Memory)
}

// Two behaviours of one distribution are two targets: each has its own record, and what Rewind does
// on one leaves the other's record as it was.
func TestTwoBehavioursOfOneDistributionKeepSeparateMemories(t *testing.T) {
	const orders = "/api/orders/*"
	f := newFixtureWith(t, nil, func(s *cflocal.Spec) {
		s.Behaviors = append(s.Behaviors, cflocal.Behavior{PathPattern: orders, OriginID: fresh})
	})
	usersT, ordersT := f.target, f.behavior(t, orders)
	clk := newClock(base.Add(time.Hour))
	eng := f.engine(nil, rollback.Options{Now: clk.Now})
	observe := manual(rollback.ActionObserve, "")
	for _, c := range []struct {
		name         string
		acted, other target.Target
		human        string // an origin a human points acted's behaviour at first
		req          rollback.Request
		code         rollback.Code
		writes       int
	}{
		{"alarm on users", usersT, ordersT, "", alarm("inc-users"), rollback.CodeRolledBack, 1},
		{"observe orders", ordersT, usersT, "", observe, rollback.CodeRecorded, 0},
		{"alarm on orders", ordersT, usersT, "", alarm("inc-orders"), rollback.CodeRolledBack, 1},
		{"observe users after a human's change", usersT, ordersT, fresh, observe, rollback.CodeRecorded, 0},
	} {
		if c.human != "" {
			f.setOrigin(t, c.acted.Slot, c.human)
		}
		other, otherLog, writes := f.store.Record(c.other), f.store.Entries(c.other), f.cf.Writes()
		otherOrigin := f.view(t).Behaviors[c.other.Slot]
		res := do(eng, clk, c.acted, c.req)
		if res.Code != c.code || res.Target != c.acted.String() {
			t.Fatalf("%s: %+v", c.name, res)
		}
		if got := f.store.Record(c.other); !reflect.DeepEqual(got, other) {
			t.Errorf("%s changed %s's record:\n%+v\nwas\n%+v", c.name, c.other, got, other)
		}
		if got := f.store.Entries(c.other); len(got) != len(otherLog) {
			t.Errorf("%s wrote %s's audit log: %+v", c.name, c.other, got)
		}
		if f.cf.Writes()-writes != c.writes || f.view(t).Behaviors[c.other.Slot] != otherOrigin {
			t.Errorf("%s: %d writes, %s's behaviour on %s", c.name, f.cf.Writes()-writes, c.other, f.view(t).Behaviors[c.other.Slot])
		}
	}
	for _, c := range []struct {
		tg       target.Target
		incident string
		timeline []string
	}{
		{usersT, "inc-users", []string{fresh, legacy, fresh}},
		{ordersT, "inc-orders", []string{fresh, legacy}},
	} {
		m := f.store.Record(c.tg).Memory
		var seen []string
		for _, s := range m.Timeline {
			seen = append(seen, s.Deployment)
		}
		if m.Last == nil || m.Last.Incident != c.incident || !slices.Equal(m.Incidents, []string{c.incident}) || !slices.Equal(seen, c.timeline) {
			t.Errorf("%s: memory %+v (timeline %v, want %v)", c.tg, m, seen, c.timeline)
		}
	}
}
