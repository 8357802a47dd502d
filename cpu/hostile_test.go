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
	for i, out := range outs {
		if i > 0 {
			// Later outputs (indices, counts) have types of their own.
			dt = common.Undefined
		}
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

// nestedIf nests Ifs depth levels deep; both branches of each level
// share the graph of the level below (2^depth paths). The model is put
// together by hand: walking it as a tree takes 2^depth steps.
func nestedIf(depth int) (*common.Model, map[string]*common.Tensor) {
	b := onnx.NewBuilder(17)
	c := b.Input("c", common.Bool)
	last := func(g *common.Graph) { g.Nodes[len(g.Nodes)-1].Opset = 17 }
	var inner *common.Graph
	for level := range depth {
		sb := b.Sub("level")
		if inner == nil {
			sb.Output(sb.Node("Constant", nil, onnx.Tensor("value", common.NewTensor(common.Shape{1}, []float32{float32(level)}))), common.Float32)
		} else {
			sb.Output(sb.Node("If", []string{c}, onnx.Graph("then_branch", inner), onnx.Graph("else_branch", inner)), common.Float32)
		}
		last(sb.Graph())
		inner = sb.Graph()
	}
	b.Output(b.Node("If", []string{c}, onnx.Graph("then_branch", inner), onnx.Graph("else_branch", inner)), common.Float32)
	last(b.Graph())
	m := &common.Model{IRVersion: 8, Opsets: map[string]int64{"": 17}, Graph: b.Graph()}
	return m, map[string]*common.Tensor{"c": common.Scalar(true)}
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
		{name: "Div/integer-by-zero", want: errShape,
			build: one{opset: 14, op: "Div", ins: []any{i64s(1, 2), i64s(0, 1)}, consts: consts(0, 1), outDT: common.Int64}.build},
		{name: "Mod/integer-by-zero", want: errShape,
			build: one{opset: 13, op: "Mod", ins: []any{i64s(1, 2), i64s(0, 1)}, consts: consts(0, 1), outDT: common.Int64}.build},
		{name: "Div/integer-by-zero-runtime", want: errShape,
			build: func() (*common.Model, map[string]*common.Tensor) {
				b := onnx.NewBuilder(14)
				a := b.Input("a", common.Int32, 2)
				d := b.Input("d", common.Int32, 2)
				b.Output(b.Node("Div", []string{a, d}), common.Int32)
				return b.Model(), map[string]*common.Tensor{"a": common.NewTensor(common.Shape{2}, []int32{math.MinInt32, 1}), "d": common.NewTensor(common.Shape{2}, []int32{-1, 0})}
			}},
		{name: "Range/int-overflow", want: errLimit, lowMem: true,
			build: one{opset: 11, op: "Range", ins: []any{common.Scalar(int64(math.MinInt64)), common.Scalar(int64(math.MaxInt64)), common.Scalar(int64(1))}, consts: consts(0, 1, 2), outDT: common.Int64}.build},
		{name: "Range/int-zero-delta", want: []error{common.ErrLimit, common.ErrShape, common.ErrInvalidModel},
			build: one{opset: 11, op: "Range", ins: []any{common.Scalar(int64(0)), common.Scalar(int64(5)), common.Scalar(int64(0))}, consts: consts(0, 1, 2), outDT: common.Int64}.build},
		{name: "Resize/negative-sizes", want: errBadAttr,
			build: one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), "", "", i64s(1, 1, -4, 4)}, consts: consts(3)}.build},
		{name: "Resize/short-scales", want: errBadAttr,
			build: one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), "", common.NewTensor(common.Shape{2}, []float32{2, 2})}, consts: consts(2)}.build},
		{name: "Resize/bad-roi", want: errBadAttr,
			build: one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), common.NewTensor(common.Shape{1}, []float32{0}), common.NewTensor(common.Shape{4}, []float32{1, 1, 2, 2})}, consts: consts(1, 2), attrs: []*common.Attribute{onnx.String("coordinate_transformation_mode", "tf_crop_and_resize")}}.build},
		{name: "Resize/bad-mode", want: []error{common.ErrInvalidModel, common.ErrUnsupported},
			build: one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), "", common.NewTensor(common.Shape{4}, []float32{1, 1, 2, 2})}, consts: consts(2), attrs: []*common.Attribute{onnx.String("mode", "bogus")}}.build},
		{name: "GridSample/bad-grid", want: errShape,
			build: one{opset: 16, op: "GridSample", ins: []any{f32(common.Shape{1, 1, 3, 3}), f32(common.Shape{1, 2, 2, 3})}}.build},
		{name: "GridSample/batch-mismatch", want: errShape,
			build: one{opset: 16, op: "GridSample", ins: []any{f32(common.Shape{1, 1, 3, 3}), f32(common.Shape{2, 2, 2, 2})}}.build},
		{name: "Cast/bad-to", want: []error{common.ErrInvalidModel, common.ErrUnsupported},
			build: one{opset: 13, op: "Cast", ins: []any{x23}, attrs: []*common.Attribute{onnx.Int("to", 999)}}.build},
		{name: "QuantizeLinear/scale-mismatch", want: errShape,
			build: one{opset: 13, op: "QuantizeLinear", ins: []any{x23, common.NewTensor(common.Shape{5}, []float32{1, 1, 1, 1, 1})}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("axis", 1)}, outDT: common.Uint8}.build},
		{name: "DequantizeLinear/bad-axis", want: errBadAttr,
			build: one{opset: 13, op: "DequantizeLinear", ins: []any{common.Zeros(common.Uint8, common.Shape{2, 3}), common.NewTensor(common.Shape{3}, []float32{1, 1, 1})}, consts: consts(0, 1), attrs: []*common.Attribute{onnx.Int("axis", 5)}}.build},
		{name: "DequantizeLinear/bad-block", want: errBadAttr,
			build: one{opset: 21, op: "DequantizeLinear", ins: []any{common.Zeros(common.Uint8, common.Shape{2, 4}), f32(common.Shape{2, 1})}, consts: consts(0, 1), attrs: []*common.Attribute{onnx.Int("axis", 1), onnx.Int("block_size", -2)}}.build},
		{name: "BatchNormalization/scale-length", want: errShape,
			build: one{opset: 15, op: "BatchNormalization", ins: []any{img3, f32(common.Shape{2}), f32(common.Shape{3}), f32(common.Shape{3}), f32(common.Shape{3})}, consts: consts(1, 2, 3, 4)}.build},
		{name: "LayerNormalization/bad-axis", want: errBadAttr,
			build: one{opset: 17, op: "LayerNormalization", ins: []any{x23, f32(common.Shape{3})}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("axis", 4)}}.build},
		{name: "LayerNormalization/scale-mismatch", want: errShape,
			build: one{opset: 17, op: "LayerNormalization", ins: []any{x23, f32(common.Shape{5})}, consts: consts(1)}.build},
		{name: "InstanceNormalization/scale-mismatch", want: errShape,
			build: one{opset: 6, op: "InstanceNormalization", ins: []any{img3, f32(common.Shape{1}), f32(common.Shape{3})}, consts: consts(1, 2)}.build},
		{name: "GroupNormalization/indivisible", want: errBadAttr,
			build: one{opset: 21, op: "GroupNormalization", ins: []any{img3, f32(common.Shape{3}), f32(common.Shape{3})}, consts: consts(1, 2), attrs: []*common.Attribute{onnx.Int("num_groups", 2)}}.build},
		{name: "GroupNormalization/zero-groups", want: errBadAttr,
			build: one{opset: 21, op: "GroupNormalization", ins: []any{img3, f32(common.Shape{3}), f32(common.Shape{3})}, consts: consts(1, 2), attrs: []*common.Attribute{onnx.Int("num_groups", 0)}}.build},
		{name: "LpNormalization/bad-p", want: errBadAttr,
			build: one{opset: 1, op: "LpNormalization", ins: []any{x23}, attrs: []*common.Attribute{onnx.Int("p", 3)}}.build},
		{name: "LRN/zero-size", want: errBadAttr,
			build: one{opset: 13, op: "LRN", ins: []any{img3}, attrs: []*common.Attribute{onnx.Int("size", 0)}}.build},
		{name: "Pad/wrong-length", want: errBadAttr,
			build: one{opset: 18, op: "Pad", ins: []any{x23, i64s(1, 1, 1)}, consts: consts(1)}.build},
		{name: "Pad/bad-axes", want: errBadAttr,
			build: one{opset: 18, op: "Pad", ins: []any{x23, i64s(1, 1), "", i64s(7)}, consts: consts(1, 3)}.build},
		{name: "Pad/edge-empty", want: errShape,
			build: one{opset: 18, op: "Pad", ins: []any{f32(common.Shape{0, 3}), i64s(1, 0, 1, 0)}, consts: consts(1), attrs: []*common.Attribute{onnx.String("mode", "edge")}}.build},
		{name: "SpaceToDepth/indivisible", want: errShape,
			build: one{opset: 13, op: "SpaceToDepth", ins: []any{img}, attrs: []*common.Attribute{onnx.Int("blocksize", 2)}}.build},
		{name: "Unsqueeze/out-of-range", want: errBadAttr,
			build: one{opset: 13, op: "Unsqueeze", ins: []any{x23, i64s(9)}, consts: consts(1)}.build},
		{name: "Squeeze/out-of-range", want: errBadAttr,
			build: one{opset: 13, op: "Squeeze", ins: []any{x23, i64s(-9)}, consts: consts(1)}.build},
		{name: "Compress/condition-too-long", want: errShape,
			build: one{opset: 11, op: "Compress", ins: []any{x23, common.NewTensor(common.Shape{5}, []bool{true, false, true, true, true})}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("axis", 0)}}.build},
		{name: "Where/not-broadcastable", want: errShape,
			build: one{opset: 16, op: "Where", ins: []any{common.NewTensor(common.Shape{2}, []bool{true, false}), x23, x23}, consts: consts(0)}.build},
		{name: "Split/zero-num-outputs", want: errBadAttr,
			build: one{opset: 18, op: "Split", ins: []any{f32(common.Shape{2})}, attrs: []*common.Attribute{onnx.Int("num_outputs", 0)}, nOut: 1}.build},
		{name: "TopK/bad-axis", want: errBadAttr,
			build: one{opset: 11, op: "TopK", ins: []any{f32(common.Shape{3}), i64s(1)}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("axis", 3)}, nOut: 2}.build},
		{name: "ArgMax/bad-axis", want: errBadAttr,
			build: one{opset: 13, op: "ArgMax", ins: []any{x23}, attrs: []*common.Attribute{onnx.Int("axis", -3)}, outDT: common.Int64}.build},
		{name: "Gemm/bias-not-broadcastable", want: errShape,
			build: one{opset: 13, op: "Gemm", ins: []any{x23, f32(common.Shape{3, 4}), f32(common.Shape{3})}, consts: consts(2)}.build},
		{name: "Conv/bad-auto-pad", want: []error{common.ErrInvalidModel, common.ErrUnsupported},
			build: one{opset: 11, op: "Conv", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.String("auto_pad", "SIDEWAYS")}}.build},
		{name: "ConvTranspose/huge-output-shape", want: []error{common.ErrLimit, common.ErrShape, common.ErrInvalidModel}, lowMem: true,
			build: one{opset: 11, op: "ConvTranspose", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("output_shape", 1<<30, 1<<30)}}.build},
		{name: "ConvTranspose/negative-output-padding", want: errBadAttr,
			build: one{opset: 11, op: "ConvTranspose", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("output_padding", -7, -7)}}.build},
		{name: "MaxPool/huge-pads", want: []error{common.ErrLimit, common.ErrShape, common.ErrInvalidModel}, lowMem: true,
			build: one{opset: 12, op: "MaxPool", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("kernel_shape", 1, 1), onnx.Ints("pads", huge, huge, huge, huge)}}.build},
		{name: "AveragePool/zero-stride", want: errBadAttr,
			build: one{opset: 19, op: "AveragePool", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("kernel_shape", 2, 2), onnx.Ints("strides", 0, 0)}}.build},
		{name: "LpPool/zero-dilation", want: errBadAttr,
			build: one{opset: 18, op: "LpPool", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("kernel_shape", 2, 2), onnx.Ints("dilations", 0, 0)}}.build},
		{name: "GatherND/batch-dims-too-large", want: errBadAttr,
			build: one{opset: 13, op: "GatherND", ins: []any{f32(common.Shape{2, 2}), common.NewTensor(common.Shape{2, 1}, []int64{0, 0})}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("batch_dims", 5)}}.build},
		{name: "GatherND/index-too-long", want: errShape,
			build: one{opset: 13, op: "GatherND", ins: []any{f32(common.Shape{2, 2}), common.NewTensor(common.Shape{1, 3}, []int64{0, 0, 0})}, consts: consts(1)}.build},
		{name: "ScatterND/index-too-long", want: errShape,
			build: one{opset: 16, op: "ScatterND", ins: []any{f32(common.Shape{2}), common.NewTensor(common.Shape{1, 3}, []int64{0, 0, 0}), f32(common.Shape{1})}, consts: consts(1)}.build},
		{name: "ScatterND/updates-mismatch", want: errShape,
			build: one{opset: 16, op: "ScatterND", ins: []any{f32(common.Shape{4}), common.NewTensor(common.Shape{2, 1}, []int64{0, 1}), f32(common.Shape{3})}, consts: consts(1)}.build},
		{name: "ScatterElements/bad-axis", want: errBadAttr,
			build: one{opset: 16, op: "ScatterElements", ins: []any{f32(common.Shape{2, 2}), common.NewTensor(common.Shape{1, 1}, []int64{0}), f32(common.Shape{1, 1})}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("axis", 3)}}.build},
		{name: "ScatterElements/updates-mismatch", want: errShape,
			build: one{opset: 16, op: "ScatterElements", ins: []any{f32(common.Shape{2, 2}), common.NewTensor(common.Shape{1, 1}, []int64{0}), f32(common.Shape{1, 2})}, consts: consts(1)}.build},
		{name: "GatherElements/bad-rank", want: errShape,
			build: one{opset: 13, op: "GatherElements", ins: []any{f32(common.Shape{2, 2}), i64s(0)}, consts: consts(1)}.build},
		{name: "ReverseSequence/length-too-long", want: errShape,
			build: one{opset: 10, op: "ReverseSequence", ins: []any{f32(common.Shape{3, 2}), i64s(9, 1)}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("batch_axis", 1), onnx.Int("time_axis", 0)}}.build},
		{name: "Tile/wrong-length", want: errShape,
			build: one{opset: 13, op: "Tile", ins: []any{x23, i64s(2)}, consts: consts(1)}.build},
		{name: "EyeLike/rank-3", want: errShape,
			build: one{opset: 9, op: "EyeLike", ins: []any{f32(common.Shape{2, 2, 2})}}.build},
		{name: "ConstantOfShape/two-element-value", want: errBadAttr,
			build: one{opset: 20, op: "ConstantOfShape", ins: []any{i64s(2)}, consts: consts(0), attrs: []*common.Attribute{onnx.Tensor("value", common.NewTensor(common.Shape{2}, []float32{1, 2}))}}.build},
		{name: "Constant/no-value", want: errModel,
			build: one{opset: 13, op: "Constant"}.build},
		{name: "Einsum/too-many-operands", want: errBadAttr,
			build: one{opset: 12, op: "Einsum", ins: []any{x23, x23}, attrs: []*common.Attribute{onnx.String("equation", "ij->ij")}}.build},
		{name: "Einsum/dim-mismatch", want: errShape,
			build: one{opset: 12, op: "Einsum", ins: []any{x23, x23}, attrs: []*common.Attribute{onnx.String("equation", "ij,jk->ik")}}.build},
		{name: "Einsum/garbage", want: errBadAttr,
			build: one{opset: 12, op: "Einsum", ins: []any{x23}, attrs: []*common.Attribute{onnx.String("equation", "i..j.->->,")}}.build},
		{name: "Trilu/bad-rank", want: errShape,
			build: one{opset: 14, op: "Trilu", ins: []any{f32(common.Shape{3})}}.build},
		{name: "MatMulInteger/zero-point-shape", want: errShape,
			build: one{opset: 10, op: "MatMulInteger", ins: []any{common.Zeros(common.Uint8, common.Shape{2, 3}), common.Zeros(common.Uint8, common.Shape{3, 2}), common.Zeros(common.Uint8, common.Shape{5})}, consts: consts(0, 1, 2), outDT: common.Int32}.build},
		{name: "QLinearMatMul/mismatch", want: errShape,
			build: one{opset: 10, op: "QLinearMatMul", ins: []any{common.Zeros(common.Uint8, common.Shape{2, 3}), common.Scalar(float32(1)), common.Scalar(uint8(0)), common.Zeros(common.Uint8, common.Shape{4, 2}), common.Scalar(float32(1)), common.Scalar(uint8(0)), common.Scalar(float32(1)), common.Scalar(uint8(0))}, consts: consts(0, 1, 2, 3, 4, 5, 6, 7), outDT: common.Uint8}.build},
		{name: "Hardmax/bad-axis", want: errBadAttr,
			build: one{opset: 13, op: "Hardmax", ins: []any{x23}, attrs: []*common.Attribute{onnx.Int("axis", 2)}}.build},
		{name: "Sum/not-broadcastable", want: errShape,
			build: one{opset: 13, op: "Sum", ins: []any{x23, f32(common.Shape{2})}}.build},
		{name: "PRelu/slope-mismatch", want: errShape,
			build: one{opset: 16, op: "PRelu", ins: []any{x23, f32(common.Shape{4})}, consts: consts(1)}.build},
		{name: "CumSum/axis-not-scalar", want: errBadAttr,
			build: one{opset: 14, op: "CumSum", ins: []any{x23, i64s(0, 1)}, consts: consts(1)}.build},
		{name: "Expand/enormous-folded", want: errLimit, lowMem: true,
			build: one{opset: 13, op: "Expand", ins: []any{f32(common.Shape{1}), i64s(1<<20, 1<<20)}, consts: consts(0, 1)}.build},
		{name: "Tile/enormous-folded", want: errLimit, lowMem: true,
			build: one{opset: 13, op: "Tile", ins: []any{x23, i64s(1<<30, 1<<30)}, consts: consts(0, 1)}.build},
		{name: "Graph/undefined-input", want: errModel, build: func() (*common.Model, map[string]*common.Tensor) {
			b := onnx.NewBuilder(17)
			x := b.Input("x", common.Float32, 2)
			b.Output(b.Node("Mul", []string{x, "nowhere"}), common.Float32)
			return b.Model(), map[string]*common.Tensor{"x": f32(common.Shape{2})}
		}},
		{name: "Graph/output-not-produced", want: errModel, build: func() (*common.Model, map[string]*common.Tensor) {
			b := onnx.NewBuilder(17)
			x := b.Input("x", common.Float32, 2)
			b.Node("Neg", []string{x})
			b.Output("ghost", common.Float32)
			return b.Model(), map[string]*common.Tensor{"x": f32(common.Shape{2})}
		}},
		{name: "Graph/value-produced-twice", want: errModel, build: func() (*common.Model, map[string]*common.Tensor) {
			b := onnx.NewBuilder(17)
			x := b.Input("x", common.Float32, 2)
			b.NodeOut("Neg", []string{x}, []string{"y"})
			b.NodeOut("Abs", []string{x}, []string{"y"})
			b.Output("y", common.Float32)
			return b.Model(), map[string]*common.Tensor{"x": f32(common.Shape{2})}
		}},
		{name: "Graph/cycle", want: errModel, build: func() (*common.Model, map[string]*common.Tensor) {
			b := onnx.NewBuilder(17)
			x := b.Input("x", common.Float32, 2)
			b.NodeOut("Add", []string{x, "b"}, []string{"a"})
			b.NodeOut("Add", []string{x, "a"}, []string{"b"})
			b.Output("b", common.Float32)
			return b.Model(), map[string]*common.Tensor{"x": f32(common.Shape{2})}
		}},
		{name: "Graph/too-many-nodes", want: errLimit, opts: common.Options{Limits: common.Limits{Nodes: 8}},
			build: func() (*common.Model, map[string]*common.Tensor) {
				b := onnx.NewBuilder(17)
				y := b.Input("x", common.Float32, 2)
				for range 20 {
					y = b.Node("Neg", []string{y})
				}
				b.Output(y, common.Float32)
				return b.Model(), map[string]*common.Tensor{"x": f32(common.Shape{2})}
			}},
		{name: "Graph/nested-too-deep", want: errLimit, opts: common.Options{Limits: common.Limits{SubgraphDepth: 4}},
			build: func() (*common.Model, map[string]*common.Tensor) { return nestedIf(8) }},
		{name: "Graph/shared-subgraph-blowup", want: errLimit, within: 5 * time.Second,
			build: func() (*common.Model, map[string]*common.Tensor) { return nestedIf(40) }},
		{name: "If/branch-output-counts-differ", want: errModel, build: func() (*common.Model, map[string]*common.Tensor) {
			b := onnx.NewBuilder(16)
			then := b.Sub("then")
			tv := then.Init("tv", common.NewTensor(common.Shape{1}, []float32{1}))
			then.Output(then.Node("Identity", []string{tv}), common.Float32)
			then.Output(then.Node("Neg", []string{tv}), common.Float32)
			els := b.Sub("else")
			ev := els.Init("ev", common.NewTensor(common.Shape{1}, []float32{1}))
			els.Output(els.Node("Identity", []string{ev}), common.Float32)
			c := b.Input("c", common.Bool)
			y := b.NodeN("If", []string{c}, 2, onnx.Graph("then_branch", then.Graph()), onnx.Graph("else_branch", els.Graph()))
			b.Output(y[0], common.Float32)
			b.Output(y[1], common.Float32)
			return b.Model(), map[string]*common.Tensor{"c": common.Scalar(false)}
		}},
		{name: "If/empty-cond", want: errShape, build: func() (*common.Model, map[string]*common.Tensor) {
			b := onnx.NewBuilder(16)
			then := b.Sub("then")
			then.Output(then.Node("Constant", nil, onnx.Tensor("value", common.NewTensor(common.Shape{1}, []float32{1}))), common.Float32)
			els := b.Sub("else")
			els.Output(els.Node("Constant", nil, onnx.Tensor("value", common.NewTensor(common.Shape{1}, []float32{2}))), common.Float32)
			c := b.Input("c", common.Bool, 0)
			b.Output(b.Node("If", []string{c}, onnx.Graph("then_branch", then.Graph()), onnx.Graph("else_branch", els.Graph())), common.Float32)
			return b.Model(), map[string]*common.Tensor{"c": common.NewTensor(common.Shape{0}, []bool{})}
		}},
		{name: "Loop/trip-count-not-scalar", want: errShape, build: func() (*common.Model, map[string]*common.Tensor) {
			m, feeds := loopModel(false)
			m.Graph.Initializers["trip"] = i64s(1, 2)
			return m, feeds
		}},
		{name: "Loop/body-output-count", want: errModel, build: func() (*common.Model, map[string]*common.Tensor) {
			m, feeds := loopModel(false)
			body := m.Graph.Nodes[0].AttrGraph("body")
			body.Outputs = body.Outputs[:1]
			return m, feeds
		}},
		{name: "Loop/carried-type-changes", want: []error{common.ErrShape, common.ErrInvalidModel}, build: func() (*common.Model, map[string]*common.Tensor) {
			m, feeds := loopModel(false)
			m.Graph.Initializers["trip"] = common.Scalar(int64(3))
			body := m.Graph.Nodes[0].AttrGraph("body")
			// The carried value comes back as int64: declared float32.
			n := body.Nodes[len(body.Nodes)-1]
			n.OpType = "Cast"
			n.Attrs = map[string]*common.Attribute{"to": onnx.Int("to", int64(common.Int64))}
			return m, feeds
		}},
		{name: "Scan/lengths-differ", want: errShape, build: func() (*common.Model, map[string]*common.Tensor) {
			b := onnx.NewBuilder(16)
			body := b.Sub("body")
			s := body.Input("s", common.Float32, 1)
			u := body.Input("u", common.Float32, 1)
			v := body.Input("v", common.Float32, 1)
			body.Output(body.Node("Sum", []string{s, u, v}), common.Float32)
			s0 := b.Input("s0", common.Float32, 1)
			xu := b.Input("xu", common.Float32, 3, 1)
			xv := b.Input("xv", common.Float32, 4, 1)
			b.Output(b.Node("Scan", []string{s0, xu, xv}, onnx.Graph("body", body.Graph()), onnx.Int("num_scan_inputs", 2)), common.Float32)
			return b.Model(), map[string]*common.Tensor{"s0": f32(common.Shape{1}), "xu": f32(common.Shape{3, 1}), "xv": f32(common.Shape{4, 1})}
		}},
		{name: "SequenceAt/out-of-range", want: errShape, build: func() (*common.Model, map[string]*common.Tensor) {
			b := onnx.NewBuilder(17)
			x := b.Input("x", common.Float32, 2)
			seq := b.Node("SequenceConstruct", []string{x, x})
			at := b.Init("at", common.Scalar(int64(-3)))
			b.Output(b.Node("SequenceAt", []string{seq, at}), common.Float32)
			return b.Model(), map[string]*common.Tensor{"x": f32(common.Shape{2})}
		}},
		{name: "SplitToSequence/sizes-not-summing", want: errShape, build: func() (*common.Model, map[string]*common.Tensor) {
			b := onnx.NewBuilder(17)
			x := b.Input("x", common.Float32, 6)
			sp := b.Init("sp", i64s(1, 2))
			seq := b.Node("SplitToSequence", []string{x, sp})
			b.Output(b.Node("ConcatFromSequence", []string{seq}, onnx.Int("axis", 0)), common.Float32)
			return b.Model(), map[string]*common.Tensor{"x": f32(common.Shape{6})}
		}},
		{name: "ConcatFromSequence/empty", want: []error{common.ErrShape, common.ErrInvalidModel}, build: func() (*common.Model, map[string]*common.Tensor) {
			b := onnx.NewBuilder(17)
			seq := b.Node("SequenceEmpty", nil, onnx.Int("dtype", int64(common.Float32)))
			b.Output(b.Node("ConcatFromSequence", []string{seq}, onnx.Int("axis", 0)), common.Float32)
			return b.Model(), nil
		}},
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

