package cpu

import (
	"fmt"
	"math"
	"sync"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("Conv", ViaFloat32(convKernel))
}

// maxSpatialAttr bounds strides, dilations and pads so that the size
// arithmetic cannot overflow.
const maxSpatialAttr = 1 << 24

// spatialInts reads an ints attribute of length want (rank), with def for
// every entry when absent, and checks each entry is at least lo.
func spatialInts(n *common.Node, name string, want, def, lo int) ([]int, error) {
	v := n.AttrInts(name)
	out := make([]int, want)
	if v == nil {
		for i := range out {
			out[i] = def
		}
		return out, nil
	}
	if len(v) != want {
		return nil, fmt.Errorf("%w: %s: attribute %s has %d entries, want %d", common.ErrInvalidModel, n.Label(), name, len(v), want)
	}
	for i, x := range v {
		if x < int64(lo) || x > maxSpatialAttr {
			return nil, fmt.Errorf("%w: %s: attribute %s[%d] = %d is out of range (want %d..%d)", common.ErrInvalidModel, n.Label(), name, i, x, lo, maxSpatialAttr)
		}
		out[i] = int(x)
	}
	return out, nil
}

// spatialAttrs reads strides, dilations and pads (begins then ends) for
// a node with rank spatial dims.
func spatialAttrs(n *common.Node, rank int) (strides, dil, pads []int, err error) {
	if strides, err = spatialInts(n, "strides", rank, 1, 1); err != nil {
		return
	}
	if dil, err = spatialInts(n, "dilations", rank, 1, 1); err != nil {
		return
	}
	pads, err = spatialInts(n, "pads", 2*rank, 0, 0)
	return
}

// autoPad reads and checks the auto_pad attribute.
func autoPad(n *common.Node) (string, error) {
	ap := n.AttrString("auto_pad", "NOTSET")
	switch ap {
	case "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID":
		return ap, nil
	case "":
		return "NOTSET", nil
	}
	return "", fmt.Errorf("%w: %s: unknown auto_pad %q", common.ErrInvalidModel, n.Label(), ap)
}

// spatialOut computes, per spatial dim, the output size and the begin and
// end pads of a sliding window (Conv, pools), from the input sizes, kernel
// sizes, strides, dilations, explicit pads and auto_pad. ceilMode rounds
// the window count up (pools), dropping a last window that would start in
// the end padding.
func spatialOut(n *common.Node, ap string, in, k, s, d, pads []int, ceilMode bool) (out, pb, pe []int, err error) {
	r := len(in)
	out, pb, pe = make([]int, r), make([]int, r), make([]int, r)
	for i := 0; i < r; i++ {
		if k[i] < 1 {
			return nil, nil, nil, fmt.Errorf("%w: %s: kernel dim %d is %d", common.ErrShape, n.Label(), i, k[i])
		}
		dk := (k[i]-1)*d[i] + 1
		switch ap {
		case "SAME_UPPER", "SAME_LOWER":
			o := ceilDiv(in[i], s[i])
			total := max(0, (o-1)*s[i]+dk-in[i])
			if ap == "SAME_UPPER" {
				pb[i] = total / 2
			} else {
				pb[i] = total - total/2
			}
			pe[i] = total - pb[i]
			out[i] = o
			continue
		case "NOTSET":
			pb[i], pe[i] = pads[i], pads[r+i]
		}
		span := in[i] + pb[i] + pe[i] - dk
		if span < 0 {
			return nil, nil, nil, fmt.Errorf("%w: %s: kernel extent %d (kernel %d, dilation %d) is larger than the padded input %d in spatial dim %d",
				common.ErrShape, n.Label(), dk, k[i], d[i], in[i]+pb[i]+pe[i], i)
		}
		if ceilMode {
			out[i] = ceilDiv(span, s[i]) + 1
			if (out[i]-1)*s[i] >= in[i]+pb[i] {
				out[i]--
			}
		} else {
			out[i] = span/s[i] + 1
		}
	}
	return out, pb, pe, nil
}

