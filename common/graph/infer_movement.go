package graph

import (
	"math"

	"github.com/accel-go/accel/common"
)

func init() {
	rules["Reshape"] = ruleReshape
	rules["Flatten"] = ruleFlatten
	rules["Transpose"] = ruleTranspose
	rules["Squeeze"] = ruleSqueeze
	rules["Unsqueeze"] = ruleUnsqueeze
	rules["Concat"] = ruleConcat
	rules["Split"] = ruleSplit
	rules["Slice"] = ruleSlice
	rules["Gather"] = ruleGather
	rules["GatherElements"] = func(c *nctx) []TypeInfo {
		d, ok := c.shape(1)
		if !ok {
			return one(typeOnly(c.dt(0)))
		}
		return one(shaped(c.dt(0), d))
	}
	rules["GatherND"] = ruleGatherND
	rules["Expand"] = ruleExpand
	rules["Tile"] = ruleTile
	rules["Pad"] = rulePad
	rules["DepthToSpace"] = ruleSpaceDepth(true)
	rules["SpaceToDepth"] = ruleSpaceDepth(false)
	rules["Compress"] = func(c *nctx) []TypeInfo {
		dt := c.dt(0)
		if !c.n.HasAttr("axis") {
			return one(rankOnly(dt, 1))
		}
		x, ok := c.shape(0)
		if !ok {
			return one(typeOnly(dt))
		}
		ax, ok := normAxis(c.n.AttrInt("axis", 0), len(x))
		if !ok {
			return nil
		}
		out := cloneDims(x)
		out[ax] = unknownDim
		return one(shaped(dt, out))
	}
	rules["NonZero"] = func(c *nctx) []TypeInfo {
		x, ok := c.shape(0)
		if !ok {
			return one(rankOnly(common.Int64, 2))
		}
		return one(shaped(common.Int64, []common.Dim{{Value: int64(len(x))}, unknownDim}))
	}
	rules["Unique"] = ruleUnique
	rules["OneHot"] = ruleOneHot
	rules["Range"] = ruleRange
	rules["ConstantOfShape"] = func(c *nctx) []TypeInfo {
		dt := common.Float32
		if t := c.n.AttrTensor("value"); t != nil {
			dt = t.DType()
		}
		if v, ok := c.val(0); ok {
			return one(shaped(dt, v.dims()))
		}
		if d, ok := c.shape(0); ok && len(d) == 1 && d[0].Known() {
			return one(rankOnly(dt, int(d[0].Value)))
		}
		return one(typeOnly(dt))
	}
	rules["EyeLike"] = func(c *nctx) []TypeInfo {
		dt := c.dt(0)
		if c.n.HasAttr("dtype") {
			dt = common.DType(c.n.AttrInt("dtype", 0))
		}
		return one(withDType(c, dt))
	}
	rules["TopK"] = ruleTopK
}

// reshapeDims computes Reshape's output from the input dims and the
// requested shape (possibly symbolic).
func reshapeDims(x []common.Dim, want []common.Dim, allowZero bool) ([]common.Dim, bool) {
	out := make([]common.Dim, len(want))
	neg := -1
	opaque := false
	for i, w := range want {
		switch {
		case w == svUnknown:
			out[i] = unknownDim
			opaque = true
		case w.Param != "":
			out[i] = w
		case w.Value == 0 && !allowZero:
			if x == nil || i >= len(x) {
				if x == nil {
					out[i] = unknownDim
					continue
				}
				return nil, false
			}
			out[i] = x[i]
		case w.Value == -1:
			if neg >= 0 {
				return nil, false
			}
			neg = i
			out[i] = unknownDim
		case w.Value < -1:
			return nil, false
		default:
			out[i] = w
		}
	}
	if neg < 0 || x == nil || opaque {
		return out, true
	}
	// Resolve -1: cancel symbolic dims on both sides, divide the rest.
	rest := cloneDims(x)
	var knownIn int64 = 1
	var knownOut int64 = 1
	for i, d := range out {
		if i == neg {
			continue
		}
		if d.Known() {
			knownOut *= d.Value
			continue
		}
		if d.Param == "" {
			return out, true
		}
		found := false
		for j, r := range rest {
			if r == d {
				rest = append(rest[:j], rest[j+1:]...)
				found = true
				break
			}
		}
		if !found {
			return out, true
		}
	}
	var sym []common.Dim
	for _, r := range rest {
		if r.Known() {
			knownIn *= r.Value
			continue
		}
		sym = append(sym, r)
	}
	switch {
	case len(sym) == 0 && knownOut != 0 && knownIn%knownOut == 0:
		out[neg] = common.Dim{Value: knownIn / knownOut}
	case len(sym) == 1 && sym[0].Param != "" && knownIn == knownOut:
		out[neg] = sym[0]
	}
	return out, true
}

