package harness

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

var httpClient = &http.Client{Timeout: 30 * time.Second}

// CheckResponse, when set, checks every response Cluster.Do receives from
// the router; an error fails the test. The e2e tests set it to the
// OpenAPI contract check (tests/openapi).
var CheckResponse func(req *http.Request, status int, header http.Header, body []byte) error

// Response is a decoded REST answer.
type Response struct {
	Status int
	Header http.Header
	// Body is the decoded JSON envelope (nil if the body was not JSON).
	Body map[string]any
	Raw  []byte
}

// Result returns the envelope's "result".
func (r Response) Result() any { return r.Body["result"] }

// Error returns the envelope's status.error message, if any.
func (r Response) Error() string {
	if st, ok := r.Body["status"].(map[string]any); ok {
		s, _ := st["error"].(string)
		return s
	}
	return ""
}

// Do sends a REST request to the router. body may be nil, a string or
// []byte (sent as is), or any value (sent as JSON).
func (c *Cluster) Do(method, path string, body any) Response {
	c.t.Helper()
	r, req := send(c.t, method, c.URL+path, body)
	if CheckResponse != nil {
		if err := CheckResponse(req, r.Status, r.Header, r.Raw); err != nil {
			c.t.Errorf("%v", err)
		}
	}
	return r
}

// Do sends a REST request to url; see Cluster.Do.
func Do(t testing.TB, method, url string, body any) Response {
	t.Helper()
	r, _ := send(t, method, url, body)
	return r
}

func send(t testing.TB, method, url string, body any) (Response, *http.Request) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewBuffer(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewBuffer(enc)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out, req
}

// MustOK sends a request and fails the test unless the status is 200.
func (c *Cluster) MustOK(method, path string, body any) Response {
	c.t.Helper()
	r := c.Do(method, path, body)
	if r.Status != http.StatusOK {
		c.t.Fatalf("%s %s: status %d: %s", method, path, r.Status, r.Raw)
	}
	return r
}
