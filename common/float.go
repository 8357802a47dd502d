package common

import "math"

// Float32 decodes an IEEE half-precision value.
func (h F16) Float32() float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(man) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// F16From rounds a float32 to half precision, to nearest even; values past
// the range become infinities.
func F16From(f float32) F16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return F16(sign | 0x7e00 | uint16(man>>13))
		}
		return F16(sign | 0x7c00)
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return F16(sign | 0x7c00)
	}
	if e <= 0 {
		if e < -10 {
			return F16(sign)
		}
		man |= 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		rem := man & (1<<shift - 1)
		r := man >> shift
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return F16(sign | uint16(r))
	}
	r := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++
	}
	return F16(sign | uint16(r))
}

// Float32 decodes a bfloat16 value.
func (h BF16) Float32() float32 { return math.Float32frombits(uint32(h) << 16) }

// BF16From rounds a float32 to bfloat16, to nearest even.
func BF16From(f float32) BF16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return BF16(b>>16 | 0x40)
	}
	r := b + 0x7fff + (b>>16)&1
	return BF16(r >> 16)
}

// Float32 decodes a float8 E4M3FN value (no infinities, NaN = S.1111.111).
func (v F8E4M3FN) Float32() float32 {
	s := v & 0x80
	e := int(v>>3) & 0xf
	m := int(v) & 7
	if e == 0xf && m == 7 {
		return float32(math.NaN())
	}
	return signed(s != 0, minifloat(e, m, 3, 7))
}

// Float32 decodes a float8 E4M3FNUZ value (bias 8, NaN = 0x80, no -0).
func (v F8E4M3FNUZ) Float32() float32 {
	if v == 0x80 {
		return negNaN
	}
	return signed(v&0x80 != 0, minifloat(int(v>>3)&0xf, int(v)&7, 3, 8))
}

// Float32 decodes a float8 E5M2 value (IEEE-like, with infinities).
func (v F8E5M2) Float32() float32 {
	return F16(uint16(v) << 8).Float32()
}

// Float32 decodes a float8 E5M2FNUZ value (bias 16, NaN = 0x80, no -0).
func (v F8E5M2FNUZ) Float32() float32 {
	if v == 0x80 {
		return negNaN
	}
	return signed(v&0x80 != 0, minifloat(int(v>>2)&0x1f, int(v)&3, 2, 16))
}

// Float32 decodes a float8 E8M0 value: 2^(v-127); 0xff is NaN.
func (v F8E8M0) Float32() float32 {
	if v == 0xff {
		return float32(math.NaN())
	}
	return float32(math.Ldexp(1, int(v)-127))
}

// Float32 decodes a float4 E2M1 value (bias 1, no NaN or infinity).
func (v F4E2M1) Float32() float32 {
	return signed(v&8 != 0, minifloat(int(v>>1)&3, int(v)&1, 1, 1))
}

// negNaN is the NaN of the FNUZ types: their NaN code has the sign bit set.
var negNaN = math.Float32frombits(0xffc00000)

func minifloat(e, m, mbits, bias int) float32 {
	if e == 0 {
		return float32(math.Ldexp(float64(m), 1-bias-mbits))
	}
	return float32(math.Ldexp(float64(m|1<<mbits), e-bias-mbits))
}

func signed(neg bool, f float32) float32 {
	if neg {
		return -f
	}
	return f
}
