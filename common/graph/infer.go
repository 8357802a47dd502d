package graph

import (
	"math"

	"github.com/accel-go/accel/common"
)

// InferShapes derives element types and shapes of the main graph's values
// from the declared inputs, the initializers and the operators' shape
// rules (following the ONNX type and shape inference of each operator and
// opset version). sizes gives values to symbolic dims (nil: keep them
// symbolic; symbolic dims propagate through the rules). Small integer
// values computed from shapes (Shape, Gather, Concat, Slice, arithmetic
// on them) and constants are propagated too, so that ops taking shapes,
// axes or pads as inputs resolve. Unknown dims are Dim{Value: -1}. Values
// whose type cannot be derived at all are absent from the result, or
// present with HasShape false when only the element type is known.
// Declared value_info and output types fill in what the rules leave open.
func InferShapes(m *Model, sizes map[string]int64) map[string]TypeInfo {
	if m == nil || m.Graph == nil {
		return map[string]TypeInfo{}
	}
	s := newInferer(nil, sizes)
	s.seed(m.Graph, true)
	s.run(m.Graph)
	return s.types
}

// maxRank bounds the ranks inference derives from values.
const maxRank = 1024

// maxConstElems bounds the integer tensors tracked as values.
const maxConstElems = 1 << 12

// sval is a small integer value tracked through the graph: a scalar or a
// 1-D tensor whose elements may be symbolic (data propagation).
type sval struct {
	d      []common.Dim
	scalar bool
}

// svUnknown marks an element of an sval whose value is not known (a
// literal -1 is a value).
var svUnknown = common.Dim{Value: math.MinInt64}

// dims converts an sval used as a shape to dims.
func (v sval) dims() []common.Dim {
	out := make([]common.Dim, len(v.d))
	for i, d := range v.d {
		if d.Param == "" && d.Value < 0 {
			d = unknownDim
		}
		out[i] = d
	}
	return out
}

func (v sval) known() ([]int64, bool) {
	out := make([]int64, len(v.d))
	for i, d := range v.d {
		if d.Param != "" || d == svUnknown {
			return nil, false
		}
		out[i] = d.Value
	}
	return out, true
}

// inferer holds what is known about the values of one graph scope.
type inferer struct {
	parent *inferer
	sizes  map[string]int64
	types  map[string]TypeInfo
	consts map[string]*common.Tensor
	vals   map[string]sval
	depth  int
}

func newInferer(parent *inferer, sizes map[string]int64) *inferer {
	s := &inferer{parent: parent, sizes: sizes, types: map[string]TypeInfo{},
		consts: map[string]*common.Tensor{}, vals: map[string]sval{}}
	if parent != nil {
		s.depth = parent.depth + 1
	}
	return s
}

func (s *inferer) typeOf(name string) (TypeInfo, bool) {
	for c := s; c != nil; c = c.parent {
		if t, ok := c.types[name]; ok {
			return t, true
		}
	}
	return TypeInfo{}, false
}

func (s *inferer) constOf(name string) (*common.Tensor, bool) {
	for c := s; c != nil; c = c.parent {
		if t, ok := c.consts[name]; ok {
			return t, true
		}
		if _, ok := c.types[name]; ok {
			return nil, false // shadowed by a non-constant
		}
	}
	return nil, false
}

func (s *inferer) valOf(name string) (sval, bool) {
	for c := s; c != nil; c = c.parent {
		if v, ok := c.vals[name]; ok {
			return v, true
		}
		if _, ok := c.types[name]; ok {
			return sval{}, false
		}
	}
	return sval{}, false
}

func (s *inferer) setConst(name string, t *common.Tensor) {
	s.consts[name] = t
	if v, ok := constVal(t); ok {
		s.vals[name] = v
	}
}

// constVal converts a small integer tensor of rank 0 or 1 to an sval.
func constVal(t *common.Tensor) (sval, bool) {
	if t == nil || t.Rank() > 1 || !t.DType().IsInteger() || t.Len() > maxConstElems {
		return sval{}, false
	}
	v := sval{d: make([]common.Dim, t.Len()), scalar: t.Rank() == 0}
	for i := range v.d {
		v.d[i] = common.Dim{Value: t.Int(i)}
	}
	return v, true
}

