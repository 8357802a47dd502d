package cpu

import (
	"math"
	"math/rand"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

func rsScales(v ...float32) *common.Tensor { return common.NewTensor(common.Shape{len(v)}, v) }
func rsSizes(v ...int64) *common.Tensor    { return common.NewTensor(common.Shape{len(v)}, v) }

func TestResizeSpecExamples(t *testing.T) {
	x := common.NewTensor(common.Shape{1, 1, 2, 2}, []float32{1, 2, 3, 4})
	cases := []struct {
		name  string
		attrs map[string]any
		want  []float64
	}{
		{"nearest", map[string]any{"mode": "nearest"}, []float64{
			1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}},
		{"linear half_pixel", map[string]any{"mode": "linear"}, []float64{
			1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}},
		{"linear align_corners", map[string]any{"mode": "linear", "coordinate_transformation_mode": "align_corners"}, []float64{
			1, 4.0 / 3, 5.0 / 3, 2, 5.0 / 3, 2, 7.0 / 3, 8.0 / 3, 7.0 / 3, 8.0 / 3, 3, 10.0 / 3, 3, 10.0 / 3, 11.0 / 3, 4}},
		{"linear asymmetric", map[string]any{"mode": "linear", "coordinate_transformation_mode": "asymmetric"}, []float64{
			1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4}},
	}
	for _, tc := range cases {
		out, err := nrRun(t, nrNode("Resize", 13, tc.attrs), x, nil, rsScales(1, 1, 2, 2))
		require.NoError(t, err, tc.name)
		require.Equal(t, common.Shape{1, 1, 4, 4}, out[0].Shape(), tc.name)
		nrClose(t, tc.want, out[0], 1e-6)
	}
}

func TestResizeDownsampleAndPolicies(t *testing.T) {
	x := common.NewTensor(common.Shape{1, 1, 2, 4}, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	// Nearest downsample by 0.6: output 1x2, source columns 0 and 2 (half_pixel,
	// round_prefer_floor: (j+0.5)/0.6-0.5 = 0.33, 2.0).
	out, err := nrRun(t, nrNode("Resize", 19, nil), x, nil, rsScales(1, 1, 0.6, 0.6))
	require.NoError(t, err)
	require.Equal(t, common.Shape{1, 1, 1, 2}, out[0].Shape())
	nrClose(t, []float64{1, 3}, out[0], 0)
	// not_larger: sizes 1x3 on a 2x4 image -> scale min(0.5, 0.75) = 0.5 -> 1x2.
	out, err = nrRun(t, nrNode("Resize", 19, map[string]any{"keep_aspect_ratio_policy": "not_larger", "axes": []int64{2, 3}}),
		x, nil, nil, rsSizes(1, 3))
	require.NoError(t, err)
	require.Equal(t, common.Shape{1, 1, 1, 2}, out[0].Shape())
	// not_smaller: scale 0.75 -> round(1.5)=2, 3.
	out, err = nrRun(t, nrNode("Resize", 19, map[string]any{"keep_aspect_ratio_policy": "not_smaller", "axes": []int64{2, 3}}),
		x, nil, nil, rsSizes(1, 3))
	require.NoError(t, err)
	require.Equal(t, common.Shape{1, 1, 2, 3}, out[0].Shape())
}

func TestResizeCropAndResize(t *testing.T) {
	x := common.NewTensor(common.Shape{1, 1, 3, 3}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9})
	roi := common.NewTensor(common.Shape{4}, []float32{0.5, -0.5, 1, 0.5})
	out, err := nrRun(t, nrNode("Resize", 19, map[string]any{"mode": "linear", "axes": []int64{2, 3},
		"coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": 10.0}),
		x, roi, nil, rsSizes(2, 3))
	require.NoError(t, err)
	// Rows: 0.5*2 + j*(0.5)*2 = 1, 2; columns: -1 + j*1*2/2 = -1, 0, 1.
	nrClose(t, []float64{10, 4, 5, 10, 7, 8}, out[0], 1e-6)
}

// rsNaiveCoeffs is the spec's 1-D interpolation at coordinate xo of data
// (edge-padded), choosing the len(coeffs) nearest source indices by
// distance, smaller index first on ties.
func rsNaive1D(data []float64, xo float64, mode string, A float64) float64 {
	L := len(data)
	b := math.Floor(xo)
	ratio := xo - b
	if ratio == 0 {
		ratio = 1
	}
	var coeffs []float64
	switch mode {
	case "linear":
		coeffs = []float64{1 - ratio, ratio}
	case "cubic":
		c := func(d float64) float64 {
			d = math.Abs(d)
			if d <= 1 {
				return (A+2)*d*d*d - (A+3)*d*d + 1
			}
			if d < 2 {
				return A*d*d*d - 5*A*d*d + 8*A*d - 4*A
			}
			return 0
		}
		coeffs = []float64{c(ratio + 1), c(ratio), c(1 - ratio), c(2 - ratio)}
	}
	n := len(coeffs)
	var cand []int
	for i := -n; i < L+n; i++ {
		cand = append(cand, i)
	}
	sort.SliceStable(cand, func(i, j int) bool {
		di, dj := math.Abs(xo-float64(cand[i])), math.Abs(xo-float64(cand[j]))
		if di != dj {
			return di < dj
		}
		return cand[i] < cand[j]
	})
	sel := append([]int(nil), cand[:n]...)
	sort.Ints(sel)
	var s float64
	for k, i := range sel {
		s += coeffs[k] * data[min(max(i, 0), L-1)]
	}
	return s
}

func TestResizeMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	shape := common.Shape{2, 3, 5, 6}
	x := nrRand(r, shape)
	for _, mode := range []string{"linear", "cubic"} {
		for _, ctm := range []string{"half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"} {
			for _, sc := range [][2]float32{{1.7, 0.6}, {0.5, 2.3}} {
				out, err := nrRun(t, nrNode("Resize", 19, map[string]any{"mode": mode, "coordinate_transformation_mode": ctm}),
					x, nil, rsScales(1, 1, sc[0], sc[1]))
				require.NoError(t, err)
				oh := int(math.Floor(float64(sc[0]) * 5))
				ow := int(math.Floor(float64(sc[1]) * 6))
				require.Equal(t, common.Shape{2, 3, oh, ow}, out[0].Shape())
				coord := func(j, L, O int, s float64) float64 {
					switch ctm {
					case "half_pixel":
						return (float64(j)+0.5)/s - 0.5
					case "align_corners":
						ow := s * float64(L)
						if ow == 1 {
							return 0
						}
						return float64(j) * float64(L-1) / (ow - 1)
					case "pytorch_half_pixel":
						if s*float64(L) == 1 {
							return 0
						}
						return (float64(j)+0.5)/s - 0.5
					}
					return float64(j) / s
				}
				want := make([]float64, 0, out[0].Len())
				for p := 0; p < 6; p++ {
					for i := 0; i < oh; i++ {
						for j := 0; j < ow; j++ {
							rows := make([]float64, 5)
							for y := 0; y < 5; y++ {
								line := make([]float64, 6)
								for xx := range line {
									line[xx] = x.Float(p*30 + y*6 + xx)
								}
								rows[y] = rsNaive1D(line, coord(j, 6, ow, float64(sc[1])), mode, -0.75)
							}
							want = append(want, rsNaive1D(rows, coord(i, 5, oh, float64(sc[0])), mode, -0.75))
						}
					}
				}
				nrClose(t, want, out[0], 1e-5)
			}
		}
	}
}

