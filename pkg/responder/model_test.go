package responder_test

// This file holds what the reliability tests (schedule_test.go, faults_test.go, hostile_test.go)
// share: a rig (a local API Gateway behind a recording proxy, a controllable clock, handlers built
// the way main builds them, captured logs) and a reference model of Rewind's rules.
//
// The model is written from the rules as documented (rollback.DecideRollback and friends), not by
// calling them: it keeps a stage as plain Go values (no stage-variable encoding, no SDK), so a
// schedule whose real outcome differs from the model's shows a bug in the wire, the memory's
// encoding, the handler, concurrency, or the rules themselves.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rewind-sre/rewind/pkg/apigwlocal"
	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
)

// The account and region the rig's function runs in, and credentials that must never be logged.
const (
	rigAccount      = "123456789012"
	rigRegion       = "us-east-1"
	rigAccessKey    = "AKIAREWINDTESTKEY001"
	rigSecretKey    = "rewindSecretKey/do+not+log/0123456789abcdefXYZ"
	rigSessionToken = "IQoJb3JpZ2luREWINDSESSIONTOKEN/do+not+log/9876543210"
	rigFunctionARN  = "arn:aws:lambda:" + rigRegion + ":" + rigAccount + ":function:rewind"
)

// fastRetry is the production policy's shape with millisecond delays, so a test of many faults
// stays quick; awsretry.Default itself is used where its real timing is the point.
var fastRetry = awsretry.Policy{MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// simClock is a clock a test moves by hand. The local API Gateway (dates it hands out) and the
// engine (when it decides) share one, so "the alarm fired after the deployment went live" is exact.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lockedBuffer is an io.Writer several handlers may log to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// rig is one local API Gateway on a loopback port, behind a proxy that records every request.
type rig struct {
	gw    *apigwlocal.Server
	url   string
	clock *simClock
	rec   *recorder
	logs  *lockedBuffer
}

// newRig starts a rig whose clock starts at start. It is closed when tb ends.
func newRig(tb testing.TB, start time.Time) *rig {
	tb.Helper()
	r, stop := startRig(start, 0)
	tb.Cleanup(stop)
	return r
}

// startRig starts a rig whose API Gateway's clock runs skew behind the rig's (CloudWatch's and
// Lambda's): services' clocks are not one clock. stop closes it.
func startRig(start time.Time, skew time.Duration) (*rig, func()) {
	clock := &simClock{t: start}
	gwNow := func() time.Time { return clock.Now().Add(-skew) }
	gw := apigwlocal.New(apigwlocal.Options{Region: rigRegion, AccountID: rigAccount, Now: gwNow})
	rec := &recorder{next: gw, gw: gw, conns: map[net.Conn]http.ConnState{}}
	srv := httptest.NewUnstartedServer(rec)
	srv.Config.ConnState = rec.connState
	srv.Start()
	return &rig{gw: gw, url: srv.URL, clock: clock, rec: rec, logs: &lockedBuffer{}}, srv.Close
}

// handler builds a responder the way functions/responder/main.go does (config from the
// environment, the loop guard from MAX_AUTO_ROLLBACKS_PER_HOUR, one JSON logger), over the real SDK
// client pointed at the rig. Each call is a separate instance: its own client and name cache, like
// a separate Lambda sandbox. Logs go to logs (the rig's when nil) at debug level, the most a
// deployment could log.
func (r *rig) handler(tb testing.TB, env map[string]string, policy awsretry.Policy, logs io.Writer) *responder.Handler {
	tb.Helper()
	h, err := r.newHandler(env, policy, logs)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func (r *rig) newHandler(env map[string]string, policy awsretry.Policy, logs io.Writer) (*responder.Handler, error) {
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	if logs == nil {
		logs = r.logs
	}
	awsCfg := aws.Config{
		Region:       rigRegion,
		BaseEndpoint: aws.String(r.url),
		Credentials:  credentials.NewStaticCredentialsProvider(rigAccessKey, rigSecretKey, rigSessionToken),
		Retryer:      func() aws.Retryer { return policy.Retryer() },
	}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return responder.Build(cfg, awsCfg, responder.Options{Log: log, Now: r.clock.Now, NameTTL: time.Hour})
}

// lambdaCtx is what Lambda passes an invocation: the function's ARN (its account and region) and a
// deadline.
func lambdaCtx(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "rig", InvokedFunctionArn: rigFunctionARN}), cancel
}

