// Package lambda is a local AWS Lambda control plane for aliases and reserved concurrency, the part
// Rewind uses: GetAlias, UpdateAlias and ListVersionsByFunction (paged with Marker/MaxItems), and
// GetFunctionConcurrency, PutFunctionConcurrency and DeleteFunctionConcurrency, in Lambda's
// REST-JSON wire format (PascalCase members, LastModified as "2006-01-02T15:04:05.000+0000", errors
// in X-Amzn-ErrorType), with the fault injection of pkg/support/awslocal.
//
// What it models of AWS: UpdateAlias with a RevisionId that is not the alias's current one is 412
// PreconditionFailedException; an alias may only point at a published version of its function (and
// its routing may add one other version, weight in [0, 1]); a Description longer than 256 characters
// is refused; members UpdateAlias is not sent are left as they are, and each update makes a new
// RevisionId. GetFunctionConcurrency answers {} for a function with no reserved concurrency;
// PutFunctionConcurrency refuses a reservation that would leave the account fewer than
// MinUnreservedConcurrency of its AccountConcurrencyLimit unreserved. The concurrency operations
// take the function as a name, an ARN or a partial ARN (123456789012:function:name), unqualified.
package lambda

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

// Version is one published version of a function.
type Version struct {
	Version      string
	Description  string
	LastModified time.Time
}

// Alias is one alias of a function.
type Alias struct {
	Name            string
	FunctionVersion string
	Description     string
	Weights         map[string]float64 // RoutingConfig.AdditionalVersionWeights
	RevisionID      string
}

type function struct {
	versions []Version
	aliases  map[string]*Alias
	reserved *int32 // reserved concurrency; nil when none is set
}

// Server is the local control plane. It is safe for concurrent use.
type Server struct {
	*awslocal.Recorder
	region, account string

	mu        sync.Mutex
	functions map[string]*function
	revision  int
}

// New returns an empty server; now may be nil (time.Now).
func New(now func() time.Time) *Server {
	s := &Server{region: "us-east-1", account: "123456789012", functions: map[string]*function{}}
	s.Recorder = awslocal.NewRecorder(now, func(w http.ResponseWriter, status int) {
		code := awslocal.JSONCode(status)
		switch status {
		case http.StatusNotFound:
			code = "ResourceNotFoundException"
		case http.StatusConflict:
			code = "ResourceConflictException"
		case http.StatusInternalServerError:
			code = "ServiceException"
		}
		awslocal.WriteJSONError(w, status, code, http.StatusText(status))
	})
	return s
}

// CreateFunction adds a function with $LATEST and the given published versions.
func (s *Server) CreateFunction(name string, versions ...Version) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &function{aliases: map[string]*Alias{}}
	f.versions = append(f.versions, Version{Version: "$LATEST", LastModified: time.Now().UTC()})
	for _, v := range versions {
		v.LastModified = v.LastModified.UTC().Truncate(time.Millisecond)
		f.versions = append(f.versions, v)
	}
	s.functions[name] = f
}

// CreateAlias adds an alias.
func (s *Server) CreateAlias(function string, a Alias) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.functions[function]
	if f == nil {
		return fmt.Errorf("no function %s", function)
	}
	a.Weights = maps.Clone(a.Weights)
	a.RevisionID = s.nextRevision()
	f.aliases[a.Name] = &a
	return nil
}

// Alias returns a copy of an alias.
func (s *Server) Alias(function, name string) (Alias, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.functions[function]
	if f == nil || f.aliases[name] == nil {
		return Alias{}, false
	}
	a := *f.aliases[name]
	a.Weights = maps.Clone(a.Weights)
	return a, true
}

// SetAliasVersion points an alias at a version as a human would (a new revision, no checks).
func (s *Server) SetAliasVersion(function, name, version string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.functions[function]
	if f == nil || f.aliases[name] == nil {
		return false
	}
	f.aliases[name].FunctionVersion = version
	f.aliases[name].RevisionID = s.nextRevision()
	return true
}

