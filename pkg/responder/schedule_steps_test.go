package responder_test

// The steps of a schedule besides alarms: manual commands, the observe schedule, people changing a
// stage out of band, the faults injected, and the choice of the next step.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// command is a manual command: any action, force and dryRun at random, on a target, on a stage
// outside TARGETS, or without a target.
func (s *schedule) command(actions ...rollback.Action) step {
	rng := s.rng
	action := actions[rng.IntN(len(actions))]
	cmd := map[string]any{"action": action}
	u := unit{action: action}
	force := rng.IntN(10) < 3
	if force {
		cmd["force"] = true
	}
	switch rng.IntN(10) {
	case 0, 1:
		cmd["dryRun"], u.dry = true, true
	case 2:
		cmd["dryRun"] = false
	}
	i := rng.IntN(len(s.targets))
	u.key = s.targets[i].key()
	switch n := rng.IntN(10); {
	case n == 0: // a stage that exists but is not allowed
		cmd["target"], u.fixed = []string{s.outside.id + "/prod", s.apis[0].id + "/dev"}[rng.IntN(2)], true
	case n == 1: // no target: observe means every target; otherwise fine with one, refused with several
		if action == rollback.ActionObserve {
			b, _ := json.Marshal(cmd)
			return step{what: "command " + string(b), payload: b, units: s.observeAll(u.dry)}
		}
		if len(s.targets) > 1 {
			u.fixed = true
		} else {
			i, u.key = 0, s.targets[0].key()
		}
	default:
		cmd["target"] = u.key
	}
	if action == rollback.ActionDeploy {
		api := s.apiOf(s.targets[i].api)
		dep := api.deps[rng.IntN(len(api.deps))]
		if rng.IntN(10) == 0 {
			dep = s.outside.deps[rng.IntN(2)] // another API's deployment: does not exist here
		}
		cmd["deploymentId"] = dep
	}
	if rng.IntN(3) == 0 {
		cmd["reason"] = "on-call: users report 502"
	}
	b, _ := json.Marshal(cmd)
	return step{what: "command " + string(b), payload: b, units: []unit{u}, forced: force && action == rollback.ActionDeploy}
}

func (s *schedule) observeAll(dry bool) []unit {
	var us []unit
	for _, tg := range s.targets {
		us = append(us, unit{key: tg.key(), action: rollback.ActionObserve, dry: dry})
	}
	return us
}

func (s *schedule) tick() step {
	return step{what: "schedule tick", payload: scheduleTick(s.rig.clock.Now()), units: s.observeAll(false)}
}

func (s *schedule) apiOf(id string) schedAPI {
	for _, a := range s.apis {
		if a.id == id {
			return a
		}
	}
	panic("no API " + id)
}

// human is a person changing a stage outside Rewind: a new deployment goes live (on a target, or on
// dev); or one that was live there before is put back ("it was a false alarm"), often the one Rewind
// rolled back from; or any deployment of the API.
func (s *schedule) human() {
	ai := s.rng.IntN(len(s.apis))
	s.humanOn(ai, s.apis[ai].stages[s.rng.IntN(len(s.apis[ai].stages))], s.rng.IntN(4))
}

// humanOn is human on API ai's stage: choice 0 puts any deployment of the API live, 1 one that was
// live there before, anything else a new deployment.
func (s *schedule) humanOn(ai int, stage string, choice int) {
	gw, rng := s.rig.gw, s.rng
	s.stats.human++
	a := &s.apis[ai]
	key := a.id + "/" + stage
	var dep string
	switch n := choice; {
	case n == 0:
		dep = a.deps[rng.IntN(len(a.deps))]
	case n == 1 && len(s.putLive[key]) > 1:
		dep = s.putLive[key][rng.IntN(len(s.putLive[key])-1)]
	default:
		dep = fmt.Sprintf("a%dd%d", ai, s.nextDep[a.id])
		s.nextDep[a.id]++
		if err := s.deploy(a, dep, s.rig.clock.Now().Add(-s.skew)); err != nil { // API Gateway dates the deployment
			s.violate("create deployment: %v", err)
			return
		}
	}
	if err := gw.SetDeploymentID(a.id, stage, dep); err != nil {
		s.violate("set deployment: %v", err)
		return
	}
	s.putLive[key] = append(s.putLive[key], dep)
	s.rig.rec.note(key, dep)
	s.logf("human: %s now serves %s", key, dep)
}

