package graph

import (
	"github.com/accel-go/accel/common"
)

// maxInferDepth bounds the subgraph nesting inference descends into.
const maxInferDepth = 32

func init() {
	rules["If"] = ruleIf
	rules["Loop"] = ruleLoop
	rules["Scan"] = ruleScan
	rules["SequenceMap"] = ruleSequenceMap
	rules["SequenceEmpty"] = func(c *nctx) []TypeInfo {
		dt := common.DType(c.n.AttrInt("dtype", int64(common.Float32)))
		return one(seqOf(typeOnly(dt)))
	}
	rules["SequenceConstruct"] = func(c *nctx) []TypeInfo {
		var e TypeInfo
		for i := range c.n.Inputs {
			t, ok := c.in(i)
			if !ok {
				return nil
			}
			if i == 0 {
				e = t
			} else {
				e = mergeType(e, t)
			}
		}
		return one(seqOf(e))
	}
	rules["SequenceInsert"] = func(c *nctx) []TypeInfo {
		s, ok := c.in(0)
		if !ok || s.Kind != common.KindSequence {
			return nil
		}
		t, ok := c.in(1)
		if !ok {
			return one(s)
		}
		if s.Elem == nil {
			return one(seqOf(t))
		}
		return one(seqOf(mergeElem(*s.Elem, t)))
	}
	rules["SequenceErase"] = func(c *nctx) []TypeInfo {
		s, ok := c.in(0)
		if !ok {
			return nil
		}
		return one(s)
	}
	rules["SequenceAt"] = func(c *nctx) []TypeInfo {
		s, ok := c.in(0)
		if !ok || s.Elem == nil {
			return nil
		}
		return one(*s.Elem)
	}
	rules["SequenceLength"] = func(c *nctx) []TypeInfo { return one(shaped(common.Int64, nil)) }
	rules["SplitToSequence"] = ruleSplitToSequence
	rules["ConcatFromSequence"] = func(c *nctx) []TypeInfo {
		s, ok := c.in(0)
		if !ok || s.Elem == nil {
			return nil
		}
		e := *s.Elem
		if !e.HasShape {
			return one(typeOnly(e.DType))
		}
		newAxis := c.n.AttrInt("new_axis", 0) != 0
		r := len(e.Dims)
		if newAxis {
			r++
		}
		ax, ok := normAxis(c.n.AttrInt("axis", 0), r)
		if !ok {
			return nil
		}
		var out []common.Dim
		if newAxis {
			out = append(append(cloneDims(e.Dims[:ax]), unknownDim), e.Dims[ax:]...)
		} else {
			out = cloneDims(e.Dims)
			out[ax] = unknownDim
		}
		return one(shaped(e.DType, out))
	}
	rules["Optional"] = func(c *nctx) []TypeInfo {
		if t, ok := c.in(0); ok {
			return one(optOf(t))
		}
		if a := c.n.Attr("type"); a != nil && a.TP != nil {
			return one(optOf(*a.TP))
		}
		return nil
	}
	rules["OptionalHasElement"] = func(c *nctx) []TypeInfo { return one(shaped(common.Bool, nil)) }
	rules["OptionalGetElement"] = func(c *nctx) []TypeInfo {
		t, ok := c.in(0)
		if !ok {
			return nil
		}
		if t.Kind == common.KindOptional {
			if t.Elem == nil {
				return nil
			}
			return one(*t.Elem)
		}
		return one(t)
	}
}

func seqOf(e TypeInfo) TypeInfo { return TypeInfo{Kind: common.KindSequence, Elem: &e} }

func optOf(e TypeInfo) TypeInfo { return TypeInfo{Kind: common.KindOptional, Elem: &e} }

// mergeElem combines a sequence's element type with one more element.
func mergeElem(a, b TypeInfo) TypeInfo { return mergeType(a, b) }

