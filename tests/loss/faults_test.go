package loss

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
)

// fault is one injected failure, for the summary.
type fault struct {
	at       time.Time
	kind     string
	target   string
	detail   string
	ackedIn  int64         // operations acknowledged between injection and recovery
	recovery time.Duration // injection until every replica was Active again
	err      string        // recovery did not complete (kept as evidence)
	before   string        // primaries and terms when injected
	after    string        // primaries and terms once recovered
}

func (f fault) String() string {
	s := fmt.Sprintf("%s %-22s %-10s %s; %d ops acked meanwhile; all Active after %v", f.at.UTC().Format("15:04:05.000"), f.kind, f.target, f.detail, f.ackedIn, f.recovery.Round(10*time.Millisecond))
	if f.before != f.after {
		s += "; primaries " + f.before + " -> " + f.after
	} else {
		s += "; primaries unchanged " + f.before
	}
	if f.err != "" {
		s += "; PROBLEM: " + f.err
	}
	return s
}

// injector runs the fault sequence against a cluster while writers run.
type injector struct {
	c          *procCluster
	collection string
	acked      *atomic.Int64
	logf       func(format string, args ...any)
	faults     []fault
	// recoverWithin bounds the wait for all replicas Active after a fault.
	recoverWithin time.Duration
	stopFor       time.Duration // SIGSTOP length: longer than the lease TTL
	downFor       time.Duration // least time a killed primary's node stays down
	// failoverWithin bounds the wait for a killed primary's shard to get
	// a new primary before its node is restarted.
	failoverWithin time.Duration
}

// cycle runs one round of every fault kind: kill -9 a primary's node,
// SIGSTOP a node, kill -9 a node and restart it at once, restart a router.
// round rotates the targets.
func (in *injector) cycle(ctx context.Context, round int) error {
	m, err := in.c.shardMap(ctx, in.collection)
	if err != nil {
		return err
	}
	shards := m.GetShards()
	if len(shards) == 0 {
		return fmt.Errorf("collection %s has no shards", in.collection)
	}

	// 1. kill -9 the node of a shard's primary; it stays down long enough
	// for its lease to lapse, so the meta tier fails the shard over.
	sh := shards[round%len(shards)]
	p := in.c.procOf(sh.GetPrimary())
	if p == nil {
		return fmt.Errorf("shard %d: primary %d is no known storage node (%s)", sh.GetId(), sh.GetPrimary(), in.c.describeMap(m))
	}
	if err := in.killPrimary(ctx, p, sh.GetId(), sh.GetTerm()); err != nil {
		return err
	}

	// 2. SIGSTOP a storage node (a primary's in even rounds, a follower's
	// in odd ones), then SIGCONT.
	if p, err = in.pick(ctx, round%2 == 0, round); err != nil {
		return err
	}
	if err := in.pause(ctx, p); err != nil {
		return err
	}

	// 3. kill -9 a node and restart it at once, a crash and quick return
	// (a follower's in even rounds, a primary's in odd ones).
	if p, err = in.pick(ctx, round%2 == 1, round); err != nil {
		return err
	}
	m, err = in.c.shardMap(ctx, in.collection)
	if err != nil {
		return err
	}
	if err := in.killRestart(ctx, "kill -9 + quick restart", p, 200*time.Millisecond, primaryOf(in.c, m, p)); err != nil {
		return err
	}

	// 4. restart a router.
	r := in.c.routers[round%len(in.c.routers)]
	return in.restartRouter(ctx, r)
}

// pick returns the node of a shard's current primary (primary) or a node
// that is primary of no shard, when there is one; round rotates the choice.
func (in *injector) pick(ctx context.Context, primary bool, round int) (*proc, error) {
	m, err := in.c.shardMap(ctx, in.collection)
	if err != nil {
		return nil, err
	}
	isPrimary := map[*proc]bool{}
	var prims []*proc
	for _, sh := range m.GetShards() {
		if p := in.c.procOf(sh.GetPrimary()); p != nil && !isPrimary[p] {
			isPrimary[p] = true
			prims = append(prims, p)
		}
	}
	if primary && len(prims) > 0 {
		return prims[round%len(prims)], nil
	}
	var others []*proc
	for _, p := range in.c.storages {
		if !isPrimary[p] {
			others = append(others, p)
		}
	}
	if len(others) == 0 {
		others = in.c.storages
	}
	return others[round%len(others)], nil
}

