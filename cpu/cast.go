package cpu

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("Cast", castKernel)
	reg("CastLike", castLikeKernel)
}

// CastOptions are the Cast attributes that shape a conversion.
type CastOptions struct {
	// Saturate clamps out-of-range values to the largest finite value when
	// converting to a float8 type (the ONNX default); otherwise they become
	// infinity or NaN.
	Saturate bool
	// RoundMode is the rounding for float8e8m0: "up" (default), "down" or
	// "nearest".
	RoundMode string
}

// DefaultCastOptions are the ONNX defaults: saturate, round up.
var DefaultCastOptions = CastOptions{Saturate: true, RoundMode: "up"}

// onnxTypeNames maps the opset-1 string form of Cast's "to" attribute.
var onnxTypeNames = map[string]common.DType{
	"FLOAT": common.Float32, "UINT8": common.Uint8, "INT8": common.Int8,
	"UINT16": common.Uint16, "INT16": common.Int16, "INT32": common.Int32,
	"INT64": common.Int64, "STRING": common.String, "BOOL": common.Bool,
	"FLOAT16": common.Float16, "DOUBLE": common.Float64, "UINT32": common.Uint32,
	"UINT64": common.Uint64, "BFLOAT16": common.BFloat16,
}

func castOptions(n *common.Node) (CastOptions, error) {
	o := DefaultCastOptions
	if n.Opset == 0 || n.Opset >= 19 {
		o.Saturate = n.AttrInt("saturate", 1) != 0
	}
	if n.Opset == 0 || n.Opset >= 25 {
		o.RoundMode = n.AttrString("round_mode", "up")
	}
	switch o.RoundMode {
	case "up", "down", "nearest":
	default:
		return o, fmt.Errorf("%w: %s: round_mode %q is not up, down or nearest", common.ErrInvalidModel, n.OpType, o.RoundMode)
	}
	return o, nil
}

func castKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	a := n.Attr("to")
	if a == nil {
		return nil, fmt.Errorf("%w: Cast needs the attribute \"to\"", common.ErrInvalidModel)
	}
	var to common.DType
	switch a.Type {
	case common.AttrInt:
		to = common.DType(a.I)
		if int64(to) != a.I {
			return nil, fmt.Errorf("%w: Cast: \"to\" = %d is not an element type", common.ErrInvalidModel, a.I)
		}
	case common.AttrString:
		d, ok := onnxTypeNames[strings.ToUpper(string(a.S))]
		if !ok {
			return nil, fmt.Errorf("%w: Cast: \"to\" = %q is not an element type", common.ErrInvalidModel, a.S)
		}
		to = d
	default:
		return nil, fmt.Errorf("%w: Cast: attribute \"to\" must be an int", common.ErrInvalidModel)
	}
	o, err := castOptions(n)
	if err != nil {
		return nil, err
	}
	y, err := castTensor(c, n, x, to, o)
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{y}, nil
}

func castLikeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	like, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	o, err := castOptions(n)
	if err != nil {
		return nil, err
	}
	y, err := castTensor(c, n, x, like.DType(), o)
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{y}, nil
}

// CastTo casts t to element type to with the ONNX Cast semantics (see
// CastOptions). It returns t itself when it already has that type.
func CastTo(t *common.Tensor, to common.DType, o CastOptions) (*common.Tensor, error) {
	if o.RoundMode == "" {
		o.RoundMode = "up"
	}
	return convert(nil, t, to, o, nil)
}

func castTensor(c *Ctx, n *common.Node, t *common.Tensor, to common.DType, o CastOptions) (*common.Tensor, error) {
	if !to.Valid() {
		return nil, unsupportedType(n, to)
	}
	if !t.DType().Valid() {
		return nil, unsupportedType(n, t.DType())
	}
	if t.DType() == to {
		return t, nil
	}
	if _, err := c.Check(to, t.Shape()); err != nil {
		return nil, err
	}
	return convert(c, t, to, o, n)
}

