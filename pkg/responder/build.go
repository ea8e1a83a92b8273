package responder

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"

	"github.com/rewind-sre/rewind/pkg/budget"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/discover"
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
	// DiscoveryNow is the clock of the tag selectors' discovery (nil: time.Now).
	DiscoveryNow func() time.Time
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
	// The control planes' clients carry the budget; DynamoDB's and SNS's do not (not a shared quota).
	bud, cpCfg, err := budgeted(cfg, awsCfg)
	if err != nil {
		return nil, err
	}
	opts := rollback.Options{DryRun: cfg.DryRun, Guard: guard, Now: o.Now, Log: log, Window: cfg.AutoRollbackWindow}
	engines := Engines{}
	var apigw *apigateway.Client
	for _, t := range kindsNamed(cfg) {
		if engines[t.kind] != nil {
			continue
		}
		var s rollback.Strategy
		if t.kind == target.KindRESTStage {
			apigw = apigateway.NewFromConfig(cpCfg)
			s = reststage.New(apigw)
		} else if build, ok := optionalStrategies[t.kind]; ok {
			s = build(cpCfg)
		} else {
			return nil, fmt.Errorf("%s: %s: no strategy for kind %q in this bootstrap%s", config.EnvTargets, t.name, t.kind, buildNote)
		}
		engines[t.kind] = rollback.NewEngine(s, store, opts)
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
	scope := target.Static(cfg.Targets)
	if len(cfg.Selectors) > 0 {
		scope = discover.New(rgt.NewFromConfig(cpCfg), target.Spec{Explicit: cfg.Targets, Selectors: cfg.Selectors},
			discover.Options{Region: cfg.Region, Now: o.DiscoveryNow, Log: log})
	}
	h, err := New(cfg, engines, target.NewScopedResolver(scope, cfg.AlarmTargets, names), notifier, log)
	if err != nil {
		return nil, err
	}
	h.function = o.FunctionName
	h.account = newAccount(cpCfg)
	h.budget = bud
	if apigw != nil {
		h.inspector = reststage.NewInspector(apigw)
	}
	if o.Metrics != nil {
		h.metrics = o.Metrics
	}
	return h, nil
}

// kindNamed is a kind TARGETS names and the item that names it.
type kindNamed struct {
	kind target.Kind
	name string
}

// kindsNamed is each explicit target's kind, then each selector's, so every kind TARGETS may hold
// gets its engine at init (a stage found later has one waiting).
func kindsNamed(cfg config.Config) []kindNamed {
	out := make([]kindNamed, 0, len(cfg.Targets)+len(cfg.Selectors))
	for _, t := range cfg.Targets {
		out = append(out, kindNamed{t.Kind, "target " + t.String()})
	}
	for _, sel := range cfg.Selectors {
		out = append(out, kindNamed{sel.Kind, "selector " + sel.String()})
	}
	return out
}

// budgeted returns the instance's control-plane budget (nil when cfg sets none) and a copy of awsCfg
// whose clients draw on it: every attempt of every call goes through the budget's middleware, and
// waits there only when its context is background work. The budget is per instance: Lambda runs
// one invocation at a time in an instance, and the schedule's (the background work) one at a time,
// so it bounds the account-wide share (docs/reference.md, CONTROL_PLANE_BUDGET).
func budgeted(cfg config.Config, awsCfg aws.Config) (*budget.Budget, aws.Config, error) {
	if cfg.ControlPlaneBudget == 0 {
		return nil, awsCfg, nil
	}
	b, err := budget.New(cfg.ControlPlaneBudget, budget.DefaultBurst, budget.Options{})
	if err != nil {
		return nil, awsCfg, fmt.Errorf("%s: %w", config.EnvControlPlaneBudget, err)
	}
	awsCfg.APIOptions = append(slices.Clip(awsCfg.APIOptions), b.AddTo)
	return b, awsCfg, nil
}
