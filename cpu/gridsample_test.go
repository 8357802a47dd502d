package cpu

import (
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// gsNaive2D samples a (H, W) plane at normalized (gx, gy) following the
// spec: denormalize, pad, interpolate.
func gsNaive2D(img []float64, H, W int, gx, gy float64, mode, pad string, align bool) float64 {
	den := func(g float64, L int) float64 {
		if align {
			return (g + 1) / 2 * float64(L-1)
		}
		return ((g+1)*float64(L) - 1) / 2
	}
	lo := func(L int) (float64, float64) {
		if align {
			return 0, float64(L - 1)
		}
		return -0.5, float64(L) - 0.5
	}
	refl := func(v float64, L int) float64 {
		a, b := lo(L)
		for v < a || v > b {
			if v < a {
				v = 2*a - v
			} else {
				v = 2*b - v
			}
		}
		return v
	}
	fix := func(v float64, L int) float64 {
		a, b := lo(L)
		if v >= a && v <= b {
			return v
		}
		switch pad {
		case "border":
			return math.Min(math.Max(v, 0), float64(L-1))
		case "reflection":
			return refl(v, L)
		}
		return v
	}
	px := func(y, x int) float64 {
		switch pad {
		case "zeros":
			if y < 0 || y >= H || x < 0 || x >= W {
				return 0
			}
		case "border":
			y, x = min(max(y, 0), H-1), min(max(x, 0), W-1)
		case "reflection":
			y, x = int(refl(float64(y), H)), int(refl(float64(x), W))
		}
		return img[y*W+x]
	}
	x := fix(den(gx, W), W)
	y := fix(den(gy, H), H)
	switch mode {
	case "nearest":
		return px(int(math.RoundToEven(y)), int(math.RoundToEven(x)))
	case "linear":
		x0, y0 := math.Floor(x), math.Floor(y)
		tx, ty := x-x0, y-y0
		i, j := int(y0), int(x0)
		return (1-ty)*((1-tx)*px(i, j)+tx*px(i, j+1)) + ty*((1-tx)*px(i+1, j)+tx*px(i+1, j+1))
	}
	var wx, wy [4]float64
	x0, y0 := math.Floor(x), math.Floor(y)
	gsCubicCoeffs(x-x0, &wx)
	gsCubicCoeffs(y-y0, &wy)
	var s float64
	for a := 0; a < 4; a++ {
		for b := 0; b < 4; b++ {
			s += wy[a] * wx[b] * px(int(y0)-1+a, int(x0)-1+b)
		}
	}
	return s
}

func TestGridSampleMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	x := nrRand(r, common.Shape{2, 2, 4, 5})
	gv := make([]float32, 2*3*4*2)
	for i := range gv {
		gv[i] = float32(r.Float64()*3 - 1.5)
	}
	grid := common.NewTensor(common.Shape{2, 3, 4, 2}, gv)
	for _, mode := range []string{"nearest", "linear", "cubic"} {
		for _, pad := range []string{"zeros", "border", "reflection"} {
			for _, align := range []int{0, 1} {
				out, err := nrRun(t, nrNode("GridSample", 20, map[string]any{"mode": mode, "padding_mode": pad, "align_corners": align}), x, grid)
				require.NoError(t, err)
				require.Equal(t, common.Shape{2, 2, 3, 4}, out[0].Shape())
				want := make([]float64, 0, out[0].Len())
				for n := 0; n < 2; n++ {
					for c := 0; c < 2; c++ {
						img := make([]float64, 20)
						for i := range img {
							img[i] = x.Float((n*2+c)*20 + i)
						}
						for p := 0; p < 12; p++ {
							g := gv[(n*12+p)*2:]
							want = append(want, gsNaive2D(img, 4, 5, float64(g[0]), float64(g[1]), mode, pad, align == 1))
						}
					}
				}
				nrClose(t, want, out[0], 1e-4)
			}
		}
	}
}

func TestGridSampleVolumetricAndErrors(t *testing.T) {
	// A 2x2x2 volume sampled at its corners with align_corners returns the
	// corner values; the centre is their mean.
	x := common.NewTensor(common.Shape{1, 1, 2, 2, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	grid := common.NewTensor(common.Shape{1, 1, 1, 3, 3}, []float32{-1, -1, -1, 1, -1, 1, 0, 0, 0})
	out, err := nrRun(t, nrNode("GridSample", 20, map[string]any{"align_corners": 1}), x, grid)
	require.NoError(t, err)
	require.Equal(t, common.Shape{1, 1, 1, 1, 3}, out[0].Shape())
	// (x=1, y=-1, z=1) is index d=1, h=0, w=1 -> 6.
	nrClose(t, []float64{1, 6, 4.5}, out[0], 1e-6)
	// Opset 16 names.
	x2 := common.NewTensor(common.Shape{1, 1, 1, 2}, []float32{1, 3})
	g2 := common.NewTensor(common.Shape{1, 1, 1, 2}, []float32{0, 0})
	out, err = nrRun(t, nrNode("GridSample", 16, map[string]any{"mode": "bilinear", "align_corners": 1}), x2, g2)
	require.NoError(t, err)
	nrClose(t, []float64{2}, out[0], 1e-6)
	_, err = nrRun(t, nrNode("GridSample", 20, nil), x2, common.NewTensor(common.Shape{1, 1, 1, 3}, []float32{0, 0, 0}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = nrRun(t, nrNode("GridSample", 20, map[string]any{"mode": "area"}), x2, g2)
	require.ErrorIs(t, err, common.ErrInvalidModel)
}
