package graph

import (
	"github.com/accel-go/accel/common"
)

// InferShapes derives element types and shapes of the main graph's values
// from the declared inputs, the initializers and the operators' shape
// rules. sizes gives values to symbolic dims (nil: keep them symbolic;
// symbolic dims propagate through the rules). Values whose shape cannot
// be derived (data-dependent shapes, ops without a rule) are absent from
// the result, or present with HasShape false.
func InferShapes(m *Model, sizes map[string]int64) map[string]TypeInfo {
	g := m.Graph
	types := map[string]TypeInfo{}
	consts := map[string]*common.Tensor{}
	for name, t := range g.Initializers {
		types[name] = tensorType(t)
		consts[name] = t
	}
	for _, vi := range g.ValueInfo {
		if vi.Type.Kind == common.KindTensor {
			types[vi.Name] = bind(vi.Type, sizes)
		}
	}
	for _, in := range g.Inputs {
		if _, isInit := g.Initializers[in.Name]; !isInit {
			types[in.Name] = bind(in.Type, sizes)
		}
	}
	order, err := Order(g, nil)
	if err != nil {
		return types
	}
	for _, n := range order {
		outs := inferNode(n, types, consts)
		for i, o := range n.Outputs {
			if o == "" || i >= len(outs) || outs[i].Kind == common.KindUnknown {
				continue
			}
			types[o] = outs[i]
		}
		if n.OpType == "Constant" {
			if t := n.AttrTensor("value"); t != nil && len(n.Outputs) > 0 {
				consts[n.Outputs[0]] = t
			}
		}
	}
	for _, o := range g.Outputs {
		if _, ok := types[o.Name]; !ok && o.Type.Kind == common.KindTensor {
			types[o.Name] = bind(o.Type, sizes)
		}
	}
	return types
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
		}
	}
	t.Dims = dims
	return t
}

func shaped(d common.DType, dims []common.Dim) TypeInfo {
	return TypeInfo{Kind: common.KindTensor, DType: d, Dims: dims, HasShape: true}
}

func known(dims ...int64) []common.Dim {
	out := make([]common.Dim, len(dims))
	for i, v := range dims {
		out[i] = common.Dim{Value: v}
	}
	return out
}

var sameShapeOps = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Sigmoid": true, "Tanh": true, "Exp": true, "Log": true,
	"Sqrt": true, "Abs": true, "Neg": true, "Erf": true, "Softmax": true, "LogSoftmax": true,
	"Clip": true, "HardSigmoid": true, "HardSwish": true, "Elu": true, "Selu": true, "Gelu": true,
	"BatchNormalization": true, "InstanceNormalization": true, "LayerNormalization": true,
	"Identity": true, "Dropout": true, "Reciprocal": true, "Softplus": true, "Softsign": true,
	"Mish": true, "Celu": true, "Floor": true, "Ceil": true, "Round": true, "Sign": true,
	"Sin": true, "Cos": true, "LRN": true, "CumSum": true, "Hardmax": true, "PRelu": true,
	"ThresholdedRelu": true, "Not": true, "GroupNormalization": true,
}

var broadcastOps = map[string]common.DType{
	"Add": 0, "Sub": 0, "Mul": 0, "Div": 0, "Pow": 0, "Max": 0, "Min": 0, "Sum": 0, "Mean": 0,
	"Mod": 0, "And": common.Bool, "Or": common.Bool, "Xor": common.Bool, "Equal": common.Bool,
	"Greater": common.Bool, "Less": common.Bool, "GreaterOrEqual": common.Bool, "LessOrEqual": common.Bool,
}