// primaries renders each shard's primary and term, e.g. "0:storage-1@1 1:storage-0@2".
func (in *injector) primaries() string {
	m, err := in.c.shardMap(context.Background(), in.collection)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	var parts []string
	for _, sh := range m.GetShards() {
		parts = append(parts, fmt.Sprintf("%d:%s@%d", sh.GetId(), in.c.nodeName(sh.GetPrimary()), sh.GetTerm()))
	}
	return strings.Join(parts, " ")
}

func primaryOf(c *procCluster, m *shoalv1.ShardMap, p *proc) string {
	var prim []string
	for _, sh := range m.GetShards() {
		if c.procOf(sh.GetPrimary()) == p {
			prim = append(prim, fmt.Sprint(sh.GetId()))
		}
	}
	if len(prim) == 0 {
		return "primary of no shard"
	}
	return "primary of shard " + strings.Join(prim, ",")
}

func (in *injector) begin(kind string, p *proc, detail string) (fault, int64) {
	f := fault{at: time.Now(), kind: kind, target: p.label, detail: detail, before: in.primaries()}
	in.logf("fault: %s %s (%s)", kind, p.label, detail)
	return f, in.acked.Load()
}

// settle waits until every replica is Active and records the fault.
func (in *injector) settle(ctx context.Context, f fault, before int64) {
	desc, err := in.c.waitAllActive(ctx, in.collection, in.recoverWithin)
	f.recovery = time.Since(f.at)
	f.ackedIn = in.acked.Load() - before
	f.after = in.primaries()
	if err != nil {
		f.err = strings.TrimPrefix(f.err+"; ", "; ") + err.Error()
	}
	in.logf("recovered from %s %s after %v: %s", f.kind, f.target, f.recovery.Round(10*time.Millisecond), desc)
	in.faults = append(in.faults, f)
}

func (in *injector) killRestart(ctx context.Context, kind string, p *proc, down time.Duration, detail string) error {
	f, before := in.begin(kind, p, detail)
	if err := p.kill9(); err != nil {
		return err
	}
	sleep(ctx, down)
	if err := p.start(); err != nil {
		return err
	}
	if err := p.waitHealthy(ctx, 30*time.Second); err != nil {
		return err
	}
	in.settle(ctx, f, before)
	return nil
}

// killPrimary kills the node of shard's primary at term, keeps it down at
// least downFor and until the meta tier has moved the primary (bounded by
// failoverWithin), then restarts it.
func (in *injector) killPrimary(ctx context.Context, p *proc, shard uint32, term uint64) error {
	f, before := in.begin("kill -9 primary", p, fmt.Sprintf("primary of shard %d term %d", shard, term))
	if err := p.kill9(); err != nil {
		return err
	}
	sleep(ctx, in.downFor)
	deadline := time.Now().Add(in.failoverWithin)
	for {
		m, err := in.c.shardMap(ctx, in.collection)
		if err != nil {
			return err
		}
		if sh := findShard(m, shard); sh != nil && sh.GetTerm() > term && in.c.procOf(sh.GetPrimary()) != p {
			f.detail += fmt.Sprintf(", failed over to %s term %d %v after the kill", in.c.nodeName(sh.GetPrimary()), sh.GetTerm(), time.Since(f.at).Round(10*time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			f.err = fmt.Sprintf("no failover of shard %d within %v of the kill: %s", shard, time.Since(f.at).Round(time.Second), in.c.describeMap(m))
			break
		}
		sleep(ctx, 50*time.Millisecond)
	}
	if err := p.start(); err != nil {
		return err
	}
	if err := p.waitHealthy(ctx, 30*time.Second); err != nil {
		return err
	}
	in.settle(ctx, f, before)
	return nil
}

func findShard(m *shoalv1.ShardMap, id uint32) *shoalv1.Shard {
	for _, sh := range m.GetShards() {
		if sh.GetId() == id {
			return sh
		}
	}
	return nil
}

func (in *injector) pause(ctx context.Context, p *proc) error {
	m, err := in.c.shardMap(ctx, in.collection)
	if err != nil {
		return err
	}
	f, before := in.begin("SIGSTOP "+in.stopFor.String(), p, primaryOf(in.c, m, p))
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	sleep(ctx, in.stopFor)
	if err := p.signal(syscall.SIGCONT); err != nil {
		return err
	}
	in.settle(ctx, f, before)
	return nil
}

func (in *injector) restartRouter(ctx context.Context, r *proc) error {
	f, before := in.begin("kill -9 + restart router", r, "")
	if err := r.kill9(); err != nil {
		return err
	}
	if err := r.start(); err != nil {
		return err
	}
	if err := r.waitHealthy(ctx, 30*time.Second); err != nil {
		return err
	}
	in.settle(ctx, f, before)
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
