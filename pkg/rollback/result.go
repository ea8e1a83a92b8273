package rollback

import (
	"encoding/json"
)

// Outcome is what happened, in every answer, log line and notification.
type Outcome string

const (
	OutcomeRolledBack Outcome = "rolled-back"
	OutcomeDeployed   Outcome = "deployed"
	OutcomePlanned    Outcome = "planned" // dry run: the plan, nothing written
	OutcomeSkipped    Outcome = "skipped" // nothing to change
	OutcomeIgnored    Outcome = "ignored" // not for Rewind, or not for an allowed target
	OutcomeFailed     Outcome = "failed"  // could not decide or write; the invocation fails
	OutcomeOK         Outcome = "ok"      // status answered
)

// Result is the one shape of an answer: what the manual command returns, what is logged and notified.
type Result struct {
	Action     Action  `json:"action"`
	Target     string  `json:"target"`
	Outcome    Outcome `json:"outcome"`
	Code       Code    `json:"code"`
	From       string  `json:"from"`
	To         string  `json:"to"`
	Reason     string  `json:"reason"`
	Rule       Rule    `json:"rule,omitempty"`
	DryRun     bool    `json:"dryRun"`
	Source     string  `json:"source,omitempty"`
	Alarm      string  `json:"alarm,omitempty"`
	AlarmState string  `json:"alarmState,omitempty"`
	Incident   string  `json:"incident,omitempty"`
	Strategy   string  `json:"strategy,omitempty"`
	DurationMS float64 `json:"durationMs"`
	// Status is set for "status" answers only, Readiness for "check" answers only.
	Status    *Status    `json:"-"`
	Readiness *Readiness `json:"-"`
	// Quiet marks a result already reported: a dry run's plan decided again unchanged (the schedule,
	// a repeated delivery) is answered and logged, not notified again.
	Quiet bool `json:"-"`
	// Recovery is set when an alarm's return to OK closed a rollback Rewind made.
	Recovery *RecoveryReport `json:"recovery,omitempty"`
}

// Status is the answer to "status": what is live and what history and memory say.
type Status struct {
	Current      string           `json:"current"`
	Canary       *Canary          `json:"canary"`
	Deployments  []DeploymentView `json:"deployments"`
	LastRollback *Change          `json:"lastRollback"`
	KnownBad     []string         `json:"knownBad"`
	Timeline     []TimelineView   `json:"timeline"`           // newest first
	Progress     string           `json:"progress,omitempty"` // State.Progress, e.g. CloudFront's InProgress/Deployed
	Audit        []Entry          `json:"audit"`              // the newest AuditShown entries of the audit log, newest first
}

// TimelineView is one sighting in a status answer.
type TimelineView struct {
	Sighting
	Bad bool `json:"bad"`
}

// DeploymentView is one history entry in a status answer, newest first.
type DeploymentView struct {
	Deployment
	Live bool `json:"live"`
	Bad  bool `json:"bad"`
}

// MarshalJSON flattens Status (or Readiness) into the answer so "status" (or "check") reads as one
// object.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	switch {
	case r.Status != nil:
		return json.Marshal(struct {
			plain
			*Status
		}{plain(r), r.Status})
	case r.Readiness != nil:
		return json.Marshal(struct {
			plain
			*Readiness
		}{plain(r), r.Readiness})
	}
	return json.Marshal(plain(r))
}

// Failed reports whether the result must fail the invocation (so Lambda retries it and then keeps the
// event in the on-failure destination): a failure, or a switch that landed but is not yet recorded
// (the retry records it).
func (r Result) Failed() bool { return r.Outcome == OutcomeFailed || r.Code == CodeUnrecorded }
