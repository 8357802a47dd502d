package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

// ewGrain is the number of elements below which an elementwise loop runs
// on one goroutine; larger loops are split across the pool.
const ewGrain = 16384

type signedInt interface {
	~int8 | ~int16 | ~int32 | ~int64
}

type unsignedInt interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64
}

type integer interface {
	signedInt | unsignedInt
}

type floating interface {
	~float32 | ~float64
}

type number interface {
	integer | floating
}

// isFloatT reports whether T is a floating-point type.
func isFloatT[T number]() bool {
	var z T
	switch any(z).(type) {
	case float32, float64:
		return true
	}
	return false
}

// mapInto applies f to every element of x into d (same length), in
// parallel for large slices.
func mapInto[S, D any](c *Ctx, d []D, x []S, f func(S) D) {
	c.Parallel(len(x), ewGrain, func(lo, hi int) {
		xs, ds := x[lo:hi], d[lo:hi]
		for i, v := range xs {
			ds[i] = f(v)
		}
	})
}

// mapNew allocates a tensor of dtype dt and x's shape and fills it with f
// applied to x's elements.
func mapNew[S, D common.Elem](c *Ctx, dt common.DType, x *common.Tensor, f func(S) D) (*common.Tensor, error) {
	// mapInto writes every element: no zeroing needed.
	out, err := c.AllocNoZero(dt, x.Shape())
	if err != nil {
		return nil, err
	}
	mapInto(c, common.Data[D](out), common.Data[S](x), f)
	return out, nil
}

// floatMap applies a float64 function to a tensor of any float dtype,
// rounding once to the tensor's own precision.
func floatMap(c *Ctx, n *common.Node, x *common.Tensor, f func(float64) float64) (*common.Tensor, error) {
	switch x.DType() {
	case common.Float32:
		return mapNew(c, common.Float32, x, func(v float32) float32 { return float32(f(float64(v))) })
	case common.Float64:
		return mapNew(c, common.Float64, x, f)
	case common.Float16:
		return mapNew(c, common.Float16, x, func(v common.F16) common.F16 {
			return common.F16From(float32(f(float64(v.Float32()))))
		})
	case common.BFloat16:
		return mapNew(c, common.BFloat16, x, func(v common.BF16) common.BF16 {
			return common.BF16From(float32(f(float64(v.Float32()))))
		})
	}
	return nil, unsupportedType(n, x.DType())
}

// intMap applies exact integer functions to an integer tensor: si for
// signed types, ui for unsigned ones (nil: the dtype is not allowed).
func intMap(c *Ctx, n *common.Node, x *common.Tensor, si func(int64) int64, ui func(uint64) uint64) (*common.Tensor, error) {
	d := x.DType()
	if si != nil {
		switch d {
		case common.Int8:
			return mapNew(c, d, x, func(v int8) int8 { return int8(si(int64(v))) })
		case common.Int16:
			return mapNew(c, d, x, func(v int16) int16 { return int16(si(int64(v))) })
		case common.Int32:
			return mapNew(c, d, x, func(v int32) int32 { return int32(si(int64(v))) })
		case common.Int64:
			return mapNew(c, d, x, si)
		}
	}
	if ui != nil {
		switch d {
		case common.Uint8:
			return mapNew(c, d, x, func(v uint8) uint8 { return uint8(ui(uint64(v))) })
		case common.Uint16:
			return mapNew(c, d, x, func(v uint16) uint16 { return uint16(ui(uint64(v))) })
		case common.Uint32:
			return mapNew(c, d, x, func(v uint32) uint32 { return uint32(ui(uint64(v))) })
		case common.Uint64:
			return mapNew(c, d, x, ui)
		}
	}
	return nil, unsupportedType(n, d)
}

// unarySpec describes a unary elementwise operator. mk builds the float
// function from the node's attributes (nil: floats not allowed); si and ui
// are exact integer versions (nil: not allowed); viaFloat makes integer
// inputs go through the float function, truncating the result.
type unarySpec struct {
	mk       func(n *common.Node) (func(float64) float64, error)
	si       func(int64) int64
	ui       func(uint64) uint64
	viaFloat bool
	// loop32, when set, is a whole-slice float32 version (for the cheap
	// activations, where a call per element would dominate).
	loop32 func(n *common.Node, d, x []float32)
}

