package responder_test

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/budget"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// The budget under load, at a scale of 50: time runs 50 times faster than an account's, so the
// account's API Gateway quota (10 requests per second, burst 40) is the local gateway's
// SetRateLimit(500, 40), Rewind's default budget (2 per second, burst 2) is 100 per second (set in
// the Config, which the environment variable bounds at 10), and Lambda's 30 s invocation is
// scaledTimeout. Bursts are counts and do not scale. The margins the handler keeps (deadlineMargin,
// tickReserve) are real time and do not scale either.
const (
	scaledAccountRate  = 500
	scaledAccountBurst = 40
	scaledBudget       = 100.0
	scaledTimeout      = 3500 * time.Millisecond
	budgetTargets      = 500
	// usable is the part of a tick the observes and checks may use: the timeout less the handler's
	// margin (500 ms) and the tick's reserve (1 s).
	usable = scaledTimeout - 1500*time.Millisecond
	// arrivalSlack allows for a call released on time by the budget arriving late at the gateway on
	// a loaded machine, bunched with the next: 5 calls (50 ms at the scaled budget).
	arrivalSlack = 5
)

// budgetInstance builds a handler as rig.instance does, with the scaled budget in its Config.
func (r *rig) budgetInstance(tb testing.TB, env map[string]string, app string, rate float64, n ...responder.Notifier) *responder.Handler {
	tb.Helper()
	cfg, err := config.FromEnv(withTable(env))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.ControlPlaneBudget = rate
	awsCfg := r.awsConfig(fastRetry)
	awsCfg.AppID = app
	o := responder.Options{Log: slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo})), Now: r.clock.Now, NameTTL: time.Hour}
	if len(n) > 0 {
		o.Notifier = n[0]
	}
	h, err := responder.Build(cfg, awsCfg, o)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// budgetWorld is one REST API, "shop", with two deployments and n stages on the newer, all of them
// in TARGETS.
func budgetWorld(t *testing.T, n int) (*rig, map[string]string, string) {
	return budgetWorldOf(t, n, false)
}

// protectTag is the tag the tagged budget world's stages carry, and its TARGETS selector.
const protectTag, protectSelector = "protect", "rest:tag:rewind=protect"

