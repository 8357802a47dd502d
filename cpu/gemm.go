package cpu

import (
	"math/bits"
	"sync"
)

// This file holds the engine's dense matrix multiply. sgemm is shared by
// every kernel that reduces to a matrix product (MatMul, Gemm, Conv,
// ConvTranspose, RNNs, attention and quantized ops), so it is written for
// reuse: row-major operands with leading dimensions, optional transposes,
// and BLAS alpha/beta semantics.
//
// Structure (the usual Goto/BLIS scheme):
//
//	for each output tile of mc x nc (tiles are split over threads)
//	  for each depth block of gemmKC
//	    pack B[kc x nc] into column panels of NR     (packB)
//	    pack A[mc x kc] into row panels of MR        (packA)
//	    for each NR panel of B, for each MR panel of A
//	      micro-kernel: an MR x NR tile over kc, stored into C with
//	      alpha/beta (partial edge tiles go through a small temporary)
//
// The micro-kernel reads only packed, contiguous memory. Which one runs is
// chosen once at start-up (gemmK): an assembly kernel where the CPU has the
// instructions for it (see gemm_amd64.go), else the portable Go kernel
// below, which also serves as the reference in tests.

// Blocking parameters of sgemm that do not depend on the micro-kernel.
const (
	gemmKC = 256  // depth of a packed block
	gemmNC = 1024 // columns of a packed B block (shrunk to give every thread a tile)

	// gemmSmall is the m*n*k below which packing does not pay and a
	// direct loop is used instead.
	gemmSmall = 16 * 16 * 16

	// gemmMaxTile bounds MR*NR of every micro-kernel (the size of the
	// temporary used for edge tiles).
	gemmMaxTile = 256
)

// microKernel is a micro-kernel and the tile shape it computes.
type microKernel struct {
	name   string
	mr, nr int // rows and columns of a micro-tile
	mc     int // rows of a packed A block, a multiple of mr
	// tile computes C = alpha*A*B + beta*C for one full mr x nr tile from
	// a packed A panel (kc x mr) and kc rows of nr floats of B, ldb apart
	// (nr for a packed panel); c holds the tile's top-left element, rows
	// ldc apart. C is not read when beta is 0.
	tile func(kc int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32)
}

// Go micro-tile shape.
const (
	gemmMR = 4
	gemmNR = 8
)

// gemmGo is the portable micro-kernel.
var gemmGo = microKernel{name: "go4x8", mr: gemmMR, nr: gemmNR, mc: 128, tile: goTile}

// gemmK is the micro-kernel sgemm uses; init code in the per-architecture
// files replaces it with a faster one when the CPU supports it.
var gemmK = &gemmGo

// gemmBufs recycles packing buffers between calls, one pool per power of
// two of capacity, so that a small request never takes (and drops) a big
// buffer.
var gemmBufs [64]sync.Pool

// getGemmBuf returns a buffer of n floats (contents undefined); give it
// back with putGemmBuf.
func getGemmBuf(n int) *[]float32 {
	cl := bits.Len(uint(max(n, 1) - 1))
	if p, ok := gemmBufs[cl].Get().(*[]float32); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n, 1<<cl)
	return &s
}

func putGemmBuf(p *[]float32) {
	if c := cap(*p); c > 0 && c&(c-1) == 0 {
		gemmBufs[bits.Len(uint(c-1))].Put(p)
	}
}

// sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major float32
// matrices, where op(A) is m x k (A is m x k, or k x m when transA) and
// op(B) is k x n (B is k x n, or n x k when transB). lda, ldb and ldc are
// the row strides of A, B and C as stored. When beta is 0, C is not read
// (so it may hold garbage or NaN). The caller guarantees the slices are
// long enough; sgemm does not allocate per call beyond pooled packing
// buffers, and splits the work over c's threads (c may be nil: serial).
func sgemm(c *Ctx, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cOut []float32, ldc int) {
	sgemmWith(gemmK, c, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cOut, ldc)
}

