// Package etcdserver runs the meta tier's embedded etcd member: the Raft
// log that holds Shoal's cluster state. It maps Shoal's configuration onto
// etcd's, creates a new cluster or joins an existing one through a
// bootstrap peer, and restarts from an existing data directory.
package etcdserver

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shoaldb/shoal/pkg/config"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// clusterToken is the initial cluster token. It seeds etcd's member and
// cluster ids; every Shoal meta cluster uses the same one, which is safe
// because members of different clusters never share peer URLs.
const clusterToken = "shoal-meta"

// electionTicks is the election timeout in Raft ticks (heartbeats).
const electionTicks = 10

// minJoinTimeout is the least time a member is given to become ready. A
// joining member has to receive a snapshot and a restarted one has to find
// a quorum, which can take longer than a fresh single-node bootstrap.
const minJoinTimeout = 60 * time.Second

// Settings are the addresses and paths of this member, derived from the
// configuration.
type Settings struct {
	// Name is the etcd member name (node.name, or "<host>-<port>" of the URI).
	Name string
	// PeerURL is the advertised peer (Raft) URL: node.uri.
	PeerURL url.URL
	// PeerListen is where the peer port listens: 0.0.0.0:<port of PeerURL>.
	PeerListen url.URL
	// ClientURL is the advertised client URL: http://<host of uri>:<meta.client_port>.
	ClientURL url.URL
	// ClientListen is where the client port listens: 0.0.0.0:<meta.client_port>.
	ClientListen url.URL
	// LocalClientURL reaches this member's client port over loopback.
	LocalClientURL url.URL
	// DataDir is meta.data_dir, or <storage.storage_path>/meta.
	DataDir string
	// Bootstrap is the peer URL of a running member to join, or "".
	Bootstrap string
	// SelfBootstrap is true when the configured bootstrap URL was this
	// node's own peer URL (and Bootstrap was cleared).
	SelfBootstrap bool
	// ReadyTimeout bounds the wait for the member to be ready.
	ReadyTimeout time.Duration
}

// NewSettings derives the member's settings. A URI without a port uses
// cluster.p2p.port; an empty URI advertises this host's name on that
// port. Only http peer URLs are supported (peer TLS is not wired yet).
func NewSettings(cfg config.Config) (Settings, error) {
	uri := cfg.Node.URI
	if uri == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		uri = "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Cluster.P2P.Port))
	}
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return Settings{}, fmt.Errorf("node.uri %q: want a URL such as http://meta-1:6335", uri)
	}
	if u.Scheme != "http" {
		return Settings{}, fmt.Errorf("node.uri %q: the meta tier serves only http peer URLs for now", uri)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = strconv.Itoa(cfg.Cluster.P2P.Port)
	}
	if host == "" {
		return Settings{}, fmt.Errorf("node.uri %q: no host", uri)
	}
	clientPort := strconv.Itoa(cfg.Meta.ClientPort)
	s := Settings{
		Name:           cfg.Node.Name,
		PeerURL:        url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)},
		PeerListen:     url.URL{Scheme: "http", Host: net.JoinHostPort("0.0.0.0", port)},
		ClientURL:      url.URL{Scheme: "http", Host: net.JoinHostPort(host, clientPort)},
		ClientListen:   url.URL{Scheme: "http", Host: net.JoinHostPort("0.0.0.0", clientPort)},
		LocalClientURL: url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", clientPort)},
		DataDir:        cfg.Meta.DataDir,
		Bootstrap:      strings.TrimRight(cfg.Node.Bootstrap, "/"),
		ReadyTimeout:   time.Duration(cfg.Cluster.Consensus.BootstrapTimeoutSec) * time.Second,
	}
	if s.Name == "" {
		s.Name = memberName(host, port)
	}
	if s.DataDir == "" {
		s.DataDir = filepath.Join(cfg.Storage.StoragePath, "meta")
	}
	if s.ReadyTimeout < minJoinTimeout {
		s.ReadyTimeout = minJoinTimeout
	}
	if isSelf(s.Bootstrap, s.PeerURL) {
		// A --bootstrap naming this node's own peer URL makes it the first
		// node, so every pod of a StatefulSet can share one template that
		// bootstraps from pod 0, pod 0 included.
		s.Bootstrap = ""
		s.SelfBootstrap = true
	}
	return s, nil
}

// isSelf reports whether bootstrap names peer (same scheme, host compared
// case-insensitively, and port).
func isSelf(bootstrap string, peer url.URL) bool {
	if bootstrap == "" {
		return false
	}
	b, err := url.Parse(bootstrap)
	return err == nil && b.Scheme == peer.Scheme && strings.EqualFold(b.Host, peer.Host)
}

// memberName turns host and port into a member name made of letters,
// digits, '.', '-' and '_'.
func memberName(host, port string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
				return r
			}
			return '-'
		}, s)
	}
	return clean(host) + "-" + clean(port)
}

// hasData reports whether dir holds a member's data (etcd's member/
// directory), in which case the member restarts from it.
func hasData(dir string) (bool, error) {
	st, err := os.Stat(filepath.Join(dir, "member"))
	switch {
	case err == nil:
		return st.IsDir(), nil
	case os.IsNotExist(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect data dir %s: %w", dir, err)
	}
}

// embedConfig maps the configuration onto etcd's:
//
//   - cluster.consensus.tick_period_ms is the heartbeat (TickMs), and the
//     election timeout is electionTicks heartbeats;
//   - cluster.consensus.compact_wal_entries is the snapshot count: the number
//     of applied entries after which etcd snapshots and truncates its log;
//   - meta.auto_compaction_retention drives periodic revision compaction and
//     meta.quota_backend_bytes caps the database, so the keyspace cannot grow
//     until etcd turns read-only;
//   - cluster.consensus.max_message_queue_size is accepted but has no etcd
//     equivalent: etcd bounds in-flight Raft messages and the gap between
//     committed and applied entries with built-in constants and answers
//     "too many requests" beyond them, which plays the same role.
//
// The initial cluster and cluster state are left to the caller.
func embedConfig(cfg config.Config, s Settings, lg *zap.Logger) *embed.Config {
	ec := embed.NewConfig()
	ec.Name = s.Name
	ec.Dir = s.DataDir
	ec.ListenPeerUrls = []url.URL{s.PeerListen}
	ec.AdvertisePeerUrls = []url.URL{s.PeerURL}
	ec.ListenClientUrls = []url.URL{s.ClientListen}
	ec.AdvertiseClientUrls = []url.URL{s.ClientURL}
	tick := uint(cfg.Cluster.Consensus.TickPeriodMs)
	ec.TickMs = tick
	ec.ElectionMs = tick * electionTicks
	ec.SnapshotCount = uint64(cfg.Cluster.Consensus.CompactWalEntries)
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = cfg.Meta.AutoCompactionRetention
	ec.QuotaBackendBytes = cfg.Meta.QuotaBackendBytes
	// Clients (pkg/cluster.NewClient) ping every second to leave a frozen
	// member before their leases lapse; allow it (etcd's default minimum
	// is 5 s and answers faster pings with GOAWAY).
	ec.GRPCKeepAliveMinTime = 500 * time.Millisecond
	ec.InitialClusterToken = clusterToken
	ec.Logger = "zap"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	return ec
}
