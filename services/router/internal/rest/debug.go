package rest

import (
	"net/http"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// digests is the Shoal extension GET /debug/collections/{name}/digests:
// every replica of every shard with its digest (or the error that
// prevented it), and per shard whether all its ACTIVE replicas agree.
func (s *Server) digests(r *http.Request, _ []byte) (any, error) {
	name := r.PathValue("name")
	shards, err := s.svc.Digests(r.Context(), name)
	if err != nil {
		return nil, err
	}
	outShards := make([]map[string]any, 0, len(shards))
	for _, sd := range shards {
		replicas := make([]map[string]any, 0, len(sd.Replicas))
		agreed, consistent := "", true
		for _, rd := range sd.Replicas {
			rep := map[string]any{"peer_id": rd.Node, "state": service.ReplicaStateName(rd.State), "primary": rd.Primary}
			if rd.Err != nil {
				rep["error"] = apierr.As(rd.Err).Msg
			} else {
				rep["last_term"] = rd.Digest.GetLastTerm()
				rep["last_seq"] = rd.Digest.GetLastSeq()
				rep["points"] = rd.Digest.GetPoints()
				rep["digest"] = rd.Digest.GetDigest()
			}
			if rd.State == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
				switch {
				case rd.Err != nil:
					consistent = false
				case agreed == "":
					agreed = rd.Digest.GetDigest()
				case agreed != rd.Digest.GetDigest():
					consistent = false
				}
			}
			replicas = append(replicas, rep)
		}
		outShards = append(outShards, map[string]any{"shard_id": sd.Shard, "term": sd.Term, "replicas": replicas, "consistent": consistent})
	}
	return map[string]any{"collection": name, "shards": outShards}, nil
}