func TestResizeTypesAndUpsample(t *testing.T) {
	x := common.NewTensor(common.Shape{1, 1, 2, 2}, []uint8{0, 255, 100, 50})
	out, err := nrRun(t, nrNode("Resize", 13, map[string]any{"mode": "linear"}), x, nil, rsScales(1, 1, 2, 2))
	require.NoError(t, err)
	require.Equal(t, common.Uint8, out[0].DType())
	// Row 0: 0, 63.75, 191.25, 255 -> rounded.
	require.Equal(t, []uint8{0, 64, 191, 255}, common.Data[uint8](out[0])[:4])
	// Upsample-9 nearest with integer scales repeats elements.
	f := common.NewTensor(common.Shape{1, 2}, []float32{1, 2})
	out, err = nrRun(t, nrNode("Upsample", 9, map[string]any{"mode": "nearest"}), f, rsScales(2, 3))
	require.NoError(t, err)
	require.Equal(t, common.Shape{2, 6}, out[0].Shape())
	nrClose(t, []float64{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}, out[0], 0)
	// Upsample-7 linear (asymmetric) with the scales attribute.
	out, err = nrRun(t, nrNode("Upsample", 7, map[string]any{"mode": "linear", "scales": []float32{1, 2}}), f)
	require.NoError(t, err)
	nrClose(t, []float64{1, 1.5, 2, 2}, out[0], 1e-6)
	// float16 goes through float32.
	h := FromFloat32(f, common.Float16)
	out, err = nrRun(t, nrNode("Resize", 13, map[string]any{"mode": "linear"}), h, nil, rsScales(1, 2))
	require.NoError(t, err)
	require.Equal(t, common.Float16, out[0].DType())
	nrClose(t, []float64{1, 1.25, 1.75, 2}, out[0], 1e-3)
}

