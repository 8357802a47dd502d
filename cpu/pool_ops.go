package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("MaxPool", maxPoolKernel)
	reg("AveragePool", ViaFloat32(avgPoolKernel))
	reg("LpPool", ViaFloat32(lpPoolKernel))
	reg("GlobalAveragePool", ViaFloat32(globalPoolKernel(poolAvg)))
	reg("GlobalMaxPool", ViaFloat32(globalPoolKernel(poolMax)))
	reg("GlobalLpPool", ViaFloat32(globalPoolKernel(poolLp)))
}

type poolMode int

const (
	poolMax poolMode = iota
	poolAvg
	poolLp
)

// poolPlan is the geometry of a windowed pool over the spatial dims of an
// (N, C, D1, ...) input, with per-dim tables of each output index's
// window: the input position of tap 0, and the tap ranges that land in
// the input and in the padded input.
type poolPlan struct {
	r                   int
	planes              int // N*C
	in, k, out, s, d    []int
	inSize, outSize     int
	inStride            []int
	tOff                []int // start of dim i's entries in the tables
	start, klo, khi, ph []int
	maxTaps             int
}

func planPool(c *Ctx, n *common.Node, xs common.Shape, ceilAllowed bool) (*poolPlan, error) {
	if len(xs) < 3 {
		return nil, fmt.Errorf("%w: %s: %s input must have rank >= 3 (N, C, spatial...), got %v", common.ErrShape, n.Label(), n.OpType, xs)
	}
	r := len(xs) - 2
	ks := n.AttrInts("kernel_shape")
	if len(ks) != r {
		return nil, fmt.Errorf("%w: %s: kernel_shape %v must have %d entries for input %v", common.ErrInvalidModel, n.Label(), ks, r, xs)
	}
	k, err := spatialInts(n, "kernel_shape", r, 1, 1)
	if err != nil {
		return nil, err
	}
	s, d, pads, err := spatialAttrs(n, r)
	if err != nil {
		return nil, err
	}
	ap, err := autoPad(n)
	if err != nil {
		return nil, err
	}
	ceil := ceilAllowed && n.AttrInt("ceil_mode", 0) != 0
	in := []int(xs[2:])
	out, pb, pe, err := spatialOut(n, ap, in, k, s, d, pads, ceil)
	if err != nil {
		return nil, err
	}
	p := &poolPlan{r: r, planes: xs[0] * xs[1], in: in, k: k, out: out, s: s, d: d,
		inSize: prod(in), outSize: prod(out), tOff: make([]int, r+1), inStride: common.Shape(in).Strides()}
	for i := 0; i < r; i++ {
		p.tOff[i+1] = p.tOff[i] + out[i]
	}
	// The output and the window tables must fit the limits before any
	// of them is allocated.
	if _, err := c.Check(common.Float32, poolOutShape(xs, out)); err != nil {
		return nil, err
	}
	total := p.tOff[r]
	if _, err := c.Check(common.Int64, common.Shape{4, total}); err != nil {
		return nil, err
	}
	p.start, p.klo, p.khi, p.ph = make([]int, total), make([]int, total), make([]int, total), make([]int, total)
	p.maxTaps = 1
	for i := 0; i < r; i++ {
		most := 0
		for o := 0; o < out[i]; o++ {
			t := p.tOff[i] + o
			st := o*s[i] - pb[i]
			lo, hi := windowRange(st, d[i], in[i], k[i])
			p.start[t], p.klo[t], p.khi[t] = st, lo, hi
			// Taps inside the padded input [-pb, in+pe).
			if lim := in[i] + pe[i] - 1 - st; lim >= 0 {
				p.ph[t] = min(k[i], lim/d[i]+1)
			}
			most = max(most, hi-lo)
		}
		p.maxTaps *= max(most, 1)
	}
	return p, nil
}

