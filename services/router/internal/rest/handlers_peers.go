package rest

import (
	"net/http"
	"strconv"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// peerID decodes the {peer_id} path parameter.
func peerID(r *http.Request) (uint64, error) {
	v, err := strconv.ParseUint(r.PathValue("peer_id"), 10, 64)
	if err != nil {
		return 0, apierr.New(apierr.BadRequest, "Path deserialize error: peer_id: invalid digit found in string %q", r.PathValue("peer_id"))
	}
	return v, nil
}

// removePeer is Qdrant's DELETE /cluster/peer/{peer_id}?force=&timeout=
// (timeout is applied to the request's context by apiWithin).
func (s *Server) removePeer(r *http.Request, _ []byte) (any, error) {
	id, err := peerID(r)
	if err != nil {
		return nil, err
	}
	force, err := queryBool(r, "force")
	if err != nil {
		return nil, err
	}
	if err := s.svc.RemovePeer(r.Context(), id, force); err != nil {
		return nil, err
	}
	return true, nil
}

// drainPeer is Shoal's POST /cluster/peer/{peer_id}/drain: the node's
// replicas move to other nodes and it gets no new one.
func (s *Server) drainPeer(r *http.Request, _ []byte) (any, error) {
	id, err := peerID(r)
	if err != nil {
		return nil, err
	}
	if err := s.svc.DrainPeer(r.Context(), id, false); err != nil {
		return nil, err
	}
	return true, nil
}

// undrainPeer is Shoal's DELETE /cluster/peer/{peer_id}/drain: the drain
// stops (replicas already moved stay where they are).
func (s *Server) undrainPeer(r *http.Request, _ []byte) (any, error) {
	id, err := peerID(r)
	if err != nil {
		return nil, err
	}
	if err := s.svc.DrainPeer(r.Context(), id, true); err != nil {
		return nil, err
	}
	return true, nil
}
