package responder_test

// TestRandomSchedules drives Rewind through seeded random schedules of alarms, repeated deliveries,
// second alarms, OK transitions, people deploying, manual commands, injected faults and several
// instances at once, over the real SDK and the local API Gateway, and checks after every step that
// the stages equal what the reference model (model_test.go) allows and that the invariants hold.

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/apigwlocal"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/internal/testenv"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
)

// scheduleStart is when every schedule's world begins (the seed's incident night).
var scheduleStart = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

// scheduleStats are the figures a run reports.
type scheduleStats struct {
	steps, invocations, batches, faultsInjected, faultsFired, deadlineSteps   int
	rollbacks, repeatsRefused, guardRefusals, planned, ignored, failed, human int
	dryRunSchedules, maxInstances                                             int
}

func (s *scheduleStats) add(o scheduleStats) {
	s.steps += o.steps
	s.invocations += o.invocations
	s.batches += o.batches
	s.faultsInjected += o.faultsInjected
	s.faultsFired += o.faultsFired
	s.deadlineSteps += o.deadlineSteps
	s.rollbacks += o.rollbacks
	s.repeatsRefused += o.repeatsRefused
	s.guardRefusals += o.guardRefusals
	s.planned += o.planned
	s.ignored += o.ignored
	s.failed += o.failed
	s.human += o.human
	s.dryRunSchedules += o.dryRunSchedules
	s.maxInstances = max(s.maxInstances, o.maxInstances)
}

