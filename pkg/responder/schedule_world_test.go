package responder_test

// A schedule's world and the events it is made of: alarms (fresh, delayed, repeated, second alarms
// of an incident, OK transitions, foreign ones), manual commands, the observe schedule, people
// changing stages out of band, and faults on the control plane and on Rewind's memory table.

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// scheduleStart is when every schedule's world begins (the seed's incident night).
var scheduleStart = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

// unit is one unit of work of an invocation, as the schedule sent it: a request on a target, or
// an input the handler answers without touching any target (fixed).
type unit struct {
	key      string
	action   rollback.Action
	incident string
	dry      bool
	fixed    bool
}

// step is one invocation: its payload and what it means.
type step struct {
	what    string
	payload []byte
	units   []unit
	forced  bool // a deploy command with force
}

// delivery is an alarm sent earlier, kept so it can be delivered again.
type delivery struct {
	def  alarmDef
	unit unit
	via  envelope
	body []byte
}

// schedTarget is one entry of TARGETS.
type schedTarget struct {
	api, apiName, stage, fallback string
}

func (t schedTarget) key() string { return t.api + "/" + t.stage }

// schedAPI is one REST API of the world.
type schedAPI struct {
	id, name string
	deps     []string // in creation order
	stages   []string
}

type schedule struct {
	seed uint64
	rng  *rand.Rand
	rig  *rig
	j    *judge
	skew time.Duration // API Gateway's clock behind the rig's

	targets []schedTarget
	apis    []schedAPI
	outside schedAPI
	env     map[string]string
	mapping bool // ALARM_TARGETS maps t<i>-* to target i
	insts   []*responder.Handler

	sent      []delivery
	lastFresh int // index into targets of the last fresh alarm
	stepTimes []time.Time
	nextDep   map[string]int
	putLive   map[string][]string // deployments a person (or the world's set-up) put live, by stage
	pending   *step               // Lambda's retry of an invocation that failed after it may have begun a change
	ran       *[]invocation       // the current step's invocations
	last      map[string]snapshot // the targets as the last step left them

	stats      scheduleStats
	violations []string
	trace      []string
}

func (s *schedule) violate(format string, a ...any) {
	s.violations = append(s.violations, fmt.Sprintf("step %d: ", s.stats.steps)+fmt.Sprintf(format, a...))
}

func (s *schedule) logf(format string, a ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%3d %s ", s.stats.steps, s.rig.clock.Now().Format("15:04:05"))+fmt.Sprintf(format, a...))
}

// build makes the world: 1-3 target stages on 1-2 APIs, a stage of a target API that is not a
// target ("dev"), and an API outside TARGETS; then the configuration and 2-3 instances.
func (s *schedule) build() error {
	s.j = &judge{targets: map[string]bool{}, created: map[string]map[string]time.Time{}, guardMax: 3,
		forced: map[int]bool{}, dryOnly: map[int]bool{}, oks: map[string][]time.Time{}, measured: map[string]time.Time{}, samples: map[string][]time.Time{}, stillOn: map[string]string{}, violate: s.violate}
	var specs []string
	for i := range 1 + s.rng.IntN(2) {
		a, past, err := s.buildAPI(i)
		if err != nil {
			return err
		}
		for _, st := range a.stages {
			if st == "dev" || len(specs) >= 3 {
				continue
			}
			tg := schedTarget{api: a.id, apiName: a.name, stage: st}
			if s.rng.IntN(7) == 0 {
				tg.fallback = a.deps[0]
			}
			s.targets = append(s.targets, tg)
			s.j.targets[tg.key()] = true
			spec := tg.key()
			if tg.fallback != "" {
				spec += "@" + tg.fallback
			}
			specs = append(specs, spec)
			if len(past) > 0 {
				// A target with a long past: its timeline starts full, so the memory's bounds are exercised.
				if err := s.rig.seedErr(tg.key(), rollback.Memory{Timeline: past}); err != nil {
					return err
				}
			}
		}
		s.apis = append(s.apis, a)
	}
	if err := s.buildOutside(); err != nil {
		return err
	}
	s.configure(specs)
	for range 2 + s.rng.IntN(2) {
		h, err := s.rig.newHandler(s.env, fastRetry, nil)
		if err != nil {
			return err
		}
		s.insts = append(s.insts, h)
	}
	s.stats.maxInstances = len(s.insts)
	s.logf("world: targets=%s dryRun=%v guard=%d mapping=%v instances=%d outside=%s apigw-clock-skew=%s", s.env[config.EnvTargets], s.j.dryRun,
		s.j.guardMax, s.mapping, len(s.insts), s.outside.id, s.skew)
	return nil
}

