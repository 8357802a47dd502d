package cpu_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/onnx"
	"github.com/accel-go/accel/cpu"
)

// convZooModel chains float32 Convs of every kind the engine treats
// specially (im2col, implicit im2col, 1x1 direct, depthwise 3x3 with
// strides and pads, grouped, small edge tiles, fused Relu) and a few
// elementwise ops: kernels whose outputs are allocated without zeroing.
func convZooModel(t *testing.T) *common.Model {
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, 2, 8, 13, 11)
	seed := uint32(1)
	count := 0
	weight := func(shape ...int) string {
		s := common.Shape(shape)
		v := make([]float32, s.Size())
		for i := range v {
			seed = seed*1664525 + 1013904223
			v[i] = float32(int32(seed>>8)%1000) / 4000
		}
		count++
		return b.Init(fmt.Sprintf("w%d", count), common.NewTensor(s, v))
	}
	conv := func(in string, cin, cout, k, stride, pad, group int, relu bool, bias bool) string {
		ins := []string{in, weight(cout, cin/group, k, k)}
		if bias {
			ins = append(ins, weight(cout))
		}
		y := b.Node("Conv", ins,
			onnx.Ints("kernel_shape", int64(k), int64(k)),
			onnx.Ints("strides", int64(stride), int64(stride)),
			onnx.Ints("pads", int64(pad), int64(pad), int64(pad), int64(pad)),
			onnx.Int("group", int64(group)))
		if relu {
			y = b.Node("Relu", []string{y})
		}
		return y
	}
	h := conv(x, 8, 20, 3, 1, 1, 1, true, true)  // 3x3 padded, one group
	h = conv(h, 20, 20, 3, 2, 1, 20, true, true) // depthwise stride 2
	h = conv(h, 20, 7, 1, 1, 0, 1, false, false) // 1x1 direct, edge tiles
	h = conv(h, 7, 14, 3, 1, 0, 7, false, true)  // depthwise, multiplier 2, unpadded
	h = conv(h, 14, 150, 1, 1, 0, 1, true, true) // 1x1 with more than mc rows
	// Elementwise outputs are not zeroed either: same-shape, broadcast
	// and scalar operands, and unary maps.
	h = b.Node("Add", []string{h, b.Node("Neg", []string{h})})
	h = b.Node("Mul", []string{h, weight(150, 1, 1)})
	h = b.Node("Sub", []string{weight(1), h})
	h = b.Node("Div", []string{h, weight(1, 150, 1, 1)})
	h = b.Node("Sigmoid", []string{b.Node("Abs", []string{h})})
	h = conv(h, 150, 10, 3, 1, 2, 5, false, true) // grouped im2col
	h = conv(h, 10, 9, 5, 2, 2, 1, true, false)   // 5x5 strided
	b.Output(h, common.Float32)
	return b.Model()
}

// TestNoZeroGarbageBuffers fills each engine's buffer pool with NaN (one
// run on an all-NaN input recycles every intermediate buffer) and then
// requires a normal run to be bit-identical to a fresh engine's: kernels
// that skip zeroing their outputs must write every element themselves.
func TestNoZeroGarbageBuffers(t *testing.T) {
	models := map[string]func() *common.Model{
		"convzoo": func() *common.Model { return convZooModel(t) },
		"cnn":     func() *common.Model { return loadTB(t, "cnn.onnx") },
	}
	if _, err := os.Stat("../testdata/models/big/mobilenetv2.onnx"); err == nil {
		models["mobilenetv2"] = func() *common.Model { return loadTB(t, "big/mobilenetv2.onnx") }
	}
	for name, mk := range models {
		t.Run(name, func(t *testing.T) {
			for _, threads := range []int{1, 2} {
				fresh, err := cpu.Compile(mk(), common.Options{Threads: threads})
				require.NoError(t, err)
				in := modelInputs(t, fresh, 2, 5)
				if name == "mobilenetv2" {
					in = modelInputs(t, fresh, 1, 5)
				}
				want, err := fresh.Run(context.Background(), in)
				require.NoError(t, err)
				fresh.Close()

				e, err := cpu.Compile(mk(), common.Options{Threads: threads})
				require.NoError(t, err)
				nan := map[string]*common.Tensor{}
				for k, v := range in {
					d := make([]float32, v.Len())
					for i := range d {
						d[i] = float32(math.NaN())
					}
					nan[k] = common.NewTensor(v.Shape(), d)
				}
				for range 2 {
					_, err = e.Run(context.Background(), nan)
					require.NoError(t, err)
				}
				for range 2 {
					got, err := e.Run(context.Background(), in)
					require.NoError(t, err)
					sameBits(t, want, got, name)
				}
				e.Close()
			}
		})
	}
}
