package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Row kernels for stride-2 windows (3x3 max pooling, depthwise 3x3
// convolution) and a three-row max. A stride-2 row of 8 outputs reads 17
// input floats; two 8-float loads split into their even and odd elements
// with VSHUFPS give taps 0 and 1 of each window, two more loads two
// floats further give tap 2. VSHUFPS works within 128-bit lanes, so the
// results come out in the element order 0 1 4 5 2 3 6 7 and one VPERMPD
// per stored vector puts them back.

func init() {
	extra = append(extra, max3s2RowAVX2, max3RowsAVX2, dwRow3S2AVX2)
}

// stride2Taps loads the three stride-2 taps of 8 windows starting at
// p+disp into e (even), o (odd) and e2 (even, two further), in the lane
// order described above. t0 and t1 are scratch.
func stride2Taps(p Register, disp int, e, o, e2, t0, t1 VecVirtual) {
	VMOVUPS(Mem{Base: p, Disp: disp}, t0)
	VMOVUPS(Mem{Base: p, Disp: disp + 32}, t1)
	VSHUFPS(U8(0x88), t1, t0, e)
	VSHUFPS(U8(0xDD), t1, t0, o)
	VMOVUPS(Mem{Base: p, Disp: disp + 8}, t0)
	VMOVUPS(Mem{Base: p, Disp: disp + 40}, t1)
	VSHUFPS(U8(0x88), t1, t0, e2)
}

// negInf fills v with -Inf in every element.
func negInf(v VecVirtual) {
	g := GP32()
	MOVL(U32(0xff800000), g)
	x := v.AsX()
	MOVD(g, x)
	VBROADCASTSS(x, v)
}

// max3s2RowAVX2 emits max3s2RowAVX2: for 8*nb windows of three floats at
// stride 2, h[o] = the largest non-NaN of p[2o], p[2o+1], p[2o+2] (-Inf
// if none; the first of equal values) and f[o] = p[2o].
func max3s2RowAVX2() {
	TEXT("max3s2RowAVX2", NOSPLIT, "func(h, f *float32, nb int, p *float32)")
	Doc(
		"max3s2RowAVX2 sets, for o < 8*nb, h[o] to the largest non-NaN value among",
		"p[2o], p[2o+1], p[2o+2] (-Inf if there is none) and f[o] = p[2o], with AVX2.",
		"It reads p[0..16*nb+1].",
	)
	ph := Load(Param("h"), GP64())
	pf := Load(Param("f"), GP64())
	nb := Load(Param("nb"), GP64())
	pp := Load(Param("p"), GP64())
	ninf := YMM()
	negInf(ninf)
	e, o, e2, t0, t1, best := YMM(), YMM(), YMM(), YMM(), YMM(), YMM()

	Label("loop")
	TESTQ(nb, nb)
	JE(LabelRef("done"))
	stride2Taps(pp, 0, e, o, e2, t0, t1)
	// best = v > best ? v : best, one tap at a time (a NaN v is skipped).
	VMAXPS(ninf, e, best)
	VMAXPS(best, o, best)
	VMAXPS(best, e2, best)
	VPERMPD(U8(0xD8), best, best)
	VPERMPD(U8(0xD8), e, e)
	VMOVUPS(best, Mem{Base: ph})
	VMOVUPS(e, Mem{Base: pf})
	ADDQ(U32(32), ph)
	ADDQ(U32(32), pf)
	ADDQ(U32(64), pp)
	DECQ(nb)
	JMP(LabelRef("loop"))

	Label("done")
	VZEROUPPER()
	RET()
}

// max3RowsAVX2 emits max3RowsAVX2: out[i] = f[i], then each of a[i],
// b[i], c[i] replaces it when greater (so a NaN f[i] stays, and NaN
// elements of a, b, c are skipped).
func max3RowsAVX2() {
	TEXT("max3RowsAVX2", NOSPLIT, "func(out *float32, n int, f, a, b, c *float32)")
	Doc(
		"max3RowsAVX2 sets out[i] = f[i] for i < n, then replaces it by a[i], b[i] and",
		"c[i] in turn when that is greater, with AVX2.",
	)
	po := Load(Param("out"), GP64())
	n := Load(Param("n"), GP64())
	pf := Load(Param("f"), GP64())
	rows := []Register{Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("c"), GP64())}
	best, v := YMM(), YMM()

	Label("loop8")
	CMPQ(n, U32(8))
	JL(LabelRef("loop1"))
	VMOVUPS(Mem{Base: pf}, best)
	for _, r := range rows {
		VMOVUPS(Mem{Base: r}, v)
		VMAXPS(best, v, best)
	}
	VMOVUPS(best, Mem{Base: po})
	ADDQ(U32(32), po)
	ADDQ(U32(32), pf)
	for _, r := range rows {
		ADDQ(U32(32), r)
	}
	SUBQ(U32(8), n)
	JMP(LabelRef("loop8"))

	Label("loop1")
	TESTQ(n, n)
	JE(LabelRef("done"))
	bx, vx := best.AsX(), v.AsX()
	VMOVSS(Mem{Base: pf}, bx)
	for _, r := range rows {
		VMOVSS(Mem{Base: r}, vx)
		VMAXSS(bx, vx, bx)
	}
	VMOVSS(bx, Mem{Base: po})
	ADDQ(U32(4), po)
	ADDQ(U32(4), pf)
	for _, r := range rows {
		ADDQ(U32(4), r)
	}
	DECQ(n)
	JMP(LabelRef("loop1"))

	Label("done")
	VZEROUPPER()
	RET()
}

