package cpu

import (
	"math"
	"runtime"
	"sync"
	"weak"

	"github.com/accel-go/accel/common"
)

// Winograd convolution F(4x4, 3x3) for 3x3, stride-1, undilated float32
// convolutions with one group (most of the work in ResNet-style models).
//
// The output is cut into 4x4 tiles, each computed from a 6x6 input tile
// d as Y = A^T [U ⊙ (B^T d B)] A, where U = G g G^T is the transformed
// 3x3 filter (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2015; interpolation points 0, ±1, ±2 and infinity). Summed
// over input channels, the element-wise products become 36 independent
// matrix products, one per element ξ of the 6x6 tile:
//
//	M[ξ] (cout x tiles) = U[ξ] (cout x cin) * V[ξ] (cin x tiles)
//
// which take 36 multiplies per 16 outputs and channel pair instead of
// 144: a quarter of the direct method's. The transforms are done eight
// tiles at a time (lane l of a vector is tile l; winoIn8 and winoOut8,
// AVX2 on amd64), over blocks of tiles small enough that V and M stay in
// cache. U is computed and packed for sgemm once per weight tensor.
//
// Rounding differs from the direct sum: the transforms scale values by up
// to 8 and 1/24, and on random data the result stays within about 1e-6
// relative L2 of a float64 reference (tested against the direct kernel).

const (
	// winoMinTiles is the fewest 4x4 output tiles (over the batch) for
	// which the Winograd path is taken: with fewer, the 36 products are
	// too narrow to run well and the direct product wins.
	winoMinTiles = 16
	// winoMinChannels is the fewest input and output channels for it:
	// the transforms cost per channel what a few multiplies do.
	winoMinChannels = 16
	// winoMaxChannels bounds the channels, and so the transformed weights
	// and the per-block buffers.
	winoMaxChannels = 8192
	// winoBlockFloats is the target size of one block's transformed
	// input (36 x cin x tiles floats).
	winoBlockFloats = 1 << 19
)

// winogradOff turns the Winograd path off (tests and benchmarks compare
// it with the direct one).
var winogradOff bool

// winograd reports whether g takes the Winograd F(4x4, 3x3) path.
func (g *convGeom) winograd() bool {
	if winogradOff || len(g.k) != 2 || g.group != 1 || g.k[0] != 3 || g.k[1] != 3 {
		return false
	}
	if g.s[0] != 1 || g.s[1] != 1 || g.d[0] != 1 || g.d[1] != 1 {
		return false
	}
	if g.cin < winoMinChannels || g.cout < winoMinChannels || g.cin > winoMaxChannels || g.cout > winoMaxChannels {
		return false
	}
	// Gather indices into the padded input are int32.
	ty, tx := ceilDiv(g.out[0], 4), ceilDiv(g.out[1], 4)
	if int64(g.batch)*int64(g.cin)*int64(4*ty+2)*int64(4*tx+2) >= 1<<31 {
		return false
	}
	return g.batch*ty*tx >= winoMinTiles
}

// winoScratchFloats is the size of convWinograd's buffers for g: the
// padded input and one block's transformed input and products.
func (g *convGeom) winoScratchFloats() int {
	ty, tx := ceilDiv(g.out[0], 4), ceilDiv(g.out[1], 4)
	return g.batch*g.cin*(4*ty+2)*(4*tx+2) + 36*(g.cin+g.cout)*winoBlock(g.cin, g.cout, g.batch*ty*tx)
}

// winoBlock returns the tiles per block (a multiple of 8) for cin input
// and cout output channels and tiles tiles in all.
func winoBlock(cin, cout, tiles int) int {
	tb := winoBlockFloats / (36 * max(cin, cout))
	tb = max(32, min(256, tb-tb%8))
	return min(tb, roundUp(tiles, 8))
}

// winoWeights is a filter transformed and packed for the 36 products.
type winoWeights struct {
	kern      *microKernel
	cout, cin int
	u         [36][]float32 // U[ξ], cout x cin, packed by packWholeA
}

// winoCache maps a weak pointer to an initializer tensor to its
// *winoWeights; entries go when the tensor is collected.
var winoCache sync.Map

