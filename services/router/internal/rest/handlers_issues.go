package rest

import (
	"net/http"
	"time"

	"github.com/shoaldb/shoal/services/router/internal/service"
)

// getIssues is GET /issues: {"issues": [Issue]} with Qdrant's issue
// fields; the solution is a "refactor" advice.
func (s *Server) getIssues(r *http.Request, _ []byte) (any, error) {
	return issuesJSON(s.svc.Issues(r.Context())), nil
}

// clearIssues is DELETE /issues (see service.ClearIssues).
func (s *Server) clearIssues(r *http.Request, _ []byte) (any, error) {
	s.svc.ClearIssues(r.Context())
	return true, nil
}

func issuesJSON(issues []service.Issue) map[string]any {
	out := make([]map[string]any, 0, len(issues))
	for _, is := range issues {
		var solution any = "none"
		if is.Solution != "" {
			solution = map[string]any{"refactor": is.Solution}
		}
		var coll any
		if is.Collection != "" {
			coll = is.Collection
		}
		out = append(out, map[string]any{
			"id":                 is.ID,
			"description":        is.Description,
			"solution":           solution,
			"timestamp":          is.Timestamp.Format(time.RFC3339Nano),
			"related_collection": coll,
		})
	}
	return map[string]any{"issues": out}
}
