package grpcapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestWorkersServeAndReuse(t *testing.T) {
	p := newWorkers()
	defer p.stop()
	calls := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusTeapot)
	})
	for i := 0; i < 3; i++ {
		rec := httptest.NewRecorder()
		p.serve(h, rec, httptest.NewRequest("POST", "/qdrant.Points/Query", nil))
		if rec.Code != http.StatusTeapot {
			t.Fatalf("call %d: status %d, want the handler's %d", i, rec.Code, http.StatusTeapot)
		}
	}
	if calls != 3 {
		t.Fatalf("handler ran %d times, want 3", calls)
	}
	if n := p.running.Load(); n < 1 || n > 3 {
		t.Fatalf("%d workers running after 3 sequential calls, want 1 to 3", n)
	}
}

func TestWorkersPanicReachesCaller(t *testing.T) {
	p := newWorkers()
	defer p.stop()
	recovered := func(v any) (got any) {
		defer func() { got = recover() }()
		p.serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(v) }), httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
		return nil
	}
	if got := recovered(http.ErrAbortHandler); got != http.ErrAbortHandler { //nolint:errorlint // the value itself must arrive
		t.Fatalf("abort panic arrived as %v, want http.ErrAbortHandler itself", got)
	}
	got, ok := recovered(errors.New("boom")).(string)
	if !ok || !strings.Contains(got, "boom") || !strings.Contains(got, "runJob") {
		t.Fatalf("panic arrived as %q, want the value and the worker's stack", got)
	}
	// The worker that panicked is still usable.
	rec := httptest.NewRecorder()
	p.serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }), rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d after a panic, want %d", rec.Code, http.StatusAccepted)
	}
}

// More concurrent requests than maxWorkers all run at once: those beyond
// the bound run on their own goroutines instead of waiting for a worker.
func TestWorkersBeyondBound(t *testing.T) {
	p := newWorkers()
	defer p.stop()
	const n = maxWorkers + 8
	var started, done sync.WaitGroup
	started.Add(n)
	release := make(chan struct{})
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		started.Done()
		<-release
	})
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer done.Done()
			p.serve(h, httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
		}()
	}
	started.Wait() // would block for ever if a request waited for a busy worker
	if r := p.running.Load(); r > maxWorkers {
		t.Fatalf("%d workers running, bound is %d", r, maxWorkers)
	}
	close(release)
	done.Wait()
}

func TestWorkersServeAfterStop(t *testing.T) {
	p := newWorkers()
	p.stop()
	p.stop() // idempotent
	rec := httptest.NewRecorder()
	p.serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }), rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d after stop, want %d", rec.Code, http.StatusAccepted)
	}
}
