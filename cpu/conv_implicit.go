package cpu

// A 2-D convolution with one group is the product of its weights (cout x
// cin*kh*kw) and the im2col matrix of the image (cin*kh*kw x oh*ow). Built
// in full, that matrix is kh*kw times the image and has to go through
// memory twice (written, then read back to be packed). Here sgemm packs
// its B blocks straight from the image instead (gemmExtra.packB), one
// im2col row segment at a time, so the matrix never exists.

// implicitConv reports whether g takes the implicit-im2col path: 2-D, one
// group, not a plain matrix product, big enough for the blocked GEMM, and
// with at most one block of output channels (sgemm packs each B block
// once per block of A rows, and building it from the image costs more
// than copying it from a ready im2col matrix).
func (g *convGeom) implicitConv() bool {
	return len(g.k) == 2 && g.group == 1 && !g.direct() && g.cout > 1 &&
		g.cout <= gemmK.mc && g.cout*g.outSize*g.cin*g.kSize > gemmSmall
}

// convImplicit32 computes y = conv(x, w) for a geometry accepted by
// implicitConv, one image at a time. pre is w packed by prepacked (or
// nil); post gives the epilogue for an image's output (or is nil).
func convImplicit32(c *Ctx, g *convGeom, x, w, pre []float32, post func(ch0 int, yg []float32) func(i0, rows, j0, cols int), y []float32) {
	kdim := g.cin * g.kSize
	for img := 0; img < g.batch; img++ {
		xg := x[img*g.cin*g.inSize : (img+1)*g.cin*g.inSize]
		yg := y[img*g.cout*g.outSize : (img+1)*g.cout*g.outSize]
		extra := &gemmExtra{preA: pre, packB: func(p0, j0, kk, nn int, buf, tmp []float32) {
			packConvB(g, xg, gemmK.nr, p0, j0, kk, nn, buf, tmp)
		}}
		if post != nil {
			extra.epi = post(0, yg)
		}
		sgemmPacked(gemmK, c, false, false, g.cout, g.outSize, kdim, 1, w, kdim, nil, 0, 0, yg, g.outSize, extra)
	}
}

// packConvB packs the kk x nn block at (p0, j0) of the im2col matrix of
// image xg into column panels of nr, in packB's layout (panel s at
// buf[s*kk:], element (p, j) at [p*nr+j], columns past nn zero). tmp is
// scratch for one row of nn.
func packConvB(g *convGeom, xg []float32, nr, p0, j0, kk, nn int, buf, tmp []float32) {
	tmp = tmp[:nn]
	for p := 0; p < kk; p++ {
		convColRow(g, xg, p0+p, j0, tmp)
		for s := 0; s < nn; s += nr {
			q := buf[s*kk+p*nr : s*kk+p*nr+nr]
			cols := copy(q, tmp[s:min(s+nr, nn)])
			clear(q[cols:])
		}
	}
}

// convColRow writes columns j0.. (len(out) of them) of row row of the
// im2col matrix of image xg (2-D geometry g) into out.
func convColRow(g *convGeom, xg []float32, row, j0 int, out []float32) {
	kh, kw := g.k[0], g.k[1]
	h, w, ow := g.in[0], g.in[1], g.out[1]
	ch, r := row/(kh*kw), row%(kh*kw)
	src := xg[ch*g.inSize : (ch+1)*g.inSize]
	offH := (r/kw)*g.d[0] - g.pb[0]
	offW := (r%kw)*g.d[1] - g.pb[1]
	sh, sw := g.s[0], g.s[1]
	oLo, oHi := windowRange(offW, sw, w, ow)
	oy, ox := j0/ow, j0%ow
	for i := 0; i < len(out); oy, ox = oy+1, 0 {
		seg := min(ow-ox, len(out)-i)
		dst := out[i : i+seg]
		i += seg
		ih := oy*sh + offH
		lo, hi := max(ox, oLo), min(ox+seg, oHi)
		if ih < 0 || ih >= h || lo >= hi {
			clear(dst)
			continue
		}
		clear(dst[:lo-ox])
		clear(dst[hi-ox:])
		line := src[ih*w : (ih+1)*w]
		if sw == 1 {
			copy(dst[lo-ox:hi-ox], line[lo+offW:hi+offW])
			continue
		}
		if sw == 2 {
			copyStride2(dst[lo-ox:hi-ox], line[lo*2+offW:])
			continue
		}
		for o := lo; o < hi; o++ {
			dst[o-ox] = line[o*sw+offW]
		}
	}
}

// copyStride2 sets dst[i] = src[2*i] for every i of dst (src holds at
// least 2*len(dst)-1 elements). amd64 replaces it with an AVX2 kernel.
var copyStride2 = copyStride2Go

func copyStride2Go(dst, src []float32) {
	if len(dst) == 0 {
		return
	}
	src = src[:2*len(dst)-1]
	for i := range dst {
		dst[i] = src[2*i]
	}
}