// The source side of a conversion: element i as one of these kinds.
type castKind int

const (
	kindFloat castKind = iota
	kindInt
	kindUint
	kindBool
	kindString
)

type castSrc struct {
	kind castKind
	f    func(i int) float64
	i    func(i int) int64
	u    func(i int) uint64
	b    []bool
	s    []string
	bits int // float formatting precision: 32 or 64
}

type castDst struct {
	f func(i int, v float64)
	i func(i int, v int64)
	u func(i int, v uint64)
	b func(i int, v bool)
}

func floatSrc[T any](s []T, dec func(T) float32) castSrc {
	return castSrc{kind: kindFloat, bits: 32, f: func(i int) float64 { return float64(dec(s[i])) }}
}

func intSrc[T ~int8 | ~int16 | ~int32 | ~int64](s []T) castSrc {
	return castSrc{kind: kindInt, i: func(i int) int64 { return int64(s[i]) }}
}

func uintSrc[T ~uint8 | ~uint16 | ~uint32 | ~uint64](s []T) castSrc {
	return castSrc{kind: kindUint, u: func(i int) uint64 { return uint64(s[i]) }}
}

func sourceOf(t *common.Tensor) (castSrc, bool) {
	switch s := t.Raw().(type) {
	case []float32:
		return castSrc{kind: kindFloat, bits: 32, f: func(i int) float64 { return float64(s[i]) }}, true
	case []float64:
		return castSrc{kind: kindFloat, bits: 64, f: func(i int) float64 { return s[i] }}, true
	case []common.F16:
		return floatSrc(s, common.F16.Float32), true
	case []common.BF16:
		return floatSrc(s, common.BF16.Float32), true
	case []common.F8E4M3FN:
		return floatSrc(s, common.F8E4M3FN.Float32), true
	case []common.F8E4M3FNUZ:
		return floatSrc(s, func(v common.F8E4M3FNUZ) float32 { return signedNaN(uint8(v), v.Float32()) }), true
	case []common.F8E5M2:
		return floatSrc(s, common.F8E5M2.Float32), true
	case []common.F8E5M2FNUZ:
		return floatSrc(s, func(v common.F8E5M2FNUZ) float32 { return signedNaN(uint8(v), v.Float32()) }), true
	case []common.F8E8M0:
		return floatSrc(s, common.F8E8M0.Float32), true
	case []common.F4E2M1:
		return floatSrc(s, common.F4E2M1.Float32), true
	case []int8:
		return intSrc(s), true
	case []int16:
		return intSrc(s), true
	case []int32:
		return intSrc(s), true
	case []int64:
		return intSrc(s), true
	case []common.I4:
		return intSrc(s), true
	case []common.I2:
		return intSrc(s), true
	case []uint8:
		return uintSrc(s), true
	case []uint16:
		return uintSrc(s), true
	case []uint32:
		return uintSrc(s), true
	case []uint64:
		return uintSrc(s), true
	case []common.U4:
		return uintSrc(s), true
	case []common.U2:
		return uintSrc(s), true
	case []bool:
		return castSrc{kind: kindBool, b: s}, true
	case []string:
		return castSrc{kind: kindString, s: s}, true
	}
	return castSrc{}, false
}

// negNaN is a float32 NaN with the sign bit set.
var negNaN = math.Float32frombits(0xffc00000)

// signedNaN gives the FNUZ NaN code (0x80, the sign bit alone) a negative
// NaN, as the ONNX reference decodes it, so that casts to other float
// types keep the sign.
func signedNaN(code uint8, f float32) float32 {
	if code == 0x80 {
		return negNaN
	}
	return f
}

// floatToInt64 truncates toward zero, saturating at the int64 range; NaN
// gives 0.
func floatToInt64(v float64) int64 {
	switch {
	case v != v:
		return 0
	case v >= 9223372036854775807:
		return math.MaxInt64
	case v <= -9223372036854775808:
		return math.MinInt64
	}
	return int64(v)
}

