package responder_test

// Running a schedule: each step's invocations on the instances, one at a time or several at once,
// then the checks of that step (answers against what landed, repeats, agreement of the stage and the
// memory, claims) and, at the end, the properties over the whole log (properties_test.go).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// stepTimeout is an invocation's deadline in the schedules: short, because a claim an invocation
// leaves open holds until its deadline (plus the engine's slack) by the wall clock, and the schedule
// waits that out before Lambda's retry as Lambda's own minute would.
const stepTimeout = 3 * time.Second

// deadlineTimeout leaves the engine 40 ms past the responder's 500 ms margin: a 300 ms delay cuts it.
const deadlineTimeout = 500*time.Millisecond + 40*time.Millisecond

// invocation is one invocation a step ran.
type invocation struct {
	st       step
	out      any
	err      error
	deadline bool
}

func runSchedule(seed uint64) *schedule {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	// In a third of the worlds API Gateway's clock lags CloudWatch's by up to five minutes: a
	// person's change can then look older than an alarm that came before it, and only the incident
	// keys tell a repeated delivery from a new alarm.
	var skew time.Duration
	if rng.IntN(3) == 0 {
		skew = time.Duration(rng.IntN(300)) * time.Second
	}
	r, stop := startRig(scheduleStart, skew)
	defer stop()
	s := &schedule{seed: seed, rng: rng, rig: r, skew: skew, nextDep: map[string]int{}, putLive: map[string][]string{}}
	defer func() {
		if p := recover(); p != nil {
			s.violate("panic: %v", p)
		}
	}()
	r.rec.step.Store(-1) // the world's set-up, before the first step
	if err := s.build(); err != nil {
		s.violate("build: %v", err)
		return s
	}
	for range 5 + s.rng.IntN(6) {
		if !s.runStep() {
			break // the world no longer tells one story; later steps would only echo this
		}
	}
	s.finish()
	return s
}

// runStep runs and checks one step; false once a violation was found.
func (s *schedule) runStep() bool {
	s.rig.clock.Advance(time.Duration(30+s.rng.IntN(20*60)) * time.Second)
	s.stepTimes = append(s.stepTimes, s.rig.clock.Now())
	s.rig.rec.step.Store(int64(s.stats.steps))
	before := s.snapshots()
	s.awaitClaims(before)
	var ran []invocation
	s.ran = &ran
	s.next()
	s.rig.gw.ClearFaults()
	s.rig.ddb.ClearFaults()
	s.rig.rec.clearPutFaults()
	if !s.rig.rec.quiesce(3) {
		s.violate("a request was still being served 3 s after its invocation ended")
	}
	if st, _ := s.rig.gw.Stage(s.outside.id, "prod"); st.DeploymentID != "o1" || len(st.Variables) != 0 {
		s.violate("the API outside TARGETS changed: %+v", st)
	}
	after := s.snapshots()
	s.checkStep(ran, before, after)
	s.last = after
	s.stats.steps++
	return len(s.violations) == 0
}

// finish judges the whole log and counts what the figures report.
func (s *schedule) finish() {
	s.j.judgeLog(s.rig.rec.entries())
	s.j.judgeRequests(s.rig.rec.requests())
	for _, secret := range []string{rigSecretKey, rigSessionToken} {
		if strings.Contains(s.rig.logs.String(), secret) {
			s.violate("the handlers' logs carry a credential")
		}
	}
	for _, c := range s.rig.gw.Calls() {
		if c.Fault != "" && c.Fault != "noop" {
			s.stats.faultsFired++
		}
	}
	for _, c := range s.rig.ddb.Calls() {
		if c.Fault != "" && c.Fault != "noop" {
			s.stats.faultsFired++
		}
		if c.Op == "PutItem" && c.Fault == "" && c.Status == 400 {
			s.stats.casConflicts++ // a conditional write that lost: another writer's came first
		}
	}
	store := s.rig.store()
	for _, tg := range s.targets {
		t, _ := target.Parse(tg.key())
		entries, err := store.Recent(context.Background(), t, 1000)
		if err != nil {
			s.violate("read the audit log of %s: %v", tg.key(), err)
		}
		for _, e := range entries {
			if e.Code == rollback.CodeSettled {
				s.stats.claimsSettled++
			}
		}
	}
}

