package responder_test

// The steps of a schedule besides alarms: manual commands, the observe schedule, people changing a
// stage out of band, the faults injected, and the choice of the next step.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/rewind-sre/rewind/pkg/awslocal"
	apigwlocal "github.com/rewind-sre/rewind/pkg/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/rollback"
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
	gw, rng := s.rig.gw, s.rng
	s.stats.human++
	ai := rng.IntN(len(s.apis))
	a := &s.apis[ai]
	stage := a.stages[rng.IntN(len(a.stages))]
	key := a.id + "/" + stage
	var dep string
	switch n := rng.IntN(4); {
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
	case n < 13:
		s.human()
		return
	case n < 26:
		s.batch()
		return
	case n < 30:
		s.deadline()
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
