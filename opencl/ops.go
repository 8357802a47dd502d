//go:build opencl

package opencl

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/plan"
	"github.com/accel-go/accel/cpu"
)

// deviceOps is the kernel table: op type -> what it prepares. Ops not here
// run on the CPU engine (see notYet in the tests).
var deviceOps = map[string]func(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error){}

func init() {
	for _, op := range []string{"Relu", "Sigmoid", "Tanh", "Exp", "Log", "Neg", "Abs", "Sqrt", "Erf", "LeakyRelu",
		"HardSigmoid", "HardSwish", "Gelu", "Elu", "Softplus", "Reciprocal", "Floor", "Ceil", "Sin", "Cos", "Selu", "Softsign", "Clip"} {
		deviceOps[op] = prepUnary
	}
	for op := range binaryCodes {
		deviceOps[op] = prepBinary
	}
	deviceOps["Where"] = prepWhere
	deviceOps["MatMul"] = prepMatMul
	deviceOps["Gemm"] = prepGemm
	deviceOps["Conv"] = prepConv
	deviceOps["MaxPool"] = prepPool
	deviceOps["AveragePool"] = prepPool
	deviceOps["GlobalAveragePool"] = prepGlobalPool
	deviceOps["GlobalMaxPool"] = prepGlobalPool
	deviceOps["Softmax"] = prepSoftmax
	deviceOps["LogSoftmax"] = prepSoftmax
	deviceOps["Transpose"] = prepTranspose
	deviceOps["Concat"] = prepConcat
	deviceOps["BatchNormalization"] = prepBatchNorm
}

// supportedTypes checks the dtypes an op's inputs may have.
func supportedTypes(n *common.Node, in []common.TypeInfo) (bool, string) {
	for i, t := range in {
		if t.Kind == common.KindUnknown {
			continue // absent
		}
		switch {
		case n.OpType == "Where" && i == 0:
			if t.DType != common.Bool {
				return false, "condition must be bool"
			}
		case n.OpType == "Transpose" || n.OpType == "Concat":
			if s := plan.ElemSize(t.DType); s != 1 && s != 2 && s != 4 && s != 8 {
				return false, fmt.Sprintf("no device copy for %v", t.DType)
			}
		case n.OpType == "Clip" && i > 0:
			// bounds: float32 constants, checked in Prepare
		default:
			if ok, why := typeOK(n.OpType, i, t.DType); !ok {
				return false, why
			}
		}
	}
	return true, ""
}

func unaryKernel(d *device, x, y *plan.Operand, code int32, a, b float32) *kernel {
	n := y.Shape.Size()
	return &kernel{rt: d.rt, inPlace: 0, specs: one("unary", n, func(in, out []int64) []int32 {
		return []int32{int32(n), elem(in[0], x.DType), elem(out[0], y.DType), code, fbits(a), fbits(b)}
	})}
}

func prepUnary(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	code, a, b, ok := actCode(n)
	if n.OpType == "Clip" && !ok {
		a, b = float32(math.Inf(-1)), float32(math.Inf(1))
		for i, dst := range []*float32{&a, &b} {
			if len(in) <= i+1 || in[i+1] == nil {
				continue
			}
			c := in[i+1].Const
			if c == nil || c.Len() != 1 || c.DType() != common.Float32 {
				return nil, unsupported("Clip bounds must be float32 constants")
			}
			*dst = float32(c.Float(0))
		}
		ok = true
	}
	if !ok {
		return nil, unsupported("no device form of %s", n.OpType)
	}
	return unaryKernel(d, in[0], out[0], code, a, b), nil
}

func prepBinary(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, unsupported("%s with %d inputs", n.OpType, len(in))
	}
	if n.OpType == "Pow" && in[1].DType != d.ft {
		return nil, unsupported("Pow exponent type")
	}
	if (n.OpType == "Add" || n.OpType == "Sub" || n.OpType == "Mul" || n.OpType == "Div") && n.Opset < 7 && n.HasAttr("broadcast") {
		return nil, unsupported("legacy broadcast attribute")
	}
	a, b, y := in[0], in[1], out[0]
	bp, err := bcastParams(y.Shape, a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	code := binaryCodes[n.OpType]
	boolOut := int32(0)
	if y.DType == common.Bool {
		boolOut = 1
	}
	cnt := y.Shape.Size()
	k := &kernel{rt: d.rt, inPlace: -1, specs: one("binary", cnt, func(i, o []int64) []int32 {
		return append([]int32{int32(cnt), elem(i[0], a.DType), elem(i[1], b.DType), elem(o[0], y.DType), code, boolOut}, bp...)
	})}
	if boolOut == 0 && a.Shape.Equal(y.Shape) {
		k.inPlace = 0
	}
	return k, nil
}

