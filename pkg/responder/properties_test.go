package responder_test

// The properties every schedule is held to, stated from Rewind's rules (docs/how-it-decides.md,
// pkg/rollback's Store and Engine contracts), not from the code that carries them out. They are
// judged on what the recorder saw land, in order (recorder_test.go), and on the stages and the memory
// table after each step; nothing here re-implements a decision.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// judge holds what the properties need to know of a world.
type judge struct {
	targets  map[string]bool                 // TARGETS, as apiId/stage
	created  map[string]map[string]time.Time // API id -> deployment id -> creation date
	guardMax int                             // MAX_AUTO_ROLLBACKS_PER_HOUR
	dryRun   bool                            // DRY_RUN
	outside  string                          // an API outside TARGETS: never called at all
	forced   map[int]bool                    // steps that sent a deploy command with force
	oks      map[string][]time.Time          // alarm name -> the state-change times of its OK transitions sent
	dryOnly  map[int]bool                    // steps whose every request was a dry run (or status)
	measured map[string]time.Time            // incident key of an ALARM sent -> the end of the data it judged
	// samples holds, per target, the starts of the one-minute periods of data put on its 5XXError
	// metric, and stillOn the target whose metric each alarm left in ALARM for the schedule's re-check
	// watches: the data such an alarm can have judged.
	samples map[string][]time.Time
	stillOn map[string]string
	violate func(format string, a ...any)
}

// targetState is what judgeLog carries along for one target while it replays the log.
type targetState struct {
	lastMem        *memoryPut      // the latest memory write that landed
	rolledBackFrom map[string]int  // deployments Rewind's rollbacks moved away from (since a clear), at which step
	rewindPut      string          // where Rewind's last rollback put the stage, while no one else changed it
	putBy          *rollback.Claim // the claim of that rollback
	guard          []time.Time     // automatic rollbacks since the last clear (decision clock)
}

// judgeLog replays every write that landed, in order, and checks for each Rewind switch:
//
//	own claim     the latest memory write on the target before the switch is a claim for exactly
//	              this switch (same deployment): no instance switches without holding the claim, so
//	              two decisions never both act, whatever they read;
//	read = live   the stage served the claim's From when the switch arrived (or already its To, a
//	              re-sent switch): a switch never lands on a stage changed after the read it was
//	              decided on (a person's deploy command, which claims too, included);
//	not bad       a rollback never goes to a deployment the memory it read (the claim carries it)
//	              says is known bad, nor to one Rewind's own rollbacks moved away from since the last
//	              clear (the ground truth, whatever the memory says); a deploy does so only when forced;
//	not newer     a rollback only goes to a deployment created before the one it read live;
//	one per incident  at most one switch per incident key;
//	no cascade    an alarm never moves the stage on from where Rewind's own rollback put it while
//	              no one else changed the stage since and that rollback's incident is open: its alarm
//	              has not gone back to OK since, and the loop guard's hour has not passed;
//	loop guard    at most MAX_AUTO_ROLLBACKS_PER_HOUR automatic rollbacks within any hour since a
//	              clear;
//	never on old data  no switch, and no canary removal, by an alarm whose measured data (its newest
//	              datapoint's period end, else its state change) ended more than the dates' second
//	              before what it moved away from went live: at the latest of that deployment's
//	              creation and the stage's last change (a person's deploy, a canary started, a
//	              switch), as the stage stood when the write came;
//
// and for every write: only TARGETS are written (stages and memory items), and Rewind writes nothing
// on a stage but the switch (no variables, no other path).
func (j *judge) judgeLog(entries []logEntry) {
	states := map[string]*targetState{}
	perIncident := map[string]int{}
	for _, e := range entries {
		st := states[e.key]
		if st == nil {
			st = &targetState{rolledBackFrom: map[string]int{}}
			states[e.key] = st
		}
		switch {
		case e.human != "":
			st.rewindPut = ""
		case e.mem != nil:
			j.memoryWritten(e, st)
		case e.patch != nil:
			j.switched(e, st, perIncident)
		}
	}
}