func TestRandomSchedules(t *testing.T) {
	n := 1000
	if v := os.Getenv("REWIND_SCHEDULES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("REWIND_SCHEDULES=%q is not a positive count", v)
		}
	}
	seeds := make([]uint64, 0, n)
	for i := range n {
		seeds = append(seeds, uint64(i+1))
	}
	verbose := false
	if v := os.Getenv("REWIND_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("REWIND_SEED=%q is not a seed", v)
		}
		seeds, verbose = []uint64{seed}, true
	}

	type outcome struct {
		seed       uint64
		stats      scheduleStats
		violations []string
		trace      []string
	}
	jobs := make(chan uint64)
	results := make(chan outcome)
	var wg sync.WaitGroup
	for range 4 { // the schedules wait on loopback I/O as much as on CPU: a few workers beat one
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range jobs {
				s := runSchedule(seed)
				results <- outcome{seed, s.stats, s.violations, s.trace}
			}
		}()
	}
	go func() {
		for _, s := range seeds {
			jobs <- s
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()

	var total scheduleStats
	var bad []outcome
	violations := 0
	for o := range results {
		total.add(o.stats)
		violations += len(o.violations)
		if len(o.violations) > 0 {
			bad = append(bad, o)
		}
		if verbose {
			t.Logf("seed=%d trace:\n  %s", o.seed, strings.Join(o.trace, "\n  "))
		}
	}
	slices.SortFunc(bad, func(a, b outcome) int { return cmp.Compare(a.seed, b.seed) })
	for i, o := range bad {
		if i == 5 {
			t.Errorf("… and %d more failing schedules", len(bad)-5)
			break
		}
		t.Errorf("seed=%d: %d violation(s):\n  %s\ntrace:\n  %s\nreplay: REWIND_SEED=%d go test -race -count=1 -run 'TestRandomSchedules$' -v ./pkg/responder/",
			o.seed, len(o.violations), strings.Join(o.violations, "\n  "), strings.Join(o.trace, "\n  "), o.seed)
	}
	testenv.Figure(t, "schedules=%d violations=%d failing_schedules=%d steps=%d invocations=%d concurrent_batches=%d max_instances=%d "+
		"faults_injected=%d faults_fired=%d deadline_steps=%d rollbacks=%d repeats_refused=%d guard_refusals=%d "+
		"planned=%d ignored=%d failed_invocations=%d human_changes=%d dry_run_schedules=%d seeds=%d..%d",
		len(seeds), violations, len(bad), total.steps, total.invocations, total.batches, total.maxInstances,
		total.faultsInjected, total.faultsFired, total.deadlineSteps, total.rollbacks, total.repeatsRefused, total.guardRefusals,
		total.planned, total.ignored, total.failed, total.human, total.dryRunSchedules, seeds[0], seeds[len(seeds)-1])
}

// ---- one schedule ----

// mrec is what the model says one unit of work of an invocation is: a request on a target, or an
// answer the handler gives without the engine (fixed: ignored, or failed before any read).
type mrec struct {
	key   string
	req   mreq
	fixed rollback.Outcome
}

// step is one invocation: its payload and what it means.
type step struct {
	what    string
	payload []byte
	recs    []mrec
}

// delivery is an alarm sent earlier, kept so it can be delivered again.
type delivery struct {
	def  alarmDef
	rec  mrec
	via  envelope
	body []byte
}

type schedule struct {
	seed uint64
	rng  *rand.Rand
	rig  *rig
	m    *model
	skew time.Duration // API Gateway's clock behind the rig's

	stages  map[string]mstage // the model's stages, by target key
	apis    []schedAPI
	outside schedAPI
	env     map[string]string
	mapping bool // ALARM_TARGETS maps t<i>-* to target i
	insts   []*responder.Handler

	sent      []delivery
	lastFresh int // index into targets of the last fresh alarm
	stepTimes []time.Time
	batchStep map[int]bool
	allDry    map[int]bool
	nextDep   map[string]int
	putLive   map[string][]string // deployments a person (or the world's set-up) put live, by stage
	pending   *step               // a Lambda retry of an invocation that failed
	lateWrite map[string]mstage   // the stages had that failed invocation's write landed late

	stats      scheduleStats
	violations []string
	trace      []string
}

// schedAPI is one REST API of the world.
type schedAPI struct {
	id, name string
	deps     []string // in creation order
	stages   []string
}

func (s *schedule) violate(format string, a ...any) {
	s.violations = append(s.violations, fmt.Sprintf("step %d: ", s.stats.steps)+fmt.Sprintf(format, a...))
}

func (s *schedule) logf(format string, a ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%3d %s ", s.stats.steps, s.rig.clock.Now().Format("15:04:05"))+fmt.Sprintf(format, a...))
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
	s := &schedule{seed: seed, rng: rng, rig: r, skew: skew,
		stages: map[string]mstage{}, batchStep: map[int]bool{}, allDry: map[int]bool{}, nextDep: map[string]int{}, putLive: map[string][]string{}}
	defer func() {
		if p := recover(); p != nil {
			s.violate("panic: %v", p)
		}
	}()
	if err := s.build(); err != nil {
		s.violate("build: %v", err)
		return s
	}
	steps := 5 + s.rng.IntN(6)
	for range steps {
		s.rig.clock.Advance(time.Duration(30+s.rng.IntN(20*60)) * time.Second)
		s.stepTimes = append(s.stepTimes, s.rig.clock.Now())
		s.rig.rec.step.Store(int64(s.stats.steps))
		s.next()
		s.rig.gw.ClearFaults()
		if !s.rig.rec.quiesce(3) {
			s.violate("a request was still being served 2 s after its invocation ended")
		}
		s.checkWorld()
		s.stats.steps++
		if len(s.violations) > 0 {
			break // the model no longer knows the world; later steps would only echo this
		}
	}
	s.checkWrites()
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
	return s
}

// build makes the world: 1-3 target stages on 1-2 APIs, a stage of a target API that is not a
// target ("dev"), and an API outside TARGETS; then the configuration and 2-3 instances.
func (s *schedule) build() error {
	gw, rng := s.rig.gw, s.rng
	s.m = &model{history: map[string][]mdep{}, guardMax: 3}
	nAPIs := 1 + rng.IntN(2)
	var targets []string
	for i := range nAPIs {
		api := gw.CreateRestAPI(fmt.Sprintf("api%d", i))
		a := schedAPI{id: api.ID, name: api.Name}
		n := 2 + rng.IntN(4)
		for k := range n {
			id := fmt.Sprintf("a%dd%d", i, k)
			created := scheduleStart.Add(-time.Duration(n-k) * time.Hour)
			if _, err := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: id, CreatedDate: created}); err != nil {
				return err
			}
			a.deps = append(a.deps, id)
			s.m.history[api.ID] = append(s.m.history[api.ID], mdep{id: id, created: created})
		}
		s.nextDep[api.ID] = n
		// A stage with a long past: its timeline starts full (16 sightings of older releases), so
		// the memory's bounds are exercised (see TestObserveStillRecordsWhenTheTimelineIsFull).
		var past []rollback.Sighting
		if rng.IntN(3) == 0 {
			for k := range 16 {
				id := fmt.Sprintf("h%d", k)
				created := scheduleStart.Add(-time.Duration(30-k) * 24 * time.Hour)
				if _, err := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: id, CreatedDate: created}); err != nil {
					return err
				}
				s.m.history[api.ID] = append(s.m.history[api.ID], mdep{id: id, created: created})
				past = append(past, rollback.Sighting{Deployment: id, Since: created.Add(time.Minute), How: rollback.HowObserved})
			}
		}
		stages := []string{"prod"}
		if len(targets) < 2 && rng.IntN(3) == 0 {
			stages = append(stages, "beta")
		}
		if i == 0 {
			stages = append(stages, "dev") // never a target
		}
		for _, st := range stages {
			live := a.deps[n-1]
			if rng.IntN(10) < 3 {
				live = a.deps[rng.IntN(n)]
			}
			target := st != "dev" && len(targets) < 3
			var vars map[string]string
			if target && len(past) > 0 {
				vars = map[string]string{}
				for k, v := range (rollback.Memory{Timeline: past}).Encode() {
					if v != "" {
						vars[k] = v
					}
				}
			}
			if err := gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: st, DeploymentID: live, Variables: vars}); err != nil {
				return err
			}
			s.putLive[api.ID+"/"+st] = []string{live}
			a.stages = append(a.stages, st)
			if !target {
				continue
			}
			tg := mtarget{api: api.ID, apiName: api.Name, stage: st}
			if rng.IntN(7) == 0 {
				tg.fallback = a.deps[0]
			}
			s.m.targets = append(s.m.targets, tg)
			spec := tg.key()
			if tg.fallback != "" {
				spec += "@" + tg.fallback
			}
			targets = append(targets, spec)
		}
		s.apis = append(s.apis, a)
	}
	out := gw.CreateRestAPI("outside")
	o1, _ := gw.CreateDeployment(out.ID, apigwlocal.DeploymentSpec{ID: "o0", CreatedDate: scheduleStart.Add(-2 * time.Hour)})
	o2, _ := gw.CreateDeployment(out.ID, apigwlocal.DeploymentSpec{ID: "o1", CreatedDate: scheduleStart.Add(-time.Hour)})
	_ = o1
	if err := gw.CreateStage(out.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: o2.ID}); err != nil {
		return err
	}
	s.outside = schedAPI{id: out.ID, name: out.Name, deps: []string{"o0", "o1"}, stages: []string{"prod"}}

	s.env = map[string]string{config.EnvTargets: strings.Join(targets, ",")}
	if rng.IntN(10) == 0 {
		s.env[config.EnvDryRun] = "true"
		s.m.dryRun = true
		s.stats.dryRunSchedules = 1
	}
	if rng.IntN(4) == 0 {
		s.m.guardMax = 1 + rng.IntN(2)
		s.env[config.EnvMaxAutoPerHour] = strconv.Itoa(s.m.guardMax)
	}
	if rng.IntN(5) < 2 {
		s.mapping = true
		var maps []string
		for i, tg := range s.m.targets {
			maps = append(maps, fmt.Sprintf("t%d-*=%s", i, tg.key()))
		}
		s.env[config.EnvAlarmTargets] = strings.Join(maps, ",")
	}
	for _, tg := range s.m.targets {
		st, _ := gw.Stage(tg.api, tg.stage)
		ms, err := stageFromWire(st)
		if err != nil {
			return err
		}
		s.stages[tg.key()] = ms
	}
	for range 2 + rng.IntN(2) {
		h, err := s.rig.newHandler(s.env, fastRetry, nil)
		if err != nil {
			return err
		}
		s.insts = append(s.insts, h)
	}
	s.stats.maxInstances = len(s.insts)
	s.logf("world: targets=%s dryRun=%v guard=%d mapping=%v instances=%d outside=%s apigw-clock-skew=%s", s.env[config.EnvTargets], s.m.dryRun,
		s.m.guardMax, s.mapping, len(s.insts), s.outside.id, s.skew)
	return nil
}

