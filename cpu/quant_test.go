package cpu

import (
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

func qtClamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

func TestQuantizeLinearPerTensorAndAxis(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	shape := common.Shape{2, 3, 4}
	xs := make([]float32, shape.Size())
	for i := range xs {
		xs[i] = float32(rng.NormFloat64() * 300)
	}
	xs[0], xs[1] = 2.5, 3.5 // ties go to even
	x := common.NewTensor(shape, xs)
	// per tensor, uint8
	y := qtOne(t, qtNode("QuantizeLinear", 10), x, common.Scalar[float32](2), common.Scalar[uint8](128))
	for i, v := range xs {
		want := qtClamp(math.RoundToEven(float64(v/2))+128, 0, 255)
		require.Equal(t, uint8(want), common.Data[uint8](y)[i])
	}
	// no zero point: uint8 with zero point 0
	y = qtOne(t, qtNode("QuantizeLinear", 13), common.NewTensor(common.Shape{4}, []float32{-1, 2.5, 3.5, 1000}), common.Scalar[float32](1))
	require.Equal(t, []uint8{0, 2, 4, 255}, common.Data[uint8](y))
	// per axis 1, int8
	sc := []float32{0.5, 2, 7}
	zp := []int8{-3, 0, 5}
	y = qtOne(t, qtNode("QuantizeLinear", 13), x, common.NewTensor(common.Shape{3}, sc), common.NewTensor(common.Shape{3}, zp))
	for i, v := range xs {
		a := i / 4 % 3
		want := qtClamp(math.RoundToEven(float64(v/sc[a]))+float64(zp[a]), -128, 127)
		require.Equal(t, int8(want), common.Data[int8](y)[i], "element %d", i)
	}
	// per axis -1 (last), int16 via output_dtype
	sc4 := []float32{1, 3, 10, 0.25}
	y = qtOne(t, qtNode("QuantizeLinear", 21, qtInt("axis", -1), qtInt("output_dtype", int64(common.Int16))), x, common.NewTensor(common.Shape{4}, sc4))
	require.Equal(t, common.Int16, y.DType())
	for i, v := range xs {
		want := qtClamp(math.RoundToEven(float64(v/sc4[i%4])), -32768, 32767)
		require.Equal(t, int16(want), common.Data[int16](y)[i])
	}
	// opset 10: scale must be a scalar
	_, err := qtRun(t, qtNode("QuantizeLinear", 10), x, common.NewTensor(common.Shape{3}, sc))
	require.ErrorIs(t, err, common.ErrShape)
	// wrong per-axis length
	_, err = qtRun(t, qtNode("QuantizeLinear", 13), x, common.NewTensor(common.Shape{4}, sc4))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = qtRun(t, qtNode("QuantizeLinear", 13, qtInt("axis", 3)), x, common.NewTensor(common.Shape{3}, sc))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestQuantizeLinearBlockedAndSubByte(t *testing.T) {
	// the ONNX blocked example: x [3,4], axis 1, block 2
	x := common.NewTensor(common.Shape{3, 4}, []float32{6, 12, 50, 5, 1, 8, 4, 5, 0, 20, 10, 4})
	sc := common.NewTensor(common.Shape{3, 2}, []float32{1.5, 2.5, 3, 4.9, 5.1, 6.9})
	zp := common.NewTensor(common.Shape{3, 2}, []uint8{0, 1, 1, 0, 2, 3})
	y := qtOne(t, qtNode("QuantizeLinear", 21, qtInt("axis", 1), qtInt("block_size", 2)), x, sc, zp)
	require.Equal(t, []uint8{4, 8, 21, 3, 1, 4, 1, 1, 2, 6, 4, 4}, common.Data[uint8](y))
	// a block that does not divide the axis: ceil(4/3) = 2 blocks
	sc2 := common.NewTensor(common.Shape{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	y = qtOne(t, qtNode("QuantizeLinear", 21, qtInt("axis", 1), qtInt("block_size", 3)), x, sc2)
	xs := common.Data[float32](x)
	for i, v := range xs {
		r, col := i/4, i%4
		s := common.Data[float32](sc2)[r*2+col/3]
		require.Equal(t, uint8(qtClamp(math.RoundToEven(float64(v/s)), 0, 255)), common.Data[uint8](y)[i])
	}
	_, err := qtRun(t, qtNode("QuantizeLinear", 21, qtInt("axis", 1), qtInt("block_size", 2)), x, sc2.Clone(), common.NewTensor(common.Shape{2, 3}, []uint8{0, 0, 0, 0, 0, 0}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = qtRun(t, qtNode("QuantizeLinear", 21, qtInt("axis", 1), qtInt("block_size", 1)), x, sc2)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = qtRun(t, qtNode("QuantizeLinear", 21, qtInt("axis", 1), qtInt("block_size", -1)), x, sc2)
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = qtRun(t, qtNode("QuantizeLinear", 21, qtInt("axis", 1), qtInt("block_size", math.MaxInt64)), x, common.NewTensor(common.Shape{3, 1}, []float32{1, 2, 3}))
	require.NoError(t, err)

	// int4 / uint4 / int2 / uint2 ranges
	v := common.NewTensor(common.Shape{6}, []float32{-100, -3, -1.5, 0.5, 3, 100})
	i4 := qtOne(t, qtNode("QuantizeLinear", 21), v, common.Scalar[float32](1), common.Scalar(common.I4(0)))
	require.Equal(t, []common.I4{-8, -3, -2, 0, 3, 7}, common.Data[common.I4](i4))
	u4 := qtOne(t, qtNode("QuantizeLinear", 21), v, common.Scalar[float32](1), common.Scalar(common.U4(2)))
	require.Equal(t, []common.U4{0, 0, 0, 2, 5, 15}, common.Data[common.U4](u4))
	i2 := qtOne(t, qtNode("QuantizeLinear", 25), v, common.Scalar[float32](1), common.Scalar(common.I2(0)))
	require.Equal(t, []common.I2{-2, -2, -2, 0, 1, 1}, common.Data[common.I2](i2))
	u2 := qtOne(t, qtNode("QuantizeLinear", 25, qtInt("output_dtype", int64(common.Uint2))), v, common.Scalar[float32](1))
	require.Equal(t, []common.U2{0, 0, 0, 0, 3, 3}, common.Data[common.U2](u2))
	// float8 and float4 outputs go through the Cast rounding
	f8 := qtOne(t, qtNode("QuantizeLinear", 19), common.NewTensor(common.Shape{5}, []float32{0, 1, 2, 100000, 200}), common.Scalar[float32](2), common.NewTensor(common.Shape{1}, []common.F8E4M3FN{0}))
	require.Equal(t, []common.F8E4M3FN{0, 48, 56, 126, 108}, common.Data[common.F8E4M3FN](f8))
	f8ns := qtOne(t, qtNode("QuantizeLinear", 19, qtInt("saturate", 0)), common.NewTensor(common.Shape{1}, []float32{1e6}), common.Scalar[float32](2), common.Scalar(common.F8E5M2(0)))
	require.Equal(t, []common.F8E5M2{0x7c}, common.Data[common.F8E5M2](f8ns))
	f4 := qtOne(t, qtNode("QuantizeLinear", 23, qtInt("axis", 0)), common.NewTensor(common.Shape{2, 2}, []float32{2.5, 8.6, -30, 6}), common.NewTensor(common.Shape{2}, []float32{2, 3}), common.NewTensor(common.Shape{2}, []common.F4E2M1{0, 0}))
	require.Equal(t, []common.F4E2M1{2, 6, 0xf, 4}, common.Data[common.F4E2M1](f4))
	// float16 input and scale: the quotient is rounded to float16 first
	h := common.NewTensor(common.Shape{2}, []common.F16{common.F16From(3), common.F16From(-7)})
	yh := qtOne(t, qtNode("QuantizeLinear", 19), h, common.Scalar(common.F16From(2)), common.Scalar[int8](1))
	require.Equal(t, []int8{3, -3}, common.Data[int8](yh))
}

func TestDequantizeLinear(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	shape := common.Shape{2, 3, 2}
	xs := make([]uint8, shape.Size())
	for i := range xs {
		xs[i] = uint8(rng.Intn(256))
	}
	x := common.NewTensor(shape, xs)
	y := qtOne(t, qtNode("DequantizeLinear", 10), x, common.Scalar[float32](0.5), common.Scalar[uint8](7))
	for i, v := range xs {
		require.Equal(t, (float32(v)-7)*0.5, common.Data[float32](y)[i])
	}
	sc := []float32{0.5, 3, 0.1}
	zp := []uint8{1, 200, 0}
	y = qtOne(t, qtNode("DequantizeLinear", 13), x, common.NewTensor(common.Shape{3}, sc), common.NewTensor(common.Shape{3}, zp))
	for i, v := range xs {
		a := i / 2 % 3
		require.Equal(t, (float32(v)-float32(zp[a]))*sc[a], common.Data[float32](y)[i])
	}
	// blocked along axis 1 with block 2: scale [2, 2, 2]
	bsc := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	y = qtOne(t, qtNode("DequantizeLinear", 21, qtInt("axis", 1), qtInt("block_size", 2)), x, common.NewTensor(common.Shape{2, 2, 2}, bsc))
	for i, v := range xs {
		o, a, j := i/6, i/2%3, i%2
		require.Equal(t, float32(v)*bsc[(o*2+a/2)*2+j], common.Data[float32](y)[i], "element %d", i)
	}
	// int32 input without zero point, float16 scale and output
	y = qtOne(t, qtNode("DequantizeLinear", 19), common.NewTensor(common.Shape{2}, []int32{-4, 1000}), common.Scalar(common.F16From(0.5)))
	require.Equal(t, []common.F16{common.F16From(-2), common.F16From(500)}, common.Data[common.F16](y))
	// float8 input, float16 scale
	y = qtOne(t, qtNode("DequantizeLinear", 19), common.NewTensor(common.Shape{5}, []common.F8E4M3FN{0, 48, 56, 126, 237}), common.Scalar(common.F16From(2)))
	require.Equal(t, []common.F16{0, 0x3c00, 0x4000, 0x6300, 0xda80}, common.Data[common.F16](y))
	// 4-bit with zero point, output_dtype float16
	y = qtOne(t, qtNode("DequantizeLinear", 23, qtInt("output_dtype", int64(common.Float16))), common.NewTensor(common.Shape{3}, []common.I4{-8, 1, 7}), common.Scalar[float32](2), common.Scalar(common.I4(1)))
	require.Equal(t, []common.F16{common.F16From(-18), 0, common.F16From(12)}, common.Data[common.F16](y))
	_, err := qtRun(t, qtNode("DequantizeLinear", 13), x, common.Scalar[float32](1), common.Scalar[int8](1))
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = qtRun(t, qtNode("DequantizeLinear", 13), common.NewTensor(common.Shape{1}, []float32{1}), common.Scalar[float32](1))
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestDynamicQuantizeLinear(t *testing.T) {
	// the example in the operator's documentation
	x := common.NewTensor(common.Shape{6}, []float32{0, 2, -3, -2.5, 1.34, 0.5})
	out, err := qtRun(t, qtNode("DynamicQuantizeLinear", 11), x)
	require.NoError(t, err)
	require.Len(t, out, 3)
	require.InDelta(t, 0.0196078438, common.Data[float32](out[1])[0], 1e-9)
	require.Equal(t, uint8(153), common.Data[uint8](out[2])[0])
	require.Equal(t, []uint8{153, 255, 0, 26, 221, 179}, common.Data[uint8](out[0]))
	require.Equal(t, 0, out[1].Rank())
	// all zero (and empty): scale 0, zero point 0, no NaN
	for _, z := range []*common.Tensor{common.NewTensor(common.Shape{3}, []float32{0, 0, 0}), common.NewTensor(common.Shape{0}, []float32{})} {
		out, err = qtRun(t, qtNode("DynamicQuantizeLinear", 11), z)
		require.NoError(t, err)
		require.Equal(t, float32(0), common.Data[float32](out[1])[0])
		require.Equal(t, uint8(0), common.Data[uint8](out[2])[0])
	}
	// positive-only input: the range still includes 0
	x = common.NewTensor(common.Shape{3}, []float32{1, 2, 5.1})
	out, err = qtRun(t, qtNode("DynamicQuantizeLinear", 11), x)
	require.NoError(t, err)
	s := float32(5.1) / 255
	require.Equal(t, s, common.Data[float32](out[1])[0])
	for i, v := range common.Data[float32](x) {
		require.Equal(t, uint8(qtClamp(math.RoundToEven(float64(v/s)), 0, 255)), common.Data[uint8](out[0])[i])
	}
}

// qtNaiveMatMul multiplies a [B, M, K] by b [B, K, N] in int64.
func qtNaiveMatMul(a, b []int64, batch, m, k, n int) []int64 {
	out := make([]int64, batch*m*n)
	for bi := 0; bi < batch; bi++ {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s int64
				for kk := 0; kk < k; kk++ {
					s += a[(bi*m+i)*k+kk] * b[(bi*k+kk)*n+j]
				}
				out[(bi*m+i)*n+j] = s
			}
		}
	}
	return out
}

func TestMatMulInteger(t *testing.T) {
	// the operator documentation example
	a := common.NewTensor(common.Shape{4, 3}, []uint8{11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0})
	b := common.NewTensor(common.Shape{3, 2}, []uint8{1, 4, 2, 5, 3, 6})
	y := qtOne(t, qtNode("MatMulInteger", 10), a, b, common.Scalar[uint8](12), common.Scalar[uint8](0))
	require.Equal(t, common.Shape{4, 2}, y.Shape())
	require.Equal(t, []int32{-38, -83, -44, -98, -50, -113, -56, -128}, common.Data[int32](y))

	// random batched int8 x uint8 with per-row and per-column zero points,
	// and a broadcast batch dim
	rng := rand.New(rand.NewSource(6))
	const B, M, K, N = 3, 5, 7, 4
	as := make([]int8, B*M*K)
	bs := make([]uint8, K*N)
	for i := range as {
		as[i] = int8(rng.Intn(256) - 128)
	}
	for i := range bs {
		bs[i] = uint8(rng.Intn(256))
	}
	azp := []int8{-3, 0, 4, 100, -128}
	bzp := []uint8{0, 17, 255, 128}
	y = qtOne(t, qtNode("MatMulInteger", 10),
		common.NewTensor(common.Shape{B, M, K}, as), common.NewTensor(common.Shape{K, N}, bs),
		common.NewTensor(common.Shape{M}, azp), common.NewTensor(common.Shape{N}, bzp))
	require.Equal(t, common.Shape{B, M, N}, y.Shape())
	a64 := make([]int64, len(as))
	for i, v := range as {
		a64[i] = int64(v) - int64(azp[i/K%M])
	}
	b64 := make([]int64, B*K*N)
	for bi := 0; bi < B; bi++ {
		for i, v := range bs {
			b64[bi*K*N+i] = int64(v) - int64(bzp[i%N])
		}
	}
	want := qtNaiveMatMul(a64, b64, B, M, K, N)
	for i, v := range want {
		require.Equal(t, int32(v), common.Data[int32](y)[i])
	}
	// 1-D operands
	y = qtOne(t, qtNode("MatMulInteger", 10), common.NewTensor(common.Shape{3}, []uint8{1, 2, 3}), common.NewTensor(common.Shape{3}, []uint8{4, 5, 6}))
	require.Equal(t, 0, y.Rank())
	require.Equal(t, []int32{32}, common.Data[int32](y))
	_, err := qtRun(t, qtNode("MatMulInteger", 10), common.NewTensor(common.Shape{2, 3}, make([]uint8, 6)), common.NewTensor(common.Shape{2, 3}, make([]uint8, 6)))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = qtRun(t, qtNode("MatMulInteger", 10), a, b, common.NewTensor(common.Shape{3}, []uint8{1, 2, 3}))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestQLinearMatMul(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	const B, M, K, N = 2, 3, 6, 4
	as := make([]uint8, B*M*K)
	bs := make([]uint8, B*K*N)
	for i := range as {
		as[i] = uint8(rng.Intn(256))
	}
	for i := range bs {
		bs[i] = uint8(rng.Intn(256))
	}
	sa, sb, sy := float32(0.0066), float32(0.00705), float32(0.0107)
	za, zb, zy := uint8(113), uint8(114), uint8(118)
	y := qtOne(t, qtNode("QLinearMatMul", 10),
		common.NewTensor(common.Shape{B, M, K}, as), common.Scalar(sa), common.Scalar(za),
		common.NewTensor(common.Shape{B, K, N}, bs), common.Scalar(sb), common.Scalar(zb),
		common.Scalar(sy), common.Scalar(zy))
	a64 := make([]int64, len(as))
	for i, v := range as {
		a64[i] = int64(v) - int64(za)
	}
	b64 := make([]int64, len(bs))
	for i, v := range bs {
		b64[i] = int64(v) - int64(zb)
	}
	acc := qtNaiveMatMul(a64, b64, B, M, K, N)
	mul := float64(sa * sb / sy)
	for i, v := range acc {
		want := qtClamp(math.RoundToEven(float64(v)*mul+float64(zy)), 0, 255)
		require.Equal(t, uint8(want), common.Data[uint8](y)[i], "element %d", i)
	}
	// per-column b scale and zero point, int8 output
	bsc := []float32{0.01, 0.02, 0.03, 0.04}
	bzp := []uint8{0, 10, 20, 30}
	y = qtOne(t, qtNode("QLinearMatMul", 21),
		common.NewTensor(common.Shape{M, K}, as[:M*K]), common.Scalar(sa), common.Scalar(za),
		common.NewTensor(common.Shape{K, N}, bs[:K*N]), common.NewTensor(common.Shape{N}, bsc), common.NewTensor(common.Shape{N}, bzp),
		common.Scalar(sy), common.Scalar[int8](-5))
	for i := 0; i < M; i++ {
		for j := 0; j < N; j++ {
			var s int64
			for kk := 0; kk < K; kk++ {
				s += (int64(as[i*K+kk]) - int64(za)) * (int64(bs[kk*N+j]) - int64(bzp[j]))
			}
			want := qtClamp(math.RoundToEven(float64(s)*float64(sa*bsc[j]/sy)-5), -128, 127)
			require.Equal(t, int8(want), common.Data[int8](y)[i*N+j])
		}
	}
	// a per-row scale that varies along K is rejected
	_, err := qtRun(t, qtNode("QLinearMatMul", 21),
		common.NewTensor(common.Shape{M, K}, as[:M*K]), common.NewTensor(common.Shape{K}, make([]float32, K)), common.Scalar(za),
		common.NewTensor(common.Shape{K, N}, bs[:K*N]), common.Scalar(sb), common.Scalar(zb),
		common.Scalar(sy), common.Scalar(zy))
	require.ErrorIs(t, err, common.ErrShape)
}

// qtNaiveConv2D is a direct 2-D grouped convolution over int64 values
// with explicit zero padding.
func qtNaiveConv2D(x []int64, xs [4]int, w []int64, ws [4]int, group int, pads [4]int, strides, dil [2]int) ([]int64, [4]int) {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	m, cg, kh, kw := ws[0], ws[1], ws[2], ws[3]
	ph, pw := h+pads[0]+pads[2], wd+pads[1]+pads[3]
	oh := (ph-(kh-1)*dil[0]-1)/strides[0] + 1
	ow := (pw-(kw-1)*dil[1]-1)/strides[1] + 1
	padded := make([]int64, n*c*ph*pw)
	for b := 0; b < n; b++ {
		for ci := 0; ci < c; ci++ {
			for i := 0; i < h; i++ {
				for j := 0; j < wd; j++ {
					padded[((b*c+ci)*ph+i+pads[0])*pw+j+pads[1]] = x[((b*c+ci)*h+i)*wd+j]
				}
			}
		}
	}
	out := make([]int64, n*m*oh*ow)
	mg := m / group
	for b := 0; b < n; b++ {
		for mo := 0; mo < m; mo++ {
			g := mo / mg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var s int64
					for ci := 0; ci < cg; ci++ {
						for ki := 0; ki < kh; ki++ {
							for kj := 0; kj < kw; kj++ {
								xv := padded[((b*c+g*cg+ci)*ph+i*strides[0]+ki*dil[0])*pw+j*strides[1]+kj*dil[1]]
								s += xv * w[((mo*cg+ci)*kh+ki)*kw+kj]
							}
						}
					}
					out[((b*m+mo)*oh+i)*ow+j] = s
				}
			}
		}
	}
	return out, [4]int{n, m, oh, ow}
}

func TestConvInteger(t *testing.T) {
	// the operator documentation examples
	x := common.NewTensor(common.Shape{1, 1, 3, 3}, []uint8{2, 3, 4, 5, 6, 7, 8, 9, 10})
	w := common.NewTensor(common.Shape{1, 1, 2, 2}, []uint8{1, 1, 1, 1})
	y := qtOne(t, qtNode("ConvInteger", 10), x, w, common.Scalar[uint8](1))
	require.Equal(t, common.Shape{1, 1, 2, 2}, y.Shape())
	require.Equal(t, []int32{12, 16, 24, 28}, common.Data[int32](y))
	y = qtOne(t, qtNode("ConvInteger", 10, qtInts("pads", 1, 1, 1, 1)), x, w, common.Scalar[uint8](1))
	require.Equal(t, []int32{1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9}, common.Data[int32](y))

	rng := rand.New(rand.NewSource(8))
	cases := []struct {
		xs, ws  [4]int
		group   int
		pads    [4]int
		strides [2]int
		dil     [2]int
	}{
		{[4]int{2, 4, 7, 6}, [4]int{6, 2, 3, 2}, 2, [4]int{1, 0, 2, 1}, [2]int{2, 1}, [2]int{1, 2}},
		{[4]int{1, 3, 5, 5}, [4]int{2, 3, 3, 3}, 1, [4]int{0, 0, 0, 0}, [2]int{1, 1}, [2]int{1, 1}},
		{[4]int{1, 2, 4, 4}, [4]int{2, 1, 1, 1}, 2, [4]int{1, 1, 1, 1}, [2]int{3, 3}, [2]int{1, 1}},
	}
	for ci, tc := range cases {
		xv := make([]int8, tc.xs[0]*tc.xs[1]*tc.xs[2]*tc.xs[3])
		wv := make([]uint8, tc.ws[0]*tc.ws[1]*tc.ws[2]*tc.ws[3])
		for i := range xv {
			xv[i] = int8(rng.Intn(256) - 128)
		}
		for i := range wv {
			wv[i] = uint8(rng.Intn(256))
		}
		xzp := int8(-7)
		wzp := make([]uint8, tc.ws[0])
		for i := range wzp {
			wzp[i] = uint8(rng.Intn(256))
		}
		x64 := make([]int64, len(xv))
		for i, v := range xv {
			x64[i] = int64(v) - int64(xzp)
		}
		per := len(wv) / tc.ws[0]
		w64 := make([]int64, len(wv))
		for i, v := range wv {
			w64[i] = int64(v) - int64(wzp[i/per])
		}
		want, os := qtNaiveConv2D(x64, tc.xs, w64, tc.ws, tc.group, tc.pads, tc.strides, tc.dil)
		n := qtNode("ConvInteger", 10, qtInt("group", int64(tc.group)),
			qtInts("pads", int64(tc.pads[0]), int64(tc.pads[1]), int64(tc.pads[2]), int64(tc.pads[3])),
			qtInts("strides", int64(tc.strides[0]), int64(tc.strides[1])),
			qtInts("dilations", int64(tc.dil[0]), int64(tc.dil[1])))
		y := qtOne(t, n, common.NewTensor(common.Shape(tc.xs[:]), xv), common.NewTensor(common.Shape(tc.ws[:]), wv),
			common.Scalar(xzp), common.NewTensor(common.Shape{tc.ws[0]}, wzp))
		require.Equal(t, common.Shape(os[:]), y.Shape(), "case %d", ci)
		for i, v := range want {
			require.Equal(t, int32(v), common.Data[int32](y)[i], "case %d element %d", ci, i)
		}
	}
	// SAME_UPPER keeps the spatial size at stride 1; 1-D conv works too
	x1 := common.NewTensor(common.Shape{1, 1, 5}, []uint8{1, 2, 3, 4, 5})
	w1 := common.NewTensor(common.Shape{1, 1, 2}, []uint8{1, 10})
	y = qtOne(t, qtNode("ConvInteger", 10, qtStr("auto_pad", "SAME_UPPER")), x1, w1)
	require.Equal(t, []int32{21, 32, 43, 54, 5}, common.Data[int32](y))
	y = qtOne(t, qtNode("ConvInteger", 10, qtStr("auto_pad", "SAME_LOWER")), x1, w1)
	require.Equal(t, []int32{10, 21, 32, 43, 54}, common.Data[int32](y))

	for _, bad := range []*common.Node{
		qtNode("ConvInteger", 10, qtInt("group", 0)),
		qtNode("ConvInteger", 10, qtInts("strides", 0, 1)),
		qtNode("ConvInteger", 10, qtInts("pads", -1, 0, 0, 0)),
		qtNode("ConvInteger", 10, qtInts("kernel_shape", 3, 3)),
		qtNode("ConvInteger", 10, qtStr("auto_pad", "MIRROR")),
	} {
		_, err := qtRun(t, bad, x, w)
		require.Error(t, err)
	}
	_, err := qtRun(t, qtNode("ConvInteger", 10), x, common.NewTensor(common.Shape{1, 1, 4, 4}, make([]uint8, 16)))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestQLinearConv(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	xs, ws := [4]int{1, 2, 5, 4}, [4]int{3, 2, 2, 2}
	xv := make([]uint8, 40)
	wv := make([]int8, 24)
	for i := range xv {
		xv[i] = uint8(rng.Intn(256))
	}
	for i := range wv {
		wv[i] = int8(rng.Intn(256) - 128)
	}
	bias := []int32{100, -2000, 7}
	wsc := []float32{0.003, 0.001, 0.0005}
	sx, sy := float32(0.02), float32(0.25)
	zx, zy := uint8(120), uint8(3)
	x64 := make([]int64, len(xv))
	for i, v := range xv {
		x64[i] = int64(v) - int64(zx)
	}
	w64 := make([]int64, len(wv))
	for i, v := range wv {
		w64[i] = int64(v)
	}
	acc, os := qtNaiveConv2D(x64, xs, w64, ws, 1, [4]int{1, 0, 1, 0}, [2]int{1, 1}, [2]int{1, 1})
	y := qtOne(t, qtNode("QLinearConv", 10, qtInts("pads", 1, 0, 1, 0)),
		common.NewTensor(common.Shape(xs[:]), xv), common.Scalar(sx), common.Scalar(zx),
		common.NewTensor(common.Shape(ws[:]), wv), common.NewTensor(common.Shape{3}, wsc), common.Scalar[int8](0),
		common.Scalar(sy), common.Scalar(zy), common.NewTensor(common.Shape{3}, bias))
	require.Equal(t, common.Shape(os[:]), y.Shape())
	plane := os[2] * os[3]
	for i, v := range acc {
		m := i / plane % 3
		want := qtClamp(math.RoundToEven(float64(v+int64(bias[m]))*float64(sx*wsc[m]/sy)+float64(zy)), 0, 255)
		require.Equal(t, uint8(want), common.Data[uint8](y)[i], "element %d", i)
	}
	_, err := qtRun(t, qtNode("QLinearConv", 10),
		common.NewTensor(common.Shape(xs[:]), xv), common.Scalar(sx), common.Scalar(zx),
		common.NewTensor(common.Shape(ws[:]), wv), common.NewTensor(common.Shape{2}, wsc[:2]), common.Scalar[int8](0),
		common.Scalar(sy), common.Scalar(zy))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestQuantHostileShapes(t *testing.T) {
	// an empty weight with a huge kernel must not size anything by it
	x := common.NewTensor(common.Shape{1, 1, 3, 3}, make([]uint8, 9))
	w, err := common.NewZeros(common.Uint8, common.Shape{0, 1, 1 << 30, 1 << 30}, 0)
	require.NoError(t, err)
	_, err = qtRun(t, qtNode("ConvInteger", 10), x, w)
	require.Error(t, err)
	// a batch broadcast of empty operands
	a, err := common.NewZeros(common.Uint8, common.Shape{1 << 40, 1, 0, 2}, 0)
	require.NoError(t, err)
	b, err := common.NewZeros(common.Uint8, common.Shape{1, 1 << 40, 2, 0}, 0)
	require.NoError(t, err)
	_, err = qtRun(t, qtNode("MatMulInteger", 10), a, b)
	require.ErrorIs(t, err, common.ErrLimit)
}
