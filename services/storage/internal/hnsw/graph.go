package hnsw

import (
	"fmt"
	"github.com/shoaldb/shoal/services/storage/internal/index"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/shoaldb/shoal/services/storage/internal/distance"
)

// noEntry marks an empty graph in Graph.entry.
const noEntry = math.MaxUint64

// Graph is an HNSW index over vectors keyed by strings. Nodes have dense
// uint32 ids in insertion order; a key re-added gets a new node and its
// old node becomes a tombstone. See the package comment for concurrency.
type Graph struct {
	cfg    Config
	metric distance.Metric
	sp     space
	dim    int
	m, m0  int
	mult   float64

	// grow is held shared by every operation that reads the arrays
	// below, and exclusively only while they are reallocated to a larger
	// capacity.
	grow     sync.RWMutex
	capacity int
	vecs     []float32              // capacity*dim
	links0   []uint32               // capacity*(m0+1): per node a count, then neighbour ids
	upper    [][]uint32             // per node: layers 1..level, (m+1) entries each
	levels   []uint8                // per node
	locks    []sync.Mutex           // per node, held while its neighbour lists change
	keys     []string               // per node
	dead     bitset                 // tombstones
	ready    bitset                 // vector, key and level written
	fields   map[string]*FieldLinks // filter-aware links per payload field (LinkField)

	nodes   atomic.Uint32 // ids handed out (ids < nodes exist)
	deleted atomic.Int64  // tombstoned nodes
	entry   atomic.Uint64 // level<<32 | id of the entry point, or noEntry
	entryMu sync.Mutex    // held by an insert that may raise the top level

	keyMu sync.Mutex
	ids   map[string]uint32 // live key -> node
	rng   *rand.Rand        // level generator, under keyMu

	searchers sync.Pool // *searcher
}

// New returns an empty graph for vectors of length dim scored with metric,
// with room for capacity nodes before it has to grow. cfg's zero fields
// take Qdrant's defaults.
func New(cfg Config, metric distance.Metric, dim, capacity int) (*Graph, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dim <= 0 {
		return nil, fmt.Errorf("hnsw: dimension must be positive, got %d", dim)
	}
	g := &Graph{
		cfg: cfg, metric: metric, sp: spaceFor(metric, dim), dim: dim,
		m: cfg.M, m0: cfg.m0(), mult: cfg.levelMult(),
		ids: make(map[string]uint32, capacity),
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
	}
	g.entry.Store(noEntry)
	g.resize(max(capacity, 16))
	return g, nil
}

// resize reallocates the per-node arrays for capacity nodes; the caller
// holds grow exclusively (or owns the graph alone).
func (g *Graph) resize(capacity int) {
	n := int(g.nodes.Load())
	vecs := make([]float32, capacity*g.dim)
	index.AdviseHuge(vecs)
	copy(vecs, g.vecs[:n*g.dim])
	links0 := make([]uint32, capacity*(g.m0+1))
	copy(links0, g.links0[:n*(g.m0+1)])
	upper := make([][]uint32, capacity)
	copy(upper, g.upper[:n])
	levels := make([]uint8, capacity)
	copy(levels, g.levels[:n])
	keys := make([]string, capacity)
	copy(keys, g.keys[:n])
	g.vecs, g.links0, g.upper, g.levels, g.keys = vecs, links0, upper, levels, keys
	// No lock is held while grow is held exclusively, so fresh ones do.
	g.locks = make([]sync.Mutex, capacity)
	g.dead = g.dead.grown(capacity)
	g.ready = g.ready.grown(capacity)
	g.capacity = capacity
}

// growFor makes room for at least need nodes.
func (g *Graph) growFor(need int) {
	g.grow.Lock()
	defer g.grow.Unlock()
	if need <= g.capacity {
		return
	}
	g.resize(max(need, g.capacity*2))
}

// Config is the graph's configuration with defaults applied.
func (g *Graph) Config() Config { return g.cfg }

// Metric is the distance the graph scores with.
func (g *Graph) Metric() distance.Metric { return g.metric }

// Dim is the vector length.
func (g *Graph) Dim() int { return g.dim }

// Len is the number of live (not deleted) points.
func (g *Graph) Len() int { return int(int64(g.nodes.Load()) - g.deleted.Load()) }

// Nodes is the number of nodes, tombstones included.
func (g *Graph) Nodes() int { return int(g.nodes.Load()) }

