// Command responder is Rewind's Lambda function. It only wires: configuration from the environment,
// one aws.Config, the clients, one JSON logger, lambda.Start. Everything it runs lives in pkg/.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/notify"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/reststage"
	"github.com/rewind-sre/rewind/pkg/target"
)

// attemptTimeout bounds one HTTP attempt, so a hung connection is retried instead of eating the
// whole invocation; the invocation's own deadline bounds all attempts together.
const attemptTimeout = 5 * time.Second

// apiNameTTL is how long an ApiName -> id answer is reused by a warm instance.
const apiNameTTL = 10 * time.Minute

func main() {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		fail("configuration", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(),
		awsconfig.WithRetryer(func() aws.Retryer { return awsretry.Default.Retryer() }),
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(attemptTimeout)),
	)
	if err != nil {
		fail("AWS configuration", err)
	}
	var notifier responder.Notifier
	if cfg.NotifyTopicARN != "" {
		notifier = notify.New(sns.NewFromConfig(awsCfg), cfg.NotifyTopicARN, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
	}
	h, err := newHandler(cfg, awsCfg, notifier, log, nil)
	if err != nil {
		fail("configuration", err)
	}

	log.Info("ready", "targets", len(cfg.Targets), "dryRun", cfg.DryRun, "region", awsCfg.Region)
	lambda.Start(h.Handle)
}

// newHandler wires the handler: one engine per kind of target configured. now may be nil (time.Now).
func newHandler(cfg config.Config, awsCfg aws.Config, notifier responder.Notifier, log *slog.Logger, now func() time.Time) (*responder.Handler, error) {
	if awsCfg.Region != "" {
		cfg.Region = awsCfg.Region // where the clients actually go, however the SDK found it
	}
	engines, apigw, err := newEngines(cfg, awsCfg, rollback.Options{DryRun: cfg.DryRun,
		Guard: rollback.Guard{Max: cfg.MaxAutoPerHour, Window: time.Hour}, Now: now})
	if err != nil {
		return nil, err
	}
	var names *target.NameCache
	if apigw != nil {
		names = target.NewNameCache(apigw, apiNameTTL, now)
	}
	resolver := target.NewResolver(cfg.Targets, cfg.AlarmTargets, names)
	return responder.New(cfg, engines, resolver, notifier, log)
}

// newEngines builds an engine, and its client, only for the kinds of target TARGETS names: a
// REST-only deployment builds the API Gateway client and nothing else. It also returns the REST
// client (nil without REST targets), which resolves alarms' ApiName dimension. A kind this build
// cannot move is an error naming the target.
func newEngines(cfg config.Config, awsCfg aws.Config, opts rollback.Options) (responder.Engines, *apigateway.Client, error) {
	engines := responder.Engines{}
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
			return nil, nil, fmt.Errorf("%s: target %s: no strategy for kind %q in this bootstrap%s", config.EnvTargets, t, t.Kind, buildNote)
		}
		engines[t.Kind] = rollback.NewEngine(s, opts)
	}
	return engines, apigw, nil
}

// fail reports an init error and exits non-zero, which Lambda records as the init failure.
func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "rewind: %s: %v\n", what, err)
	slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error(what, "error", err.Error())
	os.Exit(1)
}
