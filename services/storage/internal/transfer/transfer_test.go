package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

const (
	srcNode = 1
	dstNode = 2
)

// pair is a sender on node 1 and a receiver on node 2 sharing a server.
type pair struct {
	snd *Sender
	rcv *Receiver
	dir string
	got *received
}

func newPair(t *testing.T, so SenderOptions, ro ReceiverOptions) *pair {
	t.Helper()
	ns := startNATS(t, -1)
	return newPairOn(t, connect(t, ns), connect(t, ns), so, ro)
}

func newPairOn(t *testing.T, snc, rnc *nats.Conn, so SenderOptions, ro ReceiverOptions) *pair {
	t.Helper()
	p := &pair{dir: t.TempDir(), got: newReceived()}
	var err error
	if p.rcv, err = NewReceiver(rnc, dstNode, p.dir, ro, testLog(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.rcv.Close(); err != nil {
			t.Errorf("close receiver: %v", err)
		}
	})
	p.rcv.Handle("blob", p.got.handler)
	p.snd = NewSender(snc, srcNode, so, testLog(t))
	return p
}

func header(size int) Header {
	return Header{ID: NewID(), Collection: "c", Shard: 3, Kind: "blob", To: dstNode, Size: int64(size), Meta: []byte("meta")}
}

// sendAndCheck sends data and checks the receiver got exactly it.
func (p *pair) sendAndCheck(t *testing.T, data []byte) Stats {
	t.Helper()
	h := header(len(data))
	st, err := p.snd.Send(testCtx(t), h, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatalf("send %d bytes: %v", len(data), err)
	}
	sum, ok := p.got.sum(h.ID)
	if !ok {
		t.Fatalf("send of %d bytes returned before the handler ran", len(data))
	}
	if sum != sha256.Sum256(data) {
		t.Fatalf("%d bytes: the receiver got different content", len(data))
	}
	if st.Bytes != int64(len(data)) {
		t.Fatalf("stats report %d bytes, sent %d", st.Bytes, len(data))
	}
	p.got.mu.Lock()
	gh := p.got.hdrs[h.ID]
	p.got.mu.Unlock()
	if gh.From != srcNode || gh.Collection != "c" || gh.Shard != 3 || string(gh.Meta) != "meta" {
		t.Fatalf("handler got header %+v", gh)
	}
	return st
}

func TestRoundTrip(t *testing.T) {
	p := newPair(t, SenderOptions{}, ReceiverOptions{})
	f := func(n int, wantChunks int) {
		t.Helper()
		st := p.sendAndCheck(t, randomData(n, uint64(n)))
		if st.Chunks != wantChunks {
			t.Fatalf("%d bytes took %d chunks, want %d", n, st.Chunks, wantChunks)
		}
	}
	f(0, 0)
	f(1, 1)
	f(DefaultChunkSize, 1)
	f(DefaultChunkSize+1, 2)
	f(10<<20, 40)
	if files := filesIn(t, p.dir); len(files) != 0 {
		t.Fatalf("temporary files left: %v", files)
	}
}

func TestHandlerErrorPropagates(t *testing.T) {
	p := newPair(t, SenderOptions{}, ReceiverOptions{})
	p.rcv.Handle("fails", func(context.Context, Header, string) error {
		return errors.New("restore replica: disk full")
	})
	h := header(1000)
	h.Kind = "fails"
	_, err := p.snd.Send(testCtx(t), h, bytes.NewReader(randomData(1000, 1)), nil)
	var rerr *RemoteError
	if !errors.As(err, &rerr) || rerr.Msg != "restore replica: disk full" {
		t.Fatalf("send error %v, want the handler's error", err)
	}

	h = header(10)
	h.Kind = "nobody"
	_, err = p.snd.Send(testCtx(t), h, bytes.NewReader(make([]byte, 10)), nil)
	if err == nil || !strings.Contains(err.Error(), `no handler for transfers of kind "nobody"`) {
		t.Fatalf("send of an unknown kind: %v", err)
	}
	// The receiver is free again for the next transfer.
	p.sendAndCheck(t, randomData(5000, 2))
}

func TestCorruptChunkIsResent(t *testing.T) {
	p := newPair(t, SenderOptions{}, ReceiverOptions{})
	var done bool
	p.snd.corruptChunk = func(seq uint64, msg []byte) []byte {
		if seq != 3 || done {
			return msg
		}
		done = true
		bad := bytes.Clone(msg)
		bad[len(bad)-1] ^= 0xff
		return bad
	}
	st := p.sendAndCheck(t, randomData(3<<20, 7))
	if c := p.rcv.Counters(); c.CRCErrors == 0 {
		t.Fatalf("the receiver saw no CRC error: %+v", c)
	}
	if st.Resends == 0 {
		t.Fatalf("no chunk was resent: %+v", st)
	}
}