func inferNode(n *Node, types map[string]TypeInfo, consts map[string]*common.Tensor) []TypeInfo {
	in := func(i int) (TypeInfo, bool) {
		if i >= len(n.Inputs) || n.Inputs[i] == "" {
			return TypeInfo{}, false
		}
		t, ok := types[n.Inputs[i]]
		return t, ok && t.HasShape
	}
	x, ok := in(0)
	switch {
	case n.OpType == "Constant":
		if t := n.AttrTensor("value"); t != nil {
			return []TypeInfo{tensorType(t)}
		}
		return nil
	case n.OpType == "Shape" && ok:
		return []TypeInfo{shaped(common.Int64, known(int64(len(x.Dims))))}
	case !ok:
		return nil
	case sameShapeOps[n.OpType]:
		return []TypeInfo{x}
	case n.OpType == "Cast":
		x.DType = common.DType(n.AttrInt("to", int64(x.DType)))
		return []TypeInfo{x}
	}
	if dt, isB := broadcastOps[n.OpType]; isB {
		dims := x.Dims
		for i := 1; i < len(n.Inputs); i++ {
			y, ok := in(i)
			if !ok {
				return nil
			}
			if dims = broadcastDims(dims, y.Dims); dims == nil {
				return nil
			}
		}
		if dt == 0 {
			dt = x.DType
		}
		return []TypeInfo{shaped(dt, dims)}
	}
	switch n.OpType {
	case "Conv", "MaxPool", "AveragePool", "ConvInteger", "QLinearConv":
		return []TypeInfo{inferWindow(n, x, types)}
	case "GlobalAveragePool", "GlobalMaxPool":
		dims := append([]common.Dim(nil), x.Dims...)
		for i := 2; i < len(dims); i++ {
			dims[i] = common.Dim{Value: 1}
		}
		return []TypeInfo{shaped(x.DType, dims)}
	case "Gemm":
		w, ok := in(1)
		if !ok || len(x.Dims) != 2 || len(w.Dims) != 2 {
			return nil
		}
		m, nn := x.Dims[0], w.Dims[1]
		if n.AttrInt("transA", 0) != 0 {
			m = x.Dims[1]
		}
		if n.AttrInt("transB", 0) != 0 {
			nn = w.Dims[0]
		}
		return []TypeInfo{shaped(x.DType, []common.Dim{m, nn})}
	case "MatMul":
		w, ok := in(1)
		if !ok || len(x.Dims) < 2 || len(w.Dims) < 2 {
			return nil
		}
		batch := broadcastDims(x.Dims[:len(x.Dims)-2], w.Dims[:len(w.Dims)-2])
		if batch == nil && (len(x.Dims) > 2 || len(w.Dims) > 2) {
			return nil
		}
		dims := append(append([]common.Dim(nil), batch...), x.Dims[len(x.Dims)-2], w.Dims[len(w.Dims)-1])
		return []TypeInfo{shaped(x.DType, dims)}
	case "Flatten":
		axis := int(n.AttrInt("axis", 1))
		if axis < 0 {
			axis += len(x.Dims)
		}
		a, b := int64(1), int64(1)
		for i, d := range x.Dims {
			if !d.Known() {
				return nil
			}
			if i < axis {
				a *= d.Value
			} else {
				b *= d.Value
			}
		}
		return []TypeInfo{shaped(x.DType, known(a, b))}
	case "Reshape":
		if len(n.Inputs) < 2 {
			return nil
		}
		s, ok := consts[n.Inputs[1]]
		if !ok {
			return nil
		}
		total := int64(1)
		for _, d := range x.Dims {
			if !d.Known() {
				return nil
			}
			total *= d.Value
		}
		want := s.Ints()
		dims := make([]int64, len(want))
		rest, neg := total, -1
		for i, v := range want {
			switch {
			case v == 0 && i < len(x.Dims) && n.AttrInt("allowzero", 0) == 0:
				dims[i] = x.Dims[i].Value
			case v == -1:
				neg = i
				continue
			default:
				dims[i] = v
			}
			if dims[i] != 0 {
				rest /= dims[i]
			}
		}
		if neg >= 0 {
			dims[neg] = rest
		}
		return []TypeInfo{shaped(x.DType, known(dims...))}
	case "Transpose":
		perm := n.AttrInts("perm")
		dims := make([]common.Dim, len(x.Dims))
		for i := range dims {
			p := len(dims) - 1 - i
			if perm != nil {
				if i >= len(perm) || perm[i] < 0 || int(perm[i]) >= len(dims) {
					return nil
				}
				p = int(perm[i])
			}
			dims[i] = x.Dims[p]
		}
		return []TypeInfo{shaped(x.DType, dims)}
	case "Concat":
		axis := int(n.AttrInt("axis", 0))
		if axis < 0 {
			axis += len(x.Dims)
		}
		if axis < 0 || axis >= len(x.Dims) {
			return nil
		}
		dims := append([]common.Dim(nil), x.Dims...)
		for i := 1; i < len(n.Inputs); i++ {
			y, ok := in(i)
			if !ok || len(y.Dims) != len(dims) || !y.Dims[axis].Known() || !dims[axis].Known() {
				return nil
			}
			dims[axis].Value += y.Dims[axis].Value
		}
		return []TypeInfo{shaped(x.DType, dims)}
	}
	return nil
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
		case !da.Known():
			out[i] = db
		case !db.Known():
			out[i] = da
		default:
			return nil
		}
	}
	return out
}

