package responder_test

// The recorder is the proxy in front of the rig's services. It keeps every request with the step of
// the test that sent it and, in the order they were applied, every write that landed: the stage
// switches (with the stage as it stood when the write came), Rewind's memory writes (decoded, with
// the version each was conditioned on), and people's changes noted by the test. The properties
// (properties_test.go) are judged on that log.

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	cwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudwatch"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
)

type recorder struct {
	next http.Handler
	gw   *apigwlocal.Server
	ddb  *ddblocal.Server

	step     atomic.Int64
	inflight atomic.Int64

	// memWrites serializes the writes of memory items through the proxy, so whether each one landed
	// is told exactly by the item's version before and after it (DynamoDB serializes them anyway);
	// versions holds each item's version as the last write through the proxy left it.
	memWrites sync.Mutex
	versions  map[string]string
	putFaults []*putFault // faults for the PutItems they match (guarded by memWrites)

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

// request is one request as the recorder saw it.
type request struct {
	step         int
	at           time.Time // wall clock, on arrival
	method, path string
	apiID, stage string      // API Gateway: from the path, when it names them
	patch        *stagePatch // UpdateStage only
	before       apigwlocal.Stage
	ddbOp        string     // DynamoDB: the operation ("" for API Gateway)
	cwOp         string     // CloudWatch: the operation ("" for the others)
	pk, sk       string     // DynamoDB: the item's key, for GetItem and PutItem
	put          *memoryPut // PutItem of a memory item
	status       int        // the status answered (0: none, a reset, or the client went away)
	agent        string     // the User-Agent: names the instance when it was built with an app id
}

// logEntry is one applied write, or a person's change of a stage (human set).
type logEntry struct {
	step   int
	key    string           // restApiId/stage
	patch  *stagePatch      // an applied UpdateStage
	before apigwlocal.Stage // the stage when that UpdateStage arrived
	mem    *memoryPut       // an applied write of the memory item
	human  string           // the deployment a person put live
}

// stagePatch is what an UpdateStage asked for.
type stagePatch struct {
	deploymentID string            // "" when the stage is not moved
	vars         map[string]string // variables set
	removed      []string          // variables removed
	removeCanary bool
	other        []string // any other path
}

// memoryPut is a PutItem of a target's memory item.
type memoryPut struct {
	cond int64           // the version it is conditioned on (0: the item must not exist)
	rec  rollback.Record // the record written, Version the version it makes
	err  error           // the item does not decode
}

// from reports whether the request was sent by the instance built with app id app (rig.instance).
func (q request) from(app string) bool { return strings.Contains(q.agent, "app/"+app) }

// write reports whether a request asks to change something.
func (q request) write() bool {
	if q.cwOp != "" {
		return q.cwOp != "DescribeAlarms" && q.cwOp != "GetMetricData" // Rewind only reads CloudWatch
	}
	if q.ddbOp != "" {
		return q.ddbOp == "PutItem" || q.ddbOp == "DeleteItem" || q.ddbOp == "UpdateItem" || q.ddbOp == "TransactWriteItems"
	}
	return q.method != http.MethodGet && q.method != http.MethodHead
}

// key is the target a request concerns: apiId/stage for API Gateway, the memory item's target for
// DynamoDB.
func (q request) key() string {
	if q.ddbOp != "" {
		return strings.TrimPrefix(q.pk, "target#")
	}
	return q.apiID + "/" + q.stage
}

// landed reports whether st shows every change p asks for.
func (p *stagePatch) landed(st apigwlocal.Stage) bool {
	if p.deploymentID != "" && st.DeploymentID != p.deploymentID {
		return false
	}
	if p.removeCanary && st.Canary != nil {
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

// statusWriter remembers the status the service answered with. Unwrap lets its fault injection
// hijack the connection through it.
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
	q := rc.parse(r, body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, q)
	idx := len(rc.reqs) - 1
	gate := rc.gate
	rc.mu.Unlock()
	if gate != nil {
		if wait := gate(q); wait != nil {
			<-wait
		}
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		rc.mu.Lock()
		rc.reqs[idx].status = sw.status
		rc.mu.Unlock()
	}()
	switch {
	case q.ddbOp == "PutItem":
		rc.servePut(sw, r, q)
	case q.patch != nil:
		rc.serveStageWrite(sw, r, q)
	default:
		rc.next.ServeHTTP(sw, r)
	}
}

// parse reads what the recorder needs of a request.
func (rc *recorder) parse(r *http.Request, body []byte) request {
	q := request{step: int(rc.step.Load()), at: time.Now(), method: r.Method, path: r.URL.EscapedPath(), agent: r.Header.Get("User-Agent")}
	if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810."); ok {
		q.ddbOp = op
		parseDynamoDB(&q, body)
		return q
	}
	if op, ok := strings.CutPrefix(q.path, cwlocal.ServicePath); ok {
		q.cwOp = op
		return q
	}
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
	return q
}

// parseDynamoDB reads the item key of a GetItem or PutItem and, for a PutItem of a memory item,
// the record it writes and the version it is conditioned on.
func parseDynamoDB(q *request, body []byte) {
	var in struct {
		Key, Item                 map[string]any
		ExpressionAttributeValues map[string]map[string]string
	}
	if json.Unmarshal(body, &in) != nil {
		return
	}
	item := in.Key
	if q.ddbOp == "PutItem" {
		item = in.Item
	}
	q.pk, q.sk = sValue(item["pk"]), sValue(item["sk"])
	if q.ddbOp != "PutItem" || q.sk != "memory" {
		return
	}
	put := &memoryPut{}
	if v, ok := in.ExpressionAttributeValues[":v"]; ok {
		put.cond, _ = strconv.ParseInt(v["N"], 10, 64)
	}
	put.rec, put.err = decodeRecord(item)
	q.put = put
}

func sValue(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["S"].(string)
	return s
}

// putFault is a fault for the PutItems match picks (a claim, a confirmation, an audit entry), left
// times: the local DynamoDB's own faults go by operation only, and an engine writes its confirmation
// and its audit entry at once.
type putFault struct {
	match func(request) bool
	fault awslocal.Fault
	left  int
}

// faultPuts queues f for the next f.Times PutItems that match picks.
func (rc *recorder) faultPuts(match func(request) bool, f awslocal.Fault) {
	rc.memWrites.Lock()
	defer rc.memWrites.Unlock()
	rc.putFaults = append(rc.putFaults, &putFault{match: match, fault: f, left: max(f.Times, 1)})
}

// clearPutFaults drops the faults faultPuts queued.
func (rc *recorder) clearPutFaults() {
	rc.memWrites.Lock()
	defer rc.memWrites.Unlock()
	rc.putFaults = nil
}

// isClaim, isConfirm and isAudit pick PutItems for faultPuts: a memory write that opens a claim, one
// that writes the memory without a claim (a change's confirmation, an observe's record, a settle),
// an audit entry.
func isClaim(q request) bool   { return q.put != nil && q.put.rec.Claim != nil }
func isConfirm(q request) bool { return q.put != nil && q.put.rec.Claim == nil }
func isAudit(q request) bool   { return q.ddbOp == "PutItem" && strings.HasPrefix(q.sk, "audit#") }

// servePut serves a PutItem, one at a time (so a fault meant for it is taken by it), and logs a
// memory item's write if it landed: a 200 says so, a conditional check that failed says not;
// otherwise (a fault) the item's version moved, as nothing else can move it while this one is served.
func (rc *recorder) servePut(w *statusWriter, r *http.Request, q request) {
	rc.memWrites.Lock()
	defer rc.memWrites.Unlock()
	for _, pf := range rc.putFaults {
		if pf.left > 0 && pf.match(q) {
			pf.left--
			f := pf.fault
			f.Times = 1
			rc.ddb.InjectFault("PutItem", f)
			break
		}
	}
	if q.put == nil {
		rc.next.ServeHTTP(w, r)
		return
	}
	if rc.versions == nil {
		rc.versions = map[string]string{}
	}
	defer func() {
		switch {
		case w.status == http.StatusOK:
			rc.versions[q.pk] = strconv.FormatInt(q.put.cond+1, 10)
		case w.status == http.StatusBadRequest:
			return
		default:
			v := rc.itemVersion(q.pk)
			if v == rc.versions[q.pk] {
				return
			}
			rc.versions[q.pk] = v
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.log = append(rc.log, logEntry{step: q.step, key: q.key(), mem: q.put})
	}()
	rc.next.ServeHTTP(w, r)
}

func (rc *recorder) itemVersion(pk string) string {
	item, ok := rc.ddb.Item(memoryTable, pk, "memory")
	if !ok {
		return ""
	}
	v, _ := item["version"].(map[string]any)
	s, _ := v["N"].(string)
	return s
}

// serveStageWrite serves an UpdateStage and logs it if it was applied: a 200 says so; a lost
// answer is judged by the stage, which then shows the change.
func (rc *recorder) serveStageWrite(w *statusWriter, r *http.Request, q request) {
	defer func() {
		applied := w.status == http.StatusOK
		if !applied && w.status == 0 {
			st, _ := rc.gw.Stage(q.apiID, q.stage)
			applied = q.patch.landed(st)
		}
		if applied {
			rc.mu.Lock()
			rc.log = append(rc.log, logEntry{step: q.step, key: q.key(), patch: q.patch, before: q.before})
			rc.mu.Unlock()
		}
	}()
	rc.next.ServeHTTP(w, r)
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
		default:
			p.other = append(p.other, op.Op+" "+op.Path)
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

// stageWrites returns the API Gateway write requests so far (every attempt).
func (rc *recorder) stageWrites() []request {
	var out []request
	for _, q := range rc.writes() {
		if q.ddbOp == "" {
			out = append(out, q)
		}
	}
	return out
}

// quiesce waits until no request has been read or served for quietMS checks a millisecond apart, so
// a call the client gave up on has settled (applied or not) before the world is read. Bounded: a
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
