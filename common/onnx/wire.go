// Package onnx reads and writes ONNX models (ModelProto), tensors
// (TensorProto) and values (SequenceProto, OptionalProto) in the protobuf
// wire format, into the IR of package common. It also offers a Builder to
// make models from Go.
//
// Decoding treats its input as untrusted: every length, count and shape is
// checked against common.Limits before the memory it implies is
// allocated, and every error wraps common.ErrInvalidModel,
// common.ErrUnsupported or common.ErrLimit and says where in the file the
// problem is.
package onnx

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/accel-go/accel/common"
)

// DecodeError locates a decoding problem: the field path inside the
// message (such as `graph.node[3](conv1).attribute[pads]`) and, when
// known, the byte offset in the input.
type DecodeError struct {
	Path   string
	Offset int // -1 when unknown
	Err    error
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("onnx: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (at byte %d)", e.Offset)
	}
	return b.String()
}

// Unwrap returns the underlying error (which wraps a common sentinel).
func (e *DecodeError) Unwrap() error { return e.Err }

// maxPath bounds the length of an error's field path.
const maxPath = 300

// at prefixes err's path with seg.
func at(seg string, err error) error {
	if err == nil {
		return nil
	}
	var de *DecodeError
	if errors.As(err, &de) {
		switch {
		case len(de.Path) > maxPath:
			// Keep the innermost part of very deep paths.
			if !strings.HasPrefix(de.Path, "...") {
				de.Path = "..." + de.Path
			}
		case de.Path == "":
			de.Path = seg
		case strings.HasPrefix(de.Path, "["):
			de.Path = seg + de.Path
		default:
			de.Path = seg + "." + de.Path
		}
		return err
	}
	return &DecodeError{Path: seg, Offset: -1, Err: err}
}

// errAt makes an error of the given kind at a byte offset.
func errAt(off int, kind error, format string, args ...any) error {
	return &DecodeError{Offset: off, Err: fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))}
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", common.ErrInvalidModel, fmt.Sprintf(format, args...))
}

func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", common.ErrUnsupported, fmt.Sprintf(format, args...))
}

func limitf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", common.ErrLimit, fmt.Sprintf(format, args...))
}

// field is one decoded field of a message.
type field struct {
	num protowire.Number
	typ protowire.Type
	u   uint64 // varint, fixed32 or fixed64 value
	b   []byte // bytes value
	off int    // absolute offset of the value (after any length prefix)
}

// iter walks the fields of one message. base is the absolute offset of
// the message's first byte in the whole input.
type iter struct {
	b    []byte
	pos  int
	base int
	err  error
}

func newIter(b []byte, base int) iter { return iter{b: b, base: base} }

func wireErr(off, code int, what string) error {
	return errAt(off, common.ErrInvalidModel, "malformed %s: %v", what, protowire.ParseError(code))
}

// next decodes the next field into f. It returns false at the end of the
// message or on an error (then it.err is set).
func (it *iter) next(f *field) bool {
	if it.err != nil || it.pos >= len(it.b) {
		return false
	}
	rest := it.b[it.pos:]
	num, typ, n := protowire.ConsumeTag(rest)
	if n < 0 {
		it.err = wireErr(it.base+it.pos, n, "field tag")
		return false
	}
	valStart := it.pos + n
	rest = rest[n:]
	f.num, f.typ, f.u, f.b = num, typ, 0, nil
	f.off = it.base + valStart
	switch typ {
	case protowire.VarintType:
		v, m := protowire.ConsumeVarint(rest)
		if m < 0 {
			it.err = wireErr(f.off, m, fmt.Sprintf("varint of field %d", num))
			return false
		}
		f.u, n = v, m
	case protowire.Fixed32Type:
		v, m := protowire.ConsumeFixed32(rest)
		if m < 0 {
			it.err = wireErr(f.off, m, fmt.Sprintf("fixed32 of field %d", num))
			return false
		}
		f.u, n = uint64(v), m
	case protowire.Fixed64Type:
		v, m := protowire.ConsumeFixed64(rest)
		if m < 0 {
			it.err = wireErr(f.off, m, fmt.Sprintf("fixed64 of field %d", num))
			return false
		}
		f.u, n = v, m
	case protowire.BytesType:
		v, m := protowire.ConsumeBytes(rest)
		if m < 0 {
			it.err = errAt(f.off, common.ErrInvalidModel, "length of field %d runs past the end of its message (%v)", num, protowire.ParseError(m))
			return false
		}
		f.b, n = v, m
		f.off += m - len(v)
	case protowire.StartGroupType:
		m := protowire.ConsumeFieldValue(num, typ, rest)
		if m < 0 {
			it.err = wireErr(f.off, m, fmt.Sprintf("group of field %d", num))
			return false
		}
		n = m
	default:
		it.err = errAt(f.off, common.ErrInvalidModel, "invalid wire type %d for field %d", typ, num)
		return false
	}
	it.pos = valStart + n
	return true
}

