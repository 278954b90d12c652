package replica

import (
	"context"
	"fmt"
	"math"
	"sync"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/filter"
	"github.com/shoaldb/shoal/services/storage/internal/index"
	bolt "go.etcd.io/bbolt"
)

// planMode chooses how a filtered search runs; tests force either path.
type planMode uint8

const (
	// planAuto scores the filter's candidates exactly when the payload
	// indexes estimate fewer matches than the vector's full-scan
	// threshold, and searches the vector index with the filter otherwise.
	planAuto planMode = iota
	// planCandidates always scores candidates (every point when the
	// indexes cannot narrow the filter).
	planCandidates
	// planTraverse always searches the vector index with the filter.
	planTraverse
)

// Search returns the limit best points for req's vector among the vectors
// named req.Using that match req.Filter, best first (equal scores by id).
// A score_threshold is a lower bound for Cosine and Dot and an upper bound
// for Euclid and Manhattan; scores are reported as Qdrant reports them.
//
// With a filter, the payload indexes estimate how many points match
// (payloadindex.Set.Plan). Below the vector's full-scan threshold (see
// fullScanThresholds) the candidates are scored exactly
// (segment.Set.ScoreFiltered) and the filter is asked only about those
// that could enter the results; otherwise the segments are searched with
// the filter (segment.Set.SearchFiltered): the walk of a sealed HNSW
// segment goes on through rejected nodes (two hops at a time where
// matches are sparse, see hnsw.Graph.Search) until it holds ef accepted
// ones, so selective filters still reach limit. A filter the indexes
// narrow is asked again with the same matches: sealed segments then keep
// its matches as a node set (a bit test per node instead of the filter)
// and, when it includes a match on one value of an indexed keyword,
// uuid, integer or bool field that the segment linked at sealing, walk
// only that value's points through their own links (see
// segmentFilter and segment.Filter). Points in plain segments, and every
// point with req.Exact, are scored exactly. req.HnswEf is the search list
// size of the sealed segments.
func (r *Replica) Search(ctx context.Context, req *shoalv1.SearchRequest) ([]*shoalv1.ScoredPoint, error) {
	return r.search(ctx, req, planAuto)
}

func (r *Replica) search(ctx context.Context, req *shoalv1.SearchRequest, mode planMode) ([]*shoalv1.ScoredPoint, error) {
	sp, ok := r.vs().spaces[req.GetUsing()]
	if !ok {
		if req.GetUsing() == "" {
			return nil, invalidf("Wrong input: this collection has only named vectors; name the vector to search with")
		}
		return nil, invalidf("Wrong input: Not existing vector name error: %s", req.GetUsing())
	}
	q := req.GetVector().GetData()
	if uint64(len(q)) != sp.params.GetSize() {
		return nil, invalidf("Wrong input: Vector dimension error: expected dim: %d, got %d", sp.params.GetSize(), len(q))
	}
	if !finite(q) {
		return nil, invalidf("Wrong input: query vector contains NaN or infinite values")
	}
	params := index.SearchParams{Ef: int(req.GetHnswEf()), Exact: req.GetExact()}
	if req.ScoreThreshold != nil {
		th := req.GetScoreThreshold()
		if math.IsNaN(float64(th)) {
			return nil, invalidf("Wrong input: score_threshold is NaN")
		}
		params.Threshold = &th
	}
	if err := r.checkWithVector(req.GetWithVector()); err != nil {
		return nil, err
	}
	f, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	leave, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer leave()
	if req.GetLimit() == 0 {
		return []*shoalv1.ScoredPoint{}, nil
	}
	q = sp.metric.Prepare(q)
	tx, err := r.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", r.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	points := tx.Bucket(bucketPoints)

	k := int(req.GetLimit())
	r.mu.RLock()
	vs := r.vs()
	idx := vs.indexes[req.GetUsing()]
	if idx == nil || vs.spaces[req.GetUsing()].params.GetSize() != uint64(len(q)) {
		// Deleted (or deleted and created again) since the check above.
		r.mu.RUnlock()
		return nil, invalidf("Wrong input: Not existing vector name error: %s", req.GetUsing())
	}
	var hits []index.Hit
	if f == nil {
		hits = idx.Search(q, k, params)
	} else {
		accept := r.acceptor(f, points)
		plan := r.payload.Plan(f)
		sf := r.segmentFilter(req.GetFilter(), f, plan, accept)
		switch {
		case mode == planCandidates || (mode == planAuto && plan.Known && plan.Estimate < vs.fullScan[req.GetUsing()]):
			keys := plan.Keys()
			if !plan.Known {
				keys = allKeys(points)
			}
			hits = idx.ScoreFiltered(q, k, keys, params, sf)
		default:
			hits = idx.SearchFiltered(q, k, params, sf)
		}
	}
	r.mu.RUnlock()

	out := make([]*shoalv1.ScoredPoint, 0, len(hits))
	for _, h := range hits {
		v := points.Get([]byte(h.Key))
		if v == nil {
			continue // deleted since the index was searched
		}
		p, err := decodePoint(v)
		if err != nil {
			return nil, err
		}
		out = append(out, &shoalv1.ScoredPoint{Point: project(p, req.GetWithPayload(), req.GetWithVector()), Score: h.Score})
	}
	return out, nil
}

// acceptor returns the filter check for candidate keys: index answers
// where the payload indexes can give them, the stored payload otherwise.
// It is safe for concurrent use (the transaction's reads are serialised).
// Call it with r.mu held for reading.
func (r *Replica) acceptor(f *filter.Filter, points *bolt.Bucket) func(string) bool {
	m := filter.Compile(f, r.payload)
	var mu sync.Mutex
	get := func(k string) []byte {
		mu.Lock()
		defer mu.Unlock()
		return points.Get([]byte(k))
	}
	return func(key string) bool { return m.Match(&recordPoint{key: key, get: get}) }
}

// allKeys lists every point key of b.
func allKeys(b *bolt.Bucket) []string {
	var out []string
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		out = append(out, string(k))
	}
	return out
}
