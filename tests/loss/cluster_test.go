package loss

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoaldb/shoal/pkg/cluster"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/tests/harness"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// binDir holds shoal-meta, shoal-storage and shoal-router; buildErr is why
// they could not be built (the tests then skip).
var (
	binDir   string
	buildErr error
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if dir := os.Getenv("SHOAL_LOSS_BIN"); dir != "" {
		// Prebuilt binaries, e.g. bin/ after `make build`.
		abs, err := filepath.Abs(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		binDir = abs
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "shoal-loss-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	buildErr = buildBinaries(dir)
	return m.Run()
}

func buildBinaries(dir string) error {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		return fmt.Errorf("go env GOWORK: %w", err)
	}
	work := strings.TrimSpace(string(out))
	if work == "" || work == "off" {
		return fmt.Errorf("tests/loss needs the go.work workspace")
	}
	root := filepath.Dir(work)
	for _, tier := range []string{"meta", "storage", "router"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "shoal-"+tier), "./services/"+tier+"/cmd/shoal-"+tier)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build shoal-%s: %w\n%s", tier, err, out)
		}
	}
	return nil
}

func needBinaries(t testing.TB) {
	t.Helper()
	if buildErr != nil {
		t.Skipf("binaries could not be built: %v", buildErr)
	}
}

// proc is one running binary that can be killed, stopped and restarted on
// the same ports and data.
type proc struct {
	name   string // shoal-meta, shoal-storage, shoal-router
	label  string // storage-0, router-1, ...
	args   []string
	env    []string
	log    string
	health string // URL answering 200 when the process serves

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

func (p *proc) start() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log of %s: %w", p.label, err)
	}
	fmt.Fprintf(f, "=== start %s %s\n", p.label, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(filepath.Join(binDir, p.name), p.args...)
	cmd.Dir = filepath.Dir(p.log)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.label, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	return nil
}

func (p *proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.exited
}

func (p *proc) signal(sig syscall.Signal) error {
	cmd, _ := p.current()
	if cmd == nil || cmd.Process == nil {
		return fmt.Errorf("%s is not running", p.label)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to %s: %w", sig, p.label, err)
	}
	return nil
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (p *proc) kill9() error {
	cmd, exited := p.current()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies either way; be explicit
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 %s: %w", p.label, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s did not exit after SIGKILL", p.label)
	}
}

// stop ends the process with SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop() {
	cmd, exited := p.current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// waitHealthy polls the health URL until it answers 200.
