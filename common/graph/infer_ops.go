package graph

import (
	"math"

	"github.com/accel-go/accel/common"
)

// rules maps op types of the default domain to their inference rule.
var rules = map[string]func(*nctx) []TypeInfo{}

func init() {
	for _, op := range []string{
		"Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Celu", "Cos", "Cosh",
		"Elu", "Erf", "Exp", "Floor", "Gelu", "HardSigmoid", "HardSwish", "LeakyRelu", "Log",
		"Mish", "Neg", "Reciprocal", "Relu", "Round", "Selu", "Sigmoid", "Sign", "Sin", "Sinh",
		"Softplus", "Softsign", "Sqrt", "Tan", "Tanh", "ThresholdedRelu", "BitwiseNot", "Not",
		"Softmax", "LogSoftmax", "Hardmax", "LpNormalization", "Clip", "CumSum", "Trilu", "LRN",
		"InstanceNormalization", "MeanVarianceNormalization", "GroupNormalization",
		"ReverseSequence", "Scatter", "ScatterElements", "ScatterND", "PRelu",
	} {
		rules[op] = sameAsFirst
	}
	rules["Identity"] = func(c *nctx) []TypeInfo {
		t, ok := c.in(0)
		if !ok {
			return nil
		}
		return one(t)
	}
	for _, op := range []string{"IsNaN", "IsInf"} {
		rules[op] = func(c *nctx) []TypeInfo {
			t := sameAsFirst(c)
			if t == nil {
				return one(typeOnly(common.Bool))
			}
			t[0].DType = common.Bool
			return t
		}
	}
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift",
		"BitwiseAnd", "BitwiseOr", "BitwiseXor", "Max", "Min", "Sum", "Mean"} {
		rules[op] = broadcastRule(0)
	}
	for _, op := range []string{"And", "Or", "Xor", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"} {
		rules[op] = broadcastRule(common.Bool)
	}
	rules["Where"] = func(c *nctx) []TypeInfo {
		dt := c.dt(1)
		dims, ok := broadcastInputs(c, 0, 3)
		if !ok {
			return one(typeOnly(dt))
		}
		return one(shaped(dt, dims))
	}
	rules["Cast"] = func(c *nctx) []TypeInfo {
		to := common.DType(c.n.AttrInt("to", 0))
		if a := c.n.Attr("to"); a != nil && a.Type == common.AttrString {
			to = dtypeByName(string(a.S))
		}
		return one(withDType(c, to))
	}
	rules["CastLike"] = func(c *nctx) []TypeInfo { return one(withDType(c, c.dt(1))) }
	rules["Constant"] = ruleConstant
	rules["Shape"] = func(c *nctx) []TypeInfo {
		x, ok := c.shape(0)
		if !ok {
			return one(rankOnly(common.Int64, 1))
		}
		lo, hi := shapeRange(c, len(x))
		return one(shaped(common.Int64, known(int64(hi-lo))))
	}
	rules["Size"] = func(c *nctx) []TypeInfo { return one(shaped(common.Int64, nil)) }
	for _, op := range []string{"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
		"ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare"} {
		rules[op] = ruleReduce
	}
	rules["ArgMax"] = ruleArg
	rules["ArgMin"] = ruleArg
	rules["Dropout"] = func(c *nctx) []TypeInfo {
		x, _ := c.in(0)
		if x.Kind != common.KindTensor {
			return nil
		}
		mask := x
		mask.DType = common.Bool
		if c.n.Opset < 10 {
			mask.DType = x.DType
		}
		return []TypeInfo{x, mask}
	}
	rules["BatchNormalization"] = func(c *nctx) []TypeInfo {
		x, _ := c.in(0)
		if x.Kind != common.KindTensor {
			return nil
		}
		outs := []TypeInfo{x}
		for i := 1; i < len(c.n.Outputs); i++ {
			t, ok := c.in(3)
			if !ok {
				t, ok = c.in(1)
			}
			if !ok {
				t = typeOnly(x.DType)
			}
			outs = append(outs, t)
		}
		return outs
	}
	rules["LayerNormalization"] = func(c *nctx) []TypeInfo {
		x, _ := c.in(0)
		if x.Kind != common.KindTensor {
			return nil
		}
		stash := common.DType(c.n.AttrInt("stash_type", int64(common.Float32)))
		stat := typeOnly(stash)
		if x.HasShape {
			if a, ok := normAxis(c.n.AttrInt("axis", -1), len(x.Dims)); ok {
				d := cloneDims(x.Dims)
				for i := a; i < len(d); i++ {
					d[i] = common.Dim{Value: 1}
				}
				stat = shaped(stash, d)
			}
		}
		return []TypeInfo{x, stat, stat}
	}
}

func sameAsFirst(c *nctx) []TypeInfo {
	t, ok := c.in(0)
	if !ok || t.Kind != common.KindTensor {
		return nil
	}
	return one(t)
}

func withDType(c *nctx, d common.DType) TypeInfo {
	t, ok := c.in(0)
	if !ok || t.Kind != common.KindTensor {
		return typeOnly(d)
	}
	t.DType = d
	return t
}