func prepWhere(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	c, x, yv, o := in[0], in[1], in[2], out[0]
	bp, err := bcastParams(o.Shape, c.Shape, x.Shape, yv.Shape)
	if err != nil {
		return nil, err
	}
	cnt := o.Shape.Size()
	return &kernel{rt: d.rt, inPlace: -1, specs: one("where_f", cnt, func(i, oo []int64) []int32 {
		return append([]int32{int32(cnt), elem(i[0], c.DType), elem(i[1], x.DType), elem(i[2], yv.DType), elem(oo[0], o.DType)}, bp...)
	})}, nil
}

// gemmSpec is one batched GEMM launch with element strides.
type gemmSpec struct {
	m, n, k, batch                 int
	aBS, aSM, aSK, bBS, bSK, bSN   int
	cSM, cSN, yBS                  int
	alpha, beta                    float32
	act                            int32
	actA, actB                     float32
	a, b, c, y                     int          // operand indices: in[a], in[b], in[c] (-1), out[y]
	ft                             common.DType // storage type of the float tensors
	aExtra, bExtra, cExtra, yExtra int64
}

// gemmKernel picks the GEMM kernel and its grid: 64x64 tiles (4x4
// outputs per work item) once the output holds a full tile, else 16x16.
func gemmKernel(m, n, batch int) (string, [3]int) {
	if m >= 64 && n >= 64 {
		t := func(v int) int { return (v + 63) / 64 * 16 }
		return "gemm4", [3]int{t(n), t(m), batch}
	}
	rnd := func(v int) int { return (v + 15) / 16 * 16 }
	return "gemm", [3]int{rnd(n), rnd(m), batch}
}

func gemmLaunch(g gemmSpec) launchSpec {
	name, grid := gemmKernel(g.m, g.n, g.batch)
	return launchSpec{name: name, dims: 3, global: grid, local: [3]int{16, 16, 1},
		params: func(in, out []int64) []int32 {
			coff := int32(-1)
			if g.c >= 0 {
				coff = elem(in[g.c], g.ft) + int32(g.cExtra)
			}
			return []int32{int32(g.m), int32(g.n), int32(g.k),
				elem(in[g.a], g.ft) + int32(g.aExtra), elem(in[g.b], g.ft) + int32(g.bExtra), coff,
				elem(out[g.y], g.ft) + int32(g.yExtra),
				int32(g.aBS), int32(g.aSM), int32(g.aSK), int32(g.bBS), int32(g.bSK), int32(g.bSN),
				int32(g.cSM), int32(g.cSN), int32(g.yBS), fbits(g.alpha), fbits(g.beta), g.act, fbits(g.actA), fbits(g.actB)}
		}}
}

func fusedAct(n *common.Node) (int32, float32, float32, error) {
	if n.Fused == nil {
		return 0, 0, 0, nil
	}
	code, a, b, ok := actCode(n.Fused)
	if !ok {
		return 0, 0, 0, unsupported("fused %s", n.Fused.OpType)
	}
	return code, a, b, nil
}

func prepMatMul(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	a, b, y := in[0], in[1], out[0]
	if len(a.Shape) < 1 || len(b.Shape) < 1 {
		return nil, unsupported("MatMul of scalars")
	}
	as, bs := a.Shape, b.Shape
	if len(as) == 1 {
		as = common.Shape{1, as[0]}
	}
	if len(bs) == 1 {
		bs = common.Shape{bs[0], 1}
	}
	m, k, nn := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	if bs[len(bs)-2] != k {
		return nil, fmt.Errorf("%w: MatMul %v x %v", common.ErrShape, a.Shape, b.Shape)
	}
	ab, bb := common.Shape(as[:len(as)-2]).Size(), common.Shape(bs[:len(bs)-2]).Size()
	batch := max(ab, bb)
	if y.Shape.Size() != batch*m*nn {
		return nil, unsupported("MatMul batch broadcast %v x %v", a.Shape, b.Shape)
	}
	g := gemmSpec{ft: d.ft, m: m, n: nn, k: k, batch: batch, aSM: k, aSK: 1, bSK: nn, bSN: 1, yBS: m * nn, alpha: 1, c: -1, b: 1}
	if ab == batch {
		g.aBS = m * k
	} else if ab != 1 {
		return nil, unsupported("MatMul batch broadcast %v x %v", a.Shape, b.Shape)
	}
	if bb == batch {
		g.bBS = k * nn
	} else if bb != 1 {
		return nil, unsupported("MatMul batch broadcast %v x %v", a.Shape, b.Shape)
	}
	if batch > 1 && ab == batch && bb == batch && !trimOnes(as[:len(as)-2]).Equal(trimOnes(bs[:len(bs)-2])) {
		return nil, unsupported("MatMul batch broadcast %v x %v", a.Shape, b.Shape)
	}
	return &kernel{rt: d.rt, inPlace: -1, specs: []launchSpec{gemmLaunch(g)}}, nil
}

