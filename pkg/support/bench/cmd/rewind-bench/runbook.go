package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/bench"
)

// Runbook is the rollback as a person scripts it today with the AWS CLI: read what the stage
// serves, list the deployments oldest first, take the one created just before the live one, point
// the stage at it. Three CLI processes, one after the other, as the script runs them.
const Runbook = `set -euo pipefail
live=$(aws apigateway get-stage --rest-api-id "$API" --stage-name "$STAGE" --query deploymentId --output text)
ids=$(aws apigateway get-deployments --rest-api-id "$API" --query 'sort_by(items,&createdDate)[].id' --output text)
prev=""
for id in $ids; do [ "$id" = "$live" ] && break; prev=$id; done
aws apigateway update-stage --rest-api-id "$API" --stage-name "$STAGE" \
  --patch-operations "op=replace,path=/deploymentId,value=$prev" >/dev/null
`

// awsCLIv2 finds the AWS CLI v2, the CLI a person installs today (v1, often first on PATH, is not
// it). "" when there is none.
func awsCLIv2() string {
	for _, c := range []string{os.Getenv("AWS_CLI_V2"), "/usr/bin/aws", "aws"} {
		if c == "" {
			continue
		}
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		out, err := exec.Command(p, "--version").CombinedOutput()
		if err == nil && strings.HasPrefix(string(out), "aws-cli/2.") {
			return p
		}
	}
	return ""
}

const installCLI = "apt-get update && apt-get install -y awscli (Debian's package is /usr/bin/aws 2.x), or set AWS_CLI_V2"

// runRunbook runs the runbook once against w's stage and checks it moved the stage to Old with the
// three calls and nothing else. The CLI gets --endpoint-url through a wrapper on PATH, so the
// script reads as a person would write it.
func runRunbook(ctx context.Context, cli, home string, w *bench.World) (time.Duration, error) {
	bin := filepath.Join(home, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return 0, err
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s --endpoint-url %s \"$@\"\n", cli, w.URL)
	if err := os.WriteFile(filepath.Join(bin, "aws"), []byte(wrapper), 0o755); err != nil {
		return 0, err
	}
	script := filepath.Join(home, "runbook.sh")
	if err := os.WriteFile(script, []byte(Runbook), 0o644); err != nil {
		return 0, err
	}
	if err := w.Reset(); err != nil {
		return 0, err
	}
	w.GW.ResetCalls()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = []string{
		"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8",
		"API=" + w.API.ID, "STAGE=" + bench.StageName,
		"AWS_ACCESS_KEY_ID=AKIDBENCH", "AWS_SECRET_ACCESS_KEY=SECRETBENCH", "AWS_SESSION_TOKEN=TOKENBENCH",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("runbook: %w: %s", err, tail(string(out), 10))
	}
	if live := w.Live(); live != w.Old {
		return took, fmt.Errorf("runbook left the stage on %s, want %s", live, w.Old)
	}
	calls := w.GW.Calls()
	if len(calls) != 3 {
		var ops []string
		for _, c := range calls {
			ops = append(ops, c.Op)
		}
		return took, fmt.Errorf("runbook made %d calls (%s), want get-stage, get-deployments, update-stage", len(calls), strings.Join(ops, ", "))
	}
	return took, nil
}

// sideBySide is the same rollback at the same latency: the runbook, and Rewind's real bootstrap
// (each process's first invocation, then warm ones).
type sideBySide struct {
	cli, warm, cold, coldInvoke []time.Duration
	cliPath                     string
}

func runSideBySide(ctx context.Context, bin, cli, home string, w *bench.World, reps int, seq *int) (sideBySide, error) {
	r := sideBySide{cliPath: cli}
	if cli != "" {
		if _, err := runRunbook(ctx, cli, home, w); err != nil { // warm the page cache; not counted
			return r, err
		}
	}
	for i := 0; i < reps; i++ {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if cli != "" {
			d, err := runRunbook(ctx, cli, home, w)
			if err != nil {
				return r, err
			}
			r.cli = append(r.cli, d)
		}
		if err := w.AddAPI(10); err != nil {
			return r, err
		}
		p, err := startProc(bin, lambdaEnv(home, w.URL, w.Target.String()))
		if err != nil {
			return r, err
		}
		err = func() error {
			defer p.stop()
			if _, err := p.ready(10 * time.Second); err != nil {
				return err
			}
			for j := 0; j < 2; j++ {
				if err := w.Reset(); err != nil {
					return err
				}
				*seq++
				sent, a, err := p.invoke(bench.AlarmEvent(*seq, ""), 30*time.Second)
				if err != nil {
					return err
				}
				if err := checkRolledBack(w, a.body); err != nil {
					return err
				}
				if j == 0 {
					r.cold = append(r.cold, a.at.Sub(p.started))
					r.coldInvoke = append(r.coldInvoke, a.at.Sub(sent))
				} else {
					r.warm = append(r.warm, a.at.Sub(sent))
				}
			}
			return nil
		}()
		if err != nil {
			return r, fmt.Errorf("side by side %d: %w", i+1, err)
		}
	}
	return r, nil
}