// winogradWeights returns w (cout x cin x 3 x 3) transformed for the
// Winograd products: from the cache when w is one of the engine's
// initializers, else computed for this call.
func winogradWeights(c *Ctx, w *common.Tensor, cout, cin int) *winoWeights {
	cacheable := c != nil && c.eng != nil && c.eng.owned[dataPtr(w)]
	var key weak.Pointer[common.Tensor]
	if cacheable {
		key = weak.Make(w)
		if v, ok := winoCache.Load(key); ok {
			if p := v.(*winoWeights); p.kern == gemmK && p.cout == cout && p.cin == cin {
				return p
			}
		}
	}
	p := transformWinoWeights(gemmK, common.Data[float32](w), cout, cin)
	if cacheable {
		if _, loaded := winoCache.Swap(key, p); !loaded {
			runtime.AddCleanup(w, func(k weak.Pointer[common.Tensor]) { winoCache.Delete(k) }, key)
		}
	}
	return p
}

// transformWinoWeights computes U[ξ][o][c] = (G g G^T)[ξ] for each filter
// g = w[o][c] (in float64, rounded once) and packs each U[ξ] for kern.
func transformWinoWeights(kern *microKernel, w []float32, cout, cin int) *winoWeights {
	p := &winoWeights{kern: kern, cout: cout, cin: cin}
	mats := make([]float32, 36*cout*cin)
	plane := cout * cin
	for oc := 0; oc < plane; oc++ {
		f := w[oc*9 : oc*9+9]
		// t = G g: 6x3.
		var t [6][3]float64
		for j := 0; j < 3; j++ {
			g0, g1, g2 := float64(f[j]), float64(f[3+j]), float64(f[6+j])
			t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j] = winoG(g0, g1, g2)
		}
		// U = t G^T: 6x6.
		for i := 0; i < 6; i++ {
			u0, u1, u2, u3, u4, u5 := winoG(t[i][0], t[i][1], t[i][2])
			for j, v := range [6]float64{u0, u1, u2, u3, u4, u5} {
				mats[(i*6+j)*plane+oc] = float32(v)
			}
		}
	}
	for xi := range p.u {
		p.u[xi] = packWholeA(kern, false, mats[xi*plane:(xi+1)*plane], cin, cout, cin)
	}
	return p
}

// winoG applies G (6x3) to the 3-vector (g0, g1, g2).
func winoG(g0, g1, g2 float64) (u0, u1, u2, u3, u4, u5 float64) {
	u0 = g0 / 4
	u1 = -(g0 + g1 + g2) / 6
	u2 = -(g0 - g1 + g2) / 6
	u3 = g0/24 + g1/12 + g2/6
	u4 = g0/24 - g1/12 + g2/6
	u5 = g2
	return
}

// winoOut8 is the output transform of eight tiles (see winoOut8Go);
// amd64 replaces it with assembly where the CPU has AVX2 and FMA.
var winoOut8 = winoOut8Go

// winoGatherIn8 transforms eight input tiles read from src: element
// (i, j) of tile l is src[idx[l]+i*wp+j] (every index in range); element
// ξ of B^T d B goes to v[ξ*stride+l]. d is scratch. amd64 replaces it
// with a gathering AVX2 kernel.
var winoGatherIn8 = winoGatherIn8Go

func winoGatherIn8Go(src []float32, idx *[8]int32, wp int, d *[288]float32, v []float32, stride int) {
	for l, base := range idx {
		for i := 0; i < 6; i++ {
			r := src[int(base)+i*wp : int(base)+i*wp+6]
			e := d[i*48+l:]
			e[0], e[8], e[16], e[24], e[32], e[40] = r[0], r[1], r[2], r[3], r[4], r[5]
		}
	}
	winoIn8Go(d, v, stride)
}

// winoBT1 is the one-dimensional input transform B^T x.
func winoBT1(d0, d1, d2, d3, d4, d5 float32) (o0, o1, o2, o3, o4, o5 float32) {
	o0 = 4*d0 - 5*d2 + d4
	t1, t2 := d4-4*d2, d3-4*d1
	t3, t4 := d4-d2, 2*(d3-d1)
	return o0, t1 + t2, t1 - t2, t3 + t4, t3 - t4, 4*d1 - 5*d3 + d5
}

// winoAT1 is the one-dimensional output transform A^T x.
func winoAT1(m0, m1, m2, m3, m4, m5 float32) (y0, y1, y2, y3 float32) {
	s12, d12, s34, d34 := m1+m2, m1-m2, m3+m4, m3-m4
	return m0 + s12 + s34, d12 + 2*d34, s12 + 4*s34, d12 + 8*d34 + m5
}

