package transfer

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"
)

// SubjectPrefix is the root of every subject this package uses.
const SubjectPrefix = "shoal.transfer"

// DefaultChunkSize is the payload size of a data chunk: well under NATS'
// default 1 MiB message limit.
const DefaultChunkSize = 256 << 10

// DefaultWindow is the number of chunks a receiver lets a sender have in
// flight past the last acknowledged one.
const DefaultWindow = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the CRC32C of b.
func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// NewID returns a random 128-bit transfer id in hex.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("transfer id: %v", err)) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

func ctlSubject(node uint64) string {
	return SubjectPrefix + "." + strconv.FormatUint(node, 10) + ".ctl"
}
func dataSubject(node uint64) string {
	return SubjectPrefix + "." + strconv.FormatUint(node, 10) + ".data"
}
func ackSubject(node uint64, id string) string {
	return SubjectPrefix + "." + strconv.FormatUint(node, 10) + ".ack." + id
}

// Binary message types. Every binary message starts with its type byte and
// the transfer id (one length byte, then the id's bytes).
const (
	msgChunk  = 0x01 // seq u64, offset u64, crc u32, payload
	msgAck    = 0x02 // next seq u64, written bytes u64, window u32
	msgResend = 0x03 // as msgAck: the sender must resend from next seq
	msgDone   = 0x04 // ok u8, error text
)

const maxIDLen = 64

// chunkHeaderLen is the size of a chunk message without id and payload.
const chunkHeaderLen = 1 + 1 + 8 + 8 + 4

var errShort = errors.New("message too short")

// chunk is a decoded data message; payload aliases the message.
type chunk struct {
	id      string
	seq     uint64
	offset  uint64
	crc     uint32
	payload []byte
}

// appendChunk appends the encoding of a chunk to dst.
func appendChunk(dst []byte, id string, seq, offset uint64, crc uint32, payload []byte) []byte {
	dst = append(dst, msgChunk, byte(len(id)))
	dst = append(dst, id...)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = binary.BigEndian.AppendUint64(dst, offset)
	dst = binary.BigEndian.AppendUint32(dst, crc)
	return append(dst, payload...)
}

// decodeID reads the type byte and the id of a binary message.
func decodeID(b []byte) (typ byte, id string, rest []byte, err error) {
	if len(b) < 2 {
		return 0, "", nil, errShort
	}
	n := int(b[1])
	if n == 0 || n > maxIDLen {
		return 0, "", nil, fmt.Errorf("bad id length %d", n)
	}
	if len(b) < 2+n {
		return 0, "", nil, errShort
	}
	return b[0], string(b[2 : 2+n]), b[2+n:], nil
}

// decodeChunk decodes a data message. It does not check the CRC.
func decodeChunk(b []byte) (chunk, error) {
	typ, id, rest, err := decodeID(b)
	if err != nil {
		return chunk{}, fmt.Errorf("decode chunk: %w", err)
	}
	if typ != msgChunk {
		return chunk{}, fmt.Errorf("decode chunk: message type %#x", typ)
	}
	if len(rest) < 20 {
		return chunk{}, fmt.Errorf("decode chunk: %w", errShort)
	}
	return chunk{
		id:      id,
		seq:     binary.BigEndian.Uint64(rest),
		offset:  binary.BigEndian.Uint64(rest[8:]),
		crc:     binary.BigEndian.Uint32(rest[16:]),
		payload: rest[20:],
	}, nil
}

// ack is a decoded ack, resend or done message.
type ack struct {
	typ     byte
	id      string
	next    uint64 // next sequence the receiver needs
	written uint64 // bytes written so far
	window  uint32
	errText string // msgDone: the handler's error, "" on success
	ok      bool   // msgDone: the handler succeeded
}

func appendAck(dst []byte, typ byte, id string, next, written uint64, window uint32) []byte {
	dst = append(dst, typ, byte(len(id)))
	dst = append(dst, id...)
	dst = binary.BigEndian.AppendUint64(dst, next)
	dst = binary.BigEndian.AppendUint64(dst, written)
	return binary.BigEndian.AppendUint32(dst, window)
}

func appendDone(dst []byte, id string, herr error) []byte {
	dst = append(dst, msgDone, byte(len(id)))
	dst = append(dst, id...)
	if herr == nil {
		return append(dst, 1)
	}
	return append(append(dst, 0), herr.Error()...)
}

func decodeAck(b []byte) (ack, error) {
	typ, id, rest, err := decodeID(b)
	if err != nil {
		return ack{}, fmt.Errorf("decode ack: %w", err)
	}
	a := ack{typ: typ, id: id}
	switch typ {
	case msgAck, msgResend:
		if len(rest) != 20 {
			return ack{}, fmt.Errorf("decode ack: length %d", len(rest))
		}
		a.next = binary.BigEndian.Uint64(rest)
		a.written = binary.BigEndian.Uint64(rest[8:])
		a.window = binary.BigEndian.Uint32(rest[16:])
	case msgDone:
		if len(rest) < 1 {
			return ack{}, fmt.Errorf("decode done: %w", errShort)
		}
		a.ok = rest[0] == 1
		a.errText = string(rest[1:])
	default:
		return ack{}, fmt.Errorf("decode ack: message type %#x", typ)
	}
	return a, nil
}

// Control operations (JSON; rare and small).
const (
	opOpen   = "open"
	opStatus = "status"
	opFinish = "finish"
	opAbort  = "abort"
)

// ctlRequest is a control request from sender to receiver.
type ctlRequest struct {
	Op     string  `json:"op"`
	ID     string  `json:"id"`
	Header *Header `json:"header,omitempty"` // open
	Ack    string  `json:"ack,omitempty"`    // open: where acks go
	Size   int64   `json:"size,omitempty"`   // finish: total bytes
	CRC    uint32  `json:"crc,omitempty"`    // finish: CRC32C of the stream
	Chunks uint64  `json:"chunks,omitempty"` // finish: number of chunks
	Reason string  `json:"reason,omitempty"` // abort
}

// Reply states.
const (
	stOK        = "ok"        // open accepted / finish accepted
	stBusy      = "busy"      // open: at the limit, retry later
	stUnknown   = "unknown"   // no such transfer
	stReceiving = "receiving" // status: still receiving
	stHandling  = "handling"  // status: the handler runs
	stDone      = "done"      // status: finished, Error holds the handler's error
	stError     = "error"     // the request failed, see Error
)

// ctlReply answers a ctlRequest.
type ctlReply struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	Next   uint64 `json:"next"`   // next sequence the receiver accepts
	Acked  uint64 `json:"acked"`  // chunks written (cumulative ack)
	Window uint32 `json:"window"` // credit
}

// RemoteError is an error reported by the receiving node: the handler's
// error or a failed verification. Send wraps it; errors.As finds it.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// ErrUnreachable is returned (wrapped) by Send when the receiver did not
// answer for SenderOptions.UnreachableTimeout.
var ErrUnreachable = errors.New("receiver unreachable")

// backoff returns the wait before retry attempt n (0-based): 50 ms
// doubling up to max.
func backoff(n int, max time.Duration) time.Duration {
	d := 50 * time.Millisecond
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
