package apigateway

import (
	"maps"

	"github.com/rewind-sre/rewind/pkg/support/awslocal/tagging"
)

// TaggedResources lists every REST API and stage that has tags, by ARN, for the local Tagging API
// (tagging.Source): what TagResource, UntagResource, CreateStage's tags and DeleteStage did shows
// there at once.
func (s *Server) TaggedResources() []tagging.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []tagging.Resource
	for id, a := range s.apis {
		base := "arn:aws:apigateway:" + s.region + "::/restapis/" + id
		if len(a.tags) > 0 {
			out = append(out, tagging.Resource{ARN: base, Tags: maps.Clone(a.tags)})
		}
		for name, st := range a.stages {
			if len(st.Tags) > 0 {
				out = append(out, tagging.Resource{ARN: base + "/stages/" + name, Tags: maps.Clone(st.Tags)})
			}
		}
	}
	return out
}

// DeleteStage removes a stage out of band (a person's delete in the console): no faults, not in
// Calls or Writes.
func (s *Server) DeleteStage(apiID, stage string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, _, err := s.stageLocked(apiID, stage)
	if err != nil {
		return err
	}
	delete(a.stages, stage)
	return nil
}
