package budget

import (
	"context"

	"github.com/aws/smithy-go/middleware"
)

// middlewareID names the budget's step in an SDK client's stack.
const middlewareID = "RewindControlPlaneBudget"

// AddTo puts the budget in an SDK client's middleware stack, in the Finalize step right after the
// retry middleware ("Retry"), so every attempt (a retry after a 429 too) draws a token, and before
// signing, so a request that waited is signed when it is sent. Its signature is an APIOptions entry:
//
//	apigateway.NewFromConfig(cfg, func(o *apigateway.Options) { o.APIOptions = append(o.APIOptions, b.AddTo) })
//
// or appended to aws.Config.APIOptions for every client built from that config.
func (b *Budget) AddTo(stack *middleware.Stack) error {
	m := middleware.FinalizeMiddlewareFunc(middlewareID, func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
		middleware.FinalizeOutput, middleware.Metadata, error) {
		if err := b.Take(ctx); err != nil {
			return middleware.FinalizeOutput{}, middleware.Metadata{}, err
		}
		return next.HandleFinalize(ctx, in)
	})
	if err := stack.Finalize.Insert(m, "Retry", middleware.After); err == nil {
		return nil
	}
	// A client without the retry middleware: before signing, else first.
	if err := stack.Finalize.Insert(m, "Signing", middleware.Before); err == nil {
		return nil
	}
	return stack.Finalize.Add(m, middleware.Before)
}
