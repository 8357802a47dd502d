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

// winograd reports whether g takes a Winograd path.
func (g *convGeom) winograd() bool { return g.winoTile() != 0 }

// winoTile returns the output tile size of the Winograd variant g takes:
// 4 for F(4x4, 3x3), 2 for F(2x2, 3x3) (small images, where 4x4 tiles
// would be too few), or 0 for none.
func (g *convGeom) winoTile() int {
	if len(g.k) != 2 || g.group != 1 || g.k[0] != 3 || g.k[1] != 3 {
		return 0
	}
	if g.s[0] != 1 || g.s[1] != 1 || g.d[0] != 1 || g.d[1] != 1 {
		return 0
	}
	if g.cin < winoMinChannels || g.cout < winoMinChannels || g.cin > winoMaxChannels || g.cout > winoMaxChannels {
		return 0
	}
	for _, mt := range []int{4, 2} {
		ty, tx := ceilDiv(g.out[0], mt), ceilDiv(g.out[1], mt)
		// Gather indices into the padded input are int32.
		if int64(g.batch)*int64(g.cin)*int64(mt*ty+2)*int64(mt*tx+2) >= 1<<31 {
			return 0
		}
		if g.batch*ty*tx >= winoMinTiles {
			return mt
		}
	}
	return 0
}

// winoScratchFloats is the size of convWinograd's buffers for g: the
// padded input and one block's transformed input and products.
func (g *convGeom) winoScratchFloats() int {
	mt := g.winoTile()
	if mt == 0 {
		return 0
	}
	ty, tx := ceilDiv(g.out[0], mt), ceilDiv(g.out[1], mt)
	na := (mt + 2) * (mt + 2)
	return g.batch*g.cin*(mt*ty+2)*(mt*tx+2) + na*(g.cin+g.cout)*winoBlock(na, g.cin, g.cout, g.batch*ty*tx)
}

// winoBlock returns the tiles per block (a multiple of 8) for na
// products, cin input and cout output channels and tiles tiles in all.
func winoBlock(na, cin, cout, tiles int) int {
	tb := winoBlockFloats / (na * max(cin, cout))
	tb = max(32, min(256, tb-tb%8))
	return min(tb, roundUp(tiles, 8))
}

// winoWeights is a filter transformed and packed for the products of
// the variant with output tiles of mt.
type winoWeights struct {
	kern          *microKernel
	mt, cout, cin int
	u             [36][]float32 // U[ξ], cout x cin, packed by packWholeA
}

// winoCache maps a weak pointer to an initializer tensor to its
// *winoWeights; entries go when the tensor is collected.
var winoCache sync.Map

// winogradWeights returns w (cout x cin x 3 x 3) transformed for the
// Winograd products: from the cache when w is one of the engine's
// initializers, else computed for this call.
func winogradWeights(c *Ctx, w *common.Tensor, mt, cout, cin int) *winoWeights {
	cacheable := c != nil && c.eng != nil && c.eng.owned[dataPtr(w)]
	var key weak.Pointer[common.Tensor]
	if cacheable {
		key = weak.Make(w)
		if v, ok := winoCache.Load(key); ok {
			if p := v.(*winoWeights); p.kern == gemmK && p.mt == mt && p.cout == cout && p.cin == cin {
				return p
			}
		}
	}
	p := transformWinoWeights(c, gemmK, common.Data[float32](w), mt, cout, cin)
	if cacheable {
		if _, loaded := winoCache.Swap(key, p); !loaded {
			runtime.AddCleanup(w, func(k weak.Pointer[common.Tensor]) { winoCache.Delete(k) }, key)
		}
	}
	return p
}

