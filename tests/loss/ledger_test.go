package loss

import (
	"fmt"
	"sort"
	"strings"
)

// deleted is the value a point has after a delete.
const deleted int64 = -1

// attempt is one write of a value to a point, in the order its writer
// issued it. Each point is written by one writer only, so the order is the
// point's history.
type attempt struct {
	value int64 // version written, or deleted
	acked bool  // the router answered success
}

// ledger records, per point, every write attempt and its outcome. A writer
// owns its ledger; the check runs after every writer has stopped.
type ledger struct {
	hist map[uint64][]attempt
}

func newLedger() *ledger { return &ledger{hist: map[uint64][]attempt{}} }

func (l *ledger) record(id uint64, value int64, acked bool) {
	l.hist[id] = append(l.hist[id], attempt{value: value, acked: acked})
}

// acceptable returns the values a point may hold after the run: the last
// acknowledged value, and any value written after it without an answer
// (such a write may or may not have been applied). Before any
// acknowledged write the point may also be absent. A write issued before
// the last acknowledged one must not show: writes of one point go through
// one primary in order, so it would have overwritten an acknowledged write.
func acceptable(h []attempt) (vals map[int64]bool, lastAcked int64, hasAcked bool) {
	vals = map[int64]bool{}
	start := 0
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].acked {
			start, lastAcked, hasAcked = i, h[i].value, true
			break
		}
	}
	if !hasAcked {
		vals[deleted] = true
	}
	for _, a := range h[start:] {
		vals[a.value] = true
	}
	return vals, lastAcked, hasAcked
}

// observed is what the cluster returned for one point.
type observed struct {
	value int64 // version from the payload, or deleted when absent
	bad   string
}

// finding is one point whose final state breaks the rules.
type finding struct {
	id   uint64
	kind string // lost, resurrected, stale, corrupt, phantom
	msg  string
}

// check compares the cluster's points with the ledgers. It returns every
// finding, sorted by point id.
func check(ledgers []*ledger, got map[uint64]observed, idSpace []uint64) []finding {
	var out []finding
	owned := map[uint64]bool{}
	for _, l := range ledgers {
		for id, h := range l.hist {
			owned[id] = true
			obs, ok := got[id]
			if !ok {
				obs = observed{value: deleted}
			}
			if obs.bad != "" {
				out = append(out, finding{id, "corrupt", obs.bad})
				continue
			}
			vals, last, hasAcked := acceptable(h)
			if vals[obs.value] {
				continue
			}
			kind := "stale"
			switch {
			case hasAcked && last != deleted && obs.value == deleted:
				kind = "lost"
			case hasAcked && last == deleted:
				kind = "resurrected"
			}
			out = append(out, finding{id, kind, fmt.Sprintf("holds %s; history %s", valueName(obs.value), historyString(h))})
		}
	}
	for _, id := range idSpace {
		if obs, ok := got[id]; ok && !owned[id] && obs.value != deleted {
			out = append(out, finding{id, "phantom", fmt.Sprintf("holds %s but was never written", valueName(obs.value))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func valueName(v int64) string {
	if v == deleted {
		return "nothing (absent)"
	}
	return fmt.Sprintf("version %d", v)
}

func historyString(h []attempt) string {
	var b strings.Builder
	for i, a := range h {
		if i > 0 {
			b.WriteString(" ")
		}
		if a.value == deleted {
			b.WriteString("del")
		} else {
			fmt.Fprintf(&b, "v%d", a.value)
		}
		if a.acked {
			b.WriteString("(ack)")
		} else {
			b.WriteString("(?)")
		}
	}
	return b.String()
}
