package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// Registration keeps a node's key alive under a lease. If the lease is lost
// (meta unreachable for longer than the TTL) it grants a new one and writes
// the key again, so a node that was cut off reappears when it is back.
type Registration struct {
	cli    *clientv3.Client
	log    zerolog.Logger
	ttl    int64
	cancel context.CancelFunc
	done   chan struct{}

	// renewed is when the lease was last granted or renewed (unix ns,
	// local clock, taken when the answer arrived).
	renewed atomic.Int64

	mu    sync.Mutex
	lease clientv3.LeaseID
	extra map[string][]byte // further keys kept under the same lease
}

// Register writes node under a lease of ttl seconds and keeps it alive
// until Close. It returns once the first write succeeded.
func Register(ctx context.Context, cli *clientv3.Client, node *shoalv1.Node, ttl int64, log zerolog.Logger) (*Registration, error) {
	val, err := proto.Marshal(node)
	if err != nil {
		return nil, fmt.Errorf("encode node: %w", err)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	r := &Registration{cli: cli, log: log, ttl: ttl, cancel: cancel, done: make(chan struct{}), extra: map[string][]byte{NodeKey(node.Id): val}}
	ka, err := r.grant(ctx, loopCtx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("register node %d: %w", node.Id, err)
	}
	go r.loop(loopCtx, ka)
	return r, nil
}

// Put writes key=val under the registration's lease, now and after every
// re-registration. It is safe for concurrent use.
func (r *Registration) Put(ctx context.Context, key string, val []byte) error {
	r.mu.Lock()
	r.extra[key] = val
	lease := r.lease
	r.mu.Unlock()
	if _, err := r.cli.Put(ctx, key, string(val), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Delete removes a key written with Put.
func (r *Registration) Delete(ctx context.Context, key string) error {
	r.mu.Lock()
	delete(r.extra, key)
	r.mu.Unlock()
	if _, err := r.cli.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// Alive reports whether the node's lease is certainly still valid: it was
// granted or renewed less than two thirds of the TTL ago. The lease
// expires in etcd no sooner than TTL after that answer arrived, so while
// Alive is true the rest of the cluster still sees this node, and a node
// that was frozen or cut off (and may have been failed over) sees false
// until etcd renews its lease again. The keep-alive renews every third of
// the TTL, so a healthy node is always alive.
func (r *Registration) Alive() bool {
	window := time.Duration(r.ttl) * time.Second * 2 / 3
	return time.Since(time.Unix(0, r.renewed.Load())) < window
}

// Close stops the keep-alive and revokes the lease, removing the keys.
func (r *Registration) Close() {
	r.cancel()
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r.mu.Lock()
	lease := r.lease
	r.mu.Unlock()
	if _, err := r.cli.Revoke(ctx, lease); err != nil {
		r.log.Warn().Err(err).Msg("revoke node lease")
	}
}

// grant takes a new lease and writes every key under it; the keep-alive
// stream lives as long as keepCtx.
func (r *Registration) grant(ctx, keepCtx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	asked := time.Now()
	lease, err := r.cli.Grant(ctx, r.ttl)
	if err != nil {
		return nil, fmt.Errorf("grant lease: %w", err)
	}
	r.mu.Lock()
	r.lease = lease.ID
	ops := make([]clientv3.Op, 0, len(r.extra))
	for k, v := range r.extra {
		ops = append(ops, clientv3.OpPut(k, string(v), clientv3.WithLease(lease.ID)))
	}
	r.mu.Unlock()
	if _, err := r.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
		return nil, fmt.Errorf("write node keys: %w", err)
	}
	r.renewed.Store(asked.UnixNano())
	ka, err := r.cli.KeepAlive(keepCtx, lease.ID)
	if err != nil {
		return nil, fmt.Errorf("keep lease alive: %w", err)
	}
	return ka, nil
}

func (r *Registration) loop(ctx context.Context, ka <-chan *clientv3.LeaseKeepAliveResponse) {
	defer close(r.done)
	for {
		select {
		case <-ctx.Done():
			return
		case resp, ok := <-ka:
			if ok {
				if resp != nil && resp.TTL > 0 {
					r.renewed.Store(time.Now().UnixNano())
				}
				continue
			}
		}
		r.log.Warn().Msg("node lease lost; registering again")
		for {
			attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			next, err := r.grant(attemptCtx, ctx)
			cancel()
			if err == nil {
				ka = next
				break
			}
			r.log.Warn().Err(err).Msg("re-register node")
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}
