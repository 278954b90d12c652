//go:build goexperiment.simd && amd64

package distance

import "simd/archsimd"

// The AVX2 kernels keep four 8-lane accumulators (32 floats per step),
// then one register at a time, then a masked load for the last < 8
// elements (the masked lanes read as zero, which adds nothing). They need
// len(a) >= 8 and len(b) >= len(a).

func load8(s []float32) archsimd.Float32x8 { return archsimd.LoadFloat32x8((*[8]float32)(s)) }

// reduce8 sums the lanes of v in registers (halves, then pairwise adds),
// and clears the upper halves of the vector registers before returning:
// the scalar code that follows is compiled to legacy SSE instructions,
// which are slow while the upper halves are dirty (measured: about 100 ns
// per call without the clear).
func reduce8(v archsimd.Float32x8) float32 {
	h := v.GetLo().Add(v.GetHi())
	h = h.AddPairs(h)
	h = h.AddPairs(h)
	r := h.GetElem(0)
	archsimd.ClearAVXUpperBits()
	return r
}

func dotAVX2(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 archsimd.Float32x8
	i := 0
	for ; i+32 <= n; i += 32 {
		s0 = load8(a[i:i+8]).MulAdd(load8(b[i:i+8]), s0)
		s1 = load8(a[i+8:i+16]).MulAdd(load8(b[i+8:i+16]), s1)
		s2 = load8(a[i+16:i+24]).MulAdd(load8(b[i+16:i+24]), s2)
		s3 = load8(a[i+24:i+32]).MulAdd(load8(b[i+24:i+32]), s3)
	}
	for ; i+8 <= n; i += 8 {
		s0 = load8(a[i:i+8]).MulAdd(load8(b[i:i+8]), s0)
	}
	if i < n {
		s1 = archsimd.LoadFloat32x8SlicePart(a[i:]).MulAdd(archsimd.LoadFloat32x8SlicePart(b[i:]), s1)
	}
	r := reduce8(s0.Add(s1).Add(s2.Add(s3)))
	return r
}

func l2AVX2(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 archsimd.Float32x8
	i := 0
	for ; i+32 <= n; i += 32 {
		d0 := load8(a[i : i+8]).Sub(load8(b[i : i+8]))
		d1 := load8(a[i+8 : i+16]).Sub(load8(b[i+8 : i+16]))
		d2 := load8(a[i+16 : i+24]).Sub(load8(b[i+16 : i+24]))
		d3 := load8(a[i+24 : i+32]).Sub(load8(b[i+24 : i+32]))
		s0 = d0.MulAdd(d0, s0)
		s1 = d1.MulAdd(d1, s1)
		s2 = d2.MulAdd(d2, s2)
		s3 = d3.MulAdd(d3, s3)
	}
	for ; i+8 <= n; i += 8 {
		d := load8(a[i : i+8]).Sub(load8(b[i : i+8]))
		s0 = d.MulAdd(d, s0)
	}
	if i < n {
		d := archsimd.LoadFloat32x8SlicePart(a[i:]).Sub(archsimd.LoadFloat32x8SlicePart(b[i:]))
		s1 = d.MulAdd(d, s1)
	}
	r := reduce8(s0.Add(s1).Add(s2.Add(s3)))
	return r
}

func l1AVX2(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	// Clearing the sign bit is |x|.
	abs := archsimd.BroadcastUint32x8(0x7fffffff)
	var s0, s1, s2, s3 archsimd.Float32x8
	i := 0
	for ; i+32 <= n; i += 32 {
		s0 = s0.Add(load8(a[i : i+8]).Sub(load8(b[i : i+8])).AsUint32x8().And(abs).AsFloat32x8())
		s1 = s1.Add(load8(a[i+8 : i+16]).Sub(load8(b[i+8 : i+16])).AsUint32x8().And(abs).AsFloat32x8())
		s2 = s2.Add(load8(a[i+16 : i+24]).Sub(load8(b[i+16 : i+24])).AsUint32x8().And(abs).AsFloat32x8())
		s3 = s3.Add(load8(a[i+24 : i+32]).Sub(load8(b[i+24 : i+32])).AsUint32x8().And(abs).AsFloat32x8())
	}
	for ; i+8 <= n; i += 8 {
		s0 = s0.Add(load8(a[i : i+8]).Sub(load8(b[i : i+8])).AsUint32x8().And(abs).AsFloat32x8())
	}
	if i < n {
		d := archsimd.LoadFloat32x8SlicePart(a[i:]).Sub(archsimd.LoadFloat32x8SlicePart(b[i:]))
		s1 = s1.Add(d.AsUint32x8().And(abs).AsFloat32x8())
	}
	r := reduce8(s0.Add(s1).Add(s2.Add(s3)))
	return r
}