func TestCorruptStreamChecksumFails(t *testing.T) {
	p := newPair(t, SenderOptions{}, ReceiverOptions{})
	p.snd.corruptCRC = func(crc uint32) uint32 { return crc ^ 1 }
	h := header(1 << 20)
	_, err := p.snd.Send(testCtx(t), h, bytes.NewReader(randomData(1<<20, 3)), nil)
	var rerr *RemoteError
	if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "stream check failed") {
		t.Fatalf("send error %v, want a stream check failure", err)
	}
	if _, ok := p.got.sum(h.ID); ok {
		t.Fatal("the handler ran on a corrupt stream")
	}
	waitFor(t, "the partial file removed", func() bool { return len(filesIn(t, p.dir)) == 0 })
}

func TestResumeAfterNATSRestart(t *testing.T) {
	ns := startNATS(t, -1)
	port := natsPort(ns)
	// Without a reconnect buffer, chunks published while disconnected are
	// lost for sure and must be resent.
	snc := connect(t, ns, nats.ReconnectBufSize(-1))
	rnc := connect(t, ns)
	p := newPairOn(t, snc, rnc, SenderOptions{AckTimeout: 300 * time.Millisecond}, ReceiverOptions{})

	var restarted atomic.Bool
	var pubErr error
	p.snd.beforeChunk = func(seq uint64) {
		if seq == 10 && !restarted.Load() {
			ns.Shutdown()
			ns.WaitForShutdown()
			waitFor(t, "the sender to notice", func() bool { return snc.Status() != nats.CONNECTED })
		}
	}
	p.snd.afterPublish = func(seq uint64, err error) {
		if seq == 10 && !restarted.Load() {
			pubErr = err
			restarted.Store(true)
			startNATS(t, port)
		}
	}
	st := p.sendAndCheck(t, randomData(8<<20, 11))
	if !restarted.Load() {
		t.Fatal("the server was not restarted")
	}
	if pubErr == nil {
		t.Fatal("publishing while disconnected did not fail: the test did not lose a chunk")
	}
	if st.Resends == 0 {
		t.Fatalf("no chunk was resent after the restart: %+v", st)
	}
}

func TestReceiverGoneFailsSend(t *testing.T) {
	p := newPair(t, SenderOptions{AckTimeout: 200 * time.Millisecond, UnreachableTimeout: 2 * time.Second}, ReceiverOptions{})
	p.snd.beforeChunk = func(seq uint64) {
		if seq == 5 {
			if err := p.rcv.Close(); err != nil {
				t.Errorf("close receiver: %v", err)
			}
		}
	}
	_, err := p.snd.Send(testCtx(t), header(4<<20), bytes.NewReader(randomData(4<<20, 5)), nil)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("send error %v, want ErrUnreachable", err)
	}
	if files := filesIn(t, p.dir); len(files) != 0 {
		t.Fatalf("temporary files left: %v", files)
	}
}

func TestIdlePartialTransferDropped(t *testing.T) {
	p := newPair(t, SenderOptions{}, ReceiverOptions{TTL: 500 * time.Millisecond})
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	p.snd.beforeChunk = func(seq uint64) {
		if seq == 3 {
			<-stuck // the sender is gone as far as the receiver can tell
		}
	}
	h := header(2 << 20)
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := p.snd.Send(ctx, h, bytes.NewReader(randomData(2<<20, 9)), nil)
		done <- err
	}()
	waitFor(t, "the transfer to start", func() bool { return len(filesIn(t, p.dir)) == 1 })
	waitFor(t, "the idle transfer dropped", func() bool {
		return len(filesIn(t, p.dir)) == 0 && p.rcv.status(h.ID).Status == stDone
	})
	cancel()
	stuck <- struct{}{}
	if err := <-done; err == nil {
		t.Fatal("send of a dropped transfer succeeded")
	}
}

