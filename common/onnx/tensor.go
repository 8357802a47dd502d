package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/accel-go/accel/common"
)

// TensorProto field numbers.
const (
	tDims         = 1
	tDataType     = 2
	tSegment      = 3
	tFloatData    = 4
	tInt32Data    = 5
	tStringData   = 6
	tInt64Data    = 7
	tName         = 8
	tRawData      = 9
	tDoubleData   = 10
	tUint64Data   = 11
	tDocString    = 12
	tExternalData = 13
	tDataLocation = 14
)

func mathFloat32(v uint64) float32 { return math.Float32frombits(uint32(v)) }

// DecodeTensor decodes a TensorProto (such as a node test's input_0.pb).
// External data is not allowed.
func DecodeTensor(data []byte, lim common.Limits) (*common.Tensor, string, error) {
	d := newDecoder(lim)
	d.noExt = "external data is not allowed in a standalone tensor"
	if int64(len(data)) > d.lim.ModelBytes {
		return nil, "", limitf("tensor file has %d bytes, over the limit of %d", len(data), d.lim.ModelBytes)
	}
	t, name, err := d.tensor(data, 0)
	if err != nil {
		if name != "" {
			err = at(fmt.Sprintf("tensor %q", name), err)
		}
		return nil, name, err
	}
	return t, name, nil
}

// typedField says which TensorProto field holds values of dtype dt when
// raw_data is not used.
func typedField(dt common.DType) int {
	switch dt {
	case common.Float32:
		return tFloatData
	case common.Int64:
		return tInt64Data
	case common.Uint32, common.Uint64:
		return tUint64Data
	case common.Float64:
		return tDoubleData
	case common.String:
		return tStringData
	}
	return tInt32Data
}

// packedBytes is the raw_data size of n elements of dt.
func packedBytes(dt common.DType, n int) int {
	b := dt.Bits()
	if b >= 8 {
		return n * (b / 8)
	}
	return (n*b + 7) / 8
}

// tensor decodes a TensorProto. It returns the name (when decoded) even
// on error, for messages.
func (d *decoder) tensor(b []byte, base int) (*common.Tensor, string, error) {
	var (
		dims     []int
		dt       int32
		hasDT    bool
		name     string
		raw      []byte
		hasRaw   bool
		location int32
		ext      []extEntry
		counts   [16]int
	)
	it := newIter(b, base)
	var f field
	for it.next(&f) {
		var err error
		switch f.num {
		case tDims:
			err = f.eachVarint(func(v uint64) error {
				s := int64(v)
				if s < 0 {
					return errAt(f.off, common.ErrInvalidModel, "dim %d is negative (%d)", len(dims), s)
				}
				if len(dims) >= 64 {
					return errAt(f.off, common.ErrLimit, "tensor has more than 64 dims")
				}
				dims = append(dims, int(s))
				return nil
			})
		case tDataType:
			dt, err = f.int32()
			hasDT = true
		case tSegment:
			err = errAt(f.off, common.ErrUnsupported, "segmented tensors are not supported")
		case tFloatData:
			var n int
			n, err = f.countFixed(4)
			counts[tFloatData] += n
		case tInt32Data, tInt64Data, tUint64Data:
			var n int
			n, err = f.countVarints()
			counts[f.num] += n
		case tDoubleData:
			var n int
			n, err = f.countFixed(8)
			counts[tDoubleData] += n
		case tStringData:
			_, err = f.bytes()
			counts[tStringData]++
		case tName:
			name, err = f.str()
		case tRawData:
			raw, err = f.bytes()
			hasRaw = true
		case tExternalData:
			var k, v string
			k, v, err = stringEntry(&f)
			ext = append(ext, extEntry{k, v})
		case tDataLocation:
			location, err = f.int32()
		}
		if err != nil {
			return nil, name, err
		}
	}
	if it.err != nil {
		return nil, name, it.err
	}
	if !hasDT || dt == 0 {
		return nil, name, invalidf("tensor has no data_type")
	}
	dtype := common.DType(dt)
	if dtype == common.Complex64 || dtype == common.Complex128 {
		return nil, name, unsupportedf("%v tensors are not supported", dtype)
	}
	if !dtype.Valid() {
		return nil, name, invalidf("tensor has unknown data_type %d", dt)
	}
	shape := common.Shape(dims)
	n, err := d.lim.CheckTensor(dtype, shape)
	if err != nil {
		return nil, name, err
	}
	if dtype == common.String && (hasRaw || location == 1) {
		return nil, name, invalidf("string tensor must use string_data, not raw_data or external data")
	}
	want := typedField(dtype)
	for num, c := range counts {
		if c > 0 && num != want {
			return nil, name, invalidf("%s tensor has values in field %s, which is for other types", dtype, fieldName(num))
		}
	}
	var data any
	switch {
	case location == 1:
		if counts[want] > 0 || hasRaw {
			return nil, name, invalidf("tensor stored externally also has inline data")
		}
		raw, err = d.readExternal(ext, packedBytes(dtype, n))
		if err != nil {
			return nil, name, err
		}
		data, err = fromRaw(dtype, n, raw)
	case location != 0:
		return nil, name, invalidf("unknown data_location %d", location)
	case hasRaw:
		if counts[want] > 0 {
			return nil, name, invalidf("tensor has both raw_data and %s", fieldName(want))
		}
		data, err = fromRaw(dtype, n, raw)
	default:
		data, err = d.fromTyped(dtype, n, counts[want], b, base)
	}
	if err != nil {
		return nil, name, err
	}
	t, err := common.Wrap(dtype, shape, data)
	if err != nil {
		return nil, name, fmt.Errorf("%w: %v", common.ErrInvalidModel, err)
	}
	if t.Bytes() > d.lim.TensorBytes {
		return nil, name, limitf("tensor takes %d bytes, over the limit of %d", t.Bytes(), d.lim.TensorBytes)
	}
	return t, name, nil
}

