package event

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sampleWant is the expectation for one file of the shared samples folder (see its SOURCES.md).
//
// Recs has one entry per record: an alarm state ("ALARM", "OK", "INSUFFICIENT_DATA"), "schedule",
// "ignored:<substring of Ignored>" or "err:<substring of Err>". Msg, when set, is what
// DecodeAlarmMessage must give for the file: a state or "err:<substring>".
type sampleWant struct {
	Kind  Kind
	Err   string // substring of Decode's error
	Recs  []string
	Msg   string
	Check func(t *testing.T, recs []Record)
}

const notAShape = "want one of: an SNS event"

var sampleTable = map[string]sampleWant{
	// API Gateway responses are not invocation payloads: valid JSON of the wrong shape.
	"apigateway/cli-get-deployments-items.json":                                  {Err: `keys "items"; ` + notAShape},
	"apigateway/cli-get-stage-epoch-dates-method-overrides.json":                 {Err: notAShape},
	"apigateway/cli-update-stage-iso-dates-resource-override.json":               {Err: notAShape},
	"apigateway/custodian-placebo-429-too-many-requests.json":                    {Err: `keys "data", "status_code"`},
	"apigateway/custodian-placebo-get-stage-404-notfound-headers.json":           {Err: notAShape},
	"apigateway/custodian-placebo-get-stage-webacl-tags-tabs.json":               {Err: notAShape},
	"apigateway/custodian-placebo-update-stage-prod.json":                        {Err: notAShape},
	"apigateway/docs-apiref-get-deployments-hal-embedded-next-position.json":     {Err: `keys "_embedded", "_links"`},
	"apigateway/docs-apiref-get-stage-hal-links.json":                            {Err: "and 1 more; " + notAShape},
	"apigateway/docs-apiref-update-stage-hal-cache-in-progress.json":             {Err: notAShape},
	"apigateway/docs-get-stage-canary-10.5pct-epoch.json":                        {Err: notAShape},
	"apigateway/docs-update-stage-canary-same-deployment.json":                   {Err: notAShape},
	"apigateway/localstack-recorded-error-400-deployment-id-not-exist.json":      {Err: notAShape},
	"apigateway/localstack-recorded-error-400-remove-canary-trailing-space.json": {Err: notAShape},
	"apigateway/localstack-recorded-error-409-concurrent-modification.json":      {Err: notAShape},
	"apigateway/localstack-recorded-get-stage-canary-50pct-overrides.json":       {Err: notAShape},
	"apigateway/localstack-recorded-update-stage-canary-zero-percent.json":       {Err: notAShape},

	"bare_alarm/alerta-insufficient-data-10-unknown-sns-metric.json": {Kind: KindAlarmMessage, Recs: []string{"INSUFFICIENT_DATA"}, Msg: "INSUFFICIENT_DATA",
		Check: func(t *testing.T, recs []Record) {
			a := recs[0].Alarm
			if a.AccountID != "1234567890" || a.Region != "" || a.RegionName != "EU (Ireland)" {
				t.Errorf("no ARN: account %q region %q/%q", a.AccountID, a.Region, a.RegionName)
			}
		}},
	"bare_alarm/cpp-test-lambda-errors-alarm-to-ok.json": {Kind: KindAlarmMessage, Recs: []string{"OK"}, Msg: "OK"},
	"bare_alarm/cpp-test-wafv2-three-dimensions-missing-nonbreaching.json": {Kind: KindAlarmMessage, Recs: []string{"ALARM"}, Msg: "ALARM",
		Check: func(t *testing.T, recs []Record) {
			a := recs[0].Alarm
			want := []Dimension{{"WebACL", "project-general-alb-project"}, {"Region", "eu-west-1"}, {"Rule", "alb-project-wafbase-rate-limit-rule"}}
			if !slices.Equal(a.Dimensions, want) || a.AccountID != "XXXXXXXXXXX" || a.Region != "eu-west-1" {
				t.Errorf("dims %v account %q region %q", a.Dimensions, a.AccountID, a.Region)
			}
		}},
	"bare_alarm/legiti-region-localhost-apostrophe.json": {Kind: KindAlarmMessage, Recs: []string{"ALARM"}, Msg: "ALARM"},
	// LocalStack snapshots replace times with the placeholder "date": no usable StateChangeTime.
	"bare_alarm/localstack-recorded-alarm-with-mute-window-flag.json":   {Kind: KindAlarmMessage, Recs: []string{`err:StateChangeTime "date" is not a time`}, Msg: `err:StateChangeTime "date"`},
	"bare_alarm/localstack-recorded-breaching-missing-data.json":        {Kind: KindAlarmMessage, Recs: []string{`err:StateChangeTime "date" is not a time`}, Msg: `err:StateChangeTime "date"`},
	"bare_alarm/localstack-recorded-set-alarm-state-manual-reason.json": {Kind: KindAlarmMessage, Recs: []string{`err:StateChangeTime "date" is not a time`}, Msg: `err:StateChangeTime "date"`},
	"bare_alarm/notify-slack-minimal-no-trigger.json":                   {Kind: KindAlarmMessage, Recs: []string{"ALARM"}, Msg: "ALARM"},
	"bare_alarm/realworld-composite-empty-triggering-children-forced.json": {Kind: KindAlarmMessage, Recs: []string{"ALARM"}, Msg: "ALARM",
		Check: func(t *testing.T, recs []Record) {
			if a := recs[0].Alarm; !a.Composite || a.AccountID != "123456" {
				t.Errorf("composite %v account %q", a.Composite, a.AccountID)
			}
		}},
	"bare_alarm/realworld-composite-triggering-children-full-arns.json": {Kind: KindAlarmMessage, Recs: []string{"ALARM"}, Msg: "ALARM",
		Check: func(t *testing.T, recs []Record) {
			if a := recs[0].Alarm; !a.Composite || len(a.Dimensions) != 0 || a.Region != "us-east-1" {
				t.Errorf("composite %v dims %v region %q", a.Composite, a.Dimensions, a.Region)
			}
		}},
	"bare_alarm/realworld-extendedstatistic-type-with-average-value.json": {Kind: KindAlarmMessage, Recs: []string{"ALARM"}, Msg: "ALARM"},

	"eventbridge_alarm/docs-anomaly-detection-band.json": {Kind: KindEventBridge, Recs: []string{"ALARM"},
		Check: func(t *testing.T, recs []Record) {
			a := recs[0].Alarm
			if a.Name != "EC2 CPU Utilization Anomaly" || a.ARN != "arn:aws:cloudwatch:us-east-1:123456789012:alarm:EC2 CPU Utilization Anomaly" {
				t.Errorf("name %q arn %q", a.Name, a.ARN)
			}
		}},
	"eventbridge_alarm/docs-composite-with-suppressor.json": {Kind: KindEventBridge, Recs: []string{"ALARM"},
		Check: func(t *testing.T, recs []Record) {
			if !recs[0].Alarm.Composite {
				t.Error("not composite")
			}
		}},
	"eventbridge_alarm/docs-metric-math-insufficient-to-alarm.json": {Kind: KindEventBridge, Recs: []string{"ALARM"},
		Check: func(t *testing.T, recs []Record) {
			a := recs[0].Alarm
			if a.PreviousState != "INSUFFICIENT_DATA" || !slices.Equal(a.Dimensions, []Dimension{{"InstanceId", "i-12345678901234567"}}) {
				t.Errorf("prev %q dims %v", a.PreviousState, a.Dimensions)
			}
		}},
	"eventbridge_alarm/docs-single-metric-cpu-ok-to-alarm.json": {Kind: KindEventBridge, Recs: []string{"ALARM"}},

	"odd/alerta-sns-http-envelope-insufficient-data.json": {Kind: KindSNSEnvelope, Recs: []string{"INSUFFICIENT_DATA"},
		Check: func(t *testing.T, recs []Record) {
			// The same change as bare_alarm/alerta-insufficient-data-…: same incident.
			a := recs[0].Alarm
			if a.Via != ViaSNSEnvelope || a.DeliveryID != "3a6a339c-60fc-5718-875e-66cf50fbf89a" || a.IncidentKey() != "4103f4db52e91edf" {
				t.Errorf("via %q delivery %q key %q", a.Via, a.DeliveryID, a.IncidentKey())
			}
		}},
	"odd/alerta-sns-http-subscription-confirmation.json":     {Kind: KindSNSEnvelope, Recs: []string{"ignored:SNS SubscriptionConfirmation"}},
	"odd/aws-to-slack-autoscaling-test-notification.json":    {Err: notAShape, Msg: `err:not an alarm message: JSON message is not a CloudWatch alarm: "AWS Auto Scaling" event "autoscaling:TEST_NOTIFICATION"`},
	"odd/eventbridge-config-change-delete-metric-math.json":  {Kind: KindEventBridge, Recs: []string{`ignored:EventBridge "CloudWatch Alarm Configuration Change"`}},
	"odd/lambda-cw-slack-sns-autoscaling-terminate.json":     {Kind: KindSNS, Recs: []string{`ignored:not a CloudWatch alarm: "AWS Auto Scaling" event "autoscaling:EC2_INSTANCE_TERMINATE"`}},
	"odd/lambda-cw-slack-sns-beanstalk-null-attributes.json": {Kind: KindSNS, Recs: []string{"ignored:message is not JSON"}},
	"odd/lambda-cw-slack-sns-elasticache-null-subject.json":  {Kind: KindSNS, Recs: []string{`ignored:not a CloudWatch alarm: keys "ElastiCache:ElasticacheEvent"`}},
	"odd/lambda-go-sns-non-json-hello.json":                  {Kind: KindSNS, Recs: []string{`ignored:message is not JSON (15 bytes of text), not a CloudWatch alarm (subject "TestInvoke")`}},
	"odd/notify-slack-sns-aws-backup-multi-record.json": {Kind: KindSNS, Recs: []string{
		"ignored:message is not JSON", "ignored:message is not JSON", "ignored:message is not JSON", "ignored:message is not JSON"}},
	"odd/notify-slack-sns-dms-json-message.json": {Kind: KindSNS, Recs: []string{`ignored:not a CloudWatch alarm: keys "Event ID", "Event Message"`}},
	"odd/powertools-lambda-alarm-action-composite.json": {Kind: KindAlarmAction, Recs: []string{"ALARM"},
		Check: func(t *testing.T, recs []Record) {
			a := recs[0].Alarm
			if a.Name != "CompositeDemo.Main" || !strings.HasSuffix(a.ARN, ":SuppressionDemo.Main") || !a.Composite || a.PreviousState != "ALARM" {
				t.Errorf("name %q arn %q composite %v prev %q", a.Name, a.ARN, a.Composite, a.PreviousState)
			}
		}},
	"odd/powertools-lambda-alarm-action-metric-math.json": {Kind: KindAlarmAction, Recs: []string{"ALARM"},
		Check: func(t *testing.T, recs []Record) {
			// accountId says 123456789012, the ARN 912397435824: the ARN wins. Empty dimension objects.
			if a := recs[0].Alarm; a.AccountID != "912397435824" || len(a.Dimensions) != 0 {
				t.Errorf("account %q dims %v", a.AccountID, a.Dimensions)
			}
		}},
	"odd/realworld-sns-aws-budgets-plaintext.json":                    {Kind: KindSNS, Recs: []string{`ignored:message is not JSON (545 bytes of text), not a CloudWatch alarm (subject "AWS Budgets: teste`}},
	"odd/rust-fixture-eventbridge-detailtype-with-alarmData.json":     {Kind: KindEventBridge, Err: "EventBridge alarm state change has no detail (it has alarmData"},
	"odd/rust-fixture-lambda-action-composite-spaced-timestamps.json": {Kind: KindAlarmAction, Err: `alarmData.state.timestamp "2023-08-04T12: 56: 46.138+0000" is not a time`},
	"odd/sns-docs-http-subscription-confirmation.json":                {Kind: KindSNSEnvelope, Recs: []string{"ignored:SNS SubscriptionConfirmation"}},
	"odd/sns-docs-http-unsubscribe-confirmation.json":                 {Kind: KindSNSEnvelope, Recs: []string{"ignored:SNS UnsubscribeConfirmation"}},

	"sns_alarm/lambda-cw-slack-rds-null-description.json": {Kind: KindSNS, Recs: []string{"ALARM"},
		Check: func(t *testing.T, recs []Record) {
			if v, _ := recs[0].Alarm.Dimension("DBInstanceIdentifier"); v != "app" {
				t.Errorf("DBInstanceIdentifier = %q", v)
			}
		}},
	"sns_alarm/lambda-go-metric-math-ec2.json": {Kind: KindSNS, Recs: []string{"ALARM"},
		Check: func(t *testing.T, recs []Record) {
			// Placeholder ARN "arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE": no region code.
			if a := recs[0].Alarm; a.Region != "" || a.RegionName != "EXAMPLE" || !slices.Equal(a.Dimensions, []Dimension{{"InstanceId", "TestInstance"}}) {
				t.Errorf("region %q/%q dims %v", a.Region, a.RegionName, a.Dimensions)
			}
		}},
	"sns_alarm/lambda-go-single-metric-ec2-networkout.json":  {Kind: KindSNS, Recs: []string{"ALARM"}},
	"sns_alarm/notify-slack-ok-custom-metric-null-unit.json": {Kind: KindSNS, Recs: []string{"OK"}},
	"sns_alarm/realworld-anomaly-band-alb-p90-ok.json": {Kind: KindSNS, Recs: []string{"OK"},
		Check: func(t *testing.T, recs []Record) {
			if v, _ := recs[0].Alarm.Dimension("LoadBalancer"); v != "app/lb-dev/699cf0a8ae9d6530" {
				t.Errorf("LoadBalancer = %q", v)
			}
		}},
	"sns_alarm/realworld-lambda-invocations-insufficient-to-alarm-arn-mismatch.json": {Kind: KindSNS, Recs: []string{"ALARM"},
		Check: func(t *testing.T, recs []Record) {
			// The ARN names alarm "test", AlarmName another: Name is AlarmName, the ARN is kept as sent.
			if a := recs[0].Alarm; a.Name != "alarm-uatezapp-appraiser-main-web" || !strings.HasSuffix(a.ARN, ":alarm:test") {
				t.Errorf("name %q arn %q", a.Name, a.ARN)
			}
		}},
	"sns_alarm/ts-japanese-description-no-trigger.json": {Kind: KindSNS, Recs: []string{"ALARM"},
		Check: func(t *testing.T, recs []Record) {
			if a := recs[0].Alarm; a.PreviousState != "" || a.Region != "ap-northeast-1" {
				t.Errorf("prev %q region %q", a.PreviousState, a.Region)
			}
		}},

	"unparseable/docs-update-stage-promote-canary-elided.json.txt": {Err: "payload is not JSON: invalid JSON at byte"},
	"unparseable/docs-update-stage-remove-canary-elided.json.txt":  {Err: "payload is not JSON: invalid JSON at byte"},
}

