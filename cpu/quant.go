package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("QuantizeLinear", quantizeLinearKernel)
	reg("DequantizeLinear", dequantizeLinearKernel)
	reg("DynamicQuantizeLinear", dynamicQuantizeLinearKernel)
}

// qIntRange is the value range of an integer quantized type.
func qIntRange(d common.DType) (lo, hi int64, ok bool) {
	switch d {
	case common.Int8:
		return math.MinInt8, math.MaxInt8, true
	case common.Uint8:
		return 0, math.MaxUint8, true
	case common.Int16:
		return math.MinInt16, math.MaxInt16, true
	case common.Uint16:
		return 0, math.MaxUint16, true
	case common.Int32:
		return math.MinInt32, math.MaxInt32, true
	case common.Int4:
		return -8, 7, true
	case common.Uint4:
		return 0, 15, true
	case common.Int2:
		return -2, 1, true
	case common.Uint2:
		return 0, 3, true
	}
	return 0, 0, false
}

// qFloatOut reports whether d is a float type QuantizeLinear can produce.
func qFloatOut(d common.DType) bool {
	switch d {
	case common.Float8E4M3FN, common.Float8E4M3FNUZ, common.Float8E5M2, common.Float8E5M2FNUZ, common.Float4E2M1:
		return true
	}
	return false
}

// qValues returns a small tensor's elements as float64 (exact for every
// float and for integers up to 2^53).
func qValues(t *common.Tensor) []float64 {
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.Float(i)
	}
	return out
}

// qParamLayout says how a scale (and zero point) tensor maps onto the
// elements of x: element (o, a, j) of x viewed as [outer, A, inner] around
// axis uses parameter base(o, a) + j*step.
type qParamLayout struct {
	outer, dimA, inner int
	mode               int // 0 per tensor, 1 per axis, 2 blocked
	block, scaleA      int
}

func (l *qParamLayout) base(row int) int {
	switch l.mode {
	case 1:
		return row % l.dimA
	case 2:
		o, a := row/l.dimA, row%l.dimA
		return (o*l.scaleA + a/l.block) * l.inner
	}
	return 0
}

func (l *qParamLayout) step() int {
	if l.mode == 2 {
		return 1
	}
	return 0
}

// qLayout checks the scale against x for per-tensor, per-axis and blocked
// quantization and returns the element mapping. zp, when present, must have
// the scale's shape.
func qLayout(n *common.Node, x, scale, zp *common.Tensor) (*qParamLayout, error) {
	if zp != nil && !zp.Shape().Equal(scale.Shape()) && !(zp.Len() == 1 && scale.Len() == 1) {
		return nil, fmt.Errorf("%w: %s: zero point shape %v differs from scale shape %v", common.ErrShape, n.OpType, zp.Shape(), scale.Shape())
	}
	block := int64(0)
	if n.Opset == 0 || n.Opset >= 21 {
		block = n.AttrInt("block_size", 0)
	}
	if block < 0 {
		return nil, fmt.Errorf("%w: %s: block_size %d is negative", common.ErrInvalidModel, n.OpType, block)
	}
	xs := x.Shape()
	if scale.Len() == 1 && scale.Rank() <= 1 && block == 0 {
		return &qParamLayout{outer: 1, dimA: 1, inner: x.Len()}, nil
	}
	if n.Opset > 0 && n.Opset < 13 {
		return nil, fmt.Errorf("%w: %s-%d: scale must be a scalar, got shape %v", common.ErrShape, n.OpType, n.Opset, scale.Shape())
	}
	if x.Rank() == 0 {
		return nil, fmt.Errorf("%w: %s: scale shape %v does not fit a scalar input", common.ErrShape, n.OpType, scale.Shape())
	}
	axis, err := NormAxis(n.AttrInt("axis", 1), x.Rank())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.OpType, err)
	}
	l := &qParamLayout{outer: 1, dimA: xs[axis], inner: 1}
	for i := 0; i < axis; i++ {
		l.outer *= xs[i]
	}
	for i := axis + 1; i < len(xs); i++ {
		l.inner *= xs[i]
	}
	if block == 0 {
		if scale.Rank() != 1 || scale.Len() != xs[axis] {
			return nil, fmt.Errorf("%w: %s: per-axis scale must be 1-D of length %d (axis %d of %v), got shape %v", common.ErrShape, n.OpType, xs[axis], axis, xs, scale.Shape())
		}
		l.mode = 1
		return l, nil
	}
	ss := scale.Shape()
	if len(ss) != len(xs) {
		return nil, fmt.Errorf("%w: %s: blocked scale must have the rank of x %v, got shape %v", common.ErrShape, n.OpType, xs, ss)
	}
	if block > int64(xs[axis])+1<<20 {
		block = int64(xs[axis]) + 1<<20 // any block past the dim acts the same
	}
	want := (int64(xs[axis]) + block - 1) / block
	for i := range xs {
		if i == axis {
			if int64(ss[i]) != want {
				return nil, fmt.Errorf("%w: %s: blocked scale dim %d is %d, want ceil(%d/%d) = %d", common.ErrShape, n.OpType, i, ss[i], xs[i], block, want)
			}
		} else if ss[i] != xs[i] {
			return nil, fmt.Errorf("%w: %s: blocked scale shape %v does not match x %v off axis %d", common.ErrShape, n.OpType, ss, xs, axis)
		}
	}
	l.mode, l.block, l.scaleA = 2, int(block), ss[axis]
	return l, nil
}

