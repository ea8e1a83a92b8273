// Package notify publishes one message per decision to an SNS topic, readable where on-call reads it:
// in Slack or Microsoft Teams through AWS Chatbot (Amazon Q Developer in chat applications), which
// renders it as a custom notification, and in e-mail as plain text. The JSON result rides along as
// the message attribute rewind.result, for machines. Every message says the account and region it was
// decided in (origin.go), and may go to a second topic too, an organization's central one, the same
// message at the same time (SNS.Also).
//
// # The wire
//
// One Publish per decision, with MessageStructure "json": Message is then a JSON object whose
// "default" member is what every protocol without a member of its own receives, and whose other
// top-level members ("email", "sqs", "http", ...) are per-protocol messages (SNS Publish,
// MessageStructure: "Set MessageStructure to json if you want to send a different message for each
// protocol ... the value of the Message parameter must be a syntactically valid JSON object; and
// contain at least a top-level JSON key of "default" with a value that is a string. You can define
// other top-level keys that define the message you want to send to a specific transport protocol",
// https://docs.aws.amazon.com/sns/latest/api/API_Publish.html). Rewind sends
//
//	{"default": <the Chatbot custom notification, as a JSON string>, "email": <the plain text>}
//
// so an e-mail subscriber reads the text, and everything else, AWS Chatbot's subscription among them,
// receives the custom notification. Chatbot's subscription is therefore reached whichever protocol
// it uses; that it is an HTTPS subscription (to an AWS-owned endpoint) is how it shows in the topic's
// subscriptions, not something read in AWS's documentation here (unverified), and no "https" member
// is sent, so it does not matter. An SQS or HTTP(S) subscriber (and "email-json") gets the custom
// notification, which is JSON and carries everything the text does.
//
// The Subject (what e-mail shows as the subject; Chatbot does not need it) stays at most 100
// printable ASCII characters, as SNS requires of a subject.
//
// # The custom notification
//
// The shape is AWS Chatbot's custom notification event (Custom notifications using Amazon Q Developer
// in chat applications, https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html):
//
//	{"version": "1.0", "source": "custom", "id": ...,
//	 "content": {"textType": "client-markdown", "title", "description", "nextSteps": [...], "keywords": [...]},
//	 "metadata": {"threadId", "summary", "eventType", "relatedResources": [...], "additionalContext": {...}}}
//
// Verified on that page: the members and their JSON types above; version is required and must be
// "1.0"; source is required and must be "custom"; id, textType and title are optional; only
// "client-markdown" is supported as textType (Chatbot renders it in the chat platform's markdown);
// title supports markdown; notifications with the same threadId are grouped in one thread when the
// channel's preferences allow threads. Not read there (the stored copy stops before the rest of the
// parameter table): whether content and description are required, and any length limits. Rewind
// always sends both, and keeps every field short. testdata/notify/chatbot-custom-notification.schema.json
// is the schema the tests hold every message to, written from that page.
//
// What Rewind puts in it: threadId is the incident key (the alarm's state change that caused the
// decision), else the target, so an incident is one thread and its "recovered" closes it; eventType
// is "rewind-<outcome>" (letters, digits and "-", the alphabet a custom action's NotificationType
// takes, should buttons be attached to it later); nextSteps are the commands that undo the change or
// show the status, as typed in the channel ("@aws lambda invoke --function-name ... --payload {...}":
// AWS Chatbot's CLI-style commands; the exact chat syntax is not verified against AWS's pages here);
// additionalContext holds the result's fields as strings.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/rewind-sre/rewind/pkg/rollback"
)

// API is the part of the SNS client the notifier uses.
type API interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ API = (*sns.Client)(nil)

// AttributeResult is the message attribute holding the JSON result.
const AttributeResult = "rewind.result"

// AttributeRecovery is the message attribute of a "recovered" message, holding the Recovery as JSON.
const AttributeRecovery = "rewind.recovery"

// MessageStructure is the Publish MessageStructure that makes Message a per-protocol JSON object.
const MessageStructure = "json"

// The custom notification's fixed values.
const (
	Version  = "1.0"
	Source   = "custom"
	TextType = "client-markdown"
)

