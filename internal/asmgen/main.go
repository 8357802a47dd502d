// Command asmgen writes the CPU engine's amd64 assembly kernels and their
// Go declarations with avo. It is run by go generate in package cpu:
//
//	go run ../internal/asmgen -out sgemm_amd64.s -stubs sgemm_stub_amd64.go
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// extra holds the generators of kernels defined in the other files of
// this command; each file's init appends its own, and they run after the
// ones in main, in file-name order.
var extra []func()

func main() {
	ConstraintExpr("amd64")
	sgemmAVX2()
	biasClampAVX2()
	dwRow3AVX2()
	sdotAVX2()
	saxpyAVX2()
	for _, f := range extra {
		f()
	}
	Generate()
}

// Micro-tile of the AVX2 kernel: 6 rows of A (broadcast one at a time)
// by 16 columns of B (two ymm loads), held in 12 ymm accumulators.
const (
	avx2MR = 6
	avx2NR = 16
)

// sgemmAVX2 emits sgemmKernel6x16: C[6x16] = alpha*(Apanel * Bpanel) +
// beta*C over kc steps of packed panels (A: kc groups of 6 floats, B: kc
// groups of 16 floats). With beta == 0, C is only written.
func sgemmAVX2() {
	TEXT("sgemmKernel6x16", NOSPLIT, "func(kc int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)")
	Doc(
		"sgemmKernel6x16 computes a 6x16 tile C = alpha*A*B + beta*C with AVX2 and FMA,",
		"where A is a packed panel of kc x 6 floats and B is kc rows of 16 floats,",
		"ldb elements apart (16 when packed). c points at the tile's top-left element;",
		"ldc is C's row stride in elements. When beta is 0, C is not read. kc must be",
		"at least 1.",
	)
	kc := Load(Param("kc"), GP64())
	pa := Load(Param("a"), GP64())
	pb := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(2), ldb)
	ldb3 := GP64()
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)

	acc := make([][2]VecPhysical, avx2MR)
	all := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}
	for i := range acc {
		acc[i] = [2]VecPhysical{all[2*i], all[2*i+1]}
		VXORPS(acc[i][0], acc[i][0], acc[i][0])
		VXORPS(acc[i][1], acc[i][1], acc[i][1])
	}
	b0, b1, t := Y12, Y13, Y14

	step := func(off int) {
		row := Mem{Base: pb}
		switch off {
		case 1:
			row = Mem{Base: pb, Index: ldb, Scale: 1}
		case 2:
			row = Mem{Base: pb, Index: ldb, Scale: 2}
		case 3:
			row = Mem{Base: pb, Index: ldb3, Scale: 1}
		}
		VMOVUPS(row, b0)
		VMOVUPS(row.Offset(32), b1)
		for i := 0; i < avx2MR; i++ {
			VBROADCASTSS(Mem{Base: pa, Disp: 4 * (avx2MR*off + i)}, t)
			VFMADD231PS(b0, t, acc[i][0])
			VFMADD231PS(b1, t, acc[i][1])
		}
	}

	const unroll = 4
	Comment("Main loop: four k steps per iteration.")
	Label("loop4")
	CMPQ(kc, U32(unroll))
	JL(LabelRef("tail"))
	for u := 0; u < unroll; u++ {
		step(u)
	}
	ADDQ(U32(4*avx2MR*unroll), pa)
	LEAQ(Mem{Base: pb, Index: ldb, Scale: 4}, pb)
	SUBQ(U32(unroll), kc)
	JMP(LabelRef("loop4"))

	Comment("Remaining k steps, one at a time.")
	Label("tail")
	TESTQ(kc, kc)
	JE(LabelRef("store"))
	step(0)
	ADDQ(U32(4*avx2MR), pa)
	ADDQ(ldb, pb)
	DECQ(kc)
	JMP(LabelRef("tail"))

	Label("store")
	pc := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	alpha, beta := Y12, Y13
	VBROADCASTSS(paramAddr("alpha"), alpha)
	VBROADCASTSS(paramAddr("beta"), beta)
	for i := range acc {
		VMULPS(alpha, acc[i][0], acc[i][0])
		VMULPS(alpha, acc[i][1], acc[i][1])
	}
	zero := X14
	VXORPS(zero, zero, zero)
	VUCOMISS(beta.AsX(), zero)
	JNE(LabelRef("accumulate"))
	JP(LabelRef("accumulate"))

	Comment("beta == 0: overwrite C.")
	row := GP64()
	MOVQ(pc, row)
	for i := range acc {
		VMOVUPS(acc[i][0], Mem{Base: row})
		VMOVUPS(acc[i][1], Mem{Base: row, Disp: 32})
		if i+1 < len(acc) {
			ADDQ(ldc, row)
		}
	}
	VZEROUPPER()
	RET()

	Label("accumulate")
	Comment("C = alpha*A*B + beta*C.")
	MOVQ(pc, row)
	for i := range acc {
		VFMADD231PS(Mem{Base: row}, beta, acc[i][0])
		VFMADD231PS(Mem{Base: row, Disp: 32}, beta, acc[i][1])
		VMOVUPS(acc[i][0], Mem{Base: row})
		VMOVUPS(acc[i][1], Mem{Base: row, Disp: 32})
		if i+1 < len(acc) {
			ADDQ(ldc, row)
		}
	}
	VZEROUPPER()
	RET()
}