// sgemmWith is sgemm with a given micro-kernel.
func sgemmWith(kern *microKernel, c *Ctx, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cOut []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 || alpha == 0 {
		scaleMatrix(m, n, beta, cOut, ldc)
		return
	}
	if m*n*k <= gemmSmall {
		gemmDirect(transA, transB, 0, m, n, k, alpha, a, lda, b, ldb, beta, cOut, ldc)
		return
	}
	if m == 1 {
		sgemv1(c, transA, transB, n, k, alpha, a, lda, b, ldb, beta, cOut)
		return
	}
	sgemmPacked(kern, c, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cOut, ldc, nil)
}

// sgemmEpi is sgemm followed by epi(i0, rows, j0, cols) on each block of
// C once its product is final, while the block is still in cache (epi
// must only touch C[i0:i0+rows][j0:j0+cols]; blocks may run in parallel).
// epi may be nil.
func sgemmEpi(c *Ctx, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cOut []float32, ldc int, epi func(i0, rows, j0, cols int)) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 || alpha == 0 || m*n*k <= gemmSmall {
		sgemm(c, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cOut, ldc)
		if epi != nil {
			epi(0, m, 0, n)
		}
		return
	}
	sgemmPacked(gemmK, c, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cOut, ldc, &gemmExtra{epi: epi})
}

// gemmDirectB is the largest m for which sgemm reads B in place instead
// of packing it: with few rows of A, each packed B element would be used
// too few times to pay for its copy.
const gemmDirectB = 48

// gemmExtra holds the optional parts of a blocked product.
type gemmExtra struct {
	// preA, when not nil, is op(A) already packed for the kernel by
	// packWholeA; a is then not read.
	preA []float32
	// packB, when not nil, packs the kk x nn block of op(B) at (p0, j0)
	// into buf like packB does (tmp is scratch of at least nn floats);
	// b, ldb and transB are then not read.
	packB func(p0, j0, kk, nn int, buf, tmp []float32)
	// epi, when not nil, is the epilogue (see sgemmEpi).
	epi func(i0, rows, j0, cols int)
	// inPlaceB reads B's full column panels in place whatever m is
	// (for a B that is small and already in cache, used by many rows).
	inPlaceB bool
}