func fieldName(num int) string {
	switch num {
	case tFloatData:
		return "float_data"
	case tInt32Data:
		return "int32_data"
	case tStringData:
		return "string_data"
	case tInt64Data:
		return "int64_data"
	case tDoubleData:
		return "double_data"
	case tUint64Data:
		return "uint64_data"
	}
	return strconv.Itoa(num)
}

// fromRaw converts little-endian raw bytes to n elements of dt.
func fromRaw(dt common.DType, n int, raw []byte) (any, error) {
	if want := packedBytes(dt, n); len(raw) != want {
		return nil, invalidf("raw_data has %d bytes, want %d for %d %v elements", len(raw), want, n, dt)
	}
	le := binary.LittleEndian
	switch dt {
	case common.Float32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out, nil
	case common.Float64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return out, nil
	case common.Int32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(raw[4*i:]))
		}
		return out, nil
	case common.Uint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(raw[4*i:])
		}
		return out, nil
	case common.Int64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
		return out, nil
	case common.Uint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(raw[8*i:])
		}
		return out, nil
	case common.Int16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(raw[2*i:]))
		}
		return out, nil
	case common.Uint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(raw[2*i:])
		}
		return out, nil
	case common.Float16:
		out := make([]common.F16, n)
		for i := range out {
			out[i] = common.F16(le.Uint16(raw[2*i:]))
		}
		return out, nil
	case common.BFloat16:
		out := make([]common.BF16, n)
		for i := range out {
			out[i] = common.BF16(le.Uint16(raw[2*i:]))
		}
		return out, nil
	case common.Int8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(raw[i])
		}
		return out, nil
	case common.Uint8:
		return append([]uint8(nil), raw...), nil
	case common.Bool:
		out := make([]bool, n)
		for i := range out {
			out[i] = raw[i] != 0
		}
		return out, nil
	case common.Float8E4M3FN:
		return bytesAs[common.F8E4M3FN](raw), nil
	case common.Float8E4M3FNUZ:
		return bytesAs[common.F8E4M3FNUZ](raw), nil
	case common.Float8E5M2:
		return bytesAs[common.F8E5M2](raw), nil
	case common.Float8E5M2FNUZ:
		return bytesAs[common.F8E5M2FNUZ](raw), nil
	case common.Float8E8M0:
		return bytesAs[common.F8E8M0](raw), nil
	}
	if dt.Bits() < 8 {
		return unpackSub(dt, n, raw), nil
	}
	return nil, unsupportedf("%v tensors are not supported", dt)
}

func bytesAs[T ~uint8](raw []byte) []T {
	out := make([]T, len(raw))
	for i, c := range raw {
		out[i] = T(c)
	}
	return out
}

// subValue extracts element i of packed sub-byte data (LSB first) as the
// raw bit pattern.
func subValue(bits int, packed []byte, i int) uint8 {
	per := 8 / bits
	c := packed[i/per]
	return (c >> (uint(i%per) * uint(bits))) & (1<<bits - 1)
}

