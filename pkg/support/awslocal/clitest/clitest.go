// Package clitest runs the real AWS CLI v2 against a local service, so the local services under
// pkg/support/awslocal are checked against a client nobody here wrote (botocore's own serializers and
// parsers), not only against the Go SDK they were written from.
package clitest

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// CLI runs aws commands against one endpoint with throwaway credentials and no user configuration.
type CLI struct {
	t        testing.TB
	bin, url string
	dir      string
}

// New finds the AWS CLI v2 (in CI its absence fails the test) for endpoint url.
func New(t testing.TB, url string) *CLI {
	t.Helper()
	return &CLI{t: t, bin: testenv.AWSCLIv2(t), url: url, dir: t.TempDir()}
}

// Run runs "aws args... --endpoint-url URL --output json" and returns stdout, stderr and the exit
// code (0 on success; the CLI exits 254 for a service error).
func (c *CLI) Run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append(args, "--endpoint-url", c.url, "--output", "json", "--no-cli-pager")
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = []string{"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=SECRET", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(c.dir, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(c.dir, "credentials"),
		"AWS_MAX_ATTEMPTS=1", "HOME=" + c.dir, "PATH=/usr/bin:/bin"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			c.t.Fatalf("aws %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// JSON runs a command that must succeed and decodes its output into v.
func (c *CLI) JSON(v any, args ...string) {
	c.t.Helper()
	out, errOut, code := c.Run(args...)
	if code != 0 {
		c.t.Fatalf("aws %v: exit %d: %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("aws %v: %v\n%s", args, err, out)
	}
}

// Dir is a scratch directory for file:// arguments.
func (c *CLI) Dir() string { return c.dir }
