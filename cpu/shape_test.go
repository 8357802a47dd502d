package cpu

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// mvCtx is a kernel context with a pool of the given size and limits.
func mvCtx(threads int, lim common.Limits) *Ctx {
	e := &Engine{limits: lim.WithDefaults(), pool: newPool(threads)}
	return &Ctx{ctx: context.Background(), eng: e, run: &runState{}}
}

func mvNode(op string, opset int64, outs int, attrs ...*common.Attribute) *common.Node {
	n := &common.Node{OpType: op, Opset: opset, Attrs: map[string]*common.Attribute{}}
	for i := 0; i < outs; i++ {
		n.Outputs = append(n.Outputs, "y"+string(rune('0'+i)))
	}
	for _, a := range attrs {
		n.Attrs[a.Name] = a
	}
	return n
}

func aInt(name string, v int64) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrInt, I: v}
}
func aInts(name string, v ...int64) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrInts, Ints: v}
}
func aFloat(name string, v float32) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrFloat, F: v}
}
func aStr(name, v string) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrString, S: []byte(v)}
}
func aTensor(name string, t *common.Tensor) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrTensor, T: t}
}

// mvCall runs the registered kernel for n on a 4-thread context.
func mvCall(n *common.Node, in ...*common.Tensor) ([]*common.Tensor, error) {
	return mvCallCtx(mvCtx(4, common.Limits{}), n, in...)
}

func mvCallCtx(c *Ctx, n *common.Node, in ...*common.Tensor) ([]*common.Tensor, error) {
	k, ok := kernels[n.OpType]
	if !ok {
		return nil, errors.New("no kernel " + n.OpType)
	}
	if k.value != nil {
		vin := make([]common.Value, len(in))
		for i, t := range in {
			if t != nil {
				vin[i] = t
			}
		}
		vs, err := k.value(c, n, vin)
		if err != nil {
			return nil, err
		}
		out := make([]*common.Tensor, len(vs))
		for i, v := range vs {
			out[i], _ = v.(*common.Tensor)
		}
		return out, nil
	}
	return k.tensor(c, n, in)
}

func mvOne(t *testing.T, n *common.Node, in ...*common.Tensor) *common.Tensor {
	t.Helper()
	out, err := mvCall(n, in...)
	require.NoError(t, err)
	require.NotEmpty(t, out)
	return out[0]
}

func i64s(v ...int64) *common.Tensor { return common.NewTensor(common.Shape{len(v)}, v) }

func iota32(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(i)
	}
	return s
}

func sameData(a, b *common.Tensor) bool {
	return dataPtr(a) == dataPtr(b) && dataPtr(a) != 0
}

func TestShapeReshapeFamilyViews(t *testing.T) {
	x := common.NewTensor(common.Shape{2, 3, 4}, iota32(24))

	y := mvOne(t, mvNode("Reshape", 14, 1), x, i64s(0, -1, 2))
	require.Equal(t, common.Shape{2, 6, 2}, y.Shape())
	require.True(t, sameData(x, y), "Reshape should return a view")

	y = mvOne(t, mvNode("Reshape", 1, 1, aInts("shape", 4, -1)), x)
	require.Equal(t, common.Shape{4, 6}, y.Shape())

	// allowzero: a 0 is a real zero dim.
	z := common.NewTensor(common.Shape{0, 3}, []float32{})
	y = mvOne(t, mvNode("Reshape", 14, 1, aInt("allowzero", 1)), z, i64s(3, 0))
	require.Equal(t, common.Shape{3, 0}, y.Shape())
	_, err := mvCall(mvNode("Reshape", 14, 1, aInt("allowzero", 1)), z, i64s(0, -1))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("Reshape", 14, 1), x, i64s(-1, -1))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("Reshape", 14, 1), x, i64s(5, -1))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("Reshape", 14, 1), x, i64s(0, 0, 0, 0))
	require.ErrorIs(t, err, common.ErrShape)

	y = mvOne(t, mvNode("Flatten", 13, 1, aInt("axis", -1)), x)
	require.Equal(t, common.Shape{6, 4}, y.Shape())
	y = mvOne(t, mvNode("Flatten", 13, 1, aInt("axis", 0)), x)
	require.Equal(t, common.Shape{1, 24}, y.Shape())
	require.True(t, sameData(x, y))
	_, err = mvCall(mvNode("Flatten", 13, 1, aInt("axis", 4)), x)
	require.ErrorIs(t, err, common.ErrShape)

	s := common.NewTensor(common.Shape{1, 3, 1, 2}, iota32(6))
	y = mvOne(t, mvNode("Squeeze", 13, 1), s)
	require.Equal(t, common.Shape{3, 2}, y.Shape())
	y = mvOne(t, mvNode("Squeeze", 13, 1), s, i64s(-2))
	require.Equal(t, common.Shape{1, 3, 2}, y.Shape())
	y = mvOne(t, mvNode("Squeeze", 11, 1, aInts("axes", 0)), s)
	require.Equal(t, common.Shape{3, 1, 2}, y.Shape())
	require.True(t, sameData(s, y))
	_, err = mvCall(mvNode("Squeeze", 13, 1), s, i64s(1))
	require.ErrorIs(t, err, common.ErrShape)

	y = mvOne(t, mvNode("Unsqueeze", 13, 1), x, i64s(4, 0))
	require.Equal(t, common.Shape{1, 2, 3, 4, 1}, y.Shape())
	y = mvOne(t, mvNode("Unsqueeze", 11, 1, aInts("axes", -1)), x)
	require.Equal(t, common.Shape{2, 3, 4, 1}, y.Shape())
	require.True(t, sameData(x, y))
	_, err = mvCall(mvNode("Unsqueeze", 13, 1), x, i64s(0, 0))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("Unsqueeze", 13, 1), x, i64s(5))
	require.ErrorIs(t, err, common.ErrShape)

	y = mvOne(t, mvNode("Identity", 16, 1), x)
	require.True(t, sameData(x, y))
	require.Equal(t, x.Shape(), y.Shape())
}

