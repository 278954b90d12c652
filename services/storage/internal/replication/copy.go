package replication

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/replica"
	"github.com/shoaldb/shoal/services/storage/internal/transfer"
	"google.golang.org/protobuf/proto"
)

// Transfer methods, spelled as the cluster operations API spells them.
const (
	MethodStreamRecords = "stream_records"
	MethodSnapshot      = "snapshot"
	MethodWALDelta      = "wal_delta"
)

// Stream kinds on the transfer wire (transfer.Header.Kind).
const (
	KindSnapshot = "snapshot"
	KindRecords  = "records"
)

// Streamer sends a stream to another storage node and returns once that
// node has applied it; *transfer.Sender implements it.
type Streamer interface {
	Send(ctx context.Context, h transfer.Header, r io.Reader, progress func(transfer.Progress)) (transfer.Stats, error)
}

// defaultSnapshotPoints is the size from which an automatic full copy is
// a snapshot rather than a stream of records.
const defaultSnapshotPoints = 10_000

// install sends the follower a full copy of the primary's replica, by the
// method the shard's transfer record (or storage.shard_transfer_method)
// asks for, then shipping continues from the copy's position. why says
// why the log alone cannot bring the follower up to date. An Active
// follower is first set Partial (Recovery for a snapshot, which replaces
// its file), so that it serves no reads and counts for no write while its
// contents are replaced; a Partial one that gets a snapshot is set
// Recovery. Listener and Initializing followers keep their state.
func (s *shipper) install(ctx context.Context, why string) (uint64, error) {
	method, note := s.copyMethod(ctx, why)
	cur := shoalv1.ReplicaState(s.state.Load())
	to := cur
	switch {
	case cur == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE && method == MethodSnapshot,
		cur == shoalv1.ReplicaState_REPLICA_STATE_PARTIAL && method == MethodSnapshot:
		to = shoalv1.ReplicaState_REPLICA_STATE_RECOVERY
	case cur == shoalv1.ReplicaState_REPLICA_STATE_ACTIVE:
		to = shoalv1.ReplicaState_REPLICA_STATE_PARTIAL
	}
	if to != cur {
		from := func(st shoalv1.ReplicaState) bool { return st == cur }
		if err := s.g.setFollowerState(ctx, s.node, to, from); err != nil {
			return 0, fmt.Errorf("set follower %s before a full copy: %w", to, err)
		}
		s.state.Store(int32(to))
		s.g.notify()
	}
	rep := s.recovering()
	rep.switchTo(method, note)
	var id [8]byte
	_, _ = rand.Read(id[:])
	session := hex.EncodeToString(id[:])
	var (
		seq uint64
		err error
	)
	switch {
	case s.g.c.cfg.Streamer == nil:
		seq, err = s.copyOverRPC(ctx, session, rep)
	case method == MethodSnapshot:
		seq, err = s.sendSnapshot(ctx, session, rep)
	default:
		seq, err = s.sendRecords(ctx, session, rep)
	}
	if err != nil {
		return 0, fmt.Errorf("%s copy to node %d: %w", method, s.node, err)
	}
	s.g.log.Info().Uint64("follower", s.node).Str("method", method).Str("note", note).
		Int64("bytes", rep.bytes.Load()).Int64("records", rep.records.Load()).Uint64("seq", seq).
		Msg("full copy installed on follower")
	s.ack(seq)
	return seq + 1, nil
}

// copyMethod picks the full-copy method: the one the transfer record to
// this follower asks for, else the node's default; automatic means a
// snapshot for a replica of defaultSnapshotPoints points or more and a
// stream of records for a smaller one. wal_delta cannot make a full copy:
// it falls back to a snapshot, and note says so.
func (s *shipper) copyMethod(ctx context.Context, why string) (method, note string) {
	asked := s.g.c.cfg.DefaultMethod
	if f := s.g.c.cfg.Transfers; f != nil {
		for _, t := range f(s.g.key.collection) {
			if t.GetUid() == s.g.key.uid && t.GetShardId() == s.g.key.shard && t.GetToNode() == s.node && !t.GetQueued() && t.GetMethod() != "" {
				asked = t.GetMethod()
			}
		}
	}
	switch asked {
	case MethodSnapshot, MethodStreamRecords:
		return asked, ""
	case MethodWALDelta:
		return MethodSnapshot, "wal_delta not possible (" + why + "): fell back to snapshot"
	}
	n, err := s.g.r.Count(ctx)
	if err == nil && n >= uint64(s.g.c.snapshotPoints()) {
		return MethodSnapshot, "automatic: " + why
	}
	return MethodStreamRecords, "automatic: " + why
}

