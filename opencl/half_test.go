//go:build opencl

package opencl

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/plan"
	"github.com/accel-go/accel/cpu"
)

func TestUseHalfSelection(t *testing.T) {
	for _, c := range []struct {
		fp16  bool
		p     common.Precision
		force bool
		want  bool
	}{
		{true, common.PrecisionFP16, false, true},
		{false, common.PrecisionFP16, false, false}, // no cl_khr_fp16: stay fp32
		{true, common.PrecisionFP32, false, false},
		{true, common.PrecisionDefault, false, false},
		{false, common.PrecisionDefault, true, true},
	} {
		require.Equal(t, c.want, useHalf(c.fp16, c.p, c.force), "%+v", c)
	}
}

// halfCases are small graphs whose float32 values go through float16
// storage.
func halfCases(rng *rand.Rand) []opCase {
	return []opCase{
		{name: "conv3x3", op: "Conv", opset: 17, attrs: map[string]*common.Attribute{"pads": ints("pads", 1, 1, 1, 1)},
			inputs: []*common.Tensor{randT(rng, 1, 3, 7, 9), randT(rng, 4, 3, 3, 3), randT(rng, 4)}, consts: []bool{false, true, true}},
		{name: "gemm", op: "Gemm", opset: 13, inputs: []*common.Tensor{randT(rng, 5, 19), randT(rng, 19, 7), randT(rng, 7)}, consts: []bool{false, true, true}},
		{name: "matmul_tiles", op: "MatMul", opset: 13, inputs: []*common.Tensor{randT(rng, 70, 40), randT(rng, 40, 66)}},
		{name: "softmax", op: "Softmax", opset: 13, inputs: []*common.Tensor{randT(rng, 3, 17)}},
		{name: "add", op: "Add", opset: 13, inputs: []*common.Tensor{randT(rng, 2, 3, 5), randT(rng, 3, 1)}},
		{name: "transpose", op: "Transpose", opset: 13, inputs: []*common.Tensor{randT(rng, 3, 5, 2)}},
		{name: "slice", op: "Slice", opset: 13, inputs: []*common.Tensor{randT(rng, 6, 5), i64(common.Shape{1}, 1), i64(common.Shape{1}, 4)}, consts: []bool{false, true, true}},
		{name: "pad_value", op: "Pad", opset: 13, inputs: []*common.Tensor{randT(rng, 3, 4), i64(common.Shape{4}, 1, 0, 0, 2), f32(nil, 0.75)}, consts: []bool{false, true, true}},
		{name: "layernorm", op: "LayerNormalization", opset: 17, inputs: []*common.Tensor{randT(rng, 4, 33), randT(rng, 33), randT(rng, 33)}, consts: []bool{false, true, true}},
		{name: "reduce_mean", op: "ReduceMean", opset: 13, attrs: map[string]*common.Attribute{"axes": ints("axes", 1)}, inputs: []*common.Tensor{randT(rng, 4, 9)}},
		{name: "resize", op: "Resize", opset: 13, attrs: map[string]*common.Attribute{"mode": strAttr("mode", "linear")},
			inputs: []*common.Tensor{randT(rng, 1, 1, 3, 4), nil, f32(common.Shape{4}, 1, 1, 2, 1.5)}, consts: []bool{false, false, true}},
		{name: "cast_to_int", op: "Cast", opset: 13, attrs: map[string]*common.Attribute{"to": intAttr("to", int64(common.Int64))},
			inputs: []*common.Tensor{f32(common.Shape{4}, 1.5, -2.25, 7, 300)}},
	}
}

// runHalf compiles c with opts and checks it against the CPU engine
// within tol (relative L2).
func runHalf(t *testing.T, c opCase, opts common.Options, tol float64) {
	t.Helper()
	m := oneNode(c)
	ref, err := cpu.Compile(m, common.Options{NoGraphPasses: true})
	require.NoError(t, err)
	defer ref.Close()
	opts.DeviceOnly, opts.NoGraphPasses = true, true
	e, err := (Backend{}).Compile(m, opts)
	require.NoError(t, err)
	defer e.Close()
	require.True(t, e.(*plan.Engine).HalfStorage(), "engine must use fp16 storage")
	in := map[string]*common.Tensor{}
	for _, vi := range m.Graph.Inputs {
		var idx int
		fmt.Sscanf(vi.Name, "in%d", &idx)
		in[vi.Name] = c.inputs[idx]
	}
	want, err := ref.Run(context.Background(), in)
	require.NoError(t, err)
	for run := 0; run < 2; run++ {
		got, err := e.Run(context.Background(), in)
		require.NoError(t, err)
		for name, w := range want {
			g := got[name]
			require.Equal(t, w.DType(), g.DType(), name)
			require.Equal(t, w.Shape(), g.Shape(), name)
			require.LessOrEqual(t, relL2(g, w), tol, "%s run %d: got %v want %v", c.name, run, g, w)
		}
	}
}

func TestHalfStorageWithFP16Device(t *testing.T) {
	needDevice(t)
	d, err := pickDevice(0)
	require.NoError(t, err)
	if !d.fp16 {
		t.Skipf("device %q has no cl_khr_fp16: Precision fp16 keeps fp32 storage here (TestHalfStorageForced covers the fp16 kernels)", d.name)
	}
	rng := rand.New(rand.NewSource(4))
	for _, c := range halfCases(rng) {
		t.Run(c.name, func(t *testing.T) { runHalf(t, c, common.Options{Precision: common.PrecisionFP16}, 5e-3) })
	}
}

func TestHalfStorageForced(t *testing.T) {
	needDevice(t)
	forceHalf = true
	defer func() { forceHalf = false }()
	rng := rand.New(rand.NewSource(4))
	for _, c := range halfCases(rng) {
		t.Run(c.name, func(t *testing.T) { runHalf(t, c, common.Options{}, 5e-3) })
	}
}

func TestFP16RequestWithoutExtensionStaysFP32(t *testing.T) {
	needDevice(t)
	d, err := pickDevice(0)
	require.NoError(t, err)
	if d.fp16 {
		t.Skipf("device %q has cl_khr_fp16", d.name)
	}
	rng := rand.New(rand.NewSource(9))
	c := opCase{name: "gemm", op: "Gemm", opset: 13, inputs: []*common.Tensor{randT(rng, 3, 4), randT(rng, 4, 5)}}
	e, err := (Backend{}).Compile(oneNode(c), common.Options{Precision: common.PrecisionFP16, DeviceOnly: true})
	require.NoError(t, err)
	defer e.Close()
	require.False(t, e.(*plan.Engine).HalfStorage())
	runBoth(t, c) // and fp32 results are exact to fp32 tolerance
}
