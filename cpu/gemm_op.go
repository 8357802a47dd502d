package cpu

import (
	"fmt"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("Gemm", ViaFloat32(gemmKernel))
}

// gemmKernel implements Gemm: Y = alpha*op(A)*op(B) + beta*C, with C
// unidirectionally broadcast to (M, N). C is optional from opset 11; the
// opset <= 6 "broadcast" attribute is ignored (broadcasting always applies).
func gemmKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	a, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	b, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	cin := opt(in, 2)
	if cin == nil && n.Opset > 0 && n.Opset < 11 {
		return nil, fmt.Errorf("%w: %s: Gemm before opset 11 needs input C", common.ErrInvalidModel, n.Label())
	}
	if a.DType() != b.DType() || (cin != nil && cin.DType() != a.DType()) {
		return nil, fmt.Errorf("%w: %s: Gemm operands have different types", common.ErrShape, n.Label())
	}
	if a.Rank() != 2 || b.Rank() != 2 {
		return nil, fmt.Errorf("%w: %s: Gemm needs 2-D A and B, got %v and %v", common.ErrShape, n.Label(), a.Shape(), b.Shape())
	}
	transA, transB := n.AttrInt("transA", 0) != 0, n.AttrInt("transB", 0) != 0
	m, k := a.Shape()[0], a.Shape()[1]
	if transA {
		m, k = k, m
	}
	kb, nn := b.Shape()[0], b.Shape()[1]
	if transB {
		kb, nn = nn, kb
	}
	if k != kb {
		return nil, fmt.Errorf("%w: %s: Gemm inner dims differ: A %v (transA=%v), B %v (transB=%v)", common.ErrShape, n.Label(), a.Shape(), transA, b.Shape(), transB)
	}
	out := common.Shape{m, nn}
	if cin != nil {
		if cin.Rank() > 2 {
			return nil, fmt.Errorf("%w: %s: Gemm C has rank %d", common.ErrShape, n.Label(), cin.Rank())
		}
		if bs, err := BroadcastShape(cin.Shape(), out); err != nil || !bs.Equal(out) {
			return nil, fmt.Errorf("%w: %s: Gemm C of shape %v does not broadcast to %v", common.ErrShape, n.Label(), cin.Shape(), out)
		}
	}
	if err := checkFused(n); err != nil {
		return nil, err
	}
	y, err := c.Alloc(a.DType(), out)
	if err != nil {
		return nil, err
	}
	alpha, beta := n.AttrFloat("alpha", 1), n.AttrFloat("beta", 1)
	lda, ldb := a.Shape()[1], b.Shape()[1]
	switch a.DType() {
	case common.Float32:
		yd := common.Data[float32](y)
		bt := gemmBias(cin, out, beta, yd)
		sgemm(c, transA, transB, m, nn, k, alpha, common.Data[float32](a), lda, common.Data[float32](b), ldb, bt, yd, nn)
		if n.Fused != nil {
			c.Parallel(len(yd), 1<<14, func(lo, hi int) { _ = applyFused(n.Fused, yd[lo:hi]) })
		}
	case common.Float64:
		yd := common.Data[float64](y)
		bt := gemmBias(cin, out, float64(beta), yd)
		dgemm(c, transA, transB, m, nn, k, float64(alpha), common.Data[float64](a), lda, common.Data[float64](b), ldb, bt, yd, nn)
		if n.Fused != nil {
			c.Parallel(len(yd), 1<<14, func(lo, hi int) { _ = applyFusedT(n.Fused, yd[lo:hi]) })
		}
	case common.Int32:
		gemmInt[int32](c, cin, out, transA, transB, m, nn, k, alpha, beta, a, b, y)
	case common.Int64:
		gemmInt[int64](c, cin, out, transA, transB, m, nn, k, alpha, beta, a, b, y)
	case common.Uint32:
		gemmInt[uint32](c, cin, out, transA, transB, m, nn, k, alpha, beta, a, b, y)
	case common.Uint64:
		gemmInt[uint64](c, cin, out, transA, transB, m, nn, k, alpha, beta, a, b, y)
	default:
		return nil, unsupportedType(n, a.DType())
	}
	return []*common.Tensor{y}, nil
}

// gemmBias fills y with beta*C broadcast to out and returns the beta to
// pass to the gemm (1 when y holds the bias, 0 when there is none).
func gemmBias[T float32 | float64](cin *common.Tensor, out common.Shape, beta T, y []T) T {
	if cin == nil {
		return 0
	}
	cd := common.Data[T](cin)
	fillBroadcast(cin.Shape(), out, cd, y)
	for i := range y {
		y[i] *= beta
	}
	return 1
}

// fillBroadcast writes src (of shape in) broadcast to the 2-D shape out
// into dst.
func fillBroadcast[T any](in, out common.Shape, src, dst []T) {
	st := BroadcastStrides(in, out)
	m, nn := out[0], out[1]
	for i := 0; i < m; i++ {
		for j := 0; j < nn; j++ {
			dst[i*nn+j] = src[i*st[0]+j*st[1]]
		}
	}
}

func gemmInt[T int32 | int64 | uint32 | uint64](c *Ctx, cin *common.Tensor, out common.Shape, transA, transB bool, m, nn, k int, alpha, beta float32, a, b, y *common.Tensor) {
	yd := common.Data[T](y)
	var bt T
	if cin != nil {
		fillBroadcast(cin.Shape(), out, common.Data[T](cin), yd)
		if beta != 1 {
			for i := range yd {
				yd[i] = T(float64(yd[i]) * float64(beta))
			}
		}
		bt = 1
	}
	intGemm(c, transA, transB, m, nn, k, T(alpha), common.Data[T](a), a.Shape()[1], common.Data[T](b), b.Shape()[1], bt, yd, nn)
}
