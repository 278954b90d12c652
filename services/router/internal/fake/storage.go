package fake

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// Storage is an in-memory storage node (shoalv1connect.StorageServiceClient):
// replicas keyed by collection uid and shard, exact search, scroll by id.
// Set Down to make every call fail with Unavailable, as an unreachable
// node does. Distances come from the State's collection configs.
type Storage struct {
	NodeID uint64
	State  *State

	mu       sync.Mutex
	down     bool
	replicas map[string]map[string]*shoalv1.Point // "uid/shard" → key → point
	indexes  map[string]map[string]string         // "uid/shard" → field → schema JSON
	seq      uint64
	calls    map[string]int
	// noUpdate makes Update and Info answer Unimplemented, as a storage
	// node of an older version does.
	noUpdate bool
	// rateLimited makes writes answer ResourceExhausted.
	rateLimited bool
	// noLease makes writes answer Unavailable with the no-lease kind.
	noLease bool
	// hang makes writes wait for their context's end, as a stopped
	// (SIGSTOP) node's do.
	hang bool
	// peer returns another node of the cluster (for replication).
	peer func(id uint64) *Storage
	// called is closed (and replaced) at every call.
	called chan struct{}
}

// NewStorage returns an empty node.
func NewStorage(id uint64, st *State) *Storage {
	return &Storage{NodeID: id, State: st, replicas: map[string]map[string]*shoalv1.Point{}, indexes: map[string]map[string]string{}, calls: map[string]int{}, called: make(chan struct{})}
}

// SetDown stops or restarts the node.
func (s *Storage) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Calls returns how many calls of a method the node answered or refused.
func (s *Storage) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Points returns the number of points the node holds for a shard.
func (s *Storage) Points(uid string, shard uint32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.replicas[fmt.Sprintf("%s/%d", uid, shard)])
}

// enter counts the call and returns the replica, or Unavailable when down.
func (s *Storage) enter(method string, ref *shoalv1.ShardRef) (map[string]*shoalv1.Point, error) {
	s.calls[method]++
	close(s.called)
	s.called = make(chan struct{})
	if s.down {
		return nil, connect.NewError(connect.CodeUnavailable, ErrDown)
	}
	key := fmt.Sprintf("%s/%d", ref.GetUid(), ref.GetShardId())
	r, ok := s.replicas[key]
	if !ok {
		r = map[string]*shoalv1.Point{}
		s.replicas[key] = r
	}
	return r, nil
}

// Upsert implements StorageServiceClient; see write.
func (s *Storage) Upsert(ctx context.Context, req *connect.Request[shoalv1.UpsertRequest]) (*connect.Response[shoalv1.UpdateResponse], error) {
	return s.write(ctx, "Upsert", req.Msg.Shard, req.Msg.Term, req.Msg.Wait, func(_ *Storage, r map[string]*shoalv1.Point, version uint64) error {
		for _, p := range req.Msg.Points {
			c := proto.Clone(p).(*shoalv1.Point)
			c.Version = version
			r[string(pointid.Key(p.Id))] = c
		}
		return nil
	})
}

// DeletePoints implements StorageServiceClient; see write.
func (s *Storage) DeletePoints(ctx context.Context, req *connect.Request[shoalv1.DeletePointsRequest]) (*connect.Response[shoalv1.UpdateResponse], error) {
	return s.write(ctx, "DeletePoints", req.Msg.Shard, req.Msg.Term, req.Msg.Wait, func(_ *Storage, r map[string]*shoalv1.Point, _ uint64) error {
		for _, id := range req.Msg.Ids {
			delete(r, string(pointid.Key(id)))
		}
		return nil
	})
}

