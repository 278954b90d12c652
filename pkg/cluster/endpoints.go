package cluster

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Endpoint health: gRPC will not ping a connection more often than every
// 10 s, so a client whose connection leads to a frozen meta member (docker
// pause, SIGSTOP, a hung host) keeps sending on it for that long — longer
// than a node lease lives. The watchdog below probes every member's
// endpoint directly and keeps only the ones that answer in the client's
// endpoint list; dropping an endpoint closes its connection, and the
// client's calls, watches and lease keep-alives move to the others.
const (
	probeInterval = time.Second
	probeTimeout  = 700 * time.Millisecond
)

// watchEndpoints runs until the client is closed. all is the full
// endpoint list; it is refreshed from the member list every few probes.
func watchEndpoints(cli *clientv3.Client, all []string, log zerolog.Logger) {
	ctx := cli.Ctx()
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	current := slices.Clone(all)
	for round := 1; ; round++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if round%10 == 1 {
			all = memberEndpoints(ctx, cli, all)
		}
		healthy := probe(ctx, cli, all)
		if len(healthy) == 0 {
			healthy = all // nothing answers: keep trying every member
		}
		if slices.Equal(healthy, current) {
			continue
		}
		if len(healthy) < len(all) {
			log.Warn().Strs("answering", healthy).Strs("members", all).Msg("meta endpoints not answering; using the others")
		} else {
			log.Info().Strs("endpoints", healthy).Msg("every meta endpoint answers again")
		}
		cli.SetEndpoints(healthy...)
		current = healthy
	}
}

// probe returns, in the order of eps, the endpoints whose member answers a
// Status call within probeTimeout.
func probe(ctx context.Context, cli *clientv3.Client, eps []string) []string {
	ok := make([]bool, len(eps))
	var wg sync.WaitGroup
	for i, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			_, err := cli.Status(pctx, ep)
			ok[i] = err == nil
		}()
	}
	wg.Wait()
	var out []string
	for i, ep := range eps {
		if ok[i] {
			out = append(out, ep)
		}
	}
	return out
}

// memberEndpoints returns the members' client URLs, or prev when the
// member list cannot be read.
func memberEndpoints(ctx context.Context, cli *clientv3.Client, prev []string) []string {
	mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := cli.MemberList(mctx)
	if err != nil {
		return prev
	}
	var eps []string
	for _, m := range resp.Members {
		eps = append(eps, m.ClientURLs...)
	}
	if len(eps) == 0 {
		return prev
	}
	slices.Sort(eps)
	return eps
}
