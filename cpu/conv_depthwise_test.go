package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/accel-go/accel/common"
	"github.com/stretchr/testify/require"
)

// TestConvDepthwise3x3 runs depthwise 3x3 convolutions (which take the
// dedicated kernel) over random sizes, strides, pads, channel multipliers,
// bias and fused activations, against the float64 direct convolution.
func TestConvDepthwise3x3(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	c := nnCtx(t, 2)
	strides := [][]int{{1, 1}, {2, 2}, {1, 2}, {3, 1}}
	pads := [][]int{{1, 1, 1, 1}, {0, 0, 0, 0}, {0, 1, 1, 0}, {2, 0, 1, 2}, {1, 2, 2, 1}}
	acts := []string{"", "Relu", "Clip"}
	for it := 0; it < 120; it++ {
		h, w := 1+r.Intn(12), 1+r.Intn(12)
		if it%7 == 0 {
			h, w = 17, 33+r.Intn(40)
		}
		s, p := strides[it%len(strides)], pads[(it/len(strides))%len(pads)]
		if h+p[0]+p[2] < 3 || w+p[1]+p[3] < 3 {
			continue
		}
		cin, mult, nImg := 2+r.Intn(4), 1+it%2, 1+it%2
		cout := cin * mult
		xs, ws := []int{nImg, cin, h, w}, []int{cout, 1, 3, 3}
		x, wt, b := nnRand32(r, prod(xs)), nnRand32(r, prod(ws)), nnRand32(r, cout)
		n := nnNode("Conv", 11, map[string]any{"group": cin, "strides": s, "pads": p})
		act := acts[it%len(acts)]
		if act != "" {
			n.Fused = nnNode(act, 6, map[string]any{"min": float32(0), "max": float32(0.5)})
		}
		in := []*common.Tensor{common.NewTensor(common.Shape(xs), x), common.NewTensor(common.Shape(ws), wt)}
		var bb []float32
		if it%3 != 1 {
			in = append(in, common.NewTensor(common.Shape{cout}, b))
			bb = b
		}
		g, err := planConv(n, common.Shape(xs), common.Shape(ws), opt(in, 2))
		require.NoError(t, err)
		require.True(t, g.depthwise3x3())
		out, err := nnRun(t, c, n, in...)
		require.NoError(t, err)
		oh, ow := (h+p[0]+p[2]-3)/s[0]+1, (w+p[1]+p[3]-3)/s[1]+1
		require.Equal(t, common.Shape{nImg, cout, oh, ow}, out[0].Shape())
		want := nnConvRef(x, xs, wt, ws, bb, cin, s, []int{1, 1}, p[:2], []int{oh, ow})
		for i, v := range want {
			switch act {
			case "Relu":
				want[i] = math.Max(v, 0)
			case "Clip":
				want[i] = math.Min(math.Max(v, 0), 0.5)
			}
		}
		nnClose(t, want, common.Data[float32](out[0]), 1e-5, fmt.Sprintf("it %d: x %v s %v p %v mult %d act %q", it, xs, s, p, mult, act))
	}
}

// TestConvDepthwiseNotTaken checks that shapes outside the dedicated
// kernel still reach the general path.
func TestConvDepthwiseNotTaken(t *testing.T) {
	for _, tc := range []struct {
		xs, ws []int
		attrs  map[string]any
	}{
		{[]int{1, 4, 8, 8}, []int{4, 1, 3, 3}, map[string]any{"group": 4, "dilations": []int{2, 2}}},
		{[]int{1, 4, 8, 8}, []int{4, 1, 5, 5}, map[string]any{"group": 4}},
		{[]int{1, 4, 8, 8}, []int{4, 2, 3, 3}, map[string]any{"group": 2}},
		{[]int{1, 4, 8}, []int{4, 1, 3}, map[string]any{"group": 4}},
		{[]int{1, 1, 8, 8}, []int{1, 1, 3, 3}, map[string]any{"group": 1}},
	} {
		n := nnNode("Conv", 11, tc.attrs)
		g, err := planConv(n, common.Shape(tc.xs), common.Shape(tc.ws), nil)
		require.NoError(t, err)
		require.False(t, g.depthwise3x3(), "%v %v", tc.xs, tc.ws)
	}
}

