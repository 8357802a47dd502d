package graph_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/conformance"
	"github.com/accel-go/accel/common/graph"
	"github.com/accel-go/accel/common/onnx"
	"github.com/accel-go/accel/cpu"
)

func randTensor(rng *rand.Rand, lo, hi float64, shape ...int) *common.Tensor {
	s := common.Shape(shape)
	v := make([]float32, s.Size())
	for i := range v {
		v[i] = float32(lo + rng.Float64()*(hi-lo))
	}
	return common.NewTensor(s, v)
}

// convBNModel is Conv -> BatchNormalization -> Relu -> Identity -> Clip,
// plus a Shape->Gather constant subexpression.
func convBNModel(t *testing.T) *common.Model {
	rng := rand.New(rand.NewPCG(1, 2))
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, "n", 3, 9, 9)
	w := b.Init("w", randTensor(rng, -1, 1, 4, 3, 3, 3))
	bias := b.Init("bias", randTensor(rng, -1, 1, 4))
	y := b.Node("Conv", []string{x, w, bias}, onnx.Ints("pads", 1, 1, 1, 1))
	y = b.Node("BatchNormalization", []string{y,
		b.Init("s", randTensor(rng, 0.5, 1.5, 4)), b.Init("sh", randTensor(rng, -1, 1, 4)),
		b.Init("m", randTensor(rng, -1, 1, 4)), b.Init("v", randTensor(rng, 0.5, 2, 4))})
	y = b.Node("Relu", []string{y})
	y = b.Node("Identity", []string{y})
	w2 := b.Init("w2", randTensor(rng, -1, 1, 2, 4, 1, 1))
	y = b.Node("Conv", []string{y, w2})
	lo := b.Init("lo", common.Scalar(float32(-0.5)))
	hi := b.Init("hi", common.Scalar(float32(0.5)))
	y = b.Node("Clip", []string{y, lo, hi})
	// A constant subexpression: Add of two initializers, folded.
	c := b.Node("Add", []string{b.Init("c1", randTensor(rng, -1, 1, 2, 1, 1)), b.Init("c2", randTensor(rng, -1, 1, 2, 1, 1))})
	y = b.Node("Add", []string{y, c})
	b.Output(y, common.Float32)
	return b.Model()
}

func TestPassesPreserveResults(t *testing.T) {
	m := convBNModel(t)
	opt, err := graph.Optimize(m, graph.PassOptions{Eval: cpu.FoldEvaluator(common.Limits{})})
	require.NoError(t, err)
	ops := map[string]int{}
	for _, n := range opt.Graph.Nodes {
		ops[n.OpType]++
		if n.Fused != nil {
			ops["fused:"+n.Fused.OpType]++
		}
	}
	require.Equal(t, map[string]int{"Conv": 2, "Add": 1, "fused:Relu": 1, "fused:Clip": 1}, ops, "BN folded, Identity gone, activations fused, constants folded")
	require.Len(t, m.Graph.Nodes, 8, "the input model is not modified")

	rng := rand.New(rand.NewPCG(3, 4))
	in := map[string]*common.Tensor{"x": randTensor(rng, -2, 2, 2, 3, 9, 9)}
	plain, err := cpu.Compile(m, common.Options{NoGraphPasses: true})
	require.NoError(t, err)
	defer plain.Close()
	fast, err := cpu.Compile(m, common.Options{})
	require.NoError(t, err)
	defer fast.Close()
	want, err := plain.Run(context.Background(), in)
	require.NoError(t, err)
	got, err := fast.Run(context.Background(), in)
	require.NoError(t, err)
	for name, w := range want {
		rel, err := conformance.RelL2(got[name], w)
		require.NoError(t, err)
		require.Less(t, rel, 1e-5, name)
	}
}

func TestPassesSwitchOff(t *testing.T) {
	m := convBNModel(t)
	opt, err := graph.Optimize(m, graph.PassOptions{NoFold: true, NoIdentity: true, NoBNFold: true, NoFusion: true})
	require.NoError(t, err)
	require.Len(t, opt.Graph.Nodes, len(m.Graph.Nodes))
	opt, err = graph.Optimize(m, graph.PassOptions{NoFusion: true, NoBNFold: true})
	require.NoError(t, err)
	for _, n := range opt.Graph.Nodes {
		require.Nil(t, n.Fused)
		require.NotEqual(t, "Identity", n.OpType)
	}
}

func TestOrderErrors(t *testing.T) {
	mk := func(nodes ...*common.Node) *common.Graph {
		return &common.Graph{Nodes: nodes, Inputs: []common.ValueInfo{{Name: "x"}}, Outputs: []common.ValueInfo{{Name: "y"}}}
	}
	n := func(op string, in []string, out ...string) *common.Node {
		return &common.Node{OpType: op, Inputs: in, Outputs: out}
	}
	cases := map[string]*common.Graph{
		"cycle":          mk(n("Relu", []string{"b"}, "a"), n("Relu", []string{"a"}, "b"), n("Relu", []string{"x"}, "y")),
		"self loop":      mk(n("Add", []string{"x", "y"}, "y")),
		"undefined":      mk(n("Relu", []string{"nope"}, "y")),
		"duplicate":      mk(n("Relu", []string{"x"}, "y"), n("Relu", []string{"x"}, "y")),
		"writes input":   mk(n("Relu", []string{"x"}, "x"), n("Relu", []string{"x"}, "y")),
		"output missing": mk(n("Relu", []string{"x"}, "z")),
	}
	for name, g := range cases {
		_, err := graph.Order(g, nil)
		require.ErrorIs(t, err, common.ErrInvalidModel, name)
	}
	order, err := graph.Order(mk(n("Relu", []string{"a"}, "y"), n("Relu", []string{"x"}, "a")), nil)
	require.NoError(t, err)
	require.Equal(t, "a", order[0].Outputs[0], "producers come first")
}

func TestInferShapesSymbolic(t *testing.T) {
	m := convBNModel(t)
	types := graph.InferShapes(m, nil)
	out := types[m.Graph.Outputs[0].Name]
	require.True(t, out.HasShape)
	require.Equal(t, "float32[n,2,9,9]", out.String(), "the symbolic batch dim propagates")
	flops, covered := graph.EstimateFLOPs(m, map[string]int64{"n": 1})
	require.Equal(t, len(m.Graph.Nodes), covered)
	// Conv 1: 2*4*81*27, Conv 2: 2*2*81*4, plus one per output element elsewhere.
	require.GreaterOrEqual(t, flops, float64(2*4*81*27+2*2*81*4))
}
