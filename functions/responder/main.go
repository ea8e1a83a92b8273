// Command responder is Rewind's Lambda function. It only wires: configuration from the environment,
// one aws.Config, one JSON logger, responder.Build, lambda.Start. Everything it runs lives in pkg/.
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

	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
)

// attemptTimeout bounds one HTTP attempt, so a hung connection is retried instead of eating the
// whole invocation; the invocation's own deadline bounds all attempts together.
const attemptTimeout = 5 * time.Second

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
	h, err := responder.Build(cfg, awsCfg, responder.Options{Log: log, FunctionName: os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), Metrics: os.Stdout})
	if err != nil {
		fail("configuration", err)
	}
	log.Info("ready", "targets", len(cfg.Targets), "selectors", len(cfg.Selectors), "dryRun", cfg.DryRun, "region", awsCfg.Region)
	lambda.Start(h) // h.Invoke: the payload as bytes, whatever it holds
}

// fail reports an init error and exits non-zero, which Lambda records as the init failure.
func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "rewind: %s: %v\n", what, err)
	slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error(what, "error", err.Error())
	os.Exit(1)
}
