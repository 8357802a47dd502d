package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func init() { extra = append(extra, winoGatherInputAVX2, winoOutputAVX2) }

// The two kernels below are the data transforms of the Winograd
// convolution F(4x4, 3x3) (cpu/conv_winograd.go), each on eight tiles at
// once: lane l of every ymm register belongs to tile l. A 6x6 input tile
// d becomes B^T d B and a 6x6 product tile m becomes A^T m A (4x4), both
// as two passes of the one-dimensional transform: along rows into a
// scratch block, then along columns.

// winoBT emits the one-dimensional input transform of six vectors,
// returning B^T x with B^T =
//
//	4  0 -5  0  1  0
//	0 -4 -4  1  1  0
//	0  4 -4 -1  1  0
//	0 -2 -1  2  1  0
//	0  2 -1 -2  1  0
//	0  4  0 -5  0  1
func winoBT(d [6]VecVirtual, c4, cm5 VecVirtual) [6]VecVirtual {
	var o [6]VecVirtual
	for i := range o {
		o[i] = YMM()
	}
	t1, t2, t3, t4 := YMM(), YMM(), YMM(), YMM()
	VMOVAPS(d[4], o[0])
	VFMADD231PS(d[0], c4, o[0])
	VFMADD231PS(d[2], cm5, o[0])
	VMOVAPS(d[5], o[5])
	VFMADD231PS(d[1], c4, o[5])
	VFMADD231PS(d[3], cm5, o[5])
	VMOVAPS(d[4], t1)
	VFNMADD231PS(d[2], c4, t1) // d4 - 4 d2
	VMOVAPS(d[3], t2)
	VFNMADD231PS(d[1], c4, t2) // d3 - 4 d1
	VSUBPS(d[2], d[4], t3)     // d4 - d2
	VSUBPS(d[1], d[3], t4)     // d3 - d1
	VADDPS(t4, t4, t4)         // 2 (d3 - d1)
	VADDPS(t2, t1, o[1])
	VSUBPS(t2, t1, o[2])
	VADDPS(t4, t3, o[3])
	VSUBPS(t4, t3, o[4])
	return o
}

// winoAT emits the one-dimensional output transform of six vectors,
// returning A^T x with A^T =
//
//	1  1  1  1  1  0
//	0  1 -1  2 -2  0
//	0  1  1  4  4  0
//	0  1 -1  8 -8  1
func winoAT(m [6]VecVirtual, c2, c4, c8 VecVirtual) [4]VecVirtual {
	s12, d12, s34, d34 := YMM(), YMM(), YMM(), YMM()
	VADDPS(m[2], m[1], s12)
	VSUBPS(m[2], m[1], d12)
	VADDPS(m[4], m[3], s34)
	VSUBPS(m[4], m[3], d34)
	var y [4]VecVirtual
	for i := range y {
		y[i] = YMM()
	}
	VADDPS(s12, m[0], y[0])
	VADDPS(s34, y[0], y[0])
	VMOVAPS(d12, y[1])
	VFMADD231PS(d34, c2, y[1])
	VMOVAPS(s12, y[2])
	VFMADD231PS(s34, c4, y[2])
	VADDPS(m[5], d12, y[3])
	VFMADD231PS(d34, c8, y[3])
	return y
}

// strided returns the addresses base + (6*i)*stride bytes for i in 0..5,
// given registers holding 6, 18 and 30 strides (s6, s18, s30).
func strided(base, s6, s18, s30 Register) [6]Mem {
	return [6]Mem{
		{Base: base},
		{Base: base, Index: s6, Scale: 1},
		{Base: base, Index: s6, Scale: 2},
		{Base: base, Index: s18, Scale: 1},
		{Base: base, Index: s6, Scale: 4},
		{Base: base, Index: s30, Scale: 1},
	}
}

// sixStrides loads the stride parameter (in floats) and returns the
// registers s6 = 6, s18 = 18 and s30 = 30 strides in bytes, and one
// stride in bytes.
func sixStrides() (s1, s6, s18, s30 Register) {
	s1 = Load(Param("stride"), GP64())
	SHLQ(U8(2), s1)
	s6, s18, s30 = GP64(), GP64(), GP64()
	IMUL3Q(U8(6), s1, s6)
	IMUL3Q(U8(18), s1, s18)
	IMUL3Q(U8(30), s1, s30)
	return
}