func ruleReshape(c *nctx) []TypeInfo {
	dt := c.dt(0)
	x, hasX := c.shape(0)
	var want []common.Dim
	if c.n.Opset < 5 {
		for _, v := range c.n.AttrInts("shape") {
			want = append(want, common.Dim{Value: v})
		}
	} else {
		v, ok := c.val(1)
		if !ok {
			if d, ok := c.shape(1); ok && len(d) == 1 && d[0].Known() {
				return one(rankOnly(dt, int(d[0].Value)))
			}
			return one(typeOnly(dt))
		}
		want = v.d
	}
	if !hasX {
		x = nil
	}
	out, ok := reshapeDims(x, want, c.n.AttrInt("allowzero", 0) != 0)
	if !ok {
		return nil
	}
	return one(shaped(dt, out))
}

// dimProduct multiplies dims, keeping a lone symbolic dim symbolic.
func dimProduct(d []common.Dim) common.Dim {
	p := int64(1)
	var sym []common.Dim
	for _, x := range d {
		if x.Known() {
			p *= x.Value
			continue
		}
		sym = append(sym, x)
	}
	switch {
	case len(sym) == 0:
		return common.Dim{Value: p}
	case len(sym) == 1 && p == 1 && sym[0].Param != "":
		return sym[0]
	}
	return unknownDim
}

func ruleFlatten(c *nctx) []TypeInfo {
	dt := c.dt(0)
	x, ok := c.shape(0)
	if !ok {
		return one(rankOnly(dt, 2))
	}
	axis := c.n.AttrInt("axis", 1)
	if axis < 0 {
		axis += int64(len(x))
	}
	if axis < 0 || axis > int64(len(x)) {
		return nil
	}
	return one(shaped(dt, []common.Dim{dimProduct(x[:axis]), dimProduct(x[axis:])}))
}

func ruleTranspose(c *nctx) []TypeInfo {
	x, ok := c.shape(0)
	if !ok {
		return one(typeOnly(c.dt(0)))
	}
	perm := c.n.AttrInts("perm")
	dims := make([]common.Dim, len(x))
	for i := range dims {
		p := len(dims) - 1 - i
		if perm != nil {
			if len(perm) != len(x) || perm[i] < 0 || int(perm[i]) >= len(dims) {
				return nil
			}
			p = int(perm[i])
		}
		dims[i] = x[p]
	}
	return one(shaped(c.dt(0), dims))
}

func ruleSqueeze(c *nctx) []TypeInfo {
	dt := c.dt(0)
	axes, present, ok := c.attrOrInput("axes", 1, 13)
	x, hasX := c.shape(0)
	if !hasX || !ok {
		if hasX && present {
			if ad, ok := c.shape(1); ok && len(ad) == 1 && ad[0].Known() {
				return one(rankOnly(dt, len(x)-int(ad[0].Value)))
			}
		}
		return one(typeOnly(dt))
	}
	drop := make([]bool, len(x))
	if !present || len(axes) == 0 {
		for i, d := range x {
			if !d.Known() {
				return one(typeOnly(dt))
			}
			drop[i] = d.Value == 1
		}
	}
	for _, a := range axes {
		ax, ok := normAxis(a, len(x))
		if !ok {
			return nil
		}
		drop[ax] = true
	}
	var out []common.Dim
	for i, d := range x {
		if !drop[i] {
			out = append(out, d)
		}
	}
	return one(shaped(dt, out))
}

