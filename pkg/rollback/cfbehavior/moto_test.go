package cfbehavior_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/cfbehavior"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	"github.com/rewind-sre/rewind/pkg/support/testenv"
	"github.com/rewind-sre/rewind/pkg/target"
)

// TestAgainstMotoTheBehaviourSwitchesToTheLegacyOrigin runs the strategy against moto_server's
// CloudFront (an implementation nobody here wrote): the seed's distribution, /api/users/* on the
// Lambda origin, an alarm, and the behaviour on the EC2 origin with everything else (the comment
// included) as it was; Rewind's memory is in its store.
func TestAgainstMotoTheBehaviourSwitchesToTheLegacyOrigin(t *testing.T) {
	endpoint := testenv.Moto(t)
	client := cloudfront.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")},
		func(o *cloudfront.Options) { o.BaseEndpoint = aws.String(endpoint) })
	ctx := context.Background()
	origin := func(id, domain string) types.Origin {
		return types.Origin{Id: aws.String(id), DomainName: aws.String(domain), CustomOriginConfig: &types.CustomOriginConfig{
			HTTPPort: aws.Int32(80), HTTPSPort: aws.Int32(443), OriginProtocolPolicy: types.OriginProtocolPolicyHttpsOnly}}
	}
	cachePolicy := aws.String("4135ea2d-6df8-44a3-9df3-4b5a84be39ad")
	created, err := client.CreateDistribution(ctx, &cloudfront.CreateDistributionInput{DistributionConfig: &types.DistributionConfig{
		CallerReference: aws.String("rewind-moto"), Comment: aws.String("Luna API"), Enabled: aws.Bool(true),
		Origins:              &types.Origins{Quantity: aws.Int32(2), Items: []types.Origin{origin(legacy, "api-origin.luna.com"), origin(fresh, "x.lambda-url.us-east-1.on.aws")}},
		DefaultCacheBehavior: &types.DefaultCacheBehavior{TargetOriginId: aws.String(legacy), ViewerProtocolPolicy: types.ViewerProtocolPolicyRedirectToHttps, CachePolicyId: cachePolicy},
		CacheBehaviors: &types.CacheBehaviors{Quantity: aws.Int32(1), Items: []types.CacheBehavior{{PathPattern: aws.String(users),
			TargetOriginId: aws.String(fresh), ViewerProtocolPolicy: types.ViewerProtocolPolicyRedirectToHttps, CachePolicyId: cachePolicy}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(created.Distribution.Id)
	tg, err := target.Parse("cloudfront:" + id + ":" + users + "@" + legacy)
	if err != nil {
		t.Fatal(err)
	}
	store := rollbacktest.NewStore()
	eng := rollback.NewEngine(cfbehavior.New(client), store, rollback.Options{})
	// The alarm is dated a minute ahead: moto stamps LastModifiedTime with its own clock, and an alarm
	// older than the distribution's last change would rightly be judged stale.
	res := eng.Do(ctx, tg, rollback.Request{Action: rollback.ActionRollback,
		Trigger: rollback.Trigger{By: rollback.ByAlarm, Alarm: "users 5xx", Incident: "00aa11bb22cc33dd", AlarmTime: time.Now().Add(time.Minute)}})
	if res.Outcome != rollback.OutcomeRolledBack || res.Code != rollback.CodeRolledBack || res.From != fresh || res.To != legacy {
		t.Fatalf("%+v", res)
	}
	got, err := client.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: &id})
	if err != nil {
		t.Fatal(err)
	}
	cfg := got.DistributionConfig
	if o := aws.ToString(cfg.CacheBehaviors.Items[0].TargetOriginId); o != legacy {
		t.Errorf("behaviour routes to %s, want %s", o, legacy)
	}
	if o := aws.ToString(cfg.DefaultCacheBehavior.TargetOriginId); o != legacy || len(cfg.Origins.Items) != 2 || aws.ToString(cfg.Comment) != "Luna API" {
		t.Errorf("the rest of the configuration changed: default %s, %d origins, comment %q", o, len(cfg.Origins.Items), aws.ToString(cfg.Comment))
	}
	if m := store.Record(tg).Memory; !m.IsBad(fresh) || m.Last == nil || m.Last.Incident != "00aa11bb22cc33dd" {
		t.Errorf("memory %+v", m)
	}
	st := eng.Status(ctx, tg)
	if st.Status == nil || st.Status.Current != legacy || st.Status.Progress == "" || len(st.Status.KnownBad) != 1 || st.Status.KnownBad[0] != fresh {
		t.Errorf("status: %+v", st.Status)
	}
	if again := eng.Do(ctx, tg, rollback.Request{Action: rollback.ActionRollback,
		Trigger: rollback.Trigger{By: rollback.ByAlarm, Incident: "00aa11bb22cc33dd", AlarmTime: time.Now().Add(time.Minute)}}); again.Outcome != rollback.OutcomeSkipped || again.Code != rollback.CodeRepeat {
		t.Errorf("the same incident again: %+v", again)
	}
}
