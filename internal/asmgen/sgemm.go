package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Micro-tile of the AVX2 kernel: 6 rows of A (broadcast one at a time)
// by 16 columns of B (two ymm loads), held in 12 ymm accumulators.
const (
	avx2MR = 6
	avx2NR = 16
)

// sgemmAVX2 emits the SGEMM micro-kernels.
func sgemmAVX2() {
	sgemmKernel6x16("sgemmKernel6x16")
}

// sgemmKernel6x16 emits a 6x16 micro-kernel: C[6x16] = alpha*(Apanel *
// Bpanel) + beta*C over kc steps of packed panels (A: kc groups of 6
// floats, B: kc rows of 16 floats, ldb apart). With beta == 0, C is only
// written. The C tile's cache lines are requested before the k loop, so
// that their misses overlap the arithmetic.
func sgemmKernel6x16(name string) {
	TEXT(name, NOSPLIT, "func(kc int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)")
	Doc(
		fmt.Sprintf("%s computes a 6x16 tile C = alpha*A*B + beta*C with AVX2 and FMA,", name),
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

	Comment("Request the C tile's lines (first and last byte of each row).")
	{
		pc := Load(Param("c"), GP64())
		ldc := Load(Param("ldc"), GP64())
		SHLQ(U8(2), ldc)
		for i := 0; i < avx2MR; i++ {
			PREFETCHT0(Mem{Base: pc})
			PREFETCHT0(Mem{Base: pc, Disp: 4*avx2NR - 1})
			if i+1 < avx2MR {
				ADDQ(ldc, pc)
			}
		}
	}

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
	Label(name + "_loop4")
	CMPQ(kc, U32(unroll))
	JL(LabelRef(name + "_tail"))
	for u := 0; u < unroll; u++ {
		step(u)
	}
	ADDQ(U32(4*avx2MR*unroll), pa)
	LEAQ(Mem{Base: pb, Index: ldb, Scale: 4}, pb)
	SUBQ(U32(unroll), kc)
	JMP(LabelRef(name + "_loop4"))

	Comment("Remaining k steps, one at a time.")
	Label(name + "_tail")
	TESTQ(kc, kc)
	JE(LabelRef(name + "_store"))
	step(0)
	ADDQ(U32(4*avx2MR), pa)
	ADDQ(ldb, pb)
	DECQ(kc)
	JMP(LabelRef(name + "_tail"))

	Label(name + "_store")
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
	JNE(LabelRef(name + "_accumulate"))
	JP(LabelRef(name + "_accumulate"))

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

	Label(name + "_accumulate")
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
