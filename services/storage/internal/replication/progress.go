package replication

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"google.golang.org/protobuf/proto"
)

// ProgressSink publishes progress reports under the node's lease, so a
// report disappears with its node; *cluster.Registration implements it.
type ProgressSink interface {
	Put(ctx context.Context, key string, val []byte) error
	Delete(ctx context.Context, key string) error
}

// CopyReport is one finished recovery of a follower: the method that
// brought it up to date and what was sent.
type CopyReport struct {
	Collection string
	Shard      uint32
	To         uint64
	// Method is wal_delta when the log alone caught the follower up, else
	// the full-copy method used (then Records and Bytes count the copy
	// and the log entries after it).
	Method  string
	Note    string
	Bytes   int64
	Records int64
	Took    time.Duration
	Err     error
}

// historySize is how many CopyReports a coordinator keeps.
const historySize = 64

// Copies returns the newest finished recoveries this node ran as a
// primary, oldest first.
func (c *Coordinator) Copies() []CopyReport {
	c.histMu.Lock()
	defer c.histMu.Unlock()
	return append([]CopyReport(nil), c.history...)
}

func (c *Coordinator) record(r CopyReport) {
	c.histMu.Lock()
	defer c.histMu.Unlock()
	c.history = append(c.history, r)
	if len(c.history) > historySize {
		c.history = c.history[len(c.history)-historySize:]
	}
}

func (c *Coordinator) snapshotPoints() int {
	if c.cfg.SnapshotPoints > 0 {
		return c.cfg.SnapshotPoints
	}
	return defaultSnapshotPoints
}

// publishEvery bounds how often a report is written to etcd.
const publishEvery = time.Second

// report follows one recovery of a follower (from the first record or
// copy it is sent while not Active until it is caught up) and publishes
// it at cluster.TransferProgressKey. Its methods are safe for concurrent
// use (a transfer's progress callback may run on another goroutine).
type report struct {
	s       *shipper
	started time.Time

	bytes, records           atomic.Int64
	bytesTotal, recordsTotal atomic.Int64

	mu        sync.Mutex
	method    string
	note      string
	published time.Time
}

// recovering returns the follower's running report, starting one (as a
// wal_delta) if none runs.
func (s *shipper) recovering() *report {
	if s.rep == nil {
		s.rep = &report{s: s, started: time.Now(), method: MethodWALDelta}
		s.rep.bytesTotal.Store(-1)
		s.rep.recordsTotal.Store(-1)
	}
	return s.rep
}

// finish ends the follower's running report, if any.
func (s *shipper) finish(err error) {
	if s.rep == nil {
		return
	}
	s.rep.end(err)
	s.rep = nil
}

func (r *report) switchTo(method, note string) {
	r.mu.Lock()
	r.method, r.note = method, note
	r.mu.Unlock()
	r.publish(true)
}

func (r *report) total(bytes, records int64) {
	r.bytesTotal.Store(bytes)
	r.recordsTotal.Store(records)
	r.publish(true)
}

// add counts bytes and records sent.
func (r *report) add(bytes, records int64) {
	r.bytes.Add(bytes)
	r.records.Add(records)
	r.publish(false)
}

// setBytes sets the bytes sent so far (a transfer reports its total).
func (r *report) setBytes(bytes int64) {
	r.bytes.Store(bytes)
	r.publish(false)
}

func (r *report) key() string {
	return cluster.TransferProgressKey(r.s.g.key.collection, r.s.g.key.shard, r.s.node)
}

// publish writes the report, at most once per publishEvery unless force.
func (r *report) publish(force bool) {
	sink := r.s.g.c.cfg.Progress
	if sink == nil {
		return
	}
	r.mu.Lock()
	now := time.Now()
	if !force && now.Sub(r.published) < publishEvery {
		r.mu.Unlock()
		return
	}
	r.published = now
	p := &shoalv1.TransferProgress{
		Collection: r.s.g.key.collection, Uid: r.s.g.key.uid, ShardId: r.s.g.key.shard,
		FromNode: r.s.g.c.cfg.NodeID, ToNode: r.s.node, Method: r.method, Note: r.note,
		BytesDone: r.bytes.Load(), BytesTotal: r.bytesTotal.Load(),
		RecordsDone: r.records.Load(), RecordsTotal: r.recordsTotal.Load(),
		StartedUnixMs: r.started.UnixMilli(), UpdatedUnixMs: now.UnixMilli(),
	}
	r.mu.Unlock()
	b, err := proto.Marshal(p)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := sink.Put(ctx, r.key(), b); err != nil {
		r.s.g.log.Debug().Err(err).Msg("publish transfer progress")
	}
}

// end removes the published report and keeps it in the history.
func (r *report) end(err error) {
	r.mu.Lock()
	method, note := r.method, r.note
	r.mu.Unlock()
	r.s.g.c.record(CopyReport{
		Collection: r.s.g.key.collection, Shard: r.s.g.key.shard, To: r.s.node,
		Method: method, Note: note, Bytes: r.bytes.Load(), Records: r.records.Load(),
		Took: time.Since(r.started), Err: err,
	})
	if sink := r.s.g.c.cfg.Progress; sink != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := sink.Delete(ctx, r.key()); err != nil {
			r.s.g.log.Debug().Err(err).Msg("remove transfer progress")
		}
	}
}

func statSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
