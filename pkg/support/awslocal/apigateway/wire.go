package apigateway

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is an API Gateway error: the HTTP status, the code AWS puts in x-amzn-ErrorType (which the
// SDK turns into *types.NotFoundException and friends) and the message it puts in the body. The Go
// API (CreateDeployment, CreateStage, SetDeploymentID) returns the same errors the wire would.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message) }

func errBadRequest(format string, a ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "BadRequestException", Message: fmt.Sprintf(format, a...)}
}

func errNotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "NotFoundException", Message: msg}
}

func errConflict(msg string) *Error {
	return &Error{Status: http.StatusConflict, Code: "ConflictException", Message: msg}
}

// AWS's own messages for missing resources, as recorded from the real service (the custodian placebo
// recording in the shared samples, and AWS SDK stack traces quoted in public issues).
func errNoAPI(account, id string) *Error {
	return errNotFound(fmt.Sprintf("Invalid API identifier specified %s:%s", account, id))
}

var (
	errNoStage      = errNotFound("Invalid stage identifier specified")
	errNoDeployment = errNotFound("Invalid Deployment identifier specified")
)

// errDeploymentIDDoesNotExist is what UpdateStage and CreateStage answer for a deploymentId (stage or
// canary) that is not a deployment of the API: recorded against AWS by LocalStack's snapshot tests
// (sample localstack-recorded-error-400-deployment-id-not-exist.json).
func errDeploymentIDDoesNotExist() *Error { return errBadRequest("Deployment id does not exist") }

// faultError is the response an injected fault (or the rate limiter) sends for a status.
//
// 429 carries what API Gateway's control plane sends when the account quota is exceeded: code
// TooManyRequestsException, message "Too Many Requests" (the custodian placebo recording and AWS SDK
// stack traces in public issues agree). Whether AWS adds a Retry-After header was not checked; none
// is sent. 409 uses the message LocalStack recorded from AWS. The 500 and 503 codes and messages
// could not be checked against a recording; 503 uses the model's ServiceUnavailableException. 502
// and 504 are modelled as coming from the front door rather than the service, with no
// x-amzn-ErrorType, so the SDK reports an unknown error with the HTTP status (an assumption).
func faultError(status int) *Error {
	switch status {
	case http.StatusTooManyRequests:
		return &Error{Status: status, Code: "TooManyRequestsException", Message: "Too Many Requests"}
	case http.StatusConflict:
		return errConflict("Unable to complete operation due to concurrent modification. Please try again later.")
	case http.StatusBadRequest:
		return errBadRequest("Bad Request")
	case http.StatusUnauthorized:
		return &Error{Status: status, Code: "UnauthorizedException", Message: "Unauthorized"}
	case http.StatusForbidden:
		return &Error{Status: status, Code: "AccessDeniedException", Message: "Forbidden"}
	case http.StatusNotFound:
		return errNotFound("Not Found")
	case http.StatusInternalServerError:
		return &Error{Status: status, Code: "InternalFailure", Message: "Internal server error"}
	case http.StatusServiceUnavailable:
		return &Error{Status: status, Code: "ServiceUnavailableException", Message: "Service Unavailable"}
	default: // 502, 504 and anything else
		return &Error{Status: status, Message: http.StatusText(status)}
	}
}

// epoch is a timestamp on the wire: API Gateway's REST-JSON protocol sends epoch seconds as a JSON
// number. The store keeps whole seconds (see truncate), so the number is an integer: the SDK parses
// fractional epochs through a float and can land a millisecond early, which would break the
// round trip a test relies on.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, time.Time(e).Unix(), 10), nil
}

// truncate is the timestamp precision of the store: whole seconds, as every date in AWS's own API
// reference samples ("2016-06-06T17:42:37Z", docs-apiref-*.json).
func truncate(t time.Time) time.Time { return t.Truncate(time.Second).UTC() }