// buildAPI makes API i: 2-5 deployments an hour apart, sometimes a long past of older releases
// (returned as sightings for the memory), and its stages.
func (s *schedule) buildAPI(i int) (schedAPI, []rollback.Sighting, error) {
	gw, rng := s.rig.gw, s.rng
	api := gw.CreateRestAPI(fmt.Sprintf("api%d", i))
	a := schedAPI{id: api.ID, name: api.Name}
	s.j.created[api.ID] = map[string]time.Time{}
	n := 2 + rng.IntN(4)
	for k := range n {
		if err := s.deploy(&a, fmt.Sprintf("a%dd%d", i, k), scheduleStart.Add(-time.Duration(n-k)*time.Hour)); err != nil {
			return a, nil, err
		}
	}
	s.nextDep[api.ID] = n
	var past []rollback.Sighting
	if rng.IntN(20) == 0 {
		for k := range rollback.MaxTimeline {
			id := fmt.Sprintf("h%d", k)
			created := scheduleStart.Add(-time.Duration(rollback.MaxTimeline+30-k) * 24 * time.Hour)
			if _, err := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: id, CreatedDate: created}); err != nil {
				return a, nil, err
			}
			s.j.created[api.ID][id] = created
			past = append(past, rollback.Sighting{Deployment: id, Since: created.Add(time.Minute), How: rollback.HowObserved})
		}
	}
	stages := []string{"prod"}
	if rng.IntN(3) == 0 {
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
		if err := gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: st, DeploymentID: live}); err != nil {
			return a, nil, err
		}
		s.putLive[api.ID+"/"+st] = []string{live}
		a.stages = append(a.stages, st)
	}
	return a, past, nil
}

// deploy creates a deployment of a, dated created by API Gateway's clock.
func (s *schedule) deploy(a *schedAPI, id string, created time.Time) error {
	if _, err := s.rig.gw.CreateDeployment(a.id, apigwlocal.DeploymentSpec{ID: id, CreatedDate: created}); err != nil {
		return err
	}
	a.deps = append(a.deps, id)
	s.j.created[a.id][id] = created
	return nil
}

func (s *schedule) buildOutside() error {
	gw := s.rig.gw
	out := gw.CreateRestAPI("outside")
	for i, id := range []string{"o0", "o1"} {
		if _, err := gw.CreateDeployment(out.ID, apigwlocal.DeploymentSpec{ID: id, CreatedDate: scheduleStart.Add(time.Duration(i-2) * time.Hour)}); err != nil {
			return err
		}
	}
	s.outside = schedAPI{id: out.ID, name: out.Name, deps: []string{"o0", "o1"}, stages: []string{"prod"}}
	s.j.outside = out.ID
	return gw.CreateStage(out.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: "o1"})
}

// configure sets the environment: DRY_RUN in a tenth of the worlds, a tighter loop guard in a
// quarter, an ALARM_TARGETS mapping in two fifths.
func (s *schedule) configure(specs []string) {
	s.env = map[string]string{config.EnvTargets: strings.Join(specs, ",")}
	if s.rng.IntN(10) == 0 {
		s.env[config.EnvDryRun] = "true"
		s.j.dryRun = true
		s.stats.dryRunSchedules = 1
	}
	if s.rng.IntN(4) == 0 {
		s.j.guardMax = 1 + s.rng.IntN(2)
		s.env[config.EnvMaxAutoPerHour] = strconv.Itoa(s.j.guardMax)
	}
	if s.rng.IntN(2) == 0 {
		s.env[config.EnvAlarmTopicARN] = schedAlarmTopic // the schedule re-checks alarms still in ALARM
	}
	if s.rng.IntN(5) < 2 {
		s.mapping = true
		var maps []string
		for i, tg := range s.targets {
			maps = append(maps, fmt.Sprintf("t%d-*=%s", i, tg.key()))
		}
		s.env[config.EnvAlarmTargets] = strings.Join(maps, ",")
	}
}