// winoBTPhys is winoBT on fixed registers (the gathers below need their
// destinations, mask and index distinct, which virtual registers do not
// promise): inputs in, six scratch registers t, constants c4 and cm5. It
// returns the registers holding the six outputs (four of them reuse in).
func winoBTPhys(in, t [6]VecPhysical, c4, cm5 VecPhysical) [6]VecPhysical {
	d := in
	o0, o5, t1, t2, t3, t4 := t[0], t[1], t[2], t[3], t[4], t[5]
	VMOVAPS(d[4], o0)
	VFMADD231PS(d[0], c4, o0)
	VFMADD231PS(d[2], cm5, o0)
	VMOVAPS(d[5], o5)
	VFMADD231PS(d[1], c4, o5)
	VFMADD231PS(d[3], cm5, o5)
	VMOVAPS(d[4], t1)
	VFNMADD231PS(d[2], c4, t1) // d4 - 4 d2
	VMOVAPS(d[3], t2)
	VFNMADD231PS(d[1], c4, t2) // d3 - 4 d1
	VSUBPS(d[2], d[4], t3)     // d4 - d2
	VSUBPS(d[1], d[3], t4)     // d3 - d1
	VADDPS(t4, t4, t4)         // 2 (d3 - d1)
	VADDPS(t2, t1, d[0])
	VSUBPS(t2, t1, d[1])
	VADDPS(t4, t3, d[2])
	VSUBPS(t4, t3, d[3])
	return [6]VecPhysical{o0, d[0], d[1], d[2], d[3], o5}
}

func winoGatherInputAVX2() {
	TEXT("winoGatherInputAVX2", NOSPLIT, "func(src *float32, idx *[8]int32, wp int, d, v *float32, stride int)")
	Doc(
		"winoGatherInputAVX2 gathers and transforms eight 6x6 input tiles for Winograd",
		"F(4x4, 3x3): element (i, j) of tile l is src[idx[l]+i*wp+j]; element (i, j)",
		"of B^T d B goes to v[(6i+j)*stride:][:8]. d is scratch of 36*8 floats.",
	)
	ps := Load(Param("src"), GP64())
	pi := Load(Param("idx"), GP64())
	wpb := Load(Param("wp"), GP64())
	SHLQ(U8(2), wpb)
	pd := Load(Param("d"), GP64())
	pv := Load(Param("v"), GP64())
	s1, s6, s18, s30 := sixStrides()
	in := [6]VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5}
	tmp := [6]VecPhysical{Y6, Y7, Y8, Y9, Y10, Y11}
	c4, cm5, mask, idx := Y12, Y13, Y14, Y15
	VBROADCASTSS(ConstData("winoF4", f32c(4)), c4)
	VBROADCASTSS(ConstData("winoFm5", f32c(-5)), cm5)
	VMOVDQU(Mem{Base: pi}, idx)
	for i := 0; i < 6; i++ {
		for j, r := range in {
			VPCMPEQD(mask, mask, mask)
			VGATHERDPS(mask, Mem{Base: ps, Index: idx, Scale: 4, Disp: 4 * j}, r)
		}
		o := winoBTPhys(in, tmp, c4, cm5)
		for j, r := range o {
			VMOVUPS(r, Mem{Base: pd, Disp: (6*i + j) * 32})
		}
		if i < 5 {
			ADDQ(wpb, ps)
		}
	}
	for k := 0; k < 6; k++ {
		for i, r := range in {
			VMOVUPS(Mem{Base: pd, Disp: (6*i + k) * 32}, r)
		}
		o := winoBTPhys(in, tmp, c4, cm5)
		dst := strided(pv, s6, s18, s30)
		for i, r := range o {
			VMOVUPS(r, dst[i])
		}
		if k < 5 {
			ADDQ(s1, pv)
		}
	}
	VZEROUPPER()
	RET()
}