// winoIn8Go transforms eight input tiles: d[(6i+j)*8+l] is element (i, j)
// of tile l (overwritten); element ξ of B^T d B goes to v[ξ*stride+l].
func winoIn8Go(d *[288]float32, v []float32, stride int) {
	_ = v[35*stride+7]
	for l := 0; l < 8; l++ {
		for i := 0; i < 6; i++ {
			r := d[i*48+l:]
			r[0], r[8], r[16], r[24], r[32], r[40] = winoBT1(r[0], r[8], r[16], r[24], r[32], r[40])
		}
		for k := 0; k < 6; k++ {
			c := d[k*8+l:]
			o0, o1, o2, o3, o4, o5 := winoBT1(c[0], c[48], c[96], c[144], c[192], c[240])
			for i, o := range [6]float32{o0, o1, o2, o3, o4, o5} {
				v[(i*6+k)*stride+l] = o
			}
		}
	}
}

// winoOut8Go transforms eight product tiles: m[ξ*stride+l] is element ξ
// of tile l; element (r, c) of A^T m A goes to y[(4r+c)*8+l]. t is
// scratch.
func winoOut8Go(m []float32, stride int, t *[192]float32, y *[128]float32) {
	_ = m[35*stride+7]
	for l := 0; l < 8; l++ {
		for k := 0; k < 6; k++ {
			var c [6]float32
			for i := range c {
				c[i] = m[(i*6+k)*stride+l]
			}
			y0, y1, y2, y3 := winoAT1(c[0], c[1], c[2], c[3], c[4], c[5])
			t[(0*6+k)*8+l], t[(1*6+k)*8+l], t[(2*6+k)*8+l], t[(3*6+k)*8+l] = y0, y1, y2, y3
		}
		for r := 0; r < 4; r++ {
			q := t[r*48+l:]
			y0, y1, y2, y3 := winoAT1(q[0], q[8], q[16], q[24], q[32], q[40])
			y[(4*r+0)*8+l], y[(4*r+1)*8+l], y[(4*r+2)*8+l], y[(4*r+3)*8+l] = y0, y1, y2, y3
		}
	}
}

// winoScratch is the per-call workspace of convWinograd.
type winoScratch struct {
	v, m, pad []float32
	x         [36]gemmExtra
	tiles     []winoTile
	idx       [][8]int32
}

// winoTile places one tile of a block: its output tile starts at y[out:]
// in the image's first channel, with rows x cols of it inside the output.
type winoTile struct {
	out, rows, cols int
}

var winoScratchPool sync.Pool

