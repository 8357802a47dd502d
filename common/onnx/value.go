package onnx

import (
	"fmt"

	"github.com/accel-go/accel/common"
)

// SequenceProto / OptionalProto elem_type values.
const (
	elemUndefined = 0
	elemTensor    = 1
	elemSparse    = 2
	elemSequence  = 3
	elemMap       = 4
	elemOptional  = 5
)

// DecodeValue decodes a TensorProto, SequenceProto or OptionalProto,
// chosen by typ.Kind (KindUnknown is read as a tensor). It returns the
// value and the name stored in the message.
func DecodeValue(data []byte, typ common.TypeInfo, lim common.Limits) (common.Value, string, error) {
	d := newDecoder(lim)
	d.noExt = "external data is not allowed in a value file"
	if int64(len(data)) > d.lim.ModelBytes {
		return nil, "", limitf("value file has %d bytes, over the limit of %d", len(data), d.lim.ModelBytes)
	}
	v, name, err := d.value(data, 0, typ.Kind, &typ, 0)
	if err != nil {
		return nil, name, err
	}
	return v, name, nil
}

// LoadValue reads a value file (such as a node test's output_0.pb) and
// decodes it with DecodeValue.
func LoadValue(path string, typ common.TypeInfo, lim common.Limits) (common.Value, string, error) {
	l := lim.WithDefaults()
	data, err := readFileLimited(path, l.ModelBytes)
	if err != nil {
		return nil, "", err
	}
	v, name, err := DecodeValue(data, typ, lim)
	if err != nil {
		return nil, name, fmt.Errorf("%s: %w", path, err)
	}
	return v, name, nil
}

func kindOfElem(e int32) (common.TypeKind, error) {
	switch e {
	case elemTensor:
		return common.KindTensor, nil
	case elemSequence:
		return common.KindSequence, nil
	case elemOptional:
		return common.KindOptional, nil
	case elemSparse:
		return common.KindSparseTensor, nil
	case elemMap:
		return common.KindMap, nil
	}
	return common.KindUnknown, invalidf("unknown elem_type %d", e)
}

// value decodes a value message of the given kind. typ, when not nil, is
// the declared type (its Elem guides nested values).
func (d *decoder) value(b []byte, base int, kind common.TypeKind, typ *common.TypeInfo, depth int) (common.Value, string, error) {
	if depth > d.lim.SubgraphDepth {
		return nil, "", limitf("values nested deeper than the limit of %d", d.lim.SubgraphDepth)
	}
	switch kind {
	case common.KindUnknown, common.KindTensor:
		t, name, err := d.tensor(b, base)
		if err != nil {
			return nil, name, err
		}
		return t, name, nil
	case common.KindSparseTensor:
		t, name, err := d.sparseTensor(b, base)
		if err != nil {
			return nil, name, err
		}
		return t, name, nil
	case common.KindSequence:
		return d.sequence(b, base, typ, depth)
	case common.KindOptional:
		return d.optional(b, base, typ, depth)
	}
	return nil, "", unsupportedf("%v values are not supported", typ)
}

func elemOf(typ *common.TypeInfo) *common.TypeInfo {
	if typ == nil {
		return nil
	}
	return typ.Elem
}

// valueType describes a decoded value, for sequences and optionals whose
// declared element type is not known.
func valueType(v common.Value) common.TypeInfo {
	switch x := v.(type) {
	case *common.Tensor:
		return common.TypeInfo{Kind: common.KindTensor, DType: x.DType()}
	case *common.Sequence:
		e := x.Elem
		return common.TypeInfo{Kind: common.KindSequence, Elem: &e}
	case *common.Optional:
		e := x.Elem
		return common.TypeInfo{Kind: common.KindOptional, Elem: &e}
	}
	return common.TypeInfo{}
}

func (d *decoder) sequence(b []byte, base int, typ *common.TypeInfo, depth int) (common.Value, string, error) {
	seq := &common.Sequence{}
	var name string
	elem := int32(elemUndefined)
	it := newIter(b, base)
	var f field
	var etyp *common.TypeInfo = elemOf(typ)
	i := 0
	for it.next(&f) {
		var err error
		var kind common.TypeKind
		switch f.num {
		case 1:
			name, err = f.str()
		case 2:
			elem, err = f.int32()
		case 3:
			kind = common.KindTensor
		case 4:
			kind = common.KindSparseTensor
		case 5:
			kind = common.KindSequence
		case 6:
			err = errAt(f.off, common.ErrUnsupported, "map values are not supported")
		case 7:
			kind = common.KindOptional
		}
		if err != nil {
			return nil, name, err
		}
		if kind == common.KindUnknown {
			continue
		}
		bb, err := f.bytes()
		if err != nil {
			return nil, name, err
		}
		v, _, err := d.value(bb, f.off, kind, etyp, depth+1)
		if err != nil {
			return nil, name, at(fmt.Sprintf("sequence[%d]", i), err)
		}
		i++
		seq.Values = append(seq.Values, v)
	}
	if it.err != nil {
		return nil, name, it.err
	}
	if seq.Values == nil {
		seq.Values = []common.Value{}
	}
	switch {
	case etyp != nil:
		seq.Elem = *etyp
	case len(seq.Values) > 0:
		seq.Elem = valueType(seq.Values[0])
	default:
		if elem != elemUndefined {
			k, err := kindOfElem(elem)
			if err != nil {
				return nil, name, err
			}
			seq.Elem = common.TypeInfo{Kind: k}
		}
	}
	return seq, name, nil
}

func (d *decoder) optional(b []byte, base int, typ *common.TypeInfo, depth int) (common.Value, string, error) {
	opt := &common.Optional{}
	var name string
	elem := int32(elemUndefined)
	it := newIter(b, base)
	var f field
	etyp := elemOf(typ)
	for it.next(&f) {
		var err error
		var kind common.TypeKind
		switch f.num {
		case 1:
			name, err = f.str()
		case 2:
			elem, err = f.int32()
		case 3:
			kind = common.KindTensor
		case 4:
			kind = common.KindSparseTensor
		case 5:
			kind = common.KindSequence
		case 6:
			err = errAt(f.off, common.ErrUnsupported, "map values are not supported")
		case 7:
			kind = common.KindOptional
		}
		if err != nil {
			return nil, name, err
		}
		if kind == common.KindUnknown {
			continue
		}
		bb, err := f.bytes()
		if err != nil {
			return nil, name, err
		}
		v, _, err := d.value(bb, f.off, kind, etyp, depth+1)
		if err != nil {
			return nil, name, at("optional", err)
		}
		opt.Value = v
	}
	if it.err != nil {
		return nil, name, it.err
	}
	switch {
	case etyp != nil:
		opt.Elem = *etyp
	case opt.Value != nil:
		opt.Elem = valueType(opt.Value)
	default:
		if elem != elemUndefined {
			k, err := kindOfElem(elem)
			if err != nil {
				return nil, name, err
			}
			opt.Elem = common.TypeInfo{Kind: k}
		}
	}
	return opt, name, nil
}
