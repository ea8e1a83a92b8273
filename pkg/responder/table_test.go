package responder_test

// The decision table: one tiny scenario per rule of docs/how-it-decides.md, each with the
// outcome and code the rule says, run through the handler over the wire. It replaces a line-by-line
// model of the rules: every row is written from the documentation, not from decide.go.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// tableWorld is API shop with d1..d4 created 4, 3, 2 and 1 hours before the start, stage prod, and
// API other (stage prod) outside TARGETS.
type tableWorld struct {
	*rig
	api, other string
	fired      time.Time // when the rows' alarms changed state, unless a row says otherwise
}

func (w *tableWorld) key() string { return w.api + "/prod" }

// alarm is alarm name on shop/prod (or on apiName's prod), changed to state at w.fired.
func (w *tableWorld) alarm(name, state, apiName string) alarmDef {
	return alarmDef{name: name, state: state, at: w.fired, apiName: apiName, stage: "prod"}
}

func (w *tableWorld) sns(name string) []byte { return w.alarm(name, "ALARM", "shop").payload(viaSNS) }

// row is one scenario: the stage's set-up, what is delivered first, the input, and what the rule says.
type row struct {
	rule     string // the rule (its number in docs/how-it-decides.md) the row checks
	live     string
	fallback string
	canary   bool
	env      map[string]string
	mem      *rollback.Memory
	before   []func(w *tableWorld) []byte
	send     func(w *tableWorld) []byte
	outcome  rollback.Outcome
	code     rollback.Code
	by       rollback.Rule // the plan's rule, when it has one
	to       string        // where the answer says the stage goes (or stays)
}

func cmd(s string) func(*tableWorld) []byte { return func(*tableWorld) []byte { return []byte(s) } }

func alarmNamed(name string) func(*tableWorld) []byte {
	return func(w *tableWorld) []byte { return w.sns(name) }
}

