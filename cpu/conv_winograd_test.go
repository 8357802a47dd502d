package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// TestWinoTransformsAsmMatchGo checks the vector transforms against the
// portable ones on random tiles (equal up to FMA rounding).
func TestWinoTransformsAsmMatchGo(t *testing.T) {
	if !hasAVX2() {
		t.Skip("no AVX2+FMA on this CPU: only the Go transforms run")
	}
	r := rand.New(rand.NewSource(3))
	for _, stride := range []int{8, 13, 40} {
		const wp = 23
		src := nnRand32(r, 6*wp+100)
		idx := [8]int32{0, 4, 8, 12, 16, 1, 90, 90}
		var d1, d2 [288]float32
		v1, v2 := make([]float32, 36*stride+8), make([]float32, 36*stride+8)
		winoGatherIn8Go(src, &idx, wp, &d1, v1, stride)
		winoGatherIn8Asm(src, &idx, wp, &d2, v2, stride)
		for i := range v1 {
			require.InDelta(t, v1[i], v2[i], 1e-4*(1+math.Abs(float64(v1[i]))), "input transform, stride %d, element %d", stride, i)
		}
		v1, v2 = make([]float32, 16*stride+8), make([]float32, 16*stride+8)
		winoGatherIn8F2Go(src, &idx, wp, &d1, v1, stride)
		winoGatherIn8F2Asm(src, &idx, wp, &d2, v2, stride)
		require.Equal(t, v1, v2, "F(2x2, 3x3) input transform, stride %d", stride)
		m := nnRand32(r, 36*stride+8)
		var t1, t2 [192]float32
		var y1, y2 [128]float32
		winoOut8Go(m, stride, &t1, &y1)
		winoOut8Asm(m, stride, &t2, &y2)
		for i := range y1 {
			require.InDelta(t, y1[i], y2[i], 1e-4*(1+math.Abs(float64(y1[i]))), "output transform, stride %d, element %d", stride, i)
		}
		y1, y2 = [128]float32{}, [128]float32{}
		winoOut8F2Go(m, stride, &t1, &y1)
		winoOut8F2Asm(m, stride, &t2, &y2)
		for i := range y1[:32] {
			require.InDelta(t, y1[i], y2[i], 1e-5*(1+math.Abs(float64(y1[i]))), "F(2x2, 3x3) output transform, stride %d, element %d", stride, i)
		}
	}
}

