package dynamodb

import (
	"fmt"
	"net/http"
)

// apiError is an error answer as DynamoDB sends it.
type apiError struct {
	status  int
	code    string
	msg     string
	item    item     // ConditionalCheckFailedException with ReturnValuesOnConditionCheckFailure ALL_OLD
	reasons []reason // TransactionCanceledException
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

// reason is one entry of a TransactionCanceledException's CancellationReasons, one per item.
type reason struct {
	Code    string `json:"Code"`
	Message string `json:"Message,omitempty"`
	Item    item   `json:"Item,omitempty"`
}

func validation(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ValidationException", msg: msg}
}

func validationf(format string, args ...any) *apiError {
	return validation(fmt.Sprintf(format, args...))
}

func serialization(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "SerializationException", msg: msg}
}

// notModeled refuses what DynamoDB accepts but this server does not model, so a test relying on it
// fails loudly instead of passing against behaviour AWS does not have.
func notModeled(what string) *apiError {
	return validation("the local DynamoDB does not model " + what + " (pkg/support/awslocal/dynamodb)")
}

func notFound() *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ResourceNotFoundException", msg: "Requested resource not found"}
}

func tableNotFound(name string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ResourceNotFoundException",
		msg: "Requested resource not found: Table: " + name + " not found"}
}

const conditionFailed = "The conditional request failed"

func conditionalCheckFailed(old item) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ConditionalCheckFailedException", msg: conditionFailed, item: old}
}

// errorPrefix is the namespace DynamoDB puts before an error code in __type: the validation and
// protocol errors come from the shared front end ("coral"), the rest from DynamoDB itself. The SDKs
// strip it; it is kept so a raw answer reads as AWS's does.
func errorPrefix(code string) string {
	switch code {
	case "ValidationException":
		return "com.amazon.coral.validate#"
	case "SerializationException", "UnknownOperationException", "MissingAuthenticationTokenException":
		return "com.amazon.coral.service#"
	}
	return "com.amazonaws.dynamodb.v20120810#"
}

// body is the error's JSON: "message", except TransactionCanceledException, whose model (and AWS's
// answer) spells it "Message"; the SDK matches member names exactly.
func (e *apiError) body() map[string]any {
	out := map[string]any{"__type": errorPrefix(e.code) + e.code}
	if e.code == "TransactionCanceledException" {
		out["Message"] = e.msg
		out["CancellationReasons"] = e.reasons
	} else {
		out["message"] = e.msg
	}
	if e.item != nil {
		out["Item"] = e.item
	}
	return out
}

// faultError is DynamoDB's answer for an injected HTTP status. n is the number of items of a
// TransactWriteItems call, which answers a lost race with one cancellation reason per item.
func faultError(op string, n, status int) *apiError {
	switch status {
	case http.StatusTooManyRequests: // the SDK retries it as throttling
		return &apiError{status: http.StatusBadRequest, code: "ProvisionedThroughputExceededException",
			msg: "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."}
	case http.StatusConflict: // another writer got there first
		if op == "TransactWriteItems" {
			return canceled(lostRace(max(n, 1)))
		}
		return conditionalCheckFailed(nil)
	case http.StatusInternalServerError:
		return &apiError{status: status, code: "InternalServerError", msg: "Internal server error"}
	case http.StatusServiceUnavailable:
		return &apiError{status: status, code: "ServiceUnavailable", msg: "Service Unavailable"}
	case http.StatusBadRequest:
		return validation("injected fault")
	}
	return &apiError{status: status, code: http.StatusText(status), msg: "injected fault"}
}

// lostRace is a transaction whose first item's condition another writer's change made false.
func lostRace(n int) []reason {
	rs := make([]reason, n)
	for i := range rs {
		rs[i] = reason{Code: "None"}
	}
	rs[0] = reason{Code: "ConditionalCheckFailed", Message: conditionFailed}
	return rs
}

func canceled(rs []reason) *apiError {
	msg := "Transaction cancelled, please refer cancellation reasons for specific reasons ["
	for i, r := range rs {
		if i > 0 {
			msg += ", "
		}
		msg += r.Code
	}
	return &apiError{status: http.StatusBadRequest, code: "TransactionCanceledException", msg: msg + "]", reasons: rs}
}
