package responder_test

// TestRandomSchedules drives Rewind through seeded random schedules of alarms, repeated deliveries,
// second alarms, OK transitions, people deploying (out of band and through Rewind), manual
// commands, the observe schedule, faults on the control plane and on Rewind's memory table, deadlines
// cut mid-change and several instances at once, over the real SDK, the local API Gateway and the
// local DynamoDB; after every step and at the end it checks the properties of properties_test.go
// and schedule_run_test.go's checkStep.

import (
	"cmp"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rewind-sre/rewind/pkg/support/testenv"
)

// scheduleStats are the figures a run reports.
type scheduleStats struct {
	steps, invocations, batches, faultsInjected, faultsFired, deadlineSteps   int
	rollbacks, repeatsRefused, guardRefusals, planned, ignored, failed, human int
	dryRunSchedules, maxInstances                                             int
	memoryFaults, claimsLeft, claimsSettled, claimWaits, casConflicts         int
	laggingRefused, canarySteps, ambiguousRefused, lateAfterOK                int
	recheckSteps, recheckDecided, recheckCut                                  int
}

func (s *scheduleStats) add(o scheduleStats) {
	s.steps += o.steps
	s.invocations += o.invocations
	s.batches += o.batches
	s.faultsInjected += o.faultsInjected
	s.faultsFired += o.faultsFired
	s.deadlineSteps += o.deadlineSteps
	s.rollbacks += o.rollbacks
	s.repeatsRefused += o.repeatsRefused
	s.guardRefusals += o.guardRefusals
	s.planned += o.planned
	s.ignored += o.ignored
	s.failed += o.failed
	s.human += o.human
	s.dryRunSchedules += o.dryRunSchedules
	s.maxInstances = max(s.maxInstances, o.maxInstances)
	s.memoryFaults += o.memoryFaults
	s.claimsLeft += o.claimsLeft
	s.claimsSettled += o.claimsSettled
	s.claimWaits += o.claimWaits
	s.casConflicts += o.casConflicts
	s.laggingRefused += o.laggingRefused
	s.canarySteps += o.canarySteps
	s.ambiguousRefused += o.ambiguousRefused
	s.lateAfterOK += o.lateAfterOK
	s.recheckSteps += o.recheckSteps
	s.recheckDecided += o.recheckDecided
	s.recheckCut += o.recheckCut
}

// scheduleWorkers run schedules at once: they wait on loopback I/O and on claims' leases (the wall
// clock) as much as on CPU, so many workers beat a few.
const scheduleWorkers = 24

// scheduleSeeds is 1..REWIND_SCHEDULES (1,000 by default), or REWIND_SEED alone (verbose).
func scheduleSeeds(t *testing.T) ([]uint64, bool) {
	n := 1000
	if v := os.Getenv("REWIND_SCHEDULES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("REWIND_SCHEDULES=%q is not a positive count", v)
		}
	}
	if v := os.Getenv("REWIND_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("REWIND_SEED=%q is not a seed", v)
		}
		return []uint64{seed}, true
	}
	seeds := make([]uint64, 0, n)
	for i := range n {
		seeds = append(seeds, uint64(i+1))
	}
	return seeds, false
}

type scheduleOutcome struct {
	seed       uint64
	stats      scheduleStats
	violations []string
	trace      []string
}

func TestRandomSchedules(t *testing.T) {
	seeds, verbose := scheduleSeeds(t)
	jobs := make(chan uint64)
	results := make(chan scheduleOutcome)
	var wg sync.WaitGroup
	for range scheduleWorkers {
		wg.Go(func() {
			for seed := range jobs {
				s := runSchedule(seed)
				results <- scheduleOutcome{seed, s.stats, s.violations, s.trace}
			}
		})
	}
	go func() {
		for _, s := range seeds {
			jobs <- s
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()

	var total scheduleStats
	var bad []scheduleOutcome
	violations := 0
	for o := range results {
		total.add(o.stats)
		violations += len(o.violations)
		if len(o.violations) > 0 {
			bad = append(bad, o)
		}
		if verbose {
			t.Logf("seed=%d trace:\n  %s", o.seed, strings.Join(o.trace, "\n  "))
		}
	}
	slices.SortFunc(bad, func(a, b scheduleOutcome) int { return cmp.Compare(a.seed, b.seed) })
	for i, o := range bad {
		if i == 5 {
			t.Errorf("… and %d more failing schedules", len(bad)-5)
			break
		}
		t.Errorf("seed=%d: %d violation(s):\n  %s\ntrace:\n  %s\nreplay: REWIND_SEED=%d go test -race -count=1 -run 'TestRandomSchedules$' -v ./pkg/responder/",
			o.seed, len(o.violations), strings.Join(o.violations, "\n  "), strings.Join(o.trace, "\n  "), o.seed)
	}
	testenv.Figure(t, "schedules=%d violations=%d failing_schedules=%d steps=%d invocations=%d concurrent_batches=%d max_instances=%d "+
		"faults_injected=%d faults_fired=%d deadline_steps=%d rollbacks=%d repeats_refused=%d guard_refusals=%d "+
		"planned=%d ignored=%d failed_invocations=%d human_changes=%d dry_run_schedules=%d "+
		"memory_faults_injected=%d cas_conflicts=%d claims_left=%d claims_settled=%d claim_waits=%d "+
		"lagging_refused=%d canary_steps=%d ambiguous_refused=%d late_after_ok=%d recheck_steps=%d recheck_decided=%d recheck_cut=%d seeds=%d..%d",
		len(seeds), violations, len(bad), total.steps, total.invocations, total.batches, total.maxInstances,
		total.faultsInjected, total.faultsFired, total.deadlineSteps, total.rollbacks, total.repeatsRefused, total.guardRefusals,
		total.planned, total.ignored, total.failed, total.human, total.dryRunSchedules,
		total.memoryFaults, total.casConflicts, total.claimsLeft, total.claimsSettled, total.claimWaits,
		total.laggingRefused, total.canarySteps, total.ambiguousRefused, total.lateAfterOK, total.recheckSteps, total.recheckDecided, total.recheckCut, seeds[0], seeds[len(seeds)-1])
}
