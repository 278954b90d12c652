// Package loss is the loss checker: a real multi-process cluster (1 meta,
// 3 storage nodes, 2 routers) takes concurrent writes while storage nodes
// are killed with SIGKILL (shard primaries included) and restarted, one is
// stopped with SIGSTOP and resumed, and a router is restarted. Afterwards
// every acknowledged write must be there, no acknowledged delete undone,
// and the Active replicas of each shard identical by digest.
//
// go test ./tests/loss/ -run TestLossChecker -v runs it for about a
// minute; SHOAL_LOSS_DURATION (or -loss.duration) sets how long faults are
// injected (scripts/loss runs it for 10 minutes).
package loss

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var lossDuration = flag.Duration("loss.duration", 0, "how long the loss checker injects faults (default 20s, or SHOAL_LOSS_DURATION)")

// consistencyFactor is the collection's write_consistency_factor: 2 (a
// majority of 3), or SHOAL_LOSS_WCF, e.g. 1 to see what a factor of 1
// loses when a primary dies.
func consistencyFactor(t *testing.T) int {
	s := os.Getenv("SHOAL_LOSS_WCF")
	if s == "" {
		return 2
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > lossRF {
		t.Fatalf("SHOAL_LOSS_WCF=%q: want 1..%d", s, lossRF)
	}
	return n
}

func faultDuration(t *testing.T) time.Duration {
	if *lossDuration > 0 {
		return *lossDuration
	}
	if s := os.Getenv("SHOAL_LOSS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SHOAL_LOSS_DURATION=%q: %v", s, err)
		}
		return d
	}
	return 20 * time.Second
}

const (
	lossCollection = "loss"
	lossDim        = 8
	lossShards     = 2
	lossRF         = 3
	lossWriters    = 4
	lossPerWriter  = 400
)