// writeJSON sends a success response. A nil body sends none (202/204 answers).
func writeJSON(w http.ResponseWriter, reqID string, status int, body any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-amzn-RequestId", reqID)
	if body == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		// Only our own types are marshalled; failing here is a bug in this package.
		panic(fmt.Sprintf("apigwlocal: marshal %T: %v", body, err))
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeFile sends a success response whose body is a payload blob, with its own content type.
func writeFile(w http.ResponseWriter, reqID string, status int, f *file) {
	h := w.Header()
	for k, v := range f.header {
		h.Set(k, v)
	}
	h.Set("Content-Type", f.contentType)
	h.Set("x-amzn-RequestId", reqID)
	h.Set("Content-Length", strconv.Itoa(len(f.data)))
	w.WriteHeader(status)
	_, _ = w.Write(f.data)
}

// writeError sends an error the way API Gateway does: the code in x-amzn-ErrorType, the message as
// {"message": ...} (the shape of every modelled exception, and of the custodian 404 recording).
func writeError(w http.ResponseWriter, reqID string, e *Error) {
	if e.Code != "" {
		w.Header().Set("x-amzn-ErrorType", e.Code)
	}
	writeJSON(w, reqID, e.Status, map[string]string{"message": e.Message})
}

// newRequestID returns a UUID-shaped request id like the x-amzn-RequestId AWS sends.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Pagination.
//
// API Gateway's position token is base64 of "id=S" + the id of the last item returned: AWS's API
// reference sample (docs-apiref-get-deployments-hal-embedded-next-position.json) pages through
// deployments [4vvti6, a9kdln] and hands back position "aWQ9U2E5a2Rsbg==", which decodes to
// "id=Sa9kdln". Listing in id order and resuming after an id is stable even while items are added.
const (
	defaultLimit = 25
	maxLimit     = 500
	positionTag  = "id=S"
)

func encodePosition(lastID string) string {
	return base64.StdEncoding.EncodeToString([]byte(positionTag + lastID))
}

func decodePosition(p string) (after string, err *Error) {
	b, decErr := base64.StdEncoding.DecodeString(p)
	if decErr != nil || !strings.HasPrefix(string(b), positionTag) || !validID(string(b[len(positionTag):])) {
		// Message not checked against AWS.
		return "", errBadRequest("Invalid pagination token specified: %s", p)
	}
	return string(b[len(positionTag):]), nil
}

// pageArgs reads limit and position. The bounds come from the API reference for GetDeployments and
// GetRestApis: "The maximum number of returned results per page. The default value is 25 and the
// maximum value is 500." The message text for a bad limit is not checked against AWS.
func pageArgs(r *http.Request) (limit int, after string, err *Error) {
	q := r.URL.Query()
	limit = defaultLimit
	if s := q.Get("limit"); s != "" {
		n, convErr := strconv.Atoi(s)
		if convErr != nil || n < 1 || n > maxLimit {
			return 0, "", errBadRequest("Invalid limit specified: %s. The limit must be between 1 and %d.", s, maxLimit)
		}
		limit = n
	}
	if p := q.Get("position"); p != "" {
		after, err = decodePosition(p)
	}
	return limit, after, err
}

// page cuts one page out of ids (sorted ascending) starting after the position.
func page(ids []string, limit int, after string) (out []string, next string) {
	start := 0
	if after != "" {
		for start < len(ids) && ids[start] <= after {
			start++
		}
	}
	end := min(start+limit, len(ids))
	out = ids[start:end]
	if end < len(ids) {
		next = encodePosition(out[len(out)-1])
	}
	return out, next
}

// Wire shapes. Field names are the JSON names of the Smithy model (service/apigateway schemas);
// empty maps are left out, as AWS does (LocalStack's snapshot tests against AWS drop empty
// "variables", and recorded stages without tags have no "tags").

type restAPIJSON struct {
	ID                        string             `json:"id"`
	Name                      string             `json:"name"`
	Description               string             `json:"description,omitempty"`
	CreatedDate               epoch              `json:"createdDate"`
	APIKeySource              string             `json:"apiKeySource"`
	EndpointConfiguration     endpointConfigJSON `json:"endpointConfiguration"`
	DisableExecuteAPIEndpoint bool               `json:"disableExecuteApiEndpoint"`
	RootResourceID            string             `json:"rootResourceId"`
	Tags                      map[string]string  `json:"tags,omitempty"`
}

type endpointConfigJSON struct {
	Types []string `json:"types"`
}

type deploymentJSON struct {
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	CreatedDate epoch  `json:"createdDate"`
}

type canaryJSON struct {
	DeploymentID           string            `json:"deploymentId,omitempty"`
	PercentTraffic         float64           `json:"percentTraffic"`
	StageVariableOverrides map[string]string `json:"stageVariableOverrides,omitempty"`
	UseStageCache          bool              `json:"useStageCache"`
}

type stageJSON struct {
	StageName           string                     `json:"stageName"`
	DeploymentID        string                     `json:"deploymentId"`
	Description         string                     `json:"description,omitempty"`
	CacheClusterEnabled bool                       `json:"cacheClusterEnabled"`
	CacheClusterStatus  string                     `json:"cacheClusterStatus"`
	MethodSettings      map[string]json.RawMessage `json:"methodSettings"`
	TracingEnabled      bool                       `json:"tracingEnabled"`
	Variables           map[string]string          `json:"variables,omitempty"`
	CanarySettings      *canaryJSON                `json:"canarySettings,omitempty"`
	Tags                map[string]string          `json:"tags,omitempty"`
	CreatedDate         epoch                      `json:"createdDate"`
	LastUpdatedDate     epoch                      `json:"lastUpdatedDate"`
}

type listJSON[T any] struct {
	Item     []T    `json:"item"`
	Position string `json:"position,omitempty"`
}

type tagsJSON struct {
	Tags map[string]string `json:"tags"`
}

type patchOpJSON struct {
	Op    string  `json:"op"`
	Path  string  `json:"path"`
	Value *string `json:"value"`
	From  *string `json:"from"`
}

type updateStageInput struct {
	PatchOperations []patchOpJSON `json:"patchOperations"`
}

type createRestAPIInput struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Tags        map[string]string `json:"tags"`
}

type canaryInputJSON struct {
	DeploymentID           string            `json:"deploymentId"`
	PercentTraffic         *float64          `json:"percentTraffic"`
	StageVariableOverrides map[string]string `json:"stageVariableOverrides"`
	UseStageCache          bool              `json:"useStageCache"`
}

type createDeploymentInput struct {
	StageName        *string           `json:"stageName"`
	StageDescription string            `json:"stageDescription"`
	Description      string            `json:"description"`
	Variables        map[string]string `json:"variables"`
	CanarySettings   *canaryInputJSON  `json:"canarySettings"`
}

type createStageInput struct {
	StageName      string            `json:"stageName"`
	DeploymentID   string            `json:"deploymentId"`
	Description    string            `json:"description"`
	Variables      map[string]string `json:"variables"`
	CanarySettings *canaryInputJSON  `json:"canarySettings"`
	Tags           map[string]string `json:"tags"`
}

// maxBody bounds a request body; API Gateway's own bodies for these operations are tiny.
const maxBody = 1 << 20

// readJSON decodes the request body (already read and bounded by serveOp) into v. An empty body
// is an empty object, as for the SDK's input structures with no members set.
func readJSON(r *http.Request, v any) *Error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		// The wording of AWS's answer to a malformed body is not checked.
		return errBadRequest("Could not parse request body into json: %v", err)
	}
	return nil
}
