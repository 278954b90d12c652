// Package clients keeps the router's Connect clients to storage and meta
// nodes: one client per node address. Storage clients speak HTTP/1.1 with
// keep-alive connections (one per request in flight, up to
// MaxIdleStorageConns kept idle per node); meta clients speak unencrypted
// HTTP/2 (h2c). Both are how the internal services are served.
package clients

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

// MaxIdleStorageConns is how many idle connections the pool keeps per
// storage node: enough for the concurrent searches of a busy router.
const MaxIdleStorageConns = 128

// Pool hands out Connect clients by node URI. It is safe for concurrent
// use. Clients are created on first use and kept: a node that changes its
// URI simply gets a new client (the old one costs nothing once idle).
//
// Why HTTP/1.1 to storage: a search is one small unary call, and Go's
// HTTP/1.1 client costs less CPU per call than its HTTP/2 client (no
// shared connection to lock, no frame scheduling). Measured side by side
// in BenchmarkSearchPath (docs/BENCHMARKS.md) it cut the router's overhead
// visibly; the price is a connection per call in flight.
type Pool struct {
	storageTransport *http.Transport
	metaTransport    *http.Transport
	storageClient    *http.Client
	metaClient       *http.Client

	mu      sync.Mutex
	storage map[string]shoalv1connect.StorageServiceClient
	meta    map[string]shoalv1connect.MetaServiceClient
}

// NewPool returns an empty pool.
func NewPool() *Pool {
	h1 := new(http.Protocols)
	h1.SetHTTP1(true)
	dial := newDialer().DialContext
	st := &http.Transport{
		DialContext:         dial,
		Protocols:           h1,
		MaxIdleConns:        0, // no global limit; per host below
		MaxIdleConnsPerHost: MaxIdleStorageConns,
		IdleConnTimeout:     90 * time.Second,
		// Without this the transport itself would ask for gzip (see noGzip).
		DisableCompression: true,
	}
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	mt := &http.Transport{
		DialContext: dial,
		Protocols:   h2c,
		// Pings find a dead shared HTTP/2 connection within seconds.
		HTTP2:               &http.HTTP2Config{SendPingTimeout: time.Second, PingTimeout: 2 * time.Second},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &Pool{
		storageTransport: st,
		metaTransport:    mt,
		storageClient:    &http.Client{Transport: st},
		metaClient:       &http.Client{Transport: mt},
		storage:          map[string]shoalv1connect.StorageServiceClient{},
		meta:             map[string]shoalv1connect.MetaServiceClient{},
	}
}

// noGzip withdraws the clients' default Accept-Encoding: gzip. Inside the
// cluster bandwidth is cheap and CPU is not: with gzip accepted a storage
// node compressed every search answer, about a tenth of all CPU in the
// search benchmark (docs/BENCHMARKS.md).
var noGzip = connect.WithAcceptCompression("gzip", nil, nil)

// Storage returns the StorageService client for a storage node URI.
func (p *Pool) Storage(uri string) shoalv1connect.StorageServiceClient {
	uri = strings.TrimRight(uri, "/")
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.storage[uri]
	if !ok {
		c = shoalv1connect.NewStorageServiceClient(p.storageClient, uri, noGzip)
		p.storage[uri] = c
	}
	return c
}

// Meta returns the MetaService client for a meta node's API URI.
func (p *Pool) Meta(uri string) shoalv1connect.MetaServiceClient {
	uri = strings.TrimRight(uri, "/")
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.meta[uri]
	if !ok {
		c = shoalv1connect.NewMetaServiceClient(p.metaClient, uri, noGzip)
		p.meta[uri] = c
	}
	return c
}

// Close drops idle connections. In-flight calls finish on their own.
func (p *Pool) Close() {
	p.storageTransport.CloseIdleConnections()
	p.metaTransport.CloseIdleConnections()
}
