package container

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// rest is a Qdrant REST client for one router.
type rest struct {
	base string
	http *http.Client
}

func newREST(port int) *rest {
	return &rest{base: "http://127.0.0.1:" + strconv.Itoa(port), http: &http.Client{Timeout: 30 * time.Second}}
}

// do sends a request (body encoded as JSON unless nil) and decodes the
// answer's "result" into out (when not nil). It fails unless the status is
// 200.
func (r *rest) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		enc, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, tail(string(raw), 500))
	}
	if out == nil {
		return nil
	}
	var env struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s %s: decode %q: %w", method, path, tail(string(raw), 200), err)
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return fmt.Errorf("%s %s: decode result %q: %w", method, path, tail(string(env.Result), 200), err)
	}
	return nil
}

// ready reports whether GET /readyz answers 200.
func (r *rest) ready() bool {
	resp, err := r.http.Get(r.base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// clusterInfo is the part of GET /cluster the tests read.
type clusterInfo struct {
	PeerID uint64 `json:"peer_id"`
	Peers  map[string]struct {
		URI string `json:"uri"`
	} `json:"peers"`
	RaftInfo struct {
		Leader uint64 `json:"leader"`
		Term   uint64 `json:"term"`
	} `json:"raft_info"`
}

// uris returns the peers' URIs, sorted.
func (c clusterInfo) uris() []string {
	var out []string
	for _, p := range c.Peers {
		out = append(out, p.URI)
	}
	sort.Strings(out)
	return out
}

// point is a point as the tests write it.
type point struct {
	ID      uint64         `json:"id"`
	Vector  []float32      `json:"vector"`
	Payload map[string]any `json:"payload"`
}

// makePoints returns n points with ids from first, random dim-dimensional
// vectors (from seed) and a payload naming the batch.
func makePoints(first uint64, n, dim int, batch string, seed int64) []point {
	rng := rand.New(rand.NewSource(seed))
	pts := make([]point, n)
	for i := range pts {
		v := make([]float32, dim)
		for j := range v {
			v[j] = rng.Float32()*2 - 1
		}
		id := first + uint64(i)
		pts[i] = point{ID: id, Vector: v, Payload: map[string]any{"batch": batch, "n": float64(id)}}
	}
	return pts
}

// scored is one search hit.
type scored struct {
	ID    uint64  `json:"id"`
	Score float64 `json:"score"`
}

// retrieved is one point of POST /points.
type retrieved struct {
	ID      uint64         `json:"id"`
	Payload map[string]any `json:"payload"`
}
