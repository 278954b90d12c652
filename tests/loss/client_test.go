package loss

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// httpClient's timeout is long on purpose: a write the client gave up on
// might still be running in the router, so the checker lets the router
// answer (every router and storage call has its own deadline) rather than
// abandoning requests itself.
var httpClient = &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

func (r response) errorText() string {
	if st, ok := r.Body["status"].(map[string]any); ok {
		s, _ := st["error"].(string)
		return s
	}
	return strings.TrimSpace(string(r.Raw))
}

// call sends a JSON request. An error means no HTTP answer was received.
func call(ctx context.Context, method, url string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		enc, err := json.Marshal(body)
		if err != nil {
			return response{}, fmt.Errorf("encode body: %w", err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return response{}, fmt.Errorf("new request: %w", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	_ = dec.Decode(&out.Body)
	return out, nil
}

// completed reports whether a wait=true write answered success.
func completed(r response) bool {
	if r.Status != http.StatusOK {
		return false
	}
	res, _ := r.Body["result"].(map[string]any)
	return res["status"] == "completed"
}

// vectorFor is the vector written for a point at a version: small
// multiples of 1/8, exact in float32 and in JSON.
func vectorFor(id uint64, version int64, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32((id*31+uint64(version)*7+uint64(i)*3)%97) / 8
	}
	return v
}

func createCollection(ctx context.Context, base, name string, body map[string]any) error {
	r, err := call(ctx, http.MethodPut, base+"/collections/"+name, body)
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return fmt.Errorf("create collection %s: %d %s", name, r.Status, r.Raw)
	}
	return nil
}

func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		return int64(n), true
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	}
	return 0, false
}
