package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/filter"
	bolt "go.etcd.io/bbolt"
)

// candidatesBelow is the planner's estimate under which scroll and count
// visit the payload indexes' candidates (in key order) instead of
// scanning every point; a fraction of the points counts too.
const candidatesBelow = 10_000

func useCandidates(estimate int, points uint64) bool {
	return estimate < candidatesBelow || uint64(estimate) < points/8
}

// Scroll returns a page of the points matching req.Filter.
//
// Without order_by, points come in id order (integers, then UUIDs) from
// req.Offset (inclusive; unset starts at the lowest id), at most req.Limit
// of them, and NextOffset is the id of the next matching point (nil at
// the end).
//
// With order_by, the key must have a payload index that supports ranges
// (integer, float, datetime): points come in order of that value (ties by
// id; descending is the exact reverse), starting at start_from (inclusive),
// a point once per value it holds; OrderValues holds each point's value
// (datetimes in seconds since the epoch) and NextOffset is never set.
func (r *Replica) Scroll(ctx context.Context, req *shoalv1.ScrollRequest) (*shoalv1.ScrollResponse, error) {
	if err := r.checkWithVector(req.GetWithVector()); err != nil {
		return nil, err
	}
	f, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	var start []byte
	if req.GetOffset() != nil && req.GetOrderBy() == nil {
		k, err := keyOf(req.GetOffset())
		if err != nil {
			return nil, err
		}
		start = []byte(k)
	}
	var orderBy filter.Path
	if ob := req.GetOrderBy(); ob != nil {
		if orderBy, err = parseKeyPath(ob.GetKey(), "order_by.key"); err != nil {
			return nil, err
		}
		if ob.StartFrom != nil && (math.IsNaN(ob.GetStartFrom()) || math.IsInf(ob.GetStartFrom(), 0)) {
			return nil, invalidf("Format error in JSON body: order_by.start_from must be a finite number")
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	leave, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer leave()
	resp := &shoalv1.ScrollResponse{}
	err = r.db.View(func(tx *bolt.Tx) error {
		points := tx.Bucket(bucketPoints)
		r.mu.RLock()
		defer r.mu.RUnlock()
		match := func(string) bool { return true }
		if f != nil {
			match = r.acceptor(f, points)
		}
		emit := func(key []byte) error {
			p, err := decodePoint(points.Get(key))
			if err != nil {
				return err
			}
			resp.Points = append(resp.Points, project(p, req.GetWithPayload(), req.GetWithVector()))
			return nil
		}
		if req.GetOrderBy() != nil {
			return r.scrollOrdered(req, orderBy, points, match, emit, resp)
		}
		next, err := r.scrollByID(f, start, req.GetLimit(), points, match, emit)
		resp.NextOffset = next
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// scrollByID emits up to limit matching points from start in key order
// and returns the id of the next match.
func (r *Replica) scrollByID(f *filter.Filter, start []byte, limit uint32, points *bolt.Bucket, match func(string) bool, emit func([]byte) error) (*shoalv1.PointID, error) {
	n := uint32(0)
	visit := func(k []byte) (*shoalv1.PointID, bool, error) {
		if !match(string(k)) {
			return nil, false, nil
		}
		if n >= limit {
			id, err := pointid.FromKey(k)
			return id, true, err
		}
		n++
		return nil, false, emit(k)
	}
	if f != nil {
		if plan := r.payload.Plan(f); plan.Known && useCandidates(plan.Estimate, r.count) {
			keys := plan.Keys()
			sort.Strings(keys)
			from := sort.SearchStrings(keys, string(start))
			for _, k := range keys[from:] {
				if points.Get([]byte(k)) == nil {
					continue
				}
				if next, done, err := visit([]byte(k)); done || err != nil {
					return next, err
				}
			}
			return nil, nil
		}
	}
	c := points.Cursor()
	k, _ := c.First()
	if start != nil {
		k, _ = c.Seek(start)
	}
	for ; k != nil; k, _ = c.Next() {
		if next, done, err := visit(k); done || err != nil {
			return next, err
		}
	}
	return nil, nil
}

func (r *Replica) scrollOrdered(req *shoalv1.ScrollRequest, key filter.Path, points *bolt.Bucket, match func(string) bool, emit func([]byte) error, resp *shoalv1.ScrollResponse) error {
	field, ok := r.payload.Field(key.String())
	if !ok || !field.Orderable() {
		return invalidf("Bad request: No range index for `order_by` key: `%s`. Please create one to use `order_by`. Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas support Range conditions", key)
	}
	ob := req.GetOrderBy()
	var start *float64
	if ob.StartFrom != nil {
		s := ob.GetStartFrom()
		start = &s
	}
	limit := int(req.GetLimit())
	var err error
	field.Walk(ob.GetDescending(), start, func(v float64, k string) bool {
		if len(resp.Points) >= limit {
			return false
		}
		if points.Get([]byte(k)) == nil || !match(k) {
			return true
		}
		if err = emit([]byte(k)); err != nil {
			return false
		}
		resp.OrderValues = append(resp.OrderValues, v)
		return true
	})
	return err
}

// CountFilter returns the exact number of points matching filter JSON
// (every point for an empty one).
func (r *Replica) CountFilter(ctx context.Context, filterJSON []byte) (uint64, error) {
	f, err := parseFilter(filterJSON)
	if err != nil {
		return 0, err
	}
	if f == nil {
		return r.Count(ctx)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	leave, err := r.reading()
	if err != nil {
		return 0, err
	}
	defer leave()
	var n uint64
	err = r.db.View(func(tx *bolt.Tx) error {
		points := tx.Bucket(bucketPoints)
		r.mu.RLock()
		defer r.mu.RUnlock()
		match := r.acceptor(f, points)
		if plan := r.payload.Plan(f); plan.Known && useCandidates(plan.Estimate, r.count) {
			for _, k := range plan.Keys() {
				if points.Get([]byte(k)) != nil && match(k) {
					n++
				}
			}
			return nil
		}
		c := points.Cursor()
		i := 0
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if match(string(k)) {
				n++
			}
			if i++; i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return n, err
}

// Info describes the replica: points, indexed vectors (the vectors held
// by sealed HNSW segments, summed over vector names, like Qdrant's
// indexed_vectors_count), segments (the most any vector name has, the
// appendable one included) and Qdrant's payload_schema.
func (r *Replica) Info(ctx context.Context) (*shoalv1.InfoResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	leave, err := r.reading()
	if err != nil {
		return nil, err
	}
	defer leave()
	r.mu.RLock()
	defer r.mu.RUnlock()
	var indexed uint64
	segments := 1
	for _, st := range r.SegmentStats() {
		indexed += uint64(st.Indexed)
		segments = max(segments, st.Segments)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r.payload.PayloadSchema()); err != nil {
		return nil, fmt.Errorf("encode payload schema: %w", err)
	}
	return &shoalv1.InfoResponse{
		Points:            r.count,
		IndexedVectors:    indexed,
		Segments:          uint32(segments),
		PayloadSchemaJson: bytes.TrimRight(buf.Bytes(), "\n"),
	}, nil
}
