package cpu

import (
	"fmt"

	"github.com/accel-go/accel/common"
)

func init() { reg("CumSum", ViaFloat32(rdCumSumKernel)) }

// rdCumSumKernel is the running sum along an axis (input 1, any integer
// type), optionally exclusive (each output leaves out its own element)
// and reversed (summing from the end).
func rdCumSumKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	at, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	if at.Len() != 1 || at.Rank() > 1 || !at.DType().IsInteger() {
		return nil, fmt.Errorf("%w: %s: axis must be a one-element integer tensor, got %v %v", common.ErrShape, n.OpType, at.DType(), at.Shape())
	}
	if x.Rank() == 0 {
		return nil, fmt.Errorf("%w: %s needs an input of rank >= 1", common.ErrShape, n.OpType)
	}
	axis, err := NormAxis(at.Int(0), x.Rank())
	if err != nil {
		return nil, err
	}
	excl := n.AttrInt("exclusive", 0) != 0
	rev := n.AttrInt("reverse", 0) != 0
	outer, r, inner := rdAxisSplit(x.Shape(), axis)
	var out any
	switch s := x.Raw().(type) {
	case []float32:
		out = rdCumSumT(c, s, outer, r, inner, excl, rev)
	case []float64:
		out = rdCumSumT(c, s, outer, r, inner, excl, rev)
	case []int8:
		out = rdCumSumT(c, s, outer, r, inner, excl, rev)
	case []int16:
		out = rdCumSumT(c, s, outer, r, inner, excl, rev)
	case []int32:
		out = rdCumSumT(c, s, outer, r, inner, excl, rev)
	case []int64:
		out = rdCumSumT(c, s, outer, r, inner, excl, rev)
	case []uint8:
		out = rdCumSumT(c, s, outer, r, inner, excl, rev)
	case []uint16:
		out = rdCumSumT(c, s, outer, r, inner, excl, rev)
	case []uint32:
		out = rdCumSumT(c, s, outer, r, inner, excl, rev)
	case []uint64:
		out = rdCumSumT(c, s, outer, r, inner, excl, rev)
	default:
		return nil, unsupportedType(n, x.DType())
	}
	t, err := common.Wrap(x.DType(), x.Shape(), out)
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{t}, nil
}

func rdCumSumT[T rdNum](c *Ctx, xs []T, outer, r, inner int, excl, rev bool) []T {
	ys := make([]T, len(xs))
	if len(xs) == 0 {
		return ys
	}
	c.Parallel(outer*inner, max(1, (1<<14)/r), func(lo, hi int) {
		for u := lo; u < hi; {
			o, i := u/inner, u%inner
			end := min(inner, i+(hi-u))
			w := end - i
			base := o*r*inner + i
			for jj := 0; jj < r; jj++ {
				j, prev := jj, jj-1
				if rev {
					j, prev = r-1-jj, r-jj
				}
				y := ys[base+j*inner : base+j*inner+w]
				if jj == 0 {
					if !excl {
						copy(y, xs[base+j*inner:base+j*inner+w])
					}
					continue
				}
				py := ys[base+prev*inner : base+prev*inner+w]
				src := j
				if excl {
					src = prev
				}
				x := xs[base+src*inner : base+src*inner+w]
				for k := range y {
					y[k] = py[k] + x[k]
				}
			}
			u += w
		}
	})
	return ys
}