// TestBiasClamp checks the selected biasClamp against the scalar loop
// over lengths that hit every vector tail, with NaN and infinities kept.
func TestBiasClamp(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	inf := float32(math.Inf(1))
	bounds := [][2]float32{{0, 6}, {0, inf}, {-inf, inf}, {-0.5, 0.25}}
	for n := 0; n <= 75; n++ {
		for _, bd := range bounds {
			x := nnRand32(r, n)
			if n > 3 {
				x[1], x[2], x[3] = float32(math.NaN()), inf, -inf
			}
			want := append([]float32(nil), x...)
			got := append([]float32(nil), x...)
			b := float32(r.NormFloat64())
			biasClampGo(want, b, bd[0], bd[1])
			biasClamp(got, b, bd[0], bd[1])
			for i := range want {
				require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "n=%d bounds=%v i=%d x=%v", n, bd, i, x[i])
			}
		}
	}
}

// TestDwRow1 checks the selected stride-1 row kernel against the scalar
// loop over lengths that hit every vector tail.
func TestDwRow1(t *testing.T) {
	r := rand.New(rand.NewSource(13))
	for n := 0; n <= 40; n++ {
		var k [9]float32
		copy(k[:], nnRand32(r, 9))
		a, b, c := nnRand32(r, n+2), nnRand32(r, n+2), nnRand32(r, n+2)
		want, got := make([]float32, n), make([]float32, n)
		dwRow1Go(&k, a, b, c, want)
		dwRow1(&k, a, b, c, got)
		for i := range want {
			require.InDelta(t, want[i], got[i], 1e-5*(1+math.Abs(float64(want[i]))), "n=%d i=%d", n, i)
		}
	}
}

// TestDwRow2 checks the selected stride-2 row kernel against the scalar
// loop over lengths that hit every vector tail, with rows exactly as long
// as the outputs need and with slack after them.
func TestDwRow2(t *testing.T) {
	r := rand.New(rand.NewSource(14))
	for n := 0; n <= 45; n++ {
		for _, slack := range []int{0, 1, 7, 20} {
			var k [9]float32
			copy(k[:], nnRand32(r, 9))
			l := 2*n + 1 + slack
			a, b, c := nnRand32(r, l), nnRand32(r, l), nnRand32(r, l)
			want, got := make([]float32, n), make([]float32, n)
			dwRow2Go(&k, a, b, c, want)
			dwRow2(&k, a, b, c, got)
			for i := range want {
				require.InDelta(t, want[i], got[i], 1e-5*(1+math.Abs(float64(want[i]))), "n=%d slack=%d i=%d", n, slack, i)
			}
		}
	}
}

// TestConvPrepackedWeights runs a Conv whose weight is marked as an
// engine initializer, so its packed form is cached and reused, and checks
// both runs against the direct convolution.
func TestConvPrepackedWeights(t *testing.T) {
	r := rand.New(rand.NewSource(14))
	c := nnCtx(t, 2)
	c.eng.owned = map[uintptr]bool{}
	xs, ws := []int{1, 20, 9, 9}, []int{37, 20, 3, 3}
	x, wd, b := nnRand32(r, prod(xs)), nnRand32(r, prod(ws)), nnRand32(r, 37)
	w := common.NewTensor(common.Shape(ws), wd)
	c.eng.owned[dataPtr(w)] = true
	n := nnNode("Conv", 11, map[string]any{"pads": []int{1, 1, 1, 1}})
	n.Fused = nnNode("Relu", 14, nil)
	want := nnConvRef(x, xs, wd, ws, b, 1, []int{1, 1}, []int{1, 1}, []int{1, 1}, []int{9, 9})
	for i, v := range want {
		want[i] = math.Max(v, 0)
	}
	for run := 0; run < 2; run++ {
		out, err := nnRun(t, c, n, common.NewTensor(common.Shape(xs), x), w, common.NewTensor(common.Shape{37}, b))
		require.NoError(t, err)
		nnClose(t, want, common.Data[float32](out[0]), 1e-4, fmt.Sprintf("run %d", run))
		require.True(t, prepacked(c, w, 37, 180) != nil)
	}
	// A weight the engine does not own is never cached.
	other := common.NewTensor(common.Shape(ws), append([]float32(nil), wd...))
	require.True(t, prepacked(c, other, 37, 180) == nil)
}
