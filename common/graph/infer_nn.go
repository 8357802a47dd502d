package graph

import (
	"math"
	"sort"
	"strings"

	"github.com/accel-go/accel/common"
)

func init() {
	for _, op := range []string{"Conv", "ConvInteger", "QLinearConv", "MaxPool", "AveragePool", "LpPool"} {
		rules[op] = ruleWindow
	}
	rules["ConvTranspose"] = ruleConvTranspose
	for _, op := range []string{"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"} {
		rules[op] = func(c *nctx) []TypeInfo {
			x, ok := c.shape(0)
			if !ok {
				return one(typeOnly(c.dt(0)))
			}
			d := cloneDims(x)
			for i := 2; i < len(d); i++ {
				d[i] = common.Dim{Value: 1}
			}
			return one(shaped(c.dt(0), d))
		}
	}
	rules["Gemm"] = ruleGemm
	rules["MatMul"] = matmulRule(0, 1, -1)
	rules["MatMulInteger"] = matmulRule(0, 1, -2)
	rules["QLinearMatMul"] = matmulRule(0, 3, 7)
	rules["RNN"] = ruleRNN
	rules["GRU"] = ruleRNN
	rules["LSTM"] = ruleRNN
	rules["Resize"] = ruleResize
	rules["Upsample"] = ruleResize
	rules["Einsum"] = ruleEinsum
	rules["GridSample"] = func(c *nctx) []TypeInfo {
		dt := c.dt(0)
		x, ok1 := c.shape(0)
		g, ok2 := c.shape(1)
		if !ok1 || !ok2 || len(x) < 3 || len(g) != len(x) {
			if ok1 {
				return one(rankOnly(dt, len(x)))
			}
			return one(typeOnly(dt))
		}
		out := []common.Dim{x[0], x[1]}
		out = append(out, g[1:len(g)-1]...)
		return one(shaped(dt, out))
	}
	rules["QuantizeLinear"] = func(c *nctx) []TypeInfo {
		dt := common.Uint8
		if c.has(2) {
			dt = c.dt(2)
		} else if c.n.HasAttr("output_dtype") && c.n.AttrInt("output_dtype", 0) != 0 {
			dt = common.DType(c.n.AttrInt("output_dtype", 0))
		}
		return one(withDType(c, dt))
	}
	rules["DequantizeLinear"] = func(c *nctx) []TypeInfo {
		dt := c.dt(1)
		if c.n.AttrInt("output_dtype", 0) != 0 {
			dt = common.DType(c.n.AttrInt("output_dtype", 0))
		}
		return one(withDType(c, dt))
	}
	rules["DynamicQuantizeLinear"] = func(c *nctx) []TypeInfo {
		return []TypeInfo{withDType(c, common.Uint8), shaped(common.Float32, nil), shaped(common.Uint8, nil)}
	}
}

