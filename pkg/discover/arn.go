package discover

import (
	"fmt"
	"strings"

	"github.com/rewind-sre/rewind/pkg/target"
)

// Resource types of the stages discovery asks the Resource Groups Tagging API for: service and
// resource type as the stage ARNs spell them (arn:aws:apigateway:REGION::/restapis/ID/stages/NAME and
// .../apis/ID/stages/NAME, "Amazon API Gateway ARN reference").
const (
	TypeRESTStage = "apigateway:restapis/stages"
	TypeHTTPStage = "apigateway:apis/stages"
)

// typeOf is the resource type filter for a kind of selector.
func typeOf(k target.Kind) string {
	if k == target.KindHTTPStage {
		return TypeHTTPStage
	}
	return TypeRESTStage
}

// stageARN is what a stage ARN says.
type stageARN struct {
	region string
	kind   target.Kind
	api    string
	stage  string
}

// parseStageARN reads arn:PARTITION:apigateway:REGION::/restapis/ID/stages/NAME (a REST stage) or
// .../apis/ID/stages/NAME (an HTTP API stage). Anything else is an error naming it: the filter asked
// for stages only, so another shape is not a stage Rewind can move.
func parseStageARN(arn string) (stageARN, error) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" || !strings.HasPrefix(f[1], "aws") || f[2] != "apigateway" || f[3] == "" || f[4] != "" {
		return stageARN{}, fmt.Errorf("resource %s: not an API Gateway stage ARN (want arn:aws:apigateway:REGION::/restapis/ID/stages/NAME)", quote(arn))
	}
	seg := strings.Split(f[5], "/")
	if len(seg) != 5 || seg[0] != "" || seg[3] != "stages" {
		return stageARN{}, fmt.Errorf("resource %s: not a stage (want /restapis/ID/stages/NAME or /apis/ID/stages/NAME)", quote(arn))
	}
	a := stageARN{region: f[3], api: seg[2], stage: seg[4]}
	switch seg[1] {
	case "restapis":
		a.kind = target.KindRESTStage
	case "apis":
		a.kind = target.KindHTTPStage
	default:
		return stageARN{}, fmt.Errorf("resource %s: not a REST or HTTP API stage", quote(arn))
	}
	okStage := target.ValidStage(a.stage) || (a.kind == target.KindHTTPStage && a.stage == target.HTTPDefaultStage)
	if !target.ValidID(a.api) || !okStage {
		return stageARN{}, fmt.Errorf("resource %s: API id or stage name outside what Rewind accepts", quote(arn))
	}
	return a, nil
}