func ruleUnsqueeze(c *nctx) []TypeInfo {
	dt := c.dt(0)
	axes, _, ok := c.attrOrInput("axes", 1, 13)
	x, hasX := c.shape(0)
	if !hasX {
		return one(typeOnly(dt))
	}
	if !ok {
		if ad, ok := c.shape(1); ok && len(ad) == 1 && ad[0].Known() {
			return one(rankOnly(dt, len(x)+int(ad[0].Value)))
		}
		return one(typeOnly(dt))
	}
	r := len(x) + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		ax, ok := normAxis(a, r)
		if !ok || ins[ax] {
			return nil
		}
		ins[ax] = true
	}
	out := make([]common.Dim, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			out = append(out, common.Dim{Value: 1})
			continue
		}
		out = append(out, x[j])
		j++
	}
	return one(shaped(dt, out))
}

func ruleConcat(c *nctx) []TypeInfo {
	dt := c.dt(0)
	var dims []common.Dim
	axis := c.n.AttrInt("axis", 1)
	if c.n.Opset >= 4 {
		axis = c.n.AttrInt("axis", 0)
	}
	ax := -1
	sum := int64(0)
	for i := range c.n.Inputs {
		if !c.has(i) {
			continue
		}
		d, ok := c.shape(i)
		if !ok {
			if dims != nil {
				return one(rankOnly(dt, len(dims)))
			}
			return one(typeOnly(dt))
		}
		if dims == nil {
			a, ok := normAxis(axis, len(d))
			if !ok {
				return nil
			}
			ax = a
			dims = cloneDims(d)
		} else {
			if len(d) != len(dims) {
				return nil
			}
			for j := range dims {
				if j != ax && !dims[j].Known() && d[j].Known() {
					dims[j] = d[j]
				}
			}
		}
		if sum >= 0 && d[ax].Known() {
			sum += d[ax].Value
		} else {
			sum = -1
		}
	}
	if dims == nil {
		return nil
	}
	if sum >= 0 {
		dims[ax] = common.Dim{Value: sum}
	} else {
		dims[ax] = unknownDim
	}
	return one(shaped(dt, dims))
}

func ruleSplit(c *nctx) []TypeInfo {
	dt := c.dt(0)
	nout := len(c.n.Outputs)
	outs := make([]TypeInfo, nout)
	x, ok := c.shape(0)
	if !ok {
		for i := range outs {
			outs[i] = typeOnly(dt)
		}
		return outs
	}
	ax, ok := normAxis(c.n.AttrInt("axis", 0), len(x))
	if !ok {
		return nil
	}
	split, present, known := c.attrOrInput("split", 1, 13)
	if c.n.Opset < 2 && !present && c.has(1) {
		split, known = c.ints(1)
		present = true
	}
	sizes := make([]common.Dim, nout)
	d := x[ax]
	switch {
	case present && known && len(split) > 0:
		if len(split) != nout {
			return nil
		}
		for i, s := range split {
			sizes[i] = common.Dim{Value: s}
		}
	case present && !known:
		for i := range sizes {
			sizes[i] = unknownDim
		}
	case !d.Known():
		for i := range sizes {
			sizes[i] = unknownDim
		}
	case c.n.Opset >= 18 && c.n.HasAttr("num_outputs"):
		num := c.n.AttrInt("num_outputs", int64(nout))
		if num <= 0 {
			return nil
		}
		chunk := ceilDiv(d.Value, num)
		for i := range sizes {
			v := chunk
			if i == nout-1 {
				v = d.Value - chunk*int64(nout-1)
			}
			sizes[i] = common.Dim{Value: max(v, 0)}
		}
	default:
		if nout == 0 || d.Value%int64(nout) != 0 {
			return nil
		}
		for i := range sizes {
			sizes[i] = common.Dim{Value: d.Value / int64(nout)}
		}
	}
	for i := range outs {
		o := cloneDims(x)
		o[ax] = sizes[i]
		outs[i] = shaped(dt, o)
	}
	return outs
}

