package common

import "math"

// minifloatFormat describes a small binary floating-point encoding with a
// sign bit, ebits of exponent and mbits of mantissa.
type minifloatFormat struct {
	ebits, mbits int
	bias         int
	max          float64 // largest finite magnitude
	maxCode      uint8   // encoding of +max
	nanCode      uint8   // encoding of NaN (sign added unless uz)
	inf          bool    // infinities exist (exponent all ones, mantissa 0)
	uz           bool    // unsigned zero: no -0, NaN is the sign bit alone
	noNaN        bool    // no NaN encoding (float4): NaN maps to nanCode as is
}

var (
	fmtE4M3FN   = minifloatFormat{ebits: 4, mbits: 3, bias: 7, max: 448, maxCode: 0x7e, nanCode: 0x7f}
	fmtE4M3FNUZ = minifloatFormat{ebits: 4, mbits: 3, bias: 8, max: 240, maxCode: 0x7f, nanCode: 0x80, uz: true}
	fmtE5M2     = minifloatFormat{ebits: 5, mbits: 2, bias: 15, max: 57344, maxCode: 0x7b, nanCode: 0x7e, inf: true}
	fmtE5M2FNUZ = minifloatFormat{ebits: 5, mbits: 2, bias: 16, max: 57344, maxCode: 0x7f, nanCode: 0x80, uz: true}
	fmtE2M1     = minifloatFormat{ebits: 2, mbits: 1, bias: 1, max: 6, maxCode: 0x7, nanCode: 0x8, noNaN: true}
)

// encode rounds f to the format, to nearest even. With saturate, values
// past the finite range (infinities included) become the largest finite
// value of their sign; without it they become infinity where the format
// has one, NaN otherwise. Formats without NaN or infinity always clamp.
func (m *minifloatFormat) encode(f float32, saturate bool) uint8 {
	signBit := uint8(1) << (m.ebits + m.mbits)
	var sign uint8
	if math.Signbit(float64(f)) {
		sign = signBit
	}
	nan := m.nanCode
	if !m.uz && !m.noNaN {
		nan |= sign
	}
	if f != f {
		return nan
	}
	overflow := func() uint8 {
		switch {
		case saturate || m.noNaN:
			return m.maxCode | sign
		case m.inf:
			return uint8(1<<m.ebits-1)<<m.mbits | sign
		}
		return nan
	}
	a := math.Abs(float64(f))
	if math.IsInf(a, 0) {
		return overflow()
	}
	zero := sign
	if m.uz {
		zero = 0
	}
	if a == 0 {
		return zero
	}
	emin := 1 - m.bias
	_, exp := math.Frexp(a)
	e := max(exp-1, emin)
	q := math.Ldexp(1, e-m.mbits)
	k := math.RoundToEven(a / q)
	if k*q > m.max {
		return overflow()
	}
	if k == 0 {
		return zero
	}
	one := float64(int(1) << m.mbits)
	if k < one {
		return sign | uint8(k)
	}
	if k >= 2*one {
		e++
		k = one
	}
	return sign | uint8(e+m.bias)<<m.mbits | uint8(k-one)
}

// F8E4M3FNFrom rounds a float32 to float8 E4M3FN, to nearest even. With
// saturate, out-of-range values and infinities become ±448; without it they
// become NaN.
func F8E4M3FNFrom(f float32, saturate bool) F8E4M3FN {
	return F8E4M3FN(fmtE4M3FN.encode(f, saturate))
}

// F8E4M3FNUZFrom rounds a float32 to float8 E4M3FNUZ, to nearest even.
// With saturate, out-of-range values and infinities become ±240; without
// it they become NaN (0x80). Negative values that round to zero give +0.
func F8E4M3FNUZFrom(f float32, saturate bool) F8E4M3FNUZ {
	return F8E4M3FNUZ(fmtE4M3FNUZ.encode(f, saturate))
}

// F8E5M2From rounds a float32 to float8 E5M2, to nearest even. With
// saturate, out-of-range values and infinities become ±57344; without it
// they become infinities.
func F8E5M2From(f float32, saturate bool) F8E5M2 {
	return F8E5M2(fmtE5M2.encode(f, saturate))
}

// F8E5M2FNUZFrom rounds a float32 to float8 E5M2FNUZ, to nearest even.
// With saturate, out-of-range values and infinities become ±57344; without
// it they become NaN (0x80). Negative values that round to zero give +0.
func F8E5M2FNUZFrom(f float32, saturate bool) F8E5M2FNUZ {
	return F8E5M2FNUZ(fmtE5M2FNUZ.encode(f, saturate))
}

// F4E2M1From rounds a float32 to float4 E2M1, to nearest even. The format
// has no infinity or NaN: values past ±6 (infinities included) clamp to ±6
// whatever saturate says, and NaN becomes 0x8, as the ONNX reference does.
func F4E2M1From(f float32, saturate bool) F4E2M1 {
	return F4E2M1(fmtE2M1.encode(f, saturate))
}

// F8E8M0From converts a float32 to float8 E8M0 (a power of two, 2^-127 to
// 2^127; the sign is dropped). round is the ONNX round_mode: "up" rounds
// to the power of two at or above |f|, "down" to the one at or below, and
// "nearest" to the nearer one, ties up. Results below 2^-127 give 2^-127.
// Results past 2^127 and infinities give 2^127 with saturate, NaN (0xff)
// without. NaN gives NaN. An unknown mode is treated as "up".
func F8E8M0From(f float32, saturate bool, round string) F8E8M0 {
	if f != f {
		return 0xff
	}
	a := math.Abs(float64(f))
	if math.IsInf(a, 0) {
		if saturate {
			return 0xfe
		}
		return 0xff
	}
	if a == 0 {
		return 0
	}
	fr, exp := math.Frexp(a) // a = fr * 2^exp, fr in [0.5, 1)
	e := exp - 1
	switch round {
	case "down":
	case "nearest":
		if fr >= 0.75 {
			e++
		}
	default:
		if fr != 0.5 {
			e++
		}
	}
	if e < -127 {
		return 0
	}
	if e > 127 {
		if saturate {
			return 0xfe
		}
		return 0xff
	}
	return F8E8M0(e + 127)
}

// F32RoundOdd converts a float64 to float32 rounding to odd: an inexact
// result has its lowest mantissa bit set. Rounding that result again to a
// type of at most 11 significant bits (float16, bfloat16, the float8 and
// float4 types) gives the same value as rounding the float64 directly.
func F32RoundOdd(d float64) float32 {
	f := float32(d)
	fd := float64(f)
	if fd == d || d != d {
		return f
	}
	b := math.Float32bits(f)
	if math.Abs(fd) > math.Abs(d) {
		b--
	}
	return math.Float32frombits(b | 1)
}
