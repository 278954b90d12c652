// Package controller runs the meta tier's leader-elected controller. Every
// meta node runs one; the one that wins an etcd election on ElectionPrefix
// reconciles every shard map with the registered storage nodes:
//
//   - a replica whose node's lease lapsed becomes Dead (never the last
//     Active replica of a shard);
//   - a shard whose primary is gone (lease lapsed, replica Dead, or node
//     now a Listener) fails over to the most advanced live Active replica,
//     ranked by the storage Position RPC, with the term increased by one;
//   - a Dead replica whose node is registered again becomes Partial when
//     the shard has a live primary (which then recovers it and sets it
//     Active);
//   - replicas on Listener nodes become Listener, Listener replicas on
//     Normal nodes become Partial;
//   - transfer records (cluster operations) are driven to their end: see
//     driveTransfers; queued ones start when the per-node limits allow;
//   - replicas on nodes removed or gone for longer than ReplicaLostAfter
//     are re-created elsewhere, draining nodes are emptied, and, when
//     Rebalance is set, replicas move until every Normal node holds as
//     many as the others ±1: see heal.
//
// Every change is one compare-and-swap per map (cluster.UpdateShardMap),
// made only after checking that this controller still holds leadership.
package controller

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// ElectionPrefix is the etcd key prefix of the controller election.
const ElectionPrefix = cluster.Prefix + "controller"

// DefaultResync is how often the leader reconciles when nothing changed.
const DefaultResync = time.Second

// DefaultReplicaLostAfter is Config.ReplicaLostAfter's default.
const DefaultReplicaLostAfter = 5 * time.Minute

// Backoff bounds after a failed reconcile or campaign.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// errNotLeader ends a leadership term.
var errNotLeader = errors.New("controller is no longer the leader")

// Config configures a Controller.
type Config struct {
	Client *clientv3.Client
	// State is the watched cluster state the controller reads; the
	// caller owns it and closes it after the controller.
	State     *cluster.State
	Positions Positions
	// ID names this controller in the election (the meta node's id).
	ID uint64
	// LeaseTTL is the election session's lease in seconds (the storage
	// nodes' lease TTL, cluster.LeaseTTL(tick period)). A leader that
	// dies is replaced within about this time.
	LeaseTTL int64
	// Grace is how long a new leader waits before it takes an absent node
	// for a lapsed lease, so that nodes restarting with the cluster can
	// register first. Zero means none; Start callers normally pass the
	// lease TTL.
	Grace time.Duration
	// Resync is the period of reconciles without changes (DefaultResync
	// if 0).
	Resync time.Duration
	// Limits bound the shard transfers in flight into and out of each
	// storage node, recoveries of Dead replicas included (zero:
	// unlimited).
	Limits cluster.TransferLimits
	// ReplicaLostAfter is how long a storage node named by a shard map
	// may stay unregistered before its replicas count as lost and are
	// re-created elsewhere (DefaultReplicaLostAfter if 0). The clock
	// starts when the leader first sees the node absent, so a new leader
	// starts it afresh.
	ReplicaLostAfter time.Duration
	// Rebalance lets the controller move replicas until every Normal
	// storage node holds as many as the others, ±1.
	Rebalance bool
	Log       zerolog.Logger
}

// Controller is a running controller: it campaigns for leadership and,
// while leader, reconciles. Close stops it.
type Controller struct {
	cfg    Config
	log    zerolog.Logger
	leader atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}

	// stuck remembers the shards (collection/shard/term) whose failover
	// found no candidate in this pass, prevStuck those of the last pass,
	// so that the warning is logged once. Loop goroutine only.
	stuck, prevStuck map[string]bool
	// revived spaces out revivals of Dead replicas. Loop goroutine only.
	revived map[reviveKey]*revival
	// absent is when the leader first saw each storage node named by a
	// shard map unregistered. Loop goroutine only.
	absent map[uint64]time.Time
}

