package cpu

func init() {
	if hasAVX2() {
		winoGatherIn8 = winoGatherIn8Asm
		copyStride2 = copyStride2Asm
		winoGatherIn8F2 = winoGatherIn8F2Asm
		winoOut8F2 = winoOut8F2Asm
		winoOut8 = winoOut8Asm
	}
}

// winoGatherIn8Asm is winoGatherIn8 with AVX2 and FMA.
func winoGatherIn8Asm(src []float32, idx *[8]int32, wp int, d *[288]float32, v []float32, stride int) {
	_ = v[35*stride+7]
	_ = src[maxGatherIndex(idx)+5*wp+5]
	winoGatherInputAVX2(&src[0], idx, wp, &d[0], &v[0], stride)
}

// winoOut8Asm is winoOut8 with AVX2 and FMA.
func winoOut8Asm(m []float32, stride int, t *[192]float32, y *[128]float32) {
	_ = m[35*stride+7]
	winoOutputAVX2(&m[0], stride, &t[0], &y[0])
}

// copyStride2Asm is copyStride2 with AVX2.
func copyStride2Asm(dst, src []float32) {
	if len(dst) == 0 {
		return
	}
	_ = src[2*len(dst)-2]
	copyStride2AVX2(&dst[0], &src[0], len(dst))
}

// winoGatherIn8F2Asm is winoGatherIn8F2 with AVX2.
func winoGatherIn8F2Asm(src []float32, idx *[8]int32, wp int, d *[288]float32, v []float32, stride int) {
	_ = v[15*stride+7]
	_ = src[maxGatherIndex(idx)+3*wp+3]
	winoGatherInputF2AVX2(&src[0], idx, wp, &d[0], &v[0], stride)
}

// winoOut8F2Asm is winoOut8F2 with AVX2.
func winoOut8F2Asm(m []float32, stride int, t *[192]float32, y *[128]float32) {
	_ = m[15*stride+7]
	winoOutputF2AVX2(&m[0], stride, &t[0], &y[0])
}

// maxGatherIndex returns the largest of idx, which must all be
// non-negative (the gathers read src[idx[l]+...] unchecked).
func maxGatherIndex(idx *[8]int32) int {
	hi := idx[0]
	for _, i := range idx {
		if i < 0 {
			panic("Winograd gather: negative index")
		}
		hi = max(hi, i)
	}
	return int(hi)
}