// trimOnes drops leading 1s: batch dims [1 4] and [4] are the same batch.
func trimOnes(s common.Shape) common.Shape {
	for len(s) > 0 && s[0] == 1 {
		s = s[1:]
	}
	return s
}

func prepGemm(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	a, b, y := in[0], in[1], out[0]
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		return nil, unsupported("Gemm of ranks %d, %d", len(a.Shape), len(b.Shape))
	}
	if n.Opset < 7 && n.HasAttr("broadcast") && n.AttrInt("broadcast", 0) == 0 && len(in) > 2 && in[2] != nil && !in[2].Shape.Equal(y.Shape) {
		return nil, unsupported("Gemm without broadcast")
	}
	ta, tb := n.AttrInt("transA", 0) != 0, n.AttrInt("transB", 0) != 0
	m, k := a.Shape[0], a.Shape[1]
	g := gemmSpec{ft: d.ft, aSM: k, aSK: 1, batch: 1, alpha: n.AttrFloat("alpha", 1), beta: n.AttrFloat("beta", 1), b: 1, c: -1}
	if ta {
		m, k = k, m
		g.aSM, g.aSK = 1, m
	}
	kb, nn := b.Shape[0], b.Shape[1]
	g.bSK, g.bSN = nn, 1
	if tb {
		kb, nn = nn, kb
		g.bSK, g.bSN = 1, k
	}
	if kb != k {
		return nil, fmt.Errorf("%w: Gemm inner dims %d and %d", common.ErrShape, k, kb)
	}
	g.m, g.n, g.k, g.yBS = m, nn, k, m*nn
	if len(in) > 2 && in[2] != nil {
		c := in[2]
		if len(c.Shape) > 2 {
			return nil, unsupported("Gemm C of rank %d", len(c.Shape))
		}
		st := cpu.BroadcastStrides(c.Shape, common.Shape{m, nn})
		g.c, g.cSM, g.cSN = 2, st[0], st[1]
	}
	var err error
	if g.act, g.actA, g.actB, err = fusedAct(n); err != nil {
		return nil, err
	}
	return &kernel{rt: d.rt, inPlace: -1, specs: []launchSpec{gemmLaunch(g)}}, nil
}

// windowAttrs resolves kernel, strides, dilations and begin/end pads of
// a 1-D or 2-D window op to 2-D, from the known output size.
type window struct {
	kh, kw, sh, sw, dh, dw, ph, pw, peh, pew int
}

