package rollback_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	"github.com/rewind-sre/rewind/pkg/target"
)

// The engine over in-memory doubles: the order claim -> switch -> confirm, what a crash between two
// steps leaves and how the next invocation settles it, compare-and-set conflicts, a memory that
// cannot be read, dry runs and status.

var (
	base = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	tg   = target.Target{Kind: target.KindRESTStage, Resource: "a1b2c3d4e5", Slot: "prod"}
)

func history() []rollback.Deployment {
	return []rollback.Deployment{{ID: "d1", CreatedDate: base}, {ID: "d2", CreatedDate: base.Add(10 * time.Minute)}, {ID: "d3", CreatedDate: base.Add(20 * time.Minute)}}
}

type rig struct {
	target *rollbacktest.Strategy
	store  *rollbacktest.Store
	engine *rollback.Engine
}

func newRig(o rollback.Options) rig {
	r := rig{target: rollbacktest.NewStrategy("d3", history()...), store: rollbacktest.NewStore()}
	if o.Now == nil {
		o.Now = func() time.Time { return base.Add(30 * time.Minute) }
	}
	r.engine = rollback.NewEngine(r.target, r.store, o)
	return r
}

func alarm(incident string) rollback.Request {
	return rollback.Request{Action: rollback.ActionRollback, Trigger: rollback.Trigger{By: rollback.ByAlarm, Alarm: "api-5xx",
		Incident: incident, AlarmTime: base.Add(29 * time.Minute)}}
}

