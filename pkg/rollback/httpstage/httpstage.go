// Package httpstage is the rollback strategy for an API Gateway HTTP API (v2) stage. It is the REST
// strategy's model on the v2 API: the stage's deploymentId is what is live, the API's deployments
// (with their createdDate) are the history, and Rewind's memory lives in the stage's variables.
// HTTP APIs have no canary. A stage with autoDeploy on is refused: every change to the API deploys
// itself there, so there is no history of deployments the stage chose to go back to, and AWS refuses
// a hand-set deploymentId on it anyway.
package httpstage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

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

// empty stands for "nothing" in a stage variable: v2 values must be non-empty, and sending the whole
// map just read, with a placeholder rather than a removal, means the write is right whether UpdateStage
// merges the variables it is sent or replaces them with it.
const empty = "-"

// Strategy moves HTTP API stages.
type Strategy struct{ api API }

var _ rollback.Strategy = (*Strategy)(nil)

// New returns the strategy over an API Gateway v2 client.
func New(api API) *Strategy { return &Strategy{api: api} }

// Name implements rollback.Strategy.
func (*Strategy) Name() string { return "http-stage" }

// Observe implements rollback.Strategy: GetStage and the paged GetDeployments run in parallel.
func (s *Strategy) Observe(ctx context.Context, t target.Target) (rollback.State, error) {
	var (
		wg       sync.WaitGroup
		stage    *apigatewayv2.GetStageOutput
		stageErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		stage, stageErr = s.getStage(ctx, t)
	}()
	history, histErr := s.history(ctx, t)
	wg.Wait()
	if stageErr != nil {
		return rollback.State{}, stageErr
	}
	if histErr != nil {
		return rollback.State{}, fmt.Errorf("HTTP API %s: get deployments: %w", t.APIID, classify(histErr))
	}
	return state(t, stage, history)
}

// Peek implements rollback.Strategy with GetStage alone.
func (s *Strategy) Peek(ctx context.Context, t target.Target) (rollback.State, error) {
	stage, err := s.getStage(ctx, t)
	if err != nil {
		return rollback.State{}, err
	}
	return state(t, stage, nil)
}

func (s *Strategy) getStage(ctx context.Context, t target.Target) (*apigatewayv2.GetStageOutput, error) {
	out, err := s.api.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: &t.APIID, StageName: &t.Stage})
	if err != nil {
		return nil, fmt.Errorf("stage %s: get stage: %w", t, classify(err))
	}
	if aws.ToBool(out.AutoDeploy) {
		return nil, fmt.Errorf("stage %s: %w (turn autoDeploy off so deployments are chosen, then Rewind can go back to one)", t, ErrAutoDeploy)
	}
	return out, nil
}

func state(t target.Target, stage *apigatewayv2.GetStageOutput, history []rollback.Deployment) (rollback.State, error) {
	st := rollback.State{Live: aws.ToString(stage.DeploymentId), History: history, LastUpdated: aws.ToTime(stage.LastUpdatedDate)}
	mem, err := decodeMemory(stage.StageVariables)
	if err != nil {
		return rollback.State{}, fmt.Errorf("stage %s: read Rewind's memory: %w", t, err)
	}
	st.Memory = mem
	if st.Live == "" {
		return rollback.State{}, fmt.Errorf("stage %s: has no deploymentId", t)
	}
	return st, nil
}

func (s *Strategy) history(ctx context.Context, t target.Target) ([]rollback.Deployment, error) {
	var out []rollback.Deployment
	// No MaxResults: AWS documents no maximum for v2, and a value it refuses would cost the rollback.
	in := &apigatewayv2.GetDeploymentsInput{ApiId: &t.APIID}
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

// Apply implements rollback.Strategy with one UpdateStage that sets the deployment and Rewind's
// memory together. It reads the stage first: a stage that no longer serves what the decision was made
// on is left alone (someone else moved it; the retried event decides again), and the API's own stage
// variables are sent back unchanged with Rewind's.
func (s *Strategy) Apply(ctx context.Context, t target.Target, p rollback.Plan) error {
	cur, err := s.getStage(ctx, t)
	if err != nil {
		return err
	}
	if live := aws.ToString(cur.DeploymentId); live != p.From {
		return fmt.Errorf("stage %s: switch %s -> %s: the stage now serves %s; not overwriting a change made since it was read", t, p.From, p.To, live)
	}
	vars := maps.Clone(cur.StageVariables)
	if vars == nil {
		vars = map[string]string{}
	}
	// Only the variables this plan changes from what the decision read: a concurrent instance's write to
	// another one (an observe's timeline, say) must survive.
	prior := p.Prior.Encode()
	for k, v := range p.Memory.Encode() {
		if v == prior[k] {
			continue
		}
		if v == "" {
			v = empty
		}
		vars[k] = v
	}
	in := &apigatewayv2.UpdateStageInput{ApiId: &t.APIID, StageName: &t.Stage, StageVariables: vars}
	if p.Kind != rollback.KindRecord {
		in.DeploymentId = aws.String(p.To)
	}
	out, err := s.api.UpdateStage(ctx, in)
	if err != nil {
		return fmt.Errorf("stage %s: switch %s -> %s: %w", t, p.From, p.To, classify(err))
	}
	if got := aws.ToString(out.DeploymentId); got != p.To {
		return fmt.Errorf("stage %s: switch %s -> %s: stage answered deployment %s", t, p.From, p.To, got)
	}
	return nil
}

func decodeMemory(vars map[string]string) (rollback.Memory, error) {
	mine := map[string]string{}
	for _, k := range []string{rollback.VarBad, rollback.VarIncidents, rollback.VarLast, rollback.VarTimeline} {
		if v := vars[k]; v != empty {
			mine[k] = v
		}
	}
	return rollback.DecodeMemory(mine)
}

// classify marks AWS's "does not exist" answers so callers can tell them apart with errors.Is.
func classify(err error) error {
	var nf *types.NotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("%w: %w", rollback.ErrNotFound, err)
	}
	return err
}