// convGeom is the geometry of one Conv or ConvTranspose.
type convGeom struct {
	batch, cin, cout, group int
	in, k, out              []int // spatial sizes
	s, d, pb                []int
	inSize, kSize, outSize  int
}

func prod(s []int) int {
	p := 1
	for _, v := range s {
		p *= v
	}
	return p
}

func planConv(n *common.Node, xs, ws common.Shape, bias *common.Tensor) (*convGeom, error) {
	if len(xs) < 3 {
		return nil, fmt.Errorf("%w: %s: Conv input must have rank >= 3 (N, C, spatial...), got %v", common.ErrShape, n.Label(), xs)
	}
	if len(ws) != len(xs) {
		return nil, fmt.Errorf("%w: %s: Conv weight %v and input %v differ in rank", common.ErrShape, n.Label(), ws, xs)
	}
	r := len(xs) - 2
	group := n.AttrInt("group", 1)
	if group < 1 || group > int64(max(1, xs[1])) {
		return nil, fmt.Errorf("%w: %s: Conv group %d is invalid for %d channels", common.ErrInvalidModel, n.Label(), group, xs[1])
	}
	g := &convGeom{batch: xs[0], cin: xs[1], cout: ws[0], group: int(group)}
	if g.cin%g.group != 0 || g.cout%g.group != 0 {
		return nil, fmt.Errorf("%w: %s: Conv group %d does not divide input channels %d and output channels %d", common.ErrShape, n.Label(), group, g.cin, g.cout)
	}
	if ws[1]*g.group != g.cin {
		return nil, fmt.Errorf("%w: %s: Conv weight %v has %d input channels per group, input %v with group %d needs %d", common.ErrShape, n.Label(), ws, ws[1], xs, group, g.cin/g.group)
	}
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
	if bias != nil && (bias.Rank() != 1 || bias.Shape()[0] != g.cout) {
		return nil, fmt.Errorf("%w: %s: Conv bias of shape %v, want [%d]", common.ErrShape, n.Label(), bias.Shape(), g.cout)
	}
	s, d, pads, err := spatialAttrs(n, r)
	if err != nil {
		return nil, err
	}
	ap, err := autoPad(n)
	if err != nil {
		return nil, err
	}
	out, pb, _, err := spatialOut(n, ap, g.in, g.k, s, d, pads, false)
	if err != nil {
		return nil, err
	}
	g.out, g.s, g.d, g.pb = out, s, d, pb
	g.inSize, g.kSize, g.outSize = prod(g.in), prod(g.k), prod(g.out)
	return g, nil
}

// direct reports whether the convolution is a plain matrix product: all
// kernel dims 1, stride 1, no padding.
func (g *convGeom) direct() bool {
	for i := range g.k {
		if g.k[i] != 1 || g.s[i] != 1 || g.pb[i] != 0 || g.out[i] != g.in[i] {
			return false
		}
	}
	return true
}

func convKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
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
		return nil, fmt.Errorf("%w: %s: Conv operands have different types", common.ErrShape, n.Label())
	}
	switch x.DType() {
	case common.Float32, common.Float64:
	default:
		return nil, unsupportedType(n, x.DType())
	}
	if err := checkFused(n); err != nil {
		return nil, err
	}
	g, err := planConv(n, x.Shape(), w.Shape(), b)
	if err != nil {
		return nil, err
	}
	outShape := append(common.Shape{g.batch, g.cout}, g.out...)
	alloc := c.Alloc
	if x.DType() == common.Float32 && g.cin/g.group*g.kSize > 0 {
		// Every float32 path writes each output element: the depthwise
		// kernel row by row, the products with beta 0 (k > 0) tile by
		// tile, edges included.
		alloc = c.AllocNoZero
	}
	y, err := alloc(x.DType(), outShape)
	if err != nil {
		return nil, err
	}
	if y.Len() == 0 {
		return []*common.Tensor{y}, nil
	}
	winoTile := 0
	if x.DType() == common.Float32 && (c.eng == nil || !c.eng.directConv) {
		winoTile = g.winoTile()
	}
	if !g.direct() && !(x.DType() == common.Float32 && (g.depthwise3x3() || g.implicitConv() || winoTile != 0)) {
		if _, err := c.Check(x.DType(), common.Shape{c.Threads(), g.cin / g.group * g.kSize, g.outSize}); err != nil {
			return nil, err
		}
	}
	if winoTile != 0 {
		// The padded input, and the transformed input and products of
		// one block of tiles.
		if _, err := c.Check(common.Float32, common.Shape{g.winoScratchFloats()}); err != nil {
			return nil, err
		}
	}
	switch x.DType() {
	case common.Float32:
		var bd []float32
		if b != nil {
			bd = common.Data[float32](b)
		}
		yd := common.Data[float32](y)
		if g.depthwise3x3() {
			convDepthwise3x3(c, g, common.Data[float32](x), common.Data[float32](w), bd, n.Fused, yd)
			break
		}
		if winoTile != 0 {
			convWinograd(c, g, winoTile, common.Data[float32](x), w, bd, n.Fused, yd)
			break
		}
		var post func(ch0 int, yg []float32) func(i0, rows, j0, cols int)
		if bd != nil || n.Fused != nil {
			// Bias and activation run on each block of the product as
			// soon as it is final, while it is in cache.
			epi := newEpilogue(n.Fused)
			post = func(ch0 int, yg []float32) func(i0, rows, j0, cols int) {
				return func(i0, rows, j0, cols int) {
					for i := i0; i < i0+rows; i++ {
						var bv float32
						if bd != nil {
							bv = bd[ch0+i]
						}
						epi.apply(yg[i*g.outSize+j0:i*g.outSize+j0+cols], bv)
					}
				}
			}
		}
		var pre []float32
		if g.group == 1 {
			pre = prepacked(c, w, g.cout, g.cin*g.kSize)
		}
		if g.implicitConv() {
			convImplicit32(c, g, common.Data[float32](x), common.Data[float32](w), pre, post, yd)
			break
		}
		gemm := sgemmEpi
		if pre != nil {
			// One group: every product's A is the whole weight.
			gemm = func(cc *Ctx, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cOut []float32, ldc int, epi func(i0, rows, j0, cols int)) {
				if m*n*k <= gemmSmall {
					sgemmEpi(cc, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cOut, ldc, epi)
					return
				}
				sgemmPacked(gemmK, cc, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cOut, ldc, &gemmExtra{preA: pre, epi: epi})
			}
		}
		convForward(c, g, common.Data[float32](x), common.Data[float32](w), yd, gemm, post, &colBufs32)
	case common.Float64:
		var bd []float64
		if b != nil {
			bd = common.Data[float64](b)
		}
		yd := common.Data[float64](y)
		convForward(c, g, common.Data[float64](x), common.Data[float64](w), yd, dgemmEpi, nil, &colBufs64)
		convEpilogue(c, g.batch, g.cout, g.outSize, bd, n.Fused, yd)
	}
	return []*common.Tensor{y}, nil
}

// colBufs32 and colBufs64 recycle im2col buffers between calls.
var colBufs32, colBufs64 sync.Pool

func getBuf[T any](p *sync.Pool, n int) *[]T {
	if b, ok := p.Get().(*[]T); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	s := make([]T, n)
	return &s
}

// gemmEpiFunc is the signature of sgemmEpi and dgemmEpi.
type gemmEpiFunc[T any] func(c *Ctx, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, cOut []T, ldc int, epi func(i0, rows, j0, cols int))

// dgemmEpi is dgemm followed by epi on the whole of C (when not nil).
func dgemmEpi(c *Ctx, transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, cOut []float64, ldc int, epi func(i0, rows, j0, cols int)) {
	dgemm(c, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cOut, ldc)
	if epi != nil && m > 0 && n > 0 {
		epi(0, m, 0, n)
	}
}