// ---- events ----

var alarmMetrics = []string{"5xx", "p99", "4xx"}

// alarmFor makes an alarm on target i. Dimensions are left out only where the alarm still resolves
// (an ALARM_TARGETS mapping, or a single target).
func (s *schedule) alarmFor(i int, state string, at time.Time, name string) alarmDef {
	tg := s.m.targets[i]
	a := alarmDef{name: name, state: state, at: at}
	if name == "" {
		a.name = fmt.Sprintf("t%d-%s", i, alarmMetrics[s.rng.IntN(len(alarmMetrics))])
	}
	if !(s.mapping || len(s.m.targets) == 1) || s.rng.IntN(10) < 7 {
		a.apiName, a.stage = tg.apiName, tg.stage
	}
	return a
}

func (s *schedule) via() envelope {
	switch n := s.rng.IntN(10); {
	case n < 6:
		return viaSNS
	case n < 8:
		return viaEventBridge
	}
	return viaAlarmAction
}

// send records an alarm delivery so it can be repeated, and returns its step.
func (s *schedule) send(what string, a alarmDef, rec mrec) step {
	d := delivery{def: a, rec: rec, via: s.via()}
	d.body = a.payload(d.via)
	s.sent = append(s.sent, d)
	return step{what: fmt.Sprintf("%s %s %s@%s via %s", what, a.state, a.name, a.at.Format("15:04:05.000"), d.via), payload: d.body, recs: []mrec{rec}}
}

func (s *schedule) freshAlarm(i int, name string) step {
	now := s.rig.clock.Now()
	a := s.alarmFor(i, "ALARM", now.Add(-1500*time.Millisecond), name)
	s.lastFresh = i
	return s.send("alarm", a, mrec{key: s.m.targets[i].key(), req: mreq{action: "rollback", by: "alarm", incident: a.incident(), alarmTime: a.at}})
}

// delayedAlarm is an alarm delivered for the first time long after it fired (SNS retries, a
// backlog): it may concern a deployment that is no longer live.
func (s *schedule) delayedAlarm(i int) step {
	at := scheduleStart.Add(-30 * time.Minute)
	if len(s.stepTimes) > 1 && s.rng.IntN(4) > 0 {
		at = s.stepTimes[s.rng.IntN(len(s.stepTimes)-1)]
	}
	a := s.alarmFor(i, "ALARM", at.Add(-1500*time.Millisecond), "")
	return s.send("delayed alarm", a, mrec{key: s.m.targets[i].key(), req: mreq{action: "rollback", by: "alarm", incident: a.incident(), alarmTime: a.at}})
}

// secondAlarm is another alarm of the same incident, firing after the first (the latency alarm
// whose window still holds the bad minutes).
func (s *schedule) secondAlarm() step {
	i := s.lastFresh
	return s.freshAlarm(i, fmt.Sprintf("t%d-%s", i, alarmMetrics[s.rng.IntN(len(alarmMetrics))]))
}

// repeat delivers an earlier alarm again: the same bytes (at-least-once delivery) or the same state
// change by another route (SNS and EventBridge both subscribed).
func (s *schedule) repeat() (step, bool) {
	if len(s.sent) == 0 {
		return step{}, false
	}
	d := s.sent[s.rng.IntN(len(s.sent))]
	body, via := d.body, d.via
	if s.rng.IntN(10) < 3 {
		via = s.via()
		body = d.def.payload(via)
	}
	return step{what: fmt.Sprintf("repeat %s %s@%s via %s", d.def.state, d.def.name, d.def.at.Format("15:04:05.000"), via), payload: body, recs: []mrec{d.rec}}, true
}

func (s *schedule) okAlarm() step {
	i := s.rng.IntN(len(s.m.targets))
	state := "OK"
	if s.rng.IntN(4) == 0 {
		state = "INSUFFICIENT_DATA"
	}
	a := s.alarmFor(i, state, s.rig.clock.Now().Add(-time.Second), "")
	return s.send("transition", a, mrec{fixed: rollback.OutcomeIgnored})
}

// foreignAlarm is an alarm Rewind must ignore: another account, an API outside TARGETS, a stage of a
// target API that is not a target.
func (s *schedule) foreignAlarm() step {
	at := s.rig.clock.Now().Add(-time.Second)
	var a alarmDef
	switch s.rng.IntN(3) {
	case 0:
		a = s.alarmFor(s.rng.IntN(len(s.m.targets)), "ALARM", at, "")
		a.account = "999988887777"
	case 1:
		a = alarmDef{name: "outside-5xx", state: "ALARM", at: at, apiName: s.outside.name, stage: "prod"}
	default:
		a = alarmDef{name: "dev-5xx", state: "ALARM", at: at, apiName: s.apis[0].name, stage: "dev"}
	}
	return s.send("foreign", a, mrec{fixed: rollback.OutcomeIgnored})
}

