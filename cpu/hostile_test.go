package cpu_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/onnx"
	"github.com/accel-go/accel/cpu"
)

// hostileCase is one class of bad run-time input: a model (and inputs)
// that must make Compile or Run fail with one of the wanted sentinels.
type hostileCase struct {
	name  string
	build func() (*common.Model, map[string]*common.Tensor)
	// want lists the acceptable sentinels (errors.Is any of them).
	want []error
	opts common.Options
	// deadline is the context deadline of the run (default 5 s).
	deadline time.Duration
	// within bounds the wall time from Run to its error (0: no bound
	// beyond the deadline).
	within time.Duration
	// lowMem asks that the case allocate under 64 MiB in total.
	lowMem bool
}

var (
	errShape   = []error{common.ErrShape}
	errLimit   = []error{common.ErrLimit}
	errModel   = []error{common.ErrInvalidModel}
	errBadAttr = []error{common.ErrInvalidModel, common.ErrShape}
)

func f32(shape common.Shape) *common.Tensor {
	return common.Zeros(common.Float32, shape)
}

func i64s(v ...int64) *common.Tensor {
	return common.NewTensor(common.Shape{len(v)}, v)
}

// one builds a model with a single node over graph inputs (float32 data
// named by their shapes in ins) and int64 initializers.
type one struct {
	opset int64
	op    string
	// inputs in node order: a *common.Tensor becomes a graph input (fed
	// with random values) unless it is in consts; "" is an absent input.
	ins    []any
	consts map[int]bool
	attrs  []*common.Attribute
	nOut   int
	outDT  common.DType
}

func (o one) build() (*common.Model, map[string]*common.Tensor) {
	b := onnx.NewBuilder(o.opset)
	feeds := map[string]*common.Tensor{}
	rng := rand.New(rand.NewPCG(1, 2))
	names := make([]string, len(o.ins))
	for i, v := range o.ins {
		switch x := v.(type) {
		case string:
			names[i] = x
		case *common.Tensor:
			name := "in" + string(rune('a'+i))
			if o.consts[i] {
				names[i] = b.Init(name, x)
				continue
			}
			dims := make([]any, x.Rank())
			for j, d := range x.Shape() {
				dims[j] = d
			}
			names[i] = b.Input(name, x.DType(), dims...)
			t := x.Clone()
			if s, ok := common.TryData[float32](t); ok {
				for k := range s {
					s[k] = float32(rng.Float64()*2 - 1)
				}
			}
			feeds[name] = t
		}
	}
	nOut := max(o.nOut, 1)
	outs := b.NodeN(o.op, names, nOut, o.attrs...)
	dt := o.outDT
	if dt == common.Undefined {
		dt = common.Float32
	}
	for _, out := range outs {
		b.Output(out, dt)
	}
	return b.Model(), feeds
}

// consts marks which inputs of a one are initializers.
func consts(idx ...int) map[int]bool {
	m := map[int]bool{}
	for _, i := range idx {
		m[i] = true
	}
	return m
}

// loopModel is a Loop with trip count INT64_MAX and cond always true;
// with scanOut, the body scans out a 1 MiB tensor each iteration.
func loopModel(scanOut bool) (*common.Model, map[string]*common.Tensor) {
	b := onnx.NewBuilder(16)
	body := b.Sub("body")
	body.Input("i", common.Int64)
	cin := body.Input("cond_in", common.Bool)
	cout := body.Node("Identity", []string{cin})
	body.Output(cout, common.Bool)
	if scanOut {
		big := body.Init("big", f32(common.Shape{256, 1024}))
		s := body.Node("Identity", []string{big})
		body.Output(s, common.Float32)
	}
	trip := b.Init("trip", common.Scalar(int64(math.MaxInt64)))
	cond := b.Init("cond", common.Scalar(true))
	x := b.Input("x", common.Float32, 1)
	nOut := 0
	if scanOut {
		nOut = 1
	}
	outs := b.NodeN("Loop", []string{trip, cond}, nOut, onnx.Graph("body", body.Graph()))
	if scanOut {
		b.Output(outs[0], common.Float32)
	} else {
		// The loop has no outputs; keep a graph output that depends on it
		// being run by wiring x through.
		y := b.Node("Identity", []string{x})
		b.Output(y, common.Float32)
		g := b.Graph()
		// Make the Loop carry x so it is not dead code.
		g.Nodes[0].Inputs = append(g.Nodes[0].Inputs, x)
		g.Nodes[0].Outputs = []string{"x_final"}
		body.Input("x_in", common.Float32, 1)
		xo := body.Node("Identity", []string{"x_in"})
		body.Output(xo, common.Float32)
		g.Outputs = []common.ValueInfo{{Name: "x_final", Type: onnx.TensorType(common.Float32, 1)}}
	}
	return b.Model(), map[string]*common.Tensor{"x": f32(common.Shape{1})}
}

