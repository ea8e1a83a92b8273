// Package cfbehavior is the rollback strategy for a CloudFront cache behaviour: what is live is the
// origin (or origin group) the behaviour for one path pattern sends requests to, the distribution's
// origins are what it can be switched between, and a rollback switches it to the target's legacy
// origin (the seed's EC2 origin). The switch is one UpdateDistribution, with the If-Match ETag of the
// configuration just read, that changes the one behaviour's origin and nothing else (the comment and
// every other setting stay the team's); a configuration someone else changed in between is read
// again (a bounded number of times), never overwritten blindly.
package cfbehavior

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/target"
)

// API is the part of the CloudFront client this strategy uses.
type API interface {
	GetDistribution(ctx context.Context, in *cloudfront.GetDistributionInput, optFns ...func(*cloudfront.Options)) (*cloudfront.GetDistributionOutput, error)
	GetDistributionConfig(ctx context.Context, in *cloudfront.GetDistributionConfigInput, optFns ...func(*cloudfront.Options)) (*cloudfront.GetDistributionConfigOutput, error)
	UpdateDistribution(ctx context.Context, in *cloudfront.UpdateDistributionInput, optFns ...func(*cloudfront.Options)) (*cloudfront.UpdateDistributionOutput, error)
}

var _ API = (*cloudfront.Client)(nil)

// writeAttempts bounds how often Apply reads the configuration again after a 412.
const writeAttempts = 3

// Strategy switches CloudFront cache behaviours between origins.
type Strategy struct{ api API }

var _ rollback.Strategy = (*Strategy)(nil)

// New returns the strategy over a CloudFront client.
func New(api API) *Strategy { return &Strategy{api: api} }

// Name implements rollback.Strategy.
func (*Strategy) Name() string { return "cloudfront-behavior" }

// Read implements rollback.Strategy with one GetDistribution, history or not: the configuration holds
// the behaviour and the origins (the "history"); the distribution says whether the last change has
// reached every edge.
func (s *Strategy) Read(ctx context.Context, t target.Target, _ bool) (rollback.State, error) {
	out, err := s.api.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: &t.Resource})
	if err != nil {
		return rollback.State{}, fmt.Errorf("distribution %s: get distribution: %w", t.Resource, classify(err))
	}
	d := out.Distribution
	if d == nil || d.DistributionConfig == nil {
		return rollback.State{}, fmt.Errorf("distribution %s: answered no configuration", t.Resource)
	}
	cfg := d.DistributionConfig
	live, err := behaviorOrigin(t, cfg)
	if err != nil {
		return rollback.State{}, err
	}
	// No LastUpdated: the distribution's LastModifiedTime moves with a change of any behaviour (Rewind's
	// own rollback of another path pattern included), so it dates nothing about this one. Rewind's
	// sightings of this behaviour bound when its origin changed instead.
	return rollback.State{Live: live, History: history(cfg), Progress: aws.ToString(d.Status)}, nil
}

// behavior returns the cache behaviour a target names ("*": the default one), as the fields both
// kinds share.
func behavior(t target.Target, cfg *types.DistributionConfig) (*string, error) {
	if t.IsDefaultBehavior() {
		if cfg.DefaultCacheBehavior == nil {
			return nil, fmt.Errorf("%s: the distribution has no default cache behaviour", t)
		}
		return cfg.DefaultCacheBehavior.TargetOriginId, nil
	}
	var patterns []string
	if cb := cfg.CacheBehaviors; cb != nil {
		for i := range cb.Items {
			if aws.ToString(cb.Items[i].PathPattern) == t.Slot {
				return cb.Items[i].TargetOriginId, nil
			}
			patterns = append(patterns, aws.ToString(cb.Items[i].PathPattern))
		}
	}
	return nil, fmt.Errorf("%s: %w: distribution %s has no cache behaviour for path pattern %q (it has: %s; \"*\" is the default)",
		t, rollback.ErrNotFound, t.Resource, t.Slot, strings.Join(patterns, ", "))
}

func behaviorOrigin(t target.Target, cfg *types.DistributionConfig) (string, error) {
	p, err := behavior(t, cfg)
	if err != nil {
		return "", err
	}
	return aws.ToString(p), nil
}

