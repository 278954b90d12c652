package replica

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/wal"
)

// killChildEnv names the replica file TestKill9Child writes to; the test
// is a no-op without it.
const killChildEnv = "SHOAL_REPLICA_KILL_CHILD"

// killRoundEnv numbers the child runs, so that every run upserts new ids.
const killRoundEnv = "SHOAL_REPLICA_KILL_ROUND"

// killConfig seals a segment every 128 points (1 KB of 2-dim vectors), so
// that the child is also killed while segments are built and written.
func killConfig() *shoalv1.CollectionConfig {
	cfg := single(2, shoalv1.Distance_DISTANCE_DOT)
	cfg.ExtraJson = []byte(`{"optimizers_config":{"indexing_threshold":1}}`)
	return cfg
}

// TestKill9Child is the process TestKill9Durability kills. It ingests from
// several goroutines (so that operations share commits) and prints one
// line per acknowledged operation:
//
//	up <seq> <id> <g>       upsert of a new point of writer g (ids are
//	                        round << 40 | g << 32 | n: never reused)
//	set <seq> <id> <n>      set_payload {"s<n>": n} on point id
//	flt <seq> <g> <n>       set_payload {"f<n>": n} by filter g == writer
func TestKill9Child(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		t.Skip("only run by TestKill9Durability")
	}
	round, _ := strconv.ParseUint(os.Getenv(killRoundEnv), 10, 64)
	r, err := Open(path, killConfig(), zerolog.Nop())
	if err != nil {
		fmt.Printf("open: %v\n", err)
		os.Exit(3)
	}
	ctx := context.Background()
	if _, err := r.Apply(ctx, createIndexOp("g", `"integer"`), true); err != nil {
		fmt.Printf("index: %v\n", err)
		os.Exit(3)
	}
	var out sync.Mutex
	ack := func(format string, args ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	deadline := time.Now().Add(20 * time.Second) // never outlive a dead parent for long
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []uint64
			for n := 0; time.Now().Before(deadline); n++ {
				var op *shoalv1.Operation
				var line func(seq uint64)
				switch {
				case n%5 == 3 && len(mine) > 0:
					id := mine[n%len(mine)]
					op = setPayloadOp(sel(id), fmt.Sprintf(`{"s%d":%d}`, n, n), "")
					line = func(seq uint64) { ack("set %d %d %d", seq, id, n) }
				case n%7 == 6:
					op = setPayloadOp(byFilter(fmt.Sprintf(`{"must":{"key":"g","match":{"value":%d}}}`, g)), fmt.Sprintf(`{"f%d":%d}`, n, n), "")
					line = func(seq uint64) { ack("flt %d %d %d", seq, g, n) }
				default:
					id := round<<40 | uint64(g)<<32 | uint64(n)
					op = upsertOp(point(id, fmt.Sprintf(`{"g":%d,"n":%d}`, g, n), map[string][]float32{"": {float32(g), float32(n)}}))
					line = func(seq uint64) { ack("up %d %d %d", seq, id, g) }
					mine = append(mine, id)
				}
				seq, err := r.Apply(ctx, op, n%2 == 0)
				if err != nil {
					fmt.Printf("apply: %v\n", err)
					os.Exit(3)
				}
				line(seq)
			}
		}()
	}
	wg.Wait()
}

// ack is one acknowledged operation read from the child.
type ack struct {
	kind       string
	seq, id, n uint64
}

// TestKill9Durability runs TestKill9Child in a child process, kills it with
// SIGKILL after a varying number of acknowledged operations, reopens the
// replica and checks that the file is intact and that every acknowledged
// operation is there.
func TestKill9Durability(t *testing.T) {
	if os.Getenv(killChildEnv) != "" {
		t.Skip("in the child")
	}
	path := t.TempDir() + "/shard-0.db"
	var acks []ack
	for round, after := range []int{1, 150, 400, 60} {
		acks = append(acks, runAndKill(t, path, round, after)...)
		checkAfterKill(t, path, acks, round)
	}
}

// runAndKill starts the child, reads acknowledgements until it has
// `after` of them (or 5 s passed), kills it and returns what it read.
func runAndKill(t *testing.T, path string, round, after int) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path, fmt.Sprintf("%s=%d", killRoundEnv, round))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(5*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var acks []ack
	rd := bufio.NewReader(stdout)
	for len(acks) < after {
		line, err := rd.ReadString('\n')
		if err != nil {
			break // killed by the timer, or exited
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			t.Fatalf("child said %q", line)
		}
		a := ack{kind: f[0]}
		a.seq, _ = strconv.ParseUint(f[1], 10, 64)
		a.id, _ = strconv.ParseUint(f[2], 10, 64)
		a.n, _ = strconv.ParseUint(f[3], 10, 64)
		acks = append(acks, a)
	}
	_ = cmd.Process.Kill()
	// Acknowledgements printed before the kill landed count too.
	rest, _ := io.ReadAll(rd)
	for _, line := range strings.SplitAfter(string(rest), "\n") {
		f := strings.Fields(line)
		if !strings.HasSuffix(line, "\n") || len(f) != 4 {
			continue
		}
		a := ack{kind: f[0]}
		a.seq, _ = strconv.ParseUint(f[1], 10, 64)
		a.id, _ = strconv.ParseUint(f[2], 10, 64)
		a.n, _ = strconv.ParseUint(f[3], 10, 64)
		acks = append(acks, a)
	}
	_ = cmd.Wait()
	if len(acks) == 0 {
		t.Fatal("the child acknowledged nothing")
	}
	return acks
}