func winoOutputAVX2() {
	TEXT("winoOutputAVX2", NOSPLIT, "func(m *float32, stride int, t, y *float32)")
	Doc(
		"winoOutputAVX2 transforms eight 6x6 product tiles for Winograd F(4x4, 3x3):",
		"element (i, j) of the eight tiles is at m[(6i+j)*stride:][:8]; element",
		"(r, c) of A^T m A goes to y[(4r+c)*8:][:8]. t is scratch of 24*8 floats.",
	)
	pm := Load(Param("m"), GP64())
	pt := Load(Param("t"), GP64())
	py := Load(Param("y"), GP64())
	s1, s6, s18, s30 := sixStrides()
	c2, c4, c8 := YMM(), YMM(), YMM()
	VBROADCASTSS(ConstData("winoF2", f32c(2)), c2)
	VBROADCASTSS(ConstData("winoF4b", f32c(4)), c4)
	VBROADCASTSS(ConstData("winoF8", f32c(8)), c8)
	for k := 0; k < 6; k++ {
		src := strided(pm, s6, s18, s30)
		var m [6]VecVirtual
		for i := range m {
			m[i] = YMM()
			VMOVUPS(src[i], m[i])
		}
		y := winoAT(m, c2, c4, c8)
		for r, v := range y {
			VMOVUPS(v, Mem{Base: pt, Disp: (6*r + k) * 32})
		}
		if k < 5 {
			ADDQ(s1, pm)
		}
	}
	for r := 0; r < 4; r++ {
		var m [6]VecVirtual
		for j := range m {
			m[j] = YMM()
			VMOVUPS(Mem{Base: pt, Disp: (6*r + j) * 32}, m[j])
		}
		y := winoAT(m, c2, c4, c8)
		for c, v := range y {
			VMOVUPS(v, Mem{Base: py, Disp: (4*r + c) * 32})
		}
	}
	VZEROUPPER()
	RET()
}

// f32c is the bit pattern of v as a 32-bit constant (DATA of an F32
// would be written as an integer literal).
func f32c(v float32) Constant { return U32(math.Float32bits(v)) }

func init() { extra = append(extra, copyStride2AVX2) }

// copyStride2AVX2 emits copyStride2AVX2: dst[i] = src[2i] for i < n,
// eight at a time (two loads, an even-element shuffle and a lane
// permute), then one at a time. It reads src[0..2n-2] only.
func copyStride2AVX2() {
	TEXT("copyStride2AVX2", NOSPLIT, "func(dst, src *float32, n int)")
	Doc("copyStride2AVX2 sets dst[i] = src[2*i] for i < n, with AVX2.")
	pd := Load(Param("dst"), GP64())
	ps := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	a, b := YMM(), YMM()

	Label("loop8")
	CMPQ(n, U32(8))
	JL(LabelRef("loop1"))
	VMOVUPS(Mem{Base: ps}, a)
	VMOVUPS(Mem{Base: ps, Disp: 32}, b)
	// [a0 a2 b0 b2 | a4 a6 b4 b6], then 64-bit chunks 0, 2, 1, 3.
	VSHUFPS(U8(0x88), b, a, a)
	VPERMPD(U8(0xd8), a, a)
	VMOVUPS(a, Mem{Base: pd})
	ADDQ(U32(32), pd)
	ADDQ(U32(64), ps)
	SUBQ(U32(8), n)
	JMP(LabelRef("loop8"))

	Label("loop1")
	TESTQ(n, n)
	JE(LabelRef("done"))
	s := XMM()
	VMOVSS(Mem{Base: ps}, s)
	VMOVSS(s, Mem{Base: pd})
	ADDQ(U32(4), pd)
	ADDQ(U32(8), ps)
	DECQ(n)
	JMP(LabelRef("loop1"))

	Label("done")
	VZEROUPPER()
	RET()
}

func init() { extra = append(extra, winoGatherInputF2AVX2, winoOutputF2AVX2) }

// fourStrides loads the stride parameter (in floats) and returns it in
// bytes with 4, 8 and 12 times it.
func fourStrides() (s1, s4, s8, s12 Register) {
	s1 = Load(Param("stride"), GP64())
	SHLQ(U8(2), s1)
	s4, s8, s12 = GP64(), GP64(), GP64()
	IMUL3Q(U8(4), s1, s4)
	IMUL3Q(U8(8), s1, s8)
	IMUL3Q(U8(12), s1, s12)
	return
}