// setBehaviorOrigin points the target's behaviour at origin inside cfg.
func setBehaviorOrigin(t target.Target, cfg *types.DistributionConfig, origin string) error {
	if t.IsDefaultBehavior() {
		cfg.DefaultCacheBehavior.TargetOriginId = aws.String(origin)
		return nil
	}
	for i := range cfg.CacheBehaviors.Items {
		if aws.ToString(cfg.CacheBehaviors.Items[i].PathPattern) == t.Slot {
			cfg.CacheBehaviors.Items[i].TargetOriginId = aws.String(origin)
			return nil
		}
	}
	return fmt.Errorf("%s: no cache behaviour for path pattern %q", t, t.Slot)
}

func originIDs(cfg *types.DistributionConfig) []string {
	var ids []string
	if cfg.Origins != nil {
		for _, o := range cfg.Origins.Items {
			ids = append(ids, aws.ToString(o.Id))
		}
	}
	if cfg.OriginGroups != nil {
		for _, g := range cfg.OriginGroups.Items {
			ids = append(ids, aws.ToString(g.Id))
		}
	}
	return ids
}

// history lists what the behaviour can be switched to: the origins and origin groups. CloudFront
// keeps no dates for them, so only a pinned legacy origin or a named one can be chosen.
func history(cfg *types.DistributionConfig) []rollback.Deployment {
	var out []rollback.Deployment
	if cfg.Origins != nil {
		for _, o := range cfg.Origins.Items {
			out = append(out, rollback.Deployment{ID: aws.ToString(o.Id), Description: aws.ToString(o.DomainName) + aws.ToString(o.OriginPath)})
		}
	}
	if cfg.OriginGroups != nil {
		for _, g := range cfg.OriginGroups.Items {
			out = append(out, rollback.Deployment{ID: aws.ToString(g.Id), Description: "origin group"})
		}
	}
	return out
}

// Switch implements rollback.Strategy: GetDistributionConfig, change the one behaviour,
// UpdateDistribution with If-Match. The behaviour must still route to what the decision was made on
// (else rollback.ErrChanged); a 412 (someone changed the distribution in between) reads it again.
func (s *Strategy) Switch(ctx context.Context, t target.Target, p rollback.Plan) error {
	var lastErr error
	for range writeAttempts {
		out, err := s.api.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: &t.Resource})
		if err != nil {
			return fmt.Errorf("distribution %s: get distribution config: %w", t.Resource, classify(err))
		}
		cfg := out.DistributionConfig
		if cfg == nil || aws.ToString(out.ETag) == "" {
			return fmt.Errorf("distribution %s: answered no configuration or no ETag", t.Resource)
		}
		live, err := behaviorOrigin(t, cfg)
		if err != nil {
			return err
		}
		if live == p.To {
			// Already done: this very write landed and its answer was lost (the SDK's retry then
			// carried the ETag from before it, 412).
			return nil
		}
		if live != p.From {
			return fmt.Errorf("%s: switch %s -> %s: %w: the behaviour now routes to %s", t, p.From, p.To, rollback.ErrChanged, live)
		}
		if !slices.Contains(originIDs(cfg), p.To) {
			return fmt.Errorf("%s: switch %s -> %s: %w: the distribution has no origin %s", t, p.From, p.To, rollback.ErrNotFound, p.To)
		}
		if err := setBehaviorOrigin(t, cfg, p.To); err != nil {
			return err
		}
		_, err = s.api.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: &t.Resource, IfMatch: out.ETag, DistributionConfig: cfg})
		var pf *types.PreconditionFailed
		if errors.As(err, &pf) {
			lastErr = err
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: switch %s -> %s: update distribution: %w", t, p.From, p.To, classify(err))
		}
		return nil
	}
	return fmt.Errorf("%s: switch %s -> %s: %w: the distribution kept changing between read and write (%d attempts): %w", t, p.From, p.To, rollback.ErrChanged, writeAttempts, lastErr)
}

// classify marks AWS's "does not exist" answers so callers can tell them apart with errors.Is.
func classify(err error) error {
	var nd *types.NoSuchDistribution
	var no *types.NoSuchOrigin
	if errors.As(err, &nd) || errors.As(err, &no) {
		return fmt.Errorf("%w: %w", rollback.ErrNotFound, err)
	}
	return err
}
