// Package httpstage is the rollback strategy for an API Gateway HTTP API (v2) stage. It is the REST
// strategy's model on the v2 API: the stage's deploymentId is what is live, the API's deployments
// (with their createdDate) are the history, and a switch changes the deploymentId and nothing else.
// HTTP APIs have no canary. A stage with autoDeploy on is refused: every change to the API deploys
// itself there, so there is no history of deployments the stage chose to go back to, and AWS refuses
// a hand-set deploymentId on it anyway.
package httpstage

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// API is the part of the API Gateway v2 client this strategy uses.
type API interface {
	GetStage(ctx context.Context, in *apigatewayv2.GetStageInput, optFns ...func(*apigatewayv2.Options)) (*apigatewayv2.GetStageOutput, error)
	GetDeployments(ctx context.Context, in *apigatewayv2.GetDeploymentsInput, optFns ...func(*apigatewayv2.Options)) (*apigatewayv2.GetDeploymentsOutput, error)
	UpdateStage(ctx context.Context, in *apigatewayv2.UpdateStageInput, optFns ...func(*apigatewayv2.Options)) (*apigatewayv2.UpdateStageOutput, error)
}

var _ API = (*apigatewayv2.Client)(nil)

// ErrAutoDeploy is why a stage with autoDeploy on cannot be rolled back.
var ErrAutoDeploy = errors.New("auto-deploy is on: no history to go back to")

// maxPages bounds the history listing (the SDK has no paginator for v2 GetDeployments); at AWS's
// default page size it is far more deployments than an API keeps.
const maxPages = 2000

// Strategy moves HTTP API stages.
type Strategy struct{ api API }

var _ rollback.Strategy = (*Strategy)(nil)

// New returns the strategy over an API Gateway v2 client.
func New(api API) *Strategy { return &Strategy{api: api} }

// Name implements rollback.Strategy.
func (*Strategy) Name() string { return "http-stage" }

// Read implements rollback.Strategy: GetStage and the paged GetDeployments run in parallel.
func (s *Strategy) Read(ctx context.Context, t target.Target, withHistory bool) (rollback.State, error) {
	stage, history, err := rollback.ReadBeside(withHistory, func() (*apigatewayv2.GetStageOutput, error) { return s.getStage(ctx, t) },
		func() ([]rollback.Deployment, error) {
			h, err := s.history(ctx, t)
			if err != nil {
				return nil, fmt.Errorf("HTTP API %s: get deployments: %w", t.Resource, classify(err))
			}
			return h, nil
		})
	if err != nil {
		return rollback.State{}, err
	}
	st := rollback.State{Live: aws.ToString(stage.DeploymentId), History: history, LastUpdated: aws.ToTime(stage.LastUpdatedDate)}
	if st.Live == "" {
		return rollback.State{}, fmt.Errorf("stage %s: has no deploymentId", t)
	}
	return st, nil
}

func (s *Strategy) getStage(ctx context.Context, t target.Target) (*apigatewayv2.GetStageOutput, error) {
	out, err := s.api.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: &t.Resource, StageName: &t.Slot})
	if err != nil {
		return nil, fmt.Errorf("stage %s: get stage: %w", t, classify(err))
	}
	if aws.ToBool(out.AutoDeploy) {
		return nil, fmt.Errorf("stage %s: %w (turn autoDeploy off so deployments are chosen, then Rewind can go back to one)", t, ErrAutoDeploy)
	}
	return out, nil
}

func (s *Strategy) history(ctx context.Context, t target.Target) ([]rollback.Deployment, error) {
	var out []rollback.Deployment
	// No MaxResults: AWS documents no maximum for v2, and a value it refuses would cost the rollback.
	in := &apigatewayv2.GetDeploymentsInput{ApiId: &t.Resource}
	seen := map[string]bool{}
	for range maxPages {
		page, err := s.api.GetDeployments(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, d := range page.Items {
			out = append(out, rollback.Deployment{ID: aws.ToString(d.DeploymentId), CreatedDate: aws.ToTime(d.CreatedDate), Description: aws.ToString(d.Description)})
		}
		next := aws.ToString(page.NextToken)
		if next == "" {
			return out, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("the listing repeated its page token %q", next)
		}
		seen[next] = true
		in.NextToken = &next
	}
	return nil, fmt.Errorf("more than %d pages of deployments", maxPages)
}

// Switch implements rollback.Strategy with one UpdateStage that sets the deployment and nothing else.
// It reads the stage first: a stage that no longer serves what the decision was made on is left
// alone (someone moved it since; the engine decides again on what is live now).
func (s *Strategy) Switch(ctx context.Context, t target.Target, p rollback.Plan) error {
	cur, err := s.getStage(ctx, t)
	if err != nil {
		return err
	}
	switch live := aws.ToString(cur.DeploymentId); live {
	case p.To:
		return nil // already done: a retry after a lost answer
	case p.From:
	default:
		return fmt.Errorf("stage %s: switch %s -> %s: %w: the stage now serves %s", t, p.From, p.To, rollback.ErrChanged, live)
	}
	out, err := s.api.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: &t.Resource, StageName: &t.Slot, DeploymentId: aws.String(p.To)})
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