// invoke runs one invocation with Lambda's 30 s timeout (template.yaml).
func invoke(h *responder.Handler, payload []byte) (any, error) {
	ctx, cancel := lambdaCtx(30 * time.Second)
	defer cancel()
	return h.Handle(ctx, payload)
}

// resultsOf flattens a handler's answer into its results.
func resultsOf(out any) []rollback.Result {
	switch v := out.(type) {
	case responder.Answer:
		return v.Results
	case rollback.Result:
		return []rollback.Result{v}
	}
	return nil
}

// recorder is the proxy in front of the local API Gateway. It keeps every request with the step of
// the test that sent it and, for a write, what it asked for, the stage as it stood when it came, and
// whether it was applied; and it knows when nothing is being served, so a test reads the stage only
// after every call a client gave up on has settled.
type recorder struct {
	next http.Handler
	gw   *apigwlocal.Server

	step     atomic.Int64
	inflight atomic.Int64

	mu    sync.Mutex
	reqs  []request
	log   []logEntry // applied writes and people's changes, in the order they happened
	conns map[net.Conn]http.ConnState
	gate  func(request) <-chan struct{} // when it returns a channel, the request waits for it to close
}

// hold makes requests for which gate returns a channel wait until it is closed; nil lets all pass.
func (rc *recorder) hold(gate func(request) <-chan struct{}) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.gate = gate
}

// request is one control-plane request as the recorder saw it.
type request struct {
	step         int
	method, path string
	apiID, stage string      // from the path, when it names them
	patch        *stagePatch // UpdateStage only
	before       apigwlocal.Stage
}

// logEntry is an applied UpdateStage, or a person's change of a stage (human set).
type logEntry struct {
	step  int
	key   string // restApiId/stage
	patch *stagePatch
	human string // the deployment a person put live
}

// stagePatch is what an UpdateStage asked for.
type stagePatch struct {
	deploymentID string            // "" when the stage is not moved
	vars         map[string]string // variables replaced
	removed      []string          // variables removed
	removeCanary bool
}

// write reports whether a request asks to change something.
func (q request) write() bool { return q.method != http.MethodGet && q.method != http.MethodHead }

// memory decodes the Rewind memory a patch writes (variables it does not carry read as empty).
func (p *stagePatch) memory() (rollback.Memory, error) { return rollback.DecodeMemory(p.vars) }

// landed reports whether st shows every change p asks for.
func (p *stagePatch) landed(st apigwlocal.Stage) bool {
	if p.deploymentID != "" && st.DeploymentID != p.deploymentID {
		return false
	}
	for k, v := range p.vars {
		if st.Variables[k] != v {
			return false
		}
	}
	for _, k := range p.removed {
		if _, ok := st.Variables[k]; ok {
			return false
		}
	}
	return true
}

