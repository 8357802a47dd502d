package cpu

import (
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
