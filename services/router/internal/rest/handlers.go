package rest

import (
	"net/http"

	"github.com/shoaldb/shoal/pkg/pointid"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

func (s *Server) listCollections(_ *http.Request, _ []byte) (any, error) {
	names := s.svc.ListCollections()
	list := make([]map[string]string, len(names))
	for i, n := range names {
		list[i] = map[string]string{"name": n}
	}
	return map[string]any{"collections": list}, nil
}

func (s *Server) getCollection(r *http.Request, _ []byte) (any, error) {
	info, err := s.svc.GetCollection(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return collectionInfoJSON(info), nil
}

func (s *Server) createCollection(r *http.Request, body []byte) (any, error) {
	req, err := decodeCreateCollection(r.PathValue("name"), body)
	if err != nil {
		return nil, err
	}
	if err := s.svc.CreateCollection(r.Context(), req); err != nil {
		return nil, err
	}
	return true, nil
}

func (s *Server) deleteCollection(r *http.Request, _ []byte) (any, error) {
	return s.svc.DeleteCollection(r.Context(), r.PathValue("name"))
}

func (s *Server) collectionExists(r *http.Request, _ []byte) (any, error) {
	return map[string]bool{"exists": s.svc.CollectionExists(r.PathValue("name"))}, nil
}

func (s *Server) upsertPoints(r *http.Request, body []byte) (any, error) {
	wait, err := writeParams(r)
	if err != nil {
		return nil, err
	}
	req, err := decodeUpsert(body)
	if err != nil {
		return nil, err
	}
	res, err := s.svc.Upsert(r.Context(), r.PathValue("name"), req, wait)
	if err != nil {
		return nil, err
	}
	return updateResultJSON(res), nil
}

// writeParams decodes the query parameters of a write: wait and ordering.
func writeParams(r *http.Request) (bool, error) {
	if err := checkOrdering(r); err != nil {
		return false, err
	}
	return queryBool(r, "wait")
}

func (s *Server) retrievePoints(r *http.Request, body []byte) (any, error) {
	ids, opt, sel, err := decodeRetrieve(body)
	if err != nil {
		return nil, err
	}
	recs, err := s.svc.RetrieveFrom(r.Context(), r.PathValue("name"), sel, ids, opt)
	if err != nil {
		return nil, err
	}
	return recordsJSON(recs), nil
}

func (s *Server) getPoint(r *http.Request, _ []byte) (any, error) {
	id, err := pointid.ParseString(r.PathValue("id"))
	if err != nil {
		return nil, apierr.New(apierr.BadRequest, "Format error in path: %v", err)
	}
	rec, err := s.svc.GetPoint(r.Context(), r.PathValue("name"), id)
	if err != nil {
		return nil, err
	}
	return recordJSON{ID: idJSON(rec.ID), Payload: payloadJSON(rec.Payload), Vector: vectorJSON(rec.Vectors)}, nil
}

func (s *Server) deletePoints(r *http.Request, body []byte) (any, error) {
	wait, err := writeParams(r)
	if err != nil {
		return nil, err
	}
	sel, err := decodePointsSelector(body)
	if err != nil {
		return nil, err
	}
	res, err := s.svc.DeletePoints(r.Context(), r.PathValue("name"), sel, wait)
	if err != nil {
		return nil, err
	}
	return updateResultJSON(res), nil
}

func (s *Server) searchPoints(r *http.Request, body []byte) (any, error) {
	req, err := decodeSearch(body)
	if err != nil {
		return nil, err
	}
	hits, err := s.svc.Search(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return nil, err
	}
	return scoredPointsJSON(hits), nil
}

func (s *Server) queryPoints(r *http.Request, body []byte) (any, error) {
	req, err := decodeQuery(body)
	if err != nil {
		return nil, err
	}
	hits, err := s.svc.Query(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return nil, err
	}
	return map[string]any{"points": scoredPointsJSON(hits)}, nil
}

func (s *Server) scrollPoints(r *http.Request, body []byte) (any, error) {
	req, err := decodeScroll(body)
	if err != nil {
		return nil, err
	}
	page, err := s.svc.Scroll(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return nil, err
	}
	return map[string]any{"points": recordsJSON(page.Points), "next_page_offset": idJSON(page.NextOffset)}, nil
}

func (s *Server) countPoints(r *http.Request, body []byte) (any, error) {
	req, err := decodeCount(body)
	if err != nil {
		return nil, err
	}
	n, err := s.svc.Count(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return nil, err
	}
	return map[string]uint64{"count": n}, nil
}
