package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// reportCmd prints Shoal's and hnswlib's results as markdown tables: per
// ef the recall@k and QPS of each and the QPS ratio, then build time and
// memory with their ratios, then the QPS each reaches at recall targets.
// Each argument is a comma-separated list of result files of one engine
// (one per round of scripts/bench/run); rounds are merged by merge.
func reportCmd(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("report: want SHOAL.json[,SHOAL2.json...] HNSWLIB.json[,...]")
	}
	var rs [2]result
	for i, list := range args {
		var rounds []result
		for _, p := range strings.Split(list, ",") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var r result
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			rounds = append(rounds, r)
		}
		rs[i] = merge(rounds)
	}
	fmt.Print(formatReport(rs[0], rs[1]))
	return nil
}

// merge combines rounds of one engine on the same data: the fastest build,
// the smallest memory growth, and per ef the mean recall (each round built
// its own graph) and the best QPS (the machine's noise only slows runs
// down). One round is returned as it is.
func merge(rounds []result) result {
	out := rounds[0]
	out.Runs = append([]efRun(nil), out.Runs...)
	for _, r := range rounds[1:] {
		out.BuildSeconds = min(out.BuildSeconds, r.BuildSeconds)
		out.IndexMB = min(out.IndexMB, r.IndexMB)
		out.HeapMB = min(out.HeapMB, r.HeapMB)
		for i := range out.Runs {
			for _, x := range r.Runs {
				if x.Ef == out.Runs[i].Ef {
					out.Runs[i].Recall += x.Recall
					out.Runs[i].QPS = max(out.Runs[i].QPS, x.QPS)
				}
			}
		}
	}
	for i := range out.Runs {
		out.Runs[i].Recall /= float64(len(rounds))
	}
	out.Filtered = mergeFiltered(rounds)
	return out
}

// mergeFiltered merges the filtered runs of rounds per selectivity the way
// merge does the unfiltered ones.
func mergeFiltered(rounds []result) []filteredRun {
	var out []filteredRun
	for _, f := range rounds[0].Filtered {
		per := make([]result, 0, len(rounds))
		for _, r := range rounds {
			for _, g := range r.Filtered {
				if g.Selectivity == f.Selectivity {
					per = append(per, result{Runs: g.Runs})
				}
			}
		}
		per[0].Filtered = nil
		m := per[0]
		m.Runs = append([]efRun(nil), m.Runs...)
		for _, r := range per[1:] {
			for i := range m.Runs {
				for _, x := range r.Runs {
					if x.Ef == m.Runs[i].Ef {
						m.Runs[i].Recall += x.Recall
						m.Runs[i].QPS = max(m.Runs[i].QPS, x.QPS)
						m.Runs[i].UnfilteredQPS = max(m.Runs[i].UnfilteredQPS, x.UnfilteredQPS)
					}
				}
			}
		}
		for i := range m.Runs {
			m.Runs[i].Recall /= float64(len(per))
		}
		fr := filteredRun{Selectivity: f.Selectivity, Runs: m.Runs}
		for _, r := range rounds {
			for _, g := range r.Filtered {
				if g.Selectivity == f.Selectivity && g.Planned != nil && (fr.Planned == nil || g.Planned.QPS > fr.Planned.QPS) {
					fr.Planned = g.Planned
				}
			}
		}
		out = append(out, fr)
	}
	return out
}

func formatReport(s, h result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d dim=%d queries=%d k=%d m=%d ef_construct=%d build threads=%d/%d, queries on one thread; Shoal kernel %s, neighbour heuristic %s, huge pages for vectors %s\n\n",
		s.N, s.Dim, s.Queries, s.K, s.M, s.EfConstruct, s.Threads, h.Threads, s.Kernel, s.Heuristic, s.HugePages)
	fmt.Fprintf(&b, "| ef | Shoal recall@%d | hnswlib recall@%d | Shoal QPS | hnswlib QPS | QPS Shoal/hnswlib |\n", s.K, h.K)
	b.WriteString("|---:|---:|---:|---:|---:|---:|\n")
	byEf := map[int]efRun{}
	for _, r := range h.Runs {
		byEf[r.Ef] = r
	}
	for _, r := range s.Runs {
		o, ok := byEf[r.Ef]
		if !ok {
			fmt.Fprintf(&b, "| %d | %.4f | – | %.0f | – | – |\n", r.Ef, r.Recall, r.QPS)
			continue
		}
		fmt.Fprintf(&b, "| %d | %.4f | %.4f | %.0f | %.0f | %.2f |\n", r.Ef, r.Recall, o.Recall, r.QPS, o.QPS, r.QPS/o.QPS)
	}
	b.WriteString("\n| | Shoal | hnswlib | Shoal/hnswlib |\n|---|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| build time (s) | %.2f | %.2f | %.2f |\n", s.BuildSeconds, h.BuildSeconds, s.BuildSeconds/h.BuildSeconds)
	fmt.Fprintf(&b, "| index memory (MiB RSS growth) | %.1f | %.1f | %.2f |\n", s.IndexMB, h.IndexMB, s.IndexMB/h.IndexMB)
	if s.HeapMB > 0 {
		fmt.Fprintf(&b, "| Go heap growth (MiB) | %.1f | | |\n", s.HeapMB)
	}
	for _, line := range qpsAtRecall(s, h) {
		b.WriteString(line)
	}
	b.WriteString(formatFiltered(s, h))
	return b.String()
}

