package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestPrometheusAndTelemetry(t *testing.T) {
	r := New()
	search := Key{API: REST, Method: "POST", Endpoint: "/collections/{name}/points/search", Status: "200"}
	r.Observe(search, false, 2*time.Millisecond)
	r.Observe(search, false, 4*time.Millisecond)
	r.Observe(Key{API: REST, Method: "POST", Endpoint: "/collections/{name}/points/search", Status: "400"}, true, time.Millisecond)
	r.Observe(Key{API: GRPC, Endpoint: "/qdrant.Points/Search", Status: "ok"}, false, 20*time.Millisecond)

	var b strings.Builder
	if err := r.WritePrometheus(&b, []Gauge{{Name: "collections_total", Help: "number of collections", Value: 3}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# TYPE collections_total gauge\ncollections_total 3\n",
		`rest_responses_total{endpoint="/collections/{name}/points/search",method="POST",status="200"} 2`,
		`rest_responses_fail_total{endpoint="/collections/{name}/points/search",method="POST",status="400"} 1`,
		`rest_responses_avg_duration_seconds{endpoint="/collections/{name}/points/search",method="POST",status="200"} 0.003`,
		`rest_responses_max_duration_seconds{endpoint="/collections/{name}/points/search",method="POST",status="200"} 0.004`,
		`rest_responses_duration_seconds_bucket{endpoint="/collections/{name}/points/search",le="0.001",method="POST",status="200"} 0`,
		`rest_responses_duration_seconds_bucket{endpoint="/collections/{name}/points/search",le="0.005",method="POST",status="200"} 2`,
		`rest_responses_duration_seconds_bucket{endpoint="/collections/{name}/points/search",le="+Inf",method="POST",status="200"} 2`,
		`rest_responses_duration_seconds_count{endpoint="/collections/{name}/points/search",method="POST",status="200"} 2`,
		`grpc_responses_total{endpoint="/qdrant.Points/Search",status="ok"} 1`,
		`grpc_responses_duration_seconds_bucket{endpoint="/qdrant.Points/Search",le="0.02",status="ok"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	tel := r.Telemetry(REST)["POST /collections/{name}/points/search"]
	if s := tel["200"]; s.Count != 2 || s.AvgDurationMicros != 3000 || s.MinDurationMicros != 2000 || s.TotalDurationMicros != 6000 || s.LastResponded.IsZero() {
		t.Fatalf("telemetry: %+v", s)
	}
	if s := tel["400"]; s.Count != 1 || s.FailCount != 1 {
		t.Fatalf("telemetry of failures: %+v", s)
	}
	if g := r.Telemetry(GRPC); g["/qdrant.Points/Search"]["ok"].Count != 1 {
		t.Fatalf("gRPC telemetry: %+v", g)
	}
}

func TestAverageCoversRecentOperations(t *testing.T) {
	r := New()
	k := Key{API: GRPC, Endpoint: "/x", Status: "ok"}
	for i := 0; i < recent; i++ {
		r.Observe(k, false, time.Second)
	}
	for i := 0; i < recent; i++ {
		r.Observe(k, false, time.Millisecond)
	}
	if s := r.Telemetry(GRPC)["/x"]["ok"]; s.AvgDurationMicros != 1000 || s.MaxDurationMicros != 1e6 || s.Count != 2*recent {
		t.Fatalf("%+v", s)
	}
}
