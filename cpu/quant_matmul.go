package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("MatMulInteger", matMulIntegerKernel)
	reg("QLinearMatMul", qlinearMatMulKernel)
}

// qInt8Like reports whether d is an 8-bit integer type (the integer
// matmul/conv operand types).
func qInt8Like(d common.DType) bool { return d == common.Int8 || d == common.Uint8 }

// qShifted returns x - zp as int32, with zp broadcast to x's shape (zp nil
// means 0). The caller has checked that the broadcast keeps x's shape.
func qShifted(x, zp *common.Tensor) []int32 {
	out := make([]int32, x.Len())
	src, _ := sourceOf(x)
	get := func(i int) int32 {
		if src.kind == kindUint {
			return int32(src.u(i))
		}
		return int32(src.i(i))
	}
	for i := range out {
		out[i] = get(i)
	}
	if zp == nil {
		return out
	}
	zsrc, _ := sourceOf(zp)
	zget := func(i int) int32 {
		if zsrc.kind == kindUint {
			return int32(zsrc.u(i))
		}
		return int32(zsrc.i(i))
	}
	if zp.Len() == 1 {
		z := zget(0)
		for i := range out {
			out[i] -= z
		}
		return out
	}
	idx := make([]int, len(out))
	BroadcastIndex(x.Shape(), BroadcastStrides(zp.Shape(), x.Shape()), idx)
	for i := range out {
		out[i] -= zget(idx[i])
	}
	return out
}

// qCheckOperands checks the limits for the int32 copies of the operands.
func qCheckOperands(c *Ctx, ts ...*common.Tensor) error {
	for _, t := range ts {
		if _, err := c.Check(common.Int32, t.Shape()); err != nil {
			return err
		}
	}
	return nil
}

// qFitParam reshapes a quantization parameter for an operand of shape s:
// a scalar (any rank, one element) stays; a 1-D vector of length s[rank-2]
// becomes [len, 1] when perRow; anything else must broadcast to s without
// changing it.
func qFitParam(n *common.Node, what string, p *common.Tensor, s common.Shape, perRow bool) (*common.Tensor, error) {
	if p == nil || p.Len() == 1 {
		return p, nil
	}
	if perRow && p.Rank() == 1 && len(s) >= 2 && p.Len() == s[len(s)-2] {
		return p.Reshape(common.Shape{p.Len(), 1})
	}
	if perRow && p.Rank() == 1 && len(s) == 1 {
		return nil, fmt.Errorf("%w: %s: %s of shape %v cannot be per-row for a 1-D operand", common.ErrShape, n.OpType, what, p.Shape())
	}
	b, err := BroadcastShape(s, p.Shape())
	if err != nil || !b.Equal(s) {
		return nil, fmt.Errorf("%w: %s: %s of shape %v does not fit operand shape %v", common.ErrShape, n.OpType, what, p.Shape(), s)
	}
	return p, nil
}

// qMatMulShapes works out numpy matmul shapes: a [..., M, K] and b
// [..., K, N] (1-D operands promoted), the broadcast batch shape and the
// output shape.
type qMatMulPlan struct {
	m, k, n      int
	batch        common.Shape
	aOff, bOff   []int // per batch index: element offset into a and b
	out          common.Shape
	aRank, bRank int
}

func qPlanMatMul(c *Ctx, op string, as, bs common.Shape) (*qMatMulPlan, error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("%w: %s: operands must have rank >= 1, got %v and %v", common.ErrShape, op, as, bs)
	}
	a, b := as, bs
	if len(a) == 1 {
		a = common.Shape{1, a[0]}
	}
	if len(b) == 1 {
		b = common.Shape{b[0], 1}
	}
	p := &qMatMulPlan{m: a[len(a)-2], k: a[len(a)-1], n: b[len(b)-1], aRank: len(as), bRank: len(bs)}
	if b[len(b)-2] != p.k {
		return nil, fmt.Errorf("%w: %s: inner dims differ: %v x %v", common.ErrShape, op, as, bs)
	}
	ab, bb := a[:len(a)-2], b[:len(b)-2]
	batch, err := BroadcastShape(ab, bb)
	if err != nil {
		return nil, fmt.Errorf("%s: batch dims: %w", op, err)
	}
	p.batch = batch
	if _, err := c.Check(common.Int64, batch); err != nil {
		return nil, err
	}
	nb := batch.Size()
	p.aOff = make([]int, nb)
	p.bOff = make([]int, nb)
	BroadcastIndex(batch, BroadcastStrides(ab, batch), p.aOff)
	BroadcastIndex(batch, BroadcastStrides(bb, batch), p.bOff)
	for i := range p.aOff {
		p.aOff[i] *= p.m * p.k
		p.bOff[i] *= p.k * p.n
	}
	out := batch.Clone()
	if len(as) > 1 {
		out = append(out, p.m)
	}
	if len(bs) > 1 {
		out = append(out, p.n)
	}
	p.out = out
	return p, nil
}