// sliceLen computes the length of one sliced axis per the ONNX rules.
func sliceLen(dim, start, end, step int64) int64 {
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		start = min(max(start, 0), dim)
		end = min(max(end, 0), dim)
	} else {
		start = min(max(start, 0), dim-1)
		end = min(max(end, -1), dim-1)
	}
	n := ceilDiv(end-start, step)
	if step < 0 {
		n = ceilDiv(start-end, -step)
	}
	return max(n, 0)
}

// sliceIndex returns the first index and count of a slice.
func sliceStart(dim, start, step int64) int64 {
	if start < 0 {
		start += dim
	}
	if step > 0 {
		return min(max(start, 0), dim)
	}
	return min(max(start, 0), dim-1)
}

// sliceParams reads starts, ends, axes and steps of a Slice node.
func sliceParams(c *nctx, rank int) (starts, ends []int64, axes []int, steps []int64, ok bool) {
	var present bool
	if c.n.Opset < 10 {
		starts, ends = c.n.AttrInts("starts"), c.n.AttrInts("ends")
		ax := c.n.AttrInts("axes")
		present = ax != nil
		for _, a := range ax {
			axes = append(axes, int(a))
		}
	} else {
		var ok1, ok2 bool
		starts, ok1 = c.ints(1)
		ends, ok2 = c.ints(2)
		if !ok1 || !ok2 {
			return nil, nil, nil, nil, false
		}
		if c.has(3) {
			ax, ok := c.ints(3)
			if !ok {
				return nil, nil, nil, nil, false
			}
			present = true
			for _, a := range ax {
				axes = append(axes, int(a))
			}
		}
		if c.has(4) {
			steps, ok = c.ints(4)
			if !ok {
				return nil, nil, nil, nil, false
			}
		}
	}
	if len(starts) != len(ends) {
		return nil, nil, nil, nil, false
	}
	if !present {
		axes = make([]int, len(starts))
		for i := range axes {
			axes[i] = i
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, nil, nil, nil, false
	}
	for i, a := range axes {
		na, ok := normAxis(int64(a), rank)
		if !ok || steps[i] == 0 {
			return nil, nil, nil, nil, false
		}
		axes[i] = na
	}
	return starts, ends, axes, steps, true
}

func ruleSlice(c *nctx) []TypeInfo {
	dt := c.dt(0)
	x, ok := c.shape(0)
	if !ok {
		return one(typeOnly(dt))
	}
	starts, ends, axes, steps, ok := sliceParams(c, len(x))
	if !ok {
		return one(rankOnly(dt, len(x)))
	}
	out := cloneDims(x)
	for i, a := range axes {
		d := x[a]
		if !d.Known() {
			if starts[i] == 0 && steps[i] == 1 && ends[i] >= math.MaxInt32 {
				continue
			}
			out[a] = unknownDim
			continue
		}
		out[a] = common.Dim{Value: sliceLen(d.Value, starts[i], ends[i], steps[i])}
	}
	return one(shaped(dt, out))
}

func ruleGather(c *nctx) []TypeInfo {
	dt := c.dt(0)
	x, ok1 := c.shape(0)
	idx, ok2 := c.shape(1)
	if !ok1 || !ok2 {
		return one(typeOnly(dt))
	}
	ax, ok := normAxis(c.n.AttrInt("axis", 0), len(x))
	if !ok {
		return nil
	}
	out := append(append(cloneDims(x[:ax]), idx...), x[ax+1:]...)
	return one(shaped(dt, out))
}

func ruleGatherND(c *nctx) []TypeInfo {
	dt := c.dt(0)
	x, ok1 := c.shape(0)
	idx, ok2 := c.shape(1)
	if !ok1 || !ok2 || len(idx) == 0 {
		return one(typeOnly(dt))
	}
	b := int(c.n.AttrInt("batch_dims", 0))
	last := idx[len(idx)-1]
	if !last.Known() {
		return one(typeOnly(dt))
	}
	k := b + int(last.Value)
	if b < 0 || k > len(x) {
		return nil
	}
	out := append(cloneDims(idx[:len(idx)-1]), x[k:]...)
	return one(shaped(dt, out))
}

func ruleExpand(c *nctx) []TypeInfo {
	dt := c.dt(0)
	x, ok := c.shape(0)
	v, vok := c.val(1)
	if !vok {
		if d, ok2 := c.shape(1); ok && ok2 && len(d) == 1 && d[0].Known() {
			return one(rankOnly(dt, max(len(x), int(d[0].Value))))
		}
		return one(typeOnly(dt))
	}
	if !ok {
		return one(typeOnly(dt))
	}
	out := broadcastDims(x, v.dims())
	if out == nil {
		return nil
	}
	return one(shaped(dt, out))
}

func ruleTile(c *nctx) []TypeInfo {
	dt := c.dt(0)
	x, ok := c.shape(0)
	if !ok {
		return one(typeOnly(dt))
	}
	reps, ok := c.ints(1)
	if !ok || len(reps) != len(x) {
		return one(rankOnly(dt, len(x)))
	}
	out := cloneDims(x)
	for i, r := range reps {
		switch {
		case r == 1:
		case x[i].Known():
			out[i] = common.Dim{Value: x[i].Value * r}
		default:
			out[i] = unknownDim
		}
	}
	return one(shaped(dt, out))
}

func rulePad(c *nctx) []TypeInfo {
	dt := c.dt(0)
	x, ok := c.shape(0)
	if !ok {
		return one(typeOnly(dt))
	}
	var pads []int64
	if c.n.Opset < 11 {
		pads = c.n.AttrInts("pads")
		if c.n.Opset < 2 && pads == nil {
			pads = c.n.AttrInts("paddings")
		}
	} else {
		pads, ok = c.ints(1)
		if !ok {
			return one(rankOnly(dt, len(x)))
		}
	}
	axes := make([]int, len(x))
	for i := range axes {
		axes[i] = i
	}
	if c.n.Opset >= 18 && c.has(3) {
		ax, ok := c.ints(3)
		if !ok {
			return one(rankOnly(dt, len(x)))
		}
		axes = axes[:0]
		for _, a := range ax {
			na, ok := normAxis(a, len(x))
			if !ok {
				return nil
			}
			axes = append(axes, na)
		}
	}
	if len(pads) != 2*len(axes) {
		return nil
	}
	out := cloneDims(x)
	for i, a := range axes {
		p := pads[i] + pads[i+len(axes)]
		switch {
		case p == 0:
		case x[a].Known():
			out[a] = common.Dim{Value: x[a].Value + p}
		default:
			out[a] = unknownDim
		}
	}
	return one(shaped(dt, out))
}

func ruleSpaceDepth(toSpace bool) func(*nctx) []TypeInfo {
	return func(c *nctx) []TypeInfo {
		dt := c.dt(0)
		x, ok := c.shape(0)
		if !ok || len(x) != 4 {
			return one(rankOnly(dt, 4))
		}
		b := c.n.AttrInt("blocksize", 0)
		if b <= 0 {
			return nil
		}
		mul := func(d common.Dim, f int64) common.Dim {
			if !d.Known() {
				return unknownDim
			}
			return common.Dim{Value: d.Value * f}
		}
		div := func(d common.Dim, f int64) common.Dim {
			if !d.Known() {
				return unknownDim
			}
			return common.Dim{Value: d.Value / f}
		}
		if toSpace {
			return one(shaped(dt, []common.Dim{x[0], div(x[1], b*b), mul(x[2], b), mul(x[3], b)}))
		}
		return one(shaped(dt, []common.Dim{x[0], mul(x[1], b*b), div(x[2], b), div(x[3], b)}))
	}
}

func ruleUnique(c *nctx) []TypeInfo {
	dt := c.dt(0)
	x, ok := c.shape(0)
	y := rankOnly(dt, 1)
	inv := rankOnly(common.Int64, 1)
	if c.n.HasAttr("axis") {
		if ok {
			if ax, aok := normAxis(c.n.AttrInt("axis", 0), len(x)); aok {
				d := cloneDims(x)
				d[ax] = unknownDim
				y = shaped(dt, d)
				inv = shaped(common.Int64, []common.Dim{x[ax]})
			}
		} else {
			y = typeOnly(dt)
		}
	} else if ok {
		inv = shaped(common.Int64, []common.Dim{dimProduct(x)})
	}
	return []TypeInfo{y, rankOnly(common.Int64, 1), inv, rankOnly(common.Int64, 1)}
}

func ruleOneHot(c *nctx) []TypeInfo {
	dt := c.dt(2)
	idx, ok := c.shape(0)
	if !ok {
		return one(typeOnly(dt))
	}
	r := len(idx) + 1
	ax, ok := normAxis(c.n.AttrInt("axis", -1), r)
	if !ok {
		return nil
	}
	depth := unknownDim
	if f, ok := c.floats(1); ok && len(f) == 1 && isFinite(f[0]) {
		depth = common.Dim{Value: int64(f[0])}
	} else if v, ok := c.ints(1); ok && len(v) == 1 {
		depth = common.Dim{Value: v[0]}
	}
	out := append(append(cloneDims(idx[:ax]), depth), idx[ax:]...)
	return one(shaped(dt, out))
}

func ruleRange(c *nctx) []TypeInfo {
	dt := c.dt(0)
	s, ok1 := c.floats(0)
	l, ok2 := c.floats(1)
	d, ok3 := c.floats(2)
	if !ok1 || !ok2 || !ok3 || len(s) != 1 || len(l) != 1 || len(d) != 1 || d[0] == 0 {
		if v0, ok := c.ints(0); ok && len(v0) == 1 {
			if v1, ok := c.ints(1); ok && len(v1) == 1 {
				if v2, ok := c.ints(2); ok && len(v2) == 1 && v2[0] != 0 {
					n := max(ceilDiv(v1[0]-v0[0], v2[0]), 0)
					if v2[0] < 0 {
						n = max(ceilDiv(v0[0]-v1[0], -v2[0]), 0)
					}
					return one(shaped(dt, known(n)))
				}
			}
		}
		return one(rankOnly(dt, 1))
	}
	f := math.Ceil((l[0] - s[0]) / d[0])
	if !isFinite(f) {
		return one(rankOnly(dt, 1))
	}
	return one(shaped(dt, known(int64(max(f, 0)))))
}

func ruleTopK(c *nctx) []TypeInfo {
	dt := c.dt(0)
	x, ok := c.shape(0)
	if !ok {
		return []TypeInfo{typeOnly(dt), typeOnly(common.Int64)}
	}
	ax, ok := normAxis(c.n.AttrInt("axis", -1), len(x))
	if !ok {
		return nil
	}
	k := unknownDim
	if c.n.Opset < 10 {
		k = common.Dim{Value: c.n.AttrInt("k", -1)}
	} else if v, ok := c.ints(1); ok && len(v) == 1 {
		k = common.Dim{Value: v[0]}
	}
	out := cloneDims(x)
	out[ax] = k
	return []TypeInfo{shaped(dt, out), shaped(common.Int64, out)}
}