func dtypeByName(s string) common.DType {
	names := map[string]common.DType{"FLOAT": common.Float32, "DOUBLE": common.Float64, "FLOAT16": common.Float16,
		"INT8": common.Int8, "INT16": common.Int16, "INT32": common.Int32, "INT64": common.Int64,
		"UINT8": common.Uint8, "UINT16": common.Uint16, "UINT32": common.Uint32, "UINT64": common.Uint64,
		"BOOL": common.Bool, "STRING": common.String, "BFLOAT16": common.BFloat16}
	return names[s]
}

func broadcastInputs(c *nctx, from, to int) ([]common.Dim, bool) {
	var dims []common.Dim
	for i := from; i < to && i < len(c.n.Inputs); i++ {
		d, ok := c.shape(i)
		if !ok {
			return nil, false
		}
		if i == from {
			dims = d
			continue
		}
		if dims = broadcastDims(dims, d); dims == nil {
			return nil, false
		}
	}
	return dims, dims != nil || c.has(from)
}

func broadcastRule(out common.DType) func(*nctx) []TypeInfo {
	return func(c *nctx) []TypeInfo {
		dt := out
		if dt == common.Undefined {
			dt = c.dt(0)
		}
		if c.n.OpType == "Max" || c.n.OpType == "Min" || c.n.OpType == "Sum" || c.n.OpType == "Mean" {
			if len(c.n.Inputs) == 0 {
				return nil
			}
		}
		dims, ok := broadcastInputs(c, 0, len(c.n.Inputs))
		if !ok {
			return one(typeOnly(dt))
		}
		// Before opset 7, broadcasting was opt-in and unidirectional.
		if c.n.Opset < 7 && c.n.AttrInt("broadcast", 0) != 0 {
			if x, ok := c.shape(0); ok {
				dims = x
			}
		}
		return one(shaped(dt, dims))
	}
}

func shapeRange(c *nctx, r int) (int, int) {
	lo, hi := int64(0), int64(r)
	if c.n.Opset >= 15 {
		lo = c.n.AttrInt("start", 0)
		if c.n.HasAttr("end") {
			hi = c.n.AttrInt("end", int64(r))
		}
	}
	clamp := func(v int64) int {
		if v < 0 {
			v += int64(r)
		}
		return int(min(max(v, 0), int64(r)))
	}
	a, b := clamp(lo), clamp(hi)
	if b < a {
		b = a
	}
	return a, b
}

func ruleConstant(c *nctx) []TypeInfo {
	n := c.n
	if t := n.AttrTensor("value"); t != nil {
		return one(tensorType(t))
	}
	switch {
	case n.HasAttr("value_float"):
		return one(shaped(common.Float32, nil))
	case n.HasAttr("value_int"):
		return one(shaped(common.Int64, nil))
	case n.HasAttr("value_string"):
		return one(shaped(common.String, nil))
	case n.HasAttr("value_floats"):
		return one(shaped(common.Float32, known(int64(len(n.AttrFloats("value_floats"))))))
	case n.HasAttr("value_ints"):
		return one(shaped(common.Int64, known(int64(len(n.AttrInts("value_ints"))))))
	case n.HasAttr("value_strings"):
		a := n.Attr("value_strings")
		return one(shaped(common.String, known(int64(len(a.Strings)))))
	}
	return nil
}

// reduceAxes reports the axes a Reduce op reduces over: all=true for
// every axis; ok=false when they are not known.
func ruleReduce(c *nctx) []TypeInfo {
	n := c.n
	dt := c.dt(0)
	keep := n.AttrInt("keepdims", 1) != 0
	since := int64(18)
	if n.OpType == "ReduceSum" {
		since = 13
	}
	axes, _, ok := c.attrOrInput("axes", 1, since)
	x, hasShape := c.shape(0)
	if !hasShape {
		return one(typeOnly(dt))
	}
	r := len(x)
	if !ok {
		if keep {
			return one(rankOnly(dt, r))
		}
		if ad, ok := c.shape(1); ok && len(ad) == 1 && ad[0].Known() {
			return one(rankOnly(dt, r-int(ad[0].Value)))
		}
		return one(typeOnly(dt))
	}
	red := make([]bool, r)
	if len(axes) == 0 {
		if n.Opset >= since && n.AttrInt("noop_with_empty_axes", 0) != 0 {
			return one(shaped(dt, x))
		}
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		ax, ok := normAxis(a, r)
		if !ok {
			return nil
		}
		red[ax] = true
	}
	var out []common.Dim
	for i, d := range x {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, common.Dim{Value: 1})
		}
	}
	return one(shaped(dt, out))
}

func ruleArg(c *nctx) []TypeInfo {
	x, ok := c.shape(0)
	if !ok {
		return one(typeOnly(common.Int64))
	}
	ax, ok := normAxis(c.n.AttrInt("axis", 0), len(x))
	if !ok {
		return nil
	}
	out := cloneDims(x)
	if c.n.AttrInt("keepdims", 1) != 0 {
		out[ax] = common.Dim{Value: 1}
	} else {
		out = append(out[:ax], out[ax+1:]...)
	}
	return one(shaped(common.Int64, out))
}

// ceilDiv divides rounding up (b > 0).
func ceilDiv(a, b int64) int64 {
	if a >= 0 {
		return (a + b - 1) / b
	}
	return -((-a) / b)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
