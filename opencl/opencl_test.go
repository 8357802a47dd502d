//go:build opencl

package opencl

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/cpu"
)

// needDevice skips (or, under CI, fails) when no OpenCL platform is found.
func needDevice(t *testing.T) {
	t.Helper()
	if _, err := (Backend{}).Devices(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("OpenCL required under CI: %v", err)
		}
		t.Skipf("no OpenCL platform: %v (install with scripts/install-opencl.sh)", err)
	}
}

type opCase struct {
	name   string
	op     string
	opset  int64
	attrs  map[string]*common.Attribute
	inputs []*common.Tensor // nil: absent
	consts []bool           // input is an initializer
	nout   int
}

func ints(name string, v ...int64) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrInts, Ints: v}
}
func intAttr(name string, v int64) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrInt, I: v}
}
func floatAttr(name string, v float32) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrFloat, F: v}
}

func randT(rng *rand.Rand, shape ...int) *common.Tensor {
	n := common.Shape(shape).Size()
	d := make([]float32, n)
	for i := range d {
		d[i] = rng.Float32()*2 - 1
	}
	return common.NewTensor(common.Shape(shape), d)
}

func oneNode(c opCase) *common.Model {
	g := &common.Graph{Name: c.name, Initializers: map[string]*common.Tensor{}}
	n := &common.Node{Name: c.name, OpType: c.op, Opset: c.opset, Attrs: c.attrs}
	for i, t := range c.inputs {
		name := fmt.Sprintf("in%d", i)
		if t == nil {
			n.Inputs = append(n.Inputs, "")
			continue
		}
		n.Inputs = append(n.Inputs, name)
		if i < len(c.consts) && c.consts[i] {
			g.Initializers[name] = t
			continue
		}
		g.Inputs = append(g.Inputs, common.ValueInfo{Name: name, Type: typeOf(t)})
	}
	for i := 0; i < max(c.nout, 1); i++ {
		o := fmt.Sprintf("out%d", i)
		n.Outputs = append(n.Outputs, o)
		g.Outputs = append(g.Outputs, common.ValueInfo{Name: o})
	}
	g.Nodes = []*common.Node{n}
	return &common.Model{IRVersion: 8, Opsets: map[string]int64{"": c.opset}, Graph: g}
}

func typeOf(t *common.Tensor) common.TypeInfo {
	dims := make([]common.Dim, t.Rank())
	for i, d := range t.Shape() {
		dims[i] = common.Dim{Value: int64(d)}
	}
	return common.TypeInfo{Kind: common.KindTensor, DType: t.DType(), Dims: dims, HasShape: true}
}

