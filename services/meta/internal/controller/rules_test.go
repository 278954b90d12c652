package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/meta/internal/testutil"
	"google.golang.org/protobuf/proto"
)

const stateInit = shoalv1.ReplicaState_REPLICA_STATE_INITIALIZING

// shard builds a shard from "node:state" pairs (A, D, P, L, R, I); the
// first is the primary.
func shard(id uint32, term uint64, reps ...string) *shoalv1.Shard {
	states := map[string]shoalv1.ReplicaState{"A": stateActive, "D": stateDead, "P": statePartial, "L": stateListener, "R": stateRecovery, "I": stateInit}
	sh := &shoalv1.Shard{Id: id, Term: term}
	for i, r := range reps {
		var node uint64
		var st string
		if _, err := fmt.Sscanf(strings.Replace(r, ":", " ", 1), "%d %s", &node, &st); err != nil {
			panic(err)
		}
		sh.Replicas = append(sh.Replicas, &shoalv1.Replica{NodeId: node, State: states[st]})
		if i == 0 {
			sh.Primary = node
		}
	}
	return sh
}

// view registers normal and listener storage nodes.
func view(judge bool, normal []uint64, listeners ...uint64) nodeView {
	var nodes []*shoalv1.Node
	for _, id := range normal {
		nodes = append(nodes, &shoalv1.Node{Id: id, Tier: storageTier, NodeType: nodeTypeNormal})
	}
	for _, id := range listeners {
		nodes = append(nodes, &shoalv1.Node{Id: id, Tier: storageTier, NodeType: nodeTypeListener})
	}
	nodes = append(nodes, &shoalv1.Node{Id: 99, Tier: shoalv1.NodeTier_NODE_TIER_META})
	return newNodeView(nodes, judge)
}

func states(sh *shoalv1.Shard) string {
	var parts []string
	for _, r := range sh.Replicas {
		parts = append(parts, fmt.Sprintf("%d:%s", r.NodeId, strings.TrimPrefix(r.State.String(), "REPLICA_STATE_")))
	}
	return fmt.Sprintf("primary %d term %d [%s]", sh.Primary, sh.Term, strings.Join(parts, " "))
}