// TestConvWinograd compares the Winograd path with a float64 direct
// convolution over odd sizes, pads, batches, block boundaries and fused
// activations, with both the vector and the portable transforms.
func TestConvWinograd(t *testing.T) {
	r := rand.New(rand.NewSource(17))
	type tc struct {
		batch, cin, cout, h, w int
		pads                   []int
		act                    string
		bias                   bool
	}
	cases := []tc{
		{1, 16, 16, 4, 4, []int{1, 1, 1, 1}, "", false},
		{1, 16, 16, 8, 8, []int{0, 0, 0, 0}, "Relu", true},
		{1, 17, 31, 13, 9, []int{1, 1, 1, 1}, "Relu", true},
		{2, 33, 17, 7, 17, []int{1, 0, 2, 1}, "", true},
		{3, 16, 65, 5, 31, []int{2, 2, 2, 2}, "Clip", true},
		{1, 65, 33, 31, 31, []int{1, 1, 1, 1}, "Sigmoid", true},
		{1, 129, 16, 17, 3, []int{1, 1, 1, 1}, "LeakyRelu", false},
		{2, 16, 16, 1, 65, []int{1, 1, 1, 1}, "Relu", true},
		{1, 24, 20, 57, 59, []int{1, 1, 1, 1}, "HardSwish", true}, // several blocks of tiles
	}
	type in8 = func([]float32, *[8]int32, int, *[288]float32, []float32, int)
	type out8 = func([]float32, int, *[192]float32, *[128]float32)
	transforms := []struct {
		name string
		in   in8
		out  out8
		in2  in8
		out2 out8
	}{
		{"go", winoGatherIn8Go, winoOut8Go, winoGatherIn8F2Go, winoOut8F2Go},
		{"default", winoGatherIn8, winoOut8, winoGatherIn8F2, winoOut8F2},
	}
	defer func(i, i2 in8, o, o2 out8) {
		winoGatherIn8, winoOut8, winoGatherIn8F2, winoOut8F2 = i, o, i2, o2
	}(winoGatherIn8, winoGatherIn8F2, winoOut8, winoOut8F2)
	for _, tr := range transforms {
		winoGatherIn8, winoOut8, winoGatherIn8F2, winoOut8F2 = tr.in, tr.out, tr.in2, tr.out2
		for _, cfg := range []struct{ mt, threads int }{{4, 1}, {4, 2}, {2, 1}, {2, 2}} {
			mt, threads := cfg.mt, cfg.threads
			c := nnCtx(t, threads)
			for i, k := range cases {
				msg := fmt.Sprintf("%s/F%d/t%d case %d %+v", tr.name, mt, threads, i, k)
				xs, ws := []int{k.batch, k.cin, k.h, k.w}, []int{k.cout, k.cin, 3, 3}
				attrs := map[string]any{"pads": k.pads}
				n := nnNode("Conv", 11, attrs)
				if k.act != "" {
					fa := map[string]any{}
					switch k.act {
					case "Clip":
						fa = map[string]any{"min": float32(-0.5), "max": float32(2)}
					case "LeakyRelu":
						fa = map[string]any{"alpha": float32(0.1)}
					}
					n.Fused = nnNode(k.act, 16, fa)
				}
				x, w := nnRand32(r, prod(xs)), nnRand32(r, prod(ws))
				in := []*common.Tensor{common.NewTensor(common.Shape(xs), x), common.NewTensor(common.Shape(ws), w)}
				var b []float32
				if k.bias {
					b = nnRand32(r, k.cout)
					in = append(in, common.NewTensor(common.Shape{k.cout}, b))
				}
				g, err := planConv(n, common.Shape(xs), common.Shape(ws), opt(in, 2))
				require.NoError(t, err)
				// Straight to the Winograd kernel: some cases are too
				// small for convKernel to choose it.
				out := []*common.Tensor{common.Zeros(common.Float32, append(common.Shape{k.batch, k.cout}, g.out...))}
				convWinograd(c, g, mt, x, in[1], b, n.Fused, common.Data[float32](out[0]))
				want := nnConvRef(x, xs, w, ws, b, 1, []int{1, 1}, []int{1, 1}, k.pads[:2], g.out)
				// Errors are relative to the scale of the bare
				// convolution (the transforms mix the values of a whole
				// tile), and overall.
				var scale, worst float64
				for j, v := range want {
					scale = math.Max(scale, math.Abs(v))
					want[j] = refAct(k.act, v)
				}
				got := common.Data[float32](out[0])
				for j, v := range want {
					worst = math.Max(worst, math.Abs(v-float64(got[j])))
				}
				require.LessOrEqual(t, worst, 1e-5*scale, msg)
				require.Less(t, relL2(want, got), 1e-5, msg)
				if testing.Verbose() && threads == 1 {
					t.Logf("%s: max error %.2g of scale %.3g, relative L2 %.2g", msg, worst, scale, relL2(want, got))
				}
			}
		}
	}
}

// refAct applies the named activation in float64 (the test's reference).
func refAct(act string, v float64) float64 {
	switch act {
	case "Relu":
		return math.Max(v, 0)
	case "Clip":
		return math.Min(math.Max(v, -0.5), 2)
	case "Sigmoid":
		return 1 / (1 + math.Exp(-v))
	case "LeakyRelu":
		if v < 0 {
			return 0.1 * v
		}
	case "HardSwish":
		return v * math.Max(0, math.Min(1, v/6+0.5))
	}
	return v
}

