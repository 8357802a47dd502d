package cpu

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

func sqCall(t *testing.T, n *common.Node, in ...common.Value) ([]common.Value, error) {
	t.Helper()
	k := kernels[n.OpType]
	require.NotNil(t, k.value, n.OpType)
	return k.value(rnCtx(), n, in)
}

func sqOne(t *testing.T, n *common.Node, in ...common.Value) common.Value {
	t.Helper()
	out, err := sqCall(t, n, in...)
	require.NoError(t, err)
	require.Len(t, out, 1)
	return out[0]
}

func sqFloats(t *testing.T, v common.Value) []float64 {
	t.Helper()
	tt, ok := v.(*common.Tensor)
	require.True(t, ok, "%T", v)
	return tt.Floats()
}

func sqNode(op string, attrs ...*common.Attribute) *common.Node {
	return ctNode(op, nil, []string{"y"}, attrs...)
}

func TestSequenceBasics(t *testing.T) {
	a := common.NewTensor(common.Shape{1}, []float32{1})
	b := common.NewTensor(common.Shape{2}, []float32{2, 3})
	c := common.NewTensor(common.Shape{1}, []float32{4})
	s := sqOne(t, sqNode("SequenceConstruct"), a, b).(*common.Sequence)
	require.Len(t, s.Values, 2)
	require.Equal(t, common.Float32, s.Elem.DType)

	// Insert at the end, at 0, at -1 (before the last); input untouched.
	s2 := sqOne(t, sqNode("SequenceInsert"), s, c).(*common.Sequence)
	require.Len(t, s.Values, 2)
	require.Equal(t, []float64{4}, sqFloats(t, s2.Values[2]))
	s3 := sqOne(t, sqNode("SequenceInsert"), s, c, common.Scalar(int64(0))).(*common.Sequence)
	require.Equal(t, []float64{4}, sqFloats(t, s3.Values[0]))
	s4 := sqOne(t, sqNode("SequenceInsert"), s, c, common.Scalar(int32(-1))).(*common.Sequence)
	require.Equal(t, []float64{4}, sqFloats(t, s4.Values[1]))
	require.Equal(t, []float64{2, 3}, sqFloats(t, s4.Values[2]))
	_, err := sqCall(t, sqNode("SequenceInsert"), s, c, common.Scalar(int64(3)))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = sqCall(t, sqNode("SequenceInsert"), s, common.NewTensor(common.Shape{1}, []int64{1}))
	require.ErrorIs(t, err, common.ErrShape)

	// At with negative positions.
	require.Equal(t, []float64{2, 3}, sqFloats(t, sqOne(t, sqNode("SequenceAt"), s, common.Scalar(int64(-1)))))
	require.Equal(t, []float64{1}, sqFloats(t, sqOne(t, sqNode("SequenceAt"), s, common.Scalar(int64(-2)))))
	_, err = sqCall(t, sqNode("SequenceAt"), s, common.Scalar(int64(2)))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = sqCall(t, sqNode("SequenceAt"), s, common.Scalar(int64(-3)))
	require.ErrorIs(t, err, common.ErrShape)

	// Erase: default last, explicit negative.
	e := sqOne(t, sqNode("SequenceErase"), s2).(*common.Sequence)
	require.Len(t, e.Values, 2)
	require.Equal(t, []float64{2, 3}, sqFloats(t, e.Values[1]))
	e = sqOne(t, sqNode("SequenceErase"), s2, common.Scalar(int64(-3))).(*common.Sequence)
	require.Equal(t, []float64{2, 3}, sqFloats(t, e.Values[0]))
	require.Len(t, s2.Values, 3)
	_, err = sqCall(t, sqNode("SequenceErase"), sqOne(t, sqNode("SequenceEmpty")))
	require.ErrorIs(t, err, common.ErrShape)

	require.Equal(t, []int64{3}, sqOne(t, sqNode("SequenceLength"), s2).(*common.Tensor).Ints())
	empty := sqOne(t, sqNode("SequenceEmpty", ctIntAttr("dtype", int64(common.Int32)))).(*common.Sequence)
	require.Empty(t, empty.Values)
	require.Equal(t, common.Int32, empty.Elem.DType)
	_, err = sqCall(t, sqNode("SequenceEmpty", ctIntAttr("dtype", 999)))
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = sqCall(t, sqNode("SequenceLength"), a)
	require.ErrorIs(t, err, common.ErrShape)
}

