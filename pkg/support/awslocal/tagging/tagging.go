// Package tagging is a local Resource Groups Tagging API: GetResources over JSON 1.1 (POST with
// X-Amz-Target ResourceGroupsTaggingAPI_20170126.GetResources), its resources drawn from the local
// API Gateway fakes' tags at each call, so tagging, untagging or deleting a stage there shows here
// at once. moto_server 5.2.1's tagging API does not list API Gateway resources, so there is no
// independent server to check against; the AWS CLI v2 checks the wire (cli_test.go).
//
// What it models of AWS (GetResources' API reference): ResourceTypeFilters "service[:type]", the
// type being the ARN's resource path without its ids ("restapis/stages"); TagFilters of different
// keys AND-ed, the values of one key OR-ed, a key without values matching any value; a resource
// with no tags is listed only without TagFilters; ResourcesPerPage 1-100 (default 100) with an
// opaque PaginationToken, "" on the last page; ResourceARNList with filters or paging is an
// InvalidParameterException. Like AWS it is regional: it answers the resources of the region the
// request is signed for (Options.AnyRegion answers every region's, to test a client's own check).
package tagging

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

// Resource is one resource a source holds, with its tags.
type Resource struct {
	ARN  string
	Tags map[string]string
}

// Source lists its resources when asked (the local API Gateway's Server has TaggedResources).
type Source interface {
	TaggedResources() []Resource
}

// SourceFunc is a Source from a function.
type SourceFunc func() []Resource

// TaggedResources calls f.
func (f SourceFunc) TaggedResources() []Resource { return f() }

// Options configure a Server.
type Options struct {
	Now func() time.Time // the recorder's clock; nil: time.Now
	// AnyRegion answers resources of every region, not only the request's.
	AnyRegion bool
}

// Server is the local Tagging API. It is safe for concurrent use.
type Server struct {
	*awslocal.Recorder
	opts Options

	mu      sync.Mutex
	sources []Source
}

// TargetPrefix is the X-Amz-Target of the service's operations, before the operation's name.
const TargetPrefix = "ResourceGroupsTaggingAPI_20170126."

// New returns a server over sources.
func New(opts Options, sources ...Source) *Server {
	s := &Server{opts: opts, sources: sources}
	s.Recorder = awslocal.NewRecorder(opts.Now, func(w http.ResponseWriter, status int) {
		writeError(w, status, errorCode(status), http.StatusText(status))
	})
	return s
}

// AddSource adds a source of resources.
func (s *Server) AddSource(src Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sources = append(s.sources, src)
}

// Front serves the Tagging API's calls and hands every other request to next: one endpoint for
// every client.
func (s *Server) Front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix) {
			s.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP serves one call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	if r.Method != http.MethodPost || op != "GetResources" {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("operation %q is not served here", op))
		return
	}
	var in getResourcesInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "the request body is not JSON: "+err.Error())
		return
	}
	region := signedRegion(r)
	s.Serve(w, r, op, func(w http.ResponseWriter) bool {
		out, status, code, msg := s.getResources(in, region)
		if status != http.StatusOK {
			writeError(w, status, code, msg)
			return false
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(out)
		return false
	})
}

type tagFilter struct {
	Key    string
	Values []string
}

type getResourcesInput struct {
	PaginationToken     string
	ResourceARNList     []string
	ResourceTypeFilters []string
	ResourcesPerPage    *int
	TagFilters          []tagFilter
	TagsPerPage         *int
}

type tag struct {
	Key, Value string
}

type mapping struct {
	ResourceARN string
	Tags        []tag
}

type getResourcesOutput struct {
	PaginationToken        string
	ResourceTagMappingList []mapping
}