func TestLimitsSerialiseTransfers(t *testing.T) {
	p := newPair(t, SenderOptions{MaxConcurrent: 4}, ReceiverOptions{MaxConcurrent: 1})
	var cur, peak atomic.Int32
	p.rcv.Handle("blob", func(ctx context.Context, h Header, path string) error {
		n := cur.Add(1)
		defer cur.Add(-1)
		for {
			m := peak.Load()
			if n <= m || peak.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond) // give an overlap the chance to show
		return p.got.handler(ctx, h, path)
	})
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			h := header(1 << 20)
			h.Shard = uint32(i) // one stream per shard at a time: see TestNewerStreamOfAShardSupersedes
			_, errs[i] = p.snd.Send(testCtx(t), h, bytes.NewReader(randomData(1<<20, uint64(i))), nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if peak.Load() != 1 {
		t.Fatalf("%d handlers ran at once, want 1", peak.Load())
	}
	if len(p.got.sums) != 3 {
		t.Fatalf("%d transfers arrived, want 3", len(p.got.sums))
	}
}

func TestQueuedSendHonoursContext(t *testing.T) {
	p := newPair(t, SenderOptions{MaxConcurrent: 2}, ReceiverOptions{MaxConcurrent: 1})
	entered := make(chan struct{})
	release := make(chan struct{})
	p.rcv.Handle("slow", func(context.Context, Header, string) error {
		close(entered)
		<-release
		return nil
	})
	h := header(10)
	h.Kind = "slow"
	first := make(chan error, 1)
	go func() {
		_, err := p.snd.Send(testCtx(t), h, bytes.NewReader(make([]byte, 10)), nil)
		first <- err
	}()
	<-entered
	ctx, cancel := context.WithTimeout(testCtx(t), 500*time.Millisecond)
	defer cancel()
	other := header(10)
	other.Shard++
	if _, err := p.snd.Send(ctx, other, bytes.NewReader(make([]byte, 10)), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued send: %v, want its context's deadline", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first send: %v", err)
	}

	// One outgoing slot: a second Send waits for it.
	one := NewSender(p.snd.nc, srcNode, SenderOptions{MaxConcurrent: 1}, testLog(t))
	one.sem <- struct{}{}
	ctx2, cancel2 := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	defer cancel2()
	if _, err := one.Send(ctx2, header(10), bytes.NewReader(make([]byte, 10)), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send without a free slot: %v, want its context's deadline", err)
	}
}

func TestFlowControlBoundsReceiverBuffer(t *testing.T) {
	const window = 4
	p := newPair(t, SenderOptions{}, ReceiverOptions{Window: window})
	var calls atomic.Int32
	h := header(16 << 20)
	_, err := p.snd.Send(testCtx(t), h, bytes.NewReader(randomData(16<<20, 4)), func(pr Progress) {
		calls.Add(1)
		if pr.Total != h.Size || pr.Bytes <= 0 || pr.Bytes > pr.Total {
			t.Errorf("progress %+v", pr)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	c := p.rcv.Counters()
	if c.MaxBuffered < 1 || c.MaxBuffered > window {
		t.Fatalf("the receiver buffered up to %d chunks, window %d", c.MaxBuffered, window)
	}
}

func TestCancelledSendAbortsReceiver(t *testing.T) {
	p := newPair(t, SenderOptions{}, ReceiverOptions{TTL: time.Hour})
	ctx, cancel := context.WithCancel(testCtx(t))
	p.snd.beforeChunk = func(seq uint64) {
		if seq == 5 {
			cancel()
		}
	}
	h := header(4 << 20)
	_, err := p.snd.Send(ctx, h, bytes.NewReader(randomData(4<<20, 8)), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("send error %v, want context.Canceled", err)
	}
	// The abort message, not the TTL, drops the partial transfer.
	waitFor(t, "the aborted transfer dropped", func() bool {
		st := p.rcv.status(h.ID)
		return len(filesIn(t, p.dir)) == 0 && st.Status == stDone && strings.Contains(st.Error, "aborted by the sender")
	})
	if _, ok := p.got.sum(h.ID); ok {
		t.Fatal("the handler ran for an aborted transfer")
	}
	p.snd.beforeChunk = nil
	p.sendAndCheck(t, randomData(1000, 9)) // the slot is free again
}

// TestNewerStreamOfAShardSupersedes: a stream of a shard whose sender
// stopped sending (it died, or gave up) is replaced by a newer stream of
// the same shard at once, instead of holding the receiver's slot until it
// idles out; the newer one completes.
func TestNewerStreamOfAShardSupersedes(t *testing.T) {
	p := newPair(t, SenderOptions{MaxConcurrent: 2}, ReceiverOptions{MaxConcurrent: 1})
	stuck := make(chan struct{})
	var stalled atomic.Bool
	p.snd.beforeChunk = func(seq uint64) {
		if seq == 2 && stalled.CompareAndSwap(false, true) {
			<-stuck
		}
	}
	old := header(2 << 20)
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := p.snd.Send(ctx, old, bytes.NewReader(randomData(2<<20, 1)), nil)
		done <- err
	}()
	waitFor(t, "the first stream to start", func() bool { return len(filesIn(t, p.dir)) == 1 })
	newer := header(1 << 20)
	data := randomData(1<<20, 2)
	if _, err := p.snd.Send(testCtx(t), newer, bytes.NewReader(data), nil); err != nil {
		t.Fatalf("newer stream of the same shard: %v", err)
	}
	if got, ok := p.got.sum(newer.ID); !ok || got != sha256.Sum256(data) {
		t.Fatal("newer stream arrived damaged or not at all")
	}
	if st := p.rcv.status(old.ID); st.Status != stDone || !strings.Contains(st.Error, "superseded") {
		t.Fatalf("status of the superseded stream: %+v", st)
	}
	cancel()
	close(stuck)
	if err := <-done; err == nil {
		t.Fatal("the superseded stream's send succeeded")
	}
}
