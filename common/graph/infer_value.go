package graph

import (
	"github.com/accel-go/accel/common"
)

// propagate records the constants and small integer values n produces,
// given its inferred output types (data propagation, as ONNX's shape
// inference does for shape-computing subgraphs).
func (s *inferer) propagate(c *nctx, outs []TypeInfo) {
	n := c.n
	if len(n.Outputs) == 0 || n.Outputs[0] == "" {
		return
	}
	name := n.Outputs[0]
	switch n.OpType {
	case "Constant":
		if t := constantValue(n); t != nil {
			s.setConst(name, t)
		}
		return
	case "Identity":
		if t, ok := s.constOf(n.Input(0)); ok {
			s.setConst(name, t)
			return
		}
	}
	if len(outs) == 0 || outs[0].Kind != common.KindTensor || !outs[0].HasShape || len(outs[0].Dims) > 1 {
		return
	}
	if !outs[0].DType.IsInteger() {
		return
	}
	scalar := len(outs[0].Dims) == 0
	v, ok := s.valueOf(c, scalar)
	if !ok {
		return
	}
	if len(outs[0].Dims) == 1 && outs[0].Dims[0].Known() && outs[0].Dims[0].Value != int64(len(v.d)) {
		return
	}
	if len(v.d) > maxConstElems {
		return
	}
	v.scalar = scalar
	s.vals[name] = v
}

// constantValue returns a Constant node's value as a tensor.
func constantValue(n *Node) *common.Tensor {
	if t := n.AttrTensor("value"); t != nil {
		return t
	}
	if a := n.Attr("value_int"); a != nil && a.Type == common.AttrInt {
		return common.Scalar(a.I)
	}
	if a := n.Attr("value_ints"); a != nil && a.Type == common.AttrInts {
		return common.NewTensor(common.Shape{len(a.Ints)}, append([]int64(nil), a.Ints...))
	}
	if a := n.Attr("value_float"); a != nil && a.Type == common.AttrFloat {
		return common.Scalar(a.F)
	}
	if a := n.Attr("value_floats"); a != nil && a.Type == common.AttrFloats {
		return common.NewTensor(common.Shape{len(a.Floats)}, append([]float32(nil), a.Floats...))
	}
	return nil
}

