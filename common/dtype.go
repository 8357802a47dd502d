package common

import "fmt"

// DType is a tensor element type. Its values are the ONNX
// TensorProto.DataType numbers, so a decoded model needs no translation.
type DType int32

// Element types, numbered as in onnx.proto.
const (
	Undefined      DType = 0
	Float32        DType = 1
	Uint8          DType = 2
	Int8           DType = 3
	Uint16         DType = 4
	Int16          DType = 5
	Int32          DType = 6
	Int64          DType = 7
	String         DType = 8
	Bool           DType = 9
	Float16        DType = 10
	Float64        DType = 11
	Uint32         DType = 12
	Uint64         DType = 13
	Complex64      DType = 14
	Complex128     DType = 15
	BFloat16       DType = 16
	Float8E4M3FN   DType = 17
	Float8E4M3FNUZ DType = 18
	Float8E5M2     DType = 19
	Float8E5M2FNUZ DType = 20
	Uint4          DType = 21
	Int4           DType = 22
	Float4E2M1     DType = 23
	Float8E8M0     DType = 24
	Uint2          DType = 25
	Int2           DType = 26
)

var dtypeNames = map[DType]string{
	Undefined: "undefined", Float32: "float32", Uint8: "uint8", Int8: "int8",
	Uint16: "uint16", Int16: "int16", Int32: "int32", Int64: "int64",
	String: "string", Bool: "bool", Float16: "float16", Float64: "float64",
	Uint32: "uint32", Uint64: "uint64", Complex64: "complex64",
	Complex128: "complex128", BFloat16: "bfloat16",
	Float8E4M3FN: "float8e4m3fn", Float8E4M3FNUZ: "float8e4m3fnuz",
	Float8E5M2: "float8e5m2", Float8E5M2FNUZ: "float8e5m2fnuz",
	Uint4: "uint4", Int4: "int4", Float4E2M1: "float4e2m1",
	Float8E8M0: "float8e8m0", Uint2: "uint2", Int2: "int2",
}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// Valid reports whether d is an element type this package can hold in a
// Tensor. Complex types are known by name but not supported.
func (d DType) Valid() bool {
	switch d {
	case Undefined, Complex64, Complex128:
		return false
	}
	_, ok := dtypeNames[d]
	return ok
}

// Bits is the storage width of one element in the ONNX wire format
// (4 for the 4-bit types, 2 for the 2-bit ones). Strings report 0.
func (d DType) Bits() int {
	switch d {
	case Float32, Int32, Uint32:
		return 32
	case Float64, Int64, Uint64, Complex64:
		return 64
	case Complex128:
		return 128
	case Float16, BFloat16, Int16, Uint16:
		return 16
	case Int8, Uint8, Bool, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float8E8M0:
		return 8
	case Int4, Uint4, Float4E2M1:
		return 4
	case Int2, Uint2:
		return 2
	}
	return 0
}

// Size is the number of bytes one element takes in host memory in a
// Tensor. Sub-byte types are held one element per byte, unpacked.
func (d DType) Size() int {
	switch b := d.Bits(); {
	case d == String:
		return 16
	case b == 0:
		return 0
	case b < 8:
		return 1
	default:
		return b / 8
	}
}

// IsFloat reports whether d is a floating-point type (any width).
func (d DType) IsFloat() bool {
	switch d {
	case Float32, Float64, Float16, BFloat16, Float8E4M3FN, Float8E4M3FNUZ,
		Float8E5M2, Float8E5M2FNUZ, Float8E8M0, Float4E2M1:
		return true
	}
	return false
}

// IsInteger reports whether d is a signed or unsigned integer type.
func (d DType) IsInteger() bool {
	switch d {
	case Int8, Int16, Int32, Int64, Uint8, Uint16, Uint32, Uint64, Int4, Uint4, Int2, Uint2:
		return true
	}
	return false
}

// IsSigned reports whether d is a signed integer or float type.
func (d DType) IsSigned() bool {
	switch d {
	case Int8, Int16, Int32, Int64, Int4, Int2:
		return true
	}
	return d.IsFloat()
}

// Element types held in host memory. Float16, BFloat16 and the 8- and 4-bit
// float types are their bit patterns; Int4/Uint4/Int2/Uint2 hold one
// (sign-extended) value per byte.
type (
	F16        uint16
	BF16       uint16
	F8E4M3FN   uint8
	F8E4M3FNUZ uint8
	F8E5M2     uint8
	F8E5M2FNUZ uint8
	F8E8M0     uint8
	F4E2M1     uint8
	I4         int8
	U4         uint8
	I2         int8
	U2         uint8
)

// Elem is the set of Go element types a Tensor can hold.
type Elem interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint8 | ~uint16 | ~uint32 | ~uint64 | ~bool | ~string
}

// DTypeOf returns the element type that Go type T stands for. Plain uint8
// is Uint8 and plain uint16 is Uint16; use F16, BF16, ... for the others.
func DTypeOf[T Elem]() DType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case int8:
		return Int8
	case int16:
		return Int16
	case int32:
		return Int32
	case int64:
		return Int64
	case uint8:
		return Uint8
	case uint16:
		return Uint16
	case uint32:
		return Uint32
	case uint64:
		return Uint64
	case bool:
		return Bool
	case string:
		return String
	case F16:
		return Float16
	case BF16:
		return BFloat16
	case F8E4M3FN:
		return Float8E4M3FN
	case F8E4M3FNUZ:
		return Float8E4M3FNUZ
	case F8E5M2:
		return Float8E5M2
	case F8E5M2FNUZ:
		return Float8E5M2FNUZ
	case F8E8M0:
		return Float8E8M0
	case F4E2M1:
		return Float4E2M1
	case I4:
		return Int4
	case U4:
		return Uint4
	case I2:
		return Int2
	case U2:
		return Uint2
	}
	return Undefined
}

// makeSlice allocates a zeroed slice of n elements of type d.
func makeSlice(d DType, n int) any {
	switch d {
	case Float32:
		return make([]float32, n)
	case Float64:
		return make([]float64, n)
	case Int8:
		return make([]int8, n)
	case Int16:
		return make([]int16, n)
	case Int32:
		return make([]int32, n)
	case Int64:
		return make([]int64, n)
	case Uint8:
		return make([]uint8, n)
	case Uint16:
		return make([]uint16, n)
	case Uint32:
		return make([]uint32, n)
	case Uint64:
		return make([]uint64, n)
	case Bool:
		return make([]bool, n)
	case String:
		return make([]string, n)
	case Float16:
		return make([]F16, n)
	case BFloat16:
		return make([]BF16, n)
	case Float8E4M3FN:
		return make([]F8E4M3FN, n)
	case Float8E4M3FNUZ:
		return make([]F8E4M3FNUZ, n)
	case Float8E5M2:
		return make([]F8E5M2, n)
	case Float8E5M2FNUZ:
		return make([]F8E5M2FNUZ, n)
	case Float8E8M0:
		return make([]F8E8M0, n)
	case Float4E2M1:
		return make([]F4E2M1, n)
	case Int4:
		return make([]I4, n)
	case Uint4:
		return make([]U4, n)
	case Int2:
		return make([]I2, n)
	case Uint2:
		return make([]U2, n)
	}
	return nil
}