// qRound rounds a float to the given float type's precision (float32
// arithmetic for float16/bfloat16, as their numpy ops do).
func qRound(d common.DType, v float32) float32 {
	switch d {
	case common.Float16:
		return common.F16From(v).Float32()
	case common.BFloat16:
		return common.BF16From(v).Float32()
	}
	return v
}

func quantizeLinearKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	scale, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	zp := opt(in, 2)
	switch x.DType() {
	case common.Float32, common.Float16, common.BFloat16, common.Float64, common.Int32:
	default:
		return nil, unsupportedType(n, x.DType())
	}
	if !scale.DType().IsFloat() && scale.DType() != common.Int32 {
		return nil, unsupportedType(n, scale.DType())
	}
	outT := common.Uint8
	if d := common.DType(n.AttrInt("output_dtype", 0)); d != common.Undefined {
		if zp != nil && zp.DType() != d {
			return nil, fmt.Errorf("%w: QuantizeLinear: output_dtype %v differs from the zero point's %v", common.ErrInvalidModel, d, zp.DType())
		}
		outT = d
	} else if zp != nil {
		outT = zp.DType()
	}
	lo, hi, isInt := qIntRange(outT)
	if !isInt && !qFloatOut(outT) {
		return nil, unsupportedType(n, outT)
	}
	lay, err := qLayout(n, x, scale, zp)
	if err != nil {
		return nil, err
	}
	saturate := n.AttrInt("saturate", 1) != 0
	// precision of x / scale: the precision attribute, else the scale's type
	prec := scale.DType()
	if p := common.DType(n.AttrInt("precision", 0)); p != common.Undefined {
		prec = p
	}
	wide := prec == common.Float64
	out, err := c.Alloc(outT, x.Shape())
	if err != nil {
		return nil, err
	}
	sv := qValues(scale)
	var zv []float64
	if zp != nil {
		zv = qValues(zp)
	}
	xsrc, _ := sourceOf(x)
	xf := xsrc.f
	if xf == nil { // int32 input
		xi := xsrc.i
		xf = func(i int) float64 { return float64(xi(i)) }
	}
	dst, _ := destOf(out, CastOptions{Saturate: saturate, RoundMode: "up"})
	rows := lay.outer * lay.dimA
	step := lay.step()
	c.Parallel(rows, max(1, 1<<14/max(1, lay.inner)), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			b := lay.base(r)
			off := r * lay.inner
			for j := 0; j < lay.inner; j++ {
				p := b + j*step
				var q float64
				if wide {
					q = xf(off+j) / sv[p]
				} else {
					q = float64(qRound(prec, float32(xf(off+j))/float32(sv[p])))
				}
				z := 0.0
				if zv != nil {
					z = zv[p]
				}
				if !isInt {
					dst.f(off+j, q+z)
					continue
				}
				v := math.RoundToEven(q)
				if v != v {
					v = 0
				}
				v += z
				var iv int64
				switch {
				case v <= float64(lo):
					iv = lo
				case v >= float64(hi):
					iv = hi
				default:
					iv = int64(v)
				}
				dst.i(off+j, iv)
			}
		}
	})
	return []*common.Tensor{out}, nil
}

func dequantizeLinearKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	scale, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	zp := opt(in, 2)
	if _, _, ok := qIntRange(x.DType()); !ok && !qFloatOut(x.DType()) {
		return nil, unsupportedType(n, x.DType())
	}
	if zp != nil && zp.DType() != x.DType() {
		return nil, fmt.Errorf("%w: DequantizeLinear: zero point type %v differs from input type %v", common.ErrInvalidModel, zp.DType(), x.DType())
	}
	switch scale.DType() {
	case common.Float32, common.Float16, common.BFloat16, common.Float64:
	default:
		return nil, unsupportedType(n, scale.DType())
	}
	outT := scale.DType()
	if d := common.DType(n.AttrInt("output_dtype", 0)); d != common.Undefined {
		switch d {
		case common.Float32, common.Float16, common.BFloat16, common.Float64:
		default:
			return nil, unsupportedType(n, d)
		}
		outT = d
	}
	lay, err := qLayout(n, x, scale, zp)
	if err != nil {
		return nil, err
	}
	out, err := c.Alloc(outT, x.Shape())
	if err != nil {
		return nil, err
	}
	sv := qValues(scale)
	var zv []float64
	if zp != nil {
		zv = qValues(zp)
	}
	xsrc, _ := sourceOf(x)
	xf := xsrc.f
	switch xsrc.kind {
	case kindInt:
		xi := xsrc.i
		xf = func(i int) float64 { return float64(xi(i)) }
	case kindUint:
		xu := xsrc.u
		xf = func(i int) float64 { return float64(xu(i)) }
	}
	dst, _ := destOf(out, DefaultCastOptions)
	wide := scale.DType() == common.Float64
	rows := lay.outer * lay.dimA
	step := lay.step()
	c.Parallel(rows, max(1, 1<<14/max(1, lay.inner)), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			b := lay.base(r)
			off := r * lay.inner
			for j := 0; j < lay.inner; j++ {
				p := b + j*step
				// (x - zp) in float32, times the scale
				d := float32(xf(off + j))
				if zv != nil {
					d -= float32(zv[p])
				}
				if wide {
					dst.f(off+j, float64(d)*sv[p])
				} else {
					dst.f(off+j, float64(d*float32(sv[p])))
				}
			}
		}
	})
	return []*common.Tensor{out}, nil
}

func dynamicQuantizeLinearKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	if x.DType() != common.Float32 {
		return nil, unsupportedType(n, x.DType())
	}
	xs := common.Data[float32](x)
	out, err := c.Alloc(common.Uint8, x.Shape())
	if err != nil {
		return nil, err
	}
	var lo, hi float32
	for _, v := range xs {
		if v < lo || v != v {
			lo = min(lo, v)
		}
		if v > hi {
			hi = v
		}
	}
	const qmax = 255
	scale := (hi - lo) / qmax
	var zp uint8
	if scale != 0 && scale == scale {
		izp := 0 - lo/scale
		izp = min(max(izp, 0), qmax)
		zp = uint8(math.RoundToEven(float64(izp)))
	}
	ys := common.Data[uint8](out)
	if scale != 0 && scale == scale {
		z := float64(zp)
		c.Parallel(len(xs), 1<<14, func(i0, i1 int) {
			for i := i0; i < i1; i++ {
				v := math.RoundToEven(float64(xs[i]/scale)) + z
				switch {
				case v >= qmax:
					ys[i] = qmax
				case v > 0:
					ys[i] = uint8(v)
				default:
					ys[i] = 0 // also NaN
				}
			}
		})
	}
	return []*common.Tensor{out, common.Scalar(scale), common.Scalar(zp)}, nil
}