// relL2 is ||got - want|| / ||want||.
func relL2(want []float64, got []float32) float64 {
	var num, den float64
	for i, w := range want {
		d := float64(got[i]) - w
		num += d * d
		den += w * w
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// TestConvWinogradChoice checks which geometries take the Winograd path.
func TestConvWinogradChoice(t *testing.T) {
	plan := func(xs, ws []int, attrs map[string]any) *convGeom {
		g, err := planConv(nnNode("Conv", 11, attrs), common.Shape(xs), common.Shape(ws), nil)
		require.NoError(t, err)
		return g
	}
	p1 := map[string]any{"pads": []int{1, 1, 1, 1}}
	require.True(t, plan([]int{1, 64, 56, 56}, []int{64, 64, 3, 3}, p1).winograd())
	require.Equal(t, 4, plan([]int{1, 64, 56, 56}, []int{64, 64, 3, 3}, p1).winoTile())
	require.Equal(t, 4, plan([]int{8, 512, 7, 7}, []int{512, 512, 3, 3}, p1).winoTile())
	require.Equal(t, 2, plan([]int{1, 512, 7, 7}, []int{512, 512, 3, 3}, p1).winoTile(), "4 tiles of 4x4: too few")
	require.False(t, plan([]int{1, 512, 3, 3}, []int{512, 512, 3, 3}, p1).winograd(), "4 tiles of 2x2: too few")
	require.False(t, plan([]int{1, 64, 56, 56}, []int{64, 64, 3, 3}, map[string]any{"pads": []int{1, 1, 1, 1}, "strides": []int{2, 2}}).winograd())
	require.False(t, plan([]int{1, 64, 56, 56}, []int{64, 64, 3, 3}, map[string]any{"pads": []int{2, 2, 2, 2}, "dilations": []int{2, 2}}).winograd())
	require.False(t, plan([]int{1, 64, 56, 56}, []int{64, 32, 3, 3}, map[string]any{"pads": []int{1, 1, 1, 1}, "group": 2}).winograd())
	require.False(t, plan([]int{1, 3, 56, 56}, []int{64, 3, 3, 3}, p1).winograd(), "3 input channels")
	require.False(t, plan([]int{1, 64, 56, 56}, []int{64, 64, 5, 5}, p1).winograd())
	require.False(t, plan([]int{1, 64, 56}, []int{64, 64, 3}, map[string]any{"pads": []int{1, 1}}).winograd(), "1-D")
}

// BenchmarkConvWinograd times the Winograd path alone on ResNet-18's 3x3
// layers at batch 1 on one thread (direct-method GFLOP/s).
func BenchmarkConvWinograd(b *testing.B) {
	for _, l := range []struct{ ch, hw int }{{64, 56}, {128, 28}, {256, 14}, {512, 7}} {
		b.Run(fmt.Sprintf("%dx%d", l.ch, l.hw), func(b *testing.B) {
			r := rand.New(rand.NewSource(1))
			xs, ws := common.Shape{1, l.ch, l.hw, l.hw}, common.Shape{l.ch, l.ch, 3, 3}
			x := nnRand32(r, xs.Size())
			w := common.NewTensor(ws, nnRand32(r, ws.Size()))
			n := nnNode("Conv", 11, map[string]any{"pads": []int{1, 1, 1, 1}})
			g, err := planConv(n, xs, ws, nil)
			require.NoError(b, err)
			c := nnCtx(b, 1)
			c.eng.owned = map[uintptr]bool{dataPtr(w): true}
			y := make([]float32, l.ch*l.hw*l.hw)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				convWinograd(c, g, g.winoTile(), x, w, nil, nil, y)
			}
			b.ReportMetric(2*float64(l.ch*l.ch*9*l.hw*l.hw)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestCopyStride2 checks the stride-2 copy (vector and portable) over
// lengths around the vector width, reading no further than it may.
func TestCopyStride2(t *testing.T) {
	for n := 0; n < 40; n++ {
		src := make([]float32, max(0, 2*n-1))
		for i := range src {
			src[i] = float32(i)
		}
		for _, f := range []func(dst, src []float32){copyStride2Go, copyStride2} {
			dst := make([]float32, n)
			f(dst, src)
			for i, v := range dst {
				require.Equal(t, float32(2*i), v, "n %d element %d", n, i)
			}
		}
	}
}
