package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// services are the compose services that run by default.
var services = []string{"meta-1", "meta-2", "meta-3", "storage-1", "storage-2", "storage-3", "router-1", "router-2"}

// env is a running compose cluster.
type env struct {
	p        *project
	root     string
	version  string // bin/shoal-router --version
	r1, r2   *rest  // router-1, router-2
	grpcPort int    // router-1's published gRPC port
	ids      map[string]string
	ledger   *ledger
	upAt     time.Time
}

// eventually polls cond every 500 ms until it returns nil, and fails the
// test with cond's last error when timeout passes first.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// freePorts returns n free TCP ports on the loopback interface.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// start skips the test without Docker, otherwise builds the binaries and
// images, starts the compose cluster and waits until every container is
// healthy. Tear-down is registered with t.Cleanup.
func start(t *testing.T) *env {
	t.Helper()
	if out, err := run(context.Background(), 30*time.Second, nil, "", "docker", "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skipf("container tests need a running Docker engine; `docker info` failed: %v", err)
	} else {
		t.Logf("docker engine %s", strings.TrimSpace(out))
	}
	cmd, err := composeCommand()
	if err != nil {
		t.Skipf("container tests need docker compose: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "deploy", "compose", "docker-compose.yml")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("compose file: %v", err)
	}

	began := time.Now()
	if _, err := run(context.Background(), 10*time.Minute, nil, root, "make", "images"); err != nil {
		t.Fatalf("build images: %v", err)
	}
	t.Logf("make images (binaries and images): %v", time.Since(began).Round(100*time.Millisecond))
	version, err := run(context.Background(), 10*time.Second, nil, root, filepath.Join(root, "bin", "shoal-router"), "--version")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{root: root, version: strings.TrimSpace(version), ledger: newLedger(), ids: map[string]string{}}

	var suffix [3]byte
	_, _ = rand.Read(suffix[:])
	ports := freePorts(t, 4)
	e.p = &project{
		cmd:  cmd,
		name: projectPrefix + strconv.FormatInt(time.Now().Unix(), 10) + "-" + hex.EncodeToString(suffix[:]),
		file: file,
		root: root,
		env: []string{
			"SHOAL_TAG=dev", "SHOAL_BIND=127.0.0.1",
			"SHOAL_REST_PORT=" + strconv.Itoa(ports[0]), "SHOAL_GRPC_PORT=" + strconv.Itoa(ports[1]),
			"SHOAL_REST_PORT_2=" + strconv.Itoa(ports[2]), "SHOAL_GRPC_PORT_2=" + strconv.Itoa(ports[3]),
		},
	}
	e.r1, e.r2, e.grpcPort = newREST(ports[0]), newREST(ports[2]), ports[1]
	removeStaleProjects(t, *e.p)
	t.Cleanup(func() { e.tearDown(t) })

	e.upAt = time.Now()
	if _, err := e.p.compose(5*time.Minute, "up", "-d"); err != nil {
		t.Fatalf("compose up: %v", err)
	}
	t.Logf("compose up -d returned after %v (project %s)", time.Since(e.upAt).Round(100*time.Millisecond), e.p.name)
	for _, s := range services {
		id, err := e.p.container(s)
		if err != nil {
			t.Fatal(err)
		}
		e.ids[s] = id
	}
	e.waitHealthy(t, services...)
	t.Logf("every container healthy %v after compose up", time.Since(e.upAt).Round(100*time.Millisecond))
	return e
}

// waitHealthy waits (2 min at most) until the services' containers run
// and are healthy.
func (e *env) waitHealthy(t *testing.T, svcs ...string) {
	t.Helper()
	eventually(t, "containers healthy", 2*time.Minute, func() error {
		for _, s := range svcs {
			st, err := health(e.ids[s])
			if err != nil {
				return err
			}
			if st != "running/healthy" {
				return fmt.Errorf("%s is %s", s, st)
			}
		}
		return nil
	})
}

// tearDown dumps the logs when the test failed, removes the project and
// checks that nothing of it is left.
func (e *env) tearDown(t *testing.T) {
	if t.Failed() {
		if out, err := e.p.composeAll(time.Minute, "logs", "--no-color", "--tail", "30"); err == nil {
			t.Logf("container logs (last 30 lines each):\n%s", tail(out, 30000))
		}
	}
	e.p.down(t)
	left, err := e.p.leftovers()
	if err != nil {
		t.Errorf("list leftovers: %v", err)
	} else if left != "" {
		t.Errorf("tear down left containers, volumes or networks behind: %s", left)
	}
}

// exec runs a command in a service's container (20 s at most).
func (e *env) exec(service string, args ...string) (string, error) {
	return run(context.Background(), 20*time.Second, nil, "", "docker", append([]string{"exec", e.ids[service]}, args...)...)
}