func windowOf(n *common.Node, x, y common.Shape, kernelShape []int) (window, error) {
	sp := len(x) - 2
	if sp < 1 || sp > 2 {
		return window{}, unsupported("%d spatial dims", sp)
	}
	get := func(name string, def int) ([]int, error) {
		v := n.AttrInts(name)
		out := make([]int, sp)
		for i := range out {
			out[i] = def
		}
		if v == nil {
			return out, nil
		}
		if len(v) != sp && !(name == "pads" && len(v) == 2*sp) {
			return nil, fmt.Errorf("%w: %s has %d values for %d spatial dims", common.ErrInvalidModel, name, len(v), sp)
		}
		if name == "pads" {
			out = make([]int, 2*sp)
		}
		for i, e := range v {
			if e < 0 || e > 1<<20 {
				return nil, fmt.Errorf("%w: %s value %d", common.ErrInvalidModel, name, e)
			}
			out[i] = int(e)
		}
		return out, nil
	}
	strides, err := get("strides", 1)
	if err != nil {
		return window{}, err
	}
	dil, err := get("dilations", 1)
	if err != nil {
		return window{}, err
	}
	pads := make([]int, 2*sp)
	auto := n.AttrString("auto_pad", "NOTSET")
	switch auto {
	case "NOTSET", "":
		if v := n.AttrInts("pads"); v != nil {
			if len(v) != 2*sp {
				return window{}, fmt.Errorf("%w: pads has %d values", common.ErrInvalidModel, len(v))
			}
			for i, e := range v {
				if e < 0 {
					return window{}, unsupported("negative pads")
				}
				pads[i] = int(e)
			}
		}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		for i := 0; i < sp; i++ {
			total := (y[2+i]-1)*strides[i] + (kernelShape[i]-1)*dil[i] + 1 - x[2+i]
			total = max(total, 0)
			lo := total / 2
			if auto == "SAME_LOWER" {
				lo = total - total/2
			}
			pads[i], pads[sp+i] = lo, total-lo
		}
	default:
		return window{}, fmt.Errorf("%w: auto_pad %q", common.ErrInvalidModel, auto)
	}
	w := window{kh: 1, kw: kernelShape[sp-1], sh: 1, sw: strides[sp-1], dh: 1, dw: dil[sp-1], pw: pads[sp-1], pew: pads[2*sp-1]}
	if sp == 2 {
		w.kh, w.sh, w.dh, w.ph, w.peh = kernelShape[0], strides[0], dil[0], pads[0], pads[2]
	}
	return w, nil
}

func prepConv(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	x, w, y := in[0], in[1], out[0]
	if len(x.Shape) != 3 && len(x.Shape) != 4 || len(w.Shape) != len(x.Shape) || len(y.Shape) != len(x.Shape) {
		return nil, unsupported("Conv of rank %d", len(x.Shape))
	}
	ks := []int{}
	for _, v := range w.Shape[2:] {
		ks = append(ks, v)
	}
	win, err := windowOf(n, x.Shape, y.Shape, ks)
	if err != nil {
		return nil, err
	}
	grp := int(n.AttrInt("group", 1))
	N, C := x.Shape[0], x.Shape[1]
	OC := w.Shape[0]
	if grp < 1 || C%grp != 0 || OC%grp != 0 || w.Shape[1] != C/grp {
		return nil, fmt.Errorf("%w: Conv group %d with %d input channels and weights %v", common.ErrShape, grp, C, w.Shape)
	}
	H, W, OH, OW := 1, x.Shape[len(x.Shape)-1], 1, y.Shape[len(y.Shape)-1]
	if len(x.Shape) == 4 {
		H, OH = x.Shape[2], y.Shape[2]
	}
	act, aa, ab, err := fusedAct(n)
	if err != nil {
		return nil, err
	}
	hasB := len(in) > 2 && in[2] != nil
	// 1x1, stride 1, no padding, one group: a GEMM per image.
	if win.kh == 1 && win.kw == 1 && win.sh == 1 && win.sw == 1 && win.ph+win.pw+win.peh+win.pew == 0 && grp == 1 && !hasB {
		g := gemmSpec{ft: d.ft, m: OC, n: OH * OW, k: C, batch: N, aSM: C, aSK: 1, bBS: C * H * W, bSK: H * W, bSN: 1,
			yBS: OC * OH * OW, alpha: 1, a: 1, b: 0, c: -1, act: act, actA: aa, actB: ab}
		return &kernel{rt: d.rt, inPlace: -1, specs: []launchSpec{gemmLaunch(g)}}, nil
	}
	cnt := y.Shape.Size()
	name := convKernel(win, len(x.Shape), C, grp)
	if name == "conv3x3" {
		cnt = N * OC * OH * ((OW + 3) / 4)
	}
	return &kernel{rt: d.rt, inPlace: -1, specs: one(name, cnt, func(i, o []int64) []int32 {
		boff := int32(-1)
		if hasB {
			boff = elem(i[2], d.ft)
		}
		return []int32{int32(N), int32(C), int32(H), int32(W), int32(OC), int32(OH), int32(OW), int32(win.kh), int32(win.kw),
			int32(win.sh), int32(win.sw), int32(win.ph), int32(win.pw), int32(win.dh), int32(win.dw), int32(grp),
			elem(i[0], d.ft), elem(i[1], d.ft), boff, elem(o[0], d.ft), act, fbits(aa), fbits(ab)}
	})}, nil
}

