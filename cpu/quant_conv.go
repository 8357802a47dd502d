package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("ConvInteger", convIntegerKernel)
	reg("QLinearConv", qlinearConvKernel)
}

// qConvPlan is an N-D grouped convolution of x [N, C, D1..Dk] with
// w [M, C/group, K1..Kk].
type qConvPlan struct {
	batch, cin, m, group int
	in, out, k           []int
	strides, dil, padB   []int
	inPlane, outPlane    int
	kTaps                int
}

func qConvAttr(n *common.Node, name string, k int, def int64) ([]int, error) {
	v := n.AttrInts(name)
	out := make([]int, k)
	if v == nil {
		for i := range out {
			out[i] = int(def)
		}
		return out, nil
	}
	if len(v) != k {
		return nil, fmt.Errorf("%w: %s: %s has %d entries, want %d", common.ErrInvalidModel, n.OpType, name, len(v), k)
	}
	for i, x := range v {
		if x < 1 || x > 1<<20 {
			return nil, fmt.Errorf("%w: %s: %s[%d] = %d is out of range", common.ErrInvalidModel, n.OpType, name, i, x)
		}
		out[i] = int(x)
	}
	return out, nil
}

func qPlanConv(c *Ctx, n *common.Node, xs, ws common.Shape) (*qConvPlan, error) {
	if len(xs) < 3 {
		return nil, fmt.Errorf("%w: %s: input must be [N, C, D1, ...], got %v", common.ErrShape, n.OpType, xs)
	}
	if len(ws) != len(xs) {
		return nil, fmt.Errorf("%w: %s: weight shape %v does not match input rank %d", common.ErrShape, n.OpType, ws, len(xs))
	}
	k := len(xs) - 2
	g := n.AttrInt("group", 1)
	if g < 1 || g > int64(xs[1]) || g > int64(ws[0]) {
		return nil, fmt.Errorf("%w: %s: group %d does not fit %d input and %d output channels", common.ErrInvalidModel, n.OpType, g, xs[1], ws[0])
	}
	p := &qConvPlan{batch: xs[0], cin: xs[1], m: ws[0], group: int(g), in: xs[2:].Clone(), k: ws[2:].Clone()}
	if p.cin%p.group != 0 || p.m%p.group != 0 || ws[1] != p.cin/p.group {
		return nil, fmt.Errorf("%w: %s: weight %v does not fit input %v with group %d", common.ErrShape, n.OpType, ws, xs, g)
	}
	if ks := n.AttrInts("kernel_shape"); ks != nil {
		if len(ks) != k {
			return nil, fmt.Errorf("%w: %s: kernel_shape %v has the wrong rank for weight %v", common.ErrInvalidModel, n.OpType, ks, ws)
		}
		for i, v := range ks {
			if v != int64(p.k[i]) {
				return nil, fmt.Errorf("%w: %s: kernel_shape %v differs from weight %v", common.ErrShape, n.OpType, ks, ws)
			}
		}
	}
	var err error
	if p.strides, err = qConvAttr(n, "strides", k, 1); err != nil {
		return nil, err
	}
	if p.dil, err = qConvAttr(n, "dilations", k, 1); err != nil {
		return nil, err
	}
	p.padB = make([]int, k)
	padE := make([]int, k)
	p.out = make([]int, k)
	autoPad := n.AttrString("auto_pad", "NOTSET")
	pads := n.AttrInts("pads")
	switch autoPad {
	case "NOTSET", "":
		if pads != nil && len(pads) != 2*k {
			return nil, fmt.Errorf("%w: %s: pads has %d entries, want %d", common.ErrInvalidModel, n.OpType, len(pads), 2*k)
		}
		for i := 0; i < k && pads != nil; i++ {
			if pads[i] < 0 || pads[i+k] < 0 || pads[i] > 1<<20 || pads[i+k] > 1<<20 {
				return nil, fmt.Errorf("%w: %s: pads %v out of range", common.ErrInvalidModel, n.OpType, pads)
			}
			p.padB[i], padE[i] = int(pads[i]), int(pads[i+k])
		}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		for i := 0; i < k; i++ {
			o := (p.in[i] + p.strides[i] - 1) / p.strides[i]
			total := max(0, (o-1)*p.strides[i]+(p.k[i]-1)*p.dil[i]+1-p.in[i])
			if autoPad == "SAME_UPPER" {
				p.padB[i] = total / 2
			} else {
				p.padB[i] = total - total/2
			}
			padE[i] = total - p.padB[i]
		}
	default:
		return nil, fmt.Errorf("%w: %s: auto_pad %q is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", common.ErrInvalidModel, n.OpType, autoPad)
	}
	p.inPlane, p.outPlane, p.kTaps = 1, 1, 1
	for i := 0; i < k; i++ {
		span := (p.k[i]-1)*p.dil[i] + 1
		o := (p.in[i]+p.padB[i]+padE[i]-span)/p.strides[i] + 1
		if p.in[i]+p.padB[i]+padE[i] < span {
			o = 0
		}
		if o <= 0 && p.in[i] > 0 {
			return nil, fmt.Errorf("%w: %s: kernel %v (dilations %v) is larger than the padded input %v", common.ErrShape, n.OpType, p.k, p.dil, p.in)
		}
		p.out[i] = max(o, 0)
		p.inPlane *= p.in[i]
		p.outPlane *= p.out[i]
		p.kTaps *= p.k[i]
	}
	if _, err := c.Check(common.Int32, p.outShape()); err != nil {
		return nil, err
	}
	// the tap table is sized by the kernel shape, which an empty weight
	// tensor does not bound
	if _, err := c.Check(common.Int64, append(common.Shape{k}, p.k...)); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *qConvPlan) outShape() common.Shape {
	return append(common.Shape{p.batch, p.m}, p.out...)
}