func plain(f func(float64) float64) func(*common.Node) (func(float64) float64, error) {
	return func(*common.Node) (func(float64) float64, error) { return f, nil }
}

func (s unarySpec) kernel() TensorKernel {
	return func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		x, err := need(n, in, 0)
		if err != nil {
			return nil, err
		}
		d := x.DType()
		if d == common.Float32 && s.loop32 != nil {
			out, err := c.Alloc(d, x.Shape())
			if err != nil {
				return nil, err
			}
			xs, ds := common.Data[float32](x), common.Data[float32](out)
			c.Parallel(len(xs), ewGrain, func(lo, hi int) { s.loop32(n, ds[lo:hi], xs[lo:hi]) })
			return []*common.Tensor{out}, nil
		}
		if d.IsFloat() && s.mk != nil {
			f, err := s.mk(n)
			if err != nil {
				return nil, err
			}
			out, err := floatMap(c, n, x, f)
			return []*common.Tensor{out}, err
		}
		if d.IsInteger() && s.viaFloat && s.mk != nil {
			f, err := s.mk(n)
			if err != nil {
				return nil, err
			}
			si := func(v int64) int64 { return int64(f(float64(v))) }
			ui := func(v uint64) uint64 { return uint64(f(float64(v))) }
			out, err := intMap(c, n, x, si, ui)
			return []*common.Tensor{out}, err
		}
		if d.IsInteger() && (s.si != nil || s.ui != nil) {
			out, err := intMap(c, n, x, s.si, s.ui)
			return []*common.Tensor{out}, err
		}
		return nil, unsupportedType(n, d)
	}
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func signF(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return x // 0, -0 and NaN
}

func absI(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func signI(v int64) int64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func signU(v uint64) uint64 {
	if v > 0 {
		return 1
	}
	return 0
}

func identU(v uint64) uint64 { return v }

// attrFn builds a float function from float attributes with defaults.
func attrFn(names []string, defs []float32, f func(a []float64) func(float64) float64) func(*common.Node) (func(float64) float64, error) {
	return func(n *common.Node) (func(float64) float64, error) {
		a := make([]float64, len(names))
		for i, name := range names {
			a[i] = float64(n.AttrFloat(name, defs[i]))
		}
		return f(a), nil
	}
}

func geluFn(n *common.Node) (func(float64) float64, error) {
	switch ap := n.AttrString("approximate", "none"); ap {
	case "none":
		return func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }, nil
	case "tanh":
		k := math.Sqrt(2 / math.Pi)
		return func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(k*(x+0.044715*x*x*x))) }, nil
	default:
		return nil, fmt.Errorf("%w: Gelu approximate must be \"none\" or \"tanh\", got %q", common.ErrInvalidModel, ap)
	}
}