// seed records a graph's initializers, declared value types and inputs.
// Declared intermediate types are kept only as a fallback (see run).
func (s *inferer) seed(g *Graph, bindInputs bool) {
	for name, t := range g.Initializers {
		s.types[name] = tensorType(t)
		s.setConst(name, t)
	}
	for _, in := range g.Inputs {
		if _, isInit := g.Initializers[in.Name]; isInit {
			continue
		}
		if in.Type.Kind == common.KindUnknown {
			continue
		}
		t := in.Type
		if bindInputs {
			t = bindType(t, s.sizes)
		}
		s.types[in.Name] = t
	}
}

// run infers every node of g in topological order.
func (s *inferer) run(g *Graph) {
	outer := map[string]bool{}
	for c := s.parent; c != nil; c = c.parent {
		for k := range c.types {
			outer[k] = true
		}
	}
	order, err := Order(g, outer)
	if err != nil {
		order = g.Nodes
	}
	for _, n := range order {
		outs := s.inferNode(n)
		for i, o := range n.Outputs {
			if o == "" {
				continue
			}
			var t TypeInfo
			if i < len(outs) {
				t = outs[i]
			}
			if vi, ok := g.ValueInfo[o]; ok {
				t = refine(t, bindType(vi.Type, s.sizes))
			}
			if t.Kind != common.KindUnknown {
				s.types[o] = t
			}
		}
	}
	for _, o := range g.Outputs {
		if o.Type.Kind == common.KindUnknown {
			continue
		}
		t, _ := s.types[o.Name]
		if _, isIn := s.types[o.Name]; !isIn {
			if pt, ok := s.typeOf(o.Name); ok {
				t = pt
			}
		}
		if r := refine(t, bindType(o.Type, s.sizes)); r.Kind != common.KindUnknown {
			s.types[o.Name] = r
		}
	}
}

// refine fills what inferred leaves unknown from a declared type.
func refine(inferred, declared TypeInfo) TypeInfo {
	if inferred.Kind == common.KindUnknown {
		return declared
	}
	if declared.Kind != inferred.Kind {
		return inferred
	}
	switch inferred.Kind {
	case common.KindTensor, common.KindSparseTensor:
		if inferred.DType == common.Undefined {
			inferred.DType = declared.DType
		}
		if !inferred.HasShape {
			inferred.Dims, inferred.HasShape = declared.Dims, declared.HasShape
			return inferred
		}
		if declared.HasShape && len(declared.Dims) == len(inferred.Dims) {
			dims := append([]common.Dim(nil), inferred.Dims...)
			for i, d := range dims {
				if !d.Known() && d.Param == "" {
					dims[i] = declared.Dims[i]
				}
			}
			inferred.Dims = dims
		}
	case common.KindSequence, common.KindOptional:
		if declared.Elem != nil {
			if inferred.Elem == nil {
				inferred.Elem = declared.Elem
			} else {
				e := refine(*inferred.Elem, *declared.Elem)
				inferred.Elem = &e
			}
		}
	}
	return inferred
}

func tensorType(t *common.Tensor) TypeInfo {
	dims := make([]common.Dim, t.Rank())
	for i, d := range t.Shape() {
		dims[i] = common.Dim{Value: int64(d)}
	}
	return TypeInfo{Kind: common.KindTensor, DType: t.DType(), Dims: dims, HasShape: true}
}

func bind(t TypeInfo, sizes map[string]int64) TypeInfo {
	if !t.HasShape {
		return t
	}
	dims := append([]common.Dim(nil), t.Dims...)
	for i, d := range dims {
		if d.Param != "" {
			if v, ok := sizes[d.Param]; ok {
				dims[i] = common.Dim{Value: v}
			}
		} else if d.Value < 0 {
			dims[i] = common.Dim{Value: -1}
		}
	}
	t.Dims = dims
	return t
}

// bindType binds symbolic sizes in a tensor, sequence or optional type.
func bindType(t TypeInfo, sizes map[string]int64) TypeInfo {
	switch t.Kind {
	case common.KindTensor, common.KindSparseTensor:
		return bind(t, sizes)
	case common.KindSequence, common.KindOptional:
		if t.Elem != nil {
			e := bindType(*t.Elem, sizes)
			t.Elem = &e
		}
	}
	return t
}

func shaped(d common.DType, dims []common.Dim) TypeInfo {
	return TypeInfo{Kind: common.KindTensor, DType: d, Dims: dims, HasShape: true}
}

