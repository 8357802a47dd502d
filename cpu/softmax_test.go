package cpu

import (
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// smNaive normalises x laid out as [outer, r, inner] along r, in float64.
func smNaive(op string, x []float64, outer, r, inner int) []float64 {
	y := make([]float64, len(x))
	at := func(o, j, i int) int { return (o*r+j)*inner + i }
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			m, best := math.Inf(-1), 0
			for j := 0; j < r; j++ {
				if v := x[at(o, j, i)]; v > m {
					m, best = v, j
				}
			}
			s, l1, l2 := 0.0, 0.0, 0.0
			for j := 0; j < r; j++ {
				v := x[at(o, j, i)]
				s += math.Exp(v - m)
				l1 += math.Abs(v)
				l2 += v * v
			}
			for j := 0; j < r; j++ {
				v := x[at(o, j, i)]
				switch op {
				case "Softmax":
					y[at(o, j, i)] = math.Exp(v-m) / s
				case "LogSoftmax":
					y[at(o, j, i)] = v - m - math.Log(s)
				case "Hardmax":
					if j == best {
						y[at(o, j, i)] = 1
					}
				case "L1":
					y[at(o, j, i)] = v / l1
				case "L2":
					y[at(o, j, i)] = v / math.Sqrt(l2)
				}
			}
		}
	}
	return y
}

func TestSoftmaxFamilyMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	shape := common.Shape{3, 4, 70}
	x := make([]float32, shape.Size())
	xf := make([]float64, len(x))
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
		xf[i] = float64(x[i])
	}
	xt := common.NewTensor(shape, x)
	for _, op := range []string{"Softmax", "LogSoftmax", "Hardmax"} {
		for axis := -3; axis < 3; axis++ {
			a := (axis + 3) % 3
			// Opset 13: one axis.
			outer, r, inner := rdAxisSplit(shape, a)
			out := rdMust(t, 4, rdNode(op, 13, map[string]any{"axis": axis}), xt)
			want := smNaive(op, xf, outer, r, inner)
			got := common.Data[float32](out[0])
			for i := range want {
				require.InDelta(t, want[i], float64(got[i]), 1e-5, "%s axis %d (13) at %d", op, axis, i)
			}
			// Opset 11: coerced to 2-D at axis.
			outer, r = 1, 1
			for i, d := range shape {
				if i < a {
					outer *= d
				} else {
					r *= d
				}
			}
			out = rdMust(t, 4, rdNode(op, 11, map[string]any{"axis": axis}), xt)
			want = smNaive(op, xf, outer, r, 1)
			got = common.Data[float32](out[0])
			for i := range want {
				require.InDelta(t, want[i], float64(got[i]), 1e-5, "%s axis %d (11) at %d", op, axis, i)
			}
		}
	}
	// Defaults: -1 from opset 13, 1 before.
	out := rdMust(t, 1, rdNode("Softmax", 13, nil), xt)
	want := smNaive("Softmax", xf, 12, 70, 1)
	for i, v := range common.Data[float32](out[0]) {
		require.InDelta(t, want[i], float64(v), 1e-6)
	}
	out = rdMust(t, 1, rdNode("Softmax", 1, nil), xt)
	want = smNaive("Softmax", xf, 3, 280, 1)
	for i, v := range common.Data[float32](out[0]) {
		require.InDelta(t, want[i], float64(v), 1e-6)
	}
}

func TestSoftmaxCases(t *testing.T) {
	// Large values do not overflow.
	x := common.NewTensor(common.Shape{1, 3}, []float32{1000, 1001, 1002})
	out := rdMust(t, 1, rdNode("Softmax", 13, nil), x)
	got := common.Data[float32](out[0])
	require.InDelta(t, 0.09003057, got[0], 1e-6)
	require.InDelta(t, 0.66524096, got[2], 1e-6)
	out = rdMust(t, 1, rdNode("LogSoftmax", 13, nil), x)
	require.InDelta(t, -2.4076059, common.Data[float32](out[0])[0], 1e-5)
	// Hardmax ties pick the first.
	h := common.NewTensor(common.Shape{2, 3}, []float64{3, 1, 3, 0, 2, 2})
	out = rdMust(t, 1, rdNode("Hardmax", 13, nil), h)
	require.Equal(t, []float64{1, 0, 0, 0, 1, 0}, common.Data[float64](out[0]))
	// float16 in, float16 out.
	f := common.NewTensor(common.Shape{2}, []common.F16{common.F16From(0), common.F16From(0)})
	out = rdMust(t, 1, rdNode("Softmax", 13, nil), f)
	require.Equal(t, []common.F16{common.F16From(0.5), common.F16From(0.5)}, common.Data[common.F16](out[0]))
	_, err := rdRun(t, 1, rdNode("Softmax", 13, map[string]any{"axis": 2}), x)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = rdRun(t, 1, rdNode("Softmax", 11, map[string]any{"axis": 3}), x)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = rdRun(t, 1, rdNode("Softmax", 13, nil), common.NewTensor(common.Shape{1}, []int32{1}))
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestLpNormalization(t *testing.T) {
	x := common.NewTensor(common.Shape{2, 2}, []float32{3, 4, -1, 1})
	out := rdMust(t, 1, rdNode("LpNormalization", 1, nil), x)
	got := common.Data[float32](out[0])
	want := []float64{0.6, 0.8, -1 / math.Sqrt2, 1 / math.Sqrt2}
	for i := range want {
		require.InDelta(t, want[i], float64(got[i]), 1e-6)
	}
	out = rdMust(t, 1, rdNode("LpNormalization", 1, map[string]any{"axis": 0, "p": 1}), x)
	require.Equal(t, []float32{0.75, 0.8, -0.25, 0.2}, common.Data[float32](out[0]))
	rng := rand.New(rand.NewSource(5))
	shape := common.Shape{5, 60, 3}
	v := make([]float64, shape.Size())
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	out = rdMust(t, 4, rdNode("LpNormalization", 1, map[string]any{"axis": 1}), common.NewTensor(shape, v))
	ref := smNaive("L2", v, 5, 60, 3)
	for i, g := range common.Data[float64](out[0]) {
		require.InDelta(t, ref[i], g, 1e-12)
	}
	_, err := rdRun(t, 1, rdNode("LpNormalization", 1, map[string]any{"p": 3}), x)
	require.ErrorIs(t, err, common.ErrInvalidModel)
}
