//go:build opencl

package opencl

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/plan"
)

// resizeOpts are one Resize node's interpolation settings.
type resizeOpts struct {
	mode, nearest, ctm string
	cubicA             float64
	exclude            bool
	antialias          bool
}

// maxResizeTaps bounds the taps of one axis (antialiased downsampling
// widens the filter by 1/scale).
const maxResizeTaps = 64

// resizeTaps computes, for each of out positions of one axis, nt source
// indices and weights (index -1: outside the crop).
func resizeTaps(in, out int, scale, outW, lo, hi float64, o resizeOpts) (nt int, idx []int32, w []float32) {
	nt = map[string]int{"nearest": 1, "linear": 2, "cubic": 4}[o.mode]
	aa := 1.0 // filter scale: below 1 when antialiasing a downsample
	if o.antialias && o.mode != "nearest" && scale < 1 {
		aa = scale
		support := float64(nt / 2)
		// half-width k: the taps b-k+1 .. b+k around x = b + frac
		k := 1 - (math.Floor(-support/aa) + 1)
		nt = int(min(2*k, maxResizeTaps+1))
	}
	L := float64(in)
	for j := 0; j < out; j++ {
		fj := float64(j)
		var x float64
		outside := false
		switch o.ctm {
		case "half_pixel":
			x = (fj+0.5)/scale - 0.5
		case "half_pixel_symmetric":
			off := L / 2 * (1 - float64(out)/outW)
			x = off + (fj+0.5)/scale - 0.5
		case "pytorch_half_pixel":
			if outW != 1 {
				x = (fj+0.5)/scale - 0.5
			}
		case "align_corners":
			if outW != 1 {
				x = fj * (L - 1) / (outW - 1)
			}
		case "asymmetric":
			x = fj / scale
		case "tf_half_pixel_for_nn":
			x = (fj + 0.5) / scale
		case "tf_crop_and_resize":
			if outW == 1 {
				x = (hi - lo) * (L - 1) / 2
			} else {
				x = fj * (hi - lo) * (L - 1) / (outW - 1)
			}
			x += lo * (L - 1)
			outside = !(x >= 0 && x <= L-1)
		}
		if outside {
			for t := 0; t < nt; t++ {
				idx, w = append(idx, -1), append(w, 0)
			}
			continue
		}
		x = math.Max(-8, math.Min(x, L+8))
		clampI := func(v int) int32 { return int32(min(max(v, 0), in-1)) }
		if o.mode == "nearest" {
			var s float64
			switch o.nearest {
			case "round_prefer_floor":
				s = math.Ceil(x - 0.5)
			case "round_prefer_ceil":
				s = math.Floor(x + 0.5)
			case "floor":
				s = math.Floor(x)
			case "ceil":
				s = math.Ceil(x)
			default: // simple (opset 10)
				if scale >= 1 {
					s = math.Floor(x)
				} else {
					s = math.Ceil(x)
				}
			}
			idx, w = append(idx, clampI(int(s))), append(w, 1)
			continue
		}
		x0 := math.Floor(x)
		frac := x - x0
		b := int(x0)
		coef := make([]float64, nt)
		first := b - nt/2 + 1
		var sum float64
		for t := range coef {
			dist := float64(first+t-b) - frac
			switch {
			case o.mode == "linear":
				coef[t] = math.Max(0, 1-math.Abs(dist*aa))
			default:
				coef[t] = cubicKeys(dist*aa, o.cubicA)
			}
			sum += coef[t]
		}
		if aa < 1 && sum != 0 {
			for t := range coef {
				coef[t] /= sum
			}
		}
		if o.exclude {
			var sum float64
			for t := range coef {
				if s := first + t; s < 0 || s >= in {
					coef[t] = 0
				}
				sum += coef[t]
			}
			if sum != 0 {
				for t := range coef {
					coef[t] /= sum
				}
			}
		}
		for t := range coef {
			idx, w = append(idx, clampI(first+t)), append(w, float32(coef[t]))
		}
	}
	return nt, idx, w
}

