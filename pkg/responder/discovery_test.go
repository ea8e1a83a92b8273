package responder_test

// Targets by tag, end to end through the real SDK: the local API Gateway, DynamoDB and Tagging API
// behind one endpoint; stages tagged, untagged and deleted over the wire; alarms over SNS.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/rewind-sre/rewind/pkg/awsretry"
	"github.com/rewind-sre/rewind/pkg/config"
	"github.com/rewind-sre/rewind/pkg/discover"
	"github.com/rewind-sre/rewind/pkg/responder"
	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/support/awslocal"
	apigwlocal "github.com/rewind-sre/rewind/pkg/support/awslocal/apigateway"
	ddblocal "github.com/rewind-sre/rewind/pkg/support/awslocal/dynamodb"
	"github.com/rewind-sre/rewind/pkg/support/awslocal/tagging"
	"github.com/rewind-sre/rewind/pkg/target"
)

// tagWorld is one REST API, "shop", with deployments d[0] < d[1] < d[2]; its stages are made by
// the test, each on d[2].
type tagWorld struct {
	gw    *apigwlocal.Server
	tags  *tagging.Server
	url   string
	api   string
	d     [3]string
	sdk   *apigateway.Client // a person's client: tags, untags, deletes
	clock *simClock          // discovery's clock
	logs  *syncWriter
}

func newTagWorld(t *testing.T, o tagging.Options) *tagWorld {
	t.Helper()
	gw := apigwlocal.New(apigwlocal.Options{Region: "us-east-1", AccountID: account, Now: func() time.Time { return t0.Add(12 * time.Minute) }})
	ddb := ddblocal.New(ddblocal.Options{})
	ddb.CreateTable(memoryTable)
	tags := tagging.New(o, gw)
	srv := httptest.NewServer(tags.Front(ddb.Front(gw)))
	t.Cleanup(srv.Close)
	w := &tagWorld{gw: gw, tags: tags, url: srv.URL, clock: &simClock{t: t0}, logs: &syncWriter{w: &bytes.Buffer{}}}
	w.api = gw.CreateRestAPI("shop").ID
	for i := range w.d {
		dep, _ := gw.CreateDeployment(w.api, apigwlocal.DeploymentSpec{CreatedDate: t0.Add(time.Duration(i*5) * time.Minute)})
		w.d[i] = dep.ID
	}
	w.sdk = apigateway.NewFromConfig(w.awsConfig())
	return w
}

func (w *tagWorld) awsConfig() aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(w.url), Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return awsretry.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}.Retryer()
		}}
}

func (w *tagWorld) stage(t *testing.T, name string, tags map[string]string) {
	t.Helper()
	if err := w.gw.CreateStage(w.api, apigwlocal.StageSpec{Name: name, DeploymentID: w.d[2], Tags: tags}); err != nil {
		t.Fatal(err)
	}
}

func (w *tagWorld) arn(stage string) string {
	return "arn:aws:apigateway:us-east-1::/restapis/" + w.api + "/stages/" + stage
}

func (w *tagWorld) tag(t *testing.T, stage string, tags map[string]string) {
	t.Helper()
	if _, err := w.sdk.TagResource(context.Background(), &apigateway.TagResourceInput{ResourceArn: aws.String(w.arn(stage)), Tags: tags}); err != nil {
		t.Fatal(err)
	}
}

func (w *tagWorld) untag(t *testing.T, stage, key string) {
	t.Helper()
	if _, err := w.sdk.UntagResource(context.Background(), &apigateway.UntagResourceInput{ResourceArn: aws.String(w.arn(stage)), TagKeys: []string{key}}); err != nil {
		t.Fatal(err)
	}
}

