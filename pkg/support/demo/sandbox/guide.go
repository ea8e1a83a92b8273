package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/demo/rie"
)

// awsCLI is the AWS CLI the printed lines use.
type awsCLI struct {
	Cmd     string // how the lines call v2: "aws" when that is v2, else its path; "" when there is no v2
	Path    string // v2's path
	Version string // v2's version, "aws-cli/2.9.19"
	V1      string // a v1 found on the way ("aws-cli/1.45.11 at /usr/local/bin/aws"): it lacks --cli-binary-format
}

// CLINone, as the AWS CLI to use, prints curl lines instead of aws lines.
const CLINone = "none"

// findAWSCLI finds the AWS CLI v2: override when set (CLINone: none), else $AWS_CLI_V2, the aws on
// PATH, /usr/bin/aws (Debian's awscli package is v2), the first that says aws-cli/2.
func findAWSCLI(ctx context.Context, override string) awsCLI {
	var c awsCLI
	if override == CLINone {
		return c
	}
	candidates := []string{os.Getenv("AWS_CLI_V2"), "aws", "/usr/bin/aws"}
	if override != "" {
		candidates = []string{override}
	}
	seen := map[string]bool{}
	for _, cand := range candidates {
		if cand == "" {
			continue
		}
		p, err := exec.LookPath(cand)
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		version := cliVersion(ctx, p)
		switch {
		case strings.HasPrefix(version, "aws-cli/2."):
			c.Path, c.Version = p, version
			c.Cmd = p
			if onPath, err := exec.LookPath("aws"); err == nil {
				if r, err := filepath.EvalSymlinks(onPath); err == nil && r == real {
					c.Cmd = "aws"
				}
			}
			return c
		case strings.HasPrefix(version, "aws-cli/1.") && c.V1 == "":
			c.V1 = version + " at " + p
		}
	}
	return c
}

// cliVersion is the first word of `aws --version` ("aws-cli/2.9.19"); v1 prints it on stderr.
func cliVersion(ctx context.Context, path string) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// guide is what the sandbox prints once it is up.
type guide struct {
	invoke, data, control string
	cli                   awsCLI
	targets               []string // TARGETS
	logFile               string
	events                []string // the files in testdata/events
	eventEnv              string   // "" or "REWIND_SANDBOX_ENDPOINT=... ": what sandbox-event needs to find this sandbox
	pid                   int
}

