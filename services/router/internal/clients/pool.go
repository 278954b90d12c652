// Package clients keeps the router's Connect clients to storage and meta
// nodes: one client per node address, all sharing one HTTP transport that
// speaks unencrypted HTTP/2 (h2c), as the internal services are served.
package clients

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/shoaldb/shoal/proto/gen/shoal/v1/shoalv1connect"
)

// Pool hands out Connect clients by node URI. It is safe for concurrent
// use. Clients are created on first use and kept: a node that changes its
// URI simply gets a new client (the old one costs nothing once idle).
type Pool struct {
	transport *http.Transport
	client    *http.Client

	mu      sync.Mutex
	storage map[string]shoalv1connect.StorageServiceClient
	meta    map[string]shoalv1connect.MetaServiceClient
}

// NewPool returns an empty pool.
func NewPool() *Pool {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	t := &http.Transport{
		Protocols:           p,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Pool{
		transport: t,
		client:    &http.Client{Transport: t},
		storage:   map[string]shoalv1connect.StorageServiceClient{},
		meta:      map[string]shoalv1connect.MetaServiceClient{},
	}
}

// Storage returns the StorageService client for a storage node URI.
func (p *Pool) Storage(uri string) shoalv1connect.StorageServiceClient {
	uri = strings.TrimRight(uri, "/")
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.storage[uri]
	if !ok {
		c = shoalv1connect.NewStorageServiceClient(p.client, uri)
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
		c = shoalv1connect.NewMetaServiceClient(p.client, uri)
		p.meta[uri] = c
	}
	return c
}

// Close drops idle connections. In-flight calls finish on their own.
func (p *Pool) Close() {
	p.transport.CloseIdleConnections()
}
