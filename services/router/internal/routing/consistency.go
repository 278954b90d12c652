package routing

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shoaldb/shoal/pkg/pointid"
	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/router/internal/apierr"
)

// Level is a named read consistency level, or LevelFactor for a number of
// replicas.
type Level int

// The levels of Qdrant's `consistency` (REST) / `read_consistency` (gRPC)
// parameter.
const (
	// LevelFactor asks Factor replicas and keeps what every answer holds.
	LevelFactor Level = iota
	// LevelMajority asks every ACTIVE replica, needs more than half of
	// them to answer and keeps what more than half of the replicas hold.
	LevelMajority
	// LevelQuorum asks half of the ACTIVE replicas plus one and keeps
	// what every answer holds.
	LevelQuorum
	// LevelAll asks every ACTIVE replica and keeps what every one holds.
	LevelAll
)

// Consistency is a read's consistency: how many replicas of each shard
// answer it and how many of them must agree on an item. The zero value is
// Qdrant's default, one replica.
type Consistency struct {
	Level  Level
	Factor int
}

// String is the parameter's value as a client writes it.
func (rc Consistency) String() string {
	switch rc.Level {
	case LevelMajority:
		return "majority"
	case LevelQuorum:
		return "quorum"
	case LevelAll:
		return "all"
	}
	return strconv.Itoa(max(rc.Factor, 1))
}

// Single reports whether the read needs one replica only (the default),
// which takes the load-spreading, retrying single-replica path.
func (rc Consistency) Single() bool {
	return rc.Level == LevelFactor && rc.Factor <= 1
}

// plan returns, for a shard with n ACTIVE replicas, how many replicas to
// ask at first, how many answers are needed, and in how many answers an
// item must be present to be kept.
func (rc Consistency) plan(n int) (ask, need, keep int) {
	switch rc.Level {
	case LevelMajority:
		m := n/2 + 1
		return n, m, m
	case LevelQuorum:
		m := n/2 + 1
		return m, m, m
	case LevelAll:
		return n, n, n
	}
	f := max(rc.Factor, 1)
	return f, f, f
}

// ParseConsistency parses the REST `consistency` query parameter: a
// positive integer, `majority`, `quorum` or `all`. "" is the default. A
// bad value is a 400, as Qdrant's query deserialization error.
func ParseConsistency(s string) (Consistency, error) {
	switch strings.TrimSpace(s) {
	case "":
		return Consistency{}, nil
	case "majority":
		return Consistency{Level: LevelMajority}, nil
	case "quorum":
		return Consistency{Level: LevelQuorum}, nil
	case "all":
		return Consistency{Level: LevelAll}, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 31)
	if err != nil {
		return Consistency{}, apierr.New(apierr.BadRequest, "Query deserialize error: consistency: invalid value %q, expected a positive integer or one of `majority`, `quorum`, `all`", s)
	}
	if n == 0 {
		return Consistency{}, apierr.New(apierr.BadRequest, "Query deserialize error: consistency: Read consistency factor cannot be less than 1")
	}
	return Consistency{Factor: int(n)}, nil
}

type consistencyKey struct{}

// WithConsistency returns ctx carrying a read consistency. The API layers
// set it once per request from the request's parameter; every shard read
// the request makes (including the reads inside query, recommend,
// discover, groups and facets) then honours it without each operation
// passing it along.
func WithConsistency(ctx context.Context, rc Consistency) context.Context {
	if rc.Single() {
		return ctx
	}
	return context.WithValue(ctx, consistencyKey{}, rc)
}

// ConsistencyOf returns the read consistency ctx carries (the default
// when none).
func ConsistencyOf(ctx context.Context) Consistency {
	rc, _ := ctx.Value(consistencyKey{}).(Consistency)
	return rc
}

// ResolvePoints keeps the points present in at least keep of the answers
// (replicas' lists for the same request), each once, in the copy with the
// highest version. The result is in no particular order.
func ResolvePoints(answers [][]*shoalv1.Point, keep int) []*shoalv1.Point {
	return resolve(answers, keep, func(p *shoalv1.Point) string { return string(pointid.Key(p.GetId())) }, func(a, b *shoalv1.Point) bool {
		return a.GetVersion() > b.GetVersion()
	})
}

// ResolveScored is ResolvePoints for scored lists; the copy kept is the
// one of the highest point version.
func ResolveScored(answers [][]*shoalv1.ScoredPoint, keep int) []*shoalv1.ScoredPoint {
	return resolve(answers, keep, func(p *shoalv1.ScoredPoint) string { return string(pointid.Key(p.GetPoint().GetId())) }, func(a, b *shoalv1.ScoredPoint) bool {
		return a.GetPoint().GetVersion() > b.GetPoint().GetVersion()
	})
}

// ResolveOrdered is ResolvePoints for ordered scroll pages, where a point
// may occur once per value of its ordering field.
func ResolveOrdered(answers [][]OrderedPoint, keep int) []OrderedPoint {
	return resolve(answers, keep, func(p OrderedPoint) string {
		return string(pointid.Key(p.Point.GetId())) + "\x00" + strconv.FormatFloat(p.Value, 'g', -1, 64)
	}, func(a, b OrderedPoint) bool { return a.Point.GetVersion() > b.Point.GetVersion() })
}

// ResolveCount is the count agreed by at least keep answers, or the
// largest count when no value has that many.
func ResolveCount(answers []uint64, keep int) uint64 {
	votes := map[uint64]int{}
	var best uint64
	for _, n := range answers {
		votes[n]++
		best = max(best, n)
	}
	var agreed uint64
	found := false
	for n, v := range votes {
		if v >= keep && (!found || n > agreed) {
			agreed, found = n, true
		}
	}
	if found {
		return agreed
	}
	return best
}

// resolve keeps the items present in at least keep answers (an item
// counted once per answer), choosing among the copies by newer.
func resolve[T any](answers [][]T, keep int, key func(T) string, newer func(a, b T) bool) []T {
	type entry struct {
		item  T
		votes int
	}
	seen := map[string]*entry{}
	var order []string
	for _, list := range answers {
		inList := map[string]bool{}
		for _, it := range list {
			k := key(it)
			if inList[k] {
				continue
			}
			inList[k] = true
			e, ok := seen[k]
			if !ok {
				seen[k] = &entry{item: it, votes: 1}
				order = append(order, k)
				continue
			}
			e.votes++
			if newer(it, e.item) {
				e.item = it
			}
		}
	}
	out := make([]T, 0, len(order))
	for _, k := range order {
		if e := seen[k]; e.votes >= keep {
			out = append(out, e.item)
		}
	}
	return out
}

// consistencyError is the 503 of a read whose consistency cannot be met.
func consistencyError(rc Consistency, shard uint32, need, got int, detail string) error {
	msg := fmt.Sprintf("Read consistency `%s` needs %d replicas of shard %d to answer, %d did", rc, need, shard, got)
	if detail != "" {
		msg += ": " + detail
	}
	return apierr.NoService("%s", msg)
}