// run computes the int32 product into out (batch*M*N, row-major).
func (p *qMatMulPlan) run(c *Ctx, a, b []int32, out []int32) {
	rows := len(p.aOff) * p.m
	c.Parallel(rows, max(1, 4096/max(1, p.k*p.n)), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			bi, i := r/p.m, r%p.m
			arow := a[p.aOff[bi]+i*p.k : p.aOff[bi]+(i+1)*p.k]
			bm := b[p.bOff[bi] : p.bOff[bi]+p.k*p.n]
			o := out[r*p.n : (r+1)*p.n]
			for j := range o {
				o[j] = 0
			}
			for kk, av := range arow {
				if av == 0 {
					continue
				}
				brow := bm[kk*p.n : (kk+1)*p.n]
				for j, bv := range brow {
					o[j] += av * bv
				}
			}
		}
	})
}

func matMulIntegerKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	a, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	b, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	azp, bzp := opt(in, 2), opt(in, 3)
	for _, t := range []*common.Tensor{a, b} {
		if !qInt8Like(t.DType()) {
			return nil, unsupportedType(n, t.DType())
		}
	}
	if azp != nil && azp.DType() != a.DType() || bzp != nil && bzp.DType() != b.DType() {
		return nil, fmt.Errorf("%w: MatMulInteger: zero point types must match their operands", common.ErrInvalidModel)
	}
	p, err := qPlanMatMul(c, n.OpType, a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	if err := qCheckOperands(c, a, b); err != nil {
		return nil, err
	}
	if azp, err = qFitParam(n, "a_zero_point", azp, a.Shape(), true); err != nil {
		return nil, err
	}
	if bzp, err = qFitParam(n, "b_zero_point", bzp, b.Shape(), false); err != nil {
		return nil, err
	}
	if azp != nil {
		if _, err := qOutParam(n, "a_zero_point", azp, p, true); err != nil {
			return nil, err
		}
	}
	if bzp != nil {
		if _, err := qOutParam(n, "b_zero_point", bzp, p, false); err != nil {
			return nil, err
		}
	}
	out, err := c.Alloc(common.Int32, p.out)
	if err != nil {
		return nil, err
	}
	p.run(c, qShifted(a, azp), qShifted(b, bzp), common.Data[int32](out))
	return []*common.Tensor{out}, nil
}

// qBroadcastValues returns p's values broadcast to shape s (p must
// broadcast to s), as float64.
func qBroadcastValues(p *common.Tensor, s common.Shape) []float64 {
	v := qValues(p)
	n := s.Size()
	out := make([]float64, n)
	if len(v) == 1 {
		for i := range out {
			out[i] = v[0]
		}
		return out
	}
	idx := make([]int, n)
	BroadcastIndex(s, BroadcastStrides(p.Shape(), s), idx)
	for i := range out {
		out[i] = v[idx[i]]
	}
	return out
}

// qOutParam maps an operand's parameter (already fitted to the operand's
// shape) onto the matmul output shape: the a-side parameter may vary along
// rows (its last dim is 1), the b-side one along columns (its next-to-last
// dim is 1); the dim the product removes is dropped where an operand was
// 1-D.
func qOutParam(n *common.Node, what string, p *common.Tensor, pl *qMatMulPlan, aSide bool) (*common.Tensor, error) {
	if p.Len() == 1 {
		return p, nil
	}
	s := p.Shape().Clone()
	r := len(s)
	bad := func() (*common.Tensor, error) {
		return nil, fmt.Errorf("%w: %s: %s of shape %v varies along the reduced dim", common.ErrShape, n.OpType, what, p.Shape())
	}
	if aSide {
		if r == 0 || s[r-1] != 1 {
			return bad()
		}
		if pl.bRank == 1 {
			s = s[:r-1]
		}
	} else if r >= 2 {
		if s[r-2] != 1 {
			return bad()
		}
		if pl.aRank == 1 {
			s = append(s[:r-2], s[r-1])
		}
	}
	q, err := p.Reshape(s)
	if err != nil {
		return nil, err
	}
	if b, err := BroadcastShape(pl.out, q.Shape()); err != nil || !b.Equal(pl.out) {
		return nil, fmt.Errorf("%w: %s: %s of shape %v does not fit output shape %v", common.ErrShape, n.OpType, what, p.Shape(), pl.out)
	}
	return q, nil
}

func qlinearMatMulKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	var t [8]*common.Tensor
	for i := range t {
		var err error
		if t[i], err = need(n, in, i); err != nil {
			return nil, err
		}
	}
	a, as, azp, b, bs, bzp, ys, yzp := t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]
	outT := yzp.DType()
	lo, hi, ok := qIntRange(outT)
	if !qInt8Like(a.DType()) || !qInt8Like(b.DType()) || !ok || !qInt8Like(outT) {
		for _, d := range []common.DType{a.DType(), b.DType(), outT} {
			if !qInt8Like(d) {
				return nil, unsupportedType(n, d)
			}
		}
	}
	for _, s := range []*common.Tensor{as, bs, ys} {
		switch s.DType() {
		case common.Float32, common.Float16, common.BFloat16, common.Float64:
		default:
			return nil, unsupportedType(n, s.DType())
		}
	}
	if azp.DType() != a.DType() || bzp.DType() != b.DType() {
		return nil, fmt.Errorf("%w: QLinearMatMul: zero point types must match their operands", common.ErrInvalidModel)
	}
	pl, err := qPlanMatMul(c, n.OpType, a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	if err := qCheckOperands(c, a, b); err != nil {
		return nil, err
	}
	fit := func(what string, p *common.Tensor, s common.Shape, row bool) (*common.Tensor, error) {
		return qFitParam(n, what, p, s, row)
	}
	if azp, err = fit("a_zero_point", azp, a.Shape(), true); err != nil {
		return nil, err
	}
	if as, err = fit("a_scale", as, a.Shape(), true); err != nil {
		return nil, err
	}
	if bzp, err = fit("b_zero_point", bzp, b.Shape(), false); err != nil {
		return nil, err
	}
	if bs, err = fit("b_scale", bs, b.Shape(), false); err != nil {
		return nil, err
	}
	if ys, err = fit("y_scale", ys, pl.out, false); err != nil {
		return nil, err
	}
	if yzp, err = fit("y_zero_point", yzp, pl.out, false); err != nil {
		return nil, err
	}
	out, err := c.Alloc(outT, pl.out)
	if err != nil {
		return nil, err
	}
	if _, err := qOutParam(n, "a_zero_point", azp, pl, true); err != nil {
		return nil, err
	}
	if _, err := qOutParam(n, "b_zero_point", bzp, pl, false); err != nil {
		return nil, err
	}
	if _, err := c.Check(common.Float64, common.Shape{4, out.Len()}); err != nil {
		return nil, err // the broadcast scales and zero point below
	}
	acc := make([]int32, out.Len())
	pl.run(c, qShifted(a, azp), qShifted(b, bzp), acc)

	// the multiplier a_scale * b_scale / y_scale, in the scales' precision
	oas, err := qOutParam(n, "a_scale", as, pl, true)
	if err != nil {
		return nil, err
	}
	obs, err := qOutParam(n, "b_scale", bs, pl, false)
	if err != nil {
		return nil, err
	}
	sa := qBroadcastValues(oas, pl.out)
	sb := qBroadcastValues(obs, pl.out)
	sy := qBroadcastValues(ys, pl.out)
	zy := qBroadcastValues(yzp, pl.out)
	sd := as.DType()
	dst, _ := destOf(out, DefaultCastOptions)
	c.Parallel(len(acc), 1<<12, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			var mul float64
			if sd == common.Float64 {
				mul = sa[i] * sb[i] / sy[i]
			} else {
				mul = float64(qRound(sd, qRound(sd, float32(sa[i])*float32(sb[i]))/float32(sy[i])))
			}
			v := math.RoundToEven(float64(acc[i])*mul + zy[i])
			dst.i(i, int64(min(max(v, float64(lo)), float64(hi))))
		}
	})
	return []*common.Tensor{out}, nil
}