func (j *judge) memoryWritten(e logEntry, st *targetState) {
	if !j.targets[e.key] {
		j.violate("step %d: Rewind's memory item of %s, not in TARGETS, was written", e.step, e.key)
	}
	if e.mem.err != nil {
		j.violate("step %d: a memory write of %s does not decode: %v", e.step, e.key, e.mem.err)
		return
	}
	// A person's clear: the known-bad marks and the loop guard both go (nothing else empties the
	// guard; a forced deploy only takes its own deployment off the known-bad list).
	if m := e.mem.rec.Memory; e.mem.rec.Claim == nil && st.lastMem != nil && len(m.Bad) == 0 && len(m.Guard) == 0 {
		if prev := st.lastMem.rec.Memory; len(prev.Bad) > 0 || len(prev.Guard) > 0 {
			clear(st.rolledBackFrom)
			st.guard = nil
		}
	}
	st.lastMem = e.mem
}

func (j *judge) switched(e logEntry, st *targetState, perIncident map[string]int) {
	p := e.patch
	if !j.targets[e.key] {
		j.violate("step %d: stage %s, not in TARGETS, was written", e.step, e.key)
		return
	}
	if len(p.vars) > 0 || len(p.removed) > 0 || len(p.other) > 0 {
		j.violate("step %d: Rewind wrote more than the switch on %s: variables %v, removed %v, other %v", e.step, e.key, p.vars, p.removed, p.other)
	}
	to := p.deploymentID
	var c *rollback.Claim
	if st.lastMem != nil {
		c = st.lastMem.rec.Claim
	}
	moves := to != "" && e.before.DeploymentID != to
	if removes := p.removeCanary && e.before.Canary != nil; (moves || removes) && c != nil && c.By == rollback.ByAlarm {
		from := e.before.DeploymentID
		if !moves {
			from = e.before.Canary.DeploymentID
		}
		j.notOnOldData(e, c, from)
	}
	if !moves {
		return // a canary removal, or a switch sent again after a lost answer: nothing moves
	}
	if c == nil || c.Plan.To != to {
		j.violate("step %d: %s switched %s -> %s without its own claim (latest memory write: %s)", e.step, e.key, e.before.DeploymentID, to, describeMem(st.lastMem))
		return
	}
	if e.before.DeploymentID != c.Plan.From {
		j.violate("step %d: %s switched to %s on a stage serving %s, not the %s its decision read: a change after the read was overwritten",
			e.step, e.key, to, e.before.DeploymentID, c.Plan.From)
	}
	read := st.lastMem.rec.Memory
	switch c.Plan.Kind {
	case rollback.KindRollback:
		j.rolledBack(e, st, c, read, perIncident)
	case rollback.KindDeploy:
		if read.IsBad(to) && !j.forced[e.step] {
			j.violate("step %d: a deploy without force put %s, known bad, live on %s", e.step, to, e.key)
		}
		delete(st.rolledBackFrom, to)
		st.rewindPut = ""
	}
}

func (j *judge) rolledBack(e logEntry, st *targetState, c *rollback.Claim, read rollback.Memory, perIncident map[string]int) {
	from, to := c.Plan.From, c.Plan.To
	if read.IsBad(to) {
		j.violate("step %d: %s rolled back onto %s, known bad in the memory the decision read (%v)", e.step, e.key, to, read.Bad)
	}
	if at, bad := st.rolledBackFrom[to]; bad {
		j.violate("step %d: %s rolled back onto %s, which Rewind rolled back from at step %d", e.step, e.key, to, at)
	}
	if !j.createdBefore(e.key, to, from) {
		j.violate("step %d: %s rolled back from %s to %s, which was not created before it", e.step, e.key, from, to)
	}
	if c.By == rollback.ByAlarm && st.rewindPut != "" && from == st.rewindPut && j.incidentOpen(st.putBy, c.At) {
		j.violate("step %d: an alarm moved %s on from %s, where Rewind's own rollback had put it, with no other change since: a second rollback", e.step, e.key, from)
	}
	if last := c.Plan.Memory.Last; last != nil && last.Incident != "" {
		if perIncident[last.Incident]++; perIncident[last.Incident] > 1 {
			j.violate("step %d: incident %s switched %s a second time (%s -> %s)", e.step, last.Incident, e.key, from, to)
		}
	}
	if c.By == rollback.ByAlarm && j.guardMax > 0 {
		n := 1
		for _, g := range st.guard {
			if !g.Before(c.At.Add(-time.Hour)) {
				n++
			}
		}
		if n > j.guardMax {
			j.violate("step %d: automatic rollback number %d of %s within an hour; the loop guard allows %d", e.step, n, e.key, j.guardMax)
		}
		st.guard = append(st.guard, c.At)
	}
	st.rolledBackFrom[from] = e.step
	st.rewindPut, st.putBy = to, c
}

