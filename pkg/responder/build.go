package responder

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/memory"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/reststage"
	"github.com/rewind-sre/rewind/pkg/target"
)

// APINameTTL is how long a warm instance reuses an alarm's ApiName -> id answer.
const APINameTTL = 10 * time.Minute

// Options are what Build takes besides the configuration and the AWS clients' settings. The zero
// value is production's: main passes only Log and FunctionName.
type Options struct {
	Log          *slog.Logger // the one JSON logger; nil discards
	FunctionName string       // this function's name, for the "how to undo" line of notifications
	// Notifier replaces the SNS notifier Build makes from NOTIFY_TOPIC_ARN (tests record instead).
	Notifier Notifier
	// Now is the decisions' clock; nil: time.Now.
	Now func() time.Time
	// NamesNow is the API name cache's clock, and NameTTL its lifetime (0: APINameTTL).
	NamesNow func() time.Time
	NameTTL  time.Duration
	// Guard replaces the loop guard MAX_AUTO_ROLLBACKS_PER_HOUR sets (the bench lifts it to roll one
	// stage back as often as it measures).
	Guard *rollback.Guard
	// Metrics receives one CloudWatch Embedded Metric Format line per result: Lambda's stdout in
	// main; nil discards.
	Metrics io.Writer
}

// Build wires the handler the one way production, tests and benchmarks share: Rewind's memory over
// the DynamoDB client, an engine (and its client) for each kind of target TARGETS names, the name
// cache over the REST client, the notifier. A kind this bootstrap cannot move is an error naming the
// target.
func Build(cfg config.Config, awsCfg aws.Config, o Options) (*Handler, error) {
	if awsCfg.Region != "" {
		cfg.Region = awsCfg.Region // where the clients actually go, however the SDK found it
	}
	guard := rollback.Guard{Max: cfg.MaxAutoPerHour, Window: time.Hour}
	if o.Guard != nil {
		guard = *o.Guard
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	store := memory.New(dynamodb.NewFromConfig(awsCfg), cfg.MemoryTable, cfg.AuditRetention)
	opts := rollback.Options{DryRun: cfg.DryRun, Guard: guard, Now: o.Now, Log: log, Window: cfg.AutoRollbackWindow}
	engines := Engines{}
	var apigw *apigateway.Client
	for _, t := range cfg.Targets {
		if engines[t.Kind] != nil {
			continue
		}
		var s rollback.Strategy
		if t.Kind == target.KindRESTStage {
			apigw = apigateway.NewFromConfig(awsCfg)
			s = reststage.New(apigw)
		} else if build, ok := optionalStrategies[t.Kind]; ok {
			s = build(awsCfg)
		} else {
			return nil, fmt.Errorf("%s: target %s: no strategy for kind %q in this bootstrap%s", config.EnvTargets, t, t.Kind, buildNote)
		}
		engines[t.Kind] = rollback.NewEngine(s, store, opts)
	}
	var names *target.NameCache
	if apigw != nil {
		ttl := o.NameTTL
		if ttl == 0 {
			ttl = APINameTTL
		}
		names = target.NewNameCache(apigw, ttl, o.NamesNow)
	}
	notifier := o.Notifier
	if notifier == nil {
		notifier = snsNotifier(cfg, awsCfg, o.FunctionName)
	}
	h, err := New(cfg, engines, target.NewResolver(cfg.Targets, cfg.AlarmTargets, names), notifier, log)
	if err != nil {
		return nil, err
	}
	h.function = o.FunctionName
	h.account = newAccount(awsCfg)
	if apigw != nil {
		h.inspector = reststage.NewInspector(apigw)
	}
	if o.Metrics != nil {
		h.metrics = o.Metrics
	}
	return h, nil
}
