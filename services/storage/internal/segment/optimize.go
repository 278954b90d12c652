package segment

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shoaldb/shoal/services/storage/internal/hnsw"
)

// job is one optimization: its sources are replaced by one sealed segment
// built from their live points (none for "drop": the sources just go).
type job struct {
	kind    string // seal, vacuum, relink, merge, drop
	sources []*segment
}

// startOptimizer starts the background optimizer once and wakes it.
func (s *Set) startOptimizer() {
	s.start.Do(func() { go s.loop() })
	s.kick()
}

// loop runs jobs whenever woken, until Close.
func (s *Set) loop() {
	defer close(s.done)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		for {
			ran, err := s.optimizeOnce(s.ctx)
			if s.ctx.Err() != nil {
				return
			}
			if err != nil {
				s.log.Error().Err(err).Msg("segment optimization failed")
				break
			}
			if !ran {
				break
			}
		}
	}
}

// Optimize runs due jobs in the caller until none is left (the background
// optimizer may run some of them meanwhile). It returns ctx's error if ctx
// ends first, ErrClosed after Close, ErrLoading before Loader.Finish, or a
// job's error.
func (s *Set) Optimize(ctx context.Context) error {
	if !s.loaded.Load() {
		return ErrLoading
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	for {
		ran, err := s.optimizeOnce(ctx)
		if s.ctx.Err() != nil {
			return ErrClosed
		}
		if err != nil {
			return err
		}
		if !ran {
			return nil
		}
	}
}

// plan picks the next job, in Qdrant's order of urgency: seal, drop empty
// segments, vacuum, rebuild a segment that lacks a field's links
// (relink), merge. Sealing the appendable segment freezes it and
// starts a new one. The caller holds mu.
func (s *Set) plan() *job {
	for _, seg := range s.segs {
		if !seg.sealed() { // left frozen by an aborted build
			return &job{kind: "seal", sources: []*segment{seg}}
		}
	}
	if s.overThreshold() {
		seg := s.appendable
		seg.frozen = true
		s.segs = append(s.segs, seg)
		s.appendable = s.newPlain()
		return &job{kind: "seal", sources: []*segment{seg}}
	}
	for _, seg := range s.segs {
		if seg.graph.Len() == 0 {
			return &job{kind: "drop", sources: []*segment{seg}}
		}
	}
	for _, seg := range s.segs {
		if s.needsVacuum(seg) {
			return &job{kind: "vacuum", sources: []*segment{seg}}
		}
	}
	for _, seg := range s.segs {
		if s.needsRelink(seg) {
			return &job{kind: "relink", sources: []*segment{seg}}
		}
	}
	if len(s.segs) > s.cfg.maxSegments() {
		bySize := slices.Clone(s.segs)
		slices.SortFunc(bySize, func(a, b *segment) int { return a.len() - b.len() })
		a, b := bySize[0], bySize[1]
		if lim := s.cfg.MaxSegmentSizeKB; lim == 0 || s.cfg.bytes(a.len()+b.len()) <= int64(lim)*1024 {
			return &job{kind: "merge", sources: []*segment{a, b}}
		}
	}
	return nil
}

// needsVacuum reports a sealed segment whose deleted fraction passed the
// threshold; the caller holds mu.
func (s *Set) needsVacuum(seg *segment) bool {
	g := seg.graph
	n := g.Nodes()
	return n > 0 && n >= s.cfg.VacuumMinVectors && float64(g.Deleted())/float64(n) > s.cfg.DeletedThreshold
}

// needsRelink reports a sealed segment sealed before one of the fields
// SetLinkFields names was indexed; the caller holds mu.
func (s *Set) needsRelink(seg *segment) bool {
	if s.cfg.Grouper == nil || s.cfg.PayloadM == 0 || len(s.linkFields) == 0 || seg.graph.Len() == 0 {
		return false
	}
	have := seg.graph.Fields()
	for _, f := range s.linkFields {
		if _, ok := have[f]; !ok {
			return true
		}
	}
	return false
}

// SetLinkFields names the payload fields whose values the graphs of
// sealed segments should link (the replica's indexed fields with a value
// common enough, see Grouper). A sealed segment whose graph has not
// considered one of them (sealed before the field was indexed) is rebuilt
// by the optimizer, which links it. Fields no longer named keep their
// links until DropLinks or a rebuild.
func (s *Set) SetLinkFields(fields []string) {
	s.mu.Lock()
	changed := !slices.Equal(s.linkFields, fields)
	s.linkFields = slices.Clone(fields)
	s.mu.Unlock()
	if changed && s.loaded.Load() {
		s.kick()
	}
}

// DropLinks forgets field's links in every sealed segment (its index was
// dropped); stored graphs keep them until they are rewritten.
func (s *Set) DropLinks(field string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.linkFields = slices.DeleteFunc(s.linkFields, func(f string) bool { return f == field })
	for _, seg := range s.segs {
		if seg.sealed() {
			seg.graph.DropField(field)
		}
	}
}

// linkGroups links the field values the Grouper names in g, a graph of
// keys being sealed.
func (s *Set) linkGroups(ctx context.Context, g *hnsw.Graph, keys []string) error {
	if s.cfg.Grouper == nil || s.cfg.PayloadM == 0 {
		return nil
	}
	// Every field is linked (recorded) even when no value qualifies, so
	// that needsRelink sees it considered.
	minSize := s.cfg.Grouper.MinGroupSize()
	for field, groups := range s.cfg.Grouper.Groups(keys) {
		if err := g.LinkField(ctx, field, groups, s.cfg.PayloadM, minSize, s.cfg.BuildWorkers); err != nil {
			return fmt.Errorf("link %s: %w", field, err)
		}
	}
	return nil
}

// optimizeOnce plans and runs one job: snapshot the sources' live points
// under the lock, build the graph outside it (searches and writes go on),
// then swap it in, tombstoning what was deleted or updated meanwhile, and
// persist it. It reports whether a job ran.
func (s *Set) optimizeOnce(ctx context.Context) (bool, error) {
	s.jobMu.Lock()
	defer s.jobMu.Unlock()
	s.mu.Lock()
	j := s.plan()
	if j == nil {
		s.mu.Unlock()
		return s.linkFilters(ctx)
	}
	s.running = true
	s.startJob(j, s.nextID)
	var sn snapshot
	var owner []*segment // owner[i]: the source snapshot key i came from
	for _, seg := range j.sources {
		before := len(sn.keys)
		sn.add(seg)
		for range len(sn.keys) - before {
			owner = append(owner, seg)
		}
	}
	s.mu.Unlock()

	t0 := time.Now()
	var g *hnsw.Graph
	var err error
	if j.kind != "drop" && len(sn.keys) > 0 {
		g, err = hnsw.Build(ctx, s.cfg.HNSW, s.cfg.Metric, s.cfg.Dim, sn.keys, func(i int) []float32 { return sn.vecs[i] }, s.cfg.BuildWorkers)
		if err == nil {
			err = s.linkGroups(ctx, g, sn.keys)
		}
	}
	if err != nil {
		err = fmt.Errorf("%s segment: %w", j.kind, err)
		s.mu.Lock()
		s.running = false
		s.finishJob(err)
		s.mu.Unlock()
		return false, err
	}
	if g != nil {
		s.builds.Add(1)
	}

	s.mu.Lock()
	var out *segment
	if g != nil {
		for i, key := range sn.keys {
			if !owner[i].contains(key) {
				g.Delete(key) // deleted or moved since the snapshot
			}
		}
		out = &segment{id: s.nextID, graph: g}
		s.nextID++
	}
	var drop []string
	s.segs = slices.DeleteFunc(s.segs, func(seg *segment) bool {
		if !slices.Contains(j.sources, seg) {
			return false
		}
		if seg.stored {
			drop = append(drop, blobName(seg.id))
		}
		return true
	})
	if out != nil {
		s.segs = append(s.segs, out)
	}
	s.running = false
	s.finishJob(nil)
	s.mu.Unlock()

	puts := map[string][]byte{}
	if out != nil {
		puts[blobName(out.id)] = g.Marshal()
	}
	if err := s.store.Apply(ctx, puts, drop); err != nil {
		// The segment serves from memory; a restart re-indexes its points.
		return true, fmt.Errorf("%s segment: persist: %w", j.kind, err)
	}
	if out != nil {
		s.mu.Lock()
		out.stored = true
		s.mu.Unlock()
	}
	ev := s.log.Info().Str("job", j.kind).Int("sources", len(j.sources)).Dur("took", time.Since(t0))
	if g != nil {
		ev = ev.Int("points", g.Len()).Int("tombstoned_meanwhile", g.Deleted())
	}
	ev.Msg("segment optimized")
	return true, nil
}
