package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

// GridSample (opsets 16, 20, 22): X of shape (N, C, D1, ..., Dr) is
// sampled at the normalized positions of grid, of shape (N, O1, ..., Or, r)
// whose last axis lists coordinates innermost axis first (x, y, z).

func init() { reg("GridSample", gridSampleKernel) }

const (
	gsNearest = iota
	gsLinear
	gsCubic
)

const (
	gsZeros = iota
	gsBorder
	gsReflection
)

// gsMaxDims bounds the spatial rank (4^r taps per output for cubic).
const gsMaxDims = 6

func gridSampleKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	grid, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	rank := x.Rank()
	nd := rank - 2
	xs, gsh := x.Shape(), grid.Shape()
	if nd < 1 || nd > gsMaxDims {
		return nil, fmt.Errorf("%w: %s: input must have rank 3 to %d, got %v", common.ErrShape, n.OpType, gsMaxDims+2, xs)
	}
	if grid.Rank() != rank || gsh[0] != xs[0] || gsh[rank-1] != nd {
		return nil, fmt.Errorf("%w: %s: grid of shape %v does not fit input %v (want (%d, ..., %d))", common.ErrShape, n.OpType, gsh, xs, xs[0], nd)
	}
	mode := gsLinear
	switch m := n.AttrString("mode", "linear"); m {
	case "linear", "bilinear":
	case "nearest":
		mode = gsNearest
	case "cubic", "bicubic":
		mode = gsCubic
	default:
		return nil, fmt.Errorf("%w: %s: mode %q", common.ErrInvalidModel, n.OpType, m)
	}
	pad := gsZeros
	switch m := n.AttrString("padding_mode", "zeros"); m {
	case "zeros":
	case "border":
		pad = gsBorder
	case "reflection":
		pad = gsReflection
	default:
		return nil, fmt.Errorf("%w: %s: padding_mode %q", common.ErrInvalidModel, n.OpType, m)
	}
	align := n.AttrInt("align_corners", 0) != 0
	if !grid.DType().IsFloat() {
		return nil, unsupportedType(n, grid.DType())
	}
	outShape := append(common.Shape{xs[0], xs[1]}, gsh[1:rank-1]...)
	if _, err := c.Check(x.DType(), outShape); err != nil {
		return nil, fmt.Errorf("%s: %w", n.OpType, err)
	}
	xd, err := normLoad(n, x)
	if err != nil {
		return nil, err
	}
	od, err := normAlloc(c, xd, outShape)
	if err != nil {
		return nil, err
	}
	g := common.Data[float32](ToFloat32(grid))
	s := gsSetup{dims: xs[2:], mode: mode, pad: pad, align: align, nb: xs[0], ch: xs[1], outSp: outShape[2:].Size()}
	if xd.f64 != nil {
		gridSample(c, od.f64, xd.f64, g, &s)
	} else {
		gridSample(c, od.f32, xd.f32, g, &s)
	}
	return []*common.Tensor{od.tensor(outShape)}, nil
}

type gsSetup struct {
	dims      common.Shape // spatial dims of X
	mode, pad int
	align     bool
	nb, ch    int
	outSp     int // output positions per (n, c)
}

// gsReflect reflects x into [lo, hi] by the nearer border, repeatedly.
func gsReflect(x, lo, hi float64) float64 {
	rng := hi - lo
	if rng <= 0 {
		return lo
	}
	if x < lo {
		dx := lo - x
		k := math.Floor(dx / rng)
		r := dx - k*rng
		if math.Mod(k, 2) == 0 {
			return lo + r
		}
		return hi - r
	}
	if x > hi {
		dx := x - hi
		k := math.Floor(dx / rng)
		r := dx - k*rng
		if math.Mod(k, 2) == 0 {
			return hi - r
		}
		return lo + r
	}
	return x
}

// gsCubicCoeffs are the cubic convolution weights (A = -0.75) of the four
// taps x0-1 .. x0+2 for a fractional offset t in [0, 1).
func gsCubicCoeffs(t float64, w *[4]float64) {
	const A = -0.75
	w[0] = ((A*(t+1)-5*A)*(t+1)+8*A)*(t+1) - 4*A
	w[1] = ((A+2)*t-(A+3))*t*t + 1
	w[2] = ((A+2)*(1-t)-(A+3))*(1-t)*(1-t) + 1
	w[3] = ((A*(2-t)-5*A)*(2-t)+8*A)*(2-t) - 4*A
}

