package loss

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// writer upserts and deletes its own points through the routers and
// records every attempt. A failed write is retried with the same values
// until it is acknowledged or the run ends.
type writer struct {
	id         int
	collection string
	dim        int
	routers    []string
	ids        []uint64 // the points this writer owns
	rng        *rand.Rand
	led        *ledger
	version    int64

	ackedOps     *atomic.Int64 // shared: acknowledged operations of every writer
	upserted     int           // acknowledged upserted points
	deletedPts   int           // acknowledged deleted points
	attempts     int
	failures     map[string]int // failure class -> count
	gaveUp       int            // operations left unacknowledged at the end
	longestRetry time.Duration  // longest time from first failure to acknowledgement
}

func newWriter(id, writers, perWriter int, collection string, dim int, routers []string, acked *atomic.Int64) *writer {
	w := &writer{id: id, collection: collection, dim: dim, routers: routers, rng: rand.New(rand.NewSource(int64(id) + 1)),
		led: newLedger(), ackedOps: acked, failures: map[string]int{}}
	for k := 0; k < perWriter; k++ {
		w.ids = append(w.ids, uint64(id+writers*k))
	}
	return w
}

// run writes until stop is closed. ctx only bounds the requests; stop ends
// the loop between (or during the retries of) operations.
func (w *writer) run(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		n := 1 + w.rng.Intn(8)
		pick := map[uint64]bool{}
		for len(pick) < n {
			pick[w.ids[w.rng.Intn(len(w.ids))]] = true
		}
		ids := make([]uint64, 0, n)
		for id := range pick {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		if w.rng.Intn(100) < 15 {
			w.write(ctx, stop, ids, deleted)
		} else {
			w.version++
			w.write(ctx, stop, ids, w.version)
		}
	}
}

// write performs one operation until acknowledged or stopped.
func (w *writer) write(ctx context.Context, stop <-chan struct{}, ids []uint64, value int64) {
	method, path := http.MethodPut, "/collections/"+w.collection+"/points?wait=true"
	var body map[string]any
	if value == deleted {
		method, path = http.MethodPost, "/collections/"+w.collection+"/points/delete?wait=true"
		body = map[string]any{"points": ids}
	} else {
		pts := make([]map[string]any, len(ids))
		for i, id := range ids {
			pts[i] = map[string]any{"id": id, "vector": vectorFor(id, value, w.dim), "payload": map[string]any{"w": w.id, "v": value}}
		}
		body = map[string]any{"points": pts}
	}
	var firstFail time.Time
	for try := 0; ; try++ {
		w.attempts++
		base := w.routers[(w.id+try)%len(w.routers)]
		r, err := call(ctx, method, base+path, body)
		ok := err == nil && completed(r)
		for _, id := range ids {
			w.led.record(id, value, ok)
		}
		if ok {
			w.ackedOps.Add(1)
			if value == deleted {
				w.deletedPts += len(ids)
			} else {
				w.upserted += len(ids)
			}
			if !firstFail.IsZero() {
				if d := time.Since(firstFail); d > w.longestRetry {
					w.longestRetry = d
				}
			}
			return
		}
		if firstFail.IsZero() {
			firstFail = time.Now()
		}
		w.failures[failureClass(r, err)]++
		wait := time.Duration(100*(try+1)) * time.Millisecond
		if wait > time.Second {
			wait = time.Second
		}
		if err == nil && r.Status == http.StatusTooManyRequests {
			wait = time.Second
		}
		select {
		case <-stop:
			w.gaveUp++
			return
		case <-time.After(wait):
		}
	}
}

// failureClass names a failed attempt for the summary.
func failureClass(r response, err error) string {
	if err != nil {
		s := err.Error()
		switch {
		case strings.Contains(s, "connection refused"):
			return "connection refused"
		case strings.Contains(s, "EOF"), strings.Contains(s, "connection reset"):
			return "connection closed"
		case strings.Contains(s, "Timeout"), strings.Contains(s, "deadline"):
			return "client timeout"
		}
		return "transport error"
	}
	msg := r.errorText()
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return fmt.Sprintf("%d %s", r.Status, msg)
}

// writerStats sums the writers' counters.
type writerStats struct {
	ops, upserted, deleted, attempts, gaveUp int
	failures                                 map[string]int
	longestRetry                             time.Duration
}

func sumWriters(ws []*writer) writerStats {
	s := writerStats{failures: map[string]int{}}
	for _, w := range ws {
		s.upserted += w.upserted
		s.deleted += w.deletedPts
		s.attempts += w.attempts
		s.gaveUp += w.gaveUp
		for k, v := range w.failures {
			s.failures[k] += v
		}
		if w.longestRetry > s.longestRetry {
			s.longestRetry = w.longestRetry
		}
	}
	if len(ws) > 0 {
		s.ops = int(ws[0].ackedOps.Load()) // shared by every writer
	}
	return s
}

func (s writerStats) failureLines() string {
	keys := make([]string, 0, len(s.failures))
	for k := range s.failures {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return s.failures[keys[i]] > s.failures[keys[j]] })
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n    %6d  %s", s.failures[k], k)
	}
	return b.String()
}

// runWriters starts the writers and returns a function that stops them
// and waits for them to end.
func runWriters(ctx context.Context, ws []*writer) (stop func()) {
	stopCh := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, stopCh)
		}()
	}
	var once sync.Once
	return func() {
		once.Do(func() { close(stopCh) })
		wg.Wait()
	}
}
