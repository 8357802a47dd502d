package common

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Shape is a tensor's dimensions, outermost first. A nil or empty Shape is
// a scalar.
type Shape []int

// NumElements is the product of the dims, or an error wrapping ErrShape or
// ErrLimit when a dim is negative or the product overflows max (use 0 for
// no bound beyond the int range).
func (s Shape) NumElements(max int64) (int, error) {
	n := uint64(1)
	for i, d := range s {
		if d < 0 {
			return 0, fmt.Errorf("%w: dim %d of %v is negative", ErrShape, i, []int(s))
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("%w: shape %v has more than 2^63 elements", ErrLimit, []int(s))
		}
		n = lo
	}
	for _, d := range s {
		if d == 0 {
			n = 0
		}
	}
	if max > 0 && n > uint64(max) {
		return 0, fmt.Errorf("%w: shape %v has %d elements, over the limit of %d", ErrLimit, []int(s), n, max)
	}
	return int(n), nil
}

// Size is the element count of a shape already known to be valid (a
// shape with a zero dim has size 0 whatever its other dims).
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		if d == 0 {
			return 0
		}
		n *= d
	}
	return n
}

// Equal reports whether two shapes have the same dims.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s.
func (s Shape) Clone() Shape { return append(Shape{}, s...) }

// Strides returns the row-major element strides of s.
func (s Shape) Strides() []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Tensor is a dense tensor in host memory. Its data is a Go slice of the
// element type (see Elem); sub-byte types are held unpacked, one element
// per byte. A Tensor may share its data with another (a view); kernels
// never write into their inputs.
type Tensor struct {
	dtype DType
	shape Shape
	data  any
}

// Value is what flows along a graph edge: a *Tensor, a *Sequence or an
// *Optional.
type Value interface{ isValue() }

func (*Tensor) isValue() {}

// Sequence is an ONNX sequence value: an ordered list of tensors (or of
// other values) of one element type.
type Sequence struct {
	Elem   TypeInfo // type of each element
	Values []Value
}

func (*Sequence) isValue() {}

// Optional is an ONNX optional value; Value is nil when it holds nothing.
type Optional struct {
	Elem  TypeInfo
	Value Value
}

func (*Optional) isValue() {}

// NewTensor makes a tensor of the given shape over data, which it keeps
// (no copy). It panics if len(data) does not match the shape: it is meant
// for literals in programs and tests. Use FromSlice for untrusted sizes.
func NewTensor[T Elem](shape Shape, data []T) *Tensor {
	t, err := FromSlice(shape, data)
	if err != nil {
		panic(err)
	}
	return t
}

// FromSlice is NewTensor with an error instead of a panic.
func FromSlice[T Elem](shape Shape, data []T) (*Tensor, error) {
	d := DTypeOf[T]()
	n, err := shape.NumElements(0)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("%w: shape %v needs %d elements, got %d", ErrShape, shape, n, len(data))
	}
	return &Tensor{dtype: d, shape: shape.Clone(), data: data}, nil
}

// Scalar makes a rank-0 tensor holding v.
func Scalar[T Elem](v T) *Tensor { return &Tensor{dtype: DTypeOf[T](), data: []T{v}} }

// Zeros allocates a zero-filled tensor. The caller has checked the size.
func Zeros(d DType, shape Shape) *Tensor {
	return &Tensor{dtype: d, shape: shape.Clone(), data: makeSlice(d, shape.Size())}
}

// NewZeros is Zeros with validation of the dtype and the shape against a
// limit on elements (0: none).
func NewZeros(d DType, shape Shape, maxElems int64) (*Tensor, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("%w: unsupported element type %v", ErrUnsupported, d)
	}
	if _, err := shape.NumElements(maxElems); err != nil {
		return nil, err
	}
	return Zeros(d, shape), nil
}

// Wrap makes a tensor over an existing slice (any []T of an Elem type,
// matching d). It checks the dtype and the length.
func Wrap(d DType, shape Shape, data any) (*Tensor, error) {
	n, err := shape.NumElements(0)
	if err != nil {
		return nil, err
	}
	probe := makeSlice(d, 0)
	if probe == nil {
		return nil, fmt.Errorf("%w: unsupported element type %v", ErrUnsupported, d)
	}
	if fmt.Sprintf("%T", probe) != fmt.Sprintf("%T", data) {
		return nil, fmt.Errorf("%w: %v tensor cannot hold %T", ErrShape, d, data)
	}
	if l := sliceLen(data); l != n {
		return nil, fmt.Errorf("%w: shape %v needs %d elements, got %d", ErrShape, shape, n, l)
	}
	return &Tensor{dtype: d, shape: shape.Clone(), data: data}, nil
}

// DType is the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape is the tensor's shape. Callers must not modify it.
func (t *Tensor) Shape() Shape { return t.shape }

// Rank is len(Shape()).
func (t *Tensor) Rank() int { return len(t.shape) }

// Len is the number of elements.
func (t *Tensor) Len() int { return sliceLen(t.data) }

