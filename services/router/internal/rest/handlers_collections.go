package rest

import (
	"net/http"

	"github.com/shoaldb/shoal/services/router/internal/service"
)

func (s *Server) updateCollection(r *http.Request, body []byte) (any, error) {
	req, err := decodeUpdateCollection(r.PathValue("name"), body)
	if err != nil {
		return nil, err
	}
	if err := s.svc.UpdateCollection(r.Context(), req); err != nil {
		return nil, err
	}
	return true, nil
}

func (s *Server) updateAliases(r *http.Request, body []byte) (any, error) {
	actions, err := decodeAliases(body)
	if err != nil {
		return nil, err
	}
	if err := s.svc.UpdateAliases(r.Context(), actions); err != nil {
		return nil, err
	}
	return true, nil
}

func (s *Server) listAliases(r *http.Request, _ []byte) (any, error) {
	list, err := s.svc.ListAliases(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"aliases": aliasesJSON(list)}, nil
}

// aliasJSON is AliasDescription.
type aliasJSON struct {
	AliasName      string `json:"alias_name"`
	CollectionName string `json:"collection_name"`
}

func aliasesJSON(list []service.AliasDescription) []aliasJSON {
	out := make([]aliasJSON, len(list))
	for i, a := range list {
		out[i] = aliasJSON{AliasName: a.Alias, CollectionName: a.Collection}
	}
	return out
}