// convWinograd computes y = act(conv(x, w) + bias) for a geometry
// accepted by winograd; fused is the fused activation (or nil).
func convWinograd(c *Ctx, g *convGeom, x []float32, w *common.Tensor, bias []float32, fused *common.Node, y []float32) {
	ww := winogradWeights(c, w, g.cout, g.cin)
	cin, cout := g.cin, g.cout
	h, wd := g.in[0], g.in[1]
	oh, ow := g.out[0], g.out[1]
	pt, pl := g.pb[0], g.pb[1]
	tx := ceilDiv(ow, 4)
	perImg := ceilDiv(oh, 4) * tx
	tiles := g.batch * perImg
	tb := winoBlock(cin, cout, tiles)

	s, _ := winoScratchPool.Get().(*winoScratch)
	if s == nil {
		s = &winoScratch{}
	}
	if need := 36 * cin * tb; cap(s.v) < need {
		s.v = make([]float32, need)
	}
	if need := 36 * cout * tb; cap(s.m) < need {
		s.m = make([]float32, need)
	}
	v, m := s.v[:36*cin*tb], s.m[:36*cout*tb]
	for xi := range s.x {
		s.x[xi] = gemmExtra{preA: ww.u[xi], inPlaceB: true}
	}
	epi := newEpilogue(fused)
	lo, hi := epi.lo, epi.hi
	if !epi.clamp {
		// The activation runs over y at the end; bias here.
		lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	}
	clamp := bias != nil || !math.IsInf(float64(lo), -1) || !math.IsInf(float64(hi), 1)

	// The input, zero-padded so that every tile is inside: channel ch of
	// image img is the hp x wp plane at pad[(img*cin+ch)*inPlane:], with
	// the image at row pt, column pl.
	hp, wp := 4*ceilDiv(oh, 4)+2, 4*tx+2
	inPlane, outPlane := hp*wp, oh*ow
	if need := g.batch * cin * inPlane; cap(s.pad) < need {
		s.pad = make([]float32, need)
	}
	pad := s.pad[:g.batch*cin*inPlane]
	c.Parallel(g.batch*cin, max(1, (1<<14)/inPlane), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			dst := pad[p*inPlane : (p+1)*inPlane]
			src := x[p*h*wd : (p+1)*h*wd]
			clear(dst)
			cols := min(wd, wp-pl)
			for r := 0; cols > 0 && r < min(h, hp-pt); r++ {
				copy(dst[(r+pt)*wp+pl:(r+pt)*wp+pl+cols], src[r*wd:r*wd+cols])
			}
		}
	})

	// Per tile of a block: where its output tile starts in its image's
	// first output plane, and how much of it is inside the output; per
	// eight tiles, where their input tiles start in the first channel.
	if cap(s.tiles) < tb {
		s.tiles = make([]winoTile, tb)
		s.idx = make([][8]int32, tb/8)
	}
	info, idx := s.tiles[:tb], s.idx[:tb/8]
	for t0 := 0; t0 < tiles; t0 += tb {
		nb := min(tb, tiles-t0)
		nb8 := roundUp(nb, 8)
		grain := max(1, 64/(nb8/8))
		for l := 0; l < nb8; l++ {
			t := t0 + min(l, nb-1) // lanes past the end repeat the last tile
			img, r := t/perImg, t%perImg
			oy, ox := (r/tx)*4, (r%tx)*4
			idx[l/8][l%8] = int32(img*cin*inPlane + oy*wp + ox)
			info[l] = winoTile{out: img*cout*outPlane + oy*ow + ox, rows: min(4, oh-oy), cols: min(4, ow-ox)}
		}

		// V[ξ][ch][t] = (B^T d B)[ξ] for the 6x6 input tile d of
		// channel ch at tile t0+t.
		c.Parallel(cin, grain, func(clo, chi int) {
			var d [288]float32
			for ch := clo; ch < chi; ch++ {
				src := pad[ch*inPlane:]
				for l0 := 0; l0 < nb8; l0 += 8 {
					winoGatherIn8(src, &idx[l0/8], wp, &d, v[ch*tb+l0:], cin*tb)
				}
			}
		})

		// M[ξ] = U[ξ] V[ξ], each product on one thread.
		c.Parallel(36, 1, func(xlo, xhi int) {
			for xi := xlo; xi < xhi; xi++ {
				sgemmPacked(ww.kern, nil, false, false, cout, nb, cin, 1, nil, 0, v[xi*cin*tb:], tb, 0, m[xi*cout*tb:], tb, &s.x[xi])
			}
		})

		// Y = A^T M A per output channel and tile, plus bias and clamp,
		// written into the tiles' places in y.
		c.Parallel(cout, grain, func(olo, ohi int) {
			var tmp [192]float32
			var yt [128]float32
			for o := olo; o < ohi; o++ {
				var b float32
				if bias != nil {
					b = bias[o]
				}
				for l0 := 0; l0 < nb8; l0 += 8 {
					winoOut8(m[o*tb+l0:], cout*tb, &tmp, &yt)
					if clamp {
						biasClamp(yt[:], b, lo, hi)
					}
					for l := 0; l < min(8, nb-l0); l++ {
						ti := &info[l0+l]
						dst := y[ti.out+o*outPlane:]
						if ti.rows == 4 && ti.cols == 4 {
							_ = dst[3*ow+3]
							for r := 0; r < 4; r++ {
								q := dst[r*ow : r*ow+4 : r*ow+4]
								q[0], q[1], q[2], q[3] = yt[(4*r)*8+l], yt[(4*r+1)*8+l], yt[(4*r+2)*8+l], yt[(4*r+3)*8+l]
							}
							continue
						}
						for r := 0; r < ti.rows; r++ {
							for cc := 0; cc < ti.cols; cc++ {
								dst[r*ow+cc] = yt[(4*r+cc)*8+l]
							}
						}
					}
				}
			}
		})
	}
	winoScratchPool.Put(s)

	if !epi.clamp {
		planes := g.batch * cout
		size := oh * ow
		c.Parallel(planes, max(1, (1<<14)/max(1, size)), func(plo, phi int) {
			for p := plo; p < phi; p++ {
				epi.apply(y[p*size:(p+1)*size], 0)
			}
		})
	}
}