// Message is the Publish Message of one notification: {"default": the custom notification as JSON,
// "email": the plain text}.
func Message(chat Notification, email string) (string, error) {
	c, err := encode(chat)
	if err != nil {
		return "", fmt.Errorf("encode the chat notification: %w", err)
	}
	m, err := encode(map[string]string{"default": c, "email": email})
	if err != nil {
		return "", fmt.Errorf("encode the message: %w", err)
	}
	return m, nil
}

// encode is json.Marshal without HTML escaping (the text is read by people, not put in a page).
func encode(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// Notification is one AWS Chatbot custom notification.
type Notification struct {
	Version  string   `json:"version"`
	Source   string   `json:"source"`
	ID       string   `json:"id,omitempty"`
	Content  Content  `json:"content"`
	Metadata Metadata `json:"metadata"`
}

// Content is what the channel shows.
type Content struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

// Metadata threads and labels the notification.
type Metadata struct {
	ThreadID          string            `json:"threadId"`
	Summary           string            `json:"summary"`
	EventType         string            `json:"eventType"`
	RelatedResources  []string          `json:"relatedResources,omitempty"`
	AdditionalContext map[string]string `json:"additionalContext,omitempty"`
}

// Bounds on what a notification carries, so an untrusted alarm name or a long reason cannot make a
// message Chatbot or SNS refuses.
const (
	maxField       = 512  // one value inside the description, a next step's argument, a context value
	maxDescription = 3000 // the whole description
)

// Thread is the thread of a decision: its incident key, else its target, else "rewind".
func Thread(incident, target string) string {
	switch {
	case incident != "":
		return incident
	case target != "":
		return target
	}
	return "rewind"
}

// EventType is a notification's eventType: "rewind-" and what happened.
func EventType(what string) string { return "rewind-" + what }

// Chat is the custom notification of one decision.
func Chat(r rollback.Result, function string) Notification {
	var d strings.Builder
	fmt.Fprintf(&d, "What: %s (%s)", r.Outcome, r.Action)
	if r.Code != "" {
		fmt.Fprintf(&d, ", code %s", code(string(r.Code)))
	}
	fmt.Fprintf(&d, "\nWhere: %s", code(orUnknown(r.Target)))
	if r.From != "" || r.To != "" {
		fmt.Fprintf(&d, "\nChange: %s → %s", code(orUnknown(r.From)), code(orUnknown(r.To)))
	}
	if r.Alarm != "" {
		fmt.Fprintf(&d, "\nAlarm: %s (%s)", code(r.Alarm), line(r.AlarmState))
	}
	fmt.Fprintf(&d, "\nWhy: %s", line(r.Reason))
	if r.DryRun {
		d.WriteString("\nDry run: nothing was changed.")
	}
	keywords := []string{string(r.Outcome)}
	if r.Code != "" && string(r.Code) != string(r.Outcome) {
		keywords = append(keywords, string(r.Code))
	}
	if r.DryRun {
		keywords = append(keywords, "dry-run")
	}
	return Notification{
		Version: Version, Source: Source,
		Content: Content{TextType: TextType, Title: Subject(r), Description: bound(d.String(), maxDescription),
			NextSteps: nextSteps(r, function), Keywords: keywords},
		Metadata: Metadata{
			ThreadID:          Thread(r.Incident, r.Target),
			Summary:           ascii(fmt.Sprintf("%s: %s", orUnknown(r.Target), r.Outcome), 100),
			EventType:         EventType(string(r.Outcome)),
			RelatedResources:  nonEmpty(r.Target, r.Alarm),
			AdditionalContext: additional(r, function),
		},
	}
}

// nextSteps are the commands to type in the channel: undo a change, or look at the target.
func nextSteps(r rollback.Result, function string) []string {
	fn := orFunction(function)
	status := fmt.Sprintf("See what is live: %s", code(fmt.Sprintf(`@aws lambda invoke --function-name %s --payload {"action":"status","target":%s}`,
		fn, jsonString(r.Target))))
	switch r.Outcome {
	case rollback.OutcomeRolledBack, rollback.OutcomeDeployed:
		return []string{
			fmt.Sprintf("Undo, back to %s: %s", code(r.From), code(fmt.Sprintf(`@aws lambda invoke --function-name %s --payload {"action":"deploy","target":%s,"deploymentId":%s,"force":true,"reason":"undo"}`,
				fn, jsonString(r.Target), jsonString(r.From)))),
			status,
		}
	case rollback.OutcomePlanned:
		return []string{status, "Nothing was changed: this was a dry run."}
	case rollback.OutcomeFailed:
		return []string{status, "A human must look: Rewind did not finish this decision (why is above)."}
	}
	return nil
}

func additional(r rollback.Result, function string) map[string]string {
	m := map[string]string{
		"action": string(r.Action), "outcome": string(r.Outcome), "code": string(r.Code),
		"target": r.Target, "from": r.From, "to": r.To, "rule": string(r.Rule), "alarm": r.Alarm,
		"alarmState": r.AlarmState, "incident": r.Incident, "source": r.Source, "function": function,
		"dryRun": fmt.Sprint(r.DryRun),
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = bound(v, maxField)
		}
	}
	return m
}