// paramAddr is the stack address of a scalar parameter.
func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// biasClampAVX2 emits biasClampAVX2: x[i] = min(max(x[i]+bias, lo), hi)
// over n floats, 32 then 8 at a time, then one at a time. The operand
// order keeps a NaN in x a NaN (MAXPS/MINPS return their second source
// when either is NaN).
func biasClampAVX2() {
	TEXT("biasClampAVX2", NOSPLIT, "func(x *float32, n int, bias, lo, hi float32)")
	Doc(
		"biasClampAVX2 sets x[i] = min(max(x[i]+bias, lo), hi) for the n floats at x,",
		"with AVX2. A NaN element stays NaN.",
	)
	px := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	bias, lo, hi := YMM(), YMM(), YMM()
	VBROADCASTSS(paramAddr("bias"), bias)
	VBROADCASTSS(paramAddr("lo"), lo)
	VBROADCASTSS(paramAddr("hi"), hi)
	v := []VecVirtual{YMM(), YMM(), YMM(), YMM()}

	Label("loop32")
	CMPQ(n, U32(32))
	JL(LabelRef("loop8"))
	for i, r := range v {
		VADDPS(Mem{Base: px, Disp: 32 * i}, bias, r)
	}
	for _, r := range v {
		VMAXPS(r, lo, r)
	}
	for _, r := range v {
		VMINPS(r, hi, r)
	}
	for i, r := range v {
		VMOVUPS(r, Mem{Base: px, Disp: 32 * i})
	}
	ADDQ(U32(128), px)
	SUBQ(U32(32), n)
	JMP(LabelRef("loop32"))

	Label("loop8")
	CMPQ(n, U32(8))
	JL(LabelRef("loop1"))
	VADDPS(Mem{Base: px}, bias, v[0])
	VMAXPS(v[0], lo, v[0])
	VMINPS(v[0], hi, v[0])
	VMOVUPS(v[0], Mem{Base: px})
	ADDQ(U32(32), px)
	SUBQ(U32(8), n)
	JMP(LabelRef("loop8"))

	Label("loop1")
	TESTQ(n, n)
	JE(LabelRef("done"))
	s := XMM()
	VMOVSS(Mem{Base: px}, s)
	VADDSS(s, bias.AsX(), s)
	VMAXSS(s, lo.AsX(), s)
	VMINSS(s, hi.AsX(), s)
	VMOVSS(s, Mem{Base: px})
	ADDQ(U32(4), px)
	DECQ(n)
	JMP(LabelRef("loop1"))

	Label("done")
	VZEROUPPER()
	RET()
}

// dwRow3AVX2 emits dwRow3AVX2, one output row of a stride-1 depthwise 3x3
// convolution: out[o] = sum over i, j of k[3i+j] * ri[o+j], 8 outputs at a
// time with the nine weights held in registers, then one at a time.
func dwRow3AVX2() {
	TEXT("dwRow3AVX2", NOSPLIT, "func(out *float32, n int, r0, r1, r2 *float32, k *[9]float32)")
	Doc(
		"dwRow3AVX2 sets out[o] = sum of k[3i+j]*ri[o+j] (i, j in 0..2) for o < n,",
		"reading ri[0..n+1], with AVX2 and FMA.",
	)
	po := Load(Param("out"), GP64())
	n := Load(Param("n"), GP64())
	rows := []Register{Load(Param("r0"), GP64()), Load(Param("r1"), GP64()), Load(Param("r2"), GP64())}
	pk := Load(Param("k"), GP64())
	w := make([]VecVirtual, 9)
	for i := range w {
		w[i] = YMM()
		VBROADCASTSS(Mem{Base: pk, Disp: 4 * i}, w[i])
	}
	acc := YMM()

	Label("loop8")
	CMPQ(n, U32(8))
	JL(LabelRef("loop1"))
	VMULPS(Mem{Base: rows[0]}, w[0], acc)
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			if i == 0 && j == 0 {
				continue
			}
			VFMADD231PS(Mem{Base: rows[i], Disp: 4 * j}, w[3*i+j], acc)
		}
	}
	VMOVUPS(acc, Mem{Base: po})
	ADDQ(U32(32), po)
	for _, r := range rows {
		ADDQ(U32(32), r)
	}
	SUBQ(U32(8), n)
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
		ADDQ(U32(4), r)
	}
	DECQ(n)
	JMP(LabelRef("loop1"))

	Label("done")
	VZEROUPPER()
	RET()
}