// awaitClaims waits out every open claim's lease: the next invocation comes as Lambda's retry
// would, a minute after the one that left the claim, by when its owner is surely gone.
func (s *schedule) awaitClaims(now map[string]snapshot) {
	var until time.Time
	for _, sn := range now {
		if c := sn.rec.Claim; c != nil && c.Expires.After(until) {
			until = c.Expires
		}
	}
	if wait := time.Until(until); wait > 0 {
		s.stats.claimWaits++
		s.logf("an open claim holds until %s: waiting %s, as Lambda's retry would", until.Format("15:04:05.000"), wait.Round(time.Millisecond))
		time.Sleep(wait + 10*time.Millisecond)
	}
}

// snapshots reads every target: its stage and Rewind's memory of it (the memory is read again only
// when a write of it landed since the last snapshot).
func (s *schedule) snapshots() map[string]snapshot {
	written := map[string]bool{}
	for _, e := range s.rig.rec.entries() {
		if e.mem != nil && e.step >= s.stats.steps-1 {
			written[e.key] = true
		}
	}
	out := map[string]snapshot{}
	for _, tg := range s.targets {
		st, ok := s.rig.gw.Stage(tg.api, tg.stage)
		if !ok {
			s.violate("stage %s is gone", tg.key())
			continue
		}
		prev, known := s.last[tg.key()]
		rec := prev.rec
		if !known || written[tg.key()] {
			var err error
			if rec, err = storedRecord(s.rig.ddb, tg.key()); err != nil {
				s.violate("Rewind's memory of %s does not decode: %v", tg.key(), err)
			}
		}
		out[tg.key()] = snapshot{live: st.DeploymentID, rec: rec}
	}
	return out
}

// mark tells the judge what a step's invocations are: dry runs only, a forced deploy.
func (s *schedule) mark(steps ...step) {
	dry, forced := true, false
	for _, st := range steps {
		forced = forced || st.forced
		for _, u := range st.units {
			if !u.fixed && !(s.j.dryRun || u.dry) && u.action != rollback.ActionStatus {
				dry = false
			}
		}
	}
	s.j.dryOnly[s.stats.steps] = dry
	s.j.forced[s.stats.steps] = forced
}

// run invokes one instance.
func (s *schedule) run(h *responder.Handler, st step, timeout time.Duration) (any, error) {
	ctx, cancel := lambdaCtx(timeout)
	defer cancel()
	return h.Handle(ctx, st.payload)
}

// sequential runs one invocation on one instance.
func (s *schedule) sequential(st step, deadline bool) {
	h := s.insts[s.rng.IntN(len(s.insts))]
	s.mark(st)
	timeout := stepTimeout
	if deadline {
		timeout = deadlineTimeout
	}
	out, err := s.run(h, st, timeout)
	s.stats.invocations++
	quiet := 3
	if deadline {
		quiet = 25 // a write the client gave up on may still be on its way in: give it time to land
	}
	s.rig.rec.quiesce(quiet)
	*s.ran = append(*s.ran, invocation{st: st, out: out, err: err, deadline: deadline})
	s.logf("%s -> %s%s", st.what, actual(out, err), errText(err))
	s.count(out, err)
	if err != nil && (deadline || retried(err)) {
		s.pending = &step{what: st.what, payload: st.payload, units: st.units, forced: st.forced}
	}
}

// retried reports whether a failure is one Lambda's retry can cure (the memory, a claim, a write):
// a refusal (nothing earlier, the loop guard) would only fail again.
func retried(err error) bool {
	codes := failedCodes(err)
	if codes == nil {
		return true
	}
	for _, c := range codes {
		switch c {
		case rollback.CodeWriteFailed, rollback.CodeUnrecorded, rollback.CodeMemoryFailed, rollback.CodeContended,
			rollback.CodeBusy, rollback.CodeReadFailed, rollback.CodeUnconfirmed:
			return true
		}
	}
	return false
}

