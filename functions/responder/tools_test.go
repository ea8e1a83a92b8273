package main

// The tools the end-to-end test needs, found as pkg/support/testenv finds them (that package is
// internal to pkg/, so this one cannot import it): in CI (CI=true) a missing tool fails the test
// with a message saying how to install it; on a developer's machine it skips.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func missing(t *testing.T, what, install string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (CI must not skip this test): %s", what, install)
	}
	t.Skipf("%s is missing: %s", what, install)
}

// awsCLIv2 is the AWS CLI v2 (v1 lacks --cli-binary-format); Debian's awscli package is /usr/bin/aws.
func awsCLIv2(t *testing.T) string {
	t.Helper()
	for _, c := range []string{os.Getenv("AWS_CLI_V2"), "/usr/bin/aws", "aws"} {
		if c == "" {
			continue
		}
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if out, err := exec.Command(p, "--version").CombinedOutput(); err == nil && strings.HasPrefix(string(out), "aws-cli/2.") {
			return p
		}
	}
	missing(t, "AWS CLI v2", "apt-get install -y awscli (gives /usr/bin/aws 2.x), or set AWS_CLI_V2")
	return ""
}

// repoRoot is the module root: this package is functions/responder.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}
