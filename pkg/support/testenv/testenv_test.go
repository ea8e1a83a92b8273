package testenv_test

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// TestDynaliteAnswersAsDynamoDBAndStopsWithTheTest starts dynalite in a subtest, asks it for its
// tables over the JSON 1.0 wire, and checks that the subtest's cleanup freed its port: a leaked
// node process would hold ports (and memory) for the rest of the run.
func TestDynaliteAnswersAsDynamoDBAndStopsWithTheTest(t *testing.T) {
	var endpoint string
	t.Run("running", func(t *testing.T) {
		endpoint = testenv.Dynalite(t)
		req, err := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
		req.Header.Set("X-Amz-Date", "20261125T000000Z")
		// dynalite checks that a signature is there, not what it is.
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Crc32") == "" {
			t.Errorf("ListTables: %s, X-Amz-Crc32 %q", resp.Status, resp.Header.Get("X-Amz-Crc32"))
		}
	})
	if endpoint == "" {
		return // skipped: no dynalite on this machine
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("dynalite still listens on %s after its test ended", u.Host)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
