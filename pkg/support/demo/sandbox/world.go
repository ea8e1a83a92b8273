package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/support/awslocal/apigwv2"
	cflocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudfront"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
	lambdalocal "github.com/rewind-sre/rewind/pkg/support/awslocal/lambda"
	"github.com/rewind-sre/rewind/pkg/support/demo/rie"
)

// What the sandbox seeds: the demo's API (luna-api, stage service, dep1 the EC2 proxy, dep2 the new
// Lambda) and one target of each other kind Rewind moves.
const (
	APIName   = "luna-api"
	StageName = "service"
	LegacyID  = "dep1" // HTTP proxy to the EC2 origin: live when the sandbox starts
	LambdaID  = "dep2" // the new Lambda api-user-id: broken, every request through it gets a 502
	// RestAPIID is the REST API's id as everything outside the control plane sees it. The local API
	// Gateway draws ids at random, as AWS does; the sandbox keeps this one fixed (see fixedID) so the
	// lines it prints stay valid from one run to the next.
	RestAPIID = "lunaapi001"

	HTTPStage       = "live" // the HTTP API's stage: hd2 live, hd1 before it
	FunctionName    = "api-user-id"
	AliasName       = "live" // the alias: version 2 live, version 1 before it
	DistributionID  = "E2QWRUHAPOMQZL"
	BehaviorPattern = "/api/users/*" // served by origin lambda-url; legacy-ec2 is where Rewind sends it back
	LegacyOrigin    = "legacy-ec2"
	NewOrigin       = "lambda-url"

	// MemoryTable is Rewind's memory table in the sandbox's local DynamoDB.
	MemoryTable = "rewind-sandbox-memory"

	// DeploymentHeader says, on every data-plane answer, which deployment served it.
	DeploymentHeader = "X-Sandbox-Deployment"
)

// RESTTarget is the REST stage as TARGETS and commands name it.
const RESTTarget = RestAPIID + "/" + StageName

// world is the local AWS the sandbox serves on loopback: one control plane endpoint for every client
// Rewind has (API Gateway REST and HTTP APIs, Lambda, CloudFront, and DynamoDB for its memory), and
// the REST API's data plane, what users call.
type world struct {
	rest    *apigwlocal.Server
	restID  string // the id the local API Gateway drew, behind RestAPIID
	v2      *apigwv2.Server
	httpAPI string
	lam     *lambdalocal.Server
	cf      *cflocal.Server
	ddb     *ddblocal.Server

	control, data string // base URLs
	notes         []string
	servers       []*server
}

// targets is TARGETS: the REST stage first, then one target of each other kind.
func (w *world) targets() []string {
	return []string{RESTTarget, "http:" + w.httpAPI + "/" + HTTPStage, "lambda:" + FunctionName + ":" + AliasName,
		"cloudfront:" + DistributionID + ":" + BehaviorPattern + "@" + LegacyOrigin}
}

// commandTarget is how a command names target i (without the "@..." of TARGETS).
func commandTarget(t string) string {
	name, _, _ := strings.Cut(t, "@")
	return name
}

// newWorld seeds the fakes and serves the control plane on controlPort and the data plane on
// dataPort (each 0 for a free port; a taken port falls back to a free one, with a note).
func newWorld(controlPort, dataPort int, start time.Time) (w *world, err error) {
	w = &world{
		rest: apigwlocal.New(apigwlocal.Options{Region: rie.Region, AccountID: rie.AccountID}),
		v2:   apigwv2.New(nil),
		lam:  lambdalocal.New(nil),
		// An update stays InProgress a few seconds, as CloudFront's take minutes.
		cf:  cflocal.New(nil, 3*time.Second),
		ddb: ddblocal.New(ddblocal.Options{}),
	}
	defer func() {
		if err != nil {
			_ = w.stop(context.Background())
		}
	}()
	if err := w.seed(start); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	rest := fixedID(w.rest, RestAPIID, w.restID)
	mux.Handle("/restapis", rest)
	mux.Handle("/restapis/", rest)
	mux.Handle("/tags/", rest)
	mux.Handle("/v2/", w.v2)
	mux.Handle("/2015-03-31/", w.lam)
	mux.Handle("/2020-05-31/", w.cf)
	ctl, err := listen("the local AWS control plane", controlPort)
	if err != nil {
		return nil, err
	}
	w.note(ctl)
	w.control = w.serve(ctl, w.ddb.Front(mux))

	dp, err := listen("the "+APIName+" data plane", dataPort)
	if err != nil {
		return nil, err
	}
	w.note(dp)
	w.data = w.serve(dp, w.rest.DataPlane(w.restID))
	return w, nil
}