func TestSequenceSplitConcat(t *testing.T) {
	// x is [3, 4] with x[i][j] = 10*i + j.
	xd := make([]float32, 12)
	for i := range xd {
		xd[i] = float32(10*(i/4) + i%4)
	}
	x := common.NewTensor(common.Shape{3, 4}, xd)
	at := func(i, j int) float64 { return float64(10*i + j) }

	// No split along axis 1: four [3,1] pieces, or [3] with keepdims=0.
	s := sqOne(t, sqNode("SplitToSequence", ctIntAttr("axis", 1)), x).(*common.Sequence)
	require.Len(t, s.Values, 4)
	require.Equal(t, common.Shape{3, 1}, s.Values[2].(*common.Tensor).Shape())
	require.Equal(t, []float64{at(0, 2), at(1, 2), at(2, 2)}, sqFloats(t, s.Values[2]))
	s = sqOne(t, sqNode("SplitToSequence", ctIntAttr("axis", -1), ctIntAttr("keepdims", 0)), x).(*common.Sequence)
	require.Equal(t, common.Shape{3}, s.Values[0].(*common.Tensor).Shape())

	// Scalar split 3 along axis 1: [3,3] and [3,1].
	s = sqOne(t, sqNode("SplitToSequence", ctIntAttr("axis", 1)), x, common.Scalar(int64(3))).(*common.Sequence)
	require.Len(t, s.Values, 2)
	require.Equal(t, common.Shape{3, 3}, s.Values[0].(*common.Tensor).Shape())
	require.Equal(t, common.Shape{3, 1}, s.Values[1].(*common.Tensor).Shape())
	require.Equal(t, []float64{at(0, 3), at(1, 3), at(2, 3)}, sqFloats(t, s.Values[1]))

	// 1-D split along axis 0: [1,4] and [2,4].
	s = sqOne(t, sqNode("SplitToSequence"), x, common.NewTensor(common.Shape{2}, []int64{1, 2})).(*common.Sequence)
	require.Equal(t, common.Shape{2, 4}, s.Values[1].(*common.Tensor).Shape())
	require.Equal(t, at(1, 0), s.Values[1].(*common.Tensor).Float(0))
	_, err := sqCall(t, sqNode("SplitToSequence"), x, common.NewTensor(common.Shape{2}, []int64{1, 1}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = sqCall(t, sqNode("SplitToSequence"), x, common.Scalar(int64(0)))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = sqCall(t, sqNode("SplitToSequence", ctIntAttr("axis", 2)), x)
	require.ErrorIs(t, err, common.ErrShape)

	// Concat back along axis 1 restores x.
	s = sqOne(t, sqNode("SplitToSequence", ctIntAttr("axis", 1)), x, common.NewTensor(common.Shape{3}, []int64{1, 2, 1})).(*common.Sequence)
	back := sqOne(t, sqNode("ConcatFromSequence", ctIntAttr("axis", 1)), s).(*common.Tensor)
	require.Equal(t, x.Shape(), back.Shape())
	require.Equal(t, x.Floats(), back.Floats())

	// new_axis stacks: [3] pieces stacked on axis 1 give x; on -1 too.
	cols := sqOne(t, sqNode("SplitToSequence", ctIntAttr("axis", 1), ctIntAttr("keepdims", 0)), x).(*common.Sequence)
	st := sqOne(t, sqNode("ConcatFromSequence", ctIntAttr("axis", -1), ctIntAttr("new_axis", 1)), cols).(*common.Tensor)
	require.Equal(t, x.Shape(), st.Shape())
	require.Equal(t, x.Floats(), st.Floats())
	st = sqOne(t, sqNode("ConcatFromSequence", ctIntAttr("axis", 0), ctIntAttr("new_axis", 1)), cols).(*common.Tensor)
	require.Equal(t, common.Shape{4, 3}, st.Shape())
	for j := 0; j < 4; j++ {
		for i := 0; i < 3; i++ {
			require.Equal(t, at(i, j), st.Float(j*3+i))
		}
	}
	_, err = sqCall(t, sqNode("ConcatFromSequence", ctIntAttr("axis", 2), ctIntAttr("new_axis", 1)), cols)
	require.ErrorIs(t, err, common.ErrShape)
	mixed := sqOne(t, sqNode("SequenceConstruct"), x, common.NewTensor(common.Shape{2, 2}, []float32{1, 2, 3, 4})).(*common.Sequence)
	_, err = sqCall(t, sqNode("ConcatFromSequence", ctIntAttr("axis", 1)), mixed)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = sqCall(t, sqNode("ConcatFromSequence"), sqOne(t, sqNode("SequenceEmpty")))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestSequenceOptional(t *testing.T) {
	a := common.NewTensor(common.Shape{2}, []float32{1, 2})
	o := sqOne(t, sqNode("Optional"), a).(*common.Optional)
	require.Same(t, a, o.Value)
	tp := &common.TypeInfo{Kind: common.KindTensor, DType: common.Int64}
	none := sqOne(t, sqNode("Optional", &common.Attribute{Name: "type", Type: common.AttrTypeProto, TP: tp})).(*common.Optional)
	require.Nil(t, none.Value)
	require.Equal(t, common.Int64, none.Elem.DType)
	_, err := sqCall(t, sqNode("Optional"))
	require.ErrorIs(t, err, common.ErrInvalidModel)

	has := func(in ...common.Value) bool {
		return sqOne(t, sqNode("OptionalHasElement"), in...).(*common.Tensor).Int(0) != 0
	}
	require.True(t, has(o))
	require.False(t, has(none))
	require.False(t, has(nil))
	require.False(t, has())
	require.True(t, has(a))

	require.Same(t, a, sqOne(t, sqNode("OptionalGetElement"), o))
	require.Same(t, a, sqOne(t, sqNode("OptionalGetElement"), a))
	seq := sqOne(t, sqNode("SequenceConstruct"), a)
	require.Same(t, seq, sqOne(t, sqNode("OptionalGetElement"), seq))
	_, err = sqCall(t, sqNode("OptionalGetElement"), none)
	require.ErrorIs(t, err, common.ErrShape)
}

func TestSequenceMap(t *testing.T) {
	// Body: (x, extra) -> (number of rows of x, extra); extra is a tensor
	// shared by every call, or a sequence taken element by element.
	body := &common.Graph{Name: "body",
		Inputs: []common.ValueInfo{ctT("x", common.Float32), ctT("extra", common.Int64)},
		Nodes: []*common.Node{
			ctNode("SplitToSequence", []string{"x"}, []string{"rows"}),
			ctNode("SequenceLength", []string{"rows"}, []string{"n"}),
		},
		Outputs: []common.ValueInfo{ctT("n", common.Int64), ctT("extra", common.Int64)}}
	g := &common.Graph{Name: "main",
		Inputs:  []common.ValueInfo{ctSeq("xs", common.Float32), ctT("e", common.Int64)},
		Nodes:   []*common.Node{ctNode("SequenceMap", []string{"xs", "e"}, []string{"ns", "es"}, ctGraphAttr("body", body))},
		Outputs: []common.ValueInfo{ctSeq("ns", common.Int64), ctSeq("es", common.Int64)}}
	xs := &common.Sequence{Elem: tensorType(common.Float32), Values: []common.Value{
		common.Zeros(common.Float32, common.Shape{2, 3}),
		common.Zeros(common.Float32, common.Shape{5}),
		common.Zeros(common.Float32, common.Shape{1, 1}),
	}}
	e := common.Scalar(int64(7))
	out, err := ctRun(t, context.Background(), ctModel(g), common.Options{}, map[string]common.Value{"xs": xs, "e": e})
	require.NoError(t, err)
	ns := out["ns"].(*common.Sequence)
	require.Len(t, ns.Values, 3)
	for i, want := range []int64{2, 5, 1} {
		require.Equal(t, []int64{want}, ns.Values[i].(*common.Tensor).Ints())
		require.Equal(t, []int64{7}, out["es"].(*common.Sequence).Values[i].(*common.Tensor).Ints())
	}

	// A sequence as the second input is mapped element-wise; lengths must agree.
	g.Inputs[1] = ctSeq("e", common.Int64)
	es := &common.Sequence{Elem: tensorType(common.Int64), Values: []common.Value{common.Scalar(int64(1)), common.Scalar(int64(2)), common.Scalar(int64(3))}}
	out, err = ctRun(t, context.Background(), ctModel(g), common.Options{}, map[string]common.Value{"xs": xs, "e": es})
	require.NoError(t, err)
	require.Equal(t, []int64{3}, out["es"].(*common.Sequence).Values[2].(*common.Tensor).Ints())
	es.Values = es.Values[:2]
	_, err = ctRun(t, context.Background(), ctModel(g), common.Options{}, map[string]common.Value{"xs": xs, "e": es})
	require.ErrorIs(t, err, common.ErrShape)
}

func TestSequenceSplitHugeEmptyAxis(t *testing.T) {
	x := common.NewTensor(common.Shape{1 << 40, 0}, []float32{})
	_, err := sqCall(t, sqNode("SplitToSequence"), x)
	require.ErrorIs(t, err, common.ErrLimit)
	_, err = sqCall(t, sqNode("SplitToSequence"), x, common.Scalar(int64(2)))
	require.ErrorIs(t, err, common.ErrLimit)
}

// TestSequenceHostileInputs feeds every sequence, optional and control op
// wrong kinds, absent values and odd shapes: each must return an error or
// a result, never panic.
func TestSequenceHostileInputs(t *testing.T) {
	f := common.NewTensor(common.Shape{2, 2}, []float32{1, 2, 3, 4})
	vals := []common.Value{
		nil,
		f,
		common.Scalar(int64(-100)),
		common.Scalar(int64(1 << 40)),
		common.NewTensor(common.Shape{3}, []int64{1, 1, 1}),
		common.NewTensor(common.Shape{0}, []bool{}),
		common.Scalar(true),
		&common.Sequence{},
		&common.Sequence{Elem: tensorType(common.Float32), Values: []common.Value{f, common.Scalar(float32(1))}},
		&common.Optional{},
		&common.Optional{Value: f},
	}
	empty := &common.Graph{Name: "g"}
	ops := []string{"SequenceConstruct", "SequenceEmpty", "SequenceInsert", "SequenceErase", "SequenceAt",
		"SequenceLength", "SplitToSequence", "ConcatFromSequence", "SequenceMap", "Optional",
		"OptionalHasElement", "OptionalGetElement", "If", "Loop", "Scan"}
	attrSets := [][]*common.Attribute{
		nil,
		{ctIntAttr("axis", 5), ctIntAttr("new_axis", 1), ctIntAttr("dtype", -4), ctIntAttr("num_scan_inputs", 1)},
		{ctIntAttr("axis", -1), ctGraphAttr("body", empty), ctGraphAttr("then_branch", empty), ctGraphAttr("else_branch", empty), ctIntAttr("num_scan_inputs", 7)},
	}
	for _, op := range ops {
		for _, attrs := range attrSets {
			for _, a := range vals {
				for _, b := range vals {
					for _, nIn := range []int{0, 1, 2, 3} {
						in := []common.Value{a, b, a}[:nIn]
						n := ctNode(op, make([]string, nIn), []string{"y"}, attrs...)
						require.NotPanics(t, func() { _, _ = kernels[op].value(rnCtx(), n, in) }, "%s %v", op, in)
					}
				}
			}
		}
	}
}
