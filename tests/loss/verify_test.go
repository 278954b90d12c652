package loss

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// replicaDigest is one replica's row of GET /debug/collections/{name}/digests.
type replicaDigest struct {
	Node     uint64
	State    string
	Primary  bool
	LastTerm int64
	LastSeq  int64
	Points   int64
	Digest   string
	Err      string
}

// shardDigests is one shard's rows.
type shardDigests struct {
	Shard    int64
	Replicas []replicaDigest
}

// fetchDigests reads the router's digest endpoint.
func fetchDigests(ctx context.Context, base, collection string) ([]shardDigests, string, error) {
	r, err := call(ctx, http.MethodGet, base+"/debug/collections/"+collection+"/digests", nil)
	if err != nil {
		return nil, "", err
	}
	if r.Status != http.StatusOK {
		return nil, string(r.Raw), fmt.Errorf("digests: %d %s", r.Status, r.Raw)
	}
	var shards []any
	switch res := r.Body["result"].(type) {
	case []any:
		shards = res
	case map[string]any:
		shards, _ = res["shards"].([]any)
	}
	if len(shards) == 0 {
		return nil, string(r.Raw), fmt.Errorf("digests: no shards in %s", r.Raw)
	}
	var out []shardDigests
	for _, x := range shards {
		sm, _ := x.(map[string]any)
		var sd shardDigests
		for _, k := range []string{"shard_id", "shard", "id"} {
			if v, ok := asInt64(sm[k]); ok {
				sd.Shard = v
				break
			}
		}
		reps, _ := sm["replicas"].([]any)
		for _, y := range reps {
			rm, _ := y.(map[string]any)
			var rd replicaDigest
			for _, k := range []string{"peer_id", "node_id"} {
				if v, ok := rm[k].(json.Number); ok {
					fmt.Sscan(v.String(), &rd.Node)
					break
				}
			}
			rd.Primary, _ = rm["primary"].(bool)
			rd.LastTerm, _ = asInt64(rm["last_term"])
			rd.State = fmt.Sprint(rm["state"])
			rd.LastSeq, _ = asInt64(rm["last_seq"])
			rd.Points, _ = asInt64(rm["points"])
			rd.Digest, _ = rm["digest"].(string)
			if e, ok := rm["error"]; ok && e != nil && e != "" {
				rd.Err = fmt.Sprint(e)
			}
			sd.Replicas = append(sd.Replicas, rd)
		}
		out = append(out, sd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	return out, string(r.Raw), nil
}

func isActive(state string) bool {
	s := strings.ToLower(state)
	return s == "active" || strings.HasSuffix(s, "_active")
}

// digestProblems lists the shards whose Active replicas differ, or that
// have fewer Active replicas than want.
func digestProblems(c *procCluster, shards []shardDigests, want int) []string {
	var out []string
	for _, sd := range shards {
		var active []replicaDigest
		for _, r := range sd.Replicas {
			if isActive(r.State) {
				active = append(active, r)
			}
		}
		desc := describeDigests(c, sd)
		if len(active) < want {
			out = append(out, fmt.Sprintf("shard %d: %d of %d replicas Active: %s", sd.Shard, len(active), want, desc))
			continue
		}
		for _, r := range active {
			if r.Err != "" || r.Digest == "" || r.Digest != active[0].Digest || r.Points != active[0].Points {
				out = append(out, fmt.Sprintf("shard %d: Active replicas differ: %s", sd.Shard, desc))
				break
			}
		}
	}
	return out
}

func describeDigests(c *procCluster, sd shardDigests) string {
	var parts []string
	for _, r := range sd.Replicas {
		role := ""
		if r.Primary {
			role = " (primary)"
		}
		s := fmt.Sprintf("%s%s %s at %d/%d points %d digest %s", c.nodeName(r.Node), role, r.State, r.LastTerm, r.LastSeq, r.Points, r.Digest)
		if r.Err != "" {
			s += " error " + r.Err
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// waitDigests polls the digests until the Active replicas of every shard
// agree (followers may still be applying the last shipped entries) or
// within has passed; it returns the last digests and what still differs.
func waitDigests(ctx context.Context, c *procCluster, collection string, want int, within time.Duration) ([]shardDigests, []string, error) {
	deadline := time.Now().Add(within)
	for {
		shards, _, err := fetchDigests(ctx, c.routerURLs[0], collection)
		var problems []string
		if err == nil {
			problems = digestProblems(c, shards, want)
			if len(problems) == 0 {
				return shards, nil, nil
			}
		}
		if time.Now().After(deadline) {
			return shards, problems, err
		}
		sleep(ctx, 250*time.Millisecond)
	}
}

// readAll retrieves every point of idSpace through base with
// consistency=all, and checks each record's vector against its version.
func readAll(ctx context.Context, base, collection string, idSpace []uint64, dim int) (map[uint64]observed, error) {
	got := map[uint64]observed{}
	for start := 0; start < len(idSpace); start += 256 {
		end := min(start+256, len(idSpace))
		body := map[string]any{"ids": idSpace[start:end], "with_payload": true, "with_vector": true}
		var r response
		var err error
		for try := 0; try < 20; try++ { // a read may hit a replica that is just going away
			r, err = call(ctx, http.MethodPost, base+"/collections/"+collection+"/points?consistency=all", body)
			if err == nil && r.Status == http.StatusOK {
				break
			}
			sleep(ctx, 250*time.Millisecond)
		}
		if err != nil {
			return nil, fmt.Errorf("retrieve through %s: %w", base, err)
		}
		if r.Status != http.StatusOK {
			return nil, fmt.Errorf("retrieve through %s: %d %s", base, r.Status, r.Raw)
		}
		recs, _ := r.Body["result"].([]any)
		for _, x := range recs {
			rec, _ := x.(map[string]any)
			id, ok := asInt64(rec["id"])
			if !ok {
				return nil, fmt.Errorf("record without a numeric id: %v", rec)
			}
			got[uint64(id)] = observe(uint64(id), rec, dim)
		}
	}
	return got, nil
}

func observe(id uint64, rec map[string]any, dim int) observed {
	pl, _ := rec["payload"].(map[string]any)
	v, ok := asInt64(pl["v"])
	if !ok {
		return observed{value: deleted, bad: fmt.Sprintf("payload without a version: %v", rec["payload"])}
	}
	vec, _ := rec["vector"].([]any)
	want := vectorFor(id, v, dim)
	if len(vec) != len(want) {
		return observed{value: v, bad: fmt.Sprintf("version %d: vector %v, want %v", v, rec["vector"], want)}
	}
	for i, x := range vec {
		f, _ := asFloat(x)
		if float32(f) != want[i] {
			return observed{value: v, bad: fmt.Sprintf("version %d: vector %v, want %v", v, rec["vector"], want)}
		}
	}
	return observed{value: v}
}

// countExact asks the router for the exact point count.
func countExact(ctx context.Context, base, collection string) (int64, error) {
	r, err := call(ctx, http.MethodPost, base+"/collections/"+collection+"/points/count", map[string]any{"exact": true})
	if err != nil {
		return 0, err
	}
	if r.Status != http.StatusOK {
		return 0, fmt.Errorf("count: %d %s", r.Status, r.Raw)
	}
	res, _ := r.Body["result"].(map[string]any)
	n, ok := asInt64(res["count"])
	if !ok {
		return 0, fmt.Errorf("count: no count in %s", r.Raw)
	}
	return n, nil
}