// dwRow3S2AVX2 emits dwRow3S2AVX2, one output row of a stride-2
// depthwise 3x3 convolution: out[o] = sum over i, j of k[3i+j] *
// ri[2o+j], 8 outputs a step for nb steps, then one at a time up to n.
func dwRow3S2AVX2() {
	TEXT("dwRow3S2AVX2", NOSPLIT, "func(out *float32, n, nb int, r0, r1, r2 *float32, k *[9]float32)")
	Doc(
		"dwRow3S2AVX2 sets out[o] = sum of k[3i+j]*ri[2o+j] (i, j in 0..2) for o < n,",
		"8 at a time for the first 8*nb (which read ri[0..16*nb+1]), with AVX2 and FMA.",
		"It reads ri[0..2n] and needs 8*nb <= n.",
	)
	po := Load(Param("out"), GP64())
	n := Load(Param("n"), GP64())
	nb := Load(Param("nb"), GP64())
	rows := []Register{Load(Param("r0"), GP64()), Load(Param("r1"), GP64()), Load(Param("r2"), GP64())}
	pk := Load(Param("k"), GP64())
	w := make([]VecVirtual, 9)
	for i := range w {
		w[i] = YMM()
		VBROADCASTSS(Mem{Base: pk, Disp: 4 * i}, w[i])
	}
	acc, e, o, e2, t0, t1 := YMM(), YMM(), YMM(), YMM(), YMM(), YMM()

	Label("loop8")
	TESTQ(nb, nb)
	JE(LabelRef("loop1"))
	for i, r := range rows {
		stride2Taps(r, 0, e, o, e2, t0, t1)
		if i == 0 {
			VMULPS(e, w[0], acc)
		} else {
			VFMADD231PS(e, w[3*i], acc)
		}
		VFMADD231PS(o, w[3*i+1], acc)
		VFMADD231PS(e2, w[3*i+2], acc)
	}
	VPERMPD(U8(0xD8), acc, acc)
	VMOVUPS(acc, Mem{Base: po})
	ADDQ(U32(32), po)
	for _, r := range rows {
		ADDQ(U32(64), r)
	}
	SUBQ(U32(8), n)
	DECQ(nb)
	JMP(LabelRef("loop8"))

	Label("loop1")
	TESTQ(n, n)
	JE(LabelRef("done"))
	a, t := XMM(), XMM()
	VXORPS(a, a, a)
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			VMOVSS(Mem{Base: rows[i], Disp: 4 * j}, t)
			VFMADD231SS(t, w[3*i+j].AsX(), a)
		}
	}
	VMOVSS(a, Mem{Base: po})
	ADDQ(U32(4), po)
	for _, r := range rows {
		ADDQ(U32(8), r)
	}
	DECQ(n)
	JMP(LabelRef("loop1"))

	Label("done")
	VZEROUPPER()
	RET()
}
