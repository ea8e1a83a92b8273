package main

// End to end: the bootstrap `make build` would ship, built for this host, runs under the AWS Lambda
// Runtime Interface Emulator and is driven with the real AWS CLI v2 (`aws lambda invoke`), against
// the local API Gateway over HTTP. Nothing here is Rewind's code except the function under test:
// the runtime loop is aws-lambda-go's, the runtime API and the invoke API are the emulator's, the
// client is the CLI.
//
// Two things the emulator does differently from Lambda, which these tests account for: it answers a
// failed invocation with HTTP 200 and no X-Amz-Function-Error header (so the CLI prints no
// FunctionError, and the body's errorType/errorMessage are what tell), and it answers an invocation
// whose init failed with 502 and an empty body (Lambda answers 200 with a Runtime.ExitError function error), so the
// init error is read from the function's output, as one would read it in CloudWatch Logs.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
	"github.com/rewind-sre/rewind/pkg/support/demo/rie"
)

// TestBuiltBootstrap builds the function for this host once, and runs it under the emulator in
// parallel: driven by the AWS CLI, and without its required configuration.
func TestBuiltBootstrap(t *testing.T) {
	rieBinary(t) // fail (CI) or skip before building when the emulator is missing
	start := time.Now()
	bin, err := rie.Build(context.Background(), repoRoot(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bootstrap built in %s", time.Since(start).Round(time.Millisecond))
	t.Run("AWSCLI", func(t *testing.T) { t.Parallel(); testUnderEmulatorWithAWSCLI(t, bin) })
	t.Run("InitFailureNamesTARGETS", func(t *testing.T) { t.Parallel(); testInitFailureNamesTARGETS(t, bin) })
}

func rieBinary(t *testing.T) string {
	t.Helper()
	p, err := rie.Find(context.Background())
	if err != nil {
		missing(t, "aws-lambda-rie", rie.InstallCommand())
	}
	return p
}

// e2eGateway is the local API Gateway with the seed's API (deployment legacy proxies to EC2, lambda
// is newer and live on stage service) and, behind the same endpoint, the local DynamoDB holding
// Rewind's memory table. Its account is the emulator's, so the function is "in" it. front, when set,
// sees every request first (a test's gate).
type e2eGateway struct {
	gw                    *apigwlocal.Server
	ddb                   *ddblocal.Server
	url, apiID            string
	legacy, lambdaRelease string
	front                 func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

// e2eTable is the memory table's name in the end-to-end tests.
const e2eTable = "rewind-e2e-memory"

func newE2EGateway(t *testing.T) *e2eGateway {
	t.Helper()
	gw := apigwlocal.New(apigwlocal.Options{Region: rie.Region, AccountID: rie.AccountID})
	ddb := ddblocal.New(ddblocal.Options{})
	ddb.CreateTable(e2eTable)
	g := &e2eGateway{gw: gw, ddb: ddb}
	both := ddb.Front(gw)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.front != nil {
			g.front(w, r, both)
			return
		}
		both.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	now := time.Now()
	api := gw.CreateRestAPI("luna-api")
	legacy, err := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Description: "HTTP proxy to api-origin.luna.com", CreatedDate: now.Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	lambda, err := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Description: "Lambda api-user-id", CreatedDate: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "service", DeploymentID: lambda.ID}); err != nil {
		t.Fatal(err)
	}
	g.url, g.apiID, g.legacy, g.lambdaRelease = srv.URL, api.ID, legacy.ID, lambda.ID
	return g
}

func (g *e2eGateway) live(t *testing.T) string {
	t.Helper()
	st, ok := g.gw.Stage(g.apiID, "service")
	if !ok {
		t.Fatal("stage service is gone")
	}
	return st.DeploymentID
}

// endpoints is the function environment that sends its API Gateway and DynamoDB clients to g.
func (g *e2eGateway) endpoints() []string {
	return []string{"AWS_ENDPOINT_URL_API_GATEWAY=" + g.url, "AWS_ENDPOINT_URL_DYNAMODB=" + g.url, "MEMORY_TABLE=" + e2eTable}
}

// function starts the bootstrap under the emulator with env, and stops it (checking that nothing
// is left) when the test ends.
func startFunction(t *testing.T, bin string, env ...string) *rie.Function {
	t.Helper()
	return startFunctionWith(t, rie.Config{Bootstrap: bin}, env...)
}

// startFunctionWith is startFunction with the emulator's other settings (the function timeout).
func startFunctionWith(t *testing.T, cfg rie.Config, env ...string) *rie.Function {
	t.Helper()
	tmp := t.TempDir()
	env = append(env, "AWS_REGION="+rie.Region, "AWS_ACCESS_KEY_ID=e2e", "AWS_SECRET_ACCESS_KEY=e2e",
		"AWS_ENDPOINT_URL=http://127.0.0.1:1", "AWS_EC2_METADATA_DISABLED=true", "HOME="+tmp,
		"AWS_CONFIG_FILE="+filepath.Join(tmp, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(tmp, "none"))
	cfg.Emulator, cfg.Env = rieBinary(t), env
	fn, err := rie.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fn.Stop(); err != nil {
			t.Error(err)
		}
		if pids := rie.Running(fn.Bootstrap()); len(pids) > 0 {
			t.Errorf("bootstrap still running after Stop: %v", pids)
		}
		if t.Failed() {
			t.Logf("emulator and function output:\n%s", fn.Logs())
		}
	})
	return fn
}