// Recovery is the end of an incident: the alarm that made Rewind roll the target back is OK again.
type Recovery struct {
	Target string `json:"target"`
	// Incident is the incident key of the alarm's transition to ALARM that caused the rollback: the
	// thread the decision was posted in.
	Incident string `json:"incident"`
	Alarm    string `json:"alarm,omitempty"`
	// OnBadDeployment is how long users were on the bad deployment: from it going live to the rollback.
	OnBadDeployment time.Duration `json:"onBadDeploymentMs"`
	// UntilClear is how long after the rollback the alarm returned to OK.
	UntilClear time.Duration `json:"untilClearMs"`
}

// MarshalJSON writes the durations in milliseconds, as the field names say.
func (rec Recovery) MarshalJSON() ([]byte, error) {
	type plain Recovery
	return json.Marshal(struct {
		plain
		OnBadDeployment int64 `json:"onBadDeploymentMs"`
		UntilClear      int64 `json:"untilClearMs"`
	}{plain(rec), rec.OnBadDeployment.Milliseconds(), rec.UntilClear.Milliseconds()})
}

// RecoveredSubject is the subject line of a "recovered" message.
func RecoveredSubject(rec Recovery) string {
	return ascii(fmt.Sprintf("Rewind: %s recovered", orUnknown(rec.Target)), 100)
}

// Recovered is the custom notification that closes an incident's thread.
func Recovered(rec Recovery, function string) Notification {
	var d strings.Builder
	fmt.Fprintf(&d, "What: recovered\nWhere: %s", code(orUnknown(rec.Target)))
	if rec.Alarm != "" {
		fmt.Fprintf(&d, "\nAlarm: %s (OK)", code(rec.Alarm))
	}
	fmt.Fprintf(&d, "\nUsers were on the bad deployment for %s; the alarm cleared %s after the rollback.",
		span(rec.OnBadDeployment), span(rec.UntilClear))
	ctx := map[string]string{"outcome": "recovered", "target": rec.Target, "incident": rec.Incident, "alarm": rec.Alarm,
		"onBadDeploymentMs": fmt.Sprint(rec.OnBadDeployment.Milliseconds()), "untilClearMs": fmt.Sprint(rec.UntilClear.Milliseconds()),
		"function": function}
	for k, v := range ctx {
		if v == "" {
			delete(ctx, k)
		} else {
			ctx[k] = bound(v, maxField)
		}
	}
	return Notification{
		Version: Version, Source: Source,
		Content: Content{TextType: TextType, Title: RecoveredSubject(rec), Description: bound(d.String(), maxDescription),
			Keywords: []string{"recovered"}},
		Metadata: Metadata{
			ThreadID:          Thread(rec.Incident, rec.Target),
			Summary:           ascii(fmt.Sprintf("%s: recovered", orUnknown(rec.Target)), 100),
			EventType:         EventType("recovered"),
			RelatedResources:  nonEmpty(rec.Target, rec.Alarm),
			AdditionalContext: ctx,
		},
	}
}