// The account's concurrency, as AWS's default quota: reservations may not leave less than
// MinUnreservedConcurrency of AccountConcurrencyLimit to the functions without one.
const (
	AccountConcurrencyLimit  = 1000
	MinUnreservedConcurrency = 100
)

// SetReservedConcurrency reserves n concurrent executions for a function, as PutFunctionConcurrency
// does but without the account check (setup is not a call: neither recorded nor counted), and
// reports whether the function exists.
func (s *Server) SetReservedConcurrency(function string, n int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.functions[function]
	if f == nil {
		return false
	}
	f.reserved = &n
	return true
}

// ClearReservedConcurrency removes a function's reservation, and reports whether the function exists.
func (s *Server) ClearReservedConcurrency(function string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.functions[function]
	if f == nil {
		return false
	}
	f.reserved = nil
	return true
}

// ReservedConcurrency is a function's reserved concurrency, or false when it has none (or there is
// no such function).
func (s *Server) ReservedConcurrency(function string) (int32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.functions[function]
	if f == nil || f.reserved == nil {
		return 0, false
	}
	return *f.reserved, true
}

func (s *Server) nextRevision() string {
	s.revision++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", s.revision, s.revision)
}

var routes = []awslocal.Route{
	{Method: "GET", Path: "/2015-03-31/functions/{FunctionName}/aliases/{Name}", Op: "GetAlias"},
	{Method: "PUT", Path: "/2015-03-31/functions/{FunctionName}/aliases/{Name}", Op: "UpdateAlias"},
	{Method: "GET", Path: "/2015-03-31/functions/{FunctionName}/versions", Op: "ListVersionsByFunction"},
	{Method: "GET", Path: "/2019-09-30/functions/{FunctionName}/concurrency", Op: "GetFunctionConcurrency"},
	{Method: "PUT", Path: "/2017-10-31/functions/{FunctionName}/concurrency", Op: "PutFunctionConcurrency"},
	{Method: "DELETE", Path: "/2017-10-31/functions/{FunctionName}/concurrency", Op: "DeleteFunctionConcurrency"},
}

// DefaultPageSize is what ListVersionsByFunction answers without MaxItems, as AWS does.
const DefaultPageSize = 50

// ServeHTTP is the control plane (lambda.{region}.amazonaws.com).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, params, ok := awslocal.Match(routes, r.Method, r.URL.EscapedPath())
	if !ok {
		awslocal.WriteJSONError(w, http.StatusNotFound, "ResourceNotFoundException", "no such operation: "+r.Method+" "+r.URL.Path)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		awslocal.WriteJSONError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
		return
	}
	s.Serve(w, r, rt.Op, func(w http.ResponseWriter) bool {
		switch rt.Op {
		case "GetAlias":
			s.getAlias(w, params)
		case "ListVersionsByFunction":
			s.listVersions(w, r, params)
		case "UpdateAlias":
			return s.updateAlias(w, params, body)
		case "GetFunctionConcurrency":
			s.getConcurrency(w, params)
		case "PutFunctionConcurrency":
			return s.putConcurrency(w, params, body)
		case "DeleteFunctionConcurrency":
			return s.deleteConcurrency(w, params)
		}
		return false
	})
}

type routingJSON struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights"`
}

type aliasJSON struct {
	AliasArn        string       `json:"AliasArn"`
	Name            string       `json:"Name"`
	FunctionVersion string       `json:"FunctionVersion"`
	Description     string       `json:"Description"`
	RoutingConfig   *routingJSON `json:"RoutingConfig,omitempty"`
	RevisionId      string       `json:"RevisionId"` //nolint:revive // the wire's name
}

func (s *Server) aliasJSON(fn string, a *Alias) aliasJSON {
	out := aliasJSON{AliasArn: fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s:%s", s.region, s.account, fn, a.Name),
		Name: a.Name, FunctionVersion: a.FunctionVersion, Description: a.Description, RevisionId: a.RevisionID}
	if len(a.Weights) > 0 {
		out.RoutingConfig = &routingJSON{AdditionalVersionWeights: a.Weights}
	}
	return out
}