// batch delivers 2-3 invocations to as many instances at once: the same alarm twice (SNS delivers at
// least once), a second alarm of the incident, a person's rollback or deploy through Rewind, an
// observe or status. The memory's compare-and-set is what keeps them from both acting.
func (s *schedule) batch() {
	rng := s.rng
	k := 2 + rng.IntN(len(s.insts)-1)
	base := s.freshAlarm(rng.IntN(len(s.targets)), "")
	steps := []step{base}
	for len(steps) < k {
		switch n := rng.IntN(10); {
		case n < 3:
			steps = append(steps, base)
		case n < 5:
			steps = append(steps, s.secondAlarm())
		case n < 7:
			steps = append(steps, s.command(rollback.ActionRollback, rollback.ActionDeploy, rollback.ActionDeploy))
		case n < 8:
			if st, ok := s.repeat(); ok {
				steps = append(steps, st)
			}
		default:
			steps = append(steps, s.command(rollback.ActionStatus, rollback.ActionObserve))
		}
	}
	if rng.IntN(10) < 3 {
		s.injectFault(false)
	}
	s.stats.batches++
	s.mark(steps...)
	outs, errs := s.concurrently(steps)
	var whats, answers []string
	for i := range steps {
		*s.ran = append(*s.ran, invocation{st: steps[i], out: outs[i], err: errs[i]})
		whats, answers = append(whats, steps[i].what), append(answers, actual(outs[i], errs[i])+errText(errs[i]))
		s.count(outs[i], errs[i])
		if errs[i] != nil && retried(errs[i]) && s.pending == nil {
			s.pending = &step{what: steps[i].what, payload: steps[i].payload, units: steps[i].units, forced: steps[i].forced}
		}
	}
	s.logf("batch of %d: %s -> %s", k, strings.Join(whats, " || "), strings.Join(answers, " ; "))
}

// concurrently runs steps[i] on instance i, all released at once.
func (s *schedule) concurrently(steps []step) ([]any, []error) {
	k := len(steps)
	outs, errs := make([]any, k), make([]error, k)
	var wg, ready sync.WaitGroup
	ready.Add(k)
	start := make(chan struct{})
	for i := range k {
		wg.Go(func() {
			ctx, cancel := lambdaCtx(stepTimeout)
			defer cancel()
			ready.Done()
			<-start
			outs[i], errs[i] = s.insts[i].Handle(ctx, steps[i].payload)
		})
	}
	ready.Wait()
	close(start)
	wg.Wait()
	s.stats.invocations += k
	s.rig.rec.quiesce(3)
	return outs, errs
}

// ---- the checks of one step ----

// checkStep holds a step to what can be told of it alone:
//
//	answered      every switch that landed is answered by a result of the step with that target,
//	              from and to; every "rolled-back" or "deployed" answer has its switch;
//	nothing fixed writes  inputs that concern no target write nothing to any stage (an OK transition
//	              is recorded in Rewind's table);
//	repeat        a delivery of an incident already handled (and no claim open) is answered
//	              skipped/repeat and writes nothing at all;
//	quiet steps   (every invocation returned) the stage and the memory agree, and the claims are
//	              as properties_test.go's judgeClaims states.
func (s *schedule) checkStep(ran []invocation, before, after map[string]snapshot) {
	stepEntries := s.entriesOf(s.stats.steps)
	var results []rollback.Result
	quiet, allFixed, allRepeats := true, len(ran) > 0, len(ran) == 1
	touched := map[string]bool{}
	for _, inv := range ran {
		results = append(results, resultsOfErr(inv.out, inv.err)...)
		quiet = quiet && inv.err == nil
		for _, u := range inv.st.units {
			allFixed = allFixed && u.fixed
			if !u.fixed && u.action != rollback.ActionStatus {
				touched[u.key] = true
			}
			b := before[u.key]
			allRepeats = allRepeats && !u.fixed && u.incident != "" && b.rec.Claim == nil && slices.Contains(b.rec.Memory.Incidents, u.incident)
		}
	}
	s.checkAnswered(stepEntries, results)
	if allRepeats && len(stepEntries) > 0 {
		s.violate("a repeat of a handled incident wrote: %d writes landed", len(stepEntries))
	}
	if allFixed && slices.ContainsFunc(stepEntries, func(e logEntry) bool { return e.patch != nil }) {
		s.violate("an input for no target (ignored, refused, or an OK transition) wrote to a stage")
	}
	if allRepeats && quiet {
		for _, r := range results {
			if r.Outcome != rollback.OutcomeSkipped || r.Code != rollback.CodeRepeat {
				s.violate("a repeat of a handled incident was answered %s/%s (%s), want skipped/repeat", r.Outcome, r.Code, r.Reason)
			}
		}
	}
	last := s.lastStageWriters()
	for _, tg := range s.targets {
		key := tg.key()
		if b, a := before[key].rec.Claim, after[key].rec.Claim; a != nil && (b == nil || b.ID != a.ID) {
			s.stats.claimsLeft++
		}
		if !quiet {
			continue
		}
		s.j.judgeAgreement(s.stats.steps, key, after[key], last[key])
		s.j.judgeClaims(s.stats.steps, key, before[key], after[key], touched[key])
	}
}

