package cpu

import (
	"fmt"
	"sync"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("ConvTranspose", ViaFloat32(convTransposeKernel))
}

// floorDiv2 is floor(v/2) for any sign.
func floorDiv2(v int) int {
	if v >= 0 {
		return v / 2
	}
	return -((-v + 1) / 2)
}

// planConvTranspose works out a ConvTranspose's geometry. g.in is the
// input (X) spatial size and g.out the output's; g.pb are the begin pads
// (negative when output_shape asks for more than the full result).
func planConvTranspose(n *common.Node, xs, ws common.Shape, bias *common.Tensor) (*convGeom, error) {
	if len(xs) < 3 {
		return nil, fmt.Errorf("%w: %s: ConvTranspose input must have rank >= 3, got %v", common.ErrShape, n.Label(), xs)
	}
	if len(ws) != len(xs) {
		return nil, fmt.Errorf("%w: %s: ConvTranspose weight %v and input %v differ in rank", common.ErrShape, n.Label(), ws, xs)
	}
	r := len(xs) - 2
	group := n.AttrInt("group", 1)
	if group < 1 || group > int64(max(1, xs[1])) {
		return nil, fmt.Errorf("%w: %s: ConvTranspose group %d is invalid for %d channels", common.ErrInvalidModel, n.Label(), group, xs[1])
	}
	g := &convGeom{batch: xs[0], cin: xs[1], group: int(group)}
	if ws[0] != g.cin || g.cin%g.group != 0 {
		return nil, fmt.Errorf("%w: %s: ConvTranspose weight %v does not fit input %v with group %d", common.ErrShape, n.Label(), ws, xs, group)
	}
	g.cout = ws[1] * g.group
	g.in, g.k = []int(xs[2:]), []int(ws[2:])
	if ks := n.AttrInts("kernel_shape"); ks != nil {
		if len(ks) != r {
			return nil, fmt.Errorf("%w: %s: kernel_shape %v does not match rank %d", common.ErrInvalidModel, n.Label(), ks, r)
		}
		for i, v := range ks {
			if int64(g.k[i]) != v {
				return nil, fmt.Errorf("%w: %s: kernel_shape %v does not match weight %v", common.ErrShape, n.Label(), ks, ws)
			}
		}
	}
	for i, v := range g.k {
		if v < 1 {
			return nil, fmt.Errorf("%w: %s: kernel dim %d is %d", common.ErrShape, n.Label(), i, v)
		}
	}
	if bias != nil && (bias.Rank() != 1 || bias.Shape()[0] != g.cout) {
		return nil, fmt.Errorf("%w: %s: ConvTranspose bias of shape %v, want [%d]", common.ErrShape, n.Label(), bias.Shape(), g.cout)
	}
	s, d, pads, err := spatialAttrs(n, r)
	if err != nil {
		return nil, err
	}
	outPad, err := spatialInts(n, "output_padding", r, 0, 0)
	if err != nil {
		return nil, err
	}
	ap, err := autoPad(n)
	if err != nil {
		return nil, err
	}
	var outShape []int
	if os := n.AttrInts("output_shape"); os != nil {
		if len(os) == r+2 {
			os = os[2:]
		}
		if len(os) != r {
			return nil, fmt.Errorf("%w: %s: output_shape %v does not match rank %d", common.ErrInvalidModel, n.Label(), n.AttrInts("output_shape"), r)
		}
		outShape = make([]int, r)
		for i, v := range os {
			if v < 0 || v > 1<<40 {
				return nil, fmt.Errorf("%w: %s: output_shape %v is invalid", common.ErrInvalidModel, n.Label(), os)
			}
			outShape[i] = int(v)
		}
	} else if ap == "SAME_UPPER" || ap == "SAME_LOWER" {
		outShape = make([]int, r)
		for i := range outShape {
			outShape[i] = g.in[i] * s[i]
		}
	}
	g.out, g.pb = make([]int, r), make([]int, r)
	for i := 0; i < r; i++ {
		dk := (g.k[i]-1)*d[i] + 1
		full := s[i]*(g.in[i]-1) + outPad[i] + dk
		if g.in[i] == 0 {
			full = 0
		}
		var pb, pe int
		switch {
		case outShape != nil:
			total := full - outShape[i]
			if ap == "SAME_UPPER" {
				pb = floorDiv2(total)
				pe = total - pb
			} else {
				pe = floorDiv2(total)
				pb = total - pe
			}
		case ap == "VALID":
		default:
			pb, pe = pads[i], pads[r+i]
		}
		g.out[i] = full - pb - pe
		g.pb[i] = pb
		if g.out[i] < 0 {
			return nil, fmt.Errorf("%w: %s: ConvTranspose pads %d+%d exceed the output size %d in spatial dim %d", common.ErrShape, n.Label(), pb, pe, full, i)
		}
	}
	g.s, g.d = s, d
	g.inSize, g.kSize, g.outSize = prod(g.in), prod(g.k), prod(g.out)
	return g, nil
}

func convTransposeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	w, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	b := opt(in, 2)
	if w.DType() != x.DType() || (b != nil && b.DType() != x.DType()) {
		return nil, fmt.Errorf("%w: %s: ConvTranspose operands have different types", common.ErrShape, n.Label())
	}
	switch x.DType() {
	case common.Float32, common.Float64:
	default:
		return nil, unsupportedType(n, x.DType())
	}
	if err := checkFused(n); err != nil {
		return nil, err
	}
	g, err := planConvTranspose(n, x.Shape(), w.Shape(), b)
	if err != nil {
		return nil, err
	}
	y, err := c.Alloc(x.DType(), append(common.Shape{g.batch, g.cout}, g.out...))
	if err != nil {
		return nil, err
	}
	if y.Len() == 0 {
		return []*common.Tensor{y}, nil
	}
	if _, err := c.Check(x.DType(), common.Shape{g.cout / g.group * g.kSize, g.inSize}); err != nil {
		return nil, err
	}
	switch x.DType() {
	case common.Float32:
		var bd []float32
		if b != nil {
			bd = common.Data[float32](b)
		}
		yd := common.Data[float32](y)
		convTransposeForward(c, g, common.Data[float32](x), common.Data[float32](w), yd, sgemm, &colBufs32)
		convEpilogue(c, g.batch, g.cout, g.outSize, bd, n.Fused, yd)
	case common.Float64:
		var bd []float64
		if b != nil {
			bd = common.Data[float64](b)
		}
		yd := common.Data[float64](y)
		convTransposeForward(c, g, common.Data[float64](x), common.Data[float64](w), yd, dgemm, &colBufs64)
		convEpilogue(c, g.batch, g.cout, g.outSize, bd, n.Fused, yd)
	}
	return []*common.Tensor{y}, nil
}

// convTransposeForward computes the transposed convolution without bias
// into y (zeroed): per (image, group), col = W_g^T * X_g, then col2im
// scatters each column row into the output.
func convTransposeForward[T float32 | float64](c *Ctx, g *convGeom, x, w, y []T, gemm gemmFunc[T], bufs *sync.Pool) {
	cg, mg := g.cin/g.group, g.cout/g.group
	rows := mg * g.kSize
	if g.inSize == 0 {
		return
	}
	buf := getBuf[T](bufs, rows*g.inSize)
	col := *buf
	for img := 0; img < g.batch; img++ {
		for grp := 0; grp < g.group; grp++ {
			xg := x[(img*g.cin+grp*cg)*g.inSize:]
			wg := w[grp*cg*rows:]
			yg := y[(img*g.cout+grp*mg)*g.outSize:]
			gemm(c, true, false, rows, g.inSize, cg, 1, wg, rows, xg, g.inSize, 0, col, g.inSize)
			c.Parallel(mg, max(1, (1<<14)/max(1, g.kSize*g.inSize)), func(lo, hi int) {
				col2im(g, col, yg, lo, hi)
			})
		}
	}
	bufs.Put(buf)
}

// col2im adds the column rows of output channels [mlo, mhi) of one group
// into their output planes of yg.
func col2im[T float32 | float64](g *convGeom, col, yg []T, mlo, mhi int) {
	r := len(g.in)
	last := r - 1
	inL, outL, sL := g.in[last], g.out[last], g.s[last]
	outer := g.inSize / inL
	kidx, ic := make([]int, r), make([]int, r)
	for m := mlo; m < mhi; m++ {
		dst := yg[m*g.outSize : (m+1)*g.outSize]
		for kr := 0; kr < g.kSize; kr++ {
			rem := kr
			for i := last; i >= 0; i-- {
				kidx[i] = rem % g.k[i]
				rem /= g.k[i]
			}
			src := col[(m*g.kSize+kr)*g.inSize : (m*g.kSize+kr+1)*g.inSize]
			off := kidx[last]*g.d[last] - g.pb[last]
			// Input range whose output index o = i*s + off is in [0, outL).
			iLo, iHi := windowRange(off, sL, outL, inL)
			clear(ic)
			for o := 0; o < outer; o++ {
				base, valid := 0, true
				for i := 0; i < last; i++ {
					pos := ic[i]*g.s[i] - g.pb[i] + kidx[i]*g.d[i]
					if pos < 0 || pos >= g.out[i] {
						valid = false
						break
					}
					base = base*g.out[i] + pos
				}
				if valid && iLo < iHi {
					line := dst[base*outL : (base+1)*outL]
					seg := src[o*inL : (o+1)*inL]
					for iw := iLo; iw < iHi; iw++ {
						line[iw*sL+off] += seg[iw]
					}
				}
				for i := last - 1; i >= 0; i-- {
					ic[i]++
					if ic[i] < g.in[i] {
						break
					}
					ic[i] = 0
				}
			}
		}
	}
}