// samplesDir is the shared samples folder beside the repository: ../shared/samples from the root.
func samplesDir(t *testing.T) string {
	dir := filepath.Join(repoRoot(t), "..", "shared", "samples")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared samples folder %s is missing (CI=true): %v", dir, err)
		}
		t.Skipf("shared samples folder %s is missing: %v", dir, err)
	}
	return dir
}

func TestSharedSamples(t *testing.T) {
	dir := samplesDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || filepath.Base(p) == "SOURCES.md" {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range sampleTable {
		if !slices.Contains(files, rel) {
			t.Errorf("%s is in sampleTable but not in %s", rel, dir)
		}
	}
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			want, ok := sampleTable[rel]
			if !ok {
				t.Fatalf("no expectation for shared sample %s: read SOURCES.md and add it to sampleTable", rel)
			}
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(rel, "unparseable/") && want.Err == "" {
				t.Fatal("unparseable samples must expect an error")
			}
			kind, recs, err := Decode(b)
			checkInvariants(t, recs, err)
			if kind != want.Kind {
				t.Errorf("kind = %q, want %q", kind, want.Kind)
			}
			if want.Err != "" {
				if err == nil {
					t.Fatalf("no error, want %q; records %+v", want.Err, recs)
				}
				checkErr(t, err, want.Err)
			} else {
				if err != nil {
					t.Fatalf("error: %v", err)
				}
				if len(recs) != len(want.Recs) {
					t.Fatalf("%d records, want %d: %+v", len(recs), len(want.Recs), recs)
				}
				for i, w := range want.Recs {
					checkSampleRecord(t, recs[i], w)
				}
				if want.Check != nil && !t.Failed() {
					want.Check(t, recs)
				}
			}
			if want.Msg != "" {
				a, err := DecodeAlarmMessage(b)
				checkInvariants(t, nil, err)
				if msgErr, isErr := strings.CutPrefix(want.Msg, "err:"); isErr {
					if err == nil {
						t.Fatalf("DecodeAlarmMessage: no error, want %q (alarm %+v)", msgErr, a)
					}
					checkErr(t, err, msgErr)
				} else if err != nil || string(a.State) != want.Msg || a.Via != ViaAlarmMessage {
					t.Errorf("DecodeAlarmMessage: state %q via %q err %v, want %s", a.State, a.Via, err, want.Msg)
				}
			}
		})
	}
}

