package cpu

import (
	"testing"

	"github.com/accel-go/accel/common"
)

func ewBench(b *testing.B, op string, in ...*common.Tensor) {
	c := ewCtx(2)
	n := ewNode(op, 14)
	k := kernels[op].tensor
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k(c, n, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEwAddSame(b *testing.B) {
	x := common.NewTensor(common.Shape{1 << 20}, make([]float32, 1<<20))
	ewBench(b, "Add", x, x)
}

func BenchmarkEwAddBias(b *testing.B) {
	x := common.NewTensor(common.Shape{64, 64, 256}, make([]float32, 1<<20))
	y := common.NewTensor(common.Shape{64, 1, 1}, make([]float32, 64))
	ewBench(b, "Add", x, y)
}

func BenchmarkEwAddSmallInner(b *testing.B) {
	x := common.NewTensor(common.Shape{1 << 18, 4}, make([]float32, 1<<20))
	y := common.NewTensor(common.Shape{1 << 18, 1}, make([]float32, 1<<18))
	ewBench(b, "Add", x, y)
}

func BenchmarkEwRelu(b *testing.B) {
	x := common.NewTensor(common.Shape{1 << 20}, make([]float32, 1<<20))
	ewBench(b, "Relu", x)
}

func BenchmarkEwSigmoid(b *testing.B) {
	x := common.NewTensor(common.Shape{1 << 20}, make([]float32, 1<<20))
	ewBench(b, "Sigmoid", x)
}
