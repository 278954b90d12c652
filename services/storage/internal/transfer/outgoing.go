package transfer

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/nats-io/nats.go"
)

// progressEvery is the least interval between progress callbacks.
const progressEvery = 250 * time.Millisecond

// sentChunk is an encoded chunk kept until the receiver acknowledges it.
type sentChunk struct {
	msg []byte
	n   int // payload bytes
}

// outgoing is the state of one Send, used from Send's goroutine only.
type outgoing struct {
	s        *Sender
	h        Header
	r        io.Reader
	progress func(Progress)
	acks     chan *nats.Msg

	start, lastContact, lastProgress time.Time
	opened                           bool

	window  uint64
	buf     []sentChunk // chunks acked..read-1
	free    [][]byte    // recycled message buffers
	acked   uint64      // chunks acknowledged (written by the receiver)
	sent    uint64      // next chunk to publish
	read    uint64      // chunks read from r
	maxSent uint64      // highest chunk published + 1
	eof     bool
	offset  uint64 // bytes read from r
	crc     uint32 // CRC32C of the bytes read
	ackedB  uint64 // bytes acknowledged
	resends int
	stalled bool // a publish failed: wait for the resync
}

// run opens the transfer, streams the data, finishes it and waits for the
// handler's result.
func (t *outgoing) run(ctx context.Context) error {
	if err := t.open(ctx); err != nil {
		return err
	}
	timer := time.NewTimer(t.s.opts.AckTimeout)
	defer timer.Stop()
	for {
		if err := t.stream(ctx, timer); err != nil {
			return err
		}
		crc := t.crc
		if t.s.corruptCRC != nil {
			crc = t.s.corruptCRC(crc)
		}
		rep, err := t.call(ctx, ctlRequest{Op: opFinish, ID: t.h.ID, Size: int64(t.offset), CRC: crc, Chunks: t.read})
		if err != nil {
			return err
		}
		switch rep.Status {
		case stOK:
			return t.wait(ctx, timer)
		case stReceiving: // the receiver misses chunks: resync and go on
			t.resync(rep)
			continue
		}
		return t.replyErr(rep, opFinish)
	}
}

// open asks the receiver to accept the transfer, retrying with backoff
// while it is busy.
func (t *outgoing) open(ctx context.Context) error {
	h := t.h
	for attempt := 0; ; attempt++ {
		rep, err := t.call(ctx, ctlRequest{Op: opOpen, ID: h.ID, Header: &h, Ack: ackSubject(t.s.node, h.ID)})
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		switch rep.Status {
		case stOK, stReceiving:
			t.opened = true
			t.window = uint64(max(rep.Window, 1))
			return nil
		case stBusy:
			if err := sleep(ctx, backoff(attempt, 2*time.Second)); err != nil {
				return fmt.Errorf("waiting for the receiver to accept: %w", err)
			}
			continue
		}
		return t.replyErr(rep, opOpen)
	}
}

// replyErr turns an unexpected reply into an error.
func (t *outgoing) replyErr(rep ctlReply, op string) error {
	switch rep.Status {
	case stError:
		return &RemoteError{Msg: rep.Error}
	case stDone:
		if rep.Error != "" {
			return &RemoteError{Msg: rep.Error}
		}
		return fmt.Errorf("%s: the receiver reports the transfer finished already", op)
	case stUnknown:
		return errors.New("the receiver does not know the transfer (it restarted or dropped it)")
	}
	return fmt.Errorf("%s: unexpected reply %q", op, rep.Status)
}

// stream sends every chunk and returns when all are acknowledged.
func (t *outgoing) stream(ctx context.Context, timer *time.Timer) error {
	for {
		if err := t.fill(ctx); err != nil {
			return err
		}
		if t.eof && t.acked == t.read {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-t.acks:
			done, err := t.onAck(m, timer)
			if done || err != nil {
				return err
			}
		case <-timer.C:
			rep, err := t.call(ctx, ctlRequest{Op: opStatus, ID: t.h.ID})
			if err != nil {
				return err
			}
			if rep.Status != stReceiving {
				return t.replyErr(rep, opStatus)
			}
			t.resync(rep)
			timer.Reset(t.s.opts.AckTimeout)
		}
	}
}