// sgemmPacked is the blocked path of sgemmWith, for m, n, k > 0, with the
// optional parts in x (which may be nil).
func sgemmPacked(kern *microKernel, c *Ctx, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cOut []float32, ldc int, x *gemmExtra) {
	if x == nil {
		x = &gemmExtra{}
	}
	preA, epi := x.preA, x.epi
	threads := 1
	if c != nil {
		threads = c.Threads()
	}
	if threads > 1 && m >= 2*threads*gemmRowsMin {
		sgemmRows(kern, c, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, cOut, ldc, x)
		return
	}
	mr, nr := kern.mr, kern.nr
	mc, nc := kern.mc, gemmNC
	mBlocks, nBlocks := ceilDiv(m, mc), ceilDiv(n, nc)
	if threads > 1 && mBlocks*nBlocks < threads {
		// Too few tiles for the threads: narrow the column blocks, then
		// the row blocks, but keep tiles big enough to amortise packing.
		want := ceilDiv(threads, mBlocks)
		nc = max(roundUp(ceilDiv(n, want), nr), 4*nr)
		nBlocks = ceilDiv(n, nc)
		if mBlocks*nBlocks < threads {
			want = ceilDiv(threads, nBlocks)
			mc = max(roundUp(ceilDiv(m, want), mr), 4*mr)
			mBlocks = ceilDiv(m, mc)
		}
	}
	if threads > 1 {
		// A few big tiles split unevenly between threads (two row blocks
		// of 144 and 16, three tiles on two threads): with few tiles,
		// make their count a multiple of the threads, then even out the
		// block sizes.
		if t := mBlocks * nBlocks; t%threads != 0 && t < 4*threads {
			for nb := nBlocks + 1; nb <= nBlocks+threads; nb++ {
				if (mBlocks*nb)%threads == 0 && ceilDiv(n, nb) >= 4*nr {
					nBlocks = nb
					break
				}
			}
		}
		mc = roundUp(ceilDiv(m, mBlocks), mr)
		nc = roundUp(ceilDiv(n, nBlocks), nr)
		mBlocks, nBlocks = ceilDiv(m, mc), ceilDiv(n, nc)
	}
	tiles := mBlocks * nBlocks
	kc := min(gemmKC, k)
	directB := !transB && (m <= gemmDirectB || x.inPlaceB) && x.packB == nil
	mpad := roundUp(m, mr)
	run := func(lo, hi int) {
		bufA := getGemmBuf(roundUp(mc, mr)*kc + gemmMaxTile)
		tmp := (*bufA)[roundUp(mc, mr)*kc:]
		bufB := getGemmBuf(roundUp(nc, nr) * kc)
		var bufT *[]float32
		if x.packB != nil {
			bufT = getGemmBuf(nc)
		}
		for t := lo; t < hi; {
			// Consecutive tiles share a column block: each depth block
			// of it is packed once for all of them (Goto's loop order).
			jb := t / mBlocks
			last := min(hi, (jb+1)*mBlocks)
			j0 := jb * nc
			nn := min(nc, n-j0)
			for p0 := 0; p0 < k; p0 += kc {
				kk := min(kc, k-p0)
				var bIn []float32
				if x.packB != nil {
					x.packB(p0, j0, kk, nn, *bufB, *bufT)
				} else if directB {
					// Full panels are read from B; only a partial last
					// panel is packed, at the start of bufB.
					bIn = b[p0*ldb+j0:]
					if full := nn - nn%nr; full < nn {
						packB(nr, false, b, ldb, p0, j0+full, kk, nn-full, *bufB)
					}
				} else {
					packB(nr, transB, b, ldb, p0, j0, kk, nn, *bufB)
				}
				bt := beta
				if p0 > 0 {
					bt = 1
				}
				for tt := t; tt < last; tt++ {
					i0 := (tt % mBlocks) * mc
					mm := min(mc, m-i0)
					pa := *bufA
					if preA != nil {
						pa = preA[p0*mpad+i0*kk:]
					} else {
						packA(mr, transA, a, lda, i0, p0, mm, kk, pa)
					}
					macroKernel(kern, mm, nn, kk, alpha, pa, *bufB, bIn, ldb, bt, cOut[i0*ldc+j0:], ldc, tmp)
					if epi != nil && p0+kk >= k {
						epi(i0, mm, j0, nn)
					}
				}
			}
			t = last
		}
		putGemmBuf(bufA)
		putGemmBuf(bufB)
		if bufT != nil {
			putGemmBuf(bufT)
		}
	}
	if c == nil || tiles == 1 {
		run(0, tiles)
		return
	}
	c.Parallel(tiles, 1, run)
}

// gemmRowsMin is the fewest rows of A a thread's share of sgemmRows
// gets; gemmSharedB bounds the floats of B that sgemmRows packs at once.
const (
	gemmRowsMin = 48
	gemmSharedB = 1 << 20
)

