package graph

import (
	"github.com/accel-go/accel/common"
)

// nctx gives an op rule access to its node's inputs.
type nctx struct {
	s *inferer
	n *Node
}

// has reports whether optional input i is present.
func (c *nctx) has(i int) bool { return i < len(c.n.Inputs) && c.n.Inputs[i] != "" }

// in returns input i's type, when known.
func (c *nctx) in(i int) (TypeInfo, bool) {
	if !c.has(i) {
		return TypeInfo{}, false
	}
	return c.s.typeOf(c.n.Inputs[i])
}

// shape returns input i's dims when it is a tensor of known rank.
func (c *nctx) shape(i int) ([]common.Dim, bool) {
	t, ok := c.in(i)
	if !ok || t.Kind != common.KindTensor || !t.HasShape {
		return nil, false
	}
	return t.Dims, true
}

// dt returns input i's element type (Undefined when unknown).
func (c *nctx) dt(i int) common.DType {
	t, ok := c.in(i)
	if !ok || t.Kind != common.KindTensor {
		return common.Undefined
	}
	return t.DType
}

// val returns input i's tracked integer value.
func (c *nctx) val(i int) (sval, bool) {
	if !c.has(i) {
		return sval{}, false
	}
	return c.s.valOf(c.n.Inputs[i])
}

// ints returns input i's value when it is a fully known integer tensor.
func (c *nctx) ints(i int) ([]int64, bool) {
	v, ok := c.val(i)
	if !ok {
		return nil, false
	}
	return v.known()
}

// floats returns input i's value when it is a constant tensor.
func (c *nctx) floats(i int) ([]float64, bool) {
	if !c.has(i) {
		return nil, false
	}
	t, ok := c.s.constOf(c.n.Inputs[i])
	if !ok || t.Len() > maxConstElems || t.DType() == common.String {
		return nil, false
	}
	return t.Floats(), true
}

// numel returns the number of elements of input i when its shape is
// known (-1 otherwise).
func (c *nctx) numel(i int) int64 {
	d, ok := c.shape(i)
	if !ok {
		return -1
	}
	return product(d)
}

func product(d []common.Dim) int64 {
	p := int64(1)
	for _, x := range d {
		if !x.Known() {
			return -1
		}
		p *= x.Value
	}
	return p
}

// attrOrInput reads an int list that is attribute name before opset
// `since` and input idx from then on. present reports whether it was
// given; ok is false when it is an input whose value is not known.
func (c *nctx) attrOrInput(name string, idx int, since int64) (v []int64, present, ok bool) {
	if c.n.Opset < since {
		v = c.n.AttrInts(name)
		return v, c.n.HasAttr(name), true
	}
	if !c.has(idx) {
		return nil, false, true
	}
	v, ok = c.ints(idx)
	return v, true, ok
}

func normAxis(a int64, rank int) (int, bool) {
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, false
	}
	return int(a), true
}

func cloneDims(d []common.Dim) []common.Dim { return append([]common.Dim(nil), d...) }

// inferNode returns the types of n's outputs (KindUnknown where nothing
// is known) and records the constants and integer values it produces.
func (s *inferer) inferNode(n *Node) []TypeInfo {
	c := &nctx{s: s, n: n}
	var outs []TypeInfo
	if n.Domain == "" || n.Domain == "ai.onnx" {
		if r, ok := rules[n.OpType]; ok {
			outs = safeRule(r, c)
		}
	}
	s.propagate(c, outs)
	return outs
}

func safeRule(r func(*nctx) []TypeInfo, c *nctx) (outs []TypeInfo) {
	defer func() {
		if recover() != nil {
			outs = nil
		}
	}()
	return r(c)
}

// one wraps a single output type.
func one(t TypeInfo) []TypeInfo { return []TypeInfo{t} }