// sub infers a subgraph whose inputs have the given types, in a scope
// nested in s, and returns the types of its outputs (KindUnknown where
// nothing is known).
func (s *inferer) sub(g *Graph, inputs []TypeInfo) []TypeInfo {
	if g == nil {
		return nil
	}
	outs := make([]TypeInfo, len(g.Outputs))
	if s.depth >= maxInferDepth {
		for i, o := range g.Outputs {
			outs[i] = bindType(o.Type, s.sizes)
		}
		return outs
	}
	cs := newInferer(s, s.sizes)
	cs.seed(g, true)
	for i, in := range g.Inputs {
		if i < len(inputs) && inputs[i].Kind != common.KindUnknown {
			cs.types[in.Name] = refine(inputs[i], cs.types[in.Name])
			delete(cs.consts, in.Name)
			delete(cs.vals, in.Name)
		}
	}
	cs.run(g)
	for i, o := range g.Outputs {
		if t, ok := cs.typeOf(o.Name); ok {
			outs[i] = t
		}
	}
	return outs
}

func ruleIf(c *nctx) []TypeInfo {
	th := c.s.sub(c.n.AttrGraph("then_branch"), nil)
	el := c.s.sub(c.n.AttrGraph("else_branch"), nil)
	if th == nil || el == nil {
		return nil
	}
	// A constant condition picks one branch.
	if v, ok := c.ints(0); ok && len(v) == 1 {
		if v[0] != 0 {
			return th
		}
		return el
	}
	outs := make([]TypeInfo, len(c.n.Outputs))
	for i := range outs {
		if i < len(th) && i < len(el) {
			outs[i] = mergeType(th[i], el[i])
		}
	}
	return outs
}

func scalarOf(d common.DType) TypeInfo { return shaped(d, []common.Dim{}) }

func ruleLoop(c *nctx) []TypeInfo {
	body := c.n.AttrGraph("body")
	if body == nil {
		return nil
	}
	nCarried := len(c.n.Inputs) - 2
	if nCarried < 0 {
		nCarried = 0
	}
	ins := []TypeInfo{scalarOf(common.Int64), scalarOf(common.Bool)}
	carried := make([]TypeInfo, nCarried)
	for i := range carried {
		carried[i], _ = c.in(2 + i)
		ins = append(ins, carried[i])
	}
	bo := c.s.sub(body, ins)
	// A second pass with merged carried types covers shapes that change
	// from one iteration to the next.
	changed := false
	for i := range carried {
		if 1+i < len(bo) {
			m := mergeType(carried[i], bo[1+i])
			if m.String() != carried[i].String() {
				changed = true
			}
			carried[i] = m
			ins[2+i] = m
		}
	}
	if changed && c.s.depth < 3 {
		bo = c.s.sub(body, ins)
		for i := range carried {
			if 1+i < len(bo) {
				carried[i] = mergeType(carried[i], bo[1+i])
			}
		}
	}
	trip := unknownDim
	if m, ok := c.ints(0); ok && len(m) == 1 && !c.has(1) {
		trip = common.Dim{Value: m[0]}
	}
	outs := make([]TypeInfo, len(c.n.Outputs))
	for i := range outs {
		if i < nCarried {
			outs[i] = carried[i]
			continue
		}
		j := 1 + i
		if j >= len(bo) {
			continue
		}
		e := bo[j]
		switch {
		case e.Kind == common.KindTensor && e.HasShape:
			outs[i] = shaped(e.DType, append([]common.Dim{trip}, e.Dims...))
		case e.Kind == common.KindTensor:
			outs[i] = typeOnly(e.DType)
		}
	}
	return outs
}

