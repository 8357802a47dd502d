package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/accel-go/accel/common"
)

// The encoder writes fields in a fixed order and map entries sorted, so
// encoding the same model twice gives the same bytes.

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendPackedVarints(b []byte, num protowire.Number, vs []int64) []byte {
	if len(vs) == 0 {
		return b
	}
	size := 0
	for _, v := range vs {
		size += protowire.SizeVarint(uint64(v))
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return b
}

// EncodeModel encodes m as a ModelProto. Tensors are written as raw_data
// (string tensors as string_data); nothing is written as external data.
func EncodeModel(m *common.Model) ([]byte, error) {
	if m == nil || m.Graph == nil {
		return nil, fmt.Errorf("%w: model has no graph", common.ErrInvalidModel)
	}
	var b []byte
	b = appendVarintField(b, 1, uint64(m.IRVersion))
	if m.ProducerName != "" {
		b = appendStringField(b, 2, m.ProducerName)
	}
	if m.ProducerVersion != "" {
		b = appendStringField(b, 3, m.ProducerVersion)
	}
	if m.Domain != "" {
		b = appendStringField(b, 4, m.Domain)
	}
	if m.ModelVersion != 0 {
		b = appendVarintField(b, 5, uint64(m.ModelVersion))
	}
	if m.Doc != "" {
		b = appendStringField(b, 6, m.Doc)
	}
	g, err := encodeGraph(m.Graph)
	if err != nil {
		return nil, err
	}
	b = appendBytesField(b, 7, g)
	b = appendOpsets(b, 8, m.Opsets)
	for _, k := range sortedKeys(m.Metadata) {
		var e []byte
		e = appendStringField(e, 1, k)
		e = appendStringField(e, 2, m.Metadata[k])
		b = appendBytesField(b, 14, e)
	}
	for _, fn := range m.Functions {
		fb, err := encodeFunction(fn)
		if err != nil {
			return nil, err
		}
		b = appendBytesField(b, 25, fb)
	}
	return b, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func appendOpsets(b []byte, num protowire.Number, ops map[string]int64) []byte {
	for _, dom := range sortedKeys(ops) {
		var e []byte
		if dom != "" {
			e = appendStringField(e, 1, dom)
		}
		e = appendVarintField(e, 2, uint64(ops[dom]))
		b = appendBytesField(b, num, e)
	}
	return b
}

func encodeGraph(g *common.Graph) ([]byte, error) {
	var b []byte
	for _, n := range g.Nodes {
		nb, err := encodeNode(n)
		if err != nil {
			return nil, err
		}
		b = appendBytesField(b, 1, nb)
	}
	if g.Name != "" {
		b = appendStringField(b, 2, g.Name)
	}
	seen := make(map[string]bool, len(g.InitOrder))
	order := make([]string, 0, len(g.Initializers))
	for _, k := range g.InitOrder {
		if _, ok := g.Initializers[k]; ok && !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	for _, k := range sortedKeys(g.Initializers) {
		if !seen[k] {
			order = append(order, k)
		}
	}
	for _, k := range order {
		tb, err := EncodeTensor(g.Initializers[k], k)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", k, err)
		}
		b = appendBytesField(b, 5, tb)
	}
	if g.Doc != "" {
		b = appendStringField(b, 10, g.Doc)
	}
	for _, v := range g.Inputs {
		b = appendBytesField(b, 11, encodeValueInfo(v))
	}
	for _, v := range g.Outputs {
		b = appendBytesField(b, 12, encodeValueInfo(v))
	}
	for _, k := range sortedKeys(g.ValueInfo) {
		v := g.ValueInfo[k]
		v.Name = k
		b = appendBytesField(b, 13, encodeValueInfo(v))
	}
	return b, nil
}

func encodeNode(n *common.Node) ([]byte, error) {
	var b []byte
	for _, s := range n.Inputs {
		b = appendStringField(b, 1, s)
	}
	for _, s := range n.Outputs {
		b = appendStringField(b, 2, s)
	}
	if n.Name != "" {
		b = appendStringField(b, 3, n.Name)
	}
	b = appendStringField(b, 4, n.OpType)
	for _, k := range sortedKeys(n.Attrs) {
		ab, err := encodeAttr(n.Attrs[k], k)
		if err != nil {
			return nil, fmt.Errorf("node %q attribute %q: %w", n.Label(), k, err)
		}
		b = appendBytesField(b, 5, ab)
	}
	if n.Doc != "" {
		b = appendStringField(b, 6, n.Doc)
	}
	if n.Domain != "" {
		b = appendStringField(b, 7, n.Domain)
	}
	return b, nil
}

func encodeAttr(a *common.Attribute, name string) ([]byte, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: nil attribute", common.ErrInvalidModel)
	}
	if name == "" {
		name = a.Name
	}
	var b []byte
	b = appendStringField(b, 1, name)
	switch a.Type {
	case common.AttrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case common.AttrInt:
		b = appendVarintField(b, 3, uint64(a.I))
	case common.AttrString:
		b = appendBytesField(b, 4, a.S)
	case common.AttrTensor:
		if a.T != nil {
			tb, err := EncodeTensor(a.T, "")
			if err != nil {
				return nil, err
			}
			b = appendBytesField(b, 5, tb)
		}
	case common.AttrGraph:
		if a.G != nil {
			gb, err := encodeGraph(a.G)
			if err != nil {
				return nil, err
			}
			b = appendBytesField(b, 6, gb)
		}
	case common.AttrFloats:
		if len(a.Floats) > 0 {
			b = protowire.AppendTag(b, 7, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(4*len(a.Floats)))
			for _, f := range a.Floats {
				b = protowire.AppendFixed32(b, math.Float32bits(f))
			}
		}
	case common.AttrInts:
		b = appendPackedVarints(b, 8, a.Ints)
	case common.AttrStrings:
		for _, s := range a.Strings {
			b = appendBytesField(b, 9, s)
		}
	case common.AttrTensors:
		for _, t := range a.Tensors {
			tb, err := EncodeTensor(t, "")
			if err != nil {
				return nil, err
			}
			b = appendBytesField(b, 10, tb)
		}
	case common.AttrGraphs:
		for _, g := range a.Graphs {
			gb, err := encodeGraph(g)
			if err != nil {
				return nil, err
			}
			b = appendBytesField(b, 11, gb)
		}
	case common.AttrTypeProto, common.AttrTypeProtos:
		if a.TP != nil {
			num := protowire.Number(14)
			if a.Type == common.AttrTypeProtos {
				num = 15
			}
			b = appendBytesField(b, num, encodeType(*a.TP))
		}
	case common.AttrSparseTensor:
		if a.T != nil {
			sb, err := encodeSparse(a.T)
			if err != nil {
				return nil, err
			}
			b = appendBytesField(b, 22, sb)
		}
	case common.AttrSparseTensors:
		for _, t := range a.Tensors {
			sb, err := encodeSparse(t)
			if err != nil {
				return nil, err
			}
			b = appendBytesField(b, 23, sb)
		}
	}
	if a.Type != common.AttrUndefined {
		b = appendVarintField(b, 20, uint64(a.Type))
	}
	if a.RefAttrName != "" {
		b = appendStringField(b, 21, a.RefAttrName)
	}
	return b, nil
}

// encodeSparse writes a dense tensor as a SparseTensorProto listing every
// element (linear indices).
func encodeSparse(t *common.Tensor) ([]byte, error) {
	flat, err := t.Reshape(common.Shape{t.Len()})
	if err != nil {
		return nil, err
	}
	vb, err := EncodeTensor(flat, "")
	if err != nil {
		return nil, err
	}
	idx := make([]int64, t.Len())
	for i := range idx {
		idx[i] = int64(i)
	}
	ib, err := EncodeTensor(common.NewTensor(common.Shape{len(idx)}, idx), "")
	if err != nil {
		return nil, err
	}
	var b []byte
	b = appendBytesField(b, 1, vb)
	b = appendBytesField(b, 2, ib)
	dims := make([]int64, t.Rank())
	for i, d := range t.Shape() {
		dims[i] = int64(d)
	}
	return appendPackedVarints(b, 3, dims), nil
}

func encodeValueInfo(v common.ValueInfo) []byte {
	var b []byte
	b = appendStringField(b, 1, v.Name)
	if v.Type.Kind != common.KindUnknown {
		b = appendBytesField(b, 2, encodeType(v.Type))
	}
	if v.Doc != "" {
		b = appendStringField(b, 3, v.Doc)
	}
	return b
}

func encodeType(t common.TypeInfo) []byte {
	var b []byte
	switch t.Kind {
	case common.KindTensor, common.KindSparseTensor:
		var tt []byte
		if t.DType != common.Undefined {
			tt = appendVarintField(tt, 1, uint64(t.DType))
		}
		if t.HasShape {
			var sh []byte
			for _, d := range t.Dims {
				var db []byte
				switch {
				case d.Param != "":
					db = appendStringField(db, 2, d.Param)
				case d.Value >= 0:
					db = appendVarintField(db, 1, uint64(d.Value))
				}
				sh = appendBytesField(sh, 1, db)
			}
			tt = appendBytesField(tt, 2, sh)
		}
		num := protowire.Number(1)
		if t.Kind == common.KindSparseTensor {
			num = 8
		}
		b = appendBytesField(b, num, tt)
	case common.KindSequence, common.KindOptional:
		var st []byte
		if t.Elem != nil {
			st = appendBytesField(st, 1, encodeType(*t.Elem))
		}
		num := protowire.Number(4)
		if t.Kind == common.KindOptional {
			num = 9
		}
		b = appendBytesField(b, num, st)
	case common.KindMap:
		var mt []byte
		mt = appendVarintField(mt, 1, uint64(t.KeyType))
		if t.Elem != nil {
			mt = appendBytesField(mt, 2, encodeType(*t.Elem))
		}
		b = appendBytesField(b, 5, mt)
	}
	return b
}

func encodeFunction(fn *common.Function) ([]byte, error) {
	var b []byte
	b = appendStringField(b, 1, fn.Name)
	for _, s := range fn.Inputs {
		b = appendStringField(b, 4, s)
	}
	for _, s := range fn.Outputs {
		b = appendStringField(b, 5, s)
	}
	for _, s := range fn.AttrNames {
		b = appendStringField(b, 6, s)
	}
	for _, n := range fn.Nodes {
		nb, err := encodeNode(n)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", fn.Name, err)
		}
		b = appendBytesField(b, 7, nb)
	}
	b = appendOpsets(b, 9, fn.Opsets)
	if fn.Domain != "" {
		b = appendStringField(b, 10, fn.Domain)
	}
	for _, k := range sortedKeys(fn.AttrDefaults) {
		ab, err := encodeAttr(fn.AttrDefaults[k], k)
		if err != nil {
			return nil, fmt.Errorf("function %s attribute %q: %w", fn.Name, k, err)
		}
		b = appendBytesField(b, 11, ab)
	}
	if fn.Overload != "" {
		b = appendStringField(b, 13, fn.Overload)
	}
	return b, nil
}

