package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/shoaldb/shoal/services/storage/internal/hnsw"
	"github.com/shoaldb/shoal/services/storage/internal/index"
)

// Filtered runs. Every base point i carries a payload-like integer label
// pointLabel(i) in 0..99, written to labels.ibin (n×1) so that the hnswlib
// driver reads the same labels; a run at selectivity s% accepts the
// points whose label is below s. Ground truth for selectivity s is the
// exact nearest neighbours among the accepted points only, in
// gt-f<s>.ibin.
const labelsFile = "labels.ibin"

// selectivities are the filtered runs prepare writes ground truth for.
var selectivities = []int{1, 10, 50}

func filteredTruthFile(s int) string { return fmt.Sprintf("gt-f%d.ibin", s) }

// pointLabel is a fixed hash of the point's id (SplitMix64's finaliser)
// reduced to 0..99, so labels are spread evenly and independent of where
// the point lies in space.
func pointLabel(i int) uint32 {
	z := uint64(i) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return uint32(z % 100)
}

// prepareFiltered writes labels.ibin and one ground-truth file per
// selectivity into dir.
func prepareFiltered(dir string, base, queries matrix) error {
	if err := writeMatrix(filepath.Join(dir, labelsFile), base.rows, 1, func(i int) uint32 { return pointLabel(i) }); err != nil {
		return err
	}
	for _, s := range selectivities {
		var ids []int
		for i := range base.rows {
			if int(pointLabel(i)) < s {
				ids = append(ids, i)
			}
		}
		sub := matrix{rows: len(ids), cols: base.cols, data: make([]float32, len(ids)*base.cols)}
		for j, id := range ids {
			copy(sub.row(j), base.row(id))
		}
		k := min(100, sub.rows)
		truth := groundTruth(sub, queries, k)
		err := writeMatrix(filepath.Join(dir, filteredTruthFile(s)), queries.rows, k, func(i int) uint32 {
			return uint32(ids[truth[i/k][i%k]]) // back to base ids
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// bandField names the payload-like field whose value 0 selects the
// points of selectivity s: band_s(i) = label(i) / s, so "band_s = 0" and
// "label < s" accept the same points (the same ground truth). With
// -group-links each band field is linked per value (Graph.LinkField),
// as the replica links an indexed keyword or integer field, and the
// filtered runs search through the links of "band_s = 0".
func bandField(s int) string { return "band" + strconv.Itoa(s) }

// bandGroups lists the points (node ids: the bench's node i is point i)
// of every value of band field s.
func bandGroups(labels []uint32, s int) map[string][]uint32 {
	groups := map[string][]uint32{}
	for i, l := range labels {
		v := strconv.Itoa(int(l) / s)
		groups[v] = append(groups[v], uint32(i))
	}
	return groups
}

// filteredData is what a filtered run needs: the labels and, per
// selectivity, the ground truth over the accepted points.
type filteredData struct {
	labels []uint32
	truth  map[int][][]int32
}

// loadFiltered reads labels.ibin and the filtered ground truths; a
// directory prepared without them yields ok=false.
func loadFiltered(dir string) (fd filteredData, ok bool, err error) {
	if _, err := os.Stat(filepath.Join(dir, labelsFile)); os.IsNotExist(err) {
		return fd, false, nil
	}
	_, _, fd.labels, err = readMatrix(filepath.Join(dir, labelsFile))
	if err != nil {
		return fd, false, err
	}
	fd.truth = map[int][][]int32{}
	for _, s := range selectivities {
		rows, cols, words, err := readMatrix(filepath.Join(dir, filteredTruthFile(s)))
		if err != nil {
			return fd, false, err
		}
		t := make([][]int32, rows)
		for i := range rows {
			t[i] = make([]int32, cols)
			for j := range cols {
				t[i][j] = int32(words[i*cols+j])
			}
		}
		fd.truth[s] = t
	}
	return fd, true, nil
}

// filteredRun is one selectivity's sweep over the ef values.
type filteredRun struct {
	Selectivity int     `json:"selectivity"`
	Runs        []efRun `json:"runs"`
	// Planned is, when the matching points are fewer than the replica's
	// default full-scan threshold, the replica planner's other path:
	// score exactly the candidates the payload index lists (Ef 0).
	Planned *efRun `json:"planned,omitempty"`
}

// fullScanPoints is the replica's default full_scan_threshold (Qdrant's
// 10 000 KB of vectors) in points of dimension dim; see
// internal/replica/threshold.go.
func fullScanPoints(dim int) int { return 10_000 * 1024 / (4 * max(dim, 1)) }

// runFiltered searches g at every selectivity and ef. With
// opts.filterCheck "set" (the default) the filter is a hnsw.NodeSet of the
// matching points, built once per filter before the clock starts (as a
// payload index's posting list, or a cache of it per segment and filter,
// would be), and the searches are Graph.SearchSet; with "callback" it is
// an index.SearchParams.Accept callback that looks the key's label up
// (keys are the decimal point ids), the hook the replica's filtered
// graph traversal uses today. Where the replica's planner would instead
// score the candidates exactly (fewer matches than the full-scan
// threshold), that path is measured too (Planned): Graph.ScoreSet over the
// set, or Graph.ScoreKeys over the key list with the callback.
func runFiltered(g *hnsw.Graph, ds dataset, fd filteredData, opts runOptions, unfiltered []efRun) []filteredRun {
	var out []filteredRun
	hits := make([][]index.Hit, ds.queries.rows)
	useSet := opts.filterCheck != "callback"
	// The Planned run is set beside the cheapest unfiltered search that
	// reaches recall 0.95 (the largest ef swept when none does).
	baseEf := opts.efs[len(opts.efs)-1]
	for i := len(opts.efs) - 1; i >= 0; i-- {
		if i < len(unfiltered) && unfiltered[i].Recall >= 0.95 {
			baseEf = opts.efs[i]
		}
	}
	for _, s := range selectivities {
		limit := uint32(s)
		accept := func(key string) bool {
			id, err := strconv.Atoi(key)
			return err == nil && fd.labels[id] < limit
		}
		fr := filteredRun{Selectivity: s}
		var keys []string // what the payload index's plan lists
		for i, l := range fd.labels {
			if l < limit {
				keys = append(keys, strconv.Itoa(i))
			}
		}
		set := g.NodeSet(keys)
		var plan *hnsw.GroupPlan
		switch {
		case useSet && opts.groupLinks:
			plan = g.PlanGroup(set, bandField(s), "0")
		case useSet && opts.rangeLinks && set.Len() >= fullScanPoints(ds.base.cols):
			// The range's matches linked among themselves, as a segment
			// links a frequent filter's (segment/filterlinks.go).
			field := "range" + strconv.Itoa(s)
			if err := g.LinkNodes(context.Background(), field, set.IDs(), 0, opts.threads); err == nil {
				plan = g.PlanGroup(set, field, "m")
			}
		}
		search := func(q []float32, p index.SearchParams) []index.Hit {
			if plan != nil {
				return g.SearchGroup(q, opts.k, plan, p)
			}
			if useSet {
				return g.SearchSet(q, opts.k, set, p)
			}
			p.Accept = accept
			return g.Search(q, opts.k, p)
		}
		if len(keys) < fullScanPoints(ds.base.cols) {
			planned := func(q []float32) []index.Hit {
				if useSet {
					return g.ScoreSet(q, opts.k, set, index.SearchParams{})
				}
				return g.ScoreKeys(q, opts.k, keys, index.SearchParams{Accept: accept})
			}
			run := sideBySide(g, ds, hits, opts, baseEf, planned)
			run.Recall = recallOf(hits, fd.truth[s], opts.k)
			fr.Planned = &run
		}
		for _, ef := range opts.efs {
			run := sideBySide(g, ds, hits, opts, ef, func(q []float32) []index.Hit {
				return search(q, index.SearchParams{Ef: ef})
			})
			run.Ef, run.Recall = ef, recallOf(hits, fd.truth[s], opts.k)
			fr.Runs = append(fr.Runs, run)
		}
		out = append(out, fr)
	}
	return out
}

// sideBySide times search over every query and, alternating with it, the
// unfiltered search at ef, opts.repeat times each (at least twice), and
// returns the best QPS of each; hits holds search's results.
func sideBySide(g *hnsw.Graph, ds dataset, hits [][]index.Hit, opts runOptions, ef int, search func(q []float32) []index.Hit) efRun {
	best, base := time.Duration(1<<63-1), time.Duration(1<<63-1)
	for range max(2, opts.repeat) {
		base = min(base, timed(opts.cpuTime, func() {
			for i := range ds.queries.rows {
				g.Search(ds.queries.row(i), opts.k, index.SearchParams{Ef: ef})
			}
		}))
		best = min(best, timed(opts.cpuTime, func() {
			for i := range ds.queries.rows {
				hits[i] = search(ds.queries.row(i))
			}
		}))
	}
	n := float64(ds.queries.rows)
	return efRun{QPS: n / best.Seconds(), UnfilteredQPS: n / base.Seconds()}
}

// timed is how long fn took: wall-clock time, or with cpu the CPU time of
// the OS thread it ran on (fn is run on one locked thread, so time spent
// waiting for a core on a loaded machine is not counted).
func timed(cpu bool, fn func()) time.Duration {
	if cpu {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if c0, ok := threadCPU(); ok {
			fn()
			c1, _ := threadCPU()
			return c1 - c0
		}
	}
	t0 := time.Now()
	fn()
	return time.Since(t0)
}

// recallOf is the fraction of the k true neighbours of each query found
// in its hits (keys are decimal point ids).
func recallOf(hits [][]index.Hit, truth [][]int32, k int) float64 {
	var found, want int
	for i, hs := range hits {
		set := map[int32]bool{}
		for _, id := range truth[i][:min(k, len(truth[i]))] {
			set[id] = true
		}
		want += len(set)
		for _, h := range hs {
			id, _ := strconv.Atoi(h.Key)
			if set[int32(id)] {
				found++
			}
		}
	}
	if want == 0 {
		return 0
	}
	return float64(found) / float64(want)
}