// notOnOldData checks the rule "never on old data" for a switch (or canary removal) by an alarm
// away from deployment from.
func (j *judge) notOnOldData(e logEntry, c *rollback.Claim, from string) {
	last := c.Plan.Memory.Last
	if last == nil || last.Incident == "" {
		return
	}
	measured, ok := j.measured[last.Incident]
	if metric, still := j.stillOn[c.Alarm]; !ok && still {
		periods := j.samples[metric]
		// A re-check: the newest period of its metric's data that had ended when the decision was made.
		for _, p := range periods {
			if end := p.Add(time.Minute); !end.After(c.At) && end.After(measured) {
				measured = end
			}
		}
		if measured.IsZero() {
			j.violate("step %d: alarm %s, re-checked, moved %s away from %s with no data of its metric measured by then", e.step, c.Alarm, e.key, from)
			return
		}
		ok = true
	}
	if !ok {
		return
	}
	api := e.key[:len(e.key)-len(stageOf(e.key))-1]
	wentLive := e.before.LastUpdatedDate
	if cr := j.created[api][from]; cr.After(wentLive) {
		wentLive = cr
	}
	if measured.Before(wentLive.Add(-time.Second)) {
		j.violate("step %d: alarm %s (incident %s) moved %s away from %s on data measured until %s, before %s went live there at %s: never on old data",
			e.step, c.Alarm, last.Incident, e.key, from, measured.UTC().Format(time.RFC3339), from, wentLive.UTC().Format(time.RFC3339))
	}
}

// incidentOpen reports whether the rollback claimed by c is still within its incident at now: within
// the loop guard's hour, and its alarm not sent back to OK since.
func (j *judge) incidentOpen(c *rollback.Claim, now time.Time) bool {
	if c == nil || now.Sub(c.At) >= rollback.DefaultGuard.Window {
		return false
	}
	return !slices.ContainsFunc(j.oks[c.Alarm], func(at time.Time) bool { return at.After(c.At) })
}

// createdBefore orders deployments as Rewind's rules do: by creation, ties by id.
func (j *judge) createdBefore(key, a, b string) bool {
	api := key[:len(key)-len(stageOf(key))-1]
	ca, okA := j.created[api][a]
	cb, okB := j.created[api][b]
	if !okA || !okB {
		return false
	}
	if !ca.Equal(cb) {
		return ca.Before(cb)
	}
	return a < b
}

func stageOf(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '/' {
			return key[i+1:]
		}
	}
	return key
}

func describeMem(m *memoryPut) string {
	switch {
	case m == nil:
		return "none"
	case m.rec.Claim != nil:
		return fmt.Sprintf("claim %s %s -> %s", m.rec.Claim.Plan.Kind, m.rec.Claim.Plan.From, m.rec.Claim.Plan.To)
	}
	return fmt.Sprintf("memory v%d", m.rec.Version)
}

// judgeRequests checks every request sent, applied or not: nothing reaches the API outside
// TARGETS; no write goes to a stage or a memory item outside TARGETS; a dry run (the function's,
// or a command's) sends no write to any stage.
func (j *judge) judgeRequests(reqs []request) {
	for _, q := range reqs {
		if q.ddbOp == "" && q.apiID == j.outside {
			j.violate("step %d: a request to the API outside TARGETS: %s %s", q.step, q.method, q.path)
		}
		if !q.write() {
			continue
		}
		if q.ddbOp == "" {
			if q.patch == nil || !j.targets[q.key()] {
				j.violate("step %d: a write outside TARGETS: %s %s", q.step, q.method, q.path)
			}
			if j.dryRun || j.dryOnly[q.step] {
				j.violate("step %d: a stage write in a dry run: %s %s", q.step, q.method, q.path)
			}
			continue
		}
		if q.pk != "" && !j.targets[q.key()] { // (no key: a body cut off by a client that gave up, refused unread)
			j.violate("step %d: a %s of item %s/%s, which is no target's", q.step, q.ddbOp, q.pk, q.sk)
		}
	}
}