func TestResizeBadInput(t *testing.T) {
	x := common.NewTensor(common.Shape{1, 1, 2, 2}, []float32{1, 2, 3, 4})
	_, err := nrRun(t, nrNode("Resize", 13, nil), x, nil, rsScales(1, 1, 1e30, 1e30))
	require.ErrorIs(t, err, common.ErrLimit)
	_, err = nrRun(t, nrNode("Resize", 13, nil), x, nil, nil, rsSizes(1, 1, 1<<40, 1<<40))
	require.ErrorIs(t, err, common.ErrLimit)
	_, err = nrRun(t, nrNode("Resize", 13, nil), x, nil, rsScales(1, 1, -2, 2))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = nrRun(t, nrNode("Resize", 13, nil), x, nil, rsScales(1, 2))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = nrRun(t, nrNode("Resize", 13, nil), x, nil, nil, rsSizes(1, 1, -1, 2))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = nrRun(t, nrNode("Resize", 13, map[string]any{"mode": "bogus"}), x, nil, rsScales(1, 1, 2, 2))
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = nrRun(t, nrNode("Resize", 13, nil), x)
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = nrRun(t, nrNode("Resize", 19, map[string]any{"axes": []int64{2, 2}}), x, nil, rsScales(2, 2))
	require.ErrorIs(t, err, common.ErrInvalidModel)
}

func TestResizeParallelMatchesSerial(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	x := nrRand(r, common.Shape{2, 3, 40, 50})
	n := nrNode("Resize", 19, map[string]any{"mode": "cubic", "antialias": 1})
	k := kernels["Resize"].tensor
	a, err := k(nrCtx(1, common.Limits{}), n, []*common.Tensor{x, nil, rsScales(1, 1, 0.37, 1.9)})
	require.NoError(t, err)
	b, err := k(nrCtx(4, common.Limits{}), n, []*common.Tensor{x, nil, rsScales(1, 1, 0.37, 1.9)})
	require.NoError(t, err)
	require.Equal(t, common.Data[float32](a[0]), common.Data[float32](b[0]))
}

func TestResizeAntialiasByHand(t *testing.T) {
	// Linear antialias at scale 0.5 widens the triangle filter to four taps
	// with weights 1/8, 3/8, 3/8, 1/8 (edge-clamped).
	x := common.NewTensor(common.Shape{4}, []float32{1, 2, 3, 4})
	out, err := nrRun(t, nrNode("Resize", 18, map[string]any{"mode": "linear", "antialias": 1}), x, nil, rsScales(0.5))
	require.NoError(t, err)
	nrClose(t, []float64{1.625, 3.375}, out[0], 1e-6)
	// Without antialias it is plain interpolation at 0.5 and 2.5.
	out, err = nrRun(t, nrNode("Resize", 18, map[string]any{"mode": "linear"}), x, nil, rsScales(0.5))
	require.NoError(t, err)
	nrClose(t, []float64{1.5, 3.5}, out[0], 1e-6)
	// A tight memory limit is enforced before allocating the output.
	c := nrCtx(1, common.Limits{TensorElements: 100})
	_, err = kernels["Resize"].tensor(c, nrNode("Resize", 18, nil), []*common.Tensor{x, nil, rsScales(100)})
	require.ErrorIs(t, err, common.ErrLimit)
}
