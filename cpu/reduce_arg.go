package cpu

import (
	"github.com/accel-go/accel/common"
)

func init() {
	reg("ArgMax", ViaFloat32(rdArgKernel(true)))
	reg("ArgMin", ViaFloat32(rdArgKernel(false)))
}

// rdAxisSplit returns the sizes of the dims before, at and after axis.
func rdAxisSplit(shape common.Shape, axis int) (outer, r, inner int) {
	outer, inner = 1, 1
	for i, d := range shape {
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	return outer, shape[axis], inner
}

func rdArgKernel(isMax bool) TensorKernel {
	return func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		x, err := need(n, in, 0)
		if err != nil {
			return nil, err
		}
		rank := x.Rank()
		if rank == 0 {
			// A scalar is treated as a one-element vector.
			rank = 1
			if x, err = x.Reshape(common.Shape{1}); err != nil {
				return nil, err
			}
		}
		axis, err := NormAxis(n.AttrInt("axis", 0), rank)
		if err != nil {
			return nil, err
		}
		keep := n.AttrInt("keepdims", 1) != 0
		last := n.AttrInt("select_last_index", 0) != 0
		shape := x.Shape()
		outer, r, inner := rdAxisSplit(shape, axis)
		red := make([]bool, rank)
		red[axis] = true
		outShape := rdOutShape(shape, red, keep)
		if outer*inner == 0 {
			return []*common.Tensor{common.Zeros(common.Int64, outShape)}, nil
		}
		if r == 0 {
			return nil, rdErrEmptyAxis(n, axis, shape)
		}
		idx := make([]int64, outer*inner)
		switch s := x.Raw().(type) {
		case []float32:
			rdArgT(c, s, idx, outer, r, inner, isMax, last)
		case []float64:
			rdArgT(c, s, idx, outer, r, inner, isMax, last)
		case []int8:
			rdArgT(c, s, idx, outer, r, inner, isMax, last)
		case []int16:
			rdArgT(c, s, idx, outer, r, inner, isMax, last)
		case []int32:
			rdArgT(c, s, idx, outer, r, inner, isMax, last)
		case []int64:
			rdArgT(c, s, idx, outer, r, inner, isMax, last)
		case []uint8:
			rdArgT(c, s, idx, outer, r, inner, isMax, last)
		case []uint16:
			rdArgT(c, s, idx, outer, r, inner, isMax, last)
		case []uint32:
			rdArgT(c, s, idx, outer, r, inner, isMax, last)
		case []uint64:
			rdArgT(c, s, idx, outer, r, inner, isMax, last)
		default:
			return nil, unsupportedType(n, x.DType())
		}
		return []*common.Tensor{common.NewTensor(outShape, idx)}, nil
	}
}

// rdBetter reports whether v should replace the current best b. NaN wins
// over numbers (as numpy's argmax/argmin pick the first NaN); ties win
// only when the last index is wanted.
func rdBetter[T rdNum](v, b T, isMax, last bool) bool {
	if v != v {
		return b == b || last
	}
	if b != b {
		return false
	}
	if v == b {
		return last
	}
	if isMax {
		return v > b
	}
	return v < b
}

func rdArgT[T rdNum](c *Ctx, xs []T, idx []int64, outer, r, inner int, isMax, last bool) {
	if inner == 1 {
		c.Parallel(outer, max(1, (1<<14)/r), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				row := xs[o*r : o*r+r]
				bi := 0
				b := row[0]
				for j := 1; j < len(row); j++ {
					if rdBetter(row[j], b, isMax, last) {
						b, bi = row[j], j
					}
				}
				idx[o] = int64(bi)
			}
		})
		return
	}
	// Inner blocks are contiguous: scan the reduced axis block by block,
	// comparing against the current best through its index.
	c.Parallel(outer*inner, max(1, (1<<14)/r), func(lo, hi int) {
		for u := lo; u < hi; {
			o, i := u/inner, u%inner
			end := min(inner, i+(hi-u))
			base := o * r * inner
			dst := idx[o*inner+i : o*inner+end]
			for k := range dst {
				dst[k] = 0
			}
			for j := 1; j < r; j++ {
				blk := xs[base+j*inner+i : base+j*inner+end]
				for k, v := range blk {
					b := xs[base+int(dst[k])*inner+i+k]
					if rdBetter(v, b, isMax, last) {
						dst[k] = int64(j)
					}
				}
			}
			u += end - i
		}
	})
}
