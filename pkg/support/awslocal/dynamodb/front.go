package dynamodb

import (
	"net/http"
	"strings"
)

// Front serves DynamoDB's calls (POST with X-Amz-Target DynamoDB_20120810.*) and hands every other
// request to next: one local endpoint for every client, as AWS_ENDPOINT_URL gives them.
func (s *Server) Front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), targetPrefix) {
			s.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