func ruleScan(c *nctx) []TypeInfo {
	n := c.n
	body := n.AttrGraph("body")
	if body == nil {
		return nil
	}
	numScanIn := int(n.AttrInt("num_scan_inputs", 0))
	first := 0
	if n.Opset < 9 {
		first = 1 // sequence_lens
	}
	inputs := n.Inputs[first:]
	nState := len(inputs) - numScanIn
	if nState < 0 || numScanIn < 0 {
		return nil
	}
	inAxes := n.AttrInts("scan_input_axes")
	var ins []TypeInfo
	seqLen := unknownDim
	for i := range inputs {
		t, _ := c.in(first + i)
		if i >= nState && t.Kind == common.KindTensor && t.HasShape {
			k := i - nState
			ax := int64(0)
			if n.Opset < 9 {
				ax = 1 // batch-major
			}
			if k < len(inAxes) {
				ax = inAxes[k]
			}
			a, ok := normAxis(ax, len(t.Dims))
			if !ok {
				return nil
			}
			if n.Opset < 9 {
				// Body sees one time step of one batch entry.
				seqLen = mergeDim(seqLenOr(seqLen, t.Dims[1]), t.Dims[1])
				t = shaped(t.DType, cloneDims(t.Dims[2:]))
			} else {
				seqLen = mergeDim(seqLenOr(seqLen, t.Dims[a]), t.Dims[a])
				d := cloneDims(t.Dims)
				t = shaped(t.DType, append(d[:a], d[a+1:]...))
			}
		}
		if n.Opset < 9 && i < nState && t.Kind == common.KindTensor && t.HasShape && len(t.Dims) > 0 {
			t = shaped(t.DType, cloneDims(t.Dims[1:]))
		}
		ins = append(ins, t)
	}
	bo := c.s.sub(body, ins)
	outAxes := n.AttrInts("scan_output_axes")
	outs := make([]TypeInfo, len(n.Outputs))
	for i := range outs {
		if i >= len(bo) {
			continue
		}
		e := bo[i]
		if i < nState {
			st, _ := c.in(first + i)
			outs[i] = mergeType(st, e)
			if n.Opset < 9 {
				outs[i] = st
			}
			continue
		}
		if e.Kind != common.KindTensor || !e.HasShape {
			if e.Kind == common.KindTensor {
				outs[i] = typeOnly(e.DType)
			}
			continue
		}
		if n.Opset < 9 {
			st, _ := c.in(first + nState)
			batch := unknownDim
			if st.HasShape && len(st.Dims) > 0 {
				batch = st.Dims[0]
			}
			outs[i] = shaped(e.DType, append([]common.Dim{batch, seqLen}, e.Dims...))
			continue
		}
		k := i - nState
		ax := int64(0)
		if k < len(outAxes) {
			ax = outAxes[k]
		}
		a, ok := normAxis(ax, len(e.Dims)+1)
		if !ok {
			continue
		}
		d := append(append(cloneDims(e.Dims[:a]), seqLen), e.Dims[a:]...)
		outs[i] = shaped(e.DType, d)
	}
	return outs
}

func seqLenOr(cur, d common.Dim) common.Dim {
	if cur == unknownDim {
		return d
	}
	return cur
}

func ruleSequenceMap(c *nctx) []TypeInfo {
	body := c.n.AttrGraph("body")
	if body == nil {
		return nil
	}
	var ins []TypeInfo
	for i := range c.n.Inputs {
		t, _ := c.in(i)
		if t.Kind == common.KindSequence && t.Elem != nil {
			t = *t.Elem
		}
		ins = append(ins, t)
	}
	bo := c.s.sub(body, ins)
	outs := make([]TypeInfo, len(c.n.Outputs))
	for i := range outs {
		if i < len(bo) && bo[i].Kind != common.KindUnknown {
			outs[i] = seqOf(bo[i])
		} else {
			outs[i] = TypeInfo{Kind: common.KindSequence}
		}
	}
	return outs
}

func ruleSplitToSequence(c *nctx) []TypeInfo {
	dt := c.dt(0)
	x, ok := c.shape(0)
	if !ok {
		return one(seqOf(typeOnly(dt)))
	}
	ax, ok := normAxis(c.n.AttrInt("axis", 0), len(x))
	if !ok {
		return nil
	}
	e := cloneDims(x)
	if !c.has(1) {
		if c.n.AttrInt("keepdims", 1) == 0 {
			e = append(e[:ax], e[ax+1:]...)
		} else {
			e[ax] = common.Dim{Value: 1}
		}
		return one(seqOf(shaped(dt, e)))
	}
	sp, ok := c.ints(1)
	st, _ := c.shape(1)
	switch {
	case ok && len(st) == 0 && len(sp) == 1 && x[ax].Known() && sp[0] > 0:
		if x[ax].Value%sp[0] == 0 || x[ax].Value < sp[0] {
			e[ax] = common.Dim{Value: min(sp[0], x[ax].Value)}
		} else {
			e[ax] = unknownDim
		}
	case ok && len(sp) > 0:
		e[ax] = common.Dim{Value: sp[0]}
		for _, v := range sp[1:] {
			e[ax] = mergeDim(e[ax], common.Dim{Value: v})
		}
	default:
		e[ax] = unknownDim
	}
	return one(seqOf(shaped(dt, e)))
}
