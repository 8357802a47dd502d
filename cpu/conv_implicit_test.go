package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/accel-go/accel/common"
	"github.com/stretchr/testify/require"
)

// TestPackConvB checks that packing straight from the image gives the
// same panels as im2col followed by packB, for blocks at odd offsets.
func TestPackConvB(t *testing.T) {
	r := rand.New(rand.NewSource(15))
	checked := 0
	for it := 0; it < 60; it++ {
		cin := 1 + r.Intn(3)
		kh, kw := 1+r.Intn(4), 1+r.Intn(4)
		h, w := kh+r.Intn(9), kw+r.Intn(9)
		s := []int{1 + r.Intn(3), 1 + r.Intn(3)}
		d := []int{1 + r.Intn(2), 1 + r.Intn(2)}
		if (kh-1)*d[0]+1 > h+2 || (kw-1)*d[1]+1 > w+2 {
			continue
		}
		pads := []int{r.Intn(2), r.Intn(2), 1, 1}
		n := nnNode("Conv", 11, map[string]any{"strides": s, "dilations": d, "pads": pads})
		xs, ws := common.Shape{1, cin, h, w}, common.Shape{2, cin, kh, kw}
		g, err := planConv(n, xs, ws, nil)
		if err != nil {
			continue // kernel larger than the padded input
		}
		checked++
		x := nnRand32(r, xs.Size())
		kdim := cin * kh * kw
		col := make([]float32, kdim*g.outSize)
		im2col[float32](nil, g, cin, x, col)
		nr := gemmK.nr
		p0, j0 := r.Intn(kdim), r.Intn(g.outSize)
		kk, nn := 1+r.Intn(kdim-p0), 1+r.Intn(g.outSize-j0)
		want := make([]float32, roundUp(nn, nr)*kk)
		got := make([]float32, len(want))
		for i := range got {
			got[i] = float32(math.NaN())
		}
		packB(nr, false, col, g.outSize, p0, j0, kk, nn, want)
		packConvB(g, x, nr, p0, j0, kk, nn, got, make([]float32, nn))
		require.Equal(t, want, got, "it %d: x %v k %dx%d s %v d %v pads %v block (%d,%d) %dx%d", it, xs, kh, kw, s, d, pads, p0, j0, kk, nn)
	}
	require.Greater(t, checked, 30)
}

// TestConvImplicit runs group-1 2-D convolutions, most of them taking the
// implicit-im2col path, against the float64 direct convolution, with bias
// and fused activations, over several images.
func TestConvImplicit(t *testing.T) {
	r := rand.New(rand.NewSource(16))
	c := nnCtx(t, 2)
	ran := 0
	for it := 0; it < 16; it++ {
		cin, cout := 1+r.Intn(9), 2+r.Intn(20)
		if it == 0 {
			cout = gemmK.mc + 7 // more channels than one block: im2col path
		}
		kh, kw := 1+r.Intn(4), 1+r.Intn(4)
		h, w := 6+r.Intn(20), 6+r.Intn(20)
		s := []int{1 + it%2, 1 + r.Intn(2)}
		d := []int{1, 1 + it%3/2}
		pads := []int{r.Intn(3), r.Intn(3), r.Intn(2), r.Intn(3)}
		if kh == 1 && kw == 1 && s[0] == 1 && s[1] == 1 {
			pads[0] = 1
		}
		nImg := 1 + it%2
		xs, ws := []int{nImg, cin, h, w}, []int{cout, cin, kh, kw}
		n := nnNode("Conv", 11, map[string]any{"strides": s, "dilations": d, "pads": pads})
		act := []string{"", "Relu", "LeakyRelu"}[it%3]
		if act != "" {
			n.Fused = nnNode(act, 16, map[string]any{"alpha": float32(0.1)})
		}
		x, wt, b := nnRand32(r, prod(xs)), nnRand32(r, prod(ws)), nnRand32(r, cout)
		in := []*common.Tensor{common.NewTensor(common.Shape(xs), x), common.NewTensor(common.Shape(ws), wt), common.NewTensor(common.Shape{cout}, b)}
		g, err := planConv(n, common.Shape(xs), common.Shape(ws), in[2])
		require.NoError(t, err)
		if g.implicitConv() {
			ran++
		}
		out, err := nnRun(t, c, n, in...)
		require.NoError(t, err)
		want := nnConvRef(x, xs, wt, ws, b, 1, s, d, pads[:2], g.out)
		for i, v := range want {
			switch act {
			case "Relu":
				want[i] = math.Max(v, 0)
			case "LeakyRelu":
				if v < 0 {
					want[i] = 0.1 * v
				}
			}
		}
		nnClose(t, want, common.Data[float32](out[0]), 1e-4, fmt.Sprintf("it %d: x %v w %v s %v d %v pads %v %s", it, xs, ws, s, d, pads, act))
	}
	require.Greater(t, ran, 8)
}
