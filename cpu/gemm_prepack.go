package cpu

import (
	"runtime"
	"sync"
	"weak"

	"github.com/accel-go/accel/common"
)

// Constant weights (Conv filters) are the A operand of every product they
// take part in, and packing them again on every run costs as much as a
// good share of the multiply when the other operand is narrow (late conv
// layers: few output positions). packWholeA packs such a matrix once in
// the layout sgemmPacked reads, and prepacked keeps it per weight tensor.

// packWholeA packs op(A) (m x k) for kern: for each depth block of gemmKC
// (at p0), all row panels of kern.mr, at [p0*roundUp(m, mr):].
func packWholeA(kern *microKernel, transA bool, a []float32, lda, m, k int) []float32 {
	mpad := roundUp(m, kern.mr)
	out := make([]float32, mpad*k)
	for p0 := 0; p0 < k; p0 += gemmKC {
		kk := min(gemmKC, k-p0)
		packA(kern.mr, transA, a, lda, 0, p0, m, kk, out[p0*mpad:])
	}
	return out
}

// prepackedA is a packed weight and what it was packed for.
type prepackedA struct {
	kern *microKernel
	m, k int
	data []float32
}

// prepackCache maps a weak pointer to an initializer tensor to its
// *prepackedA; entries go when the tensor is collected.
var prepackCache sync.Map

// prepacked returns w's data (read as an m x k row-major matrix) packed
// for sgemm's micro-kernel, packing it on first use, or nil when w is not
// one of the engine's initializers (only those are known never to
// change) or is too small to bother.
func prepacked(c *Ctx, w *common.Tensor, m, k int) []float32 {
	if c == nil || c.eng == nil || m*k < 4096 || w.Len() != m*k || !c.eng.owned[dataPtr(w)] {
		return nil
	}
	key := weak.Make(w)
	if v, ok := prepackCache.Load(key); ok {
		if p := v.(*prepackedA); p.kern == gemmK && p.m == m && p.k == k {
			return p.data
		}
	}
	p := &prepackedA{kern: gemmK, m: m, k: k, data: packWholeA(gemmK, false, common.Data[float32](w), k, m, k)}
	if _, loaded := prepackCache.Swap(key, p); !loaded {
		runtime.AddCleanup(w, func(k weak.Pointer[common.Tensor]) { prepackCache.Delete(k) }, key)
	}
	return p.data
}
