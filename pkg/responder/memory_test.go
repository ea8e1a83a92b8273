package responder_test

// Rewind's memory lives in its own table, not on the target: what a release tool does to a stage
// cannot make Rewind forget what is bad, and a memory Rewind cannot read stops it from acting.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
)

// toolWorld is API shop with d1..d3 an hour apart, stage prod serving d3 with the variables and
// tags a release tool put there.
func toolWorld(t *testing.T) (*rig, string) {
	t.Helper()
	r := newRig(t, scheduleStart)
	api := r.gw.CreateRestAPI("shop")
	for i := 1; i <= 3; i++ {
		if _, err := r.gw.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{ID: fmt.Sprintf("d%d", i),
			CreatedDate: scheduleStart.Add(time.Duration(i-4) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.gw.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: "d3",
		Variables: map[string]string{"lambdaAlias": "live", "logLevel": "INFO"}, Tags: map[string]string{"owner": "shop", "managed-by": "terraform"}}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(10 * time.Minute)
	return r, api.ID
}

// release is what "terraform apply" does to the stage: a new deployment goes live, and every
// stage variable and tag is rewritten from the configuration (here: to nothing), through the API.
func release(t *testing.T, r *rig, api, dep string) {
	t.Helper()
	if _, err := r.gw.CreateDeployment(api, apigwlocal.DeploymentSpec{ID: dep, CreatedDate: r.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := r.gw.SetDeploymentID(api, "prod", dep); err != nil {
		t.Fatal(err)
	}
	st, _ := r.gw.Stage(api, "prod")
	c := apigateway.NewFromConfig(r.awsConfig(fastRetry))
	var ops []agtypes.PatchOperation
	for k := range st.Variables {
		ops = append(ops, agtypes.PatchOperation{Op: agtypes.OpRemove, Path: aws.String("/variables/" + k)})
	}
	ctx := context.Background()
	if len(ops) > 0 {
		if _, err := c.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: &api, StageName: aws.String("prod"), PatchOperations: ops}); err != nil {
			t.Fatal(err)
		}
	}
	arn := "arn:aws:apigateway:" + rigRegion + "::/restapis/" + api + "/stages/prod"
	var keys []string
	for k := range st.Tags {
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		if _, err := c.UntagResource(ctx, &apigateway.UntagResourceInput{ResourceArn: &arn, TagKeys: keys}); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := r.gw.Stage(api, "prod"); st.DeploymentID != dep || len(st.Variables) != 0 || len(st.Tags) != 0 {
		t.Fatalf("the release did not rewrite the stage: %+v", st)
	}
	r.rec.note(api+"/prod", dep)
}

// fire delivers a fresh alarm on shop/prod a minute from now and returns its result.
func fire(t *testing.T, r *rig, h *responder.Handler, name string) (rollback.Result, error) {
	t.Helper()
	r.clock.Advance(time.Minute)
	a := alarmDef{name: name, state: "ALARM", at: r.clock.Now().Add(-1500 * time.Millisecond), apiName: "shop", stage: "prod"}
	out, err := invoke(h, a.payload(viaSNS))
	if rs := resultsOfErr(out, err); len(rs) == 1 {
		return rs[0], err
	}
	t.Fatalf("alarm %s: %v %v", name, out, err)
	return rollback.Result{}, err
}

// TestTerraformApplyDoesNotMakeRewindForgetWhatIsBad: d2 good, d3 bad: the alarm rolls back to d2
// and marks d3. Then terraform apply releases d4 and rewrites every stage variable and tag. d4
// fails: the next alarm goes back to the deployment before d4 that is not known bad, d2, never d3.
func TestTerraformApplyDoesNotMakeRewindForgetWhatIsBad(t *testing.T) {
	r, api := toolWorld(t)
	key := api + "/prod"
	h := r.handler(t, map[string]string{config.EnvTargets: key}, fastRetry, nil)
	if res, err := fire(t, r, h, "shop-5xx"); err != nil || res.Code != rollback.CodeRolledBack || res.To != "d2" {
		t.Fatalf("first alarm: %+v %v", res, err)
	}
	if mem := mustRecord(t, r.ddb, key).Memory; !mem.IsBad("d3") {
		t.Fatalf("d3 not known bad after the rollback from it: %v", mem.Bad)
	}
	r.clock.Advance(30 * time.Minute)
	release(t, r, api, "d4")
	r.clock.Advance(10 * time.Minute)
	res, err := fire(t, r, h, "shop-5xx")
	if err != nil || res.Code != rollback.CodeRolledBack || res.From != "d4" || res.To != "d2" {
		t.Fatalf("alarm after the release: %+v %v; want d4 -> d2 (d3 is known bad)", res, err)
	}
	if st, _ := r.gw.Stage(api, "prod"); st.DeploymentID != "d2" || len(st.Variables) != 0 || len(st.Tags) != 0 {
		t.Errorf("stage after the rollback: %+v; want d2 and nothing of Rewind's on it", st)
	}
	if mem := mustRecord(t, r.ddb, key).Memory; !mem.IsBad("d3") || !mem.IsBad("d4") {
		t.Errorf("known bad %v, want d3 and d4", mem.Bad)
	}
}

// TestMemorySurvivesTheTargetBeingRewritten: two automatic rollbacks (the loop guard's limit is 2),
// then the stage is rewritten by a release (variables and tags gone, a new deployment live; the
// local API Gateway cannot delete deployments, so old ones stay). Status still shows the known-bad
// marks and the timeline, and the loop guard still counts: the next alarm is refused.
func TestMemorySurvivesTheTargetBeingRewritten(t *testing.T) {
	r, api := toolWorld(t)
	key := api + "/prod"
	h := r.handler(t, map[string]string{config.EnvTargets: key, config.EnvMaxAutoPerHour: "2"}, fastRetry, nil)
	if res, err := fire(t, r, h, "shop-5xx"); err != nil || res.To != "d2" {
		t.Fatalf("first alarm: %+v %v", res, err)
	}
	r.clock.Advance(5 * time.Minute)
	release(t, r, api, "d4")
	if res, err := fire(t, r, h, "shop-5xx"); err != nil || res.From != "d4" || res.To != "d2" {
		t.Fatalf("second alarm: %+v %v", res, err)
	}
	r.clock.Advance(5 * time.Minute)
	release(t, r, api, "d5")

	out, err := invoke(h, []byte(`{"action":"status"}`))
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		Current  string
		KnownBad []string
		Timeline []struct {
			Deployment, How string
		}
	}
	b, _ := json.Marshal(out)
	if err := json.Unmarshal(b, &status); err != nil {
		t.Fatal(err)
	}
	if status.Current != "d5" || !slices.Contains(status.KnownBad, "d3") || !slices.Contains(status.KnownBad, "d4") {
		t.Errorf("status after the rewrite: current %s, known bad %v; want d5, and d3 and d4 known bad", status.Current, status.KnownBad)
	}
	rollbacks := 0
	for _, s := range status.Timeline {
		if s.How == string(rollback.HowAutoRollback) && s.Deployment == "d2" {
			rollbacks++
		}
	}
	if rollbacks != 2 {
		t.Errorf("status timeline %+v: want both automatic rollbacks to d2", status.Timeline)
	}
	res, err := fire(t, r, h, "shop-5xx")
	if res.Code != rollback.CodeLoopGuard || !slices.Equal(failedCodes(err), []rollback.Code{rollback.CodeLoopGuard}) {
		t.Errorf("third alarm within the hour: %s/%s (%v); want the loop guard to refuse", res.Outcome, res.Code, err)
	}
	if st, _ := r.gw.Stage(api, "prod"); st.DeploymentID != "d5" {
		t.Errorf("a refused rollback moved the stage to %s", st.DeploymentID)
	}
}

// TestAMemoryRewindCannotReadStopsIt: the memory table failing every call, or an item Rewind cannot
// decode (an attribute of the wrong type): nothing is written to the stage, the result fails with
// memory-failed, and the invocation returns a *responder.Failed (Lambda retries, then keeps it).
func TestAMemoryRewindCannotReadStopsIt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, r *rig, key string)
	}{
		{"table failing", func(t *testing.T, r *rig, key string) {
			r.ddb.InjectFault(awslocal.AnyOperation, awslocal.Fault{Status: http.StatusInternalServerError, Times: 100000})
		}},
		{"unreadable item", func(t *testing.T, r *rig, key string) {
			c := dynamodb.NewFromConfig(r.awsConfig(fastRetry))
			item := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: memoryPK(key)}, "sk": &types.AttributeValueMemberS{Value: "memory"},
				"version": &types.AttributeValueMemberN{Value: "3"}, "schema": &types.AttributeValueMemberN{Value: "1"},
				"bad":       &types.AttributeValueMemberS{Value: "d3"}, // a list of deployments, written as one string
				"incidents": &types.AttributeValueMemberL{}, "timeline": &types.AttributeValueMemberL{}, "guard": &types.AttributeValueMemberL{}}
			if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(memoryTable), Item: item}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, api := toolWorld(t)
			key := api + "/prod"
			h := r.handler(t, map[string]string{config.EnvTargets: key}, fastRetry, nil)
			tc.break_(t, r, key)
			for _, payload := range [][]byte{nil, []byte(`{"action":"rollback"}`), []byte(`{"action":"deploy","deploymentId":"d1"}`)} {
				var res rollback.Result
				var err error
				if payload == nil {
					res, err = fire(t, r, h, "shop-5xx")
				} else {
					out, e := invoke(h, payload)
					err = e
					if rs := resultsOfErr(out, e); len(rs) == 1 {
						res = rs[0]
					}
				}
				var f *responder.Failed
				if !errors.As(err, &f) || !slices.Equal(f.Codes(), []rollback.Code{rollback.CodeMemoryFailed}) {
					t.Errorf("%s: err = %v, want a *responder.Failed with code memory-failed", payload, err)
				}
				if res.Outcome != rollback.OutcomeFailed || res.Code != rollback.CodeMemoryFailed {
					t.Errorf("%s: result %s/%s, want failed/memory-failed", payload, res.Outcome, res.Code)
				}
			}
			if w := r.rec.stageWrites(); len(w) != 0 || r.gw.Writes() != 0 {
				t.Errorf("%d writes were sent to the stage", len(w))
			}
			if st, _ := r.gw.Stage(api, "prod"); st.DeploymentID != "d3" {
				t.Errorf("stage serves %s, want d3 untouched", st.DeploymentID)
			}
		})
	}
}