func (w *world) note(l *listener) {
	if l.note != "" {
		w.notes = append(w.notes, l.note)
	}
}

func (w *world) seed(start time.Time) error {
	w.ddb.CreateTable(MemoryTable)

	api := w.rest.CreateRestAPI(APIName)
	if len(api.ID) != len(RestAPIID) {
		return fmt.Errorf("the local API Gateway drew a %d-character REST API id (%s); the sandbox maps %d-character ids", len(api.ID), api.ID, len(RestAPIID))
	}
	w.restID = api.ID
	if _, err := w.rest.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: LegacyID, Description: "HTTP proxy to api-origin.luna.com (EC2)",
		CreatedDate: start.Add(-24 * time.Hour), Backend: tagged(http.HandlerFunc(serveOrigin))}); err != nil {
		return fmt.Errorf("API Gateway: create deployment %s: %w", LegacyID, err)
	}
	if _, err := w.rest.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: LambdaID, Description: "Lambda api-user-id (the new release)",
		CreatedDate: start.Add(-time.Hour), Backend: tagged(http.HandlerFunc(serveBrokenLambda))}); err != nil {
		return fmt.Errorf("API Gateway: create deployment %s: %w", LambdaID, err)
	}
	if err := w.rest.CreateStage(api.ID, apigwlocal.StageSpec{Name: StageName, DeploymentID: LegacyID,
		Description: "api.luna.com -> this stage for /user/{id}"}); err != nil {
		return fmt.Errorf("API Gateway: create stage %s: %w", StageName, err)
	}

	w.httpAPI = w.v2.CreateAPI()
	for i, age := range []time.Duration{24 * time.Hour, time.Hour} {
		if _, err := w.v2.CreateDeployment(w.httpAPI, apigwv2.Deployment{ID: fmt.Sprintf("hd%d", i+1), CreatedDate: start.Add(-age)}); err != nil {
			return fmt.Errorf("HTTP API: create deployment: %w", err)
		}
	}
	if err := w.v2.CreateStage(w.httpAPI, apigwv2.Stage{Name: HTTPStage, DeploymentID: "hd2"}); err != nil {
		return fmt.Errorf("HTTP API: create stage: %w", err)
	}

	w.lam.CreateFunction(FunctionName, lambdalocal.Version{Version: "1", Description: "before the release", LastModified: start.Add(-24 * time.Hour)},
		lambdalocal.Version{Version: "2", Description: "the release", LastModified: start.Add(-time.Hour)})
	if err := w.lam.CreateAlias(FunctionName, lambdalocal.Alias{Name: AliasName, FunctionVersion: "2"}); err != nil {
		return fmt.Errorf("local Lambda: create alias: %w", err)
	}

	if _, err := w.cf.CreateDistribution(cflocal.Spec{ID: DistributionID, Comment: "Luna",
		Origins:       []cflocal.Origin{{ID: LegacyOrigin, DomainName: "api-origin.luna.com"}, {ID: NewOrigin, DomainName: "abc123.lambda-url.us-east-1.on.aws"}},
		DefaultOrigin: LegacyOrigin, Behaviors: []cflocal.Behavior{{PathPattern: BehaviorPattern, OriginID: NewOrigin}}}); err != nil {
		return fmt.Errorf("CloudFront: create distribution: %w", err)
	}
	return nil
}

// live is what each target serves now, by its TARGETS name.
func (w *world) live() map[string]string {
	out := map[string]string{}
	ts := w.targets()
	if st, ok := w.rest.Stage(w.restID, StageName); ok {
		out[ts[0]] = st.DeploymentID
	}
	if st, ok := w.v2.Stage(w.httpAPI, HTTPStage); ok {
		out[ts[1]] = st.DeploymentID
	}
	if a, ok := w.lam.Alias(FunctionName, AliasName); ok {
		out[ts[2]] = a.FunctionVersion
	}
	if d, ok := w.cf.Distribution(DistributionID); ok {
		out[ts[3]] = d.Behaviors[BehaviorPattern]
	}
	return out
}

