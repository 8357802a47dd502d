package cpu

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"

	"github.com/accel-go/accel/common"
	"github.com/stretchr/testify/require"
)

// nnCtx returns a kernel context with the given number of threads.
func nnCtx(t testing.TB, threads int) *Ctx {
	e := &Engine{limits: common.DefaultLimits.WithDefaults(), pool: newPool(threads)}
	t.Cleanup(e.pool.close)
	return &Ctx{ctx: context.Background(), eng: e, run: &runState{}}
}

func nnRand32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// nnNaiveGemm is the triple loop C = alpha*op(A)op(B) + beta*C in float64.
func nnNaiveGemm(transA, transB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			v := alpha * s
			if beta != 0 {
				v += beta * float64(c[i*ldc+j])
			}
			out[i*n+j] = v
		}
	}
	return out
}

func nnClose(t *testing.T, want []float64, got []float32, tol float64, msg string) {
	t.Helper()
	require.Equal(t, len(want), len(got), msg)
	for i := range want {
		d := math.Abs(want[i] - float64(got[i]))
		if d > tol*(1+math.Abs(want[i])) {
			require.Failf(t, "mismatch", "%s: element %d: want %v got %v", msg, i, want[i], got[i])
		}
	}
}

func TestSgemmAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	sizes := []int{1, 3, 7, 17, 33, 130}
	for _, threads := range []int{1, 3} {
		c := nnCtx(t, threads)
		for _, m := range sizes {
			for _, n := range sizes {
				for _, k := range []int{1, 5, 17, 300} {
					for tr := 0; tr < 4; tr++ {
						transA, transB := tr&1 != 0, tr&2 != 0
						alpha, beta := float32(1.5), float32(0)
						if (m+n+k)%3 == 0 {
							beta = -0.5
						} else if (m+n)%2 == 0 {
							beta = 1
						}
						lda, ldb, ldc := k+2, n+1, n+3
						if transA {
							lda = m + 1
						}
						if transB {
							ldb = k + 3
						}
						arows, brows := m, k
						if transA {
							arows = k
						}
						if transB {
							brows = n
						}
						a := nnRand32(r, arows*lda)
						b := nnRand32(r, brows*ldb)
						cv := nnRand32(r, m*ldc)
						want := nnNaiveGemm(transA, transB, m, n, k, float64(alpha), a, lda, b, ldb, float64(beta), cv, ldc)
						got := append([]float32(nil), cv...)
						sgemm(c, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
						flat := make([]float32, 0, m*n)
						for i := 0; i < m; i++ {
							flat = append(flat, got[i*ldc:i*ldc+n]...)
							// Padding columns of C are untouched.
							require.Equal(t, cv[i*ldc+n:i*ldc+ldc], got[i*ldc+n:i*ldc+ldc])
						}
						nnClose(t, want, flat, 1e-4, fmt.Sprintf("m=%d n=%d k=%d tA=%v tB=%v threads=%d", m, n, k, transA, transB, threads))
					}
				}
			}
		}
	}
}

func TestSgemmBetaZeroIgnoresNaN(t *testing.T) {
	c := nnCtx(t, 2)
	for _, sz := range []int{2, 40} {
		a := make([]float32, sz*sz)
		b := make([]float32, sz*sz)
		out := make([]float32, sz*sz)
		for i := range a {
			a[i], b[i], out[i] = 1, 2, float32(math.NaN())
		}
		sgemm(c, false, false, sz, sz, sz, 1, a, sz, b, sz, 0, out, sz)
		for _, v := range out {
			require.Equal(t, float32(2*sz), v)
		}
		// k = 0 with beta 0 clears C.
		sgemm(c, false, false, sz, sz, 0, 1, a, sz, b, sz, 0, out, sz)
		for _, v := range out {
			require.Equal(t, float32(0), v)
		}
	}
}

func TestDgemmAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	c := nnCtx(t, 2)
	for _, m := range []int{1, 7, 40} {
		for _, n := range []int{1, 9, 33} {
			for _, k := range []int{1, 17} {
				for tr := 0; tr < 4; tr++ {
					transA, transB := tr&1 != 0, tr&2 != 0
					a32 := nnRand32(r, m*k)
					b32 := nnRand32(r, k*n)
					c32 := nnRand32(r, m*n)
					lda, ldb := k, n
					if transA {
						lda = m
					}
					if transB {
						ldb = k
					}
					want := nnNaiveGemm(transA, transB, m, n, k, 2, a32, lda, b32, ldb, 0.5, c32, n)
					a, b, cv := make([]float64, len(a32)), make([]float64, len(b32)), make([]float64, len(c32))
					for i, v := range a32 {
						a[i] = float64(v)
					}
					for i, v := range b32 {
						b[i] = float64(v)
					}
					for i, v := range c32 {
						cv[i] = float64(v)
					}
					dgemm(c, transA, transB, m, n, k, 2, a, lda, b, ldb, 0.5, cv, n)
					for i := range want {
						require.InDelta(t, want[i], cv[i], 1e-9*(1+math.Abs(want[i])))
					}
				}
			}
		}
	}
}

