// Package process runs the real binaries as separate processes and treats
// them the way an operator's bad day would: kill -9 and restart.
package process

import (
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoaldb/shoal/tests/harness"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shoal-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := func() int {
		defer os.RemoveAll(dir)
		root, err := repoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, tier := range []string{"meta", "storage", "router"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "shoal-"+tier), "./services/"+tier+"/cmd/shoal-"+tier)
			cmd.Dir = root
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "build shoal-%s: %v\n", tier, err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOWORK: %w", err)
	}
	work := strings.TrimSpace(string(out))
	if work == "" || work == "off" {
		return "", fmt.Errorf("tests/process needs the go.work workspace")
	}
	return filepath.Dir(work), nil
}

// proc is one running binary.
type proc struct {
	name string
	args []string
	env  []string
	log  string
	cmd  *exec.Cmd
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(filepath.Join(binDir, p.name), p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() { _ = p.cmd.Wait(); f.Close() }()
}

func (p *proc) kill9(t *testing.T) {
	t.Helper()
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	for i := 0; i < 100 && p.cmd.ProcessState == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			for p.cmd.ProcessState == nil {
				time.Sleep(20 * time.Millisecond)
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
		}
	}
}

func waitHTTP(t *testing.T, url string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(p.log)
	t.Fatalf("%s not healthy at %s; log:\n%s", p.name, url, tail(string(b), 3000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestKillStorageAndRestart kills every storage process with SIGKILL after
// writes acknowledged with wait=true, restarts them on the same data, and
// checks that every acknowledged point is there.
func TestKillStorageAndRestart(t *testing.T) {
	dir := t.TempDir()
	peer, client, api, nats := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	meta := &proc{
		name: "shoal-meta",
		args: []string{"--uri", fmt.Sprintf("http://127.0.0.1:%d", peer), "--storage-path", filepath.Join(dir, "meta"), "--log-level", "warn"},
		// Ports through environment variables, as containers set them.
		env: []string{
			fmt.Sprintf("SHOAL__META__CLIENT_PORT=%d", client),
			fmt.Sprintf("SHOAL__META__API_PORT=%d", api),
			fmt.Sprintf("QDRANT__META__NATS_PORT=%d", nats),
		},
		log: filepath.Join(dir, "meta.log"),
	}
	metaURL := fmt.Sprintf("http://127.0.0.1:%d", client)
	meta.start(t)
	t.Cleanup(meta.stop)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", api), meta)

	var storages []*proc
	for i := 0; i < 2; i++ {
		port := harness.FreePort(t)
		p := &proc{
			name: "shoal-storage",
			args: []string{"--uri", fmt.Sprintf("http://127.0.0.1:%d", port), "--meta", metaURL, "--storage-path", filepath.Join(dir, fmt.Sprintf("storage-%d", i)), "--log-level", "warn"},
			log:  filepath.Join(dir, fmt.Sprintf("storage-%d.log", i)),
		}
		p.start(t)
		t.Cleanup(p.stop)
		waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port), p)
		storages = append(storages, p)
	}
	httpPort := harness.FreePort(t)
	router := &proc{
		name: "shoal-router",
		args: []string{"--meta", metaURL, "--http-port", fmt.Sprint(httpPort), "--grpc-port", fmt.Sprint(harness.FreePort(t)), "--storage-path", filepath.Join(dir, "router"), "--log-level", "warn"},
		log:  filepath.Join(dir, "router.log"),
	}
	router.start(t)
	t.Cleanup(router.stop)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	waitHTTP(t, base+"/readyz", router)

	do := func(method, path string, body any) harness.Response {
		t.Helper()
		return harness.Do(t, method, base+path, body)
	}
	if r := do("PUT", "/collections/kill", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": 4}); r.Status != 200 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	const n = 300
	rng := rand.New(rand.NewSource(1))
	for batch := 0; batch < n/50; batch++ {
		var pts []map[string]any
		for i := batch * 50; i < (batch+1)*50; i++ {
			pts = append(pts, map[string]any{"id": i, "vector": []float32{rng.Float32(), rng.Float32(), rng.Float32(), rng.Float32()}, "payload": map[string]any{"i": i}})
		}
		if r := do("PUT", "/collections/kill/points?wait=true", map[string]any{"points": pts}); r.Status != 200 {
			t.Fatalf("upsert batch %d: %d %s", batch, r.Status, r.Raw)
		}
	}

	for _, p := range storages {
		p.kill9(t)
	}
	for _, p := range storages {
		p.start(t)
	}
	// Reads may fail until both nodes are back; wait for the full count.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := do("POST", "/collections/kill/points/count", map[string]any{"exact": true})
		if r.Status == 200 {
			if got := r.Result().(map[string]any)["count"]; got == float64(n) {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("count after restart = %v, want %d", got, n)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("count after restart: %d %s", r.Status, r.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i
	}
	r := do("POST", "/collections/kill/points", map[string]any{"ids": ids, "with_payload": true})
	if r.Status != 200 {
		t.Fatalf("retrieve: %d %s", r.Status, r.Raw)
	}
	got := r.Result().([]any)
	if len(got) != n {
		t.Fatalf("retrieved %d of %d acknowledged points", len(got), n)
	}
	for _, rec := range got {
		m := rec.(map[string]any)
		if m["payload"].(map[string]any)["i"] != m["id"] {
			t.Fatalf("point %v has payload %v", m["id"], m["payload"])
		}
	}
}
