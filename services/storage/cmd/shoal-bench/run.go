package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
	"github.com/shoaldb/shoal/services/storage/internal/hnsw"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// result is what one engine measured; the C++ hnswlib driver writes the
// same JSON.
type result struct {
	Engine    string `json:"engine"`
	Kernel    string `json:"kernel,omitempty"`
	Heuristic string `json:"heuristic,omitempty"`
	// HugePages says whether Shoal advised transparent huge pages for
	// its vector slab ("on"/"off"; see hnsw.UseHugePages).
	HugePages    string  `json:"huge_pages,omitempty"`
	N            int     `json:"n"`
	Dim          int     `json:"dim"`
	Queries      int     `json:"queries"`
	K            int     `json:"k"`
	M            int     `json:"m"`
	EfConstruct  int     `json:"ef_construct"`
	Threads      int     `json:"threads"`
	BuildSeconds float64 `json:"build_seconds"`
	// IndexMB is the growth of the process's resident memory from just
	// before the build (data loaded) to just after it.
	IndexMB float64 `json:"index_mb"`
	// HeapMB is the growth of the Go heap in use over the same span.
	HeapMB float64 `json:"heap_mb,omitempty"`
	Runs   []efRun `json:"runs"`
	// GroupLinksSeconds is the time LinkField took for every band field (-group-links).
	GroupLinksSeconds float64 `json:"group_links_seconds,omitempty"`
	// Filtered holds the runs with a label filter, when the data set was
	// prepared with labels.
	Filtered []filteredRun `json:"filtered,omitempty"`
}

type efRun struct {
	Ef     int     `json:"ef"`
	Recall float64 `json:"recall"`
	QPS    float64 `json:"qps"`
	// UnfilteredQPS is, on a filtered run, the unfiltered QPS measured
	// interleaved with it (same ef; for a Planned run the lowest ef whose
	// unfiltered recall reaches 0.95), so their ratio is side by side even
	// on a loaded machine.
	UnfilteredQPS float64 `json:"unfiltered_qps,omitempty"`
}

type runOptions struct {
	m, efConstruct, k, threads, repeat int
	efs                                []int
	keepPruned                         bool
	hugePages                          bool
	cpuProfile                         string
	// filtered, when set, adds the filtered runs (see runFiltered).
	filtered *filteredData
	// filterCheck is "set" (hnsw.NodeSet) or "callback" (Accept per key).
	filterCheck string
	// graphFile, when set, caches the built graph (see buildOrLoad).
	graphFile string
	// groupLinks links every band field per value before the filtered
	// runs (Graph.LinkField; filtered runs with the "set" check search
	// through them, see bandField).
	groupLinks bool
	// rangeLinks keeps the range filter "label < s" and links its
	// matches among themselves before the runs (Graph.LinkNodes, what a
	// segment does for a frequent filter).
	rangeLinks bool
	// cpuTime times queries by the CPU time of their thread (see timed).
	cpuTime bool
}

// runShoal builds Shoal's HNSW over ds and measures it like the hnswlib
// driver: build time on opts.threads goroutines, resident memory growth,
// then per ef the recall@k and the single-threaded QPS over every query
// (best of opts.repeat passes).
func runShoal(ds dataset, opts runOptions) (result, error) {
	metric, err := distance.For(shoalv1.Distance_DISTANCE_EUCLID)
	if err != nil {
		return result{}, err
	}
	keys := make([]string, ds.base.rows)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	res := result{
		Engine: "shoal", Kernel: distance.Kernel(), N: ds.base.rows, Dim: ds.base.cols,
		Queries: ds.queries.rows, K: opts.k, M: opts.m, EfConstruct: opts.efConstruct, Threads: opts.threads,
		Heuristic: "plain",
	}
	if opts.keepPruned {
		res.Heuristic = "keep-pruned"
	}
	hnsw.UseHugePages(opts.hugePages)
	res.HugePages = "off"
	if opts.hugePages {
		res.HugePages = "on"
	}
	rss0, heap0 := memNow()
	start := time.Now()
	cfg := hnsw.Config{M: opts.m, EfConstruct: opts.efConstruct, KeepPruned: opts.keepPruned}
	g, built, err := buildOrLoad(opts.graphFile, func() (*hnsw.Graph, error) {
		return hnsw.Build(context.Background(), cfg, metric, ds.base.cols, keys, hnsw.Slab(ds.base.data, ds.base.cols), opts.threads)
	})
	if err != nil {
		return result{}, err
	}
	if built {
		res.BuildSeconds = time.Since(start).Seconds()
		rss1, heap1 := memNow()
		res.IndexMB, res.HeapMB = float64(rss1-rss0)/(1<<20), float64(heap1-heap0)/(1<<20)
	}

	if opts.filtered != nil && opts.groupLinks {
		// Unfiltered searches never use these links.
		t0 := time.Now()
		for _, s := range selectivities {
			err := g.LinkField(context.Background(), bandField(s), bandGroups(opts.filtered.labels, s), 0, fullScanPoints(ds.base.cols), opts.threads)
			if err != nil {
				return result{}, err
			}
		}
		res.GroupLinksSeconds = time.Since(t0).Seconds()
	}
	stop, err := startCPUProfile(opts.cpuProfile)
	if err != nil {
		return result{}, err
	}
	defer stop()
	hits := make([][]index.Hit, ds.queries.rows)
	for _, ef := range opts.efs {
		best := time.Duration(1<<63 - 1)
		for range max(1, opts.repeat) {
			best = min(best, timed(opts.cpuTime, func() {
				for i := range ds.queries.rows {
					hits[i] = g.Search(ds.queries.row(i), opts.k, index.SearchParams{Ef: ef})
				}
			}))
		}
		res.Runs = append(res.Runs, efRun{
			Ef:     ef,
			Recall: recallOf(hits, ds.truth, opts.k),
			QPS:    float64(ds.queries.rows) / best.Seconds(),
		})
	}
	if opts.filtered != nil {
		res.Filtered = runFiltered(g, ds, *opts.filtered, opts, res.Runs)
	}
	runtime.KeepAlive(g)
	return res, nil
}

// buildOrLoad returns the graph in path when path is set and exists
// (built false), else the graph build makes, written to path when set.
// The file is Graph.Marshal's encoding; it is only valid for the data and
// parameters it was built with, which the caller keeps in its name.
func buildOrLoad(path string, build func() (*hnsw.Graph, error)) (g *hnsw.Graph, built bool, err error) {
	if path != "" {
		blob, err := os.ReadFile(path)
		if err == nil {
			g, err := hnsw.Unmarshal(blob)
			if err != nil {
				return nil, false, fmt.Errorf("load graph %s: %w", path, err)
			}
			return g, false, nil
		}
		if !os.IsNotExist(err) {
			return nil, false, fmt.Errorf("load graph %s: %w", path, err)
		}
	}
	g, err = build()
	if err != nil {
		return nil, false, err
	}
	if path != "" {
		if err := os.WriteFile(path, g.Marshal(), 0o644); err != nil {
			return nil, false, fmt.Errorf("save graph %s: %w", path, err)
		}
	}
	return g, true, nil
}

// memNow returns resident memory (VmRSS) and Go heap in use after a full
// collection that returns freed memory to the OS.
func memNow() (rss, heap uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return vmRSS(), ms.HeapInuse
}

// vmRSS reads the resident set size from /proc/self/status (0 if absent).
func vmRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			var kb uint64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}