// taps writes the flat spatial indices of the valid taps of the window
// at output coords oc into buf (row-major window order) and returns how
// many there are and how many taps lie inside the padded input.
func (p *poolPlan) taps(oc, t, buf []int) (count, padded int) {
	count, padded = 1, 1
	for i := 0; i < p.r; i++ {
		e := p.tOff[i] + oc[i]
		count *= p.khi[e] - p.klo[e]
		padded *= p.ph[e]
	}
	if count == 0 {
		return 0, padded
	}
	for i := 0; i < p.r; i++ {
		t[i] = p.klo[p.tOff[i]+oc[i]]
	}
	last := p.r - 1
	el := p.tOff[last] + oc[last]
	lLo, lHi, lSt, lD := p.klo[el], p.khi[el], p.start[el], p.d[last]
	w := 0
	for {
		base := 0
		for i := 0; i < last; i++ {
			e := p.tOff[i] + oc[i]
			base += (p.start[e] + t[i]*p.d[i]) * p.inStride[i]
		}
		for tl := lLo; tl < lHi; tl++ {
			buf[w] = base + lSt + tl*lD
			w++
		}
		i := last - 1
		for ; i >= 0; i-- {
			e := p.tOff[i] + oc[i]
			t[i]++
			if t[i] < p.khi[e] {
				break
			}
			t[i] = p.klo[e]
		}
		if i < 0 {
			break
		}
	}
	return count, padded
}

// run calls fn for every output element (flat index over N*C*outSize),
// in parallel, with its plane, output coords and valid taps.
func (p *poolPlan) run(c *Ctx, fn func(flat, plane int, taps []int, padded int)) {
	total := p.planes * p.outSize
	c.Parallel(total, max(1, (1<<14)/p.maxTaps), func(lo, hi int) {
		oc, t := make([]int, p.r), make([]int, p.r)
		buf := make([]int, p.maxTaps)
		rem := lo % p.outSize
		for i := p.r - 1; i >= 0; i-- {
			oc[i] = rem % p.out[i]
			rem /= p.out[i]
		}
		for f := lo; f < hi; f++ {
			cnt, padded := p.taps(oc, t, buf)
			fn(f, f/p.outSize, buf[:cnt], padded)
			for i := p.r - 1; i >= 0; i-- {
				oc[i]++
				if oc[i] < p.out[i] {
					break
				}
				oc[i] = 0
			}
		}
	})
}

func poolOutShape(xs common.Shape, out []int) common.Shape {
	return append(common.Shape{xs[0], xs[1]}, out...)
}

func maxPoolKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	half := common.Undefined
	if IsHalf(x.DType()) {
		half = x.DType()
		x = ToFloat32(x)
	}
	switch x.DType() {
	case common.Float32, common.Float64, common.Int8, common.Uint8:
	default:
		return nil, unsupportedType(n, x.DType())
	}
	p, err := planPool(c, n, x.Shape(), true)
	if err != nil {
		return nil, err
	}
	shape := poolOutShape(x.Shape(), p.out)
	y, err := c.AllocNoZero(x.DType(), shape) // every path writes every element
	if err != nil {
		return nil, err
	}
	var idx *common.Tensor
	if len(n.Outputs) > 1 && n.Outputs[1] != "" {
		if idx, err = c.Alloc(common.Int64, shape); err != nil {
			return nil, err
		}
	}
	colMajor := n.AttrInt("storage_order", 0) != 0
	switch x.DType() {
	case common.Float32:
		if p.r == 2 && idx == nil {
			if p.is3x3s2() {
				maxPool3x3s2(c, p, common.Data[float32](x), common.Data[float32](y))
				break
			}
			maxPool2D(c, p, common.Data[float32](x), common.Data[float32](y))
			break
		}
		maxPool(c, p, common.Data[float32](x), common.Data[float32](y), idx, colMajor, float32(math.Inf(-1)))
	case common.Float64:
		maxPool(c, p, common.Data[float64](x), common.Data[float64](y), idx, colMajor, math.Inf(-1))
	case common.Int8:
		maxPool(c, p, common.Data[int8](x), common.Data[int8](y), idx, colMajor, math.MinInt8)
	case common.Uint8:
		maxPool(c, p, common.Data[uint8](x), common.Data[uint8](y), idx, colMajor, 0)
	}
	if half != common.Undefined {
		y = FromFloat32(y, half)
	}
	if idx != nil {
		return []*common.Tensor{y, idx}, nil
	}
	return []*common.Tensor{y}, nil
}