// unpackSub unpacks n sub-byte elements of dt, one per byte,
// sign-extending the signed integer types.
func unpackSub(dt common.DType, n int, packed []byte) any {
	bits := dt.Bits()
	switch dt {
	case common.Int4:
		out := make([]common.I4, n)
		for i := range out {
			out[i] = common.I4(int8(subValue(bits, packed, i)<<4) >> 4)
		}
		return out
	case common.Int2:
		out := make([]common.I2, n)
		for i := range out {
			out[i] = common.I2(int8(subValue(bits, packed, i)<<6) >> 6)
		}
		return out
	case common.Uint4:
		out := make([]common.U4, n)
		for i := range out {
			out[i] = common.U4(subValue(bits, packed, i))
		}
		return out
	case common.Uint2:
		out := make([]common.U2, n)
		for i := range out {
			out[i] = common.U2(subValue(bits, packed, i))
		}
		return out
	case common.Float4E2M1:
		out := make([]common.F4E2M1, n)
		for i := range out {
			out[i] = common.F4E2M1(subValue(bits, packed, i))
		}
		return out
	}
	return nil
}

// subFromBits converts one sub-byte bit pattern into the element type.
func subFromBits(dt common.DType, v uint8, dst any, i int) {
	switch s := dst.(type) {
	case []common.I4:
		s[i] = common.I4(int8(v<<4) >> 4)
	case []common.I2:
		s[i] = common.I2(int8(v<<6) >> 6)
	case []common.U4:
		s[i] = common.U4(v)
	case []common.U2:
		s[i] = common.U2(v)
	case []common.F4E2M1:
		s[i] = common.F4E2M1(v)
	}
}

// fromTyped fills n elements of dt from the typed field in a second pass
// over the TensorProto. count is the number of values that field holds.
func (d *decoder) fromTyped(dt common.DType, n, count int, b []byte, base int) (any, error) {
	num := typedField(dt)
	if n == 0 {
		if count != 0 {
			return nil, invalidf("tensor has 0 elements but %d values in %s", count, fieldName(num))
		}
		return makeEmpty(dt), nil
	}
	if count == 0 {
		return nil, invalidf("tensor of %d %v elements has no data", n, dt)
	}
	sub := dt.Bits() < 8 && dt != common.String
	packed := false
	if count != n {
		if sub && count == packedBytes(dt, n) {
			packed = true
		} else {
			return nil, invalidf("%s has %d values, want %d for %v", fieldName(num), count, n, dt)
		}
	}
	var out any
	var pbytes []byte
	if packed {
		pbytes = make([]byte, 0, count)
	} else {
		z, err := common.NewZeros(dt, common.Shape{n}, 0)
		if err != nil {
			return nil, err
		}
		out = z.Raw()
	}
	i := 0
	it := newIter(b, base)
	var f field
	for it.next(&f) {
		if int(f.num) != num {
			continue
		}
		var err error
		switch num {
		case tFloatData:
			s := out.([]float32)
			err = f.eachFixed(4, func(v uint64) {
				if i < n {
					s[i] = mathFloat32(v)
				}
				i++
			})
		case tDoubleData:
			s := out.([]float64)
			err = f.eachFixed(8, func(v uint64) {
				if i < n {
					s[i] = math.Float64frombits(v)
				}
				i++
			})
		case tStringData:
			s := out.([]string)
			if i < n {
				s[i] = string(f.b)
			}
			i++
		case tInt64Data:
			s := out.([]int64)
			err = f.eachVarint(func(v uint64) error {
				if i < n {
					s[i] = int64(v)
				}
				i++
				return nil
			})
		case tUint64Data:
			err = f.eachVarint(func(v uint64) error {
				if i < n {
					switch s := out.(type) {
					case []uint64:
						s[i] = v
					case []uint32:
						if v > math.MaxUint32 {
							return errAt(f.off, common.ErrInvalidModel, "uint64_data value %d does not fit in uint32", v)
						}
						s[i] = uint32(v)
					}
				}
				i++
				return nil
			})
		case tInt32Data:
			err = f.eachVarint(func(v uint64) error {
				if i < count {
					if packed {
						pbytes = append(pbytes, uint8(v))
					} else {
						setInt32(dt, out, i, int32(v))
					}
				}
				i++
				return nil
			})
		}
		if err != nil {
			return nil, err
		}
	}
	if it.err != nil {
		return nil, it.err
	}
	if packed {
		return unpackSub(dt, n, pbytes), nil
	}
	return out, nil
}

func makeEmpty(dt common.DType) any {
	return common.Zeros(dt, common.Shape{0}).Raw()
}

