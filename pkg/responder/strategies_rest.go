//go:build rewind_rest_only

package responder

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// optionalStrategies is empty in the REST-only build: a smaller bootstrap that moves REST stages only.
var optionalStrategies = map[target.Kind]func(aws.Config) rollback.Strategy{}

// buildNote says why a kind is missing, in the init error that names it.
const buildNote = " (this bootstrap was built with STRATEGIES=rest; build it with `make build` to move other kinds)"

// newAccount is nil in the REST-only build: "check" says what it could not check without the
// CloudWatch and Lambda clients.
func newAccount(aws.Config) Account { return nil }
