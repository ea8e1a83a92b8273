package responder_test

// Instances racing on one stage, with the recorder's gate choosing the interleaving: the memory's
// compare-and-set decides who acts, and whoever loses decides again on what the winner left.

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// raceWorld is API shop with deployments d1..d4 an hour apart and stage prod serving d3: d2 is the
// rollback's destination, d1 another good one a person may choose.
type raceWorld struct {
	*rig
	api string
}

func newRaceWorld(t *testing.T) raceWorld {
	t.Helper()
	r := newRig(t, scheduleStart)
	api := r.gw.CreateRestAPI("shop")
	for i := 1; i <= 4; i++ {
		if _, err := r.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: fmt.Sprintf("d%d", i),
			CreatedDate: scheduleStart.Add(time.Duration(i-5) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: "d3"}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(10 * time.Minute)
	return raceWorld{rig: r, api: api.ID}
}

func (w raceWorld) key() string            { return w.api + "/prod" }
func (w raceWorld) env() map[string]string { return map[string]string{config.EnvTargets: w.key()} }
func (w raceWorld) live(t *testing.T) string {
	st, _ := w.gw.Stage(w.api, "prod")
	return st.DeploymentID
}
func (w raceWorld) alarm(at time.Time) alarmDef {
	return alarmDef{name: "shop-5xx", state: "ALARM", at: at, apiName: "shop", stage: "prod"}
}

// switches counts the switches that moved the stage.
func (w raceWorld) switches() int {
	n := 0
	for _, e := range w.rec.entries() {
		if e.patch != nil && e.patch.deploymentID != "" && e.before.DeploymentID != e.patch.deploymentID {
			n++
		}
	}
	return n
}

// waitFor waits until cond holds of the recorder's log.
func (w raceWorld) waitFor(t *testing.T, cond func([]logEntry) bool) {
	t.Helper()
	for range 5000 {
		if cond(w.rec.entries()) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Error("the awaited write never landed")
}

// claimedBy reports whether a claim made for who has landed.
func claimedBy(who rollback.By) func([]logEntry) bool {
	return func(es []logEntry) bool {
		return slices.ContainsFunc(es, func(e logEntry) bool { return e.mem != nil && e.mem.rec.Claim != nil && e.mem.rec.Claim.By == who })
	}
}

// confirmedBy reports whether a change made for who has been recorded.
func confirmedBy(who rollback.By) func([]logEntry) bool {
	return func(es []logEntry) bool {
		return slices.ContainsFunc(es, func(e logEntry) bool {
			return e.mem != nil && e.mem.rec.Claim == nil && e.mem.rec.Memory.Last != nil && e.mem.rec.Memory.Last.By == who
		})
	}
}

// raceOrders are the interleavings TestAPersonsDeployWinsOverAnAlarmOfBefore forces.
var raceOrders = []string{"alarm-claims-first", "person-claims-first", "alarm-done-before-person-reads",
	"person-done-before-alarm-reads", "person-reads-stage-before-alarm-switch"}

// gateRace holds the two instances' requests as order says; apps are "alarm" and "person".
func (w raceWorld) gateRace(t *testing.T, order string) {
	var mu sync.Mutex
	firstClaim := map[string]chan struct{}{"alarm": make(chan struct{}), "person": make(chan struct{})}
	gated := map[string]bool{}
	claimGate := func(q request, app, other string, winner bool) <-chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if gated[app] {
			return nil // only each instance's first claim waits
		}
		gated[app] = true
		if gated[other] { // both have read and decided: let the winner's claim in, the loser's after it
			win, lose := app, other
			if !winner {
				win, lose = other, app
			}
			close(firstClaim[win])
			go func() { w.waitFor(t, claimedBy(byOf(win))); close(firstClaim[lose]) }()
		}
		return firstClaim[app]
	}
	w.rec.hold(func(q request) <-chan struct{} {
		for _, app := range []string{"alarm", "person"} {
			other := map[string]string{"alarm": "person", "person": "alarm"}[app]
			if !q.from(app) {
				continue
			}
			switch order {
			case "alarm-claims-first", "person-claims-first":
				if isClaim(q) {
					return claimGate(q, app, other, order == app+"-claims-first")
				}
			case "alarm-done-before-person-reads", "person-done-before-alarm-reads":
				if order == other+"-done-before-"+app+"-reads" {
					return w.after(t, confirmedBy(byOf(other)))
				}
			case "person-reads-stage-before-alarm-switch":
				if app == "person" && q.ddbOp == "GetItem" {
					return w.after(t, confirmedBy(rollback.ByAlarm))
				}
			}
		}
		return nil
	})
}

func byOf(app string) rollback.By {
	if app == "alarm" {
		return rollback.ByAlarm
	}
	return rollback.ByManual
}

// after is a channel closed once cond holds of the log.
func (w raceWorld) after(t *testing.T, cond func([]logEntry) bool) <-chan struct{} {
	ch := make(chan struct{})
	go func() { w.waitFor(t, cond); close(ch) }()
	return ch
}

// TestAPersonsDeployWinsOverAnAlarmOfBefore: a person's {"action":"deploy"} of d1 and an alarm that
// fired a few seconds before it reach two instances at the same moment, in every interleaving of
// their reads and writes. Whoever claims first, the stage ends on the person's choice: d1 live, d1
// not known bad. (Either the alarm's rollback lands first and the deploy, deciding again, follows it;
// or the deploy lands first and the alarm, older than what is live, is stale.)
func TestAPersonsDeployWinsOverAnAlarmOfBefore(t *testing.T) {
	runs := 0
	for round := range 5 {
		for _, order := range raceOrders {
			runs++
			t.Run(fmt.Sprintf("%s/%d", order, round), func(t *testing.T) {
				t.Parallel()
				w := newRaceWorld(t)
				alarm := w.instance(t, w.env(), "alarm", responder.Options{})
				person := w.instance(t, w.env(), "person", responder.Options{})
				w.gateRace(t, order)
				a := w.alarm(w.clock.Now().Add(-4 * time.Second))
				payloads := map[*responder.Handler][]byte{alarm: a.payload(viaSNS), person: []byte(`{"action":"deploy","deploymentId":"d1"}`)}
				errs := map[*responder.Handler]error{}
				var mu sync.Mutex
				var wg sync.WaitGroup
				for h, p := range payloads {
					wg.Go(func() {
						_, err := invoke(h, p)
						mu.Lock()
						errs[h] = err
						mu.Unlock()
					})
				}
				wg.Wait()
				w.rec.hold(nil)
				if errs[person] != nil {
					t.Errorf("the person's deploy failed: %v", errs[person])
				}
				if got := w.live(t); got != "d1" {
					t.Errorf("stage serves %s, want the person's d1 (alarm: %v)", got, errs[alarm])
				}
				rec := mustRecord(t, w.ddb, w.key())
				if rec.Memory.IsBad("d1") || rec.Claim != nil {
					t.Errorf("memory: bad %v, claim %+v: want d1 not known bad and no claim open", rec.Memory.Bad, rec.Claim)
				}
				if rec.Memory.Last == nil || rec.Memory.Last.To != "d1" || rec.Memory.Last.Kind != rollback.KindDeploy {
					t.Errorf("the last change recorded is %+v, want the deploy to d1", rec.Memory.Last)
				}
			})
		}
	}
	if runs < 20 {
		t.Fatalf("only %d runs", runs)
	}
}

// TestTheSameAlarmOnTwoInstancesSwitchesOnce: one notification delivered to two instances at once,
// both reading the same memory before either claims: exactly one switch, one rolled-back answer and
// one repeat.
func TestTheSameAlarmOnTwoInstancesSwitchesOnce(t *testing.T) {
	for round := range 20 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			t.Parallel()
			w := newRaceWorld(t)
			h := []*responder.Handler{w.instance(t, w.env(), "one", responder.Options{}), w.instance(t, w.env(), "two", responder.Options{})}
			var mu sync.Mutex
			claims, release := 0, make(chan struct{})
			w.rec.hold(func(q request) <-chan struct{} {
				if !isClaim(q) {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				if claims++; claims == 2 {
					close(release) // both decided on the same read
				}
				if claims > 2 {
					return nil
				}
				return release
			})
			payload := w.alarm(w.clock.Now().Add(-2 * time.Second)).payload(viaSNS)
			codes := make([]rollback.Code, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() {
					out, err := invoke(h[i], payload)
					if err != nil {
						t.Errorf("instance %d: %v", i, err)
						return
					}
					codes[i] = resultsOf(out)[0].Code
				})
			}
			wg.Wait()
			slices.Sort(codes)
			if want := []rollback.Code{rollback.CodeRepeat, rollback.CodeRolledBack}; !slices.Equal(codes, want) {
				t.Errorf("codes %v, want %v", codes, want)
			}
			if n := w.switches(); n != 1 || w.live(t) != "d2" {
				t.Errorf("%d switches, stage serves %s; want one switch to d2", n, w.live(t))
			}
		})
	}
}