// edgeCase is a model at the edge of what the spec allows: it may run or
// fail with a sentinel, but never panic, hang or allocate past 64 MiB.
// When check is set, the run must succeed and check its output.
type edgeCase struct {
	name  string
	build func() (*common.Model, map[string]*common.Tensor)
	check func(t *testing.T, out *common.Tensor)
}

func edgeCases() []edgeCase {
	x23 := common.NewTensor(common.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	img := f32(common.Shape{1, 1, 5, 5})
	k1 := f32(common.Shape{1, 1, 3, 3})
	const maxI, minI = int64(math.MaxInt64), int64(math.MinInt64)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	wants := func(shape common.Shape, vals ...float32) func(*testing.T, *common.Tensor) {
		return func(t *testing.T, out *common.Tensor) {
			require.Equal(t, shape, out.Shape())
			if vals != nil {
				require.Equal(t, vals, common.Data[float32](out))
			}
		}
	}
	grid := func(v float32) *common.Tensor {
		d := make([]float32, 2*2*2)
		for i := range d {
			d[i] = v
		}
		return common.NewTensor(common.Shape{1, 2, 2, 2}, d)
	}
	var cases []edgeCase
	add := func(name string, o one, check func(*testing.T, *common.Tensor)) {
		cases = append(cases, edgeCase{name: name, build: o.build, check: check})
	}
	add("Trilu/k-max", one{opset: 14, op: "Trilu", ins: []any{x23, common.Scalar(maxI)}, consts: consts(0, 1)}, wants(common.Shape{2, 3}, 0, 0, 0, 0, 0, 0))
	add("Trilu/lower-k-max", one{opset: 14, op: "Trilu", ins: []any{x23, common.Scalar(maxI)}, consts: consts(0, 1), attrs: []*common.Attribute{onnx.Int("upper", 0)}}, wants(common.Shape{2, 3}, 1, 2, 3, 4, 5, 6))
	add("Trilu/k-one", one{opset: 14, op: "Trilu", ins: []any{x23, common.Scalar(int64(1))}, consts: consts(0, 1)}, wants(common.Shape{2, 3}, 0, 2, 3, 0, 0, 6))
	add("Trilu/k-min", one{opset: 14, op: "Trilu", ins: []any{x23, common.Scalar(minI)}, consts: consts(0, 1)}, wants(common.Shape{2, 3}, 1, 2, 3, 4, 5, 6))
	add("Trilu/lower-k-min", one{opset: 14, op: "Trilu", ins: []any{x23, common.Scalar(minI)}, consts: consts(0, 1), attrs: []*common.Attribute{onnx.Int("upper", 0)}}, wants(common.Shape{2, 3}, 0, 0, 0, 0, 0, 0))
	add("Slice/extreme-bounds", one{opset: 13, op: "Slice", ins: []any{x23, i64s(minI), i64s(maxI), i64s(1)}, consts: consts(0, 1, 2, 3)}, wants(common.Shape{2, 3}, 1, 2, 3, 4, 5, 6))
	add("Slice/extreme-reverse", one{opset: 13, op: "Slice", ins: []any{x23, i64s(maxI), i64s(minI), i64s(1), i64s(-1)}, consts: consts(0, 1, 2, 3, 4)}, wants(common.Shape{2, 3}, 3, 2, 1, 6, 5, 4))
	add("Slice/min-step", one{opset: 13, op: "Slice", ins: []any{x23, i64s(maxI), i64s(minI), i64s(1), i64s(minI)}, consts: consts(0, 1, 2, 3, 4)}, wants(common.Shape{2, 1}, 3, 6))
	add("Slice/max-step", one{opset: 13, op: "Slice", ins: []any{x23, i64s(0), i64s(maxI), i64s(1), i64s(maxI)}, consts: consts(0, 1, 2, 3, 4)}, wants(common.Shape{2, 1}, 1, 4))
	add("Shape/extreme-start-end", one{opset: 15, op: "Shape", ins: []any{x23}, attrs: []*common.Attribute{onnx.Int("start", minI), onnx.Int("end", maxI)}, outDT: common.Int64}, func(t *testing.T, out *common.Tensor) {
		require.Equal(t, []int64{2, 3}, common.Data[int64](out))
	})
	add("Split/overflowing-sizes", one{opset: 13, op: "Split", ins: []any{f32(common.Shape{6}), i64s(maxI, maxI, 8)}, consts: consts(1), nOut: 3}, nil)
	add("Pad/overflowing-pads", one{opset: 18, op: "Pad", ins: []any{x23, i64s(0, maxI, 0, -maxI)}, consts: consts(1)}, nil)
	add("Pad/reflect-size-one", one{opset: 18, op: "Pad", ins: []any{f32(common.Shape{1, 3}), i64s(2, 0, 2, 0)}, consts: consts(1), attrs: []*common.Attribute{onnx.String("mode", "reflect")}}, nil)
	add("Pad/wrap-wide", one{opset: 19, op: "Pad", ins: []any{x23, i64s(0, 7, 0, 7)}, consts: consts(1), attrs: []*common.Attribute{onnx.String("mode", "wrap")}}, nil)
	add("Pad/edge-wide", one{opset: 18, op: "Pad", ins: []any{x23, i64s(0, 4, 0, 0)}, consts: consts(0, 1), attrs: []*common.Attribute{onnx.String("mode", "edge")}},
		wants(common.Shape{2, 7}, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 4, 5, 6))
	add("Conv/max-pads", one{opset: 11, op: "Conv", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("pads", maxI, maxI, maxI, maxI)}}, nil)
	add("Conv/max-dilation", one{opset: 11, op: "Conv", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("dilations", maxI, maxI)}}, nil)
	add("Conv/half-max-dilation", one{opset: 11, op: "Conv", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("dilations", 1<<62, 1<<62)}}, nil)
	add("ConvTranspose/max-pads", one{opset: 11, op: "ConvTranspose", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("pads", minI+1, minI+1, 0, 0)}}, nil)
	add("ConvTranspose/max-dilation", one{opset: 11, op: "ConvTranspose", ins: []any{img, k1}, consts: consts(1), attrs: []*common.Attribute{onnx.Ints("dilations", 1<<62, 1<<62)}}, nil)
	add("MaxPool/max-kernel", one{opset: 12, op: "MaxPool", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("kernel_shape", maxI, maxI)}}, nil)
	add("MaxPool/max-strides", one{opset: 12, op: "MaxPool", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("kernel_shape", 2, 2), onnx.Ints("strides", maxI, maxI)}}, nil)
	add("MaxPool/max-dilation", one{opset: 12, op: "MaxPool", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("kernel_shape", 2, 2), onnx.Ints("dilations", 1<<62, 1<<62)}}, nil)
	add("MaxPool/ceil-max-pads", one{opset: 12, op: "MaxPool", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("kernel_shape", 2, 2), onnx.Ints("pads", maxI, maxI, maxI, maxI), onnx.Int("ceil_mode", 1)}}, nil)
	add("AveragePool/max-pads", one{opset: 19, op: "AveragePool", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("kernel_shape", 2, 2), onnx.Ints("pads", maxI, 0, maxI, 0), onnx.Int("count_include_pad", 1)}}, nil)
	add("DepthToSpace/wrapping-block", one{opset: 13, op: "DepthToSpace", ins: []any{f32(common.Shape{1, 4, 2, 2})}, attrs: []*common.Attribute{onnx.Int("blocksize", 1<<32)}}, nil)
	add("SpaceToDepth/wrapping-block", one{opset: 13, op: "SpaceToDepth", ins: []any{f32(common.Shape{1, 4, 2, 2})}, attrs: []*common.Attribute{onnx.Int("blocksize", 1<<32)}}, nil)
	add("Resize/max-sizes", one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), "", "", i64s(1, 1, maxI, maxI)}, consts: consts(3)}, nil)
	add("Resize/nan-roi", one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), common.NewTensor(common.Shape{8}, []float32{0, 0, nan, -inf, 1, 1, inf, nan}), common.NewTensor(common.Shape{4}, []float32{1, 1, 2, 2})}, consts: consts(1, 2), attrs: []*common.Attribute{onnx.String("coordinate_transformation_mode", "tf_crop_and_resize")}}, nil)
	add("Resize/cubic-nan-roi", one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), common.NewTensor(common.Shape{8}, []float32{0, 0, nan, -inf, 1, 1, inf, nan}), common.NewTensor(common.Shape{4}, []float32{1, 1, 2, 2})}, consts: consts(1, 2), attrs: []*common.Attribute{onnx.String("coordinate_transformation_mode", "tf_crop_and_resize"), onnx.String("mode", "cubic")}}, nil)
	add("Resize/nearest-huge-roi", one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), common.NewTensor(common.Shape{8}, []float32{0, 0, -1e30, -1e30, 1, 1, 1e30, 1e30}), common.NewTensor(common.Shape{4}, []float32{1, 1, 2, 2})}, consts: consts(1, 2), attrs: []*common.Attribute{onnx.String("coordinate_transformation_mode", "tf_crop_and_resize"), onnx.String("mode", "nearest")}}, nil)
	add("Resize/zero-scale", one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), "", common.NewTensor(common.Shape{4}, []float32{1, 1, 0, 0})}, consts: consts(2)}, nil)
	add("Resize/negative-scale", one{opset: 13, op: "Resize", ins: []any{f32(common.Shape{1, 1, 2, 2}), "", common.NewTensor(common.Shape{4}, []float32{1, 1, -2, -2})}, consts: consts(2)}, nil)
	add("Resize/antialias-tiny-scale", one{opset: 18, op: "Resize", ins: []any{f32(common.Shape{1, 1, 64, 64}), "", common.NewTensor(common.Shape{4}, []float32{1, 1, 1.0 / 60, 1.0 / 60})}, consts: consts(2), attrs: []*common.Attribute{onnx.Int("antialias", 1), onnx.String("mode", "cubic")}}, nil)
	for _, pm := range []string{"zeros", "border", "reflection"} {
		for _, mode := range []string{"linear", "nearest", "cubic"} {
			for _, v := range []float32{nan, inf, -inf, 1e30} {
				add("GridSample/"+pm+"-"+mode+"-"+strconvF(v), one{opset: 20, op: "GridSample", ins: []any{f32(common.Shape{1, 1, 3, 3}), grid(v)}, consts: consts(1), attrs: []*common.Attribute{onnx.String("mode", mode), onnx.String("padding_mode", pm)}}, nil)
			}
		}
	}
	add("GridSample/align-size-one", one{opset: 20, op: "GridSample", ins: []any{f32(common.Shape{1, 1, 1, 1}), grid(0.5)}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("align_corners", 1), onnx.String("padding_mode", "reflection")}}, nil)
	add("OneHot/nan-depth", one{opset: 11, op: "OneHot", ins: []any{i64s(0, 1), common.NewTensor(common.Shape{1}, []float32{nan}), common.NewTensor(common.Shape{2}, []float32{0, 1})}, consts: consts(0, 1, 2)}, nil)
	add("OneHot/inf-depth", one{opset: 11, op: "OneHot", ins: []any{i64s(0, 1), common.NewTensor(common.Shape{1}, []float32{inf}), common.NewTensor(common.Shape{2}, []float32{0, 1})}, consts: consts(0, 1, 2)}, nil)
	add("OneHot/min-index", one{opset: 11, op: "OneHot", ins: []any{i64s(minI, maxI), i64s(3), common.NewTensor(common.Shape{2}, []float32{0, 1})}, consts: consts(0, 1, 2)}, wants(common.Shape{2, 3}, 0, 0, 0, 0, 0, 0))
	add("Range/nan-start", one{opset: 11, op: "Range", ins: []any{common.Scalar(nan), common.Scalar(float32(3)), common.Scalar(float32(1))}, consts: consts(0, 1, 2)}, nil)
	add("Range/inf-delta", one{opset: 11, op: "Range", ins: []any{common.Scalar(float32(0)), common.Scalar(float32(3)), common.Scalar(inf)}, consts: consts(0, 1, 2)}, nil)
	add("Range/int-min-delta", one{opset: 11, op: "Range", ins: []any{common.Scalar(maxI), common.Scalar(minI), common.Scalar(minI)}, consts: consts(0, 1, 2), outDT: common.Int64}, nil)
	add("Range/int32-wide", one{opset: 11, op: "Range", ins: []any{common.Scalar(int32(math.MinInt32)), common.Scalar(int32(math.MaxInt32)), common.Scalar(int32(1))}, consts: consts(0, 1, 2), outDT: common.Int32}, nil)
	add("ArgMax/empty-axis", one{opset: 13, op: "ArgMax", ins: []any{f32(common.Shape{0, 3})}, attrs: []*common.Attribute{onnx.Int("axis", 0)}, outDT: common.Int64}, nil)
	add("ArgMin/empty-axis", one{opset: 13, op: "ArgMin", ins: []any{f32(common.Shape{3, 0})}, attrs: []*common.Attribute{onnx.Int("axis", 1)}, outDT: common.Int64}, nil)
	add("TopK/max-k", one{opset: 11, op: "TopK", ins: []any{f32(common.Shape{3}), i64s(maxI)}, consts: consts(1), nOut: 2}, nil)
	add("Reshape/zero-minus-one", one{opset: 14, op: "Reshape", ins: []any{f32(common.Shape{0, 3}), i64s(-1, 0)}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("allowzero", 1)}}, nil)
	add("Reshape/zero-minus-one-copy", one{opset: 14, op: "Reshape", ins: []any{f32(common.Shape{0, 3}), i64s(0, -1)}, consts: consts(1)}, nil)
	add("Reshape/huge-with-zero", one{opset: 14, op: "Reshape", ins: []any{f32(common.Shape{0, 3}), i64s(maxI, 0, maxI)}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("allowzero", 1)}}, nil)
	add("Expand/huge-with-zero", one{opset: 13, op: "Expand", ins: []any{f32(common.Shape{1}), i64s(maxI, 0, maxI)}, consts: consts(1)}, nil)
	add("ConstantOfShape/huge-with-zero", one{opset: 20, op: "ConstantOfShape", ins: []any{i64s(maxI, 0, maxI)}, consts: consts(0)}, nil)
	add("Tile/huge-on-empty", one{opset: 13, op: "Tile", ins: []any{f32(common.Shape{0, 3}), i64s(maxI, maxI)}, consts: consts(1)}, nil)
	add("Gather/min-index", one{opset: 13, op: "Gather", ins: []any{x23, i64s(minI)}, consts: consts(1)}, nil)
	add("Gather/empty-data", one{opset: 13, op: "Gather", ins: []any{f32(common.Shape{0, 3}), i64s(0)}, consts: consts(1)}, nil)
	add("GatherElements/min-index", one{opset: 13, op: "GatherElements", ins: []any{x23, common.NewTensor(common.Shape{1, 1}, []int64{minI})}, consts: consts(1)}, nil)
	add("ScatterElements/min-index", one{opset: 16, op: "ScatterElements", ins: []any{x23, common.NewTensor(common.Shape{1, 1}, []int64{minI}), f32(common.Shape{1, 1})}, consts: consts(1)}, nil)
	add("GatherND/min-index", one{opset: 13, op: "GatherND", ins: []any{x23, common.NewTensor(common.Shape{1, 2}, []int64{minI, 0})}, consts: consts(1)}, nil)
	add("Gather/int32-min-index", one{opset: 13, op: "Gather", ins: []any{x23, common.NewTensor(common.Shape{1}, []int32{math.MinInt32})}, consts: consts(1)}, nil)
	add("Unsqueeze/huge-axes", one{opset: 13, op: "Unsqueeze", ins: []any{x23, i64s(maxI, minI)}, consts: consts(1)}, nil)
	add("Unsqueeze/many-axes", one{opset: 13, op: "Unsqueeze", ins: []any{x23, common.NewTensor(common.Shape{100000}, make([]int64, 100000))}, consts: consts(1)}, nil)
	add("Transpose/huge-perm", one{opset: 13, op: "Transpose", ins: []any{x23}, attrs: []*common.Attribute{onnx.Ints("perm", minI, maxI)}}, nil)
	add("Squeeze/min-axis", one{opset: 13, op: "Squeeze", ins: []any{x23, i64s(minI)}, consts: consts(1)}, nil)
	add("Flatten/min-axis", one{opset: 13, op: "Flatten", ins: []any{x23}, attrs: []*common.Attribute{onnx.Int("axis", minI)}}, nil)
	add("Concat/min-axis", one{opset: 13, op: "Concat", ins: []any{x23, x23}, attrs: []*common.Attribute{onnx.Int("axis", minI)}}, nil)
	add("Softmax/min-axis", one{opset: 13, op: "Softmax", ins: []any{x23}, attrs: []*common.Attribute{onnx.Int("axis", minI)}}, nil)
	add("CumSum/min-axis", one{opset: 14, op: "CumSum", ins: []any{x23, common.Scalar(minI)}, consts: consts(1)}, nil)
	add("ReduceSum/min-axis", one{opset: 13, op: "ReduceSum", ins: []any{x23, i64s(minI)}, consts: consts(1)}, nil)
	add("Split/min-axis", one{opset: 13, op: "Split", ins: []any{x23}, attrs: []*common.Attribute{onnx.Int("axis", minI)}, nOut: 2}, nil)
	add("LayerNormalization/min-axis", one{opset: 17, op: "LayerNormalization", ins: []any{x23, f32(common.Shape{3})}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("axis", minI)}}, nil)
	add("QuantizeLinear/min-axis", one{opset: 13, op: "QuantizeLinear", ins: []any{x23, common.NewTensor(common.Shape{3}, []float32{1, 1, 1})}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("axis", minI)}, outDT: common.Uint8}, nil)
	add("QuantizeLinear/zero-scale", one{opset: 13, op: "QuantizeLinear", ins: []any{x23, common.Scalar(float32(0))}, consts: consts(1), outDT: common.Uint8}, nil)
	add("QuantizeLinear/nan-scale", one{opset: 13, op: "QuantizeLinear", ins: []any{x23, common.Scalar(nan)}, consts: consts(1), outDT: common.Uint8}, nil)
	add("DequantizeLinear/huge-block", one{opset: 21, op: "DequantizeLinear", ins: []any{common.Zeros(common.Uint8, common.Shape{2, 4}), f32(common.Shape{2, 1})}, consts: consts(0, 1), attrs: []*common.Attribute{onnx.Int("axis", 1), onnx.Int("block_size", maxI)}}, nil)
	add("ReverseSequence/min-length", one{opset: 10, op: "ReverseSequence", ins: []any{f32(common.Shape{3, 2}), i64s(minI, 1)}, consts: consts(1), attrs: []*common.Attribute{onnx.Int("batch_axis", 1), onnx.Int("time_axis", 0)}}, nil)
	add("Cast/string-garbage", one{opset: 13, op: "Cast", ins: []any{common.NewTensor(common.Shape{3}, []string{"abc", "1e999999", ""})}, consts: consts(0), attrs: []*common.Attribute{onnx.Int("to", int64(common.Int64))}, outDT: common.Int64}, nil)
	add("Cast/nan-to-int", one{opset: 13, op: "Cast", ins: []any{common.NewTensor(common.Shape{3}, []float32{nan, inf, -inf})}, consts: consts(0), attrs: []*common.Attribute{onnx.Int("to", int64(common.Int32))}, outDT: common.Int32}, nil)
	add("Einsum/ellipsis-mismatch", one{opset: 12, op: "Einsum", ins: []any{f32(common.Shape{2, 3, 4}), f32(common.Shape{5, 4})}, attrs: []*common.Attribute{onnx.String("equation", "...j,...j->...")}}, nil)
	add("Einsum/repeated-output", one{opset: 12, op: "Einsum", ins: []any{f32(common.Shape{2, 2})}, attrs: []*common.Attribute{onnx.String("equation", "ii->ii")}}, nil)
	add("Einsum/unknown-output", one{opset: 12, op: "Einsum", ins: []any{f32(common.Shape{2, 2})}, attrs: []*common.Attribute{onnx.String("equation", "ij->k")}}, nil)
	add("Einsum/non-letters", one{opset: 12, op: "Einsum", ins: []any{f32(common.Shape{2, 2})}, attrs: []*common.Attribute{onnx.String("equation", "\xff\x00->")}}, nil)
	add("Mean/no-inputs", one{opset: 13, op: "Mean"}, nil)
	add("Concat/no-inputs", one{opset: 13, op: "Concat", attrs: []*common.Attribute{onnx.Int("axis", 0)}}, nil)
	add("Max/no-inputs", one{opset: 13, op: "Max"}, nil)
	add("Where/non-bool", one{opset: 16, op: "Where", ins: []any{x23, x23, x23}}, nil)
	add("Add/mixed-types", one{opset: 14, op: "Add", ins: []any{x23, common.Zeros(common.Int64, common.Shape{2, 3})}}, nil)
	add("Add/strings", one{opset: 14, op: "Add", ins: []any{common.NewTensor(common.Shape{1}, []string{"a"}), common.NewTensor(common.Shape{1}, []string{"b"})}, consts: consts(0, 1), outDT: common.String}, nil)
	add("MatMul/rank-zero", one{opset: 13, op: "MatMul", ins: []any{common.Scalar(float32(1)), common.Scalar(float32(2))}}, nil)
	add("Conv/no-spatial", one{opset: 11, op: "Conv", ins: []any{f32(common.Shape{1, 1}), f32(common.Shape{1, 1})}, consts: consts(1)}, nil)
	add("MaxPool/no-spatial", one{opset: 12, op: "MaxPool", ins: []any{f32(common.Shape{1, 1})}, attrs: []*common.Attribute{onnx.Ints("kernel_shape")}}, nil)
	add("GlobalAveragePool/rank-one", one{opset: 1, op: "GlobalAveragePool", ins: []any{f32(common.Shape{3})}}, nil)
	add("BatchNormalization/rank-one", one{opset: 15, op: "BatchNormalization", ins: []any{f32(common.Shape{3}), f32(common.Shape{3}), f32(common.Shape{3}), f32(common.Shape{3}), f32(common.Shape{3})}, consts: consts(1, 2, 3, 4)}, nil)
	add("InstanceNormalization/rank-one", one{opset: 6, op: "InstanceNormalization", ins: []any{f32(common.Shape{3}), f32(common.Shape{3}), f32(common.Shape{3})}, consts: consts(1, 2)}, nil)
	add("LRN/huge-size", one{opset: 13, op: "LRN", ins: []any{f32(common.Shape{1, 3, 2, 2})}, attrs: []*common.Attribute{onnx.Int("size", maxI)}}, nil)
	add("GroupNormalization/negative-groups", one{opset: 21, op: "GroupNormalization", ins: []any{f32(common.Shape{1, 4, 2, 2}), f32(common.Shape{4}), f32(common.Shape{4})}, consts: consts(1, 2), attrs: []*common.Attribute{onnx.Int("num_groups", -2)}}, nil)
	add("Upsample/short-scales", one{opset: 9, op: "Upsample", ins: []any{f32(common.Shape{1, 1, 2, 2}), common.NewTensor(common.Shape{1}, []float32{2})}, consts: consts(1)}, nil)
	add("Compress/empty-condition", one{opset: 11, op: "Compress", ins: []any{x23, common.NewTensor(common.Shape{0}, []bool{})}, consts: consts(1)}, nil)
	add("Unique/empty", one{opset: 11, op: "Unique", ins: []any{f32(common.Shape{0})}, nOut: 4}, nil)
	add("NonZero/empty", one{opset: 13, op: "NonZero", ins: []any{f32(common.Shape{0, 3})}, outDT: common.Int64}, nil)
	add("EyeLike/huge-k", one{opset: 9, op: "EyeLike", ins: []any{x23}, attrs: []*common.Attribute{onnx.Int("k", minI)}}, nil)
	add("BitShift/wide", one{opset: 11, op: "BitShift", ins: []any{common.NewTensor(common.Shape{2}, []uint8{1, 2}), common.NewTensor(common.Shape{2}, []uint8{200, 255})}, consts: consts(0, 1), attrs: []*common.Attribute{onnx.String("direction", "LEFT")}, outDT: common.Uint8}, nil)
	add("Hardmax/empty", one{opset: 13, op: "Hardmax", ins: []any{f32(common.Shape{2, 0})}}, nil)
	add("LpPool/zero-p", one{opset: 18, op: "LpPool", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("kernel_shape", 2, 2), onnx.Int("p", 0)}}, nil)
	add("MeanVarianceNormalization/bad-axes", one{opset: 13, op: "MeanVarianceNormalization", ins: []any{img}, attrs: []*common.Attribute{onnx.Ints("axes", 9, minI)}}, nil)
	add("QLinearConv/scale-mismatch", one{opset: 10, op: "QLinearConv", ins: []any{common.Zeros(common.Uint8, common.Shape{1, 1, 3, 3}), common.Scalar(float32(1)), common.Scalar(uint8(0)), common.Zeros(common.Uint8, common.Shape{2, 1, 1, 1}), f32(common.Shape{5}), common.Scalar(uint8(0)), common.Scalar(float32(1)), common.Scalar(uint8(0))}, consts: consts(0, 1, 2, 3, 4, 5, 6, 7), outDT: common.Uint8}, nil)
	add("ConvInteger/zero-point-mismatch", one{opset: 10, op: "ConvInteger", ins: []any{common.Zeros(common.Uint8, common.Shape{1, 1, 3, 3}), common.Zeros(common.Uint8, common.Shape{2, 1, 1, 1}), "", common.Zeros(common.Uint8, common.Shape{7})}, consts: consts(0, 1, 3), outDT: common.Int32}, nil)
	add("DynamicQuantizeLinear/empty", one{opset: 11, op: "DynamicQuantizeLinear", ins: []any{f32(common.Shape{0})}, nOut: 3, outDT: common.Uint8}, nil)
	add("DynamicQuantizeLinear/nan", one{opset: 11, op: "DynamicQuantizeLinear", ins: []any{common.NewTensor(common.Shape{2}, []float32{nan, inf})}, consts: consts(0), nOut: 3, outDT: common.Uint8}, nil)
	return cases
}

