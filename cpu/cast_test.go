package cpu

import (
	"context"
	"errors"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// qtCtx is a kernel context with a small pool and default limits.
func qtCtx(threads int) *Ctx {
	e := &Engine{limits: common.Limits{}.WithDefaults(), pool: newPool(threads)}
	return &Ctx{ctx: context.Background(), eng: e, run: &runState{}}
}

func qtNode(op string, opset int64, attrs ...*common.Attribute) *common.Node {
	n := &common.Node{OpType: op, Opset: opset, Attrs: map[string]*common.Attribute{}, Outputs: []string{"y"}}
	for _, a := range attrs {
		n.Attrs[a.Name] = a
	}
	return n
}

func qtInt(name string, v int64) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrInt, I: v}
}

func qtInts(name string, v ...int64) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrInts, Ints: v}
}

func qtStr(name, v string) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrString, S: []byte(v)}
}

// qtRun runs the registered kernel for n.
func qtRun(t *testing.T, n *common.Node, in ...*common.Tensor) ([]*common.Tensor, error) {
	t.Helper()
	k, ok := kernels[n.OpType]
	require.True(t, ok, "no kernel %s", n.OpType)
	return k.tensor(qtCtx(3), n, in)
}

func qtOne(t *testing.T, n *common.Node, in ...*common.Tensor) *common.Tensor {
	t.Helper()
	out, err := qtRun(t, n, in...)
	require.NoError(t, err)
	require.NotEmpty(t, out)
	return out[0]
}

func qtCast(t *testing.T, x *common.Tensor, to common.DType, attrs ...*common.Attribute) *common.Tensor {
	t.Helper()
	y := qtOne(t, qtNode("Cast", 25, append(attrs, qtInt("to", int64(to)))...), x)
	require.Equal(t, to, y.DType())
	require.Equal(t, x.Shape(), y.Shape())
	return y
}

func TestCastIntegersWrapAndTruncate(t *testing.T) {
	vals := []float32{-9, -8, -7, -1, 0, 1, 7, 8, 9, 15}
	x := common.NewTensor(common.Shape{len(vals)}, vals)
	i4 := common.Data[common.I4](qtCast(t, x, common.Int4))
	u4 := common.Data[common.U4](qtCast(t, x, common.Uint4))
	i2 := common.Data[common.I2](qtCast(t, x, common.Int2))
	u2 := common.Data[common.U2](qtCast(t, x, common.Uint2))
	for i, v := range vals {
		iv := int64(v)
		// two's complement wrap to the width, as the ONNX node tests expect
		require.Equal(t, common.I4((iv+8)&15-8), i4[i], "int4 %v", v)
		require.Equal(t, common.U4(iv&15), u4[i], "uint4 %v", v)
		require.Equal(t, common.I2((iv+2)&3-2), i2[i], "int2 %v", v)
		require.Equal(t, common.U2(iv&3), u2[i], "uint2 %v", v)
	}
	// float -> int truncates toward zero; integer narrowing wraps
	f := common.NewTensor(common.Shape{6}, []float64{2.7, -2.7, 0.5, -0.5, 300, -129})
	require.Equal(t, []int32{2, -2, 0, 0, 300, -129}, common.Data[int32](qtCast(t, f, common.Int32)))
	require.Equal(t, []int8{2, -2, 0, 0, 44, 127}, common.Data[int8](qtCast(t, f, common.Int8)))
	big := common.NewTensor(common.Shape{3}, []int64{1 << 40, -1, 255})
	require.Equal(t, []uint8{0, 255, 255}, common.Data[uint8](qtCast(t, big, common.Uint8)))
	require.Equal(t, []uint64{1 << 40, math.MaxUint64, 255}, common.Data[uint64](qtCast(t, big, common.Uint64)))
	require.Equal(t, []bool{true, true, true}, common.Data[bool](qtCast(t, big, common.Bool)))
	// NaN and infinities never panic
	sp := common.NewTensor(common.Shape{3}, []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))})
	require.Equal(t, []int64{0, math.MaxInt64, math.MinInt64}, common.Data[int64](qtCast(t, sp, common.Int64)))
	require.Equal(t, []bool{true, true, true}, common.Data[bool](qtCast(t, sp, common.Bool)))
}

