// Package lambdaalias is the rollback strategy for a Lambda alias: the alias's FunctionVersion is
// what is live, the function's published versions are the history (LastModified is when a version
// was published), and weighted routing to another version (AdditionalVersionWeights) is a canary,
// which a rollback drops. A switch is one UpdateAlias of the version and the routing, with the
// RevisionId just read: the alias's description stays the team's.
package lambdaalias

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// API is the part of the Lambda client this strategy uses.
type API interface {
	lambda.ListVersionsByFunctionAPIClient
	GetAlias(ctx context.Context, in *lambda.GetAliasInput, optFns ...func(*lambda.Options)) (*lambda.GetAliasOutput, error)
	UpdateAlias(ctx context.Context, in *lambda.UpdateAliasInput, optFns ...func(*lambda.Options)) (*lambda.UpdateAliasOutput, error)
}

var _ API = (*lambda.Client)(nil)

// maxPages bounds the version listing (50 a page: 100,000 versions, more than Lambda's storage
// quota lets a function keep).
const maxPages = 2000

// writeAttempts bounds how often Apply re-reads the alias after another writer changed its revision
// between Rewind's read and write.
const writeAttempts = 3

// lastModified are the forms a version's LastModified (a string, not a timestamp, in Lambda's model)
// takes: AWS's "2019-10-29T22:48:59.987+0000", and RFC 3339 as other implementations (moto) write it.
var lastModified = []string{"2006-01-02T15:04:05.999999999-0700", time.RFC3339Nano}

func parseLastModified(s string) (time.Time, error) {
	var first error
	for _, layout := range lastModified {
		t, err := time.Parse(layout, s)
		if err == nil {
			return t, nil
		}
		if first == nil {
			first = err
		}
	}
	return time.Time{}, first
}

// Strategy moves Lambda aliases.
type Strategy struct{ api API }

var _ rollback.Strategy = (*Strategy)(nil)

// New returns the strategy over a Lambda client.
func New(api API) *Strategy { return &Strategy{api: api} }

// Name implements rollback.Strategy.
func (*Strategy) Name() string { return "lambda-alias" }

// Read implements rollback.Strategy: GetAlias and the paged version listing run in parallel.
func (s *Strategy) Read(ctx context.Context, t target.Target, withHistory bool) (rollback.State, error) {
	alias, history, err := rollback.ReadBeside(withHistory, func() (*lambda.GetAliasOutput, error) { return s.getAlias(ctx, t) },
		func() ([]rollback.Deployment, error) {
			h, err := s.history(ctx, t)
			if err != nil {
				return nil, fmt.Errorf("function %s: list versions: %w", t.Resource, classify(err))
			}
			return h, nil
		})
	if err != nil {
		return rollback.State{}, err
	}
	return state(t, alias, history)
}

func (s *Strategy) getAlias(ctx context.Context, t target.Target) (*lambda.GetAliasOutput, error) {
	out, err := s.api.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: &t.Resource, Name: &t.Slot})
	if err != nil {
		return nil, fmt.Errorf("alias %s: get alias: %w", t, classify(err))
	}
	return out, nil
}

func state(t target.Target, a *lambda.GetAliasOutput, history []rollback.Deployment) (rollback.State, error) {
	st := rollback.State{Live: aws.ToString(a.FunctionVersion), History: history}
	if st.Live == "" || st.Live == "$LATEST" {
		return rollback.State{}, fmt.Errorf("alias %s: points at %q, not a published version: there is no version history to go back through", t, st.Live)
	}
	if rc := a.RoutingConfig; rc != nil {
		for v, w := range rc.AdditionalVersionWeights {
			st.Canary = &rollback.Canary{DeploymentID: v, PercentTraffic: w * 100}
		}
	}
	return st, nil
}

func (s *Strategy) history(ctx context.Context, t target.Target) ([]rollback.Deployment, error) {
	var out []rollback.Deployment
	p := lambda.NewListVersionsByFunctionPaginator(s.api, &lambda.ListVersionsByFunctionInput{FunctionName: &t.Resource})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages == maxPages {
			return nil, fmt.Errorf("more than %d pages of versions", maxPages)
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			ver := aws.ToString(v.Version)
			if ver == "$LATEST" {
				continue // not a version an alias can go back to: it changes under it
			}
			created, err := parseLastModified(aws.ToString(v.LastModified))
			if err != nil {
				return nil, fmt.Errorf("version %s: LastModified %q: %w", ver, aws.ToString(v.LastModified), err)
			}
			out = append(out, rollback.Deployment{ID: ver, CreatedDate: created.UTC(), Description: aws.ToString(v.Description)})
		}
	}
	return out, nil
}

// Switch implements rollback.Strategy with one UpdateAlias of the version and the routing. It reads
// the alias first and writes with its RevisionId: an alias that no longer serves what the decision
// was made on is left alone (rollback.ErrChanged), and one that another writer changed in between
// (412 PreconditionFailed) is read again, a bounded number of times.
func (s *Strategy) Switch(ctx context.Context, t target.Target, p rollback.Plan) error {
	expect := p.From // the version the alias served when Rewind decided
	if p.Kind == rollback.KindCanaryRollback {
		expect = p.To // the alias's own version stays; only the canary goes
	}
	var lastErr error
	for range writeAttempts {
		cur, err := s.getAlias(ctx, t)
		if err != nil {
			return err
		}
		live := aws.ToString(cur.FunctionVersion)
		if live == p.To && noRouting(cur) {
			// Already done: this very write landed and its answer was lost (the SDK's retry then
			// carried the RevisionId from before it, 412).
			return nil
		}
		if live != expect {
			return fmt.Errorf("alias %s: switch %s -> %s: %w: the alias now serves version %s", t, p.From, p.To, rollback.ErrChanged, live)
		}
		// Any switch drops weighted routing: the canary is what is being rolled back, and a routing
		// entry for the version now primary would be refused.
		out, err := s.api.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: &t.Resource, Name: &t.Slot, RevisionId: cur.RevisionId,
			FunctionVersion: aws.String(p.To), RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}})
		var pf *types.PreconditionFailedException
		if errors.As(err, &pf) {
			lastErr = err
			continue
		}
		if err != nil {
			return fmt.Errorf("alias %s: switch %s -> %s: %w", t, p.From, p.To, classify(err))
		}
		if got := aws.ToString(out.FunctionVersion); got != p.To {
			return fmt.Errorf("alias %s: switch %s -> %s: alias answered version %s", t, p.From, p.To, got)
		}
		return nil
	}
	return fmt.Errorf("alias %s: switch %s -> %s: %w: the alias kept changing between read and write (%d attempts): %w", t, p.From, p.To, rollback.ErrChanged, writeAttempts, lastErr)
}

func noRouting(a *lambda.GetAliasOutput) bool {
	return a.RoutingConfig == nil || len(a.RoutingConfig.AdditionalVersionWeights) == 0
}

// classify marks AWS's "does not exist" answers so callers can tell them apart with errors.Is.
func classify(err error) error { return rollback.MarkNotFound[*types.ResourceNotFoundException](err) }