func checkSampleRecord(t *testing.T, r Record, w string) {
	t.Helper()
	kind, arg, _ := strings.Cut(w, ":")
	switch kind {
	case "ignored":
		if !strings.Contains(r.Ignored, arg) {
			t.Errorf("%s: Ignored %q, want it to contain %q (record %+v)", r.Source, r.Ignored, arg, r)
		}
	case "err":
		if r.Err == nil {
			t.Fatalf("%s: no Err, want %q (record %+v)", r.Source, arg, r)
		}
		checkErr(t, r.Err, arg)
	case "schedule":
		if !r.Schedule {
			t.Errorf("%s: not a schedule tick: %+v", r.Source, r)
		}
	default:
		if r.Alarm == nil {
			t.Fatalf("%s: no alarm (want %s): %+v", r.Source, w, r)
		}
		if string(r.Alarm.State) != w {
			t.Errorf("%s: state %q, want %q", r.Source, r.Alarm.State, w)
		}
	}
}

// checkInvariants holds for every payload: errors wrap ErrBadInput and stay short, alarms have a
// name, a valid state and a time, and every record has exactly one outcome.
func checkInvariants(t testing.TB, recs []Record, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrBadInput) {
			t.Errorf("error %v does not wrap ErrBadInput", err)
		}
		if len(err.Error()) > 1024 {
			t.Errorf("error text is %d bytes", len(err.Error()))
		}
		if recs != nil {
			t.Errorf("records with an error: %+v", recs)
		}
	}
	for _, r := range recs {
		n := 0
		for _, set := range []bool{r.Alarm != nil, r.Command != nil, r.Schedule, r.Ignored != "", r.Err != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Errorf("record %q has %d outcomes: %+v", r.Source, n, r)
		}
		if r.Source == "" {
			t.Errorf("record without Source: %+v", r)
		}
		if r.Err != nil && (!errors.Is(r.Err, ErrBadInput) || len(r.Err.Error()) > 1024) {
			t.Errorf("record error %q: not ErrBadInput or too long", r.Err)
		}
		if a := r.Alarm; a != nil {
			if a.Name == "" || a.StateChangeTime.IsZero() || !a.State.Valid() ||
				(a.PreviousState != "" && !a.PreviousState.Valid()) || a.Via == "" {
				t.Errorf("invalid alarm: %+v", a)
			}
		}
	}
}
