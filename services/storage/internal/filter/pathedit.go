package filter

// Merge copies src's keys into dest, the way Qdrant's set_payload merges:
// a key whose value in src is null is removed from dest; any other value
// replaces dest's.
func Merge(dest, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dest, k)
			continue
		}
		dest[k] = v
	}
}

// SetAt merges src into the object at path p inside dest (set_payload with
// a `key`), creating what is missing on the way the way Qdrant does:
//   - a key step turns a value that is not an object into an empty object;
//   - an index step turns a value that is not an array into an empty array
//     and then only descends into an element that exists;
//   - a `[]` step descends into every element of an array and turns any
//     other value into an empty array;
//   - at the end, a value that is not an object becomes an empty object
//     before src is merged into it.
//
// src's values are shared, not copied.
func SetAt(dest map[string]any, p Path, src map[string]any) {
	setInMap(dest, p.First, p.Rest, src, false)
}

// ReplaceAt is SetAt that replaces the object at p with a copy of src
// instead of merging into it (overwrite_payload with a `key`).
func ReplaceAt(dest map[string]any, p Path, src map[string]any) {
	setInMap(dest, p.First, p.Rest, src, true)
}

func setInMap(m map[string]any, key string, rest []Step, src map[string]any, replace bool) {
	m[key] = setValue(m[key], rest, src, replace)
}

// setValue returns v with src merged (or put, with replace) at rest.
func setValue(v any, rest []Step, src map[string]any, replace bool) any {
	if len(rest) == 0 {
		obj, ok := v.(map[string]any)
		if !ok || replace {
			obj = make(map[string]any, len(src))
		}
		if replace {
			for k, x := range src {
				obj[k] = x
			}
			return obj
		}
		Merge(obj, src)
		return obj
	}
	s, tail := rest[0], rest[1:]
	switch s.Kind {
	case StepKey:
		obj, ok := v.(map[string]any)
		if !ok {
			obj = map[string]any{}
		}
		setInMap(obj, s.Key, tail, src, replace)
		return obj
	case StepIndex:
		arr, ok := v.([]any)
		if !ok {
			return []any{}
		}
		if s.Index < len(arr) {
			arr[s.Index] = setValue(arr[s.Index], tail, src, replace)
		}
		return arr
	default: // StepAll
		arr, ok := v.([]any)
		if !ok {
			return []any{}
		}
		for i := range arr {
			arr[i] = setValue(arr[i], tail, src, replace)
		}
		return arr
	}
}

// RemoveAt deletes what p selects from obj (delete_payload), and reports
// whether anything was removed. A final key step removes that key, a final
// `[]` step empties the array, and a final index step removes nothing
// (deleting by index is not idempotent, as in Qdrant).
func RemoveAt(obj map[string]any, p Path) bool {
	v, ok := obj[p.First]
	if !ok {
		return false
	}
	if len(p.Rest) == 0 {
		delete(obj, p.First)
		return true
	}
	nv, removed := removeIn(v, p.Rest)
	obj[p.First] = nv
	return removed
}

// removeIn removes steps' target below v and returns v's replacement.
func removeIn(v any, steps []Step) (any, bool) {
	s, rest := steps[0], steps[1:]
	last := len(rest) == 0
	switch s.Kind {
	case StepKey:
		m, ok := v.(map[string]any)
		if !ok {
			return v, false
		}
		child, ok := m[s.Key]
		if !ok {
			return v, false
		}
		if last {
			delete(m, s.Key)
			return m, true
		}
		nc, removed := removeIn(child, rest)
		m[s.Key] = nc
		return m, removed
	case StepIndex:
		a, ok := v.([]any)
		if !ok || last || s.Index >= len(a) {
			return v, false
		}
		nc, removed := removeIn(a[s.Index], rest)
		a[s.Index] = nc
		return a, removed
	default: // StepAll
		a, ok := v.([]any)
		if !ok {
			return v, false
		}
		if last {
			return []any{}, len(a) > 0
		}
		removed := false
		for i := range a {
			nc, r := removeIn(a[i], rest)
			a[i] = nc
			removed = removed || r
		}
		return a, removed
	}
}
