package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoaldb/shoal/tests/harness"
)

// --- helpers ---------------------------------------------------------------

// ok sends a request, requires 200 with Qdrant's envelope and returns the
// result.
func ok(t *testing.T, c *harness.Cluster, method, path string, body any) any {
	t.Helper()
	r := c.Do(method, path, body)
	if r.Status != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, path, r.Status, r.Raw)
	}
	if r.Body["status"] != "ok" {
		t.Fatalf("%s %s: envelope status %v: %s", method, path, r.Body["status"], r.Raw)
	}
	if _, isNum := r.Body["time"].(float64); !isNum {
		t.Fatalf("%s %s: envelope without time: %s", method, path, r.Raw)
	}
	return r.Result()
}

// fails sends a request and requires the status and an error message
// containing want, in Qdrant's error shape.
func fails(t *testing.T, c *harness.Cluster, method, path string, body any, status int, want string) {
	t.Helper()
	r := c.Do(method, path, body)
	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Raw)
	}
	if !strings.Contains(r.Error(), want) {
		t.Fatalf("%s %s: error %q does not contain %q", method, path, r.Error(), want)
	}
	if _, isNum := r.Body["time"].(float64); !isNum {
		t.Fatalf("%s %s: error without time: %s", method, path, r.Raw)
	}
}

// obj and list assert a JSON shape.
func obj(t *testing.T, v any) map[string]any {
	t.Helper()
	m, isObj := v.(map[string]any)
	if !isObj {
		t.Fatalf("expected an object, got %T %v", v, v)
	}
	return m
}

func list(t *testing.T, v any) []any {
	t.Helper()
	l, isList := v.([]any)
	if !isList {
		t.Fatalf("expected an array, got %T %v", v, v)
	}
	return l
}

// ids returns the "id" member of every element, formatted.
func ids(t *testing.T, v any) string {
	t.Helper()
	var out []string
	for _, p := range list(t, v) {
		out = append(out, fmt.Sprint(obj(t, p)["id"]))
	}
	return strings.Join(out, " ")
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	f, isNum := v.(float64)
	if !isNum {
		t.Fatalf("expected a number, got %T %v", v, v)
	}
	return f
}

// eventually polls cond until it holds (or fails the test after 30 s):
// for state that converges, never for timing assertions.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after 30s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// linePoints returns n points whose 2-dim vectors are (i, 0) for ids 1..n.
func linePoints(n int) []map[string]any {
	var pts []map[string]any
	for i := 1; i <= n; i++ {
		pts = append(pts, map[string]any{"id": i, "vector": []float64{float64(i), 0}, "payload": map[string]any{"i": i}})
	}
	return pts
}