func maxPool[T float32 | float64 | int8 | uint8](c *Ctx, p *poolPlan, x, y []T, idxT *common.Tensor, colMajor bool, lowest T) {
	var idx []int64
	if idxT != nil {
		idx = common.Data[int64](idxT)
	}
	p.run(c, func(f, plane int, taps []int, _ int) {
		xp := x[plane*p.inSize : (plane+1)*p.inSize]
		best, at := lowest, -1
		for _, t := range taps {
			if v := xp[t]; at < 0 || v > best {
				best, at = v, t
			}
		}
		y[f] = best
		if idx == nil {
			return
		}
		if at < 0 {
			idx[f] = -1
			return
		}
		if colMajor {
			// Spatial position in column-major order.
			rem, cm, mul := at, 0, 1
			pos := make([]int, 0, 8)
			for i := p.r - 1; i >= 0; i-- {
				pos = append(pos, rem%p.in[i])
				rem /= p.in[i]
			}
			for i := 0; i < p.r; i++ {
				cm += pos[p.r-1-i] * mul
				mul *= p.in[i]
			}
			at = cm
		}
		idx[f] = int64(plane*p.inSize + at)
	})
}

// maxPool2D is maxPool for 2-D float32 pools without the indices output:
// the same taps in the same order (so the same result, NaN handling
// included), walked straight from the window tables.
func maxPool2D(c *Ctx, p *poolPlan, x, y []float32) {
	w, oh, ow := p.in[1], p.out[0], p.out[1]
	d0, d1 := p.d[0], p.d[1]
	lowest := float32(math.Inf(-1))
	c.Parallel(p.planes, max(1, (1<<14)/max(1, p.outSize*p.maxTaps)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xp := x[pl*p.inSize : (pl+1)*p.inSize]
			yp := y[pl*p.outSize : (pl+1)*p.outSize]
			for r := 0; r < oh; r++ {
				e := p.tOff[0] + r
				hlo, hhi, hst := p.klo[e], p.khi[e], p.start[e]
				out := yp[r*ow : (r+1)*ow]
				for o := range out {
					f := p.tOff[1] + o
					wlo, whi, wst := p.klo[f], p.khi[f], p.start[f]
					best, first := lowest, true
					for th := hlo; th < hhi; th++ {
						row := xp[(hst+th*d0)*w:]
						for tw := wlo; tw < whi; tw++ {
							if v := row[wst+tw*d1]; first || v > best {
								best, first = v, false
							}
						}
					}
					out[o] = best
				}
			}
		}
	})
}

// is3x3s2 reports whether p is a 2-D 3x3 window at stride 2 without
// dilation and with at most one row and column of leading padding (the
// ResNet stem pool), which maxPool3x3s2 handles.
func (p *poolPlan) is3x3s2() bool {
	if p.r != 2 || p.k[0] != 3 || p.k[1] != 3 || p.s[0] != 2 || p.s[1] != 2 || p.d[0] != 1 || p.d[1] != 1 {
		return false
	}
	// start of window 0 is minus the leading pad.
	pt, pl := -p.start[p.tOff[0]], -p.start[p.tOff[1]]
	return p.out[0] > 0 && p.out[1] > 0 && (pt == 0 || pt == 1) && (pl == 0 || pl == 1)
}