// ---- events ----

var alarmMetrics = []string{"5xx", "p99", "4xx"}

// alarmFor makes an alarm on target i. Dimensions are left out only where the alarm still resolves
// (an ALARM_TARGETS mapping, or a single target).
func (s *schedule) alarmFor(i int, state string, at time.Time, name string) alarmDef {
	tg := s.targets[i]
	a := alarmDef{name: name, state: state, at: at}
	if name == "" {
		a.name = fmt.Sprintf("t%d-%s", i, alarmMetrics[s.rng.IntN(len(alarmMetrics))])
	}
	if !(s.mapping || len(s.targets) == 1) || s.rng.IntN(10) < 7 {
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
func (s *schedule) send(what string, a alarmDef, u unit) step {
	if a.state == "ALARM" {
		s.j.measured[a.incident()] = a.measuredUntil()
	}
	d := delivery{def: a, unit: u, via: s.via()}
	d.body = a.payload(d.via)
	s.sent = append(s.sent, d)
	return step{what: fmt.Sprintf("%s %s %s@%s via %s", what, a.state, a.name, a.at.Format("15:04:05.000"), d.via), payload: d.body, units: []unit{u}}
}

func (s *schedule) alarmUnit(i int, a alarmDef) unit {
	return unit{key: s.targets[i].key(), action: rollback.ActionRollback, incident: a.incident()}
}

func (s *schedule) freshAlarm(i int, name string) step {
	a := s.alarmFor(i, "ALARM", s.rig.clock.Now().Add(-1500*time.Millisecond), name)
	s.lastFresh = i
	return s.send("alarm", a, s.alarmUnit(i, a))
}

// delayedAlarm is an alarm delivered for the first time long after it fired (SNS retries, a
// backlog): it may concern a deployment that is no longer live.
func (s *schedule) delayedAlarm(i int) step {
	at := scheduleStart.Add(-30 * time.Minute)
	if len(s.stepTimes) > 1 && s.rng.IntN(4) > 0 {
		at = s.stepTimes[s.rng.IntN(len(s.stepTimes)-1)]
	}
	a := s.alarmFor(i, "ALARM", at.Add(-1500*time.Millisecond), "")
	return s.send("delayed alarm", a, s.alarmUnit(i, a))
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
	return step{what: fmt.Sprintf("repeat %s %s@%s via %s", d.def.state, d.def.name, d.def.at.Format("15:04:05.000"), via), payload: body, units: []unit{d.unit}}, true
}

func (s *schedule) okAlarm() step {
	i := s.rng.IntN(len(s.targets))
	state := "OK"
	if s.rng.IntN(4) == 0 {
		state = "INSUFFICIENT_DATA"
	}
	a := s.alarmFor(i, state, s.rig.clock.Now().Add(-time.Second), "")
	if state == "OK" {
		s.j.oks[a.name] = append(s.j.oks[a.name], a.at)
	}
	return s.send("transition", a, unit{fixed: true})
}

// foreignAlarm is an alarm Rewind must ignore: another account, an API outside TARGETS, a stage of a
// target API that is not a target.
func (s *schedule) foreignAlarm() step {
	at := s.rig.clock.Now().Add(-time.Second)
	var a alarmDef
	switch s.rng.IntN(3) {
	case 0:
		a = s.alarmFor(s.rng.IntN(len(s.targets)), "ALARM", at, "")
		a.account = "999988887777"
	case 1:
		a = alarmDef{name: "outside-5xx", state: "ALARM", at: at, apiName: s.outside.name, stage: "prod"}
	default:
		a = alarmDef{name: "dev-5xx", state: "ALARM", at: at, apiName: s.apis[0].name, stage: "dev"}
	}
	return s.send("foreign", a, unit{fixed: true})
}