// sdotAVX2 emits sdotAVX2, the dot product of two float32 vectors: four
// ymm accumulators over 32 elements a step, then 8, then one at a time.
func sdotAVX2() {
	TEXT("sdotAVX2", NOSPLIT, "func(x, y *float32, n int) float32")
	Doc("sdotAVX2 returns the sum of x[i]*y[i] for i < n, with AVX2 and FMA.")
	px := Load(Param("x"), GP64())
	py := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range acc {
		VXORPS(a, a, a)
	}
	t := YMM()
	Label("dot32")
	CMPQ(n, U32(32))
	JL(LabelRef("dot8"))
	for i, a := range acc {
		VMOVUPS(Mem{Base: px, Disp: 32 * i}, t)
		VFMADD231PS(Mem{Base: py, Disp: 32 * i}, t, a)
	}
	ADDQ(U32(128), px)
	ADDQ(U32(128), py)
	SUBQ(U32(32), n)
	JMP(LabelRef("dot32"))

	Label("dot8")
	CMPQ(n, U32(8))
	JL(LabelRef("reduce"))
	VMOVUPS(Mem{Base: px}, t)
	VFMADD231PS(Mem{Base: py}, t, acc[0])
	ADDQ(U32(32), px)
	ADDQ(U32(32), py)
	SUBQ(U32(8), n)
	JMP(LabelRef("dot8"))

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	hi := XMM()
	VEXTRACTF128(U8(1), acc[0], hi)
	VADDPS(hi, acc[0].AsX(), hi)
	sh := XMM()
	VMOVHLPS(hi, hi, sh)
	VADDPS(sh, hi, hi)
	VMOVSHDUP(hi, sh)
	VADDSS(sh, hi, hi)

	Label("dot1")
	TESTQ(n, n)
	JE(LabelRef("done"))
	s1 := XMM()
	VMOVSS(Mem{Base: px}, s1)
	VFMADD231SS(Mem{Base: py}, s1, hi)
	ADDQ(U32(4), px)
	ADDQ(U32(4), py)
	DECQ(n)
	JMP(LabelRef("dot1"))

	Label("done")
	VZEROUPPER()
	Store(hi, ReturnIndex(0))
	RET()
}

// saxpyAVX2 emits saxpyAVX2: y[i] += alpha*x[i], 32 elements a step, then
// 8, then one at a time.
func saxpyAVX2() {
	TEXT("saxpyAVX2", NOSPLIT, "func(alpha float32, x, y *float32, n int)")
	Doc("saxpyAVX2 sets y[i] += alpha*x[i] for i < n, with AVX2 and FMA.")
	px := Load(Param("x"), GP64())
	py := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	a := YMM()
	VBROADCASTSS(paramAddr("alpha"), a)
	v := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	Label("axpy32")
	CMPQ(n, U32(32))
	JL(LabelRef("axpy8"))
	for i, r := range v {
		VMOVUPS(Mem{Base: py, Disp: 32 * i}, r)
		VFMADD231PS(Mem{Base: px, Disp: 32 * i}, a, r)
		VMOVUPS(r, Mem{Base: py, Disp: 32 * i})
	}
	ADDQ(U32(128), px)
	ADDQ(U32(128), py)
	SUBQ(U32(32), n)
	JMP(LabelRef("axpy32"))

	Label("axpy8")
	CMPQ(n, U32(8))
	JL(LabelRef("axpy1"))
	VMOVUPS(Mem{Base: py}, v[0])
	VFMADD231PS(Mem{Base: px}, a, v[0])
	VMOVUPS(v[0], Mem{Base: py})
	ADDQ(U32(32), px)
	ADDQ(U32(32), py)
	SUBQ(U32(8), n)
	JMP(LabelRef("axpy8"))

	Label("axpy1")
	TESTQ(n, n)
	JE(LabelRef("done"))
	s1 := XMM()
	VMOVSS(Mem{Base: py}, s1)
	VFMADD231SS(Mem{Base: px}, a.AsX(), s1)
	VMOVSS(s1, Mem{Base: py})
	ADDQ(U32(4), px)
	ADDQ(U32(4), py)
	DECQ(n)
	JMP(LabelRef("axpy1"))

	Label("done")
	VZEROUPPER()
	RET()
}
