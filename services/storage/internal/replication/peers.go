package replication

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

// peers hands out StorageService clients for other storage nodes, by node
// id, from the addresses they registered.
type peers struct {
	maps Maps
	http *http.Client

	mu      sync.Mutex
	clients map[string]shoalv1connect.StorageServiceClient // by uri
}

func newPeers(maps Maps, hc *http.Client) *peers {
	if hc == nil {
		hc = newH2CClient()
	}
	return &peers{maps: maps, http: hc, clients: map[string]shoalv1connect.StorageServiceClient{}}
}

// newH2CClient speaks HTTP/2 without TLS (the internal API's h2c) with
// keepalive pings, so a dead peer is noticed within seconds.
func newH2CClient() *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	tr.HTTP2 = &http.HTTP2Config{SendPingTimeout: 2 * time.Second, PingTimeout: 2 * time.Second}
	return &http.Client{Transport: tr}
}

// client returns the client of a registered storage node.
func (p *peers) client(node uint64) (shoalv1connect.StorageServiceClient, error) {
	n, ok := p.maps.Node(node)
	if !ok {
		return nil, fmt.Errorf("storage node %d is not registered", node)
	}
	uri := n.GetUri()
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.clients[uri]
	if !ok {
		c = shoalv1connect.NewStorageServiceClient(p.http, uri, connect.WithGRPC(), connect.WithSendMaxBytes(256<<20), connect.WithReadMaxBytes(256<<20))
		p.clients[uri] = c
	}
	return c, nil
}