// transformWinoWeights computes U[ξ][o][c] = (G g G^T)[ξ] for each filter
// g = w[o][c] (in float64, rounded once) and the variant's G, and packs
// each U[ξ] for kern.
func transformWinoWeights(c *Ctx, kern *microKernel, w []float32, mt, cout, cin int) *winoWeights {
	p := &winoWeights{kern: kern, mt: mt, cout: cout, cin: cin}
	al := mt + 2
	gf := winoG
	if mt == 2 {
		gf = winoG2
	}
	mats := make([]float32, al*al*cout*cin)
	plane := cout * cin
	// Over the pool when there is one (the first run of a model pays
	// for this).
	par := func(n, grain int, fn func(lo, hi int)) { fn(0, n) }
	if c != nil && c.eng != nil {
		par = c.Parallel
	}
	par(plane, 1024, func(lo, hi int) {
		for oc := lo; oc < hi; oc++ {
			f := w[oc*9 : oc*9+9]
			// t = G g: al x 3.
			var t [6][3]float64
			for j := 0; j < 3; j++ {
				col := gf(float64(f[j]), float64(f[3+j]), float64(f[6+j]))
				for i := 0; i < al; i++ {
					t[i][j] = col[i]
				}
			}
			// U = t G^T: al x al.
			for i := 0; i < al; i++ {
				row := gf(t[i][0], t[i][1], t[i][2])
				for j := 0; j < al; j++ {
					mats[(i*al+j)*plane+oc] = float32(row[j])
				}
			}
		}
	})
	par(al*al, 1, func(lo, hi int) {
		for xi := lo; xi < hi; xi++ {
			p.u[xi] = packWholeA(kern, false, mats[xi*plane:(xi+1)*plane], cin, cout, cin)
		}
	})
	return p
}

// winoG applies F(4x4, 3x3)'s G (6x3) to the 3-vector (g0, g1, g2).
func winoG(g0, g1, g2 float64) [6]float64 {
	return [6]float64{
		g0 / 4,
		-(g0 + g1 + g2) / 6,
		-(g0 - g1 + g2) / 6,
		g0/24 + g1/12 + g2/6,
		g0/24 - g1/12 + g2/6,
		g2,
	}
}

// winoG2 applies F(2x2, 3x3)'s G (4x3) to the 3-vector (g0, g1, g2).
func winoG2(g0, g1, g2 float64) [6]float64 {
	return [6]float64{g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2}
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

// winoGatherIn8F2 and winoOut8F2 are winoGatherIn8 and winoOut8 for
// F(2x2, 3x3); amd64 replaces them with AVX2 kernels.
var (
	winoGatherIn8F2 = winoGatherIn8F2Go
	winoOut8F2      = winoOut8F2Go
)

// winoGatherIn8F2Go is winoGatherIn8 for F(2x2, 3x3): 4x4 input tiles,
// element ξ of B^T d B (B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1])
// to v[ξ*stride+l]. d is scratch.
func winoGatherIn8F2Go(src []float32, idx *[8]int32, wp int, d *[288]float32, v []float32, stride int) {
	_ = v[15*stride+7]
	for l, base := range idx {
		var t [4][4]float32
		for i := 0; i < 4; i++ {
			r := src[int(base)+i*wp : int(base)+i*wp+4]
			t[i] = [4]float32{r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3]}
		}
		for k := 0; k < 4; k++ {
			v[(0*4+k)*stride+l] = t[0][k] - t[2][k]
			v[(1*4+k)*stride+l] = t[1][k] + t[2][k]
			v[(2*4+k)*stride+l] = t[2][k] - t[1][k]
			v[(3*4+k)*stride+l] = t[1][k] - t[3][k]
		}
	}
}

