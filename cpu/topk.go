package cpu

import (
	"fmt"
	"slices"

	"github.com/accel-go/accel/common"
)

func init() { reg("TopK", ViaFloat32(tkKernel)) }

// tkKernel returns the k largest (or smallest) elements along an axis
// and their int64 indices, best first; equal values keep the lower index
// first. NaN counts as larger than every number.
func tkKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	var k int64
	if opsetBefore(n, 10) {
		if !n.HasAttr("k") {
			return nil, fmt.Errorf("%w: %s needs attribute k", common.ErrInvalidModel, n.OpType)
		}
		k = n.AttrInt("k", 0)
	} else {
		kt, err := need(n, in, 1)
		if err != nil {
			return nil, err
		}
		if kt.Len() != 1 || kt.Rank() > 1 || !kt.DType().IsInteger() {
			return nil, fmt.Errorf("%w: %s: K must be a one-element integer tensor, got %v %v", common.ErrShape, n.OpType, kt.DType(), kt.Shape())
		}
		k = kt.Int(0)
	}
	if x.Rank() == 0 {
		return nil, fmt.Errorf("%w: %s needs an input of rank >= 1", common.ErrShape, n.OpType)
	}
	axis, err := NormAxis(n.AttrInt("axis", -1), x.Rank())
	if err != nil {
		return nil, err
	}
	shape := x.Shape()
	if k < 0 || k > int64(shape[axis]) {
		return nil, fmt.Errorf("%w: %s: k = %d is out of range for axis %d of size %d", common.ErrShape, n.OpType, k, axis, shape[axis])
	}
	largest := n.AttrInt("largest", 1) != 0
	outShape := shape.Clone()
	outShape[axis] = int(k)
	outer, r, inner := rdAxisSplit(shape, axis)
	idx := make([]int64, outer*int(k)*inner)
	var vals *common.Tensor
	switch s := x.Raw().(type) {
	case []float32:
		vals = common.NewTensor(outShape, tkTopK(c, s, idx, outer, r, inner, int(k), largest))
	case []float64:
		vals = common.NewTensor(outShape, tkTopK(c, s, idx, outer, r, inner, int(k), largest))
	case []int8:
		vals = common.NewTensor(outShape, tkTopK(c, s, idx, outer, r, inner, int(k), largest))
	case []int16:
		vals = common.NewTensor(outShape, tkTopK(c, s, idx, outer, r, inner, int(k), largest))
	case []int32:
		vals = common.NewTensor(outShape, tkTopK(c, s, idx, outer, r, inner, int(k), largest))
	case []int64:
		vals = common.NewTensor(outShape, tkTopK(c, s, idx, outer, r, inner, int(k), largest))
	case []uint8:
		vals = common.NewTensor(outShape, tkTopK(c, s, idx, outer, r, inner, int(k), largest))
	case []uint16:
		vals = common.NewTensor(outShape, tkTopK(c, s, idx, outer, r, inner, int(k), largest))
	case []uint32:
		vals = common.NewTensor(outShape, tkTopK(c, s, idx, outer, r, inner, int(k), largest))
	case []uint64:
		vals = common.NewTensor(outShape, tkTopK(c, s, idx, outer, r, inner, int(k), largest))
	default:
		return nil, unsupportedType(n, x.DType())
	}
	return []*common.Tensor{vals, common.NewTensor(outShape, idx)}, nil
}

// tkGreater is x > y with NaN above every number.
func tkGreater[T rdNum](x, y T) bool {
	if x != x {
		return y == y
	}
	return x > y
}

// tkTopK fills idx and returns the values for each of the outer*inner
// slices of length r (stride inner).
func tkTopK[T rdNum](c *Ctx, xs []T, idx []int64, outer, r, inner, k int, largest bool) []T {
	out := make([]T, len(idx))
	if k == 0 || len(idx) == 0 {
		return out
	}
	c.Parallel(outer*inner, max(1, (1<<13)/max(r, 1)), func(lo, hi int) {
		vals := make([]T, r)
		ord := make([]int, 0, r)
		// better reports whether element a ranks before element b.
		better := func(a, b int) bool {
			va, vb := vals[a], vals[b]
			if largest {
				if tkGreater(va, vb) {
					return true
				}
				return !tkGreater(vb, va) && a < b
			}
			if tkGreater(vb, va) {
				return true
			}
			return !tkGreater(va, vb) && a < b
		}
		cmp := func(a, b int) int {
			if better(a, b) {
				return -1
			}
			if better(b, a) {
				return 1
			}
			return 0
		}
		for u := lo; u < hi; u++ {
			o, i := u/inner, u%inner
			base := o*r*inner + i
			for j := range vals {
				vals[j] = xs[base+j*inner]
			}
			ord = ord[:0]
			if k*8 < r {
				ord = tkSelect(ord, r, k, better)
			} else {
				for j := 0; j < r; j++ {
					ord = append(ord, j)
				}
			}
			slices.SortFunc(ord, cmp)
			obase := o*k*inner + i
			for j := 0; j < k; j++ {
				out[obase+j*inner] = vals[ord[j]]
				idx[obase+j*inner] = int64(ord[j])
			}
		}
	})
	return out
}

// tkSelect returns the k best of [0, r) (unordered), keeping a heap whose
// root is the worst of those kept.
func tkSelect(h []int, r, k int, better func(a, b int) bool) []int {
	down := func(i int) {
		for {
			w := i
			l, rr := 2*i+1, 2*i+2
			if l < len(h) && better(h[w], h[l]) {
				w = l
			}
			if rr < len(h) && better(h[w], h[rr]) {
				w = rr
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for j := 0; j < k; j++ {
		h = append(h, j)
	}
	for i := k/2 - 1; i >= 0; i-- {
		down(i)
	}
	for j := k; j < r; j++ {
		if better(j, h[0]) {
			h[0] = j
			down(0)
		}
	}
	return h
}