// setInt32 stores an int32_data value (the bit pattern for float16,
// bfloat16 and float8 types) as element i.
func setInt32(dt common.DType, dst any, i int, v int32) {
	switch s := dst.(type) {
	case []int32:
		s[i] = v
	case []int16:
		s[i] = int16(v)
	case []int8:
		s[i] = int8(v)
	case []uint16:
		s[i] = uint16(v)
	case []uint8:
		s[i] = uint8(v)
	case []bool:
		s[i] = v != 0
	case []common.F16:
		s[i] = common.F16(v)
	case []common.BF16:
		s[i] = common.BF16(v)
	case []common.F8E4M3FN:
		s[i] = common.F8E4M3FN(v)
	case []common.F8E4M3FNUZ:
		s[i] = common.F8E4M3FNUZ(v)
	case []common.F8E5M2:
		s[i] = common.F8E5M2(v)
	case []common.F8E5M2FNUZ:
		s[i] = common.F8E5M2FNUZ(v)
	case []common.F8E8M0:
		s[i] = common.F8E8M0(v)
	default:
		subFromBits(dt, uint8(v)&(1<<dt.Bits()-1), dst, i)
	}
}

// sparseTensor decodes a SparseTensorProto into a dense tensor.
func (d *decoder) sparseTensor(b []byte, base int) (*common.Tensor, string, error) {
	var (
		values, indices *common.Tensor
		dims            []int
		err             error
	)
	name := ""
	it := newIter(b, base)
	var f field
	for it.next(&f) {
		switch f.num {
		case 1:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				values, name, err = d.tensor(bb, f.off)
				err = at("values", err)
			}
		case 2:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				indices, _, err = d.tensor(bb, f.off)
				err = at("indices", err)
			}
		case 3:
			err = f.eachVarint(func(v uint64) error {
				s := int64(v)
				if s < 0 {
					return errAt(f.off, common.ErrInvalidModel, "sparse tensor dim %d is negative (%d)", len(dims), s)
				}
				if len(dims) >= 64 {
					return errAt(f.off, common.ErrLimit, "sparse tensor has more than 64 dims")
				}
				dims = append(dims, int(min(s, math.MaxInt64/2)))
				return nil
			})
		}
		if err != nil {
			return nil, name, err
		}
	}
	if it.err != nil {
		return nil, name, it.err
	}
	if values == nil {
		return nil, name, invalidf("sparse tensor has no values")
	}
	shape := common.Shape(dims)
	total, err := d.lim.CheckTensor(values.DType(), shape)
	if err != nil {
		return nil, name, err
	}
	nnz := values.Len()
	if values.Rank() != 1 {
		return nil, name, invalidf("sparse tensor values must be 1-D, got shape %v", values.Shape())
	}
	dense := common.Zeros(values.DType(), shape)
	if nnz == 0 {
		return dense, name, nil
	}
	if indices == nil {
		return nil, name, invalidf("sparse tensor has values but no indices")
	}
	if indices.DType() != common.Int64 {
		return nil, name, invalidf("sparse tensor indices must be int64, got %v", indices.DType())
	}
	idx := common.Data[int64](indices)
	rank := len(shape)
	var linear func(k int) (int64, error)
	switch {
	case indices.Rank() == 1 && indices.Len() == nnz:
		linear = func(k int) (int64, error) { return idx[k], nil }
	case indices.Rank() == 2 && indices.Shape()[0] == nnz && indices.Shape()[1] == rank:
		strides := shape.Strides()
		linear = func(k int) (int64, error) {
			var off int64
			for a := 0; a < rank; a++ {
				v := idx[k*rank+a]
				if v < 0 || v >= int64(shape[a]) {
					return 0, invalidf("sparse index %d of element %d is out of range for dim %d", v, k, shape[a])
				}
				off += v * int64(strides[a])
			}
			return off, nil
		}
	default:
		return nil, name, invalidf("sparse tensor indices have shape %v, want [%d] or [%d %d]", indices.Shape(), nnz, nnz, rank)
	}
	dv := reflect.ValueOf(dense.Raw())
	sv := reflect.ValueOf(values.Raw())
	for k := 0; k < nnz; k++ {
		off, err := linear(k)
		if err != nil {
			return nil, name, err
		}
		if off < 0 || off >= int64(total) {
			return nil, name, invalidf("sparse index %d is out of range for %d elements", off, total)
		}
		dv.Index(int(off)).Set(sv.Index(k))
	}
	return dense, name, nil
}

// extEntry is one external_data key/value pair.
type extEntry struct{ key, value string }