// winoOut8F2Go is winoOut8 for F(2x2, 3x3): element (r, c) of A^T m A
// (A^T = [1 1 1 0; 0 1 -1 -1]) to y[(2r+c)*8+l]. t is not used.
func winoOut8F2Go(m []float32, stride int, _ *[192]float32, y *[128]float32) {
	_ = m[15*stride+7]
	for l := 0; l < 8; l++ {
		var q [4][2]float32
		for i := 0; i < 4; i++ {
			e0, e1, e2, e3 := m[(i*4)*stride+l], m[(i*4+1)*stride+l], m[(i*4+2)*stride+l], m[(i*4+3)*stride+l]
			q[i] = [2]float32{e0 + e1 + e2, e1 - e2 - e3}
		}
		for c := 0; c < 2; c++ {
			y[c*8+l] = q[0][c] + q[1][c] + q[2][c]
			y[(2+c)*8+l] = q[1][c] - q[2][c] - q[3][c]
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
// accepted by winograd, with output tiles of mt (4 or 2, as winoTile
// chooses); fused is the fused activation (or nil).
func convWinograd(c *Ctx, g *convGeom, mt int, x []float32, w *common.Tensor, bias []float32, fused *common.Node, y []float32) {
	al := mt + 2
	na := al * al
	in8, out8 := winoGatherIn8, winoOut8
	if mt == 2 {
		in8, out8 = winoGatherIn8F2, winoOut8F2
	}
	ww := winogradWeights(c, w, mt, g.cout, g.cin)
	cin, cout := g.cin, g.cout
	h, wd := g.in[0], g.in[1]
	oh, ow := g.out[0], g.out[1]
	pt, pl := g.pb[0], g.pb[1]
	tx := ceilDiv(ow, mt)
	perImg := ceilDiv(oh, mt) * tx
	tiles := g.batch * perImg
	tb := winoBlock(na, cin, cout, tiles)

	s, _ := winoScratchPool.Get().(*winoScratch)
	if s == nil {
		s = &winoScratch{}
	}
	if need := na * cin * tb; cap(s.v) < need {
		s.v = make([]float32, need)
	}
	if need := na * cout * tb; cap(s.m) < need {
		s.m = make([]float32, need)
	}
	v, m := s.v[:na*cin*tb], s.m[:na*cout*tb]
	for xi := 0; xi < na; xi++ {
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
	hp, wp := mt*ceilDiv(oh, mt)+2, mt*tx+2
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
			oy, ox := (r/tx)*mt, (r%tx)*mt
			idx[l/8][l%8] = int32(img*cin*inPlane + oy*wp + ox)
			info[l] = winoTile{out: img*cout*outPlane + oy*ow + ox, rows: min(mt, oh-oy), cols: min(mt, ow-ox)}
		}

		// V[ξ][ch][t] = (B^T d B)[ξ] for the al x al input tile d of
		// channel ch at tile t0+t.
		c.Parallel(cin, grain, func(clo, chi int) {
			var d [288]float32
			for ch := clo; ch < chi; ch++ {
				src := pad[ch*inPlane:]
				for l0 := 0; l0 < nb8; l0 += 8 {
					in8(src, &idx[l0/8], wp, &d, v[ch*tb+l0:], cin*tb)
				}
			}
		})

		// M[ξ] = U[ξ] V[ξ], each product on one thread.
		// At least about 2^17 multiply-adds per task, so that small
		// layers do not pay a hand-off per product.
		c.Parallel(na, max(1, (1<<17)/max(1, cout*nb*cin)), func(xlo, xhi int) {
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
					out8(m[o*tb+l0:], cout*tb, &tmp, &yt)
					if clamp {
						biasClamp(yt[:mt*mt*8], b, lo, hi)
					}
					for l := 0; l < min(8, nb-l0); l++ {
						ti := &info[l0+l]
						dst := y[ti.out+o*outPlane:]
						if mt == 4 && ti.rows == 4 && ti.cols == 4 {
							_ = dst[3*ow+3]
							for r := 0; r < 4; r++ {
								q := dst[r*ow : r*ow+4 : r*ow+4]
								q[0], q[1], q[2], q[3] = yt[(4*r)*8+l], yt[(4*r+1)*8+l], yt[(4*r+2)*8+l], yt[(4*r+3)*8+l]
							}
							continue
						}
						for r := 0; r < ti.rows; r++ {
							for cc := 0; cc < ti.cols; cc++ {
								dst[r*ow+cc] = yt[(mt*r+cc)*8+l]
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