// run computes the int32 convolution of x and w (zero points already
// subtracted; padding contributes 0) into out, adding bias[m] when given.
func (p *qConvPlan) run(c *Ctx, x, w []int32, bias []int32, out []int32) {
	k := len(p.in)
	cg, mg := p.cin/p.group, p.m/p.group
	// tap offsets per spatial dim, dilated
	taps := make([]int, p.kTaps*k)
	coord := make([]int, k)
	for t := 0; t < p.kTaps; t++ {
		for d := 0; d < k; d++ {
			taps[t*k+d] = coord[d] * p.dil[d]
		}
		for d := k - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < p.k[d] {
				break
			}
			coord[d] = 0
		}
	}
	inStr := make([]int, k)
	acc := 1
	for d := k - 1; d >= 0; d-- {
		inStr[d] = acc
		acc *= p.in[d]
	}
	c.Parallel(p.batch*p.m, 1, func(pl0, pl1 int) {
		oc := make([]int, k)
		valid := make([]int, 0, p.kTaps) // tap index
		offs := make([]int, 0, p.kTaps)  // input offset of the tap
		for plane := pl0; plane < pl1; plane++ {
			b, m := plane/p.m, plane%p.m
			g := m / mg
			xb := x[(b*p.cin+g*cg)*p.inPlane:]
			wm := w[m*cg*p.kTaps:]
			o := out[plane*p.outPlane : (plane+1)*p.outPlane]
			for d := range oc {
				oc[d] = 0
			}
			for pos := range o {
				valid, offs = valid[:0], offs[:0]
				for t := 0; t < p.kTaps; t++ {
					off, ok := 0, true
					for d := 0; d < k; d++ {
						ic := oc[d]*p.strides[d] - p.padB[d] + taps[t*k+d]
						if ic < 0 || ic >= p.in[d] {
							ok = false
							break
						}
						off += ic * inStr[d]
					}
					if ok {
						valid = append(valid, t)
						offs = append(offs, off)
					}
				}
				var s int32
				if bias != nil {
					s = bias[m]
				}
				for ci := 0; ci < cg; ci++ {
					xc := xb[ci*p.inPlane : (ci+1)*p.inPlane]
					wc := wm[ci*p.kTaps : (ci+1)*p.kTaps]
					for i, t := range valid {
						s += xc[offs[i]] * wc[t]
					}
				}
				o[pos] = s
				for d := k - 1; d >= 0; d-- {
					oc[d]++
					if oc[d] < p.out[d] {
						break
					}
					oc[d] = 0
				}
			}
		}
	})
}

// qConvWeightZP fits a weight zero point (or scale): a scalar, or a 1-D
// vector with one entry per output channel, reshaped to [M, 1, ...].
func qConvWeightParam(n *common.Node, what string, p *common.Tensor, ws common.Shape) (*common.Tensor, error) {
	if p == nil || p.Len() == 1 {
		return p, nil
	}
	if p.Rank() != 1 || p.Len() != ws[0] {
		return nil, fmt.Errorf("%w: %s: %s must be a scalar or have %d entries (one per output channel), got shape %v", common.ErrShape, n.OpType, what, ws[0], p.Shape())
	}
	s := make(common.Shape, len(ws))
	for i := range s {
		s[i] = 1
	}
	s[0] = ws[0]
	return p.Reshape(s)
}

func qScalarParam(n *common.Node, what string, p *common.Tensor) error {
	if p != nil && p.Len() != 1 {
		return fmt.Errorf("%w: %s: %s must be a scalar, got shape %v", common.ErrShape, n.OpType, what, p.Shape())
	}
	return nil
}

func convIntegerKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	w, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	xzp, wzp := opt(in, 2), opt(in, 3)
	for _, t := range []*common.Tensor{x, w} {
		if !qInt8Like(t.DType()) {
			return nil, unsupportedType(n, t.DType())
		}
	}
	if xzp != nil && xzp.DType() != x.DType() || wzp != nil && wzp.DType() != w.DType() {
		return nil, fmt.Errorf("%w: ConvInteger: zero point types must match their operands", common.ErrInvalidModel)
	}
	p, err := qPlanConv(c, n, x.Shape(), w.Shape())
	if err != nil {
		return nil, err
	}
	if err := qScalarParam(n, "x_zero_point", xzp); err != nil {
		return nil, err
	}
	if wzp, err = qConvWeightParam(n, "w_zero_point", wzp, w.Shape()); err != nil {
		return nil, err
	}
	if err := qCheckOperands(c, x, w); err != nil {
		return nil, err
	}
	out := common.Zeros(common.Int32, p.outShape())
	p.run(c, qShifted(x, xzp), qShifted(w, wzp), nil, common.Data[int32](out))
	return []*common.Tensor{out}, nil
}

func qlinearConvKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	var t [8]*common.Tensor
	for i := range t {
		var err error
		if t[i], err = need(n, in, i); err != nil {
			return nil, err
		}
	}
	x, xs, xzp, w, ws, wzp, ys, yzp := t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]
	bias := opt(in, 8)
	outT := yzp.DType()
	for _, d := range []common.DType{x.DType(), w.DType(), outT} {
		if !qInt8Like(d) {
			return nil, unsupportedType(n, d)
		}
	}
	for _, s := range []*common.Tensor{xs, ws, ys} {
		switch s.DType() {
		case common.Float32, common.Float16, common.BFloat16, common.Float64:
		default:
			return nil, unsupportedType(n, s.DType())
		}
	}
	if xzp.DType() != x.DType() || wzp.DType() != w.DType() {
		return nil, fmt.Errorf("%w: QLinearConv: zero point types must match their operands", common.ErrInvalidModel)
	}
	p, err := qPlanConv(c, n, x.Shape(), w.Shape())
	if err != nil {
		return nil, err
	}
	for _, q := range []struct {
		name string
		t    *common.Tensor
	}{{"x_scale", xs}, {"x_zero_point", xzp}, {"y_scale", ys}, {"y_zero_point", yzp}} {
		if err := qScalarParam(n, q.name, q.t); err != nil {
			return nil, err
		}
	}
	if wzp, err = qConvWeightParam(n, "w_zero_point", wzp, w.Shape()); err != nil {
		return nil, err
	}
	if _, err = qConvWeightParam(n, "w_scale", ws, w.Shape()); err != nil {
		return nil, err
	}
	var bv []int32
	if bias != nil {
		if bias.DType() != common.Int32 {
			return nil, unsupportedType(n, bias.DType())
		}
		if bias.Rank() != 1 || bias.Len() != p.m {
			return nil, fmt.Errorf("%w: QLinearConv: bias must be 1-D of length %d, got shape %v", common.ErrShape, p.m, bias.Shape())
		}
		bv = common.Data[int32](bias)
	}
	if err := qCheckOperands(c, x, w); err != nil {
		return nil, err
	}
	acc := make([]int32, p.outShape().Size())
	p.run(c, qShifted(x, xzp), qShifted(w, wzp), bv, acc)

	lo, hi, _ := qIntRange(outT)
	sd := xs.DType()
	sx, sy, zy := qValues(xs)[0], qValues(ys)[0], qValues(yzp)[0]
	swv := qValues(ws)
	mul := make([]float64, p.m)
	for m := range mul {
		sw := swv[0]
		if len(swv) > 1 {
			sw = swv[m]
		}
		if sd == common.Float64 {
			mul[m] = sx * sw / sy
		} else {
			mul[m] = float64(qRound(sd, qRound(sd, float32(sx)*float32(sw))/float32(sy)))
		}
	}
	out := common.Zeros(outT, p.outShape())
	dst, _ := destOf(out, DefaultCastOptions)
	c.Parallel(p.batch*p.m, 1, func(pl0, pl1 int) {
		for plane := pl0; plane < pl1; plane++ {
			f := mul[plane%p.m]
			for i := plane * p.outPlane; i < (plane+1)*p.outPlane; i++ {
				v := math.RoundToEven(float64(acc[i])*f + zy)
				dst.i(i, int64(min(max(v, float64(lo)), float64(hi))))
			}
		}
	})
	return []*common.Tensor{out}, nil
}
