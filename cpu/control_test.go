package cpu

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

func ctNode(op string, in, out []string, attrs ...*common.Attribute) *common.Node {
	n := &common.Node{OpType: op, Opset: 16, Inputs: in, Outputs: out, Attrs: map[string]*common.Attribute{}}
	for _, a := range attrs {
		n.Attrs[a.Name] = a
	}
	return n
}

func ctT(name string, d common.DType) common.ValueInfo {
	return common.ValueInfo{Name: name, Type: common.TypeInfo{Kind: common.KindTensor, DType: d}}
}

func ctSeq(name string, d common.DType) common.ValueInfo {
	e := common.TypeInfo{Kind: common.KindTensor, DType: d}
	return common.ValueInfo{Name: name, Type: common.TypeInfo{Kind: common.KindSequence, Elem: &e}}
}

func ctGraphAttr(name string, g *common.Graph) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrGraph, G: g}
}

func ctIntAttr(name string, v int64) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrInt, I: v}
}

func ctIntsAttr(name string, v ...int64) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrInts, Ints: v}
}

func ctModel(g *common.Graph) *common.Model {
	return &common.Model{IRVersion: 8, Opsets: map[string]int64{"": 16}, Graph: g}
}

func ctRun(t *testing.T, ctx context.Context, m *common.Model, opts common.Options, in map[string]common.Value) (map[string]common.Value, error) {
	t.Helper()
	e, err := Compile(m, opts)
	require.NoError(t, err)
	defer e.Close()
	return e.RunValues(ctx, in)
}

func TestControlIf(t *testing.T) {
	a := common.NewTensor(common.Shape{2}, []float32{1, 2})
	b := common.NewTensor(common.Shape{1}, []float32{3})
	then := &common.Graph{Name: "then",
		Nodes:   []*common.Node{ctNode("SequenceConstruct", []string{"a", "b"}, []string{"s"})},
		Outputs: []common.ValueInfo{ctSeq("s", common.Float32)}}
	els := &common.Graph{Name: "else",
		Nodes:   []*common.Node{ctNode("SequenceEmpty", nil, []string{"e"})},
		Outputs: []common.ValueInfo{ctSeq("e", common.Float32)}}
	g := &common.Graph{Name: "main",
		Inputs:       []common.ValueInfo{ctT("cond", common.Bool)},
		Initializers: map[string]*common.Tensor{"a": a, "b": b}, InitOrder: []string{"a", "b"},
		Nodes: []*common.Node{ctNode("If", []string{"cond"}, []string{"out"},
			ctGraphAttr("then_branch", then), ctGraphAttr("else_branch", els))},
		Outputs: []common.ValueInfo{ctSeq("out", common.Float32)}}
	out, err := ctRun(t, context.Background(), ctModel(g), common.Options{}, map[string]common.Value{"cond": common.Scalar(true)})
	require.NoError(t, err)
	s := out["out"].(*common.Sequence)
	require.Len(t, s.Values, 2)
	require.Equal(t, []float64{1, 2}, s.Values[0].(*common.Tensor).Floats())
	require.Equal(t, []float64{3}, s.Values[1].(*common.Tensor).Floats())

	out, err = ctRun(t, context.Background(), ctModel(g), common.Options{}, map[string]common.Value{"cond": common.Scalar(false)})
	require.NoError(t, err)
	require.Empty(t, out["out"].(*common.Sequence).Values)

	_, err = ctRun(t, context.Background(), ctModel(g), common.Options{}, map[string]common.Value{"cond": common.NewTensor(common.Shape{2}, []bool{true, false})})
	require.ErrorIs(t, err, common.ErrShape)
}

