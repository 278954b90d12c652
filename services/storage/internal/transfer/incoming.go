package transfer

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"sync"
	"time"
)

// incoming is one transfer being received. Chunks are accepted in order by
// the data subscription (accept) into queue, and written to the temporary
// file by the transfer's own writer goroutine, which acknowledges each.
type incoming struct {
	r    *Receiver
	h    Header
	ack  string // the sender's ack subject
	path string
	f    *os.File

	ctx    context.Context // ends on abort or receiver close; the handler's ctx
	cancel context.CancelFunc
	wdone  chan struct{} // closed when the writer exits (file closed)

	started bool // the handler was started; guarded by Receiver.mu

	mu       sync.Mutex
	cond     *sync.Cond
	queue    [][]byte  // accepted payloads not yet written
	next     uint64    // next sequence accepted
	nextOff  uint64    // offset of the next accepted chunk
	acked    uint64    // chunks written
	written  uint64    // bytes written
	crc      uint32    // CRC32C of the written bytes
	handling bool      // finished and verified: the handler runs
	stop     bool      // the writer must exit
	werr     error     // write failure
	last     time.Time // last chunk or control request
	resendAt uint64    // sequence of the last resend request
	resendT  time.Time // when it was sent
}

// newIncoming creates the transfer's temporary file and starts its writer.
func newIncoming(r *Receiver, h Header, ackSubj string) (*incoming, error) {
	path := r.partPath(h.ID)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	in := &incoming{r: r, h: h, ack: ackSubj, path: path, f: f, wdone: make(chan struct{}), last: time.Now()}
	in.cond = sync.NewCond(&in.mu)
	in.ctx, in.cancel = context.WithCancel(r.ctx)
	go in.writer()
	return in, nil
}

// accept takes a decoded chunk from the data subscription.
func (in *incoming) accept(c chunk) {
	in.mu.Lock()
	if in.handling || in.stop || in.werr != nil {
		in.mu.Unlock()
		return
	}
	in.last = time.Now()
	switch {
	case c.seq < in.next: // duplicate: acknowledge again
		acked, written := in.acked, in.written
		in.mu.Unlock()
		in.r.publish(in.ack, appendAck(nil, msgAck, in.h.ID, acked, written, in.r.window()))
		return
	case c.seq > in.next: // gap: a chunk was lost
		in.requestResend()
		return
	}
	if c.offset != in.nextOff || checksum(c.payload) != c.crc {
		in.r.crcErrors.Add(1)
		in.r.log.Warn().Str("transfer", in.h.ID).Uint64("seq", c.seq).Msg("corrupt chunk: asking for a resend")
		in.requestResend()
		return
	}
	in.queue = append(in.queue, c.payload)
	in.next++
	in.nextOff += uint64(len(c.payload))
	in.r.noteBuffered(int(in.next - in.acked))
	in.cond.Signal()
	in.mu.Unlock()
}

// requestResend asks the sender to resend from in.next, at most once per
// second for the same position (the chunks behind a lost one all arrive as
// gaps). It is called with in.mu held and releases it.
func (in *incoming) requestResend() {
	now := time.Now()
	if in.resendAt == in.next && now.Sub(in.resendT) < time.Second {
		in.mu.Unlock()
		return
	}
	in.resendAt, in.resendT = in.next, now
	next, written := in.next, in.written
	in.mu.Unlock()
	in.r.publish(in.ack, appendAck(nil, msgResend, in.h.ID, next, written, in.r.window()))
}

// writer writes accepted chunks in order and acknowledges each; it closes
// the file when told to stop.
func (in *incoming) writer() {
	defer close(in.wdone)
	for {
		in.mu.Lock()
		for len(in.queue) == 0 && !in.stop {
			in.cond.Wait()
		}
		if in.stop {
			in.mu.Unlock()
			break
		}
		p := in.queue[0]
		in.queue[0] = nil
		in.queue = in.queue[1:]
		in.mu.Unlock()

		_, err := in.f.Write(p)
		in.mu.Lock()
		if err != nil {
			in.werr = fmt.Errorf("write %s: %w", in.path, err)
			in.stop = true
			in.mu.Unlock()
			go in.r.complete(in, in.werr) // waits for this writer to exit
			break
		}
		in.crc = crc32.Update(in.crc, castagnoli, p)
		in.acked++
		in.written += uint64(len(p))
		acked, written := in.acked, in.written
		in.mu.Unlock()
		in.r.publish(in.ack, appendAck(nil, msgAck, in.h.ID, acked, written, in.r.window()))
	}
	if err := in.f.Close(); err != nil {
		in.mu.Lock()
		if in.werr == nil {
			in.werr = fmt.Errorf("close %s: %w", in.path, err)
		}
		in.mu.Unlock()
	}
}

// halt stops the writer and waits for it to close the file.
func (in *incoming) halt() {
	in.mu.Lock()
	in.stop = true
	in.cond.Signal()
	in.mu.Unlock()
	<-in.wdone
}

// position reports the receive position for a status reply.
func (in *incoming) position() ctlReply {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.last = time.Now()
	st := stReceiving
	if in.handling {
		st = stHandling
	}
	return ctlReply{Status: st, Next: in.next, Acked: in.acked, Window: in.r.window()}
}

// finish checks the sender's totals against what was written. It returns
// (true, nil) when the stream is complete and verified, and the transfer
// switches to handling; (false, nil) when chunks are still missing (the
// sender must resync); or an error when the content does not match.
func (in *incoming) finish(req ctlRequest) (bool, error) {
	in.mu.Lock()
	in.last = time.Now()
	if in.handling {
		in.mu.Unlock()
		return true, nil
	}
	if in.werr != nil {
		err := in.werr
		in.mu.Unlock()
		return false, err
	}
	if in.acked != req.Chunks || in.next != req.Chunks {
		in.mu.Unlock()
		return false, nil
	}
	if in.written != uint64(req.Size) || in.crc != req.CRC {
		w, c := in.written, in.crc
		in.mu.Unlock()
		return false, fmt.Errorf("stream check failed: received %d bytes with CRC32C %08x, sender sent %d bytes with CRC32C %08x", w, c, req.Size, req.CRC)
	}
	in.handling = true
	in.mu.Unlock()
	in.halt()
	in.mu.Lock()
	err := in.werr
	in.mu.Unlock()
	if err != nil {
		return false, err
	}
	return true, nil
}

// idle reports whether the transfer is still receiving and got nothing
// since before t.
func (in *incoming) idle(t time.Time) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return !in.handling && in.last.Before(t)
}

// failed reports a write failure.
func (in *incoming) failed() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.werr
}

// discard stops the transfer and removes its file.
func (in *incoming) discard() {
	in.cancel()
	in.halt()
	if err := os.Remove(in.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		in.r.log.Warn().Err(err).Str("path", in.path).Msg("remove partial transfer")
	}
}