// valueOf computes the value of n's first output from its inputs'
// values, when the op is one data propagation covers.
func (s *inferer) valueOf(c *nctx, scalar bool) (sval, bool) {
	n := c.n
	switch n.OpType {
	case "Identity", "Cast", "CastLike":
		if n.OpType != "Identity" && !c.dt(0).IsInteger() {
			return sval{}, false
		}
		return c.val(0)
	case "Shape":
		x, ok := c.shape(0)
		if !ok {
			return sval{}, false
		}
		lo, hi := shapeRange(c, len(x))
		d := make([]common.Dim, 0, hi-lo)
		for _, x := range x[lo:hi] {
			if !x.Known() && x.Param == "" {
				x = svUnknown
			}
			d = append(d, x)
		}
		return sval{d: d}, true
	case "Size":
		x, ok := c.shape(0)
		if !ok {
			return sval{}, false
		}
		p := dimProduct(x)
		if p == unknownDim {
			p = svUnknown
		}
		return sval{d: []common.Dim{p}, scalar: true}, true
	case "Gather":
		x, ok := c.val(0)
		idx, ok2 := c.ints(1)
		if !ok || !ok2 || x.scalar {
			return sval{}, false
		}
		out := make([]common.Dim, len(idx))
		for i, j := range idx {
			if j < 0 {
				j += int64(len(x.d))
			}
			if j < 0 || j >= int64(len(x.d)) {
				return sval{}, false
			}
			out[i] = x.d[j]
		}
		return sval{d: out}, true
	case "Concat":
		var out []common.Dim
		for i := range n.Inputs {
			if !c.has(i) {
				continue
			}
			v, ok := c.val(i)
			if !ok {
				return sval{}, false
			}
			out = append(out, v.d...)
		}
		return sval{d: out}, true
	case "Unsqueeze", "Squeeze", "Reshape", "Flatten":
		v, ok := c.val(0)
		if !ok {
			return sval{}, false
		}
		return sval{d: v.d}, true
	case "Slice":
		v, ok := c.val(0)
		if !ok || v.scalar {
			return sval{}, false
		}
		starts, ends, axes, steps, ok := sliceParams(c, 1)
		if !ok || len(axes) != 1 {
			return sval{}, false
		}
		dim := int64(len(v.d))
		cnt := sliceLen(dim, starts[0], ends[0], steps[0])
		at := sliceStart(dim, starts[0], steps[0])
		out := make([]common.Dim, 0, cnt)
		for k := int64(0); k < cnt; k++ {
			j := at + k*steps[0]
			if j < 0 || j >= dim {
				return sval{}, false
			}
			out = append(out, v.d[j])
		}
		return sval{d: out}, true
	case "Add", "Sub", "Mul", "Div", "Mod", "Max", "Min":
		if len(n.Inputs) != 2 {
			return sval{}, false
		}
		a, ok1 := c.val(0)
		b, ok2 := c.val(1)
		if !ok1 || !ok2 {
			return sval{}, false
		}
		return binaryVal(n.OpType, a, b)
	case "Neg":
		a, ok := c.val(0)
		if !ok {
			return sval{}, false
		}
		return binaryVal("Sub", sval{d: []common.Dim{{Value: 0}}, scalar: true}, a)
	case "ConstantOfShape":
		sh, ok := c.ints(0)
		t := n.AttrTensor("value")
		if !ok || len(sh) > 1 || (t != nil && !t.DType().IsInteger()) {
			return sval{}, false
		}
		cnt := int64(1)
		for _, x := range sh {
			cnt *= x
		}
		if cnt < 0 || cnt > maxConstElems {
			return sval{}, false
		}
		fill := int64(0)
		if t != nil && t.Len() == 1 {
			fill = t.Int(0)
		}
		out := make([]common.Dim, cnt)
		for i := range out {
			out[i] = common.Dim{Value: fill}
		}
		return sval{d: out}, true
	case "Range":
		a, ok1 := c.ints(0)
		b, ok2 := c.ints(1)
		d, ok3 := c.ints(2)
		if !ok1 || !ok2 || !ok3 || len(a) != 1 || len(b) != 1 || len(d) != 1 || d[0] == 0 {
			return sval{}, false
		}
		var out []common.Dim
		for x := a[0]; (d[0] > 0 && x < b[0]) || (d[0] < 0 && x > b[0]); x += d[0] {
			if len(out) >= maxConstElems {
				return sval{}, false
			}
			out = append(out, common.Dim{Value: x})
		}
		return sval{d: out}, true
	case "ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin":
		v, ok := c.val(0)
		if !ok || v.scalar {
			return sval{}, false
		}
		vals, ok := v.known()
		if !ok || len(vals) == 0 {
			return sval{}, false
		}
		acc := vals[0]
		for _, x := range vals[1:] {
			switch n.OpType {
			case "ReduceProd":
				acc *= x
			case "ReduceSum":
				acc += x
			case "ReduceMax":
				acc = max(acc, x)
			case "ReduceMin":
				acc = min(acc, x)
			}
		}
		return sval{d: []common.Dim{{Value: acc}}}, true
	}
	return sval{}, false
}

// binaryVal applies an elementwise integer op to two values, scalars
// broadcasting.
func binaryVal(op string, a, b sval) (sval, bool) {
	n := len(a.d)
	switch {
	case len(a.d) == len(b.d):
	case len(a.d) == 1:
		n = len(b.d)
	case len(b.d) == 1:
	default:
		return sval{}, false
	}
	out := make([]common.Dim, n)
	for i := range out {
		x, y := a.d[min(i, len(a.d)-1)], b.d[min(i, len(b.d)-1)]
		out[i] = binaryDim(op, x, y)
	}
	return sval{d: out, scalar: a.scalar && b.scalar}, true
}

func binaryDim(op string, x, y common.Dim) common.Dim {
	isVal := func(d common.Dim) bool { return d.Param == "" && d != svUnknown }
	if isVal(x) && isVal(y) {
		a, b := x.Value, y.Value
		switch op {
		case "Add":
			return common.Dim{Value: a + b}
		case "Sub":
			return common.Dim{Value: a - b}
		case "Mul":
			return common.Dim{Value: a * b}
		case "Div":
			if b != 0 {
				return common.Dim{Value: a / b}
			}
		case "Mod":
			if b != 0 {
				m := a % b
				if m != 0 && (m < 0) != (b < 0) {
					m += b
				}
				return common.Dim{Value: m}
			}
		case "Max":
			return common.Dim{Value: max(a, b)}
		case "Min":
			return common.Dim{Value: min(a, b)}
		}
		return svUnknown
	}
	switch {
	case (op == "Mul" || op == "Div") && isVal(y) && y.Value == 1:
		return x
	case op == "Mul" && isVal(x) && x.Value == 1:
		return y
	case (op == "Add" || op == "Sub") && isVal(y) && y.Value == 0:
		return x
	case op == "Add" && isVal(x) && x.Value == 0:
		return y
	case (op == "Max" || op == "Min") && x == y:
		return x
	}
	return svUnknown
}
