package cpu

import (
	"math/rand"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

func TestTopKMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for trial := 0; trial < 40; trial++ {
		shape := common.Shape{1 + rng.Intn(3), 1 + rng.Intn(60), 1 + rng.Intn(3)}
		axis := rng.Intn(3)
		r := shape[axis]
		k := rng.Intn(r + 1)
		if trial%3 == 0 {
			k = min(r, 2) // the heap path
		}
		x := make([]int32, shape.Size())
		for i := range x {
			x[i] = int32(rng.Intn(10))
		}
		for _, largest := range []int{0, 1} {
			node := rdNode("TopK", 11, map[string]any{"axis": axis, "largest": largest})
			out := rdMust(t, 3, node, common.NewTensor(shape, x), common.NewTensor(common.Shape{1}, []int64{int64(k)}))
			ws := shape.Clone()
			ws[axis] = k
			require.Equal(t, ws, out[0].Shape())
			require.Equal(t, ws, out[1].Shape())
			vals, idx := common.Data[int32](out[0]), common.Data[int64](out[1])
			outer, _, inner := rdAxisSplit(shape, axis)
			for o := 0; o < outer; o++ {
				for i := 0; i < inner; i++ {
					ord := make([]int, r)
					for j := range ord {
						ord[j] = j
					}
					at := func(j int) int32 { return x[(o*r+j)*inner+i] }
					sort.SliceStable(ord, func(a, b int) bool {
						if largest == 1 {
							return at(ord[a]) > at(ord[b])
						}
						return at(ord[a]) < at(ord[b])
					})
					for j := 0; j < k; j++ {
						p := (o*k+j)*inner + i
						require.Equal(t, int64(ord[j]), idx[p], "trial %d", trial)
						require.Equal(t, at(ord[j]), vals[p])
					}
				}
			}
		}
	}
}

func TestTopKCases(t *testing.T) {
	x := common.NewTensor(common.Shape{3, 4}, []float32{0, 1, 2, 3, 4, 5, 6, 7, 11, 10, 9, 8})
	// Opset 1: k attribute.
	out := rdMust(t, 1, rdNode("TopK", 1, map[string]any{"k": 3}), x)
	require.Equal(t, []float32{3, 2, 1, 7, 6, 5, 11, 10, 9}, common.Data[float32](out[0]))
	require.Equal(t, []int64{3, 2, 1, 3, 2, 1, 0, 1, 2}, common.Data[int64](out[1]))
	// uint64, smallest.
	u := common.NewTensor(common.Shape{4}, []uint64{1 << 63, 3, 3, 1})
	out = rdMust(t, 1, rdNode("TopK", 11, map[string]any{"largest": 0}), u, common.NewTensor(common.Shape{1}, []int64{3}))
	require.Equal(t, []uint64{1, 3, 3}, common.Data[uint64](out[0]))
	require.Equal(t, []int64{3, 1, 2}, common.Data[int64](out[1]))
	// Errors: k too big, negative, missing.
	_, err := rdRun(t, 1, rdNode("TopK", 11, nil), x, common.NewTensor(common.Shape{1}, []int64{5}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = rdRun(t, 1, rdNode("TopK", 11, nil), x, common.NewTensor(common.Shape{1}, []int64{-1}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = rdRun(t, 1, rdNode("TopK", 11, nil), x)
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = rdRun(t, 1, rdNode("TopK", 1, nil), x)
	require.ErrorIs(t, err, common.ErrInvalidModel)
}
