package payloadindex

// hashIndex maps discrete values to the points holding them. It keeps
// every point's values (forward) so that updates can remove the old ones
// and conditions can be checked per point.
type hashIndex[T comparable] struct {
	extract func(leaf any) (T, bool)
	forward map[string][]T
	points  map[T]map[string]struct{}
}

func newHash[T comparable](extract func(any) (T, bool)) *hashIndex[T] {
	return &hashIndex[T]{extract: extract, forward: map[string][]T{}, points: map[T]map[string]struct{}{}}
}

// set replaces key's values with the extractable leaves of values.
func (h *hashIndex[T]) set(key string, leaves []any) {
	var vals []T
	for _, l := range leaves {
		v, ok := h.extract(l)
		if !ok || containsValue(vals, v) {
			continue
		}
		vals = append(vals, v)
	}
	if old, ok := h.forward[key]; ok && sameValues(old, vals) {
		return
	}
	h.remove(key)
	if len(vals) == 0 {
		return
	}
	h.forward[key] = vals
	for _, v := range vals {
		set := h.points[v]
		if set == nil {
			set = map[string]struct{}{}
			h.points[v] = set
		}
		set[key] = struct{}{}
	}
}

func (h *hashIndex[T]) remove(key string) {
	for _, v := range h.forward[key] {
		if set := h.points[v]; set != nil {
			delete(set, key)
			if len(set) == 0 {
				delete(h.points, v)
			}
		}
	}
	delete(h.forward, key)
}

func (h *hashIndex[T]) count() int { return len(h.forward) }

// estimate is the number of points holding one of vals (an upper bound
// when a point holds several).
func (h *hashIndex[T]) estimate(vals []T) int {
	n := 0
	for _, v := range vals {
		n += len(h.points[v])
	}
	return n
}

// keys returns the points holding one of vals.
func (h *hashIndex[T]) keys(vals []T) []string {
	if len(vals) == 1 {
		out := make([]string, 0, len(h.points[vals[0]]))
		for k := range h.points[vals[0]] {
			out = append(out, k)
		}
		return out
	}
	seen := map[string]struct{}{}
	for _, v := range vals {
		for k := range h.points[v] {
			seen[k] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	return out
}

// checker answers "key holds one of vals".
func (h *hashIndex[T]) checker(vals []T) func(string) bool {
	return func(key string) bool {
		for _, v := range h.forward[key] {
			if containsValue(vals, v) {
				return true
			}
		}
		return false
	}
}

func containsValue[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// sameValues reports whether a and b hold the same distinct values.
func sameValues[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for _, v := range a {
		if !containsValue(b, v) {
			return false
		}
	}
	return true
}