func inferWindow(n *Node, x TypeInfo, types map[string]TypeInfo) TypeInfo {
	if len(x.Dims) < 3 {
		return TypeInfo{}
	}
	spatial := len(x.Dims) - 2
	kernel := n.AttrInts("kernel_shape")
	outC := x.Dims[1]
	isConv := n.OpType == "Conv" || n.OpType == "ConvInteger" || n.OpType == "QLinearConv"
	if isConv {
		wi := 1
		if n.OpType == "QLinearConv" {
			wi = 3
		}
		if wi >= len(n.Inputs) {
			return TypeInfo{}
		}
		w, ok := types[n.Inputs[wi]]
		if !ok || !w.HasShape || len(w.Dims) != len(x.Dims) {
			return TypeInfo{}
		}
		outC = w.Dims[0]
		if kernel == nil {
			for _, d := range w.Dims[2:] {
				kernel = append(kernel, d.Value)
			}
		}
	}
	if len(kernel) != spatial {
		return TypeInfo{}
	}
	strides := n.AttrInts("strides")
	dil := n.AttrInts("dilations")
	pads := n.AttrInts("pads")
	autoPad := n.AttrString("auto_pad", "NOTSET")
	ceil := n.AttrInt("ceil_mode", 0) != 0
	dims := []common.Dim{x.Dims[0], outC}
	for i := 0; i < spatial; i++ {
		d := x.Dims[2+i]
		if !d.Known() {
			dims = append(dims, common.Dim{Value: -1})
			continue
		}
		s, dl := int64(1), int64(1)
		if i < len(strides) {
			s = strides[i]
		}
		if i < len(dil) {
			dl = dil[i]
		}
		if s <= 0 || dl <= 0 {
			return TypeInfo{}
		}
		k := (kernel[i]-1)*dl + 1
		var o int64
		switch autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			o = (d.Value + s - 1) / s
		case "VALID":
			o = (d.Value-k)/s + 1
		default:
			p := int64(0)
			if len(pads) == 2*spatial {
				p = pads[i] + pads[i+spatial]
			}
			num := d.Value + p - k
			if ceil {
				o = (num+s-1)/s + 1
			} else {
				o = num/s + 1
			}
		}
		dims = append(dims, common.Dim{Value: o})
	}
	dt := x.DType
	if n.OpType == "ConvInteger" {
		dt = common.Int32
	}
	return shaped(dt, dims)
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
				k *= float64(d.Value)
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
			total += 2 * out * float64(k.Value)
		case "Shape", "Reshape", "Flatten", "Identity", "Dropout", "Constant", "Squeeze", "Unsqueeze":
		default:
			total += out
		}
	}
	return total, covered
}
