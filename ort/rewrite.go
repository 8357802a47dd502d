//go:build ort

package ort

import (
	"fmt"
	"reflect"
	"runtime"
	"unsafe"

	ortgo "github.com/yalue/onnxruntime_go"

	"github.com/accel-go/accel/common"
)

// rewrite adapts a model to what the Go binding handles, at the graph's
// edges only:
//   - the binding cannot make rank-0 tensors: a rank-0 input is fed as
//     shape [1] and reshaped back inside the graph;
//   - it copies outputs of some element types with the wrong byte count
//     and cannot make rank-0 or empty outputs: every output is returned
//     flattened, next to its shape (Shape), with float16, bfloat16 and the
//     8-bit float types cast to float32 (exact) and rounded back here;
//   - it cannot run a model with no inputs: one unused input is added.
type rewrite struct {
	model    *common.Model
	inNames  []string // session input names, in engine input order
	scalarIn []bool   // engine input i is fed as [1]
	dummy    bool     // an unused input was added (last)
	outNames []string // flat_0, shape_0, flat_1, shape_1, ...
	outInfo  []common.ValueInfo
	castBack []common.DType // original dtype when the output was cast, else Undefined
}

// castTo says, for output element types the binding cannot copy, the
// type the graph casts them to (exactly) before they leave ONNX Runtime.
var castTo = map[common.DType]common.DType{
	common.Float16: common.Float32, common.BFloat16: common.Float32,
	common.Float8E4M3FN: common.Float32, common.Float8E4M3FNUZ: common.Float32,
	common.Float8E5M2: common.Float32, common.Float8E5M2FNUZ: common.Float32,
	common.Float8E8M0: common.Float32, common.Float4E2M1: common.Float32,
}