// loopModel builds: Loop(M, cond, seq0) whose body appends the iteration
// number to the carried sequence, scans the iteration number out, and
// takes its next cond from the sequence "conds" at the iteration number.
func loopModel(withM, withCond bool) *common.Model {
	body := &common.Graph{Name: "body",
		Inputs: []common.ValueInfo{ctT("i", common.Int64), ctT("c_in", common.Bool), ctSeq("s_in", common.Int64)},
		Nodes: []*common.Node{
			ctNode("SequenceInsert", []string{"s_in", "i"}, []string{"s_out"}),
			ctNode("SequenceAt", []string{"conds", "i"}, []string{"c_out"}),
		},
		Outputs: []common.ValueInfo{ctT("c_out", common.Bool), ctSeq("s_out", common.Int64), ctT("i", common.Int64)}}
	m, c := "", ""
	if withM {
		m = "M"
	}
	if withCond {
		c = "cond"
	}
	g := &common.Graph{Name: "main",
		Inputs: []common.ValueInfo{ctT("M", common.Int64), ctT("cond", common.Bool), ctT("flags", common.Bool)},
		Nodes: []*common.Node{
			ctNode("SplitToSequence", []string{"flags"}, []string{"conds"}, ctIntAttr("keepdims", 0)),
			ctNode("SequenceEmpty", nil, []string{"seq0"}, ctIntAttr("dtype", int64(common.Int64))),
			ctNode("Loop", []string{m, c, "seq0"}, []string{"seq", "iters"}, ctGraphAttr("body", body)),
		},
		Outputs: []common.ValueInfo{ctSeq("seq", common.Int64), ctT("iters", common.Int64)}}
	return ctModel(g)
}

func TestControlLoop(t *testing.T) {
	flags := common.NewTensor(common.Shape{6}, []bool{true, true, false, true, true, true})
	run := func(withM, withCond bool, m int64, cond bool) (map[string]common.Value, error) {
		in := map[string]common.Value{"M": common.Scalar(m), "cond": common.Scalar(cond), "flags": flags}
		return ctRun(t, context.Background(), loopModel(withM, withCond), common.Options{}, in)
	}
	check := func(out map[string]common.Value, n int) {
		t.Helper()
		s := out["seq"].(*common.Sequence)
		require.Len(t, s.Values, n)
		want := make([]int64, n)
		for i := range want {
			want[i] = int64(i)
			require.Equal(t, []int64{int64(i)}, s.Values[i].(*common.Tensor).Ints())
		}
		it := out["iters"].(*common.Tensor)
		require.Equal(t, common.Shape{n}, it.Shape())
		require.Equal(t, want, it.Ints())
	}
	// For loop: cond is ignored, stops at M.
	out, err := run(true, false, 5, false)
	require.NoError(t, err)
	check(out, 5)
	// While loop: runs until the body's cond is false (after iteration 2).
	out, err = run(false, true, 0, true)
	require.NoError(t, err)
	check(out, 3)
	// Both: whichever stops first.
	out, err = run(true, true, 2, true)
	require.NoError(t, err)
	check(out, 2)
	// Initial cond false: no iteration, scan output of shape [0].
	out, err = run(true, true, 5, false)
	require.NoError(t, err)
	check(out, 0)
	out, err = run(true, false, -3, true)
	require.NoError(t, err)
	check(out, 0)
	// Past the end of "conds": SequenceAt fails with a clear error.
	_, err = run(false, false, 0, true)
	require.ErrorIs(t, err, common.ErrShape)
}

