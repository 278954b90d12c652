package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// Header describes one stream.
type Header struct {
	// ID is the unique transfer id (see NewID); Send fills it in if empty.
	ID         string `json:"id"`
	Collection string `json:"collection"`
	Shard      uint32 `json:"shard"`
	// Kind selects the receiver's handler, e.g. "snapshot" or "records".
	Kind string `json:"kind"`
	// From and To are node ids; Send fills From with its node if zero.
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	// Size is the total number of bytes if known, else -1 (progress only).
	Size int64 `json:"size"`
	// Meta is passed to the receiver's handler untouched.
	Meta []byte `json:"meta,omitempty"`
}

// Progress reports a running Send: Bytes acknowledged by the receiver, out
// of Total (-1 if unknown).
type Progress struct {
	Bytes, Total int64
	Elapsed      time.Duration
}

// Stats describe a finished Send. Resends counts chunks sent more than
// once (after a gap, a corrupt chunk or a reconnect).
type Stats struct {
	Bytes   int64
	Chunks  int
	Resends int
	Elapsed time.Duration
}

// SenderOptions configure a Sender; zero values take the defaults.
type SenderOptions struct {
	// MaxConcurrent bounds the Sends running at once (default 1); further
	// calls wait their turn or until their context ends.
	MaxConcurrent int
	// RateLimit caps the outgoing data in bytes per second (0: unlimited).
	RateLimit int64
	// ChunkSize is the payload size of a data chunk (default 256 KiB).
	ChunkSize int
	// AckTimeout is how long the sender waits for an acknowledgement
	// before it asks the receiver for its position (default 2 s).
	AckTimeout time.Duration
	// RequestTimeout bounds one control request (default 2 s).
	RequestTimeout time.Duration
	// UnreachableTimeout is how long the receiver may stay silent before
	// Send gives up with ErrUnreachable (default 30 s).
	UnreachableTimeout time.Duration
}

// Sender streams data to other nodes' Receivers.
type Sender struct {
	nc      *nats.Conn
	node    uint64
	opts    SenderOptions
	log     zerolog.Logger
	sem     chan struct{}
	limiter *rate.Limiter // nil: unlimited

	// Test hooks.
	beforeChunk  func(seq uint64)                    // before each chunk is published
	afterPublish func(seq uint64, err error)         // after each publish
	corruptChunk func(seq uint64, msg []byte) []byte // may replace an encoded chunk on publish
	corruptCRC   func(crc uint32) uint32             // may alter the final CRC
}

// NewSender returns a Sender for node nodeID.
func NewSender(nc *nats.Conn, nodeID uint64, opts SenderOptions, log zerolog.Logger) *Sender {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 1
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 2 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 2 * time.Second
	}
	if opts.UnreachableTimeout <= 0 {
		opts.UnreachableTimeout = 30 * time.Second
	}
	s := &Sender{
		nc: nc, node: nodeID, opts: opts,
		log: log.With().Str("component", "transfer-sender").Logger(),
		sem: make(chan struct{}, opts.MaxConcurrent),
	}
	if opts.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(opts.RateLimit), opts.ChunkSize)
	}
	return s
}

// Send streams r to node h.To and returns after the receiver's handler for
// h.Kind has returned; the handler's error comes back as Send's error
// (wrapping a *RemoteError with its text). progress may be nil; it is
// called from Send's goroutine at most about every 250 ms. Send waits for
// a free slot (MaxConcurrent) and for the receiver to accept the transfer
// (it retries while the receiver is busy), both as long as ctx allows. It
// fails with ErrUnreachable when the receiver does not answer for
// UnreachableTimeout; on any failure it tells the receiver to drop the
// transfer.
func (s *Sender) Send(ctx context.Context, h Header, r io.Reader, progress func(Progress)) (Stats, error) {
	if h.ID == "" {
		h.ID = NewID()
	}
	if h.From == 0 {
		h.From = s.node
	}
	if !validID(h.ID) {
		return Stats{}, fmt.Errorf("transfer id %q: want 1-%d letters, digits, '-' or '_'", h.ID, maxIDLen)
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return Stats{}, fmt.Errorf("transfer %s to node %d: waiting for a free slot: %w", h.ID, h.To, ctx.Err())
	}
	defer func() { <-s.sem }()

	t := &outgoing{s: s, h: h, r: r, progress: progress, start: time.Now(), lastContact: time.Now()}
	t.acks = make(chan *nats.Msg, 4*DefaultWindow)
	sub, err := s.nc.ChanSubscribe(ackSubject(s.node, h.ID), t.acks)
	if err != nil {
		return Stats{}, fmt.Errorf("transfer %s: subscribe to acks: %w", h.ID, err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	err = t.run(ctx)
	st := Stats{Bytes: int64(t.offset), Chunks: int(t.read), Resends: t.resends, Elapsed: time.Since(t.start)}
	if err != nil {
		var rerr *RemoteError
		if !errors.As(err, &rerr) && t.opened {
			t.abort(err)
		}
		s.log.Warn().Err(err).Str("transfer", h.ID).Str("kind", h.Kind).Uint64("to", h.To).Msg("transfer failed")
		return st, fmt.Errorf("transfer %s (%s of %s/%d) to node %d: %w", h.ID, h.Kind, h.Collection, h.Shard, h.To, err)
	}
	s.log.Debug().Str("transfer", h.ID).Str("kind", h.Kind).Uint64("to", h.To).Int64("bytes", st.Bytes).
		Int("resends", st.Resends).Dur("elapsed", st.Elapsed).Msg("transfer done")
	return st, nil
}

// call sends a control request, retrying while the receiver does not
// answer, until ctx ends or the receiver was silent for UnreachableTimeout.
func (t *outgoing) call(ctx context.Context, req ctlRequest) (ctlReply, error) {
	s := t.s
	b, err := json.Marshal(req)
	if err != nil {
		return ctlReply{}, fmt.Errorf("encode %s request: %w", req.Op, err)
	}
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
		m, err := s.nc.RequestWithContext(rctx, ctlSubject(t.h.To), b)
		cancel()
		if err == nil {
			var rep ctlReply
			if err := json.Unmarshal(m.Data, &rep); err != nil {
				return ctlReply{}, fmt.Errorf("decode %s reply: %w", req.Op, err)
			}
			t.lastContact = time.Now()
			return rep, nil
		}
		if ctx.Err() != nil {
			return ctlReply{}, ctx.Err()
		}
		if time.Since(t.lastContact) >= s.opts.UnreachableTimeout {
			return ctlReply{}, fmt.Errorf("%w for %v (last %s request: %v)", ErrUnreachable, s.opts.UnreachableTimeout, req.Op, err)
		}
		if err := sleep(ctx, backoff(attempt, time.Second)); err != nil {
			return ctlReply{}, err
		}
	}
}

// abort tells the receiver to drop the transfer, without waiting.
func (t *outgoing) abort(cause error) {
	b, err := json.Marshal(ctlRequest{Op: opAbort, ID: t.h.ID, Reason: cause.Error()})
	if err == nil {
		err = t.s.nc.Publish(ctlSubject(t.h.To), b)
	}
	if err != nil {
		t.s.log.Debug().Err(err).Str("transfer", t.h.ID).Msg("send abort")
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
