// Command rewind-demo is `make demo`: the seed's incident on this machine, with the real bootstrap
// under the AWS Lambda Runtime Interface Emulator and no AWS account. See package demo.
//
//	go run ./pkg/support/demo/cmd/rewind-demo [-threshold 10] [-period 10s] [-rps 50] [-fail-after 5s] [-port 0]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/demo"
)

func main() {
	var o demo.Options
	var plain, verbose bool
	flag.Float64Var(&o.Threshold, "threshold", 10, "5XX responses within one alarm period that fire the alarm")
	flag.DurationVar(&o.Period, "period", 10*time.Second, "the alarm's period (whole seconds)")
	flag.IntVar(&o.RPS, "rps", 50, "requests per second at the stage")
	flag.DurationVar(&o.Warmup, "warmup", 3*time.Second, "healthy traffic on the EC2 proxy deployment before the release")
	flag.DurationVar(&o.FailAfter, "fail-after", 5*time.Second, "the new Lambda works this long after the release, then fails")
	flag.DurationVar(&o.Recovery, "recovery", 5*time.Second, "traffic shown after the rollback")
	flag.IntVar(&o.Port, "port", 0, "the API Gateway data plane's loopback port (0: any free port)")
	flag.DurationVar(&o.Timeout, "timeout", 55*time.Second, "give up if the story has not finished this long after the set-up")
	flag.BoolVar(&plain, "plain", false, "no live progress line, even on a terminal")
	flag.BoolVar(&verbose, "v", false, "also print the emulator's and Rewind's own logs (to stderr)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "rewind-demo: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	o.Out = os.Stdout
	o.Live = !plain && isTerminal(os.Stdout)
	if verbose {
		o.Logs = os.Stderr
	}

	// Ctrl-C or a TERM ends the run; Run stops everything it started before returning.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := demo.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "\nrewind-demo: %v\n", err)
		if errors.Is(err, context.Canceled) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// isTerminal reports whether w is a character device other than a dumb terminal, where rewriting a
// line in place works.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
