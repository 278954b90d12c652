package rest

import (
	"net/http"

	"github.com/shoaldb/shoal/services/router/internal/service"
)

// updateHandler adapts a point update: it decodes the write parameters
// (wait, ordering) and encodes the UpdateResult.
func (s *Server) updateHandler(do func(r *http.Request, body []byte, wait bool) (service.UpdateResult, error)) apiHandler {
	return func(r *http.Request, body []byte) (any, error) {
		wait, err := writeParams(r)
		if err != nil {
			return nil, err
		}
		res, err := do(r, body, wait)
		if err != nil {
			return nil, err
		}
		return updateResultJSON(res), nil
	}
}

func (s *Server) setPayload(r *http.Request, body []byte, wait bool) (service.UpdateResult, error) {
	req, err := decodeSetPayload(body)
	if err != nil {
		return service.UpdateResult{}, err
	}
	return s.svc.SetPayload(r.Context(), r.PathValue("name"), req, wait)
}

func (s *Server) overwritePayload(r *http.Request, body []byte, wait bool) (service.UpdateResult, error) {
	req, err := decodeSetPayload(body)
	if err != nil {
		return service.UpdateResult{}, err
	}
	return s.svc.OverwritePayload(r.Context(), r.PathValue("name"), req, wait)
}

func (s *Server) deletePayload(r *http.Request, body []byte, wait bool) (service.UpdateResult, error) {
	req, err := decodeDeletePayload(body)
	if err != nil {
		return service.UpdateResult{}, err
	}
	return s.svc.DeletePayload(r.Context(), r.PathValue("name"), req, wait)
}

func (s *Server) clearPayload(r *http.Request, body []byte, wait bool) (service.UpdateResult, error) {
	sel, err := decodePointsSelector(body)
	if err != nil {
		return service.UpdateResult{}, err
	}
	return s.svc.ClearPayload(r.Context(), r.PathValue("name"), sel, wait)
}

func (s *Server) updateVectors(r *http.Request, body []byte, wait bool) (service.UpdateResult, error) {
	req, err := decodeUpdateVectors(body)
	if err != nil {
		return service.UpdateResult{}, err
	}
	return s.svc.UpdateVectors(r.Context(), r.PathValue("name"), req, wait)
}

func (s *Server) deleteVectors(r *http.Request, body []byte, wait bool) (service.UpdateResult, error) {
	req, err := decodeDeleteVectors(body)
	if err != nil {
		return service.UpdateResult{}, err
	}
	return s.svc.DeleteVectors(r.Context(), r.PathValue("name"), req, wait)
}

func (s *Server) createIndex(r *http.Request, body []byte, wait bool) (service.UpdateResult, error) {
	field, schema, err := decodeCreateIndex(body)
	if err != nil {
		return service.UpdateResult{}, err
	}
	return s.svc.CreateFieldIndex(r.Context(), r.PathValue("name"), field, schema, wait)
}

func (s *Server) deleteIndex(r *http.Request, _ []byte, wait bool) (service.UpdateResult, error) {
	return s.svc.DeleteFieldIndex(r.Context(), r.PathValue("name"), r.PathValue("field"), wait)
}

func (s *Server) batchUpdate(r *http.Request, body []byte) (any, error) {
	wait, err := writeParams(r)
	if err != nil {
		return nil, err
	}
	ops, err := decodeBatch(body)
	if err != nil {
		return nil, err
	}
	results, err := s.svc.BatchUpdate(r.Context(), r.PathValue("name"), ops, wait)
	if err != nil {
		return nil, err
	}
	out := make([]updateJSON, len(results))
	for i, res := range results {
		out[i] = updateResultJSON(res)
	}
	return out, nil
}