// snapshot is one target as a step left it: what the stage serves and Rewind's memory of it.
type snapshot struct {
	live string
	rec  rollback.Record
}

// judgeAgreement checks one target after a quiet step (every invocation returned, none cut by its
// deadline): the memory and the stage agree. When Rewind made the stage's latest change and no
// claim is open, the memory's last change is what the stage serves and the timeline's newest
// sighting is it. With a claim open, the stage serves the claim's From or its To.
func (j *judge) judgeAgreement(step int, key string, s snapshot, rewindLast bool) {
	if !rewindLast {
		return
	}
	if c := s.rec.Claim; c != nil {
		if s.live != c.Plan.From && s.live != c.Plan.To {
			j.violate("step %d: %s serves %s, neither end of the open claim %s -> %s", step, key, s.live, c.Plan.From, c.Plan.To)
		}
		return
	}
	m := s.rec.Memory
	if m.Last == nil || m.Last.To != s.live {
		j.violate("step %d: %s serves %s, where Rewind put it, but its memory's last change is %+v", step, key, s.live, m.Last)
	}
	if n := len(m.Timeline); n == 0 || m.Timeline[n-1].Deployment != s.live {
		j.violate("step %d: %s serves %s, where Rewind put it, but the timeline's newest sighting is not it: %v", step, key, s.live, m.Timeline)
	}
}

// judgeClaims checks the claims a quiet step leaves: no new claim remains, and a claim that was open
// (and expired) when the step began on a target the step acted on is settled: gone, its incident
// handled (but a re-check's claim abandoned, see below), and the memory's last change is the claim's
// when the stage serves what it claimed.
func (j *judge) judgeClaims(step int, key string, before, after snapshot, touched bool) (settled bool) {
	bc, ac := before.rec.Claim, after.rec.Claim
	if ac != nil && (bc == nil || bc.ID != ac.ID) {
		j.violate("step %d: a claim %s -> %s on %s remains after every instance returned", step, ac.Plan.From, ac.Plan.To, key)
		return false
	}
	if bc == nil || !touched {
		return false
	}
	if ac != nil {
		j.violate("step %d: the open claim %s -> %s on %s was not settled by the next invocation", step, bc.Plan.From, bc.Plan.To, key)
		return false
	}
	// A re-check's claim abandoned (nothing switched) is decided again on the data of the next tick's
	// time, which may no longer be enough: its incident is handled only if that decision is made.
	_, recheck := j.stillOn[bc.Alarm]
	if abandoned := after.live == bc.Plan.From; recheck && abandoned {
		return true
	}
	if last := bc.Plan.Memory.Last; last != nil && last.Incident != "" && !slices.Contains(after.rec.Memory.Incidents, last.Incident) {
		j.violate("step %d: settling the claim %s -> %s on %s forgot its incident %s", step, bc.Plan.From, bc.Plan.To, key, last.Incident)
	}
	return true
}

