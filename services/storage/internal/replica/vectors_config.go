package replica

import (
	"context"
	"fmt"
	"sort"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
	"github.com/shoaldb/shoal/services/storage/internal/segment"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Vector names change at run time through the log: CreateVectorName and
// DeleteVectorName are operations like any write, so every replica of a
// shard changes its vector spaces at the same sequence number, and the
// writes before and after are judged against the same spaces everywhere.
//
// The replica's current vector spaces (its collection config, one
// segment.Set per name, the full-scan thresholds) form one vectorState,
// replaced as a whole: readers take the pointer once (vs) and keep a
// consistent view; the committer publishes a new state under mu after the
// operation committed. A vector operation is always alone in its commit
// batch (see prepared.vectorOp), so every operation of a later batch is
// checked against the new spaces at apply time (fitsVectors).

// Operation kinds of the vector name operations (after validate.go's).
const (
	opCreateVector opKind = 100 + iota
	opDeleteVector
)

// vectorState is the replica's vector configuration and indexes.
type vectorState struct {
	cfg      *shoalv1.CollectionConfig
	spaces   map[string]space
	indexes  map[string]*segment.Set
	fullScan map[string]int
}

// vs returns the current vector state.
func (r *Replica) vs() *vectorState { return r.vec.Load() }

// newVectorState checks cfg's vectors and returns their spaces, without
// indexes (openSegments or openSpace add them).
func newVectorState(cfg *shoalv1.CollectionConfig) (*vectorState, error) {
	vs := &vectorState{cfg: cfg, spaces: map[string]space{}, indexes: map[string]*segment.Set{}, fullScan: fullScanThresholds(cfg)}
	for name, params := range cfg.GetVectors() {
		sp, err := spaceOf(params)
		if err != nil {
			return nil, fmt.Errorf("vector %q: %w", name, err)
		}
		vs.spaces[name] = sp
	}
	return vs, nil
}

func spaceOf(params *shoalv1.VectorParams) (space, error) {
	m, err := distance.For(params.GetDistance())
	if err != nil {
		return space{}, err
	}
	if params.GetSize() == 0 {
		return space{}, fmt.Errorf("size 0")
	}
	return space{params: params, metric: m}, nil
}

// withStoredVectors returns cfg with the vector spaces of stored, the
// config the file holds: the file's vectors follow its own log (a vector
// name created or deleted by an operation it applied), while cfg, the
// catalog's, may be ahead of or behind that log while a change is in
// flight. The other parameters come from cfg.
func withStoredVectors(stored, cfg *shoalv1.CollectionConfig) *shoalv1.CollectionConfig {
	if sameVectors(stored, cfg) == nil {
		return cfg
	}
	out := proto.Clone(cfg).(*shoalv1.CollectionConfig)
	out.Vectors = stored.GetVectors()
	out.Named = stored.GetNamed()
	return out
}

// vectorOp reports whether p creates or deletes a vector name: such an
// operation starts a commit batch and ends it.
func (p *prepared) vectorOp() bool {
	return p != nil && (p.kind == opCreateVector || p.kind == opDeleteVector)
}

// prepareVectorName checks a CreateVectorName or DeleteVectorName
// operation. Whether it changes anything is decided at apply time.
func prepareVectorName(p *prepared, op *shoalv1.Operation) error {
	switch k := op.GetKind().(type) {
	case *shoalv1.Operation_CreateVectorName:
		p.kind = opCreateVector
		if _, err := spaceOf(k.CreateVectorName.GetParams()); err != nil {
			return invalidf("Wrong input: vector %q: %v", k.CreateVectorName.GetName(), err)
		}
		p.names = []string{k.CreateVectorName.GetName()}
		p.vparams = k.CreateVectorName.GetParams()
	case *shoalv1.Operation_DeleteVectorName:
		p.kind = opDeleteVector
		p.names = []string{k.DeleteVectorName.GetName()}
	}
	return nil
}

// vectorChange is what a vector name operation changed, published by
// mirrorVectorChange after the commit.
type vectorChange struct {
	name   string
	create bool
	next   *vectorState // without the created name's index yet
}

// applyVectorName performs a vector name operation in the commit
// transaction: it stores the new config and, for a deletion, removes the
// vector from every point (their versions stay: the points' content is
// otherwise unchanged). Creating an existing name with the same
// parameters, or deleting a name the replica lacks, changes nothing; an
// existing name with other parameters is refused.
func (r *Replica) applyVectorName(tx *bolt.Tx, p *prepared) (effect, error) {
	cur := r.vs()
	name := p.names[0]
	old, exists := cur.spaces[name]
	cfg := proto.Clone(cur.cfg).(*shoalv1.CollectionConfig)
	if cfg.Vectors == nil {
		cfg.Vectors = map[string]*shoalv1.VectorParams{}
	}
	if p.kind == opCreateVector {
		if exists {
			if proto.Equal(old.params, p.vparams) {
				return effect{}, nil
			}
			return effect{}, invalidf("Wrong input: Vector name %s already exists with other parameters", name)
		}
		cfg.Vectors[name] = p.vparams
	} else {
		if !exists {
			return effect{}, nil
		}
		if len(cfg.Vectors) == 1 {
			return effect{}, invalidf("Wrong input: cannot delete the last vector %s of a collection", name)
		}
		delete(cfg.Vectors, name)
		if err := dropVectorFromPoints(tx.Bucket(bucketPoints), name); err != nil {
			return effect{}, err
		}
	}
	next, err := newVectorState(cfg)
	if err != nil {
		return effect{}, invalidf("Wrong input: %v", err)
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(cfg)
	if err != nil {
		return effect{}, fmt.Errorf("encode config: %w", err)
	}
	if err := tx.Bucket(bucketMeta).Put(keyConfig, raw); err != nil {
		return effect{}, fmt.Errorf("store config: %w", err)
	}
	for n, set := range cur.indexes {
		if n != name {
			next.indexes[n] = set
		}
	}
	return effect{vectors: &vectorChange{name: name, create: p.kind == opCreateVector, next: next}}, nil
}

// dropVectorFromPoints removes vector name from every stored point.
func dropVectorFromPoints(b *bolt.Bucket, name string) error {
	var keys [][]byte
	err := b.ForEach(func(k, v []byte) error {
		pt, err := decodePoint(v)
		if err != nil {
			return fmt.Errorf("point %x: %w", k, err)
		}
		if _, ok := pt.GetVectors()[name]; ok {
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		pt, err := decodePoint(b.Get(k))
		if err != nil {
			return fmt.Errorf("point %x: %w", k, err)
		}
		delete(pt.Vectors, name)
		if err := putPoint(b, string(k), pt, pt.GetVersion()); err != nil {
			return err
		}
	}
	return nil
}

// fitsVectors checks, at apply time, that the vectors an operation writes
// or deletes belong to the replica's current spaces: an operation
// prepared before a vector name changed is refused as it would have been
// after.
func (r *Replica) fitsVectors(p *prepared) error {
	spaces := r.vs().spaces
	check := func(name string, n int) error {
		sp, ok := spaces[name]
		if !ok {
			return invalidf("Wrong input: Not existing vector name error: %s", name)
		}
		if n >= 0 && uint64(n) != sp.params.GetSize() {
			return invalidf("Wrong input: Vector dimension error: expected dim: %d, got %d", sp.params.GetSize(), n)
		}
		return nil
	}
	switch p.kind {
	case opUpsert:
		for _, pp := range p.upserts {
			for name, v := range pp.vectors {
				if err := check(name, len(v)); err != nil {
					return err
				}
			}
		}
	case opUpdateVectors:
		for _, u := range p.vectors {
			for name, v := range u.vectors {
				if err := check(name, len(v)); err != nil {
					return err
				}
			}
		}
	case opDeleteVectors:
		for _, name := range p.names {
			if err := check(name, -1); err != nil {
				return err
			}
		}
	}
	return nil
}

// mirrorVectorChange publishes the vector state a committed vector name
// operation of batch produced: a created name gets an empty segment set
// (its stored segments, left by an earlier name of that name, cleared); a
// deleted name's set is closed and its stored segments removed. It runs
// in the committer, before the batch's other effects are mirrored.
func (r *Replica) mirrorVectorChange(batch []*request) {
	for _, req := range batch {
		if req.err != nil || req.eff.vectors == nil {
			continue
		}
		vc := req.eff.vectors
		log := r.log.With().Str("vector", vc.name).Logger()
		var dropped *segment.Set
		if vc.create {
			if err := r.openSpace(vc.next, vc.name); err != nil {
				log.Error().Err(err).Msg("open the segments of a created vector name; it is not searchable")
			}
		} else {
			dropped = r.vs().indexes[vc.name]
		}
		r.mu.Lock()
		r.vec.Store(vc.next)
		r.mu.Unlock()
		if dropped != nil {
			dropped.Close()
			if store, err := openSegStore(r.db, vc.name); err == nil {
				err = store.clear()
				if err != nil {
					log.Warn().Err(err).Msg("clear the stored segments of a deleted vector name")
				}
			}
		}
		log.Info().Bool("created", vc.create).Uint64("seq", req.seq).Msg("vector name changed")
	}
}

// openSpace opens an empty segment set for vector name of vs, clearing
// whatever segments the file still stores under that name.
func (r *Replica) openSpace(vs *vectorState, name string) error {
	log := r.log.With().Str("vector", name).Logger()
	cfg := r.segmentConfig(vs, name, log)
	store, err := openSegStore(r.db, name)
	if err != nil {
		return err
	}
	if err := store.clear(); err != nil {
		return fmt.Errorf("vector %q: clear stored segments: %w", name, err)
	}
	set, l, err := segment.Open(cfg, store, log)
	if err != nil {
		return fmt.Errorf("vector %q: %w", name, err)
	}
	set.SetLinkFields(r.payload.LinkableFields(vs.fullScan[name]))
	l.Finish()
	vs.indexes[name] = set
	return nil
}

// VectorNames returns the replica's vector names, sorted.
func (r *Replica) VectorNames() []string {
	spaces := r.vs().spaces
	out := make([]string, 0, len(spaces))
	for n := range spaces {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// InstallVectors gives a fresh replica (see InstallPoints) the vector
// spaces of the replica it is copied from, before any point is installed:
// the source may have created or deleted vector names since the catalog
// config this replica was opened with. Equal spaces change nothing; the
// config's named flag stays (vector names are only created or deleted in
// collections with named vectors).
func (r *Replica) InstallVectors(ctx context.Context, vectors map[string]*shoalv1.VectorParams) error {
	job := func() error {
		cur := r.vs()
		if len(vectors) == 0 || sameVectors(&shoalv1.CollectionConfig{Vectors: vectors}, cur.cfg) == nil {
			return nil
		}
		cfg := proto.Clone(cur.cfg).(*shoalv1.CollectionConfig)
		cfg.Vectors = vectors
		next, err := newVectorState(cfg)
		if err != nil {
			return fmt.Errorf("install vectors: %w", err)
		}
		raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(cfg)
		if err != nil {
			return fmt.Errorf("install vectors: encode config: %w", err)
		}
		err = r.db.Update(func(tx *bolt.Tx) error {
			if err := installable(tx); err != nil {
				return err
			}
			if tx.Bucket(bucketPoints).Stats().KeyN > 0 {
				return fmt.Errorf("replica is not empty")
			}
			return tx.Bucket(bucketMeta).Put(keyConfig, raw)
		})
		if err != nil {
			return fmt.Errorf("install vectors into %s: %w", r.path, err)
		}
		for name, set := range cur.indexes {
			if sp, ok := next.spaces[name]; ok && proto.Equal(cur.spaces[name].params, sp.params) {
				next.indexes[name] = set
			} else {
				set.Close()
			}
		}
		for name := range next.spaces {
			if next.indexes[name] != nil {
				continue
			}
			if err := r.openSpace(next, name); err != nil {
				return fmt.Errorf("install vectors: %w", err)
			}
		}
		r.mu.Lock()
		r.vec.Store(next)
		r.mu.Unlock()
		return nil
	}
	_, err := r.submit(ctx, &request{job: job, done: make(chan result, 1)})
	return err
}