// TestStatusShowsTheAuditLog: after an alarm's rollback and a person's deploy, "status" answers the
// audit log, newest first, with each change's code, from, to, rule, by and alarm.
func TestStatusShowsTheAuditLog(t *testing.T) {
	r, api := toolWorld(t)
	h := r.handler(t, map[string]string{config.EnvTargets: api + "/prod"}, fastRetry, nil)
	if res, err := fire(t, r, h, "shop-5xx"); err != nil || res.Code != rollback.CodeRolledBack {
		t.Fatalf("alarm: %+v %v", res, err)
	}
	r.clock.Advance(time.Minute)
	if out, err := invoke(h, []byte(`{"action":"deploy","deploymentId":"d1"}`)); err != nil || resultsOf(out)[0].Code != rollback.CodeDeployed {
		t.Fatalf("deploy: %v %v", out, err)
	}
	out, err := invoke(h, []byte(`{"action":"status"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	var status struct {
		Audit []struct {
			Code, From, To, Rule, By, Alarm string
			At                              time.Time
		}
	}
	if err := json.Unmarshal(b, &status); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(status.Audit)
	if len(status.Audit) != 2 {
		t.Fatalf("audit = %s, want the deploy and the rollback", b)
	}
	d, rb := status.Audit[0], status.Audit[1]
	if d.Code != string(rollback.CodeDeployed) || d.From != "d2" || d.To != "d1" || d.Rule != string(rollback.RuleNamed) || d.By != string(rollback.ByManual) || d.Alarm != "" {
		t.Errorf("newest entry %+v, want the deploy d2 -> d1 by manual, rule named (audit %s)", d, got)
	}
	if rb.Code != string(rollback.CodeRolledBack) || rb.From != "d3" || rb.To != "d2" || rb.Rule != string(rollback.RulePrevious) || rb.By != string(rollback.ByAlarm) || rb.Alarm != "shop-5xx" {
		t.Errorf("older entry %+v, want the rollback d3 -> d2 by alarm shop-5xx, rule previous-created (audit %s)", rb, got)
	}
	if !d.At.After(rb.At) {
		t.Errorf("audit not newest first: %s", got)
	}
}
