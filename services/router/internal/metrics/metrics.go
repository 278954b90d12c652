// Package metrics keeps the router's request statistics, per API (REST,
// gRPC), endpoint and status, and renders them for GET /metrics
// (Prometheus text format, with Qdrant's metric names) and GET /telemetry
// (Qdrant's OperationDurationStatistics).
package metrics

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// API names an API whose requests are counted.
type API string

// The counted APIs; they prefix the metric names as in Qdrant.
const (
	REST API = "rest"
	GRPC API = "grpc"
)

// Buckets are the upper bounds (seconds) of the duration histograms.
var Buckets = []float64{0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5, 10}

// recent is how many of the latest durations the average covers, as in
// Qdrant's telemetry.
const recent = 128

// Key identifies one series: an endpoint of an API answered with a status.
// Method is empty for gRPC (the procedure names the call).
type Key struct {
	API      API
	Method   string
	Endpoint string
	Status   string
}

type stats struct {
	count, fails uint64
	sum          time.Duration
	min, max     time.Duration
	buckets      []uint64 // cumulative at render time; per bucket here
	last         [recent]time.Duration
	next         int
	lastAt       time.Time
}

// Registry is safe for concurrent use.
type Registry struct {
	mu  sync.Mutex
	ops map[Key]*stats
}

// New returns an empty registry.
func New() *Registry { return &Registry{ops: map[Key]*stats{}} }

// Observe records one answered request.
func (r *Registry) Observe(k Key, failed bool, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.ops[k]
	if !ok {
		s = &stats{min: d, buckets: make([]uint64, len(Buckets))}
		r.ops[k] = s
	}
	s.count++
	if failed {
		s.fails++
	}
	s.sum += d
	s.min, s.max = min(s.min, d), max(s.max, d)
	for i, b := range Buckets {
		if d.Seconds() <= b {
			s.buckets[i]++
			break
		}
	}
	s.last[s.next%recent] = d
	s.next++
	s.lastAt = time.Now()
}

// OperationStats is Qdrant's OperationDurationStatistics.
type OperationStats struct {
	Count               uint64    `json:"count"`
	FailCount           uint64    `json:"fail_count"`
	AvgDurationMicros   float64   `json:"avg_duration_micros"`
	MinDurationMicros   float64   `json:"min_duration_micros"`
	MaxDurationMicros   float64   `json:"max_duration_micros"`
	TotalDurationMicros uint64    `json:"total_duration_micros"`
	LastResponded       time.Time `json:"last_responded"`
}

func (s *stats) avg() time.Duration {
	n := min(s.next, recent)
	if n == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range s.last[:n] {
		sum += d
	}
	return sum / time.Duration(n)
}

// Telemetry returns one API's statistics: "<METHOD> <endpoint>" (or the
// gRPC procedure) → status → statistics.
func (r *Registry) Telemetry(api API) map[string]map[string]OperationStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]map[string]OperationStats{}
	for k, s := range r.ops {
		if k.API != api {
			continue
		}
		name := k.Endpoint
		if k.Method != "" {
			name = k.Method + " " + k.Endpoint
		}
		if out[name] == nil {
			out[name] = map[string]OperationStats{}
		}
		out[name][k.Status] = OperationStats{
			Count: s.count, FailCount: s.fails,
			AvgDurationMicros: micros(s.avg()), MinDurationMicros: micros(s.min), MaxDurationMicros: micros(s.max),
			TotalDurationMicros: uint64(s.sum.Microseconds()), LastResponded: s.lastAt.UTC(),
		}
	}
	return out
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// Gauge is one extra gauge for the Prometheus output.
type Gauge struct {
	Name, Help string
	Labels     map[string]string
	Value      float64
}

// WritePrometheus renders the gauges and every API's request metrics in
// the Prometheus text format (version 0.0.4).
func (r *Registry) WritePrometheus(w io.Writer, gauges []Gauge) error {
	var b strings.Builder
	for _, g := range gauges {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s%s %s\n", g.Name, g.Help, g.Name, g.Name, labels(g.Labels), num(g.Value))
	}
	r.mu.Lock()
	keys := make([]Key, 0, len(r.ops))
	for k := range r.ops {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
	for _, api := range []API{REST, GRPC} {
		family := func(suffix, typ, help string, value func(*stats) float64) {
			name := string(api) + "_responses" + suffix
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
			for _, k := range keys {
				if k.API == api {
					fmt.Fprintf(&b, "%s%s %s\n", name, k.labels(), num(value(r.ops[k])))
				}
			}
		}
		family("_total", "counter", "total number of responses", func(s *stats) float64 { return float64(s.count) })
		family("_fail_total", "counter", "total number of failed responses", func(s *stats) float64 { return float64(s.fails) })
		family("_avg_duration_seconds", "gauge", "average response duration of the latest responses", func(s *stats) float64 { return s.avg().Seconds() })
		family("_min_duration_seconds", "gauge", "minimum response duration", func(s *stats) float64 { return s.min.Seconds() })
		family("_max_duration_seconds", "gauge", "maximum response duration", func(s *stats) float64 { return s.max.Seconds() })
		name := string(api) + "_responses_duration_seconds"
		fmt.Fprintf(&b, "# HELP %s response duration histogram\n# TYPE %s histogram\n", name, name)
		for _, k := range keys {
			if k.API != api {
				continue
			}
			s := r.ops[k]
			var cum uint64
			for i, le := range Buckets {
				cum += s.buckets[i]
				fmt.Fprintf(&b, "%s_bucket%s %d\n", name, k.labelsWith("le", num(le)), cum)
			}
			fmt.Fprintf(&b, "%s_bucket%s %d\n%s_sum%s %s\n%s_count%s %d\n",
				name, k.labelsWith("le", "+Inf"), s.count, name, k.labels(), num(s.sum.Seconds()), name, k.labels(), s.count)
		}
	}
	r.mu.Unlock()
	_, err := io.WriteString(w, b.String())
	return err
}

func (k Key) labels() string { return k.labelsWith("", "") }

func (k Key) labelsWith(extraName, extraValue string) string {
	m := map[string]string{"endpoint": k.Endpoint, "status": k.Status}
	if k.Method != "" {
		m["method"] = k.Method
	}
	if extraName != "" {
		m[extraName] = extraValue
	}
	return labels(m)
}

// labels renders a label set, sorted, with values escaped.
func labels(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(m[n])
		parts[i] = n + `="` + v + `"`
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func num(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