func ruleWindow(c *nctx) []TypeInfo {
	n := c.n
	dt := c.dt(0)
	switch n.OpType {
	case "ConvInteger":
		dt = common.Int32
	case "QLinearConv":
		dt = c.dt(7)
		if dt == common.Undefined {
			dt = c.dt(0)
		}
	}
	x, ok := c.shape(0)
	if !ok {
		return one(typeOnly(dt))
	}
	if len(x) < 3 {
		return nil
	}
	sp := len(x) - 2
	kernel := n.AttrInts("kernel_shape")
	outC := x[1]
	isConv := n.OpType == "Conv" || n.OpType == "ConvInteger" || n.OpType == "QLinearConv"
	if isConv {
		wi := 1
		if n.OpType == "QLinearConv" {
			wi = 3
		}
		w, ok := c.shape(wi)
		if !ok || len(w) != len(x) {
			return one(rankOnly(dt, len(x)))
		}
		outC = w[0]
		if kernel == nil {
			for _, d := range w[2:] {
				if !d.Known() {
					kernel = nil
					break
				}
				kernel = append(kernel, d.Value)
			}
		}
	}
	out := []common.Dim{x[0], outC}
	if len(kernel) != sp {
		return one(shaped(dt, append(out, rankOnly(dt, sp).Dims...)))
	}
	strides, dil, pads := n.AttrInts("strides"), n.AttrInts("dilations"), n.AttrInts("pads")
	autoPad := n.AttrString("auto_pad", "NOTSET")
	ceil := n.AttrInt("ceil_mode", 0) != 0
	for i := 0; i < sp; i++ {
		d := x[2+i]
		if !d.Known() {
			out = append(out, unknownDim)
			continue
		}
		s, dl := int64(1), int64(1)
		if i < len(strides) {
			s = strides[i]
		}
		if i < len(dil) {
			dl = dil[i]
		}
		if s <= 0 || dl <= 0 || kernel[i] <= 0 {
			return nil
		}
		k := (kernel[i]-1)*dl + 1
		var o int64
		switch autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			o = ceilDiv(d.Value, s)
		case "VALID":
			o = ceilDiv(d.Value-k+1, s)
		default:
			pb, pe := int64(0), int64(0)
			if len(pads) == 2*sp {
				pb, pe = pads[i], pads[i+sp]
			}
			num := d.Value + pb + pe - k
			if ceil {
				o = ceilDiv(num, s) + 1
				if (o-1)*s >= d.Value+pb {
					o--
				}
			} else {
				o = floorDiv(num, s) + 1
			}
		}
		out = append(out, common.Dim{Value: max(o, 0)})
	}
	res := []TypeInfo{shaped(dt, out)}
	if n.OpType == "MaxPool" {
		res = append(res, shaped(common.Int64, out))
	}
	return res
}

func ruleConvTranspose(c *nctx) []TypeInfo {
	n := c.n
	dt := c.dt(0)
	x, ok1 := c.shape(0)
	w, ok2 := c.shape(1)
	if !ok1 {
		return one(typeOnly(dt))
	}
	if !ok2 || len(w) != len(x) || len(x) < 3 {
		return one(rankOnly(dt, len(x)))
	}
	sp := len(x) - 2
	group := n.AttrInt("group", 1)
	outC := unknownDim
	if w[1].Known() {
		outC = common.Dim{Value: w[1].Value * group}
	}
	out := []common.Dim{x[0], outC}
	kernel := n.AttrInts("kernel_shape")
	if kernel == nil {
		for _, d := range w[2:] {
			kernel = append(kernel, d.Value)
		}
	}
	if os := n.AttrInts("output_shape"); len(os) >= sp {
		for _, v := range os[len(os)-sp:] {
			out = append(out, common.Dim{Value: v})
		}
		return one(shaped(dt, out))
	}
	strides, dil, pads, opad := n.AttrInts("strides"), n.AttrInts("dilations"), n.AttrInts("pads"), n.AttrInts("output_padding")
	autoPad := n.AttrString("auto_pad", "NOTSET")
	get := func(a []int64, i int, def int64) int64 {
		if i < len(a) {
			return a[i]
		}
		return def
	}
	for i := 0; i < sp; i++ {
		d := x[2+i]
		if !d.Known() || i >= len(kernel) || kernel[i] < 0 {
			out = append(out, unknownDim)
			continue
		}
		s := get(strides, i, 1)
		if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
			out = append(out, common.Dim{Value: d.Value * s})
			continue
		}
		k := (kernel[i]-1)*get(dil, i, 1) + 1
		p := int64(0)
		if autoPad != "VALID" && len(pads) == 2*sp {
			p = pads[i] + pads[i+sp]
		}
		out = append(out, common.Dim{Value: s*(d.Value-1) + get(opad, i, 0) + k - p})
	}
	return one(shaped(dt, out))
}

