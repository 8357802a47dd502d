package cpu

import (
	"fmt"
	"math/rand"
	"testing"
)

// benchGemm reports GFLOP/s of one m x n x k product (no transposes,
// beta 0) on one thread with micro-kernel kern.
func benchGemm(b *testing.B, kern *microKernel, transB bool, m, n, k int) {
	r := rand.New(rand.NewSource(3))
	c := nnCtx(b, 1)
	x, y, z := nnRand32(r, m*k), nnRand32(r, k*n), make([]float32, m*n)
	ldb := n
	if transB {
		ldb = k
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sgemmWith(kern, c, false, transB, m, n, k, 1, x, k, y, ldb, 0, z, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemmKernels compares the micro-kernels on square products
// and on products shaped like layers of ResNet-18 and MobileNetV2 (conv
// as weights[cout x cin*kh*kw] times columns[cin*kh*kw x h*w]) and their
// classifier heads (batch 1: m = 1, weights transposed).
func BenchmarkSgemmKernels(b *testing.B) {
	type shape struct {
		name    string
		m, n, k int
		transB  bool
	}
	shapes := []shape{}
	for _, s := range []int{64, 128, 256, 512, 1000, 1024} {
		shapes = append(shapes, shape{fmt.Sprint(s), s, s, s, false})
	}
	shapes = append(shapes,
		shape{"resnet_conv3x3_64x56x56", 64, 56 * 56, 64 * 9, false},
		shape{"resnet_conv3x3_256x14x14", 256, 14 * 14, 256 * 9, false},
		shape{"mbv2_pw_32to16_112x112", 16, 112 * 112, 32, false},
		shape{"mbv2_pw_144to24_56x56", 24, 56 * 56, 144, false},
		shape{"mbv2_pw_960to160_7x7", 160, 7 * 7, 960, false},
		shape{"mbv2_fc_1x1280to1000", 1, 1000, 1280, true},
	)
	for _, s := range shapes {
		if s.m == 1 {
			// One row takes the dot-product path whatever the kernel.
			b.Run(s.name+"/gemv", func(b *testing.B) { benchGemm(b, gemmK, s.transB, s.m, s.n, s.k) })
			continue
		}
		for _, kern := range gemmKernels() {
			b.Run(s.name+"/"+kern.name, func(b *testing.B) { benchGemm(b, kern, s.transB, s.m, s.n, s.k) })
		}
	}
}

// BenchmarkSgemm times square products (no transposes, beta 0) with the
// default micro-kernel on one thread ("t1") and two ("t2").
func BenchmarkSgemm(b *testing.B) {
	for _, threads := range []int{1, 2} {
		for _, sz := range []int{64, 128, 256, 512, 1024, 2048} {
			b.Run(fmt.Sprintf("t%d/%d", threads, sz), func(b *testing.B) {
				r := rand.New(rand.NewSource(3))
				c := nnCtx(b, threads)
				x, y, z := nnRand32(r, sz*sz), nnRand32(r, sz*sz), make([]float32, sz*sz)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					sgemm(c, false, false, sz, sz, sz, 1, x, sz, y, sz, 0, z, sz)
				}
				b.ReportMetric(2*float64(sz)*float64(sz)*float64(sz)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
