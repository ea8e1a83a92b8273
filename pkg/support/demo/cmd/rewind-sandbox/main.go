// Command rewind-sandbox is `make sandbox` and `make sandbox-event`: Rewind to try by hand on this
// machine, with no AWS account. See package sandbox.
//
//	rewind-sandbox [-port 8910] [-log FILE] [-log-level debug|info|warn|error] [-aws-cli PATH|none] [-bootstrap PATH]
//	rewind-sandbox event [-endpoint http://127.0.0.1:8910] EVENT
//
// The first serves until SIGINT or SIGTERM, then stops everything it started and exits 0. The second
// sends EVENT (alarm, for a fresh one; a file; or the name of one in testdata/events) to a running
// sandbox and prints the answer.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rewind-sre/rewind/pkg/support/demo/sandbox"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "event" {
		os.Exit(event(os.Args[2:]))
	}
	os.Exit(serve(os.Args[1:]))
}

func serve(args []string) int {
	fs := flag.NewFlagSet("rewind-sandbox", flag.ExitOnError)
	var o sandbox.Options
	base, err := sandbox.BasePort()
	if err != nil {
		fmt.Fprintf(os.Stderr, "rewind-sandbox: %v\n", err)
		return 2
	}
	fs.IntVar(&o.Port, "port", base, fmt.Sprintf("the invoke endpoint's loopback port; the data plane takes the next, the control plane the one after (default from %s, else %d)",
		sandbox.PortEnv, sandbox.DefaultPort))
	fs.StringVar(&o.LogFile, "log", "", "the log file for the bootstrap's and the emulator's output (default: rewind-sandbox.log in the temp directory)")
	fs.StringVar(&o.LogLevel, "log-level", "", "Rewind's LOG_LEVEL: debug, info, warn or error (your shell's LOG_LEVEL is never passed on)")
	fs.StringVar(&o.Bootstrap, "bootstrap", "", "a bootstrap already built for this host (default: build ./functions/responder)")
	fs.StringVar(&o.AWSCLI, "aws-cli", "", "the AWS CLI v2 the printed lines use (default: $AWS_CLI_V2, aws on PATH, /usr/bin/aws); none: print curl lines")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rewind-sandbox [flags]        (make sandbox SANDBOX_FLAGS=...)\n       rewind-sandbox event [-endpoint URL] EVENT   (make sandbox-event EVENT=...)\n\n")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "rewind-sandbox: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return 2
	}
	if o.Port < 1 || o.Port > 65533 {
		fmt.Fprintf(os.Stderr, "rewind-sandbox: -port %d: want 1 to 65533 (the sandbox takes it and the two after it)\n", o.Port)
		return 2
	}
	// Ctrl-C or a TERM ends the sandbox; Run stops everything it started before it returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sandbox.Run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "\nrewind-sandbox: %v\n", err)
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return 1
	}
	return 0
}

func event(args []string) int {
	fs := flag.NewFlagSet("rewind-sandbox event", flag.ExitOnError)
	var o sandbox.EventOptions
	fs.StringVar(&o.Endpoint, "endpoint", sandbox.DefaultEndpoint(), fmt.Sprintf("the sandbox's invoke endpoint (default from %s, else %s's port)",
		sandbox.EndpointEnv, sandbox.PortEnv))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: rewind-sandbox event [-endpoint URL] EVENT\n  EVENT: %s (a fresh ALARM from the sandbox's account), a file, or the name of one in testdata/events\n\n",
			sandbox.FreshAlarm)
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if fs.NArg() > 1 {
		fmt.Fprintf(os.Stderr, "rewind-sandbox event: one event at a time, got %q\n", fs.Args())
		return 2
	}
	o.Event = fs.Arg(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sandbox.SendEvent(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox-event: %v\n", err)
		return 1
	}
	return 0
}
