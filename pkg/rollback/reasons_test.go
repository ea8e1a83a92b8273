package rollback_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/rollbacktest"
	"github.com/rewind-sre/rewind/pkg/target"
)

// The reasons people read: every action's answer, live and as a dry run, says what happened (or
// would) in plain words. A plan's reason reads "dry run: <what it would do>; nothing was changed",
// with the verb in the form that takes ("roll back", "switch", "clear": never "would cleared").
func TestReasonsReadAsSentences(t *testing.T) {
	now := func() time.Time { return base.Add(30 * time.Minute) }
	verbs := regexp.MustCompile(`^(roll|remove|switch|clear|recorded|\S+ serves)\b`)
	for _, dry := range []bool{false, true} {
		stage := rollbacktest.NewStrategy("d3", history()...)
		eng := rollback.NewEngine(stage, rollbacktest.NewStore(), rollback.Options{Now: now, DryRun: dry})
		for _, req := range []rollback.Request{
			{Action: rollback.ActionObserve, Trigger: rollback.Trigger{By: rollback.BySchedule}},
			alarm("inc1"),
			{Action: rollback.ActionDeploy, DeploymentID: "d1", Trigger: rollback.Trigger{By: rollback.ByManual}},
			{Action: rollback.ActionClear, Trigger: rollback.Trigger{By: rollback.ByManual}},
		} {
			res := eng.Do(context.Background(), tg, req)
			reason := res.Reason
			if dry && res.Outcome == rollback.OutcomePlanned {
				rest, ok := strings.CutPrefix(reason, "dry run: ")
				if !ok || !strings.HasSuffix(rest, "; nothing was changed") {
					t.Errorf("dry %s: %q", req.Action, reason)
				}
				reason = rest
			}
			if !verbs.MatchString(reason) || strings.Contains(reason, "would ") && strings.Contains(reason, "ed ") ||
				strings.Contains(reason, "(alarm none)") || strings.Contains(reason, ": :") || strings.Contains(reason, "  ") {
				t.Errorf("dry=%v %s: %q does not read as a sentence", dry, req.Action, reason)
			}
		}
	}
	// Check's reason says ready or not ready, in words.
	eng := rollback.NewEngine(rollbacktest.NewStrategy("d1", history()...), rollbacktest.NewStore(), rollback.Options{Now: now})
	if r := eng.Check(context.Background(), target.Target{Kind: target.KindRESTStage, Resource: "a1b2c3d4e5", Slot: "prod"}); !strings.Contains(r.Reason, "is not ready") {
		t.Errorf("check with nowhere to go: %q", r.Reason)
	}
}