func checkAfterKill(t *testing.T, path string, acks []ack, round int) {
	t.Helper()
	ctx := context.Background()
	r, err := Open(path, killConfig(), zerolog.Nop())
	if err != nil {
		t.Fatalf("round %d: reopen after kill -9: %v", round, err)
	}
	defer r.Close()
	// The whole retained WAL reads back with valid checksums.
	records := 0
	if err := r.ReadWAL(ctx, 0, func(wal.Entry) error { records++; return nil }); err != nil {
		t.Fatalf("round %d: WAL: %v", round, err)
	}
	_, last := r.LastApplied()
	payloads := map[uint64]map[string]any{}
	resp, err := r.Scroll(ctx, &shoalv1.ScrollRequest{Limit: 1 << 30, WithPayload: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.Points {
		m := map[string]any{}
		if err := json.Unmarshal(p.Payload, &m); err != nil {
			t.Fatal(err)
		}
		payloads[p.Id.GetNum()] = m
	}
	writerPoints := map[uint64][]uint64{} // writer -> its acknowledged points, in order
	for _, a := range acks {
		if a.seq > last {
			t.Fatalf("round %d: acknowledged seq %d but the replica ends at %d", round, a.seq, last)
		}
		switch a.kind {
		case "up":
			if _, ok := payloads[a.id]; !ok {
				t.Fatalf("round %d: acknowledged upsert of %d (seq %d) lost", round, a.id, a.seq)
			}
			writerPoints[a.n] = append(writerPoints[a.n], a.id)
		case "set":
			if v, ok := payloads[a.id][fmt.Sprintf("s%d", a.n)]; !ok || v != float64(a.n) {
				t.Fatalf("round %d: acknowledged set_payload s%d on %d (seq %d) lost: %v", round, a.n, a.id, a.seq, payloads[a.id])
			}
		case "flt":
			// Every point the writer had upserted before (in this run or
			// an earlier one) matched the filter.
			for _, id := range writerPoints[a.id] {
				if _, ok := payloads[id][fmt.Sprintf("f%d", a.n)]; !ok {
					t.Fatalf("round %d: acknowledged set_payload f%d by filter (seq %d) missing on %d: %v", round, a.n, a.seq, id, payloads[id])
				}
			}
		}
	}
	// The rebuilt payload index agrees with the stored payloads.
	for g := range uint64(4) {
		want := 0
		for _, m := range payloads {
			if m["g"] == float64(g) {
				want++
			}
		}
		n, err := r.CountFilter(ctx, []byte(fmt.Sprintf(`{"must":{"key":"g","match":{"value":%d}}}`, g)))
		if err != nil || n != uint64(want) {
			t.Fatalf("round %d: count g=%d is %d (%v), payloads say %d", round, g, n, err, want)
		}
	}
	if _, err := r.Get(ctx, []*shoalv1.PointID{pointid.Num(0)}, true, nil); err != nil {
		t.Fatal(err)
	}
	// The vector index (stored segments plus re-indexed points) holds
	// exactly the stored points, before and after sealing what is due.
	loaded := r.SegmentStats()[""]
	for _, when := range []string{"loaded", "optimized"} {
		if when == "optimized" {
			if err := r.Optimize(ctx); err != nil {
				t.Fatalf("round %d: optimize: %v", round, err)
			}
		}
		hits, err := r.Search(ctx, &shoalv1.SearchRequest{Vector: &shoalv1.Vector{Data: []float32{1, 1}}, Limit: uint32(len(payloads) + 10), Exact: true})
		if err != nil || len(hits) != len(payloads) {
			t.Fatalf("round %d (%s): exact search over everything gave %d hits (%v), %d points stored", round, when, len(hits), err, len(payloads))
		}
		if st := r.SegmentStats()[""]; st.Indexed+st.Plain != len(payloads) {
			t.Fatalf("round %d (%s): segments hold %+v, %d points stored", round, when, st, len(payloads))
		}
	}
	t.Logf("round %d: %d acknowledged operations present; replica at seq %d with %d points, %d WAL records; segments at open %+v",
		round, len(acks), last, len(payloads), records, loaded)
}