func TestCastFloatsRoundOnce(t *testing.T) {
	// float64 -> float16 must round the double directly (no double rounding
	// through float32). 1 + 2^-11 + 2^-40 is just above a float16 tie: it
	// rounds up; via float32 it would become the tie and round to even.
	d := common.NewTensor(common.Shape{3}, []float64{1 + math.Ldexp(1, -11) + math.Ldexp(1, -40), 1 + math.Ldexp(1, -11), 70000})
	h := common.Data[common.F16](qtCast(t, d, common.Float16))
	require.Equal(t, common.F16(0x3c01), h[0])
	require.Equal(t, common.F16(0x3c00), h[1])
	require.Equal(t, common.F16(0x7c00), h[2])
	bf := common.Data[common.BF16](qtCast(t, d, common.BFloat16))
	require.Equal(t, common.BF16(0x3f80), bf[0])

	// every float16 goes to float32/float64 and back unchanged
	all := make([]common.F16, 1<<16)
	for i := range all {
		all[i] = common.F16(i)
	}
	x := common.NewTensor(common.Shape{len(all)}, all)
	back := common.Data[common.F16](qtCast(t, qtCast(t, x, common.Float64), common.Float16))
	for i, v := range all {
		if math.IsNaN(float64(v.Float32())) {
			require.True(t, math.IsNaN(float64(back[i].Float32())))
			continue
		}
		require.Equal(t, v, back[i])
	}
	// float8 round trip through float16 for every code
	codes := make([]common.F8E4M3FN, 256)
	for i := range codes {
		codes[i] = common.F8E4M3FN(i)
	}
	c8 := common.NewTensor(common.Shape{256}, codes)
	rt := common.Data[common.F8E4M3FN](qtCast(t, qtCast(t, c8, common.Float16), common.Float8E4M3FN))
	for i := range codes {
		if i&0x7f == 0x7f {
			continue // NaN
		}
		require.Equal(t, codes[i], rt[i], "code %#x", i)
	}
}

func TestCastFloat8Saturate(t *testing.T) {
	x := common.NewTensor(common.Shape{4}, []float32{1e6, -1e6, float32(math.Inf(1)), 3})
	sat := common.Data[common.F8E4M3FN](qtCast(t, x, common.Float8E4M3FN))
	require.Equal(t, []common.F8E4M3FN{0x7e, 0xfe, 0x7e, 0x44}, sat)
	nosat := common.Data[common.F8E4M3FN](qtCast(t, x, common.Float8E4M3FN, qtInt("saturate", 0)))
	require.Equal(t, []common.F8E4M3FN{0x7f, 0xff, 0x7f, 0x44}, nosat)
	e5 := common.Data[common.F8E5M2](qtCast(t, x, common.Float8E5M2, qtInt("saturate", 0)))
	require.Equal(t, []common.F8E5M2{0x7c, 0xfc, 0x7c, 0x42}, e5)
	e8 := common.Data[common.F8E8M0](qtCast(t, common.NewTensor(common.Shape{2}, []float32{3, 5}), common.Float8E8M0, qtStr("round_mode", "down")))
	require.Equal(t, []common.F8E8M0{0x80, 0x81}, e8)
	_, err := qtRun(t, qtNode("Cast", 25, qtInt("to", int64(common.Float8E8M0)), qtStr("round_mode", "sideways")), x)
	require.ErrorIs(t, err, common.ErrInvalidModel)
}