// faultOps are the control-plane calls Rewind makes; memoryOps the memory table's.
var (
	faultOps  = []string{"GetStage", "GetDeployments", "UpdateStage", "GetRestApis"}
	memoryOps = []string{"GetItem", "PutItem", "PutItem", "Query"}
)

// injectFault queues a fault: on the control plane, one the retry policy must absorb (throttles, 5xx,
// conflicts, resets, and for a single instance a reset after the write applied); on the memory
// table, throttles, 5xx and resets the retry policy absorbs, a storm of lost compare-and-sets on its
// writes, and for a single instance a reset after a write landed (the answer lost).
func (s *schedule) injectFault(alone bool) {
	rng := s.rng
	if rng.IntN(2) == 0 {
		op := faultOps[rng.IntN(len(faultOps))]
		f := apigwlocal.Fault{Times: 1 + rng.IntN(3)}
		switch rng.IntN(6) {
		case 0:
			f.Status, f.Times = http.StatusTooManyRequests, 1+rng.IntN(6)
		case 1:
			f.Status = http.StatusInternalServerError
		case 2:
			f.Status = http.StatusServiceUnavailable
		case 3:
			f.Status = http.StatusConflict
		case 4:
			f.Reset = true
		default:
			f.Reset = true
			if alone && op == "UpdateStage" {
				f.AfterApply, f.Times = true, 1
			}
		}
		s.rig.gw.InjectFault(op, f)
		s.stats.faultsInjected++
		s.logf("fault: %s %+v", op, f)
		return
	}
	op := memoryOps[rng.IntN(len(memoryOps))]
	f := awslocal.Fault{Times: 1 + rng.IntN(3)}
	switch rng.IntN(6) {
	case 0:
		f.Status, f.Times = http.StatusTooManyRequests, 1+rng.IntN(6)
	case 1:
		f.Status = http.StatusInternalServerError
	case 2:
		f.Reset = true
	case 3, 4:
		op, f.Status = "PutItem", http.StatusConflict // ConditionalCheckFailed: another writer won
	default:
		op, f.Reset = "PutItem", true
		if alone {
			f.AfterApply, f.Times = true, 1
		}
	}
	s.memoryFault(op, f, rng.IntN(3))
}

// putKinds are the PutItems a memory fault may be meant for.
var putKinds = []struct {
	name  string
	match func(request) bool
}{{"claim", isClaim}, {"memory", isConfirm}, {"audit", isAudit}}

// memoryFault queues f on the memory table's op; a PutItem's fault is for one kind of write (kind
// indexes putKinds).
func (s *schedule) memoryFault(op string, f awslocal.Fault, kind int) {
	what := op
	if op == "PutItem" {
		k := putKinds[kind%len(putKinds)]
		s.rig.rec.faultPuts(k.match, f)
		what += "(" + k.name + ")"
	} else {
		s.rig.ddb.InjectFault(op, f)
	}
	s.stats.faultsInjected++
	s.stats.memoryFaults++
	s.logf("memory fault: %s %+v", what, f)
}

// next runs one step.
func (s *schedule) next() {
	if p := s.pending; p != nil {
		s.pending = nil
		p.what = "lambda retry: " + p.what
		s.sequential(*p, false)
		return
	}
	rng := s.rng
	switch n := rng.IntN(100); {
	case n < 4:
		s.laggingStep()
		return
	case n < 7:
		s.canaryStep()
		return
	case n < 9:
		s.ambiguousStep()
		return
	case n < 12:
		s.okThenLateStep()
		return
	case n < 24:
		s.human()
		return
	case n < 36:
		s.batch()
		return
	case n < 40:
		s.deadline()
		return
	case n < 44:
		s.stillInAlarmStep()
		return
	}
	if rng.IntN(4) == 0 {
		s.injectFault(true)
	}
	s.sequential(s.pick(), false)
}