// cubicKeys is the cubic convolution kernel with parameter a at distance d.
func cubicKeys(d, a float64) float64 {
	d = math.Abs(d)
	switch {
	case d <= 1:
		return ((a+2)*d-(a+3))*d*d + 1
	case d < 2:
		return ((a*d-5*a)*d+8*a)*d - 4*a
	}
	return 0
}

func constFloats(o *plan.Operand, what string) ([]float64, error) {
	if o == nil || o.Shape.Size() == 0 {
		return nil, nil
	}
	if o.Const == nil {
		return nil, unsupported("%s is not a constant", what)
	}
	return o.Const.Floats(), nil
}

func prepResize(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	x, y := in[0], out[0]
	r := len(x.Shape)
	if r > 6 || len(y.Shape) != r {
		return nil, unsupported("Resize of rank %d", r)
	}
	o := resizeOpts{mode: n.AttrString("mode", "nearest"), nearest: n.AttrString("nearest_mode", "round_prefer_floor"),
		ctm: n.AttrString("coordinate_transformation_mode", "half_pixel"), cubicA: float64(n.AttrFloat("cubic_coeff_a", -0.75)),
		exclude: n.AttrInt("exclude_outside", 0) != 0}
	get := func(i int) *plan.Operand {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	var roi, scales []float64
	var sizes []int64
	var err error
	switch {
	case n.OpType == "Upsample":
		o = resizeOpts{mode: n.AttrString("mode", "nearest"), nearest: "simple", ctm: "asymmetric", cubicA: -0.75}
		if o.mode == "bilinear" || o.mode == "trilinear" {
			o.mode = "linear"
		}
		switch {
		case n.Opset >= 9:
			if scales, err = constFloats(get(1), "Upsample scales"); err != nil {
				return nil, err
			}
		case n.HasAttr("scales"):
			for _, v := range n.AttrFloats("scales") {
				scales = append(scales, float64(v))
			}
		case r == 4:
			scales = []float64{1, 1, float64(n.AttrFloat("height_scale", 1)), float64(n.AttrFloat("width_scale", 1))}
		}
	case n.Opset < 11:
		o.ctm, o.nearest, o.cubicA, o.exclude = "asymmetric", "simple", -0.75, false
		if scales, err = constFloats(get(1), "Resize scales"); err != nil {
			return nil, err
		}
	default:
		if scales, err = constFloats(get(2), "Resize scales"); err != nil {
			return nil, err
		}
		if s := get(3); s != nil && s.Shape.Size() > 0 {
			if sizes, err = constInts(s, "Resize sizes"); err != nil {
				return nil, err
			}
		}
		if o.ctm == "tf_crop_and_resize" {
			if roi, err = constFloats(get(1), "Resize roi"); err != nil {
				return nil, err
			}
		}
	}
	switch o.mode {
	case "nearest", "linear", "cubic":
	default:
		return nil, fmt.Errorf("%w: Resize mode %q", common.ErrInvalidModel, o.mode)
	}
	o.antialias = n.Opset >= 18 && n.AttrInt("antialias", 0) != 0
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if a := n.AttrInts("axes"); n.Opset >= 18 && a != nil {
		if axes, err = normAxes(a, r, "Resize"); err != nil {
			return nil, err
		}
	}
	if (scales == nil) == (sizes == nil) {
		return nil, unsupported("Resize needs exactly one of scales and sizes as constants")
	}
	if (scales != nil && len(scales) != len(axes)) || (sizes != nil && len(sizes) != len(axes)) {
		return nil, fmt.Errorf("%w: Resize scales/sizes for %d axes", common.ErrShape, len(axes))
	}
	if roi != nil && len(roi) != 2*len(axes) {
		return nil, fmt.Errorf("%w: Resize roi has %d values for %d axes", common.ErrShape, len(roi), len(axes))
	}
	if o.ctm == "tf_crop_and_resize" && roi == nil {
		return nil, unsupported("tf_crop_and_resize without a constant roi")
	}
	scale := make([]float64, r)
	lo, hi := make([]float64, r), make([]float64, r)
	want := x.Shape.Clone()
	for i := range scale {
		scale[i], hi[i] = 1, 1
	}
	for i, a := range axes {
		if roi != nil {
			lo[a], hi[a] = roi[i], roi[len(axes)+i]
		}
		if scales != nil {
			if !(scales[i] > 0) || math.IsInf(scales[i], 0) {
				return nil, fmt.Errorf("%w: Resize scale %v", common.ErrShape, scales[i])
			}
			scale[a] = scales[i]
			want[a] = int(math.Floor(scales[i] * float64(x.Shape[a])))
		} else {
			if x.Shape[a] == 0 {
				return nil, unsupported("Resize of an empty axis")
			}
			scale[a] = float64(sizes[i]) / float64(x.Shape[a])
			want[a] = int(sizes[i])
		}
	}
	if policy := n.AttrString("keep_aspect_ratio_policy", "stretch"); sizes != nil && n.Opset >= 18 && policy != "stretch" {
		s := math.Inf(1)
		if policy == "not_smaller" {
			s = math.Inf(-1)
		}
		for _, a := range axes {
			if policy == "not_larger" {
				s = math.Min(s, scale[a])
			} else {
				s = math.Max(s, scale[a])
			}
		}
		for _, a := range axes {
			scale[a] = s
			want[a] = int(math.Floor(s*float64(x.Shape[a]) + 0.5))
		}
	}
	if !want.Equal(y.Shape) {
		return nil, fmt.Errorf("%w: Resize of %v gives %v, the plan has %v", common.ErrShape, x.Shape, want, y.Shape)
	}
	if y.Shape.Size() == 0 {
		return &kernel{rt: d.rt, inPlace: -1}, nil // nothing to compute
	}
	if x.Shape.Size() == 0 {
		return nil, unsupported("Resize of an empty input")
	}
	const head = 4 + 4*6 + 1
	ys, xst := y.Shape, x.Shape.Strides()
	dims, strd, ntaps, toff := make([]int32, 6), make([]int32, 6), make([]int32, 6), make([]int32, 6)
	var tab []int32
	combos := 1
	for a := 0; a < 6; a++ {
		dims[a], ntaps[a] = 1, 1
		if a >= r {
			toff[a] = int32(head + len(tab))
			tab = append(tab, 0, fbits(1))
			continue
		}
		dims[a], strd[a] = int32(ys[a]), int32(xst[a])
		toff[a] = int32(head + len(tab))
		if ys[a] == x.Shape[a] && scale[a] == 1 && roi == nil {
			for j := 0; j < ys[a]; j++ {
				tab = append(tab, int32(j), fbits(1))
			}
			continue
		}
		nt, idx, w := resizeTaps(x.Shape[a], ys[a], scale[a], scale[a]*float64(x.Shape[a]), lo[a], hi[a], o)
		if nt > maxResizeTaps {
			return nil, unsupported("Resize filter of %d taps on axis %d", nt, a)
		}
		combos *= nt
		if combos > 4096 {
			return nil, unsupported("Resize filter of %d taps per output", combos)
		}
		ntaps[a] = int32(nt)
		for t := range idx {
			tab = append(tab, idx[t], fbits(w[t]))
		}
		if len(tab) > 1<<24 {
			return nil, unsupported("Resize tables too large")
		}
	}
	extrap := n.AttrFloat("extrapolation_value", 0)
	cnt := ys.Size()
	return &kernel{rt: d.rt, inPlace: -1, specs: one("resize", cnt, func(i, oo []int64) []int32 {
		p := make([]int32, 0, head+len(tab))
		p = append(p, int32(cnt), elem(i[0], d.ft), elem(oo[0], d.ft), int32(r))
		p = append(p, dims...)
		p = append(p, strd...)
		p = append(p, ntaps...)
		p = append(p, toff...)
		p = append(p, fbits(extrap))
		return append(p, tab...)
	})}, nil
}