// winoGatherInputF2AVX2 is winoGatherInputAVX2 for F(2x2, 3x3): 4x4 tiles
// and B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
func winoGatherInputF2AVX2() {
	TEXT("winoGatherInputF2AVX2", NOSPLIT, "func(src *float32, idx *[8]int32, wp int, d, v *float32, stride int)")
	Doc(
		"winoGatherInputF2AVX2 gathers and transforms eight 4x4 input tiles for Winograd",
		"F(2x2, 3x3): element (i, j) of tile l is src[idx[l]+i*wp+j]; element (i, j)",
		"of B^T d B goes to v[(4i+j)*stride:][:8]. d is scratch of 16*8 floats.",
	)
	ps := Load(Param("src"), GP64())
	pi := Load(Param("idx"), GP64())
	wpb := Load(Param("wp"), GP64())
	SHLQ(U8(2), wpb)
	pd := Load(Param("d"), GP64())
	pv := Load(Param("v"), GP64())
	s1, s4, s8, s12 := fourStrides()
	in := [4]VecPhysical{Y0, Y1, Y2, Y3}
	out := [4]VecPhysical{Y4, Y5, Y6, Y7}
	mask, idx := Y14, Y15
	bt := func() {
		VSUBPS(in[2], in[0], out[0]) // d0 - d2
		VADDPS(in[2], in[1], out[1]) // d1 + d2
		VSUBPS(in[1], in[2], out[2]) // d2 - d1
		VSUBPS(in[3], in[1], out[3]) // d1 - d3
	}
	VMOVDQU(Mem{Base: pi}, idx)
	for i := 0; i < 4; i++ {
		for j, r := range in {
			VPCMPEQD(mask, mask, mask)
			VGATHERDPS(mask, Mem{Base: ps, Index: idx, Scale: 4, Disp: 4 * j}, r)
		}
		bt()
		for j, r := range out {
			VMOVUPS(r, Mem{Base: pd, Disp: (4*i + j) * 32})
		}
		if i < 3 {
			ADDQ(wpb, ps)
		}
	}
	for k := 0; k < 4; k++ {
		for i, r := range in {
			VMOVUPS(Mem{Base: pd, Disp: (4*i + k) * 32}, r)
		}
		bt()
		dst := [4]Mem{{Base: pv}, {Base: pv, Index: s4, Scale: 1}, {Base: pv, Index: s8, Scale: 1}, {Base: pv, Index: s12, Scale: 1}}
		for i, r := range out {
			VMOVUPS(r, dst[i])
		}
		if k < 3 {
			ADDQ(s1, pv)
		}
	}
	VZEROUPPER()
	RET()
}

// winoOutputF2AVX2 is winoOutputAVX2 for F(2x2, 3x3): 4x4 product tiles
// and A^T = [1 1 1 0; 0 1 -1 -1].
func winoOutputF2AVX2() {
	TEXT("winoOutputF2AVX2", NOSPLIT, "func(m *float32, stride int, t, y *float32)")
	Doc(
		"winoOutputF2AVX2 transforms eight 4x4 product tiles for Winograd F(2x2, 3x3):",
		"element (i, j) of the eight tiles is at m[(4i+j)*stride:][:8]; element",
		"(r, c) of A^T m A goes to y[(2r+c)*8:][:8]. t is scratch of 8*8 floats.",
	)
	pm := Load(Param("m"), GP64())
	pt := Load(Param("t"), GP64())
	py := Load(Param("y"), GP64())
	s1, s4, s8, s12 := fourStrides()
	at := func(m [4]VecVirtual) (VecVirtual, VecVirtual) {
		y0, y1 := YMM(), YMM()
		VADDPS(m[1], m[0], y0)
		VADDPS(m[2], y0, y0) // m0 + m1 + m2
		VSUBPS(m[2], m[1], y1)
		VSUBPS(m[3], y1, y1) // m1 - m2 - m3
		return y0, y1
	}
	for k := 0; k < 4; k++ {
		src := [4]Mem{{Base: pm}, {Base: pm, Index: s4, Scale: 1}, {Base: pm, Index: s8, Scale: 1}, {Base: pm, Index: s12, Scale: 1}}
		var m [4]VecVirtual
		for i := range m {
			m[i] = YMM()
			VMOVUPS(src[i], m[i])
		}
		y0, y1 := at(m)
		VMOVUPS(y0, Mem{Base: pt, Disp: k * 32})
		VMOVUPS(y1, Mem{Base: pt, Disp: (4 + k) * 32})
		if k < 3 {
			ADDQ(s1, pm)
		}
	}
	for r := 0; r < 2; r++ {
		var m [4]VecVirtual
		for j := range m {
			m[j] = YMM()
			VMOVUPS(Mem{Base: pt, Disp: (4*r + j) * 32}, m[j])
		}
		y0, y1 := at(m)
		VMOVUPS(y0, Mem{Base: py, Disp: (2 * r) * 32})
		VMOVUPS(y1, Mem{Base: py, Disp: (2*r + 1) * 32})
	}
	VZEROUPPER()
	RET()
}
