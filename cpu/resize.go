package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

// Resize and Upsample.
//
// The result is computed separably: for every resized axis the source
// indices and weights of each output position are computed once per call
// (rsAxis), then the axes are resampled one after another, innermost
// first, which is the order in which the ONNX reference combines them.
// Integer inputs are computed in floating point and rounded to nearest
// (halves away from zero), saturating at the type's range.

func init() {
	reg("Resize", resizeKernel)
	reg("Upsample", upsampleKernel)
}

// rsOpts are the interpolation settings of one Resize/Upsample call.
type rsOpts struct {
	mode      string // nearest, linear, cubic
	nearest   string // nearest_mode, or "simple" for opset-10 Resize and Upsample
	ctm       string // coordinate_transformation_mode
	cubicA    float64
	exclude   bool
	extrap    float64
	antialias bool
}

// rsAxis is the resampling plan of one axis: output position j reads the
// source indices idx[start[j]:start[j+1]] with weights w[...]; when
// outside[j] is set it is the extrapolation value instead.
type rsAxis struct {
	in, out  int
	start    []int
	idx      []int
	w        []float64
	outside  []bool
	identity bool
}

func resizeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	o := rsOpts{
		mode:    n.AttrString("mode", "nearest"),
		nearest: n.AttrString("nearest_mode", "round_prefer_floor"),
		ctm:     n.AttrString("coordinate_transformation_mode", "half_pixel"),
		cubicA:  float64(n.AttrFloat("cubic_coeff_a", -0.75)),
		exclude: n.AttrInt("exclude_outside", 0) != 0,
		extrap:  float64(n.AttrFloat("extrapolation_value", 0)),
	}
	var roiT, scalesT, sizesT *common.Tensor
	if n.Opset < 11 {
		// Resize-10: (X, scales), asymmetric coordinates.
		if scalesT, err = need(n, in, 1); err != nil {
			return nil, err
		}
		o.ctm = "asymmetric"
		o.nearest = "simple"
		o.cubicA, o.exclude, o.extrap = -0.75, false, 0
	} else {
		roiT, scalesT, sizesT = opt(in, 1), opt(in, 2), opt(in, 3)
	}
	if n.Opset >= 18 {
		o.antialias = n.AttrInt("antialias", 0) != 0
	}
	if scalesT != nil && scalesT.Len() == 0 {
		scalesT = nil
	}
	if sizesT != nil && sizesT.Len() == 0 {
		sizesT = nil
	}
	if scalesT != nil && sizesT != nil {
		return nil, fmt.Errorf("%w: %s: only one of scales and sizes may be given", common.ErrInvalidModel, n.OpType)
	}
	if scalesT == nil && sizesT == nil {
		return nil, fmt.Errorf("%w: %s: one of scales and sizes is required", common.ErrInvalidModel, n.OpType)
	}
	rank := x.Rank()
	axes := make([]int, rank)
	for i := range axes {
		axes[i] = i
	}
	if a := n.AttrInts("axes"); n.Opset >= 18 && a != nil {
		if len(a) > rank {
			return nil, fmt.Errorf("%w: %s: %d axes for rank %d", common.ErrInvalidModel, n.OpType, len(a), rank)
		}
		seen := make([]bool, rank)
		axes = axes[:len(a)]
		for i, v := range a {
			k, err := NormAxis(v, rank)
			if err != nil {
				return nil, fmt.Errorf("%s: axes: %w", n.OpType, err)
			}
			if seen[k] {
				return nil, fmt.Errorf("%w: %s: axis %d repeated", common.ErrInvalidModel, n.OpType, v)
			}
			seen[k] = true
			axes[i] = k
		}
	}
	var scales []float64
	var sizes []int64
	if scalesT != nil {
		if !scalesT.DType().IsFloat() || scalesT.Rank() > 1 || scalesT.Len() != len(axes) {
			return nil, fmt.Errorf("%w: %s: scales must be a 1-D float tensor of %d values, got %v%v", common.ErrShape, n.OpType, len(axes), scalesT.DType(), scalesT.Shape())
		}
		scales = scalesT.Floats()
	} else {
		if sizes, err = shapeArg(sizesT, "sizes"); err != nil {
			return nil, fmt.Errorf("%s: %w", n.OpType, err)
		}
		if len(sizes) != len(axes) {
			return nil, fmt.Errorf("%w: %s: sizes has %d values for %d axes", common.ErrShape, n.OpType, len(sizes), len(axes))
		}
	}
	var roi []float64
	if o.ctm == "tf_crop_and_resize" {
		if roiT == nil || roiT.Len() == 0 {
			return nil, fmt.Errorf("%w: %s: tf_crop_and_resize needs a roi input", common.ErrInvalidModel, n.OpType)
		}
		if !roiT.DType().IsFloat() || roiT.Len() != 2*len(axes) {
			return nil, fmt.Errorf("%w: %s: roi must hold %d float values, got %v%v", common.ErrShape, n.OpType, 2*len(axes), roiT.DType(), roiT.Shape())
		}
		roi = roiT.Floats()
	}
	policy := "stretch"
	if n.Opset >= 18 {
		policy = n.AttrString("keep_aspect_ratio_policy", "stretch")
	}
	return resizeRun(c, n, x, axes, scales, sizes, roi, policy, o)
}

func upsampleKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	rank := x.Rank()
	var scales []float64
	switch {
	case n.Opset >= 9:
		st, err := need(n, in, 1)
		if err != nil {
			return nil, err
		}
		if !st.DType().IsFloat() || st.Rank() > 1 {
			return nil, fmt.Errorf("%w: %s: scales must be a 1-D float tensor, got %v%v", common.ErrShape, n.OpType, st.DType(), st.Shape())
		}
		scales = st.Floats()
	case n.HasAttr("scales"):
		for _, v := range n.AttrFloats("scales") {
			scales = append(scales, float64(v))
		}
	default:
		// Upsample-1: height_scale and width_scale of a 4-D input.
		if rank != 4 {
			return nil, fmt.Errorf("%w: %s: height_scale/width_scale need a 4-D input, got %v", common.ErrShape, n.OpType, x.Shape())
		}
		scales = []float64{1, 1, float64(n.AttrFloat("height_scale", 1)), float64(n.AttrFloat("width_scale", 1))}
	}
	if len(scales) != rank {
		return nil, fmt.Errorf("%w: %s: %d scales for an input of rank %d", common.ErrShape, n.OpType, len(scales), rank)
	}
	mode := n.AttrString("mode", "nearest")
	if mode == "bilinear" || mode == "trilinear" {
		mode = "linear"
	}
	o := rsOpts{mode: mode, nearest: "simple", ctm: "asymmetric", cubicA: -0.75}
	axes := make([]int, rank)
	for i := range axes {
		axes[i] = i
	}
	return resizeRun(c, n, x, axes, scales, nil, nil, "stretch", o)
}