// command is a manual command: any action, force and dryRun at random, on a target, on a stage
// outside TARGETS, or without a target.
func (s *schedule) command(actions ...string) step {
	rng := s.rng
	action := actions[rng.IntN(len(actions))]
	cmd := map[string]any{"action": action}
	q := mreq{action: action, by: "manual"}
	if rng.IntN(10) < 3 {
		cmd["force"], q.force = true, true
	}
	switch rng.IntN(10) {
	case 0, 1:
		cmd["dryRun"], q.dry = true, true
	case 2:
		cmd["dryRun"] = false
	}
	i := rng.IntN(len(s.m.targets))
	key := s.m.targets[i].key()
	fixed := rollback.Outcome("")
	switch n := rng.IntN(10); {
	case n == 0: // a stage that exists but is not allowed
		other := []string{s.outside.id + "/prod", s.apis[0].id + "/dev"}[rng.IntN(2)]
		cmd["target"], fixed = other, rollback.OutcomeFailed
	case n == 1: // no target: observe means every target; otherwise fine with one, refused with several
		if action == "observe" {
			b, _ := json.Marshal(cmd)
			return step{what: "command " + string(b), payload: b, recs: s.observeAll(q.dry)}
		}
		if len(s.m.targets) > 1 {
			fixed = rollback.OutcomeFailed
		} else {
			key = s.m.targets[0].key()
			i = 0
		}
	default:
		cmd["target"] = key
	}
	if action == "deploy" {
		api := s.apiOf(s.m.targets[i].api)
		q.depID = api.deps[rng.IntN(len(api.deps))]
		if rng.IntN(10) == 0 {
			q.depID = s.outside.deps[rng.IntN(2)] // another API's deployment: does not exist here
		}
		cmd["deploymentId"] = q.depID
	}
	if rng.IntN(3) == 0 {
		cmd["reason"] = "on-call: users report 502"
	}
	b, _ := json.Marshal(cmd)
	if fixed != "" {
		return step{what: "command " + string(b), payload: b, recs: []mrec{{fixed: fixed}}}
	}
	return step{what: "command " + string(b), payload: b, recs: []mrec{{key: key, req: q}}}
}

func (s *schedule) observeAll(dry bool) []mrec {
	var recs []mrec
	for _, tg := range s.m.targets {
		recs = append(recs, mrec{key: tg.key(), req: mreq{action: "observe", by: "schedule", dry: dry}})
	}
	return recs
}

func (s *schedule) tick() step {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "tick", "detail-type": "Scheduled Event", "source": "aws.events",
		"account": rigAccount, "time": s.rig.clock.Now().Format(time.RFC3339), "region": rigRegion,
		"resources": []string{"arn:aws:events:" + rigRegion + ":" + rigAccount + ":rule/rewind-observe"}, "detail": map[string]any{}})
	return step{what: "schedule tick", payload: b, recs: s.observeAll(false)}
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
		now := s.rig.clock.Now().Add(-s.skew) // API Gateway dates the deployment
		if _, err := gw.CreateDeployment(a.id, apigwlocal.DeploymentSpec{ID: dep, CreatedDate: now}); err != nil {
			s.violate("create deployment: %v", err)
			return
		}
		a.deps = append(a.deps, dep)
		s.m.history[a.id] = append(s.m.history[a.id], mdep{id: dep, created: now})
	}
	if err := gw.SetDeploymentID(a.id, stage, dep); err != nil {
		s.violate("set deployment: %v", err)
		return
	}
	s.putLive[key] = append(s.putLive[key], dep)
	s.rig.rec.note(key, dep)
	if st, ok := s.stages[key]; ok {
		live, _ := gw.Stage(a.id, stage)
		st.live, st.lastUpdated = dep, live.LastUpdatedDate
		s.stages[key] = st
	}
	s.logf("human: %s now serves %s", key, dep)
}

// faultOps are the control-plane calls Rewind makes.
var faultOps = []string{"GetStage", "GetDeployments", "UpdateStage", "GetRestApis"}

// injectFault queues a fault the retry policy must absorb: throttles, 5xx, conflicts, resets, and,
// outside concurrent batches, a reset after the write applied.
func (s *schedule) injectFault(afterApplyOK bool) {
	op := faultOps[s.rng.IntN(len(faultOps))]
	f := apigwlocal.Fault{Times: 1 + s.rng.IntN(3)}
	switch s.rng.IntN(6) {
	case 0:
		f.Status, f.Times = 429, 1+s.rng.IntN(6)
	case 1:
		f.Status = 500
	case 2:
		f.Status = 503
	case 3:
		f.Status = 409
	case 4:
		f.Reset = true
	default:
		f.Reset = true
		if afterApplyOK && op == "UpdateStage" {
			f.AfterApply, f.Times = true, 1
		}
	}
	s.rig.gw.InjectFault(op, f)
	s.stats.faultsInjected++
	s.logf("fault: %s %+v", op, f)
}

// next runs one step.
func (s *schedule) next() {
	if p := s.pending; p != nil {
		s.pending = nil
		p.what = "lambda retry: " + p.what
		s.sequential(*p, nil)
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
	case n < 29:
		s.deadline()
		return
	}
	if rng.IntN(4) == 0 {
		s.injectFault(true)
	}
	var st step
	switch n := rng.IntN(100); {
	case n < 24:
		st = s.freshAlarm(rng.IntN(len(s.m.targets)), "")
	case n < 30:
		st = s.delayedAlarm(rng.IntN(len(s.m.targets)))
	case n < 44:
		var ok bool
		if st, ok = s.repeat(); !ok {
			st = s.freshAlarm(rng.IntN(len(s.m.targets)), "")
		}
	case n < 52:
		st = s.secondAlarm()
	case n < 57:
		st = s.okAlarm()
	case n < 62:
		st = s.foreignAlarm()
	case n < 68:
		st = s.tick()
	case n < 72:
		// Two notifications in one SNS event: an alarm and its repeat, or two alarms of one incident.
		a := s.freshAlarm(rng.IntN(len(s.m.targets)), "")
		d1 := s.sent[len(s.sent)-1]
		d2, what := d1, "repeat"
		if rng.IntN(2) == 0 {
			b := s.secondAlarm()
			d2, what = s.sent[len(s.sent)-1], b.what
		}
		st = step{what: "sns pair: " + a.what + " + " + what, payload: snsPayload(d1.def.message(), d2.def.message()), recs: []mrec{d1.rec, d2.rec}}
	default:
		st = s.command("status", "rollback", "rollback", "rollback", "deploy", "deploy", "observe", "clear")
	}
	s.sequential(st, nil)
}