// cli runs the AWS CLI v2 with nothing of the developer's AWS configuration and no retries.
type awsCLI struct {
	bin, home string
}

func newAWSCLI(t *testing.T) awsCLI { return awsCLI{bin: awsCLIv2(t), home: t.TempDir()} }

func (c awsCLI) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.home, "AWS_ACCESS_KEY_ID=e2e", "AWS_SECRET_ACCESS_KEY=e2e",
		"AWS_DEFAULT_REGION=" + rie.Region, "AWS_CONFIG_FILE=" + filepath.Join(c.home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(c.home, "none"), "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard"}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// invoke is `aws lambda invoke --endpoint-url … --payload …`: it returns the CLI's own output and
// the function's answer (the outfile).
func (c awsCLI) invoke(t *testing.T, fn *rie.Function, payload string) (cliOut map[string]any, answer []byte) {
	t.Helper()
	outfile := filepath.Join(t.TempDir(), "answer.json")
	stdout, stderr, err := c.run(t, "lambda", "invoke", "--endpoint-url", fn.Endpoint(), "--function-name", fn.FunctionName(),
		"--cli-binary-format", "raw-in-base64-out", "--payload", payload, "--output", "json", outfile)
	if err != nil {
		t.Fatalf("aws lambda invoke %s: %v\n%s%s", payload, err, stdout, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &cliOut); err != nil {
		t.Fatalf("the CLI's output is not JSON: %v: %s", err, stdout)
	}
	if sc, _ := cliOut["StatusCode"].(float64); sc != 200 {
		t.Fatalf("StatusCode %v: %s", cliOut["StatusCode"], stdout)
	}
	answer, err = os.ReadFile(outfile)
	if err != nil {
		t.Fatal(err)
	}
	return cliOut, answer
}

// result is the part of Rewind's answer to a command the tests read; Error* are set on failure.
type e2eAnswer struct {
	Action, Target, Outcome, From, To, Reason, Rule string
	DryRun                                          bool
	Current                                         string
	Deployments                                     []struct {
		ID   string `json:"id"`
		Live bool   `json:"live"`
		Bad  bool   `json:"bad"`
	}
	KnownBad     []string    `json:"knownBad"`
	Results      []e2eAnswer `json:"results"`
	ErrorType    string      `json:"errorType"`
	ErrorMessage string      `json:"errorMessage"`
}

func decodeAnswer(t *testing.T, answer []byte) e2eAnswer {
	t.Helper()
	var r e2eAnswer
	if err := json.Unmarshal(answer, &r); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, answer)
	}
	return r
}

