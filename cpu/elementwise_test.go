package cpu

import (
	"context"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

func ewCtx(threads int) *Ctx {
	e := &Engine{limits: common.Limits{}.WithDefaults(), pool: newPool(threads)}
	return &Ctx{ctx: context.Background(), eng: e, run: &runState{}}
}

func ewNode(op string, opset int64, attrs ...*common.Attribute) *common.Node {
	n := &common.Node{OpType: op, Opset: opset, Attrs: map[string]*common.Attribute{}, Outputs: []string{"y"}}
	for _, a := range attrs {
		n.Attrs[a.Name] = a
	}
	return n
}

func ewF(name string, v float32) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrFloat, F: v}
}

func ewI(name string, v int64) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrInt, I: v}
}

func ewS(name, v string) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrString, S: []byte(v)}
}

func ewRun(t *testing.T, n *common.Node, in ...*common.Tensor) (*common.Tensor, error) {
	t.Helper()
	k, ok := kernels[n.OpType]
	require.True(t, ok, "no kernel %s", n.OpType)
	out, err := k.tensor(ewCtx(3), n, in)
	if err != nil {
		return nil, err
	}
	require.Len(t, out, 1)
	return out[0], nil
}

func ewOne(t *testing.T, n *common.Node, in ...*common.Tensor) *common.Tensor {
	t.Helper()
	y, err := ewRun(t, n, in...)
	require.NoError(t, err)
	return y
}

// ewIndex maps flat output index i of shape out to the flat index of an
// input of shape in broadcast to out, the slow way.
func ewIndex(i int, out, in common.Shape) int {
	coord := make([]int, len(out))
	for a := len(out) - 1; a >= 0; a-- {
		coord[a] = i % out[a]
		i /= out[a]
	}
	idx, acc := 0, 1
	for a := len(in) - 1; a >= 0; a-- {
		c := coord[len(out)-len(in)+a]
		if in[a] == 1 {
			c = 0
		}
		idx += c * acc
		acc *= in[a]
	}
	return idx
}

func ewRandF32(rng *rand.Rand, s common.Shape) *common.Tensor {
	d := make([]float32, s.Size())
	for i := range d {
		d[i] = float32(rng.NormFloat64() * 3)
	}
	return common.NewTensor(s, d)
}

var ewShapePairs = [][2]common.Shape{
	{{2, 3, 4}, {4}},
	{{2, 1, 4}, {3, 1}},
	{{}, {5}},
	{{5}, {}},
	{{}, {}},
	{{3, 1, 5}, {1, 4, 1}},
	{{7, 1, 1, 9}, {1, 5, 3, 1}},
	{{1, 1}, {1}},
	{{2, 0, 3}, {3}},
	{{70001}, {70001}},
	{{3, 40000}, {40000}},
	{{40000, 1}, {1, 3}},
	{{2, 3, 17, 1000}, {3, 1, 1000}},
	{{5, 1, 20000}, {1, 2, 1}},
}

func TestEwBinaryBroadcastMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	ops := map[string]func(a, b float32) float32{
		"Add": func(a, b float32) float32 { return a + b },
		"Sub": func(a, b float32) float32 { return a - b },
		"Mul": func(a, b float32) float32 { return a * b },
		"Div": func(a, b float32) float32 { return a / b },
	}
	for _, sp := range ewShapePairs {
		out, err := BroadcastShape(sp[0], sp[1])
		require.NoError(t, err)
		a, b := ewRandF32(rng, sp[0]), ewRandF32(rng, sp[1])
		ad, bd := common.Data[float32](a), common.Data[float32](b)
		for op, f := range ops {
			y := ewOne(t, ewNode(op, 14), a, b)
			require.Equal(t, out, y.Shape(), "%s %v %v", op, sp[0], sp[1])
			yd := common.Data[float32](y)
			for i := range yd {
				want := f(ad[ewIndex(i, out, sp[0])], bd[ewIndex(i, out, sp[1])])
				if yd[i] != want {
					require.Equal(t, want, yd[i], "%s %v %v element %d", op, sp[0], sp[1], i)
				}
			}
		}
		// comparisons and integers through the same plans
		g := ewOne(t, ewNode("Greater", 13), a, b)
		gd := common.Data[bool](g)
		for i := range gd {
			want := ad[ewIndex(i, out, sp[0])] > bd[ewIndex(i, out, sp[1])]
			if gd[i] != want {
				require.Equal(t, want, gd[i], "Greater %v %v element %d", sp[0], sp[1], i)
			}
		}
		ai, bi := make([]int32, len(ad)), make([]int32, len(bd))
		for i, v := range ad {
			ai[i] = int32(v * 100)
		}
		for i, v := range bd {
			bi[i] = int32(v * 100)
		}
		s := ewOne(t, ewNode("Sub", 14), common.NewTensor(sp[0], ai), common.NewTensor(sp[1], bi))
		sd := common.Data[int32](s)
		for i := range sd {
			want := ai[ewIndex(i, out, sp[0])] - bi[ewIndex(i, out, sp[1])]
			if sd[i] != want {
				require.Equal(t, want, sd[i], "int Sub %v %v element %d", sp[0], sp[1], i)
			}
		}
	}
	_, err := ewRun(t, ewNode("Add", 14), ewRandF32(rng, common.Shape{2, 3}), ewRandF32(rng, common.Shape{4}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = ewRun(t, ewNode("Add", 14), ewRandF32(rng, common.Shape{2}), common.NewTensor(common.Shape{2}, []int32{1, 2}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = ewRun(t, ewNode("Add", 14), ewRandF32(rng, common.Shape{2}))
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = ewRun(t, ewNode("Add", 14), common.NewTensor(common.Shape{1}, []string{"a"}), common.NewTensor(common.Shape{1}, []string{"b"}))
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestEwWhereMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	triples := [][3]common.Shape{
		{{2, 3}, {2, 3}, {2, 3}},
		{{3, 1}, {1, 4}, {}},
		{{5}, {2, 1, 5}, {3, 1}},
		{{50000}, {}, {50000}},
		{{1}, {2, 2}, {2, 1}},
	}
	for _, tr := range triples {
		out, err := BroadcastShape(tr[0], tr[1], tr[2])
		require.NoError(t, err)
		cd := make([]bool, tr[0].Size())
		for i := range cd {
			cd[i] = rng.Intn(2) == 0
		}
		x, y := ewRandF32(rng, tr[1]), ewRandF32(rng, tr[2])
		r := ewOne(t, ewNode("Where", 16), common.NewTensor(tr[0], cd), x, y)
		require.Equal(t, out, r.Shape())
		rd := common.Data[float32](r)
		for i := range rd {
			want := common.Data[float32](y)[ewIndex(i, out, tr[2])]
			if cd[ewIndex(i, out, tr[0])] {
				want = common.Data[float32](x)[ewIndex(i, out, tr[1])]
			}
			if rd[i] != want {
				require.Equal(t, want, rd[i], "%v element %d", tr, i)
			}
		}
	}
	s := ewOne(t, ewNode("Where", 16), common.NewTensor(common.Shape{3}, []bool{true, false, true}),
		common.NewTensor(common.Shape{3}, []string{"a", "b", "c"}), common.Scalar("z"))
	require.Equal(t, []string{"a", "z", "c"}, common.Data[string](s))
	_, err := ewRun(t, ewNode("Where", 16), common.NewTensor(common.Shape{1}, []float32{1}), common.Scalar[float32](1), common.Scalar[float32](2))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = ewRun(t, ewNode("Where", 16), common.Scalar(true), common.Scalar[float32](1), common.Scalar[float64](2))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestEwUnaryFloatMatchesFormulas(t *testing.T) {
	// Attributes are float32, so formulas use float32 constants.
	xs := []float64{-3.5, -2.5, -1, -0.75, -0.5, -0.1, 0, 0.1, 0.5, 0.7, 1, 1.5, 2.5, 4}
	selu := func(x float64) float64 {
		if x <= 0 {
			return 1.05070102214813232421875 * 1.67326319217681884765625 * (math.Exp(x) - 1)
		}
		return 1.05070102214813232421875 * x
	}
	cases := []struct {
		op    string
		attrs []*common.Attribute
		f     func(float64) float64
	}{
		{"Abs", nil, math.Abs},
		{"Neg", nil, func(x float64) float64 { return -x }},
		{"Exp", nil, math.Exp},
		{"Log", nil, math.Log},
		{"Sqrt", nil, math.Sqrt},
		{"Reciprocal", nil, func(x float64) float64 { return 1 / x }},
		{"Sin", nil, math.Sin}, {"Cos", nil, math.Cos}, {"Tan", nil, math.Tan},
		{"Asin", nil, math.Asin}, {"Acos", nil, math.Acos}, {"Atan", nil, math.Atan},
		{"Sinh", nil, math.Sinh}, {"Cosh", nil, math.Cosh}, {"Asinh", nil, math.Asinh},
		{"Acosh", nil, math.Acosh}, {"Atanh", nil, math.Atanh},
		{"Ceil", nil, math.Ceil}, {"Floor", nil, math.Floor},
		{"Round", nil, func(x float64) float64 {
			// half to even, from the definition
			f := math.Floor(x)
			switch d := x - f; {
			case d > 0.5:
				return f + 1
			case d < 0.5:
				return f
			}
			if math.Mod(f, 2) == 0 {
				return f
			}
			return f + 1
		}},
		{"Sign", nil, func(x float64) float64 {
			if x > 0 {
				return 1
			} else if x < 0 {
				return -1
			}
			return 0
		}},
		{"Erf", nil, math.Erf},
		{"Sigmoid", nil, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
		{"Tanh", nil, math.Tanh},
		{"Relu", nil, func(x float64) float64 { return math.Max(x, 0) }},
		{"LeakyRelu", nil, func(x float64) float64 { return math.Max(x, 0) + float64(float32(0.01))*math.Min(x, 0) }},
		{"LeakyRelu", []*common.Attribute{ewF("alpha", 0.5)}, func(x float64) float64 { return math.Max(x, 0) + 0.5*math.Min(x, 0) }},
		{"Elu", []*common.Attribute{ewF("alpha", 2)}, func(x float64) float64 {
			if x < 0 {
				return 2 * (math.Exp(x) - 1)
			}
			return x
		}},
		{"Selu", nil, selu},
		{"Celu", []*common.Attribute{ewF("alpha", 2)}, func(x float64) float64 {
			return math.Max(0, x) + math.Min(0, 2*(math.Exp(x/2)-1))
		}},
		{"Softplus", nil, func(x float64) float64 { return math.Log(math.Exp(x) + 1) }},
		{"Softsign", nil, func(x float64) float64 { return x / (1 + math.Abs(x)) }},
		{"Mish", nil, func(x float64) float64 { return x * math.Tanh(math.Log(1+math.Exp(x))) }},
		{"ThresholdedRelu", []*common.Attribute{ewF("alpha", 0.5)}, func(x float64) float64 {
			if x > 0.5 {
				return x
			}
			return 0
		}},
		{"HardSigmoid", nil, func(x float64) float64 { return math.Max(0, math.Min(1, float64(float32(0.2))*x+0.5)) }},
		{"HardSwish", nil, func(x float64) float64 { return x * math.Max(0, math.Min(1, x/6+0.5)) }},
		{"Gelu", nil, func(x float64) float64 { return x / 2 * (1 + math.Erf(x/math.Sqrt(2))) }},
		{"Gelu", []*common.Attribute{ewS("approximate", "tanh")}, func(x float64) float64 {
			return x / 2 * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*math.Pow(x, 3))))
		}},
	}
	near := func(t *testing.T, want, got float64, tol float64, msg ...any) {
		t.Helper()
		if math.IsNaN(want) {
			require.True(t, math.IsNaN(got), msg...)
			return
		}
		if math.IsInf(want, 0) {
			require.Equal(t, want, got, msg...)
			return
		}
		require.InDelta(t, want, got, tol*(1+math.Abs(want)), msg...)
	}
	for _, tc := range cases {
		n := ewNode(tc.op, 22, tc.attrs...)
		x64 := common.NewTensor(common.Shape{len(xs)}, xs)
		y64 := common.Data[float64](ewOne(t, n, x64))
		x32 := make([]float32, len(xs))
		x16 := make([]common.F16, len(xs))
		for i, v := range xs {
			x32[i] = float32(v)
			x16[i] = common.F16From(float32(v))
		}
		y32 := common.Data[float32](ewOne(t, n, common.NewTensor(common.Shape{len(xs)}, x32)))
		y16 := ewOne(t, n, common.NewTensor(common.Shape{len(xs)}, x16))
		require.Equal(t, common.Float16, y16.DType())
		for i, v := range xs {
			want := tc.f(v)
			near(t, want, y64[i], 1e-12, "%s(%v) float64", tc.op, v)
			near(t, want, float64(y32[i]), 1e-6, "%s(%v) float32", tc.op, v)
			near(t, want, y16.Float(i), 2e-3, "%s(%v) float16", tc.op, v)
		}
	}
	// parallel path: a long input gives the same values as a short one
	long := make([]float32, 100003)
	for i := range long {
		long[i] = float32(i%97) / 7
	}
	y := common.Data[float32](ewOne(t, ewNode("Exp", 13), common.NewTensor(common.Shape{len(long)}, long)))
	for i, v := range long {
		if y[i] != float32(math.Exp(float64(v))) {
			require.Equal(t, float32(math.Exp(float64(v))), y[i], "element %d", i)
		}
	}
	_, err := ewRun(t, ewNode("Gelu", 20, ewS("approximate", "fast")), common.Scalar[float32](1))
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = ewRun(t, ewNode("Exp", 13), common.Scalar[int32](1))
	require.ErrorIs(t, err, common.ErrUnsupported)
	_, err = ewRun(t, ewNode("Neg", 13), common.Scalar[uint8](1))
	require.ErrorIs(t, err, common.ErrUnsupported)
	_, err = ewRun(t, ewNode("Sin", 13))
	require.ErrorIs(t, err, common.ErrInvalidModel)
}

func TestEwUnaryIntegersAndPredicates(t *testing.T) {
	x := common.NewTensor(common.Shape{5}, []int8{-128, -3, 0, 4, 127})
	require.Equal(t, []int8{-128, 3, 0, 4, 127}, common.Data[int8](ewOne(t, ewNode("Abs", 13), x)))
	require.Equal(t, []int8{-128, 3, 0, -4, -127}, common.Data[int8](ewOne(t, ewNode("Neg", 13), x)))
	require.Equal(t, []int8{-1, -1, 0, 1, 1}, common.Data[int8](ewOne(t, ewNode("Sign", 13), x)))
	require.Equal(t, []int8{0, 0, 0, 4, 127}, common.Data[int8](ewOne(t, ewNode("Relu", 14), x)))
	require.Equal(t, []int8{127, 2, -1, -5, -128}, common.Data[int8](ewOne(t, ewNode("BitwiseNot", 18), x)))
	u := common.NewTensor(common.Shape{3}, []uint16{0, 5, 65535})
	require.Equal(t, []uint16{0, 5, 65535}, common.Data[uint16](ewOne(t, ewNode("Abs", 13), u)))
	require.Equal(t, []uint16{0, 1, 1}, common.Data[uint16](ewOne(t, ewNode("Sign", 13), u)))
	require.Equal(t, []uint16{65535, 65530, 0}, common.Data[uint16](ewOne(t, ewNode("BitwiseNot", 18), u)))
	// Erf on integers goes through float and truncates
	require.Equal(t, []int32{0, 0, 0}, common.Data[int32](ewOne(t, ewNode("Erf", 13), common.NewTensor(common.Shape{3}, []int32{-2, 0, 3}))))
	b := common.NewTensor(common.Shape{2}, []bool{true, false})
	require.Equal(t, []bool{false, true}, common.Data[bool](ewOne(t, ewNode("Not", 1), b)))
	_, err := ewRun(t, ewNode("Not", 1), x)
	require.ErrorIs(t, err, common.ErrUnsupported)

	inf := math.Inf(1)
	f := common.NewTensor(common.Shape{5}, []float32{1, float32(math.NaN()), float32(inf), float32(-inf), 0})
	require.Equal(t, []bool{false, true, false, false, false}, common.Data[bool](ewOne(t, ewNode("IsNaN", 13), f)))
	require.Equal(t, []bool{false, false, true, true, false}, common.Data[bool](ewOne(t, ewNode("IsInf", 10), f)))
	require.Equal(t, []bool{false, false, true, false, false}, common.Data[bool](ewOne(t, ewNode("IsInf", 10, ewI("detect_negative", 0)), f)))
	require.Equal(t, []bool{false, false, false, true, false}, common.Data[bool](ewOne(t, ewNode("IsInf", 10, ewI("detect_positive", 0)), f)))
	h := common.NewTensor(common.Shape{2}, []common.F16{common.F16From(float32(math.NaN())), common.F16From(1)})
	require.Equal(t, []bool{true, false}, common.Data[bool](ewOne(t, ewNode("IsNaN", 13), h)))
	_, err = ewRun(t, ewNode("IsNaN", 13), x)
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestEwIntegerArithmetic(t *testing.T) {
	a := common.NewTensor(common.Shape{6}, []int32{7, -7, 7, -7, math.MinInt32, 0})
	b := common.NewTensor(common.Shape{6}, []int32{2, 2, -2, -2, -1, 5})
	require.Equal(t, []int32{3, -3, -3, 3, math.MinInt32, 0}, common.Data[int32](ewOne(t, ewNode("Div", 14), a, b)))
	// Python-style modulo takes the divisor's sign; fmod the dividend's.
	require.Equal(t, []int32{1, 1, -1, -1, 0, 0}, common.Data[int32](ewOne(t, ewNode("Mod", 13), a, b)))
	require.Equal(t, []int32{1, -1, 1, -1, 0, 0}, common.Data[int32](ewOne(t, ewNode("Mod", 13, ewI("fmod", 1)), a, b)))
	z := common.NewTensor(common.Shape{2}, []int32{1, 0})
	for _, op := range []*common.Node{ewNode("Div", 14), ewNode("Mod", 13), ewNode("Mod", 13, ewI("fmod", 1))} {
		_, err := ewRun(t, op, common.NewTensor(common.Shape{2}, []int32{1, 2}), z)
		require.ErrorIs(t, err, common.ErrShape, op.OpType)
	}
	_, err := ewRun(t, ewNode("Mod", 13, ewI("fmod", 2)), a, b)
	require.ErrorIs(t, err, common.ErrInvalidModel)
	u := common.NewTensor(common.Shape{3}, []uint8{250, 7, 9})
	v := common.Scalar[uint8](4)
	require.Equal(t, []uint8{62, 1, 2}, common.Data[uint8](ewOne(t, ewNode("Div", 14), u, v)))
	require.Equal(t, []uint8{2, 3, 1}, common.Data[uint8](ewOne(t, ewNode("Mod", 13), u, v)))
	require.Equal(t, []uint8{254, 11, 13}, common.Data[uint8](ewOne(t, ewNode("Add", 14), u, v)))
	require.Equal(t, []uint8{232, 28, 36}, common.Data[uint8](ewOne(t, ewNode("Mul", 14), u, v)))

	// float Mod
	fa := common.NewTensor(common.Shape{4}, []float32{5.5, -5.5, 5.5, -5.5})
	fb := common.NewTensor(common.Shape{4}, []float32{2, 2, -2, -2})
	require.Equal(t, []float32{1.5, -1.5, 1.5, -1.5}, common.Data[float32](ewOne(t, ewNode("Mod", 13, ewI("fmod", 1)), fa, fb)))
	require.Equal(t, []float32{1.5, 0.5, -0.5, -1.5}, common.Data[float32](ewOne(t, ewNode("Mod", 13), fa, fb)))

	// bitwise and shifts
	p := common.NewTensor(common.Shape{3}, []int16{0x0f0f, -1, 6})
	q := common.NewTensor(common.Shape{3}, []int16{0x00ff, 3, 3})
	require.Equal(t, []int16{0x000f, 3, 2}, common.Data[int16](ewOne(t, ewNode("BitwiseAnd", 18), p, q)))
	require.Equal(t, []int16{0x0fff, -1, 7}, common.Data[int16](ewOne(t, ewNode("BitwiseOr", 18), p, q)))
	require.Equal(t, []int16{0x0ff0, -4, 5}, common.Data[int16](ewOne(t, ewNode("BitwiseXor", 18), p, q)))
	sx := common.NewTensor(common.Shape{3}, []uint32{16, 4, 1})
	sy := common.NewTensor(common.Shape{3}, []uint32{1, 2, 31})
	require.Equal(t, []uint32{32, 16, 1 << 31}, common.Data[uint32](ewOne(t, ewNode("BitShift", 11, ewS("direction", "LEFT")), sx, sy)))
	require.Equal(t, []uint32{8, 1, 0}, common.Data[uint32](ewOne(t, ewNode("BitShift", 11, ewS("direction", "RIGHT")), sx, sy)))
	_, err = ewRun(t, ewNode("BitShift", 11, ewS("direction", "UP")), sx, sy)
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = ewRun(t, ewNode("BitShift", 11, ewS("direction", "LEFT")), p, q)
	require.ErrorIs(t, err, common.ErrUnsupported)
	_, err = ewRun(t, ewNode("BitwiseAnd", 18), fa, fb)
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestEwPowMixedTypes(t *testing.T) {
	base := common.NewTensor(common.Shape{3}, []float32{1, 2, 3})
	require.Equal(t, []float32{1, 4, 27}, common.Data[float32](ewOne(t, ewNode("Pow", 15), base, common.NewTensor(common.Shape{3}, []int64{4, 2, 3}))))
	require.Equal(t, []float32{1, 1.4142135, 1.7320508}, common.Data[float32](ewOne(t, ewNode("Pow", 15), base, common.Scalar[float32](0.5))))
	ib := common.NewTensor(common.Shape{4}, []int32{2, -3, 5, 2})
	require.Equal(t, []int32{8, -27, 1, 0}, common.Data[int32](ewOne(t, ewNode("Pow", 15), ib, common.NewTensor(common.Shape{4}, []int32{3, 3, 0, -1}))))
	require.Equal(t, []int32{4, 9, 25, 4}, common.Data[int32](ewOne(t, ewNode("Pow", 15), ib, common.Scalar[float32](2))))
	require.Equal(t, []int64{1 << 62}, common.Data[int64](ewOne(t, ewNode("Pow", 15), common.NewTensor(common.Shape{1}, []int64{2}), common.Scalar[uint8](62))))
	h := ewOne(t, ewNode("Pow", 15), common.NewTensor(common.Shape{2}, []common.F16{common.F16From(3), common.F16From(0.5)}), common.Scalar[int32](2))
	require.Equal(t, common.Float16, h.DType())
	require.Equal(t, []float64{9, 0.25}, h.Floats())
	// broadcast: [2,1] ** [3]
	y := ewOne(t, ewNode("Pow", 15), common.NewTensor(common.Shape{2, 1}, []float64{2, 3}), common.NewTensor(common.Shape{3}, []float64{0, 1, 2}))
	require.Equal(t, common.Shape{2, 3}, y.Shape())
	require.Equal(t, []float64{1, 2, 4, 1, 3, 9}, common.Data[float64](y))
	_, err := ewRun(t, ewNode("Pow", 15), base, common.Scalar("x"))
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestEwCompareAndLogic(t *testing.T) {
	s := ewOne(t, ewNode("Equal", 19), common.NewTensor(common.Shape{2, 2}, []string{"a", "b", "c", "b"}), common.NewTensor(common.Shape{2}, []string{"a", "b"}))
	require.Equal(t, []bool{true, true, false, true}, common.Data[bool](s))
	tf := common.NewTensor(common.Shape{4}, []bool{true, true, false, false})
	ft := common.NewTensor(common.Shape{4}, []bool{true, false, true, false})
	require.Equal(t, []bool{true, false, false, true}, common.Data[bool](ewOne(t, ewNode("Equal", 11), tf, ft)))
	require.Equal(t, []bool{true, false, false, false}, common.Data[bool](ewOne(t, ewNode("And", 7), tf, ft)))
	require.Equal(t, []bool{true, true, true, false}, common.Data[bool](ewOne(t, ewNode("Or", 7), tf, ft)))
	require.Equal(t, []bool{false, true, true, false}, common.Data[bool](ewOne(t, ewNode("Xor", 7), tf, ft)))
	_, err := ewRun(t, ewNode("And", 7), common.Scalar[int32](1), common.Scalar[int32](1))
	require.ErrorIs(t, err, common.ErrUnsupported)
	_, err = ewRun(t, ewNode("Less", 13), tf, ft)
	require.ErrorIs(t, err, common.ErrUnsupported)

	a := common.NewTensor(common.Shape{4}, []common.F16{common.F16From(-2), common.F16From(-1), common.F16From(1), common.F16From(2)})
	b := common.Scalar(common.F16From(-1))
	require.Equal(t, []bool{true, false, false, false}, common.Data[bool](ewOne(t, ewNode("Less", 13), a, b)))
	require.Equal(t, []bool{true, true, false, false}, common.Data[bool](ewOne(t, ewNode("LessOrEqual", 16), a, b)))
	require.Equal(t, []bool{false, true, true, true}, common.Data[bool](ewOne(t, ewNode("GreaterOrEqual", 16), a, b)))
	require.Equal(t, []bool{false, true, false, false}, common.Data[bool](ewOne(t, ewNode("Equal", 13), a, b)))
	u := common.NewTensor(common.Shape{3}, []uint64{0, 1 << 63, 5})
	require.Equal(t, []bool{false, true, false}, common.Data[bool](ewOne(t, ewNode("Greater", 13), u, common.Scalar[uint64](5))))
	nan := float32(math.NaN())
	require.Equal(t, []bool{false}, common.Data[bool](ewOne(t, ewNode("Equal", 13), common.NewTensor(common.Shape{1}, []float32{nan}), common.Scalar(nan))))
}

func TestEwVariadic(t *testing.T) {
	nan := math.NaN()
	a := common.NewTensor(common.Shape{3}, []float64{1, nan, 5})
	b := common.NewTensor(common.Shape{2, 1}, []float64{2, nan})
	c := common.Scalar[float64](3)
	mx := ewOne(t, ewNode("Max", 13), a, b, c)
	require.Equal(t, common.Shape{2, 3}, mx.Shape())
	for i, want := range []float64{3, nan, 5, nan, nan, nan} {
		got := common.Data[float64](mx)[i]
		if math.IsNaN(want) {
			require.True(t, math.IsNaN(got), "Max element %d", i)
		} else {
			require.Equal(t, want, got, "Max element %d", i)
		}
	}
	mn := ewOne(t, ewNode("Min", 13), a, c)
	require.Equal(t, 1.0, common.Data[float64](mn)[0])
	require.True(t, math.IsNaN(common.Data[float64](mn)[1]))
	require.Equal(t, 3.0, common.Data[float64](mn)[2])

	x := common.NewTensor(common.Shape{2, 2}, []float32{1, 2, 3, 4})
	y := common.NewTensor(common.Shape{2}, []float32{10, 20})
	z := common.Scalar[float32](100)
	require.Equal(t, []float32{111, 122, 113, 124}, common.Data[float32](ewOne(t, ewNode("Sum", 13), x, y, z)))
	require.Equal(t, []float32{37, 122.0 / 3, 113.0 / 3, 124.0 / 3}, common.Data[float32](ewOne(t, ewNode("Mean", 13), x, y, z)))
	require.Equal(t, []float32{1, 2, 3, 4}, common.Data[float32](ewOne(t, ewNode("Mean", 13), x)))
	require.Equal(t, []float32{1, 2, 3, 4}, common.Data[float32](ewOne(t, ewNode("Sum", 13), x)))
	require.Equal(t, []float32{1, 2, 3, 4}, common.Data[float32](x), "inputs unchanged")
	require.Equal(t, []float32{10, 20}, common.Data[float32](y), "inputs unchanged")
	xi := common.NewTensor(common.Shape{3}, []uint8{1, 200, 7})
	require.Equal(t, []uint8{1, 9, 7}, common.Data[uint8](ewOne(t, ewNode("Min", 13), xi, common.Scalar[uint8](9))))
	require.Equal(t, []uint8{9, 200, 9}, common.Data[uint8](ewOne(t, ewNode("Max", 13), xi, common.Scalar[uint8](9))))
	h := ewOne(t, ewNode("Mean", 13), common.Scalar(common.F16From(1)), common.Scalar(common.F16From(2)))
	require.Equal(t, common.Float16, h.DType())
	require.Equal(t, 1.5, h.Float(0))
	_, err := ewRun(t, ewNode("Sum", 13))
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = ewRun(t, ewNode("Mean", 13), xi)
	require.ErrorIs(t, err, common.ErrUnsupported)
	_, err = ewRun(t, ewNode("Max", 13), x, xi)
	require.ErrorIs(t, err, common.ErrShape)
}

func TestEwClip(t *testing.T) {
	x := common.NewTensor(common.Shape{5}, []float32{-3, -1, 0, 1, float32(math.NaN())})
	y := ewOne(t, ewNode("Clip", 6, ewF("min", -1.5), ewF("max", 0.5)), x)
	require.Equal(t, []float32{-1.5, -1, 0, 0.5}, common.Data[float32](y)[:4])
	require.True(t, math.IsNaN(float64(common.Data[float32](y)[4])))
	big := common.NewTensor(common.Shape{2}, []float32{-math.MaxFloat32, 1e30})
	require.Equal(t, []float32{-math.MaxFloat32, 1e30}, common.Data[float32](ewOne(t, ewNode("Clip", 6), big)))
	y = ewOne(t, ewNode("Clip", 13), x, common.Scalar[float32](-2), nil)
	require.Equal(t, []float32{-2, -1, 0, 1}, common.Data[float32](y)[:4])
	y = ewOne(t, ewNode("Clip", 13), x, nil, common.Scalar[float32](0))
	require.Equal(t, []float32{-3, -1, 0, 0}, common.Data[float32](y)[:4])
	y = ewOne(t, ewNode("Clip", 13), x)
	require.Equal(t, []float32{-3, -1, 0, 1}, common.Data[float32](y)[:4])
	// min > max: everything becomes max
	y = ewOne(t, ewNode("Clip", 13), x, common.Scalar[float32](2), common.Scalar[float32](1))
	require.Equal(t, []float32{1, 1, 1, 1}, common.Data[float32](y)[:4])
	xi := common.NewTensor(common.Shape{4}, []int8{-128, -5, 5, 127})
	require.Equal(t, []int8{-128, -5, 5, 6}, common.Data[int8](ewOne(t, ewNode("Clip", 13), xi, nil, common.Scalar[int8](6))))
	require.Equal(t, []int8{-4, -4, 5, 127}, common.Data[int8](ewOne(t, ewNode("Clip", 12), xi, common.Scalar[int8](-4))))
	xu := common.NewTensor(common.Shape{3}, []uint64{0, 5, math.MaxUint64})
	require.Equal(t, []uint64{2, 5, 9}, common.Data[uint64](ewOne(t, ewNode("Clip", 13), xu, common.Scalar[uint64](2), common.Scalar[uint64](9))))
	xh := common.NewTensor(common.Shape{3}, []common.BF16{common.BF16From(-2), common.BF16From(0.25), common.BF16From(3)})
	yh := ewOne(t, ewNode("Clip", 13), xh, common.Scalar(common.BF16From(-1)), common.Scalar(common.BF16From(1)))
	require.Equal(t, common.BFloat16, yh.DType())
	require.Equal(t, []float64{-1, 0.25, 1}, yh.Floats())
	_, err := ewRun(t, ewNode("Clip", 13), x, common.Scalar[float64](1))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = ewRun(t, ewNode("Clip", 13), x, common.NewTensor(common.Shape{2}, []float32{1, 2}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = ewRun(t, ewNode("Clip", 6), xi)
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestEwPRelu(t *testing.T) {
	x := common.NewTensor(common.Shape{2, 3}, []float32{-1, 2, -3, 4, -5, 0})
	s := common.NewTensor(common.Shape{3}, []float32{0.5, 0.25, 2})
	require.Equal(t, []float32{-0.5, 2, -6, 4, -1.25, 0}, common.Data[float32](ewOne(t, ewNode("PRelu", 16), x, s)))
	xi := common.NewTensor(common.Shape{3}, []int32{-4, 4, -2})
	require.Equal(t, []int32{-12, 4, -6}, common.Data[int32](ewOne(t, ewNode("PRelu", 16), xi, common.Scalar[int32](3))))
	// the slope must broadcast to X without growing it
	_, err := ewRun(t, ewNode("PRelu", 16), s, x)
	require.ErrorIs(t, err, common.ErrShape)
}

func TestEwHalfArithmeticRoundsOnce(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	n := 1000
	a16, b16 := make([]common.F16, n), make([]common.F16, n)
	ab, bb := make([]common.BF16, n), make([]common.BF16, n)
	for i := range a16 {
		x, y := float32(rng.NormFloat64()), float32(rng.NormFloat64())
		a16[i], b16[i] = common.F16From(x), common.F16From(y)
		ab[i], bb[i] = common.BF16From(x), common.BF16From(y)
	}
	sh := common.Shape{n}
	y := common.Data[common.F16](ewOne(t, ewNode("Mul", 14), common.NewTensor(sh, a16), common.NewTensor(sh, b16)))
	yb := common.Data[common.BF16](ewOne(t, ewNode("Sub", 14), common.NewTensor(sh, ab), common.NewTensor(sh, bb)))
	for i := range y {
		require.Equal(t, common.F16From(a16[i].Float32()*b16[i].Float32()), y[i])
		require.Equal(t, common.BF16From(ab[i].Float32()-bb[i].Float32()), yb[i])
	}
}

func TestEwBroadcastPlanMergesAxes(t *testing.T) {
	p, err := newBcast(common.Shape{2, 3, 4, 5}, common.Shape{4, 5})
	require.NoError(t, err)
	require.Equal(t, 20, p.inner)
	require.Equal(t, []int{6}, p.outer)
	p, err = newBcast(common.Shape{2, 3, 4}, common.Shape{2, 3, 4})
	require.NoError(t, err)
	require.Equal(t, 24, p.inner)
	require.Empty(t, p.outer)
	p, err = newBcast(common.Shape{6, 1}, common.Shape{1, 7})
	require.NoError(t, err)
	require.Equal(t, 7, p.inner)
	require.Equal(t, []int{0, 1}, p.istr)
	require.Equal(t, []int{6}, p.outer)
	_, err = newBcast(common.Shape{1 << 40, 1}, common.Shape{1, 1 << 40})
	require.Error(t, err)
}

func TestEwOutputLimit(t *testing.T) {
	c := ewCtx(1)
	c.eng.limits.TensorElements = 1000
	a := common.NewTensor(common.Shape{100, 1}, make([]float32, 100))
	b := common.NewTensor(common.Shape{1, 100}, make([]float32, 100))
	_, err := kernels["Add"].tensor(c, ewNode("Add", 14), []*common.Tensor{a, b})
	require.ErrorIs(t, err, common.ErrLimit)
}

func TestEwLegacyBroadcastAttribute(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	a := ewRandF32(rng, common.Shape{2, 3, 4, 5})
	b := ewRandF32(rng, common.Shape{3, 4})
	y := ewOne(t, ewNode("Add", 6, ewI("broadcast", 1), ewI("axis", 1)), a, b)
	require.Equal(t, a.Shape(), y.Shape())
	ad, bd, yd := common.Data[float32](a), common.Data[float32](b), common.Data[float32](y)
	for i := range yd {
		j := i / 5 % 12 // index of (dim1, dim2) in B
		require.Equal(t, ad[i]+bd[j], yd[i], "element %d", i)
	}
	// default axis: B matches A's trailing dims
	c := ewRandF32(rng, common.Shape{4, 5})
	y = ewOne(t, ewNode("Mul", 1, ewI("broadcast", 1)), a, c)
	for i := range yd {
		require.Equal(t, ad[i]*common.Data[float32](c)[i%20], common.Data[float32](y)[i])
	}
	// scalar B
	y = ewOne(t, ewNode("Sub", 6, ewI("broadcast", 1)), a, common.Scalar[float32](1))
	require.Equal(t, ad[7]-1, common.Data[float32](y)[7])
	// without broadcast=1 shapes must be equal; with it, B must fit A
	_, err := ewRun(t, ewNode("Add", 6), a, c)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = ewRun(t, ewNode("Add", 6, ewI("broadcast", 1), ewI("axis", 3)), a, b)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = ewRun(t, ewNode("Add", 6, ewI("broadcast", 1), ewI("axis", 0)), a, b)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = ewRun(t, ewNode("Pow", 1, ewI("broadcast", 1)), c, a)
	require.ErrorIs(t, err, common.ErrShape)
	// opset 7 uses numpy rules and ignores the old attributes
	y = ewOne(t, ewNode("Add", 7), c, a)
	require.Equal(t, a.Shape(), y.Shape())
}

func TestEwRandomShapesMatchNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	randShape := func(out common.Shape) common.Shape {
		r := rng.Intn(len(out) + 1)
		s := make(common.Shape, r)
		for i := range s {
			s[i] = out[len(out)-r+i]
			if rng.Intn(3) == 0 {
				s[i] = 1
			}
		}
		return s
	}
	for iter := 0; iter < 300; iter++ {
		full := make(common.Shape, rng.Intn(5))
		for i := range full {
			full[i] = rng.Intn(4) + 1
			if rng.Intn(15) == 0 {
				full[i] = 0
			}
		}
		sc, sx, sy := randShape(full), randShape(full), randShape(full)
		out, err := BroadcastShape(sc, sx, sy)
		require.NoError(t, err)
		cd := make([]bool, sc.Size())
		for i := range cd {
			cd[i] = rng.Intn(2) == 0
		}
		xd := make([]int64, sx.Size())
		yd := make([]int64, sy.Size())
		for i := range xd {
			xd[i] = rng.Int63n(1000) - 500
		}
		for i := range yd {
			yd[i] = rng.Int63n(1000) - 500
		}
		x, y := common.NewTensor(sx, xd), common.NewTensor(sy, yd)
		w := ewOne(t, ewNode("Where", 16), common.NewTensor(sc, cd), x, y)
		require.Equal(t, out, w.Shape())
		wd := common.Data[int64](w)
		for i := range wd {
			want := yd[ewIndex(i, out, sy)]
			if cd[ewIndex(i, out, sc)] {
				want = xd[ewIndex(i, out, sx)]
			}
			require.Equal(t, want, wd[i], "Where %v %v %v element %d", sc, sx, sy, i)
		}
		xy, err := BroadcastShape(sx, sy)
		require.NoError(t, err)
		m := ewOne(t, ewNode("Mul", 14), x, y)
		require.Equal(t, xy, m.Shape())
		for i, v := range common.Data[int64](m) {
			require.Equal(t, xd[ewIndex(i, xy, sx)]*yd[ewIndex(i, xy, sy)], v, "Mul %v %v element %d", sx, sy, i)
		}
	}
}