// TestSgemmMicroKernels runs the packed path with every micro-kernel this
// CPU supports over odd sizes (edge tiles in both directions, k tails of
// the unrolled loop, several depth blocks), all transposes and a spread
// of alpha/beta, against the float64 triple loop and against the
// portable Go kernel.
func TestSgemmMicroKernels(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	sizes := []int{1, 3, 7, 17, 31, 65, 129}
	ab := [][2]float32{{1, 0}, {1, 1}, {-0.7, 0.3}, {2, 0}}
	c := nnCtx(t, 2)
	for _, kern := range gemmKernels() {
		for _, m := range sizes {
			for _, n := range sizes {
				for tk := 0; tk < 16; tk++ {
					k := []int{1, 6, 67, 300}[tk/4] // k-loop tails 1, 2, 3; two depth blocks
					tr := tk % 4
					transA, transB := tr&1 != 0, tr&2 != 0
					alpha, beta := ab[(m*3+n+tk)%len(ab)][0], ab[(m*3+n+tk)%len(ab)][1]
					lda, ldb, ldc := k+1, n+2, n+5
					arows, brows := m, k
					if transA {
						lda, arows = m+3, k
					}
					if transB {
						ldb, brows = k+2, n
					}
					a := nnRand32(r, arows*lda)
					b := nnRand32(r, brows*ldb)
					cv := nnRand32(r, m*ldc)
					if beta == 0 {
						for i := range cv {
							cv[i] = float32(math.NaN())
						}
					}
					msg := fmt.Sprintf("%s m=%d n=%d k=%d tA=%v tB=%v alpha=%v beta=%v", kern.name, m, n, k, transA, transB, alpha, beta)
					want := nnNaiveGemm(transA, transB, m, n, k, float64(alpha), a, lda, b, ldb, float64(beta), cv, ldc)
					got := append([]float32(nil), cv...)
					sgemmPacked(kern, c, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc, nil)
					ref := append([]float32(nil), cv...)
					sgemmPacked(&gemmGo, nil, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc, nil)
					flat := make([]float32, 0, m*n)
					for i := 0; i < m; i++ {
						flat = append(flat, got[i*ldc:i*ldc+n]...)
						for j := 0; j < n; j++ {
							g, w := got[i*ldc+j], ref[i*ldc+j]
							require.InDelta(t, w, g, 1e-5*float64(k)*(1+math.Abs(float64(w))), "%s: vs Go kernel at (%d,%d)", msg, i, j)
						}
						// Padding columns of C are untouched (NaN stays NaN).
						for j := n; j < ldc; j++ {
							require.Equal(t, math.Float32bits(cv[i*ldc+j]), math.Float32bits(got[i*ldc+j]), msg)
						}
					}
					nnClose(t, want, flat, 1e-4, msg)
				}
			}
		}
	}
}

// TestSgemmEpi checks that sgemmEpi calls its epilogue exactly once on
// every element of C, after the product is complete, for small and
// blocked sizes and with several threads.
func TestSgemmEpi(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	c := nnCtx(t, 3)
	for _, sz := range [][3]int{{3, 5, 2}, {7, 300, 9}, {40, 2000, 17}, {200, 150, 600}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, b := nnRand32(r, m*k), nnRand32(r, k*n)
		want := nnNaiveGemm(false, false, m, n, k, 1, a, k, b, n, 0, nil, n)
		got := make([]float32, m*n)
		hits := make([]int32, m*n)
		sgemmEpi(c, false, false, m, n, k, 1, a, k, b, n, 0, got, n, func(i0, rows, j0, cols int) {
			for i := i0; i < i0+rows; i++ {
				for j := j0; j < j0+cols; j++ {
					hits[i*n+j]++
					got[i*n+j] = 2*got[i*n+j] + 1
				}
			}
		})
		for i := range want {
			want[i] = 2*want[i] + 1
			require.Equal(t, int32(1), hits[i], "size %v element %d", sz, i)
		}
		nnClose(t, want, got, 1e-4, fmt.Sprint(sz))
	}
}

// TestSgemv1 checks the one-row path over odd sizes, transposes and
// alpha/beta against the triple loop, and the vector helpers it uses
// against their scalar forms.
func TestSgemv1(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	for _, threads := range []int{1, 3} {
		c := nnCtx(t, threads)
		for _, n := range []int{1, 7, 31, 300, 1000} {
			for _, k := range []int{1, 9, 65, 513} {
				for tr := 0; tr < 4; tr++ {
					transA, transB := tr&1 != 0, tr&2 != 0
					alpha, beta := float32(0.5), []float32{0, 1, -2}[(n+k+tr)%3]
					lda, ldb := k+1, n+3
					arows, brows := 1, k
					if transA {
						lda, arows = 2, k
					}
					if transB {
						ldb, brows = k+2, n
					}
					a, b := nnRand32(r, arows*lda), nnRand32(r, brows*ldb)
					cv := nnRand32(r, n)
					want := nnNaiveGemm(transA, transB, 1, n, k, float64(alpha), a, lda, b, ldb, float64(beta), cv, n)
					got := append([]float32(nil), cv...)
					sgemv1(c, transA, transB, n, k, alpha, a, lda, b, ldb, beta, got)
					nnClose(t, want, got, 1e-4, fmt.Sprintf("n=%d k=%d tA=%v tB=%v beta=%v threads=%d", n, k, transA, transB, beta, threads))
				}
			}
		}
	}
	for n := 0; n <= 75; n++ {
		x, y := nnRand32(r, n), nnRand32(r, n+3)
		require.InDelta(t, sdotGo(x, y), sdot(x, y), 1e-4*float64(1+n), "sdot n=%d", n)
		want, got := append([]float32(nil), y...), append([]float32(nil), y...)
		saxpyGo(-1.5, x, want)
		saxpy(-1.5, x, got)
		for i := range want {
			require.InDelta(t, want[i], got[i], 1e-5*(1+math.Abs(float64(want[i]))), "saxpy n=%d i=%d", n, i)
		}
	}
}

