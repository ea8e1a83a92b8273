package cloudwatch

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// The protocol's headers and media type.
const (
	protocolHeader = "Smithy-Protocol"
	protocolName   = "rpc-v2-cbor"
	contentType    = "application/cbor"
	// queryErrorHeader carries the error's code in the older query protocol, which the SDK of an
	// awsQueryCompatible service (CloudWatch is one) makes the error's ErrorCode.
	queryErrorHeader = "X-Amzn-Query-Error"
)

// maxRequest bounds a request body; DescribeAlarms' largest is a few KB.
const maxRequest = 1 << 20

// operation carries out one call on its decoded input.
type operation func(s *Server, in cbor.Map) (cbor.Map, *apiError)

var operations = map[string]operation{
	"DescribeAlarms": (*Server).describeAlarms,
	"GetMetricData":  (*Server).getMetricData,
}

// ServeHTTP is the CloudWatch endpoint (monitoring.{region}.amazonaws.com).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.URL.Path, ServicePath)
	if !ok || r.Method != http.MethodPost || op == "" || strings.Contains(op, "/") {
		writeError(w, unknownOperation("no such operation: "+r.Method+" "+r.URL.Path+
			" (the local CloudWatch speaks only the RPC v2 CBOR protocol: POST "+ServicePath+"<Operation>)"))
		return
	}
	run, known := operations[op]
	if !known {
		writeError(w, unknownOperation("the local CloudWatch does not model "+op+" (pkg/support/awslocal/cloudwatch)"))
		return
	}
	if p := r.Header.Get(protocolHeader); p != protocolName {
		writeError(w, serialization(fmt.Sprintf("the %s header is %q, want %q", protocolHeader, p, protocolName)))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(body) > maxRequest {
		writeError(w, serialization(fmt.Sprintf("the request body could not be read within %d bytes", maxRequest)))
		return
	}
	s.Serve(w, r, op, func(w http.ResponseWriter) bool {
		in, aerr := decodeInput(r.Header.Get("Content-Type"), body)
		if aerr == nil {
			var out cbor.Map
			if out, aerr = run(s, in); aerr == nil {
				writeCBOR(w, http.StatusOK, out)
				return false // DescribeAlarms and GetMetricData change nothing
			}
		}
		writeError(w, aerr)
		return false
	})
}

// decodeInput reads a request body: a CBOR map, or nothing for an input with no members.
func decodeInput(ctype string, body []byte) (cbor.Map, *apiError) {
	if len(body) == 0 {
		return cbor.Map{}, nil
	}
	if mt, _, _ := strings.Cut(ctype, ";"); strings.TrimSpace(mt) != contentType {
		return nil, serialization(fmt.Sprintf("the Content-Type is %q, want %q", ctype, contentType))
	}
	v, err := cbor.Decode(body)
	if err != nil {
		return nil, serialization("the request body is not CBOR: " + err.Error())
	}
	m, ok := v.(cbor.Map)
	if !ok {
		return nil, serialization(fmt.Sprintf("the request body is a CBOR %T, want a map", v))
	}
	for k, v := range m { // a null member is an absent one
		switch v.(type) {
		case *cbor.Nil, *cbor.Undefined:
			delete(m, k)
		}
	}
	return m, nil
}

// The readers of request members: each refuses a value of the wrong CBOR type.

func asString(name string, v cbor.Value) (string, *apiError) {
	s, ok := v.(cbor.String)
	if !ok {
		return "", serialization(fmt.Sprintf("%s is a CBOR %T, want a text string", name, v))
	}
	return string(s), nil
}