// convKernel picks the direct convolution kernel: the 3x3 stride-1 one
// (4 outputs per work item), the depthwise one (one input channel per
// group), or the general one.
func convKernel(w window, rank, C, group int) string {
	switch {
	case rank == 4 && w.kh == 3 && w.kw == 3 && w.sh == 1 && w.sw == 1 && w.dh == 1 && w.dw == 1:
		return "conv3x3"
	case group == C:
		return "dwconv"
	}
	return "conv2d"
}

func prepPool(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	x, y := in[0], out[0]
	if len(out) > 1 && out[1] != nil {
		return nil, unsupported("MaxPool indices output")
	}
	if n.AttrInt("storage_order", 0) != 0 {
		return nil, unsupported("storage_order")
	}
	ksi := n.AttrInts("kernel_shape")
	if len(ksi) != len(x.Shape)-2 {
		return nil, fmt.Errorf("%w: kernel_shape %v for input %v", common.ErrInvalidModel, ksi, x.Shape)
	}
	ks := make([]int, len(ksi))
	for i, v := range ksi {
		if v < 1 || v > 1<<20 {
			return nil, fmt.Errorf("%w: kernel_shape %v", common.ErrInvalidModel, ksi)
		}
		ks[i] = int(v)
	}
	win, err := windowOf(n, x.Shape, y.Shape, ks)
	if err != nil {
		return nil, err
	}
	mode := int32(0)
	if n.OpType == "AveragePool" {
		mode = 1
		if n.AttrInt("count_include_pad", 0) != 0 {
			mode = 2
			if n.AttrInt("ceil_mode", 0) != 0 {
				return nil, unsupported("AveragePool ceil_mode with count_include_pad")
			}
		}
		if n.HasAttr("dilations") && n.Opset < 19 {
			win.dh, win.dw = 1, 1
		}
	}
	NC := x.Shape[0] * x.Shape[1]
	H, W, OH, OW := 1, x.Shape[len(x.Shape)-1], 1, y.Shape[len(y.Shape)-1]
	if len(x.Shape) == 4 {
		H, OH = x.Shape[2], y.Shape[2]
	}
	cnt := y.Shape.Size()
	return &kernel{rt: d.rt, inPlace: -1, specs: one("pool2d", cnt, func(i, o []int64) []int32 {
		return []int32{int32(NC), int32(H), int32(W), int32(OH), int32(OW), int32(win.kh), int32(win.kw), int32(win.sh), int32(win.sw),
			int32(win.ph), int32(win.pw), int32(win.dh), int32(win.dw), mode, elem(i[0], d.ft), elem(o[0], d.ft),
			int32(win.peh), int32(win.pew)}
	})}, nil
}

func prepGlobalPool(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	x := in[0]
	if len(x.Shape) < 3 {
		return nil, unsupported("global pool of rank %d", len(x.Shape))
	}
	NC := x.Shape[0] * x.Shape[1]
	HW := common.Shape(x.Shape[2:]).Size()
	mode := int32(0)
	if n.OpType == "GlobalMaxPool" {
		mode = 1
	}
	if HW == 0 {
		return nil, unsupported("empty spatial dims")
	}
	return &kernel{rt: d.rt, inPlace: -1, specs: one("gpool", NC, func(i, o []int64) []int32 {
		return []int32{int32(NC), int32(HW), elem(i[0], d.ft), elem(o[0], d.ft), mode}
	})}, nil
}

func prepSoftmax(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	x := in[0]
	r := len(x.Shape)
	def := int64(-1)
	if n.Opset < 13 {
		def = 1
	}
	ax := n.AttrInt("axis", def)
	if ax < -int64(r) || ax >= int64(r) || r == 0 {
		return nil, fmt.Errorf("%w: softmax axis %d for rank %d", common.ErrInvalidModel, ax, r)
	}
	if ax < 0 {
		ax += int64(r)
	}
	outer := common.Shape(x.Shape[:ax]).Size()
	L, inner := x.Shape[ax], common.Shape(x.Shape[ax+1:]).Size()
	if n.Opset < 13 {
		L, inner = common.Shape(x.Shape[ax:]).Size(), 1
	}
	lg := int32(0)
	if n.OpType == "LogSoftmax" {
		lg = 1
	}
	if L == 0 {
		return nil, unsupported("empty softmax axis")
	}
	return &kernel{rt: d.rt, inPlace: 0, specs: one("softmax", outer*inner, func(i, o []int64) []int32 {
		return []int32{int32(outer), int32(L), int32(inner), elem(i[0], d.ft), elem(o[0], d.ft), lg}
	})}, nil
}

