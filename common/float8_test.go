package common

import (
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// nearestCode is a brute-force reference: among the finite codes of a
// format (decoded with the package's decoders), the one nearest to x; on a
// tie between two values, the one with an even mantissa (code bit 0 clear);
// between +0 and -0, the one with x's sign.
func nearestCode(x float64, codes int, decode func(uint8) float32) uint8 {
	bestDist := math.Inf(1)
	var cands []uint8
	for c := 0; c < codes; c++ {
		v := float64(decode(uint8(c)))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		switch d := math.Abs(v - x); {
		case d < bestDist:
			bestDist, cands = d, []uint8{uint8(c)}
		case d == bestDist:
			cands = append(cands, uint8(c))
		}
	}
	best := cands[0]
	for _, c := range cands[1:] {
		v, b := decode(c), decode(best)
		if v == b {
			if math.Signbit(float64(v)) == math.Signbit(x) {
				best = c
			}
		} else if c&1 == 0 {
			best = c
		}
	}
	return best
}

func TestMinifloatAgainstBruteForce(t *testing.T) {
	type format struct {
		name   string
		codes  int
		enc    func(float32, bool) uint8
		dec    func(uint8) float32
		max    float64
		signed bool // has -0
	}
	formats := []format{
		{"e4m3fn", 256, func(f float32, s bool) uint8 { return uint8(F8E4M3FNFrom(f, s)) }, func(c uint8) float32 { return F8E4M3FN(c).Float32() }, 448, true},
		{"e4m3fnuz", 256, func(f float32, s bool) uint8 { return uint8(F8E4M3FNUZFrom(f, s)) }, func(c uint8) float32 { return F8E4M3FNUZ(c).Float32() }, 240, false},
		{"e5m2", 256, func(f float32, s bool) uint8 { return uint8(F8E5M2From(f, s)) }, func(c uint8) float32 { return F8E5M2(c).Float32() }, 57344, true},
		{"e5m2fnuz", 256, func(f float32, s bool) uint8 { return uint8(F8E5M2FNUZFrom(f, s)) }, func(c uint8) float32 { return F8E5M2FNUZ(c).Float32() }, 57344, false},
		{"e2m1", 16, func(f float32, s bool) uint8 { return uint8(F4E2M1From(f, s)) }, func(c uint8) float32 { return F4E2M1(c).Float32() }, 6, true},
	}
	rng := rand.New(rand.NewSource(1))
	for _, fm := range formats {
		t.Run(fm.name, func(t *testing.T) {
			var xs []float32
			// every code's value, and the midpoints between neighbours
			for c := 0; c < fm.codes; c++ {
				v := fm.dec(uint8(c))
				if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
					xs = append(xs, v)
					for d := 0; d < fm.codes; d++ {
						w := fm.dec(uint8(d))
						if !math.IsNaN(float64(w)) {
							xs = append(xs, float32((float64(v)+float64(w))/2))
						}
					}
				}
			}
			for i := 0; i < 20000; i++ {
				xs = append(xs, float32(rng.NormFloat64()*math.Pow(2, float64(rng.Intn(40)-25))))
			}
			for _, x := range xs {
				if math.Abs(float64(x)) > fm.max {
					continue
				}
				want := nearestCode(float64(x), fm.codes, fm.dec)
				got := fm.enc(x, true)
				gv, wv := fm.dec(got), fm.dec(want)
				require.Equal(t, wv, gv, "x=%g got code %#x want %#x", x, got, want)
				if gv == 0 && fm.signed {
					require.Equal(t, math.Signbit(float64(x)), math.Signbit(float64(gv)), "sign of zero for %g", x)
				}
				if gv == 0 && !fm.signed {
					require.Equal(t, uint8(0), got, "unsigned zero for %g", x)
				}
				// round trip of representable values is exact
				require.Equal(t, got, fm.enc(gv, true))
			}
		})
	}
}