func planRewrite(m *common.Model) (*rewrite, error) {
	g := *m.Graph
	g.Nodes = append([]*common.Node(nil), m.Graph.Nodes...)
	g.Inputs = nil
	g.Outputs = nil
	g.Initializers = make(map[string]*common.Tensor, len(m.Graph.Initializers)+2)
	for k, v := range m.Graph.Initializers {
		g.Initializers[k] = v
	}
	g.InitOrder = append([]string(nil), m.Graph.InitOrder...)
	mm := *m
	mm.Graph = &g
	r := &rewrite{model: &mm}
	opset := m.Opsets[""]
	if opset == 0 {
		opset = 13
	}
	node := func(op string, in []string, out string, attrs ...*common.Attribute) {
		n := &common.Node{OpType: op, Opset: opset, Inputs: in, Outputs: []string{out}, Attrs: map[string]*common.Attribute{}}
		for _, a := range attrs {
			n.Attrs[a.Name] = a
		}
		g.Nodes = append(g.Nodes, n)
	}
	constant := func(name string, t *common.Tensor) string {
		if _, ok := g.Initializers[name]; !ok {
			g.Initializers[name] = t
			g.InitOrder = append(g.InitOrder, name)
		}
		return name
	}
	var pre []*common.Node
	for _, in := range m.Graph.Inputs {
		if _, isInit := m.Graph.Initializers[in.Name]; isInit {
			g.Inputs = append(g.Inputs, in)
			continue
		}
		if in.Type.Kind != common.KindTensor {
			return nil, fmt.Errorf("%w: ort: input %q is a %v; this backend takes tensors only", common.ErrUnsupported, in.Name, in.Type)
		}
		if in.Type.HasShape && len(in.Type.Dims) == 0 {
			fed := in.Name + "__accel_1d"
			vi := in
			vi.Name = fed
			vi.Type.Dims = []common.Dim{{Value: 1}}
			g.Inputs = append(g.Inputs, vi)
			empty := constant("__accel_shape_scalar", common.NewTensor(common.Shape{0}, []int64{}))
			pre = append(pre, &common.Node{OpType: "Reshape", Opset: opset, Inputs: []string{fed, empty}, Outputs: []string{in.Name}})
			r.inNames = append(r.inNames, fed)
			r.scalarIn = append(r.scalarIn, true)
			continue
		}
		g.Inputs = append(g.Inputs, in)
		r.inNames = append(r.inNames, in.Name)
		r.scalarIn = append(r.scalarIn, false)
	}
	g.Nodes = append(pre, g.Nodes...)
	if len(r.inNames) == 0 {
		g.Inputs = append(g.Inputs, common.ValueInfo{Name: "__accel_unused", Type: common.TypeInfo{Kind: common.KindTensor, DType: common.Float32, Dims: []common.Dim{{Value: 1}}, HasShape: true}})
		r.inNames = append(r.inNames, "__accel_unused")
		r.dummy = true
	}
	flatShape := constant("__accel_shape_flat", common.NewTensor(common.Shape{1}, []int64{-1}))
	for _, o := range m.Graph.Outputs {
		if o.Type.Kind != common.KindTensor {
			return nil, fmt.Errorf("%w: ort: output %q is a %v; this backend returns tensors only", common.ErrUnsupported, o.Name, o.Type)
		}
		src := o.Name
		back := common.Undefined
		dt := o.Type.DType
		if bits := dt.Bits(); bits > 0 && bits < 8 && dt != common.Float4E2M1 {
			// Cast from these to int8 inside ONNX Runtime 1.30 came back
			// wrong (all but the first element zero): refuse rather than
			// return wrong values.
			return nil, fmt.Errorf("%w: ort: output %q has element type %v", common.ErrUnsupported, o.Name, dt)
		}
		if to, ok := castTo[o.Type.DType]; ok {
			src = o.Name + "__accel_cast"
			node("Cast", []string{o.Name}, src, &common.Attribute{Name: "to", Type: common.AttrInt, I: int64(to)})
			back, dt = o.Type.DType, to
		}
		flat, shape := o.Name+"__accel_flat", o.Name+"__accel_shape"
		node("Reshape", []string{src, flatShape}, flat)
		node("Shape", []string{o.Name}, shape)
		g.Outputs = append(g.Outputs,
			common.ValueInfo{Name: flat, Type: common.TypeInfo{Kind: common.KindTensor, DType: dt, Dims: []common.Dim{{Value: -1}}, HasShape: true}},
			common.ValueInfo{Name: shape, Type: common.TypeInfo{Kind: common.KindTensor, DType: common.Int64, Dims: []common.Dim{{Value: -1}}, HasShape: true}})
		r.outNames = append(r.outNames, flat, shape)
		r.outInfo = append(r.outInfo, o)
		r.castBack = append(r.castBack, back)
	}
	return r, nil
}