// checkSgemmPacked runs sgemmPacked with every micro-kernel this CPU has
// on an m x n x k product with the given transposes, alpha and beta, with
// the optional parts chosen by mode (bit 0: A packed by packWholeA, bit 1:
// B packed through gemmExtra.packB, bit 2: an epilogue), and compares C
// with the float64 triple loop. C's padding columns must stay untouched
// and the epilogue must see every element once.
func checkSgemmPacked(t *testing.T, r *rand.Rand, c *Ctx, m, n, k int, transA, transB bool, alpha, beta float32, mode int) {
	t.Helper()
	lda, ldb, ldc := k+1, n+2, n+5
	arows, brows := m, k
	if transA {
		lda, arows = m+3, k
	}
	if transB {
		ldb, brows = k+2, n
	}
	a, b := nnRand32(r, arows*lda), nnRand32(r, brows*ldb)
	cv := nnRand32(r, m*ldc)
	if beta == 0 {
		for i := range cv {
			cv[i] = float32(math.NaN())
		}
	}
	want := nnNaiveGemm(transA, transB, m, n, k, float64(alpha), a, lda, b, ldb, float64(beta), cv, ldc)
	for _, kern := range gemmKernels() {
		msg := fmt.Sprintf("%s threads=%d m=%d n=%d k=%d tA=%v tB=%v alpha=%v beta=%v mode=%d", kern.name, c.Threads(), m, n, k, transA, transB, alpha, beta, mode)
		x := &gemmExtra{}
		if mode&1 != 0 {
			x.preA = packWholeA(kern, transA, a, lda, m, k)
		}
		if mode&2 != 0 {
			x.packB = func(p0, j0, kk, nn int, buf, tmp []float32) {
				require.GreaterOrEqual(t, len(tmp), min(nn, kern.nr), msg)
				packB(kern.nr, transB, b, ldb, p0, j0, kk, nn, buf)
			}
		}
		var hits []int32
		if mode&4 != 0 {
			hits = make([]int32, m*n)
			var mu sync.Mutex
			x.epi = func(i0, rows, j0, cols int) {
				mu.Lock()
				defer mu.Unlock()
				for i := i0; i < i0+rows; i++ {
					for j := j0; j < j0+cols; j++ {
						hits[i*n+j]++
					}
				}
			}
		}
		got := append([]float32(nil), cv...)
		sgemmPacked(kern, c, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc, x)
		flat := make([]float32, 0, m*n)
		for i := 0; i < m; i++ {
			flat = append(flat, got[i*ldc:i*ldc+n]...)
			for j := n; j < ldc; j++ {
				require.Equal(t, math.Float32bits(cv[i*ldc+j]), math.Float32bits(got[i*ldc+j]), "%s: padding at (%d,%d)", msg, i, j)
			}
		}
		nnClose(t, want, flat, 1e-4, msg)
		for i, h := range hits {
			require.Equal(t, int32(1), h, "%s: epilogue calls on element %d", msg, i)
		}
	}
}

// TestSgemmThreadSplits covers the ways sgemmPacked splits a product over
// threads: tiles for few rows of A, and rows of A against a shared packed
// B (sgemmRows) for many, including several column blocks of the shared
// buffer, with every optional part.
func TestSgemmThreadSplits(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	ab := [][2]float32{{1, 0}, {-0.7, 0.3}, {2, 1}}
	i := 0
	for _, threads := range []int{2, 3} {
		c := nnCtx(t, threads)
		for _, m := range []int{7, 65, 193, 311} {
			for _, n := range []int{1, 17, 49, 300} {
				for _, k := range []int{3, 67, 300} {
					for rep := 0; rep < 2; rep++ {
						i++
						tr := i % 4
						v := ab[i%len(ab)]
						checkSgemmPacked(t, r, c, m, n, k, tr&1 != 0, tr&2 != 0, v[0], v[1], (i*5)%8)
					}
				}
			}
		}
		// Deep enough that sgemmRows needs several column blocks.
		checkSgemmPacked(t, r, c, 200, 300, 4700, false, false, 1, 0, 7)
		checkSgemmPacked(t, r, c, 200, 300, 4700, true, true, 0.5, 1, 0)
	}
}
