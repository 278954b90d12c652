package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// partSuffix names the temporary files of incoming transfers.
const partSuffix = ".part"

// Handler runs on the receiver once the whole stream arrived and was
// verified; path is a temporary file holding the content, removed after the
// handler returns. ctx ends when the sender aborts the transfer or the
// receiver closes. The handler's error is returned by the sender's Send.
type Handler func(ctx context.Context, h Header, path string) error

// ReceiverOptions configure a Receiver; zero values take the defaults.
type ReceiverOptions struct {
	// MaxConcurrent bounds the transfers received at once, from open until
	// the handler returned (default 1). Opens beyond it are answered busy
	// and the senders retry.
	MaxConcurrent int
	// Window is the credit granted to a sender, in chunks (default 8).
	Window int
	// TTL is how long a partial transfer may stay idle before it is dropped
	// with its file, and how long a finished transfer's result is kept for
	// a sender that missed it (default 2 min).
	TTL time.Duration
}

// ReceiverCounters are observations for tests and metrics.
type ReceiverCounters struct {
	// MaxBuffered is the most chunks any transfer held accepted but not yet
	// written; a sender honouring the window keeps it at most Window.
	MaxBuffered int
	// CRCErrors counts chunks dropped for a bad checksum or offset.
	CRCErrors int64
}

// result is a finished transfer's outcome, kept for TTL.
type result struct {
	errText string
	ok      bool
	at      time.Time
}

// Receiver accepts transfers addressed to one node and hands complete
// streams to the handler registered for their kind. It takes one stream
// per (collection, shard) at a time: the open of a newer stream of a shard
// replaces an older one whose data is still arriving (its sender died or
// gave up; a replica's copy comes from one sender at a time), so a dead
// sender does not hold an incoming slot until its stream idles out.
type Receiver struct {
	nc     *nats.Conn
	node   uint64
	dir    string
	opts   ReceiverOptions
	log    zerolog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	ctlSub, dataSub *nats.Subscription

	mu       sync.Mutex
	handlers map[string]Handler
	active   map[string]*incoming
	results  map[string]result
	closed   bool
	wg       sync.WaitGroup // handler runs and the janitor

	maxBuffered atomic.Int64
	crcErrors   atomic.Int64
}

// NewReceiver subscribes to node's transfer subjects. dir holds the
// temporary files; it is created if needed, and leftover partial files
// from an earlier run are removed.
func NewReceiver(nc *nats.Conn, nodeID uint64, dir string, opts ReceiverOptions, log zerolog.Logger) (*Receiver, error) {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 1
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.TTL <= 0 {
		opts.TTL = 2 * time.Minute
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("transfer dir: %w", err)
	}
	olds, err := filepath.Glob(filepath.Join(dir, "*"+partSuffix))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	for _, p := range olds {
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("remove leftover transfer file: %w", err)
		}
	}
	r := &Receiver{
		nc: nc, node: nodeID, dir: dir, opts: opts,
		log:      log.With().Str("component", "transfer-receiver").Logger(),
		handlers: map[string]Handler{}, active: map[string]*incoming{}, results: map[string]result{},
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if r.ctlSub, err = nc.Subscribe(ctlSubject(nodeID), r.onCtl); err != nil {
		r.cancel()
		return nil, fmt.Errorf("subscribe %s: %w", ctlSubject(nodeID), err)
	}
	if r.dataSub, err = nc.Subscribe(dataSubject(nodeID), r.onData); err != nil {
		_ = r.ctlSub.Unsubscribe()
		r.cancel()
		return nil, fmt.Errorf("subscribe %s: %w", dataSubject(nodeID), err)
	}
	r.wg.Add(1)
	go r.janitor()
	return r, nil
}

// Handle registers the handler for kind, replacing any earlier one.
func (r *Receiver) Handle(kind string, h Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[kind] = h
}

// Counters returns the receiver's counters.
func (r *Receiver) Counters() ReceiverCounters {
	return ReceiverCounters{MaxBuffered: int(r.maxBuffered.Load()), CRCErrors: r.crcErrors.Load()}
}

// Close unsubscribes, ends the transfers in progress (removing their
// files; running handlers see their context cancelled) and waits for the
// handlers to return. It is idempotent.
func (r *Receiver) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var active []*incoming // the ones whose handler runs finish through complete
	for id, in := range r.active {
		if !in.started {
			active = append(active, in)
			delete(r.active, id)
		}
	}
	r.mu.Unlock()
	var errs []error
	for _, s := range []*nats.Subscription{r.ctlSub, r.dataSub} {
		if err := s.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			errs = append(errs, fmt.Errorf("unsubscribe %s: %w", s.Subject, err))
		}
	}
	r.cancel()
	for _, in := range active {
		in.discard()
	}
	r.wg.Wait()
	return errors.Join(errs...)
}

