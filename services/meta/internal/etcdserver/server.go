package etcdserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/config"
	"github.com/shoaldb/shoal/pkg/logging"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"
	"go.uber.org/zap"
)

// Server is a running etcd member.
type Server struct {
	etcd     *embed.Etcd
	settings Settings
	log      zerolog.Logger

	drained   chan struct{} // closed when the error-drain goroutine ends
	closing   *atomic.Bool  // set by Close; quiets etcd's shutdown logs
	closeOnce sync.Once
}

// Start starts the member and returns once it has joined the cluster and
// serves clients.
//
//   - With data in the data dir it restarts from it; node.bootstrap is
//     ignored, so a node's flags need not change between starts.
//   - Without data and without node.bootstrap it creates a new one-member
//     cluster.
//   - Without data and with node.bootstrap (a running member's peer URL) it
//     joins that cluster as a learner (see join) and promotes itself to a
//     voting member once in sync; a member that restarts while still a
//     learner is promoted the same way.
//
// The wait for readiness is bounded by cluster.consensus.bootstrap_timeout_sec,
// but at least a minute, and by ctx.
func Start(ctx context.Context, cfg config.Config, log zerolog.Logger) (*Server, error) {
	s, err := NewSettings(cfg)
	if err != nil {
		return nil, err
	}
	log = log.With().Str("component", "etcd").Logger()
	closing := new(atomic.Bool)
	lg := zap.New(shutdownCore{Core: logging.Zap(log.Level(etcdLevel(log.GetLevel()))).Core(), closing: closing})
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create meta data dir: %w", err)
	}
	ec := embedConfig(cfg, s, lg)
	ec.InitialCluster = s.Name + "=" + s.PeerURL.String()
	ec.ClusterState = embed.ClusterStateFlagNew

	readyCtx, cancel := context.WithTimeout(ctx, s.ReadyTimeout)
	defer cancel()
	restart, err := hasData(s.DataDir)
	if err != nil {
		return nil, err
	}
	switch {
	case restart:
		log.Info().Str("data_dir", s.DataDir).Msg("restarting etcd member from its data")
	case s.Bootstrap != "":
		initial, err := join(readyCtx, s, lg, log)
		if err != nil {
			return nil, err
		}
		ec.InitialCluster = initial
		ec.ClusterState = embed.ClusterStateFlagExisting
		log.Info().Str("bootstrap", s.Bootstrap).Str("initial_cluster", initial).Msg("joining meta cluster")
	default:
		log.Info().Str("data_dir", s.DataDir).Bool("bootstrap_names_self", s.SelfBootstrap).Msg("creating a new meta cluster")
	}

	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start etcd member %s: %w", s.Name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		closing.Store(true)
		e.Close()
		return nil, fmt.Errorf("start etcd member %s: %w", s.Name, err)
	case <-readyCtx.Done():
		closing.Store(true)
		e.Close()
		return nil, fmt.Errorf("etcd member %s not ready after %v (is a quorum of meta nodes reachable?): %w", s.Name, s.ReadyTimeout, readyCtx.Err())
	}
	if restart || s.Bootstrap != "" {
		if err := promote(readyCtx, e, log); err != nil {
			closing.Store(true)
			e.Close()
			return nil, err
		}
	}
	srv := &Server{etcd: e, settings: s, log: log, drained: make(chan struct{}), closing: closing}
	go srv.drainErrors()
	return srv, nil
}

// promote makes sure this member votes. A member that joined is a
// learner until promoted; one that restarted before its promotion still
// is. Right after start the member's own view of its learner flag can lag
// behind the log, so promote first waits until the member has applied
// everything the leader committed (a linearizable read barrier), then
// reads the flag, and asks the leader to promote a learner, retrying while
// the leader finds it not yet in sync.
func promote(ctx context.Context, e *embed.Etcd, log zerolog.Logger) error {
	id := uint64(e.Server.MemberID())
	for {
		err := e.Server.LinearizableReadNotify(ctx)
		if err == nil {
			if !e.Server.IsLearner() {
				return nil
			}
			if _, err = e.Server.PromoteMember(ctx, id); err == nil || errors.Is(err, membership.ErrMemberNotLearner) {
				log.Info().Str("member_id", strconv.FormatUint(id, 16)).Msg("promoted from learner to voting member")
				continue // confirm through the barrier
			}
		}
		log.Debug().Err(err).Msg("promote learner; retrying")
		select {
		case <-ctx.Done():
			return fmt.Errorf("promote member %x to a voting member: %w (last error: %v)", id, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// etcdLevel keeps etcd at warn and above unless debugging: its info logs
// are many and mostly about Raft internals.
func etcdLevel(l zerolog.Level) zerolog.Level {
	if l <= zerolog.DebugLevel || l >= zerolog.WarnLevel {
		return l
	}
	return zerolog.WarnLevel
}

// drainErrors logs the errors etcd reports while serving; etcd blocks a
// failing handler until they are read. It ends when Close closes the
// channel.
func (s *Server) drainErrors() {
	defer close(s.drained)
	for err := range s.etcd.Err() {
		if err != nil {
			s.log.Error().Err(err).Msg("etcd serving error")
		}
	}
}

// MemberID is this member's etcd id, which is also the meta node's id.
func (s *Server) MemberID() uint64 { return uint64(s.etcd.Server.MemberID()) }

// Name is the member name.
func (s *Server) Name() string { return s.settings.Name }

// PeerURL is the advertised peer URL (node.uri).
func (s *Server) PeerURL() string { return s.settings.PeerURL.String() }

// ClientURL is the advertised client URL.
func (s *Server) ClientURL() string { return s.settings.ClientURL.String() }

// LocalClientURL reaches the client port over loopback.
func (s *Server) LocalClientURL() string { return s.settings.LocalClientURL.String() }

// DataDir is the member's data directory.
func (s *Server) DataDir() string { return s.settings.DataDir }

// Leader is the member id of the current Raft leader, 0 when none is known.
func (s *Server) Leader() uint64 { return uint64(s.etcd.Server.Leader()) }

// Term is the current Raft term.
func (s *Server) Term() uint64 { return s.etcd.Server.Term() }

// Close stops the member (a leader hands over leadership first). It is
// idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		start := time.Now()
		s.closing.Store(true)
		s.etcd.Close()
		<-s.drained
		s.log.Info().Dur("took", time.Since(start)).Msg("etcd member stopped")
	})
}