// floatToUint64 truncates toward zero; negative values wrap as their int64
// truncation does, values past 2^64 saturate.
func floatToUint64(v float64) uint64 {
	switch {
	case v != v:
		return 0
	case v >= 18446744073709551615:
		return math.MaxUint64
	case v >= 9223372036854775808:
		return uint64(v)
	}
	return uint64(floatToInt64(v))
}

func floatDst[T any](s []T, enc func(float32) T) castDst {
	return castDst{
		f: func(i int, v float64) { s[i] = enc(common.F32RoundOdd(v)) },
		i: func(i int, v int64) { s[i] = enc(common.F32RoundOdd(float64(v))) },
		u: func(i int, v uint64) { s[i] = enc(common.F32RoundOdd(float64(v))) },
	}
}

func intDst[T ~int8 | ~int16 | ~int32 | ~int64](s []T, wrap func(int64) T) castDst {
	return castDst{
		f: func(i int, v float64) { s[i] = wrap(floatToInt64(v)) },
		i: func(i int, v int64) { s[i] = wrap(v) },
		u: func(i int, v uint64) { s[i] = wrap(int64(v)) },
	}
}

func uintDst[T ~uint8 | ~uint16 | ~uint32 | ~uint64](s []T, wrap func(uint64) T) castDst {
	return castDst{
		f: func(i int, v float64) { s[i] = wrap(floatToUint64(v)) },
		i: func(i int, v int64) { s[i] = wrap(uint64(v)) },
		u: func(i int, v uint64) { s[i] = wrap(v) },
	}
}

func destOf(t *common.Tensor, o CastOptions) (castDst, bool) {
	sat := o.Saturate
	switch s := t.Raw().(type) {
	case []float32:
		return castDst{
			f: func(i int, v float64) { s[i] = float32(v) },
			i: func(i int, v int64) { s[i] = float32(v) },
			u: func(i int, v uint64) { s[i] = float32(v) },
		}, true
	case []float64:
		return castDst{
			f: func(i int, v float64) { s[i] = v },
			i: func(i int, v int64) { s[i] = float64(v) },
			u: func(i int, v uint64) { s[i] = float64(v) },
		}, true
	case []common.F16:
		return floatDst(s, common.F16From), true
	case []common.BF16:
		return floatDst(s, common.BF16From), true
	case []common.F8E4M3FN:
		return floatDst(s, func(f float32) common.F8E4M3FN { return common.F8E4M3FNFrom(f, sat) }), true
	case []common.F8E4M3FNUZ:
		return floatDst(s, func(f float32) common.F8E4M3FNUZ { return common.F8E4M3FNUZFrom(f, sat) }), true
	case []common.F8E5M2:
		return floatDst(s, func(f float32) common.F8E5M2 { return common.F8E5M2From(f, sat) }), true
	case []common.F8E5M2FNUZ:
		return floatDst(s, func(f float32) common.F8E5M2FNUZ { return common.F8E5M2FNUZFrom(f, sat) }), true
	case []common.F8E8M0:
		mode := o.RoundMode
		return floatDst(s, func(f float32) common.F8E8M0 { return common.F8E8M0From(f, sat, mode) }), true
	case []common.F4E2M1:
		return floatDst(s, func(f float32) common.F4E2M1 { return common.F4E2M1From(f, sat) }), true
	case []int8:
		return intDst(s, func(v int64) int8 { return int8(v) }), true
	case []int16:
		return intDst(s, func(v int64) int16 { return int16(v) }), true
	case []int32:
		return intDst(s, func(v int64) int32 { return int32(v) }), true
	case []int64:
		return intDst(s, func(v int64) int64 { return v }), true
	case []common.I4:
		return intDst(s, func(v int64) common.I4 { return common.I4(v << 60 >> 60) }), true
	case []common.I2:
		return intDst(s, func(v int64) common.I2 { return common.I2(v << 62 >> 62) }), true
	case []uint8:
		return uintDst(s, func(v uint64) uint8 { return uint8(v) }), true
	case []uint16:
		return uintDst(s, func(v uint64) uint16 { return uint16(v) }), true
	case []uint32:
		return uintDst(s, func(v uint64) uint32 { return uint32(v) }), true
	case []uint64:
		return uintDst(s, func(v uint64) uint64 { return v }), true
	case []common.U4:
		return uintDst(s, func(v uint64) common.U4 { return common.U4(v & 15) }), true
	case []common.U2:
		return uintDst(s, func(v uint64) common.U2 { return common.U2(v & 3) }), true
	case []bool:
		return castDst{
			f: func(i int, v float64) { s[i] = v != 0 },
			i: func(i int, v int64) { s[i] = v != 0 },
			u: func(i int, v uint64) { s[i] = v != 0 },
		}, true
	}
	return castDst{}, false
}