// rankOnly is a tensor type of known rank whose dims are all unknown.
// A rank that is negative or above maxRank (from hostile declarations)
// leaves the rank unknown.
func rankOnly(d common.DType, rank int) TypeInfo {
	if rank < 0 || rank > maxRank {
		return typeOnly(d)
	}
	dims := make([]common.Dim, rank)
	for i := range dims {
		dims[i] = unknownDim
	}
	return shaped(d, dims)
}

// typeOnly is a tensor type of unknown rank.
func typeOnly(d common.DType) TypeInfo {
	return TypeInfo{Kind: common.KindTensor, DType: d}
}

var unknownDim = common.Dim{Value: -1}

func known(dims ...int64) []common.Dim {
	out := make([]common.Dim, len(dims))
	for i, v := range dims {
		out[i] = common.Dim{Value: v}
	}
	return out
}

func broadcastDims(a, b []common.Dim) []common.Dim {
	r := max(len(a), len(b))
	out := make([]common.Dim, r)
	for i := 0; i < r; i++ {
		da, db := common.Dim{Value: 1}, common.Dim{Value: 1}
		if j := len(a) - r + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - r + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da.Known() && da.Value == 1:
			out[i] = db
		case db.Known() && db.Value == 1:
			out[i] = da
		case da.Known() && db.Known():
			return nil
		case da.Known() && da.Value > 1:
			out[i] = da
		case db.Known() && db.Value > 1:
			out[i] = db
		default:
			out[i] = unknownDim
		}
	}
	return out
}

// mergeDim combines two facts about one dim that may differ (branches of
// an If, iterations of a Loop): equal facts stay, others become unknown.
func mergeDim(a, b common.Dim) common.Dim {
	if a == b {
		return a
	}
	return unknownDim
}

// mergeType combines two types a value may have.
func mergeType(a, b TypeInfo) TypeInfo {
	if a.Kind == common.KindUnknown {
		return b
	}
	if b.Kind == common.KindUnknown {
		return a
	}
	if a.Kind != b.Kind {
		return TypeInfo{}
	}
	switch a.Kind {
	case common.KindTensor, common.KindSparseTensor:
		if a.DType == common.Undefined {
			a.DType = b.DType
		}
		if !a.HasShape || !b.HasShape || len(a.Dims) != len(b.Dims) {
			return TypeInfo{Kind: a.Kind, DType: a.DType}
		}
		dims := make([]common.Dim, len(a.Dims))
		for i := range dims {
			dims[i] = mergeDim(a.Dims[i], b.Dims[i])
		}
		a.Dims = dims
	case common.KindSequence, common.KindOptional:
		switch {
		case a.Elem == nil:
			a.Elem = b.Elem
		case b.Elem != nil:
			e := mergeType(*a.Elem, *b.Elem)
			a.Elem = &e
		}
	}
	return a
}

// EstimateFLOPs sums an estimate of floating-point operations over the
// main graph's nodes whose shapes InferShapes derives (a multiply-add is
// two). It returns the estimate and how many nodes it covered.
func EstimateFLOPs(m *Model, sizes map[string]int64) (float64, int) {
	types := InferShapes(m, sizes)
	elems := func(name string) (float64, bool) {
		t, ok := types[name]
		if !ok || !t.HasShape {
			return 0, false
		}
		p := 1.0
		for _, d := range t.Dims {
			if !d.Known() {
				return 0, false
			}
			p *= float64(d.Value)
		}
		return p, true
	}
	var total float64
	covered := 0
	for _, n := range m.Graph.Nodes {
		if len(n.Outputs) == 0 {
			continue
		}
		out, ok := elems(n.Outputs[0])
		if !ok {
			continue
		}
		covered++
		switch n.OpType {
		case "Conv", "ConvInteger":
			w, ok := types[n.Input(1)]
			if !ok || !w.HasShape {
				continue
			}
			k := 1.0
			for _, d := range w.Dims[1:] {
				k *= float64(max(d.Value, 0))
			}
			total += 2 * out * k
		case "MatMul", "Gemm":
			x, ok := types[n.Input(0)]
			if !ok || !x.HasShape || len(x.Dims) == 0 {
				continue
			}
			k := x.Dims[len(x.Dims)-1]
			if n.OpType == "Gemm" && n.AttrInt("transA", 0) != 0 {
				k = x.Dims[0]
			}
			total += 2 * out * float64(max(k.Value, 0))
		case "Shape", "Reshape", "Flatten", "Identity", "Dropout", "Constant", "Squeeze", "Unsqueeze":
		default:
			total += out
		}
	}
	return total, covered
}