func TestARollbackClaimsSwitchesAndConfirms(t *testing.T) {
	r := newRig(rollback.Options{})
	var saves []rollback.Record
	r.store.Before = func(_ target.Target, next rollback.Record) error {
		// The switch happens between the claim and the confirmation, never before the claim.
		if live := r.target.Live(); (len(saves) == 0) != (live == "d3") {
			t.Errorf("save %d saw the target on %s", len(saves)+1, live)
		}
		saves = append(saves, next)
		return nil
	}
	res := r.engine.Do(context.Background(), tg, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || res.Code != rollback.CodeRolledBack || res.To != "d2" {
		t.Fatalf("%+v", res)
	}
	if len(saves) != 2 || saves[0].Claim == nil || saves[0].Claim.Plan.To != "d2" || saves[1].Claim != nil {
		t.Fatalf("want a claim then its confirmation, got %+v", saves)
	}
	rec := r.store.Record(tg)
	if rec.Version != 2 || rec.Claim != nil || !rec.Memory.IsBad("d3") || rec.Memory.Last == nil || rec.Memory.Last.To != "d2" {
		t.Errorf("memory after: %+v", rec)
	}
	if es := r.store.Entries(tg); len(es) != 1 || es[0].Code != rollback.CodeRolledBack || es[0].By != rollback.ByAlarm || es[0].Alarm != "api-5xx" {
		t.Errorf("audit: %+v", es)
	}
	if again := r.engine.Do(context.Background(), tg, alarm("inc1")); again.Code != rollback.CodeRepeat || r.target.Switches() != 1 {
		t.Errorf("the same incident again: %+v, %d switches", again, r.target.Switches())
	}
}

// A lost compare-and-set means someone else decided first: read again and decide again, on what is
// there now.
func TestALostCompareAndSetDecidesAgain(t *testing.T) {
	r := newRig(rollback.Options{})
	raced := false
	r.store.Before = func(target.Target, rollback.Record) error {
		if !raced {
			raced = true
			// Another instance handles the same incident first: it rolled back and recorded it.
			r.target.Set("d2", nil)
			r.store.Put(tg, rollback.Record{Version: 1, Memory: rollback.Memory{Bad: []string{"d3"}, Incidents: []string{"inc1"},
				Last: &rollback.Change{Kind: rollback.KindRollback, From: "d3", To: "d2", At: base.Add(30 * time.Minute), By: rollback.ByAlarm}}})
		}
		return nil
	}
	res := r.engine.Do(context.Background(), tg, alarm("inc1"))
	if res.Code != rollback.CodeRepeat || r.target.Switches() != 0 || r.target.Live() != "d2" {
		t.Errorf("after losing the race: %+v, %d switches, live %s", res, r.target.Switches(), r.target.Live())
	}
}

// The process dies (or its deadline cuts it) after the claim and before the switch: the claim stays
// open until its deadline; the retry then abandons it (the target still serves what it claimed to
// leave) and rolls back, once.
func TestAClaimLeftBeforeTheSwitchIsAbandonedAndTheRetryActs(t *testing.T) {
	r := newRig(rollback.Options{})
	r.target.FailSwitch = errors.New("connection reset")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if res := r.engine.Do(ctx, tg, alarm("inc1")); res.Code != rollback.CodeWriteFailed || !res.Failed() {
		t.Fatalf("%+v", res)
	}
	if rec := r.store.Record(tg); rec.Claim == nil {
		t.Fatal("no claim left open")
	}
	r.target.FailSwitch = nil
	// The retry, before the claim expires, waits for it; it expires at the first deadline + 2 s.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	res := r.engine.Do(ctx2, tg, alarm("inc1"))
	if res.Outcome != rollback.OutcomeRolledBack || r.target.Switches() != 1 || r.store.Record(tg).Claim != nil {
		t.Fatalf("retry: %+v, %d switches, claim %+v", res, r.target.Switches(), r.store.Record(tg).Claim)
	}
	if es := r.store.Entries(tg); len(es) < 2 || es[len(es)-2].Code != rollback.CodeSettled {
		t.Errorf("the abandoned claim is not in the audit log: %+v", es)
	}
}

// The process dies after the switch and before the confirmation: the retry finds the target on
// what was claimed, records it, and does not switch again.
func TestAClaimLeftAfterTheSwitchIsFinishedWithoutASecondSwitch(t *testing.T) {
	r := newRig(rollback.Options{Lease: time.Millisecond})
	saves := 0
	r.store.Before = func(target.Target, rollback.Record) error {
		if saves++; saves == 2 {
			return errors.New("the process died here")
		}
		return nil
	}
	if res := r.engine.Do(context.Background(), tg, alarm("inc1")); res.Code != rollback.CodeUnrecorded || !res.Failed() {
		t.Fatalf("%+v", res)
	}
	time.Sleep(5 * time.Millisecond) // past the lease
	// The retry answers the switch the dead invocation made (so it is notified), recorded now.
	res := r.engine.Do(context.Background(), tg, alarm("inc1"))
	rec := r.store.Record(tg)
	if res.Code != rollback.CodeSettled || res.Outcome != rollback.OutcomeRolledBack || res.To != "d2" || r.target.Switches() != 1 || rec.Claim != nil || !rec.Memory.IsBad("d3") {
		t.Errorf("retry: %+v, %d switches, memory %+v", res, r.target.Switches(), rec)
	}
}

// Another instance's claim that has not expired is waited for; at the deadline the invocation fails
// (busy), so Lambda retries it, and nothing was switched.
func TestAnOpenClaimIsWaitedForUntilTheDeadline(t *testing.T) {
	r := newRig(rollback.Options{})
	r.store.Put(tg, rollback.Record{Version: 1, Claim: &rollback.Claim{ID: "other", Plan: rollback.Plan{Kind: rollback.KindDeploy, From: "d3", To: "d1"},
		By: rollback.ByManual, At: base, Expires: time.Now().Add(time.Minute)}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res := r.engine.Do(ctx, tg, alarm("inc1"))
	if res.Code != rollback.CodeBusy || !res.Failed() || r.target.Switches() != 0 {
		t.Errorf("%+v, %d switches", res, r.target.Switches())
	}
}

func TestAMemoryThatCannotBeReadStopsEveryChange(t *testing.T) {
	r := newRig(rollback.Options{})
	r.store.Fail = errors.New("ResourceNotFoundException: Requested resource not found")
	for _, req := range []rollback.Request{alarm("inc1"), {Action: rollback.ActionDeploy, DeploymentID: "d1", Trigger: rollback.Trigger{By: rollback.ByManual}},
		{Action: rollback.ActionObserve, Trigger: rollback.Trigger{By: rollback.BySchedule}}, {Action: rollback.ActionClear, Trigger: rollback.Trigger{By: rollback.ByManual}}} {
		if res := r.engine.Do(context.Background(), tg, req); res.Code != rollback.CodeMemoryFailed || !res.Failed() {
			t.Errorf("%s: %+v", req.Action, res)
		}
	}
	if res := r.engine.Status(context.Background(), tg); res.Code != rollback.CodeMemoryFailed {
		t.Errorf("status: %+v", res)
	}
	if r.target.Switches() != 0 {
		t.Errorf("%d switches without a memory", r.target.Switches())
	}
}

// A dry run never switches; it reports a plan once, and the same plan decided again is quiet.
func TestADryRunPlansOnceAndNeverSwitches(t *testing.T) {
	r := newRig(rollback.Options{DryRun: true})
	first := r.engine.Do(context.Background(), tg, alarm("inc1"))
	second := r.engine.Do(context.Background(), tg, alarm("inc1"))
	if first.Outcome != rollback.OutcomePlanned || first.Quiet || second.Outcome != rollback.OutcomePlanned || !second.Quiet {
		t.Errorf("first %+v\nsecond %+v", first, second)
	}
	if r.target.Switches() != 0 || len(r.store.Entries(tg)) != 1 {
		t.Errorf("%d switches, audit %+v", r.target.Switches(), r.store.Entries(tg))
	}
	// What it observed is recorded, so its next plan is the one a live run would make.
	if s := r.store.Record(tg).Memory.Timeline; len(s) != 1 || s[0].Deployment != "d3" {
		t.Errorf("timeline %+v", s)
	}
}

func TestStatusShowsTheNewestAuditEntriesFirst(t *testing.T) {
	r := newRig(rollback.Options{})
	r.engine.Do(context.Background(), tg, alarm("inc1"))
	r.engine.Do(context.Background(), tg, rollback.Request{Action: rollback.ActionDeploy, DeploymentID: "d1", Trigger: rollback.Trigger{By: rollback.ByManual}})
	res := r.engine.Status(context.Background(), tg)
	if res.Status == nil || len(res.Status.Audit) != 2 || res.Status.Audit[0].Code != rollback.CodeDeployed || res.Status.Audit[1].Code != rollback.CodeRolledBack {
		t.Fatalf("%+v", res.Status)
	}
	if res.Status.Current != "d1" || len(res.Status.KnownBad) != 1 || res.DurationMS <= 0 {
		t.Errorf("%+v", res)
	}
}

// staleFirst answers its first Read with what the target served before: a read that left before
// another instance's switch landed.
type staleFirst struct {
	*rollbacktest.Strategy
	before string
	reads  int
}

func (s *staleFirst) Read(ctx context.Context, t target.Target, withHistory bool) (rollback.State, error) {
	st, err := s.Strategy.Read(ctx, t, withHistory)
	if s.reads++; s.reads == 1 {
		st.Live = s.before
	}
	return st, err
}

// The target read in parallel with the memory can predate a switch the memory already records: a
// view that never was. The engine reads the target again rather than decide on it (here: an
// observe would record the old deployment as newly live over the rollback).
func TestAReadOlderThanTheMemorysLastSwitchIsReadAgain(t *testing.T) {
	r := newRig(rollback.Options{})
	if res := r.engine.Do(context.Background(), tg, alarm("inc1")); res.To != "d2" {
		t.Fatalf("%+v", res)
	}
	stale := &staleFirst{Strategy: r.target, before: "d3"}
	observe := rollback.NewEngine(stale, r.store, rollback.Options{Now: func() time.Time { return base.Add(31 * time.Minute) }})
	res := observe.Do(context.Background(), tg, rollback.Request{Action: rollback.ActionObserve, Trigger: rollback.Trigger{By: rollback.BySchedule}})
	if res.Code != rollback.CodeUnchanged || stale.reads != 2 {
		t.Errorf("observe over a stale read: %+v after %d reads", res, stale.reads)
	}
	if cur := r.store.Record(tg).Memory.Timeline; cur[len(cur)-1].Deployment != "d2" {
		t.Errorf("timeline %+v: the stale d3 was recorded over the rollback", cur)
	}
}

// A target already on its pinned fallback is ready: an alarm would leave it there, which is right.
func TestCheckOfATargetOnItsFallbackIsReady(t *testing.T) {
	r := newRig(rollback.Options{})
	fb := tg
	fb.Fallback = "d3"
	res := r.engine.Check(context.Background(), fb)
	if res.Readiness == nil || !res.Readiness.Ready || res.Readiness.Plan.Code != rollback.CodeOnFallback {
		t.Fatalf("%+v %+v", res, res.Readiness)
	}
}