// Raw is the underlying slice ([]float32, []F16, ...).
func (t *Tensor) Raw() any { return t.data }

// Bytes is the host memory the tensor's data takes.
func (t *Tensor) Bytes() int64 {
	if t.dtype == String {
		var n int64
		for _, s := range t.data.([]string) {
			n += int64(len(s)) + 16
		}
		return n
	}
	return int64(t.Len()) * int64(t.dtype.Size())
}

// Data returns the tensor's elements as a []T, sharing memory. It panics if
// T is not the tensor's element type.
func Data[T Elem](t *Tensor) []T {
	s, ok := t.data.([]T)
	if !ok {
		panic(fmt.Sprintf("accel: Data[%T] on a %v tensor", *new(T), t.dtype))
	}
	return s
}

// TryData is Data with an ok result instead of a panic.
func TryData[T Elem](t *Tensor) ([]T, bool) {
	s, ok := t.data.([]T)
	return s, ok
}

// Reshape returns a view of t with another shape of the same size.
func (t *Tensor) Reshape(shape Shape) (*Tensor, error) {
	n, err := shape.NumElements(0)
	if err != nil {
		return nil, err
	}
	if n != t.Len() {
		return nil, fmt.Errorf("%w: cannot reshape %v (%d elements) to %v", ErrShape, t.shape, t.Len(), shape)
	}
	return &Tensor{dtype: t.dtype, shape: shape.Clone(), data: t.data}, nil
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := Zeros(t.dtype, t.shape)
	copySlice(c.data, t.data)
	return c
}

// String summarises the tensor: dtype, shape and the first few values.
func (t *Tensor) String() string {
	n := t.Len()
	show := n
	if show > 8 {
		show = 8
	}
	vals := make([]string, show)
	for i := 0; i < show; i++ {
		vals[i] = fmt.Sprint(t.At(i))
	}
	more := ""
	if n > show {
		more = " ..."
	}
	return fmt.Sprintf("%v%v{%s%s}", t.dtype, t.shape, strings.Join(vals, " "), more)
}

// At returns element i (flat index) as a Go value: float64 for every float
// type (decoded), int64/uint64 for integers, bool, or string.
func (t *Tensor) At(i int) any {
	switch s := t.data.(type) {
	case []string:
		return s[i]
	case []bool:
		return s[i]
	}
	if t.dtype.IsFloat() {
		return t.Float(i)
	}
	switch s := t.data.(type) {
	case []uint8:
		return uint64(s[i])
	case []uint16:
		return uint64(s[i])
	case []uint32:
		return uint64(s[i])
	case []uint64:
		return s[i]
	case []U4:
		return uint64(s[i])
	case []U2:
		return uint64(s[i])
	}
	return t.Int(i)
}

// Float returns element i converted to float64 (bools as 0/1, strings 0).
func (t *Tensor) Float(i int) float64 {
	switch s := t.data.(type) {
	case []float32:
		return float64(s[i])
	case []float64:
		return s[i]
	case []F16:
		return float64(s[i].Float32())
	case []BF16:
		return float64(s[i].Float32())
	case []F8E4M3FN:
		return float64(s[i].Float32())
	case []F8E4M3FNUZ:
		return float64(s[i].Float32())
	case []F8E5M2:
		return float64(s[i].Float32())
	case []F8E5M2FNUZ:
		return float64(s[i].Float32())
	case []F8E8M0:
		return float64(s[i].Float32())
	case []F4E2M1:
		return float64(s[i].Float32())
	case []uint64:
		return float64(s[i])
	case []uint32:
		return float64(s[i])
	case []uint16:
		return float64(s[i])
	case []uint8:
		return float64(s[i])
	case []U4:
		return float64(s[i])
	case []U2:
		return float64(s[i])
	case []bool:
		if s[i] {
			return 1
		}
		return 0
	case []string:
		return 0
	}
	return float64(t.Int(i))
}

// Int returns element i converted to int64 (floats truncate).
func (t *Tensor) Int(i int) int64 {
	switch s := t.data.(type) {
	case []int64:
		return s[i]
	case []int32:
		return int64(s[i])
	case []int16:
		return int64(s[i])
	case []int8:
		return int64(s[i])
	case []I4:
		return int64(s[i])
	case []I2:
		return int64(s[i])
	case []uint8:
		return int64(s[i])
	case []uint16:
		return int64(s[i])
	case []uint32:
		return int64(s[i])
	case []uint64:
		return int64(s[i])
	case []U4:
		return int64(s[i])
	case []U2:
		return int64(s[i])
	case []bool:
		if s[i] {
			return 1
		}
		return 0
	case []string:
		return 0
	}
	return int64(t.Float(i))
}

// Ints returns all elements as int64 (for shape-like tensors).
func (t *Tensor) Ints() []int64 {
	out := make([]int64, t.Len())
	for i := range out {
		out[i] = t.Int(i)
	}
	return out
}

// Floats returns all elements as float64.
func (t *Tensor) Floats() []float64 {
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.Float(i)
	}
	return out
}