// infiniteLoop builds a Loop with no trip count and no cond whose body
// passes cond through and scans out the body constant "big".
func infiniteLoop(big *common.Tensor, maxTrip bool) *common.Model {
	body := &common.Graph{Name: "body",
		Inputs:  []common.ValueInfo{ctT("i", common.Int64), ctT("c", common.Bool)},
		Outputs: []common.ValueInfo{ctT("c", common.Bool)}}
	if big != nil {
		body.Initializers = map[string]*common.Tensor{"big": big}
		body.InitOrder = []string{"big"}
		body.Outputs = append(body.Outputs, ctT("big", big.DType()))
	}
	g := &common.Graph{Name: "main",
		Initializers: map[string]*common.Tensor{"M": common.Scalar(int64(math.MaxInt64))}, InitOrder: []string{"M"},
		Nodes: []*common.Node{ctNode("Loop", []string{"", ""}, nil, ctGraphAttr("body", body))}}
	if maxTrip {
		g.Nodes[0].Inputs[0] = "M"
	}
	if big != nil {
		g.Nodes[0].Outputs = []string{"stack"}
		g.Outputs = []common.ValueInfo{ctT("stack", big.DType())}
	} else {
		// A graph output is required; keep M.
		g.Outputs = []common.ValueInfo{ctT("M", common.Int64)}
		g.Nodes[0].Outputs = []string{}
	}
	return ctModel(g)
}

func TestControlLoopDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ctRun(t, ctx, infiniteLoop(nil, true), common.Options{}, nil)
	require.Error(t, err)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	require.Less(t, time.Since(start), 10*time.Second)
}

func TestControlLoopMemoryCap(t *testing.T) {
	big := common.Zeros(common.Float32, common.Shape{256, 1024}) // 1 MiB
	_, err := ctRun(t, context.Background(), infiniteLoop(big, false), common.Options{Limits: common.Limits{Memory: 64 << 20}}, nil)
	require.Error(t, err)
	require.True(t, errors.Is(err, common.ErrLimit), "%v", err)

	// A bounded loop under the same cap works and stacks the outputs.
	m := infiniteLoop(big, true)
	m.Graph.Initializers["M"] = common.Scalar(int64(3))
	out, err := ctRun(t, context.Background(), m, common.Options{Limits: common.Limits{Memory: 64 << 20}}, nil)
	require.NoError(t, err)
	require.Equal(t, common.Shape{3, 256, 1024}, out["stack"].(*common.Tensor).Shape())
}

// scanModel: state s (shape [2]) and one scan input x; the body makes the
// slice the new state and scans out the previous state.
func scanModel(opset int64, attrs ...*common.Attribute) *common.Model {
	body := &common.Graph{Name: "body",
		Inputs:  []common.ValueInfo{ctT("s_in", common.Float32), ctT("x_t", common.Float32)},
		Outputs: []common.ValueInfo{ctT("x_t", common.Float32), ctT("s_in", common.Float32)}}
	n := ctNode("Scan", []string{"s0", "x"}, []string{"s", "ys"}, append(attrs, ctGraphAttr("body", body), ctIntAttr("num_scan_inputs", 1))...)
	n.Opset = opset
	g := &common.Graph{Name: "main",
		Inputs:  []common.ValueInfo{ctT("s0", common.Float32), ctT("x", common.Float32)},
		Nodes:   []*common.Node{n},
		Outputs: []common.ValueInfo{ctT("s", common.Float32), ctT("ys", common.Float32)}}
	return ctModel(g)
}

