package dynamodb

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

// Proxy forwards every call unchanged to another DynamoDB (moto_server, dynalite) and injects the
// same faults as Server, chosen by the operation in X-Amz-Target: code that survives throttling,
// lost races and lost answers against the local Server can be run the same way against
// implementations nobody here wrote. An AfterApply fault forwards the call first, so the upstream
// applies the write, and then fails, resets or delays the answer.
type Proxy struct {
	*awslocal.Recorder
	rp *httputil.ReverseProxy
}

// NewProxy returns a proxy to the DynamoDB at upstream ("http://127.0.0.1:4567"). It panics on
// an upstream that is not an absolute URL: that is a mistake in the test, not a condition to test.
func NewProxy(upstream string) *Proxy {
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme == "" || u.Host == "" {
		panic(fmt.Sprintf("dynamodb.NewProxy: upstream %q is not an absolute URL (%v)", upstream, err))
	}
	p := &Proxy{Recorder: awslocal.NewRecorder(nil, writeFault)}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeError(w, &apiError{status: http.StatusBadGateway, code: "InternalServerError", msg: "proxy: upstream " + upstream + ": " + err.Error()})
		},
	}
	return p
}

// ServeHTTP forwards one call through the fault injection.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(body) > maxRequest {
		writeError(w, serialization(fmt.Sprintf("the request body could not be read within %d bytes", maxRequest)))
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if op == "" {
		op = r.Method + " " + r.URL.Path // a health check, not an operation
	}
	p.Serve(withOp(w, op, body), r, op, func(w http.ResponseWriter) bool {
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		p.rp.ServeHTTP(sw, r)
		return sw.status == http.StatusOK && isWrite(op)
	})
}

// isWrite tells the operations that change state (counted in Writes when they succeed) from the
// reads, by DynamoDB's naming.
func isWrite(op string) bool {
	for _, read := range []string{"Get", "BatchGet", "TransactGet", "Query", "Scan", "Describe", "List", "GET ", "POST "} {
		if strings.HasPrefix(op, read) {
			return false
		}
	}
	return true
}

// statusWriter remembers the status the upstream answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
