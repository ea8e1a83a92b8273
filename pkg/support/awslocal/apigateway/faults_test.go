package apigateway_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

func (e *env) getStage(ctx context.Context) (*apigateway.GetStageOutput, error) {
	return e.client.GetStage(ctx, &apigateway.GetStageInput{RestApiId: &e.api.ID, StageName: aws.String("prod")})
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestThrottleThenSuccess(t *testing.T) {
	e := newEnv(t)
	e.gw.InjectFault("GetStage", apigwlocal.Fault{Status: 429})
	_, err := e.getStage(context.Background())
	var tooMany *types.TooManyRequestsException
	if !errors.As(err, &tooMany) || aws.ToString(tooMany.Message) != "Too Many Requests" {
		t.Fatalf("err = %v, want TooManyRequestsException: Too Many Requests", err)
	}
	// The SDK's own retryer classifies it as a throttle, which is what backs off.
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
		t.Error("the SDK does not see a throttle")
	}
	if _, err := e.getStage(context.Background()); err != nil {
		t.Fatalf("second call: %v", err)
	}
	calls := e.gw.Calls()
	if len(calls) != 2 || calls[0].Status != 429 || calls[0].Fault != "status=429" || calls[1].Status != 200 || calls[1].Fault != "" {
		t.Errorf("calls = %+v", calls)
	}
}

func TestFaultsQueuePerOperation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.gw.InjectFault("GetStage", apigwlocal.Fault{Status: 503, Times: 2})
	e.gw.InjectFault("GetStage", apigwlocal.Fault{Status: 409})
	e.gw.InjectFault(apigwlocal.AnyOperation, apigwlocal.Fault{Status: 502})

	// Another operation only meets the "*" fault.
	if _, err := e.client.GetDeployments(ctx, &apigateway.GetDeploymentsInput{RestApiId: &e.api.ID}); httpStatus(err) != 502 {
		t.Errorf("GetDeployments: %v, want 502 from the * fault", err)
	}
	var unavailable *types.ServiceUnavailableException
	for range 2 {
		if _, err := e.getStage(ctx); !errors.As(err, &unavailable) {
			t.Errorf("err = %v, want ServiceUnavailableException", err)
		}
	}
	_, err := e.getStage(ctx)
	var conflict *types.ConflictException
	if !errors.As(err, &conflict) || aws.ToString(conflict.Message) != "Unable to complete operation due to concurrent modification. Please try again later." {
		t.Errorf("err = %v, want AWS's ConflictException", err)
	}
	if _, err := e.getStage(ctx); err != nil {
		t.Errorf("queue should be empty: %v", err)
	}

	e.gw.InjectFault("GetStage", apigwlocal.Fault{Status: 500, Times: 5})
	e.gw.ClearFaults()
	if _, err := e.getStage(ctx); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
}

func TestServerErrorsReachTheSDKWithTheirStatus(t *testing.T) {
	e := newEnv(t)
	for _, status := range []int{500, 502, 503, 504} {
		e.gw.InjectFault("GetStage", apigwlocal.Fault{Status: status})
		_, err := e.getStage(context.Background())
		if httpStatus(err) != status {
			t.Errorf("status %d: err = %v", status, err)
		}
		// All of them are what the SDK's standard retryer retries.
		if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
			t.Errorf("status %d is not retryable for the SDK", status)
		}
	}
}

func TestResetIsATransportError(t *testing.T) {
	e := newEnv(t)
	e.gw.InjectFault("UpdateStage", apigwlocal.Fault{Reset: true})
	_, err := e.update("prod", replace("/deploymentId", e.deps[0].ID))
	var sendErr *smithyhttp.RequestSendError
	if !errors.As(err, &sendErr) {
		t.Fatalf("err = %v, want a RequestSendError (no response at all)", err)
	}
	if httpStatus(err) != 0 {
		t.Errorf("a reset has no status, got %d", httpStatus(err))
	}
	if e.stage(t, "prod").DeploymentID != e.deps[1].ID || e.gw.Writes() != 0 {
		t.Error("a reset before applying changed the stage")
	}
	// The client can see the reset before the server has finished recording it.
	waitFor(t, func() bool { c := e.gw.Calls(); return len(c) == 1 && c[0].Status == 0 && c[0].Fault == "reset" })
	// The server is fine afterwards.
	if _, err := e.update("prod", replace("/deploymentId", e.deps[0].ID)); err != nil {
		t.Fatal(err)
	}
}

func TestAfterApplyLosesTheResponseNotTheWrite(t *testing.T) {
	e := newEnv(t)
	e.gw.InjectFault("UpdateStage", apigwlocal.Fault{Status: 500, AfterApply: true})
	_, err := e.update("prod", replace("/deploymentId", e.deps[0].ID))
	if httpStatus(err) != 500 {
		t.Fatalf("err = %v, want a 500", err)
	}
	if e.stage(t, "prod").DeploymentID != e.deps[0].ID {
		t.Error("the write was not applied")
	}
	if e.gw.Writes() != 1 {
		t.Errorf("writes = %d, want 1", e.gw.Writes())
	}

	e.gw.InjectFault("UpdateStage", apigwlocal.Fault{Reset: true, AfterApply: true})
	_, err = e.update("prod", replace("/deploymentId", e.deps[2].ID))
	var sendErr *smithyhttp.RequestSendError
	if !errors.As(err, &sendErr) || e.stage(t, "prod").DeploymentID != e.deps[2].ID {
		t.Errorf("reset after apply: err %v, live %s", err, e.stage(t, "prod").DeploymentID)
	}
	waitFor(t, func() bool { c := e.gw.Calls(); return c[len(c)-1].Fault == "reset,after-apply" })
}

