package rest

import (
	"net/http"

	"github.com/shoaldb/shoal/services/router/internal/service"
)

func (s *Server) queryBatch(r *http.Request, body []byte) (any, error) {
	reqs, err := decodeQueryBatch(body)
	if err != nil {
		return nil, err
	}
	res, err := s.svc.QueryBatch(r.Context(), r.PathValue("name"), reqs)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(res))
	for i, hits := range res {
		out[i] = map[string]any{"points": scoredPointsJSON(hits)}
	}
	return out, nil
}

func (s *Server) searchBatch(r *http.Request, body []byte) (any, error) {
	reqs, err := decodeSearchBatch(body)
	if err != nil {
		return nil, err
	}
	res, err := s.svc.SearchBatch(r.Context(), r.PathValue("name"), reqs)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(res))
	for i, hits := range res {
		out[i] = scoredPointsJSON(hits)
	}
	return out, nil
}

func (s *Server) recommendPoints(r *http.Request, body []byte) (any, error) {
	return s.legacyQuery(r, body, decodeRecommend)
}

func (s *Server) recommendBatch(r *http.Request, body []byte) (any, error) {
	return s.legacyQueryBatch(r, body, decodeRecommendBatch)
}

func (s *Server) discoverPoints(r *http.Request, body []byte) (any, error) {
	return s.legacyQuery(r, body, decodeDiscover)
}

func (s *Server) discoverBatch(r *http.Request, body []byte) (any, error) {
	return s.legacyQueryBatch(r, body, decodeDiscoverBatch)
}

// legacyQuery serves a legacy request (recommend, discover) decoded into
// a query.
func (s *Server) legacyQuery(r *http.Request, body []byte, decode func([]byte) (service.QueryRequest, error)) (any, error) {
	req, err := decode(body)
	if err != nil {
		return nil, err
	}
	hits, err := s.svc.Query(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return nil, err
	}
	return scoredPointsJSON(hits), nil
}

func (s *Server) legacyQueryBatch(r *http.Request, body []byte, decode func([]byte) ([]service.QueryRequest, error)) (any, error) {
	reqs, err := decode(body)
	if err != nil {
		return nil, err
	}
	res, err := s.svc.QueryBatch(r.Context(), r.PathValue("name"), reqs)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(res))
	for i, hits := range res {
		out[i] = scoredPointsJSON(hits)
	}
	return out, nil
}

func (s *Server) groups(decode func([]byte) (service.GroupsRequest, error)) apiHandler {
	return func(r *http.Request, body []byte) (any, error) {
		req, err := decode(body)
		if err != nil {
			return nil, err
		}
		groups, err := s.svc.QueryGroups(r.Context(), r.PathValue("name"), req)
		if err != nil {
			return nil, err
		}
		return groupsJSON(groups), nil
	}
}

func (s *Server) facet(r *http.Request, body []byte) (any, error) {
	req, err := decodeFacet(body)
	if err != nil {
		return nil, err
	}
	hits, err := s.svc.Facet(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return nil, err
	}
	return facetJSON(hits), nil
}

func (s *Server) matrix(offsets bool) apiHandler {
	return func(r *http.Request, body []byte) (any, error) {
		req, err := decodeMatrix(body)
		if err != nil {
			return nil, err
		}
		ids, pairs, err := s.svc.SearchMatrix(r.Context(), r.PathValue("name"), req)
		if err != nil {
			return nil, err
		}
		if offsets {
			return matrixOffsetsJSON(ids, pairs), nil
		}
		return matrixPairsJSON(pairs), nil
	}
}