func TestReconcileShard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sh    *shoalv1.Shard
		v     nodeView
		promo *promotion
		want  string
	}{
		{"all registered: nothing to do", shard(0, 1, "1:A", "2:A", "3:I"), view(true, []uint64{1, 2, 3}), nil,
			"primary 1 term 1 [1:ACTIVE 2:ACTIVE 3:INITIALIZING]"},
		{"lease lapsed: Active, Partial, Recovery, Listener become Dead; Initializing and Dead stay",
			shard(0, 1, "1:A", "2:A", "3:P", "4:R", "5:L", "6:I", "7:D"), view(true, []uint64{1}), nil,
			"primary 1 term 1 [1:ACTIVE 2:DEAD 3:DEAD 4:DEAD 5:DEAD 6:INITIALIZING 7:DEAD]"},
		{"during the grace absent nodes are not judged", shard(0, 1, "1:A", "2:A", "3:P"), view(false, nil), nil,
			"primary 1 term 1 [1:ACTIVE 2:ACTIVE 3:PARTIAL]"},
		{"every node gone: the primary stays the last Active replica", shard(0, 1, "1:A", "2:A", "3:A"), view(true, nil), nil,
			"primary 1 term 1 [1:ACTIVE 2:DEAD 3:DEAD]"},
		{"primary already Dead, every node gone: one Active replica stays", shard(0, 1, "1:D", "2:A", "3:A"), view(true, nil), nil,
			"primary 1 term 1 [1:DEAD 2:DEAD 3:ACTIVE]"},
		{"failover: term+1, the chosen replica leads, the old primary is Dead",
			shard(0, 4, "1:A", "2:A", "3:A"), view(true, []uint64{2, 3}), &promotion{term: 4, from: 1, to: 3},
			"primary 3 term 5 [1:DEAD 2:ACTIVE 3:ACTIVE]"},
		{"a promotion decided for another term is not applied",
			shard(0, 5, "1:A", "2:A", "3:A"), view(true, []uint64{2, 3}), &promotion{term: 4, from: 1, to: 3},
			"primary 1 term 5 [1:ACTIVE 2:ACTIVE 3:ACTIVE]"},
		{"a promotion to a replica no longer Active is not applied",
			shard(0, 4, "1:A", "2:A", "3:D"), view(true, []uint64{2, 3}), &promotion{term: 4, from: 1, to: 3},
			"primary 1 term 4 [1:ACTIVE 2:ACTIVE 3:DEAD]"},
		{"a promotion for a primary that is back is not applied",
			shard(0, 4, "1:A", "2:A", "3:A"), view(true, []uint64{1, 2, 3}), &promotion{term: 4, from: 1, to: 3},
			"primary 1 term 4 [1:ACTIVE 2:ACTIVE 3:ACTIVE]"},
		{"Dead replica of a registered node becomes Partial under a live primary",
			shard(0, 2, "1:A", "2:D", "3:D"), view(true, []uint64{1, 2}), nil,
			"primary 1 term 2 [1:ACTIVE 2:PARTIAL 3:DEAD]"},
		{"no live primary: a returning Dead replica stays Dead",
			shard(0, 2, "1:D", "2:D", "3:A"), view(true, []uint64{2}), nil,
			"primary 1 term 2 [1:DEAD 2:DEAD 3:ACTIVE]"},
		{"Listener node: Active and Partial replicas become Listener, Recovery waits",
			shard(0, 1, "1:A", "2:A", "3:P", "4:R"), view(true, []uint64{1}, 2, 3, 4), nil,
			"primary 1 term 1 [1:ACTIVE 2:LISTENER 3:LISTENER 4:RECOVERY]"},
		{"Listener node returning Dead goes through Partial to Listener",
			shard(0, 1, "1:A", "2:D"), view(true, []uint64{1}, 2), nil,
			"primary 1 term 1 [1:ACTIVE 2:LISTENER]"},
		{"the last Active replica is never converted",
			shard(0, 1, "1:D", "2:A"), view(true, nil, 1, 2), nil,
			"primary 1 term 1 [1:DEAD 2:ACTIVE]"},
		{"a Listener primary hands over first, then converts",
			shard(0, 3, "1:A", "2:A"), view(true, []uint64{2}, 1), &promotion{term: 3, from: 1, to: 2},
			"primary 2 term 4 [1:LISTENER 2:ACTIVE]"},
		{"a Listener primary without a Normal candidate stays",
			shard(0, 3, "1:A", "2:L"), view(true, nil, 1, 2), nil,
			"primary 1 term 3 [1:ACTIVE 2:LISTENER]"},
		{"Normal node holding Listener replicas: they become Partial",
			shard(0, 1, "1:A", "2:L"), view(true, []uint64{1, 2}), nil,
			"primary 1 term 1 [1:ACTIVE 2:PARTIAL]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := proto.Clone(tc.sh).(*shoalv1.Shard)
			var out outcome
			reconcileShard(tc.sh, tc.v, tc.promo, nil, &out)
			if got := states(tc.sh); got != tc.want {
				t.Fatalf("reconcile %s\n got %s\nwant %s", states(before), got, tc.want)
			}
			if out.empty() != proto.Equal(before, tc.sh) {
				t.Fatalf("outcome %+v does not match the change %s -> %s", out, states(before), states(tc.sh))
			}
			// A second pass over its own result changes nothing more.
			var again outcome
			reconcileShard(tc.sh, tc.v, tc.promo, nil, &again)
			if !again.empty() {
				t.Fatalf("second pass changed %s again: %+v", tc.want, again)
			}
		})
	}
}

func TestNeedsFailoverAndCandidates(t *testing.T) {
	v := view(true, []uint64{1, 2, 3}, 4)
	for _, tc := range []struct {
		sh    *shoalv1.Shard
		needs bool
		cands string
	}{
		{shard(0, 1, "1:A", "2:A", "3:P", "4:A"), false, "[2]"},
		{shard(0, 1, "5:A", "2:A", "3:A"), true, "[2 3]"},                                // primary gone
		{shard(0, 1, "1:D", "2:A", "3:L"), true, "[2]"},                                  // primary Dead
		{shard(0, 1, "4:A", "2:A", "3:I"), true, "[2]"},                                  // primary on a Listener node
		{shard(0, 1, "1:I", "2:I"), false, "[]"},                                         // being created
		{&shoalv1.Shard{Primary: 7, Replicas: shard(0, 1, "2:A").Replicas}, true, "[2]"}, // primary not a replica
	} {
		if got := needsFailover(tc.sh, v); got != tc.needs {
			t.Errorf("needsFailover(%s) = %v, want %v", states(tc.sh), got, tc.needs)
		}
		if got := fmt.Sprint(candidates(tc.sh, v)); got != tc.cands {
			t.Errorf("candidates(%s) = %s, want %s", states(tc.sh), got, tc.cands)
		}
	}
}

// fakePositions answers Position from a table and counts calls.
type fakePositions struct {
	mu    sync.Mutex
	pos   map[string][2]uint64 // "<node>/<shard>" -> (term, seq)
	calls int
}

func newFakePositions() *fakePositions { return &fakePositions{pos: map[string][2]uint64{}} }