// statusWriter remembers the status the local API Gateway answered with. Unwrap lets its fault
// injection hijack the connection through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.inflight.Add(1)
	defer rc.inflight.Add(-1)
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	q := request{step: int(rc.step.Load()), method: r.Method, path: r.URL.EscapedPath()}
	parts := strings.Split(strings.TrimPrefix(q.path, "/"), "/")
	if len(parts) >= 2 && parts[0] == "restapis" {
		q.apiID = parts[1]
	}
	if len(parts) >= 4 && parts[2] == "stages" {
		q.stage = parts[3]
	}
	if r.Method == http.MethodPatch && q.stage != "" {
		q.patch = parsePatch(body)
		q.before, _ = rc.gw.Stage(q.apiID, q.stage)
	}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, q)
	gate := rc.gate
	rc.mu.Unlock()
	if gate != nil {
		if wait := gate(q); wait != nil {
			<-wait
		}
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		// After the answer (or the reset, or the client going away): was the write applied? A 200
		// says so; a lost answer is judged by the stage, which then shows the change.
		if q.patch == nil {
			return
		}
		applied := sw.status == http.StatusOK
		if !applied && sw.status == 0 {
			st, _ := rc.gw.Stage(q.apiID, q.stage)
			applied = q.patch.landed(st)
		}
		if applied {
			rc.mu.Lock()
			rc.log = append(rc.log, logEntry{step: q.step, key: q.apiID + "/" + q.stage, patch: q.patch})
			rc.mu.Unlock()
		}
	}()
	rc.next.ServeHTTP(sw, r)
}

// note records a person's change of a stage in the log.
func (rc *recorder) note(key, dep string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.log = append(rc.log, logEntry{step: int(rc.step.Load()), key: key, human: dep})
}

func (rc *recorder) entries() []logEntry {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.log)
}

func (rc *recorder) connState(c net.Conn, st http.ConnState) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if st == http.StateClosed || st == http.StateHijacked {
		delete(rc.conns, c)
		return
	}
	rc.conns[c] = st
}