// convert does the conversion; c may be nil (serial), n only names the
// node in errors.
func convert(c *Ctx, t *common.Tensor, to common.DType, o CastOptions, n *common.Node) (*common.Tensor, error) {
	if t.DType() == to {
		return t, nil
	}
	opName := "Cast"
	if n != nil {
		opName = n.OpType
	}
	src, ok := sourceOf(t)
	if !ok || !to.Valid() {
		return nil, fmt.Errorf("%w: %s from %v to %v", common.ErrUnsupported, opName, t.DType(), to)
	}
	out := common.Zeros(to, t.Shape())
	total := t.Len()
	if to == common.String {
		dst := common.Data[string](out)
		for i := range dst {
			dst[i] = formatElem(src, i)
		}
		return out, nil
	}
	if castFast(c, t, out) {
		return out, nil
	}
	dst, _ := destOf(out, o)
	if src.kind == kindString {
		for i, s := range src.s {
			if err := parseInto(dst, to, i, s); err != nil {
				return nil, fmt.Errorf("%w: %s: element %d: %v", common.ErrShape, opName, i, err)
			}
		}
		return out, nil
	}
	body := func(lo, hi int) {
		switch src.kind {
		case kindFloat:
			for i := lo; i < hi; i++ {
				dst.f(i, src.f(i))
			}
		case kindInt:
			for i := lo; i < hi; i++ {
				dst.i(i, src.i(i))
			}
		case kindUint:
			for i := lo; i < hi; i++ {
				dst.u(i, src.u(i))
			}
		case kindBool:
			for i := lo; i < hi; i++ {
				var v int64
				if src.b[i] {
					v = 1
				}
				dst.i(i, v)
			}
		}
	}
	if c == nil {
		body(0, total)
	} else {
		c.Parallel(total, 1<<14, body)
	}
	return out, nil
}

// formatElem renders element i as Cast to string does: integers in
// decimal, booleans as True/False, floats in the shortest form that reads
// back to the same value of their precision (positional from 1e-4 up to
// 1e16, scientific otherwise; "inf", "-inf", "nan").
func formatElem(src castSrc, i int) string {
	switch src.kind {
	case kindInt:
		return strconv.FormatInt(src.i(i), 10)
	case kindUint:
		return strconv.FormatUint(src.u(i), 10)
	case kindBool:
		if src.b[i] {
			return "True"
		}
		return "False"
	case kindString:
		return src.s[i]
	}
	return castFormatFloat(src.f(i), src.bits)
}

