package rest

import (
	"math"
	"strconv"
	"unsafe"
)

// fastFloats decodes a JSON array of finite numbers (raw is known to be
// valid JSON) into float32s without reflection or intermediate values:
// vectors are most of a search or upsert body. ok is false for anything
// else (another value, an element that is not a number, a value that is
// not a finite 32-bit float); floats then decodes raw the slow way, which
// words the error.
func fastFloats(raw []byte) (out []float32, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, false
	}
	i = skipSpace(raw, i+1)
	out = make([]float32, 0, estimateElems(raw[i:]))
	if i < len(raw) && raw[i] == ']' {
		return out, skipSpace(raw, i+1) == len(raw)
	}
	for {
		start := i
		for i < len(raw) && isNumberByte(raw[i]) {
			i++
		}
		if start == i {
			return nil, false
		}
		tok := raw[start:i]
		x, err := strconv.ParseFloat(unsafe.String(&tok[0], len(tok)), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > math.MaxFloat32 {
			return nil, false
		}
		out = append(out, float32(x))
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case ']':
			return out, skipSpace(raw, i+1) == len(raw)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// estimateElems counts the commas of an array's body: its length, give or
// take one, so the result is allocated once.
func estimateElems(b []byte) int {
	n := 1
	for _, c := range b {
		if c == ',' {
			n++
		}
	}
	return n
}
