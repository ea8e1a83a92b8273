package responder_test

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/rollback"
	cwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudwatch"
)

// schedAlarmTopic is the alarm topic of the worlds that set ALARM_TOPIC_ARN (half of them).
const schedAlarmTopic = "arn:aws:sns:" + rigRegion + ":" + rigAccount + ":rewind-AlarmTopic"

// stillInAlarmStep: an alarm of a target is in ALARM (its notification came earlier, or never
// reached Rewind); a person deploys a fix; the alarm stays in ALARM, so no notification comes.
// The fix's own data breaches (2 of 3 minutes of 5XXError >= 5), is healthy, or there is only data
// from before the fix. On the next tick a breaching fix gets a decision (a rollback, a plan, or a
// refusal with its code: never a silent tick), while a healthy fix and data from before the fix
// never move the stage; the tick after that moves nothing again. That no re-check moves a stage on
// data that ended before what it moved away from went live is judgeLog's "never on old data".
func (s *schedule) stillInAlarmStep() {
	if s.env[config.EnvAlarmTopicARN] == "" {
		s.sequential(s.freshAlarm(s.rng.IntN(len(s.targets)), ""), false)
		return
	}
	i := s.rng.IntN(len(s.targets))
	tg := s.targets[i]
	s.stats.recheckSteps++
	name := fmt.Sprintf("t%d-still-%d", i, s.stats.steps)
	transition := s.rig.clock.Now().Add(-time.Duration(60+s.rng.IntN(600)) * time.Second)
	s.rig.cw.PutMetricAlarm(cwlocal.Alarm{Name: name, Namespace: "AWS/ApiGateway", MetricName: "5XXError",
		Dimensions: []cwlocal.Dimension{{Name: "ApiName", Value: tg.apiName}, {Name: "Stage", Value: tg.stage}}, Statistic: "Sum", Period: 60,
		EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 5, ComparisonOperator: "GreaterThanOrEqualToThreshold",
		AlarmActions: []string{schedAlarmTopic}, State: cwlocal.StateAlarm, StateUpdated: transition})
	s.rig.clock.Advance(time.Duration(1+s.rng.IntN(30)) * time.Second)
	s.humanOn(s.apiIndex(tg.api), tg.stage, 2) // the fix: a new deployment
	fix, _ := s.rig.gw.Stage(tg.api, tg.stage)
	fixAt := s.rig.clock.Now()
	first := time.Duration(5+s.rng.IntN(4)) * time.Minute
	variant := s.rng.IntN(3)
	var from time.Time
	var minutes int
	value := 30.0
	switch variant {
	case 0, 1: // the fix's own minutes, up to the second tick (never into a later step's fix)
		from, minutes = fixAt.Truncate(time.Minute).Add(time.Minute), int((first+5*time.Minute)/time.Minute)-1
		if variant == 1 {
			value = 1
		}
	default: // only minutes that ended before the fix went live, by either clock
		from, minutes = fixAt.Add(-s.skew-12*time.Minute).Truncate(time.Minute), 10
	}
	for k := range minutes {
		start := from.Add(time.Duration(k) * time.Minute)
		s.rig.cw.PutMetricData("AWS/ApiGateway", "5XXError", []cwlocal.Dimension{{Name: "Stage", Value: tg.stage}, {Name: "ApiName", Value: tg.apiName}},
			cwlocal.Sample{At: start.Add(20 * time.Second), Value: value})
		s.j.samples[tg.key()] = append(s.j.samples[tg.key()], start)
	}
	s.j.stillOn[name] = tg.key()
	s.logf("human's fix %s on %s while %s stays in ALARM (since %s); data: %s", fix.DeploymentID, tg.key(), name, transition.Format(time.RFC3339),
		[]string{"breaching", "healthy", "only from before the fix"}[variant])

	s.rig.clock.Advance(first)
	logged := len(s.rig.logs.String())
	inv, landed := s.checked(s.tick())
	// A tick whose time ran out before the re-check could read CloudWatch says so and leaves it to the
	// next tick (the schedule's ticks have 3 s; a loaded machine under -race can spend them observing).
	tail := s.rig.logs.String()[logged:]
	cut := strings.Contains(tail, `"code":"`+string(rollback.CodeRecheckFailed)+`"`)
	if i := strings.Index(tail, `"code":"`+string(rollback.CodeRecheckFailed)+`"`); i >= 0 {
		tail = tail[i:min(len(tail), i+400)]
	}
	mine := slices.DeleteFunc(slices.Clone(landed), func(e logEntry) bool { return e.key != tg.key() })
	decided := slices.ContainsFunc(resultsOfErr(inv.out, inv.err), func(r rollback.Result) bool {
		return r.Action == rollback.ActionRollback && r.Target == tg.key()
	})
	// The fix changed the target after the transition by API Gateway's dates too (its clock may lag).
	changed := !fix.LastUpdatedDate.Before(transition.Truncate(time.Second))
	switch {
	case variant != 0 && moved(mine):
		s.violate("a re-check moved %s off the fix %s on %s data", tg.key(), fix.DeploymentID, []string{"", "healthy", "old"}[variant])
	case variant == 0 && changed && !decided && inv.err == nil && !cut:
		s.violate("alarm %s stayed in ALARM on breaching data since the fix %s went live on %s, and the tick decided nothing: %s",
			name, fix.DeploymentID, tg.key(), actual(inv.out, inv.err))
	case decided:
		s.stats.recheckDecided++
	}
	if cut {
		s.stats.recheckCut++
		s.logf("the tick's re-check ran out of time: %s: %s", name, tail)
	}
	s.rig.clock.Advance(5 * time.Minute)
	if _, again := s.checked(s.tick()); moved(mine) && moved(slices.DeleteFunc(again, func(e logEntry) bool { return e.key != tg.key() })) {
		s.violate("the tick after the re-check moved %s again", tg.key())
	}
}