// inputs converts the caller's tensors into ONNX Runtime values that
// borrow their memory; pin keeps that memory in place until the caller
// unpins it after the run.
func (r *rewrite) inputs(infos []common.TensorInfo, given map[string]*common.Tensor, pin *runtime.Pinner) ([]ortgo.Value, error) {
	for name := range given {
		found := false
		for _, in := range infos {
			if in.Name == name {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: the model has no input %q", common.ErrShape, name)
		}
	}
	vals := make([]ortgo.Value, 0, len(r.inNames))
	for i, info := range infos {
		t, ok := given[info.Name]
		if !ok || t == nil {
			return vals, fmt.Errorf("%w: missing input %q (%v)", common.ErrShape, info.Name, info.Type)
		}
		if info.DType != common.Undefined && t.DType() != info.DType {
			return vals, fmt.Errorf("%w: input %q wants %v, got %v", common.ErrShape, info.Name, info.DType, t.DType())
		}
		shape := make(ortgo.Shape, t.Rank())
		for j, d := range t.Shape() {
			shape[j] = int64(d)
		}
		if r.scalarIn[i] {
			if t.Rank() != 0 {
				return vals, fmt.Errorf("%w: input %q wants a scalar, got shape %v", common.ErrShape, info.Name, t.Shape())
			}
			shape = ortgo.Shape{1}
		} else if t.Rank() == 0 {
			return vals, fmt.Errorf("%w: ort: input %q is rank 0 but not declared so; declare its shape in the model", common.ErrUnsupported, info.Name)
		}
		v, err := toORT(t, shape, pin)
		if err != nil {
			return vals, fmt.Errorf("input %q: %w", info.Name, err)
		}
		vals = append(vals, v)
	}
	if r.dummy {
		v, err := ortgo.NewTensor(ortgo.Shape{1}, []float32{0})
		if err != nil {
			return vals, ortErr("creating an input", err)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

var ortTypes = map[common.DType]ortgo.TensorElementDataType{
	common.Float32: ortgo.TensorElementDataTypeFloat, common.Float64: ortgo.TensorElementDataTypeDouble,
	common.Float16: ortgo.TensorElementDataTypeFloat16, common.BFloat16: ortgo.TensorElementDataTypeBFloat16,
	common.Int8: ortgo.TensorElementDataTypeInt8, common.Int16: ortgo.TensorElementDataTypeInt16,
	common.Int32: ortgo.TensorElementDataTypeInt32, common.Int64: ortgo.TensorElementDataTypeInt64,
	common.Uint8: ortgo.TensorElementDataTypeUint8, common.Uint16: ortgo.TensorElementDataTypeUint16,
	common.Uint32: ortgo.TensorElementDataTypeUint32, common.Uint64: ortgo.TensorElementDataTypeUint64,
	common.Bool:         ortgo.TensorElementDataTypeBool,
	common.Float8E4M3FN: ortgo.TensorElementDataTypeFloat8E4M3FN, common.Float8E4M3FNUZ: ortgo.TensorElementDataTypeFloat8E4M3FNUZ,
	common.Float8E5M2: ortgo.TensorElementDataTypeFloat8E5M2, common.Float8E5M2FNUZ: ortgo.TensorElementDataTypeFloat8E5M2FNUZ,
}

func toORT(t *common.Tensor, shape ortgo.Shape, pin *runtime.Pinner) (ortgo.Value, error) {
	if t.DType() == common.String {
		st, err := ortgo.NewStringTensor(shape)
		if err != nil {
			return nil, ortErr("creating a string tensor", err)
		}
		if err := st.SetContents(common.Data[string](t)); err != nil {
			st.Destroy()
			return nil, ortErr("filling a string tensor", err)
		}
		return st, nil
	}
	typ, ok := ortTypes[t.DType()]
	if t.Len() == 0 {
		if !ok {
			return nil, fmt.Errorf("%w: ort: empty %v input tensors", common.ErrUnsupported, t.DType())
		}
		// The binding refuses an empty buffer; ONNX Runtime needs none for
		// zero elements, so a one-byte stand-in satisfies both.
		v, err := ortgo.NewCustomDataTensor(shape, []byte{0}, typ)
		if err != nil {
			return nil, ortErr("creating an empty input tensor", err)
		}
		return v, nil
	}
	if !ok {
		if t.DType().Bits() >= 8 && t.DType() != common.Float8E8M0 {
			return nil, fmt.Errorf("%w: ort: inputs of element type %v", common.ErrUnsupported, t.DType())
		}
		// Sub-byte types travel packed, as in ONNX's own layout; the
		// element type numbers of ONNX Runtime's C API are ONNX's.
		v, err := ortgo.NewCustomDataTensor(shape, pack(t), ortgo.TensorElementDataType(t.DType()))
		if err != nil {
			return nil, ortErr("creating an input tensor", err)
		}
		return v, nil
	}
	rv := reflect.ValueOf(t.Raw())
	p := rv.UnsafePointer()
	pin.Pin(p)
	bytes := unsafe.Slice((*byte)(p), t.Len()*t.DType().Size())
	v, err := ortgo.NewCustomDataTensor(shape, bytes, typ)
	if err != nil {
		return nil, ortErr("creating an input tensor", err)
	}
	return v, nil
}

// outputs turns the flattened outputs and their shapes back into tensors.
func (r *rewrite) outputs(vals []ortgo.Value) (map[string]*common.Tensor, error) {
	res := make(map[string]*common.Tensor, len(r.outInfo))
	for i, o := range r.outInfo {
		flat, shapeV := vals[2*i], vals[2*i+1]
		st, ok := shapeV.(*ortgo.Tensor[int64])
		if !ok {
			return nil, fmt.Errorf("ort: output %q: shape came back as %T", o.Name, shapeV)
		}
		dims := st.GetData()
		shape := make(common.Shape, len(dims))
		for j, d := range dims {
			shape[j] = int(d)
		}
		t, err := fromORT(flat, shape)
		if err != nil {
			return nil, fmt.Errorf("ort: output %q: %w", o.Name, err)
		}
		if b := r.castBack[i]; b != common.Undefined {
			t = castFromF32(t, b)
		}
		res[o.Name] = t
	}
	return res, nil
}

func copyOut[T interface {
	common.Elem
	ortgo.TensorData
}](v ortgo.Value, shape common.Shape) (*common.Tensor, bool, error) {
	tv, ok := v.(*ortgo.Tensor[T])
	if !ok {
		return nil, false, nil
	}
	data := append([]T(nil), tv.GetData()...)
	t, err := common.FromSlice(shape, data)
	return t, true, err
}

func fromORT(v ortgo.Value, shape common.Shape) (*common.Tensor, error) {
	if st, ok := v.(*ortgo.StringTensor); ok {
		s, err := st.GetContents()
		if err != nil {
			return nil, err
		}
		return common.FromSlice(shape, s)
	}
	for _, try := range []func(ortgo.Value, common.Shape) (*common.Tensor, bool, error){
		copyOut[float32], copyOut[float64], copyOut[int64], copyOut[int32], copyOut[int16], copyOut[int8],
		copyOut[uint8], copyOut[uint16], copyOut[uint32], copyOut[uint64], copyOut[bool],
	} {
		if t, ok, err := try(v, shape); ok {
			return t, err
		}
	}
	return nil, fmt.Errorf("%w: value of Go type %T", common.ErrUnsupported, v)
}

// pack lays out sub-byte (and 8-bit) elements as ONNX stores them: 4-bit
// values two per byte, low nibble first; 2-bit values four per byte from
// the least significant bits.
func pack(t *common.Tensor) []byte {
	bits := t.DType().Bits()
	n := t.Len()
	out := make([]byte, (n*bits+7)/8)
	mask := byte(1<<bits - 1)
	for i := 0; i < n; i++ {
		var v byte
		switch s := t.Raw().(type) {
		case []common.I4:
			v = byte(s[i])
		case []common.U4:
			v = byte(s[i])
		case []common.I2:
			v = byte(s[i])
		case []common.U2:
			v = byte(s[i])
		case []common.F4E2M1:
			v = byte(s[i])
		case []common.F8E8M0:
			v = byte(s[i])
		}
		if bits == 8 {
			out[i] = v
			continue
		}
		pos := i * bits
		out[pos/8] |= (v & mask) << (pos % 8)
	}
	return out
}

func castFromF32(t *common.Tensor, d common.DType) *common.Tensor {
	src := common.Data[float32](t)
	out := common.Zeros(d, t.Shape())
	switch s := out.Raw().(type) {
	case []common.F8E8M0:
		for i, v := range src {
			s[i] = common.F8E8M0From(v, true, "up")
		}
	case []common.F4E2M1:
		for i, v := range src {
			s[i] = common.F4E2M1From(v, true)
		}
	case []common.F16:
		for i, v := range src {
			s[i] = common.F16From(v)
		}
	case []common.BF16:
		for i, v := range src {
			s[i] = common.BF16From(v)
		}
	case []common.F8E4M3FN:
		for i, v := range src {
			s[i] = common.F8E4M3FNFrom(v, true)
		}
	case []common.F8E4M3FNUZ:
		for i, v := range src {
			s[i] = common.F8E4M3FNUZFrom(v, true)
		}
	case []common.F8E5M2:
		for i, v := range src {
			s[i] = common.F8E5M2From(v, true)
		}
	case []common.F8E5M2FNUZ:
		for i, v := range src {
			s[i] = common.F8E5M2FNUZFrom(v, true)
		}
	}
	return out
}