func ruleGemm(c *nctx) []TypeInfo {
	dt := c.dt(0)
	a, ok1 := c.shape(0)
	b, ok2 := c.shape(1)
	if !ok1 || !ok2 || len(a) != 2 || len(b) != 2 {
		return one(rankOnly(dt, 2))
	}
	m, nn := a[0], b[1]
	if c.n.AttrInt("transA", 0) != 0 {
		m = a[1]
	}
	if c.n.AttrInt("transB", 0) != 0 {
		nn = b[0]
	}
	return one(shaped(dt, []common.Dim{m, nn}))
}

// matmulRule infers MatMul-like ops from inputs ai and bi; outDT is an
// input index giving the output type, -1 for A's type, -2 for int32.
func matmulRule(ai, bi, outDT int) func(*nctx) []TypeInfo {
	return func(c *nctx) []TypeInfo {
		var dt common.DType
		switch {
		case outDT == -1:
			dt = c.dt(ai)
		case outDT == -2:
			dt = common.Int32
		default:
			dt = c.dt(outDT)
		}
		a, ok1 := c.shape(ai)
		b, ok2 := c.shape(bi)
		if !ok1 || !ok2 || len(a) == 0 || len(b) == 0 {
			return one(typeOnly(dt))
		}
		a1, b1 := len(a) == 1, len(b) == 1
		if a1 {
			a = []common.Dim{{Value: 1}, a[0]}
		}
		if b1 {
			b = []common.Dim{b[0], {Value: 1}}
		}
		batch := broadcastDims(a[:len(a)-2], b[:len(b)-2])
		if batch == nil {
			return nil
		}
		out := cloneDims(batch)
		if !a1 {
			out = append(out, a[len(a)-2])
		}
		if !b1 {
			out = append(out, b[len(b)-1])
		}
		return one(shaped(dt, out))
	}
}

func ruleRNN(c *nctx) []TypeInfo {
	n := c.n
	dt := c.dt(0)
	x, ok := c.shape(0)
	nout := len(n.Outputs)
	outs := make([]TypeInfo, nout)
	if !ok || len(x) != 3 {
		for i := range outs {
			outs[i] = typeOnly(dt)
		}
		return outs
	}
	layout := n.AttrInt("layout", 0)
	seq, batch := x[0], x[1]
	if layout != 0 {
		seq, batch = x[1], x[0]
	}
	numDir := int64(1)
	if n.AttrString("direction", "forward") == "bidirectional" {
		numDir = 2
	}
	hidden := unknownDim
	if n.HasAttr("hidden_size") {
		hidden = common.Dim{Value: n.AttrInt("hidden_size", 0)}
	} else if r, ok := c.shape(2); ok && len(r) == 3 {
		hidden = r[2]
	}
	nd := common.Dim{Value: numDir}
	y := []common.Dim{seq, nd, batch, hidden}
	h := []common.Dim{nd, batch, hidden}
	if layout != 0 {
		y = []common.Dim{batch, seq, nd, hidden}
		h = []common.Dim{batch, nd, hidden}
	}
	for i := range outs {
		if i == 0 {
			outs[i] = shaped(dt, y)
		} else {
			outs[i] = shaped(dt, h)
		}
	}
	return outs
}

