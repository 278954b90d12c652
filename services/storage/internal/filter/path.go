package filter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// StepKind is one element of a Path after its first key.
type StepKind uint8

const (
	// StepKey selects a key of an object: `.name`.
	StepKey StepKind = iota
	// StepIndex selects one element of an array: `[3]`.
	StepIndex
	// StepAll selects every element of an array: `[]`.
	StepAll
)

// Step is one element of a Path after its first key.
type Step struct {
	Kind  StepKind
	Key   string // StepKey
	Index int    // StepIndex
}

// Path is a payload key in Qdrant's syntax: a first key, then `.key`,
// `[N]` and `[]` steps. Bare keys are letters, digits, `_` and `-`; any
// other key is written in double quotes (`"a.b"`), which cannot contain `"`
// or `\`.
//
// A path selects values the way Qdrant does: a key step only looks into an
// object and an index or `[]` step only into an array, so `a.b` finds
// nothing when `a` is an array (write `a[].b`). The values found are not
// flattened; conditions then treat a value that is an array as its
// elements (see Leaves).
type Path struct {
	First string
	Rest  []Step
}

// ParsePath parses a payload key.
func ParsePath(s string) (Path, error) {
	var p Path
	first, rest, ok := parseKey(s)
	if !ok {
		return Path{}, fmt.Errorf("invalid json path: '%s'", s)
	}
	p.First = first
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "[]"):
			p.Rest = append(p.Rest, Step{Kind: StepAll})
			rest = rest[2:]
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 2 {
				return Path{}, fmt.Errorf("invalid json path: '%s'", s)
			}
			digits := rest[1:end]
			for _, c := range digits {
				if c < '0' || c > '9' {
					return Path{}, fmt.Errorf("invalid json path: '%s'", s)
				}
			}
			n, err := strconv.Atoi(digits)
			if err != nil {
				return Path{}, fmt.Errorf("invalid json path: '%s'", s)
			}
			p.Rest = append(p.Rest, Step{Kind: StepIndex, Index: n})
			rest = rest[end+1:]
		case rest[0] == '.':
			key, after, ok := parseKey(rest[1:])
			if !ok {
				return Path{}, fmt.Errorf("invalid json path: '%s'", s)
			}
			p.Rest = append(p.Rest, Step{Kind: StepKey, Key: key})
			rest = after
		default:
			return Path{}, fmt.Errorf("invalid json path: '%s'", s)
		}
	}
	return p, nil
}

// parseKey reads a bare or quoted key at the start of s.
func parseKey(s string) (key, rest string, ok bool) {
	if strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s[1:], `"\`)
		if end < 0 || s[1+end] != '"' {
			return "", "", false
		}
		return s[1 : 1+end], s[2+end:], true
	}
	n := 0
	for n < len(s) {
		c, size := utf8.DecodeRuneInString(s[n:])
		if c == utf8.RuneError || !bareKeyRune(c) {
			break
		}
		n += size
	}
	if n == 0 {
		return "", "", false
	}
	return s[:n], s[n:], true
}

func bareKeyRune(c rune) bool {
	return unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == '-'
}

func needsQuoting(key string) bool {
	if key == "" {
		return true
	}
	for _, c := range key {
		if !bareKeyRune(c) {
			return true
		}
	}
	return false
}

// String formats p so that ParsePath(p.String()) == p.
func (p Path) String() string {
	var b strings.Builder
	writeKey := func(k string) {
		if needsQuoting(k) {
			b.WriteByte('"')
			b.WriteString(k)
			b.WriteByte('"')
		} else {
			b.WriteString(k)
		}
	}
	writeKey(p.First)
	for _, s := range p.Rest {
		switch s.Kind {
		case StepKey:
			b.WriteByte('.')
			writeKey(s.Key)
		case StepIndex:
			fmt.Fprintf(&b, "[%d]", s.Index)
		case StepAll:
			b.WriteString("[]")
		}
	}
	return b.String()
}

// ArrayKey returns p with a trailing `[]` (p itself if it has one): the
// form a nested condition's key takes.
func (p Path) ArrayKey() Path {
	if n := len(p.Rest); n > 0 && p.Rest[n-1].Kind == StepAll {
		return p
	}
	out := Path{First: p.First, Rest: make([]Step, len(p.Rest), len(p.Rest)+1)}
	copy(out.Rest, p.Rest)
	out.Rest = append(out.Rest, Step{Kind: StepAll})
	return out
}

// Join returns p followed by child (`p.child`).
func (p Path) Join(child Path) Path {
	out := Path{First: p.First, Rest: make([]Step, 0, len(p.Rest)+1+len(child.Rest))}
	out.Rest = append(out.Rest, p.Rest...)
	out.Rest = append(out.Rest, Step{Kind: StepKey, Key: child.First})
	out.Rest = append(out.Rest, child.Rest...)
	return out
}

// Get returns the values p selects in obj, in document order. Missing keys,
// out-of-range indexes and steps that do not fit the value's type select
// nothing.
func (p Path) Get(obj map[string]any) []any {
	v, ok := obj[p.First]
	if !ok {
		return nil
	}
	var out []any
	getSteps(p.Rest, v, &out)
	return out
}

func getSteps(steps []Step, v any, out *[]any) {
	if len(steps) == 0 {
		*out = append(*out, v)
		return
	}
	s, tail := steps[0], steps[1:]
	switch s.Kind {
	case StepKey:
		if m, ok := v.(map[string]any); ok {
			if child, ok := m[s.Key]; ok {
				getSteps(tail, child, out)
			}
		}
	case StepIndex:
		if a, ok := v.([]any); ok && s.Index < len(a) {
			getSteps(tail, a[s.Index], out)
		}
	case StepAll:
		if a, ok := v.([]any); ok {
			for _, e := range a {
				getSteps(tail, e, out)
			}
		}
	}
}

// Leaves calls fn for every value a condition looks at among values: the
// elements of a value that is an array (one level), the value itself
// otherwise. It stops when fn returns true and reports whether it did.
func Leaves(values []any, fn func(any) bool) bool {
	for _, v := range values {
		if a, ok := v.([]any); ok {
			for _, e := range a {
				if fn(e) {
					return true
				}
			}
			continue
		}
		if fn(v) {
			return true
		}
	}
	return false
}
