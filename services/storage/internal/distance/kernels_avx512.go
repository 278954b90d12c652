//go:build goexperiment.simd && amd64

package distance

import "simd/archsimd"

// The AVX-512 kernels keep four 16-lane accumulators (64 floats per step),
// then one register at a time, then a masked load for the last < 16
// elements (the masked lanes read as zero, which adds nothing). They need
// len(a) >= 16 and len(b) >= len(a).

func load16(s []float32) archsimd.Float32x16 { return archsimd.LoadFloat32x16((*[16]float32)(s)) }

// reduce16 sums the lanes of v in registers; see reduce8.
func reduce16(v archsimd.Float32x16) float32 {
	h8 := v.GetLo().Add(v.GetHi())
	h := h8.GetLo().Add(h8.GetHi())
	h = h.AddPairs(h)
	h = h.AddPairs(h)
	r := h.GetElem(0)
	archsimd.ClearAVXUpperBits()
	return r
}

func dotAVX512(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 archsimd.Float32x16
	i := 0
	for ; i+64 <= n; i += 64 {
		s0 = load16(a[i:i+16]).MulAdd(load16(b[i:i+16]), s0)
		s1 = load16(a[i+16:i+32]).MulAdd(load16(b[i+16:i+32]), s1)
		s2 = load16(a[i+32:i+48]).MulAdd(load16(b[i+32:i+48]), s2)
		s3 = load16(a[i+48:i+64]).MulAdd(load16(b[i+48:i+64]), s3)
	}
	for ; i+16 <= n; i += 16 {
		s0 = load16(a[i:i+16]).MulAdd(load16(b[i:i+16]), s0)
	}
	if i < n {
		s1 = archsimd.LoadFloat32x16SlicePart(a[i:]).MulAdd(archsimd.LoadFloat32x16SlicePart(b[i:]), s1)
	}
	r := reduce16(s0.Add(s1).Add(s2.Add(s3)))
	return r
}

func l2AVX512(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 archsimd.Float32x16
	i := 0
	for ; i+64 <= n; i += 64 {
		d0 := load16(a[i : i+16]).Sub(load16(b[i : i+16]))
		d1 := load16(a[i+16 : i+32]).Sub(load16(b[i+16 : i+32]))
		d2 := load16(a[i+32 : i+48]).Sub(load16(b[i+32 : i+48]))
		d3 := load16(a[i+48 : i+64]).Sub(load16(b[i+48 : i+64]))
		s0 = d0.MulAdd(d0, s0)
		s1 = d1.MulAdd(d1, s1)
		s2 = d2.MulAdd(d2, s2)
		s3 = d3.MulAdd(d3, s3)
	}
	for ; i+16 <= n; i += 16 {
		d := load16(a[i : i+16]).Sub(load16(b[i : i+16]))
		s0 = d.MulAdd(d, s0)
	}
	if i < n {
		d := archsimd.LoadFloat32x16SlicePart(a[i:]).Sub(archsimd.LoadFloat32x16SlicePart(b[i:]))
		s1 = d.MulAdd(d, s1)
	}
	r := reduce16(s0.Add(s1).Add(s2.Add(s3)))
	return r
}

func l1AVX512(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	// Clearing the sign bit is |x|.
	abs := archsimd.BroadcastUint32x16(0x7fffffff)
	var s0, s1, s2, s3 archsimd.Float32x16
	i := 0
	for ; i+64 <= n; i += 64 {
		s0 = s0.Add(load16(a[i : i+16]).Sub(load16(b[i : i+16])).AsUint32x16().And(abs).AsFloat32x16())
		s1 = s1.Add(load16(a[i+16 : i+32]).Sub(load16(b[i+16 : i+32])).AsUint32x16().And(abs).AsFloat32x16())
		s2 = s2.Add(load16(a[i+32 : i+48]).Sub(load16(b[i+32 : i+48])).AsUint32x16().And(abs).AsFloat32x16())
		s3 = s3.Add(load16(a[i+48 : i+64]).Sub(load16(b[i+48 : i+64])).AsUint32x16().And(abs).AsFloat32x16())
	}
	for ; i+16 <= n; i += 16 {
		s0 = s0.Add(load16(a[i : i+16]).Sub(load16(b[i : i+16])).AsUint32x16().And(abs).AsFloat32x16())
	}
	if i < n {
		d := archsimd.LoadFloat32x16SlicePart(a[i:]).Sub(archsimd.LoadFloat32x16SlicePart(b[i:]))
		s1 = s1.Add(d.AsUint32x16().And(abs).AsFloat32x16())
	}
	r := reduce16(s0.Add(s1).Add(s2.Add(s3)))
	return r
}