func init() {
	neg := func(v int64) int64 { return -v }
	specs := map[string]unarySpec{
		"Abs": {mk: plain(math.Abs), si: absI, ui: identU, loop32: func(_ *common.Node, d, x []float32) {
			d = d[:len(x)]
			for i, v := range x {
				d[i] = math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
			}
		}},
		"Neg": {mk: plain(func(x float64) float64 { return -x }), si: neg, loop32: func(_ *common.Node, d, x []float32) {
			d = d[:len(x)]
			for i, v := range x {
				d[i] = -v
			}
		}},
		"Exp":        {mk: plain(math.Exp)},
		"Log":        {mk: plain(math.Log)},
		"Sqrt":       {mk: plain(math.Sqrt)},
		"Reciprocal": {mk: plain(func(x float64) float64 { return 1 / x })},
		"Sin":        {mk: plain(math.Sin)},
		"Cos":        {mk: plain(math.Cos)},
		"Tan":        {mk: plain(math.Tan)},
		"Asin":       {mk: plain(math.Asin)},
		"Acos":       {mk: plain(math.Acos)},
		"Atan":       {mk: plain(math.Atan)},
		"Sinh":       {mk: plain(math.Sinh)},
		"Cosh":       {mk: plain(math.Cosh)},
		"Asinh":      {mk: plain(math.Asinh)},
		"Acosh":      {mk: plain(math.Acosh)},
		"Atanh":      {mk: plain(math.Atanh)},
		"Ceil":       {mk: plain(math.Ceil)},
		"Floor":      {mk: plain(math.Floor)},
		"Round":      {mk: plain(math.RoundToEven)},
		"Sign":       {mk: plain(signF), si: signI, ui: signU},
		"Erf":        {mk: plain(math.Erf), viaFloat: true},
		"Sigmoid":    {mk: plain(sigmoid)},
		"Tanh":       {mk: plain(math.Tanh)},
		"Relu": {mk: plain(func(x float64) float64 {
			if x < 0 {
				return 0
			}
			return x
		}), si: func(v int64) int64 { return max(v, 0) }, loop32: func(_ *common.Node, d, x []float32) {
			d = d[:len(x)]
			for i, v := range x {
				if v < 0 {
					v = 0
				}
				d[i] = v
			}
		}},
		"LeakyRelu": {mk: attrFn([]string{"alpha"}, []float32{0.01}, func(a []float64) func(float64) float64 {
			return func(x float64) float64 {
				if x < 0 {
					return a[0] * x
				}
				return x
			}
		})},
		"Elu": {mk: attrFn([]string{"alpha"}, []float32{1}, func(a []float64) func(float64) float64 {
			return func(x float64) float64 {
				if x < 0 {
					return a[0] * math.Expm1(x)
				}
				return x
			}
		})},
		"Selu": {mk: attrFn([]string{"alpha", "gamma"}, []float32{1.67326319217681884765625, 1.05070102214813232421875},
			func(a []float64) func(float64) float64 {
				return func(x float64) float64 {
					if x <= 0 {
						return a[1] * a[0] * math.Expm1(x)
					}
					return a[1] * x
				}
			})},
		"Celu": {mk: func(n *common.Node) (func(float64) float64, error) {
			alpha := float64(n.AttrFloat("alpha", 1))
			if alpha == 0 {
				return nil, fmt.Errorf("%w: Celu alpha must not be 0", common.ErrInvalidModel)
			}
			return func(x float64) float64 {
				return max(0, x) + min(0, alpha*math.Expm1(x/alpha))
			}, nil
		}},
		"Softplus": {mk: plain(softplus)},
		"Softsign": {mk: plain(func(x float64) float64 { return x / (1 + math.Abs(x)) })},
		"Mish":     {mk: plain(func(x float64) float64 { return x * math.Tanh(softplus(x)) })},
		"ThresholdedRelu": {mk: attrFn([]string{"alpha"}, []float32{1}, func(a []float64) func(float64) float64 {
			return func(x float64) float64 {
				if x > a[0] {
					return x
				}
				return 0
			}
		})},
		"HardSigmoid": {mk: attrFn([]string{"alpha", "beta"}, []float32{0.2, 0.5}, func(a []float64) func(float64) float64 {
			return func(x float64) float64 { return max(0, min(1, a[0]*x+a[1])) }
		})},
		"HardSwish": {mk: plain(func(x float64) float64 { return x * max(0, min(1, x/6+0.5)) })},
		"Gelu":      {mk: geluFn},
		"BitwiseNot": {si: func(v int64) int64 { return ^v },
			ui: func(v uint64) uint64 { return ^v }},
	}
	for op, s := range specs {
		reg(op, s.kernel())
	}
	reg("Not", func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		x, err := need(n, in, 0)
		if err != nil {
			return nil, err
		}
		if x.DType() != common.Bool {
			return nil, unsupportedType(n, x.DType())
		}
		out, err := mapNew(c, common.Bool, x, func(v bool) bool { return !v })
		return []*common.Tensor{out}, err
	})
	reg("IsNaN", func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		x, err := need(n, in, 0)
		if err != nil {
			return nil, err
		}
		out, err := floatPredicate(c, n, x, func(v float64) bool { return v != v })
		return []*common.Tensor{out}, err
	})
	reg("IsInf", func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		x, err := need(n, in, 0)
		if err != nil {
			return nil, err
		}
		pos := n.AttrInt("detect_positive", 1) != 0
		negv := n.AttrInt("detect_negative", 1) != 0
		out, err := floatPredicate(c, n, x, func(v float64) bool {
			return (pos && math.IsInf(v, 1)) || (negv && math.IsInf(v, -1))
		})
		return []*common.Tensor{out}, err
	})
	reg("Clip", clipKernel)
}