// ifModel is an If whose then branch yields float32 and else branch int64.
func ifModel() (*common.Model, map[string]*common.Tensor) {
	b := onnx.NewBuilder(16)
	then := b.Sub("then")
	tv := then.Init("tv", common.NewTensor(common.Shape{1}, []float32{1}))
	to := then.Node("Identity", []string{tv})
	then.Output(to, common.Float32)
	els := b.Sub("else")
	ev := els.Init("ev", i64s(1))
	eo := els.Node("Identity", []string{ev})
	els.Output(eo, common.Int64)
	c := b.Input("c", common.Bool)
	y := b.Node("If", []string{c}, onnx.Graph("then_branch", then.Graph()), onnx.Graph("else_branch", els.Graph()))
	b.Output(y, common.Float32)
	return b.Model(), map[string]*common.Tensor{"c": common.Scalar(false)}
}

// plainModel is y = Softmax(x) with x float32 [2,3].
func plainModel() *common.Model {
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, 2, 3)
	y := b.Node("Softmax", []string{x})
	b.Output(y, common.Float32)
	return b.Model()
}

func withFeeds(feeds map[string]*common.Tensor) func() (*common.Model, map[string]*common.Tensor) {
	return func() (*common.Model, map[string]*common.Tensor) { return plainModel(), feeds }
}

