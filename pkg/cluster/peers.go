package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// PeersPrefix holds one PeerMark per storage node an administrator
// drained or removed. The keys carry no lease: a mark outlives the
// node's registration.
const PeersPrefix = Prefix + "peers/"

// PeerKey is the key of node id's mark.
func PeerKey(id uint64) string { return PeersPrefix + strconv.FormatUint(id, 10) }

// PeerMarks reads every peer mark, by node id, and the revision they were
// read at. Undecodable marks are skipped.
func PeerMarks(ctx context.Context, cli *clientv3.Client) (map[uint64]*shoalv1.PeerMark, int64, error) {
	resp, err := cli.Get(ctx, PeersPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("read peer marks: %w", err)
	}
	return DecodePeerMarks(resp.Kvs), resp.Header.GetRevision(), nil
}

// DecodePeerMarks decodes the values read under PeersPrefix, by node id;
// undecodable ones are skipped.
func DecodePeerMarks(kvs []*mvccpb.KeyValue) map[uint64]*shoalv1.PeerMark {
	out := make(map[uint64]*shoalv1.PeerMark, len(kvs))
	for _, kv := range kvs {
		id, err := strconv.ParseUint(strings.TrimPrefix(string(kv.Key), PeersPrefix), 10, 64)
		if err != nil {
			continue
		}
		m := &shoalv1.PeerMark{}
		if proto.Unmarshal(kv.Value, m) != nil {
			continue
		}
		out[id] = m
	}
	return out
}