func TestCastStrings(t *testing.T) {
	x := common.NewTensor(common.Shape{7}, []float32{0.1, 1e6, 1e-7, float32(math.Inf(-1)), float32(math.NaN()), -2.5, 1e16})
	s := common.Data[string](qtCast(t, x, common.String))
	require.Equal(t, []string{"0.1", "1000000.0", "1e-07", "-inf", "nan", "-2.5", "1e+16"}, s)
	// shortest round trip: parsing back gives the same float32
	back := common.Data[float32](qtCast(t, qtCast(t, x, common.String), common.Float32))
	for i, v := range common.Data[float32](x) {
		if v != v {
			require.True(t, back[i] != back[i])
			continue
		}
		require.Equal(t, v, back[i])
	}
	in := common.NewTensor(common.Shape{8}, []string{"3.14", "1e-5", "1E8", "INF", "+inf", "-INF", "nan", "100.5"})
	f := common.Data[float64](qtCast(t, in, common.Float64))
	require.Equal(t, 3.14, f[0])
	require.Equal(t, 1e-5, f[1])
	require.Equal(t, 1e8, f[2])
	require.True(t, math.IsInf(f[3], 1) && math.IsInf(f[4], 1) && math.IsInf(f[5], -1))
	require.True(t, math.IsNaN(f[6]))
	ints := common.NewTensor(common.Shape{4}, []string{"100.5", "-7", "18446744073709551615", "12"})
	require.Equal(t, []int64{100, -7, -1, 12}, common.Data[int64](qtCast(t, ints, common.Int64)))
	require.Equal(t, []string{"-3", "True", "False"}, []string{
		common.Data[string](qtCast(t, common.NewTensor(common.Shape{1}, []int8{-3}), common.String))[0],
		common.Data[string](qtCast(t, common.NewTensor(common.Shape{1}, []bool{true}), common.String))[0],
		common.Data[string](qtCast(t, common.NewTensor(common.Shape{1}, []bool{false}), common.String))[0],
	})
	b := common.Data[bool](qtCast(t, common.NewTensor(common.Shape{4}, []string{"True", "false", "0", "2"}), common.Bool))
	require.Equal(t, []bool{true, false, false, true}, b)
	_, err := qtRun(t, qtNode("Cast", 25, qtInt("to", int64(common.Float32))), common.NewTensor(common.Shape{1}, []string{"Hello"}))
	require.Error(t, err)
	require.True(t, errors.Is(err, common.ErrShape))
}

func TestCastAttributeForms(t *testing.T) {
	x := common.NewTensor(common.Shape{2}, []int32{1, -2})
	// opset 1: "to" is a type name
	y := qtOne(t, qtNode("Cast", 1, qtStr("to", "FLOAT")), x)
	require.Equal(t, []float32{1, -2}, common.Data[float32](y))
	// opset 18: saturate does not exist yet, so it is ignored
	f := common.NewTensor(common.Shape{1}, []float32{1e6})
	y = qtOne(t, qtNode("Cast", 18, qtInt("to", int64(common.Float8E4M3FN)), qtInt("saturate", 0)), f)
	require.Equal(t, []common.F8E4M3FN{0x7e}, common.Data[common.F8E4M3FN](y))
	// same type: no copy
	require.Same(t, x, qtCast(t, x, common.Int32))
	for _, bad := range []*common.Attribute{qtInt("to", 99), qtInt("to", int64(common.Complex64)), qtStr("to", "QUATERNION")} {
		_, err := qtRun(t, qtNode("Cast", 13, bad), x)
		require.Error(t, err, "%v", bad)
		require.True(t, errors.Is(err, common.ErrUnsupported) || errors.Is(err, common.ErrInvalidModel))
	}
	_, err := qtRun(t, qtNode("Cast", 13), x)
	require.ErrorIs(t, err, common.ErrInvalidModel)

	like := common.NewTensor(common.Shape{0}, []common.F16{})
	y = qtOne(t, qtNode("CastLike", 21), x, like)
	require.Equal(t, []common.F16{common.F16From(1), common.F16From(-2)}, common.Data[common.F16](y))
}