// EncodeTensor encodes t as a TensorProto named name. Data goes in
// raw_data (little-endian; 4-bit types two per byte, low nibble first;
// 2-bit types four per byte from the least significant bits); strings go
// in string_data.
func EncodeTensor(t *common.Tensor, name string) ([]byte, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: nil tensor", common.ErrInvalidModel)
	}
	dt := t.DType()
	if !dt.Valid() {
		return nil, fmt.Errorf("%w: cannot encode %v tensors", common.ErrUnsupported, dt)
	}
	var b []byte
	dims := make([]int64, t.Rank())
	for i, d := range t.Shape() {
		dims[i] = int64(d)
	}
	b = appendPackedVarints(b, tDims, dims)
	b = appendVarintField(b, tDataType, uint64(dt))
	if name != "" {
		b = appendStringField(b, tName, name)
	}
	if dt == common.String {
		for _, s := range common.Data[string](t) {
			b = appendStringField(b, tStringData, s)
		}
		return b, nil
	}
	raw, err := toRaw(t)
	if err != nil {
		return nil, err
	}
	return appendBytesField(b, tRawData, raw), nil
}

// toRaw returns t's data in the raw_data layout.
func toRaw(t *common.Tensor) ([]byte, error) {
	n := t.Len()
	dt := t.DType()
	out := make([]byte, packedBytes(dt, n))
	le := binary.LittleEndian
	switch s := t.Raw().(type) {
	case []float32:
		for i, v := range s {
			le.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case []float64:
		for i, v := range s {
			le.PutUint64(out[8*i:], math.Float64bits(v))
		}
	case []int32:
		for i, v := range s {
			le.PutUint32(out[4*i:], uint32(v))
		}
	case []uint32:
		for i, v := range s {
			le.PutUint32(out[4*i:], v)
		}
	case []int64:
		for i, v := range s {
			le.PutUint64(out[8*i:], uint64(v))
		}
	case []uint64:
		for i, v := range s {
			le.PutUint64(out[8*i:], v)
		}
	case []int16:
		for i, v := range s {
			le.PutUint16(out[2*i:], uint16(v))
		}
	case []uint16:
		for i, v := range s {
			le.PutUint16(out[2*i:], v)
		}
	case []common.F16:
		for i, v := range s {
			le.PutUint16(out[2*i:], uint16(v))
		}
	case []common.BF16:
		for i, v := range s {
			le.PutUint16(out[2*i:], uint16(v))
		}
	case []int8:
		for i, v := range s {
			out[i] = uint8(v)
		}
	case []uint8:
		copy(out, s)
	case []bool:
		for i, v := range s {
			if v {
				out[i] = 1
			}
		}
	case []common.F8E4M3FN:
		for i, v := range s {
			out[i] = uint8(v)
		}
	case []common.F8E4M3FNUZ:
		for i, v := range s {
			out[i] = uint8(v)
		}
	case []common.F8E5M2:
		for i, v := range s {
			out[i] = uint8(v)
		}
	case []common.F8E5M2FNUZ:
		for i, v := range s {
			out[i] = uint8(v)
		}
	case []common.F8E8M0:
		for i, v := range s {
			out[i] = uint8(v)
		}
	case []common.I4:
		for i, v := range s {
			packSub(out, 4, i, uint8(v))
		}
	case []common.U4:
		for i, v := range s {
			packSub(out, 4, i, uint8(v))
		}
	case []common.F4E2M1:
		for i, v := range s {
			packSub(out, 4, i, uint8(v))
		}
	case []common.I2:
		for i, v := range s {
			packSub(out, 2, i, uint8(v))
		}
	case []common.U2:
		for i, v := range s {
			packSub(out, 2, i, uint8(v))
		}
	default:
		return nil, fmt.Errorf("%w: cannot encode %v tensors", common.ErrUnsupported, dt)
	}
	return out, nil
}

func packSub(out []byte, bits, i int, v uint8) {
	per := 8 / bits
	out[i/per] |= (v & (1<<bits - 1)) << (uint(i%per) * uint(bits))
}

// EncodeValue encodes a tensor as a TensorProto, a sequence as a
// SequenceProto and an optional as an OptionalProto.
func EncodeValue(v common.Value, name string) ([]byte, error) {
	switch x := v.(type) {
	case *common.Tensor:
		return EncodeTensor(x, name)
	case *common.Sequence:
		var b []byte
		if name != "" {
			b = appendStringField(b, 1, name)
		}
		kind := x.Elem.Kind
		if kind == common.KindUnknown && len(x.Values) > 0 {
			kind = valueType(x.Values[0]).Kind
		}
		if e := elemCode(kind); e != elemUndefined {
			b = appendVarintField(b, 2, uint64(e))
		}
		for i, e := range x.Values {
			eb, err := EncodeValue(e, "")
			if err != nil {
				return nil, fmt.Errorf("sequence element %d: %w", i, err)
			}
			b = appendBytesField(b, valueField(e), eb)
		}
		return b, nil
	case *common.Optional:
		var b []byte
		if name != "" {
			b = appendStringField(b, 1, name)
		}
		kind := x.Elem.Kind
		if kind == common.KindUnknown && x.Value != nil {
			kind = valueType(x.Value).Kind
		}
		if e := elemCode(kind); e != elemUndefined {
			b = appendVarintField(b, 2, uint64(e))
		}
		if x.Value != nil {
			eb, err := EncodeValue(x.Value, "")
			if err != nil {
				return nil, fmt.Errorf("optional value: %w", err)
			}
			b = appendBytesField(b, valueField(x.Value), eb)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: cannot encode a %T value", common.ErrUnsupported, v)
}

func elemCode(k common.TypeKind) int {
	switch k {
	case common.KindTensor:
		return elemTensor
	case common.KindSparseTensor:
		return elemSparse
	case common.KindSequence:
		return elemSequence
	case common.KindMap:
		return elemMap
	case common.KindOptional:
		return elemOptional
	}
	return elemUndefined
}

// valueField is the SequenceProto/OptionalProto field that holds a value
// of v's kind (both messages number them alike).
func valueField(v common.Value) protowire.Number {
	switch v.(type) {
	case *common.Sequence:
		return 5
	case *common.Optional:
		return 7
	}
	return 3
}