// checkAnswered matches the switches that landed in a step with the step's answers.
func (s *schedule) checkAnswered(entries []logEntry, results []rollback.Result) {
	answered := func(key, from, to string) bool {
		for _, r := range results {
			if r.Target == key && r.From == from && r.To == to {
				return true
			}
		}
		return false
	}
	moved := map[string]bool{}
	for _, e := range entries {
		if e.patch != nil && e.patch.removeCanary && e.before.Canary != nil && (e.patch.deploymentID == "" || e.patch.deploymentID == e.before.DeploymentID) {
			// A canary removal: its answer names the canary's deployment and the stage's.
			moved[e.key+" "+e.before.Canary.DeploymentID+" "+e.before.DeploymentID] = true
			if !answered(e.key, e.before.Canary.DeploymentID, e.before.DeploymentID) {
				s.violate("%s's canary %s was removed and no result of the step says so", e.key, e.before.Canary.DeploymentID)
			}
			continue
		}
		if e.patch == nil || e.patch.deploymentID == "" || e.before.DeploymentID == e.patch.deploymentID {
			continue
		}
		moved[e.key+" "+e.before.DeploymentID+" "+e.patch.deploymentID] = true
		if !answered(e.key, e.before.DeploymentID, e.patch.deploymentID) {
			s.violate("%s was switched %s -> %s and no result of the step says so", e.key, e.before.DeploymentID, e.patch.deploymentID)
		}
	}
	for _, r := range results {
		if r.Code == rollback.CodeSettled {
			continue // it reports a switch an earlier invocation made, settled now
		}
		if (r.Outcome == rollback.OutcomeRolledBack || r.Outcome == rollback.OutcomeDeployed) && !moved[r.Target+" "+r.From+" "+r.To] {
			s.violate("answered %s %s -> %s on %s, but no such switch landed", r.Outcome, r.From, r.To, r.Target)
		}
	}
}

// entriesOf is the log's entries of one step.
func (s *schedule) entriesOf(step int) []logEntry {
	var out []logEntry
	for _, e := range s.rig.rec.entries() {
		if e.step == step {
			out = append(out, e)
		}
	}
	return out
}

// lastStageWriters says, per stage, whether the latest change of its deployment was Rewind's.
func (s *schedule) lastStageWriters() map[string]bool {
	out := map[string]bool{}
	for _, e := range s.rig.rec.entries() {
		switch {
		case e.human != "":
			out[e.key] = false
		case e.patch != nil && e.patch.deploymentID != "" && e.before.DeploymentID != e.patch.deploymentID:
			out[e.key] = true
		}
	}
	return out
}

// ---- answers and counts ----

func (s *schedule) count(out any, err error) {
	if err != nil {
		s.stats.failed++
	}
	for _, r := range resultsOfErr(out, err) {
		switch r.Outcome {
		case rollback.OutcomeRolledBack:
			s.stats.rollbacks++
		case rollback.OutcomePlanned:
			s.stats.planned++
		case rollback.OutcomeIgnored:
			s.stats.ignored++
		case rollback.OutcomeSkipped:
			if r.Action == rollback.ActionRollback && r.Incident != "" {
				s.stats.repeatsRefused++
			}
		}
	}
	if slices.Contains(failedCodes(err), rollback.CodeLoopGuard) {
		s.stats.guardRefusals++
	}
}

// actual is a compact text of an invocation's answer, for the trace.
func actual(out any, err error) string {
	var parts []string
	for _, r := range resultsOfErr(out, err) {
		parts = append(parts, fmt.Sprintf("%s/%s:%s->%s", r.Outcome, r.Code, r.From, r.To))
	}
	if err != nil {
		return "error[" + strings.Join(parts, ",") + "]"
	}
	return strings.Join(parts, ",")
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	t := err.Error()
	if len(t) > 300 {
		t = t[:300] + "…"
	}
	return " (" + t + ")"
}
