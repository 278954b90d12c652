package grpcapi

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Why workers: Go's HTTP/2 server runs every request (stream) on a new
// goroutine, which starts with a small stack. A Qdrant call through the
// router is deep (Connect handler, protobuf, the service, the Connect
// client to the storage node, net/http's client), so every such goroutine
// grows its stack several times, and each growth copies the stack: in
// BenchmarkSearchPath's profile about a fifth of the router's gRPC handler
// CPU was stack copying. HTTP/1.1 does not have this cost, since its
// server serves a connection's requests on one goroutine. The workers are
// long-lived goroutines whose stacks stay grown; an HTTP/2 request is
// handed to an idle worker and its own goroutine waits for it.

// maxWorkers bounds the workers. A request that finds every worker busy
// and the bound reached runs on its own goroutine, as without workers.
const maxWorkers = 256

// workerRequests is how many requests a worker serves before it exits (a
// new one is started on demand), so that a stack grown by one unusual
// request is not kept for ever.
const workerRequests = 1 << 16

// workers runs requests on long-lived goroutines. The zero value is not
// usable; see newWorkers.
type workers struct {
	jobs    chan *job
	quit    chan struct{}
	running atomic.Int32
	close   sync.Once
}

// job is one request handed to a worker. done receives nil when the
// handler returned, or the value it panicked with.
type job struct {
	h    http.Handler
	w    http.ResponseWriter
	r    *http.Request
	done chan any
}

var jobs = sync.Pool{New: func() any { return &job{done: make(chan any, 1)} }}

func newWorkers() *workers {
	return &workers{jobs: make(chan *job), quit: make(chan struct{})}
}

// serve runs h.ServeHTTP(w, r) on a worker and returns when it has
// returned. A panic in the handler is raised again on the caller's
// goroutine (so net/http treats it as usual, http.ErrAbortHandler
// included); any other panic value carries the worker's stack trace.
func (p *workers) serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	j := jobs.Get().(*job)
	j.h, j.w, j.r = h, w, r
	select {
	case p.jobs <- j:
	default:
		if p.running.Add(1) > maxWorkers {
			p.running.Add(-1)
			*j = job{done: j.done}
			jobs.Put(j)
			h.ServeHTTP(w, r)
			return
		}
		go p.run(j)
	}
	v := <-j.done
	*j = job{done: j.done}
	jobs.Put(j)
	if v != nil {
		panic(v)
	}
}

// run serves j, then further jobs until it has served workerRequests or
// the workers are closed.
func (p *workers) run(j *job) {
	defer p.running.Add(-1)
	for n := 1; ; n++ {
		j.done <- runJob(j)
		if n >= workerRequests {
			return
		}
		select {
		case j = <-p.jobs:
		case <-p.quit:
			return
		}
	}
}

// runJob calls the job's handler and returns the value it panicked with,
// or nil.
func runJob(j *job) (panicked any) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // net/http compares the value itself
				panicked = v
				return
			}
			panicked = fmt.Sprintf("%v\n[handler goroutine]\n%s", v, debug.Stack())
		}
	}()
	j.h.ServeHTTP(j.w, j.r)
	return nil
}

// stop lets idle workers exit; busy ones exit after their request. Later
// requests still get served (each by a worker that exits after it).
func (p *workers) stop() { p.close.Do(func() { close(p.quit) }) }
