package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/accel-go/accel/common"
	"github.com/stretchr/testify/require"
)

// TestMaxPool2DMatchesGeneral checks the 2-D float32 max pool against the
// general tap-list version bit for bit, over random windows, strides,
// dilations, pads and ceil mode, with NaNs in the input.
func TestMaxPool2DMatchesGeneral(t *testing.T) {
	r := rand.New(rand.NewSource(17))
	c := nnCtx(t, 2)
	for it := 0; it < 80; it++ {
		k := []int{1 + r.Intn(3), 1 + r.Intn(4)}
		h, w := k[0]+r.Intn(10), k[1]+r.Intn(10)
		attrs := map[string]any{
			"kernel_shape": k,
			"strides":      []int{1 + r.Intn(3), 1 + r.Intn(3)},
			"dilations":    []int{1 + r.Intn(2), 1},
			"pads":         []int{r.Intn(k[0]), r.Intn(k[1]), r.Intn(k[0]), r.Intn(k[1])},
			"ceil_mode":    it % 2,
		}
		n := nnNode("MaxPool", 12, attrs)
		xs := common.Shape{1 + it%2, 1 + r.Intn(3), h, w}
		p, err := planPool(c, n, xs, true)
		if err != nil {
			continue
		}
		x := nnRand32(r, xs.Size())
		for i := 0; i < len(x); i += 7 {
			x[i] = float32(math.NaN())
		}
		want := make([]float32, p.planes*p.outSize)
		got := make([]float32, len(want))
		maxPool(c, p, x, want, nil, false, float32(math.Inf(-1)))
		maxPool2D(c, p, x, got)
		for i := range want {
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "it %d %v %v element %d", it, xs, attrs, i)
		}
	}
}

// TestMaxPool3x3s2MatchesGeneral checks the separable 3x3 stride-2 max
// pool, with the selected row kernels and with the scalar ones, against
// the general tap-list version bit for bit: odd and even sizes, every
// leading pad it takes, trailing pads and ceil mode, with NaNs, infinities
// and signed zeros in the input.
func TestMaxPool3x3s2MatchesGeneral(t *testing.T) {
	r := rand.New(rand.NewSource(19))
	c := nnCtx(t, 2)
	sizes := []int{1, 2, 3, 4, 7, 16, 17, 18, 31, 33, 34, 65}
	type rowFns struct {
		name string
		h    func(h, f, p []float32)
		v    func(out, f, a, b, c []float32)
	}
	fns := []rowFns{{"selected", max3s2Row, max3Rows}, {"go", max3s2RowGo, max3RowsGo}}
	defer func(h func(h, f, p []float32), v func(out, f, a, b, c []float32)) { max3s2Row, max3Rows = h, v }(max3s2Row, max3Rows)
	tried := 0
	for it := 0; it < 150; it++ {
		h, w := sizes[r.Intn(len(sizes))], sizes[r.Intn(len(sizes))]
		attrs := map[string]any{
			"kernel_shape": []int{3, 3},
			"strides":      []int{2, 2},
			"pads":         []int{r.Intn(2), r.Intn(2), r.Intn(3), r.Intn(3)},
			"ceil_mode":    it % 2,
		}
		n := nnNode("MaxPool", 12, attrs)
		xs := common.Shape{1 + it%2, 1 + r.Intn(3), h, w}
		p, err := planPool(c, n, xs, true)
		if err != nil {
			continue
		}
		require.True(t, p.is3x3s2(), "%v %v", xs, attrs)
		tried++
		x := nnRand32(r, xs.Size())
		special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}
		for i := range x {
			if r.Intn(5) == 0 {
				x[i] = special[r.Intn(len(special))]
			}
		}
		want := make([]float32, p.planes*p.outSize)
		maxPool(c, p, x, want, nil, false, float32(math.Inf(-1)))
		for _, fn := range fns {
			max3s2Row, max3Rows = fn.h, fn.v
			got := make([]float32, len(want))
			for i := range got {
				got[i] = 42
			}
			maxPool3x3s2(c, p, x, got)
			for i := range want {
				require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%s it %d %v %v element %d", fn.name, it, xs, attrs, i)
			}
		}
	}
	require.Greater(t, tried, 100)
	for _, attrs := range []map[string]any{
		{"kernel_shape": []int{3, 3}, "strides": []int{2, 2}, "pads": []int{2, 0, 0, 0}},
		{"kernel_shape": []int{3, 3}, "strides": []int{1, 2}},
		{"kernel_shape": []int{3, 2}, "strides": []int{2, 2}},
		{"kernel_shape": []int{3, 3}, "strides": []int{2, 2}, "dilations": []int{1, 2}},
	} {
		p, err := planPool(c, nnNode("MaxPool", 12, attrs), common.Shape{1, 1, 9, 9}, true)
		require.NoError(t, err)
		require.False(t, p.is3x3s2(), "%v", attrs)
	}
}

// TestMaxPoolRowKernels checks the selected row kernels of the separable
// max pool against the scalar ones over lengths that hit every tail.
func TestMaxPoolRowKernels(t *testing.T) {
	r := rand.New(rand.NewSource(23))
	special := []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0}
	fill := func(n int) []float32 {
		x := nnRand32(r, n)
		for i := range x {
			if r.Intn(4) == 0 {
				x[i] = special[r.Intn(len(special))]
			}
		}
		return x
	}
	for n := 0; n <= 41; n++ {
		p := fill(2*n + 1)
		wh, wf, gh, gf := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		max3s2RowGo(wh, wf, p)
		max3s2Row(gh, gf, p)
		for i := range wh {
			require.Equal(t, math.Float32bits(wh[i]), math.Float32bits(gh[i]), "h n=%d i=%d", n, i)
			require.Equal(t, math.Float32bits(wf[i]), math.Float32bits(gf[i]), "f n=%d i=%d", n, i)
		}
		f, a, b, cc := fill(n), fill(n), fill(n), fill(n)
		want, got := make([]float32, n), make([]float32, n)
		max3RowsGo(want, f, a, b, cc)
		max3Rows(got, f, a, b, cc)
		for i := range want {
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "rows n=%d i=%d", n, i)
		}
	}
}

// BenchmarkMaxPool3x3s2 runs the ResNet stem pool (64x112x112, 3x3 stride
// 2, pads 1) through the separable kernel and through the direct 2-D
// loop, on one and two threads.
func BenchmarkMaxPool3x3s2(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	xs := common.Shape{1, 64, 112, 112}
	x := nnRand32(r, xs.Size())
	n := nnNode("MaxPool", 12, map[string]any{"kernel_shape": []int{3, 3}, "strides": []int{2, 2}, "pads": []int{1, 1, 1, 1}})
	for _, threads := range []int{1, 2} {
		c := nnCtx(b, threads)
		p, err := planPool(c, n, xs, true)
		require.NoError(b, err)
		y := make([]float32, p.planes*p.outSize)
		for _, k := range []struct {
			name string
			fn   func(c *Ctx, p *poolPlan, x, y []float32)
		}{{"separable", maxPool3x3s2}, {"direct", maxPool2D}} {
			b.Run(fmt.Sprintf("%s/t%d", k.name, threads), func(b *testing.B) {
				b.SetBytes(int64(4 * (len(x) + len(y))))
				for i := 0; i < b.N; i++ {
					k.fn(c, p, x, y)
				}
			})
		}
	}
}
