package apigateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

// Options configure a Server.
type Options struct {
	// Region is used in ARNs; default "us-east-1".
	Region string
	// AccountID is used in error messages, as AWS does; default "123456789012".
	AccountID string
	// Now is the clock for every date the server hands out; nil means time.Now. Latency, fault
	// delays and the rate limiter use real time regardless, since they sleep.
	Now func() time.Time
}

// Server is a local API Gateway. Its ServeHTTP is the control plane (apigateway.{region}.amazonaws.com);
// DataPlane returns an API's data plane ({api}.execute-api.{region}.amazonaws.com). It is safe for
// concurrent use.
//
// The embedded Recorder is the control plane's faults (InjectFault, ClearFaults), latency
// (SetLatency), request-rate quota (SetRateLimit) and record (Calls, CallCount, ResetCalls, Writes).
// Writes counts CreateRestApi, CreateDeployment, CreateStage, UpdateStage (with at least one patch
// operation), DeleteStage, TagResource and UntagResource calls that were applied.
type Server struct {
	*awslocal.Recorder
	region, account string
	now             func() time.Time

	mu   sync.Mutex
	apis map[string]*apiState
}

// New returns an empty local API Gateway.
func New(opts Options) *Server {
	s := &Server{
		region:  opts.Region,
		account: opts.AccountID,
		now:     opts.Now,
		apis:    map[string]*apiState{},
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.account == "" {
		s.account = "123456789012"
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.Recorder = awslocal.NewRecorder(s.now, writeFault)
	return s
}

// routes maps the REST paths of the service model (the @http traits in service/apigateway's
// schemas) to operation names, which are also the names faults and Calls use.
var routes = []route{
	{"GET", "/restapis", "GetRestApis", (*Server).getRestAPIs},
	{"POST", "/restapis", "CreateRestApi", (*Server).createRestAPI},
	{"GET", "/restapis/{restApiId}", "GetRestApi", (*Server).getRestAPI},
	{"GET", "/restapis/{restApiId}/deployments", "GetDeployments", (*Server).getDeployments},
	{"POST", "/restapis/{restApiId}/deployments", "CreateDeployment", (*Server).createDeployment},
	{"GET", "/restapis/{restApiId}/deployments/{deploymentId}", "GetDeployment", (*Server).getDeployment},
	{"GET", "/restapis/{restApiId}/stages", "GetStages", (*Server).getStages},
	{"POST", "/restapis/{restApiId}/stages", "CreateStage", (*Server).createStage},
	{"GET", "/restapis/{restApiId}/stages/{stageName}", "GetStage", (*Server).getStage},
	{"PATCH", "/restapis/{restApiId}/stages/{stageName}", "UpdateStage", (*Server).updateStage},
	{"DELETE", "/restapis/{restApiId}/stages/{stageName}", "DeleteStage", (*Server).deleteStage},
	{"GET", "/restapis/{restApiId}/stages/{stageName}/exports/{exportType}", "GetExport", (*Server).getExport},
	{"GET", "/tags/{resourceArn}", "GetTags", (*Server).getTags},
	{"PUT", "/tags/{resourceArn}", "TagResource", (*Server).tagResource},
	{"DELETE", "/tags/{resourceArn}", "UntagResource", (*Server).untagResource},
}

type route struct {
	method, pattern, op string
	fn                  opFunc
}

// match reports whether r is a call of rt and, if so, sets its {labels} as path values. It works on
// the escaped path, one segment per label, the way the SDK builds it: a resource ARN, whose slashes
// the SDK percent-encodes, stays one label; "." and ".." are labels like any other (and fail id
// validation), never path navigation. ServeMux is not used because it redirects such paths.
func (rt route) match(r *http.Request) bool {
	if r.Method != rt.method {
		return false
	}
	want := strings.Split(rt.pattern[1:], "/")
	got := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if len(got) != len(want) {
		return false
	}
	values := make(map[string]string, 2)
	for i, w := range want {
		if name, ok := strings.CutPrefix(w, "{"); ok {
			v, err := url.PathUnescape(got[i])
			if err != nil || v == "" {
				return false
			}
			values[strings.TrimSuffix(name, "}")] = v
		} else if got[i] != w {
			return false
		}
	}
	for k, v := range values {
		r.SetPathValue(k, v)
	}
	return true
}

// opFunc runs one operation. It returns the success reply or the error to send; the caller writes
// either, after any fault has had its say.
type opFunc func(s *Server, r *http.Request) (reply, *Error)

type reply struct {
	status int
	body   any  // nil: no body; a *file: sent as it is; anything else: sent as JSON
	write  bool // the call changed state: Writes counts it
}

// file is a reply body sent as it is, with its own Content-Type and any other headers: what an
// operation whose output is an HTTP payload blob (GetExport) answers.
type file struct {
	contentType string
	header      map[string]string
	data        []byte
}

// ServeHTTP serves the control plane. Authorization is ignored: any SigV4 signature is accepted.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, rt := range routes {
		if rt.match(r) {
			s.serveOp(w, r, rt.op, rt.fn)
			return
		}
	}
	s.serveUnknown(w, r)
}

// UnknownOperation is the Op that Calls records for a request no operation matches.
const UnknownOperation = "UnknownOperation"

// serveUnknown answers a path or method this server does not implement with a 404, as AWS does for a
// path no operation has. The exact code and message AWS sends could not be checked.
func (s *Server) serveUnknown(w http.ResponseWriter, r *http.Request) {
	s.Refuse(w, UnknownOperation, func(w http.ResponseWriter) {
		writeError(w, newRequestID(), &Error{Status: http.StatusNotFound, Code: "UnknownOperationException",
			Message: "Unknown operation " + r.Method + " " + r.URL.EscapedPath()})
	})
}

// serveOp is every operation's path through the server: the body is read whole, then the Recorder
// runs the call (latency, the rate limiter, a pre-apply fault, the operation, an after-apply fault)
// and sends the answer the operation wrote.
func (s *Server) serveOp(w http.ResponseWriter, r *http.Request, op string, fn opFunc) {
	// Read the whole body first: net/http only notices that a client went away (and cancels the
	// request's context) once the body has been consumed, and the Recorder's waits must end when
	// the client gives up.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.Refuse(w, op, func(w http.ResponseWriter) {
			writeError(w, newRequestID(), errBadRequest("Could not read the request body: %v", err))
		})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.Serve(w, r, op, func(w http.ResponseWriter) bool {
		rep, apiErr := fn(s, r)
		if apiErr != nil {
			writeError(w, newRequestID(), apiErr)
			return false
		}
		if f, ok := rep.body.(*file); ok {
			writeFile(w, newRequestID(), rep.status, f)
		} else {
			writeJSON(w, newRequestID(), rep.status, rep.body)
		}
		return rep.write
	})
}

// Start serves the control plane on addr ("" means 127.0.0.1:0, a free loopback port) until stop is
// called, and returns its base URL. stop shuts the server down gracefully within ctx, then closes
// what is left; it waits for the serving goroutine to end and may be called more than once.
func (s *Server) Start(addr string) (url string, stop func(ctx context.Context) error, err error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var (
		once    sync.Once
		stopErr error
	)
	stop = func(ctx context.Context) error {
		once.Do(func() {
			stopErr = srv.Shutdown(ctx)
			if stopErr != nil {
				_ = srv.Close()
			}
			if err := <-served; !errors.Is(err, http.ErrServerClosed) && stopErr == nil {
				stopErr = err
			}
		})
		return stopErr
	}
	return "http://" + ln.Addr().String(), stop, nil
}
