package controller

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

// Positions asks a storage node for the newest (term, seq) its replica of
// a shard has logged.
type Positions interface {
	Position(ctx context.Context, node *shoalv1.Node, ref *shoalv1.ShardRef) (lastTerm, lastSeq uint64, err error)
}

// DefaultPositionTimeout bounds one Position call: a candidate that does
// not answer in time is not promoted.
const DefaultPositionTimeout = time.Second

// RPCPositions calls the storage nodes' Position RPC over unencrypted
// HTTP/2 (h2c), one client per node URI.
type RPCPositions struct {
	timeout   time.Duration
	transport *http.Transport
	client    *http.Client

	mu      sync.Mutex
	clients map[string]shoalv1connect.StorageServiceClient
}

var _ Positions = (*RPCPositions)(nil)

// NewRPCPositions returns a client whose calls each last at most timeout
// (DefaultPositionTimeout if 0).
func NewRPCPositions(timeout time.Duration) *RPCPositions {
	if timeout <= 0 {
		timeout = DefaultPositionTimeout
	}
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	t := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		Protocols:           h2c,
		HTTP2:               &http.HTTP2Config{SendPingTimeout: time.Second, PingTimeout: 2 * time.Second},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &RPCPositions{
		timeout:   timeout,
		transport: t,
		client:    &http.Client{Transport: t},
		clients:   map[string]shoalv1connect.StorageServiceClient{},
	}
}

// Position implements Positions.
func (p *RPCPositions) Position(ctx context.Context, node *shoalv1.Node, ref *shoalv1.ShardRef) (uint64, uint64, error) {
	uri := strings.TrimRight(node.GetUri(), "/")
	if uri == "" {
		return 0, 0, fmt.Errorf("node %d has no uri", node.GetId())
	}
	p.mu.Lock()
	c, ok := p.clients[uri]
	if !ok {
		c = shoalv1connect.NewStorageServiceClient(p.client, uri)
		p.clients[uri] = c
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := c.Position(ctx, connect.NewRequest(&shoalv1.PositionRequest{Shard: ref}))
	if err != nil {
		return 0, 0, fmt.Errorf("position of %s/%d on node %d (%s): %w", ref.GetCollection(), ref.GetShardId(), node.GetId(), uri, err)
	}
	return resp.Msg.GetLastTerm(), resp.Msg.GetLastSeq(), nil
}

// Close drops idle connections.
func (p *RPCPositions) Close() { p.transport.CloseIdleConnections() }