// budgetWorldOf is budgetWorld; tagged, the stages carry rewind=protect and TARGETS is only the
// selector, so every target is found through the Tagging API.
func budgetWorldOf(t *testing.T, n int, tagged bool) (*rig, map[string]string, string) {
	t.Helper()
	r := newRig(t, scheduleStart)
	r.gw.SetRateLimit(scaledAccountRate, scaledAccountBurst)
	api := r.gw.CreateRestAPI("shop")
	for i := 1; i <= 2; i++ {
		if _, err := r.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: fmt.Sprintf("d%d", i),
			CreatedDate: scheduleStart.Add(time.Duration(i-3) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	targets := make([]string, n)
	for i := range targets {
		stage := fmt.Sprintf("s%03d", i)
		spec := apigwlocal.StageSpec{Name: stage, DeploymentID: "d2"}
		if tagged {
			spec.Tags = map[string]string{"rewind": protectTag}
		}
		if err := r.gw.CreateStage(api.ID, spec); err != nil {
			t.Fatal(err)
		}
		targets[i] = api.ID + "/" + stage
	}
	if tagged {
		return r, map[string]string{config.EnvTargets: protectSelector}, api.ID
	}
	return r, map[string]string{config.EnvTargets: strings.Join(targets, ",")}, api.ID
}

// controlPlane is the API Gateway requests (not DynamoDB's) from app.
func controlPlane(reqs []request, app string) []request {
	var out []request
	for _, q := range reqs {
		if q.ddbOp == "" && q.from(app) {
			out = append(out, q)
		}
	}
	return out
}

// TestBudgetHoldsWhileAnAlarmIsDecided: the schedule observes 500 targets, paced by the budget,
// while another instance decides an alarm for one of them. The alarm's calls never wait and are
// never throttled; the observer's stay within the budget in every window; no call anywhere meets a
// 429; every target is observed within the ticks its budget allows, none twice before all once.
func TestBudgetHoldsWhileAnAlarmIsDecided(t *testing.T) { budgetWhileAnAlarmIsDecided(t, false) }

// The same with the 500 stages found by their tag (TARGETS is rest:tag:rewind=protect): the
// observer's discovery draws on its budget too, and the alarm's warm instance, which listed the
// tagged stages before, decides with the same 4 calls.
func TestBudgetHoldsOver500TaggedStages(t *testing.T) { budgetWhileAnAlarmIsDecided(t, true) }

func budgetWhileAnAlarmIsDecided(t *testing.T, tagged bool) {
	r, env, apiID := budgetWorldOf(t, budgetTargets, tagged)
	observer := r.budgetInstance(t, env, "observer", scaledBudget)
	alarmer := r.budgetInstance(t, env, "alarm", scaledBudget)
	warm := 0 // the alarm's instance's calls before the alarm
	if tagged { // a warm instance: it has listed the tagged stages (5 pages of 100) before the alarm
		ctx, cancel := lambdaCtx(scaledTimeout)
		out, err := alarmer.Handle(ctx, []byte(`{"action":"status","target":"`+apiID+`/s000"}`))
		cancel()
		if err != nil || resultsOf(out)[0].Target != apiID+"/s000" {
			t.Fatalf("warming the alarm's instance: %v %v", out, err)
		}
		warm = len(controlPlane(r.rec.requests(), "alarm"))
	}

	// Each tick observes at least its share over observeCost (2 calls) per target, with a quarter
	// kept for readiness checks (all 500 are due on the first ticks).
	perTick := int(scaledBudget * usable.Seconds() * 3 / 4 / 2)
	maxTicks := int(math.Ceil(float64(budgetTargets) / float64(perTick)))
	var (
		ticks   [][]string     // the targets each tick observed
		spans   [][2]time.Time // when each tick began and ended
		tickErr error
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		seen := map[string]bool{apiID + "/s137": true} // the alarm's rollback sees it (below)
		for range maxTicks {
			ctx, cancel := lambdaCtx(scaledTimeout)
			began := time.Now()
			out, err := observer.Handle(ctx, scheduleTick(r.clock.Now()))
			spans = append(spans, [2]time.Time{began, time.Now()})
			cancel()
			var observed []string
			for _, res := range resultsOfErr(out, err) {
				if res.Action == rollback.ActionObserve {
					observed = append(observed, res.Target)
					seen[res.Target] = true
				}
			}
			ticks = append(ticks, observed)
			if err != nil {
				tickErr = err
				return
			}
			if len(seen) == budgetTargets {
				return
			}
			r.clock.Advance(5 * time.Minute)
		}
	})

	// The alarm comes once the first tick is well under way.
	for len(controlPlane(r.rec.requests(), "observer")) < 100 {
		time.Sleep(5 * time.Millisecond)
	}
	a := alarmDef{name: "shop-s137-5xx", state: "ALARM", at: r.clock.Now().Add(time.Minute), apiName: "shop", stage: "s137"}
	out, err := invoke(alarmer, a.payload(viaSNS))
	if err != nil {
		t.Fatalf("alarm: %v", err)
	}
	if res := resultsOf(out)[0]; res.Outcome != rollback.OutcomeRolledBack || res.Target != apiID+"/s137" || res.From != "d2" || res.To != "d1" {
		t.Fatalf("alarm: %+v, want %s/s137 rolled back d2 -> d1", res, apiID)
	}
	wg.Wait()
	if tickErr != nil {
		t.Fatalf("a tick failed: %v", tickErr)
	}
	reqs := r.rec.requests()

	// The alarm: its few round trips (the name lookup, the stage, the history, the switch), no 429,
	// and all of it while the observer was still at work.
	calls, obs := controlPlane(reqs, "alarm")[warm:], controlPlane(reqs, "observer")
	if len(calls) != 4 {
		t.Errorf("the alarm made %d control-plane calls, want 4 (GetRestApis, GetStage, GetDeployments, UpdateStage): %v", len(calls), paths(calls))
	}
	for _, q := range calls {
		if q.status != http.StatusOK {
			t.Errorf("the alarm's %s %s was answered %d", q.method, q.path, q.status)
		}
	}
	if len(calls) > 0 && (!obs[0].at.Before(calls[0].at) || !obs[len(obs)-1].at.After(calls[len(calls)-1].at)) {
		t.Errorf("the alarm's calls (%s to %s) were not made while the observe was under way (%s to %s)",
			calls[0].at.Format(time.StampMicro), calls[len(calls)-1].at.Format(time.StampMicro), obs[0].at.Format(time.StampMicro), obs[len(obs)-1].at.Format(time.StampMicro))
	}

	if tagged { // the observer found its 500 targets through the Tagging API, 100 a page, within its budget
		listings := 0
		for _, q := range obs {
			if q.method == http.MethodPost && q.path == "/" {
				listings++
			}
		}
		if listings < budgetTargets/100 {
			t.Errorf("the observer made %d Tagging API calls, want at least %d (500 stages, 100 a page)", listings, budgetTargets/100)
		}
	}

	// No call anywhere was throttled: the budget kept the account under its quota.
	for _, c := range r.gw.Calls() {
		if c.Status == http.StatusTooManyRequests {
			t.Fatalf("a call was throttled: %+v", c)
		}
	}

	// The observer's calls stay within the budget: in any window of w seconds at most burst +
	// rate·w, plus the arrival slack.
	worst, worstW := 0.0, 0.0
	for i := range obs {
		for j := i; j < len(obs); j++ {
			w := obs[j].at.Sub(obs[i].at).Seconds()
			over := float64(j-i+1) - (budget.DefaultBurst + scaledBudget*w)
			if over > worst {
				worst, worstW = over, w
			}
		}
	}
	if worst > arrivalSlack {
		t.Errorf("the observer made %.0f calls more than the budget allows within %.3f s", worst, worstW)
	}
	span := obs[len(obs)-1].at.Sub(obs[0].at).Seconds()
	t.Logf("observer: %d control-plane calls in %.2f s (%.0f/s, budget %.0f/s); worst window %.1f calls over its allowance; %d ticks: %v",
		len(obs), span, float64(len(obs))/span, scaledBudget, worst, len(ticks), tickSizes(ticks))

	// Coverage: every target within maxTicks, none observed twice before every one was seen. The
	// alarm's target was seen by its rollback in the first tick (its memory's SeenAt), which counts.
	seen, byTick := map[string]bool{apiID + "/s137": true}, map[string]bool{}
	for k, observed := range ticks {
		for _, tg := range observed {
			if byTick[tg] && len(seen) < budgetTargets {
				t.Fatalf("tick %d observed %s again while %d targets had never been seen", k+1, tg, budgetTargets-len(seen))
			}
			seen[tg], byTick[tg] = true, true
		}
	}
	if len(seen) != budgetTargets {
		t.Fatalf("%d of %d targets observed in %d ticks (at least %d a tick fit the budget)", len(seen), budgetTargets, len(ticks), perTick)
	}

	// Readiness checks (GetExport: one per REST target checked) ran, and in the first tick, when
	// every target still waited to be observed, took no more than their quarter of it.
	first := ticks[0]
	exports := 0
	for _, q := range obs {
		if strings.Contains(q.path, "/exports/") && q.at.After(spans[0][0]) && q.at.Before(spans[0][1]) {
			exports++
		}
	}
	if quarter := scaledBudget * usable.Seconds() / 4; exports == 0 || float64(3*exports) > quarter+arrivalSlack {
		t.Errorf("first tick: %d readiness checks (3 calls each) beside %d observes; want some, within a quarter of the tick (%.0f calls)", exports, len(first), quarter)
	}
}

func paths(reqs []request) []string {
	out := make([]string, len(reqs))
	for i, q := range reqs {
		out[i] = q.method + " " + q.path
	}
	return out
}

func tickSizes(ticks [][]string) []int {
	out := make([]int, len(ticks))
	for i, t := range ticks {
		out[i] = len(t)
	}
	return out
}

// A target added to TARGETS (a new instance's configuration) has never been seen: once every other
// target has been observed, the next tick observes it first. 50 targets at 20 requests a second
// (scaled as above): a tick cannot reach them all.
func TestANewTargetIsObservedBeforeThoseSeen(t *testing.T) {
	const n, rate = 50, 20.0
	r, env, apiID := budgetWorld(t, n)
	tick := func(h *responder.Handler) []string {
		t.Helper()
		ctx, cancel := lambdaCtx(scaledTimeout)
		defer cancel()
		out, err := h.Handle(ctx, scheduleTick(r.clock.Now()))
		if err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(5 * time.Minute)
		var observed []string
		for _, res := range resultsOf(out) {
			if res.Action == rollback.ActionObserve {
				observed = append(observed, res.Target)
			}
		}
		return observed
	}
	observer := r.budgetInstance(t, env, "observer", rate)
	seen := map[string]bool{}
	for k := 1; len(seen) < n; k++ {
		observed := tick(observer)
		if k == 1 && len(observed) == n {
			t.Fatalf("the first tick observed all %d targets: the test needs a tick that cannot", n)
		}
		if k > 3 {
			t.Fatalf("%d of %d targets observed in 3 ticks", len(seen), n)
		}
		for _, tg := range observed {
			seen[tg] = true
		}
	}
	if err := r.gw.CreateStage(apiID, apigwlocal.StageSpec{Name: "new", DeploymentID: "d2"}); err != nil {
		t.Fatal(err)
	}
	env[config.EnvTargets] += "," + apiID + "/new"
	if next := tick(r.budgetInstance(t, env, "next", rate)); len(next) == 0 || next[0] != apiID+"/new" {
		t.Fatalf("the next tick began with %v, want the new target first", next[:min(3, len(next))])
	}
}

// A readiness check the budget cut short (its reads would have come after the deadline) is no
// finding: nothing is noted, nobody is told "not ready", and the check stays due. The first target's
// history is 20 pages where the schedule plans for one: 22 calls at 4 a second do not fit the
// invocation's 2.75 s, though the planned 6 did. The next tick knows what that check takes, leaves it
// for a tick with room, and checks the second target, which is small, instead of being stuck behind.
func TestReadinessCutShortByTheBudgetIsNotNoted(t *testing.T) {
	r := newRig(t, scheduleStart)
	big, small := r.gw.CreateRestAPI("shop"), r.gw.CreateRestAPI("cart")
	const pages = 20
	for i := range pages * 500 {
		if _, err := r.gw.CreateDeployment(big.ID, apigwlocal.DeploymentSpec{ID: fmt.Sprintf("d%05d", i),
			CreatedDate: scheduleStart.Add(time.Duration(i-pages*500) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if _, err := r.gw.CreateDeployment(small.ID, apigwlocal.DeploymentSpec{ID: fmt.Sprintf("c%d", i),
			CreatedDate: scheduleStart.Add(time.Duration(i-2) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.gw.CreateStage(big.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: fmt.Sprintf("d%05d", pages*500-1)}); err != nil {
		t.Fatal(err)
	}
	if err := r.gw.CreateStage(small.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: "c1"}); err != nil {
		t.Fatal(err)
	}
	n := &recordingNotifier{}
	h := r.budgetInstance(t, map[string]string{config.EnvTargets: big.ID + "/prod," + small.ID + "/prod"}, "observer", 4, n)
	tick := func() {
		t.Helper()
		ctx, cancel := lambdaCtx(3250 * time.Millisecond)
		defer cancel()
		if _, err := h.Handle(ctx, scheduleTick(r.clock.Now())); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(5 * time.Minute)
	}
	tick()
	if got := r.gw.CallCount("GetDeployments"); got == 0 || got >= pages {
		t.Fatalf("%d GetDeployments pages read, want the check begun (at least one) and cut short (fewer than %d)", got, pages)
	}
	if !strings.Contains(r.logs.String(), "readiness check cut short by the control-plane budget") {
		t.Errorf("no log line says the check was cut short:\n%s", r.logs.String())
	}
	if mem := mustRecord(t, r.ddb, big.ID+"/prod").Memory; !mem.CheckedAt.IsZero() || mem.NotReady {
		t.Errorf("a check cut short was noted: checked at %v, not ready %v", mem.CheckedAt, mem.NotReady)
	}
	if len(n.got) != 0 {
		t.Errorf("a check cut short notified: %+v", n.got)
	}
	pagesBefore := r.gw.CallCount("GetDeployments")
	tick()
	if mem := mustRecord(t, r.ddb, small.ID+"/prod").Memory; mem.CheckedAt.IsZero() {
		t.Error("the small target was not checked on the next tick: stuck behind the large one")
	}
	if mem := mustRecord(t, r.ddb, big.ID+"/prod").Memory; !mem.CheckedAt.IsZero() {
		t.Error("the large target's check was noted, though it cannot fit the tick")
	}
	if got := r.gw.CallCount("GetDeployments") - pagesBefore; got != 1 {
		t.Errorf("the next tick read %d history pages, want 1 (the small target's): the large check is left for a tick with room", got)
	}
}