// deadline runs an invocation whose deadline runs out while a call is slow: the handler must
// return an error (so Lambda retries), leave the stage either untouched or fully switched with its
// record, and the retry must finish the job without a second rollback.
func (s *schedule) deadline() {
	var st step
	switch s.rng.IntN(3) {
	case 0:
		st = s.freshAlarm(s.rng.IntN(len(s.m.targets)), "")
	case 1:
		var ok bool
		if st, ok = s.repeat(); !ok {
			st = s.freshAlarm(s.rng.IntN(len(s.m.targets)), "")
		}
	default:
		st = s.command("rollback", "deploy")
	}
	op := faultOps[s.rng.IntN(3)]
	f := apigwlocal.Fault{Delay: 300 * time.Millisecond}
	if op == "UpdateStage" && s.rng.IntN(2) == 0 {
		f.AfterApply = true
	}
	s.rig.gw.InjectFault(op, f)
	s.stats.faultsInjected++
	s.stats.deadlineSteps++
	s.logf("fault: %s %+v, deadline 40 ms after the handler's margin", op, f)
	st.what = "deadline: " + st.what
	s.sequential(st, &f)
}

// ---- running and judging ----

// run invokes one instance.
func (s *schedule) run(h *responder.Handler, st step, timeout time.Duration) (any, error) {
	ctx, cancel := lambdaCtx(timeout)
	defer cancel()
	s.stats.invocations++
	return h.Handle(ctx, st.payload)
}

// expectSeq runs recs through the model one after another, as one instance does.
func (s *schedule) expectSeq(stages map[string]mstage, recs []mrec) ([]mresult, map[string]mstage) {
	now := s.rig.clock.Now()
	out := maps(stages)
	res := make([]mresult, len(recs))
	for i, r := range recs {
		if r.fixed != "" {
			res[i] = mresult{outcome: r.fixed}
			continue
		}
		res[i] = s.m.decide(r.key, out[r.key], r.req, now)
		if w := res[i].write; w != nil {
			next := w.clone()
			next.lastUpdated = touched(out[r.key].lastUpdated, now.Add(-s.skew).Truncate(time.Second))
			out[r.key] = next
		}
	}
	return res, out
}

func maps(m map[string]mstage) map[string]mstage {
	out := make(map[string]mstage, len(m))
	for k, v := range m {
		out[k] = v.clone()
	}
	return out
}

// answerSig is the part of an answer the model predicts.
func answerSig(outcome rollback.Outcome, from, to string) string {
	switch outcome {
	case rollback.OutcomeIgnored:
		return string(outcome)
	}
	return fmt.Sprintf("%s:%s->%s", outcome, from, to)
}

// predicted is the signature of the model's answer to one invocation: "error" when any unit fails
// (the handler then returns only an error), else every unit's answer.
func predicted(res []mresult) string {
	var parts []string
	for _, r := range res {
		if r.outcome == rollback.OutcomeFailed {
			return "error"
		}
		parts = append(parts, answerSig(r.outcome, r.from, r.to))
	}
	return strings.Join(parts, ",")
}

func actual(out any, err error) string {
	if err != nil {
		return "error"
	}
	var parts []string
	for _, r := range resultsOf(out) {
		parts = append(parts, answerSig(r.Outcome, r.From, r.To))
	}
	return strings.Join(parts, ",")
}

// stagesSig is the signature of every target's stage.
func (s *schedule) stagesSig(stages map[string]mstage) string {
	var parts []string
	for _, tg := range s.m.targets {
		parts = append(parts, tg.key()+"{"+stages[tg.key()].sig()+"}")
	}
	return strings.Join(parts, " ")
}

// real reads every target's stage from the local API Gateway.
func (s *schedule) real() (map[string]mstage, error) {
	out := map[string]mstage{}
	for _, tg := range s.m.targets {
		st, ok := s.rig.gw.Stage(tg.api, tg.stage)
		if !ok {
			return nil, fmt.Errorf("stage %s is gone", tg.key())
		}
		ms, err := stageFromWire(st)
		if err != nil {
			return nil, fmt.Errorf("stage %s: Rewind's memory does not decode: %v", tg.key(), err)
		}
		out[tg.key()] = ms
	}
	return out, nil
}

// sequential runs one invocation on one instance and compares it with the model. With a deadline
// fault, the answer may also be an error with the stage either untouched or switched.
func (s *schedule) sequential(st step, deadline *apigwlocal.Fault) {
	h := s.insts[s.rng.IntN(len(s.insts))]
	if dryOnly(st.recs, s.m.dryRun) {
		s.allDry[s.stats.steps] = true
	}
	timeout := 30 * time.Second
	if deadline != nil {
		timeout = 500*time.Millisecond + 40*time.Millisecond // responder keeps 500 ms back
	}
	out, err := s.run(h, st, timeout)
	quiet := 3
	if deadline != nil {
		quiet = 25 // a write the client gave up on may still be on its way in: give it time to land
	}
	s.rig.rec.quiesce(quiet)
	got, rerr := s.real()
	if rerr != nil {
		s.violate("%v", rerr)
		return
	}
	gotAns, gotSig := actual(out, err), s.stagesSig(got)
	s.logf("%s -> %s%s", st.what, gotAns, errText(err))
	// Where the model starts: the stages as they were; after an invocation that failed on its
	// deadline and left them untouched, also as its write would have left them, should that write
	// have landed only now.
	starts := []map[string]mstage{s.stages}
	if s.lateWrite != nil {
		starts = append(starts, s.lateWrite)
		s.lateWrite = nil
	}
	var wantAns, wantSig string
	for _, start := range starts {
		res, want := s.expectSeq(start, st.recs)
		wantAns, wantSig = predicted(res), s.stagesSig(want)
		switch {
		case gotAns == wantAns && gotSig == wantSig:
			s.count(out, err)
			s.stages = synced(want, got)
			return
		case deadline != nil && err != nil && (gotSig == s.stagesSig(start) || gotSig == wantSig):
			s.count(out, err)
			if gotSig == wantSig {
				s.stages = synced(want, got)
			} else {
				s.stages = synced(start, got)
				s.lateWrite = want
			}
			// Lambda retries a failed asynchronous invocation: the same payload, later, maybe elsewhere.
			s.pending = &step{what: st.what, payload: st.payload, recs: st.recs}
			return
		}
	}
	s.violate("%s:\n    answer %s%s\n    model  %s\n    stages %s\n    model  %s", st.what, gotAns, errText(err), wantAns, gotSig, wantSig)
}