func ruleResize(c *nctx) []TypeInfo {
	n := c.n
	dt := c.dt(0)
	x, ok := c.shape(0)
	if !ok {
		return one(typeOnly(dt))
	}
	r := len(x)
	var scales []float64
	var sizes []int64
	scalesOK, sizesOK := false, false
	switch {
	case n.OpType == "Upsample" && n.Opset < 9:
		for _, f := range n.AttrFloats("scales") {
			scales = append(scales, float64(f))
		}
		scalesOK = true
	case n.OpType == "Upsample" || n.Opset < 11:
		scales, scalesOK = c.floats(1)
	default:
		if c.has(3) {
			sizes, sizesOK = c.ints(3)
			if !sizesOK {
				return one(rankOnly(dt, r))
			}
		}
		if !sizesOK && c.has(2) {
			scales, scalesOK = c.floats(2)
			if scalesOK && len(scales) == 0 {
				scalesOK = false
			}
		}
	}
	if !scalesOK && !sizesOK {
		return one(rankOnly(dt, r))
	}
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if ax := n.AttrInts("axes"); ax != nil && n.Opset >= 18 {
		axes = axes[:0]
		for _, a := range ax {
			na, ok := normAxis(a, r)
			if !ok {
				return nil
			}
			axes = append(axes, na)
		}
	}
	out := cloneDims(x)
	if sizesOK {
		if len(sizes) != len(axes) {
			return nil
		}
		policy := n.AttrString("keep_aspect_ratio_policy", "stretch")
		if policy == "stretch" {
			for i, a := range axes {
				out[a] = common.Dim{Value: sizes[i]}
			}
			return one(shaped(dt, out))
		}
		scale := math.Inf(1)
		if policy == "not_smaller" {
			scale = math.Inf(-1)
		}
		for i, a := range axes {
			if !x[a].Known() || x[a].Value == 0 {
				return one(rankOnly(dt, r))
			}
			s := float64(sizes[i]) / float64(x[a].Value)
			if policy == "not_smaller" {
				scale = math.Max(scale, s)
			} else {
				scale = math.Min(scale, s)
			}
		}
		for _, a := range axes {
			out[a] = common.Dim{Value: int64(math.Round(scale * float64(x[a].Value)))}
		}
		return one(shaped(dt, out))
	}
	if len(scales) != len(axes) {
		return nil
	}
	for i, a := range axes {
		switch {
		case scales[i] == 1:
		case x[a].Known():
			out[a] = common.Dim{Value: int64(math.Floor(float64(x[a].Value) * scales[i]))}
		default:
			out[a] = unknownDim
		}
	}
	return one(shaped(dt, out))
}

func ruleEinsum(c *nctx) []TypeInfo {
	dt := c.dt(0)
	eq := strings.ReplaceAll(c.n.AttrString("equation", ""), " ", "")
	lhs, rhs, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if len(terms) != len(c.n.Inputs) {
		return one(typeOnly(dt))
	}
	letter := map[byte]common.Dim{}
	count := map[byte]int{}
	var ell []common.Dim
	for i, term := range terms {
		d, ok := c.shape(i)
		if !ok {
			return one(typeOnly(dt))
		}
		pre, post, hasEll := strings.Cut(term, "...")
		nl := len(pre) + len(post)
		if (!hasEll && nl != len(d)) || nl > len(d) {
			return nil
		}
		for j := 0; j < len(pre); j++ {
			addLetter(letter, count, pre[j], d[j])
		}
		for j := 0; j < len(post); j++ {
			addLetter(letter, count, post[j], d[len(d)-len(post)+j])
		}
		if hasEll {
			e := d[len(pre) : len(d)-len(post)]
			if ell == nil {
				ell = cloneDims(e)
			} else if b := broadcastDims(ell, e); b != nil {
				ell = b
			}
		}
	}
	if !explicit {
		var ls []byte
		for l, n := range count {
			if n == 1 {
				ls = append(ls, l)
			}
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
		rhs = "..." + string(ls)
	}
	var out []common.Dim
	pre, post, hasEll := strings.Cut(rhs, "...")
	for _, part := range []string{pre, post} {
		if part == post && hasEll {
			out = append(out, ell...)
		}
		for j := 0; j < len(part); j++ {
			d, ok := letter[part[j]]
			if !ok {
				return nil
			}
			out = append(out, d)
		}
	}
	if out == nil {
		out = []common.Dim{}
	}
	return one(shaped(dt, out))
}

func addLetter(letter map[byte]common.Dim, count map[byte]int, l byte, d common.Dim) {
	count[l]++
	if old, ok := letter[l]; ok {
		if old.Known() && old.Value != 1 || !d.Known() {
			return
		}
	}
	letter[l] = d
}