// castFormatFloat renders v (a value of a float type of the given bit size, 32
// or 64) in the shortest decimal that reads back to it: positional for
// magnitudes in [1e-4, 1e16) with at least one fractional digit ("1.0"),
// scientific with a two-digit exponent otherwise ("1e-07"), and "inf",
// "-inf", "nan" for the special values.
func castFormatFloat(v float64, bits int) string {
	switch {
	case v != v:
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	a := math.Abs(v)
	if a == 0 || (a >= 1e-4 && a < 1e16) {
		s := strconv.FormatFloat(v, 'f', -1, bits)
		if !strings.ContainsRune(s, '.') {
			s += ".0"
		}
		return s
	}
	return strconv.FormatFloat(v, 'e', -1, bits)
}

// castParseFloat reads a float as Cast from string does: decimal or scientific
// notation, and "INF"/"+INF"/"-INF"/"NaN" in any case.
func castParseFloat(s string) (float64, error) {
	t := strings.TrimSpace(s)
	switch strings.ToUpper(t) {
	case "INF", "+INF", "INFINITY", "+INFINITY":
		return math.Inf(1), nil
	case "-INF", "-INFINITY":
		return math.Inf(-1), nil
	case "NAN", "+NAN", "-NAN":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return v, nil // ±Inf: the value is past the float64 range
		}
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// parseInto parses s into element i of the destination.
func parseInto(dst castDst, to common.DType, i int, s string) error {
	t := strings.TrimSpace(s)
	if to.IsFloat() {
		if to == common.Float32 {
			// parse straight to float32: one rounding
			if v, err := strconv.ParseFloat(t, 32); err == nil {
				dst.f(i, v)
				return nil
			}
		}
		v, err := castParseFloat(s)
		if err != nil {
			return err
		}
		dst.f(i, v)
		return nil
	}
	if to == common.Bool {
		if b, err := strconv.ParseBool(t); err == nil {
			if b {
				dst.i(i, 1)
			} else {
				dst.i(i, 0)
			}
			return nil
		}
	}
	if v, err := strconv.ParseInt(t, 10, 64); err == nil {
		dst.i(i, v)
		return nil
	}
	if v, err := strconv.ParseUint(strings.TrimPrefix(t, "+"), 10, 64); err == nil {
		dst.u(i, v)
		return nil
	}
	v, err := castParseFloat(s)
	if err != nil {
		return err
	}
	dst.f(i, v)
	return nil
}

// castFast converts the most common pairs with direct loops; it reports
// whether it handled the pair. The results equal the general path's.
func castFast(c *Ctx, t, out *common.Tensor) bool {
	run := func(n int, body func(lo, hi int)) {
		if c == nil {
			body(0, n)
		} else {
			c.Parallel(n, 1<<14, body)
		}
	}
	switch s := t.Raw().(type) {
	case []float32:
		switch d := out.Raw().(type) {
		case []common.F16:
			run(len(s), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d[i] = common.F16From(s[i])
				}
			})
		case []common.BF16:
			run(len(s), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d[i] = common.BF16From(s[i])
				}
			})
		case []float64:
			run(len(s), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d[i] = float64(s[i])
				}
			})
		default:
			return false
		}
	case []common.F16:
		d, ok := out.Raw().([]float32)
		if !ok {
			return false
		}
		run(len(s), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d[i] = s[i].Float32()
			}
		})
	case []common.BF16:
		d, ok := out.Raw().([]float32)
		if !ok {
			return false
		}
		run(len(s), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d[i] = s[i].Float32()
			}
		})
	case []float64:
		d, ok := out.Raw().([]float32)
		if !ok {
			return false
		}
		run(len(s), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d[i] = float32(s[i])
			}
		})
	case []int64:
		switch d := out.Raw().(type) {
		case []int32:
			run(len(s), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d[i] = int32(s[i])
				}
			})
		case []float32:
			run(len(s), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d[i] = float32(s[i])
				}
			})
		default:
			return false
		}
	case []int32:
		switch d := out.Raw().(type) {
		case []int64:
			run(len(s), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d[i] = int64(s[i])
				}
			})
		case []float32:
			run(len(s), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d[i] = float32(s[i])
				}
			})
		default:
			return false
		}
	default:
		return false
	}
	return true
}