// TestConcurrentObserveKeepsTheRollbacksMemory: the scheduled observe reads the stage and the memory,
// an alarm's rollback lands, then the observe's write arrives. It was decided on a memory that is no
// longer there: it must not put back the known-bad list, the handled incidents and the last change
// it read, or Rewind forgets the deployment it just rolled back from and rolls back a second time on
// the incident's next alarm. The compare-and-set refuses it and the observe decides again.
func TestConcurrentObserveKeepsTheRollbacksMemory(t *testing.T) {
	w := newRaceWorld(t)
	alarm := w.instance(t, w.env(), "alarm", responder.Options{})
	observer := w.instance(t, w.env(), "observer", responder.Options{})
	held := make(chan struct{})
	var once sync.Once
	w.rec.hold(func(q request) <-chan struct{} {
		if q.from("observer") && isConfirm(q) {
			var wait <-chan struct{}
			once.Do(func() { close(held); wait = w.after(t, confirmedBy(rollback.ByAlarm)) })
			return wait
		}
		return nil
	})
	observed := make(chan error, 1)
	go func() {
		_, err := invoke(observer, scheduleTick(w.clock.Now()))
		observed <- err
	}()
	select {
	case <-held:
	case err := <-observed:
		t.Fatalf("the observe did not write: %v", err)
	}
	a := w.alarm(w.clock.Now().Add(-1500 * time.Millisecond))
	out, err := invoke(alarm, a.payload(viaSNS))
	if err != nil {
		t.Fatal(err)
	}
	if r := resultsOf(out)[0]; r.Code != rollback.CodeRolledBack || r.From != "d3" || r.To != "d2" {
		t.Fatalf("alarm: %+v", r)
	}
	if err := <-observed; err != nil {
		t.Errorf("the observe, which lost the compare-and-set: %v", err)
	}
	w.rec.hold(nil)
	mem := mustRecord(t, w.ddb, w.key()).Memory
	if !mem.IsBad("d3") || !slices.Contains(mem.Incidents, a.incident()) || mem.Last == nil || mem.Last.To != "d2" {
		t.Errorf("after the race the memory is bad=%v incidents=%v last=%+v: the observe's stale write undid the rollback's record", mem.Bad, mem.Incidents, mem.Last)
	}
	if n := len(mem.Timeline); n == 0 || mem.Timeline[n-1].Deployment != "d2" {
		t.Errorf("the timeline's newest sighting is not d2, which is live: %v", mem.Timeline)
	}
	second := alarmDef{name: "shop-p99", state: "ALARM", at: w.clock.Now().Add(-time.Second), apiName: "shop", stage: "prod"}
	out, err = invoke(alarm, second.payload(viaSNS))
	if err != nil || resultsOf(out)[0].Code != rollback.CodeStillServing {
		t.Errorf("second alarm of the incident: %s %v; want still-serving, the stage already moved once", actual(out, err), err)
	}
	if w.live(t) != "d2" || w.switches() != 1 {
		t.Errorf("stage serves %s after %d switches, want d2 after one", w.live(t), w.switches())
	}
}

