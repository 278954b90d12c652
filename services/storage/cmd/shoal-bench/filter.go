package main

import (
	"fmt"
	"os"
	"path/filepath"
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

// runFiltered searches g at every selectivity and ef with an
// index.SearchParams.Accept callback, the hook the replica's filtered
// graph traversal uses (the walk Graph.Search picks for the filter: two
// hops over rejected nodes where matches are sparse, the plain walk
// otherwise; only accepted nodes enter the results). The callback looks
// the key's label up (keys are the decimal point ids). Where the
// replica's planner would instead score the candidates exactly (fewer
// matches than the full-scan threshold), that path is measured too
// (Planned) through Graph.ScoreKeys, which the replica's scoreCandidates
// calls, with the same callback as the filter check; its candidate list
// is built before the clock starts, like the payload index's posting
// list.
func runFiltered(g *hnsw.Graph, ds dataset, fd filteredData, opts runOptions) []filteredRun {
	var out []filteredRun
	hits := make([][]index.Hit, ds.queries.rows)
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
		if len(keys) < fullScanPoints(ds.base.cols) {
			best := time.Duration(1<<63 - 1)
			for range max(1, opts.repeat) {
				t0 := time.Now()
				for i := range ds.queries.rows {
					hits[i] = g.ScoreKeys(ds.queries.row(i), opts.k, keys, index.SearchParams{Accept: accept})
				}
				best = min(best, time.Since(t0))
			}
			fr.Planned = &efRun{Recall: recallOf(hits, fd.truth[s], opts.k), QPS: float64(ds.queries.rows) / best.Seconds()}
		}
		for _, ef := range opts.efs {
			best := time.Duration(1<<63 - 1)
			for range max(1, opts.repeat) {
				t0 := time.Now()
				for i := range ds.queries.rows {
					hits[i] = g.Search(ds.queries.row(i), opts.k, index.SearchParams{Ef: ef, Accept: accept})
				}
				best = min(best, time.Since(t0))
			}
			fr.Runs = append(fr.Runs, efRun{
				Ef:     ef,
				Recall: recallOf(hits, fd.truth[s], opts.k),
				QPS:    float64(ds.queries.rows) / best.Seconds(),
			})
		}
		out = append(out, fr)
	}
	return out
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