// fill publishes chunks while the window allows, reading more from the
// source as needed.
func (t *outgoing) fill(ctx context.Context) error {
	for !t.stalled && t.sent < t.acked+t.window {
		if t.sent == t.read {
			if t.eof {
				return nil
			}
			if err := t.readChunk(); err != nil {
				return err
			}
			if t.sent == t.read { // nothing more to read
				return nil
			}
		}
		c := t.buf[t.sent-t.acked]
		if t.s.beforeChunk != nil {
			t.s.beforeChunk(t.sent)
		}
		if t.s.limiter != nil {
			if err := t.s.limiter.WaitN(ctx, c.n); err != nil {
				return err
			}
		}
		if t.sent < t.maxSent {
			t.resends++
		}
		msg := c.msg
		if t.s.corruptChunk != nil {
			msg = t.s.corruptChunk(t.sent, msg)
		}
		err := t.s.nc.Publish(dataSubject(t.h.To), msg)
		if t.s.afterPublish != nil {
			t.s.afterPublish(t.sent, err)
		}
		t.sent++
		t.maxSent = max(t.maxSent, t.sent)
		if err != nil {
			// The chunk may be lost; the ack timeout resyncs.
			t.s.log.Debug().Err(err).Str("transfer", t.h.ID).Msg("publish chunk")
			t.stalled = true
		}
	}
	return nil
}

// readChunk reads the next chunk from the source into buf.
func (t *outgoing) readChunk() error {
	hl := 2 + len(t.h.ID) + 20
	cs := t.s.opts.ChunkSize
	var m []byte
	if n := len(t.free); n > 0 {
		m, t.free = t.free[n-1][:hl+cs], t.free[:n-1]
	} else {
		m = make([]byte, hl+cs)
	}
	n, err := io.ReadFull(t.r, m[hl:])
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		t.eof = true
	case err != nil:
		return fmt.Errorf("read source: %w", err)
	}
	if n == 0 {
		t.free = append(t.free, m)
		return nil
	}
	payload := m[hl : hl+n]
	t.crc = crc32.Update(t.crc, castagnoli, payload)
	m = appendChunk(m[:0], t.h.ID, t.read, t.offset, checksum(payload), nil)[:hl+n]
	t.buf = append(t.buf, sentChunk{msg: m, n: n})
	t.read++
	t.offset += uint64(n)
	return nil
}

// onAck handles a message on the ack subject. done reports the handler's
// result arrived (err is its error).
func (t *outgoing) onAck(m *nats.Msg, timer *time.Timer) (done bool, err error) {
	a, err := decodeAck(m.Data)
	if err != nil || a.id != t.h.ID {
		t.s.log.Debug().Err(err).Msg("drop undecodable ack")
		return false, nil
	}
	t.lastContact = time.Now()
	switch a.typ {
	case msgDone:
		if a.ok {
			return true, nil
		}
		return true, &RemoteError{Msg: a.errText}
	case msgResend:
		t.stalled = false
		if a.next >= t.acked && a.next < t.sent {
			t.sent = a.next
		}
		timer.Reset(t.s.opts.AckTimeout)
		return false, nil
	}
	if a.window > 0 {
		t.window = uint64(a.window)
	}
	if t.advance(a.next) {
		timer.Reset(t.s.opts.AckTimeout)
	}
	return false, nil
}

// advance moves the acknowledged position to next chunks, recycling the
// buffers of the acknowledged chunks.
func (t *outgoing) advance(next uint64) bool {
	next = min(next, t.read)
	if next <= t.acked {
		return false
	}
	k := next - t.acked
	for i := range k {
		t.ackedB += uint64(t.buf[i].n)
		t.free = append(t.free, t.buf[i].msg)
		t.buf[i] = sentChunk{}
	}
	t.buf = t.buf[k:]
	t.acked = next
	t.sent = max(t.sent, next)
	if t.progress != nil && time.Since(t.lastProgress) >= progressEvery {
		t.lastProgress = time.Now()
		t.progress(Progress{Bytes: int64(t.ackedB), Total: t.h.Size, Elapsed: time.Since(t.start)})
	}
	return true
}

// resync continues from the position a status reply reported.
func (t *outgoing) resync(rep ctlReply) {
	t.stalled = false
	if rep.Window > 0 {
		t.window = uint64(rep.Window)
	}
	t.advance(rep.Acked)
	t.sent = min(max(rep.Next, t.acked), t.read)
}

// wait waits for the handler's result, polling the receiver when it stays
// silent.
func (t *outgoing) wait(ctx context.Context, timer *time.Timer) error {
	timer.Reset(t.s.opts.AckTimeout)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-t.acks:
			if done, err := t.onAck(m, timer); done {
				return err
			}
		case <-timer.C:
			rep, err := t.call(ctx, ctlRequest{Op: opStatus, ID: t.h.ID})
			if err != nil {
				return err
			}
			switch rep.Status {
			case stHandling:
			case stDone:
				if rep.Error != "" {
					return &RemoteError{Msg: rep.Error}
				}
				return nil
			default:
				return t.replyErr(rep, opStatus)
			}
			timer.Reset(t.s.opts.AckTimeout)
		}
	}
}