func hostileCases() []hostileCase {
	x23 := f32(common.Shape{2, 3})
	img := f32(common.Shape{1, 1, 5, 5})
	img3 := f32(common.Shape{1, 3, 5, 5})
	k1 := f32(common.Shape{1, 1, 3, 3})
	huge := int64(1) << 40
	return []hostileCase{
		{name: "Reshape/impossible", want: errShape,
			build: one{opset: 14, op: "Reshape", ins: []any{x23, i64s(4, 2)}, consts: consts(1)}.build},
		{name: "Reshape/two-minus-one", want: errShape,
			build: one{opset: 14, op: "Reshape", ins: []any{x23, i64s(-1, -1)}, consts: consts(1)}.build},
		{name: "Reshape/negative-dim", want: errShape,
			build: one{opset: 14, op: "Reshape", ins: []any{x23, i64s(-2, 3)}, consts: consts(1)}.build},
		{name: "Reshape/zero-out-of-rank", want: errShape,
			build: one{opset: 14, op: "Reshape", ins: []any{x23, i64s(0, 0, 0)}, consts: consts(1)}.build},
		{name: "Conv/zero-stride", want: errBadAttr,
			build: one{opset: 11, op: "Conv", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("strides", 0, 0)}}.build},
		{name: "Conv/negative-pads", want: errBadAttr,
			build: one{opset: 11, op: "Conv", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("pads", -1, -1, -1, -1)}}.build},
		{name: "Conv/huge-negative-pads", want: errBadAttr,
			build: one{opset: 11, op: "Conv", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("pads", -huge, 0, 0, 0)}}.build},
		{name: "Conv/zero-dilation", want: errBadAttr,
			build: one{opset: 11, op: "Conv", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("dilations", 0, 0)}}.build},
		{name: "Conv/group-not-dividing", want: errBadAttr,
			build: one{opset: 11, op: "Conv", ins: []any{img3, f32(common.Shape{3, 1, 3, 3})}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("group", 2)}}.build},
		{name: "Conv/zero-group", want: errBadAttr,
			build: one{opset: 11, op: "Conv", ins: []any{img3, f32(common.Shape{3, 1, 3, 3})}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("group", 0)}}.build},
		{name: "Conv/kernel-larger-than-input", want: errShape,
			build: one{opset: 11, op: "Conv", ins: []any{f32(common.Shape{1, 1, 2, 2}), k1}, consts: consts(1)}.build},
		{name: "Conv/weight-channel-mismatch", want: errShape,
			build: one{opset: 11, op: "Conv", ins: []any{img3, f32(common.Shape{1, 2, 3, 3})}, consts: consts(1)}.build},
		{name: "Conv/weight-rank", want: errShape,
			build: one{opset: 11, op: "Conv", ins: []any{img, f32(common.Shape{3, 3})}, consts: consts(1)}.build},
		{name: "Conv/huge-stride", want: errBadAttr,
			build: one{opset: 11, op: "Conv", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("strides", math.MaxInt64, math.MaxInt64)}}.build},
		{name: "ConvTranspose/huge-output", want: []error{common.ErrLimit, common.ErrShape, common.ErrInvalidModel},
			build: one{opset: 11, op: "ConvTranspose", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("strides", huge, huge)}}.build, lowMem: true},
		{name: "Gather/index-too-large", want: errShape,
			build: one{opset: 13, op: "Gather", ins: []any{x23, i64s(5)}, consts: consts(1)}.build},
		{name: "Gather/index-too-negative", want: errShape,
			build: one{opset: 13, op: "Gather", ins: []any{x23, i64s(-3)}, consts: consts(1)}.build},
		{name: "Gather/bad-axis", want: errBadAttr,
			build: one{opset: 13, op: "Gather", ins: []any{x23, i64s(0)}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("axis", 7)}}.build},
		{name: "GatherElements/out-of-range", want: errShape,
			build: one{opset: 13, op: "GatherElements", ins: []any{f32(common.Shape{2, 2}), common.NewTensor(common.Shape{2, 2}, []int64{0, 2, 1, 0})}, consts: consts(1)}.build},
		{name: "GatherND/out-of-range", want: errShape,
			build: one{opset: 13, op: "GatherND", ins: []any{f32(common.Shape{2, 2}), common.NewTensor(common.Shape{1, 2}, []int64{1, 9})}, consts: consts(1)}.build},
		{name: "ScatterND/out-of-range", want: errShape,
			build: one{opset: 16, op: "ScatterND", ins: []any{f32(common.Shape{4}), common.NewTensor(common.Shape{1, 1}, []int64{5}), f32(common.Shape{1})}, consts: consts(1)}.build},
		{name: "ScatterND/negative-out-of-range", want: errShape,
			build: one{opset: 16, op: "ScatterND", ins: []any{f32(common.Shape{4}), common.NewTensor(common.Shape{1, 1}, []int64{-5}), f32(common.Shape{1})}, consts: consts(1)}.build},
		{name: "ScatterElements/out-of-range", want: errShape,
			build: one{opset: 16, op: "ScatterElements", ins: []any{f32(common.Shape{2, 2}), common.NewTensor(common.Shape{1, 1}, []int64{3}), f32(common.Shape{1, 1})}, consts: consts(1)}.build},
		{name: "Slice/zero-step", want: errBadAttr,
			build: one{opset: 13, op: "Slice", ins: []any{x23, i64s(0), i64s(2), i64s(0), i64s(0)}, consts: consts(1, 2, 3, 4)}.build},
		{name: "Slice/bad-axis", want: errBadAttr,
			build: one{opset: 13, op: "Slice", ins: []any{x23, i64s(0), i64s(2), i64s(9)}, consts: consts(1, 2, 3)}.build},
		{name: "Concat/bad-axis", want: errBadAttr,
			build: one{opset: 13, op: "Concat", ins: []any{x23, x23}, attrs: []*common.Attribute{onnx.Int("axis", 5)}}.build},
		{name: "Concat/mismatched-shapes", want: errShape,
			build: one{opset: 13, op: "Concat", ins: []any{x23, f32(common.Shape{2, 4})}, attrs: []*common.Attribute{onnx.Int("axis", 0)}}.build},
		{name: "Concat/mismatched-rank", want: errShape,
			build: one{opset: 13, op: "Concat", ins: []any{x23, f32(common.Shape{6})}, attrs: []*common.Attribute{onnx.Int("axis", 0)}}.build},
		{name: "Expand/enormous", want: errLimit, lowMem: true,
			build: one{opset: 13, op: "Expand", ins: []any{f32(common.Shape{1}), i64s(1<<20, 1<<20)}, consts: consts(1)}.build},
		{name: "Expand/overflowing", want: []error{common.ErrLimit, common.ErrShape}, lowMem: true,
			build: one{opset: 13, op: "Expand", ins: []any{f32(common.Shape{1}), i64s(math.MaxInt64, math.MaxInt64)}, consts: consts(1)}.build},
		{name: "Expand/incompatible", want: errShape,
			build: one{opset: 13, op: "Expand", ins: []any{x23, i64s(2, 4)}, consts: consts(1)}.build},
		{name: "ConstantOfShape/enormous", want: errLimit, lowMem: true,
			build: one{opset: 20, op: "ConstantOfShape", ins: []any{i64s(huge)}, consts: consts(0)}.build},
		{name: "ConstantOfShape/enormous-runtime", want: errLimit, lowMem: true,
			build: func() (*common.Model, map[string]*common.Tensor) {
				b := onnx.NewBuilder(20)
				s := b.Input("s", common.Int64, 3)
				y := b.Node("ConstantOfShape", []string{s})
				b.Output(y, common.Float32)
				return b.Model(), map[string]*common.Tensor{"s": i64s(1<<21, 1<<21, 1<<21)}
			}},
		{name: "ConstantOfShape/negative", want: errShape, lowMem: true,
			build: one{opset: 20, op: "ConstantOfShape", ins: []any{i64s(-1, 4)}, consts: consts(0)}.build},
		{name: "Tile/enormous", want: errLimit, lowMem: true,
			build: one{opset: 13, op: "Tile", ins: []any{x23, i64s(1<<30, 1<<30)}, consts: consts(1)}.build},
		{name: "Tile/negative", want: errShape,
			build: one{opset: 13, op: "Tile", ins: []any{x23, i64s(-1, 1)}, consts: consts(1)}.build},
		{name: "Pad/enormous", want: errLimit, lowMem: true,
			build: one{opset: 18, op: "Pad", ins: []any{x23, i64s(0, 0, huge, huge)}, consts: consts(1)}.build},
		{name: "Pad/overflowing", want: []error{common.ErrLimit, common.ErrShape}, lowMem: true,
			build: one{opset: 18, op: "Pad", ins: []any{x23, i64s(0, 0, math.MaxInt64, math.MaxInt64)}, consts: consts(1)}.build},
		{name: "Pad/too-negative", want: errShape,
			build: one{opset: 18, op: "Pad", ins: []any{x23, i64s(0, -5, 0, 0)}, consts: consts(1)}.build},
		{name: "Pad/attr-enormous", want: errLimit, lowMem: true,
			build: one{opset: 2, op: "Pad", ins: []any{x23}, attrs: []*common.Attribute{onnx.Ints("pads", 0, 0, huge, huge)}}.build},
		{name: "Resize/enormous-sizes", want: errLimit, lowMem: true,
			build: one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), "", "", i64s(1, 1, 1<<30, 1<<30)}, consts: consts(3)}.build},
		{name: "Resize/enormous-scales", want: errLimit, lowMem: true,
			build: one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), "", common.NewTensor(common.Shape{4}, []float32{1, 1, 1e9, 1e9})}, consts: consts(2)}.build},
		{name: "Resize/infinite-scales", want: []error{common.ErrLimit, common.ErrShape, common.ErrInvalidModel}, lowMem: true,
			build: one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), "", common.NewTensor(common.Shape{4}, []float32{1, 1, float32(math.Inf(1)), float32(math.NaN())})}, consts: consts(2)}.build},
		{name: "Upsample/enormous", want: errLimit, lowMem: true,
			build: one{opset: 9, op: "Upsample", ins: []any{f32(common.Shape{1, 1, 2, 2}), common.NewTensor(common.Shape{4}, []float32{1, 1, 1e9, 1e9})}, consts: consts(1)}.build},
		{name: "Range/huge-count", want: errLimit, lowMem: true,
			build: one{opset: 11, op: "Range", ins: []any{common.Scalar(int64(0)), common.Scalar(int64(math.MaxInt64)), common.Scalar(int64(1))}, consts: consts(0, 1, 2), outDT: common.Int64}.build},
		{name: "Range/huge-count-runtime", want: errLimit, lowMem: true,
			build: func() (*common.Model, map[string]*common.Tensor) {
				b := onnx.NewBuilder(11)
				lo := b.Input("lo", common.Float32)
				hi := b.Input("hi", common.Float32)
				d := b.Input("d", common.Float32)
				y := b.Node("Range", []string{lo, hi, d})
				b.Output(y, common.Float32)
				return b.Model(), map[string]*common.Tensor{"lo": common.Scalar(float32(0)), "hi": common.Scalar(float32(1e30)), "d": common.Scalar(float32(1e-30))}
			}},
		{name: "Range/zero-delta", want: []error{common.ErrLimit, common.ErrShape, common.ErrInvalidModel}, lowMem: true,
			build: one{opset: 11, op: "Range", ins: []any{common.Scalar(float32(0)), common.Scalar(float32(10)), common.Scalar(float32(0))}, consts: consts(0, 1, 2)}.build},
		{name: "Range/nan-limit", want: []error{common.ErrLimit, common.ErrShape, common.ErrInvalidModel}, lowMem: true,
			build: one{opset: 11, op: "Range", ins: []any{common.Scalar(float32(0)), common.Scalar(float32(math.NaN())), common.Scalar(float32(1))}, consts: consts(0, 1, 2)}.build},
		{name: "Transpose/duplicate-perm", want: errBadAttr,
			build: one{opset: 13, op: "Transpose", ins: []any{x23}, attrs: []*common.Attribute{onnx.Ints("perm", 0, 0)}}.build},
		{name: "Transpose/out-of-range-perm", want: errBadAttr,
			build: one{opset: 13, op: "Transpose", ins: []any{x23}, attrs: []*common.Attribute{onnx.Ints("perm", 0, 5)}}.build},
		{name: "Transpose/short-perm", want: errBadAttr,
			build: one{opset: 13, op: "Transpose", ins: []any{x23}, attrs: []*common.Attribute{onnx.Ints("perm", 0)}}.build},
		{name: "Split/sizes-not-summing", want: errShape,
			build: one{opset: 13, op: "Split", ins: []any{f32(common.Shape{6}), i64s(2, 2)}, consts: consts(1), nOut: 2}.build},
		{name: "Split/negative-size", want: errShape,
			build: one{opset: 13, op: "Split", ins: []any{f32(common.Shape{6}), i64s(8, -2)}, consts: consts(1), nOut: 2}.build},
		{name: "Split/attr-sizes-not-summing", want: errBadAttr,
			build: one{opset: 11, op: "Split", ins: []any{f32(common.Shape{6})}, attrs: []*common.Attribute{onnx.Ints("split", 1, 1)}, nOut: 2}.build},
		{name: "MatMul/mismatch", want: errShape,
			build: one{opset: 13, op: "MatMul", ins: []any{x23, f32(common.Shape{4, 5})}}.build},
		{name: "MatMul/batch-mismatch", want: errShape,
			build: one{opset: 13, op: "MatMul", ins: []any{f32(common.Shape{2, 2, 3}), f32(common.Shape{3, 3, 4})}}.build},
		{name: "Gemm/mismatch", want: errShape,
			build: one{opset: 13, op: "Gemm", ins: []any{x23, f32(common.Shape{4, 5})}}.build},
		{name: "TopK/k-too-large", want: errShape,
			build: one{opset: 11, op: "TopK", ins: []any{f32(common.Shape{3}), i64s(5)}, consts: consts(1), nOut: 2}.build},
		{name: "TopK/negative-k", want: errShape,
			build: one{opset: 11, op: "TopK", ins: []any{f32(common.Shape{3}), i64s(-1)}, consts: consts(1), nOut: 2}.build},
		{name: "OneHot/negative-depth", want: errBadAttr,
			build: one{opset: 11, op: "OneHot", ins: []any{i64s(0, 1), i64s(-3), common.NewTensor(common.Shape{2}, []float32{0, 1})}, consts: consts(0, 1, 2)}.build},
		{name: "OneHot/enormous-depth", want: errLimit, lowMem: true,
			build: one{opset: 11, op: "OneHot", ins: []any{i64s(0, 1), i64s(huge), common.NewTensor(common.Shape{2}, []float32{0, 1})}, consts: consts(0, 1, 2)}.build},
		{name: "Softmax/bad-axis", want: errBadAttr,
			build: one{opset: 13, op: "Softmax", ins: []any{x23}, attrs: []*common.Attribute{onnx.Int("axis", 4)}}.build},
		{name: "ReduceSum/bad-axis", want: errBadAttr,
			build: one{opset: 13, op: "ReduceSum", ins: []any{x23, i64s(3)}, consts: consts(1)}.build},
		{name: "Squeeze/non-one-dim", want: errShape,
			build: one{opset: 13, op: "Squeeze", ins: []any{x23, i64s(0)}, consts: consts(1)}.build},
		{name: "Unsqueeze/duplicate-axes", want: errBadAttr,
			build: one{opset: 13, op: "Unsqueeze", ins: []any{x23, i64s(0, 0)}, consts: consts(1)}.build},
		{name: "Flatten/bad-axis", want: errBadAttr,
			build: one{opset: 13, op: "Flatten", ins: []any{x23}, attrs: []*common.Attribute{onnx.Int("axis", 3)}}.build},
		{name: "DepthToSpace/indivisible", want: errShape,
			build: one{opset: 13, op: "DepthToSpace", ins: []any{f32(common.Shape{1, 3, 2, 2})}, attrs: []*common.Attribute{onnx.Int("blocksize", 2)}}.build},
		{name: "DepthToSpace/zero-block", want: errBadAttr,
			build: one{opset: 13, op: "DepthToSpace", ins: []any{f32(common.Shape{1, 4, 2, 2})}, attrs: []*common.Attribute{onnx.Int("blocksize", 0)}}.build},
		{name: "MaxPool/zero-kernel", want: errBadAttr,
			build: one{opset: 12, op: "MaxPool", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("kernel_shape", 0, 0)}}.build},
		{name: "MaxPool/kernel-larger-than-input", want: errShape,
			build: one{opset: 12, op: "MaxPool", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("kernel_shape", 9, 9)}}.build},
		{name: "Add/not-broadcastable", want: errShape,
			build: one{opset: 14, op: "Add", ins: []any{x23, f32(common.Shape{4})}}.build},
		{name: "Einsum/bad-equation", want: errBadAttr,
			build: one{opset: 12, op: "Einsum", ins: []any{x23}, attrs: []*common.Attribute{onnx.String("equation", "ij,jk->ik")}}.build},
		{name: "CumSum/bad-axis", want: errBadAttr,
			build: one{opset: 14, op: "CumSum", ins: []any{x23, common.Scalar(int64(9))}, consts: consts(1)}.build},
		{name: "Loop/endless-stopped-by-deadline", want: []error{context.DeadlineExceeded},
			build:    func() (*common.Model, map[string]*common.Tensor) { return loopModel(false) },
			deadline: 200 * time.Millisecond, within: 3 * time.Second},
		{name: "Loop/unbounded-scan-stopped-by-memory-cap", want: errLimit,
			build: func() (*common.Model, map[string]*common.Tensor) { return loopModel(true) },
			opts:  common.Options{Limits: common.Limits{Memory: 64 << 20}}},
		{name: "If/branch-types-differ", want: errModel, build: ifModel},
		{name: "Input/wrong-dtype", want: errShape,
			build: withFeeds(map[string]*common.Tensor{"x": common.Zeros(common.Int64, common.Shape{2, 3})})},
		{name: "Input/wrong-rank", want: errShape,
			build: withFeeds(map[string]*common.Tensor{"x": f32(common.Shape{6})})},
		{name: "Input/wrong-dim", want: errShape,
			build: withFeeds(map[string]*common.Tensor{"x": f32(common.Shape{2, 4})})},
		{name: "Input/missing", want: errShape, build: withFeeds(map[string]*common.Tensor{})},
		{name: "Input/nil", want: errShape, build: withFeeds(map[string]*common.Tensor{"x": nil})},
		{name: "Input/extra", want: errShape,
			build: withFeeds(map[string]*common.Tensor{"x": f32(common.Shape{2, 3}), "bogus": f32(common.Shape{1})})},
	}
}

