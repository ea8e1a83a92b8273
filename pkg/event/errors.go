package event

import (
	"errors"
	"fmt"

	"github.com/rewind-sre/rewind/pkg/internal/text"
)

// ErrBadInput is wrapped by every error Decode, DecodeAlarmMessage and DecodeCommand return, and by
// every Record.Err. The text after it names what was wrong and where.
var ErrBadInput = errors.New("bad input")

// maxErrorText bounds the text of every error this package makes, so a hostile payload cannot make
// a log line or an invocation answer large.
const maxErrorText = 900

// BadInput is the error of an input Rewind cannot read: ErrBadInput with a bounded message and,
// optionally, the error it came from (for example target.ErrMalformed), so errors.Is sees both.
// Lambda reports its type name, "BadInput", as the invocation's errorType.
type BadInput struct {
	msg   string
	cause error
}

func (e *BadInput) Error() string { return ErrBadInput.Error() + ": " + e.msg }

func (e *BadInput) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrBadInput, e.cause}
	}
	return []error{ErrBadInput}
}

// bad makes an ErrBadInput error. Every piece of input text in args must already be bounded and
// escaped (see quote).
func bad(format string, args ...any) error { return badCause(nil, format, args...) }

func badCause(cause error, format string, args ...any) error {
	return &BadInput{msg: clip(fmt.Sprintf(format, args...), maxErrorText), cause: cause}
}

// within puts a location ("Records[0]", "detail") in front of an error's text.
func within(where string, err error) error {
	var ie *BadInput
	if errors.As(err, &ie) {
		return &BadInput{msg: clip(where+": "+ie.msg, maxErrorText), cause: ie.cause}
	}
	return badCause(err, "%s: %s", where, quote(err.Error()))
}

// quote bounds and escapes untrusted text before it goes into an error or an Ignored reason.
func quote(s string) string { return text.Quote(s, 64) }

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string { return text.Clip(s, n) }
