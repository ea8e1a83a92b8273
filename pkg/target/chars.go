package target

import "github.com/rewind-sre/rewind/pkg/internal/ascii"

// The validators below are ascii.Set checks rather than regexps: compiling a dozen package-level
// regexps with counted repetition cost about 3 ms of every cold start before main ran. Each
// validator accepts exactly what the regexp in its comment accepted (TestValidatorsMatchTheRegexps
// and FuzzValidatorsMatchTheRegexps compare them).

var (
	alnum       = ascii.NewSet("A-Za-z0-9")
	word        = ascii.NewSet("A-Za-z0-9_-")
	digit       = ascii.NewSet("0-9")
	upperAlnum  = ascii.NewSet("A-Z0-9")
	deployFirst = ascii.NewSet("A-Za-z0-9_~+-")
	deployRest  = ascii.NewSet("A-Za-z0-9._~:+-")
	pathChars   = ascii.NewSet("A-Za-z0-9_.*$/~:+&-")
)

// API Gateway ids are 10 lower-case alphanumerics; the looser bound keeps emulators' ids working
// while still refusing anything that could change a request path (/, %, .., spaces).

func validID(s string) bool    { return alnum.Span(s, 1, 64) } // ^[A-Za-z0-9]{1,64}$
func validStage(s string) bool { return word.Span(s, 1, 128) } // ^[A-Za-z0-9_-]{1,128}$

// validDeployment is a deployment a command names: a REST/HTTP deployment id, a Lambda version, or
// a CloudFront origin id. No "/", "%", spaces, and no leading "." (so no ".."), whatever the kind.
// ^[A-Za-z0-9_~+-][A-Za-z0-9._~:+-]{0,127}$
func validDeployment(s string) bool {
	return len(s) >= 1 && len(s) <= 128 && deployFirst.Has(s[0]) && deployRest.All(s[1:])
}

// Lambda: function names and aliases (an alias is not all digits: that would be a version).

func validFunction(s string) bool { return word.Span(s, 1, 64) }        // ^[A-Za-z0-9_-]{1,64}$
func validAlias(s string) bool    { return word.Span(s, 1, 128) }       // ^[A-Za-z0-9_-]{1,128}$
func validVersion(s string) bool  { return digit.Span(s, 1, 10) }       // ^[0-9]{1,10}$
func allDigits(s string) bool     { return len(s) > 0 && digit.All(s) } // ^[0-9]+$

// CloudFront: distribution ids are upper-case alphanumerics; path patterns use CloudFront's
// documented characters (less quotes, and never ","); origin ids avoid "@", "," and spaces.

func validDistribution(s string) bool { return upperAlnum.Span(s, 1, 32) }  // ^[A-Z0-9]{1,32}$
func validPathPattern(s string) bool  { return pathChars.Span(s, 1, 255) }  // ^[A-Za-z0-9_.*$/~:+&-]{1,255}$
func validOrigin(s string) bool       { return deployRest.Span(s, 1, 128) } // ^[A-Za-z0-9._~:+-]{1,128}$
