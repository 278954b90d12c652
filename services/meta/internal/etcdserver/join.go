package etcdserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// peerMember is one entry of the list a member's peer port serves at
// GET /members.
type peerMember struct {
	ID         uint64   `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
}

// errMemberHasHistory is returned when the cluster already has a started
// member with our peer URL but we have no data: starting anyway would make
// it forget what it voted for and acknowledged.
var errMemberHasHistory = errors.New("member already started once")

// fetchMembers asks a member's peer port for the member list.
func fetchMembers(ctx context.Context, bootstrap string) ([]peerMember, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, bootstrap+"/members", nil)
	if err != nil {
		return nil, fmt.Errorf("member list request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s/members: %w", bootstrap, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("get %s/members: %s: %s", bootstrap, resp.Status, strings.TrimSpace(string(body)))
	}
	var members []peerMember
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&members); err != nil {
		return nil, fmt.Errorf("decode %s/members: %w", bootstrap, err)
	}
	return members, nil
}

// join makes this member part of the cluster reachable through the
// bootstrap peer URL and returns the initial cluster to start with
// (cluster state "existing"). It retries until ctx ends, because a join
// can be refused for a while (another member still joining, no leader).
//
// The member is added as a learner: a learner does not count toward the
// quorum, so the cluster keeps its leader while the new member starts and
// catches up (a plain MemberAdd on a one-member cluster would leave it
// without quorum until the new member runs). Start promotes it to a voting
// member once it is in sync. etcd allows one learner at a time, so nodes
// joining together are added one after the other.
//
// If a member with our peer URL exists but never started, a previous
// attempt crashed between MemberAdd and start, and that member is reused.
// If it did start, our data directory was lost; join refuses, since the
// member must first be removed (etcdctl member remove) to join afresh.
func join(ctx context.Context, s Settings, lg *zap.Logger, log zerolog.Logger) (string, error) {
	var last error
	for attempt := 1; ; attempt++ {
		initial, err := tryJoin(ctx, s, lg)
		if err == nil {
			return initial, nil
		}
		if errors.Is(err, errMemberHasHistory) {
			return "", err
		}
		last = err
		log.Warn().Err(err).Int("attempt", attempt).Str("bootstrap", s.Bootstrap).Msg("join meta cluster; retrying")
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("join meta cluster through %s: %w (last error: %v)", s.Bootstrap, ctx.Err(), last)
		case <-time.After(time.Second):
		}
	}
}

func tryJoin(ctx context.Context, s Settings, lg *zap.Logger) (string, error) {
	attemptCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	peers, err := fetchMembers(attemptCtx, s.Bootstrap)
	if err != nil {
		return "", err
	}
	var endpoints []string
	for _, m := range peers {
		endpoints = append(endpoints, m.ClientURLs...)
	}
	if len(endpoints) == 0 {
		return "", fmt.Errorf("no member of %s serves clients yet", s.Bootstrap)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: lg})
	if err != nil {
		return "", fmt.Errorf("connect to %v: %w", endpoints, err)
	}
	defer cli.Close()

	peerURL := s.PeerURL.String()
	list, err := cli.MemberList(attemptCtx)
	if err != nil {
		return "", fmt.Errorf("list members: %w", err)
	}
	members := list.Members
	var ourID uint64
	for _, m := range members {
		for _, u := range m.PeerURLs {
			if u != peerURL {
				continue
			}
			if m.Name != "" || len(m.ClientURLs) > 0 {
				return "", fmt.Errorf("%w: member %x (%s) has peer URL %s but data dir %s holds no data; remove it from the cluster (etcdctl member remove %x) and start again", errMemberHasHistory, m.ID, m.Name, peerURL, s.DataDir, m.ID)
			}
			ourID = m.ID
		}
	}
	if ourID == 0 {
		added, err := cli.MemberAddAsLearner(attemptCtx, []string{peerURL})
		if err != nil {
			return "", fmt.Errorf("add member %s as learner: %w", peerURL, err)
		}
		ourID, members = added.Member.ID, added.Members
	}
	return initialCluster(members, ourID, s.Name), nil
}

// initialCluster renders etcd's initial cluster ("name=peerURL,...") from a
// member list, naming our member self and every other member that has not
// started yet (no name) by its id, so that no two members share a name.
func initialCluster(members []*etcdserverpb.Member, ourID uint64, self string) string {
	var parts []string
	for _, m := range members {
		name := m.Name
		switch {
		case m.ID == ourID:
			name = self
		case name == "":
			name = "pending-" + strconv.FormatUint(m.ID, 16)
		}
		for _, u := range m.PeerURLs {
			parts = append(parts, name+"="+u)
		}
	}
	return strings.Join(parts, ",")
}
