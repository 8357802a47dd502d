package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

// smMode selects the normalisation a softmax-family kernel computes.
type smMode int

const (
	smSoftmax smMode = iota
	smLogSoftmax
	smHardmax
	smL1 // LpNormalization, p = 1
	smL2 // LpNormalization, p = 2
)

func init() {
	reg("Softmax", ViaFloat32(smKernel(smSoftmax)))
	reg("LogSoftmax", ViaFloat32(smKernel(smLogSoftmax)))
	reg("Hardmax", ViaFloat32(smKernel(smHardmax)))
	reg("LpNormalization", ViaFloat32(smLpNormKernel))
}

// smKernel handles Softmax, LogSoftmax and Hardmax. Before opset 13
// the input is coerced to 2-D at axis (default 1) and each row of the
// flattened tail is normalised; from 13 on the normalisation runs over the
// one axis (default -1).
func smKernel(mode smMode) TensorKernel {
	return func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		x, err := need(n, in, 0)
		if err != nil {
			return nil, err
		}
		shape := x.Shape()
		rank := x.Rank()
		var outer, r, inner int
		if opsetBefore(n, 13) {
			a := n.AttrInt("axis", 1)
			if a < 0 {
				a += int64(rank)
			}
			if a < 0 || a > int64(rank) {
				return nil, fmt.Errorf("%w: %s: axis %d is out of range for rank %d", common.ErrShape, n.OpType, n.AttrInt("axis", 1), rank)
			}
			outer, r, inner = 1, 1, 1
			for i, d := range shape {
				if i < int(a) {
					outer *= d
				} else {
					r *= d
				}
			}
		} else {
			if rank == 0 {
				return nil, fmt.Errorf("%w: %s needs an input of rank >= 1", common.ErrShape, n.OpType)
			}
			axis, err := NormAxis(n.AttrInt("axis", -1), rank)
			if err != nil {
				return nil, err
			}
			outer, r, inner = rdAxisSplit(shape, axis)
		}
		out, err := smNormalize(c, n, mode, x, outer, r, inner)
		if err != nil {
			return nil, err
		}
		return []*common.Tensor{out}, nil
	}
}

func smLpNormKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	if x.Rank() == 0 {
		return nil, fmt.Errorf("%w: %s needs an input of rank >= 1", common.ErrShape, n.OpType)
	}
	axis, err := NormAxis(n.AttrInt("axis", -1), x.Rank())
	if err != nil {
		return nil, err
	}
	var mode smMode
	switch p := n.AttrInt("p", 2); p {
	case 1:
		mode = smL1
	case 2:
		mode = smL2
	default:
		return nil, fmt.Errorf("%w: %s: p must be 1 or 2, got %d", common.ErrInvalidModel, n.OpType, p)
	}
	outer, r, inner := rdAxisSplit(x.Shape(), axis)
	out, err := smNormalize(c, n, mode, x, outer, r, inner)
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{out}, nil
}

func smNormalize(c *Ctx, n *common.Node, mode smMode, x *common.Tensor, outer, r, inner int) (*common.Tensor, error) {
	switch s := x.Raw().(type) {
	case []float32:
		out := make([]float32, len(s))
		smT(c, mode, s, out, outer, r, inner)
		return common.NewTensor(x.Shape(), out), nil
	case []float64:
		out := make([]float64, len(s))
		smT(c, mode, s, out, outer, r, inner)
		return common.NewTensor(x.Shape(), out), nil
	}
	return nil, unsupportedType(n, x.DType())
}

func smT[F float32 | float64](c *Ctx, mode smMode, xs, out []F, outer, r, inner int) {
	if outer*r*inner == 0 {
		return
	}
	if inner == 1 {
		c.Parallel(outer, max(1, (1<<13)/r), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				smRow(mode, xs[o*r:o*r+r], out[o*r:o*r+r])
			}
		})
		return
	}
	c.Parallel(outer*inner, max(1, (1<<13)/r), func(lo, hi int) {
		m := make([]float64, min(inner, hi-lo))
		s := make([]float64, len(m))
		for u := lo; u < hi; {
			o, i := u/inner, u%inner
			end := min(inner, i+(hi-u))
			smBlock(mode, xs, out, o*r*inner, r, inner, i, end, m[:end-i], s[:end-i])
			u += end - i
		}
	})
}