// pick chooses a single invocation's payload.
func (s *schedule) pick() step {
	rng := s.rng
	switch n := rng.IntN(100); {
	case n < 24:
		return s.freshAlarm(rng.IntN(len(s.targets)), "")
	case n < 30:
		return s.delayedAlarm(rng.IntN(len(s.targets)))
	case n < 44:
		if st, ok := s.repeat(); ok {
			return st
		}
		return s.freshAlarm(rng.IntN(len(s.targets)), "")
	case n < 52:
		return s.secondAlarm()
	case n < 57:
		return s.okAlarm()
	case n < 62:
		return s.foreignAlarm()
	case n < 68:
		return s.tick()
	case n < 72:
		// Two notifications in one SNS event: an alarm and its repeat, or two alarms of one incident.
		a := s.freshAlarm(rng.IntN(len(s.targets)), "")
		d1 := s.sent[len(s.sent)-1]
		d2, what := d1, "repeat"
		if rng.IntN(2) == 0 {
			b := s.secondAlarm()
			d2, what = s.sent[len(s.sent)-1], b.what
		}
		return step{what: "sns pair: " + a.what + " + " + what, payload: snsPayload(d1.def.message(), d2.def.message()), units: []unit{d1.unit, d2.unit}}
	}
	return s.command(rollback.ActionStatus, rollback.ActionRollback, rollback.ActionRollback, rollback.ActionRollback,
		rollback.ActionDeploy, rollback.ActionDeploy, rollback.ActionObserve, rollback.ActionClear)
}

// deadline runs an invocation whose deadline runs out while a call is slow, on the control plane or
// on the memory table: the handler must return an error (so Lambda retries), leave the stage and the
// memory telling one story (untouched, switched and recorded, or switched under an open claim), and
// the retry must settle it without a second switch.
func (s *schedule) deadline() {
	var st step
	switch s.rng.IntN(3) {
	case 0:
		st = s.freshAlarm(s.rng.IntN(len(s.targets)), "")
	case 1:
		var ok bool
		if st, ok = s.repeat(); !ok {
			st = s.freshAlarm(s.rng.IntN(len(s.targets)), "")
		}
	default:
		st = s.command(rollback.ActionRollback, rollback.ActionDeploy)
	}
	afterApply := s.rng.IntN(2) == 0
	if s.rng.IntN(2) == 0 {
		op := faultOps[s.rng.IntN(3)]
		f := apigwlocal.Fault{Delay: 300 * time.Millisecond, AfterApply: afterApply && op == "UpdateStage"}
		s.rig.gw.InjectFault(op, f)
		s.stats.faultsInjected++
		s.logf("fault: %s %+v, deadline 40 ms after the handler's margin", op, f)
	} else {
		op := []string{"GetItem", "PutItem"}[s.rng.IntN(2)]
		s.memoryFault(op, awslocal.Fault{Delay: 300 * time.Millisecond, AfterApply: afterApply && op == "PutItem"}, s.rng.IntN(2))
	}
	s.stats.deadlineSteps++
	st.what = "deadline: " + st.what
	s.sequential(st, true)
}

// ---- steps of issue 16: alarms whose data is older than what is live, canaries, ambiguity, OK ----

// checked runs one invocation of a compound step and returns it with the writes it landed.
func (s *schedule) checked(st step) (invocation, []logEntry) {
	n := len(s.rig.rec.entries())
	s.sequential(st, false)
	return (*s.ran)[len(*s.ran)-1], s.rig.rec.entries()[n:]
}

// moved reports whether a write of es moved a stage or removed its canary.
func moved(es []logEntry) bool {
	return slices.ContainsFunc(es, func(e logEntry) bool {
		return e.patch != nil && ((e.patch.deploymentID != "" && e.patch.deploymentID != e.before.DeploymentID) || (e.patch.removeCanary && e.before.Canary != nil))
	})
}

// hasCode reports whether an invocation's answer has a result with one of codes.
func hasCode(inv invocation, codes ...rollback.Code) bool {
	return slices.ContainsFunc(resultsOfErr(inv.out, inv.err), func(r rollback.Result) bool { return slices.Contains(codes, r.Code) })
}

func (s *schedule) apiIndex(id string) int {
	for k, a := range s.apis {
		if a.id == id {
			return k
		}
	}
	panic("no API " + id)
}