var decisionTable = []row{
	{rule: "1 only ALARM acts: INSUFFICIENT_DATA", live: "d3", send: func(w *tableWorld) []byte { return w.alarm("shop-5xx", "INSUFFICIENT_DATA", "shop").payload(viaSNS) },
		outcome: rollback.OutcomeIgnored, code: rollback.CodeNotAlarmState},
	{rule: "1 only ALARM acts: OK is recorded, the stage untouched", live: "d3", send: func(w *tableWorld) []byte { return w.alarm("shop-5xx", "OK", "shop").payload(viaSNS) },
		outcome: rollback.OutcomeOK, code: rollback.CodeOKRecorded, to: "d3"},
	{rule: "2 another account", live: "d3", send: func(w *tableWorld) []byte {
		a := w.alarm("shop-5xx", "ALARM", "shop")
		a.account = "999988887777"
		return a.payload(viaSNS)
	}, outcome: rollback.OutcomeIgnored, code: rollback.CodeOtherAccount},
	{rule: "2 an API outside TARGETS", live: "d3", send: func(w *tableWorld) []byte { return w.alarm("other-5xx", "ALARM", "other").payload(viaSNS) },
		outcome: rollback.OutcomeIgnored, code: rollback.CodeNoTarget},
	{rule: "5 newest created before the live one", live: "d3", send: alarmNamed("shop-5xx"),
		outcome: rollback.OutcomeRolledBack, code: rollback.CodeRolledBack, by: rollback.RulePrevious, to: "d2"},
	{rule: "5 never to a newer deployment", live: "d2", send: alarmNamed("shop-5xx"),
		outcome: rollback.OutcomeRolledBack, code: rollback.CodeRolledBack, by: rollback.RulePrevious, to: "d1"},
	{rule: "3 the same notification again", live: "d3", before: []func(*tableWorld) []byte{alarmNamed("shop-5xx")}, send: alarmNamed("shop-5xx"),
		outcome: rollback.OutcomeSkipped, code: rollback.CodeRepeat, to: "d2"},
	{rule: "3 a second alarm while the stage serves Rewind's rollback", live: "d3", before: []func(*tableWorld) []byte{alarmNamed("shop-5xx")},
		send: alarmNamed("shop-p99"), outcome: rollback.OutcomeSkipped, code: rollback.CodeStillServing, to: "d2"},
	{rule: "3 an alarm older than the live deployment is stale", live: "d3", send: func(w *tableWorld) []byte {
		a := w.alarm("shop-5xx", "ALARM", "shop")
		a.at = scheduleStart.Add(-2*time.Hour - 10*time.Minute)
		return a.payload(viaSNS)
	}, outcome: rollback.OutcomeSkipped, code: rollback.CodeStale, to: "d3"},
	{rule: "3 force overrides still-serving", live: "d3", before: []func(*tableWorld) []byte{alarmNamed("shop-5xx")},
		send: cmd(`{"action":"rollback","force":true}`), outcome: rollback.OutcomeRolledBack, code: rollback.CodeRolledBack, by: rollback.RulePrevious, to: "d1"},
	{rule: "4 an active canary is removed, the stage stays", live: "d3", canary: true, send: alarmNamed("shop-5xx"),
		outcome: rollback.OutcomeRolledBack, code: rollback.CodeCanaryRemoved, by: rollback.RuleCanary, to: "d3"},
	{rule: "5 the pinned fallback", live: "d3", fallback: "d1", send: alarmNamed("shop-5xx"),
		outcome: rollback.OutcomeRolledBack, code: rollback.CodeRolledBack, by: rollback.RuleFallback, to: "d1"},
	{rule: "5 the pinned fallback already live", live: "d1", fallback: "d1", send: alarmNamed("shop-5xx"),
		outcome: rollback.OutcomeSkipped, code: rollback.CodeOnFallback, to: "d1"},
	{rule: "5 the pinned fallback known bad", live: "d3", fallback: "d1", mem: &rollback.Memory{Bad: []string{"d1"}}, send: alarmNamed("shop-5xx"),
		outcome: rollback.OutcomeFailed, code: rollback.CodeFallbackKnownBad},
	{rule: "7 the pinned fallback does not exist", live: "d3", fallback: "d9", send: alarmNamed("shop-5xx"),
		outcome: rollback.OutcomeFailed, code: rollback.CodeFallbackMissing},
	{rule: "5 the timeline: seen live on this stage, not merely created", live: "d3", mem: &rollback.Memory{Timeline: []rollback.Sighting{
		{Deployment: "d1", Since: scheduleStart.Add(-4 * time.Hour), How: rollback.HowObserved},
		{Deployment: "d3", Since: scheduleStart.Add(-2 * time.Hour), How: rollback.HowObserved}}},
		send: alarmNamed("shop-5xx"), outcome: rollback.OutcomeRolledBack, code: rollback.CodeRolledBack, by: rollback.RuleTimeline, to: "d1"},
	{rule: "5 known bad is skipped", live: "d4", mem: &rollback.Memory{Bad: []string{"d3"}}, send: alarmNamed("shop-5xx"),
		outcome: rollback.OutcomeRolledBack, code: rollback.CodeRolledBack, by: rollback.RulePrevious, to: "d2"},
	{rule: "7 nothing earlier", live: "d1", send: alarmNamed("shop-5xx"), outcome: rollback.OutcomeFailed, code: rollback.CodeNothingEarlier},
	{rule: "6 the loop guard", live: "d3", mem: guarded(), send: alarmNamed("shop-5xx"), outcome: rollback.OutcomeFailed, code: rollback.CodeLoopGuard},
	{rule: "6 a manual rollback is not limited", live: "d3", mem: guarded(), send: cmd(`{"action":"rollback"}`),
		outcome: rollback.OutcomeRolledBack, code: rollback.CodeRolledBack, by: rollback.RulePrevious, to: "d2"},
	{rule: "6 clear resets the guard and the known-bad marks", live: "d3", mem: withBad(guarded(), "d2"), before: []func(*tableWorld) []byte{cmd(`{"action":"clear"}`)},
		send: func(w *tableWorld) []byte { // an alarm after the clear
			a := w.alarm("shop-5xx", "ALARM", "shop")
			a.at = w.clock.Now().Add(-1500 * time.Millisecond)
			return a.payload(viaSNS)
		}, outcome: rollback.OutcomeRolledBack, code: rollback.CodeRolledBack, by: rollback.RulePrevious, to: "d2"},
	{rule: "7 deploy of a deployment that does not exist", live: "d3", send: cmd(`{"action":"deploy","deploymentId":"d9"}`),
		outcome: rollback.OutcomeFailed, code: rollback.CodeUnknownDeployment},
	{rule: "deploy of a known-bad deployment needs force", live: "d3", mem: &rollback.Memory{Bad: []string{"d4"}}, send: cmd(`{"action":"deploy","deploymentId":"d4"}`),
		outcome: rollback.OutcomeFailed, code: rollback.CodeKnownBad},
	{rule: "deploy with force", live: "d3", mem: &rollback.Memory{Bad: []string{"d4"}}, send: cmd(`{"action":"deploy","deploymentId":"d4","force":true}`),
		outcome: rollback.OutcomeDeployed, code: rollback.CodeDeployed, by: rollback.RuleNamed, to: "d4"},
	{rule: "9 a dry run plans and writes nothing", live: "d3", env: map[string]string{config.EnvDryRun: "true"}, send: alarmNamed("shop-5xx"),
		outcome: rollback.OutcomePlanned, code: rollback.CodeRolledBack, by: rollback.RulePrevious, to: "d2"},
}

