package node

import (
	"context"
	"errors"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
	"google.golang.org/protobuf/proto"
)

// want is a replica the shard maps place on this node.
type want struct {
	uid  string
	cfg  *shoalv1.CollectionConfig
	term uint64
}

// placement is the desired set of replicas, plus the collections whose
// catalog entry and shard map disagree on the uid (a create or delete in
// flight): their replicas are left as they are until the state settles.
type placement struct {
	replicas  map[shardKey]want
	unsettled map[string]bool
}

func (m *Manager) desired() placement {
	p := placement{replicas: map[shardKey]want{}, unsettled: map[string]bool{}}
	for _, c := range m.cfg.State.Collections() {
		_, sm, ok := m.cfg.State.Collection(c.GetName())
		if !ok {
			continue
		}
		if sm.GetUid() != c.GetUid() {
			p.unsettled[c.GetName()] = true
			continue
		}
		if !safeName(c.GetName()) || !safeName(c.GetUid()) {
			m.log.Error().Str("collection", c.GetName()).Str("uid", c.GetUid()).Msg("collection name or uid cannot be a directory name; not opening its replicas")
			p.unsettled[c.GetName()] = true
			continue
		}
		for _, sh := range sm.GetShards() {
			for _, rep := range sh.GetReplicas() {
				if rep.GetNodeId() == m.cfg.NodeID {
					p.replicas[shardKey{c.GetName(), sh.GetId()}] = want{uid: c.GetUid(), cfg: c.GetConfig(), term: sh.GetTerm()}
				}
			}
		}
	}
	return p
}

// reconcile opens what is wanted and not held, and drops what is held and
// not wanted. It runs on one goroutine at a time (Start, then the loop).
func (m *Manager) reconcile(ctx context.Context, p placement) {
	m.retry = false
	type drop struct {
		key shardKey
		h   *held
	}
	var drops []drop
	var opens []shardKey
	m.mu.Lock()
	for k, h := range m.replicas {
		if p.unsettled[k.collection] {
			continue
		}
		if w, ok := p.replicas[k]; !ok || w.uid != h.uid {
			drops = append(drops, drop{k, h})
			delete(m.replicas, k)
		} else {
			h.r.SetTerm(w.term)
		}
	}
	for k := range p.replicas {
		if _, ok := m.replicas[k]; !ok {
			opens = append(opens, k)
		}
	}
	m.mu.Unlock()

	for _, d := range drops {
		log := m.log.With().Str("collection", d.key.collection).Str("uid", d.h.uid).Uint32("shard", d.key.shard).Logger()
		if err := d.h.r.Drop(); err != nil {
			log.Error().Err(err).Msg("drop replica")
		}
		pruneDirs(m.root, dirOf(d.h.r.Path()))
		m.deleteStatus(ctx, d.key)
		log.Info().Msg("replica dropped")
	}
	for _, k := range opens {
		w := p.replicas[k]
		log := m.log.With().Str("collection", k.collection).Str("uid", w.uid).Uint32("shard", k.shard).Logger()
		path := replicaPath(m.root, k.collection, w.uid, k.shard)
		r, err := replica.OpenWithOptions(path, w.cfg, log, m.cfg.Replica)
		if err != nil {
			log.Error().Err(err).Msg("open replica; will retry")
			m.retry = true
			continue
		}
		r.SetTerm(w.term)
		h := &held{uid: w.uid, r: r}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			r.Close()
			return
		}
		m.replicas[k] = h
		m.notifyLocked()
		m.mu.Unlock()
		_, seq := r.LastApplied()
		log.Info().Str("path", path).Uint64("last_seq", seq).Msg("replica opened")
		m.writeStatus(ctx, k, h)
	}
	m.mu.Lock()
	if !m.closed {
		m.notifyLocked()
	}
	m.mu.Unlock()
}

// sweep deletes replica files that the placement does not reference. It
// runs once at startup, before any request is served.
func (m *Manager) sweep(p placement) error {
	files, err := scan(m.root)
	if err != nil {
		return err
	}
	for _, f := range files {
		if p.unsettled[f.collection] {
			continue
		}
		if w, ok := p.replicas[shardKey{f.collection, f.shard}]; ok && w.uid == f.uid {
			continue
		}
		if err := removeReplicaFile(m.root, f.path); err != nil {
			return err
		}
		m.log.Info().Str("path", f.path).Msg("deleted replica file no shard map references")
	}
	return nil
}

// refreshStatus rewrites the status keys of replicas that changed since
// their last report (or whose last write failed).
func (m *Manager) refreshStatus(ctx context.Context) {
	m.mu.RLock()
	keys := make([]shardKey, 0, len(m.replicas))
	hs := make([]*held, 0, len(m.replicas))
	for k, h := range m.replicas {
		keys = append(keys, k)
		hs = append(hs, h)
	}
	m.mu.RUnlock()
	for i, h := range hs {
		m.writeStatus(ctx, keys[i], h)
	}
}

// writeStatus writes h's status key unless it is unchanged.
func (m *Manager) writeStatus(ctx context.Context, k shardKey, h *held) {
	points, err := h.r.Count(ctx)
	if err != nil {
		if !errors.Is(err, replica.ErrClosed) {
			m.log.Warn().Err(err).Stringer("replica", k).Msg("count points for status")
		}
		return
	}
	term, seq := h.r.LastApplied()
	st := &shoalv1.ReplicaStatus{
		Collection: k.collection, Uid: h.uid, ShardId: k.shard,
		State:    shoalv1.ReplicaState_REPLICA_STATE_ACTIVE,
		LastTerm: term, LastSeq: seq, Points: points,
	}
	if h.reported != nil && proto.Equal(h.reported, st) {
		return
	}
	val, err := proto.Marshal(st)
	if err != nil {
		m.log.Error().Err(err).Msg("encode replica status")
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := m.cfg.Status.Put(wctx, cluster.StatusKey(m.cfg.NodeID, k.collection, k.shard), val); err != nil {
		m.log.Warn().Err(err).Stringer("replica", k).Msg("write replica status; will retry")
		return
	}
	h.reported = st
}

func (m *Manager) deleteStatus(ctx context.Context, k shardKey) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := m.cfg.Status.Delete(dctx, cluster.StatusKey(m.cfg.NodeID, k.collection, k.shard)); err != nil {
		m.log.Warn().Err(err).Stringer("replica", k).Msg("delete replica status")
	}
}