func strconvF(v float32) string {
	switch {
	case v != v:
		return "nan"
	case math.IsInf(float64(v), 1):
		return "inf"
	case math.IsInf(float64(v), -1):
		return "-inf"
	}
	return "huge"
}

// TestHostileEdges runs models at the edges of the spec (extreme int64
// attributes, NaN and infinite coordinates, empty tensors): each runs or
// fails with a sentinel, and never panics, hangs or over-allocates.
func TestHostileEdges(t *testing.T) {
	sentinels := []error{common.ErrShape, common.ErrInvalidModel, common.ErrLimit, common.ErrUnsupported}
	for _, tc := range edgeCases() {
		t.Run(tc.name, func(t *testing.T) {
			m, feeds := tc.build()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var out map[string]*common.Tensor
			e, err := cpu.Compile(m, common.Options{})
			if err == nil {
				defer e.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				out, err = e.Run(ctx, feeds)
			}
			runtime.ReadMemStats(&after)
			grew := after.TotalAlloc - before.TotalAlloc
			require.Less(t, grew, uint64(64<<20), "allocated %d bytes", grew)
			if err != nil {
				require.NotContains(t, err.Error(), "internal error")
				require.False(t, errors.Is(err, context.DeadlineExceeded), "hung: %v", err)
				ok := false
				for _, w := range sentinels {
					ok = ok || errors.Is(err, w)
				}
				require.True(t, ok, "error wraps no sentinel: %v", err)
				t.Logf("ERR %v", err)
				require.Nil(t, tc.check, "want a result, got: %v", err)
				return
			}
			if tc.check != nil {
				require.Len(t, out, 1)
				for _, v := range out {
					tc.check(t, v)
				}
			}
		})
	}
}