func (f *field) wrongType(want string) error {
	return errAt(f.off, common.ErrInvalidModel, "field %d has wire type %d, want %s", f.num, f.typ, want)
}

func (f *field) varint() (uint64, error) {
	if f.typ != protowire.VarintType {
		return 0, f.wrongType("varint")
	}
	return f.u, nil
}

func (f *field) int64() (int64, error) {
	v, err := f.varint()
	return int64(v), err
}

// int32 reads an int32/enum varint (negative values are sign-extended to
// 64 bits on the wire).
func (f *field) int32() (int32, error) {
	v, err := f.varint()
	if err != nil {
		return 0, err
	}
	s := int64(v)
	if s < math.MinInt32 || s > math.MaxInt32 {
		return 0, errAt(f.off, common.ErrInvalidModel, "field %d value %d does not fit in int32", f.num, s)
	}
	return int32(s), nil
}

func (f *field) bytes() ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, f.wrongType("length-delimited")
	}
	return f.b, nil
}

func (f *field) str() (string, error) {
	b, err := f.bytes()
	return string(b), err
}

func (f *field) float32() (float32, error) {
	if f.typ != protowire.Fixed32Type {
		return 0, f.wrongType("fixed32")
	}
	return math.Float32frombits(uint32(f.u)), nil
}

// countVarints counts the values of a repeated varint field occurrence
// (packed or not) without allocating.
func (f *field) countVarints() (int, error) {
	switch f.typ {
	case protowire.VarintType:
		return 1, nil
	case protowire.BytesType:
		n := 0
		for _, c := range f.b {
			if c < 0x80 {
				n++
			}
		}
		if len(f.b) > 0 && f.b[len(f.b)-1] >= 0x80 {
			return 0, errAt(f.off, common.ErrInvalidModel, "packed varints of field %d end in the middle of a value", f.num)
		}
		return n, nil
	}
	return 0, f.wrongType("varint or packed varints")
}

// eachVarint calls fn for each value of a repeated varint field
// occurrence, packed or not.
func (f *field) eachVarint(fn func(uint64) error) error {
	switch f.typ {
	case protowire.VarintType:
		return fn(f.u)
	case protowire.BytesType:
		b := f.b
		for len(b) > 0 {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return wireErr(f.off+len(f.b)-len(b), n, fmt.Sprintf("packed varint of field %d", f.num))
			}
			if err := fn(v); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	}
	return f.wrongType("varint or packed varints")
}

// countFixed counts the values of a repeated fixed-width field occurrence
// (size 4 or 8), packed or not.
func (f *field) countFixed(size int) (int, error) {
	want := protowire.Fixed32Type
	if size == 8 {
		want = protowire.Fixed64Type
	}
	switch f.typ {
	case want:
		return 1, nil
	case protowire.BytesType:
		if len(f.b)%size != 0 {
			return 0, errAt(f.off, common.ErrInvalidModel, "packed field %d has %d bytes, not a multiple of %d", f.num, len(f.b), size)
		}
		return len(f.b) / size, nil
	}
	return 0, f.wrongType(fmt.Sprintf("fixed%d or packed", size*8))
}

// eachFixed calls fn for each value of a repeated fixed-width field
// occurrence (size 4 or 8), packed or not.
func (f *field) eachFixed(size int, fn func(uint64)) error {
	if _, err := f.countFixed(size); err != nil {
		return err
	}
	if f.typ != protowire.BytesType {
		fn(f.u)
		return nil
	}
	for i := 0; i+size <= len(f.b); i += size {
		if size == 4 {
			v, _ := protowire.ConsumeFixed32(f.b[i:])
			fn(uint64(v))
		} else {
			v, _ := protowire.ConsumeFixed64(f.b[i:])
			fn(v)
		}
	}
	return nil
}