// taps computes, for one spatial axis of length L and source coordinate
// v, the source indices and weights; a negative index reads zero.
func (s *gsSetup) taps(v float64, L int, lo, hi float64, idx *[4]int, w *[4]float64) int {
	at := func(i int) int {
		if i >= 0 && i < L {
			return i
		}
		switch s.pad {
		case gsBorder:
			return min(max(i, 0), L-1)
		case gsReflection:
			r := int(gsReflect(float64(i), lo, hi))
			return min(max(r, 0), L-1)
		}
		return -1
	}
	switch s.mode {
	case gsNearest:
		idx[0], w[0] = at(int(math.RoundToEven(v))), 1
		return 1
	case gsLinear:
		f := math.Floor(v)
		i0 := int(f)
		t := v - f
		idx[0], w[0] = at(i0), 1-t
		idx[1], w[1] = at(i0+1), t
		return 2
	}
	f := math.Floor(v)
	i0 := int(f)
	gsCubicCoeffs(v-f, w)
	for k := 0; k < 4; k++ {
		idx[k] = at(i0 - 1 + k)
	}
	return 4
}

func gridSample[T normFloat](c *Ctx, out, x []T, grid []float32, s *gsSetup) {
	nd := len(s.dims)
	inSp := s.dims.Size()
	strides := s.dims.Strides()
	maxTaps := 1
	per := 1
	switch s.mode {
	case gsLinear:
		per = 2
	case gsCubic:
		per = 4
	}
	for i := 0; i < nd; i++ {
		maxTaps *= per
	}
	c.Parallel(s.nb*s.outSp, max(1, 1024/max(1, s.ch*maxTaps)), func(lo, hi int) {
		offs := make([]int, maxTaps)
		ws := make([]float64, maxTaps)
		var idx [gsMaxDims][4]int
		var wt [gsMaxDims][4]float64
		var cnt [gsMaxDims]int
		for u := lo; u < hi; u++ {
			b, p := u/s.outSp, u%s.outSp
			gv := grid[u*nd : (u+1)*nd]
			for a := 0; a < nd; a++ {
				L := s.dims[a]
				g := gv[nd-1-a] // grid lists the innermost axis first
				var v float32
				var bl, bh float64
				if s.align {
					v = (g + 1) / 2 * float32(L-1)
					bl, bh = 0, float64(L-1)
				} else {
					v = ((g+1)*float32(L) - 1) / 2
					bl, bh = -0.5, float64(L)-0.5
				}
				fv := float64(v)
				if fv < bl || fv > bh {
					switch s.pad {
					case gsBorder:
						fv = math.Min(math.Max(fv, 0), float64(L-1))
					case gsReflection:
						fv = float64(float32(gsReflect(fv, bl, bh)))
					}
				}
				// Far outside (zeros padding) every tap reads zero; keep
				// the index arithmetic in range.
				fv = math.Max(-4, math.Min(fv, float64(L)+4))
				if math.IsNaN(fv) {
					fv = -4
				}
				cnt[a] = s.taps(fv, L, bl, bh, &idx[a], &wt[a])
			}
			// Combine the per-axis taps into flat offsets and weights.
			nt := 1
			offs[0], ws[0] = 0, 1
			for a := 0; a < nd; a++ {
				// Expand in place from the back so entries are not
				// overwritten before they are read.
				total := nt * cnt[a]
				for t := nt - 1; t >= 0; t-- {
					o, w := offs[t], ws[t]
					for k := cnt[a] - 1; k >= 0; k-- {
						j := t*cnt[a] + k
						if o < 0 || idx[a][k] < 0 {
							offs[j], ws[j] = -1, 0
							continue
						}
						offs[j] = o + idx[a][k]*strides[a]
						ws[j] = w * wt[a][k]
					}
				}
				nt = total
			}
			for ch := 0; ch < s.ch; ch++ {
				src := x[(b*s.ch+ch)*inSp : (b*s.ch+ch+1)*inSp]
				var acc float64
				for t := 0; t < nt; t++ {
					if offs[t] >= 0 {
						acc += ws[t] * float64(src[offs[t]])
					}
				}
				out[(b*s.ch+ch)*s.outSp+p] = T(acc)
			}
		}
	})
}