// guarded is a memory holding three automatic rollbacks within the last hour (the default guard's
// limit) at the table's start.
func guarded() *rollback.Memory {
	now := scheduleStart.Add(10 * time.Minute)
	return &rollback.Memory{Guard: []time.Time{now.Add(-50 * time.Minute), now.Add(-30 * time.Minute), now.Add(-10 * time.Minute)}}
}

func withBad(m *rollback.Memory, bad ...string) *rollback.Memory {
	m.Bad = append(m.Bad, bad...)
	return m
}

func newTableWorld(t *testing.T, r row) *tableWorld {
	t.Helper()
	w := &tableWorld{rig: newRig(t, scheduleStart)}
	for _, name := range []string{"shop", "other"} {
		api := w.gw.CreateRestAPI(name)
		for i := 1; i <= 4; i++ {
			if _, err := w.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: fmt.Sprintf("d%d", i),
				CreatedDate: scheduleStart.Add(time.Duration(i-5) * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		spec := apigwlocal.StageSpec{Name: "prod", DeploymentID: r.live}
		if name == "shop" && r.canary {
			spec.Canary = &apigwlocal.Canary{DeploymentID: "d4", PercentTraffic: 10}
		}
		if err := w.gw.CreateStage(api.ID, spec); err != nil {
			t.Fatal(err)
		}
		if name == "shop" {
			w.api = api.ID
		} else {
			w.other = api.ID
		}
	}
	if r.mem != nil {
		w.seed(t, w.key(), *r.mem)
	}
	w.clock.Advance(10 * time.Minute)
	w.fired = w.clock.Now().Add(-1500 * time.Millisecond)
	return w
}

func TestDecisionTable(t *testing.T) {
	if n := len(decisionTable); n < 15 || n > 25 {
		t.Fatalf("%d rows: the table is meant to stay small", n)
	}
	for _, r := range decisionTable {
		t.Run(r.rule, func(t *testing.T) {
			t.Parallel()
			w := newTableWorld(t, r)
			env := map[string]string{config.EnvTargets: w.key()}
			if r.fallback != "" {
				env[config.EnvTargets] += "@" + r.fallback
			}
			for k, v := range r.env {
				env[k] = v
			}
			h := w.handler(t, env, fastRetry, nil)
			for _, b := range r.before {
				if _, err := invoke(h, b(w)); err != nil {
					t.Fatalf("set-up: %v", err)
				}
			}
			w.clock.Advance(time.Minute)
			writes := len(w.rec.stageWrites())
			out, err := invoke(h, r.send(w))
			res := resultsOfErr(out, err)
			if len(res) != 1 {
				t.Fatalf("%d results (%v)", len(res), err)
			}
			got := res[0]
			if got.Outcome != r.outcome || got.Code != r.code || (r.by != "" && got.Rule != r.by) || (r.to != "" && got.To != r.to) {
				t.Errorf("got %s/%s by %q to %s (%s); want %s/%s by %q to %s", got.Outcome, got.Code, got.Rule, got.To, got.Reason, r.outcome, r.code, r.by, r.to)
			}
			if failed := r.outcome == rollback.OutcomeFailed; failed != (err != nil) || (failed && !slices.Equal(failedCodes(err), []rollback.Code{r.code})) {
				t.Errorf("err = %v; want an error exactly when the outcome is failed, with code %s", err, r.code)
			}
			w.checkStage(t, r, got, len(w.rec.stageWrites())-writes)
		})
	}
}

// checkStage: a change lands where the answer says (a canary removal keeps the deployment and drops
// the canary); anything else writes nothing to the stage.
func (w *tableWorld) checkStage(t *testing.T, r row, got rollback.Result, writes int) {
	t.Helper()
	st, _ := w.gw.Stage(w.api, "prod")
	changed := r.outcome == rollback.OutcomeRolledBack || r.outcome == rollback.OutcomeDeployed
	switch {
	case changed && st.DeploymentID != got.To:
		t.Errorf("stage serves %s, the answer says %s", st.DeploymentID, got.To)
	case changed && r.canary && st.Canary != nil:
		t.Errorf("the canary is still there: %+v", st.Canary)
	case !changed && writes != 0:
		t.Errorf("%d writes reached the stage for a decision that changes nothing", writes)
	}
}
