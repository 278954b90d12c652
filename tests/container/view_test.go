package container

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// testClusterView checks GET /cluster: the 3 meta nodes, 3 storage nodes
// and 2 routers as peers, a Raft leader that is one of the meta nodes, and
// every meta node's health check naming that same leader.
func testClusterView(t *testing.T, e *env) {
	var ci clusterInfo
	if err := e.r1.do("GET", "/cluster", nil, &ci); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"http://meta-1:6335", "http://meta-2:6335", "http://meta-3:6335",
		"http://router-1:6333", "http://router-2:6333",
		"http://storage-1:6335", "http://storage-2:6335", "http://storage-3:6335",
	}
	if got := ci.uris(); !slices.Equal(got, want) {
		t.Fatalf("peers %v, want %v", got, want)
	}
	leader, ok := ci.Peers[strconv.FormatUint(ci.RaftInfo.Leader, 10)]
	if !ok || !strings.HasPrefix(leader.URI, "http://meta-") {
		t.Fatalf("raft leader %d is %q, want one of the meta nodes", ci.RaftInfo.Leader, leader.URI)
	}
	hexID := `"leader":"` + strconv.FormatUint(ci.RaftInfo.Leader, 16) + `"`
	for _, m := range []string{"meta-1", "meta-2", "meta-3"} {
		out, err := e.exec(m, "/usr/local/bin/shoal-meta", "healthcheck")
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if !strings.Contains(out, hexID) {
			t.Errorf("%s health check %q does not name the leader %s (%s)", m, strings.TrimSpace(out), leader.URI, hexID)
		}
	}
	t.Logf("leader %s, term %d", leader.URI, ci.RaftInfo.Term)
}

var versionLine = regexp.MustCompile(`^shoal-router (\S+) \(commit (\S+), built (\S+), Qdrant API \S+\)$`)

// testVersion checks that the images carry the binaries just built: the
// version, commit and date of bin/shoal-router --version appear in every
// container's health check, in each image's --version and label; and
// that the health check fails when nothing serves.
func testVersion(t *testing.T, e *env) {
	m := versionLine.FindStringSubmatch(e.version)
	if m == nil {
		t.Fatalf("bin/shoal-router --version = %q", e.version)
	}
	ver, commit, date := m[1], m[2], m[3]
	for _, s := range services {
		tier, _, _ := strings.Cut(s, "-")
		out, err := e.exec(s, "/usr/local/bin/shoal-"+tier, "healthcheck")
		if err != nil {
			t.Fatalf("%s health check: %v", s, err)
		}
		if want := fmt.Sprintf("shoal-%s %s (commit %s, built %s)", tier, ver, commit, date); !strings.HasPrefix(out, want) {
			t.Errorf("%s health check says %q, want it to start with %q", s, strings.TrimSpace(out), want)
		}
	}
	for _, tier := range []string{"meta", "storage", "router"} {
		out, err := docker("run", "--rm", "--network", "none", "shoal-"+tier+":dev", "--version")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out, fmt.Sprintf("shoal-%s %s (commit %s, built %s", tier, ver, commit, date)) {
			t.Errorf("shoal-%s:dev --version = %q, want version %s commit %s built %s", tier, strings.TrimSpace(out), ver, commit, date)
		}
		label, err := docker("image", "inspect", "--format", `{{index .Config.Labels "org.opencontainers.image.version"}} {{.Config.User}}`, "shoal-"+tier+":dev")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(label); got != ver+" 65532:65532" {
			t.Errorf("shoal-%s:dev version label and user = %q, want %q", tier, got, ver+" 65532:65532")
		}
	}
	// Nothing listens in a fresh container: the health check must fail.
	out, err := docker("run", "--rm", "--network", "none", "shoal-storage:dev", "healthcheck")
	if err == nil || !strings.Contains(out, "connection refused") {
		t.Errorf("health check without a server: %v, %q; want exit 1 and connection refused", err, strings.TrimSpace(out))
	}
}
