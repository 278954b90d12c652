package fake

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// holds reports whether a storage node is registered, and whether a shard
// map places a replica on it.
func (m metaAPI) holds(id uint64) (known, replicas bool) {
	_, known = m.c.State.Node(id)
	for _, coll := range m.c.State.Collections() {
		_, sm, _ := m.c.State.Collection(coll.GetName())
		for _, sh := range sm.GetShards() {
			if cluster.FindReplica(sh, id) != nil {
				return true, true
			}
		}
	}
	return known, false
}

// DrainPeer accepts any known node; an unknown one is NotFound.
func (m metaAPI) DrainPeer(_ context.Context, req *connect.Request[shoalv1.DrainPeerRequest]) (*connect.Response[shoalv1.DrainPeerResponse], error) {
	if known, _ := m.holds(req.Msg.GetNodeId()); !known {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Peer %d doesn't exist", req.Msg.GetNodeId()))
	}
	return connect.NewResponse(&shoalv1.DrainPeerResponse{Revision: 1}), nil
}

// RemovePeer refuses a node holding replicas unless forced; an unknown
// node is NotFound. Nothing changes in the fake state.
func (m metaAPI) RemovePeer(_ context.Context, req *connect.Request[shoalv1.RemovePeerRequest]) (*connect.Response[shoalv1.RemovePeerResponse], error) {
	id := req.Msg.GetNodeId()
	known, replicas := m.holds(id)
	switch {
	case !known:
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("Peer %d doesn't exist", id))
	case replicas && !req.Msg.GetForce():
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Bad request: Cannot remove peer %d as there are shards on it", id))
	}
	return connect.NewResponse(&shoalv1.RemovePeerResponse{Revision: 1}), nil
}