// floatPredicate maps a float tensor to a bool tensor.
func floatPredicate(c *Ctx, n *common.Node, x *common.Tensor, f func(float64) bool) (*common.Tensor, error) {
	switch x.DType() {
	case common.Float32:
		return mapNew(c, common.Bool, x, func(v float32) bool { return f(float64(v)) })
	case common.Float64:
		return mapNew(c, common.Bool, x, f)
	case common.Float16:
		return mapNew(c, common.Bool, x, func(v common.F16) bool { return f(float64(v.Float32())) })
	case common.BFloat16:
		return mapNew(c, common.Bool, x, func(v common.BF16) bool { return f(float64(v.Float32())) })
	}
	return nil, unsupportedType(n, x.DType())
}

// clipKernel is Clip: opset 6 reads min/max attributes, opset 11 and later
// optional scalar inputs of the input's dtype.
func clipKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	if n.Opset > 0 && n.Opset < 11 {
		if !x.DType().IsFloat() {
			return nil, unsupportedType(n, x.DType())
		}
		lo := float64(n.AttrFloat("min", -math.MaxFloat32))
		hi := float64(n.AttrFloat("max", math.MaxFloat32))
		f := func(v float64) float64 { return clampF(v, lo, hi) }
		if x.DType() == common.Float32 {
			// Compare in float32 so that bounds equal to the float32 limits
			// leave every finite value alone.
			l32, h32 := float32(lo), float32(hi)
			out, err := mapNew(c, common.Float32, x, func(v float32) float32 { return clampF(v, l32, h32) })
			return []*common.Tensor{out}, err
		}
		out, err := floatMap(c, n, x, f)
		return []*common.Tensor{out}, err
	}
	for i := 1; i <= 2; i++ {
		b := opt(in, i)
		if b == nil {
			continue
		}
		if b.DType() != x.DType() {
			return nil, fmt.Errorf("%w: Clip bound %d is %v, input is %v", common.ErrShape, i, b.DType(), x.DType())
		}
		if b.Len() != 1 {
			return nil, fmt.Errorf("%w: Clip bound %d must be a scalar, got shape %v", common.ErrShape, i, b.Shape())
		}
	}
	lo, hi := opt(in, 1), opt(in, 2)
	var out *common.Tensor
	switch x.DType() {
	case common.Float32:
		out, err = clipT[float32](c, x, lo, hi, -float32(math.Inf(1)), float32(math.Inf(1)))
	case common.Float64:
		out, err = clipT[float64](c, x, lo, hi, math.Inf(-1), math.Inf(1))
	case common.Int8:
		out, err = clipT[int8](c, x, lo, hi, math.MinInt8, math.MaxInt8)
	case common.Int16:
		out, err = clipT[int16](c, x, lo, hi, math.MinInt16, math.MaxInt16)
	case common.Int32:
		out, err = clipT[int32](c, x, lo, hi, math.MinInt32, math.MaxInt32)
	case common.Int64:
		out, err = clipT[int64](c, x, lo, hi, math.MinInt64, math.MaxInt64)
	case common.Uint8:
		out, err = clipT[uint8](c, x, lo, hi, 0, math.MaxUint8)
	case common.Uint16:
		out, err = clipT[uint16](c, x, lo, hi, 0, math.MaxUint16)
	case common.Uint32:
		out, err = clipT[uint32](c, x, lo, hi, 0, math.MaxUint32)
	case common.Uint64:
		out, err = clipT[uint64](c, x, lo, hi, 0, math.MaxUint64)
	case common.Float16, common.BFloat16:
		l, h := math.Inf(-1), math.Inf(1)
		if lo != nil {
			l = lo.Float(0)
		}
		if hi != nil {
			h = hi.Float(0)
		}
		out, err = floatMap(c, n, x, func(v float64) float64 { return clampF(v, l, h) })
	default:
		return nil, unsupportedType(n, x.DType())
	}
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{out}, nil
}

// clampF raises v to lo, then lowers it to hi (so min > max gives max);
// NaN stays NaN.
func clampF[T number](v, lo, hi T) T {
	if v < lo {
		v = lo
	}
	if v > hi {
		v = hi
	}
	return v
}

func clipT[T number](c *Ctx, x, lo, hi *common.Tensor, dlo, dhi T) (*common.Tensor, error) {
	l, h := dlo, dhi
	if lo != nil {
		l = common.Data[T](lo)[0]
	}
	if hi != nil {
		h = common.Data[T](hi)[0]
	}
	return mapNew(c, x.DType(), x, func(v T) T { return clampF(v, l, h) })
}