// command is one command payload, its keys in this order.
type command struct {
	Action       string `json:"action"`
	Target       string `json:"target,omitempty"`
	DeploymentID string `json:"deploymentId,omitempty"`
	DryRun       bool   `json:"dryRun,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

func (c command) String() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(c)
	return strings.TrimSpace(b.String())
}

// step is one printed command and what it shows.
type step struct {
	what string
	cmd  command
}

// walkthrough is the REST stage's story by hand, in an order that can be run again from the deploy
// on: status, the release, the schedule's observe, a dry run, the rollback, clear.
func (g guide) walkthrough() []step {
	return []step{
		{"1. status: what Rewind knows of the REST stage (dep1 live, both deployments, its memory)",
			command{Action: "status", Target: RESTTarget}},
		{"2. deploy dep2, the release (the console's Change Deployment); curl again: 502 from the broken Lambda",
			command{Action: "deploy", Target: RESTTarget, DeploymentID: LambdaID, Reason: "release the new Lambda"}},
		{"3. observe, as the schedule does every 5 minutes: records what each of the four targets serves",
			command{Action: "observe"}},
		{"4. a dry run of the rollback: the plan, nothing changed",
			command{Action: "rollback", Target: RESTTarget, DryRun: true, Reason: "users get 502 from dep2"}},
		{"5. the rollback: the stage goes back to dep1 (curl: EC2 again), dep2 is marked known bad",
			command{Action: "rollback", Target: RESTTarget, Reason: "users get 502 from dep2"}},
		{"6. clear: forget the known-bad mark and reset the loop guard (then 2. works again without force)",
			command{Action: "clear", Target: RESTTarget}},
	}
}

// others is a status of each other kind's target.
func (g guide) others() []step {
	var s []step
	for _, t := range g.targets[1:] {
		s = append(s, step{"", command{Action: "status", Target: commandTarget(t)}})
	}
	return s
}

// awsInvoke is the aws lambda invoke line for payload.
func (g guide) awsInvoke(payload string) string {
	return fmt.Sprintf("%s lambda invoke --endpoint-url %s --function-name function --cli-binary-format raw-in-base64-out "+
		"--no-sign-request --region %s --no-cli-pager --payload %s /dev/stdout", shellQuote(g.cli.Cmd), g.invoke, rie.Region, shellQuote(payload))
}

// curlInvoke is the same invocation with curl, against the Invoke API the CLI calls.
func (g guide) curlInvoke(payload string) string {
	return fmt.Sprintf("curl -sS -i -w '\\n' -d %s %s%s", shellQuote(payload), g.invoke, InvocationsPath)
}

// userCurl is what a user of the API does.
func (g guide) userCurl() string {
	return fmt.Sprintf("curl -sS -i -w '\\n' %s/%s/user/42", g.data, StageName)
}

// getStage reads the stage from the control plane, as Rewind does.
func (g guide) getStage() string {
	return fmt.Sprintf("%s apigateway get-stage --endpoint-url %s --no-sign-request --region %s --no-cli-pager "+
		"--rest-api-id %s --stage-name %s --query deploymentId --output text", shellQuote(g.cli.Cmd), g.control, rie.Region, RestAPIID, StageName)
}

func (g guide) invokeLine(payload string) string {
	if g.cli.Cmd == "" {
		return g.curlInvoke(payload)
	}
	return g.awsInvoke(payload)
}

// print writes the guide.
func (g guide) print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\nTry it by hand: users, then Rewind (each line is ready to paste; the REST target first):\n")
	switch {
	case g.cli.Cmd != "" && g.cli.V1 != "":
		p("  (the aws lines use the AWS CLI v2 at %s; the aws first on your PATH is %s, which lacks --cli-binary-format)\n", g.cli.Path, g.cli.V1)
	case g.cli.Cmd != "":
		p("  (AWS CLI %s at %s)\n", g.cli.Version, g.cli.Path)
	case g.cli.V1 != "":
		p("  Only the AWS CLI v1 was found (%s). v1 lacks --cli-binary-format, so `aws lambda invoke` lines would fail with it:\n"+
			"  install v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html; on Debian: apt-get install awscli)\n"+
			"  or name it with AWS_CLI_V2=/path/to/aws. Meanwhile the same invocations with curl, against the Invoke API the CLI calls:\n", g.cli.V1)
	default:
		p("  No AWS CLI v2 was found (looked at $AWS_CLI_V2, aws on PATH, /usr/bin/aws); install it, or use these curl lines,\n" +
			"  which call the same Invoke API the CLI calls:\n")
	}
	p("\n  # users: dep1 answers from EC2 now; after 2. they get 502, after 5. EC2 again\n")
	p("  %s\n", g.userCurl())
	for _, s := range g.walkthrough() {
		p("\n  # %s\n  %s\n", s.what, g.invokeLine(s.cmd.String()))
	}
	p("\n  # the other kinds: status of the HTTP API stage, the Lambda alias, the CloudFront behaviour\n")
	for _, s := range g.others() {
		p("  %s\n", g.invokeLine(s.cmd.String()))
	}
	if g.cli.Cmd != "" {
		p("\n  # the stage as API Gateway's control plane sees it (what Rewind reads and changes)\n  %s\n", g.getStage())
		p("\n  # the same status without the CLI (curl shows the headers, X-Amz-Function-Error on a failed invocation)\n  %s\n",
			g.curlInvoke(command{Action: "status", Target: RESTTarget}.String()))
	}
	p("\n  Each command but observe names \"target\": TARGETS lists four, and Rewind refuses to guess.\n")
	if g.cli.Cmd != "" {
		p("  /dev/stdout prints the answer, then the CLI's StatusCode; to keep an answer, name a file instead (the CLI reopens\n" +
			"  /dev/stdout, so `> file` would be truncated by it).\n")
	}

	p("\nEvents, as SNS or EventBridge deliver them (make sandbox-event EVENT=<file in testdata/events, or its name>):\n")
	p("  # a fresh ALARM on %s/%s from this sandbox's account (%s), as SNS delivers it: rolls dep2 back after 2.\n", APIName, StageName, rie.AccountID)
	p("  %smake sandbox-event EVENT=alarm\n", g.eventEnv)
	p("  # the repository's samples: from account 123456789012, with StateChangeTimes in the past, so Rewind ignores their alarms\n" +
		"  # (another account; the answer's reason says so, and sandbox-event says why); the bad ones fail as bad input\n")
	for _, e := range g.events {
		p("  %smake sandbox-event EVENT=%s\n", g.eventEnv, strings.TrimSuffix(e, ".json"))
	}

	p("\nThe emulator is not Lambda in three ways; the sandbox's endpoint %s makes up for them:\n", g.invoke)
	p("  - a failed invocation: the emulator answers HTTP 200 without X-Amz-Function-Error, so the CLI would show no FunctionError;\n" +
		"    the sandbox adds the header, as Lambda does, and the answer's errorType and errorMessage say what failed.\n")
	p("  - a failed init: the emulator answers only 502 with an empty body; the sandbox answers Lambda's Runtime.ExitError with the\n"+
		"    bootstrap's init error, which is also in %s.\n", g.logFile)
	p("  - LOG_LEVEL: the emulator reads the same variable as Rewind and exits on a level it does not know (verbose); the sandbox\n" +
		"    never passes your shell's LOG_LEVEL on. For Rewind's debug logs: make sandbox SANDBOX_FLAGS=-log-level=debug.\n")

	p("\nLogs: the bootstrap's and the emulator's output (Rewind's JSON lines, START/REPORT, init errors) go to %s\n", g.logFile)
	p("  tail -f %s\n", g.logFile)
	p("\nReady. Ctrl-C (or kill -INT %d) stops everything the sandbox started.\n", g.pid)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