func asStrings(name string, v cbor.Value) ([]string, *apiError) {
	l, ok := v.(cbor.List)
	if !ok {
		return nil, serialization(fmt.Sprintf("%s is a CBOR %T, want a list", name, v))
	}
	out := make([]string, 0, len(l))
	for i, e := range l {
		s, err := asString(fmt.Sprintf("%s[%d]", name, i), e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func asInt32(name string, v cbor.Value) (int32, *apiError) {
	n, err := cbor.AsInt32(v)
	if err != nil {
		return 0, serialization(fmt.Sprintf("%s: %v", name, err))
	}
	return n, nil
}

// The writers of response members.

func str(s string) cbor.Value { return cbor.String(s) }

func integer(n int64) cbor.Value {
	if n < 0 {
		return cbor.NegInt(uint64(-n)) // NegInt(k) is -k; see its doc
	}
	return cbor.Uint(uint64(n))
}

func float(f float64) cbor.Value { return cbor.Float64(f) }

func boolean(b bool) cbor.Value { return cbor.Bool(b) }

func list(ss []string) cbor.Value {
	l := make(cbor.List, 0, len(ss))
	for _, s := range ss {
		l = append(l, cbor.String(s))
	}
	return l
}

// timestamp is a time as the SDK reads it: tag 1 around epoch seconds, whole or with milliseconds.
func timestamp(t time.Time) cbor.Value {
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return &cbor.Tag{ID: 1, Value: integer(ms / 1000)}
	}
	// The SDK takes int64(f*1e3) as the milliseconds; where the double nearest ms/1000 would come
	// back a hair under ms, send the next one up.
	f := float64(ms) / 1e3
	if int64(f*1e3) != ms {
		f = math.Nextafter(f, math.Inf(1))
	}
	return &cbor.Tag{ID: 1, Value: cbor.Float64(f)}
}

var requestIDs atomic.Int64

// writeCBOR answers as an RPC v2 CBOR service does.
func writeCBOR(w http.ResponseWriter, status int, m cbor.Map) {
	b := cbor.Encode(m)
	h := w.Header()
	h.Set(protocolHeader, protocolName)
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-Requestid", fmt.Sprintf("local-%036d", requestIDs.Add(1)))
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// apiError is an error answer as CloudWatch sends it over RPC v2 CBOR.
type apiError struct {
	status int
	typ    string // __type: the error's shape ID
	query  string // X-Amzn-Query-Error: the query protocol's code and Sender or Receiver
	msg    string
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

func writeError(w http.ResponseWriter, e *apiError) {
	m := cbor.Map{"__type": str(e.typ), "message": str(e.msg)}
	if e.typ == internalFault {
		m["Message"] = str(e.msg) // InternalServiceFault's member is spelt so
	}
	if e.query != "" {
		w.Header().Set(queryErrorHeader, e.query)
	}
	writeCBOR(w, e.status, m)
}

const (
	ns            = "com.amazonaws.cloudwatch#"
	internalFault = ns + "InternalServiceFault"
)

func modeled(status int, name, query, msg string) *apiError {
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	return &apiError{status: status, typ: ns + name, query: query + ";" + fault, msg: msg}
}

// validation is a request member outside its constraints (length, range, enum), which AWS's front
// end answers before CloudWatch sees the call.
func validation(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "com.amazon.coral.validate#ValidationException",
		query: "ValidationError;Sender", msg: msg}
}

func validationf(format string, args ...any) *apiError {
	return validation(fmt.Sprintf(format, args...))
}

func invalidParameterValue(msg string) *apiError {
	return modeled(http.StatusBadRequest, "InvalidParameterValueException", "InvalidParameterValue", msg)
}

func invalidParameterCombination(msg string) *apiError {
	return modeled(http.StatusBadRequest, "InvalidParameterCombinationException", "InvalidParameterCombination", msg)
}

func invalidNextToken() *apiError {
	return modeled(http.StatusBadRequest, "InvalidNextToken", "InvalidNextToken", "The service couldn't process your request because the NextToken is invalid.")
}

func serialization(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "com.amazon.coral.service#SerializationException",
		query: "MalformedInput;Sender", msg: msg}
}

func unknownOperation(msg string) *apiError {
	return &apiError{status: http.StatusNotFound, typ: "com.amazon.coral.service#UnknownOperationException",
		query: "InvalidAction;Sender", msg: msg}
}

// notModeled refuses what CloudWatch accepts but this server does not model, so a test relying on
// it fails loudly instead of passing against behaviour AWS does not have.
func notModeled(what string) *apiError {
	return invalidParameterValue("the local CloudWatch does not model " + what + " (pkg/support/awslocal/cloudwatch)")
}

// writeFault is the awslocal.ErrorWriter: CloudWatch's answer for an injected status.
func writeFault(w http.ResponseWriter, status int) { writeError(w, faultError(status)) }

func faultError(status int) *apiError {
	switch status {
	case http.StatusTooManyRequests: // CloudWatch throttles with 400 Throttling, which the SDK retries
		return &apiError{status: http.StatusBadRequest, typ: "com.amazon.coral.availability#ThrottlingException",
			query: "Throttling;Sender", msg: "Rate exceeded"}
	case http.StatusInternalServerError:
		return modeled(status, "InternalServiceFault", "InternalServiceError", "Internal service error")
	case http.StatusServiceUnavailable:
		return &apiError{status: status, typ: "com.amazon.coral.availability#ServiceUnavailableException",
			query: "ServiceUnavailable;Receiver", msg: "Service Unavailable"}
	case http.StatusBadRequest:
		return validation("injected fault")
	case http.StatusForbidden:
		return &apiError{status: status, typ: "com.amazon.coral.service#AccessDeniedException",
			query: "AccessDenied;Sender", msg: "User is not authorized to perform: cloudwatch:DescribeAlarms"}
	}
	code := strings.ReplaceAll(http.StatusText(status), " ", "")
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	return &apiError{status: status, typ: "com.amazon.coral.service#" + code, query: code + ";" + fault, msg: "injected fault"}
}
