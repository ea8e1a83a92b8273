package config

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The regexps the hand-written checks replaced, kept here as their specification.
var (
	accountRegexp  = regexp.MustCompile(`^[0-9]{12}$`)
	topicARNRegexp = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)
)

// mutate changes s a little: a byte replaced, inserted or dropped, or a run repeated, drawing from
// the ARN's own alphabet, its separators and what must never pass (non-ASCII, newline, invalid UTF-8).
func mutate(r *rand.Rand, s string) string {
	const alphabet = "arnwsxyz-_:0123456789AZaz@/. \n"
	extra := []string{"é", "\xff", "٣", "Ａ", ":", "sns", "aws"}
	piece := func() string {
		if r.IntN(8) == 0 {
			return extra[r.IntN(len(extra))]
		}
		return string(alphabet[r.IntN(len(alphabet))])
	}
	i := 0
	if len(s) > 0 {
		i = r.IntN(len(s) + 1)
	}
	switch r.IntN(4) {
	case 0:
		if i < len(s) {
			return s[:i] + piece() + s[i+1:]
		}
		return s + piece()
	case 1:
		return s[:i] + piece() + s[i:]
	case 2:
		if i < len(s) {
			return s[:i] + s[i+1:]
		}
		return s
	default:
		j := i + r.IntN(4)
		if j > len(s) {
			j = len(s)
		}
		return s[:j] + s[i:j] + s[j:]
	}
}

func TestChecksMatchTheRegexps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	seeds := []string{
		"arn:aws:sns:us-east-1:111122223333:rewind",
		"arn:aws-cn:sns:cn-north-1:111122223333:rewind-notify",
		"arn:aws-us-gov:sns:us-gov-west-1:111122223333:a_b-C",
		"arn:aws:sns:x:111122223333:" + strings.Repeat("n", 256),
		"arn:aws:sns:x:111122223333:" + strings.Repeat("n", 257),
		"arn:aws:sqs:us-east-1:111122223333:q",
		"111122223333", "11112222333", "1111222233334",
	}
	accepted := map[string]int{}
	for _, seed := range seeds {
		s := seed
		for range 8000 {
			if r.IntN(6) == 0 {
				s = seed
			}
			s = mutate(r, s)
			if got, want := validTopicARN(s), topicARNRegexp.MatchString(s); got != want {
				t.Fatalf("validTopicARN(%q) = %v, the regexp says %v", s, got, want)
			} else if got {
				accepted["arn"]++
			}
			if got, want := validAccount(s), accountRegexp.MatchString(s); got != want {
				t.Fatalf("validAccount(%q) = %v, the regexp says %v", s, got, want)
			} else if got {
				accepted["account"]++
			}
		}
	}
	if accepted["arn"] < 1000 || accepted["account"] < 1000 {
		t.Errorf("accepted %v of the candidates: too few to compare the accepted sets", accepted)
	}
	for _, s := range []string{"", "arn:aws:sns:us-east-1:111122223333:", "arn:aws:sns::111122223333:t", "arn:aws:sns:us-east-1:111122223333:t\n",
		"arn:aws:sns:us-east-1:111122223333:t:x", "arn:awsé:sns:r:111122223333:t", "111122223333\n", "１11122223333"} {
		if got, want := validTopicARN(s), topicARNRegexp.MatchString(s); got != want {
			t.Errorf("validTopicARN(%q) = %v, the regexp says %v", s, got, want)
		}
		if got, want := validAccount(s), accountRegexp.MatchString(s); got != want {
			t.Errorf("validAccount(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
