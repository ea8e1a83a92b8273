package rollback

// The closed sets Rewind speaks in. Each is a type, so a misspelt value is a compile error, and each
// value is what answers, logs and notifications carry.

// Action is what a decision is about: a manual command's "action", or the action an alarm or the
// schedule stands for.
type Action string

const (
	ActionStatus   Action = "status"   // answer what is live, the history and Rewind's memory
	ActionRollback Action = "rollback" // an alarm, or a human: go back to an earlier deployment
	ActionDeploy   Action = "deploy"   // switch to the deployment a human names
	ActionObserve  Action = "observe"  // record what is live (the schedule, or a human)
	ActionClear    Action = "clear"    // forget the known-bad marks and reset the loop guard
	ActionCheck    Action = "check"    // say whether the next alarm could roll the target back (never writes)
	ActionRecovery Action = "recovery" // an alarm's return to OK: recorded, and reported when it closes a rollback
	ActionNone     Action = "none"     // an input that was not for Rewind
)

// Actions are the actions a manual command may name, in documentation order.
var Actions = []Action{ActionStatus, ActionRollback, ActionDeploy, ActionObserve, ActionClear, ActionCheck}

// By says who asked for a decision.
type By string

const (
	ByAlarm    By = "alarm"    // a CloudWatch alarm's transition to ALARM
	ByManual   By = "manual"   // a human's command
	BySchedule By = "schedule" // the scheduled observe
)

// ChangeKind is the kind of change a plan makes.
type ChangeKind string

const (
	KindRollback       ChangeKind = "rollback"        // stage moved back to an earlier deployment
	KindCanaryRollback ChangeKind = "canary-rollback" // canary removed, all traffic back on the stage's deployment
	KindDeploy         ChangeKind = "deploy"          // stage moved to a deployment a human named
	KindRecord         ChangeKind = "record"          // only Rewind's memory changes (observe, clear)
)

// Rule says what chose where a plan goes.
type Rule string

const (
	RuleCanary    Rule = "canary"           // the canary was removed
	RuleFallback  Rule = "pinned-fallback"  // the target's pinned fallback deployment
	RuleTimeline  Rule = "timeline"         // most recent deployment seen live on this target before the live one
	RulePrevious  Rule = "previous-created" // newest deployment created before the live one, not known bad
	RuleNamed     Rule = "named"            // deploy: the deployment the command named
	RuleObserved  Rule = "observed"         // observe: the live deployment recorded
	RuleCleared   Rule = "cleared"          // clear: known-bad marks and loop guard reset
	RuleRecovered Rule = "recovered"        // recovery: an alarm's return to OK recorded
)

// Code is a decision's stable machine reason, beside the human one: what tests, counters, alerts and
// dashboards match on. The human reason may be reworded; a code never changes meaning.
type Code string

