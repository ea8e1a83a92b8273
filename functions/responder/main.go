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
	apigw := apigateway.NewFromConfig(awsCfg)

	engine := rollback.NewEngine(reststage.New(apigw), rollback.Options{DryRun: cfg.DryRun,
		Guard: rollback.Guard{Max: cfg.MaxAutoPerHour, Window: time.Hour}})
	resolver := target.NewResolver(cfg.Targets, cfg.AlarmTargets, target.NewNameCache(apigw, apiNameTTL, nil))
	var notifier responder.Notifier
	if cfg.NotifyTopicARN != "" {
		notifier = notify.New(sns.NewFromConfig(awsCfg), cfg.NotifyTopicARN, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
	}
	h, err := responder.New(cfg, responder.Engines{target.KindRESTStage: engine}, resolver, notifier, log)
	if err != nil {
		fail("configuration", err)
	}

	log.Info("ready", "targets", len(cfg.Targets), "dryRun", cfg.DryRun, "region", awsCfg.Region)
	lambda.Start(h.Handle)
}

// fail reports an init error and exits non-zero, which Lambda records as the init failure.
func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "rewind: %s: %v\n", what, err)
	slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error(what, "error", err.Error())
	os.Exit(1)
}
