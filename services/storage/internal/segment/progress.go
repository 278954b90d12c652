package segment

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"time"
)

// maxCompleted is how many finished optimizations a Set remembers.
const maxCompleted = 64

// Optimizer names of the jobs, as the optimizations report shows them.
var optimizerNames = map[string]string{
	"seal":   "indexing",
	"vacuum": "vacuum",
	"merge":  "merge",
	"drop":   "drop_empty",
	"relink": "config_mismatch",
}

// SegmentInfo is one segment in the optimizations report.
type SegmentInfo struct {
	// UUID names the segment: a per-Set random prefix and the segment id,
	// so it is stable while the node runs (a restart renames segments).
	UUID   string
	Points int
}

// Optimization is one job, running or finished.
type Optimization struct {
	// UUID is the segment the job produces (for "drop_empty", which
	// produces none, the id it would have had).
	UUID      string
	Optimizer string
	// Err is set when the job failed.
	Err      string
	Done     bool
	Segments []SegmentInfo
	// Points is the number of live points the job indexes.
	Points   int
	Started  time.Time
	Finished time.Time
}

// PendingOptimization is a job the optimizer would run next.
type PendingOptimization struct {
	Optimizer string
	Segments  []SegmentInfo
}

// Progress is the optimizer's state: the running job, the last finished
// ones (newest first), an estimate of the queue and the segments no job
// would touch.
type Progress struct {
	Running   []Optimization
	Completed []Optimization
	Queued    []PendingOptimization
	Idle      []SegmentInfo
}

func newUUIDPrefix() [8]byte {
	var p [8]byte
	_, _ = rand.Read(p[:])
	return p
}

// uuidOf formats segment id as a UUID under the Set's prefix.
func (s *Set) uuidOf(id uint64) string {
	var b [16]byte
	copy(b[:8], s.uuidPrefix[:])
	binary.BigEndian.PutUint64(b[8:], id)
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Set) infoOf(seg *segment) SegmentInfo {
	return SegmentInfo{UUID: s.uuidOf(seg.id), Points: seg.len()}
}

// startJob records j as running; the caller holds mu. outID is the id of
// the segment the job will produce.
func (s *Set) startJob(j *job, outID uint64) {
	op := &Optimization{UUID: s.uuidOf(outID), Optimizer: optimizerNames[j.kind], Started: time.Now().UTC()}
	for _, seg := range j.sources {
		info := s.infoOf(seg)
		op.Segments = append(op.Segments, info)
		op.Points += info.Points
	}
	s.current = op
}

// finishJob moves the running job to the completed ones; the caller holds
// mu.
func (s *Set) finishJob(err error) {
	op := s.current
	if op == nil {
		return
	}
	s.current = nil
	op.Finished = time.Now().UTC()
	op.Done = err == nil
	if err != nil {
		op.Err = err.Error()
	}
	s.completed = append(s.completed, *op)
	if len(s.completed) > maxCompleted {
		s.completed = slices.Delete(s.completed, 0, len(s.completed)-maxCompleted)
	}
}

// Progress returns the optimizer's state. The queue is estimated the way
// the optimizer plans (seal, drop empty segments, vacuum, merge the
// smallest), without the segments of the running job.
func (s *Set) Progress() Progress {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.progressLocked()
}

// progressLocked is Progress; the caller holds mu (read or write).
func (s *Set) progressLocked() Progress {
	p := Progress{Running: []Optimization{}, Completed: []Optimization{}, Queued: []PendingOptimization{}, Idle: []SegmentInfo{}}
	busy := map[string]bool{}
	if s.current != nil {
		op := *s.current
		op.Segments = slices.Clone(op.Segments)
		p.Running = append(p.Running, op)
		for _, seg := range op.Segments {
			busy[seg.UUID] = true
		}
	}
	for i := len(s.completed) - 1; i >= 0; i-- {
		p.Completed = append(p.Completed, s.completed[i])
	}
	queue := func(kind string, segs ...*segment) {
		pending := PendingOptimization{Optimizer: optimizerNames[kind]}
		for _, seg := range segs {
			info := s.infoOf(seg)
			busy[info.UUID] = true
			pending.Segments = append(pending.Segments, info)
		}
		p.Queued = append(p.Queued, pending)
	}
	free := func(seg *segment) bool { return !busy[s.uuidOf(seg.id)] }
	for _, seg := range s.segs {
		if free(seg) && !seg.sealed() {
			queue("seal", seg)
		}
	}
	if s.overThreshold() {
		queue("seal", s.appendable)
	}
	var sealed []*segment
	for _, seg := range s.segs {
		switch {
		case !free(seg) || !seg.sealed():
		case seg.graph.Len() == 0:
			queue("drop", seg)
		case s.needsVacuum(seg):
			queue("vacuum", seg)
		case s.needsRelink(seg):
			queue("relink", seg)
		default:
			sealed = append(sealed, seg)
		}
	}
	// Merges: every job above leaves one segment (or none) in place of
	// its sources, then the two smallest merge while there are too many.
	count := len(s.segs)
	for _, q := range p.Queued {
		if q.Optimizer == optimizerNames["drop"] {
			count--
		}
	}
	slices.SortFunc(sealed, func(a, b *segment) int { return a.len() - b.len() })
	for count > s.cfg.maxSegments() && len(sealed) >= 2 {
		a, b := sealed[0], sealed[1]
		if lim := s.cfg.MaxSegmentSizeKB; lim != 0 && s.cfg.bytes(a.len()+b.len()) > int64(lim)*1024 {
			break
		}
		queue("merge", a, b)
		sealed = sealed[2:]
		count--
	}
	for _, seg := range append(slices.Clone(s.segs), s.appendable) {
		if info := s.infoOf(seg); !busy[info.UUID] {
			p.Idle = append(p.Idle, info)
		}
	}
	return p
}
