package lambdaalias_test

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/lambdaalias"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
	"github.com/rewind-sre/rewind/pkg/target"
)

// motoFunction publishes versions 1..3 of a function in moto_server (an implementation of Lambda
// nobody here wrote) and points alias live at version live with the given routing.
func motoFunction(t *testing.T, live string, weights map[string]float64) (*lambda.Client, target.Target) {
	t.Helper()
	endpoint := testenv.Moto(t)
	// moto checks that the execution role exists: create it with IAM's query API.
	form := url.Values{"Action": {"CreateRole"}, "Version": {"2010-05-08"}, "RoleName": {"rewind-test"}, "AssumeRolePolicyDocument": {"{}"}}
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// moto tells services apart by the credential scope of the signature.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto IAM CreateRole: %s", resp.Status)
	}
	client := lambda.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")},
		func(o *lambda.Options) { o.BaseEndpoint = aws.String(endpoint) })
	ctx := context.Background()
	fn := "api-user-id"
	if _, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: &fn, Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String("arn:aws:iam::123456789012:role/rewind-test"), Code: &types.FunctionCode{ZipFile: bootstrapZip(t, "0")}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if i > 1 {
			if _, err := client.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: &fn, ZipFile: bootstrapZip(t, string(rune('0'+i)))}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: &fn}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // distinct LastModified
	}
	in := &lambda.CreateAliasInput{FunctionName: &fn, Name: aws.String("live"), FunctionVersion: &live, Description: aws.String("production")}
	if weights != nil {
		in.RoutingConfig = &types.AliasRoutingConfiguration{AdditionalVersionWeights: weights}
	}
	if _, err := client.CreateAlias(ctx, in); err != nil {
		t.Fatal(err)
	}
	return client, target.Target{Kind: target.KindLambdaAlias, Resource: fn, Slot: "live"}
}

func bootstrapZip(t *testing.T, body string) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, _ := z.Create("bootstrap")
	_, _ = w.Write([]byte(body))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAgainstMotoTheAliasGoesBackAndRemembers(t *testing.T) {
	client, tg := motoFunction(t, "3", nil)
	store := rollbacktest.NewStore()
	eng := rollback.NewEngine(lambdaalias.New(client), store, rollback.Options{})
	req := rollback.Request{Action: rollback.ActionRollback, Trigger: rollback.Trigger{By: rollback.ByAlarm, Alarm: "errors", Incident: "00aa11bb22cc33dd", AlarmTime: time.Now()}}
	res := eng.Do(context.Background(), tg, req)
	if res.Outcome != rollback.OutcomeRolledBack || res.Code != rollback.CodeRolledBack || res.From != "3" || res.To != "2" {
		t.Fatalf("%+v", res)
	}
	a, err := client.GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: &tg.Resource, Name: &tg.Slot})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(a.FunctionVersion) != "2" || aws.ToString(a.Description) != "production" {
		t.Errorf("alias in moto: %s %q, want 2 and the owner's description alone", aws.ToString(a.FunctionVersion), aws.ToString(a.Description))
	}
	if m := store.Record(tg).Memory; !m.IsBad("3") || m.Last == nil || m.Last.Incident != "00aa11bb22cc33dd" {
		t.Errorf("memory %+v", m)
	}
	if again := eng.Do(context.Background(), tg, req); again.Outcome != rollback.OutcomeSkipped || again.Code != rollback.CodeRepeat {
		t.Errorf("the same incident again: %+v", again)
	}
	st := eng.Status(context.Background(), tg)
	if st.Status == nil || st.Status.Current != "2" || len(st.Status.Deployments) != 3 || st.Status.Deployments[0].ID != "3" || !st.Status.Deployments[0].Bad {
		t.Errorf("status: %+v", st.Status)
	}
}

func TestAgainstMotoWeightedRoutingIsDropped(t *testing.T) {
	client, tg := motoFunction(t, "2", map[string]float64{"3": 0.2})
	res := rollback.NewEngine(lambdaalias.New(client), rollbacktest.NewStore(), rollback.Options{}).Do(context.Background(), tg,
		rollback.Request{Action: rollback.ActionRollback, Trigger: rollback.Trigger{By: rollback.ByManual}})
	if res.Outcome != rollback.OutcomeRolledBack || res.Code != rollback.CodeCanaryRemoved || res.Rule != rollback.RuleCanary {
		t.Fatalf("%+v", res)
	}
	a, err := client.GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: &tg.Resource, Name: &tg.Slot})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(a.FunctionVersion) != "2" || (a.RoutingConfig != nil && len(a.RoutingConfig.AdditionalVersionWeights) != 0) ||
		aws.ToString(a.Description) != "production" {
		t.Errorf("alias in moto: version %s routing %+v description %q", aws.ToString(a.FunctionVersion), a.RoutingConfig, aws.ToString(a.Description))
	}
}
