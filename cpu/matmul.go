package cpu

import (
	"fmt"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("MatMul", ViaFloat32(matMulKernel))
}

// matMulKernel implements MatMul with numpy semantics: 1-D operands are
// promoted (and the added axis removed from the result), leading batch
// dims broadcast.
func matMulKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	a, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	b, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	if a.DType() != b.DType() {
		return nil, fmt.Errorf("%w: %s: operands have different types %v and %v", common.ErrShape, n.Label(), a.DType(), b.DType())
	}
	y, err := matMul(c, n, a, b)
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{y}, nil
}

// matMulPlan is the geometry of a batched matrix product.
type matMulPlan struct {
	m, k, n   int
	batch     int
	aOff      []int // per batch: element offset of its A matrix
	bOff      []int
	outShape  common.Shape
	foldBatch bool // B is one matrix and A's batches are contiguous: one big product

	ab, bb, batchShape common.Shape
}

// offsets fills aOff and bOff; the caller has checked that the output
// (at least one element per batch) fits the limits.
func (p *matMulPlan) offsets() {
	sa, sb := BroadcastStrides(p.ab, p.batchShape), BroadcastStrides(p.bb, p.batchShape)
	p.aOff, p.bOff = make([]int, p.batch), make([]int, p.batch)
	BroadcastIndex(p.batchShape, sa, p.aOff)
	BroadcastIndex(p.batchShape, sb, p.bOff)
	for i := range p.aOff {
		p.aOff[i] *= p.m * p.k
		p.bOff[i] *= p.k * p.n
	}
}

func planMatMul(n *common.Node, as, bs common.Shape) (*matMulPlan, error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("%w: %s: MatMul operands must have rank >= 1, got %v and %v", common.ErrShape, n.Label(), as, bs)
	}
	aSh, bSh := as, bs
	if len(aSh) == 1 {
		aSh = common.Shape{1, aSh[0]}
	}
	if len(bSh) == 1 {
		bSh = common.Shape{bSh[0], 1}
	}
	p := &matMulPlan{m: aSh[len(aSh)-2], k: aSh[len(aSh)-1], n: bSh[len(bSh)-1]}
	if bSh[len(bSh)-2] != p.k {
		return nil, fmt.Errorf("%w: %s: MatMul inner dims differ: %v x %v", common.ErrShape, n.Label(), as, bs)
	}
	ab, bb := aSh[:len(aSh)-2], bSh[:len(bSh)-2]
	batch, err := BroadcastShape(ab, bb)
	if err != nil {
		return nil, fmt.Errorf("%s: MatMul batch dims: %w", n.Label(), err)
	}
	out := append(common.Shape{}, batch...)
	if len(as) > 1 {
		out = append(out, p.m)
	}
	if len(bs) > 1 {
		out = append(out, p.n)
	}
	p.outShape = out
	nb := batch.Size()
	p.batch = nb
	if len(bb) == 0 || bb.Size() == 1 {
		// One B for every batch: A's batches are contiguous rows.
		if ab.Size() == nb {
			p.foldBatch = true
			return p, nil
		}
	}
	p.ab, p.bb, p.batchShape = ab, bb, batch
	return p, nil
}

func matMul(c *Ctx, n *common.Node, a, b *common.Tensor) (*common.Tensor, error) {
	switch a.DType() {
	case common.Float32, common.Float64, common.Int32, common.Int64, common.Uint32, common.Uint64:
	default:
		return nil, unsupportedType(n, a.DType())
	}
	p, err := planMatMul(n, a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	y, err := c.Alloc(a.DType(), p.outShape)
	if err != nil {
		return nil, err
	}
	if y.Len() == 0 {
		return y, nil
	}
	if !p.foldBatch {
		p.offsets()
	}
	switch a.DType() {
	case common.Float32:
		runMatMul(c, p, common.Data[float32](a), common.Data[float32](b), common.Data[float32](y), sgemm)
	case common.Float64:
		runMatMul(c, p, common.Data[float64](a), common.Data[float64](b), common.Data[float64](y), dgemm)
	case common.Int32:
		runMatMul(c, p, common.Data[int32](a), common.Data[int32](b), common.Data[int32](y), intGemm[int32])
	case common.Int64:
		runMatMul(c, p, common.Data[int64](a), common.Data[int64](b), common.Data[int64](y), intGemm[int64])
	case common.Uint32:
		runMatMul(c, p, common.Data[uint32](a), common.Data[uint32](b), common.Data[uint32](y), intGemm[uint32])
	case common.Uint64:
		runMatMul(c, p, common.Data[uint64](a), common.Data[uint64](b), common.Data[uint64](y), intGemm[uint64])
	}
	return y, nil
}

// gemmFunc is the signature shared by sgemm, dgemm and intGemm.
type gemmFunc[T any] func(c *Ctx, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, cOut []T, ldc int)

func runMatMul[T float32 | float64 | int32 | int64 | uint32 | uint64](c *Ctx, p *matMulPlan, a, b, y []T, gemm gemmFunc[T]) {
	m, k, nn := p.m, p.k, p.n
	if p.foldBatch {
		gemm(c, false, false, p.batch*m, nn, k, 1, a, k, b, nn, 0, y, nn)
		return
	}
	one := func(i int, cc *Ctx) {
		gemm(cc, false, false, m, nn, k, 1, a[p.aOff[i]:], k, b[p.bOff[i]:], nn, 0, y[i*m*nn:], nn)
	}
	if m*nn*k >= 1<<16 || p.batch == 1 {
		for i := 0; i < p.batch; i++ {
			one(i, c)
		}
		return
	}
	// Many small products: one thread each.
	grain := max(1, (1<<16)/max(1, m*nn*k))
	c.Parallel(p.batch, grain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			one(i, nil)
		}
	})
}

// intGemm is a direct integer matrix product with the sgemm signature
// (wrapping arithmetic, like numpy).
func intGemm[T int32 | int64 | uint32 | uint64](c *Ctx, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, cOut []T, ldc int) {
	body := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := cOut[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
			for p := 0; p < k; p++ {
				var av T
				if transA {
					av = alpha * a[p*lda+i]
				} else {
					av = alpha * a[i*lda+p]
				}
				if !transB {
					brow := b[p*ldb : p*ldb+n]
					for j, bv := range brow {
						row[j] += av * bv
					}
					continue
				}
				for j := range row {
					row[j] += av * b[j*ldb+p]
				}
			}
		}
	}
	if c == nil {
		body(0, m)
		return
	}
	c.Parallel(m, max(1, (1<<15)/max(1, n*k)), body)
}