// busy reports whether a request is being read or served. (A connection still in StateNew may
// never carry a request: Go's transport dials spares.)
func (rc *recorder) busy() bool {
	if rc.inflight.Load() > 0 {
		return true
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, st := range rc.conns {
		if st == http.StateActive {
			return true
		}
	}
	return false
}

func parsePatch(body []byte) *stagePatch {
	var in struct {
		PatchOperations []struct{ Op, Path, Value string } `json:"patchOperations"`
	}
	p := &stagePatch{vars: map[string]string{}}
	if json.Unmarshal(body, &in) != nil {
		return p
	}
	for _, op := range in.PatchOperations {
		switch {
		case op.Path == "/deploymentId" && op.Op == "replace":
			p.deploymentID = op.Value
		case op.Path == "/canarySettings" && op.Op == "remove":
			p.removeCanary = true
		case strings.HasPrefix(op.Path, "/variables/") && op.Op == "remove":
			p.removed = append(p.removed, strings.TrimPrefix(op.Path, "/variables/"))
		case strings.HasPrefix(op.Path, "/variables/"):
			p.vars[strings.TrimPrefix(op.Path, "/variables/")] = op.Value
		}
	}
	return p
}

// requests returns a copy of the requests so far.
func (rc *recorder) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// writes returns the write requests so far (every attempt: a retried write appears more than once).
func (rc *recorder) writes() []request {
	var out []request
	for _, q := range rc.requests() {
		if q.write() {
			out = append(out, q)
		}
	}
	return out
}

// quiesce waits until no request has been read or served for quietMS checks a millisecond apart, so
// a call the client gave up on has settled (applied or not) before the stage is read. Bounded: a
// request is never held longer than a fault's delay.
func (rc *recorder) quiesce(quietMS int) bool {
	for i, quiet := 0, 0; i < 3000; i++ {
		if rc.busy() {
			quiet = 0
		} else if quiet++; quiet >= quietMS {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// ---- the reference model ----

// mdep is a deployment in the model: what a rule needs of it.
type mdep struct {
	id      string
	created time.Time
}

// mchange is Rewind's last change as its memory records it.
type mchange struct{ kind, from, to, by, incident string }

// msight is one deployment seen live on a stage.
type msight struct {
	dep   string
	since time.Time
	how   rollback.How
}

// mstage is a stage as the model keeps it: what it serves and Rewind's memory of it.
type mstage struct {
	live        string
	lastUpdated time.Time // the control plane's; only its value after a person's change matters
	bad         []string
	incidents   []string
	last        *mchange
	timeline    []msight
}

func (s mstage) clone() mstage {
	out := s
	out.bad, out.incidents, out.timeline = slices.Clone(s.bad), slices.Clone(s.incidents), slices.Clone(s.timeline)
	if s.last != nil {
		l := *s.last
		out.last = &l
	}
	return out
}

// sig is a canonical text of everything the model and the real stage must agree on.
func (s mstage) sig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "live=%s bad=%v incidents=%v", s.live, s.bad, s.incidents)
	if s.last != nil {
		b.WriteString(" last=" + lastSig(s.last))
	}
	b.WriteString(" timeline=[")
	for i, t := range s.timeline {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s@%d:%s", t.dep, t.since.Unix(), t.how)
	}
	b.WriteString("]")
	return b.String()
}

// stageFromWire reads a real stage into the model's form.
func stageFromWire(st apigwlocal.Stage) (mstage, error) {
	mem, err := rollback.DecodeMemory(st.Variables)
	if err != nil {
		return mstage{}, err
	}
	out := mstage{live: st.DeploymentID, lastUpdated: st.LastUpdatedDate, bad: mem.Bad, incidents: mem.Incidents}
	if c := mem.Last; c != nil {
		out.last = &mchange{kind: string(c.Kind), from: c.From, to: c.To, by: string(c.By), incident: c.Incident}
	}
	for _, s := range mem.Timeline {
		out.timeline = append(out.timeline, msight{dep: s.Deployment, since: s.Since, how: s.How})
	}
	return out, nil
}

// Bounds of the memory, as documented in pkg/rollback (MaxBad, MaxIncidents, MaxTimeline).
const (
	modelMaxBad       = 16
	modelMaxIncidents = 8
	modelMaxTimeline  = 16
)

// mtarget is one entry of TARGETS.
type mtarget struct {
	api, apiName, stage, fallback string
}

func (t mtarget) key() string { return t.api + "/" + t.stage }

// mreq is one request that reaches the engine.
type mreq struct {
	action    string // rollback, deploy, observe, clear, status
	by        string // alarm, manual, schedule
	incident  string
	alarmTime time.Time
	force     bool
	dry       bool // the command's dryRun (the function's DRY_RUN is the model's)
	depID     string
}

// mresult is what the model says a request does: the outcome, from and to as the answer gives
// them, and the stage to write (nil: nothing is written).
type mresult struct {
	outcome  rollback.Outcome
	from, to string
	write    *mstage
	read     mstage // the stage the decision was made on
	moves    bool   // the write sets the stage's deployment
}

// patchStage applies a decided write to the stage as it is now, the way reststage's one UpdateStage
// does: the deployment when the plan moves the stage, and only the memory variables the plan changes
// from what it read. A variable the plan leaves alone keeps whatever a concurrent writer put there, so
// with several instances the memory can end up a mix of their plans, variable by variable.
func patchStage(now mstage, r mresult) mstage {
	out, w, read := now.clone(), r.write.clone(), r.read
	if r.moves {
		out.live = w.live
	}
	if !slices.Equal(w.bad, read.bad) {
		out.bad = w.bad
	}
	if !slices.Equal(w.incidents, read.incidents) {
		out.incidents = w.incidents
	}
	if lastSig(w.last) != lastSig(read.last) {
		out.last = w.last
	}
	if !slices.Equal(w.timeline, read.timeline) {
		out.timeline = w.timeline
	}
	return out
}

// touched is a stage's lastUpdatedDate after a write at now: the local API Gateway moves it on by a
// second when now would not move it forward.
func touched(last, now time.Time) time.Time {
	if now.After(last) {
		return now
	}
	return last.Add(time.Second)
}

func lastSig(c *mchange) string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf("%s:%s->%s:%s:%s", c.kind, c.from, c.to, c.by, c.incident)
}

// model is the world as the reference model keeps it.
type model struct {
	targets  []mtarget
	history  map[string][]mdep // by API id: deployments belong to the API
	dryRun   bool              // DRY_RUN
	guardMax int               // MAX_AUTO_ROLLBACKS_PER_HOUR
}

func (m *model) find(api, id string) (mdep, bool) {
	for _, d := range m.history[api] {
		if d.id == id {
			return d, true
		}
	}
	return mdep{}, false
}

func (m *model) target(key string) mtarget {
	for _, t := range m.targets {
		if t.key() == key {
			return t
		}
	}
	panic("no target " + key)
}

// earlierThan orders deployments by creation, ties by id.
func earlierThan(a, b mdep) bool {
	if !a.created.Equal(b.created) {
		return a.created.Before(b.created)
	}
	return a.id < b.id
}

// seen appends a sighting unless dep is already the newest one and this is a mere observation,
// and reports whether it did.
func (s *mstage) seen(dep string, since time.Time, how rollback.How) bool {
	if n := len(s.timeline); n > 0 && s.timeline[n-1].dep == dep && how == rollback.HowObserved {
		return false
	}
	s.timeline = append(s.timeline, msight{dep: dep, since: since.UTC().Truncate(time.Second), how: how})
	if len(s.timeline) > modelMaxTimeline {
		s.timeline = s.timeline[len(s.timeline)-modelMaxTimeline:]
	}
	return true
}

// wentLiveBound: the later of the live deployment's creation and the stage's last change.
func (m *model) wentLiveBound(t mtarget, s mstage) time.Time {
	var at time.Time
	if d, ok := m.find(t.api, s.live); ok {
		at = d.created
	}
	if s.lastUpdated.After(at) {
		at = s.lastUpdated
	}
	return at
}

// observed is s with the live deployment added to the timeline when it is not the newest sighting,
// and whether it was added.
func (m *model) observed(t mtarget, s mstage, now time.Time) (mstage, bool) {
	out := s.clone()
	since := m.wentLiveBound(t, s)
	if since.IsZero() {
		since = now
	}
	added := out.seen(s.live, since, rollback.HowObserved)
	return out, added
}

// liveSince is when the live deployment went live: the timeline's newest sighting when that is it
// (not before the deployment existed), else the bound above.
func (m *model) liveSince(t mtarget, s mstage) time.Time {
	if n := len(s.timeline); n > 0 && s.timeline[n-1].dep == s.live {
		since := s.timeline[n-1].since
		if d, ok := m.find(t.api, s.live); ok && since.Before(d.created) {
			return d.created
		}
		return since
	}
	return m.wentLiveBound(t, s)
}

func appendBoundedID(list []string, v string, max int) []string {
	if slices.Contains(list, v) {
		return list
	}
	list = append(list, v)
	if len(list) > max {
		list = list[len(list)-max:]
	}
	return list
}

// decide is the model of one engine request on one target: the documented rules, in order.
func (m *model) decide(key string, s mstage, q mreq, now time.Time) mresult {
	t := m.target(key)
	dry := m.dryRun || q.dry
	act := func(outcome rollback.Outcome, from, to string, next mstage) mresult {
		if dry {
			return mresult{outcome: rollback.OutcomePlanned, from: from, to: to}
		}
		return mresult{outcome: outcome, from: from, to: to, write: &next, read: s, moves: next.live != s.live}
	}
	skip := func() mresult { return mresult{outcome: rollback.OutcomeSkipped, from: s.live, to: s.live} }
	failed := mresult{outcome: rollback.OutcomeFailed, from: s.live}

	switch q.action {
	case "status":
		return mresult{outcome: rollback.OutcomeOK, from: s.live, to: s.live}
	case "observe":
		mem, added := m.observed(t, s, now)
		if !added {
			return mresult{outcome: rollback.OutcomeOK, from: s.live, to: s.live}
		}
		return act(rollback.OutcomeOK, s.live, s.live, mem)
	case "clear":
		mem, _ := m.observed(t, s, now)
		mem.seen(s.live, now, rollback.HowCleared)
		mem.bad = nil
		return act(rollback.OutcomeOK, s.live, s.live, mem)
	case "deploy":
		if _, ok := m.find(t.api, q.depID); !ok {
			return failed
		}
		if q.depID == s.live {
			return skip()
		}
		mem, _ := m.observed(t, s, now)
		if slices.Contains(mem.bad, q.depID) {
			if !q.force {
				return failed
			}
			mem.bad = slices.DeleteFunc(mem.bad, func(b string) bool { return b == q.depID })
		}
		mem.last = &mchange{kind: string(rollback.KindDeploy), from: s.live, to: q.depID, by: q.by}
		mem.seen(q.depID, now, rollback.HowDeploy)
		mem.live = q.depID
		return act(rollback.OutcomeDeployed, s.live, q.depID, mem)
	case "rollback":
	default:
		panic("model: unknown action " + q.action)
	}

	// 1. an incident already handled is not handled again.
	if q.incident != "" && slices.Contains(s.incidents, q.incident) {
		return skip()
	}
	// 2. while the stage serves what Rewind's rollback put there, nothing moves it further back.
	if !q.force && s.last != nil && s.last.to == s.live && s.last.kind == string(rollback.KindRollback) {
		return skip()
	}
	// 3. an alarm older than the live deployment's going live is stale.
	if q.by == "alarm" && !q.force && q.alarmTime.Before(m.liveSince(t, s)) {
		return skip()
	}
	mem, _ := m.observed(t, s, now)
	// The loop guard: at most guardMax automatic rollbacks in an hour, counted since the last clear.
	if q.by == "alarm" && m.guardMax > 0 {
		n := 0
		for _, sg := range mem.timeline {
			switch {
			case sg.how == rollback.HowCleared:
				n = 0
			case sg.how == rollback.HowAutoRollback && !sg.since.Before(now.Add(-time.Hour)):
				n++
			}
		}
		if n >= m.guardMax {
			return failed
		}
	}
	// 5. where to: the pinned fallback; else the newest earlier sighting; else the newest earlier build.
	var to string
	if t.fallback != "" {
		switch _, ok := m.find(t.api, t.fallback); {
		case !ok, slices.Contains(s.bad, t.fallback):
			return failed
		case t.fallback == s.live:
			return skip()
		}
		to = t.fallback
	} else {
		live, ok := m.find(t.api, s.live)
		if !ok {
			return failed
		}
		for i := len(mem.timeline) - 1; i >= 0 && to == ""; i-- {
			sg := mem.timeline[i]
			if sg.dep == s.live || slices.Contains(mem.bad, sg.dep) {
				continue
			}
			if d, ok := m.find(t.api, sg.dep); ok && earlierThan(d, live) {
				to = d.id
			}
		}
		if to == "" {
			var best *mdep
			for _, d := range m.history[t.api] {
				if d.id == s.live || !earlierThan(d, live) || slices.Contains(s.bad, d.id) {
					continue
				}
				if best == nil || earlierThan(*best, d) {
					best = &d
				}
			}
			if best == nil {
				return failed
			}
			to = best.id
		}
	}
	how := rollback.HowManualRollback
	if q.by == "alarm" {
		how = rollback.HowAutoRollback
	}
	mem.bad = appendBoundedID(mem.bad, s.live, modelMaxBad)
	if q.incident != "" {
		mem.incidents = appendBoundedID(mem.incidents, q.incident, modelMaxIncidents)
	}
	mem.last = &mchange{kind: string(rollback.KindRollback), from: s.live, to: to, by: q.by, incident: q.incident}
	mem.seen(to, now, how)
	mem.live = to
	return act(rollback.OutcomeRolledBack, s.live, to, mem)
}

// TestModelAgreesWithTheSeedStory pins the model to a story everyone knows (the seed's): if the
// model itself drifted from the documented rules, every schedule would be judged against the wrong
// answer.
func TestModelAgreesWithTheSeedStory(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	m := &model{targets: []mtarget{{api: "api", stage: "prod"}}, guardMax: 3,
		history: map[string][]mdep{"api": {{"legacy", t0}, {"lambda", t0.Add(10 * time.Minute)}, {"v2", t0.Add(15 * time.Minute)}}}}
	s := mstage{live: "v2", lastUpdated: t0.Add(16 * time.Minute)}
	now := t0.Add(20 * time.Minute)
	alarm := mreq{action: "rollback", by: "alarm", incident: "i1", alarmTime: now.Add(-time.Second)}

	r := m.decide("api/prod", s, alarm, now)
	if r.outcome != rollback.OutcomeRolledBack || r.to != "lambda" || r.write == nil {
		t.Fatalf("first alarm: %+v", r)
	}
	s = *r.write
	if !slices.Equal(s.bad, []string{"v2"}) || !slices.Equal(s.incidents, []string{"i1"}) || len(s.timeline) != 2 {
		t.Fatalf("memory after the rollback: %s", s.sig())
	}
	for name, q := range map[string]mreq{
		"repeat":       alarm,
		"second alarm": {action: "rollback", by: "alarm", incident: "i2", alarmTime: now},
		"stale":        {action: "rollback", by: "alarm", incident: "i3", alarmTime: t0.Add(5 * time.Minute)},
	} {
		if r := m.decide("api/prod", s, q, now.Add(time.Minute)); r.outcome != rollback.OutcomeSkipped || r.write != nil {
			t.Errorf("%s: %+v", name, r)
		}
	}
	// Forced, the manual rollback goes one step further; then nothing is left.
	r = m.decide("api/prod", s, mreq{action: "rollback", by: "manual", force: true}, now.Add(2*time.Minute))
	if r.outcome != rollback.OutcomeRolledBack || r.to != "legacy" {
		t.Fatalf("forced: %+v", r)
	}
	if r := m.decide("api/prod", *r.write, mreq{action: "rollback", by: "manual", force: true}, now.Add(3*time.Minute)); r.outcome != rollback.OutcomeFailed {
		t.Fatalf("nothing earlier: %+v", r)
	}
	// A known-bad deployment is refused without force.
	if r := m.decide("api/prod", s, mreq{action: "deploy", by: "manual", depID: "v2"}, now); r.outcome != rollback.OutcomeFailed {
		t.Fatalf("deploy of a known-bad deployment: %+v", r)
	}
}

// ---- payloads, as AWS sends them ----

// alarmDef is one alarm state change.
type alarmDef struct {
	name, state     string
	account, region string // "" means the rig's
	at              time.Time
	apiName, stage  string // the ApiName and Stage dimensions; "" for none
}

func (a alarmDef) acct() string { return cmpOr(a.account, rigAccount) }
func (a alarmDef) reg() string  { return cmpOr(a.region, rigRegion) }
func (a alarmDef) arn() string {
	return "arn:aws:cloudwatch:" + a.reg() + ":" + a.acct() + ":alarm:" + a.name
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// incident is the alarm's incident key as pkg/event documents it: the first 16 hex digits of the
// SHA-256 of ARN|State|StateChangeTime (UTC, RFC 3339 with nanoseconds).
func (a alarmDef) incident() string {
	sum := sha256.Sum256([]byte(a.arn() + "|" + a.state + "|" + a.at.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:8])
}

// cwTime is CloudWatch's timestamp form: 2026-11-25T03:20:00.000+0000.
func cwTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-0700") }

// message is the JSON CloudWatch publishes to SNS for a metric alarm.
func (a alarmDef) message() string {
	var dims []map[string]string
	if a.apiName != "" {
		dims = append(dims, map[string]string{"value": a.apiName, "name": "ApiName"})
	}
	if a.stage != "" {
		dims = append(dims, map[string]string{"value": a.stage, "name": "Stage"})
	}
	old := "OK"
	if a.state == "OK" {
		old = "ALARM"
	}
	b, _ := json.Marshal(map[string]any{
		"AlarmName": a.name, "AlarmDescription": "Rewind rolls back", "AWSAccountId": a.acct(),
		"AlarmConfigurationUpdatedTimestamp": "2026-11-25T02:00:00.000+0000",
		"NewStateValue":                      a.state, "NewStateReason": "Threshold Crossed: 1 datapoint [12.0] was greater than or equal to the threshold (5.0).",
		"StateChangeTime": cwTime(a.at), "Region": "US East (N. Virginia)", "AlarmArn": a.arn(), "OldStateValue": old,
		"Trigger": map[string]any{"MetricName": "5XXError", "Namespace": "AWS/ApiGateway", "StatisticType": "Statistic",
			"Statistic": "SUM", "Unit": nil, "Dimensions": dims, "Period": 60, "EvaluationPeriods": 1,
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 5.0, "TreatMissingData": "notBreaching"},
	})
	return string(b)
}

// detail is the alarm as EventBridge's detail and the alarm action's alarmData carry it.
func (a alarmDef) detail() map[string]any {
	dims := map[string]string{}
	if a.apiName != "" {
		dims["ApiName"] = a.apiName
	}
	if a.stage != "" {
		dims["Stage"] = a.stage
	}
	return map[string]any{
		"alarmName":     a.name,
		"state":         map[string]any{"value": a.state, "reason": "Threshold Crossed", "timestamp": cwTime(a.at)},
		"previousState": map[string]any{"value": "OK", "reason": "", "timestamp": cwTime(a.at.Add(-time.Hour))},
		"configuration": map[string]any{"metrics": []any{map[string]any{"id": "m1", "returnData": true,
			"metricStat": map[string]any{"metric": map[string]any{"namespace": "AWS/ApiGateway", "name": "5XXError", "dimensions": dims},
				"period": 60, "stat": "Sum"}}}},
	}
}

// envelope is how an alarm reaches Rewind.
type envelope int

const (
	viaSNS envelope = iota
	viaEventBridge
	viaAlarmAction
)

func (e envelope) String() string { return [...]string{"sns", "eventbridge", "alarm-action"}[e] }

// payload wraps the alarm in an envelope.
func (a alarmDef) payload(e envelope) []byte {
	switch e {
	case viaEventBridge:
		b, _ := json.Marshal(map[string]any{"version": "0", "id": "eb-" + a.incident(), "detail-type": "CloudWatch Alarm State Change",
			"source": "aws.cloudwatch", "account": a.acct(), "time": a.at.UTC().Format(time.RFC3339), "region": a.reg(),
			"resources": []string{a.arn()}, "detail": a.detail()})
		return b
	case viaAlarmAction:
		b, _ := json.Marshal(map[string]any{"source": "aws.cloudwatch", "alarmArn": a.arn(), "accountId": a.acct(),
			"time": cwTime(a.at), "region": a.reg(), "alarmData": a.detail()})
		return b
	}
	return snsPayload(a.message())
}

// snsPayload is a Lambda SNS event with one record per message.
func snsPayload(messages ...string) []byte {
	type sns struct {
		Type, MessageId, TopicArn, Subject, Message, Timestamp, SignatureVersion, Signature, SigningCertUrl, UnsubscribeUrl string
	}
	type record struct {
		EventSource, EventVersion, EventSubscriptionArn string
		Sns                                             sns
	}
	var ev struct{ Records []record }
	topic := "arn:aws:sns:" + rigRegion + ":" + rigAccount + ":rewind-alarms"
	for i, m := range messages {
		sum := sha256.Sum256([]byte(m))
		ev.Records = append(ev.Records, record{EventSource: "aws:sns", EventVersion: "1.0", EventSubscriptionArn: topic + ":2bcfbf39",
			Sns: sns{Type: "Notification", MessageId: fmt.Sprintf("%x-%d", sum[:6], i), TopicArn: topic, Subject: "ALARM",
				Message: m, Timestamp: "2026-11-25T03:20:00.000Z", SignatureVersion: "1", Signature: "EXAMPLE",
				SigningCertUrl: "EXAMPLE", UnsubscribeUrl: "EXAMPLE"}})
	}
	b, _ := json.Marshal(ev)
	return b
}
