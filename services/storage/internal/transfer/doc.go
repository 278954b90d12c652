// Package transfer streams shard data (snapshots, record batches) from one
// storage node to another over NATS.
//
// A transfer is one byte stream from a Sender on node From to the Receiver
// on node To. The protocol, all subjects under "shoal.transfer.<node>.":
//
//   - ctl (request/reply, JSON): the sender opens the transfer (header and
//     the subject it receives acks on), asks where the receiver is
//     ("status"), finishes it (total length and whole-stream CRC32C) or
//     aborts it. An open is answered "busy" while the receiver runs its
//     limit of transfers; the sender then retries with backoff.
//   - data (publish, binary): chunks of about 256 KiB, each carrying the
//     transfer id, sequence number, offset and the payload's CRC32C.
//   - ack.<id> on the sender's node (publish, binary): cumulative acks
//     carrying the next sequence the receiver needs and its credit window;
//     a "resend" ack after a gap or a corrupt chunk; and the final result of
//     the receiver's handler.
//
// Flow control is credit based: the sender has at most window chunks past
// the last acknowledged one in flight, and keeps only those buffered, so
// each side holds at most window × chunk size (2 MiB by default). Chunks
// are accepted in order only; duplicates are dropped and acknowledged
// again. When acks stop for AckTimeout the sender asks for the receiver's
// position and resends from there, which resumes a transfer after a NATS
// reconnect or server restart. When the receiver stays unreachable for
// UnreachableTimeout, or the sender's context ends, Send fails (and tells
// the receiver to drop the transfer if it can); a receiver drops partial
// transfers idle for its TTL.
//
// Once the whole stream is verified (length and CRC) the receiver runs the
// handler registered for the header's Kind on a temporary file holding the
// content, removes the file, and sends the handler's error back: Send
// returns only after the handler returned.
package transfer