func (r *Receiver) window() uint32 { return uint32(r.opts.Window) }

func (r *Receiver) partPath(id string) string { return filepath.Join(r.dir, id+partSuffix) }

func (r *Receiver) noteBuffered(n int) {
	for {
		cur := r.maxBuffered.Load()
		if int64(n) <= cur || r.maxBuffered.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

// publish sends a message to a sender; a lost one is recovered by the
// sender's status request.
func (r *Receiver) publish(subj string, b []byte) {
	if err := r.nc.Publish(subj, b); err != nil {
		r.log.Debug().Err(err).Str("subject", subj).Msg("publish to sender")
	}
}

func (r *Receiver) onData(m *nats.Msg) {
	c, err := decodeChunk(m.Data)
	if err != nil {
		r.log.Debug().Err(err).Msg("drop undecodable chunk")
		return
	}
	r.mu.Lock()
	in := r.active[c.id]
	r.mu.Unlock()
	if in != nil {
		in.accept(c)
	}
}

func (r *Receiver) onCtl(m *nats.Msg) {
	var req ctlRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		r.reply(m, ctlReply{Status: stError, Error: fmt.Sprintf("bad control request: %v", err)})
		return
	}
	if !validID(req.ID) {
		r.reply(m, ctlReply{Status: stError, Error: fmt.Sprintf("bad transfer id %q", req.ID)})
		return
	}
	switch req.Op {
	case opOpen:
		r.reply(m, r.open(req))
	case opStatus:
		r.reply(m, r.status(req.ID))
	case opFinish:
		r.reply(m, r.finish(req))
	case opAbort:
		r.abort(req.ID, req.Reason)
		r.reply(m, ctlReply{Status: stOK})
	default:
		r.reply(m, ctlReply{Status: stError, Error: fmt.Sprintf("unknown operation %q", req.Op)})
	}
}

func (r *Receiver) reply(m *nats.Msg, rep ctlReply) {
	if m.Reply == "" {
		return
	}
	b, err := json.Marshal(rep)
	if err != nil {
		r.log.Error().Err(err).Msg("encode control reply")
		return
	}
	if err := m.Respond(b); err != nil {
		r.log.Debug().Err(err).Msg("control reply")
	}
}

func (r *Receiver) open(req ctlRequest) ctlReply {
	h := req.Header
	switch {
	case h == nil || h.ID != req.ID:
		return ctlReply{Status: stError, Error: "open without a matching header"}
	case h.To != r.node:
		return ctlReply{Status: stError, Error: fmt.Sprintf("transfer for node %d reached node %d", h.To, r.node)}
	case req.Ack == "":
		return ctlReply{Status: stError, Error: "open without an ack subject"}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ctlReply{Status: stError, Error: "receiver closed"}
	}
	if in := r.active[h.ID]; in != nil { // a retried open
		return in.position()
	}
	if res, ok := r.results[h.ID]; ok {
		return ctlReply{Status: stError, Error: fmt.Sprintf("transfer %s already finished (%s)", h.ID, res.errText)}
	}
	if r.handlers[h.Kind] == nil {
		return ctlReply{Status: stError, Error: fmt.Sprintf("node %d has no handler for transfers of kind %q", r.node, h.Kind)}
	}
	// A new stream of the same collection's shard replaces one whose data
	// is still arriving: its sender gave up or died (a shard's copy comes
	// from one sender at a time), and waiting for it to idle out would
	// keep the slot for TTL.
	var superseded []*incoming
	for id, old := range r.active {
		if old.h.Collection == h.Collection && old.h.Shard == h.Shard && !old.started {
			delete(r.active, id)
			r.results[id] = result{errText: "superseded by transfer " + h.ID, at: time.Now()}
			superseded = append(superseded, old)
		}
	}
	for _, old := range superseded {
		r.log.Info().Str("transfer", old.h.ID).Str("by", h.ID).Msg("incoming transfer superseded by a newer one of the same shard")
		old.discard() // its writer needs no Receiver lock to exit
	}
	if len(r.active) >= r.opts.MaxConcurrent {
		return ctlReply{Status: stBusy, Window: r.window()}
	}
	in, err := newIncoming(r, *h, req.Ack)
	if err != nil {
		return ctlReply{Status: stError, Error: err.Error()}
	}
	r.active[h.ID] = in
	r.log.Debug().Str("transfer", h.ID).Str("collection", h.Collection).Uint32("shard", h.Shard).
		Str("kind", h.Kind).Uint64("from", h.From).Int64("size", h.Size).Msg("incoming transfer")
	return ctlReply{Status: stOK, Window: r.window()}
}

func (r *Receiver) status(id string) ctlReply {
	r.mu.Lock()
	in := r.active[id]
	res, done := r.results[id]
	r.mu.Unlock()
	switch {
	case in != nil:
		if err := in.failed(); err != nil {
			return ctlReply{Status: stError, Error: err.Error()}
		}
		return in.position()
	case done:
		return doneReply(res)
	}
	return ctlReply{Status: stUnknown}
}

func doneReply(res result) ctlReply {
	if res.ok {
		return ctlReply{Status: stDone}
	}
	return ctlReply{Status: stDone, Error: res.errText}
}

func (r *Receiver) finish(req ctlRequest) ctlReply {
	r.mu.Lock()
	in := r.active[req.ID]
	res, done := r.results[req.ID]
	var hd Handler
	if in != nil {
		hd = r.handlers[in.h.Kind]
	}
	r.mu.Unlock()
	if in == nil {
		if done {
			return doneReply(res)
		}
		return ctlReply{Status: stUnknown}
	}
	ready, err := in.finish(req)
	switch {
	case err != nil:
		go r.complete(in, err)
		return ctlReply{Status: stError, Error: err.Error()}
	case !ready:
		return in.position()
	}
	if hd == nil {
		err := fmt.Errorf("node %d has no handler for transfers of kind %q", r.node, in.h.Kind)
		go r.complete(in, err)
		return ctlReply{Status: stError, Error: err.Error()}
	}
	r.mu.Lock()
	start := !in.started
	in.started = true
	if start {
		r.wg.Add(1)
	}
	r.mu.Unlock()
	if start {
		go func() {
			defer r.wg.Done()
			r.log.Debug().Str("transfer", in.h.ID).Str("kind", in.h.Kind).Msg("transfer received, running handler")
			herr := hd(in.ctx, in.h, in.path)
			if herr == nil && in.ctx.Err() != nil {
				herr = fmt.Errorf("transfer %s aborted", in.h.ID)
			}
			r.complete(in, herr)
		}()
	}
	return ctlReply{Status: stOK}
}

// complete ends a transfer: removes it and its file, keeps its result and
// sends the result to the sender. Only the first call for a transfer acts.
func (r *Receiver) complete(in *incoming, err error) {
	r.mu.Lock()
	if r.active[in.h.ID] != in {
		r.mu.Unlock()
		return
	}
	delete(r.active, in.h.ID)
	res := result{ok: err == nil, at: time.Now()}
	if err != nil {
		res.errText = err.Error()
	}
	r.results[in.h.ID] = res
	r.mu.Unlock()
	in.discard()
	r.publish(in.ack, appendDone(nil, in.h.ID, err))
	if err != nil {
		r.log.Warn().Err(err).Str("transfer", in.h.ID).Str("kind", in.h.Kind).Msg("incoming transfer failed")
	}
}

// abort drops a transfer on the sender's request.
func (r *Receiver) abort(id, reason string) {
	r.mu.Lock()
	in := r.active[id]
	if in != nil {
		delete(r.active, id)
		r.results[id] = result{errText: "aborted by the sender: " + reason, at: time.Now()}
	}
	r.mu.Unlock()
	if in != nil {
		r.log.Info().Str("transfer", id).Str("reason", reason).Msg("transfer aborted by the sender")
		in.discard()
	}
}

// janitor drops partial transfers idle for TTL and forgets old results.
func (r *Receiver) janitor() {
	defer r.wg.Done()
	tick := time.NewTicker(min(r.opts.TTL/4, 5*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-tick.C:
		}
		cutoff := time.Now().Add(-r.opts.TTL)
		var stale []*incoming
		r.mu.Lock()
		for id, in := range r.active {
			if in.idle(cutoff) {
				stale = append(stale, in)
				delete(r.active, id)
				r.results[id] = result{errText: "dropped after idling for " + r.opts.TTL.String(), at: time.Now()}
			}
		}
		for id, res := range r.results {
			if res.at.Before(cutoff) {
				delete(r.results, id)
			}
		}
		r.mu.Unlock()
		for _, in := range stale {
			r.log.Warn().Str("transfer", in.h.ID).Dur("ttl", r.opts.TTL).Msg("dropping idle partial transfer")
			in.discard()
		}
	}
}

// validID accepts ids safe in file names and subjects.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	return strings.IndexFunc(id, func(c rune) bool {
		return !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_')
	}) < 0
}
