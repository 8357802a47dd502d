package graph_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/graph"
	"github.com/accel-go/accel/common/onnx"
)

func i64(v ...int64) *common.Tensor { return common.NewTensor(common.Shape{len(v)}, v) }

// A shape computed from Shape -> Gather -> Concat resolves Reshape, and
// the symbolic batch survives Conv, Relu, Flatten and Reshape with 0.
func TestInferShapeValuePropagation(t *testing.T) {
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, "batch", 3, 8, 8)
	w := b.Init("w", common.Zeros(common.Float32, common.Shape{4, 3, 3, 3}))
	y := b.Node("Relu", []string{b.Node("Conv", []string{x, w}, onnx.Ints("pads", 1, 1, 1, 1))})
	sh := b.Node("Shape", []string{y})
	n := b.Node("Gather", []string{sh, b.Init("zero", common.Scalar(int64(0)))})
	nn := b.Node("Unsqueeze", []string{n, b.Init("ax0", i64(0))})
	target := b.Node("Concat", []string{nn, b.Init("rest", i64(4, -1))}, onnx.Int("axis", 0))
	r := b.Node("Reshape", []string{y, target})
	r0 := b.Node("Reshape", []string{y, b.Init("keep", i64(0, 0, -1))})
	f := b.Node("Flatten", []string{y})
	ex := b.Node("Expand", []string{b.Init("one", common.NewTensor(common.Shape{1, 1}, []float32{1})), sh})
	cs := b.Node("ConstantOfShape", []string{b.Node("Slice", []string{sh, b.Init("s0", i64(0)), b.Init("s2", i64(2))})})
	for _, o := range []string{r, r0, f, ex, cs} {
		b.Output(o, common.Float32)
	}
	types := graph.InferShapes(b.Model(), nil)
	require.Equal(t, "float32[batch,4,8,8]", types[y].String())
	require.Equal(t, "float32[batch,4,64]", types[r].String())
	require.Equal(t, "float32[batch,4,64]", types[r0].String())
	require.Equal(t, "float32[batch,256]", types[f].String())
	require.Equal(t, "float32[batch,4,8,8]", types[ex].String())
	require.Equal(t, "float32[batch,4]", types[cs].String())

	bound := graph.InferShapes(b.Model(), map[string]int64{"batch": 2})
	require.Equal(t, "float32[2,4,64]", bound[r].String())
	require.Equal(t, "float32[2,256]", bound[f].String())
}

// Attributes that became inputs are read by opset.
func TestInferAttributesByOpset(t *testing.T) {
	for _, tc := range []struct {
		opset int64
		want  string
	}{{11, "float32[2,1,5]"}, {13, "float32[2,1,5]"}} {
		b := onnx.NewBuilder(tc.opset)
		x := b.Input("x", common.Float32, 2, 3, 5)
		var y string
		if tc.opset < 13 {
			y = b.Node("ReduceSum", []string{x}, onnx.Ints("axes", 1))
		} else {
			y = b.Node("ReduceSum", []string{x, b.Init("axes", i64(-2))})
		}
		b.Output(y, common.Float32)
		require.Equal(t, tc.want, graph.InferShapes(b.Model(), nil)[y].String(), "opset %d", tc.opset)
	}
	// Slice before opset 10 takes attributes; from 10, inputs with steps.
	b := onnx.NewBuilder(9)
	x := b.Input("x", common.Float32, 10, 4)
	y := b.Node("Slice", []string{x}, onnx.Ints("starts", 1), onnx.Ints("ends", -1), onnx.Ints("axes", 0))
	b.Output(y, common.Float32)
	require.Equal(t, "float32[8,4]", graph.InferShapes(b.Model(), nil)[y].String())
	b = onnx.NewBuilder(13)
	x = b.Input("x", common.Float32, 10, 4)
	y = b.Node("Slice", []string{x, b.Init("st", i64(-1)), b.Init("en", i64(-100)), b.Init("ax", i64(0)), b.Init("sp", i64(-3))})
	b.Output(y, common.Float32)
	// indices 9, 6, 3, 0
	require.Equal(t, "float32[4,4]", graph.InferShapes(b.Model(), nil)[y].String())
}

// Data-dependent outputs get their rank with unknown dims; inputs whose
// values are unknown leave only what the spec fixes.
func TestInferDataDependent(t *testing.T) {
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, 3, 4)
	shape := b.Input("shape", common.Int64, 3)
	nz := b.Node("NonZero", []string{x})
	re := b.Node("Reshape", []string{x, shape})
	outs := b.NodeN("Unique", []string{x}, 4)
	rg := b.Node("Range", []string{b.Input("a", common.Int64), b.Input("l", common.Int64), b.Input("d", common.Int64)})
	for _, o := range append([]string{nz, re, rg}, outs...) {
		b.Output(o, common.Undefined)
	}
	types := graph.InferShapes(b.Model(), nil)
	require.Equal(t, "int64[2,?]", types[nz].String())
	require.Equal(t, "float32[?,?,?]", types[re].String())
	require.Equal(t, "float32[?]", types[outs[0]].String())
	require.Equal(t, "int64[12]", types[outs[2]].String(), "inverse indices: one per element")
	require.Equal(t, "int64[?]", types[rg].String())
}