// maxPool3x3s2 is maxPool2D for plans accepted by is3x3s2, computed as a
// horizontal then a vertical max with the same result bit for bit: a
// window's value is its first tap when that is NaN, else its largest
// non-NaN tap (the first of equal ones in row-major order). Each input
// row is copied into a row with -Inf padding; max3s2Row gives, per
// output column, the largest non-NaN of its three taps and its first
// tap; max3Rows folds three such rows starting from the first tap of the
// window's first row.
func maxPool3x3s2(c *Ctx, p *poolPlan, x, y []float32) {
	h, w, oh, ow := p.in[0], p.in[1], p.out[0], p.out[1]
	pt, pl := -p.start[p.tOff[0]], -p.start[p.tOff[1]]
	ow8 := (ow + 7) &^ 7
	padLen := 2*ow8 + 2
	ninf := float32(math.Inf(-1))
	c.Parallel(p.planes, max(1, (1<<15)/max(1, p.inSize)), func(lo, hi int) {
		// One buffer: the padded row, then per input row its maxima and
		// first taps, then a row of -Inf standing for padding rows.
		buf := make([]float32, padLen+(2*h+1)*ow8)
		prow := buf[:padLen]
		hm := buf[padLen : padLen+h*ow8]
		ft := buf[padLen+h*ow8 : padLen+2*h*ow8]
		pad := buf[padLen+2*h*ow8:]
		for i := range pad {
			pad[i] = ninf
		}
		for i := range prow {
			prow[i] = ninf
		}
		for pln := lo; pln < hi; pln++ {
			xp := x[pln*p.inSize : (pln+1)*p.inSize]
			yp := y[pln*p.outSize : (pln+1)*p.outSize]
			for r := 0; r < h; r++ {
				copy(prow[pl:pl+w], xp[r*w:(r+1)*w])
				hr, fr := hm[r*ow8:(r+1)*ow8], ft[r*ow8:(r+1)*ow8]
				max3s2Row(hr, fr, prow)
				if pl == 1 {
					fr[0] = prow[1]
				}
			}
			row := func(i int) ([]float32, []float32) {
				if i < 0 || i >= h {
					return pad, pad
				}
				return hm[i*ow8 : (i+1)*ow8], ft[i*ow8 : (i+1)*ow8]
			}
			for r := 0; r < oh; r++ {
				i0 := 2*r - pt
				a, _ := row(i0)
				b, _ := row(i0 + 1)
				cc, _ := row(i0 + 2)
				_, f := row(max(i0, 0))
				max3Rows(yp[r*ow:(r+1)*ow], f, a, b, cc)
			}
		}
	})
}

// max3s2Row sets, for o < len(h), h[o] to the largest non-NaN value among
// p[2o], p[2o+1], p[2o+2] (-Inf if none; the first of equal values) and
// f[o] = p[2o]. It is replaced by a vector version where the CPU has one.
var max3s2Row = max3s2RowGo

func max3s2RowGo(h, f, p []float32) {
	for o := range h {
		t := p[2*o : 2*o+3 : 2*o+3]
		best := float32(math.Inf(-1))
		for _, v := range t {
			if v > best {
				best = v
			}
		}
		h[o], f[o] = best, t[0]
	}
}

// max3Rows sets out[i] = f[i], then replaces it by a[i], b[i] and c[i] in
// turn when that is greater (a NaN f[i] stays; NaNs in a, b, c are
// skipped). It is replaced by a vector version where the CPU has one.
var max3Rows = max3RowsGo

func max3RowsGo(out, f, a, b, c []float32) {
	f, a, b, c = f[:len(out)], a[:len(out)], b[:len(out)], c[:len(out)]
	for i := range out {
		best := f[i]
		if a[i] > best {
			best = a[i]
		}
		if b[i] > best {
			best = b[i]
		}
		if c[i] > best {
			best = c[i]
		}
		out[i] = best
	}
}

func avgPoolKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	if x.DType() != common.Float32 && x.DType() != common.Float64 {
		return nil, unsupportedType(n, x.DType())
	}
	p, err := planPool(c, n, x.Shape(), true)
	if err != nil {
		return nil, err
	}
	y, err := c.Alloc(x.DType(), poolOutShape(x.Shape(), p.out))
	if err != nil {
		return nil, err
	}
	incl := n.AttrInt("count_include_pad", 0) != 0
	if x.DType() == common.Float32 {
		avgPool(c, p, common.Data[float32](x), common.Data[float32](y), incl)
	} else {
		avgPool(c, p, common.Data[float64](x), common.Data[float64](y), incl)
	}
	return []*common.Tensor{y}, nil
}

func avgPool[T float32 | float64](c *Ctx, p *poolPlan, x, y []T, includePad bool) {
	p.run(c, func(f, plane int, taps []int, padded int) {
		xp := x[plane*p.inSize : (plane+1)*p.inSize]
		var s T
		for _, t := range taps {
			s += xp[t]
		}
		cnt := len(taps)
		if includePad {
			cnt = padded
		}
		if cnt == 0 {
			y[f] = 0
			return
		}
		y[f] = s / T(cnt)
	})
}

