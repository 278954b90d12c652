package clients

import (
	"net"
	"time"
)

// Dead-peer detection. A storage node cut off the network (not closed:
// its packets just stop) would otherwise hold a call for as long as TCP
// retransmits, many minutes, and the router would never move the read to
// another replica. Two kernel mechanisms bound that without putting a
// deadline on legitimately slow calls:
//   - keep-alive probes on a connection waiting for an answer: after
//     KeepAliveIdle without traffic, probes every KeepAliveInterval, and
//     KeepAliveCount missed probes close it;
//   - a TCP user timeout (Linux): data written but not acknowledged by the
//     peer within UserTimeout fails the connection.
const (
	KeepAliveIdle     = 2 * time.Second
	KeepAliveInterval = time.Second
	KeepAliveCount    = 3
	UserTimeout       = 5 * time.Second
	dialTimeout       = 5 * time.Second
)

// newDialer returns the dialer every internal connection uses.
func newDialer() *net.Dialer {
	return &net.Dialer{
		Timeout: dialTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     KeepAliveIdle,
			Interval: KeepAliveInterval,
			Count:    KeepAliveCount,
		},
		Control: setUserTimeout,
	}
}
