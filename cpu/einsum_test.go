package cpu

import (
	"context"
	"errors"
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// esNaive evaluates an explicit, letters-only equation by looping over
// every assignment of every label.
func esNaive(eq string, shapes []common.Shape, data [][]float64) (common.Shape, []float64) {
	lhs, rhs, _ := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	size := map[byte]int{}
	var labels []byte
	for i, t := range terms {
		for j := 0; j < len(t); j++ {
			if _, ok := size[t[j]]; !ok {
				labels = append(labels, t[j])
			}
			size[t[j]] = max(size[t[j]], shapes[i][j])
		}
	}
	outShape := common.Shape{}
	for j := 0; j < len(rhs); j++ {
		outShape = append(outShape, size[rhs[j]])
	}
	out := make([]float64, outShape.Size())
	val := map[byte]int{}
	var rec func(int)
	rec = func(li int) {
		if li == len(labels) {
			p := 1.0
			for i, t := range terms {
				off := 0
				for j := 0; j < len(t); j++ {
					v := val[t[j]]
					if shapes[i][j] == 1 {
						v = 0 // broadcast
					}
					off = off*shapes[i][j] + v
				}
				p *= data[i][off]
			}
			o := 0
			for j := 0; j < len(rhs); j++ {
				o = o*size[rhs[j]] + val[rhs[j]]
			}
			out[o] += p
			return
		}
		for v := 0; v < size[labels[li]]; v++ {
			val[labels[li]] = v
			rec(li + 1)
		}
	}
	rec(0)
	return outShape, out
}

func esRand(rng *rand.Rand, shape common.Shape) ([]float64, *common.Tensor) {
	d := make([]float64, shape.Size())
	for i := range d {
		d[i] = float64(rng.Intn(7) - 3)
	}
	return d, common.NewTensor(shape, d)
}

func TestEinsumMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	cases := []struct {
		eq     string
		shapes []common.Shape
	}{
		{"ij,jk->ik", []common.Shape{{3, 4}, {4, 5}}},
		{"bij,bjk->bik", []common.Shape{{2, 3, 4}, {2, 4, 5}}},
		{"ij,kj->ik", []common.Shape{{3, 4}, {5, 4}}},
		{"ii->i", []common.Shape{{4, 4}}},
		{"ii->", []common.Shape{{4, 4}}},
		{"ij->ji", []common.Shape{{3, 5}}},
		{"ij->", []common.Shape{{3, 5}}},
		{"ij->j", []common.Shape{{3, 5}}},
		{"i,i->", []common.Shape{{6}, {6}}},
		{"i,j->ij", []common.Shape{{3}, {4}}},
		{"bii->bi", []common.Shape{{2, 3, 3}}},
		{"iij,jk->ik", []common.Shape{{3, 3, 2}, {2, 4}}},
		{"ij,jk,kl->il", []common.Shape{{2, 3}, {3, 4}, {4, 2}}},
		{"abc,cd,b->ad", []common.Shape{{2, 3, 4}, {4, 2}, {3}}},
		{"ijk,ikl->jl", []common.Shape{{2, 3, 4}, {2, 4, 5}}},
		{"ij,ij->ij", []common.Shape{{3, 4}, {3, 4}}},
		{"ij,ij->", []common.Shape{{3, 4}, {3, 4}}},
		{"bj,bjk->bk", []common.Shape{{1, 3}, {4, 3, 2}}}, // batch broadcast
		{"ik,k->i", []common.Shape{{3, 1}, {5}}},          // contracted size-1
		{"ab,cd->abcd", []common.Shape{{2, 1}, {1, 3}}},
		{"iji->j", []common.Shape{{3, 2, 3}}},
		{"ij,jk->", []common.Shape{{0, 2}, {2, 3}}},
		{"ij,jk->ik", []common.Shape{{2, 0}, {0, 3}}},
	}
	for _, tc := range cases {
		var data [][]float64
		var in []*common.Tensor
		for _, s := range tc.shapes {
			d, t := esRand(rng, s)
			data, in = append(data, d), append(in, t)
		}
		wantShape, want := esNaive(tc.eq, tc.shapes, data)
		out := rdMust(t, 3, rdNode("Einsum", 12, map[string]any{"equation": tc.eq}), in...)
		require.Equal(t, wantShape, out[0].Shape(), tc.eq)
		require.Equal(t, want, common.Data[float64](out[0]), tc.eq)
	}
}