// inputNamed is the graph input a bad-feed case is about.
func inputNamed(name string) string {
	switch name {
	case "Input/extra":
		return `"bogus"`
	}
	return `"x"`
}

func TestHostileGraphs(t *testing.T) {
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			m, feeds := tc.build()
			deadline := tc.deadline
			if deadline == 0 {
				deadline = 5 * time.Second
			}
			var before, after runtime.MemStats
			if tc.lowMem {
				runtime.GC()
				runtime.ReadMemStats(&before)
			}
			start := time.Now()
			err := compileAndRun(m, feeds, tc.opts, deadline)
			elapsed := time.Since(start)
			if tc.lowMem {
				runtime.ReadMemStats(&after)
				grew := after.TotalAlloc - before.TotalAlloc
				require.Less(t, grew, uint64(64<<20), "allocated %d bytes", grew)
			}
			require.Error(t, err)
			require.NotContains(t, err.Error(), "internal error")
			ok := false
			for _, w := range tc.want {
				ok = ok || errors.Is(err, w)
			}
			require.True(t, ok, "want one of %v, got: %v", tc.want, err)
			if tc.within > 0 {
				require.Less(t, elapsed, tc.within)
			}
			if strings.HasPrefix(tc.name, "Input/") {
				require.Contains(t, err.Error(), inputNamed(tc.name))
			}
			require.LessOrEqual(t, len(strings.Split(err.Error(), "\n")), 1, "error spans lines: %v", err)
		})
	}
}