// Deleted is the number of tombstoned nodes.
func (g *Graph) Deleted() int { return int(g.deleted.Load()) }

// vec is node id's vector; the caller holds grow shared.
func (g *Graph) vec(id uint32) []float32 {
	o := int(id) * g.dim
	return g.vecs[o : o+g.dim : o+g.dim]
}

// list is node id's neighbour list on layer level: a count followed by
// room for the layer's degree bound. The caller holds grow shared.
func (g *Graph) list(id uint32, level int) []uint32 {
	if level == 0 {
		o := int(id) * (g.m0 + 1)
		return g.links0[o : o+g.m0+1 : o+g.m0+1]
	}
	o := (level - 1) * (g.m + 1)
	return g.upper[id][o : o+g.m+1 : o+g.m+1]
}

// randomLevel draws a node level: floor(-ln(U) * mL).
func (g *Graph) randomLevel() int {
	u := g.rng.Float64()
	if u == 0 {
		return maxLevel
	}
	return min(int(-math.Log(u)*g.mult), maxLevel)
}

// alloc reserves a node for key and writes its vector and level; an
// existing node of key becomes a tombstone. ok is false when the graph is
// full (grow and retry). The caller holds grow shared.
func (g *Graph) alloc(key string, vec []float32, level int) (id uint32, ok bool) {
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
	n := g.nodes.Load()
	if int(n) >= g.capacity {
		return 0, false
	}
	if level < 0 {
		level = g.randomLevel()
	}
	if old, had := g.ids[key]; had {
		g.kill(old)
	}
	id = n
	g.ids[key] = id
	g.keys[id] = key
	copy(g.vec(id), vec)
	g.levels[id] = uint8(level)
	if level > 0 {
		g.upper[id] = make([]uint32, level*(g.m+1))
	}
	g.nodes.Store(n + 1)
	g.ready.set(id)
	return id, true
}

// kill tombstones node id; the caller holds keyMu.
func (g *Graph) kill(id uint32) {
	if g.dead.set(id) {
		g.deleted.Add(1)
	}
}

// Delete tombstones key's node; it reports whether key was live.
func (g *Graph) Delete(key string) bool {
	g.grow.RLock()
	defer g.grow.RUnlock()
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
	id, ok := g.ids[key]
	if !ok {
		return false
	}
	delete(g.ids, key)
	g.kill(id)
	return true
}

// Contains reports whether key is live.
func (g *Graph) Contains(key string) bool {
	g.keyMu.Lock()
	defer g.keyMu.Unlock()
	_, ok := g.ids[key]
	return ok
}

// Vector returns key's stored vector. It stays valid until the graph
// grows (an Add beyond its capacity).
func (g *Graph) Vector(key string) ([]float32, bool) {
	g.grow.RLock()
	defer g.grow.RUnlock()
	g.keyMu.Lock()
	id, ok := g.ids[key]
	g.keyMu.Unlock()
	if !ok {
		return nil, false
	}
	return g.vec(id), true
}

// Live calls fn for every live point in node order until fn returns false.
// The vector passed is the graph's own; fn must not keep it past an Add
// that grows the graph, and must not call Add itself.
func (g *Graph) Live(fn func(key string, vec []float32) bool) {
	g.grow.RLock()
	defer g.grow.RUnlock()
	n := g.nodes.Load()
	for id := range n {
		if g.dead.has(id) || !g.ready.has(id) {
			continue
		}
		if !fn(g.keys[id], g.vec(id)) {
			return
		}
	}
}

// bitset is a growable set of node ids with atomic bit operations.
type bitset []uint32

func (b bitset) grown(n int) bitset {
	out := make(bitset, (n+31)/32)
	for i := range b {
		out[i] = atomic.LoadUint32(&b[i])
	}
	return out
}

func (b bitset) word(i int) uint32 { return atomic.LoadUint32(&b[i]) }

func loadU32(p *uint32) uint32 { return atomic.LoadUint32(p) }

func (b bitset) has(id uint32) bool {
	return atomic.LoadUint32(&b[id>>5])&(1<<(id&31)) != 0
}

// set sets id's bit and reports whether it was clear.
func (b bitset) set(id uint32) bool {
	bit := uint32(1) << (id & 31)
	return atomic.OrUint32(&b[id>>5], bit)&bit == 0
}
