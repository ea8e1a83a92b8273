package apigateway

import (
	"maps"
	"net/http"
	"strings"
)

// Tags: GetTags, TagResource and UntagResource, on a REST API or a stage by its ARN.

// taggable resolves a resource ARN to the tags of the API or stage it names. The forms are the
// ones the API reference gives for API Gateway resources:
// arn:aws:apigateway:{region}::/restapis/{id} and arn:aws:apigateway:{region}::/restapis/{id}/stages/{stage}.
// The error for a malformed ARN is AWS's wording as far as it could be found; not checked.
func (s *Server) taggable(arn string) (*map[string]string, *Error) {
	bad := errBadRequest("Invalid ARN specified in the request: %s", arn)
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "apigateway" || parts[3] != s.region || parts[4] != "" {
		return nil, bad
	}
	seg := strings.Split(parts[5], "/")
	if len(seg) < 3 || seg[0] != "" || seg[1] != "restapis" {
		return nil, bad
	}
	a, err := s.apiLocked(seg[2])
	if err != nil {
		return nil, err
	}
	switch {
	case len(seg) == 3:
		return &a.tags, nil
	case len(seg) == 5 && seg[3] == "stages":
		st, ok := a.stages[seg[4]]
		if !validStageName(seg[4]) || !ok {
			return nil, errNoStage
		}
		return &st.Tags, nil
	}
	return nil, bad
}

func (s *Server) getTags(r *http.Request) (reply, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tags, err := s.taggable(r.PathValue("resourceArn"))
	if err != nil {
		return reply{}, err
	}
	out := tagsJSON{Tags: maps.Clone(*tags)}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	return reply{status: http.StatusOK, body: out}, nil
}

func (s *Server) tagResource(r *http.Request) (reply, *Error) {
	var in tagsJSON
	if err := readJSON(r, &in); err != nil {
		return reply{}, err
	}
	if err := checkTags(in.Tags); err != nil {
		return reply{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tags, err := s.taggable(r.PathValue("resourceArn"))
	if err != nil {
		return reply{}, err
	}
	merged := maps.Clone(*tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, in.Tags)
	if len(merged) > maxTags {
		return reply{}, errBadRequest("Too many tags: a resource can have at most %d tags", maxTags)
	}
	*tags = merged
	return reply{status: http.StatusNoContent, write: true}, nil
}

func (s *Server) untagResource(r *http.Request) (reply, *Error) {
	keys := r.URL.Query()["tagKeys"]
	if len(keys) == 0 {
		return reply{}, errBadRequest("tagKeys must be specified")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tags, err := s.taggable(r.PathValue("resourceArn"))
	if err != nil {
		return reply{}, err
	}
	for _, k := range keys {
		delete(*tags, k)
	}
	return reply{status: http.StatusNoContent, write: true}, nil
}