// resizeRun resizes x along axes, by scales or to sizes (one of them is
// set, with one value per axis).
func resizeRun(c *Ctx, n *common.Node, x *common.Tensor, axes []int, scales []float64, sizes []int64, roi []float64, policy string, o rsOpts) ([]*common.Tensor, error) {
	switch o.mode {
	case "nearest", "linear", "cubic":
	default:
		return nil, fmt.Errorf("%w: %s: mode %q", common.ErrInvalidModel, n.OpType, o.mode)
	}
	switch o.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple":
	default:
		return nil, fmt.Errorf("%w: %s: nearest_mode %q", common.ErrInvalidModel, n.OpType, o.nearest)
	}
	switch o.ctm {
	case "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
		"tf_half_pixel_for_nn", "tf_crop_and_resize":
	default:
		return nil, fmt.Errorf("%w: %s: coordinate_transformation_mode %q", common.ErrInvalidModel, n.OpType, o.ctm)
	}
	shape := x.Shape()
	rank := len(shape)
	scale := make([]float64, rank)
	outW := make([]float64, rank) // scale * input length, not rounded
	outShape := shape.Clone()
	lo := make([]float64, rank)
	hi := make([]float64, rank)
	for i := range scale {
		scale[i] = 1
		hi[i] = 1
	}
	for i, a := range axes {
		if roi != nil {
			lo[a], hi[a] = roi[i], roi[len(axes)+i]
		}
	}
	// limit keeps float-to-int conversions in range; c.Check applies the
	// real limits.
	const limit = float64(1 << 50)
	if scales != nil {
		for i, a := range axes {
			s := scales[i]
			if !(s > 0) || math.IsInf(s, 0) {
				return nil, fmt.Errorf("%w: %s: scale %v for axis %d must be positive and finite", common.ErrShape, n.OpType, s, a)
			}
			f := math.Floor(s * float64(shape[a]))
			if f > limit {
				return nil, fmt.Errorf("%w: %s: scale %v makes axis %d of %v too large", common.ErrLimit, n.OpType, s, a, shape)
			}
			scale[a] = s
			outShape[a] = int(f)
		}
	} else {
		for i, a := range axes {
			if sizes[i] < 0 {
				return nil, fmt.Errorf("%w: %s: size %d for axis %d is negative", common.ErrShape, n.OpType, sizes[i], a)
			}
			if float64(sizes[i]) > limit {
				return nil, fmt.Errorf("%w: %s: size %d for axis %d is too large", common.ErrLimit, n.OpType, sizes[i], a)
			}
			if shape[a] == 0 && sizes[i] != 0 {
				return nil, fmt.Errorf("%w: %s: cannot resize empty axis %d to %d", common.ErrShape, n.OpType, a, sizes[i])
			}
			outShape[a] = int(sizes[i])
			if shape[a] > 0 {
				scale[a] = float64(sizes[i]) / float64(shape[a])
			}
		}
		switch policy {
		case "stretch":
		case "not_larger", "not_smaller":
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
				f := math.Floor(s*float64(shape[a]) + 0.5)
				if f > limit || math.IsNaN(f) {
					return nil, fmt.Errorf("%w: %s: axis %d of %v would be too large", common.ErrLimit, n.OpType, a, shape)
				}
				scale[a] = s
				outShape[a] = int(f)
			}
		default:
			return nil, fmt.Errorf("%w: %s: keep_aspect_ratio_policy %q", common.ErrInvalidModel, n.OpType, policy)
		}
	}
	for a := range outW {
		outW[a] = scale[a] * float64(shape[a])
	}
	if _, err := c.Check(x.DType(), outShape); err != nil {
		return nil, fmt.Errorf("%s: output %v: %w", n.OpType, outShape, err)
	}
	if outShape.Size() == 0 {
		return []*common.Tensor{common.Zeros(x.DType(), outShape)}, nil
	}
	plans := make([]*rsAxis, rank)
	for a := range plans {
		p, err := rsPlan(shape[a], outShape[a], scale[a], outW[a], lo[a], hi[a], o)
		if err != nil {
			return nil, fmt.Errorf("%s: axis %d: %w", n.OpType, a, err)
		}
		plans[a] = p
	}
	wd, f32, f64, err := rsLoad(n, x)
	if err != nil {
		return nil, err
	}
	cur := shape.Clone()
	for a := rank - 1; a >= 0; a-- {
		p := plans[a]
		if p.identity {
			continue
		}
		next := cur.Clone()
		next[a] = p.out
		if _, err := c.Check(wd, next); err != nil {
			return nil, fmt.Errorf("%s: %w", n.OpType, err)
		}
		outer := cur[:a].Size()
		inner := cur[a+1:].Size()
		if wd == common.Float64 {
			dst := make([]float64, next.Size())
			rsPass(c, dst, f64, outer, inner, p, rsWeights[float64](p.w), o.extrap)
			f64 = dst
		} else {
			dst := make([]float32, next.Size())
			rsPass(c, dst, f32, outer, inner, p, rsWeights[float32](p.w), float32(o.extrap))
			f32 = dst
		}
		cur = next
	}
	out, err := rsStore(x, outShape, f32, f64)
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{out}, nil
}

