package rest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shoaldb/shoal/services/router/internal/metrics"
	"github.com/shoaldb/shoal/services/router/internal/rest"
)

func TestMetricsAndTelemetry(t *testing.T) {
	e := newEnv(t, rest.Options{Metrics: metrics.New()})
	e.ok("PUT", "/collections/c", `{"vectors":{"size":2,"distance":"Dot"}}`)
	e.ok("POST", "/collections/c/points/count", `{}`)
	e.fails("POST", "/collections/c/points/count", `{"filter":1}`, 400, "Filter")

	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		"collections_total 1\n",
		`rest_responses_total{endpoint="/collections/{name}/points/count",method="POST",status="200"} 1`,
		`rest_responses_fail_total{endpoint="/collections/{name}/points/count",method="POST",status="400"} 1`,
		`rest_responses_total{endpoint="/collections/{name}",method="PUT",status="200"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, text)
		}
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("/metrics content type %q", resp.Header.Get("Content-Type"))
	}

	var tel struct {
		ID          string `json:"id"`
		Collections struct {
			N int `json:"number_of_collections"`
		} `json:"collections"`
		Requests struct {
			Rest struct {
				Responses map[string]map[string]metrics.OperationStats `json:"responses"`
			} `json:"rest"`
		} `json:"requests"`
	}
	if err := json.Unmarshal([]byte(e.ok("GET", "/telemetry?details_level=2&anonymize=false", "")), &tel); err != nil {
		t.Fatal(err)
	}
	if tel.ID != "555" || tel.Collections.N != 1 || tel.Requests.Rest.Responses["POST /collections/{name}/points/count"]["200"].Count != 1 {
		t.Fatalf("telemetry: %+v", tel)
	}
	e.fails("GET", "/telemetry?details_level=x", "", 400, "details_level")
}