func TestCastEveryPairMatchesFloatReference(t *testing.T) {
	// For every numeric pair, casting a few exactly representable small
	// integers must give the same values (read back with Tensor.Float).
	types := []common.DType{common.Float32, common.Float64, common.Float16, common.BFloat16,
		common.Int8, common.Int16, common.Int32, common.Int64, common.Uint8, common.Uint16, common.Uint32, common.Uint64,
		common.Float8E4M3FN, common.Float8E4M3FNUZ, common.Float8E5M2, common.Float8E5M2FNUZ, common.Float4E2M1,
		common.Int4, common.Uint4, common.Int2, common.Uint2, common.Bool, common.String}
	vals := []float64{0, 1, 1, 0, 1}
	for _, from := range types {
		src, err := CastTo(common.NewTensor(common.Shape{len(vals)}, vals), from, DefaultCastOptions)
		require.NoError(t, err)
		for _, to := range types {
			y := qtCast(t, src, to)
			for i, v := range vals {
				if to == common.String {
					want := map[bool]string{true: "1", false: "0"}[v == 1]
					switch {
					case from == common.Bool:
						want = map[bool]string{true: "True", false: "False"}[v == 1]
					case from.IsFloat() || from == common.String:
						want += ".0"
					}
					require.Equal(t, want, y.At(i), "%v -> %v", from, to)
					continue
				}
				require.Equal(t, v, y.Float(i), "%v -> %v element %d", from, to, i)
			}
		}
	}
	// and the e8m0 type for powers of two
	p2 := common.NewTensor(common.Shape{3}, []float32{0.25, 1, 64})
	e8 := qtCast(t, p2, common.Float8E8M0)
	require.Equal(t, []float32{0.25, 1, 64}, common.Data[float32](qtCast(t, e8, common.Float32)))
}

func TestCastParallelMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	xs := make([]float32, 100000)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64() * 100)
	}
	x := common.NewTensor(common.Shape{len(xs)}, xs)
	y := qtCast(t, x, common.Float16)
	serial, err := CastTo(x, common.Float16, DefaultCastOptions)
	require.NoError(t, err)
	require.Equal(t, common.Data[common.F16](serial), common.Data[common.F16](y))
	for i, v := range xs {
		require.Equal(t, common.F16From(v), common.Data[common.F16](y)[i])
	}
}

func TestCastNaNSignAndFastPaths(t *testing.T) {
	// FNUZ NaN is the sign bit alone: it decodes to a negative NaN
	x := common.NewTensor(common.Shape{2}, []common.F8E4M3FNUZ{0x80, 0x40})
	h := common.Data[common.F16](qtCast(t, x, common.Float16))
	require.Equal(t, []common.F16{0xfe00, 0x3c00}, h)
	f := common.Data[float32](qtCast(t, common.NewTensor(common.Shape{1}, []common.F8E5M2FNUZ{0x80}), common.Float32))
	require.True(t, math.IsNaN(float64(f[0])) && math.Signbit(float64(f[0])))

	// the direct loops agree with one correct rounding
	rng := rand.New(rand.NewSource(10))
	d := make([]float64, 1000)
	i64 := make([]int64, 1000)
	for i := range d {
		d[i] = rng.NormFloat64() * math.Pow(2, float64(rng.Intn(80)-40))
		i64[i] = rng.Int63() >> uint(rng.Intn(63))
	}
	f32 := common.Data[float32](qtCast(t, common.NewTensor(common.Shape{1000}, d), common.Float32))
	fi := common.Data[float32](qtCast(t, common.NewTensor(common.Shape{1000}, i64), common.Float32))
	i32 := common.Data[int32](qtCast(t, common.NewTensor(common.Shape{1000}, i64), common.Int32))
	for i := range d {
		// nearest float32: neither neighbour is closer
		g := f32[i]
		for _, nb := range []float32{math.Nextafter32(g, float32(math.Inf(1))), math.Nextafter32(g, float32(math.Inf(-1)))} {
			require.LessOrEqual(t, math.Abs(float64(g)-d[i]), math.Abs(float64(nb)-d[i]))
		}
		require.Equal(t, float32(i64[i]), fi[i])
		require.Equal(t, int32(uint32(uint64(i64[i]))), i32[i])
	}
}