func TestShapeShapeSizeConstant(t *testing.T) {
	x := common.Zeros(common.Float32, common.Shape{2, 3, 4, 5})
	cases := []struct {
		attrs []*common.Attribute
		want  []int64
	}{
		{nil, []int64{2, 3, 4, 5}},
		{[]*common.Attribute{aInt("start", 1)}, []int64{3, 4, 5}},
		{[]*common.Attribute{aInt("end", -1)}, []int64{2, 3, 4}},
		{[]*common.Attribute{aInt("start", -10)}, []int64{2, 3, 4, 5}},
		{[]*common.Attribute{aInt("end", 10)}, []int64{2, 3, 4, 5}},
		{[]*common.Attribute{aInt("start", 3), aInt("end", 1)}, []int64{}},
	}
	for _, tc := range cases {
		y := mvOne(t, mvNode("Shape", 15, 1, tc.attrs...), x)
		require.Equal(t, tc.want, common.Data[int64](y))
		require.Equal(t, common.Shape{len(tc.want)}, y.Shape())
	}
	y := mvOne(t, mvNode("Size", 13, 1), x)
	require.Equal(t, 0, y.Rank())
	require.Equal(t, []int64{120}, common.Data[int64](y))

	y = mvOne(t, mvNode("Constant", 13, 1, aInts("value_ints", 1, 2)))
	require.Equal(t, []int64{1, 2}, common.Data[int64](y))
	y = mvOne(t, mvNode("Constant", 13, 1, aFloat("value_float", 2.5)))
	require.Equal(t, 0, y.Rank())
	require.Equal(t, []float32{2.5}, common.Data[float32](y))
	y = mvOne(t, mvNode("Constant", 13, 1, aStr("value_string", "hi")))
	require.Equal(t, []string{"hi"}, common.Data[string](y))
	v := common.NewTensor(common.Shape{2}, []int32{7, 8})
	y = mvOne(t, mvNode("Constant", 13, 1, aTensor("value", v)))
	require.Equal(t, []int32{7, 8}, common.Data[int32](y))
	_, err := mvCall(mvNode("Constant", 13, 1))
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = mvCall(mvNode("Constant", 13, 1, &common.Attribute{Name: "sparse_value", Type: common.AttrSparseTensor}))
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestShapeConstantOfShapeAndLimits(t *testing.T) {
	y := mvOne(t, mvNode("ConstantOfShape", 20, 1), i64s(2, 3))
	require.Equal(t, make([]float32, 6), common.Data[float32](y))
	y = mvOne(t, mvNode("ConstantOfShape", 20, 1, aTensor("value", common.NewTensor(common.Shape{1}, []int32{7}))), i64s(3))
	require.Equal(t, []int32{7, 7, 7}, common.Data[int32](y))
	y = mvOne(t, mvNode("ConstantOfShape", 20, 1, aTensor("value", common.NewTensor(common.Shape{1}, []bool{true}))), i64s())
	require.Equal(t, 0, y.Rank())
	require.Equal(t, []bool{true}, common.Data[bool](y))
	_, err := mvCall(mvNode("ConstantOfShape", 20, 1), i64s(2, -3))
	require.ErrorIs(t, err, common.ErrShape)

	small := mvCtx(1, common.Limits{TensorElements: 1000})
	_, err = mvCallCtx(small, mvNode("ConstantOfShape", 20, 1), i64s(1<<40, 1<<40))
	require.ErrorIs(t, err, common.ErrLimit)
	_, err = mvCallCtx(small, mvNode("Range", 11, 1), common.Scalar(int64(0)), common.Scalar(int64(1<<62)), common.Scalar(int64(1)))
	require.ErrorIs(t, err, common.ErrLimit)
	_, err = mvCallCtx(small, mvNode("Range", 11, 1), common.Scalar(float32(0)), common.Scalar(float32(1e30)), common.Scalar(float32(1e-30)))
	require.ErrorIs(t, err, common.ErrLimit)
	x := common.NewTensor(common.Shape{1}, []float32{1})
	_, err = mvCallCtx(small, mvNode("Expand", 13, 1), x, i64s(1<<20, 1<<20))
	require.ErrorIs(t, err, common.ErrLimit)
	_, err = mvCallCtx(small, mvNode("Tile", 13, 1), x, i64s(1<<62))
	require.ErrorIs(t, err, common.ErrLimit)
	_, err = mvCallCtx(small, mvNode("Pad", 18, 1), x, i64s(0, 1<<30))
	require.ErrorIs(t, err, common.ErrLimit)
	_, err = mvCallCtx(small, mvNode("OneHot", 11, 1), i64s(1), common.Scalar(int64(1<<40)), common.NewTensor(common.Shape{2}, []float32{0, 1}))
	require.ErrorIs(t, err, common.ErrLimit)
}

func TestShapeRange(t *testing.T) {
	y := mvOne(t, mvNode("Range", 11, 1), common.Scalar(int32(10)), common.Scalar(int32(4)), common.Scalar(int32(-3)))
	require.Equal(t, []int32{10, 7}, common.Data[int32](y))
	y = mvOne(t, mvNode("Range", 11, 1), common.Scalar(int64(0)), common.Scalar(int64(0)), common.Scalar(int64(2)))
	require.Equal(t, common.Shape{0}, y.Shape())
	y = mvOne(t, mvNode("Range", 11, 1), common.Scalar(float32(1)), common.Scalar(float32(2)), common.Scalar(float32(0.25)))
	require.Equal(t, []float32{1, 1.25, 1.5, 1.75}, common.Data[float32](y))
	y = mvOne(t, mvNode("Range", 11, 1), common.Scalar(common.F16From(1)), common.Scalar(common.F16From(5)), common.Scalar(common.F16From(2)))
	require.Equal(t, []common.F16{common.F16From(1), common.F16From(3)}, common.Data[common.F16](y))
	// Extremes: no overflow in the count.
	y = mvOne(t, mvNode("Range", 11, 1), common.Scalar(int64(-1<<63)), common.Scalar(int64(1<<63-1)), common.Scalar(int64(1<<62)))
	require.Equal(t, []int64{-1 << 63, -1 << 62, 0, 1 << 62}, common.Data[int64](y))
	_, err := mvCall(mvNode("Range", 11, 1), common.Scalar(int64(0)), common.Scalar(int64(3)), common.Scalar(int64(0)))
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = mvCall(mvNode("Range", 11, 1), common.Scalar(int64(0)), common.Scalar(int32(3)), common.Scalar(int64(1)))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestShapeDropout(t *testing.T) {
	x := common.NewTensor(common.Shape{2, 2}, []float32{1, 2, 3, 4})
	out, err := mvCall(mvNode("Dropout", 13, 2), x, common.Scalar(float32(0.5)))
	require.NoError(t, err)
	require.Equal(t, common.Data[float32](x), common.Data[float32](out[0]))
	require.Equal(t, []bool{true, true, true, true}, common.Data[bool](out[1]))

	out, err = mvCall(mvNode("Dropout", 13, 2), x, common.Scalar(float32(0)), common.Scalar(true))
	require.NoError(t, err)
	require.Equal(t, []bool{true, true, true, true}, common.Data[bool](out[1]))

	_, err = mvCall(mvNode("Dropout", 13, 2), x, common.Scalar(float32(0.3)), common.Scalar(true))
	require.ErrorIs(t, err, common.ErrUnsupported)

	// Opset 7: mask has the input's type.
	out, err = mvCall(mvNode("Dropout", 7, 2, aFloat("ratio", 0.9)), x)
	require.NoError(t, err)
	require.Equal(t, []float32{1, 1, 1, 1}, common.Data[float32](out[1]))
	out, err = mvCall(mvNode("Dropout", 12, 1), x)
	require.NoError(t, err)
	require.Len(t, out, 1)
}

func TestShapeEyeLikeNonZero(t *testing.T) {
	x := common.Zeros(common.Int32, common.Shape{3, 4})
	y := mvOne(t, mvNode("EyeLike", 9, 1, aInt("k", 1)), x)
	require.Equal(t, []int32{0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, common.Data[int32](y))
	y = mvOne(t, mvNode("EyeLike", 9, 1, aInt("k", -2), aInt("dtype", int64(common.Float64))), x)
	require.Equal(t, []float64{0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, common.Data[float64](y))

	nz := common.NewTensor(common.Shape{2, 3}, []float32{0, 1, 0, -2, 0, 3})
	y = mvOne(t, mvNode("NonZero", 13, 1), nz)
	require.Equal(t, common.Shape{2, 3}, y.Shape())
	require.Equal(t, []int64{0, 1, 1, 1, 0, 2}, common.Data[int64](y))
	y = mvOne(t, mvNode("NonZero", 13, 1), common.NewTensor(common.Shape{3}, []string{"a", "", "b"}))
	require.Equal(t, []int64{0, 2}, common.Data[int64](y))
}
