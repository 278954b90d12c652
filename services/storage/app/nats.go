package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// natsPlaceholder is the only server nats.go knows: every (re)connect goes
// through natsURLs.Dial, which picks one of the URLs the meta nodes
// publish at the moment.
const natsPlaceholder = "nats://meta-published-nats:4222"

// natsDialTimeout bounds one TCP connect to a NATS server.
const natsDialTimeout = 5 * time.Second

// natsURLs follows the NATS client URLs the meta nodes publish in etcd
// (cluster.NATSPrefix) and dials them for nats.go.
type natsURLs struct {
	log    zerolog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	urls map[string]string // etcd key -> URL
}

// watchNATSURLs starts following the published URLs; it returns at once.
func watchNATSURLs(cli *clientv3.Client, log zerolog.Logger) *natsURLs {
	ctx, cancel := context.WithCancel(context.Background())
	w := &natsURLs{log: log, cancel: cancel, done: make(chan struct{}), urls: map[string]string{}}
	go w.run(ctx, cli)
	return w
}

func (w *natsURLs) run(ctx context.Context, cli *clientv3.Client) {
	defer close(w.done)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		resp, err := cli.Get(ctx, cluster.NATSPrefix, clientv3.WithPrefix())
		if err != nil {
			w.log.Debug().Err(err).Msg("list published NATS URLs")
			wait(ctx, min(time.Duration(attempt+1)*200*time.Millisecond, 2*time.Second))
			continue
		}
		urls := map[string]string{}
		for _, kv := range resp.Kvs {
			urls[string(kv.Key)] = string(kv.Value)
		}
		w.set(urls)
		wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for wr := range cli.Watch(wctx, cluster.NATSPrefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
			if wr.Err() != nil {
				break
			}
			w.mu.Lock()
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete {
					delete(w.urls, string(ev.Kv.Key))
				} else {
					w.urls[string(ev.Kv.Key)] = string(ev.Kv.Value)
				}
			}
			w.mu.Unlock()
		}
		wcancel()
		attempt = 0
		wait(ctx, 100*time.Millisecond)
	}
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (w *natsURLs) set(urls map[string]string) {
	w.mu.Lock()
	w.urls = urls
	w.mu.Unlock()
}

// list returns the published URLs' host:port in random order.
func (w *natsURLs) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]bool{}
	var hosts []string
	for _, raw := range w.urls {
		for _, one := range strings.Split(raw, ",") {
			u, err := url.Parse(strings.TrimSpace(one))
			if err != nil || u.Host == "" {
				continue
			}
			host := u.Host
			if u.Port() == "" {
				host = net.JoinHostPort(u.Hostname(), "4222")
			}
			if !seen[host] {
				seen[host] = true
				hosts = append(hosts, host)
			}
		}
	}
	sort.Strings(hosts)
	rand.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
	return hosts
}

// Dial implements nats.CustomDialer: it ignores address and connects to
// one of the currently published servers.
func (w *natsURLs) Dial(network, _ string) (net.Conn, error) {
	hosts := w.list()
	if len(hosts) == 0 {
		return nil, errors.New("no NATS URL published by the meta tier yet")
	}
	var errs []error
	for _, h := range hosts {
		c, err := net.DialTimeout(network, h, natsDialTimeout)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("dial NATS: %w", errors.Join(errs...))
}

// close stops following the URLs.
func (w *natsURLs) close() {
	w.cancel()
	<-w.done
}

// connectNATS returns a connection that (re)connects forever, in the
// background, to whichever published NATS server answers. It does not
// wait for the first connection: subscriptions made meanwhile are sent
// once connected.
func connectNATS(urls *natsURLs, name string, log zerolog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect(natsPlaceholder,
		nats.Name(name),
		nats.SetCustomDialer(urls),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, 100*time.Millisecond),
		nats.IgnoreDiscoveredServers(),
		nats.SkipHostLookup(),
		nats.ConnectHandler(func(c *nats.Conn) { log.Info().Str("server", c.ConnectedUrlRedacted()).Msg("connected to NATS") }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info().Msg("reconnected to NATS") }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn().Err(err).Msg("disconnected from NATS")
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			ev := log.Warn().Err(err)
			if s != nil {
				ev = ev.Str("subject", s.Subject)
			}
			ev.Msg("NATS error")
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return nc, nil
}