func (f *fakePositions) set(node uint64, shard uint32, term, seq uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pos[fmt.Sprintf("%d/%d", node, shard)] = [2]uint64{term, seq}
}

func (f *fakePositions) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakePositions) Position(_ context.Context, node *shoalv1.Node, ref *shoalv1.ShardRef) (uint64, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	p, ok := f.pos[fmt.Sprintf("%d/%d", node.GetId(), ref.GetShardId())]
	if !ok {
		return 0, 0, errors.New("unavailable")
	}
	return p[0], p[1], nil
}

func TestPickPrimary(t *testing.T) {
	f := newFakePositions()
	c := &Controller{cfg: Config{Positions: f}, log: testutil.Logger(t)}
	v := view(true, []uint64{1, 2, 3, 4})
	coll := &shoalv1.Collection{Name: "c", Uid: "u"}
	pick := func(shardID uint32, cands ...uint64) (uint64, error) {
		return c.pickPrimary(context.Background(), coll, &shoalv1.Shard{Id: shardID, Primary: 9}, cands, v)
	}
	// The higher last term wins over a higher seq.
	f.set(1, 0, 2, 5)
	f.set(2, 0, 1, 99)
	f.set(3, 0, 2, 4)
	if got, err := pick(0, 1, 2, 3); err != nil || got != 1 {
		t.Fatalf("pick = %d, %v; want 1 (term 2 seq 5)", got, err)
	}
	// Ties go to the lowest node id, whatever the order asked.
	f.set(4, 1, 3, 7)
	f.set(2, 1, 3, 7)
	if got, err := pick(1, 4, 2); err != nil || got != 2 {
		t.Fatalf("pick = %d, %v; want 2 (tie, lowest id)", got, err)
	}
	// A candidate that does not answer is not one, even if it might be
	// ahead; none answering is an error.
	f.set(3, 2, 1, 1)
	if got, err := pick(2, 1, 3); err != nil || got != 3 {
		t.Fatalf("pick = %d, %v; want 3 (1 does not answer)", got, err)
	}
	if _, err := pick(3, 1, 2); err == nil || !strings.Contains(err.Error(), "no candidate reported its position") {
		t.Fatalf("pick with no answer: err = %v", err)
	}
}

func TestRevivalBackoff(t *testing.T) {
	c := &Controller{revived: map[reviveKey]*revival{}}
	coll := &shoalv1.Collection{Name: "c", Uid: "u"}
	m := &shoalv1.ShardMap{Uid: "u", Shards: []*shoalv1.Shard{shard(0, 1, "1:A", "2:D", "3:D")}}
	v := view(true, []uint64{1, 2, 3})
	revive := c.revivals(coll, m, v, nil)
	if !revive(0, 2) || !revive(0, 3) {
		t.Fatal("a replica never revived must be revivable at once")
	}
	now := time.Now()
	k := reviveKey{"u", 0, 2}
	c.noteRevived(k, now)
	if revive(0, 2) || !revive(0, 3) {
		t.Fatal("just revived: node 2 must wait, node 3 not")
	}
	if w := c.revived[k].wait; w != minReviveWait {
		t.Fatalf("first wait %v, want %v", w, minReviveWait)
	}
	c.noteRevived(k, now)
	if w := c.revived[k].wait; w != 2*minReviveWait {
		t.Fatalf("second wait %v, want %v", w, 2*minReviveWait)
	}
	for range 10 {
		c.noteRevived(k, now)
	}
	if w := c.revived[k].wait; w != maxReviveWait {
		t.Fatalf("wait grows to %v, want the bound %v", w, maxReviveWait)
	}
	c.revived[k].at = now.Add(-maxReviveWait)
	if !revive(0, 2) {
		t.Fatal("once the wait is over the replica is revivable again")
	}
	// Its node losing the lease (registering again later) resets it.
	c.revived[k].at = now
	c.revivals(coll, m, view(true, []uint64{1, 3}), nil)
	if _, ok := c.revived[k]; ok || !revive(0, 2) {
		t.Fatal("a node that lost its lease must be revived at once when back")
	}
	// So does the replica being Active again, and the collection going.
	c.noteRevived(k, now)
	m.Shards[0].Replicas[1].State = stateActive
	c.revivals(coll, m, v, nil)
	if _, ok := c.revived[k]; ok {
		t.Fatal("an Active replica's revivals must be forgotten")
	}
	c.noteRevived(reviveKey{"old", 0, 2}, now)
	c.noteRevived(k, now)
	c.forgetRevivals(map[string]bool{"u": true})
	if _, ok := c.revived[reviveKey{"old", 0, 2}]; ok || c.revived[k] == nil {
		t.Fatalf("forgetRevivals kept %v", c.revived)
	}
}
