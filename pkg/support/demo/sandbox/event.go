package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rewind-sre/rewind/pkg/support/demo/cloudwatch"
	"github.com/rewind-sre/rewind/pkg/support/demo/rie"
)

// FreshAlarm, as the event, sends a CloudWatch alarm built now: luna-api/service's 5XXError going to
// ALARM in the sandbox's own account, as SNS delivers it.
const FreshAlarm = "alarm"

// AlarmName is the fresh alarm's name.
const AlarmName = APIName + "-5xx"

// EventOptions configure SendEvent.
type EventOptions struct {
	Event      string    // FreshAlarm, a file, or the name of one in testdata/events (with or without .json)
	Endpoint   string    // the sandbox's invoke endpoint; "" is DefaultEndpoint()
	ModuleRoot string    // "" finds it from the working directory
	Out        io.Writer // default os.Stdout
}

// ErrNoSandbox is what SendEvent's error is (errors.Is) when no sandbox answers at the endpoint.
var ErrNoSandbox = errors.New("no sandbox is running")

// SendEvent sends one event to a running sandbox and prints Rewind's answer: the JSON, then each
// result's outcome and reason in plain words, and why an ignored or refused one was.
func SendEvent(ctx context.Context, o EventOptions) error {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint()
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	p := func(format string, args ...any) { fmt.Fprintf(o.Out, format, args...) }
	root := o.ModuleRoot
	if root == "" {
		var err error
		if root, err = moduleRoot(); err != nil {
			return err
		}
	}
	name, payload, err := eventPayload(root, o.Event)
	if err != nil {
		return err
	}
	info, err := sandboxInfo(ctx, o.Endpoint)
	if err != nil {
		return err
	}

	p("sending %s (%d bytes) to Rewind in the sandbox, %s\n", name, len(payload), o.Endpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Endpoint+InvocationsPath, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("invoke %s: %w (the sandbox's log: %s)", o.Endpoint, err, info.LogFile)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("invoke %s: read the answer: %w", o.Endpoint, err)
	}
	took := time.Since(start)
	p("answer (HTTP %d in %s", resp.StatusCode, took.Round(time.Millisecond))
	if fe := resp.Header.Get("X-Amz-Function-Error"); fe != "" {
		p(", FunctionError %s", fe)
	}
	p("):\n%s\n", indentJSON(body))

	if resp.StatusCode != http.StatusOK {
		p("\nthe invocation did not run (HTTP %d); the emulator's and the bootstrap's output is in %s\n", resp.StatusCode, info.LogFile)
		return nil
	}
	if typ, msg, ok := functionError(body); ok {
		p("\nRewind failed the invocation: %s: %s\n", typ, msg)
		if typ == "Runtime.ExitError" {
			p("  the bootstrap's init failed: its output is in %s (tail -n 50 %s)\n", info.LogFile, info.LogFile)
		} else {
			p("  (on Lambda an asynchronous event that fails is retried, then kept by the on-failure destination)\n")
		}
		return nil
	}
	rs, err := decodeResults(body)
	if err != nil {
		p("\nthe answer is not one Rewind gives: %v\n", err)
		return nil
	}
	p("\n")
	for _, r := range rs {
		what := r.Target
		if what == "" {
			what = r.Source
		}
		if what == "" {
			what = "the event"
		}
		p("%s: %s", r.Outcome, what)
		if r.Code != "" {
			p(" (%s)", r.Code)
		}
		p("\n  %s\n", r.Reason)
		if h := hint(r, info); h != "" {
			p("  why: %s\n", h)
		}
	}
	return nil
}

// result is what SendEvent and the tests read of one of Rewind's results.
type result struct {
	Action  string `json:"action"`
	Target  string `json:"target"`
	Outcome string `json:"outcome"`
	Code    string `json:"code"`
	From    string `json:"from"`
	To      string `json:"to"`
	Reason  string `json:"reason"`
	DryRun  bool   `json:"dryRun"`
	Source  string `json:"source"`
	Alarm   string `json:"alarm"`
}