// convForward computes the convolution into y: per (image, group), im2col
// into a buffer and one matrix product with the group's weights (or the
// product alone for a 1x1, stride 1, unpadded kernel). When post is not
// nil, post(ch0, yg) gives the epilogue the product runs on each finished
// block of the group's output yg (whose first channel is ch0); without it
// y holds the bare convolution.
func convForward[T float32 | float64](c *Ctx, g *convGeom, x, w, y []T, gemm gemmEpiFunc[T], post func(ch0 int, yg []T) func(i0, rows, j0, cols int), bufs *sync.Pool) {
	cg, mg := g.cin/g.group, g.cout/g.group
	kdim := cg * g.kSize
	direct := g.direct()
	one := func(cc *Ctx, img, grp int, col []T) {
		xg := x[(img*g.cin+grp*cg)*g.inSize:]
		wg := w[grp*mg*kdim:]
		yg := y[(img*g.cout+grp*mg)*g.outSize:]
		var epi func(i0, rows, j0, cols int)
		if post != nil {
			epi = post(grp*mg, yg)
		}
		if direct {
			gemm(cc, false, false, mg, g.outSize, cg, 1, wg, cg, xg, g.inSize, 0, yg, g.outSize, epi)
			return
		}
		im2col(cc, g, cg, xg, col)
		gemm(cc, false, false, mg, g.outSize, kdim, 1, wg, kdim, col, g.outSize, 0, yg, g.outSize, epi)
	}
	pairs := g.batch * g.group
	colLen := 0
	if !direct {
		colLen = kdim * g.outSize
	}
	work := mg * g.outSize * kdim
	if pairs > 1 && work < 1<<18 {
		// Many small products (depthwise, small images): one pair per
		// thread, each with its own column buffer.
		c.Parallel(pairs, max(1, (1<<18)/max(1, work)), func(lo, hi int) {
			buf := getBuf[T](bufs, colLen)
			for p := lo; p < hi; p++ {
				one(nil, p/g.group, p%g.group, *buf)
			}
			bufs.Put(buf)
		})
		return
	}
	buf := getBuf[T](bufs, colLen)
	for p := 0; p < pairs; p++ {
		one(c, p/g.group, p%g.group, *buf)
	}
	bufs.Put(buf)
}

// im2col writes the column matrix of one group's input xg (cg channels of
// g.inSize) into col: row (ch, kernel offset) holds, for every output
// position, the input value the kernel tap reads there (0 in padding).
func im2col[T float32 | float64](c *Ctx, g *convGeom, cg int, xg, col []T) {
	r := len(g.in)
	rows := cg * g.kSize
	last := r - 1
	outL, inL, sL := g.out[last], g.in[last], g.s[last]
	outer := g.outSize / outL
	body := func(lo, hi int) {
		var kbuf, obuf [8]int
		kidx, oc := kbuf[:0], obuf[:0]
		if r > len(kbuf) {
			kidx, oc = make([]int, r), make([]int, r)
		} else {
			kidx, oc = kbuf[:r], obuf[:r]
		}
		for row := lo; row < hi; row++ {
			ch, kr := row/g.kSize, row%g.kSize
			for i := last; i >= 0; i-- {
				kidx[i] = kr % g.k[i]
				kr /= g.k[i]
			}
			src := xg[ch*g.inSize : (ch+1)*g.inSize]
			dst := col[row*g.outSize : (row+1)*g.outSize]
			clear(oc)
			off := kidx[last]*g.d[last] - g.pb[last]
			// Output range whose input index is inside [0, inL).
			oLo, oHi := windowRange(off, sL, inL, outL)
			for o := 0; o < outer; o++ {
				base, valid := 0, true
				for i := 0; i < last; i++ {
					pos := oc[i]*g.s[i] - g.pb[i] + kidx[i]*g.d[i]
					if pos < 0 || pos >= g.in[i] {
						valid = false
						break
					}
					base = base*g.in[i] + pos
				}
				seg := dst[o*outL : (o+1)*outL]
				if !valid || oLo >= oHi {
					clear(seg)
				} else {
					clear(seg[:oLo])
					clear(seg[oHi:])
					line := src[base*inL : (base+1)*inL]
					if sL == 1 {
						copy(seg[oLo:oHi], line[oLo+off:oHi+off])
					} else if s32, ok := any(seg).([]float32); ok && sL == 2 {
						copyStride2(s32[oLo:oHi], any(line).([]float32)[oLo*2+off:])
					} else {
						for ow := oLo; ow < oHi; ow++ {
							seg[ow] = line[ow*sL+off]
						}
					}
				}
				for i := last - 1; i >= 0; i-- {
					oc[i]++
					if oc[i] < g.out[i] {
						break
					}
					oc[i] = 0
				}
			}
		}
	}
	if c == nil {
		body(0, rows)
		return
	}
	c.Parallel(rows, max(1, (1<<14)/max(1, g.outSize)), body)
}

