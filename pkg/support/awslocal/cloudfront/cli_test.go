package cloudfront_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/awslocal/clitest"
	cflocal "github.com/rewind-sre/rewind/pkg/support/awslocal/cloudfront"
)

// TestTheAWSCLIReadsAndUpdatesADistribution drives the local CloudFront with the AWS CLI v2
// (botocore's REST-XML serializer and parser, written by nobody here): the configuration it reads
// comes back through update-distribution with one behaviour changed and nothing else, If-Match is
// enforced, and the errors are the ones botocore names.
func TestTheAWSCLIReadsAndUpdatesADistribution(t *testing.T) {
	cf := cflocal.New(func() time.Time { return time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC) }, 0)
	srv := httptest.NewServer(cf)
	t.Cleanup(srv.Close)
	id, err := cf.CreateDistribution(cflocal.Spec{ID: "E2QWRUHAPOMQZL", Comment: "Luna API",
		Origins:       []cflocal.Origin{{ID: "legacy-ec2", DomainName: "api-origin.luna.com"}, {ID: "lambda-url", DomainName: "x.lambda-url.us-east-1.on.aws"}},
		DefaultOrigin: "legacy-ec2", Behaviors: []cflocal.Behavior{{PathPattern: "/api/users/*", OriginID: "lambda-url"}}})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := cf.Distribution(id)
	cli := clitest.New(t, srv.URL)

	var got struct {
		ETag               string
		DistributionConfig map[string]any
	}
	cli.JSON(&got, "cloudfront", "get-distribution-config", "--id", id)
	if got.ETag != before.ETag || got.DistributionConfig["Comment"] != "Luna API" {
		t.Fatalf("get-distribution-config: ETag %q, Comment %v", got.ETag, got.DistributionConfig["Comment"])
	}
	items := got.DistributionConfig["CacheBehaviors"].(map[string]any)["Items"].([]any)
	items[0].(map[string]any)["TargetOriginId"] = "legacy-ec2"
	cfg := filepath.Join(cli.Dir(), "cfg.json")
	b, _ := json.Marshal(got.DistributionConfig)
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}

	var upd struct {
		ETag         string
		Distribution struct {
			Id, Status string
		}
	}
	cli.JSON(&upd, "cloudfront", "update-distribution", "--id", id, "--if-match", got.ETag, "--distribution-config", "file://"+cfg)
	after, _ := cf.Distribution(id)
	if upd.Distribution.Status != "InProgress" || upd.ETag != after.ETag || upd.ETag == got.ETag || after.Behaviors["/api/users/*"] != "legacy-ec2" {
		t.Errorf("update-distribution: %+v; server has %+v", upd, after.Behaviors)
	}
	if a, b := flat(before.Config), flat(after.Config); len(a) != len(b) {
		t.Errorf("the configuration changed shape through the CLI: %d leaves before, %d after", len(a), len(b))
	} else {
		for k, v := range a {
			if b[k] != v && !strings.Contains(k, "/TargetOriginId#") {
				t.Errorf("%s: %q became %q", k, v, b[k])
			}
		}
	}

	// The old ETag again: 412 PreconditionFailed, nothing written.
	_, stderr, code := cli.Run("cloudfront", "update-distribution", "--id", id, "--if-match", got.ETag, "--distribution-config", "file://"+cfg)
	if code == 0 || !strings.Contains(stderr, "PreconditionFailed") {
		t.Errorf("stale If-Match: exit %d, %s", code, stderr)
	}
	_, stderr, code = cli.Run("cloudfront", "update-distribution", "--id", id, "--distribution-config", "file://"+cfg)
	if code == 0 || !strings.Contains(stderr, "InvalidIfMatchVersion") {
		t.Errorf("no If-Match: exit %d, %s", code, stderr)
	}
	_, stderr, code = cli.Run("cloudfront", "get-distribution", "--id", "E0000000000000")
	if code == 0 || !strings.Contains(stderr, "NoSuchDistribution") {
		t.Errorf("unknown distribution: exit %d, %s", code, stderr)
	}
	if cf.Writes() != 1 {
		t.Errorf("writes = %d, want the one update", cf.Writes())
	}
	var dist struct{ Distribution struct{ Status string } }
	cli.JSON(&dist, "cloudfront", "get-distribution", "--id", id)
	if dist.Distribution.Status != "InProgress" {
		t.Errorf("get-distribution Status %q", dist.Distribution.Status)
	}
}

func flat(n *cflocal.Node) map[string]string {
	out := map[string]string{}
	var walk func(n *cflocal.Node, path string)
	walk = func(n *cflocal.Node, path string) {
		if len(n.Nodes) == 0 {
			out[path] = strings.TrimSpace(n.Text)
			return
		}
		count := map[string]int{}
		for _, c := range n.Nodes {
			walk(c, path+"/"+c.XMLName.Local+"#"+string(rune('0'+count[c.XMLName.Local])))
			count[c.XMLName.Local]++
		}
	}
	walk(n, "")
	return out
}