func TestControlScan(t *testing.T) {
	s0 := common.NewTensor(common.Shape{2}, []float32{-1, -2})
	// x is [2, 3]: scanned along axis 1, slices are columns.
	x := common.NewTensor(common.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	col := func(j int) []float64 { return []float64{x.Float(j), x.Float(3 + j)} }
	for _, rev := range []bool{false, true} {
		for _, outRev := range []bool{false, true} {
			attrs := []*common.Attribute{ctIntsAttr("scan_input_axes", 1), ctIntsAttr("scan_output_axes", -1)}
			if rev {
				attrs = append(attrs, ctIntsAttr("scan_input_directions", 1))
			}
			if outRev {
				attrs = append(attrs, ctIntsAttr("scan_output_directions", 1))
			}
			out, err := ctRun(t, context.Background(), scanModel(11, attrs...), common.Options{},
				map[string]common.Value{"s0": s0, "x": x})
			require.NoError(t, err)
			order := []int{0, 1, 2}
			if rev {
				order = []int{2, 1, 0}
			}
			require.Equal(t, col(order[2]), out["s"].(*common.Tensor).Floats())
			// per-step outputs: the previous state
			steps := [][]float64{s0.Floats(), col(order[0]), col(order[1])}
			if outRev {
				steps[0], steps[2] = steps[2], steps[0]
			}
			ys := out["ys"].(*common.Tensor)
			require.Equal(t, common.Shape{2, 3}, ys.Shape()) // stacked on the last axis
			for k := 0; k < 3; k++ {
				for i := 0; i < 2; i++ {
					require.Equal(t, steps[k][i], ys.Float(i*3+k), "rev=%v outRev=%v", rev, outRev)
				}
			}
		}
	}
	_, err := ctRun(t, context.Background(), scanModel(11, ctIntsAttr("scan_input_axes", 2)), common.Options{}, map[string]common.Value{"s0": s0, "x": x})
	require.ErrorIs(t, err, common.ErrShape)
	_, err = ctRun(t, context.Background(), scanModel(11, ctIntsAttr("scan_output_axes", 3)), common.Options{}, map[string]common.Value{"s0": s0, "x": x})
	require.ErrorIs(t, err, common.ErrShape)
}

func TestControlScanOpset8(t *testing.T) {
	body := &common.Graph{Name: "body",
		Inputs:  []common.ValueInfo{ctT("s_in", common.Float32), ctT("x_t", common.Float32)},
		Outputs: []common.ValueInfo{ctT("x_t", common.Float32), ctT("s_in", common.Float32)}}
	const B, S = 3, 4
	s0d := make([]float32, B*2)
	xd := make([]float32, B*S*2)
	for i := range s0d {
		s0d[i] = float32(-1 - i)
	}
	for i := range xd {
		xd[i] = float32(i)
	}
	s0 := common.NewTensor(common.Shape{B, 2}, s0d)
	x := common.NewTensor(common.Shape{B, S, 2}, xd)
	lens := []int64{4, 2, 0}
	for _, rev := range []bool{false, true} {
		attrs := []*common.Attribute{ctGraphAttr("body", body), ctIntAttr("num_scan_inputs", 1)}
		if rev {
			attrs = append(attrs, ctIntsAttr("directions", 1))
		}
		n := ctNode("Scan", []string{"lens", "s0", "x"}, []string{"s", "ys"}, attrs...)
		n.Opset = 8
		g := &common.Graph{Name: "main",
			Inputs:  []common.ValueInfo{ctT("lens", common.Int64), ctT("s0", common.Float32), ctT("x", common.Float32)},
			Nodes:   []*common.Node{n},
			Outputs: []common.ValueInfo{ctT("s", common.Float32), ctT("ys", common.Float32)}}
		out, err := ctRun(t, context.Background(), ctModel(g), common.Options{},
			map[string]common.Value{"lens": common.NewTensor(common.Shape{B}, lens), "s0": s0, "x": x})
		require.NoError(t, err)
		st, ys := out["s"].(*common.Tensor), out["ys"].(*common.Tensor)
		require.Equal(t, common.Shape{B, 2}, st.Shape())
		require.Equal(t, common.Shape{B, S, 2}, ys.Shape())
		for b := 0; b < B; b++ {
			L := int(lens[b])
			prev := []float64{s0.Float(b * 2), s0.Float(b*2 + 1)}
			for k := 0; k < S; k++ {
				want := []float64{0, 0}
				if k < L {
					want = prev
					idx := k
					if rev {
						idx = L - 1 - k
					}
					prev = []float64{x.Float((b*S + idx) * 2), x.Float((b*S+idx)*2 + 1)}
				}
				require.Equal(t, want, []float64{ys.Float((b*S + k) * 2), ys.Float((b*S+k)*2 + 1)}, "b=%d k=%d rev=%v", b, k, rev)
			}
			require.Equal(t, prev, []float64{st.Float(b * 2), st.Float(b*2 + 1)}, "b=%d", b)
		}
	}
}