// testUnderEmulatorWithAWSCLI drives the built bootstrap the way an operator does, in the
// order of an incident: status, a dry run, bad commands and a foreign alarm that must change
// nothing, the rollback, and status again.
func testUnderEmulatorWithAWSCLI(t *testing.T, bin string) {
	g := newE2EGateway(t)
	aws := newAWSCLI(t)
	fn := startFunction(t, bin, append(g.endpoints(), "TARGETS="+g.apiID+"/service")...)
	target := g.apiID + "/service"

	t.Run("status", func(t *testing.T) {
		cliOut, answer := aws.invoke(t, fn, `{"action":"status"}`)
		if _, ok := cliOut["FunctionError"]; ok {
			t.Errorf("status must not be a function error: %v", cliOut)
		}
		r := decodeAnswer(t, answer)
		if r.Outcome != "ok" || r.Action != "status" || r.Target != target || r.Current != g.lambdaRelease || len(r.Deployments) != 2 {
			t.Fatalf("status %s", answer)
		}
		if r.Deployments[0].ID != g.lambdaRelease || !r.Deployments[0].Live || r.Deployments[1].ID != g.legacy || r.Deployments[1].Live {
			t.Errorf("deployments newest first with the live one marked: %s", answer)
		}
	})

	t.Run("dry-run", func(t *testing.T) {
		_, answer := aws.invoke(t, fn, `{"action":"rollback","dryRun":true,"reason":"e2e dry run"}`)
		r := decodeAnswer(t, answer)
		if r.Outcome != "planned" || !r.DryRun || r.From != g.lambdaRelease || r.To != g.legacy {
			t.Fatalf("dry run %s", answer)
		}
		if g.gw.Writes() != 0 || g.live(t) != g.lambdaRelease {
			t.Fatalf("a dry run wrote: %d writes, live %s", g.gw.Writes(), g.live(t))
		}
	})

	t.Run("bad-commands", func(t *testing.T) {
		// One through the CLI; the rest straight to the emulator's Invoke API, which is what the CLI
		// calls (each CLI run costs a second of Python start-up).
		cliOut, answer := aws.invoke(t, fn, `{"action":"explode"}`)
		if r := decodeAnswer(t, answer); r.ErrorType != "BadInput" || !strings.Contains(r.ErrorMessage, `action "explode" is not one of`) {
			t.Errorf("want an input error naming the action, got %s (CLI: %v)", answer, cliOut)
		}
		for payload, want := range map[string]string{
			`{"action":"rollback","target":"abcdefghij/prod"}`: `target "abcdefghij/prod" is not in TARGETS (` + target + `)`,
			`{"action":"deploy"}`:                              "deploymentId",
			`{"action":"status","dryRun":"yes"}`:               "dryRun",
		} {
			resp, err := fn.Invoke(context.Background(), []byte(payload))
			if err != nil {
				t.Fatal(err)
			}
			if !resp.Failed() || !strings.Contains(resp.ErrorMessage, want) {
				t.Errorf("%s: want an error naming %q, got %d %s", payload, want, resp.Status, resp.Body)
			}
		}
		if g.gw.Writes() != 0 || g.live(t) != g.lambdaRelease {
			t.Fatalf("bad commands wrote: %d writes, live %s", g.gw.Writes(), g.live(t))
		}
	})

	t.Run("foreign-alarm", func(t *testing.T) {
		// The repository's SNS sample is from account 123456789012; the emulator runs the function in
		// 012345678912. Rewind must read the account from the ARN the emulator passes, and ignore it.
		sample := "file://" + filepath.Join(repoRoot(t), "testdata", "events", "sns-apigw-5xx-alarm.json")
		_, answer := aws.invoke(t, fn, sample)
		r := decodeAnswer(t, answer)
		if len(r.Results) != 1 || r.Results[0].Outcome != "ignored" ||
			!strings.Contains(r.Results[0].Reason, `account "123456789012"; this function runs in `+rie.AccountID) {
			t.Fatalf("foreign alarm %s", answer)
		}
		if g.gw.Writes() != 0 {
			t.Fatalf("a foreign alarm wrote %d times", g.gw.Writes())
		}
	})

	t.Run("rollback", func(t *testing.T) {
		_, answer := aws.invoke(t, fn, `{"action":"rollback","reason":"e2e: the release answers 5xx"}`)
		r := decodeAnswer(t, answer)
		if r.Outcome != "rolled-back" || r.From != g.lambdaRelease || r.To != g.legacy || r.DryRun {
			t.Fatalf("rollback %s", answer)
		}
		if g.live(t) != g.legacy || g.gw.CallCount("UpdateStage") != 1 || g.gw.Writes() != 1 {
			t.Fatalf("live %s after %d UpdateStage calls and %d writes", g.live(t), g.gw.CallCount("UpdateStage"), g.gw.Writes())
		}
		resp, err := fn.Invoke(context.Background(), []byte(`{"action":"status"}`))
		if err != nil {
			t.Fatal(err)
		}
		if s := decodeAnswer(t, resp.Body); resp.Failed() || s.Current != g.legacy || len(s.KnownBad) != 1 || s.KnownBad[0] != g.lambdaRelease {
			t.Fatalf("status after the rollback %s", resp.Body)
		}
		// Each decision is also a metric: one Embedded Metric Format line of its own on stdout, which
		// CloudWatch Logs extracts into the Rewind namespace.
		if !emfLine(fn.Logs(), "rolled-back") {
			t.Errorf("no EMF record of the rollback on the function's stdout:\n%s", fn.Logs())
		}
	})
}