// project copies a point with the selected payload and vectors.
func project(p *shoalv1.Point, withPayload bool, wv *shoalv1.WithVector) *shoalv1.Point {
	out := &shoalv1.Point{Id: p.Id, Version: p.Version}
	if withPayload {
		out.Payload = p.Payload
	}
	if wv != nil {
		out.Vectors = map[string]*shoalv1.Vector{}
		for name, v := range p.Vectors {
			if wv.All || contains(wv.Names, name) {
				out.Vectors[name] = v
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// GetPoints implements StorageServiceClient.
func (s *Storage) GetPoints(_ context.Context, req *connect.Request[shoalv1.GetPointsRequest]) (*connect.Response[shoalv1.GetPointsResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.enter("GetPoints", req.Msg.Shard)
	if err != nil {
		return nil, err
	}
	resp := &shoalv1.GetPointsResponse{}
	for _, id := range req.Msg.Ids {
		if p, ok := r[string(pointid.Key(id))]; ok {
			resp.Points = append(resp.Points, project(p, req.Msg.WithPayload, req.Msg.WithVector))
		}
	}
	return connect.NewResponse(resp), nil
}

// Search implements StorageServiceClient with an exact scan.
func (s *Storage) Search(_ context.Context, req *connect.Request[shoalv1.SearchRequest]) (*connect.Response[shoalv1.SearchResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.enter("Search", req.Msg.Shard)
	if err != nil {
		return nil, err
	}
	c, _, ok := s.State.Collection(req.Msg.Shard.GetCollection())
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("collection %s", req.Msg.Shard.GetCollection()))
	}
	params, ok := c.Config.Vectors[req.Msg.Using]
	if !ok {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("Not existing vector name error: %s", req.Msg.Using))
	}
	higher := params.Distance != shoalv1.Distance_DISTANCE_EUCLID && params.Distance != shoalv1.Distance_DISTANCE_MANHATTAN
	var hits []*shoalv1.ScoredPoint
	match, err := compileFilter(req.Msg.Filter)
	if err != nil {
		return nil, err
	}
	for _, p := range r {
		v, ok := p.Vectors[req.Msg.Using]
		if !ok || !match(p) {
			continue
		}
		score := Score(params.Distance, req.Msg.Vector.GetData(), v.Data)
		if t := req.Msg.ScoreThreshold; t != nil && ((higher && score < *t) || (!higher && score > *t)) {
			continue
		}
		hits = append(hits, &shoalv1.ScoredPoint{Point: project(p, req.Msg.WithPayload, req.Msg.WithVector), Score: score})
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return (hits[i].Score > hits[j].Score) == higher
		}
		return pointid.Compare(hits[i].Point.Id, hits[j].Point.Id) < 0
	})
	if len(hits) > int(req.Msg.Limit) {
		hits = hits[:req.Msg.Limit]
	}
	return connect.NewResponse(&shoalv1.SearchResponse{Points: hits}), nil
}

// Score is the reference score of two vectors under a distance.
func Score(d shoalv1.Distance, a, b []float32) float32 {
	var dot, na, nb, l1, l2 float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
		l1 += math.Abs(x - y)
		l2 += (x - y) * (x - y)
	}
	switch d {
	case shoalv1.Distance_DISTANCE_COSINE:
		if na == 0 || nb == 0 {
			return 0
		}
		return float32(dot / math.Sqrt(na) / math.Sqrt(nb))
	case shoalv1.Distance_DISTANCE_EUCLID:
		return float32(math.Sqrt(l2))
	case shoalv1.Distance_DISTANCE_MANHATTAN:
		return float32(l1)
	}
	return float32(dot)
}

// Scroll implements StorageServiceClient.
func (s *Storage) Scroll(_ context.Context, req *connect.Request[shoalv1.ScrollRequest]) (*connect.Response[shoalv1.ScrollResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.enter("Scroll", req.Msg.Shard)
	if err != nil {
		return nil, err
	}
	match, err := compileFilter(req.Msg.Filter)
	if err != nil {
		return nil, err
	}
	if req.Msg.OrderBy != nil {
		return scrollOrdered(r, req.Msg, match), nil
	}
	var all []*shoalv1.Point
	for _, p := range r {
		if !match(p) {
			continue
		}
		if req.Msg.Offset == nil || pointid.Compare(p.Id, req.Msg.Offset) >= 0 {
			all = append(all, p)
		}
	}
	sort.Slice(all, func(i, j int) bool { return pointid.Compare(all[i].Id, all[j].Id) < 0 })
	resp := &shoalv1.ScrollResponse{}
	for i, p := range all {
		if i == int(req.Msg.Limit) {
			resp.NextOffset = p.Id
			break
		}
		resp.Points = append(resp.Points, project(p, req.Msg.WithPayload, req.Msg.WithVector))
	}
	return connect.NewResponse(resp), nil
}

// Count implements StorageServiceClient.
func (s *Storage) Count(_ context.Context, req *connect.Request[shoalv1.CountRequest]) (*connect.Response[shoalv1.CountResponse], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.enter("Count", req.Msg.Shard)
	if err != nil {
		return nil, err
	}
	match, err := compileFilter(req.Msg.Filter)
	if err != nil {
		return nil, err
	}
	var n uint64
	for _, p := range r {
		if match(p) {
			n++
		}
	}
	return connect.NewResponse(&shoalv1.CountResponse{Count: n}), nil
}