func (w *tagWorld) handler(t *testing.T, targets string) *responder.Handler {
	t.Helper()
	cfg, err := config.FromEnv(withTable(map[string]string{config.EnvTargets: targets}))
	if err != nil {
		t.Fatal(err)
	}
	h, err := responder.Build(cfg, w.awsConfig(), responder.Options{Log: slog.New(slog.NewJSONHandler(w.logs, nil)),
		Now: func() time.Time { return handledAt }, NameTTL: time.Minute, DiscoveryNow: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// alarm sends the 5XX alarm of shop's stage over SNS and returns its one result.
func (w *tagWorld) alarm(t *testing.T, h *responder.Handler, stage string) (rollback.Result, error) {
	t.Helper()
	out, err := h.Handle(invokeCtx(), snsEvent(alarmMessage(alarmSpec{name: "shop-" + stage + "-5xx", at: t0.Add(20 * time.Minute), apiName: "shop", stage: stage})))
	rs := resultsOfErr(out, err)
	if len(rs) != 1 {
		t.Fatalf("%d results, %v", len(rs), err)
	}
	return rs[0], err
}

func (w *tagWorld) command(t *testing.T, h *responder.Handler, payload string) ([]rollback.Result, error) {
	t.Helper()
	out, err := h.Handle(invokeCtx(), []byte(payload))
	return resultsOfErr(out, err), err
}

func (w *tagWorld) live(t *testing.T, stage string) string {
	t.Helper()
	st, ok := w.gw.Stage(w.api, stage)
	if !ok {
		t.Fatalf("stage %s gone", stage)
	}
	return st.DeploymentID
}

func TestAStageTaggedSinceTheLastListingIsActedOnAtFirstSight(t *testing.T) {
	w := newTagWorld(t, tagging.Options{})
	w.stage(t, "prod", nil)
	w.stage(t, "beta", nil)
	h := w.handler(t, "rest:tag:rewind=protect")
	if rs, err := w.command(t, h, `{"action":"observe"}`); err != nil || len(rs) != 0 {
		t.Fatalf("observe with nothing tagged: %+v, %v", rs, err)
	}
	w.tag(t, "prod", map[string]string{"rewind": "protect"})
	w.tag(t, "beta", map[string]string{"rewind": "protect"})
	w.clock.Advance(discover.RecheckEvery) // the TTL is far off: only the miss lists again
	r, err := w.alarm(t, h, "prod")
	if err != nil || r.Code != rollback.CodeRolledBack || w.live(t, "prod") != w.d[1] {
		t.Fatalf("alarm on a stage just tagged: %s %s, %v; live %s", r.Code, r.Reason, err, w.live(t, "prod"))
	}
	// A command for the other just-tagged stage needs no listing of its own: the alarm's found it.
	rs, err := w.command(t, h, `{"action":"status","target":"`+w.api+`/beta"}`)
	if err != nil || rs[0].Code != rollback.CodeStatus {
		t.Errorf("status of beta: %+v, %v", rs, err)
	}
	if n := w.tags.CallCount("GetResources"); n != 2 {
		t.Errorf("GetResources calls = %d, want 2: the cold listing and the one the alarm's miss made", n)
	}
}

func TestATagRemovedOrAStageDeletedDropsOutAtTheNextRefresh(t *testing.T) {
	w := newTagWorld(t, tagging.Options{})
	w.stage(t, "prod", map[string]string{"rewind": "protect"})
	w.stage(t, "beta", map[string]string{"rewind": "protect"})
	h := w.handler(t, "rest:tag:rewind=protect")
	if rs, err := w.command(t, h, `{"action":"observe"}`); err != nil || len(rs) != 2 {
		t.Fatalf("observe: %d results, %v", len(rs), err)
	}
	w.untag(t, "prod", "rewind")
	if _, err := w.sdk.DeleteStage(context.Background(), &apigateway.DeleteStageInput{RestApiId: aws.String(w.api), StageName: aws.String("beta")}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(discover.TTL)
	_, _ = w.command(t, h, `{"action":"observe"}`) // served from the answer in hand; the refresh runs behind it
	h.WaitDiscovery()
	if rs, err := w.command(t, h, `{"action":"observe"}`); err != nil || len(rs) != 0 {
		t.Errorf("observe after the refresh: %d results, %v; want none", len(rs), err)
	}
	r, err := w.alarm(t, h, "prod")
	if err != nil || r.Outcome != rollback.OutcomeIgnored || r.Code != rollback.CodeNoTarget || !strings.Contains(r.Reason, "not in TARGETS") {
		t.Errorf("alarm on the untagged stage: %s %s %q, %v", r.Outcome, r.Code, r.Reason, err)
	}
	if w.live(t, "prod") != w.d[2] {
		t.Errorf("the untagged stage was moved")
	}
	rs, err := w.command(t, h, `{"action":"rollback","target":"`+w.api+`/prod"}`)
	if err == nil || rs[0].Code != rollback.CodeTargetNotAllowed {
		t.Errorf("command on the untagged stage: %+v, %v", rs, err)
	}
}

func TestOverlappingSelectorsAndAnExplicitTargetAreOneTargetEach(t *testing.T) {
	w := newTagWorld(t, tagging.Options{})
	// prod: explicit with a pinned fallback, and tagged for both selectors with another fallback.
	w.stage(t, "prod", map[string]string{"rewind": "protect", "team": "shop", target.FallbackTag: w.d[1]})
	// beta: both selectors, and its fallback from the tag.
	w.stage(t, "beta", map[string]string{"rewind": "protect", "team": "shop", target.FallbackTag: w.d[0]})
	// qa: a malformed fallback tag: no target, and said so.
	w.stage(t, "qa", map[string]string{"rewind": "protect", target.FallbackTag: "d/../x"})
	h := w.handler(t, w.api+"/prod@"+w.d[0]+", rest:tag:rewind=protect, rest:tag:team=shop")
	rs, err := w.command(t, h, `{"action":"observe"}`)
	if err != nil || len(rs) != 2 {
		t.Fatalf("observe: %d results, %v; want prod and beta once each", len(rs), err)
	}
	if !strings.Contains(w.logs.String(), "tagged stage is not a target") || !strings.Contains(w.logs.String(), "/stages/qa") {
		t.Errorf("the malformed fallback tag was not logged: %s", w.logs)
	}
	if r, err := w.alarm(t, h, "prod"); err != nil || w.live(t, "prod") != w.d[0] {
		t.Errorf("prod: %s %s, %v; live %s, want the explicit target's pinned %s", r.Code, r.Reason, err, w.live(t, "prod"), w.d[0])
	}
	if r, err := w.alarm(t, h, "beta"); err != nil || w.live(t, "beta") != w.d[0] {
		t.Errorf("beta: %s %s, %v; live %s, want the tag's fallback %s (not the previous %s)", r.Code, r.Reason, err, w.live(t, "beta"), w.d[0], w.d[1])
	}
	if r, _ := w.alarm(t, h, "qa"); r.Outcome != rollback.OutcomeIgnored || w.live(t, "qa") != w.d[2] {
		t.Errorf("qa: %s %s; a stage with a malformed fallback tag must not move", r.Outcome, r.Reason)
	}
}

func TestATaggedStageOfAnotherRegionIsNoTarget(t *testing.T) {
	w := newTagWorld(t, tagging.Options{AnyRegion: true}) // unlike AWS's, this listing crosses regions
	w.stage(t, "prod", nil)
	far := apigwlocal.New(apigwlocal.Options{Region: "eu-west-1"})
	api := far.CreateRestAPI("shop")
	dep, _ := far.CreateDeployment(api.ID, apigwlocal.DeploymentSpec{CreatedDate: t0})
	_ = far.CreateStage(api.ID, apigwlocal.StageSpec{Name: "prod", DeploymentID: dep.ID, Tags: map[string]string{"rewind": "protect"}})
	w.tags.AddSource(far)
	h := w.handler(t, "rest:tag:rewind=protect")
	if rs, err := w.command(t, h, `{"action":"observe"}`); err != nil || len(rs) != 0 {
		t.Errorf("observe: %+v, %v; want no target", rs, err)
	}
	if !strings.Contains(w.logs.String(), "in region eu-west-1") {
		t.Errorf("the other region's stage was not reported: %s", w.logs)
	}
	if r, _ := w.alarm(t, h, "prod"); r.Outcome != rollback.OutcomeIgnored || w.live(t, "prod") != w.d[2] {
		t.Errorf("alarm on this region's untagged prod: %s %s", r.Outcome, r.Reason)
	}
}

func TestDiscoveryFailingLeavesExplicitTargetsWorking(t *testing.T) {
	w := newTagWorld(t, tagging.Options{})
	w.stage(t, "prod", nil)
	w.stage(t, "beta", map[string]string{"rewind": "protect"})
	h := w.handler(t, w.api+"/prod, rest:tag:rewind=protect")
	w.tags.InjectFault("GetResources", awslocal.Fault{Status: 500, Times: 1000})
	if r, err := w.alarm(t, h, "prod"); err != nil || r.Code != rollback.CodeRolledBack {
		t.Errorf("alarm on the explicit target: %s %s, %v", r.Code, r.Reason, err)
	}
	r, err := w.alarm(t, h, "beta")
	if !errors.Is(err, responder.ErrFailed) || r.Code != rollback.CodeResolveFailed || !strings.Contains(r.Reason, "GetResources") {
		t.Errorf("alarm on a tagged stage while discovery fails: %s %q, %v; want a failed invocation naming the listing", r.Code, r.Reason, err)
	}
	if w.live(t, "beta") != w.d[2] {
		t.Errorf("beta moved")
	}
	rs, err := w.command(t, h, `{"action":"observe"}`)
	if err == nil || len(rs) != 2 || rs[1].Code != rollback.CodeDiscoveryFailed {
		t.Errorf("observe: %+v, %v; want prod observed and a discovery-failed result", rs, err)
	}
	w.clock.Advance(discover.RecheckEvery)
	rs, err = w.command(t, h, `{"action":"status","target":"`+w.api+`/beta"}`)
	if err == nil || rs[0].Code != rollback.CodeDiscoveryFailed {
		t.Errorf("status of beta: %+v, %v", rs, err)
	}
}

func TestMoreThanAPageOfTaggedStages(t *testing.T) {
	w := newTagWorld(t, tagging.Options{})
	for i := range 150 {
		w.stage(t, fmt.Sprintf("s%03d", i), map[string]string{"rewind": "protect"})
	}
	h := w.handler(t, "rest:tag:rewind=protect")
	rs, err := w.command(t, h, `{"action":"status","target":"`+w.api+`/s149"}`)
	if err != nil || rs[0].Code != rollback.CodeStatus {
		t.Errorf("status of the 150th stage: %+v, %v", rs, err)
	}
	if n := w.tags.CallCount("GetResources"); n != 2 {
		t.Errorf("GetResources calls = %d, want 2 pages", n)
	}
}

func TestAlarmTargetsNameOnlyExplicitTargets(t *testing.T) {
	_, err := config.FromEnv(withTable(map[string]string{config.EnvTargets: "rest:tag:rewind=protect",
		config.EnvAlarmTargets: "shop-*=abc123/prod"}))
	if err == nil || !strings.Contains(err.Error(), "not a stage found by tag") {
		t.Errorf("ALARM_TARGETS to a stage TARGETS only selects: %v", err)
	}
}
