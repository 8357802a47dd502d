package cpu

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

func TestGatherMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	shape := common.Shape{4, 5, 3}
	x := common.NewTensor(shape, iota32(shape.Size()))
	for axis := -3; axis < 3; axis++ {
		a := (axis + 3) % 3
		dim := shape[a]
		ishape := common.Shape{2, 3}
		idx := make([]int64, ishape.Size())
		for i := range idx {
			idx[i] = int64(rng.Intn(2*dim) - dim)
		}
		it := common.NewTensor(ishape, idx)
		y := mvOne(t, mvNode("Gather", 13, 1, aInt("axis", int64(axis))), x, it)
		want := append(append(common.Shape{}, shape[:a]...), ishape...)
		want = append(want, shape[a+1:]...)
		require.Equal(t, want, y.Shape())
		got := common.Data[float32](y)
		for o := range got {
			c := unflat(o, want)
			ic := append(append([]int{}, c[:a]...), 0)
			ic = append(ic, c[a+len(ishape):]...)
			k := idx[flat(c[a:a+len(ishape)], ishape)]
			if k < 0 {
				k += int64(dim)
			}
			ic[a] = int(k)
			require.Equal(t, float32(flat(ic, shape)), got[o])
		}
	}
	// Scalar index drops the axis; int32 indices work.
	y := mvOne(t, mvNode("Gather", 13, 1, aInt("axis", 1)), x, common.Scalar(int32(-1)))
	require.Equal(t, common.Shape{4, 3}, y.Shape())
	require.Equal(t, []float32{12, 13, 14}, common.Data[float32](y)[:3])
	_, err := mvCall(mvNode("Gather", 13, 1), x, i64s(4))
	require.ErrorIs(t, err, common.ErrShape)
	require.Contains(t, err.Error(), "index 4")
	_, err = mvCall(mvNode("Gather", 13, 1), x, i64s(-5))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("Gather", 13, 1), x, common.NewTensor(common.Shape{1}, []float32{0}))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestGatherElementsScatterElements(t *testing.T) {
	// Spec examples.
	x := common.NewTensor(common.Shape{2, 2}, []float32{1, 2, 3, 4})
	y := mvOne(t, mvNode("GatherElements", 13, 1, aInt("axis", 1)), x, common.NewTensor(common.Shape{2, 2}, []int64{0, 0, 1, 0}))
	require.Equal(t, []float32{1, 1, 4, 3}, common.Data[float32](y))
	x3 := common.NewTensor(common.Shape{3, 3}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9})
	y = mvOne(t, mvNode("GatherElements", 13, 1), x3, common.NewTensor(common.Shape{2, 3}, []int32{1, 2, 0, 2, 0, -1}))
	require.Equal(t, []float32{4, 8, 3, 7, 2, 9}, common.Data[float32](y))
	_, err := mvCall(mvNode("GatherElements", 13, 1), x3, common.NewTensor(common.Shape{1, 1}, []int64{3}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("GatherElements", 13, 1), x3, common.NewTensor(common.Shape{1, 4}, []int64{0, 0, 0, 0}))
	require.ErrorIs(t, err, common.ErrShape)

	data := common.Zeros(common.Float32, common.Shape{3, 3})
	idx := common.NewTensor(common.Shape{2, 3}, []int64{1, 0, 2, 0, 2, 1})
	upd := common.NewTensor(common.Shape{2, 3}, []float32{1, 1.1, 1.2, 2, 2.1, 2.2})
	y = mvOne(t, mvNode("ScatterElements", 11, 1), data, idx, upd)
	require.Equal(t, []float32{2, 1.1, 0, 1, 0, 2.2, 0, 2.1, 1.2}, common.Data[float32](y))
	require.Equal(t, make([]float32, 9), common.Data[float32](data), "input must not change")
	y = mvOne(t, mvNode("Scatter", 9, 1), data, idx, upd)
	require.Equal(t, []float32{2, 1.1, 0, 1, 0, 2.2, 0, 2.1, 1.2}, common.Data[float32](y))

	row := common.NewTensor(common.Shape{1, 5}, []float32{1, 2, 3, 4, 5})
	ri := common.NewTensor(common.Shape{1, 2}, []int64{1, 1})
	ru := common.NewTensor(common.Shape{1, 2}, []float32{1.5, 2.5})
	for red, want := range map[string][]float32{
		"add": {1, 6, 3, 4, 5},
		"mul": {1, 7.5, 3, 4, 5},
		"max": {1, 2.5, 3, 4, 5},
		"min": {1, 1.5, 3, 4, 5},
	} {
		y = mvOne(t, mvNode("ScatterElements", 18, 1, aInt("axis", 1), aStr("reduction", red)), row, ri, ru)
		require.Equal(t, want, common.Data[float32](y), red)
	}
	_, err = mvCall(mvNode("ScatterElements", 16, 1, aInt("axis", 1), aStr("reduction", "max")), row, ri, ru)
	require.ErrorIs(t, err, common.ErrInvalidModel)
	hrow := common.NewTensor(common.Shape{1, 2}, []common.F16{common.F16From(1), common.F16From(2)})
	hu := common.NewTensor(common.Shape{1, 2}, []common.F16{common.F16From(3), common.F16From(4)})
	y = mvOne(t, mvNode("ScatterElements", 18, 1, aInt("axis", 1), aStr("reduction", "add")), hrow, common.NewTensor(common.Shape{1, 2}, []int64{0, -1}), hu)
	require.Equal(t, []common.F16{common.F16From(4), common.F16From(6)}, common.Data[common.F16](y))
	s := common.NewTensor(common.Shape{2}, []string{"a", "b"})
	_, err = mvCall(mvNode("ScatterElements", 18, 1, aStr("reduction", "add")), s, i64s(0), common.NewTensor(common.Shape{1}, []string{"c"}))
	require.ErrorIs(t, err, common.ErrUnsupported)
	y = mvOne(t, mvNode("ScatterElements", 18, 1), s, i64s(-1), common.NewTensor(common.Shape{1}, []string{"c"}))
	require.Equal(t, []string{"a", "c"}, common.Data[string](y))
}

