package cpu

import (
	"fmt"

	"github.com/accel-go/accel/common"
)

func init() { reg("Pad", padKernel) }

// padKernel pads (or, with negative pads, crops) each axis in one of the
// modes constant, reflect, edge or wrap.
func padKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	r := x.Rank()
	mode := n.AttrString("mode", "constant")
	var pads []int64
	var cv *common.Tensor
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if opsetBefore(n, 11) {
		name := "pads"
		if opsetBefore(n, 2) {
			name = "paddings"
		}
		if !n.HasAttr(name) {
			return nil, fmt.Errorf("%w: Pad-%d needs a %s attribute", common.ErrInvalidModel, n.Opset, name)
		}
		pads = n.AttrInts(name)
		if cv, err = mvScalarOf(n, x.DType(), float64(n.AttrFloat("value", 0))); err != nil {
			return nil, err
		}
	} else {
		pt, err := need(n, in, 1)
		if err != nil {
			return nil, err
		}
		if pads, err = shapeArg(pt, "Pad pads"); err != nil {
			return nil, err
		}
		if t := opt(in, 2); t != nil {
			if t.DType() != x.DType() {
				return nil, fmt.Errorf("%w: Pad constant_value is %v, data is %v", common.ErrShape, t.DType(), x.DType())
			}
			if t.Len() != 1 {
				if t.Len() != 0 {
					return nil, fmt.Errorf("%w: Pad constant_value must be a scalar, got shape %v", common.ErrShape, t.Shape())
				}
			} else {
				cv = t
			}
		}
		if t := opt(in, 3); t != nil && !opsetBefore(n, 18) {
			a, err := shapeArg(t, "Pad axes")
			if err != nil {
				return nil, err
			}
			if axes, err = normAxes(n, a, r); err != nil {
				return nil, err
			}
		}
	}
	if cv == nil {
		if x.DType() == common.String {
			cv = common.Scalar("")
		} else if cv, err = mvAlloc(c, n, x.DType(), common.Shape{1}); err != nil {
			return nil, err
		}
	}
	switch mode {
	case "constant", "reflect", "edge":
	case "wrap":
		if opsetBefore(n, 19) {
			return nil, fmt.Errorf("%w: Pad mode wrap needs opset 19, model has %d", common.ErrInvalidModel, n.Opset)
		}
	default:
		return nil, fmt.Errorf("%w: Pad mode %q is not constant, reflect, edge or wrap", common.ErrInvalidModel, mode)
	}
	if len(pads) != 2*len(axes) {
		return nil, fmt.Errorf("%w: Pad pads %v has %d entries, want %d (2 per axis)", common.ErrShape, pads, len(pads), 2*len(axes))
	}
	begin := make([]int64, r)
	end := make([]int64, r)
	for i, a := range axes {
		begin[a], end[a] = pads[i], pads[i+len(axes)]
	}
	shape := make(common.Shape, r)
	tables := make([][]int, r)
	inSt := x.Shape().Strides()
	for a := 0; a < r; a++ {
		d := int64(x.Shape()[a])
		b, e := begin[a], end[a]
		const bound = 1 << 40
		if b < -bound || b > bound || e < -bound || e > bound {
			return nil, fmt.Errorf("%w: Pad pads %d, %d on axis %d are out of range", common.ErrLimit, b, e, a)
		}
		lo, hi := max(0, -b), d-max(0, -e)
		if hi < lo {
			return nil, fmt.Errorf("%w: Pad pads %d, %d crop more than axis %d's %d elements", common.ErrShape, b, e, a, d)
		}
		kept := hi - lo
		pb, pe := max(0, b), max(0, e)
		if kept == 0 && mode != "constant" && pb+pe > 0 {
			return nil, fmt.Errorf("%w: Pad mode %s cannot pad axis %d, which has no elements", common.ErrShape, mode, a)
		}
		shape[a] = int(kept + pb + pe)
	}
	out, err := mvAlloc(c, n, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 {
		return []*common.Tensor{out}, nil
	}
	for a := 0; a < r; a++ {
		d := int64(x.Shape()[a])
		b, e := begin[a], end[a]
		lo := max(0, -b)
		kept := d - max(0, -e) - lo
		pb := max(0, b)
		tbl := make([]int, shape[a])
		for i := range tbl {
			j := int64(i) - pb
			if j < 0 || j >= kept {
				switch mode {
				case "constant":
					tbl[i] = -1
					continue
				case "edge":
					j = max(0, min(kept-1, j))
				case "wrap":
					j = ((j % kept) + kept) % kept
				case "reflect":
					if kept == 1 {
						j = 0
					} else {
						p := 2 * (kept - 1)
						j = ((j % p) + p) % p
						if j >= kept {
							j = p - j
						}
					}
				}
			}
			tbl[i] = int(lo+j) * inSt[a]
		}
		tables[a] = tbl
	}
	switch d := mvWords(out).(type) {
	case []uint8:
		padT(c, d, mvWords(x).([]uint8), shape, tables, mvWords(cv).([]uint8)[0])
	case []uint16:
		padT(c, d, mvWords(x).([]uint16), shape, tables, mvWords(cv).([]uint16)[0])
	case []uint32:
		padT(c, d, mvWords(x).([]uint32), shape, tables, mvWords(cv).([]uint32)[0])
	case []uint64:
		padT(c, d, mvWords(x).([]uint64), shape, tables, mvWords(cv).([]uint64)[0])
	case []string:
		padT(c, d, mvWords(x).([]string), shape, tables, mvWords(cv).([]string)[0])
	}
	return []*common.Tensor{out}, nil
}

// padT fills dst from src through per-axis tables of source offsets (-1:
// the pad value).
func padT[T any](c *Ctx, dst, src []T, shape common.Shape, tables [][]int, pad T) {
	if len(dst) == 0 {
		return
	}
	r := len(shape)
	if r == 0 {
		dst[0] = src[0]
		return
	}
	inner := shape[r-1]
	last := tables[r-1]
	rows := len(dst) / inner
	c.Parallel(rows, max(1, (1<<14)/inner), func(lo, hi int) {
		coord := make([]int, r-1)
		rem := lo
		for a := r - 2; a >= 0; a-- {
			coord[a] = rem % shape[a]
			rem /= shape[a]
		}
		for row := lo; row < hi; row++ {
			out := dst[row*inner : (row+1)*inner]
			off, isPad := 0, false
			for a := 0; a < r-1; a++ {
				t := tables[a][coord[a]]
				if t < 0 {
					isPad = true
					break
				}
				off += t
			}
			if isPad {
				for i := range out {
					out[i] = pad
				}
			} else {
				for i, t := range last {
					if t < 0 {
						out[i] = pad
					} else {
						out[i] = src[off+t]
					}
				}
			}
			for a := r - 2; a >= 0; a-- {
				coord[a]++
				if coord[a] < shape[a] {
					break
				}
				coord[a] = 0
			}
		}
	})
}
