package target

// The validators below are hand-written rather than regexps: a package-level regexp with counted
// repetition ({1,64}, {1,128}, ...) compiles into a program that repeats its class that many
// times, and compiling a dozen of them cost about 3 ms of every cold start before main ran. Each
// validator accepts exactly what the regexp in its comment accepted (TestValidatorsMatchTheRegexps
// and FuzzValidatorsMatchTheRegexps compare them): every class is ASCII, so a check over bytes
// refuses any non-ASCII or invalid UTF-8 just as the regexp did, and counting bytes counts runes.

// charset is a set of ASCII bytes.
type charset [2]uint64

// newCharset reads a regexp class body without its brackets: "A-Za-z0-9_-" (a "-" first or last
// is itself).
func newCharset(class string) charset {
	var c charset
	for i := 0; i < len(class); i++ {
		lo, hi := class[i], class[i]
		if i+2 < len(class) && class[i+1] == '-' {
			hi = class[i+2]
			i += 2
		}
		for b := int(lo); b <= int(hi); b++ {
			c[b>>6] |= 1 << (b & 63)
		}
	}
	return c
}

func (c *charset) has(b byte) bool { return b < 128 && c[b>>6]&(1<<(b&63)) != 0 }

// all reports whether every byte of s is in c (true for "").
func (c *charset) all(s string) bool {
	for i := 0; i < len(s); i++ {
		if !c.has(s[i]) {
			return false
		}
	}
	return true
}

// span reports whether s is min to max bytes, all in c: the regexp ^[class]{min,max}$.
func (c *charset) span(s string, min, max int) bool {
	return len(s) >= min && len(s) <= max && c.all(s)
}

var (
	alnum       = newCharset("A-Za-z0-9")
	word        = newCharset("A-Za-z0-9_-")
	digit       = newCharset("0-9")
	upperAlnum  = newCharset("A-Z0-9")
	deployFirst = newCharset("A-Za-z0-9_~+-")
	deployRest  = newCharset("A-Za-z0-9._~:+-")
	pathChars   = newCharset("A-Za-z0-9_.*$/~:+&-")
)

// API Gateway ids are 10 lower-case alphanumerics; the looser bound keeps emulators' ids working
// while still refusing anything that could change a request path (/, %, .., spaces).

func validID(s string) bool    { return alnum.span(s, 1, 64) } // ^[A-Za-z0-9]{1,64}$
func validStage(s string) bool { return word.span(s, 1, 128) } // ^[A-Za-z0-9_-]{1,128}$

// validDeployment is a deployment a command names: a REST/HTTP deployment id, a Lambda version, or
// a CloudFront origin id. No "/", "%", spaces, and no leading "." (so no ".."), whatever the kind.
// ^[A-Za-z0-9_~+-][A-Za-z0-9._~:+-]{0,127}$
func validDeployment(s string) bool {
	return len(s) >= 1 && len(s) <= 128 && deployFirst.has(s[0]) && deployRest.all(s[1:])
}

// Lambda: function names and aliases (an alias is not all digits: that would be a version).

func validFunction(s string) bool { return word.span(s, 1, 64) }        // ^[A-Za-z0-9_-]{1,64}$
func validAlias(s string) bool    { return word.span(s, 1, 128) }       // ^[A-Za-z0-9_-]{1,128}$
func validVersion(s string) bool  { return digit.span(s, 1, 10) }       // ^[0-9]{1,10}$
func allDigits(s string) bool     { return len(s) > 0 && digit.all(s) } // ^[0-9]+$

// CloudFront: distribution ids are upper-case alphanumerics; path patterns use CloudFront's
// documented characters (less quotes, and never ","); origin ids avoid "@", "," and spaces.

func validDistribution(s string) bool { return upperAlnum.span(s, 1, 32) }  // ^[A-Z0-9]{1,32}$
func validPathPattern(s string) bool  { return pathChars.span(s, 1, 255) }  // ^[A-Za-z0-9_.*$/~:+&-]{1,255}$
func validOrigin(s string) bool       { return deployRest.span(s, 1, 128) } // ^[A-Za-z0-9._~:+-]{1,128}$