// formatFiltered prints, per selectivity and ef, both engines' filtered
// recall and QPS, the QPS ratio, and each engine's filtered QPS over its
// own unfiltered QPS at the same ef (Shoal's measured interleaved with
// the filtered run when the JSON has it); then the QPS at recall 0.95.
func formatFiltered(s, h result) string {
	if len(s.Filtered) == 0 {
		return ""
	}
	var b strings.Builder
	find := func(runs []efRun, ef int) (efRun, bool) {
		for _, r := range runs {
			if r.Ef == ef {
				return r, true
			}
		}
		return efRun{}, false
	}
	hf := map[int][]efRun{}
	for _, f := range h.Filtered {
		hf[f.Selectivity] = f.Runs
	}
	b.WriteString("\nFiltered (the points whose label is below s %, i.e. band_s = 0; recall against the exact neighbours among the matching points):\n\n")
	b.WriteString("| selectivity | ef | Shoal recall | hnswlib recall | Shoal QPS | hnswlib QPS | Shoal/hnswlib | Shoal filtered/unfiltered | hnswlib filtered/unfiltered |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	ratio := func(a, c float64) string {
		if a == 0 || c == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", a/c)
	}
	for _, f := range s.Filtered {
		for _, r := range f.Runs {
			o, _ := find(hf[f.Selectivity], r.Ef)
			su, _ := find(s.Runs, r.Ef)
			if r.UnfilteredQPS > 0 {
				su.QPS = r.UnfilteredQPS
			}
			hu, _ := find(h.Runs, r.Ef)
			fmt.Fprintf(&b, "| %d %% | %d | %.4f | %.4f | %.0f | %.0f | %s | %s | %s |\n", f.Selectivity, r.Ef, r.Recall, o.Recall,
				r.QPS, o.QPS, ratio(r.QPS, o.QPS), ratio(r.QPS, su.QPS), ratio(o.QPS, hu.QPS))
		}
	}
	b.WriteString("\n| at recall ≥ 0.95 | Shoal QPS (filtered traversal) | hnswlib QPS | Shoal/hnswlib | Shoal vs its unfiltered | hnswlib vs its unfiltered | Shoal planner: exact over candidates (recall, QPS, vs unfiltered) |\n|---|---:|---:|---:|---:|---:|---|\n")
	su, hu := bestAt(s.Runs, 0.95), bestAt(h.Runs, 0.95)
	fmt.Fprintf(&b, "| unfiltered | %s | %s | %s | | | |\n", orDash(su), orDash(hu), ratio(su, hu))
	for _, f := range s.Filtered {
		a, c := bestAt(f.Runs, 0.95), bestAt(hf[f.Selectivity], 0.95)
		planned := "not taken (matches ≥ full-scan threshold)"
		if p := f.Planned; p != nil {
			base := su
			if p.UnfilteredQPS > 0 {
				base = p.UnfilteredQPS // interleaved with it
			}
			planned = fmt.Sprintf("%.4f, %.0f, %s", p.Recall, p.QPS, ratio(p.QPS, base))
		}
		fmt.Fprintf(&b, "| %d %% | %s | %s | %s | %s | %s | %s |\n", f.Selectivity, orDash(a), orDash(c), ratio(a, c), ratio(a, su), ratio(c, hu), planned)
	}
	return b.String()
}

// bestAt is the QPS of the fastest run reaching recall target (0: none).
func bestAt(runs []efRun, target float64) float64 {
	q := 0.0
	for _, x := range runs {
		if x.Recall >= target && x.QPS > q {
			q = x.QPS
		}
	}
	return q
}

// qpsAtRecall compares the engines at equal recall targets: for each
// target the QPS of the fastest ef that reaches it.
func qpsAtRecall(s, h result) []string {
	best := func(r result, target float64) float64 {
		q := 0.0
		for _, x := range r.Runs {
			if x.Recall >= target && x.QPS > q {
				q = x.QPS
			}
		}
		return q
	}
	out := []string{"\n| recall@k target | Shoal QPS | hnswlib QPS | Shoal/hnswlib |\n|---:|---:|---:|---:|\n"}
	for _, t := range []float64{0.9, 0.95, 0.99} {
		a, c := best(s, t), best(h, t)
		if a == 0 || c == 0 {
			out = append(out, fmt.Sprintf("| %.2f | %s | %s | – |\n", t, orDash(a), orDash(c)))
			continue
		}
		out = append(out, fmt.Sprintf("| %.2f | %.0f | %.0f | %.2f |\n", t, a, c, a/c))
	}
	return out
}

func orDash(q float64) string {
	if q == 0 {
		return "not reached"
	}
	return fmt.Sprintf("%.0f", q)
}
