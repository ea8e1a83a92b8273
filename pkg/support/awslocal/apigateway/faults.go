package apigateway

import (
	"net/http"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
)

// Fault is a misbehaviour to inject into calls of one operation: the one kind every local service
// shares, so a test arranges API Gateway's faults the way it arranges Lambda's or DynamoDB's.
type Fault = awslocal.Fault

// Call is one control-plane call as the server saw it; At is by Options.Now.
type Call = awslocal.Call

// AnyOperation as the op of InjectFault matches every operation.
const AnyOperation = awslocal.AnyOperation

// writeFault is the ErrorWriter of the server's Recorder: API Gateway's error for an injected
// fault's status, and the 429 of its rate limiter.
func writeFault(w http.ResponseWriter, status int) {
	writeError(w, newRequestID(), faultError(status))
}
