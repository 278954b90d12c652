package cluster

import (
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/logging"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// NewClient connects to the meta tier's etcd endpoints. The client keeps
// its endpoint list in sync with the etcd membership, so giving it one
// meta node is enough to learn the others.
func NewClient(endpoints []string, log zerolog.Logger) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		// Keep-alive pings detect a cut-off member (gRPC sends them at
		// most every 10 s, whatever is asked); watchEndpoints detects a
		// frozen one within about a second and keeps the endpoint list to
		// the members that answer, so it also replaces auto-sync.
		DialKeepAliveTime:    time.Second,
		DialKeepAliveTimeout: time.Second,
		PermitWithoutStream:  true,
		Logger:               logging.Zap(log.With().Str("component", "etcd-client").Logger().Level(maxLevel(log.GetLevel(), zerolog.WarnLevel))),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to meta %v: %w", endpoints, err)
	}
	all := slices.Clone(endpoints)
	slices.Sort(all)
	go watchEndpoints(cli, all, log.With().Str("component", "etcd-client").Logger())
	return cli, nil
}

// LeaseTTL is the node lease length for a Raft tick period: 30 ticks,
// rounded up to whole seconds, at least 2 s (etcd's minimum for its
// default election timeout). The default 100 ms tick gives 3 s.
func LeaseTTL(tickPeriodMs int) int64 {
	ttl := (int64(tickPeriodMs)*30 + 999) / 1000
	if ttl < 2 {
		ttl = 2
	}
	return ttl
}

func maxLevel(a, b zerolog.Level) zerolog.Level {
	if a > b {
		return a
	}
	return b
}
