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
