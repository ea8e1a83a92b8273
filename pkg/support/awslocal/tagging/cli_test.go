package tagging_test

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	"github.com/rewind-sre/rewind/pkg/support/awslocal/clitest"
	"github.com/rewind-sre/rewind/pkg/support/awslocal/tagging"
)

type listing struct {
	ResourceTagMappingList []struct {
		ResourceARN string
		Tags        []struct{ Key, Value string }
	}
	PaginationToken string
}

func (l listing) arns() []string {
	var out []string
	for _, m := range l.ResourceTagMappingList {
		out = append(out, m.ResourceARN)
	}
	return out
}

// TestTheAWSCLIListsTaggedStages drives the local Tagging API with the AWS CLI v2 (botocore's JSON
// 1.1 client, written by nobody here) over the local API Gateway's stage tags: the type filter, keys
// AND-ed and values OR-ed, a key alone, paging the CLI follows itself (250 stages, 100 a page), only
// the signed region's resources, and the errors AWS gives for bad parameters.
func TestTheAWSCLIListsTaggedStages(t *testing.T) {
	gw := apigwlocal.New(apigwlocal.Options{Region: "us-east-1"})
	elsewhere := apigwlocal.New(apigwlocal.Options{Region: "eu-west-1"})
	srv := httptest.NewServer(tagging.New(tagging.Options{}, gw, elsewhere))
	t.Cleanup(srv.Close)
	api := gw.CreateRestAPI("orders")
	dep, _ := gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{CreatedDate: time.Now()})
	stage := func(name string, tags map[string]string) {
		t.Helper()
		if err := gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: name, DeploymentID: dep.ID, Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	stage("prod", map[string]string{"rewind": "protect", "team": "orders"})
	stage("beta", map[string]string{"rewind": "watch", "team": "orders"})
	stage("dev", map[string]string{"team": "orders"})
	stage("bare", nil)
	for i := range 250 {
		stage(fmt.Sprintf("bulk%03d", i), map[string]string{"bulk": "yes"})
	}
	other := elsewhere.CreateRestAPI("orders")
	od, _ := elsewhere.CreateDeployment(other.ID, apigwlocal.DeploymentSpec{CreatedDate: time.Now()})
	_ = elsewhere.CreateStage(other.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: od.ID, Tags: map[string]string{"rewind": "protect"}})
	arn := func(name string) string {
		return "arn:aws:apigateway:us-east-1::/restapis/" + api.ID + "/stages/" + name
	}
	cli := clitest.New(t, srv.URL)
	get := func(args ...string) []string {
		t.Helper()
		var l listing
		cli.JSON(&l, append([]string{"resourcegroupstaggingapi", "get-resources", "--resource-type-filters", "apigateway:restapis/stages"}, args...)...)
		got := l.arns()
		slices.Sort(got)
		return got
	}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"key=value", []string{"--tag-filters", "Key=rewind,Values=protect"}, []string{arn("prod")}},
		{"values OR-ed", []string{"--tag-filters", "Key=rewind,Values=protect,watch"}, []string{arn("beta"), arn("prod")}},
		{"keys AND-ed", []string{"--tag-filters", "Key=rewind,Values=watch", "Key=team,Values=orders"}, []string{arn("beta")}},
		{"a key alone", []string{"--tag-filters", "Key=rewind"}, []string{arn("beta"), arn("prod")}},
		{"no such value", []string{"--tag-filters", "Key=rewind,Values=nope"}, nil},
	} {
		if got := get(c.args...); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if got := get("--tag-filters", "Key=bulk,Values=yes", "--page-size", "100"); len(got) != 250 {
		t.Errorf("paged listing: %d stages, want 250 (the CLI follows PaginationToken)", len(got))
	}
	var page listing
	cli.JSON(&page, "resourcegroupstaggingapi", "get-resources", "--tag-filters", "Key=bulk", "--resources-per-page", "100", "--no-paginate")
	if len(page.ResourceTagMappingList) != 100 || page.PaginationToken == "" {
		t.Errorf("one page: %d resources, token %q; want 100 and a token", len(page.ResourceTagMappingList), page.PaginationToken)
	}
	if gw.CallCount("") != 0 {
		t.Errorf("the Tagging API called API Gateway's wire")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--resources-per-page", "101"}, "InvalidParameterException"},
		{[]string{"--pagination-token", "forged", "--no-paginate"}, "InvalidParameterException"},
		{[]string{"--resource-arn-list", arn("prod"), "--tag-filters", "Key=rewind"}, "InvalidParameterException"},
	} {
		if _, stderr, code := cli.Run(append([]string{"resourcegroupstaggingapi", "get-resources"}, c.args...)...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %s; want %s", c.args, code, stderr, c.want)
		}
	}
}

// TestInjectedThrottlingReachesTheCLI: a fault from the shared recorder is the service's own
// ThrottledException on the wire.
func TestInjectedThrottlingReachesTheCLI(t *testing.T) {
	srv := tagging.New(tagging.Options{})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	srv.InjectFault("GetResources", awslocal.Fault{Status: 429})
	cli := clitest.New(t, hs.URL)
	if _, stderr, code := cli.Run("resourcegroupstaggingapi", "get-resources"); code == 0 || !strings.Contains(stderr, "ThrottledException") {
		t.Errorf("exit %d: %s; want ThrottledException", code, stderr)
	}
	if srv.CallCount("GetResources") != 1 {
		t.Errorf("calls = %d", srv.CallCount("GetResources"))
	}
}