func TestEinsumImplicitAndEllipsis(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	a, at := esRand(rng, common.Shape{2, 3, 4})
	b, bt := esRand(rng, common.Shape{2, 4, 5})
	// "...ij,...jk" is "zij,zjk->zik".
	_, want := esNaive("zij,zjk->zik", []common.Shape{{2, 3, 4}, {2, 4, 5}}, [][]float64{a, b})
	out := rdMust(t, 1, rdNode("Einsum", 12, map[string]any{"equation": "...ij,...jk"}), at, bt)
	require.Equal(t, common.Shape{2, 3, 5}, out[0].Shape())
	require.Equal(t, want, common.Data[float64](out[0]))
	// Implicit output: labels seen once, in alphabetical order ("ba" -> "ab").
	r6, err := at.Reshape(common.Shape{6, 4})
	require.NoError(t, err)
	out = rdMust(t, 1, rdNode("Einsum", 12, map[string]any{"equation": "ba"}), r6)
	_, want = esNaive("ba->ab", []common.Shape{{6, 4}}, [][]float64{a})
	require.Equal(t, common.Shape{4, 6}, out[0].Shape())
	require.Equal(t, want, common.Data[float64](out[0]))
	// "i,i" has no output labels: a scalar.
	v, vt := esRand(rng, common.Shape{5})
	out = rdMust(t, 1, rdNode("Einsum", 12, map[string]any{"equation": "i,i"}), vt, vt)
	var dot float64
	for _, x := range v {
		dot += x * x
	}
	require.Equal(t, common.Shape{}, out[0].Shape())
	require.Equal(t, []float64{dot}, common.Data[float64](out[0]))
	// Ellipsis broadcasting: [2,1,3,4] with [5,4,2] over "...ij,...jk->...ik".
	p, pt := esRand(rng, common.Shape{2, 1, 3, 4})
	q, qt := esRand(rng, common.Shape{5, 4, 2})
	_, want = esNaive("xyij,yjk->xyik", []common.Shape{{2, 1, 3, 4}, {5, 4, 2}}, [][]float64{p, q})
	out = rdMust(t, 2, rdNode("Einsum", 12, map[string]any{"equation": "...ij,...jk->...ik"}), pt, qt)
	require.Equal(t, common.Shape{2, 5, 3, 2}, out[0].Shape())
	require.Equal(t, want, common.Data[float64](out[0]))
	// Ellipsis in the middle, and a trace over the batch dims' diagonal.
	out = rdMust(t, 1, rdNode("Einsum", 12, map[string]any{"equation": "i...i->..."}), common.NewTensor(common.Shape{3, 2, 3}, make([]float64, 18)))
	require.Equal(t, common.Shape{2}, out[0].Shape())
	// float32 and int32.
	f := common.NewTensor(common.Shape{2, 2}, []float32{1, 2, 3, 4})
	out = rdMust(t, 1, rdNode("Einsum", 12, map[string]any{"equation": "ij,jk->ik"}), f, f)
	require.Equal(t, []float32{7, 10, 15, 22}, common.Data[float32](out[0]))
	i := common.NewTensor(common.Shape{2, 2}, []int32{1, 2, 3, 4})
	out = rdMust(t, 1, rdNode("Einsum", 12, map[string]any{"equation": "ii"}), i)
	require.Equal(t, []int32{5}, common.Data[int32](out[0]))
}

func TestEinsumBadInput(t *testing.T) {
	x := common.NewTensor(common.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	for _, eq := range []string{"ij,jk->ik", "ijk->i", "i->i", "ij->k", "ij->ii", "i1->i", "ii->i", "......", ""} {
		_, err := rdRun(t, 1, rdNode("Einsum", 12, map[string]any{"equation": eq}), x)
		require.Error(t, err, eq)
		require.True(t, errors.Is(err, common.ErrShape) || errors.Is(err, common.ErrInvalidModel), "%s: %v", eq, err)
	}
	y := common.NewTensor(common.Shape{4, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	_, err := rdRun(t, 1, rdNode("Einsum", 12, map[string]any{"equation": "ij,jk->ik"}), x, y)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = rdRun(t, 1, rdNode("Einsum", 12, map[string]any{"equation": "ij,jk->ik"}), x, common.NewTensor(common.Shape{3, 1}, []float64{1, 2, 3}))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestEinsumRespectsLimits(t *testing.T) {
	e := &Engine{limits: common.Limits{TensorElements: 1 << 16}.WithDefaults(), pool: newPool(1)}
	defer e.pool.close()
	c := &Ctx{ctx: context.Background(), eng: e, run: &runState{}}
	v := common.NewTensor(common.Shape{1000}, make([]float32, 1000))
	// The outer product would have 10^6 elements, past the limit.
	_, err := kernels["Einsum"].tensor(c, rdNode("Einsum", 12, map[string]any{"equation": "i,j->ij"}), []*common.Tensor{v, v})
	require.ErrorIs(t, err, common.ErrLimit)
	// A contraction that stays small is fine under the same limit.
	out, err := kernels["Einsum"].tensor(c, rdNode("Einsum", 12, map[string]any{"equation": "i,i->"}), []*common.Tensor{v, v})
	require.NoError(t, err)
	require.Equal(t, []float32{0}, common.Data[float32](out[0]))
}

func TestHalfInputsThroughFloat32(t *testing.T) {
	h := func(v ...float32) *common.Tensor {
		s := make([]common.F16, len(v))
		for i, x := range v {
			s[i] = common.F16From(x)
		}
		return common.NewTensor(common.Shape{len(v)}, s)
	}
	out := rdMust(t, 1, rdNode("ArgMax", 13, nil), h(1, 3, 2))
	require.Equal(t, []int64{1}, common.Data[int64](out[0]))
	out = rdMust(t, 1, rdNode("TopK", 11, nil), h(1, 3, 2), common.NewTensor(common.Shape{1}, []int64{2}))
	require.Equal(t, common.Float16, out[0].DType())
	require.Equal(t, []common.F16{common.F16From(3), common.F16From(2)}, common.Data[common.F16](out[0]))
	require.Equal(t, []int64{1, 2}, common.Data[int64](out[1]))
	out = rdMust(t, 1, rdNode("CumSum", 14, nil), h(1, 3, 2), common.Scalar(int64(0)))
	require.Equal(t, []common.F16{common.F16From(1), common.F16From(4), common.F16From(6)}, common.Data[common.F16](out[0]))
	out = rdMust(t, 1, rdNode("Einsum", 12, map[string]any{"equation": "i,i->"}), h(1, 3, 2), h(1, 1, 2))
	require.Equal(t, []common.F16{common.F16From(8)}, common.Data[common.F16](out[0]))
}
