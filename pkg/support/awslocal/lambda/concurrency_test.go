package lambda_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	lambdalocal "github.com/rewind-sre/rewind/pkg/support/awslocal/lambda"
)

// TestTheSDKReadsAndSetsReservedConcurrency drives the concurrency operations with the Go SDK,
// whose REST-JSON deserializers Rewind's check reads them through.
func TestTheSDKReadsAndSetsReservedConcurrency(t *testing.T) {
	lam := lambdalocal.New(nil)
	srv := httptest.NewServer(lam)
	t.Cleanup(srv.Close)
	lam.CreateFunction("api-user-id")
	lam.CreateFunction("batch")
	c := awslambda.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		}})
	ctx := context.Background()
	get := func(fn string) (*int32, error) {
		out, err := c.GetFunctionConcurrency(ctx, &awslambda.GetFunctionConcurrencyInput{FunctionName: aws.String(fn)})
		if err != nil {
			return nil, err
		}
		return out.ReservedConcurrentExecutions, nil
	}

	if n, err := get("api-user-id"); err != nil || n != nil {
		t.Errorf("none reserved: %v, %v; want nil", n, err)
	}
	put, err := c.PutFunctionConcurrency(ctx, &awslambda.PutFunctionConcurrencyInput{FunctionName: aws.String("api-user-id"), ReservedConcurrentExecutions: aws.Int32(900)})
	if err != nil || aws.ToInt32(put.ReservedConcurrentExecutions) != 900 {
		t.Fatalf("PutFunctionConcurrency: %+v, %v", put, err)
	}
	if n, err := get("arn:aws:lambda:us-east-1:123456789012:function:api-user-id"); err != nil || aws.ToInt32(n) != 900 {
		t.Errorf("by ARN: %v, %v", n, err)
	}
	// 900 reserved leaves exactly the 100 the account keeps unreserved: another reservation is refused.
	_, err = c.PutFunctionConcurrency(ctx, &awslambda.PutFunctionConcurrencyInput{FunctionName: aws.String("batch"), ReservedConcurrentExecutions: aws.Int32(1)})
	var invalid *types.InvalidParameterValueException
	if !errors.As(err, &invalid) {
		t.Errorf("over the account's limit: %v, want InvalidParameterValueException", err)
	}
	lam.SetReservedConcurrency("batch", 5) // setup is not held to the limit
	if n, err := get("batch"); err != nil || aws.ToInt32(n) != 5 {
		t.Errorf("after SetReservedConcurrency: %v, %v", n, err)
	}
	if _, err := c.DeleteFunctionConcurrency(ctx, &awslambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("api-user-id")}); err != nil {
		t.Fatalf("DeleteFunctionConcurrency: %v", err)
	}
	if n, err := get("api-user-id"); err != nil || n != nil {
		t.Errorf("after delete: %v, %v", n, err)
	}
	for _, fn := range []string{"nope", "arn:aws:lambda:us-east-1:123456789012:function:nope", "api-user-id:live"} {
		_, err := get(fn)
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("GetFunctionConcurrency(%s): %v, want ResourceNotFoundException", fn, err)
		}
	}
	lam.InjectFault("GetFunctionConcurrency", awslocal.Fault{Status: http.StatusTooManyRequests, Times: 2})
	if n, err := get("batch"); err != nil || aws.ToInt32(n) != 5 {
		t.Errorf("throttled twice, retried: %v, %v", n, err)
	}
	lam.InjectFault("GetFunctionConcurrency", awslocal.Fault{Status: http.StatusTooManyRequests, Times: 3})
	_, err = get("batch")
	var throttled *types.TooManyRequestsException
	if !errors.As(err, &throttled) {
		t.Errorf("throttled past the retries: %v, want TooManyRequestsException", err)
	}
	if lam.Writes() != 2 {
		t.Errorf("writes = %d, want the put and the delete", lam.Writes())
	}
}