// smRow normalises one contiguous row.
func smRow[F float32 | float64](mode smMode, x, y []F) {
	switch mode {
	case smSoftmax, smLogSoftmax:
		m := math.Inf(-1)
		for _, v := range x {
			if f := float64(v); f > m || f != f {
				m = f
			}
		}
		sum := 0.0
		if mode == smSoftmax {
			for j, v := range x {
				e := math.Exp(float64(v) - m)
				y[j] = F(e)
				sum += e
			}
			inv := 1 / sum
			for j := range y {
				y[j] = F(float64(y[j]) * inv)
			}
			return
		}
		for _, v := range x {
			sum += math.Exp(float64(v) - m)
		}
		ls := m + math.Log(sum)
		for j, v := range x {
			y[j] = F(float64(v) - ls)
		}
	case smHardmax:
		bi := 0
		for j := 1; j < len(x); j++ {
			if rdBetter(x[j], x[bi], true, false) {
				bi = j
			}
		}
		for j := range y {
			y[j] = 0
		}
		y[bi] = 1
	case smL1, smL2:
		sum := 0.0
		for _, v := range x {
			f := float64(v)
			if mode == smL1 {
				sum += math.Abs(f)
			} else {
				sum += f * f
			}
		}
		if mode == smL2 {
			sum = math.Sqrt(sum)
		}
		for j, v := range x {
			y[j] = F(float64(v) / sum)
		}
	}
}

// smBlock normalises columns [i0, i1) of one outer slice laid out as
// [r, inner] at base, using m and s (length i1-i0) as scratch.
func smBlock[F float32 | float64](mode smMode, xs, ys []F, base, r, inner, i0, i1 int, m, s []float64) {
	w := i1 - i0
	row := func(j int) ([]F, []F) {
		off := base + j*inner + i0
		return xs[off : off+w], ys[off : off+w]
	}
	switch mode {
	case smSoftmax, smLogSoftmax:
		rdFill(m, math.Inf(-1))
		rdFill(s, 0)
		for j := 0; j < r; j++ {
			x, _ := row(j)
			for k, v := range x {
				if f := float64(v); f > m[k] || f != f {
					m[k] = f
				}
			}
		}
		for j := 0; j < r; j++ {
			x, y := row(j)
			for k, v := range x {
				e := math.Exp(float64(v) - m[k])
				if mode == smSoftmax {
					y[k] = F(e)
				}
				s[k] += e
			}
		}
		for j := 0; j < r; j++ {
			x, y := row(j)
			for k := range y {
				if mode == smSoftmax {
					y[k] = F(float64(y[k]) / s[k])
				} else {
					y[k] = F(float64(x[k]) - m[k] - math.Log(s[k]))
				}
			}
		}
	case smHardmax:
		// m holds the index of the best row so far for each column.
		rdFill(m, 0)
		for j := 1; j < r; j++ {
			x, _ := row(j)
			for k, v := range x {
				b := xs[base+int(m[k])*inner+i0+k]
				if rdBetter(v, b, true, false) {
					m[k] = float64(j)
				}
			}
		}
		for j := 0; j < r; j++ {
			_, y := row(j)
			for k := range y {
				if int(m[k]) == j {
					y[k] = 1
				} else {
					y[k] = 0
				}
			}
		}
	case smL1, smL2:
		rdFill(s, 0)
		for j := 0; j < r; j++ {
			x, _ := row(j)
			for k, v := range x {
				f := float64(v)
				if mode == smL1 {
					s[k] += math.Abs(f)
				} else {
					s[k] += f * f
				}
			}
		}
		if mode == smL2 {
			for k := range s {
				s[k] = math.Sqrt(s[k])
			}
		}
		for j := 0; j < r; j++ {
			x, y := row(j)
			for k, v := range x {
				y[k] = F(float64(v) / s[k])
			}
		}
	}
}
