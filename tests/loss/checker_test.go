package loss

import (
	"context"
	"sort"
	"sync/atomic"
	"testing"
)

// writers is the loss checker's writers on one collection.
type writers struct {
	ws      []*writer
	idSpace []uint64 // every id a writer owns, ascending
	acked   atomic.Int64
	stop    func() // stops them; idempotent
}

// startWriters starts lossWriters writers on collection through every
// router of c.
func startWriters(ctx context.Context, c *procCluster, collection string) *writers {
	w := &writers{}
	for i := 0; i < lossWriters; i++ {
		wr := newWriter(i, lossWriters, lossPerWriter, collection, lossDim, c.routerURLs, &w.acked)
		w.ws = append(w.ws, wr)
		w.idSpace = append(w.idSpace, wr.ids...)
	}
	sort.Slice(w.idSpace, func(i, j int) bool { return w.idSpace[i] < w.idSpace[j] })
	w.stop = runWriters(ctx, w.ws)
	return w
}

// findings reads every id the writers own through the router at base and
// checks it against their ledgers; it reports the first 30 findings as
// test errors and returns the points read and all findings.
func (w *writers) findings(ctx context.Context, t *testing.T, base, collection string) (map[uint64]observed, []finding) {
	t.Helper()
	got, err := readAll(ctx, base, collection, w.idSpace, lossDim)
	if err != nil {
		t.Fatal(err)
	}
	ledgers := make([]*ledger, len(w.ws))
	for i, wr := range w.ws {
		ledgers[i] = wr.led
	}
	found := check(ledgers, got, w.idSpace)
	for i, f := range found {
		if i < 30 {
			t.Errorf("point %d %s: %s", f.id, f.kind, f.msg)
		}
	}
	return got, found
}
