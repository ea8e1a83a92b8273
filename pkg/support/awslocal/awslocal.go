// Package awslocal holds what the local AWS services under it share: fault injection, latency and a
// request-rate quota, the record of calls and the count of applied writes (Recorder), and the
// REST-JSON routing and error helpers. Each service package (apigateway, apigwv2, lambda,
// cloudfront, cloudwatch, dynamodb) speaks its own wire format and says, per status, which error its
// SDK expects; the Recorder decides when a fault fires and whether the change it hides was applied.
package awslocal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Route is one operation of a REST-style service: method and path template ("{name}" segments;
// a final "{name+}" takes the rest of the path).
type Route struct {
	Method, Path, Op string
}

// Match finds the route for a request and the values of its path parameters (unescaped).
func Match(routes []Route, method, escapedPath string) (Route, map[string]string, bool) {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	for _, rt := range routes {
		if rt.Method != method {
			continue
		}
		if params, ok := matchPath(strings.Split(strings.Trim(rt.Path, "/"), "/"), segs); ok {
			return rt, params, true
		}
	}
	return Route{}, nil, false
}

func matchPath(tmpl, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "+}") {
			if i >= len(segs) {
				return nil, false
			}
			v, err := unescape(strings.Join(segs[i:], "/"))
			if err != nil {
				return nil, false
			}
			params[t[1:len(t)-2]] = v
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			v, err := unescape(segs[i])
			if err != nil || v == "" {
				return nil, false
			}
			params[t[1:len(t)-1]] = v
			continue
		}
		if t != segs[i] {
			return nil, false
		}
	}
	return params, len(tmpl) == len(segs)
}

func unescape(s string) (string, error) { return url.PathUnescape(s) }

// WriteJSONError writes an error the way REST-JSON services do: the code in X-Amzn-ErrorType and the
// body {"message": ...}, which is where the SDK's deserializers look.
func WriteJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message, "Message": message})
}

// JSONCode is the REST-JSON error code AWS services commonly answer for a status.
func JSONCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "TooManyRequestsException"
	case http.StatusConflict:
		return "ConflictException"
	case http.StatusBadRequest:
		return "BadRequestException"
	case http.StatusNotFound:
		return "NotFoundException"
	case http.StatusForbidden:
		return "AccessDeniedException"
	case http.StatusPreconditionFailed:
		return "PreconditionFailedException"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailableException"
	case http.StatusInternalServerError:
		return "InternalFailure"
	}
	return http.StatusText(status)
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ISO8601 is how the REST-JSON services with date-time timestamps (API Gateway v2) write a time.
func ISO8601(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