// Start starts the controller in the background.
func Start(cfg Config) *Controller {
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.ReplicaLostAfter <= 0 {
		cfg.ReplicaLostAfter = DefaultReplicaLostAfter
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = cluster.LeaseTTL(0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Controller{
		cfg:     cfg,
		log:     cfg.Log.With().Str("component", "controller").Logger(),
		cancel:  cancel,
		done:    make(chan struct{}),
		stuck:   map[string]bool{},
		revived: map[reviveKey]*revival{},
		absent:  map[uint64]time.Time{},
	}
	go c.run(ctx)
	return c
}

// Close stops the controller and gives up leadership (its election key is
// deleted, so another meta node's controller takes over at once).
func (c *Controller) Close() {
	c.cancel()
	<-c.done
}

// IsLeader reports whether this controller currently leads.
func (c *Controller) IsLeader() bool { return c.leader.Load() }

func (c *Controller) run(ctx context.Context) {
	defer close(c.done)
	var delay time.Duration
	for ctx.Err() == nil {
		start := time.Now()
		err := c.term(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > maxBackoff {
			delay = 0 // a long term: the next failure starts afresh
		}
		delay = nextBackoff(delay)
		c.log.Warn().Err(err).Dur("retry_in", delay).Msg("controller leadership ended or campaign failed")
		if !sleep(ctx, delay) {
			return
		}
	}
}

// term runs one election session: campaign, then lead until leadership or
// the session is lost or ctx ends.
func (c *Controller) term(ctx context.Context) error {
	sess, err := concurrency.NewSession(c.cfg.Client, concurrency.WithTTL(int(c.cfg.LeaseTTL)), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("controller election session: %w", err)
	}
	defer func() {
		// Revoke with a context of its own: ctx may be done already, and
		// revoking deletes the election key so a successor need not wait
		// for the lease to lapse.
		sess.Orphan()
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := c.cfg.Client.Revoke(rctx, sess.Lease()); err != nil {
			c.log.Debug().Err(err).Msg("revoke controller election lease")
		}
	}()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-sctx.Done():
		}
	}()
	el := concurrency.NewElection(sess, ElectionPrefix)
	if err := el.Campaign(sctx, strconv.FormatUint(c.cfg.ID, 10)); err != nil {
		if ctx.Err() == nil && sctx.Err() != nil {
			return fmt.Errorf("campaign: election session lost: %w", err)
		}
		return fmt.Errorf("campaign: %w", err)
	}
	c.leader.Store(true)
	defer c.leader.Store(false)
	c.log.Info().Str("key", el.Key()).Int64("revision", el.Rev()).Msg("controller is the leader")
	err = c.lead(sctx, &leadership{cli: c.cfg.Client, sess: sess, el: el})
	if ctx.Err() == nil && sctx.Err() != nil {
		err = fmt.Errorf("election session lost: %w", err)
	}
	c.log.Info().Err(err).Msg("controller leadership ended")
	return err
}

// leadership checks that the controller still leads before it writes.
type leadership struct {
	cli  *clientv3.Client
	sess *concurrency.Session
	el   *concurrency.Election
}

// check returns errNotLeader unless the session is alive and this
// controller's election key still exists with the revision it won with.
func (l *leadership) check(ctx context.Context) error {
	select {
	case <-l.sess.Done():
		return errNotLeader
	default:
	}
	resp, err := l.cli.Get(ctx, l.el.Key())
	if err != nil {
		return fmt.Errorf("check controller leadership: %w", err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != l.el.Rev() {
		return errNotLeader
	}
	return nil
}

// lead reconciles on every state change and every Resync, backing off
// after failures, until ctx ends or leadership is lost.
func (c *Controller) lead(ctx context.Context, l *leadership) error {
	since := time.Now()
	var delay time.Duration
	for {
		changed := c.cfg.State.Changed()
		graceLeft := c.cfg.Grace - time.Since(since)
		err := c.reconcileAll(ctx, l, graceLeft <= 0)
		if errors.Is(err, errNotLeader) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := c.cfg.Resync
		if err != nil {
			delay = nextBackoff(delay)
			wait, changed = delay, nil // no early retry on changes
			c.log.Warn().Err(err).Dur("retry_in", delay).Msg("reconcile")
		} else {
			delay = 0
			if graceLeft > 0 {
				wait = min(wait, graceLeft)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

func nextBackoff(d time.Duration) time.Duration {
	return min(max(2*d, minBackoff), maxBackoff)
}

// sleep waits d; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
