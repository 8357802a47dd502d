package cpu

// Products with a single row of A (a batch-1 classifier head: 1 x k times
// k x n) waste most of a micro-tile, so sgemm runs them as n dot products
// (B transposed: rows of B are contiguous) or as k row updates of C.

// sdot returns the dot product of x and y[:len(x)]; saxpy sets y[i] +=
// alpha*x[i] for i < len(x). Both are replaced by vector versions where
// the CPU has them.
var (
	sdot  = sdotGo
	saxpy = saxpyGo
)

func sdotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func saxpyGo(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// sgemv1 is sgemm for m = 1 (C is one row of n).
func sgemv1(c *Ctx, transA, transB bool, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cOut []float32) {
	x := a[:k]
	if transA {
		// A is k x 1: gather its column.
		buf := getGemmBuf(k)
		defer putGemmBuf(buf)
		x = *buf
		for p := range x {
			x[p] = a[p*lda]
		}
	}
	y := cOut[:n]
	if transB {
		body := func(lo, hi int) {
			for j := lo; j < hi; j++ {
				d := alpha * sdot(x, b[j*ldb:j*ldb+k])
				if beta != 0 {
					d += beta * y[j]
				}
				y[j] = d
			}
		}
		if c == nil {
			body(0, n)
			return
		}
		c.Parallel(n, max(1, (1<<14)/max(1, k)), body)
		return
	}
	body := func(lo, hi int) {
		seg := y[lo:hi]
		switch beta {
		case 0:
			clear(seg)
		case 1:
		default:
			for j := range seg {
				seg[j] *= beta
			}
		}
		for p, v := range x {
			if v != 0 {
				saxpy(alpha*v, b[p*ldb+lo:p*ldb+hi], seg)
			}
		}
	}
	if c == nil {
		body(0, n)
		return
	}
	// Column ranges of at least 256 (whole cache lines of C and B).
	chunks := ceilDiv(n, 256)
	c.Parallel(chunks, max(1, (1<<14)/max(1, 256*k)), func(lo, hi int) {
		body(lo*256, min(n, hi*256))
	})
}
