package apigateway_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
)

// Eight clients update one stage at once while others read it; run under -race. Every update must
// land whole: its variable set and its deployment switch together, none lost.
func TestConcurrentUpdatesOfOneStage(t *testing.T) {
	e := newEnv(t)
	const workers, each = 8, 15
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				dep := e.deps[(w+i)%len(e.deps)].ID
				out, err := e.update("prod", replace("/deploymentId", dep), replace(fmt.Sprintf("/variables/w%d", w), fmt.Sprint(i)))
				if err != nil {
					errs <- err
					continue
				}
				// The answer is the stage as this call left it: its own writes are in it.
				if out.Variables[fmt.Sprintf("w%d", w)] != fmt.Sprint(i) {
					errs <- fmt.Errorf("worker %d update %d: answer has %v", w, i, out.Variables)
				}
			}
		})
		wg.Go(func() {
			for range each {
				if _, err := e.client.GetStage(ctx, &apigateway.GetStageInput{RestApiId: &e.api.ID, StageName: aws.String("prod")}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := e.stage(t, "prod")
	for w := range workers {
		if got := st.Variables[fmt.Sprintf("w%d", w)]; got != fmt.Sprint(each-1) {
			t.Errorf("w%d = %q, want its last write %d", w, got, each-1)
		}
	}
	if e.gw.Writes() != workers*each || e.gw.CallCount("UpdateStage") != workers*each {
		t.Errorf("writes %d, UpdateStage calls %d, want %d", e.gw.Writes(), e.gw.CallCount("UpdateStage"), workers*each)
	}
}
