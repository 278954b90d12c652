package replica

import (
	"fmt"
	"sort"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/filter"
	"github.com/shoaldb/shoal/services/storage/internal/payloadindex"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// change is one point's part of an applied operation, mirrored in memory
// (vector and payload indexes) after the commit.
type change struct {
	key     string
	deleted bool
	// vectors are names set to new vectors; drop are names removed; with
	// replaceAll (upsert) every name not in vectors is removed.
	vectors    map[string][]float32
	drop       []string
	replaceAll bool
	// payloadSet says the payload changed to payload (encoded JSON, nil
	// for none).
	payloadSet bool
	payload    []byte
}

// indexChange is a field index created or dropped by an operation.
type indexChange struct {
	field  filter.Path
	schema payloadindex.Schema
	create bool
	built  *payloadindex.Field // filled after the commit
}

// effect is what one applied operation changed.
type effect struct {
	changes    []change
	countDelta int64
	index      *indexChange
	vectors    *vectorChange // a vector name created or deleted
}

// rejected reports whether err refuses one operation (the others of its
// batch still commit) rather than failing the transaction.
func rejected(err error) bool {
	return IsInvalid(err) || IsNotFound(err)
}

// apply performs p inside the commit transaction and returns its effect.
// A rejected operation (see rejected) has written nothing. A replicated
// operation is never refused for points the replica lacks: it applies to
// the ones it has.
func (r *Replica) apply(tx *bolt.Tx, p *prepared, seq uint64) (effect, error) {
	if p.vectorOp() {
		return r.applyVectorName(tx, p)
	}
	if err := r.fitsVectors(p); err != nil {
		return effect{}, err
	}
	points := tx.Bucket(bucketPoints)
	switch p.kind {
	case opUpsert:
		return r.writeUpserts(points, p, seq)
	case opDelete:
		keys, err := r.resolve(points, p.sel, false)
		if err != nil {
			return effect{}, err
		}
		return deletePoints(points, keys)
	case opSetPayload, opOverwritePayload, opDeletePayload, opClearPayload:
		keys, err := r.resolve(points, p.sel, !p.replicated)
		if err != nil {
			return effect{}, err
		}
		return rewrite(points, keys, seq, func(pt *shoalv1.Point, c *change) error { return p.editPayload(pt, c) })
	case opUpdateVectors:
		return r.updateVectors(points, p, seq)
	case opDeleteVectors:
		keys, err := r.resolve(points, p.sel, !p.replicated)
		if err != nil {
			return effect{}, err
		}
		return rewrite(points, keys, seq, func(pt *shoalv1.Point, c *change) error {
			for _, n := range p.names {
				delete(pt.Vectors, n)
			}
			c.drop = p.names
			return nil
		})
	case opCreateIndex, opDeleteIndex:
		b := tx.Bucket(bucketFieldIndexes)
		name := []byte(p.field.String())
		var err error
		if p.kind == opCreateIndex {
			err = b.Put(name, p.schema.JSON())
		} else {
			err = b.Delete(name)
		}
		if err != nil {
			return effect{}, fmt.Errorf("store field index %s: %w", name, err)
		}
		return effect{index: &indexChange{field: p.field, schema: p.schema, create: p.kind == opCreateIndex}}, nil
	}
	return effect{}, fmt.Errorf("unknown operation kind %d", p.kind)
}

// resolve returns the keys a selector picks, in key order. Listed ids must
// exist when mustExist (a missing one rejects the operation); a filter is
// evaluated against the points as they are in this transaction.
func (r *Replica) resolve(points *bolt.Bucket, sel *selector, mustExist bool) ([]string, error) {
	if sel.filter == nil {
		keys := make([]string, 0, len(sel.keys))
		for _, k := range sel.keys {
			if points.Get([]byte(k)) != nil {
				keys = append(keys, k)
			} else if mustExist {
				return nil, &NotFoundError{Msg: fmt.Sprintf("No point with id %s found", pointid.String(sel.ids[k]))}
			}
		}
		sort.Strings(keys)
		return keys, nil
	}
	// Filters are only applied first in a batch (see prepared.barrier), so
	// the in-memory payload indexes describe this transaction's points.
	return r.matching(points, sel.filter)
}

// matching returns the keys of the points in b that match f, in key
// order, using the payload indexes to narrow the candidates.
func (r *Replica) matching(b *bolt.Bucket, f *filter.Filter) ([]string, error) {
	m := filter.Compile(f, r.payload)
	get := func(k string) []byte { return b.Get([]byte(k)) }
	var out []string
	if plan := r.payload.Plan(f); plan.Known {
		for _, k := range plan.Keys() {
			if get(k) != nil && m.Match(&recordPoint{key: k, get: get}) {
				out = append(out, k)
			}
		}
		sort.Strings(out)
		return out, nil
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rec := v
		if m.Match(&recordPoint{key: string(k), get: func(string) []byte { return rec }}) {
			out = append(out, string(k))
		}
	}
	return out, nil
}

func (r *Replica) writeUpserts(b *bolt.Bucket, p *prepared, seq uint64) (effect, error) {
	keep := r.upsertTargets(b, p)
	var e effect
	for i, pp := range p.upserts {
		if keep != nil && !keep[i] {
			continue
		}
		k := []byte(pp.key)
		if b.Get(k) == nil {
			e.countDelta++
		}
		if err := b.Put(k, withVersion(pp.record, seq)); err != nil {
			return effect{}, fmt.Errorf("store point %x: %w", k, err)
		}
		e.changes = append(e.changes, change{key: pp.key, vectors: pp.vectors, replaceAll: true, payloadSet: true, payload: pp.payload})
	}
	return e, nil
}

// upsertTargets decides which points of a conditional upsert are written
// (nil: all of them), judging each against the points as stored before
// the operation: a point that does not exist is inserted unless the mode
// is update_only; an existing one is replaced unless the mode is
// insert_only or it does not match the update filter. A replica applying
// the same log from the same state decides the same way.
func (r *Replica) upsertTargets(b *bolt.Bucket, p *prepared) []bool {
	if p.mode == shoalv1.UpdateMode_UPDATE_MODE_UPSERT && p.updateFilter == nil {
		return nil
	}
	match := r.updateMatcher(b, p)
	keep := make([]bool, len(p.upserts))
	for i, pp := range p.upserts {
		switch {
		case b.Get([]byte(pp.key)) == nil:
			keep[i] = p.mode != shoalv1.UpdateMode_UPDATE_MODE_UPDATE_ONLY
		case p.mode == shoalv1.UpdateMode_UPDATE_MODE_INSERT_ONLY:
			keep[i] = false
		default:
			keep[i] = match(pp.key)
		}
	}
	return keep
}

// updateMatcher returns whether the stored point of a key matches p's
// update filter (always true without one). The operation is a barrier
// (see prepared.barrier), so the payload indexes the filter uses describe
// the points of this transaction.
func (r *Replica) updateMatcher(b *bolt.Bucket, p *prepared) func(key string) bool {
	if p.updateFilter == nil {
		return func(string) bool { return true }
	}
	m := filter.Compile(p.updateFilter, r.payload)
	get := func(k string) []byte { return b.Get([]byte(k)) }
	return func(key string) bool { return m.Match(&recordPoint{key: key, get: get}) }
}

func deletePoints(b *bolt.Bucket, keys []string) (effect, error) {
	var e effect
	for _, key := range keys {
		k := []byte(key)
		if b.Get(k) == nil {
			continue
		}
		if err := b.Delete(k); err != nil {
			return effect{}, fmt.Errorf("delete point %x: %w", k, err)
		}
		e.countDelta--
		e.changes = append(e.changes, change{key: key, deleted: true})
	}
	return e, nil
}

// rewrite decodes each point of keys (which exist), lets edit change it,
// and stores it with version seq.
func rewrite(b *bolt.Bucket, keys []string, seq uint64, edit func(*shoalv1.Point, *change) error) (effect, error) {
	var e effect
	for _, key := range keys {
		pt, err := decodePoint(b.Get([]byte(key)))
		if err != nil {
			return effect{}, fmt.Errorf("point %x: %w", key, err)
		}
		c := change{key: key}
		if err := edit(pt, &c); err != nil {
			return effect{}, err
		}
		if err := putPoint(b, key, pt, seq); err != nil {
			return effect{}, err
		}
		e.changes = append(e.changes, c)
	}
	return e, nil
}

func putPoint(b *bolt.Bucket, key string, pt *shoalv1.Point, seq uint64) error {
	pt.Version = seq
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(pt)
	if err != nil {
		return fmt.Errorf("encode point %x: %w", key, err)
	}
	if err := b.Put([]byte(key), raw); err != nil {
		return fmt.Errorf("store point %x: %w", key, err)
	}
	return nil
}

// editPayload applies a payload operation to one point.
func (p *prepared) editPayload(pt *shoalv1.Point, c *change) error {
	var obj map[string]any
	switch p.kind {
	case opClearPayload:
	case opOverwritePayload:
		if p.key == nil {
			obj = make(map[string]any, len(p.payload))
			for k, v := range p.payload {
				obj[k] = v
			}
			break
		}
		obj = decodeStored(pt.GetPayload())
		filter.ReplaceAt(obj, *p.key, p.payload)
	case opSetPayload:
		obj = decodeStored(pt.GetPayload())
		if p.key != nil {
			filter.SetAt(obj, *p.key, p.payload)
		} else {
			filter.Merge(obj, p.payload)
		}
	case opDeletePayload:
		obj = decodeStored(pt.GetPayload())
		for _, path := range p.paths {
			filter.RemoveAt(obj, path)
		}
	}
	raw, err := filter.EncodePayload(obj)
	if err != nil {
		return err
	}
	pt.Payload = raw
	c.payloadSet, c.payload = true, raw
	return nil
}

// decodeStored decodes a stored payload into a map to edit (never nil).
func decodeStored(raw []byte) map[string]any {
	m, err := filter.DecodePayload(raw)
	if err != nil || m == nil {
		return map[string]any{}
	}
	return m
}

// updateVectors replaces named vectors of existing points; one missing
// point rejects the whole operation before anything is written (a
// replicated one skips the missing points). With an update filter, the
// existing points that do not match it are left as they are.
func (r *Replica) updateVectors(b *bolt.Bucket, p *prepared, seq uint64) (effect, error) {
	match := r.updateMatcher(b, p)
	merged := map[string]map[string][]float32{}
	var order []string
	skipped := map[string]bool{}
	for _, u := range p.vectors {
		if b.Get([]byte(u.key)) == nil {
			if p.replicated {
				continue
			}
			return effect{}, &NotFoundError{Msg: fmt.Sprintf("No point with id %s found", pointid.String(u.id))}
		}
		if skipped[u.key] {
			continue
		}
		if merged[u.key] == nil && !match(u.key) {
			skipped[u.key] = true
			continue
		}
		if merged[u.key] == nil {
			merged[u.key] = map[string][]float32{}
			order = append(order, u.key)
		}
		for n, v := range u.vectors {
			merged[u.key][n] = v
		}
	}
	sort.Strings(order)
	return rewrite(b, order, seq, func(pt *shoalv1.Point, c *change) error {
		if pt.Vectors == nil {
			pt.Vectors = map[string]*shoalv1.Vector{}
		}
		for n, v := range merged[c.key] {
			pt.Vectors[n] = &shoalv1.Vector{Data: v}
		}
		c.vectors = merged[c.key]
		return nil
	})
}