const (
	// Changes.
	CodeRolledBack    Code = "rolled-back"         // moved to an earlier deployment
	CodeCanaryRemoved Code = "canary-removed"      // the canary went, the stage's deployment stays
	CodeDeployed      Code = "deployed"            // moved to the named deployment
	CodeRecorded      Code = "recorded"            // a new live deployment recorded in the timeline
	CodeCleared       Code = "cleared"             // known-bad marks and loop guard reset
	CodeStatus        Code = "status"              // a status answer
	CodeChecked       Code = "checked"             // a check answered (its "ready" says the verdict)
	CodeNotReady      Code = "not-ready"           // the schedule found the target no longer ready (notified once)
	CodeReadyAgain    Code = "ready-again"         // the schedule found it ready again (notified once)
	CodeRecovered     Code = "recovered"           // an alarm that caused a rollback returned to OK
	CodeOKRecorded    Code = "ok-recorded"         // an alarm's return to OK recorded (no rollback to close)
	CodeUnchanged     Code = "unchanged"           // observe: the timeline already says what is live
	CodeAlreadyLive   Code = "already-live"        // deploy: the named deployment is already live
	CodeOnFallback    Code = "already-on-fallback" // rollback: the pinned fallback is already live

	// Rollbacks Rewind refuses: nothing to retry.
	CodeRepeat         Code = "repeat"          // this incident was already handled (a repeated delivery)
	CodeRecoveredSince Code = "recovered-since" // the alarm has been OK since this ALARM: a late delivery
	CodeOutsideWindow  Code = "outside-window"  // the live deployment has been live longer than the release window
	CodeStillServing   Code = "still-serving"   // the target still serves what a Rewind rollback put there
	CodeStale          Code = "stale"           // the alarm changed state before what is live went live

	// Decisions that cannot be made safely: the invocation fails.
	CodeLoopGuard         Code = "loop-guard"          // too many automatic rollbacks within the window
	CodeNothingEarlier    Code = "nothing-earlier"     // no earlier deployment that is not known bad
	CodeLiveNotInHistory  Code = "live-not-in-history" // the live deployment is missing from the history
	CodeFallbackMissing   Code = "fallback-missing"    // the pinned fallback does not exist
	CodeFallbackKnownBad  Code = "fallback-known-bad"  // the pinned fallback is known bad
	CodeUnknownDeployment Code = "unknown-deployment"  // deploy: the named deployment does not exist
	CodeKnownBad          Code = "known-bad"           // deploy: the named deployment is known bad (force overrides)
	CodeReadFailed        Code = "read-failed"         // the target could not be read
	CodeWriteFailed       Code = "write-failed"        // the switch could not be written
	CodeUnconfirmed       Code = "unconfirmed"         // the write was stopped before it began (BeforeWrite)
	CodeUnknownAction     Code = "unknown-action"      // an action the engine does not know
	CodeBadInput          Code = "bad-input"           // the input could not be read
	CodeTargetNotAllowed  Code = "not-in-targets"      // a command named a target outside TARGETS, or none of several
	CodeResolveFailed     Code = "resolve-failed"      // which target an alarm concerns could not be told
	CodeAmbiguous         Code = "ambiguous"           // the alarm's metrics name two or more targets: Rewind moves none
	CodeDiscoveryFailed   Code = "discovery-failed"    // the stages TARGETS' tag selectors name could not be listed

	// Inputs Rewind ignores.
	CodeNotForRewind  Code = "not-for-rewind"  // another service's message, a subscription confirmation...
	CodeNotAlarmState Code = "not-alarm-state" // an OK or INSUFFICIENT_DATA transition
	CodeNoTarget      Code = "no-target"       // the alarm reaches no allowed target
	CodeOtherAccount  Code = "other-account"   // the alarm is from an account Rewind does not serve
	CodeOtherRegion   Code = "other-region"    // the alarm is about a regional resource elsewhere
	CodeOwnHealth     Code = "own-health"      // the alarm watches Rewind itself (its errors, throttles, queue)
)

// Codes of the schedule's re-check of alarms still in ALARM that decide nothing (logged, never notified).
const (
	CodeNotBreaching  Code = "not-breaching"      // the data since the live deployment went live does not breach the alarm's rule
	CodeTooFewFresh   Code = "too-few-datapoints" // fewer datapoints measured on the live deployment than the rule needs
	CodeCannotRecheck Code = "cannot-recheck"     // a composite or anomaly-detection alarm, or a rule Rewind cannot evaluate
	CodeRecheckFailed Code = "recheck-failed"     // the alarms or their data could not be read; the next tick tries again
)

// Codes of the engine's own failures: the memory and the claim around a switch.
const (
	CodeMemoryFailed Code = "memory-failed" // Rewind's memory could not be read or written: nothing was switched
	CodeUnrecorded   Code = "unrecorded"    // the switch was made but not recorded; the next invocation records it
	CodeBusy         Code = "busy"          // another instance's change of the target was still under way at the deadline
	CodeContended    Code = "contended"     // the memory kept changing under the decision
	CodeSettled      Code = "settled"       // an earlier invocation's open claim was finished or abandoned
)