// TestThePropertiesCatchViolations proves each property can fail: hand-made logs that break one
// rule each, judged as a schedule's would be.
func TestThePropertiesCatchViolations(t *testing.T) {
	at := scheduleStart
	created := map[string]time.Time{"d1": at.Add(-3 * time.Hour), "d2": at.Add(-2 * time.Hour), "d3": at.Add(-time.Hour)}
	claim := func(kind rollback.ChangeKind, from, to, incident string, bad ...string) logEntry {
		c := &rollback.Claim{ID: from + to + incident, By: rollback.ByAlarm, At: at,
			Plan: rollback.Plan{Kind: kind, From: from, To: to, Memory: rollback.Memory{Last: &rollback.Change{Kind: kind, From: from, To: to, Incident: incident}}}}
		return logEntry{key: "api/prod", mem: &memoryPut{rec: rollback.Record{Memory: rollback.Memory{Bad: bad}, Claim: c}}}
	}
	move := func(from, to string) logEntry {
		return logEntry{key: "api/prod", patch: &stagePatch{deploymentID: to}, before: apigwlocal.Stage{DeploymentID: from}}
	}
	confirm := logEntry{key: "api/prod", mem: &memoryPut{}}
	for name, log := range map[string][]logEntry{
		"without its own claim":       {move("d3", "d2")},
		"known bad":                   {claim(rollback.KindRollback, "d3", "d2", "i1", "d2"), move("d3", "d2")},
		"not created before":          {claim(rollback.KindRollback, "d2", "d3", "i1"), move("d2", "d3")},
		"a change after the read":     {claim(rollback.KindRollback, "d3", "d2", "i1"), move("d1", "d2")},
		"a second time":               {claim(rollback.KindRollback, "d3", "d2", "i1"), move("d3", "d2"), confirm, {key: "api/prod", human: "d3"}, claim(rollback.KindRollback, "d3", "d2", "i1"), move("d3", "d2")},
		"a second rollback":           {claim(rollback.KindRollback, "d3", "d2", "i1"), move("d3", "d2"), confirm, claim(rollback.KindRollback, "d2", "d1", "i2"), move("d2", "d1")},
		"the loop guard allows 1":     {claim(rollback.KindRollback, "d3", "d2", "i1"), move("d3", "d2"), confirm, {key: "api/prod", human: "d3"}, claim(rollback.KindRollback, "d3", "d1", "i2", "d3"), move("d3", "d1")},
		"more than the switch":        {claim(rollback.KindRollback, "d3", "d2", "i1"), {key: "api/prod", patch: &stagePatch{deploymentID: "d2", vars: map[string]string{"rewind_bad": "d3"}}, before: apigwlocal.Stage{DeploymentID: "d3"}}},
		"not in TARGETS, was written": {{key: "api/dev", patch: &stagePatch{deploymentID: "d2"}, before: apigwlocal.Stage{DeploymentID: "d3"}}},
		"never on old data":           {claim(rollback.KindRollback, "d3", "d2", "old"), {key: "api/prod", patch: &stagePatch{deploymentID: "d2"}, before: apigwlocal.Stage{DeploymentID: "d3", LastUpdatedDate: at}}},
	} {
		var got []string
		j := &judge{targets: map[string]bool{"api/prod": true}, created: map[string]map[string]time.Time{"api": created}, guardMax: 1,
			forced: map[int]bool{}, dryOnly: map[int]bool{}, measured: map[string]time.Time{"old": at.Add(-time.Minute)},
			violate: func(f string, a ...any) { got = append(got, fmt.Sprintf(f, a...)) }}
		if name != "the loop guard allows 1" {
			j.guardMax = 3
		}
		j.judgeLog(log)
		if !slices.ContainsFunc(got, func(v string) bool { return strings.Contains(v, name) }) {
			t.Errorf("%s: the judge said %q", name, got)
		}
	}
	var got []string
	j := &judge{targets: map[string]bool{"api/prod": true}, dryRun: true, outside: "out", violate: func(f string, a ...any) { got = append(got, fmt.Sprintf(f, a...)) }}
	j.judgeRequests([]request{{method: "PATCH", apiID: "api", stage: "prod", patch: &stagePatch{}}, {method: "GET", apiID: "out"}, {method: "POST", ddbOp: "PutItem", pk: "target#api/dev", sk: "memory"}})
	j.judgeAgreement(0, "api/prod", snapshot{live: "d2", rec: rollback.Record{Memory: rollback.Memory{Last: &rollback.Change{To: "d1"}}}}, true)
	open := &rollback.Claim{ID: "c", Plan: rollback.Plan{From: "d3", To: "d2"}}
	j.judgeClaims(0, "api/prod", snapshot{}, snapshot{rec: rollback.Record{Claim: open}}, true)
	j.judgeClaims(0, "api/prod", snapshot{rec: rollback.Record{Claim: open}}, snapshot{rec: rollback.Record{Claim: open}}, true)
	for _, want := range []string{"a stage write in a dry run", "the API outside TARGETS", "which is no target's", "its memory's last change", "remains after every instance returned", "was not settled"} {
		if !slices.ContainsFunc(got, func(v string) bool { return strings.Contains(v, want) }) {
			t.Errorf("%s: the judge said %q", want, got)
		}
	}
}
