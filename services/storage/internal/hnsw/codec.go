package hnsw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	shoalv1 "github.com/shoaldb/shoal/proto/gen/shoal/v1"
	"github.com/shoaldb/shoal/services/storage/internal/distance"
)

// The serialized graph, little endian throughout:
//
//	magic "SHOALHNS", u32 version (2; 1 has no field links)
//	u32 distance, u32 dim, u32 m, u32 ef_construct, u32 flags (1: KeepPruned), u64 seed
//	u32 nodes, u64 entry (level<<32 | id, or all ones when empty)
//	nodes × u8 level
//	(nodes+31)/32 × u32 tombstone bits
//	nodes × (u32 length, key bytes)
//	nodes × dim × f32 vectors
//	nodes × (m0+1) × u32 layer-0 lists (count, then ids)
//	for each node with level L > 0: L × (m+1) × u32 upper lists
//	version 2: the field links (LinkField), see appendFields
//	u32 CRC-32C of everything before it
const (
	codecMagic   = "SHOALHNS"
	codecVersion = 2
)

// ErrCorrupt is wrapped by Unmarshal errors about malformed input.
var ErrCorrupt = errors.New("hnsw: corrupt graph encoding")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Marshal encodes the graph, vectors and tombstones included, so that
// Unmarshal restores it without re-indexing. It may run concurrently with
// Search and Delete (a concurrent Delete may or may not be included) but
// not with Add.
func (g *Graph) Marshal() []byte {
	g.grow.RLock()
	defer g.grow.RUnlock()
	n := int(g.nodes.Load())
	size := 8 + 4 + 6*4 + 8 + 4 + 8 + n + 4*((n+31)/32) + n*4 + n*g.dim*4 + n*(g.m0+1)*4 + 4
	for id := range n {
		size += len(g.keys[id]) + int(g.levels[id])*(g.m+1)*4
	}
	b := make([]byte, 0, size)
	le := binary.LittleEndian
	b = append(b, codecMagic...)
	b = le.AppendUint32(b, codecVersion)
	var flags uint32
	if g.cfg.KeepPruned {
		flags |= 1
	}
	for _, v := range []uint32{uint32(g.metric.Kind()), uint32(g.dim), uint32(g.m), uint32(g.cfg.EfConstruct), flags} {
		b = le.AppendUint32(b, v)
	}
	b = le.AppendUint64(b, g.cfg.Seed)
	b = le.AppendUint32(b, uint32(n))
	b = le.AppendUint64(b, g.entry.Load())
	b = append(b, g.levels[:n]...)
	for i := range (n + 31) / 32 {
		b = le.AppendUint32(b, g.dead.word(i))
	}
	for id := range n {
		b = le.AppendUint32(b, uint32(len(g.keys[id])))
		b = append(b, g.keys[id]...)
	}
	for _, f := range g.vecs[:n*g.dim] {
		b = le.AppendUint32(b, math.Float32bits(f))
	}
	for id := range uint32(n) {
		b = g.appendList(b, g.list(id, 0))
	}
	for id := range uint32(n) {
		for l := 1; l <= int(g.levels[id]); l++ {
			b = g.appendList(b, g.list(id, l))
		}
	}
	b = appendFields(b, g.fields, n)
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// appendList appends a neighbour list. Without concurrent Adds nothing
// changes it; the loads are atomic only to pair with the writers'.
func (g *Graph) appendList(b []byte, lst []uint32) []byte {
	for i := range lst {
		b = binary.LittleEndian.AppendUint32(b, loadU32(&lst[i]))
	}
	return b
}

// decoder reads the encoding, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("%w: truncated", ErrCorrupt)
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// Unmarshal restores a graph encoded by Marshal. It checks the checksum
// and every id, count and length, so corrupt input gives an error
// wrapping ErrCorrupt, never a panic or a graph that could misbehave.
func Unmarshal(blob []byte) (*Graph, error) {
	if len(blob) < len(codecMagic)+8 {
		return nil, fmt.Errorf("%w: too short", ErrCorrupt)
	}
	body, sum := blob[:len(blob)-4], binary.LittleEndian.Uint32(blob[len(blob)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	d := &decoder{b: body}
	if string(d.take(len(codecMagic))) != codecMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	version := d.u32()
	if version != 1 && version != codecVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, version)
	}
	kind, dim, m, efc, flags := d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	seed := d.u64()
	n := int(d.u32())
	entry := d.u64()
	if d.err != nil {
		return nil, d.err
	}
	metric, err := distance.For(shoalv1.Distance(kind))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	cfg := Config{M: int(m), EfConstruct: int(efc), KeepPruned: flags&1 != 0, Seed: seed}
	if err := cfg.Validate(); err != nil || seed == 0 || dim == 0 || dim > 1<<16 {
		return nil, fmt.Errorf("%w: bad header", ErrCorrupt)
	}
	// Check the fixed-size sections fit before allocating for them.
	fixed := uint64(n) * (1 + 4 + uint64(dim)*4 + uint64(2*m+1)*4)
	if fixed > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	g, err := New(cfg, metric, int(dim), n)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := g.decodeBody(d, n, entry, version); err != nil {
		return nil, err
	}
	return g, nil
}

// decodeBody fills a fresh graph from the encoding after the header.
func (g *Graph) decodeBody(d *decoder, n int, entry uint64, version uint32) error {
	le := binary.LittleEndian
	copy(g.levels, d.take(n))
	maxL := 0
	for _, l := range g.levels[:n] {
		if l > maxLevel {
			return fmt.Errorf("%w: level %d", ErrCorrupt, l)
		}
		maxL = max(maxL, int(l))
	}
	words := (n + 31) / 32
	for i := range words {
		g.dead[i] = d.u32()
	}
	if n%32 != 0 && words > 0 && g.dead[words-1]>>(n%32) != 0 {
		return fmt.Errorf("%w: tombstone beyond the last node", ErrCorrupt)
	}
	for id := range n {
		key := string(d.take(int(d.u32())))
		if d.err != nil {
			return d.err
		}
		g.keys[id] = key
		if g.dead.has(uint32(id)) {
			g.deleted.Add(1)
			continue
		}
		if _, dup := g.ids[key]; dup {
			return fmt.Errorf("%w: key %q live twice", ErrCorrupt, key)
		}
		g.ids[key] = uint32(id)
	}
	raw := d.take(n * g.dim * 4)
	for i := range n * g.dim {
		g.vecs[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
	}
	if err := g.decodeLists(d, g.links0[:n*(g.m0+1)], g.m0, n); err != nil {
		return err
	}
	for id := range n {
		if l := int(g.levels[id]); l > 0 {
			if l*(g.m+1)*4 > len(d.b) {
				return fmt.Errorf("%w: truncated", ErrCorrupt)
			}
			g.upper[id] = make([]uint32, l*(g.m+1))
			if err := g.decodeLists(d, g.upper[id], g.m, n); err != nil {
				return err
			}
		}
	}
	if version >= 2 {
		fields, err := decodeFields(d, n)
		if err != nil {
			return err
		}
		g.fields = fields
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	switch {
	case n == 0 && entry != noEntry, n > 0 && (entry == noEntry || int(uint32(entry)) >= n || int(entry>>32) != maxL || int(g.levels[uint32(entry)]) != maxL):
		return fmt.Errorf("%w: bad entry point", ErrCorrupt)
	}
	g.entry.Store(entry)
	g.nodes.Store(uint32(n))
	for id := range uint32(n) {
		g.ready.set(id)
	}
	return nil
}

// decodeLists reads lists of (bound+1) words into dst, checking counts and
// ids.
func (g *Graph) decodeLists(d *decoder, dst []uint32, bound, n int) error {
	raw := d.take(len(dst) * 4)
	if d.err != nil {
		return d.err
	}
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	for o := 0; o < len(dst); o += bound + 1 {
		cnt := int(dst[o])
		if cnt > bound {
			return fmt.Errorf("%w: neighbour count %d over %d", ErrCorrupt, cnt, bound)
		}
		for _, id := range dst[o+1 : o+1+cnt] {
			if int(id) >= n {
				return fmt.Errorf("%w: neighbour %d of %d nodes", ErrCorrupt, id, n)
			}
		}
	}
	return nil
}
