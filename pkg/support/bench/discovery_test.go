package bench_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"

	"github.com/rewind-sre/rewind/pkg/discover"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/support/awslocal/tagging"
	"github.com/rewind-sre/rewind/pkg/target"
)

// DiscoveryStages is how many tagged stages BenchmarkDiscovery lists (issue 15's figure).
const DiscoveryStages = 500

// BenchmarkDiscovery is one listing of DiscoveryStages tagged REST stages (plus as many untagged
// ones) through the real SDK and the local Tagging API, every GetResources call at Latency: what a
// cold instance pays once, and a warm one in the background every discover.TTL. Pages are
// sequential (each needs the last one's token), so the floor is ⌈N/100⌉ · RTT.
func BenchmarkDiscovery(b *testing.B) {
	gw := apigwlocal.New(apigwlocal.Options{Region: "us-east-1"})
	for a := range DiscoveryStages / 10 {
		api := gw.CreateRestAPI(fmt.Sprintf("api-%02d", a))
		dep, err := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{CreatedDate: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		for s := range 20 {
			tags := map[string]string{"team": "t"}
			if s%2 == 0 {
				tags["rewind"] = "protect"
			}
			if err := gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: fmt.Sprintf("s%02d", s), DeploymentID: dep.ID, Tags: tags}); err != nil {
				b.Fatal(err)
			}
		}
	}
	tags := tagging.New(tagging.Options{}, gw)
	srv := httptest.NewServer(tags)
	b.Cleanup(srv.Close)
	client := rgt.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	spec, err := target.ParseSpec("rest:tag:rewind=protect")
	if err != nil {
		b.Fatal(err)
	}
	scope := discover.New(client, spec, discover.Options{Region: "us-east-1"})
	ctx := context.Background()
	if _, err := scope.List(ctx); err != nil { // warm the connection, as a warm instance's is
		b.Fatal(err)
	}
	tags.InjectFault("GetResources", awslocal.Fault{Delay: Latency, Times: 1 << 30})
	calls := 0
	b.ResetTimer()
	for range b.N {
		a, err := scope.List(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(a.Targets) != DiscoveryStages {
			b.Fatalf("%d targets, want %d", len(a.Targets), DiscoveryStages)
		}
		calls += a.Calls
	}
	b.StopTimer()
	perOp := b.Elapsed() / time.Duration(b.N)
	floor := time.Duration(discover.Pages(DiscoveryStages)) * Latency
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
	b.ReportMetric(float64(perOp)/float64(time.Millisecond), "list-ms")
	b.ReportMetric(float64(perOp)/float64(floor), "x-floor")
}