// workDir is a directory for the cluster's data and logs that survives a
// failed run (its path is logged) and is removed after a passing one.
func workDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("SHOAL_LOSS_KEEP") != "" {
			t.Logf("cluster data and logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

func TestLossChecker(t *testing.T) {
	needBinaries(t)
	duration := faultDuration(t)
	wcf := consistencyFactor(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := workDir(t, "shoal-loss")
	c := startCluster(t, dir, 3, 2)
	defer func() {
		if t.Failed() {
			t.Logf("log evidence (warnings and errors, last lines per process):\n%s", logEvidence(c, 25))
		}
	}()

	if err := createCollection(ctx, c.routerURLs[0], lossCollection, map[string]any{
		"vectors": map[string]any{"size": lossDim, "distance": "Dot"}, "shard_number": lossShards,
		"replication_factor": lossRF, "write_consistency_factor": wcf,
	}); err != nil {
		t.Fatal(err)
	}
	if desc, err := c.waitAllActive(ctx, lossCollection, 60*time.Second); err != nil {
		t.Fatalf("new collection: %v", err)
	} else {
		t.Logf("collection ready: %s", desc)
	}

	start := time.Now()
	w := startWriters(ctx, c, lossCollection)
	defer w.stop()

	in := &injector{c: c, collection: lossCollection, acked: &w.acked, logf: t.Logf,
		recoverWithin: 60 * time.Second, stopFor: 5 * time.Second, downFor: 2 * time.Second, failoverWithin: 20 * time.Second}
	sleep(ctx, 2*time.Second) // writes before the first fault
	for round := 0; round == 0 || time.Since(start) < duration; round++ {
		if err := in.cycle(ctx, round); err != nil {
			w.stop()
			t.Fatalf("fault injection, round %d: %v", round, err)
		}
	}
	beforeQuiet := w.acked.Load()
	sleep(ctx, 3*time.Second) // writes after the last fault
	w.stop()
	writePhase := time.Since(start)
	st := sumWriters(w.ws)

	// Replicas back: every replica Active, in meta and in both routers.
	activeDesc, activeErr := c.waitAllActive(ctx, lossCollection, 60*time.Second)
	if activeErr != nil {
		t.Errorf("after the faults: %v", activeErr)
	}
	digests, digestIssues, digestErr := waitDigests(ctx, c, lossCollection, lossRF, 30*time.Second)
	if digestErr != nil {
		t.Errorf("digests: %v", digestErr)
	}
	for _, p := range digestIssues {
		t.Errorf("digests: %s", p)
	}

	// Every point through both routers, every replica asked; the first
	// router's answers are checked against the ledgers.
	got0, findings := w.findings(ctx, t, c.routerURLs[0], lossCollection)
	got := []map[uint64]observed{got0}
	for i, base := range c.routerURLs[1:] {
		g, err := readAll(ctx, base, lossCollection, w.idSpace, lossDim)
		if err != nil {
			t.Fatalf("router-%d: %v", i+1, err)
		}
		got = append(got, g)
	}
	disagree := 0
	for _, id := range w.idSpace {
		a, aok := got[0][id]
		b, bok := got[1][id]
		if aok != bok || a.value != b.value {
			disagree++
			if disagree <= 10 {
				t.Errorf("point %d: router-0 read %+v (found %v), router-1 read %+v (found %v)", id, a, aok, b, bok)
			}
		}
	}
	count, countErr := countExact(ctx, c.routerURLs[0], lossCollection)
	if countErr != nil {
		t.Errorf("%v", countErr)
	} else if int(count) != len(got[0]) {
		t.Errorf("exact count %d, but %d points retrieved by id", count, len(got[0]))
	}

	kinds := map[string]int{}
	for _, f := range findings {
		kinds[f.kind]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "loss checker: %v of writes (%v injecting faults), %d writers through %d routers, collection shard_number %d replication_factor %d write_consistency_factor %d\n",
		writePhase.Round(time.Second), duration, lossWriters, len(c.routerURLs), lossShards, lossRF, wcf)
	fmt.Fprintf(&b, "  operations acknowledged: %d (%d points upserted, %d points deleted); %d attempts; %d left unacknowledged at the end; %d acknowledged after the last fault\n",
		st.ops, st.upserted, st.deleted, st.attempts, st.gaveUp, w.acked.Load()-beforeQuiet)
	fmt.Fprintf(&b, "  longest retry of one operation until acknowledged: %v\n", st.longestRetry.Round(10*time.Millisecond))
	fmt.Fprintf(&b, "  failed attempts by cause:%s\n", st.failureLines())
	fmt.Fprintf(&b, "  faults injected: %d\n", len(in.faults))
	for _, f := range in.faults {
		fmt.Fprintf(&b, "    %s\n", f)
	}
	fmt.Fprintf(&b, "  final shard map: %s\n", activeDesc)
	for _, sd := range digests {
		fmt.Fprintf(&b, "  digests shard %d: %s\n", sd.Shard, describeDigests(c, sd))
	}
	fmt.Fprintf(&b, "  points present: %d of %d ids; routers disagree on %d\n", len(got[0]), len(w.idSpace), disagree)
	fmt.Fprintf(&b, "  losses: %d (lost %d, resurrected %d, stale %d, corrupt %d, phantom %d)\n",
		len(findings), kinds["lost"], kinds["resurrected"], kinds["stale"], kinds["corrupt"], kinds["phantom"])
	t.Log("\n" + b.String())
	fmt.Println(b.String())

	for _, f := range in.faults {
		if f.err != "" {
			t.Errorf("%s %s: %s", f.kind, f.target, f.err)
		}
	}
	if st.ops == 0 || st.upserted == 0 {
		t.Errorf("no write was acknowledged: the checker checked nothing")
	}
	if w.acked.Load() == beforeQuiet {
		t.Errorf("no write was acknowledged after the last fault")
	}
}

// logEvidence returns the last warning and error lines of every process.
func logEvidence(c *procCluster, per int) string {
	var b strings.Builder
	procs := append(append([]*proc{c.meta}, c.storages...), c.routers...)
	for _, p := range procs {
		f, err := os.Open(p.log)
		if err != nil {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if strings.Contains(l, `"level":"warn"`) || strings.Contains(l, `"level":"error"`) || strings.Contains(l, "panic") || strings.HasPrefix(l, "===") {
				lines = append(lines, l)
			}
		}
		f.Close()
		if len(lines) > per {
			lines = lines[len(lines)-per:]
		}
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", p.label, filepath.Base(p.log), strings.Join(lines, "\n"))
	}
	return b.String()
}