func sliceLen(s any) int {
	switch v := s.(type) {
	case []float32:
		return len(v)
	case []float64:
		return len(v)
	case []int8:
		return len(v)
	case []int16:
		return len(v)
	case []int32:
		return len(v)
	case []int64:
		return len(v)
	case []uint8:
		return len(v)
	case []uint16:
		return len(v)
	case []uint32:
		return len(v)
	case []uint64:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []F16:
		return len(v)
	case []BF16:
		return len(v)
	case []F8E4M3FN:
		return len(v)
	case []F8E4M3FNUZ:
		return len(v)
	case []F8E5M2:
		return len(v)
	case []F8E5M2FNUZ:
		return len(v)
	case []F8E8M0:
		return len(v)
	case []F4E2M1:
		return len(v)
	case []I4:
		return len(v)
	case []U4:
		return len(v)
	case []I2:
		return len(v)
	case []U2:
		return len(v)
	}
	return 0
}

// copySlice copies src into dst; both are slices of the same type.
func copySlice(dst, src any) int {
	switch d := dst.(type) {
	case []float32:
		return copy(d, src.([]float32))
	case []float64:
		return copy(d, src.([]float64))
	case []int8:
		return copy(d, src.([]int8))
	case []int16:
		return copy(d, src.([]int16))
	case []int32:
		return copy(d, src.([]int32))
	case []int64:
		return copy(d, src.([]int64))
	case []uint8:
		return copy(d, src.([]uint8))
	case []uint16:
		return copy(d, src.([]uint16))
	case []uint32:
		return copy(d, src.([]uint32))
	case []uint64:
		return copy(d, src.([]uint64))
	case []bool:
		return copy(d, src.([]bool))
	case []string:
		return copy(d, src.([]string))
	case []F16:
		return copy(d, src.([]F16))
	case []BF16:
		return copy(d, src.([]BF16))
	case []F8E4M3FN:
		return copy(d, src.([]F8E4M3FN))
	case []F8E4M3FNUZ:
		return copy(d, src.([]F8E4M3FNUZ))
	case []F8E5M2:
		return copy(d, src.([]F8E5M2))
	case []F8E5M2FNUZ:
		return copy(d, src.([]F8E5M2FNUZ))
	case []F8E8M0:
		return copy(d, src.([]F8E8M0))
	case []F4E2M1:
		return copy(d, src.([]F4E2M1))
	case []I4:
		return copy(d, src.([]I4))
	case []U4:
		return copy(d, src.([]U4))
	case []I2:
		return copy(d, src.([]I2))
	case []U2:
		return copy(d, src.([]U2))
	}
	return 0
}

// CopyInto copies src's elements into dst starting at element offset off.
// Both tensors must have the same dtype.
func CopyInto(dst *Tensor, off int, src *Tensor) {
	copySlice(SliceRange(dst, off, off+src.Len()), src.data)
}

// SliceRange returns the sub-slice [lo:hi) of t's flat data, sharing memory.
func SliceRange(t *Tensor, lo, hi int) any {
	switch v := t.data.(type) {
	case []float32:
		return v[lo:hi]
	case []float64:
		return v[lo:hi]
	case []int8:
		return v[lo:hi]
	case []int16:
		return v[lo:hi]
	case []int32:
		return v[lo:hi]
	case []int64:
		return v[lo:hi]
	case []uint8:
		return v[lo:hi]
	case []uint16:
		return v[lo:hi]
	case []uint32:
		return v[lo:hi]
	case []uint64:
		return v[lo:hi]
	case []bool:
		return v[lo:hi]
	case []string:
		return v[lo:hi]
	case []F16:
		return v[lo:hi]
	case []BF16:
		return v[lo:hi]
	case []F8E4M3FN:
		return v[lo:hi]
	case []F8E4M3FNUZ:
		return v[lo:hi]
	case []F8E5M2:
		return v[lo:hi]
	case []F8E5M2FNUZ:
		return v[lo:hi]
	case []F8E8M0:
		return v[lo:hi]
	case []F4E2M1:
		return v[lo:hi]
	case []I4:
		return v[lo:hi]
	case []U4:
		return v[lo:hi]
	case []I2:
		return v[lo:hi]
	case []U2:
		return v[lo:hi]
	}
	return nil
}

// SubTensor returns a view of t's elements [lo:hi) with the given shape.
func SubTensor(t *Tensor, lo, hi int, shape Shape) *Tensor {
	return &Tensor{dtype: t.dtype, shape: shape.Clone(), data: SliceRange(t, lo, hi)}
}

// ValueBytes is the host memory a value holds.
func ValueBytes(v Value) int64 {
	switch x := v.(type) {
	case *Tensor:
		return x.Bytes()
	case *Sequence:
		var n int64
		for _, e := range x.Values {
			n += ValueBytes(e)
		}
		return n
	case *Optional:
		if x.Value != nil {
			return ValueBytes(x.Value)
		}
	}
	return 0
}