// RecoveredText is the e-mail text of a "recovered" message.
func RecoveredText(rec Recovery) string {
	var b strings.Builder
	fmt.Fprintf(&b, "What:   recovered\nWhere:  %s\n", orUnknown(rec.Target))
	if rec.Alarm != "" {
		fmt.Fprintf(&b, "Alarm:  %s (OK)\n", rec.Alarm)
	}
	fmt.Fprintf(&b, "Users were on the bad deployment for %s; the alarm cleared %s after the rollback.\n",
		span(rec.OnBadDeployment), span(rec.UntilClear))
	if rec.Incident != "" {
		fmt.Fprintf(&b, "Incident: %s\n", rec.Incident)
	}
	return b.String()
}

// span writes a duration to the second (to the millisecond under a second).
func span(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// Subject is one line of at most 100 ASCII characters, as SNS requires.
func Subject(r rollback.Result) string {
	var s string
	switch r.Outcome {
	case rollback.OutcomeRolledBack:
		s = fmt.Sprintf("Rewind rolled back %s: %s -> %s", r.Target, r.From, r.To)
	case rollback.OutcomeDeployed:
		s = fmt.Sprintf("Rewind deployed %s: %s -> %s", r.Target, r.From, r.To)
	case rollback.OutcomePlanned:
		s = fmt.Sprintf("Rewind dry run on %s: would go %s -> %s", r.Target, r.From, r.To)
	case rollback.OutcomeFailed:
		s = fmt.Sprintf("Rewind FAILED on %s: a human must look", orUnknown(r.Target))
	default:
		s = fmt.Sprintf("Rewind %s on %s", r.Outcome, orUnknown(r.Target))
	}
	return ascii(s, 100)
}

// Text is the human message: what, where, from -> to, why, and how to undo.
func Text(r rollback.Result, function string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "What:   %s (%s)\n", r.Outcome, r.Action)
	fmt.Fprintf(&b, "Where:  %s\n", orUnknown(r.Target))
	if r.From != "" || r.To != "" {
		fmt.Fprintf(&b, "Change: %s -> %s\n", orUnknown(r.From), orUnknown(r.To))
	}
	if r.Alarm != "" {
		fmt.Fprintf(&b, "Alarm:  %s (%s)\n", r.Alarm, r.AlarmState)
	}
	fmt.Fprintf(&b, "Why:    %s\n", r.Reason)
	if r.DryRun {
		b.WriteString("Dry run: nothing was changed.\n")
	}
	fn := orFunction(function)
	switch r.Outcome {
	case rollback.OutcomeRolledBack, rollback.OutcomeDeployed:
		fmt.Fprintf(&b, "\nUndo:   aws lambda invoke --function-name %s --cli-binary-format raw-in-base64-out --payload '{\"action\":\"deploy\",\"target\":\"%s\",\"deploymentId\":\"%s\",\"force\":true,\"reason\":\"undo\"}' /dev/stdout\n", fn, r.Target, r.From)
	case rollback.OutcomeFailed, rollback.OutcomePlanned:
		fmt.Fprintf(&b, "\nStatus: aws lambda invoke --function-name %s --cli-binary-format raw-in-base64-out --payload '{\"action\":\"status\",\"target\":\"%s\"}' /dev/stdout\n", fn, r.Target)
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

func orFunction(fn string) string {
	if fn == "" {
		return "<rewind function>"
	}
	return fn
}

// ascii keeps printable ASCII (SNS subjects allow nothing else) and bounds the length.
func ascii(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// line is untrusted text made one bounded line: control characters (newlines among them) become spaces.
func line(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return bound(s, maxField)
}

// code is s as a markdown code span: one line, and no backtick that would end the span early.
func code(s string) string { return "`" + strings.ReplaceAll(line(s), "`", "'") + "`" }

// jsonString is s as a JSON string, for a command's payload.
func jsonString(s string) string {
	b, _ := json.Marshal(bound(s, maxField)) // a string always encodes
	return string(b)
}

// bound cuts s to at most max bytes, on a rune boundary, marking the cut with "…".
func bound(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, bound(s, maxField))
		}
	}
	return out
}
