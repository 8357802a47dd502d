package cpu

import (
	"math"

	"github.com/accel-go/accel/common"
)

// epilogue is what Conv and Gemm apply to their float32 output after the
// product: a per-row bias and a fused activation. Bias alone, Relu and
// Clip are a clamp of x+bias and run as one vectorised pass (biasClamp);
// other activations add the bias, then apply the activation node.
type epilogue struct {
	clamp  bool // act is nil, Relu or Clip: x = min(max(x+bias, lo), hi)
	lo, hi float32
	act    *common.Node // the fused activation when !clamp
}

// newEpilogue prepares the epilogue for fused activation f (nil: none).
func newEpilogue(f *common.Node) epilogue {
	inf := float32(math.Inf(1))
	switch {
	case f == nil:
		return epilogue{clamp: true, lo: -inf, hi: inf}
	case f.OpType == "Relu":
		return epilogue{clamp: true, lo: 0, hi: inf}
	case f.OpType == "Clip":
		return epilogue{clamp: true, lo: f.AttrFloat("min", -inf), hi: f.AttrFloat("max", inf)}
	}
	return epilogue{act: f}
}

// apply runs the epilogue on seg with bias b.
func (e *epilogue) apply(seg []float32, b float32) {
	if e.clamp {
		if b == 0 && math.IsInf(float64(e.lo), -1) && math.IsInf(float64(e.hi), 1) {
			return
		}
		biasClamp(seg, b, e.lo, e.hi)
		return
	}
	if b != 0 {
		for i := range seg {
			seg[i] += b
		}
	}
	_ = applyFusedT(e.act, seg)
}

// biasClamp sets x[i] = min(max(x[i]+b, lo), hi), keeping NaN. It is
// replaced by a vector version where the CPU has one.
var biasClamp = biasClampGo

func biasClampGo(x []float32, b, lo, hi float32) {
	for i, v := range x {
		v += b
		if v < lo {
			v = lo
		}
		if v > hi {
			v = hi
		}
		x[i] = v
	}
}
