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

// Groups returns, for every keyword, uuid, integer (with lookup) and bool
// index, the positions in keys of the points holding exactly one value,
// by that value (GroupValue), keeping values held by at least minSize of
// them (a field without such a value maps to an empty map). Points
// holding several values of a field are in none of its groups.
func (s *Set) Groups(keys []string, minSize int) map[string]map[string][]uint32 {
	out := map[string]map[string][]uint32{}
	for name, f := range s.fields {
		var groups map[string][]uint32
		switch {
		case f.kw != nil:
			groups = groupBy(f.kw, keys)
		case f.ints != nil:
			groups = groupBy(f.ints, keys)
		case f.bools != nil:
			groups = groupBy(f.bools, keys)
		default:
			continue
		}
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
		var big bool
		switch {
		case f.kw != nil:
			big = hasBigValue(f.kw, minSize)
		case f.ints != nil:
			big = hasBigValue(f.ints, minSize)
		case f.bools != nil:
			big = hasBigValue(f.bools, minSize)
		}
		if big {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// hasBigValue reports whether a value of h is held by minSize points.
func hasBigValue[T comparable](h *hashIndex[T], minSize int) bool {
	for _, keys := range h.points {
		if len(keys) >= minSize {
			return true
		}
	}
	return false
}

// groupBy groups the positions of keys by their single value in h.
func groupBy[T comparable](h *hashIndex[T], keys []string) map[string][]uint32 {
	groups := map[string][]uint32{}
	for pos, key := range keys {
		vals := h.forward[key]
		if len(vals) != 1 {
			continue
		}
		name, ok := GroupValue(any(vals[0]))
		if ok {
			groups[name] = append(groups[name], uint32(pos))
		}
	}
	return groups
}

// LinkedValue reports the field and value (GroupValue) that every point
// matching a condition of a filter's must holds, when the condition is a
// plain match of one value on a field indexed for it: the field whose
// group links a search may walk.
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
	default:
		ok = false
	}
	if !ok {
		return "", false
	}
	return GroupValue(value)
}