// laggingStep: a person deploys a new build (the fix) on a target, and a minute or two
// later an alarm of it goes to ALARM on a datapoint whose period ended before that deploy (the p99
// alarm whose window still held the bad minutes). It must not move the stage: stale.
func (s *schedule) laggingStep() {
	i := s.rng.IntN(len(s.targets))
	tg := s.targets[i]
	s.humanOn(s.apiIndex(tg.api), tg.stage, 2) // a new deployment: the fix
	stage, _ := s.rig.gw.Stage(tg.api, tg.stage)
	s.rig.clock.Advance(time.Duration(30+s.rng.IntN(150)) * time.Second)
	a := s.alarmFor(i, "ALARM", s.rig.clock.Now().Add(-1500*time.Millisecond), "")
	a.point = stage.LastUpdatedDate.Add(-time.Duration(62+s.rng.IntN(600)) * time.Second).Truncate(time.Second)
	inv, landed := s.checked(s.send("lagging alarm", a, s.alarmUnit(i, a)))
	if moved(landed) {
		s.violate("an alarm measured until %s moved %s, changed by a person at %s", a.measuredUntil().Format(time.RFC3339), tg.key(), stage.LastUpdatedDate.Format(time.RFC3339))
	}
	if hasCode(inv, rollback.CodeStale) {
		s.stats.laggingRefused++
	} else if inv.err == nil {
		s.violate("a lagging alarm (measured until %s, the stage changed at %s) was answered %s, want skipped/stale",
			a.measuredUntil().Format(time.RFC3339), stage.LastUpdatedDate.Format(time.RFC3339), actual(inv.out, inv.err))
	}
}

