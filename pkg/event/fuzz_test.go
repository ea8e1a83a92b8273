package event

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// seedFixtures adds every testdata/events file, and each SNS record's Message, to a fuzz corpus.
func seedFixtures(f *testing.F, messages bool) {
	files, err := filepath.Glob(filepath.Join(fixturesDir(f), "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		if !messages {
			continue
		}
		var ev struct {
			Records []struct{ Sns struct{ Message string } }
		}
		if json.Unmarshal(b, &ev) == nil {
			for _, r := range ev.Records {
				f.Add([]byte(r.Sns.Message))
			}
		}
	}
	for _, s := range []string{``, `null`, `{}`, `[]`, `{"Records":[]}`, `{"action":"status"}`, `{"AlarmName":"a","NewStateValue":"ALARM"}`} {
		f.Add([]byte(s))
	}
}

// checkFuzzError: nil, or ErrBadInput with at most 1 KB of text.
func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, ErrBadInput) {
		t.Fatalf("error %v does not wrap ErrBadInput", err)
	}
	if len(err.Error()) > 1024 {
		t.Fatalf("error text is %d bytes", len(err.Error()))
	}
}

func checkFuzzAlarm(t *testing.T, a Alarm) {
	t.Helper()
	if a.Name == "" || a.StateChangeTime.IsZero() || !a.State.Valid() || (a.PreviousState != "" && !a.PreviousState.Valid()) {
		t.Fatalf("invalid alarm without an error: %+v", a)
	}
	if len(a.IncidentKey()) != 16 {
		t.Fatalf("incident key %q", a.IncidentKey())
	}
	checkEvidenceInvariants(t, "fuzzed alarm", a)
}

func FuzzDecode(f *testing.F) {
	seedFixtures(f, false)
	f.Fuzz(func(t *testing.T, payload []byte) {
		kind, recs, err := Decode(payload)
		checkFuzzError(t, err)
		if err != nil {
			if recs != nil {
				t.Fatalf("records with an error: %+v", recs)
			}
			return
		}
		if kind == "" || len(recs) == 0 {
			t.Fatalf("kind %q with %d records and no error", kind, len(recs))
		}
		for _, r := range recs {
			n := 0
			for _, set := range []bool{r.Alarm != nil, r.Command != nil, r.Schedule, r.Ignored != "", r.Err != nil} {
				if set {
					n++
				}
			}
			if n != 1 || r.Source == "" {
				t.Fatalf("record with %d outcomes or no source: %+v", n, r)
			}
			checkFuzzError(t, r.Err)
			if r.Alarm != nil {
				checkFuzzAlarm(t, *r.Alarm)
			}
			if r.Command != nil {
				if err := r.Command.Validate(); err != nil {
					t.Fatalf("decoded command does not validate: %v", err)
				}
			}
		}
	})
}

func FuzzDecodeAlarmMessage(f *testing.F) {
	seedFixtures(f, true)
	f.Fuzz(func(t *testing.T, msg []byte) {
		a, err := DecodeAlarmMessage(msg)
		checkFuzzError(t, err)
		if err == nil {
			checkFuzzAlarm(t, a)
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	seedFixtures(f, false)
	for _, s := range []string{`{"action":"deploy","deploymentId":"abc","target":"a/b","dryRun":true,"force":false,"reason":"r"}`,
		`{"action":"rollback","reason":"\u202e"}`, `{"action":"status","action":"status"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := DecodeCommand(payload)
		checkFuzzError(t, err)
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("decoded command does not validate: %v", err)
			}
			// A decoded command re-encodes to a payload that decodes to the same command.
			b, _ := json.Marshal(c)
			c2, err := DecodeCommand(b)
			if err != nil || !sameCommand(c, c2) {
				t.Fatalf("round trip: %+v → %s → %+v, %v", c, b, c2, err)
			}
		}
	})
}

func sameCommand(a, b Command) bool {
	return a.Action == b.Action && a.Target == b.Target && a.DeploymentID == b.DeploymentID && a.Force == b.Force &&
		a.Reason == b.Reason && (a.DryRun == nil) == (b.DryRun == nil) && (a.DryRun == nil || *a.DryRun == *b.DryRun)
}

// FuzzDecodeEventBridge fuzzes the detail of an alarm state change and the alarmData of an alarm
// action, the two objects this package defines types for.
func FuzzDecodeEventBridge(f *testing.F) {
	for _, name := range []string{"eventbridge-apigw-5xx-alarm.json", "eventbridge-apigw-latency-p99.json", "alarm-action-apigw-5xx.json"} {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(readFixture(f, name), &top); err != nil {
			f.Fatal(err)
		}
		if d, ok := top["detail"]; ok {
			f.Add([]byte(d))
		}
		if d, ok := top["alarmData"]; ok {
			f.Add([]byte(d))
		}
	}
	f.Add([]byte(`{"alarmName":"a","state":{"value":"ALARM","timestamp":"2026-03-14T09:26:53Z"},"configuration":{"alarmRule":"ALARM(x)"}}`))
	f.Fuzz(func(t *testing.T, detail []byte) {
		if !json.Valid(detail) {
			return
		}
		payloads := [][]byte{
			[]byte(`{"version":"0","id":"i","detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch","account":"123456789012","region":"us-east-1","resources":["arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"],"detail":` + string(detail) + `}`),
			[]byte(`{"source":"aws.cloudwatch","alarmArn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:a","accountId":"123456789012","region":"us-east-1","alarmData":` + string(detail) + `}`),
		}
		for _, p := range payloads {
			_, recs, err := Decode(p)
			checkFuzzError(t, err)
			if err != nil {
				continue
			}
			if len(recs) != 1 || recs[0].Alarm == nil {
				t.Fatalf("want one alarm, got %+v", recs)
			}
			checkFuzzAlarm(t, *recs[0].Alarm)
		}
	})
}