// rsCoord maps output position j of an axis to a source coordinate.
// outside reports a tf_crop_and_resize position outside the input.
func rsCoord(j, in, out int, scale, outW, lo, hi float64, ctm string) (x float64, outside bool) {
	fj := float64(j)
	L := float64(in)
	switch ctm {
	case "half_pixel":
		x = (fj+0.5)/scale - 0.5
	case "half_pixel_symmetric":
		adj := float64(out) / outW
		off := L / 2 * (1 - adj)
		x = off + (fj+0.5)/scale - 0.5
	case "pytorch_half_pixel":
		if outW == 1 {
			x = 0
		} else {
			x = (fj+0.5)/scale - 0.5
		}
	case "align_corners":
		if outW == 1 {
			x = 0
		} else {
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
		if !(x >= 0 && x <= L-1) {
			return 0, true
		}
	}
	return x, false
}

// rsKeys is the cubic convolution kernel with parameter A at distance d.
func rsKeys(d, A float64) float64 {
	d = math.Abs(d)
	switch {
	case d <= 1:
		return ((A+2)*d-(A+3))*d*d + 1
	case d < 2:
		return ((A*d-5*A)*d+8*A)*d - 4*A
	}
	return 0
}

// rsPlan computes the source taps of every output position of one axis.
func rsPlan(in, out int, scale, outW, lo, hi float64, o rsOpts) (*rsAxis, error) {
	p := &rsAxis{in: in, out: out, start: make([]int, out+1)}
	if in == 0 {
		p.identity = out == 0
		return p, nil
	}
	// Half-width k of the filter: taps b-k+1 .. b+k around the source
	// coordinate x = b + ratio, ratio in (0, 1].
	k := 1
	aa := 1.0 // antialias scale
	if o.mode == "cubic" {
		k = 2
	}
	if o.antialias && o.mode != "nearest" && scale < 1 {
		aa = scale
		support := 1.0
		if o.mode == "cubic" {
			support = 2
		}
		kf := 1 - (math.Floor(-support/aa) + 1)
		if kf > 4*float64(in)+8 {
			return nil, fmt.Errorf("%w: antialias filter of %v taps for an axis of %d", common.ErrUnsupported, 2*kf, in)
		}
		k = int(kf)
	}
	coef := make([]float64, 2*k)
	p.idx = make([]int, 0, out*min(2*k, in))
	p.w = make([]float64, 0, out*min(2*k, in))
	identity := out == in
	for j := 0; j < out; j++ {
		x, outside := rsCoord(j, in, out, scale, outW, lo, hi, o.ctm)
		if outside {
			if p.outside == nil {
				p.outside = make([]bool, out)
			}
			p.outside[j] = true
			identity = false
			p.start[j+1] = len(p.idx)
			continue
		}
		// Keep the coordinate in a range where indices cannot overflow;
		// beyond the edges every tap reads an edge value anyway.
		x = math.Max(-float64(2*k+2), math.Min(x, float64(in+2*k+2)))
		fl := math.Floor(x)
		b := int(fl)
		ratio := x - fl
		if ratio == 0 {
			ratio = 1
			b--
		}
		if o.mode == "nearest" {
			s := b + 1
			switch o.nearest {
			case "round_prefer_floor":
				if ratio <= 0.5 {
					s = b
				}
			case "round_prefer_ceil":
				if ratio < 0.5 {
					s = b
				}
			case "floor":
				if ratio < 1 {
					s = b
				}
			case "simple":
				if scale >= 1 && ratio < 1 {
					s = b
				}
			}
			s = min(max(s, 0), in-1)
			p.idx = append(p.idx, s)
			p.w = append(p.w, 1)
			p.start[j+1] = len(p.idx)
			identity = identity && s == j
			continue
		}
		var sum float64
		for t := range coef {
			i := float64(t - k + 1) // offset of tap b+i from b
			d := i - ratio          // signed distance from x
			switch {
			case o.mode == "linear" && aa < 1:
				coef[t] = math.Max(0, math.Min(1, 1-math.Abs(d*aa)))
			case o.mode == "linear":
				coef[t] = 1 - math.Abs(d)
			default:
				coef[t] = rsKeys(d*aa, o.cubicA)
			}
			sum += coef[t]
		}
		if aa < 1 && sum != 0 {
			for t := range coef {
				coef[t] /= sum
			}
		}
		if o.exclude {
			sum = 0
			for t := range coef {
				if s := b + t - k + 1; s < 0 || s >= in {
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
		// Merge taps that read the same (edge-clamped) source index and
		// drop zero weights.
		first := len(p.idx)
		for t, w := range coef {
			if w == 0 {
				continue
			}
			s := min(max(b+t-k+1, 0), in-1)
			if l := len(p.idx); l > first && p.idx[l-1] == s {
				p.w[l-1] += w
				continue
			}
			p.idx = append(p.idx, s)
			p.w = append(p.w, w)
		}
		p.start[j+1] = len(p.idx)
		n := len(p.idx) - first
		identity = identity && (n == 1 && p.idx[first] == j && p.w[first] == 1)
	}
	p.identity = identity
	return p, nil
}

func rsWeights[T normFloat](w []float64) []T {
	out := make([]T, len(w))
	for i, v := range w {
		out[i] = T(v)
	}
	return out
}

// rsPass resamples axis p of src, viewed as (outer, p.in, inner), into dst
// (outer, p.out, inner).
func rsPass[T normFloat](c *Ctx, dst, src []T, outer, inner int, p *rsAxis, w []T, extrap T) {
	units := outer * p.out
	avg := max(1, len(p.idx)/max(p.out, 1))
	c.Parallel(units, max(1, 8192/(inner*avg)), func(lo, hi int) {
		o, j := lo/p.out, lo%p.out
		for u := lo; u < hi; u, j = u+1, j+1 {
			if j == p.out {
				o, j = o+1, 0
			}
			d := dst[u*inner : (u+1)*inner]
			if p.outside != nil && p.outside[j] {
				for i := range d {
					d[i] = extrap
				}
				continue
			}
			base := o * p.in * inner
			t0, t1 := p.start[j], p.start[j+1]
			if inner == 1 {
				var s T
				for t := t0; t < t1; t++ {
					s += w[t] * src[base+p.idx[t]]
				}
				d[0] = s
				continue
			}
			if t0 == t1 {
				clear(d)
				continue
			}
			row := src[base+p.idx[t0]*inner:]
			row = row[:inner]
			if w0 := w[t0]; w0 == 1 {
				copy(d, row)
			} else {
				for i, v := range row {
					d[i] = w0 * v
				}
			}
			for t := t0 + 1; t < t1; t++ {
				wt := w[t]
				row := src[base+p.idx[t]*inner:]
				row = row[:inner]
				for i, v := range row {
					d[i] += wt * v
				}
			}
		}
	})
}

// rsLoad returns x's values in the compute type: float32 for float32, the
// half types and 8/16-bit integers, float64 otherwise.
func rsLoad(n *common.Node, x *common.Tensor) (common.DType, []float32, []float64, error) {
	switch x.DType() {
	case common.Float32:
		return common.Float32, common.Data[float32](x), nil, nil
	case common.Float64:
		return common.Float64, nil, common.Data[float64](x), nil
	case common.Float16, common.BFloat16, common.Int8, common.Uint8, common.Int16, common.Uint16:
		return common.Float32, common.Data[float32](ToFloat32(x)), nil, nil
	case common.Int32, common.Int64, common.Uint32, common.Uint64:
		v := make([]float64, x.Len())
		for i := range v {
			v[i] = x.Float(i)
		}
		return common.Float64, nil, v, nil
	}
	return 0, nil, nil, unsupportedType(n, x.DType())
}

// rsStore converts the computed values back to x's element type.
func rsStore(x *common.Tensor, shape common.Shape, f32 []float32, f64 []float64) (*common.Tensor, error) {
	d := x.DType()
	switch d {
	case common.Float32:
		return common.FromSlice(shape, f32)
	case common.Float64:
		return common.FromSlice(shape, f64)
	case common.Float16, common.BFloat16:
		t, err := common.FromSlice(shape, f32)
		if err != nil {
			return nil, err
		}
		return FromFloat32(t, d), nil
	case common.Int8:
		return common.FromSlice(shape, rsInts[int8](f32, f64, math.MinInt8, math.MaxInt8))
	case common.Uint8:
		return common.FromSlice(shape, rsInts[uint8](f32, f64, 0, math.MaxUint8))
	case common.Int16:
		return common.FromSlice(shape, rsInts[int16](f32, f64, math.MinInt16, math.MaxInt16))
	case common.Uint16:
		return common.FromSlice(shape, rsInts[uint16](f32, f64, 0, math.MaxUint16))
	case common.Int32:
		return common.FromSlice(shape, rsInts[int32](f32, f64, math.MinInt32, math.MaxInt32))
	case common.Uint32:
		return common.FromSlice(shape, rsInts[uint32](f32, f64, 0, math.MaxUint32))
	case common.Int64:
		return common.FromSlice(shape, rsInts[int64](f32, f64, math.MinInt64, math.MaxInt64))
	case common.Uint64:
		return common.FromSlice(shape, rsInts[uint64](f32, f64, 0, math.MaxUint64))
	}
	return nil, fmt.Errorf("%w: Resize: element type %v", common.ErrUnsupported, d)
}

// rsInts rounds to nearest and saturates to [lo, hi].
func rsInts[T int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64](f32 []float32, f64 []float64, lo, hi float64) []T {
	n := len(f32)
	if f64 != nil {
		n = len(f64)
	}
	out := make([]T, n)
	for i := range out {
		var v float64
		if f64 != nil {
			v = f64[i]
		} else {
			v = float64(f32[i])
		}
		v = math.Round(v)
		switch {
		case math.IsNaN(v):
			v = 0
		case v <= lo:
			out[i] = T(lo)
			continue
		case v >= hi:
			// float64(MaxInt64) rounds up past the range; convert the
			// bound through the integer type instead.
			var m T
			m = ^m
			if lo < 0 {
				m >>= 1
			}
			out[i] = m
			continue
		}
		out[i] = T(v)
	}
	return out
}
