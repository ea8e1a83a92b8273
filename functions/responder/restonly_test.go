package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The REST-only build (make build STRATEGIES=rest) is the smaller bootstrap: it must not link the
// optional strategies' clients, must still start with a REST target, and must refuse at init, naming
// the target and the build, a TARGETS it cannot move.
func TestRESTOnlyBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	// The Makefile's flags but the symbol table, which is what shows what was linked.
	build := exec.Command("go", "build", "-tags", "lambda.norpc,rewind_rest_only", "-trimpath", "-o", bin, "./functions/responder")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	nm, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	for _, pkg := range []string{"service/apigatewayv2.", "service/cloudfront.", "service/lambda.", "rollback/httpstage.", "rollback/lambdaalias.", "rollback/cfbehavior."} {
		if bytes.Contains(nm, []byte(pkg)) {
			t.Errorf("the REST-only bootstrap links %s", strings.TrimSuffix(pkg, "."))
		}
	}
	for _, pkg := range []string{"service/apigateway.", "service/sns.", "service/dynamodb.", "rollback/reststage."} {
		if !bytes.Contains(nm, []byte(pkg)) {
			t.Errorf("the REST-only bootstrap lacks %s", strings.TrimSuffix(pkg, "."))
		}
	}

	run := func(targets string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin)
		// No Runtime API: past its init the function stops at lambda.Start, which is far enough.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TARGETS=" + targets, "MEMORY_TABLE=rewind", "AWS_REGION=us-east-1",
			"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=SECRET"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("abcdef1234/prod")
	if !strings.Contains(out, `"msg":"ready"`) {
		t.Errorf("with a REST target the init must complete: %v\n%s", err, out)
	}
	out, err = run("abcdef1234/prod,http:h1b2c3d4e5/live")
	if err == nil || !strings.Contains(out, "rewind: configuration: TARGETS: target http:h1b2c3d4e5/live") || !strings.Contains(out, "STRATEGIES=rest") {
		t.Errorf("an HTTP API target must fail the init naming it and the build: %v\n%s", err, out)
	}
	if strings.Contains(out, `"msg":"ready"`) {
		t.Errorf("the init went on after refusing TARGETS:\n%s", out)
	}
}
