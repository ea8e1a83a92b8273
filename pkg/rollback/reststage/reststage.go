// Package reststage is the rollback strategy for an API Gateway REST API stage: read the stage and the
// API's complete deployment history in parallel, then switch the stage with one UpdateStage that
// changes its deploymentId (and drops its canary) and nothing else: the stage's variables, tags and
// description stay the team's.
package reststage

import (
	"context"
	"fmt"

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

// Read implements rollback.Strategy: GetStage and the paginated GetDeployments run in parallel, so
// a decision costs one round trip per history page, not one more for the stage.
func (s *Strategy) Read(ctx context.Context, t target.Target, withHistory bool) (rollback.State, error) {
	stage, history, err := rollback.ReadBeside(withHistory,
		func() (*apigateway.GetStageOutput, error) {
			out, err := s.api.GetStage(ctx, &apigateway.GetStageInput{RestApiId: &t.Resource, StageName: &t.Slot})
			if err != nil {
				return nil, fmt.Errorf("stage %s: get stage: %w", t, classify(err))
			}
			return out, nil
		},
		func() ([]rollback.Deployment, error) {
			h, err := s.history(ctx, t)
			if err != nil {
				return nil, fmt.Errorf("API %s: get deployments: %w", t.Resource, classify(err))
			}
			return h, nil
		})
	if err != nil {
		return rollback.State{}, err
	}
	st := rollback.State{Live: aws.ToString(stage.DeploymentId), History: history, LastUpdated: aws.ToTime(stage.LastUpdatedDate)}
	if c := stage.CanarySettings; c != nil {
		st.Canary = &rollback.Canary{DeploymentID: aws.ToString(c.DeploymentId), PercentTraffic: c.PercentTraffic}
	}
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
	p := apigateway.NewGetDeploymentsPaginator(s.api, &apigateway.GetDeploymentsInput{RestApiId: &t.Resource, Limit: aws.Int32(PageSize)})
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

// Switch implements rollback.Strategy with one UpdateStage: remove the canary if any, and set the
// deployment. API Gateway applies a PATCH's operations together, so the switch cannot half-apply, and
// a retried call after a lost response writes the same values. REST stages have no conditional
// write: Rewind's own instances are kept from racing by the claim in its memory.
func (s *Strategy) Switch(ctx context.Context, t target.Target, p rollback.Plan) error {
	ops := make([]types.PatchOperation, 0, 2)
	if p.RemoveCanary {
		ops = append(ops, types.PatchOperation{Op: types.OpRemove, Path: aws.String("/canarySettings")})
	}
	if p.Kind != rollback.KindCanaryRollback {
		ops = append(ops, types.PatchOperation{Op: types.OpReplace, Path: aws.String("/deploymentId"), Value: aws.String(p.To)})
	}
	out, err := s.api.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: &t.Resource, StageName: &t.Slot, PatchOperations: ops})
	if err != nil {
		return fmt.Errorf("stage %s: switch %s -> %s: %w", t, p.From, p.To, classify(err))
	}
	if got := aws.ToString(out.DeploymentId); got != p.To {
		return fmt.Errorf("stage %s: switch %s -> %s: stage answered deployment %s", t, p.From, p.To, got)
	}
	return nil
}

// classify marks AWS's "does not exist" answers so callers can tell them apart with errors.Is.
func classify(err error) error { return rollback.MarkNotFound[*types.NotFoundException](err) }