// decodeResults reads an answer: {"results": [...]} (events, observe), or one result (a command).
func decodeResults(body []byte) ([]result, error) {
	var a struct {
		Results []result `json:"results"`
		result
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if len(a.Results) > 0 {
		return a.Results, nil
	}
	if a.Outcome != "" {
		return []result{a.result}, nil
	}
	return nil, errors.New("neither results nor an outcome")
}

// hint says, for what Rewind refused or ignored, why in the sandbox and what to send instead.
func hint(r result, info Info) string {
	fresh := "a fresh alarm from the sandbox's own account: make sandbox-event EVENT=" + FreshAlarm
	switch r.Code {
	case "other-account":
		return fmt.Sprintf("the repository's samples carry account 123456789012 (AWS's example account); the sandbox's function runs in %s, "+
			"the emulator's fixed account, and Rewind acts only on alarms from its own account or ALLOWED_ACCOUNTS. Send %s", info.Account, fresh)
	case "stale":
		return "the alarm's StateChangeTime is before the target's last change, so it is about what was live before: Rewind ignores old " +
			"notifications (the samples' times are in the past). Send " + fresh
	case "no-target":
		return fmt.Sprintf("the alarm's dimensions name none of the sandbox's TARGETS (%s). Send %s", strings.Join(info.Targets, ", "), fresh)
	case "not-alarm-state":
		return "only a transition to ALARM rolls back; OK and INSUFFICIENT_DATA are recorded as ignored"
	case "not-for-rewind":
		return "it is neither an alarm nor a Rewind command (a subscription confirmation, another service's message)"
	case "other-region":
		return fmt.Sprintf("the alarm is from another region than the function's (%s)", info.Region)
	case "nothing-earlier":
		return fmt.Sprintf("the stage serves %s, its oldest deployment: release %s first (step 2, deploy, of what make sandbox printed)", LegacyID, LambdaID)
	case "still-serving":
		return fmt.Sprintf("the target still serves what Rewind's last rollback put there: release %s again (step 2) and send the alarm again", LambdaID)
	case "loop-guard":
		return "too many automatic rollbacks of this target within the hour: send the clear command (step 6), then try again"
	case "repeat":
		return "this incident (alarm and state change time) was handled already: a repeated delivery, as SNS may make"
	case "known-bad":
		return "the deployment is marked known bad since Rewind rolled back from it: clear (step 6) or add \"force\":true"
	}
	return ""
}

// sandboxInfo asks the endpoint what it is: a running sandbox, or ErrNoSandbox.
func sandboxInfo(ctx context.Context, endpoint string) (Info, error) {
	var info Info
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+InfoPath, nil)
	if err != nil {
		return info, fmt.Errorf("sandbox endpoint %q: %w", endpoint, err)
	}
	start := fmt.Sprintf("start one with `make sandbox` (in another terminal), or set %s to the endpoint a running one printed", EndpointEnv)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		why := err.Error()
		if errors.Is(err, syscall.ECONNREFUSED) {
			why = "connection refused"
		}
		return info, fmt.Errorf("%w at %s (%s): %s", ErrNoSandbox, endpoint, why, start)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &info) != nil || info.Sandbox != "rewind" {
		return info, fmt.Errorf("%w at %s: something answers there (HTTP %d), but not a Rewind sandbox: %s", ErrNoSandbox, endpoint, resp.StatusCode, start)
	}
	return info, nil
}

// eventPayload reads the event: FreshAlarm, a file, or a name in testdata/events.
func eventPayload(root, event string) (name string, payload []byte, err error) {
	event = strings.TrimSpace(event)
	if event == FreshAlarm {
		b, err := json.Marshal(freshAlarm(time.Now()))
		return "a fresh ALARM of " + AlarmName + " (" + APIName + "/" + StageName + " 5XXError, account " + rie.AccountID + ", now)", b, err
	}
	names, _ := sampleEvents(root)
	if event == "" {
		return "", nil, fmt.Errorf("EVENT is required: make sandbox-event EVENT=%s (a fresh alarm), or a file in testdata/events: %s",
			FreshAlarm, strings.Join(trimJSON(names), ", "))
	}
	dir := filepath.Join(root, "testdata", "events")
	for _, c := range []string{event, filepath.Join(root, event), filepath.Join(dir, event), filepath.Join(dir, event+".json")} {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			b, err := os.ReadFile(c)
			if err != nil {
				return "", nil, err
			}
			if rel, err := filepath.Rel(root, c); err == nil && !strings.HasPrefix(rel, "..") {
				c = rel
			}
			return c, b, nil
		}
	}
	return "", nil, fmt.Errorf("event %q: no such file, nor in testdata/events; want %s or one of: %s", event, FreshAlarm, strings.Join(trimJSON(names), ", "))
}

func trimJSON(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimSuffix(n, ".json")
	}
	return out
}

// freshAlarm is luna-api/service's 5XXError alarm going to ALARM at at, from the sandbox's account,
// as SNS delivers it to a subscribed function.
func freshAlarm(at time.Time) any {
	a := cloudwatch.Alarm{Name: AlarmName, Description: "5XX on " + APIName + "/" + StageName + ": Rewind rolls the stage back",
		AccountID: rie.AccountID, Region: rie.Region, Namespace: "AWS/ApiGateway", Metric: "5XXError",
		Dimensions: []cloudwatch.Dimension{{Name: "ApiName", Value: APIName}, {Name: "Stage", Value: StageName}},
		Period:     time.Minute, Threshold: 5, TopicARN: "arn:aws:sns:" + rie.Region + ":" + rie.AccountID + ":rewind-alarms",
		ConfigUpdated: at.Add(-24 * time.Hour)}
	c := cloudwatch.StateChange{Alarm: a, Old: cloudwatch.StateOK, New: cloudwatch.StateAlarm, At: at,
		Reason: fmt.Sprintf("Threshold Crossed: 1 datapoint [42.0 (%s)] was greater than or equal to the threshold (5.0).",
			at.UTC().Truncate(time.Minute).Format("02/01/06 15:04:05"))}
	return c.SNSEvent(cloudwatch.Delivery{MessageID: newID(), SubscriptionID: newID(), At: at})
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// indentJSON is b indented when it is JSON, else as it is.
func indentJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, bytes.TrimSpace(b), "", "  ") != nil {
		return string(b)
	}
	return buf.String()
}