// testInitFailureNamesTARGETS: without TARGETS the bootstrap must fail its init, naming the variable;
// the invocation fails (the CLI exits non-zero) and nothing reaches API Gateway.
func testInitFailureNamesTARGETS(t *testing.T, bin string) {
	g := newE2EGateway(t)
	aws := newAWSCLI(t)
	fn := startFunction(t, bin, g.endpoints()...)
	outfile := filepath.Join(t.TempDir(), "answer.json")
	stdout, stderr, err := aws.run(t, "lambda", "invoke", "--endpoint-url", fn.Endpoint(), "--function-name", fn.FunctionName(),
		"--cli-binary-format", "raw-in-base64-out", "--payload", `{"action":"status"}`, outfile)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the CLI must fail the invocation, got err=%v\n%s%s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, "502") {
		t.Errorf("the emulator answers a failed init with 502; the CLI said: %s", stderr)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(fn.Logs(), "rewind: configuration: TARGETS is required") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(fn.Logs(), "rewind: configuration: TARGETS is required") {
		t.Errorf("the init error must name TARGETS; the function printed:\n%s", fn.Logs())
	}
	resp, err := fn.Invoke(context.Background(), []byte(`{"action":"status"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Failed() {
		t.Errorf("a function without TARGETS answered: %d %s", resp.Status, resp.Body)
	}
	if n := g.gw.CallCount(""); n != 0 {
		t.Errorf("a function that failed init made %d API Gateway calls", n)
	}
}

// emfLine reports whether logs hold a whole-line EMF record in namespace Rewind for outcome.
func emfLine(logs, outcome string) bool {
	for _, line := range strings.Split(logs, "\n") {
		var rec struct {
			AWS struct {
				Timestamp         int64
				CloudWatchMetrics []struct{ Namespace string }
			} `json:"_aws"`
			Outcome string
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.AWS.Timestamp > 0 && len(rec.AWS.CloudWatchMetrics) == 1 &&
			rec.AWS.CloudWatchMetrics[0].Namespace == "Rewind" && rec.Outcome == outcome {
			return true
		}
	}
	return false
}
