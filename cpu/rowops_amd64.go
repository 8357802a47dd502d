package cpu

// Vector versions of the stride-2 row kernels of pool_ops.go and
// conv_depthwise.go (sgemm_amd64.s), chosen when the CPU has AVX2 and FMA.

func init() {
	if hasAVX2() {
		max3s2Row = max3s2RowAsm
		max3Rows = max3RowsAsm
		dwRow2 = dwRow2Asm
	}
}

// max3s2RowAsm is max3s2Row with AVX2, 8 windows at a time while p
// holds the 18 floats a block reads, then the scalar loop.
func max3s2RowAsm(h, f, p []float32) {
	nb := 0
	if len(p) >= 18 {
		nb = min(len(h)/8, (len(p)-2)/16)
	}
	if nb > 0 {
		_, _ = f[8*nb-1], p[16*nb+1]
		max3s2RowAVX2(&h[0], &f[0], nb, &p[0])
	}
	if r := 8 * nb; r < len(h) {
		max3s2RowGo(h[r:], f[r:], p[2*r:])
	}
}

// max3RowsAsm is max3Rows with AVX2.
func max3RowsAsm(out, f, a, b, c []float32) {
	n := len(out)
	if n == 0 {
		return
	}
	_, _, _, _ = f[n-1], a[n-1], b[n-1], c[n-1]
	max3RowsAVX2(&out[0], n, &f[0], &a[0], &b[0], &c[0])
}

// dwRow2Asm is dwRow2 with AVX2 and FMA: 8 outputs at a time while the
// rows hold the 18 floats a block reads, then one at a time.
func dwRow2Asm(k *[9]float32, a, b, c, out []float32) {
	n := len(out)
	if n == 0 {
		return
	}
	l := min(len(a), len(b), len(c))
	_, _, _ = a[2*n], b[2*n], c[2*n]
	nb := 0
	if l >= 18 {
		nb = min(n/8, (l-18)/16+1)
	}
	dwRow3S2AVX2(&out[0], n, nb, &a[0], &b[0], &c[0], k)
}
