package apigateway_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// Arrange an API with the Go API, then drive it with the real SDK client over HTTP, with a throttle
// injected into the write.
func Example() {
	gw := apigwlocal.New(apigwlocal.Options{Region: "us-east-1", AccountID: "123456789012"})
	srv := httptest.NewServer(gw)
	defer srv.Close()

	api := gw.CreateRestAPI("users")
	good, _ := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Description: "good"})
	bad, _ := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Description: "bad"})
	_ = gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: bad.ID})

	client := apigateway.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	}, func(o *apigateway.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	gw.InjectFault("UpdateStage", apigwlocal.Fault{Status: 429})
	_, err := client.UpdateStage(context.Background(), &apigateway.UpdateStageInput{
		RestApiId: &api.ID, StageName: aws.String("prod"),
		PatchOperations: []types.PatchOperation{{Op: types.OpReplace, Path: aws.String("/deploymentId"), Value: &good.ID}},
	})
	st, _ := gw.Stage(api.ID, "prod")
	fmt.Println(err == nil, st.DeploymentID == good.ID, gw.CallCount("UpdateStage"), gw.Writes())
	// Output: true true 2 1
}
