package cpu_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/onnx"
	"github.com/accel-go/accel/cpu"
)

// TestWinogradEngine runs a 3x3 convolution that takes the Winograd path
// through the engine (weights transformed once and cached, reused over
// runs) and checks it against the same model compiled with
// Precision: PrecisionFP32, which keeps to direct sums; then that an Inf
// input stays local with PrecisionFP32, as a direct sum keeps it.
func TestWinogradEngine(t *testing.T) {
	const c, hw = 32, 20
	r := rand.New(rand.NewPCG(5, 6))
	randT := func(shape ...int) *common.Tensor {
		s := common.Shape(shape)
		v := make([]float32, s.Size())
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return common.NewTensor(s, v)
	}
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, 1, c, hw, hw)
	y := b.Node("Conv", []string{x, b.Init("w", randT(c, c, 3, 3)), b.Init("b", randT(c))}, onnx.Ints("pads", 1, 1, 1, 1))
	o := b.Node("Relu", []string{y})
	b.Output(o, common.Float32)
	m := b.Model()

	fast, err := cpu.Compile(m, common.Options{Threads: 2})
	require.NoError(t, err)
	defer fast.Close()
	exact, err := cpu.Compile(m, common.Options{Threads: 2, Precision: common.PrecisionFP32})
	require.NoError(t, err)
	defer exact.Close()

	for run := 0; run < 3; run++ {
		in := map[string]*common.Tensor{"x": randT(1, c, hw, hw)}
		got, err := fast.Run(context.Background(), in)
		require.NoError(t, err)
		want, err := exact.Run(context.Background(), in)
		require.NoError(t, err)
		g, w := common.Data[float32](got[o]), common.Data[float32](want[o])
		var num, den float64
		for i := range w {
			d := float64(g[i] - w[i])
			num += d * d
			den += float64(w[i]) * float64(w[i])
		}
		require.Less(t, math.Sqrt(num/den), 1e-5, "run %d", run)
		require.NotEqual(t, w, g, "the two engines should round differently (Winograd against direct sums)")
	}

	// One +Inf pixel in the middle: with direct sums only its 3x3
	// neighbourhood of outputs can be non-finite.
	in := randT(1, c, hw, hw)
	common.Data[float32](in)[10*hw+10] = float32(math.Inf(1))
	out, err := exact.Run(context.Background(), map[string]*common.Tensor{"x": in})
	require.NoError(t, err)
	for ch := 0; ch < c; ch++ {
		for i := 0; i < hw; i++ {
			for j := 0; j < hw; j++ {
				v := common.Data[float32](out[o])[(ch*hw+i)*hw+j]
				if i >= 9 && i <= 11 && j >= 9 && j <= 11 {
					continue
				}
				require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0), "channel %d (%d, %d) = %v", ch, i, j, v)
			}
		}
	}
}
