// Package aliases keeps the router's copy of the collection aliases that
// meta stores in etcd (one key per alias under Prefix, the value the
// collection's name), current through an etcd watch. The shared cluster
// state (pkg/cluster.State) does not track aliases, so the router watches
// their prefix itself.
package aliases

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Prefix is the alias key prefix meta writes.
const Prefix = cluster.AliasesPrefix

// Table is the watched alias table. It is safe for concurrent use; reads
// never block on the network.
type Table struct {
	cli *clientv3.Client
	log zerolog.Logger

	mu      sync.RWMutex
	m       map[string]string // alias → collection
	rev     int64
	changed chan struct{} // closed and replaced on every change

	cancel context.CancelFunc
	done   chan struct{}
}

// Watch loads the aliases and keeps them current until Close.
func Watch(ctx context.Context, cli *clientv3.Client, log zerolog.Logger) (*Table, error) {
	t := &Table{cli: cli, log: log.With().Str("component", "aliases").Logger(), changed: make(chan struct{}), done: make(chan struct{})}
	if err := t.reload(ctx); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go t.watch(wctx)
	return t, nil
}

// Close stops the watch.
func (t *Table) Close() {
	t.cancel()
	<-t.done
}

// Resolve returns the collection an alias names.
func (t *Table) Resolve(alias string) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c, ok := t.m[alias]
	return c, ok
}

// All returns a copy of the table: alias → collection.
func (t *Table) All() map[string]string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return maps.Clone(t.m)
}

// Changed returns a channel closed at the next change of the table.
func (t *Table) Changed() <-chan struct{} {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.changed
}

// WaitRevision blocks until the table reflects at least etcd revision rev,
// so that a caller that changed aliases reads its own change. The table
// learns revisions from alias events (and etcd's rare progress
// notifications): rev must be the revision of an alias change.
func (t *Table) WaitRevision(ctx context.Context, rev int64) error {
	for {
		t.mu.RLock()
		ch, cur := t.changed, t.rev
		t.mu.RUnlock()
		if cur >= rev {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for alias revision %d: %w", rev, ctx.Err())
		case <-ch:
		}
	}
}

func (t *Table) reload(ctx context.Context) error {
	resp, err := t.cli.Get(ctx, Prefix, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("load aliases: %w", err)
	}
	m := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		m[strings.TrimPrefix(string(kv.Key), Prefix)] = string(kv.Value)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m, t.rev = m, resp.Header.Revision
	t.notifyLocked()
	return nil
}

func (t *Table) watch(ctx context.Context) {
	defer close(t.done)
	for ctx.Err() == nil {
		t.mu.RLock()
		from := t.rev + 1
		t.mu.RUnlock()
		wch := t.cli.Watch(clientv3.WithRequireLeader(ctx), Prefix, clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithProgressNotify())
		for resp := range wch {
			if resp.CompactRevision != 0 || resp.Err() == rpctypes.ErrCompacted {
				t.log.Info().Int64("compact_revision", resp.CompactRevision).Msg("alias watch compacted; reloading")
				break
			}
			if err := resp.Err(); err != nil {
				t.log.Warn().Err(err).Msg("alias watch")
				break
			}
			t.mu.Lock()
			for _, ev := range resp.Events {
				name := strings.TrimPrefix(string(ev.Kv.Key), Prefix)
				if ev.Type == mvccpb.DELETE {
					delete(t.m, name)
				} else {
					t.m[name] = string(ev.Kv.Value)
				}
			}
			t.rev = max(t.rev, resp.Header.Revision)
			t.notifyLocked()
			t.mu.Unlock()
		}
		// Reload from scratch: after compaction or a broken stream the
		// table may have missed events.
		for ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := t.reload(rctx)
			cancel()
			if err == nil {
				break
			}
			t.log.Warn().Err(err).Msg("reload aliases")
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

func (t *Table) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}