func copyName(d common.DType) string {
	return map[int]string{1: "copy1", 2: "copy2", 4: "copy4", 8: "copy8"}[plan.ElemSize(d)]
}

// copySpec copies dims elements from x (strides xs, extra offset xo) to y
// (strides ys, extra offset yo); offsets in elements.
func copySpec(dt common.DType, xi, yi int, dims []int, xs, ys []int, xo, yo int) (launchSpec, error) {
	if len(dims) > 6 {
		return launchSpec{}, unsupported("rank %d over 6", len(dims))
	}
	cnt := common.Shape(dims).Size()
	p := make([]int32, 0, 18)
	p = append(p, int32(len(dims)))
	for ai, arr := range [][]int{dims, xs, ys} {
		for j := 0; j < 6; j++ {
			v := 0
			if j < len(arr) {
				v = arr[j]
			} else if ai == 0 {
				v = 1
			}
			p = append(p, int32(v))
		}
	}
	return launchSpec{name: copyName(dt), dims: 1, global: [3]int{cnt, 1, 1}, params: func(in, out []int64) []int32 {
		return append([]int32{int32(cnt), elem(in[xi], dt) + int32(xo), elem(out[yi], dt) + int32(yo)}, p...)
	}}, nil
}

func prepTranspose(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	x, y := in[0], out[0]
	r := len(x.Shape)
	perm := n.AttrInts("perm")
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r || r == 0 {
		return nil, fmt.Errorf("%w: perm %v for rank %d", common.ErrInvalidModel, perm, r)
	}
	st := x.Shape.Strides()
	xs := make([]int, r)
	for i, p := range perm {
		if p < 0 || int(p) >= r {
			return nil, fmt.Errorf("%w: perm %v", common.ErrInvalidModel, perm)
		}
		xs[i] = st[p]
	}
	s, err := copySpec(x.DType, 0, 0, y.Shape, xs, y.Shape.Strides(), 0, 0)
	if err != nil {
		return nil, err
	}
	return &kernel{rt: d.rt, inPlace: -1, specs: []launchSpec{s}}, nil
}

func prepConcat(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	y := out[0]
	r := len(y.Shape)
	ax := n.AttrInt("axis", 0)
	if ax < -int64(r) || ax >= int64(r) {
		return nil, fmt.Errorf("%w: Concat axis %d for rank %d", common.ErrInvalidModel, ax, r)
	}
	if ax < 0 {
		ax += int64(r)
	}
	ys := y.Shape.Strides()
	k := &kernel{rt: d.rt, inPlace: -1}
	off := 0
	for i, x := range in {
		if x == nil {
			continue
		}
		if len(x.Shape) != r {
			return nil, fmt.Errorf("%w: Concat input %d has rank %d, output %d", common.ErrShape, i, len(x.Shape), r)
		}
		s, err := copySpec(x.DType, i, 0, x.Shape, x.Shape.Strides(), ys, 0, off*ys[ax])
		if err != nil {
			return nil, err
		}
		k.specs = append(k.specs, s)
		off += x.Shape[ax]
	}
	return k, nil
}

func prepBatchNorm(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	if len(in) < 5 || (len(out) > 1 && out[1] != nil) || n.AttrInt("training_mode", 0) != 0 {
		return nil, unsupported("BatchNormalization training form")
	}
	if n.Opset < 9 && n.HasAttr("spatial") && n.AttrInt("spatial", 1) == 0 {
		return nil, unsupported("BatchNormalization spatial=0")
	}
	x := in[0]
	if len(x.Shape) < 2 {
		return nil, unsupported("BatchNormalization of rank %d", len(x.Shape))
	}
	for _, p := range in[1:5] {
		if p == nil || p.Shape.Size() != x.Shape[1] {
			return nil, unsupported("BatchNormalization parameter shape")
		}
	}
	C, inner, cnt := x.Shape[1], common.Shape(x.Shape[2:]).Size(), x.Shape.Size()
	eps := n.AttrFloat("epsilon", 1e-5)
	return &kernel{rt: d.rt, inPlace: 0, specs: one("batchnorm", cnt, func(i, o []int64) []int32 {
		f := func(j int) int32 { return elem(i[j], d.ft) }
		return []int32{int32(cnt), int32(C), int32(inner), f(0), f(1), f(2), f(3), f(4), elem(o[0], d.ft), fbits(eps)}
	})}, nil
}
