package cpu

import "golang.org/x/sys/cpu"

//go:generate go run ../internal/asmgen -out sgemm_amd64.s -stubs sgemm_stub_amd64.go

// gemmAVX2 is the AVX2+FMA micro-kernel (sgemm_amd64.s): 6x16 tiles.
var gemmAVX2 = microKernel{name: "avx2-6x16", mr: 6, nr: 16, mc: 144, tile: avx2Tile}

func init() {
	if hasAVX2() {
		gemmK = &gemmAVX2
		biasClamp = biasClampAsm
		dwRow1 = dwRow1Asm
		sdot = sdotAsm
		saxpy = saxpyAsm
	}
}

// sdotAsm is sdot with AVX2 and FMA.
func sdotAsm(x, y []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	y = y[:len(x)]
	return sdotAVX2(&x[0], &y[0], len(x))
}

// saxpyAsm is saxpy with AVX2 and FMA.
func saxpyAsm(alpha float32, x, y []float32) {
	if len(x) == 0 {
		return
	}
	y = y[:len(x)]
	saxpyAVX2(alpha, &x[0], &y[0], len(x))
}

// dwRow1Asm is dwRow1 with AVX2 and FMA.
func dwRow1Asm(k *[9]float32, r0, r1, r2, out []float32) {
	n := len(out)
	if n == 0 {
		return
	}
	_, _, _ = r0[n+1], r1[n+1], r2[n+1]
	dwRow3AVX2(&out[0], n, &r0[0], &r1[0], &r2[0], k)
}

// biasClampAsm is biasClamp with AVX2.
func biasClampAsm(x []float32, b, lo, hi float32) {
	if len(x) > 0 {
		biasClampAVX2(&x[0], len(x), b, lo, hi)
	}
}

func hasAVX2() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// avx2Tile checks the panel and tile bounds, then runs the assembly kernel.
func avx2Tile(kc int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	_ = a[kc*6-1]
	_ = b[(kc-1)*ldb+15]
	_ = c[5*ldc+15]
	sgemmKernel6x16(kc, &a[0], &b[0], ldb, &c[0], ldc, alpha, beta)
}

// gemmKernels lists the micro-kernels this CPU can run, fastest first.
func gemmKernels() []*microKernel {
	if hasAVX2() {
		return []*microKernel{&gemmAVX2, &gemmGo}
	}
	return []*microKernel{&gemmGo}
}