func relL2(got, want *common.Tensor) float64 {
	var num, den float64
	for i := 0; i < want.Len(); i++ {
		d := got.Float(i) - want.Float(i)
		num += d * d
		den += want.Float(i) * want.Float(i)
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func runBoth(t *testing.T, c opCase) {
	t.Helper()
	if !cpu.Supports("", c.op) {
		t.Skipf("CPU engine has no %s yet", c.op)
	}
	m := oneNode(c)
	ref, err := cpu.Compile(m, common.Options{NoGraphPasses: true})
	require.NoError(t, err)
	defer ref.Close()
	e, err := (Backend{}).Compile(m, common.Options{DeviceOnly: true, NoGraphPasses: true})
	require.NoError(t, err, "%s must run on the device", c.name)
	defer e.Close()
	in := map[string]*common.Tensor{}
	for _, vi := range m.Graph.Inputs {
		var idx int
		fmt.Sscanf(vi.Name, "in%d", &idx)
		in[vi.Name] = c.inputs[idx]
	}
	ctx := context.Background()
	want, err := ref.Run(ctx, in)
	require.NoError(t, err)
	for run := 0; run < 2; run++ { // first run learns, second replays the plan
		got, err := e.Run(ctx, in)
		require.NoError(t, err)
		for name, w := range want {
			g := got[name]
			require.Equal(t, w.DType(), g.DType(), name)
			require.Equal(t, w.Shape(), g.Shape(), name)
			require.LessOrEqual(t, relL2(g, w), 1e-5, "%s run %d output %s: got %v want %v", c.name, run, name, g, w)
		}
	}
}

func TestKernelsMatchCPU(t *testing.T) {
	needDevice(t)
	rng := rand.New(rand.NewSource(7))
	cases := []opCase{
		{name: "conv3x3", op: "Conv", opset: 17, attrs: map[string]*common.Attribute{"pads": ints("pads", 1, 1, 1, 1)},
			inputs: []*common.Tensor{randT(rng, 2, 3, 7, 9), randT(rng, 5, 3, 3, 3), randT(rng, 5)}, consts: []bool{false, true, true}},
		{name: "conv_strided_dilated", op: "Conv", opset: 17, attrs: map[string]*common.Attribute{"strides": ints("strides", 2, 1), "dilations": ints("dilations", 1, 2), "pads": ints("pads", 0, 2, 1, 0)},
			inputs: []*common.Tensor{randT(rng, 1, 4, 9, 8), randT(rng, 3, 4, 3, 2)}, consts: []bool{false, true}},
		{name: "conv_depthwise", op: "Conv", opset: 17, attrs: map[string]*common.Attribute{"group": intAttr("group", 4), "auto_pad": {Name: "auto_pad", Type: common.AttrString, S: []byte("SAME_UPPER")}},
			inputs: []*common.Tensor{randT(rng, 1, 4, 6, 5), randT(rng, 4, 1, 3, 3), randT(rng, 4)}, consts: []bool{false, true, true}},
		{name: "conv1x1", op: "Conv", opset: 17, inputs: []*common.Tensor{randT(rng, 2, 6, 5, 3), randT(rng, 7, 6, 1, 1)}, consts: []bool{false, true}},
		{name: "conv1d", op: "Conv", opset: 17, inputs: []*common.Tensor{randT(rng, 2, 3, 11), randT(rng, 4, 3, 3)}, consts: []bool{false, true}},
		{name: "matmul_odd", op: "MatMul", opset: 13, inputs: []*common.Tensor{randT(rng, 17, 33), randT(rng, 33, 19)}},
		{name: "matmul_batched", op: "MatMul", opset: 13, inputs: []*common.Tensor{randT(rng, 3, 5, 7), randT(rng, 3, 7, 4)}},
		{name: "matmul_bcast", op: "MatMul", opset: 13, inputs: []*common.Tensor{randT(rng, 2, 3, 5, 7), randT(rng, 7, 4)}},
		{name: "matmul_vec", op: "MatMul", opset: 13, inputs: []*common.Tensor{randT(rng, 7), randT(rng, 7, 4)}},
		{name: "matmul_unit_batch", op: "MatMul", opset: 13, inputs: []*common.Tensor{randT(rng, 1, 16, 24), randT(rng, 24, 40)}},
		{name: "matmul_unit_batch_both", op: "MatMul", opset: 13, inputs: []*common.Tensor{randT(rng, 1, 3, 16, 24), randT(rng, 3, 24, 8)}},
		{name: "gemm_t", op: "Gemm", opset: 13, attrs: map[string]*common.Attribute{"transA": intAttr("transA", 1), "transB": intAttr("transB", 1), "alpha": floatAttr("alpha", 0.5), "beta": floatAttr("beta", 2)},
			inputs: []*common.Tensor{randT(rng, 9, 5), randT(rng, 18, 9), randT(rng, 18)}},
		{name: "gemm_c2d", op: "Gemm", opset: 13, inputs: []*common.Tensor{randT(rng, 4, 21), randT(rng, 21, 3), randT(rng, 4, 1)}},
		{name: "maxpool", op: "MaxPool", opset: 12, attrs: map[string]*common.Attribute{"kernel_shape": ints("kernel_shape", 3, 3), "strides": ints("strides", 2, 2), "pads": ints("pads", 1, 1, 1, 1)},
			inputs: []*common.Tensor{randT(rng, 2, 3, 9, 8)}},
		{name: "maxpool_ceil", op: "MaxPool", opset: 12, attrs: map[string]*common.Attribute{"kernel_shape": ints("kernel_shape", 2, 2), "strides": ints("strides", 2, 2), "ceil_mode": intAttr("ceil_mode", 1)},
			inputs: []*common.Tensor{randT(rng, 1, 2, 7, 7)}},
		{name: "avgpool_pad", op: "AveragePool", opset: 11, attrs: map[string]*common.Attribute{"kernel_shape": ints("kernel_shape", 3, 3), "pads": ints("pads", 1, 1, 1, 1)},
			inputs: []*common.Tensor{randT(rng, 1, 3, 6, 5)}},
		{name: "avgpool_incl", op: "AveragePool", opset: 11, attrs: map[string]*common.Attribute{"kernel_shape": ints("kernel_shape", 3, 3), "pads": ints("pads", 1, 1, 1, 1), "count_include_pad": intAttr("count_include_pad", 1)},
			inputs: []*common.Tensor{randT(rng, 1, 3, 6, 5)}},
		{name: "gap", op: "GlobalAveragePool", opset: 13, inputs: []*common.Tensor{randT(rng, 2, 5, 4, 3)}},
		{name: "gmp", op: "GlobalMaxPool", opset: 13, inputs: []*common.Tensor{randT(rng, 2, 5, 4, 3)}},
		{name: "softmax_axis1", op: "Softmax", opset: 13, attrs: map[string]*common.Attribute{"axis": intAttr("axis", 1)}, inputs: []*common.Tensor{randT(rng, 3, 7, 5)}},
		{name: "softmax_v11", op: "Softmax", opset: 11, inputs: []*common.Tensor{randT(rng, 3, 7, 5)}},
		{name: "logsoftmax", op: "LogSoftmax", opset: 13, inputs: []*common.Tensor{randT(rng, 4, 33)}},
		{name: "transpose", op: "Transpose", opset: 13, attrs: map[string]*common.Attribute{"perm": ints("perm", 0, 3, 1, 2)}, inputs: []*common.Tensor{randT(rng, 2, 3, 5, 7)}},
		{name: "transpose_default", op: "Transpose", opset: 13, inputs: []*common.Tensor{randT(rng, 3, 5, 7)}},
		{name: "concat", op: "Concat", opset: 13, attrs: map[string]*common.Attribute{"axis": intAttr("axis", -2)}, inputs: []*common.Tensor{randT(rng, 2, 3, 4), randT(rng, 2, 1, 4), randT(rng, 2, 5, 4)}},
		{name: "batchnorm", op: "BatchNormalization", opset: 15, inputs: []*common.Tensor{randT(rng, 2, 3, 4, 5), randT(rng, 3), randT(rng, 3), randT(rng, 3),
			common.NewTensor(common.Shape{3}, []float32{0.5, 1, 2})}, consts: []bool{false, true, true, true, true}},
	}
	for _, op := range []string{"Relu", "Sigmoid", "Tanh", "Exp", "Neg", "Abs", "Erf", "LeakyRelu", "HardSigmoid", "HardSwish", "Softsign"} {
		cases = append(cases, opCase{name: op, op: op, opset: 13, inputs: []*common.Tensor{randT(rng, 3, 37)}})
	}
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Max", "Min", "PRelu"} {
		cases = append(cases, opCase{name: op + "_bcast", op: op, opset: 13, inputs: []*common.Tensor{randT(rng, 2, 3, 5), randT(rng, 3, 1)}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runBoth(t, c) })
	}
}