// sgemmRows is sgemmPacked on several threads for products with many rows
// of A. Splitting such a product into tiles makes every thread pack its
// own copy of each B block (one per row block it takes); here the threads
// first pack a block of columns of op(B), all its depth, together into
// one shared buffer, and then split the rows of A between them, each row
// block running its depth blocks in turn against the shared B.
func sgemmRows(kern *microKernel, c *Ctx, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cOut []float32, ldc int, x *gemmExtra) {
	mr, nr := kern.mr, kern.nr
	kc := min(gemmKC, k)
	kBlocks := ceilDiv(k, kc)
	// Column blocks: as wide as the shared buffer allows, evened out.
	nc := min(roundUp(n, nr), max(nr, gemmSharedB/k/nr*nr))
	nBlocks := ceilDiv(n, nc)
	nc = roundUp(ceilDiv(n, nBlocks), nr)
	// Row blocks: a few per thread for balance, at least gemmRowsMin
	// rows each, at most kern.mc.
	mBlocks := max(ceilDiv(m, kern.mc), min(poolChunksPerThread*threads, m/gemmRowsMin))
	mc := roundUp(ceilDiv(m, mBlocks), mr)
	mBlocks = ceilDiv(m, mc)
	mpad := roundUp(m, mr)
	bufB := getGemmBuf(nc * k)
	const group = 4 // B panels packed per work item
	for j0 := 0; j0 < n; j0 += nc {
		nn := min(nc, n-j0)
		npad := roundUp(nn, nr)
		groups := ceilDiv(npad/nr, group)
		shared := *bufB
		c.Parallel(kBlocks*groups, 1, func(lo, hi int) {
			var tmp *[]float32
			if x.packB != nil {
				tmp = getGemmBuf(group * nr)
			}
			for it := lo; it < hi; it++ {
				p0, s0 := (it/groups)*kc, (it%groups)*group*nr
				kk, cols := min(kc, k-p0), min(group*nr, nn-s0)
				dst := shared[p0*npad+s0*kk:]
				if x.packB != nil {
					x.packB(p0, j0+s0, kk, cols, dst, *tmp)
				} else {
					packB(nr, transB, b, ldb, p0, j0+s0, kk, cols, dst)
				}
			}
			if tmp != nil {
				putGemmBuf(tmp)
			}
		})
		c.Parallel(mBlocks, 1, func(lo, hi int) {
			bufA := getGemmBuf(mc*kc + gemmMaxTile)
			tmp := (*bufA)[mc*kc:]
			for ib := lo; ib < hi; ib++ {
				i0 := ib * mc
				mm := min(mc, m-i0)
				for p0 := 0; p0 < k; p0 += kc {
					kk := min(kc, k-p0)
					pa := *bufA
					if x.preA != nil {
						pa = x.preA[p0*mpad+i0*kk:]
					} else {
						packA(mr, transA, a, lda, i0, p0, mm, kk, pa)
					}
					bt := beta
					if p0 > 0 {
						bt = 1
					}
					macroKernel(kern, mm, nn, kk, alpha, pa, shared[p0*npad:], nil, 0, bt, cOut[i0*ldc+j0:], ldc, tmp)
				}
				if x.epi != nil {
					x.epi(i0, mm, j0, nn)
				}
			}
			putGemmBuf(bufA)
		})
	}
	putGemmBuf(bufB)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, b int) int { return ceilDiv(a, b) * b }