// writes counts the changes the control planes applied (DynamoDB, Rewind's own memory, aside).
func (w *world) writes() int {
	return w.rest.Writes() + w.v2.Writes() + w.lam.Writes() + w.cf.Writes()
}

// serveOrigin is the EC2 API server dep1 proxies to: GET /user/{id} answers the user.
func serveOrigin(rw http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, "/user/")
	if r.Method != http.MethodGet || !ok || id == "" || strings.Contains(id, "/") {
		writeJSON(rw, http.StatusNotFound, map[string]string{"message": "Not Found: try GET /" + StageName + "/user/42"})
		return
	}
	writeJSON(rw, http.StatusOK, map[string]string{"id": id, "servedBy": "EC2 api-origin.luna.com"})
}

// serveBrokenLambda is dep2's integration: the release's Lambda fails every request, and API Gateway
// answers what it answers for a broken Lambda integration.
func serveBrokenLambda(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("x-amzn-ErrorType", "InternalServerErrorException")
	writeJSON(rw, http.StatusBadGateway, map[string]string{"message": "Internal server error"})
}

// tagged says, in DeploymentHeader, which deployment the data plane routed the request to.
func tagged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if inv, ok := apigwlocal.InvocationFrom(r.Context()); ok {
			rw.Header().Set(DeploymentHeader, inv.DeploymentID)
		}
		h.ServeHTTP(rw, r)
	})
}

// fixedID puts the REST API behind the id fixed instead of the random real one: fixed in request
// paths becomes real, real in answers becomes fixed. Both are 10 characters, so no length changes;
// a random 10-character id appears nowhere else in an answer. (A stopgap until the local API Gateway
// can be told an API's id.)
func fixedID(next http.Handler, fixed, real string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.ReplaceAll(r.URL.Path, fixed, real)
		r2.URL.RawPath = strings.ReplaceAll(r.URL.RawPath, fixed, real)
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r2)
		body := bytes.ReplaceAll(rec.Body.Bytes(), []byte(real), []byte(fixed))
		for k, v := range rec.Header() {
			rw.Header()[k] = v
		}
		rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write(body)
	})
}

// listener is a loopback listener and what to say about how it was had.
type listener struct {
	net.Listener
	note string // set when the port asked for was taken and another was used
}

// listen listens on 127.0.0.1:port; a port already taken falls back to a free one, with a note.
func listen(what string, port int) (*listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err == nil {
		return &listener{Listener: ln}, nil
	}
	if port == 0 || !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s: listen on 127.0.0.1:%d: %w", what, port, err)
	}
	ln, err2 := net.Listen("tcp", "127.0.0.1:0")
	if err2 != nil {
		return nil, fmt.Errorf("%s: port %d is taken and no free port was found: %w", what, port, err2)
	}
	return &listener{Listener: ln, note: fmt.Sprintf("port %d (%s) is taken, by another sandbox or another program; using %d instead",
		port, what, ln.Addr().(*net.TCPAddr).Port)}, nil
}

// server is one HTTP server on one listener.
type server struct {
	addr string
	srv  *http.Server
	done chan error
	once sync.Once
	err  error
}

func startServer(ln net.Listener, h http.Handler) *server {
	s := &server{addr: ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, done: make(chan error, 1)}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s
}

// stop shuts the server down within ctx, then closes what is left, and waits for it to end.
func (s *server) stop(ctx context.Context) error {
	s.once.Do(func() {
		if s.err = s.srv.Shutdown(ctx); s.err != nil {
			_ = s.srv.Close()
		}
		if err := <-s.done; !errors.Is(err, http.ErrServerClosed) && s.err == nil {
			s.err = err
		}
	})
	return s.err
}

func (w *world) serve(ln net.Listener, h http.Handler) string {
	s := startServer(ln, h)
	w.servers = append(w.servers, s)
	return "http://" + s.addr
}

// stop shuts every server down, the last started first.
func (w *world) stop(ctx context.Context) error {
	var errs []error
	for i := len(w.servers) - 1; i >= 0; i-- {
		if err := w.servers[i].stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", w.servers[i].addr, err))
		}
	}
	return errors.Join(errs...)
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	enc := json.NewEncoder(rw)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
