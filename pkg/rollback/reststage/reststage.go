// Package reststage is the rollback strategy for an API Gateway REST API stage: read the stage and the
// API's complete deployment history in parallel, then switch the stage and record why in one
// UpdateStage call.
package reststage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// API is the part of the API Gateway client this strategy uses.
type API interface {
	apigateway.GetDeploymentsAPIClient
	GetStage(ctx context.Context, in *apigateway.GetStageInput, optFns ...func(*apigateway.Options)) (*apigateway.GetStageOutput, error)
	UpdateStage(ctx context.Context, in *apigateway.UpdateStageInput, optFns ...func(*apigateway.Options)) (*apigateway.UpdateStageOutput, error)
}

var _ API = (*apigateway.Client)(nil)

// PageSize is the largest page GetDeployments allows; fewer pages means fewer round trips.
const PageSize = 500

// Strategy moves REST API stages.
type Strategy struct{ api API }

var _ rollback.Strategy = (*Strategy)(nil)

// New returns the strategy over an API Gateway client.
func New(api API) *Strategy { return &Strategy{api: api} }

// Name implements rollback.Strategy.
func (*Strategy) Name() string { return "rest-stage" }

// Observe implements rollback.Strategy: GetStage and the paginated GetDeployments run in parallel, so
// a decision costs one round trip per history page, not one more for the stage.
func (s *Strategy) Observe(ctx context.Context, t target.Target) (rollback.State, error) {
	var (
		wg       sync.WaitGroup
		stage    *apigateway.GetStageOutput
		stageErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		stage, stageErr = s.api.GetStage(ctx, &apigateway.GetStageInput{RestApiId: &t.APIID, StageName: &t.Stage})
	}()
	history, histErr := s.history(ctx, t)
	wg.Wait()
	if stageErr == nil && histErr == nil {
		return s.state(t, stage, history)
	}
	if stageErr != nil {
		return rollback.State{}, fmt.Errorf("stage %s: get stage: %w", t, classify(stageErr))
	}
	return rollback.State{}, fmt.Errorf("API %s: get deployments: %w", t.APIID, classify(histErr))
}

// Peek implements rollback.Strategy with GetStage alone.
func (s *Strategy) Peek(ctx context.Context, t target.Target) (rollback.State, error) {
	stage, err := s.api.GetStage(ctx, &apigateway.GetStageInput{RestApiId: &t.APIID, StageName: &t.Stage})
	if err != nil {
		return rollback.State{}, fmt.Errorf("stage %s: get stage: %w", t, classify(err))
	}
	return s.state(t, stage, nil)
}

func (s *Strategy) state(t target.Target, stage *apigateway.GetStageOutput, history []rollback.Deployment) (rollback.State, error) {
	st := rollback.State{Live: aws.ToString(stage.DeploymentId), History: history}
	if stage.LastUpdatedDate != nil {
		st.LastUpdated = *stage.LastUpdatedDate
	}
	if c := stage.CanarySettings; c != nil {
		st.Canary = &rollback.Canary{DeploymentID: aws.ToString(c.DeploymentId), PercentTraffic: c.PercentTraffic}
	}
	mem, err := rollback.DecodeMemory(stage.Variables)
	if err != nil {
		return rollback.State{}, fmt.Errorf("stage %s: read Rewind's memory: %w", t, err)
	}
	st.Memory = mem
	if st.Live == "" {
		return rollback.State{}, fmt.Errorf("stage %s: has no deploymentId", t)
	}
	return st, nil
}

// history reads every page, keeping each page's deployments in a slice of exactly its size, and
// copies them once into one slice of exactly the total: appending to one growing slice reallocated it
// about log2(N/500) times and left it up to twice the size it needed.
func (s *Strategy) history(ctx context.Context, t target.Target) ([]rollback.Deployment, error) {
	var (
		pages [][]rollback.Deployment
		total int
	)
	p := apigateway.NewGetDeploymentsPaginator(s.api, &apigateway.GetDeploymentsInput{RestApiId: &t.APIID, Limit: aws.Int32(PageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		ds := make([]rollback.Deployment, len(page.Items))
		for i, d := range page.Items {
			ds[i] = rollback.Deployment{ID: aws.ToString(d.Id), CreatedDate: aws.ToTime(d.CreatedDate), Description: aws.ToString(d.Description)}
		}
		pages = append(pages, ds)
		total += len(ds)
	}
	switch len(pages) {
	case 0:
		return nil, nil
	case 1:
		return pages[0], nil // one page: already exact, nothing to copy
	}
	out := make([]rollback.Deployment, 0, total)
	for i, ds := range pages {
		out = append(out, ds...)
		pages[i] = nil // each page is garbage once copied
	}
	return out, nil
}

// Apply implements rollback.Strategy with one UpdateStage: remove the canary if any, set the
// deployment, and write Rewind's memory. API Gateway applies a PATCH's operations together, so the
// switch and its record cannot half-apply; a retried call after a lost response writes the same values.
func (s *Strategy) Apply(ctx context.Context, t target.Target, p rollback.Plan) error {
	ops := make([]types.PatchOperation, 0, 5)
	if p.RemoveCanary {
		ops = append(ops, types.PatchOperation{Op: types.OpRemove, Path: aws.String("/canarySettings")})
	}
	if p.Kind != rollback.KindCanaryRollback && p.Kind != rollback.KindRecord {
		ops = append(ops, types.PatchOperation{Op: types.OpReplace, Path: aws.String("/deploymentId"), Value: aws.String(p.To)})
	}
	// Write only the variables this plan changes from what the decision read: a concurrent instance's
	// write to another variable (an observe's timeline, say) must not be undone by replaying our read.
	vars, prior := p.Memory.Encode(), p.Prior.Encode()
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		switch {
		case vars[k] == prior[k]:
		case vars[k] == "":
			// Stage variables cannot be empty: say "nothing" by removing the one that held something.
			ops = append(ops, types.PatchOperation{Op: types.OpRemove, Path: aws.String("/variables/" + k)})
		default:
			ops = append(ops, types.PatchOperation{Op: types.OpReplace, Path: aws.String("/variables/" + k), Value: aws.String(vars[k])})
		}
	}
	if len(ops) == 0 {
		return nil // the plan changes nothing the stage holds
	}
	out, err := s.api.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: &t.APIID, StageName: &t.Stage, PatchOperations: ops})
	if err != nil {
		return fmt.Errorf("stage %s: switch %s -> %s: %w", t, p.From, p.To, classify(err))
	}
	if got := aws.ToString(out.DeploymentId); got != p.To {
		return fmt.Errorf("stage %s: switch %s -> %s: stage answered deployment %s", t, p.From, p.To, got)
	}
	return nil
}

// classify marks AWS's "does not exist" answers so callers can tell them apart with errors.Is.
func classify(err error) error {
	var nf *types.NotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("%w: %w", rollback.ErrNotFound, err)
	}
	return err
}