// canaryStep: mid-incident a person starts a canary of a new build on a REST stage; an alarm whose
// data ended before the canary's creation must leave it, and a fresh one after must remove it.
func (s *schedule) canaryStep() {
	i := s.rng.IntN(len(s.targets))
	tg := s.targets[i]
	if st, _ := s.rig.gw.Stage(tg.api, tg.stage); st.Canary != nil {
		s.sequential(s.freshAlarm(i, ""), false)
		return
	}
	s.stats.canarySteps++
	a := &s.apis[s.apiIndex(tg.api)]
	dep := fmt.Sprintf("a%dc%d", s.apiIndex(tg.api), s.nextDep[a.id])
	s.nextDep[a.id]++
	if err := s.deploy(a, dep, s.rig.clock.Now().Add(-s.skew)); err != nil {
		s.violate("create deployment: %v", err)
		return
	}
	body := fmt.Sprintf(`{"patchOperations":[{"op":"replace","path":"/canarySettings/deploymentId","value":%q},{"op":"replace","path":"/canarySettings/percentTraffic","value":"10"}]}`, dep)
	req := httptest.NewRequest(http.MethodPatch, "/restapis/"+tg.api+"/stages/"+tg.stage, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.rig.gw.ServeHTTP(w, req) // the person's console: not through the recorder, as it is not Rewind's
	stage, _ := s.rig.gw.Stage(tg.api, tg.stage)
	if w.Code != http.StatusOK || stage.Canary == nil {
		s.violate("start a canary on %s: %d %s", tg.key(), w.Code, w.Body.String())
		return
	}
	s.rig.rec.note(tg.key(), "canary:"+dep)
	s.logf("human: %s starts a canary of %s at %s", tg.key(), dep, stage.LastUpdatedDate.Format(time.RFC3339))

	s.rig.clock.Advance(time.Duration(30+s.rng.IntN(90)) * time.Second)
	old := s.alarmFor(i, "ALARM", s.rig.clock.Now().Add(-1500*time.Millisecond), "")
	old.point = stage.LastUpdatedDate.Add(-time.Duration(62+s.rng.IntN(300)) * time.Second).Truncate(time.Second)
	inv, landed := s.checked(s.send("alarm from before the canary", old, s.alarmUnit(i, old)))
	if after, _ := s.rig.gw.Stage(tg.api, tg.stage); moved(landed) || after.Canary == nil {
		s.violate("an alarm measured until %s removed the canary %s started at %s", old.measuredUntil().Format(time.RFC3339), dep, stage.LastUpdatedDate.Format(time.RFC3339))
		return
	}
	if inv.err == nil && !hasCode(inv, rollback.CodeStale) {
		s.violate("an alarm from before the canary was answered %s, want skipped/stale", actual(inv.out, inv.err))
	}

	s.rig.clock.Advance(time.Duration(60+s.rng.IntN(120)) * time.Second)
	fresh := s.alarmFor(i, "ALARM", s.rig.clock.Now().Add(-1500*time.Millisecond), "")
	fresh.point = s.rig.clock.Now().Add(-70 * time.Second).Truncate(time.Second)
	inv, _ = s.checked(s.send("alarm on the canary", fresh, s.alarmUnit(i, fresh)))
	after, _ := s.rig.gw.Stage(tg.api, tg.stage)
	switch {
	case hasCode(inv, rollback.CodeLoopGuard):
	case s.j.dryRun:
		if !hasCode(inv, rollback.CodeCanaryRemoved) || after.Canary == nil {
			s.violate("a dry run's alarm on the canary was answered %s (canary now %+v), want the plan canary-removed and the canary left", actual(inv.out, inv.err), after.Canary)
		}
	case inv.err != nil || !hasCode(inv, rollback.CodeCanaryRemoved) || after.Canary != nil:
		s.violate("an alarm measured until %s, after the canary %s started at %s, was answered %s%s and the canary is %+v: want it removed",
			fresh.measuredUntil().Format(time.RFC3339), dep, stage.LastUpdatedDate.Format(time.RFC3339), actual(inv.out, inv.err), errText(inv.err), after.Canary)
	}
}

// ambiguousStep: an alarm whose metrics name two targets (metric math over two targets' stages, or
// an API-wide alarm on an API with two target stages) moves nothing and fails: ambiguous.
func (s *schedule) ambiguousStep() {
	if len(s.targets) < 2 {
		s.sequential(s.freshAlarm(0, ""), false)
		return
	}
	p := s.rng.Perm(len(s.targets))
	t1, t2 := s.targets[p[0]], s.targets[p[1]]
	a := alarmDef{name: "both-5xx", state: "ALARM", at: s.rig.clock.Now().Add(-1500 * time.Millisecond)}
	if t1.api == t2.api && s.rng.IntN(3) == 0 {
		a.name, a.apiName = "api-wide-5xx", t1.apiName // ApiName, no Stage: every stage of the API
	} else {
		a.math = [][2]string{{t1.apiName, t1.stage}, {t2.apiName, t2.stage}}
	}
	if s.rng.IntN(2) == 0 {
		a.point = s.rig.clock.Now().Add(-70 * time.Second).Truncate(time.Second)
	}
	n := len(s.rig.rec.entries())
	st := s.send("ambiguous alarm", a, unit{fixed: true})
	s.sequential(st, false)
	inv := (*s.ran)[len(*s.ran)-1]
	if landed := s.rig.rec.entries()[n:]; len(landed) > 0 {
		s.violate("an alarm naming %s and %s wrote %d times (stage or memory)", t1.key(), t2.key(), len(landed))
	}
	if inv.err == nil || !slices.Contains(failedCodes(inv.err), rollback.CodeAmbiguous) {
		s.violate("an alarm naming %s and %s was answered %s%s, want a failed invocation with code ambiguous", t1.key(), t2.key(), actual(inv.out, inv.err), errText(inv.err))
		return
	}
	s.stats.ambiguousRefused++
}

// okThenLateStep: an alarm returns to OK, then an ALARM of the same alarm from before the OK is
// delivered late (an SNS retry, a backlog): old news, it must not act.
func (s *schedule) okThenLateStep() {
	i := s.rng.IntN(len(s.targets))
	name := fmt.Sprintf("t%d-%s", i, alarmMetrics[s.rng.IntN(len(alarmMetrics))])
	ok := s.alarmFor(i, "OK", s.rig.clock.Now().Add(-time.Second), name)
	s.j.oks[name] = append(s.j.oks[name], ok.at)
	okInv, _ := s.checked(s.send("transition", ok, unit{fixed: true}))
	s.rig.clock.Advance(time.Duration(5+s.rng.IntN(120)) * time.Second)
	late := s.alarmFor(i, "ALARM", ok.at.Add(-time.Duration(1+s.rng.IntN(900))*time.Second), name)
	if s.rng.IntN(2) == 0 {
		late.point = late.at.Add(-70 * time.Second).Truncate(time.Second)
	}
	inv, landed := s.checked(s.send("late alarm", late, s.alarmUnit(i, late)))
	if moved(landed) {
		s.violate("an ALARM of %s from %s, delivered after its OK of %s, moved %s", name, late.at.Format(time.RFC3339), ok.at.Format(time.RFC3339), s.targets[i].key())
	}
	recorded := okInv.err == nil && hasCode(okInv, rollback.CodeOKRecorded, rollback.CodeRecovered, rollback.CodeRepeat)
	switch {
	case hasCode(inv, rollback.CodeRecoveredSince):
		s.stats.lateAfterOK++
	case recorded && inv.err == nil && !hasCode(inv, rollback.CodeRepeat):
		s.violate("an ALARM of %s from %s, after its OK of %s was recorded (%s), was answered %s, want skipped/recovered-since",
			name, late.at.Format(time.RFC3339), ok.at.Format(time.RFC3339), actual(okInv.out, okInv.err), actual(inv.out, inv.err))
	}
}
