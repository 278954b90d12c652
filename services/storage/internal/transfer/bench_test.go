package transfer

import (
	"context"
	"io"
	"os"
	"testing"
)

// repeatReader yields n bytes cycling through block.
type repeatReader struct {
	block []byte
	n     int64
	pos   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	total := 0
	for len(p) > 0 && r.n > 0 {
		k := copy(p[:min(int64(len(p)), r.n)], r.block[r.pos:])
		r.pos = (r.pos + k) % len(r.block)
		r.n -= int64(k)
		p = p[k:]
		total += k
	}
	return total, nil
}

// BenchmarkSend streams 256 MiB per iteration over loopback NATS to a
// receiver writing it to a temporary file; the handler does nothing. The
// "disk" case writes under the test's temporary directory, "shm" under
// /dev/shm (when present), which leaves out the disk.
//
//	go test -run '^$' -bench BenchmarkSend -benchtime 3x ./internal/transfer/
func BenchmarkSend(b *testing.B) {
	b.Run("disk", func(b *testing.B) { benchSend(b, b.TempDir()) })
	b.Run("shm", func(b *testing.B) {
		if _, err := os.Stat("/dev/shm"); err != nil {
			b.Skip("no /dev/shm")
		}
		dir, err := os.MkdirTemp("/dev/shm", "transfer-bench")
		if err != nil {
			b.Skip(err)
		}
		defer os.RemoveAll(dir)
		benchSend(b, dir)
	})
}

func benchSend(b *testing.B, dir string) {
	const size = 256 << 20
	ns := startNATS(b, -1)
	rcv, err := NewReceiver(connect(b, ns), dstNode, dir, ReceiverOptions{}, testLog(b))
	if err != nil {
		b.Fatal(err)
	}
	defer rcv.Close()
	rcv.Handle("blob", func(context.Context, Header, string) error { return nil })
	snd := NewSender(connect(b, ns), srcNode, SenderOptions{}, testLog(b))
	block := randomData(4<<20, 1)
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		if _, err := snd.Send(context.Background(), header(size), &repeatReader{block: block, n: size}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
