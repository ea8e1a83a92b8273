package notify

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Origin is where a decision was made: the account and region of the Rewind that made it. Every
// account and region of an organization runs its own Rewind and may publish to one central topic, so
// each message says where it came from: a line in the e-mail text and the chat description, the
// additionalContext members "account" and "region", and the message attributes below (which an SNS
// subscription filter policy can match). Empty fields are left out.
type Origin struct {
	Account string
	Region  string
}

// The message attributes that carry the origin.
const (
	AttributeAccount = "rewind.account"
	AttributeRegion  = "rewind.region"
)

// originFor is where the decision in ctx was made: the account and region of the invoked function's
// ARN when Lambda gave one (the function's own, so it cannot be wrong), else what From set.
func (n *SNS) originFor(ctx context.Context) Origin {
	o := n.origin
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		f := strings.Split(lc.InvokedFunctionArn, ":")
		if len(f) >= 7 && f[0] == "arn" && f[2] == "lambda" {
			if f[4] != "" {
				o.Account = f[4]
			}
			if f[3] != "" {
				o.Region = f[3]
			}
		}
	}
	return o
}

// OriginOf is the account of topicARN (the stack's own topic, in the function's account) and region.
func OriginOf(topicARN, region string) Origin {
	return Origin{Account: TopicAccount(topicARN), Region: region}
}

// TopicAccount is the account field of an SNS topic ARN (arn:partition:sns:region:account:name), or "".
func TopicAccount(arn string) string { return arnField(arn, 4) }

// TopicRegion is the region field of an SNS topic ARN, or "".
func TopicRegion(arn string) string { return arnField(arn, 3) }

func arnField(arn string, i int) string {
	f := strings.Split(arn, ":")
	if len(f) != 6 || f[0] != "arn" || f[2] != "sns" {
		return ""
	}
	return f[i]
}

func (o Origin) empty() bool { return o.Account == "" && o.Region == "" }

// line is the origin as one line of text: "111122223333 in eu-west-1".
func (o Origin) line() string {
	switch {
	case o.Account == "":
		return "account (unknown) in " + o.Region
	case o.Region == "":
		return o.Account
	}
	return o.Account + " in " + o.Region
}

// WithOrigin is n saying where it was decided: an "Account:" line after the description's "Where:"
// line (or at its end) and the account and region in additionalContext.
func WithOrigin(n Notification, o Origin) Notification {
	if o.empty() {
		return n
	}
	n.Content.Description = bound(insertAfterWhere(n.Content.Description, "Account: "+code(o.line())), maxDescription)
	ctx := make(map[string]string, len(n.Metadata.AdditionalContext)+2)
	for k, v := range n.Metadata.AdditionalContext {
		ctx[k] = v
	}
	for k, v := range map[string]string{"account": o.Account, "region": o.Region} {
		if v != "" {
			ctx[k] = bound(line(v), maxField)
		}
	}
	n.Metadata.AdditionalContext = ctx
	return n
}

// TextWithOrigin is the e-mail text with an "Account:" line after its "Where:" line.
func TextWithOrigin(text string, o Origin) string {
	if o.empty() {
		return text
	}
	return insertAfterWhere(text, "Account: "+line(o.line()))
}

// insertAfterWhere puts add on its own line after the first line starting "Where:", else at the end.
func insertAfterWhere(s, add string) string {
	at := strings.Index(s, "Where:")
	if at < 0 || (at > 0 && s[at-1] != '\n') {
		if strings.HasSuffix(s, "\n") {
			return s + add + "\n"
		}
		return s + "\n" + add
	}
	end := strings.IndexByte(s[at:], '\n')
	if end < 0 {
		return s + "\n" + add
	}
	end += at + 1
	return s[:end] + add + "\n" + s[end:]
}
