package cpu

import "github.com/accel-go/accel/common"

// This file holds the depthwise 3x3 convolution (MobileNet-style): every
// output channel reads one input channel through a 3x3 window. The general
// path would run it as one tiny matrix product per channel (a 1 x 9
// weight row times a 9 x outSize column matrix), which spends far more
// time building columns than multiplying; here each output row is computed
// from three input rows directly, bias and fused activation included.

// depthwise3x3 reports whether g is a 2-D convolution with one input
// channel per group (any channel multiplier), a 3x3 kernel and no
// dilation. Strides and pads are free.
func (g *convGeom) depthwise3x3() bool {
	return len(g.k) == 2 && g.group == g.cin && g.group > 1 &&
		g.k[0] == 3 && g.k[1] == 3 && g.d[0] == 1 && g.d[1] == 1
}

// convDepthwise3x3 computes y = act(conv(x, w) + bias) for a geometry
// accepted by depthwise3x3. bias and fused may be nil.
func convDepthwise3x3(c *Ctx, g *convGeom, x, w, bias []float32, fused *common.Node, y []float32) {
	h, wd := g.in[0], g.in[1]
	oh, ow := g.out[0], g.out[1]
	sh, sw := g.s[0], g.s[1]
	pt, pl := g.pb[0], g.pb[1]
	mult := g.cout / g.cin
	inPlane, outPlane := h*wd, oh*ow
	// Output columns whose whole window is inside the input row.
	owLo, owHi := windowRange(-pl, sw, wd-2, ow)
	if wd < 3 {
		owLo, owHi = 0, 0
	}
	planes := g.batch * g.cout
	epi := newEpilogue(fused)
	c.Parallel(planes, max(1, (1<<14)/max(1, 9*outPlane)), func(lo, hi int) {
		zero := make([]float32, wd)
		for p := lo; p < hi; p++ {
			img, oc := p/g.cout, p%g.cout
			src := x[(img*g.cin+oc/mult)*inPlane:][:inPlane]
			k := (*[9]float32)(w[oc*9 : oc*9+9])
			var bv float32
			if bias != nil {
				bv = bias[oc]
			}
			dst := y[p*outPlane:][:outPlane]
			for r := 0; r < oh; r++ {
				ih := r*sh - pt
				r0, r1, r2 := zero, zero, zero
				if ih >= 0 && ih < h {
					r0 = src[ih*wd : (ih+1)*wd]
				}
				if ih+1 >= 0 && ih+1 < h {
					r1 = src[(ih+1)*wd : (ih+2)*wd]
				}
				if ih+2 >= 0 && ih+2 < h {
					r2 = src[(ih+2)*wd : (ih+3)*wd]
				}
				out := dst[r*ow : (r+1)*ow]
				for o := 0; o < owLo; o++ {
					out[o] = dwEdge(k, r0, r1, r2, o*sw-pl)
				}
				for o := max(owHi, owLo); o < ow; o++ {
					out[o] = dwEdge(k, r0, r1, r2, o*sw-pl)
				}
				if owLo < owHi {
					dwRow(k, r0, r1, r2, owLo*sw-pl, sw, out[owLo:owHi])
				}
				epi.apply(out, bv)
			}
		}
	})
}

// dwEdge is one output of a 3x3 window starting at input column iw of
// rows r0..r2, skipping taps outside the row (no bias).
func dwEdge(k *[9]float32, r0, r1, r2 []float32, iw int) float32 {
	var s float32
	for j := 0; j < 3; j++ {
		q := iw + j
		if q < 0 || q >= len(r0) {
			continue
		}
		s += k[j]*r0[q] + k[3+j]*r1[q] + k[6+j]*r2[q]
	}
	return s
}

// dwRow fills out with the 3x3 windows starting at input columns iw,
// iw+s, ... of rows r0..r2, all of which lie inside the rows (no bias).
func dwRow(k *[9]float32, r0, r1, r2 []float32, iw, s int, out []float32) {
	k0, k1, k2, k3, k4, k5, k6, k7, k8 := k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8]
	n := len(out)
	span := (n-1)*s + 3
	a, b, c := r0[iw:iw+span], r1[iw:iw+span], r2[iw:iw+span]
	if s == 1 {
		dwRow1(k, a, b, c, out)
		return
	}
	if s == 2 {
		// The vector kernel may read whole blocks past the span while
		// they stay inside the rows.
		dwRow2(k, r0[iw:], r1[iw:], r2[iw:], out)
		return
	}
	for o := range out {
		q := o * s
		a3, b3, c3 := a[q:q+3:q+3], b[q:q+3:q+3], c[q:q+3:q+3]
		out[o] = k0*a3[0] + k1*a3[1] + k2*a3[2] + k3*b3[0] + k4*b3[1] + k5*b3[2] + k6*c3[0] + k7*c3[1] + k8*c3[2]
	}
}

// dwRow1 is dwRow for stride 1: out[o] = the 3x3 window at column o of
// r0..r2 (each at least len(out)+2 long). It is replaced by a vector
// version where the CPU has one.
var dwRow1 = dwRow1Go

func dwRow1Go(k *[9]float32, a, b, c, out []float32) {
	k0, k1, k2, k3, k4, k5, k6, k7, k8 := k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8]
	for o := range out {
		a3, b3, c3 := a[o:o+3:o+3], b[o:o+3:o+3], c[o:o+3:o+3]
		out[o] = k0*a3[0] + k1*a3[1] + k2*a3[2] + k3*b3[0] + k4*b3[1] + k5*b3[2] + k6*c3[0] + k7*c3[1] + k8*c3[2]
	}
}

// dwRow2 is dwRow for stride 2: out[o] = the 3x3 window at column 2o of
// a, b, c (each at least 2*len(out)+1 long). It is replaced by a vector
// version where the CPU has one.
var dwRow2 = dwRow2Go

func dwRow2Go(k *[9]float32, a, b, c, out []float32) {
	k0, k1, k2, k3, k4, k5, k6, k7, k8 := k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8]
	for o := range out {
		q := 2 * o
		a3, b3, c3 := a[q:q+3:q+3], b[q:q+3:q+3], c[q:q+3:q+3]
		out[o] = k0*a3[0] + k1*a3[1] + k2*a3[2] + k3*b3[0] + k4*b3[1] + k5*b3[2] + k6*c3[0] + k7*c3[1] + k8*c3[2]
	}
}