// TestAnObserveThatReadTheStageBeforeARollbackRecordsWhatIsLive: the observe's two reads run in
// parallel; here its stage read comes before an alarm's rollback and its memory read after it (the
// rollback's record, no claim). It must not record the deployment the stage no longer serves as
// live: the timeline's newest sighting is what the stage serves.
func TestAnObserveThatReadTheStageBeforeARollbackRecordsWhatIsLive(t *testing.T) {
	w := newRaceWorld(t)
	alarm := w.instance(t, w.env(), "alarm", responder.Options{})
	observer := w.instance(t, w.env(), "observer", responder.Options{})
	var once sync.Once
	w.rec.hold(func(q request) <-chan struct{} {
		if q.from("observer") && q.ddbOp == "GetItem" {
			var wait <-chan struct{}
			once.Do(func() { wait = w.after(t, confirmedBy(rollback.ByAlarm)) })
			return wait
		}
		return nil
	})
	observed := make(chan error, 1)
	go func() {
		_, err := invoke(observer, scheduleTick(w.clock.Now()))
		observed <- err
	}()
	w.waitFor(t, func([]logEntry) bool {
		return slices.ContainsFunc(w.rec.requests(), func(q request) bool {
			return q.from("observer") && q.method == "GET" && q.stage == "prod" && q.status == 200
		})
	})
	a := w.alarm(w.clock.Now().Add(-1500 * time.Millisecond))
	if out, err := invoke(alarm, a.payload(viaSNS)); err != nil || resultsOf(out)[0].Code != rollback.CodeRolledBack {
		t.Fatalf("alarm: %s %v", actual(out, err), err)
	}
	if err := <-observed; err != nil {
		t.Errorf("observe: %v", err)
	}
	w.rec.hold(nil)
	mem := mustRecord(t, w.ddb, w.key()).Memory
	if n := len(mem.Timeline); n == 0 || mem.Timeline[n-1].Deployment != w.live(t) {
		t.Errorf("the stage serves %s but the timeline's newest sighting says otherwise: %v", w.live(t), mem.Timeline)
	}
	b, _ := json.Marshal(mem.Timeline)
	t.Logf("timeline: %s", b)
}
