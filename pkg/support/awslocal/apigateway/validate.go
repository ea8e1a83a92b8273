package apigateway

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// validID reports whether s can be an API or deployment id. AWS generates them from [a-z0-9]; any
// other character in a path id is answered 404 like an id that does not exist, never a panic and
// never a lookup of a path-like key.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validStageName: "Stage names can only contain alphanumeric characters, hyphens, and underscores.
// Maximum length is 128 characters." (Stage.stageName in the service model's documentation).
func validStageName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func checkStageName(s string) *Error {
	if !validStageName(s) {
		// Wording not checked against AWS.
		return errBadRequest("Stage name only allows a-zA-Z0-9_-, at most 128 characters: %q", s)
	}
	return nil
}

// Stage variables. The service model documents: "Variable names can have alphanumeric and
// underscore characters, and the values must match [A-Za-z0-9-._~:/?#&=,]+." The value limit of
// 512 characters is from the API Gateway quotas page ("Length, in characters, of a stage variable
// value"). The messages are AWS's, as quoted in public issues (serverless/serverless#6133,
// sirceljm/aws-lambda-blog#10), including their double spaces. AWS's value message lists a space
// but not '~' or '#'; the documented pattern is enforced here, not the message's list.
const maxVariableValue = 512

func checkVariableName(name string) *Error {
	ok := name != ""
	for i := 0; i < len(name) && ok; i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
	}
	if !ok {
		return errBadRequest("Invalid stage variable name: %s.  Please use names with only word characters.", name)
	}
	return nil
}

func checkVariableValue(value string) *Error {
	ok := value != "" && len(value) <= maxVariableValue
	for i := 0; i < len(value) && ok; i++ {
		c := value[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~:/?#&=,", c) >= 0
	}
	if !ok {
		return errBadRequest("Invalid stage variable value: %s.  Please use values with alphanumeric characters and the symbols ' ', -', '.', '_', ':', '/', '?', '&', '=', and ','.", value)
	}
	return nil
}

func checkVariables(vars map[string]string) *Error {
	for k, v := range vars {
		if err := checkVariableName(k); err != nil {
			return err
		}
		if err := checkVariableValue(v); err != nil {
			return err
		}
	}
	return nil
}

// Tags, per the API reference of TagResource and the AWS tagging rules it points to: keys of 1-128
// and values of up to 256 Unicode characters, made of letters, digits, spaces and _ . : / = + - @;
// keys may not start with "aws:"; at most 50 tags on a resource. Only the "aws:" message is AWS's
// own (quoted in serverless/serverless#9223); the others are not checked.
const (
	maxTagKey   = 128
	maxTagValue = 256
	maxTags     = 50
)

func tagCharsOK(s string) bool {
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) || unicode.Is(unicode.Zs, r) || strings.ContainsRune("_.:/=+-@", r)) {
			return false
		}
	}
	return true
}

func checkTags(tags map[string]string) *Error {
	for k, v := range tags {
		if n := utf8.RuneCountInString(k); n == 0 || n > maxTagKey || !tagCharsOK(k) {
			return errBadRequest("Invalid tag key: %q. Tag keys must be 1-%d letters, digits, spaces or _ . : / = + - @.", k, maxTagKey)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return errBadRequest("Invalid tag key. Tag keys cannot start with 'aws:' (case insensitive)")
		}
		if utf8.RuneCountInString(v) > maxTagValue || !tagCharsOK(v) {
			return errBadRequest("Invalid tag value for key %q: %q. Tag values must be at most %d letters, digits, spaces or _ . : / = + - @.", k, v, maxTagValue)
		}
	}
	return nil
}

// checkPercent: "The percent (0-100) of traffic diverted to a canary deployment." (CanarySettings).
func checkPercent(p float64) *Error {
	if !(p >= 0 && p <= 100) { // also rejects NaN
		return errBadRequest("Invalid canary percentTraffic %v: must be between 0.0 and 100.0", p)
	}
	return nil
}
