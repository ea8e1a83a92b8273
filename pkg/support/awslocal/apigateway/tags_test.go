package apigateway_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"
)

func TestTagsRoundTripOnAStageARN(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	arn := "arn:aws:apigateway:us-east-1::/restapis/" + e.api.ID + "/stages/prod"
	tags := map[string]string{"team": "users", "rewind:last": "deploy/a=b+c-d@e.f_g", "spaced key": "spaced value", "empty": ""}
	if _, err := e.client.TagResource(ctx, &apigateway.TagResourceInput{ResourceArn: aws.String(arn), Tags: tags}); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.GetTags(ctx, &apigateway.GetTagsInput{ResourceArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Tags, tags) {
		t.Errorf("tags = %v, want %v", got.Tags, tags)
	}
	if st := e.stage(t, "prod"); !maps.Equal(st.Tags, tags) {
		t.Errorf("stage tags = %v", st.Tags)
	}
	stage, err := e.client.GetStage(ctx, &apigateway.GetStageInput{RestApiId: &e.api.ID, StageName: aws.String("prod")})
	if err != nil || !maps.Equal(stage.Tags, tags) {
		t.Errorf("GetStage tags = %v (%v)", stage.Tags, err)
	}

	if _, err := e.client.UntagResource(ctx, &apigateway.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"team", "spaced key", "never-there"}}); err != nil {
		t.Fatal(err)
	}
	got, err = e.client.GetTags(ctx, &apigateway.GetTagsInput{ResourceArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Tags, map[string]string{"rewind:last": "deploy/a=b+c-d@e.f_g", "empty": ""}) {
		t.Errorf("after untag: %v", got.Tags)
	}
	if e.gw.Writes() != 2 {
		t.Errorf("writes = %d, want 2", e.gw.Writes())
	}

	// The API itself is taggable too, separately from its stages.
	apiARN := "arn:aws:apigateway:us-east-1::/restapis/" + e.api.ID
	if _, err := e.client.TagResource(ctx, &apigateway.TagResourceInput{ResourceArn: aws.String(apiARN), Tags: map[string]string{"owner": "sre"}}); err != nil {
		t.Fatal(err)
	}
	apiTags, err := e.client.GetTags(ctx, &apigateway.GetTagsInput{ResourceArn: aws.String(apiARN)})
	if err != nil || !maps.Equal(apiTags.Tags, map[string]string{"owner": "sre"}) {
		t.Errorf("API tags = %v (%v)", apiTags.Tags, err)
	}
}

func TestTagsAreValidated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	arn := aws.String("arn:aws:apigateway:us-east-1::/restapis/" + e.api.ID + "/stages/prod")
	for _, tags := range []map[string]string{
		{"aws:owner": "x"},
		{"AWS:owner": "x"},
		{"": "x"},
		{strings.Repeat("k", 129): "x"},
		{"k": strings.Repeat("v", 257)},
		{"k": "semi;colon"},
		{"k": "comma,separated"},
		{"k#": "v"},
	} {
		_, err := e.client.TagResource(ctx, &apigateway.TagResourceInput{ResourceArn: arn, Tags: tags})
		wantBadRequest(t, err, "")
	}
	_, err := e.client.TagResource(ctx, &apigateway.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"aws:x": "y"}})
	wantBadRequest(t, err, "Invalid tag key. Tag keys cannot start with 'aws:' (case insensitive)")
	if st := e.stage(t, "prod"); len(st.Tags) != 0 {
		t.Errorf("refused tags were stored: %v", st.Tags)
	}
	// Longest allowed key and value.
	ok := map[string]string{strings.Repeat("k", 128): strings.Repeat("v", 256)}
	if _, err := e.client.TagResource(ctx, &apigateway.TagResourceInput{ResourceArn: arn, Tags: ok}); err != nil {
		t.Errorf("128/256 refused: %v", err)
	}
}

func TestTagsOnMissingOrMalformedResources(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var nf *types.NotFoundException
	_, err := e.client.GetTags(ctx, &apigateway.GetTagsInput{ResourceArn: aws.String("arn:aws:apigateway:us-east-1::/restapis/" + e.api.ID + "/stages/gone")})
	if !errors.As(err, &nf) {
		t.Errorf("missing stage: %v", err)
	}
	_, err = e.client.GetTags(ctx, &apigateway.GetTagsInput{ResourceArn: aws.String("arn:aws:apigateway:us-east-1::/restapis/zzzzzzzzzz")})
	if !errors.As(err, &nf) {
		t.Errorf("missing API: %v", err)
	}
	for _, arn := range []string{
		"not-an-arn",
		"arn:aws:apigateway:eu-west-1::/restapis/" + e.api.ID, // another region
		"arn:aws:lambda:us-east-1:123456789012:function:f",
		"arn:aws:apigateway:us-east-1::/restapis/" + e.api.ID + "/deployments/" + e.deps[0].ID,
	} {
		_, err := e.client.GetTags(ctx, &apigateway.GetTagsInput{ResourceArn: aws.String(arn)})
		wantBadRequest(t, err, "")
	}
}