// windowRange returns the range [lo, hi) of output indices o in [0, outL)
// for which o*s + off lies in [0, inL).
func windowRange(off, s, inL, outL int) (lo, hi int) {
	if off < 0 {
		lo = ceilDiv(-off, s)
	}
	if inL-1-off < 0 {
		return 0, 0
	}
	hi = min(outL, (inL-1-off)/s+1)
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// convEpilogue adds the per-channel bias and applies a fused activation,
// in parallel over the (image, channel) planes of y.
func convEpilogue[T float32 | float64](c *Ctx, batch, ch, plane int, bias []T, fused *common.Node, y []T) {
	if bias == nil && fused == nil {
		return
	}
	c.Parallel(batch*ch, max(1, (1<<14)/max(1, plane)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			seg := y[p*plane : (p+1)*plane]
			if bias != nil {
				bv := bias[p%ch]
				for i := range seg {
					seg[i] += bv
				}
			}
			if fused != nil {
				_ = applyFusedT(fused, seg)
			}
		}
	})
}

// checkFused returns an error, before any work, when n carries a fused
// activation that applyFused does not implement.
func checkFused(n *common.Node) error {
	if n.Fused == nil {
		return nil
	}
	if err := applyFused(n.Fused, nil); err != nil {
		return fmt.Errorf("%s: %w", n.Label(), err)
	}
	return nil
}

// applyFused applies the activation node f (folded into a Conv or Gemm by
// a graph pass) to data in place. It handles Relu, LeakyRelu, Clip (bounds
// in the float attributes "min"/"max"), Sigmoid, Tanh, HardSigmoid and
// HardSwish, and returns an ErrUnsupported error for anything else.
func applyFused(f *common.Node, data []float32) error { return applyFusedT(f, data) }

func applyFusedT[T float32 | float64](f *common.Node, data []T) error {
	switch f.OpType {
	case "Relu":
		for i, v := range data {
			if v < 0 {
				data[i] = 0
			}
		}
	case "LeakyRelu":
		a := T(f.AttrFloat("alpha", 0.01))
		for i, v := range data {
			if v < 0 {
				data[i] = v * a
			}
		}
	case "Clip":
		lo := T(f.AttrFloat("min", float32(math.Inf(-1))))
		hi := T(f.AttrFloat("max", float32(math.Inf(1))))
		for i, v := range data {
			if v < lo {
				v = lo
			}
			if v > hi {
				v = hi
			}
			data[i] = v
		}
	case "Sigmoid":
		for i, v := range data {
			data[i] = T(1 / (1 + math.Exp(-float64(v))))
		}
	case "Tanh":
		for i, v := range data {
			data[i] = T(math.Tanh(float64(v)))
		}
	case "HardSigmoid":
		a, b := T(f.AttrFloat("alpha", 0.2)), T(f.AttrFloat("beta", 0.5))
		for i, v := range data {
			data[i] = max(0, min(1, a*v+b))
		}
	case "HardSwish":
		for i, v := range data {
			data[i] = v * max(0, min(1, v/6+0.5))
		}
	default:
		return fmt.Errorf("%w: fused activation %s", common.ErrUnsupported, f.OpType)
	}
	return nil
}
