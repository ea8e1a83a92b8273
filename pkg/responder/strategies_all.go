//go:build !rewind_rest_only

package responder

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/rewind-sre/rewind/pkg/rollback"
	"github.com/rewind-sre/rewind/pkg/rollback/cfbehavior"
	"github.com/rewind-sre/rewind/pkg/rollback/httpstage"
	"github.com/rewind-sre/rewind/pkg/rollback/lambdaalias"
	"github.com/rewind-sre/rewind/pkg/target"
)

// optionalStrategies are the kinds beyond the REST stage, each with its own client. A build with
// the rewind_rest_only tag (make build STRATEGIES=rest) leaves them, and their clients, out.
var optionalStrategies = map[target.Kind]func(aws.Config) rollback.Strategy{
	target.KindHTTPStage:   func(c aws.Config) rollback.Strategy { return httpstage.New(apigatewayv2.NewFromConfig(c)) },
	target.KindLambdaAlias: func(c aws.Config) rollback.Strategy { return lambdaalias.New(awslambda.NewFromConfig(c)) },
	target.KindCloudFront:  func(c aws.Config) rollback.Strategy { return cfbehavior.New(cloudfront.NewFromConfig(c)) },
}

const buildNote = ""