// copyMeta is the transfer header's Meta: who sends the copy, at which
// term, of which shard.
func (s *shipper) copyMeta(session string) []byte {
	b, _ := proto.Marshal(&shoalv1.InstallRequest{Shard: s.g.key.ref(), Term: s.g.term, Primary: s.g.c.cfg.NodeID, Session: session})
	return b
}

func (s *shipper) header(kind, session string, size int64) transfer.Header {
	return transfer.Header{
		ID: transfer.NewID(), Collection: s.g.key.collection, Shard: s.g.key.shard, Kind: kind,
		From: s.g.c.cfg.NodeID, To: s.node, Size: size, Meta: s.copyMeta(session),
	}
}

// sendSnapshot streams a consistent copy of the replica file (see
// replica.WriteSnapshot) to the follower, which opens it in place of its
// replica: the sealed HNSW segments arrive built.
func (s *shipper) sendSnapshot(ctx context.Context, session string, rep *report) (uint64, error) {
	size := int64(-1)
	if fi, err := statSize(s.g.r.Path()); err == nil {
		size = fi
	}
	rep.total(size, -1)
	return s.stream(ctx, s.header(KindSnapshot, session, size), rep, func(w io.Writer) (uint64, error) {
		pos, err := s.g.r.WriteSnapshot(ctx, w)
		if err != nil {
			return 0, fmt.Errorf("write snapshot: %w", err)
		}
		return pos.Seq, nil
	})
}

// sendRecords streams the replica's points in batches (length-prefixed
// InstallRequest messages, the last one carrying the position and the
// field indexes) to the follower, which installs them into a fresh
// replica.
func (s *shipper) sendRecords(ctx context.Context, session string, rep *report) (uint64, error) {
	if n, err := s.g.r.Count(ctx); err == nil {
		rep.total(-1, int64(n))
	}
	return s.stream(ctx, s.header(KindRecords, session, -1), rep, func(w io.Writer) (uint64, error) {
		bw := bufio.NewWriterSize(w, 256<<10)
		// The first frame carries the snapshot's vector spaces (vector
		// names are created and deleted through the log).
		first := func(snap replica.Snapshot) error {
			return writeFrame(bw, &shoalv1.InstallRequest{Vectors: snap.Vectors})
		}
		snap, err := s.g.r.ExportWithVectors(ctx, installBatch, first, func(batch []*shoalv1.Point) error {
			rep.add(0, int64(len(batch)))
			return writeFrame(bw, &shoalv1.InstallRequest{Points: batch})
		})
		if err == nil {
			err = writeFrame(bw, &shoalv1.InstallRequest{Last: true, LastTerm: snap.LastTerm, LastSeq: snap.LastSeq, FieldIndexes: snap.FieldIndexes})
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			return 0, fmt.Errorf("export records: %w", err)
		}
		return snap.LastSeq, nil
	})
}

// stream sends what write produces (on a goroutine of its own, through a
// pipe) to the follower and returns write's sequence number once the
// follower has applied it. Either side's failure ends the other.
func (s *shipper) stream(ctx context.Context, h transfer.Header, rep *report, write func(io.Writer) (uint64, error)) (uint64, error) {
	pr, pw := io.Pipe()
	type written struct {
		seq uint64
		err error
	}
	done := make(chan written, 1)
	go func() {
		seq, err := write(pw)
		pw.CloseWithError(err)
		done <- written{seq, err}
	}()
	_, err := s.g.c.cfg.Streamer.Send(ctx, h, pr, func(p transfer.Progress) { rep.setBytes(p.Bytes) })
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the writer if Send ended early
	w := <-done
	if err != nil {
		return 0, err
	}
	return w.seq, w.err
}

// maxFrame bounds one records frame (a batch of installBatch points).
const maxFrame = 256 << 20

func writeFrame(w io.Writer, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode records frame: %w", err)
	}
	var n [binary.MaxVarintLen64]byte
	if _, err := w.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))]); err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func readFrame(r *bufio.Reader, m proto.Message) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	if n > maxFrame {
		return fmt.Errorf("records frame of %d bytes is too large", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("read records frame: %w", io.ErrUnexpectedEOF)
	}
	return proto.Unmarshal(b, m)
}
