package payloadindex

import (
	"sort"
	"strconv"
)

// GroupValue is the name of a discrete value in Groups and in a search
// through group links: a keyword or uuid string, an integer, or a bool,
// with its kind so that "1", 1 and true stay apart. ok is false for other
// values.
func GroupValue(v any) (name string, ok bool) {
	switch x := v.(type) {
	case string:
		return "s" + x, true
	case int64:
		return "i" + strconv.FormatInt(x, 10), true
	case bool:
		return "b" + strconv.FormatBool(x), true
	}
	return "", false
}

// discrete is what Groups and LinkableFields need of a hash index.
type discrete interface {
	// groupBy groups the positions of keys by their single value.
	groupBy(keys []string) map[string][]uint32
	// heldBy reports whether a value is held by at least n points.
	heldBy(n int) bool
}

// discrete is the field's keyword / uuid, integer (lookup) or bool
// index, or nil.
func (f *Field) discrete() discrete {
	switch {
	case f.kw != nil:
		return f.kw
	case f.ints != nil:
		return f.ints
	case f.bools != nil:
		return f.bools
	}
	return nil
}

// Groups returns, for every keyword, uuid, integer (with lookup) and bool
// index, the positions in keys of the points holding exactly one value,
// by that value (GroupValue), keeping values held by at least minSize of
// them (a field without such a value maps to an empty map). Points
// holding several values of a field are in none of its groups.
func (s *Set) Groups(keys []string, minSize int) map[string]map[string][]uint32 {
	out := map[string]map[string][]uint32{}
	for name, f := range s.fields {
		d := f.discrete()
		if d == nil {
			continue
		}
		groups := d.groupBy(keys)
		for v, pos := range groups {
			if len(pos) < minSize {
				delete(groups, v)
			}
		}
		out[name] = groups
	}
	return out
}

// LinkableFields lists the keyword, uuid, integer (with lookup) and bool
// indexes with a value held by at least minSize points: the fields whose
// values sealed segments may link (see Groups).
func (s *Set) LinkableFields(minSize int) []string {
	var out []string
	for name, f := range s.fields {
		if d := f.discrete(); d != nil && d.heldBy(minSize) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (h *hashIndex[T]) heldBy(n int) bool {
	for _, keys := range h.points {
		if len(keys) >= n {
			return true
		}
	}
	return false
}

func (h *hashIndex[T]) groupBy(keys []string) map[string][]uint32 {
	groups := map[string][]uint32{}
	for pos, key := range keys {
		vals := h.forward[key]
		if len(vals) != 1 {
			continue
		}
		if name, ok := GroupValue(any(vals[0])); ok {
			groups[name] = append(groups[name], uint32(pos))
		}
	}
	return groups
}

// LinkedValue returns the group name (GroupValue) under which the points
// holding value in field were linked (see Groups): ok when field has the
// hash index for value's kind.
func (s *Set) LinkedValue(field string, value any) (string, bool) {
	f, ok := s.fields[field]
	if !ok {
		return "", false
	}
	switch value.(type) {
	case string:
		ok = f.kw != nil
	case int64:
		ok = f.ints != nil
	case bool:
		ok = f.bools != nil
	}
	if !ok {
		return "", false
	}
	return GroupValue(value)
}
