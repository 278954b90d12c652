package app

import (
	"context"
	"sort"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	"github.com/shoaldb/shoal/services/meta/internal/natsserver"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// publishedRoutes lists the NATS route URLs the other meta nodes publish
// (cluster.NATSRoutesPrefix), leaving out self's key, and the revision read.
func publishedRoutes(ctx context.Context, cli *clientv3.Client, self uint64) ([]string, int64, error) {
	resp, err := cli.Get(ctx, cluster.NATSRoutesPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, err
	}
	own := cluster.NATSRouteKey(self)
	var routes []string
	for _, kv := range resp.Kvs {
		if string(kv.Key) != own && len(kv.Value) > 0 {
			routes = append(routes, string(kv.Value))
		}
	}
	sort.Strings(routes)
	return routes, resp.Header.Revision, nil
}

// routeWatcher keeps the embedded NATS server's routes equal to the other
// meta nodes' published route URLs, so that a node that joins later is
// routed to by every earlier one (the cluster's gossip does the same; this
// also covers a node that restarts with a new address).
type routeWatcher struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func watchRoutes(cli *clientv3.Client, ns *natsserver.Server, self uint64, log zerolog.Logger) *routeWatcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &routeWatcher{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			routes, rev, err := publishedRoutes(ctx, cli, self)
			if err != nil {
				log.Debug().Err(err).Msg("list NATS routes")
				pause(ctx, time.Second)
				continue
			}
			if err := ns.SetRoutes(routes); err != nil {
				log.Warn().Err(err).Msg("update NATS routes")
			}
			wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			for wr := range cli.Watch(wctx, cluster.NATSRoutesPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
				if wr.Err() != nil || len(wr.Events) > 0 {
					break // re-list: simpler than applying the events
				}
			}
			wcancel()
			pause(ctx, 100*time.Millisecond)
		}
	}()
	return w
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (w *routeWatcher) close() {
	w.cancel()
	<-w.done
}