// scaleMatrix sets C = beta*C (C = 0 when beta is 0, without reading it).
func scaleMatrix[T float32 | float64](m, n int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// packA copies the mm x kk block of op(A) at (i0, p0) into buf as row
// panels of mr: panel r holds rows r*mr.. in buf[r*mr*kk:], element
// (i, p) at [p*mr+i]. Rows past mm are zero.
func packA(mr int, trans bool, a []float32, lda, i0, p0, mm, kk int, buf []float32) {
	for r := 0; r < mm; r += mr {
		panel := buf[r*kk : (r+mr)*kk]
		rows := min(mr, mm-r)
		if !trans {
			if mr == 6 && rows == 6 {
				packA6(a[(i0+r)*lda+p0:], lda, kk, panel)
				continue
			}
			for i := range mr {
				if i >= rows {
					for p := range kk {
						panel[p*mr+i] = 0
					}
					continue
				}
				src := a[(i0+r+i)*lda+p0:]
				src = src[:kk]
				for p, v := range src {
					panel[p*mr+i] = v
				}
			}
			continue
		}
		for p := range kk {
			q := panel[p*mr : p*mr+mr]
			src := a[(p0+p)*lda+i0+r:]
			if rows == mr {
				copy(q, src[:mr])
				continue
			}
			for i := range q {
				if i < rows {
					q[i] = src[i]
				} else {
					q[i] = 0
				}
			}
		}
	}
}

// packA6 interleaves six rows of kk floats (lda apart, starting at a)
// into panel: element (i, p) at [p*6+i].
func packA6(a []float32, lda, kk int, panel []float32) {
	r0 := a[:kk]
	r1 := a[lda : lda+kk]
	r2 := a[2*lda : 2*lda+kk]
	r3 := a[3*lda : 3*lda+kk]
	r4 := a[4*lda : 4*lda+kk]
	r5 := a[5*lda : 5*lda+kk]
	panel = panel[:6*kk]
	for p := range r0 {
		q := (*[6]float32)(panel[6*p:])
		q[0], q[1], q[2], q[3], q[4], q[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
	}
}

// packB copies the kk x nn block of op(B) at (p0, j0) into buf as column
// panels of nr: the panel of columns s..s+nr-1 (s a multiple of nr) is at
// buf[s*kk:], element (p, s+j) at [s*kk+p*nr+j]. Columns past nn are zero.
func packB(nr int, trans bool, b []float32, ldb, p0, j0, kk, nn int, buf []float32) {
	full := nn - nn%nr
	if !trans {
		// Row by row: each row of B is read once, front to back.
		for p := range kk {
			src := b[(p0+p)*ldb+j0 : (p0+p)*ldb+j0+nn]
			dst := buf[p*nr:]
			s := 0
			if nr == 16 {
				for ; s < full; s += 16 {
					*(*[16]float32)(dst[s*kk:]) = *(*[16]float32)(src[s:])
				}
			}
			for ; s < full; s += nr {
				copy(dst[s*kk:s*kk+nr], src[s:s+nr])
			}
			if full < nn {
				q := dst[full*kk : full*kk+nr]
				clear(q[copy(q, src[full:]):])
			}
		}
		return
	}
	for s := 0; s < nn; s += nr {
		panel := buf[s*kk : (s+nr)*kk]
		cols := min(nr, nn-s)
		for j := range nr {
			if j >= cols {
				for p := range kk {
					panel[p*nr+j] = 0
				}
				continue
			}
			src := b[(j0+s+j)*ldb+p0:]
			src = src[:kk]
			for p, v := range src {
				panel[p*nr+j] = v
			}
		}
	}
}

// macroKernel multiplies a packed mm x kk block of A by a kk x nn block
// of B into C (at its top-left corner, row stride ldc). B is packed in pb,
// or, when bIn is not nil, read in place from bIn (row stride ldb) for
// its full column panels, with a partial last panel packed at pb's start.
// tmp (at least mr*nr floats) holds partial edge tiles.
func macroKernel(kern *microKernel, mm, nn, kk int, alpha float32, pa, pb, bIn []float32, ldb int, beta float32, c []float32, ldc int, tmp []float32) {
	mr, nr := kern.mr, kern.nr
	for jr := 0; jr < nn; jr += nr {
		cols := min(nr, nn-jr)
		bp, bld := pb[jr*kk:(jr+nr)*kk], nr
		if bIn != nil {
			if cols == nr {
				bp, bld = bIn[jr:], ldb
			} else {
				bp = pb[:nr*kk]
			}
		}
		for ir := 0; ir < mm; ir += mr {
			rows := min(mr, mm-ir)
			ap := pa[ir*kk : (ir+mr)*kk]
			if rows == mr && cols == nr {
				kern.tile(kk, ap, bp, bld, c[ir*ldc+jr:], ldc, alpha, beta)
				continue
			}
			kern.tile(kk, ap, bp, bld, tmp[:mr*nr], nr, 1, 0)
			storeTile(tmp[:mr*nr], nr, rows, cols, alpha, beta, c[ir*ldc+jr:], ldc)
		}
	}
}

// goTile is the portable micro-kernel's tile function.
func goTile(kc int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	var acc [gemmMR * gemmNR]float32
	gemmMicro(kc, a, b, ldb, &acc)
	storeTile(acc[:], gemmNR, gemmMR, gemmNR, alpha, beta, c, ldc)
}

// gemmMicro computes the gemmMR x gemmNR product of a packed A panel
// (kc x MR) and kc rows of NR floats of B, ldb apart, into acc, row-major.
func gemmMicro(kc int, a, b []float32, ldb int, acc *[gemmMR * gemmNR]float32) {
	var c00, c01, c02, c03, c04, c05, c06, c07 float32
	var c10, c11, c12, c13, c14, c15, c16, c17 float32
	var c20, c21, c22, c23, c24, c25, c26, c27 float32
	var c30, c31, c32, c33, c34, c35, c36, c37 float32
	a = a[:kc*gemmMR]
	b = b[:(kc-1)*ldb+gemmNR]
	for p := 0; p < kc; p++ {
		br := b[p*ldb : p*ldb+gemmNR : p*ldb+gemmNR]
		b0, b1, b2, b3, b4, b5, b6, b7 := br[0], br[1], br[2], br[3], br[4], br[5], br[6], br[7]
		a0 := a[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c04 += a0 * b4
		c05 += a0 * b5
		c06 += a0 * b6
		c07 += a0 * b7
		a1 := a[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c14 += a1 * b4
		c15 += a1 * b5
		c16 += a1 * b6
		c17 += a1 * b7
		a2 := a[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c24 += a2 * b4
		c25 += a2 * b5
		c26 += a2 * b6
		c27 += a2 * b7
		a3 := a[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		c34 += a3 * b4
		c35 += a3 * b5
		c36 += a3 * b6
		c37 += a3 * b7
		a = a[gemmMR:]
	}
	*acc = [gemmMR * gemmNR]float32{
		c00, c01, c02, c03, c04, c05, c06, c07,
		c10, c11, c12, c13, c14, c15, c16, c17,
		c20, c21, c22, c23, c24, c25, c26, c27,
		c30, c31, c32, c33, c34, c35, c36, c37,
	}
}

// storeTile writes the top-left rows x cols part of a tile acc (rows
// stride apart) into C: C = alpha*acc + beta*C (C not read when beta is 0).
func storeTile(acc []float32, stride, rows, cols int, alpha, beta float32, c []float32, ldc int) {
	for i := 0; i < rows; i++ {
		row := c[i*ldc : i*ldc+cols]
		src := acc[i*stride : i*stride+cols]
		switch beta {
		case 0:
			for j, v := range src {
				row[j] = alpha * v
			}
		case 1:
			for j, v := range src {
				row[j] += alpha * v
			}
		default:
			for j, v := range src {
				row[j] = alpha*v + beta*row[j]
			}
		}
	}
}

// gemmDirect is the unpacked product for rows [i0, i1) of C, used for
// small problems and by dgemm: C = alpha*op(A)*op(B) + beta*C.
func gemmDirect[T float32 | float64](transA, transB bool, i0, i1, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	for i := i0; i < i1; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
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

// dgemm is sgemm for float64 (same arguments and semantics). It is a
// direct loop split over rows: float64 models are rare and this path
// favours exactness of structure over speed.
func dgemm(c *Ctx, transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, cOut []float64, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 || alpha == 0 {
		scaleMatrix(m, n, beta, cOut, ldc)
		return
	}
	grain := max(1, (1<<15)/max(1, n*k))
	body := func(lo, hi int) {
		gemmDirect(transA, transB, lo, hi, n, k, alpha, a, lda, b, ldb, beta, cOut, ldc)
	}
	if c == nil {
		body(0, m)
		return
	}
	c.Parallel(m, grain, body)
}
