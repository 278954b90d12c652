package rest

import (
	"net/http"

	"github.com/shoaldb/shoal/services/router/internal/apierr"
	"github.com/shoaldb/shoal/services/router/internal/service"
)

// clusterOperations are the members a POST /collections/{name}/cluster
// body may have; exactly one is given.
var clusterOperations = []string{
	service.OpMoveShard, service.OpReplicateShard, service.OpDropReplica, service.OpAbortTransfer, service.OpRestartTransfer,
	service.OpCreateShardingKey, service.OpDropShardingKey, "start_resharding", "abort_resharding", "replicate_points",
}

func (s *Server) updateClusterSetup(r *http.Request, body []byte) (any, error) {
	op, err := decodeClusterOperation(body)
	if err != nil {
		return nil, err
	}
	if err := s.svc.UpdateClusterSetup(r.Context(), r.PathValue("name"), op); err != nil {
		return nil, err
	}
	return true, nil
}

// decodeClusterOperation decodes Qdrant's ClusterOperations body.
func decodeClusterOperation(body []byte) (service.ClusterOperation, error) {
	f, err := object(body, false, clusterOperations...)
	if err != nil {
		return service.ClusterOperation{}, err
	}
	if len(f) != 1 {
		return service.ClusterOperation{}, apierr.Format("Format error in JSON body: expected exactly one of %s", quoteList(clusterOperations))
	}
	var name string
	for k := range f {
		name = k
	}
	op := service.ClusterOperation{Op: name}
	u64 := func(g fields, field string) (uint64, error) {
		v, err := g.uintField(field, 64)
		if err != nil {
			return 0, apierr.Format("Format error in JSON body: %s.%v", name, err)
		}
		if v == nil {
			return 0, apierr.Format("Format error in JSON body: %s: missing field `%s`", name, field)
		}
		return *v, nil
	}
	shard := func(g fields) error {
		v, err := g.uint32Field("shard_id")
		if err != nil {
			return apierr.Format("Format error in JSON body: %s.%v", name, err)
		}
		if v == nil {
			return apierr.Format("Format error in JSON body: %s: missing field `shard_id`", name)
		}
		op.ShardID = *v
		if g.present("to_shard_id") && !isNull(g["to_shard_id"]) {
			return apierr.Unsupported(name + " with to_shard_id (resharding)")
		}
		return nil
	}
	switch name {
	case service.OpMoveShard, service.OpReplicateShard, service.OpRestartTransfer, service.OpAbortTransfer:
		allowed := []string{"shard_id", "to_shard_id", "from_peer_id", "to_peer_id", "method"}
		if name == service.OpAbortTransfer {
			allowed = allowed[:4]
		}
		g, err := members(f[name], name, allowed...)
		if err != nil {
			return op, err
		}
		if err := shard(g); err != nil {
			return op, err
		}
		if op.FromPeerID, err = u64(g, "from_peer_id"); err != nil {
			return op, err
		}
		if op.ToPeerID, err = u64(g, "to_peer_id"); err != nil {
			return op, err
		}
		m, err := g.stringField("method")
		if err != nil {
			return op, apierr.Format("Format error in JSON body: %s.%v", name, err)
		}
		if m != nil {
			op.Method = *m
		} else if name == service.OpRestartTransfer {
			return op, apierr.Format("Format error in JSON body: %s: missing field `method`", name)
		}
	case service.OpDropReplica:
		g, err := members(f[name], name, "shard_id", "peer_id")
		if err != nil {
			return op, err
		}
		if err := shard(g); err != nil {
			return op, err
		}
		if op.PeerID, err = u64(g, "peer_id"); err != nil {
			return op, err
		}
	case service.OpCreateShardingKey:
		g, err := members(f[name], name, createShardingKeyFields...)
		if err != nil {
			return op, err
		}
		op.CreateKey, err = decodeCreateShardingKey(g)
		return op, err
	case service.OpDropShardingKey:
		g, err := members(f[name], name, "shard_key")
		if err != nil {
			return op, err
		}
		op.DropKey, err = requiredShardKey(g)
		return op, err
	default:
		return op, apierr.Unsupported("cluster operation `" + name + "`")
	}
	return op, nil
}