func TestDelayHonoursTheClientsDeadline(t *testing.T) {
	e := newEnv(t)
	e.gw.InjectFault("UpdateStage", apigwlocal.Fault{Delay: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.client.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: &e.api.ID, StageName: aws.String("prod"),
		PatchOperations: []types.PatchOperation{replace("/deploymentId", e.deps[0].ID)}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the client waited out the delay")
	}
	// The server side gives up too: the call ends without an answer and the write never happens.
	waitFor(t, func() bool { c := e.gw.Calls(); return len(c) == 1 && c[0].Fault == "delay=10s,canceled" })
	if e.stage(t, "prod").DeploymentID != e.deps[1].ID || e.gw.Writes() != 0 {
		t.Error("a call abandoned during its delay was applied")
	}

	// A delay shorter than the deadline is just slow.
	e.gw.InjectFault("GetStage", apigwlocal.Fault{Delay: 50 * time.Millisecond})
	start = time.Now()
	if _, err := e.getStage(context.Background()); err != nil || time.Since(start) < 50*time.Millisecond {
		t.Errorf("slow call: %v after %v", err, time.Since(start))
	}
}

func TestLatencyIsAddedToEveryCall(t *testing.T) {
	e := newEnv(t)
	e.gw.SetLatency(30 * time.Millisecond)
	start := time.Now()
	for range 3 {
		if _, err := e.getStage(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("3 calls took %v, want at least 90ms", d)
	}
	e.gw.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.getStage(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the deadline", err)
	}
	e.gw.SetLatency(0)
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	e.gw.SetRateLimit(20, 3) // a token every 50ms, 3 at once
	ctx := context.Background()
	for i := range 3 {
		if _, err := e.getStage(ctx); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	_, err := e.getStage(ctx)
	var tooMany *types.TooManyRequestsException
	if !errors.As(err, &tooMany) {
		t.Fatalf("4th call: %v, want TooManyRequestsException", err)
	}
	if c := e.gw.Calls(); c[3].Status != http.StatusTooManyRequests || c[3].Fault != "ratelimit" {
		t.Errorf("call %+v", c[3])
	}
	time.Sleep(120 * time.Millisecond)
	if _, err := e.getStage(ctx); err != nil {
		t.Errorf("after refill: %v", err)
	}
	e.gw.SetRateLimit(0, 0)
	for range 10 {
		if _, err := e.getStage(ctx); err != nil {
			t.Fatalf("without a limit: %v", err)
		}
	}
}

func TestCallsAndWrites(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.clock.Advance(time.Minute)
	_, _ = e.getStage(ctx)
	_, _ = e.update("prod", replace("/deploymentId", "nope12")) // refused: not a write
	_, _ = e.update("prod", replace("/deploymentId", e.deps[0].ID))
	_, _ = e.update("prod") // no operations: nothing to apply
	_, _ = e.client.GetDeployments(ctx, &apigateway.GetDeploymentsInput{RestApiId: &e.api.ID})
	resp, err := http.Get(e.srv.URL + "/no/such/operation")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	want := []struct {
		op     string
		status int
	}{{"GetStage", 200}, {"UpdateStage", 400}, {"UpdateStage", 200}, {"UpdateStage", 200}, {"GetDeployments", 200}, {apigwlocal.UnknownOperation, 404}}
	calls := e.gw.Calls()
	if len(calls) != len(want) {
		t.Fatalf("calls = %+v", calls)
	}
	for i, w := range want {
		if calls[i].Op != w.op || calls[i].Status != w.status || !calls[i].At.Equal(t0.Add(time.Minute)) {
			t.Errorf("call %d = %+v, want %s %d", i, calls[i], w.op, w.status)
		}
	}
	if e.gw.CallCount("UpdateStage") != 3 || e.gw.CallCount(apigwlocal.AnyOperation) != 6 {
		t.Errorf("counts: UpdateStage %d, all %d", e.gw.CallCount("UpdateStage"), e.gw.CallCount(apigwlocal.AnyOperation))
	}
	if e.gw.Writes() != 1 {
		t.Errorf("writes = %d, want 1", e.gw.Writes())
	}
	calls[0].Op = "tampered"
	if e.gw.Calls()[0].Op != "GetStage" {
		t.Error("Calls is not a copy")
	}
	e.gw.ResetCalls()
	if len(e.gw.Calls()) != 0 || e.gw.Writes() != 0 || e.gw.CallCount("GetStage") != 0 {
		t.Error("ResetCalls left something")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
