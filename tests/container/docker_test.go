package container

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// projectPrefix starts every compose project these tests create; the unix
// time that follows lets a later run remove what a crashed run left.
const projectPrefix = "shoaltest-"

// staleAfter is the age past which a leftover test project is removed.
const staleAfter = 30 * time.Minute

// run runs a command with a deadline and returns its combined output.
func run(ctx context.Context, timeout time.Duration, env []string, dir string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(out.String(), 4000))
	}
	return out.String(), nil
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// docker runs a docker command (30 s at most).
func docker(args ...string) (string, error) {
	return run(context.Background(), 30*time.Second, nil, "", "docker", args...)
}

// composeCommand returns the compose tool: `docker compose` (v2) when the
// plugin is there, else docker-compose (v1), else an error.
func composeCommand() ([]string, error) {
	if _, err := run(context.Background(), 20*time.Second, nil, "", "docker", "compose", "version"); err == nil {
		return []string{"docker", "compose"}, nil
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}, nil
	}
	return nil, fmt.Errorf("neither `docker compose` nor docker-compose is installed")
}

// project is one compose project of deploy/compose/docker-compose.yml.
type project struct {
	cmd  []string // compose tool
	name string
	file string
	root string
	env  []string // port overrides
}

// compose runs a compose subcommand on the project's default services.
func (p *project) compose(timeout time.Duration, args ...string) (string, error) {
	full := slices.Concat(p.cmd[1:], []string{"-f", p.file, "-p", p.name}, args)
	return run(context.Background(), timeout, p.env, p.root, p.cmd[0], full...)
}

// composeAll is compose with the "scale" profile active, so that the
// scalable storage service is included.
func (p *project) composeAll(timeout time.Duration, args ...string) (string, error) {
	return p.compose(timeout, slices.Concat([]string{"--profile", "scale"}, args)...)
}

// containerIDs returns the ids of a service's containers (running or not).
func (p *project) containerIDs(service string) ([]string, error) {
	out, err := docker("ps", "-a", "-q", "--no-trunc",
		"--filter", "label=com.docker.compose.project="+p.name,
		"--filter", "label=com.docker.compose.service="+service)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// container returns the id of a service's only container.
func (p *project) container(service string) (string, error) {
	ids, err := p.containerIDs(service)
	if err != nil {
		return "", err
	}
	if len(ids) != 1 {
		return "", fmt.Errorf("service %s has %d containers, want 1", service, len(ids))
	}
	return ids[0], nil
}

// health returns a container's state and health: "running/healthy",
// "exited/", "paused/healthy", ...
func health(id string) (string, error) {
	out, err := docker("inspect", "--format", "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}", id)
	return strings.TrimSpace(out), err
}

// leftovers lists what the project still has: containers, volumes and
// networks carrying its compose label.
func (p *project) leftovers() (string, error) {
	label := "label=com.docker.compose.project=" + p.name
	var all []string
	for _, args := range [][]string{
		{"ps", "-a", "-q", "--filter", label},
		{"volume", "ls", "-q", "--filter", label},
		{"network", "ls", "-q", "--filter", label},
	} {
		out, err := docker(args...)
		if err != nil {
			return "", err
		}
		all = append(all, strings.Fields(out)...)
	}
	return strings.Join(all, " "), nil
}

// down removes the project: unpauses what a test paused (a paused
// container cannot be stopped), then compose down -v.
func (p *project) down(t *testing.T) {
	if out, err := docker("ps", "-q", "--filter", "label=com.docker.compose.project="+p.name, "--filter", "status=paused"); err == nil {
		for _, id := range strings.Fields(out) {
			if _, err := docker("unpause", id); err != nil {
				t.Logf("unpause %s: %v", id, err)
			}
		}
	}
	if _, err := p.composeAll(3*time.Minute, "down", "-v", "--remove-orphans", "--timeout", "5"); err != nil {
		t.Errorf("tear down: %v", err)
	}
}

// removeStaleProjects tears down test projects older than staleAfter,
// which a run killed before its cleanup (go test's timeout) left behind.
func removeStaleProjects(t *testing.T, base project) {
	out, err := docker("ps", "-a", "--filter", "label=com.docker.compose.project", "--format", `{{.Label "com.docker.compose.project"}}`)
	if err != nil {
		t.Logf("list compose projects: %v", err)
		return
	}
	seen := map[string]bool{}
	for _, name := range strings.Fields(out) {
		rest, ok := strings.CutPrefix(name, projectPrefix)
		if !ok || seen[name] {
			continue
		}
		seen[name] = true
		stamp, _, _ := strings.Cut(rest, "-")
		sec, err := strconv.ParseInt(stamp, 10, 64)
		if err != nil || time.Since(time.Unix(sec, 0)) < staleAfter {
			continue
		}
		old := base
		old.name = name
		t.Logf("removing stale test project %s", name)
		old.down(t)
	}
}