// lpP reads LpPool's p: a float attribute in opset 1, an int after.
func lpP(n *common.Node) (float64, error) {
	p := 2.0
	if a := n.Attr("p"); a != nil {
		switch a.Type {
		case common.AttrInt:
			p = float64(a.I)
		case common.AttrFloat:
			p = float64(a.F)
		}
	}
	if !(p > 0) || math.IsInf(p, 0) {
		return 0, fmt.Errorf("%w: %s: %s p = %v must be positive", common.ErrInvalidModel, n.Label(), n.OpType, p)
	}
	return p, nil
}

func lpPoolKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	if x.DType() != common.Float32 && x.DType() != common.Float64 {
		return nil, unsupportedType(n, x.DType())
	}
	pw, err := lpP(n)
	if err != nil {
		return nil, err
	}
	p, err := planPool(c, n, x.Shape(), true)
	if err != nil {
		return nil, err
	}
	y, err := c.Alloc(x.DType(), poolOutShape(x.Shape(), p.out))
	if err != nil {
		return nil, err
	}
	if x.DType() == common.Float32 {
		lpPool(c, p, common.Data[float32](x), common.Data[float32](y), pw)
	} else {
		lpPool(c, p, common.Data[float64](x), common.Data[float64](y), pw)
	}
	return []*common.Tensor{y}, nil
}

func lpPool[T float32 | float64](c *Ctx, p *poolPlan, x, y []T, pw float64) {
	p.run(c, func(f, plane int, taps []int, _ int) {
		xp := x[plane*p.inSize : (plane+1)*p.inSize]
		y[f] = T(lpNorm(xp, taps, pw))
	})
}

// lpNorm is (sum |x[t]|^p)^(1/p) over the taps (all of x when taps is nil).
func lpNorm[T float32 | float64](x []T, taps []int, p float64) float64 {
	var s float64
	add := func(v float64) {
		switch p {
		case 1:
			s += math.Abs(v)
		case 2:
			s += v * v
		default:
			s += math.Pow(math.Abs(v), p)
		}
	}
	if taps == nil {
		for _, v := range x {
			add(float64(v))
		}
	} else {
		for _, t := range taps {
			add(float64(x[t]))
		}
	}
	switch p {
	case 1:
		return s
	case 2:
		return math.Sqrt(s)
	}
	return math.Pow(s, 1/p)
}

// globalPoolKernel makes the kernel of GlobalAveragePool, GlobalMaxPool
// or GlobalLpPool: one value per (N, C) plane, output (N, C, 1, ...).
func globalPoolKernel(mode poolMode) TensorKernel {
	return func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		x, err := need(n, in, 0)
		if err != nil {
			return nil, err
		}
		if x.DType() != common.Float32 && x.DType() != common.Float64 {
			return nil, unsupportedType(n, x.DType())
		}
		if x.Rank() < 2 {
			return nil, fmt.Errorf("%w: %s: %s input must have rank >= 2, got %v", common.ErrShape, n.Label(), n.OpType, x.Shape())
		}
		pw := 2.0
		if mode == poolLp {
			if pw, err = lpP(n); err != nil {
				return nil, err
			}
		}
		xs := x.Shape()
		shape := common.Shape{xs[0], xs[1]}
		for range xs[2:] {
			shape = append(shape, 1)
		}
		y, err := c.Alloc(x.DType(), shape)
		if err != nil {
			return nil, err
		}
		plane := prod(xs[2:])
		if x.DType() == common.Float32 {
			globalPool(c, mode, plane, pw, common.Data[float32](x), common.Data[float32](y))
		} else {
			globalPool(c, mode, plane, pw, common.Data[float64](x), common.Data[float64](y))
		}
		return []*common.Tensor{y}, nil
	}
}

func globalPool[T float32 | float64](c *Ctx, mode poolMode, plane int, pw float64, x, y []T) {
	c.Parallel(len(y), max(1, (1<<14)/max(1, plane)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			seg := x[i*plane : (i+1)*plane]
			switch mode {
			case poolMax:
				best := T(math.Inf(-1))
				for _, v := range seg {
					if v > best || v != v {
						best = v
					}
				}
				y[i] = best
			case poolAvg:
				var s float64
				for _, v := range seg {
					s += float64(v)
				}
				if plane > 0 {
					y[i] = T(s / float64(plane))
				}
			case poolLp:
				y[i] = T(lpNorm(seg, nil, pw))
			}
		}
	})
}