// If merges its branches; Loop stacks scan outputs over the trip count;
// subgraphs see the outer scope's types.
func TestInferSubgraphs(t *testing.T) {
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, "n", 4)
	cond := b.Input("c", common.Bool)

	th := b.Sub("then")
	th.NodeOut("Relu", []string{x}, []string{"t_out"})
	th.Output("t_out", common.Undefined)
	el := b.Sub("else")
	el.NodeOut("Concat", []string{x, x}, []string{"e_out"}, onnx.Int("axis", 0))
	el.Output("e_out", common.Undefined)
	ifOut := b.Node("If", []string{cond}, onnx.Graph("then_branch", th.Graph()), onnx.Graph("else_branch", el.Graph()))

	body := b.Sub("body")
	body.Input("i", common.Int64)
	body.Input("cin", common.Bool)
	body.Input("acc", common.Float32, "n", 4)
	body.NodeOut("Identity", []string{"cin"}, []string{"cout"})
	body.NodeOut("Add", []string{"acc", x}, []string{"acc2"})
	body.NodeOut("ReduceSum", []string{"acc2"}, []string{"scan"}, onnx.Int("keepdims", 0))
	body.Output("cout", common.Bool)
	body.Output("acc2", common.Float32)
	body.Output("scan", common.Float32)
	loop := b.NodeN("Loop", []string{b.Init("trip", common.Scalar(int64(5))), "", x}, 2, onnx.Graph("body", body.Graph()))
	for _, o := range append([]string{ifOut}, loop...) {
		b.Output(o, common.Undefined)
	}
	types := graph.InferShapes(b.Model(), nil)
	require.Equal(t, "float32[?,4]", types[ifOut].String(), "branches disagree on dim 0")
	require.Equal(t, "float32[n,4]", types[loop[0]].String())
	require.Equal(t, "float32[5]", types[loop[1]].String())
}

// Sequence ops carry their element type.
func TestInferSequences(t *testing.T) {
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, 6, 2)
	seq := b.Node("SplitToSequence", []string{x, b.Init("two", common.Scalar(int64(2)))})
	at := b.Node("SequenceAt", []string{seq, b.Init("i", common.Scalar(int64(0)))})
	cat := b.Node("ConcatFromSequence", []string{seq}, onnx.Int("axis", 1), onnx.Int("new_axis", 1))
	n := b.Node("SequenceLength", []string{seq})
	for _, o := range []string{seq, at, cat, n} {
		b.Output(o, common.Undefined)
	}
	types := graph.InferShapes(b.Model(), nil)
	require.Equal(t, "seq(float32[2,2])", types[seq].String())
	require.Equal(t, "float32[2,2]", types[at].String())
	require.Equal(t, "float32[2,?,2]", types[cat].String())
	require.Equal(t, "int64[]", types[n].String())
}

// Hostile attributes give no type, never a panic.
func TestInferBadAttributes(t *testing.T) {
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, 2, 3)
	tr := b.Node("Transpose", []string{x}, onnx.Ints("perm", 0, 7))
	sq := b.Node("Squeeze", []string{x, b.Init("ax", i64(9))})
	sp := b.Node("SpaceToDepth", []string{b.Input("y", common.Float32, 1, 1, 4, 4)}, onnx.Int("blocksize", 0))
	huge := b.Node("Reshape", []string{x, b.Input("s", common.Int64, int64(1)<<40)})
	for _, o := range []string{tr, sq, sp, huge} {
		b.Output(o, common.Undefined)
	}
	types := graph.InferShapes(b.Model(), nil)
	for _, o := range []string{tr, sq, sp, huge} {
		require.False(t, types[o].HasShape, "%s: %s", o, types[o])
	}
}

// Deeply nested loop bodies are inferred in time linear in their size.
func TestInferNestedLoops(t *testing.T) {
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, 2)
	var inner *common.Graph
	for d := 0; d < 24; d++ {
		body := b.Sub("body")
		body.Input("i", common.Int64)
		body.Input("c", common.Bool)
		acc := body.Input("acc", common.Float32, 2)
		out := body.Node("Add", []string{acc, x})
		if inner != nil {
			out = body.NodeN("Loop", []string{"", "c", out}, 1, onnx.Graph("body", inner))[0]
		}
		body.NodeOut("Identity", []string{"c"}, []string{"c_out"})
		body.Output("c_out", common.Bool)
		body.Output(out, common.Float32)
		inner = body.Graph()
	}
	y := b.NodeN("Loop", []string{"", b.Input("c0", common.Bool), x}, 1, onnx.Graph("body", inner))[0]
	b.Output(y, common.Undefined)
	done := make(chan map[string]common.TypeInfo, 1)
	go func() { done <- graph.InferShapes(b.Model(), nil) }()
	select {
	case types := <-done:
		require.Equal(t, "float32[2]", types[y].String())
	case <-time.After(20 * time.Second):
		t.Fatal("inference of nested loops did not finish")
	}
}