func TestGatherNDScatterND(t *testing.T) {
	// Spec examples for GatherND.
	x := common.NewTensor(common.Shape{2, 2}, []int32{0, 1, 2, 3})
	y := mvOne(t, mvNode("GatherND", 13, 1), x, common.NewTensor(common.Shape{2, 2}, []int64{0, 0, 1, 1}))
	require.Equal(t, []int32{0, 3}, common.Data[int32](y))
	y = mvOne(t, mvNode("GatherND", 13, 1), x, common.NewTensor(common.Shape{2, 1}, []int64{1, 0}))
	require.Equal(t, common.Shape{2, 2}, y.Shape())
	require.Equal(t, []int32{2, 3, 0, 1}, common.Data[int32](y))
	x3 := common.NewTensor(common.Shape{2, 2, 2}, []int32{0, 1, 2, 3, 4, 5, 6, 7})
	y = mvOne(t, mvNode("GatherND", 13, 1), x3, common.NewTensor(common.Shape{2, 1, 2}, []int64{0, 1, 1, 0}))
	require.Equal(t, common.Shape{2, 1, 2}, y.Shape())
	require.Equal(t, []int32{2, 3, 4, 5}, common.Data[int32](y))
	y = mvOne(t, mvNode("GatherND", 13, 1, aInt("batch_dims", 1)), x3, common.NewTensor(common.Shape{2, 1}, []int64{1, 0}))
	require.Equal(t, common.Shape{2, 2}, y.Shape())
	require.Equal(t, []int32{2, 3, 4, 5}, common.Data[int32](y))
	_, err := mvCall(mvNode("GatherND", 13, 1), x, common.NewTensor(common.Shape{1, 3}, []int64{0, 0, 0}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("GatherND", 13, 1), x, common.NewTensor(common.Shape{1, 2}, []int64{0, 2}))
	require.ErrorIs(t, err, common.ErrShape)

	// Spec example for ScatterND.
	data := common.NewTensor(common.Shape{8}, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	y = mvOne(t, mvNode("ScatterND", 18, 1), data, common.NewTensor(common.Shape{4, 1}, []int64{4, 3, 1, 7}),
		common.NewTensor(common.Shape{4}, []float32{9, 10, 11, 12}))
	require.Equal(t, []float32{1, 11, 3, 10, 9, 6, 7, 12}, common.Data[float32](y))
	y = mvOne(t, mvNode("ScatterND", 18, 1, aStr("reduction", "mul")), data, common.NewTensor(common.Shape{2, 1}, []int64{0, 0}),
		common.NewTensor(common.Shape{2}, []float32{3, 4}))
	require.Equal(t, float32(12), common.Data[float32](y)[0])
	m := common.Zeros(common.Int64, common.Shape{2, 3})
	y = mvOne(t, mvNode("ScatterND", 18, 1, aStr("reduction", "add")), m, common.NewTensor(common.Shape{2, 1}, []int64{1, 1}),
		common.NewTensor(common.Shape{2, 3}, []int64{1, 2, 3, 10, 20, 30}))
	require.Equal(t, []int64{0, 0, 0, 11, 22, 33}, common.Data[int64](y))
	_, err = mvCall(mvNode("ScatterND", 18, 1), m, common.NewTensor(common.Shape{1, 1}, []int64{2}), common.NewTensor(common.Shape{1, 3}, []int64{1, 2, 3}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("ScatterND", 18, 1), m, common.NewTensor(common.Shape{1, 1}, []int64{0}), common.NewTensor(common.Shape{1, 2}, []int64{1, 2}))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestGatherOneHot(t *testing.T) {
	vals := common.NewTensor(common.Shape{2}, []float32{-1, 5})
	idx := common.NewTensor(common.Shape{3}, []int64{0, -1, 7})
	y := mvOne(t, mvNode("OneHot", 11, 1), idx, common.Scalar(int64(3)), vals)
	require.Equal(t, common.Shape{3, 3}, y.Shape())
	// 7 is outside [-3, 3): an all-off row.
	require.Equal(t, []float32{5, -1, -1, -1, -1, 5, -1, -1, -1}, common.Data[float32](y))
	y = mvOne(t, mvNode("OneHot", 11, 1, aInt("axis", 0)), common.NewTensor(common.Shape{2}, []float32{1, 0}), common.Scalar(float32(2)), vals)
	require.Equal(t, common.Shape{2, 2}, y.Shape())
	require.Equal(t, []float32{-1, 5, 5, -1}, common.Data[float32](y))
	y = mvOne(t, mvNode("OneHot", 11, 1, aInt("axis", 1)), common.NewTensor(common.Shape{2, 2}, []int32{0, 1, 2, 0}), common.Scalar(int64(3)),
		common.NewTensor(common.Shape{2}, []int64{0, 1}))
	require.Equal(t, common.Shape{2, 3, 2}, y.Shape())
	require.Equal(t, []int64{1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0}, common.Data[int64](y))
	_, err := mvCall(mvNode("OneHot", 11, 1, aInt("axis", 3)), idx, common.Scalar(int64(3)), vals)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("OneHot", 11, 1), idx, common.Scalar(int64(3)), common.NewTensor(common.Shape{1}, []float32{1}))
	require.ErrorIs(t, err, common.ErrShape)
}