func (s *Server) alias(params map[string]string) (*function, *Alias, bool) {
	f := s.functions[params["FunctionName"]]
	if f == nil || f.aliases[params["Name"]] == nil {
		return f, nil, false
	}
	return f, f.aliases[params["Name"]], true
}

func notFound(w http.ResponseWriter, params map[string]string) {
	awslocal.WriteJSONError(w, http.StatusNotFound, "ResourceNotFoundException",
		fmt.Sprintf("Alias not found: arn:aws:lambda:us-east-1:123456789012:function:%s:%s", params["FunctionName"], params["Name"]))
}

func (s *Server) getAlias(w http.ResponseWriter, params map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, a, ok := s.alias(params)
	if !ok {
		notFound(w, params)
		return
	}
	awslocal.WriteJSON(w, http.StatusOK, s.aliasJSON(params["FunctionName"], a))
}

// lastModified is Lambda's own timestamp format (a string member, not an epoch).
const lastModified = "2006-01-02T15:04:05.000-0700"

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request, params map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.functions[params["FunctionName"]]
	if f == nil {
		awslocal.WriteJSONError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+params["FunctionName"])
		return
	}
	size := DefaultPageSize
	if v := r.URL.Query().Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			awslocal.WriteJSONError(w, http.StatusBadRequest, "InvalidParameterValueException", "MaxItems must be 1 to 10000")
			return
		}
		size = min(n, DefaultPageSize)
	}
	start := 0
	if m := r.URL.Query().Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > len(f.versions) {
			awslocal.WriteJSONError(w, http.StatusBadRequest, "InvalidParameterValueException", "Invalid Marker")
			return
		}
		start = n
	}
	type fnConfig struct {
		FunctionName string `json:"FunctionName"`
		FunctionArn  string `json:"FunctionArn"`
		Version      string `json:"Version"`
		Description  string `json:"Description"`
		LastModified string `json:"LastModified"`
	}
	out := struct {
		Versions   []fnConfig `json:"Versions"`
		NextMarker string     `json:"NextMarker,omitempty"`
	}{Versions: []fnConfig{}}
	end := min(start+size, len(f.versions))
	for _, v := range f.versions[start:end] {
		out.Versions = append(out.Versions, fnConfig{FunctionName: params["FunctionName"],
			FunctionArn: fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s:%s", s.region, s.account, params["FunctionName"], v.Version),
			Version:     v.Version, Description: v.Description, LastModified: v.LastModified.Format(lastModified)})
	}
	if end < len(f.versions) {
		out.NextMarker = strconv.Itoa(end)
	}
	awslocal.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) updateAlias(w http.ResponseWriter, params map[string]string, body []byte) bool {
	var in struct {
		FunctionVersion *string      `json:"FunctionVersion"`
		Description     *string      `json:"Description"`
		RoutingConfig   *routingJSON `json:"RoutingConfig"`
		RevisionId      *string      `json:"RevisionId"` //nolint:revive // the wire's name
	}
	if err := json.Unmarshal(body, &in); err != nil {
		awslocal.WriteJSONError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: "+err.Error())
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, a, ok := s.alias(params)
	if !ok {
		notFound(w, params)
		return false
	}
	bad := func(msg string) bool {
		awslocal.WriteJSONError(w, http.StatusBadRequest, "InvalidParameterValueException", msg)
		return false
	}
	if in.RevisionId != nil && *in.RevisionId != a.RevisionID {
		awslocal.WriteJSONError(w, http.StatusPreconditionFailed, "PreconditionFailedException",
			"The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to retrieve the latest Revision Id")
		return false
	}
	published := func(v string) bool {
		return v != "$LATEST" && slices.ContainsFunc(f.versions, func(x Version) bool { return x.Version == v })
	}
	version := a.FunctionVersion
	if in.FunctionVersion != nil {
		if !published(*in.FunctionVersion) {
			return bad("Function version " + *in.FunctionVersion + " does not exist")
		}
		version = *in.FunctionVersion
	}
	weights := a.Weights
	if in.RoutingConfig != nil {
		weights = in.RoutingConfig.AdditionalVersionWeights
	}
	if len(weights) > 1 {
		return bad("Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	for v, wt := range weights {
		if !published(v) || v == version || wt < 0 || wt > 1 {
			return bad(fmt.Sprintf("Invalid additional version weight %s=%g for primary version %s", v, wt, version))
		}
	}
	if in.Description != nil && utf8.RuneCountInString(*in.Description) > 256 {
		return bad("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	a.FunctionVersion, a.Weights = version, maps.Clone(weights)
	if in.Description != nil {
		a.Description = *in.Description
	}
	a.RevisionID = s.nextRevision()
	awslocal.WriteJSON(w, http.StatusOK, s.aliasJSON(params["FunctionName"], a))
	return true
}

// concurrencyJSON is GetFunctionConcurrency's and PutFunctionConcurrency's answer; Get leaves the
// member out when no concurrency is reserved.
type concurrencyJSON struct {
	ReservedConcurrentExecutions *int32 `json:"ReservedConcurrentExecutions,omitempty"`
}

// unqualified finds the function a concurrency operation names (a name, an ARN or a partial ARN,
// 123456789012:function:name), or answers 404 as Lambda does and returns false.
func (s *Server) unqualified(w http.ResponseWriter, given string) (string, *function, bool) {
	name := given
	if rest, ok := strings.CutPrefix(given, "arn:aws:lambda:"+s.region+":"); ok {
		name = rest
	}
	if rest, ok := strings.CutPrefix(name, s.account+":function:"); ok {
		name = rest
	}
	if f := s.functions[name]; f != nil && !strings.Contains(name, ":") {
		return name, f, true
	}
	if !strings.HasPrefix(given, "arn:") {
		given = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.region, s.account, strings.TrimPrefix(given, s.account+":function:"))
	}
	awslocal.WriteJSONError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+given)
	return "", nil, false
}

func (s *Server) getConcurrency(w http.ResponseWriter, params map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, f, ok := s.unqualified(w, params["FunctionName"])
	if !ok {
		return
	}
	awslocal.WriteJSON(w, http.StatusOK, concurrencyJSON{ReservedConcurrentExecutions: f.reserved})
}

func (s *Server) putConcurrency(w http.ResponseWriter, params map[string]string, body []byte) bool {
	var in struct {
		ReservedConcurrentExecutions *int32 `json:"ReservedConcurrentExecutions"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		awslocal.WriteJSONError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: "+err.Error())
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, f, ok := s.unqualified(w, params["FunctionName"])
	if !ok {
		return false
	}
	bad := func(msg string) bool {
		awslocal.WriteJSONError(w, http.StatusBadRequest, "InvalidParameterValueException", msg)
		return false
	}
	n := in.ReservedConcurrentExecutions
	switch {
	case n == nil:
		return bad("1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must not be null")
	case *n < 0:
		return bad(fmt.Sprintf("1 validation error detected: Value '%d' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0", *n))
	}
	others := 0
	for other, g := range s.functions {
		if other != name && g.reserved != nil {
			others += int(*g.reserved)
		}
	}
	if AccountConcurrencyLimit-others-int(*n) < MinUnreservedConcurrency {
		return bad(fmt.Sprintf("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", MinUnreservedConcurrency))
	}
	v := *n
	f.reserved = &v
	awslocal.WriteJSON(w, http.StatusOK, concurrencyJSON{ReservedConcurrentExecutions: &v})
	return true
}

func (s *Server) deleteConcurrency(w http.ResponseWriter, params map[string]string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, f, ok := s.unqualified(w, params["FunctionName"])
	if !ok {
		return false
	}
	f.reserved = nil
	w.WriteHeader(http.StatusNoContent)
	return true
}