func (s *Server) getResources(in getResourcesInput, region string) (out getResourcesOutput, status int, code, msg string) {
	bad := func(format string, a ...any) (getResourcesOutput, int, string, string) {
		return getResourcesOutput{}, http.StatusBadRequest, "InvalidParameterException", fmt.Sprintf(format, a...)
	}
	switch {
	case len(in.ResourceARNList) > 0 && (len(in.TagFilters) > 0 || len(in.ResourceTypeFilters) > 0):
		return bad("ResourceARNList cannot be combined with TagFilters or ResourceTypeFilters")
	case len(in.ResourceARNList) > 0 && (in.PaginationToken != "" || in.ResourcesPerPage != nil || in.TagsPerPage != nil):
		return bad("ResourceARNList cannot be combined with pagination parameters")
	case len(in.TagFilters) > 50:
		return bad("TagFilters: at most 50 keys")
	case len(in.ResourceTypeFilters) > 100:
		return bad("ResourceTypeFilters: at most 100 items")
	}
	for _, f := range in.TagFilters {
		if f.Key == "" || len(f.Key) > 128 || len(f.Values) > 20 {
			return bad("TagFilters: each filter needs a key of 1-128 characters and at most 20 values")
		}
	}
	per := 100
	if in.ResourcesPerPage != nil {
		if per = *in.ResourcesPerPage; per < 1 || per > 100 {
			return bad("ResourcesPerPage must be between 1 and 100")
		}
	}
	from := 0
	if in.PaginationToken != "" {
		n, err := decodeToken(in.PaginationToken)
		if err != nil {
			return bad("the PaginationToken is not one this service gave")
		}
		from = n
	}
	all := s.matching(in, region)
	if from > len(all) {
		from = len(all)
	}
	end := min(from+per, len(all))
	out.ResourceTagMappingList = all[from:end]
	if out.ResourceTagMappingList == nil {
		out.ResourceTagMappingList = []mapping{}
	}
	if end < len(all) {
		out.PaginationToken = encodeToken(end)
	}
	return out, http.StatusOK, "", ""
}

// matching is every resource the request selects, sorted by ARN (so pages are stable).
func (s *Server) matching(in getResourcesInput, region string) []mapping {
	s.mu.Lock()
	sources := slices.Clone(s.sources)
	s.mu.Unlock()
	var out []mapping
	for _, src := range sources {
		for _, res := range src.TaggedResources() {
			if !s.selects(in, region, res) {
				continue
			}
			m := mapping{ResourceARN: res.ARN, Tags: []tag{}}
			for k, v := range res.Tags {
				m.Tags = append(m.Tags, tag{k, v})
			}
			slices.SortFunc(m.Tags, func(a, b tag) int { return strings.Compare(a.Key, b.Key) })
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b mapping) int { return strings.Compare(a.ResourceARN, b.ResourceARN) })
	return out
}

func (s *Server) selects(in getResourcesInput, region string, res Resource) bool {
	f := strings.SplitN(res.ARN, ":", 6)
	if len(f) != 6 {
		return false
	}
	if !s.opts.AnyRegion && region != "" && f[3] != region {
		return false
	}
	if len(in.ResourceARNList) > 0 {
		return slices.Contains(in.ResourceARNList, res.ARN)
	}
	if len(in.ResourceTypeFilters) > 0 && !slices.ContainsFunc(in.ResourceTypeFilters, func(t string) bool { return typeMatches(t, f[2], f[5]) }) {
		return false
	}
	if len(in.TagFilters) > 0 && len(res.Tags) == 0 {
		return false
	}
	for _, tf := range in.TagFilters { // keys AND-ed
		v, ok := res.Tags[tf.Key]
		if !ok || (len(tf.Values) > 0 && !slices.Contains(tf.Values, v)) { // values OR-ed
			return false
		}
	}
	return true
}

// typeMatches: filter "service" or "service:type" against an ARN's service and resource. The type
// of an API Gateway resource "/restapis/ID/stages/NAME" is "restapis/stages": its path's names
// without their ids.
func typeMatches(filter, service, resource string) bool {
	svc, typ, hasType := strings.Cut(filter, ":")
	if svc != service {
		return false
	}
	if !hasType {
		return true
	}
	seg := strings.Split(strings.TrimPrefix(resource, "/"), "/")
	var names []string
	for i := 0; i < len(seg); i += 2 {
		names = append(names, seg[i])
	}
	return strings.Join(names, "/") == typ
}

// signedRegion is the region in the request's SigV4 credential scope
// (Credential=AKID/DATE/REGION/SERVICE/aws4_request); "" when unsigned.
func signedRegion(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[2]
}

func encodeToken(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("rewind-local:" + strconv.Itoa(n)))
}

func decodeToken(s string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "rewind-local:"))
	if err != nil || n < 0 || !strings.HasPrefix(string(b), "rewind-local:") {
		return 0, fmt.Errorf("bad token")
	}
	return n, nil
}

// writeError answers a JSON 1.1 error: __type names the error shape, which is what the SDK's
// deserializer (and botocore) read; Message carries the text.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "Message": msg})
}

// errorCode is the Tagging API's error for an injected status (its model's errors: ThrottledException,
// InternalServiceException, InvalidParameterException).
func errorCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "ThrottledException"
	case http.StatusBadRequest:
		return "InvalidParameterException"
	case http.StatusForbidden:
		return "AccessDeniedException"
	}
	return "InternalServiceException"
}