// synced is the model's stages with the control plane's lastUpdatedDate, which the model does not
// predict exactly (a write retried after a lost answer moves it twice) but a rule may read.
func synced(model, real map[string]mstage) map[string]mstage {
	for k, v := range model {
		v.lastUpdated = real[k].lastUpdated
		model[k] = v
	}
	return model
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

func dryOnly(recs []mrec, dryRun bool) bool {
	for _, r := range recs {
		if r.fixed == "" && !(dryRun || r.req.dry) && r.req.action != "status" {
			return false
		}
	}
	return true
}

func (s *schedule) count(out any, err error) {
	if err != nil {
		s.stats.failed++
	}
	for _, r := range resultsOf(out) {
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
	if f := (*responder.Failed)(nil); errors.As(err, &f) && slices.Contains(f.Codes(), rollback.CodeLoopGuard) {
		s.stats.guardRefusals++
	}
}

// batch delivers 2-3 invocations to as many instances at once: the same alarm twice (SNS delivers at
// least once), a second alarm, a manual rollback, an observe or status, all on one target. API
// Gateway has no conditional write, so the model accepts exactly the outcomes of some interleaving
// of the instances' reads and writes, each instance writing what it decided from what it read.
func (s *schedule) batch() {
	rng := s.rng
	k := 2 + rng.IntN(len(s.insts)-1)
	focus := rng.IntN(len(s.m.targets))
	base := s.freshAlarm(focus, "")
	steps := []step{base}
	for len(steps) < k {
		switch n := rng.IntN(10); {
		case n < 4:
			steps = append(steps, base)
		case n < 6:
			s.lastFresh = focus
			steps = append(steps, s.secondAlarm())
		case n < 8:
			st := s.command("rollback")
			steps = append(steps, st)
		case n < 9:
			if st, ok := s.repeat(); ok {
				steps = append(steps, st)
			}
		default:
			// Observes race rollbacks: an observe's write landing after a rollback's must keep the
			// rollback's memory (see TestConcurrentObserveKeepsTheRollbacksMemory).
			if st := s.command("status", "observe"); len(st.recs) == 1 {
				steps = append(steps, st)
			}
		}
	}
	if rng.IntN(10) < 3 {
		s.injectFault(false)
	}
	s.stats.batches++
	s.batchStep[s.stats.steps] = true
	var whats []string
	for _, st := range steps {
		whats = append(whats, st.what)
	}

	outs := make([]any, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	ready.Add(k)
	start := make(chan struct{})
	var invocations atomic.Int64
	for i := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := lambdaCtx(30 * time.Second)
			defer cancel()
			ready.Done()
			<-start
			invocations.Add(1)
			outs[i], errs[i] = s.insts[i].Handle(ctx, steps[i].payload)
		}()
	}
	ready.Wait()
	close(start)
	wg.Wait()
	s.stats.invocations += int(invocations.Load())
	s.rig.rec.quiesce(3)

	got, err := s.real()
	if err != nil {
		s.violate("%v", err)
		return
	}
	var answers []string
	for i := range k {
		answers = append(answers, actual(outs[i], errs[i]))
		s.count(outs[i], errs[i])
	}
	gotKey := s.stagesSig(got) + " | " + strings.Join(answers, " ; ")
	s.logf("batch of %d: %s -> %s", k, strings.Join(whats, " || "), strings.Join(answers, " ; "))
	cands := s.interleavings(steps)
	if c, ok := cands[gotKey]; ok {
		s.stages = synced(c, got)
		return
	}
	keys := make([]string, 0, len(cands))
	for key := range cands {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	if len(keys) > 6 {
		keys = append(keys[:6], fmt.Sprintf("… %d more", len(keys)-6))
	}
	s.violate("concurrent batch ended in a state no interleaving allows:\n    got     %s\n    allowed %s", gotKey, strings.Join(keys, "\n            "))
}

// interleavings returns every (stages | answers) the model allows for instances running steps at
// once: each reads the stage at some point and writes what it decided at a later point. A write of
// the memory alone (observe, clear) that finds the stage moved since its read still lands, and its
// instance answers with an error (reststage checks the deployment the UpdateStage answers).
func (s *schedule) interleavings(steps []step) map[string]map[string]mstage {
	now := s.rig.clock.Now()
	k := len(steps)
	out := map[string]map[string]mstage{}
	phase := make([]int, k)
	decided := make([]mresult, k)
	answers := make([]string, k)
	var walk func(stages map[string]mstage)
	walk = func(stages map[string]mstage) {
		done := true
		for i := range k {
			rec := steps[i].recs[0]
			switch phase[i] {
			case 0:
				done = false
				phase[i] = 1
				if rec.fixed != "" {
					decided[i] = mresult{outcome: rec.fixed}
				} else {
					decided[i] = s.m.decide(rec.key, stages[rec.key], rec.req, now)
				}
				walk(stages)
				phase[i] = 0
			case 1:
				done = false
				phase[i] = 2
				answers[i] = predicted([]mresult{decided[i]})
				w := decided[i].write
				if w == nil {
					walk(stages)
				} else {
					if !decided[i].moves && stages[rec.key].live != decided[i].read.live {
						answers[i] = "error"
					}
					next := maps(stages)
					st := patchStage(stages[rec.key], decided[i])
					st.lastUpdated = touched(stages[rec.key].lastUpdated, now.Add(-s.skew).Truncate(time.Second))
					next[rec.key] = st
					walk(next)
				}
				phase[i] = 1
			}
		}
		if done {
			out[s.stagesSig(stages)+" | "+strings.Join(answers, " ; ")] = maps(stages)
		}
	}
	walk(maps(s.stages))
	return out
}

// ---- invariants ----

// checkWorld: stages outside TARGETS are as the people left them.
func (s *schedule) checkWorld() {
	if st, _ := s.rig.gw.Stage(s.outside.id, "prod"); st.DeploymentID != "o1" || len(st.Variables) != 0 {
		s.violate("the API outside TARGETS changed: %+v", st)
	}
	if st, _ := s.rig.gw.Stage(s.apis[0].id, "dev"); len(st.Variables) != 0 {
		s.violate("stage dev (not a target) got Rewind's memory: %v", st.Variables)
	}
}

// checkWrites judges every request the schedule sent, independently of the model.
func (s *schedule) checkWrites() {
	allowed := map[string]bool{}
	for _, tg := range s.m.targets {
		allowed[tg.key()] = true
	}
	type move struct{ from, to string }
	perIncident := map[string]map[move]bool{}
	for _, q := range s.rig.rec.requests() {
		if q.apiID == s.outside.id {
			s.violate("request to the API outside TARGETS: %s %s", q.method, q.path)
		}
		if !q.write() {
			continue
		}
		if s.m.dryRun {
			s.violate("write on a dry run: %s %s", q.method, q.path)
		}
		if s.allDry[q.step] {
			s.violate("write during a dry-run command (step %d): %s %s", q.step, q.method, q.path)
		}
		if q.patch == nil || !allowed[q.apiID+"/"+q.stage] {
			s.violate("write outside TARGETS: %s %s", q.method, q.path)
			continue
		}
		mem, err := q.patch.memory()
		if err != nil {
			s.violate("step %d: a write carries memory that does not decode: %v", q.step, err)
			continue
		}
		to := q.patch.deploymentID
		if to == "" {
			continue // only the memory changes (observe, clear): it carries the last change as it was
		}
		if mem.Last == nil || mem.Last.To != to {
			s.violate("step %d: a write moves the stage to %s but records %+v as the change", q.step, to, mem.Last)
			continue
		}
		if mem.Last.Kind != rollback.KindRollback {
			continue
		}
		if slices.Contains(mem.Bad, to) {
			s.violate("step %d: rollback onto %s, which the same write records as known bad", q.step, to)
		}
		if !s.batchStep[q.step] {
			// One instance at a time: the stage the write found is the one it decided on.
			before, err := rollback.DecodeMemory(q.before.Variables)
			if err == nil && before.IsBad(to) {
				s.violate("step %d: rollback onto %s, known bad at the time (%v)", q.step, to, before.Bad)
			}
		}
		if inc := mem.Last.Incident; inc != "" && mem.Last.By == "alarm" {
			if perIncident[inc] == nil {
				perIncident[inc] = map[move]bool{}
			}
			perIncident[inc][move{mem.Last.From, to}] = true
		}
	}
	for inc, moves := range perIncident {
		if len(moves) > 1 {
			s.violate("incident %s rolled back more than once: %v", inc, moves)
		}
	}
	s.checkGround()
}

// checkGround replays what actually happened to each stage (applied writes and people's changes, in
// order) and judges it against the truth rather than against Rewind's memory, which a race could
// damage: a rollback never lands on a deployment Rewind rolled back from (unless a person cleared
// the marks or deployed it with force since), and an alarm never moves a stage away from where a
// Rewind rollback put it while no person has changed the stage since (one rollback per incident,
// whatever alarm or delivery asks again).
func (s *schedule) checkGround() {
	rolledBackFrom := map[string]map[string]int{} // stage -> deployment -> step
	rewindPut := map[string]string{}              // stage -> deployment a Rewind rollback put live
	for _, e := range s.rig.rec.entries() {
		if e.patch == nil {
			rewindPut[e.key] = "" // a person changed the stage
			continue
		}
		if rolledBackFrom[e.key] == nil {
			rolledBackFrom[e.key] = map[string]int{}
		}
		mem, err := e.patch.memory()
		if err != nil {
			continue // reported by checkWrites
		}
		if e.patch.deploymentID == "" {
			if n := len(mem.Timeline); n > 0 && mem.Timeline[n-1].How == rollback.HowCleared {
				clear(rolledBackFrom[e.key])
			}
			continue
		}
		if mem.Last == nil {
			continue
		}
		to := e.patch.deploymentID
		switch mem.Last.Kind {
		case rollback.KindRollback:
			if step, bad := rolledBackFrom[e.key][to]; bad {
				s.violate("step %d: %s rolled back onto %s, which Rewind rolled back from at step %d", e.step, e.key, to, step)
			}
			if mem.Last.By == "alarm" && rewindPut[e.key] != "" && mem.Last.From == rewindPut[e.key] {
				s.violate("step %d: an alarm moved %s on from %s, where Rewind's own rollback had put it, with no person's change since: a second rollback",
					e.step, e.key, mem.Last.From)
			}
			rolledBackFrom[e.key][mem.Last.From] = e.step
			rewindPut[e.key] = to
		case rollback.KindDeploy:
			delete(rolledBackFrom[e.key], to) // deployed by a person's command (with force if it was bad)
			rewindPut[e.key] = ""
		}
	}
}

// TestConcurrentObserveKeepsTheRollbacksMemory pins one interleaving the schedules can only hit by
// chance: the scheduled observe reads the stage, an alarm's rollback lands, then the observe's write
// lands. The observe changes only the timeline; it must not put back the known-bad list, the handled
// incidents and the last change it read before the rollback, or Rewind forgets the deployment it
// just rolled back from and rolls back a second time on the incident's next alarm.
func TestConcurrentObserveKeepsTheRollbacksMemory(t *testing.T) {
	r := newRig(t, scheduleStart)
	api := r.gw.CreateRestAPI("shop")
	for i := 1; i <= 6; i++ {
		if _, err := r.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: fmt.Sprintf("d%d", i),
			CreatedDate: scheduleStart.Add(time.Duration(i-7) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: "d4"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{config.EnvTargets: api.ID + "/prod"}
	alarm, observer := r.handler(t, env, fastRetry, nil), r.handler(t, env, fastRetry, nil)
	fire := func(name string) (rollback.Result, string) {
		t.Helper()
		r.clock.Advance(time.Minute)
		a := alarmDef{name: name, state: "ALARM", at: r.clock.Now().Add(-1500 * time.Millisecond), apiName: "shop", stage: "prod"}
		out, err := invoke(alarm, a.payload(viaSNS))
		if err != nil {
			t.Fatalf("alarm %s: %v", name, err)
		}
		return resultsOf(out)[0], a.incident()
	}
	tick := []byte(`{"version":"0","id":"t","detail-type":"Scheduled Event","source":"aws.events","account":"` + rigAccount +
		`","time":"2026-11-25T03:00:00Z","region":"` + rigRegion + `","resources":[],"detail":{}}`)

	// The story so far: a rollback from d4 to d3; a person deploys d5, which the observe records;
	// the person deploys d6.
	if res, _ := fire("shop-5xx"); res.Outcome != rollback.OutcomeRolledBack || res.To != "d3" {
		t.Fatalf("first alarm: %+v", res)
	}
	r.clock.Advance(5 * time.Minute)
	if err := r.gw.SetDeploymentID(api.ID, "prod", "d5"); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Minute)
	if _, err := invoke(observer, tick); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(5 * time.Minute)
	if err := r.gw.SetDeploymentID(api.ID, "prod", "d6"); err != nil {
		t.Fatal(err)
	}

	// The observe reads d6 live and decides to record it; its write waits until the alarm's rollback
	// from d6 has landed.
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.rec.hold(func(q request) <-chan struct{} {
		held := false
		if q.patch != nil && q.patch.deploymentID == "" {
			once.Do(func() { held = true; close(arrived) })
		}
		if held {
			return release
		}
		return nil
	})
	observed := make(chan error, 1)
	go func() {
		_, err := invoke(observer, tick)
		observed <- err
	}()
	select {
	case <-arrived:
	case err := <-observed:
		t.Fatalf("the observe did not write: %v", err)
	}
	res, incident := fire("shop-5xx")
	if res.Outcome != rollback.OutcomeRolledBack || res.From != "d6" || res.To != "d5" {
		t.Fatalf("second incident's alarm: %+v", res)
	}
	close(release)
	err := <-observed
	t.Logf("the observe, whose write found the stage moved: %v", err)
	r.rec.hold(nil)

	st, _ := r.gw.Stage(api.ID, "prod")
	mem, derr := rollback.DecodeMemory(st.Variables)
	if derr != nil {
		t.Fatal(derr)
	}
	if !mem.IsBad("d6") || !slices.Contains(mem.Incidents, incident) || mem.Last == nil || mem.Last.To != "d5" {
		t.Errorf("after the race the memory is bad=%v incidents=%v last=%+v: the observe's stale write undid the rollback's record "+
			"(want d6 known bad, incident %s handled, last change d6 -> d5)", mem.Bad, mem.Incidents, mem.Last, incident)
	}
	// The incident's latency alarm fires a minute later: one rollback per incident.
	if res, _ := fire("shop-p99"); res.Outcome != rollback.OutcomeSkipped {
		t.Errorf("second alarm of the incident: %s %s -> %s (%s); want skipped, the stage already moved once", res.Outcome, res.From, res.To, res.Reason)
	}
	if st, _ := r.gw.Stage(api.ID, "prod"); st.DeploymentID != "d5" {
		t.Errorf("stage serves %s, want d5: one step back from d6", st.DeploymentID)
	}
}

// TestObserveStillRecordsWhenTheTimelineIsFull: the timeline keeps the last 16 sightings. Once it is
// full, a new deployment going live must still be recorded, or "previous" means whatever was
// recorded last, however old: the rollback would skip every release since.
func TestObserveStillRecordsWhenTheTimelineIsFull(t *testing.T) {
	r := newRig(t, scheduleStart)
	api := r.gw.CreateRestAPI("shop")
	const n = 20
	for i := 1; i <= n; i++ {
		if _, err := r.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: fmt.Sprintf("d%d", i),
			CreatedDate: scheduleStart.Add(time.Duration(i-n-1) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: "d1"}); err != nil {
		t.Fatal(err)
	}
	h := r.handler(t, map[string]string{config.EnvTargets: api.ID + "/prod"}, fastRetry, nil)
	observe := []byte(`{"action":"observe"}`)
	// A release a day, each seen by the scheduled observe.
	for i := 1; i < n; i++ {
		r.clock.Advance(24 * time.Hour)
		if err := r.gw.SetDeploymentID(api.ID, "prod", fmt.Sprintf("d%d", i)); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Minute)
		if _, err := invoke(h, observe); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := r.gw.Stage(api.ID, "prod")
	mem, err := rollback.DecodeMemory(st.Variables)
	if err != nil {
		t.Fatal(err)
	}
	if cur := mem.Timeline[len(mem.Timeline)-1].Deployment; cur != fmt.Sprintf("d%d", n-1) {
		t.Errorf("the timeline's newest sighting is %s, want d%d, live since the last observe (timeline %v)", cur, n-1, mem.Timeline)
	}
	// d20 goes live and fails: the rollback goes to d19, the release before it.
	r.clock.Advance(24 * time.Hour)
	if err := r.gw.SetDeploymentID(api.ID, "prod", fmt.Sprintf("d%d", n)); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Minute)
	a := alarmDef{name: "shop-5xx", state: "ALARM", at: r.clock.Now().Add(-time.Second), apiName: "shop", stage: "prod"}
	out, err := invoke(h, a.payload(viaSNS))
	if err != nil {
		t.Fatal(err)
	}
	if res := resultsOf(out)[0]; res.To != fmt.Sprintf("d%d", n-1) {
		t.Errorf("rollback from d%d went to %s (%s), want d%d, the release live before it", n, res.To, res.Reason, n-1)
	}
}