func TestMinifloatSpecials(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	// The ONNX Cast node test values (opset 25).
	in := []float32{0.47892547, 0.48033667, 0.49968487, 0.81910545, 0.47031248, 0.7229038, 1e6, 1e-7, nan, inf, inf, -inf, -1e-7, 1e-7, -1e6}
	e4m3fnSat := []uint8{0x2f, 0x2f, 0x30, 0x35, 0x2f, 0x34, 0x7e, 0x00, 0x7f, 0x7e, 0x7e, 0xfe, 0x80, 0x00, 0xfe}
	e5m2NoSat := []uint8{0x38, 0x38, 0x38, 0x3b, 0x38, 0x3a, 0x7c, 0x00, 0x7e, 0x7c, 0x7c, 0xfc, 0x80, 0x00, 0xfc}
	for i, x := range in {
		require.Equal(t, e4m3fnSat[i], uint8(F8E4M3FNFrom(x, true)), "e4m3fn %g", x)
		require.Equal(t, e5m2NoSat[i], uint8(F8E5M2From(x, false)), "e5m2 %g", x)
	}
	require.Equal(t, F8E4M3FN(0x7f), F8E4M3FNFrom(inf, false))
	require.Equal(t, F8E4M3FN(0xff), F8E4M3FNFrom(-1000, false))
	require.Equal(t, F8E4M3FN(0x7e), F8E4M3FNFrom(464, false), "464 rounds to 448 (tie to even)")
	require.Equal(t, F8E4M3FN(0x7f), F8E4M3FNFrom(465, false))
	require.Equal(t, F8E4M3FNUZ(0x80), F8E4M3FNUZFrom(nan, true))
	require.Equal(t, F8E4M3FNUZ(0x80), F8E4M3FNUZFrom(inf, false))
	require.Equal(t, F8E4M3FNUZ(0x7f), F8E4M3FNUZFrom(inf, true))
	require.Equal(t, F8E4M3FNUZ(0xff), F8E4M3FNUZFrom(-inf, true))
	require.Equal(t, F8E4M3FNUZ(0), F8E4M3FNUZFrom(float32(math.Copysign(0, -1)), true))
	require.Equal(t, F8E5M2(0x7b), F8E5M2From(inf, true))
	require.Equal(t, F8E5M2(0x7c), F8E5M2From(61440, false), "tie rounds up to infinity")
	require.Equal(t, F8E5M2(0x7b), F8E5M2From(61439, false))
	require.Equal(t, F8E5M2(0x7b), F8E5M2From(61440, true))
	require.Equal(t, F8E5M2FNUZ(0x80), F8E5M2FNUZFrom(1e6, false))
	require.Equal(t, F8E5M2FNUZ(0xff), F8E5M2FNUZFrom(-1e6, true))

	// float4: node test values
	in4 := []float32{0.48, 0.25, 1.05, -3.5, -8, 9, 1e6, 1e-7, nan, inf, inf, -inf, -4, 0.01, float32(math.Copysign(0, -1))}
	want4 := []uint8{1, 0, 2, 0xe, 0xf, 7, 7, 0, 8, 7, 7, 0xf, 0xe, 0, 8}
	for i, x := range in4 {
		require.Equal(t, want4[i], uint8(F4E2M1From(x, true)), "e2m1 %g", x)
	}
}

func TestF8E8M0From(t *testing.T) {
	in := []float32{0, 0.124, 0.25, 0.5, 1.1, 2, 4, 8}
	up := []uint8{0x00, 0x7c, 0x7d, 0x7e, 0x80, 0x80, 0x81, 0x82}
	for i, x := range in {
		require.Equal(t, up[i], uint8(F8E8M0From(x, true, "up")), "up %g", x)
	}
	require.Equal(t, F8E8M0(0x7f), F8E8M0From(1.9, true, "down"))
	require.Equal(t, F8E8M0(0x7f), F8E8M0From(1.4, true, "nearest"))
	require.Equal(t, F8E8M0(0x80), F8E8M0From(1.5, true, "nearest"), "ties go up")
	require.Equal(t, F8E8M0(0x80), F8E8M0From(-1.5, true, "nearest"), "sign is dropped")
	require.Equal(t, F8E8M0(0xff), F8E8M0From(float32(math.NaN()), true, "up"))
	require.Equal(t, F8E8M0(0xfe), F8E8M0From(float32(math.Inf(1)), true, "up"))
	require.Equal(t, F8E8M0(0xff), F8E8M0From(float32(math.Inf(1)), false, "up"))
	require.Equal(t, F8E8M0(0xff), F8E8M0From(math.MaxFloat32, false, "up"))
	require.Equal(t, F8E8M0(0xfe), F8E8M0From(math.MaxFloat32, true, "up"))
	require.Equal(t, F8E8M0(0xfe), F8E8M0From(math.MaxFloat32, false, "down"))
	require.Equal(t, F8E8M0(0), F8E8M0From(1e-45, true, "up"))
	for e := -127; e <= 127; e++ {
		v := float32(math.Ldexp(1, e))
		for _, mode := range []string{"up", "down", "nearest"} {
			c := F8E8M0From(v, false, mode)
			require.Equal(t, v, c.Float32(), "2^%d %s", e, mode)
		}
	}
}

func TestF32RoundOdd(t *testing.T) {
	// Direct float64 -> float16 rounding equals rounding via a round-to-odd
	// float32. Check against a brute-force nearest-even float16.
	rng := rand.New(rand.NewSource(2))
	ref := func(d float64) F16 {
		// nearest even among all finite halves, by bisection over the
		// ordered positive codes
		a := math.Abs(d)
		lo, hi := 0, 0x7bff
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if float64(F16(mid).Float32()) <= a {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		c := lo
		if c < 0x7bff {
			below, above := float64(F16(c).Float32()), float64(F16(c+1).Float32())
			if a-below > above-a || (a-below == above-a && c&1 == 1) {
				c++
			}
		} else if a-65504 >= 16 {
			c = 0x7c00
		}
		if math.Signbit(d) {
			c |= 0x8000
		}
		return F16(c)
	}
	for i := 0; i < 20000; i++ {
		d := rng.NormFloat64() * math.Pow(2, float64(rng.Intn(44)-28))
		// make ties and near-ties of float16 common
		if i%3 == 0 {
			h := F16From(float32(d)).Float32()
			d = float64(h) + math.Ldexp(1, -11)*float64(h)*(1+float64(rng.Intn(3)-1)*1e-12)
		}
		require.Equal(t, ref(d), F16From(F32RoundOdd(d)), "d=%v", d)
	}
	require.Equal(t, float32(1.5), F32RoundOdd(1.5))
	require.True(t, math.IsInf(float64(F32RoundOdd(math.Inf(-1))), -1))
	require.True(t, math.IsNaN(float64(F32RoundOdd(math.NaN()))))
}