// compileAndRun compiles m and runs it under a deadline; the error is
// Compile's or Run's.
func compileAndRun(m *common.Model, feeds map[string]*common.Tensor, opts common.Options, deadline time.Duration) error {
	e, err := cpu.Compile(m, opts)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	_, err = e.Run(ctx, feeds)
	return err
}

// TestHostileGraphsControl checks that the models of the table are well
// formed apart from their one defect: fixed versions of a few run.
func TestHostileGraphsControl(t *testing.T) {
	x := f32(common.Shape{2, 3})
	good := []struct {
		name  string
		build func() (*common.Model, map[string]*common.Tensor)
		want  common.Shape
	}{
		{"Reshape", one{opset: 14, op: "Reshape", ins: []any{x, i64s(3, -1)}, consts: consts(1)}.build, common.Shape{3, 2}},
		{"Expand", one{opset: 13, op: "Expand", ins: []any{f32(common.Shape{1}), i64s(2, 4)}, consts: consts(1)}.build, common.Shape{2, 4}},
		{"Tile", one{opset: 13, op: "Tile", ins: []any{x, i64s(2, 1)}, consts: consts(1)}.build, common.Shape{4, 3}},
		{"Pad", one{opset: 18, op: "Pad", ins: []any{x, i64s(0, 0, 1, 2)}, consts: consts(1)}.build, common.Shape{3, 5}},
		{"Conv", one{opset: 11, op: "Conv", ins: []any{f32(common.Shape{1, 1, 5, 5}), f32(common.Shape{1, 1, 3, 3})}, consts: consts(1)}.build, common.Shape{1, 1, 3, 3}},
		{"Gather", one{opset: 13, op: "Gather", ins: []any{x, i64s(-2, 1)}, consts: consts(1)}.build, common.Shape{2, 3}},
		{"Softmax", withFeeds(map[string]*common.Tensor{"x": x}), common.Shape{2, 3}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			m, feeds := tc.build()
			e, err := cpu.Compile(m, common.Options{})
			require.NoError(t, err)
			defer e.Close()
			out, err := e.Run(context.Background(), feeds)
			require.NoError(t, err)
			require.Len(t, out, 1)
			for _, v := range out {
				require.Equal(t, tc.want, v.Shape())
			}
		})
	}

	// The loop with a small trip count finishes and stacks its scan output.
	m, feeds := loopModel(true)
	m.Graph.Initializers["trip"] = common.Scalar(int64(3))
	e, err := cpu.Compile(m, common.Options{Limits: common.Limits{Memory: 64 << 20}})
	require.NoError(t, err)
	defer e.Close()
	out, err := e.Run(context.Background(), feeds)
	require.NoError(t, err)
	for _, v := range out {
		require.Equal(t, common.Shape{3, 256, 1024}, v.Shape())
	}
}
