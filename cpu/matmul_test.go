package cpu

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/accel-go/accel/common"
	"github.com/stretchr/testify/require"
)

// nnMatMulRef multiplies with numpy semantics via explicit index maths.
func nnMatMulRef(a []float32, as []int, b []float32, bs []int) ([]float64, []int) {
	a2, b2 := append([]int(nil), as...), append([]int(nil), bs...)
	if len(as) == 1 {
		a2 = []int{1, as[0]}
	}
	if len(bs) == 1 {
		b2 = []int{bs[0], 1}
	}
	m, k, n := a2[len(a2)-2], a2[len(a2)-1], b2[len(b2)-1]
	ab, bb := a2[:len(a2)-2], b2[:len(b2)-2]
	rank := max(len(ab), len(bb))
	batch := make([]int, rank)
	for i := range batch {
		da, db := 1, 1
		if j := i - (rank - len(ab)); j >= 0 {
			da = ab[j]
		}
		if j := i - (rank - len(bb)); j >= 0 {
			db = bb[j]
		}
		batch[i] = max(da, db)
	}
	nb := prod(batch)
	out := make([]float64, nb*m*n)
	bc := make([]int, rank)
	for bi := 0; bi < nb; bi++ {
		// Batch coordinate -> offsets in a and b.
		rem := bi
		for i := rank - 1; i >= 0; i-- {
			bc[i] = rem % batch[i]
			rem /= batch[i]
		}
		offA, offB := 0, 0
		for i := 0; i < len(ab); i++ {
			ci := bc[i+rank-len(ab)]
			if ab[i] == 1 {
				ci = 0
			}
			offA = offA*ab[i] + ci
		}
		for i := 0; i < len(bb); i++ {
			ci := bc[i+rank-len(bb)]
			if bb[i] == 1 {
				ci = 0
			}
			offB = offB*bb[i] + ci
		}
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					s += float64(a[offA*m*k+i*k+p]) * float64(b[offB*k*n+p*n+j])
				}
				out[bi*m*n+i*n+j] = s
			}
		}
	}
	shape := append([]int(nil), batch...)
	if len(as) > 1 {
		shape = append(shape, m)
	}
	if len(bs) > 1 {
		shape = append(shape, n)
	}
	return out, shape
}

func TestMatMulAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	c := nnCtx(t, 2)
	cases := [][2][]int{
		{{3}, {3}},
		{{5}, {5, 7}},
		{{4, 5}, {5}},
		{{3, 4}, {4, 6}},
		{{2, 3, 4}, {4, 5}},
		{{4, 5}, {3, 5, 2}},
		{{2, 1, 3, 4}, {5, 4, 7}},
		{{1, 17, 33}, {1, 33, 19}},
		{{3, 1, 7, 9}, {1, 2, 9, 3}},
		{{6}, {2, 6, 3}},
		{{2, 3, 6}, {6}},
		{{40, 70}, {70, 90}},
		{{0, 3}, {3, 4}},
		{{3, 0}, {0, 4}},
	}
	for _, tc := range cases {
		as, bs := tc[0], tc[1]
		a, b := nnRand32(r, prod(as)), nnRand32(r, prod(bs))
		want, shape := nnMatMulRef(a, as, b, bs)
		out, err := nnRun(t, c, nnNode("MatMul", 13, nil), common.NewTensor(common.Shape(as), a), common.NewTensor(common.Shape(bs), b))
		require.NoError(t, err)
		require.True(t, common.Shape(shape).Equal(out[0].Shape()), "%v x %v: %v", as, bs, out[0].Shape())
		nnClose(t, want, common.Data[float32](out[0]), 1e-5, fmt.Sprintf("%v x %v", as, bs))

		// The other element types give the same numbers (integers on
		// rounded inputs).
		a64, b64 := make([]float64, len(a)), make([]float64, len(b))
		ai, bi := make([]int32, len(a)), make([]int32, len(b))
		for i, v := range a {
			a64[i], ai[i] = float64(v), int32(v*4)
		}
		for i, v := range b {
			b64[i], bi[i] = float64(v), int32(v*4)
		}
		out, err = nnRun(t, c, nnNode("MatMul", 13, nil), common.NewTensor(common.Shape(as), a64), common.NewTensor(common.Shape(bs), b64))
		require.NoError(t, err)
		for i, v := range common.Data[float64](out[0]) {
			require.InDelta(t, want[i], v, 1e-9)
		}
		af, bf := make([]float32, len(ai)), make([]float32, len(bi))
		for i, v := range ai {
			af[i] = float32(v)
		}
		for i, v := range bi {
			bf[i] = float32(v)
		}
		wantI, _ := nnMatMulRef(af, as, bf, bs)
		out, err = nnRun(t, c, nnNode("MatMul", 13, nil), common.NewTensor(common.Shape(as), ai), common.NewTensor(common.Shape(bs), bi))
		require.NoError(t, err)
		for i, v := range common.Data[int32](out[0]) {
			require.Equal(t, int32(wantI[i]), v)
		}
	}
	bf := FromFloat32(common.NewTensor(common.Shape{2, 2}, []float32{1, 2, 3, 4}), common.BFloat16)
	out, err := nnRun(t, c, nnNode("MatMul", 13, nil), bf, bf)
	require.NoError(t, err)
	require.Equal(t, common.BFloat16, out[0].DType())
	require.Equal(t, []float64{7, 10, 15, 22}, out[0].Floats())

	for _, tc := range [][2][]int{{{3, 4}, {5, 6}}, {{2, 3, 4}, {3, 4, 5}}, {{}, {3}}} {
		_, err := nnRun(t, c, nnNode("MatMul", 13, nil), common.Zeros(common.Float32, common.Shape(tc[0])), common.Zeros(common.Float32, common.Shape(tc[1])))
		require.ErrorIs(t, err, common.ErrShape, "%v", tc)
	}
	_, err = nnRun(t, c, nnNode("MatMul", 13, nil), common.Zeros(common.Int8, common.Shape{2, 2}), common.Zeros(common.Int8, common.Shape{2, 2}))
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestGemmOp(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	c := nnCtx(t, 2)
	for _, m := range []int{1, 3, 17} {
		for _, n := range []int{1, 7, 33} {
			for _, k := range []int{1, 5, 40} {
				for tr := 0; tr < 4; tr++ {
					transA, transB := tr&1, tr>>1
					as, bs := []int{m, k}, []int{k, n}
					if transA == 1 {
						as = []int{k, m}
					}
					if transB == 1 {
						bs = []int{n, k}
					}
					a, b := nnRand32(r, m*k), nnRand32(r, k*n)
					for ci, cs := range [][]int{nil, {}, {n}, {m, 1}, {1, n}, {m, n}} {
						attrs := map[string]any{"transA": transA, "transB": transB, "alpha": float32(0.5), "beta": float32(-2)}
						in := []*common.Tensor{common.NewTensor(common.Shape(as), a), common.NewTensor(common.Shape(bs), b)}
						var cv []float32
						if cs != nil {
							cv = nnRand32(r, prod(cs))
							in = append(in, common.NewTensor(common.Shape(cs), cv))
						}
						out, err := nnRun(t, c, nnNode("Gemm", 13, attrs), in...)
						require.NoError(t, err)
						require.Equal(t, common.Shape{m, n}, out[0].Shape())
						cfull := make([]float32, m*n)
						if cs != nil {
							st := BroadcastStrides(common.Shape(cs), common.Shape{m, n})
							for i := 0; i < m; i++ {
								for j := 0; j < n; j++ {
									cfull[i*n+j] = cv[i*st[0]+j*st[1]]
								}
							}
						}
						lda, ldb := as[1], bs[1]
						beta := -2.0
						if cs == nil {
							beta = 0
						}
						want := nnNaiveGemm(transA == 1, transB == 1, m, n, k, 0.5, a, lda, b, ldb, beta, cfull, n)
						nnClose(t, want, common.Data[float32](out[0]), 1e-5, fmt.Sprintf("gemm m=%d n=%d k=%d tr=%d c=%d", m, n, k, tr, ci))
					}
				}
			}
		}
	}
	a := common.NewTensor(common.Shape{2, 2}, []int64{1, 2, 3, 4})
	out, err := nnRun(t, c, nnNode("Gemm", 13, map[string]any{"transB": 1}), a, a, common.NewTensor(common.Shape{2}, []int64{10, 20}))
	require.NoError(t, err)
	require.Equal(t, []int64{15, 31, 21, 45}, common.Data[int64](out[0]))

	relu := nnNode("Gemm", 13, nil)
	relu.Fused = nnNode("Relu", 13, nil)
	f := common.NewTensor(common.Shape{1, 2}, []float32{1, -1})
	out, err = nnRun(t, c, relu, f, common.NewTensor(common.Shape{2, 2}, []float32{1, 0, 0, 1}))
	require.NoError(t, err)
	require.Equal(t, []float32{1, 0}, common.Data[float32](out[0]))

	sq := common.Zeros(common.Float32, common.Shape{2, 3})
	_, err = nnRun(t, c, nnNode("Gemm", 13, nil), sq, sq)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = nnRun(t, c, nnNode("Gemm", 13, map[string]any{"transB": 1}), sq, sq, common.Zeros(common.Float32, common.Shape{3, 2}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = nnRun(t, c, nnNode("Gemm", 9, map[string]any{"transB": 1}), sq, sq)
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = nnRun(t, c, nnNode("Gemm", 13, nil), common.Zeros(common.Float32, common.Shape{3}), sq)
	require.ErrorIs(t, err, common.ErrShape)
}
