package hnsw

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// The field links in a graph's encoding (version 2), little endian:
//
//	u32 fields; per field, in name order:
//	  u32 length, name bytes
//	  u32 groups; per group number 1..groups: u32 length, value bytes, u32 entry node, u32 size
//	  when groups > 0:
//	  nodes × u32 group number (0: not linked)
//	  (nodes+1) × u32 list offsets
//	  offsets[nodes] × u32 links

// appendFields appends the encoding of fields for a graph of n nodes
// (nodes added after LinkField are written as not linked).
func appendFields(b []byte, fields map[string]*FieldLinks, n int) []byte {
	le := binary.LittleEndian
	var names []string
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if !fields[name].ephemeral {
			names = append(names, name)
		}
	}
	b = le.AppendUint32(b, uint32(len(names)))
	for _, name := range names {
		f := fields[name]
		b = le.AppendUint32(b, uint32(len(name)))
		b = append(b, name...)
		values := make([]string, len(f.entry))
		for v, num := range f.groups {
			values[num] = v
		}
		b = le.AppendUint32(b, uint32(len(f.groups)))
		for num := 1; num < len(f.entry); num++ {
			b = le.AppendUint32(b, uint32(len(values[num])))
			b = append(b, values[num]...)
			b = le.AppendUint32(b, f.entry[num])
			b = le.AppendUint32(b, f.size[num])
		}
		if len(f.groups) == 0 {
			continue
		}
		linked := len(f.groupOf)
		for id := range n {
			var num uint32
			if id < linked {
				num = f.groupOf[id]
			}
			b = le.AppendUint32(b, num)
		}
		for id := range n + 1 {
			b = le.AppendUint32(b, f.off[min(id, linked)])
		}
		for _, v := range f.links {
			b = le.AppendUint32(b, v)
		}
	}
	return b
}

// decodeFields reads the field links of a graph of n nodes, checking
// every number against n and the group counts.
func decodeFields(d *decoder, n int) (map[string]*FieldLinks, error) {
	count := int(d.u32())
	if count > len(d.b) {
		return nil, fmt.Errorf("%w: %d fields", ErrCorrupt, count)
	}
	fields := make(map[string]*FieldLinks, count)
	words := func(k int) []uint32 {
		if k < 0 || k > len(d.b)/4 {
			d.err = fmt.Errorf("%w: truncated", ErrCorrupt)
			return nil
		}
		raw := d.take(4 * k)
		out := make([]uint32, k)
		for i := range out {
			out[i] = binary.LittleEndian.Uint32(raw[4*i:])
		}
		return out
	}
	for range count {
		name := string(d.take(int(d.u32())))
		groups := int(d.u32())
		if d.err != nil {
			return nil, d.err
		}
		if groups > len(d.b) {
			return nil, fmt.Errorf("%w: field %q: %d groups", ErrCorrupt, name, groups)
		}
		f := &FieldLinks{groups: make(map[string]uint32, groups), entry: []uint32{0}, size: []uint32{0}}
		for num := 1; num <= groups; num++ {
			value := string(d.take(int(d.u32())))
			entry, size := d.u32(), d.u32()
			if _, dup := f.groups[value]; dup || d.err != nil || int(entry) >= n {
				return nil, fmt.Errorf("%w: field %q: bad group %d", ErrCorrupt, name, num)
			}
			f.groups[value] = uint32(num)
			f.entry = append(f.entry, entry)
			f.size = append(f.size, size)
		}
		if groups == 0 {
			fields[name] = f
			continue
		}
		f.groupOf, f.off = words(n), words(n+1)
		if d.err != nil {
			return nil, d.err
		}
		f.links = words(int(f.off[n]))
		if d.err != nil {
			return nil, d.err
		}
		if err := f.check(n); err != nil {
			return nil, fmt.Errorf("%w: field %q: %v", ErrCorrupt, name, err)
		}
		fields[name] = f
	}
	return fields, nil
}

// check validates decoded links: offsets rise, ids are nodes, members
// count as their group's size, and entries and links stay in their group.
func (f *FieldLinks) check(n int) error {
	seen := make([]uint32, len(f.size))
	for id := range n {
		num := f.groupOf[id]
		if int(num) >= len(f.size) {
			return fmt.Errorf("node %d in group %d of %d", id, num, len(f.size)-1)
		}
		seen[num]++
		if f.off[id] > f.off[id+1] {
			return fmt.Errorf("offsets fall at node %d", id)
		}
		for _, nb := range f.links[f.off[id]:f.off[id+1]] {
			if int(nb) >= n || num == 0 || f.groupOf[nb] != num {
				return fmt.Errorf("link %d-%d outside its group", id, nb)
			}
		}
	}
	for num := 1; num < len(f.size); num++ {
		if seen[num] != f.size[num] || f.groupOf[f.entry[num]] != uint32(num) {
			return fmt.Errorf("group %d: %d members, size %d", num, seen[num], f.size[num])
		}
	}
	return nil
}
