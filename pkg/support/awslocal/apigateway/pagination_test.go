package apigateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

func TestPaginatorReadsEveryDeploymentOnce(t *testing.T) {
	e := newEnv(t)
	api := e.gw.CreateRestAPI("big")
	created := map[string]time.Time{}
	var order []string
	for i := range 1234 {
		// Sub-second dates are kept to the second, on the Go side and on the wire alike.
		d, err := e.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{Description: fmt.Sprint("build ", i), CreatedDate: t0.Add(time.Duration(i)*time.Minute + 300*time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		created[d.ID] = d.CreatedDate
		order = append(order, d.ID)
	}
	e.gw.ResetCalls()

	p := apigateway.NewGetDeploymentsPaginator(e.client, &apigateway.GetDeploymentsInput{RestApiId: &api.ID, Limit: aws.Int32(500)})
	var listed []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range out.Items {
			id := aws.ToString(d.Id)
			want, ok := created[id]
			if !ok {
				t.Fatalf("listed %s, which was never created", id)
			}
			if got := aws.ToTime(d.CreatedDate); !got.Equal(want) || got.Nanosecond() != 0 {
				t.Errorf("%s createdDate %v, want %v", id, got, want)
			}
		}
		for _, d := range out.Items {
			listed = append(listed, aws.ToString(d.Id))
		}
	}
	if pages != 3 || e.gw.CallCount("GetDeployments") != 3 {
		t.Errorf("pages = %d, calls = %d, want 3 (500 + 500 + 234)", pages, e.gw.CallCount("GetDeployments"))
	}
	seen := map[string]bool{}
	for _, id := range listed {
		if seen[id] {
			t.Errorf("%s listed twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 1234 {
		t.Errorf("%d distinct deployments listed, want 1234", len(seen))
	}
	// AWS promises no order; this server lists by id, which must not be how they were created, so
	// that a consumer relying on listing order fails here rather than in production.
	if slices.Equal(listed, order) {
		t.Error("deployments listed in creation order")
	}
	if !slices.IsSorted(listed) {
		t.Error("deployments not listed by id")
	}
}

func TestDefaultPageIs25(t *testing.T) {
	e := newEnv(t)
	for range 30 {
		e.gw.CreateRestAPI("api")
	}
	out, err := e.client.GetRestApis(context.Background(), &apigateway.GetRestApisInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 25 || out.Position == nil {
		t.Fatalf("first page: %d items, position %v", len(out.Items), out.Position)
	}
	rest, err := e.client.GetRestApis(context.Background(), &apigateway.GetRestApisInput{Position: out.Position})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.Items) != 6 || rest.Position != nil {
		t.Errorf("second page: %d items, position %v; want 6 (31 APIs) and no position", len(rest.Items), rest.Position)
	}
}

func TestPageArgumentsAreValidated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, limit := range []int32{501, 0, -1} {
		_, err := e.client.GetDeployments(ctx, &apigateway.GetDeploymentsInput{RestApiId: &e.api.ID, Limit: aws.Int32(limit)})
		wantBadRequest(t, err, "")
	}
	if _, err := e.client.GetDeployments(ctx, &apigateway.GetDeploymentsInput{RestApiId: &e.api.ID, Limit: aws.Int32(500)}); err != nil {
		t.Errorf("limit 500: %v", err)
	}
	for _, pos := range []string{"garbage!", "aWQ9", "bm90LWFuLWlk"} { // not base64; "id=" without S; "not-an-id"
		_, err := e.client.GetDeployments(ctx, &apigateway.GetDeploymentsInput{RestApiId: &e.api.ID, Position: aws.String(pos)})
		wantBadRequest(t, err, "")
	}
	_, err := e.client.GetRestApis(ctx, &apigateway.GetRestApisInput{Limit: aws.Int32(501)})
	wantBadRequest(t, err, "")
}

// The position token has AWS's shape: base64 of "id=S" and the last id returned.
func TestPositionTokenShape(t *testing.T) {
	e := newEnv(t)
	out, err := e.client.GetDeployments(context.Background(), &apigateway.GetDeploymentsInput{RestApiId: &e.api.ID, Limit: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{e.deps[0].ID, e.deps[1].ID, e.deps[2].ID}
	slices.Sort(ids)
	want := base64Std("id=S" + ids[1])
	if aws.ToString(out.Position) != want {
		t.Errorf("position %q, want %q", aws.ToString(out.Position), want)
	}
	// A hand-made position resumes after that id.
	resp, err := http.Get(e.srv.URL + "/restapis/" + e.api.ID + "/deployments?position=" + url.QueryEscape(want))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Item []struct {
			ID string `json:"id"`
		} `json:"item"`
		Position *string `json:"position"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	if len(body.Item) != 1 || body.Item[0].ID != ids[2] || body.Position != nil {
		t.Errorf("after %s: %+v, want only %s and no position", ids[1], body, ids[2])
	}
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