func (p *proc) waitHealthy(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.health, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy at %s within %v; log tail:\n%s", p.label, p.health, within, tailFile(p.log, 3000))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// procCluster is 1 meta node, storage nodes and routers as processes.
type procCluster struct {
	dir      string
	metaURL  string
	meta     *proc
	storages []*proc
	routers  []*proc
	// routerURLs[i] is routers[i]'s REST base URL.
	routerURLs []string
	etcd       *clientv3.Client
	// nodeProc maps a storage node id to its process (learnt from the
	// registrations; kept across restarts since node ids persist).
	nodeMu   sync.Mutex
	nodeProc map[uint64]*proc
}

// startCluster starts the processes and waits until each serves. Its data
// and logs live in dir. Everything is stopped by t.Cleanup.
func startCluster(t testing.TB, dir string, storages, routers int) *procCluster {
	t.Helper()
	ctx := context.Background()
	c := &procCluster{dir: dir, nodeProc: map[uint64]*proc{}}
	peer, client, api, nats := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	c.metaURL = fmt.Sprintf("http://127.0.0.1:%d", client)
	c.meta = &proc{
		name: "shoal-meta", label: "meta",
		args: []string{"--uri", fmt.Sprintf("http://127.0.0.1:%d", peer), "--storage-path", filepath.Join(dir, "meta"), "--log-level", "info"},
		env: []string{
			fmt.Sprintf("SHOAL__META__CLIENT_PORT=%d", client),
			fmt.Sprintf("SHOAL__META__API_PORT=%d", api),
			fmt.Sprintf("SHOAL__META__NATS_PORT=%d", nats),
		},
		log:    filepath.Join(dir, "meta.log"),
		health: fmt.Sprintf("http://127.0.0.1:%d/healthz", api),
	}
	c.mustStart(t, c.meta)
	for i := 0; i < storages; i++ {
		port := harness.FreePort(t)
		p := &proc{
			name: "shoal-storage", label: fmt.Sprintf("storage-%d", i),
			args:   []string{"--uri", fmt.Sprintf("http://127.0.0.1:%d", port), "--meta", c.metaURL, "--storage-path", filepath.Join(dir, fmt.Sprintf("storage-%d", i)), "--log-level", "info"},
			log:    filepath.Join(dir, fmt.Sprintf("storage-%d.log", i)),
			health: fmt.Sprintf("http://127.0.0.1:%d/healthz", port),
		}
		c.mustStart(t, p)
		c.storages = append(c.storages, p)
	}
	for i := 0; i < routers; i++ {
		httpPort := harness.FreePort(t)
		p := &proc{
			name: "shoal-router", label: fmt.Sprintf("router-%d", i),
			args:   []string{"--meta", c.metaURL, "--http-port", fmt.Sprint(httpPort), "--grpc-port", fmt.Sprint(harness.FreePort(t)), "--storage-path", filepath.Join(dir, fmt.Sprintf("router-%d", i)), "--log-level", "info"},
			log:    filepath.Join(dir, fmt.Sprintf("router-%d.log", i)),
			health: fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort),
		}
		c.mustStart(t, p)
		c.routers = append(c.routers, p)
		c.routerURLs = append(c.routerURLs, fmt.Sprintf("http://127.0.0.1:%d", httpPort))
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.metaURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("etcd client for %s: %v", c.metaURL, err)
	}
	t.Cleanup(func() { cli.Close() })
	c.etcd = cli
	if err := c.learnNodes(ctx, storages); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *procCluster) mustStart(t testing.TB, p *proc) {
	t.Helper()
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	if err := p.waitHealthy(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// learnNodes reads the storage registrations and maps node ids to
// processes by their advertised URI.
func (c *procCluster) learnNodes(ctx context.Context, want int) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx1, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := c.etcd.Get(ctx1, cluster.NodesPrefix, clientv3.WithPrefix())
		cancel()
		if err == nil {
			c.nodeMu.Lock()
			for _, kv := range resp.Kvs {
				n := &shoalv1.Node{}
				if proto.Unmarshal(kv.Value, n) != nil || n.GetTier() != shoalv1.NodeTier_NODE_TIER_STORAGE {
					continue
				}
				for _, p := range c.storages {
					if strings.Contains(strings.Join(p.args, " "), n.GetUri()+" ") {
						c.nodeProc[n.GetId()] = p
					}
				}
			}
			got := len(c.nodeProc)
			c.nodeMu.Unlock()
			if got >= want {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("storage registrations: %d of %d found (err %v)", len(c.nodeProc), want, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *procCluster) procOf(node uint64) *proc {
	c.nodeMu.Lock()
	defer c.nodeMu.Unlock()
	return c.nodeProc[node]
}

// shardMap reads a collection's shard map from the meta tier.
func (c *procCluster) shardMap(ctx context.Context, collection string) (*shoalv1.ShardMap, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := c.etcd.Get(ctx, cluster.ShardMapKey(collection))
	if err != nil {
		return nil, fmt.Errorf("read shard map %s: %w", collection, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("shard map %s: not found", collection)
	}
	m := &shoalv1.ShardMap{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, m); err != nil {
		return nil, fmt.Errorf("decode shard map %s: %w", collection, err)
	}
	return m, nil
}

// describeMap renders a shard map for logs: shard: primary@term [node:state ...].
func (c *procCluster) describeMap(m *shoalv1.ShardMap) string {
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d:", m.GetEpoch())
	for _, sh := range m.GetShards() {
		fmt.Fprintf(&b, " shard %d primary %s term %d [", sh.GetId(), c.nodeName(sh.GetPrimary()), sh.GetTerm())
		for i, r := range sh.GetReplicas() {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s:%s", c.nodeName(r.GetNodeId()), strings.TrimPrefix(r.GetState().String(), "REPLICA_STATE_"))
		}
		b.WriteString("]")
	}
	return b.String()
}

func (c *procCluster) nodeName(id uint64) string {
	if p := c.procOf(id); p != nil {
		return p.label
	}
	return fmt.Sprint(id)
}

// allActive reports whether every replica of every shard is ACTIVE in the
// meta tier's map and in each router's GET /collections/{name}/cluster.
func (c *procCluster) allActive(ctx context.Context, collection string) (bool, string) {
	m, err := c.shardMap(ctx, collection)
	if err != nil {
		return false, err.Error()
	}
	for _, sh := range m.GetShards() {
		for _, r := range sh.GetReplicas() {
			if r.GetState() != shoalv1.ReplicaState_REPLICA_STATE_ACTIVE {
				return false, "meta: " + c.describeMap(m)
			}
		}
	}
	for i, base := range c.routerURLs {
		r, err := call(ctx, http.MethodGet, base+"/collections/"+collection+"/cluster", nil)
		if err != nil {
			return false, fmt.Sprintf("router-%d cluster info: %v", i, err)
		}
		if r.Status != http.StatusOK {
			return false, fmt.Sprintf("router-%d cluster info: %d %s", i, r.Status, r.Raw)
		}
		res, _ := r.Body["result"].(map[string]any)
		reps, _ := res["remote_shards"].([]any)
		if len(reps) == 0 {
			return false, fmt.Sprintf("router-%d cluster info lists no replicas: %s", i, r.Raw)
		}
		for _, x := range reps {
			if rep, _ := x.(map[string]any); rep["state"] != "Active" {
				return false, fmt.Sprintf("router-%d: %s", i, r.Raw)
			}
		}
	}
	return true, "meta: " + c.describeMap(m)
}

// waitAllActive polls allActive until it holds or within has passed.
func (c *procCluster) waitAllActive(ctx context.Context, collection string, within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	for {
		ok, desc := c.allActive(ctx, collection)
		if ok {
			return desc, nil
		}
		if time.Now().After(deadline) {
			return desc, fmt.Errorf("replicas not all Active after %v: %s", within, desc)
		}
		select {
		case <-ctx.Done():
			return desc, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
