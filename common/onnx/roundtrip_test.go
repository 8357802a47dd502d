package onnx

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/accel-go/accel/common"
)

// sampleTensors has one tensor of every supported dtype, with edge values.
func sampleTensors() []*common.Tensor {
	return []*common.Tensor{
		common.NewTensor(common.Shape{2, 3}, []float32{0, -1.5, float32(math.Inf(1)), math.MaxFloat32, math.SmallestNonzeroFloat32, -0}),
		common.NewTensor(common.Shape{3}, []float64{1e300, -2.25, 0}),
		common.NewTensor(common.Shape{4}, []int8{-128, 127, 0, -1}),
		common.NewTensor(common.Shape{2}, []int16{-32768, 32767}),
		common.NewTensor(common.Shape{2}, []int32{math.MinInt32, math.MaxInt32}),
		common.NewTensor(common.Shape{3}, []int64{math.MinInt64, math.MaxInt64, 7}),
		common.NewTensor(common.Shape{3}, []uint8{0, 200, 255}),
		common.NewTensor(common.Shape{2}, []uint16{0, 65535}),
		common.NewTensor(common.Shape{2}, []uint32{0, math.MaxUint32}),
		common.NewTensor(common.Shape{2}, []uint64{0, math.MaxUint64}),
		common.NewTensor(common.Shape{3}, []bool{true, false, true}),
		common.NewTensor(common.Shape{3}, []string{"", "héllo", "a\x00b"}),
		common.NewTensor(common.Shape{2}, []common.F16{common.F16From(1.5), common.F16From(-65504)}),
		common.NewTensor(common.Shape{2}, []common.BF16{common.BF16From(3), common.BF16From(-1e30)}),
		common.NewTensor(common.Shape{3}, []common.F8E4M3FN{0, 0x7e, 0xff}),
		common.NewTensor(common.Shape{2}, []common.F8E4M3FNUZ{0x80, 0x01}),
		common.NewTensor(common.Shape{2}, []common.F8E5M2{0x7c, 0x3c}),
		common.NewTensor(common.Shape{2}, []common.F8E5M2FNUZ{0x80, 0x40}),
		common.NewTensor(common.Shape{2}, []common.F8E8M0{0, 127}),
		common.NewTensor(common.Shape{5}, []common.I4{-8, 7, 0, -1, 3}),
		common.NewTensor(common.Shape{3}, []common.U4{15, 0, 9}),
		common.NewTensor(common.Shape{3}, []common.F4E2M1{0xf, 0x1, 0x8}),
		common.NewTensor(common.Shape{5}, []common.I2{-2, 1, 0, -1, 1}),
		common.NewTensor(common.Shape{6}, []common.U2{3, 0, 1, 2, 3, 1}),
		common.NewTensor(common.Shape{0, 4}, []float32{}),
		common.Scalar[int64](42),
	}
}

func TestTensorRoundTrip(t *testing.T) {
	for _, x := range sampleTensors() {
		t.Run(x.DType().String(), func(t *testing.T) {
			b, err := EncodeTensor(x, "t")
			require.NoError(t, err)
			y, name, err := DecodeTensor(b, common.Limits{})
			require.NoError(t, err)
			require.Equal(t, "t", name)
			require.Equal(t, x.DType(), y.DType())
			require.True(t, x.Shape().Equal(y.Shape()), "%v vs %v", x.Shape(), y.Shape())
			require.Equal(t, x.Raw(), y.Raw())
		})
	}
}

func TestSubBytePacking(t *testing.T) {
	// 4-bit: low nibble first; 2-bit: from the least significant bits.
	b, err := EncodeTensor(common.NewTensor(common.Shape{3}, []common.I4{-8, 7, -1}), "")
	require.NoError(t, err)
	require.Contains(t, string(b), string([]byte{0x78, 0x0f}))
	b, err = EncodeTensor(common.NewTensor(common.Shape{5}, []common.U2{1, 2, 3, 0, 2}), "")
	require.NoError(t, err)
	require.Contains(t, string(b), string([]byte{0x39, 0x02}))
}

// tp builds a TensorProto by hand: dims, dtype, then extra fields.
func tp(dims []int64, dt common.DType, extra func(b []byte) []byte) []byte {
	var b []byte
	for _, d := range dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(dt))
	if extra != nil {
		b = extra(b)
	}
	return b
}

func varints(num protowire.Number, packed bool, vs ...int64) func([]byte) []byte {
	return func(b []byte) []byte {
		if packed {
			return appendPackedVarints(b, num, vs)
		}
		for _, v := range vs {
			b = protowire.AppendTag(b, num, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
		return b
	}
}

func fixed32s(num protowire.Number, packed bool, vs ...float32) func([]byte) []byte {
	return func(b []byte) []byte {
		if packed {
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(4*len(vs)))
			for _, v := range vs {
				b = protowire.AppendFixed32(b, math.Float32bits(v))
			}
			return b
		}
		for _, v := range vs {
			b = protowire.AppendTag(b, num, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(v))
		}
		return b
	}
}

func fixed64s(num protowire.Number, packed bool, vs ...float64) func([]byte) []byte {
	return func(b []byte) []byte {
		if packed {
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(8*len(vs)))
			for _, v := range vs {
				b = protowire.AppendFixed64(b, math.Float64bits(v))
			}
			return b
		}
		for _, v := range vs {
			b = protowire.AppendTag(b, num, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(v))
		}
		return b
	}
}

func TestTypedFieldsMatchRaw(t *testing.T) {
	cases := []struct {
		name  string
		want  *common.Tensor
		field func(packed bool) func([]byte) []byte
	}{
		{"float_data", common.NewTensor(common.Shape{3}, []float32{1, -2.5, 3}),
			func(p bool) func([]byte) []byte { return fixed32s(4, p, 1, -2.5, 3) }},
		{"double_data", common.NewTensor(common.Shape{2}, []float64{1e-300, -7}),
			func(p bool) func([]byte) []byte { return fixed64s(10, p, 1e-300, -7) }},
		{"int64_data", common.NewTensor(common.Shape{3}, []int64{-1, 0, math.MaxInt64}),
			func(p bool) func([]byte) []byte { return varints(7, p, -1, 0, math.MaxInt64) }},
		{"uint64_data u64", common.NewTensor(common.Shape{2}, []uint64{3, math.MaxUint64}),
			func(p bool) func([]byte) []byte { return varints(11, p, 3, -1) }},
		{"uint64_data u32", common.NewTensor(common.Shape{2}, []uint32{3, math.MaxUint32}),
			func(p bool) func([]byte) []byte { return varints(11, p, 3, math.MaxUint32) }},
		{"int32_data i32", common.NewTensor(common.Shape{2}, []int32{-5, 9}),
			func(p bool) func([]byte) []byte { return varints(5, p, -5, 9) }},
		{"int32_data i8", common.NewTensor(common.Shape{2}, []int8{-128, 5}),
			func(p bool) func([]byte) []byte { return varints(5, p, -128, 5) }},
		{"int32_data u16", common.NewTensor(common.Shape{2}, []uint16{65535, 1}),
			func(p bool) func([]byte) []byte { return varints(5, p, 65535, 1) }},
		{"int32_data bool", common.NewTensor(common.Shape{3}, []bool{true, false, true}),
			func(p bool) func([]byte) []byte { return varints(5, p, 1, 0, 1) }},
		{"int32_data f16", common.NewTensor(common.Shape{2}, []common.F16{common.F16From(1), common.F16From(-2)}),
			func(p bool) func([]byte) []byte {
				return varints(5, p, int64(common.F16From(1)), int64(common.F16From(-2)))
			}},
		{"int32_data bf16", common.NewTensor(common.Shape{1}, []common.BF16{common.BF16From(0.5)}),
			func(p bool) func([]byte) []byte { return varints(5, p, int64(common.BF16From(0.5))) }},
		{"int32_data f8", common.NewTensor(common.Shape{2}, []common.F8E4M3FN{0x38, 0x7e}),
			func(p bool) func([]byte) []byte { return varints(5, p, 0x38, 0x7e) }},
		{"int32_data int4 per element", common.NewTensor(common.Shape{3}, []common.I4{-8, 7, -1}),
			func(p bool) func([]byte) []byte { return varints(5, p, -8, 7, -1) }},
		{"int32_data int4 packed", common.NewTensor(common.Shape{3}, []common.I4{-8, 7, -1}),
			func(p bool) func([]byte) []byte { return varints(5, p, 0x78, 0x0f) }},
		{"int32_data uint2 packed", common.NewTensor(common.Shape{5}, []common.U2{1, 2, 3, 0, 2}),
			func(p bool) func([]byte) []byte { return varints(5, p, 0x39, 0x02) }},
		{"string_data", common.NewTensor(common.Shape{2}, []string{"ab", ""}),
			func(bool) func([]byte) []byte {
				return func(b []byte) []byte {
					b = appendStringField(b, 6, "ab")
					return appendStringField(b, 6, "")
				}
			}},
	}
	for _, c := range cases {
		for _, packed := range []bool{false, true} {
			name := c.name
			if packed {
				name += " packed"
			}
			t.Run(name, func(t *testing.T) {
				dims := make([]int64, c.want.Rank())
				for i, d := range c.want.Shape() {
					dims[i] = int64(d)
				}
				got, _, err := DecodeTensor(tp(dims, c.want.DType(), c.field(packed)), common.Limits{})
				require.NoError(t, err)
				require.Equal(t, c.want.Raw(), got.Raw())
				require.Equal(t, c.want.Shape(), got.Shape())
				// The raw_data form decodes to the same values.
				raw, err := EncodeTensor(c.want, "")
				require.NoError(t, err)
				fromRaw, _, err := DecodeTensor(raw, common.Limits{})
				require.NoError(t, err)
				require.Equal(t, got.Raw(), fromRaw.Raw())
			})
		}
	}
}

func TestValueRoundTrip(t *testing.T) {
	f := common.NewTensor(common.Shape{2}, []float32{1, 2})
	g := common.NewTensor(common.Shape{1, 1}, []float32{3})
	elem := common.TypeInfo{Kind: common.KindTensor, DType: common.Float32}
	seq := &common.Sequence{Elem: elem, Values: []common.Value{f, g}}
	seqT := common.TypeInfo{Kind: common.KindSequence, Elem: &elem}
	emptySeq := &common.Sequence{Elem: elem, Values: []common.Value{}}
	optT := common.TypeInfo{Kind: common.KindOptional, Elem: &seqT}
	cases := []struct {
		name string
		v    common.Value
		typ  common.TypeInfo
	}{
		{"tensor", f, elem},
		{"sequence", seq, seqT},
		{"empty sequence", emptySeq, seqT},
		{"optional sequence", &common.Optional{Elem: seqT, Value: seq}, optT},
		{"empty optional", &common.Optional{Elem: seqT}, optT},
		{"optional tensor", &common.Optional{Elem: elem, Value: f}, common.TypeInfo{Kind: common.KindOptional, Elem: &elem}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := EncodeValue(c.v, "v")
			require.NoError(t, err)
			got, name, err := DecodeValue(b, c.typ, common.Limits{})
			require.NoError(t, err)
			require.Equal(t, "v", name)
			require.Equal(t, c.v, got)
			// Without a declared element type the decoder infers it.
			got2, _, err := DecodeValue(b, common.TypeInfo{Kind: c.typ.Kind}, common.Limits{})
			require.NoError(t, err)
			b2, err := EncodeValue(got2, "v")
			require.NoError(t, err)
			require.Equal(t, b, b2)
		})
	}
}

// buildSample makes a model with most features: symbolic dims,
// initializers, attributes of every kind, a subgraph and a second domain.
func buildSample() *Builder {
	b := NewBuilder(17).Import("com.example", 1).Producer("test")
	x := b.Input("x", common.Float32, "batch", 3)
	cond := b.Input("cond", common.Bool)
	w := b.Init("w", common.NewTensor(common.Shape{3, 3}, []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}))
	y := b.Node("MatMul", []string{x, w})
	z := b.Node("Gemm", []string{y, w}, Float("alpha", 0.5), Int("transB", 1))
	c := b.Const(common.NewTensor(common.Shape{1}, []int64{-1}))
	r := b.Node("Reshape", []string{z, c})
	then := b.Sub("then")
	then.OutputType(then.Node("Relu", []string{r}), TensorType(common.Float32))
	els := b.Sub("else")
	els.OutputType(els.Node("Neg", []string{r}), TensorType(common.Float32))
	out := b.Node("If", []string{cond}, Graph("then_branch", then.Graph()), Graph("else_branch", els.Graph()))
	custom := b.NodeDomain("com.example", "Thing", []string{out, ""}, 2,
		Ints("ints", 1, -2, 3), Floats("fs", 0.25, -1), String("mode", "x"), Strings("names", "a", "b"),
		Tensor("t", common.NewTensor(common.Shape{2}, []common.I4{-3, 4})))
	b.OutputShape(out, common.Float32, "n")
	b.Output(custom[0], common.Float32)
	b.ValueInfo(y, TensorType(common.Float32, "batch", 3))
	return b
}

func TestModelRoundTrip(t *testing.T) {
	b := buildSample()
	m := b.Model()
	data, err := EncodeModel(m)
	require.NoError(t, err)
	got, err := DecodeModel(data, common.Limits{})
	require.NoError(t, err)
	require.Equal(t, m.IRVersion, got.IRVersion)
	require.Equal(t, m.Opsets, got.Opsets)
	require.Equal(t, "test", got.ProducerName)
	require.Equal(t, m.Graph.Inputs, got.Graph.Inputs)
	require.Equal(t, m.Graph.Outputs, got.Graph.Outputs)
	require.Equal(t, m.Graph.ValueInfo, got.Graph.ValueInfo)
	require.Equal(t, m.Graph.InitOrder, got.Graph.InitOrder)
	require.Equal(t, m.Graph.Initializers, got.Graph.Initializers)
	require.Equal(t, m.Graph.Nodes, got.Graph.Nodes)
	require.Equal(t, int64(1), got.Graph.Nodes[len(got.Graph.Nodes)-1].Opset)
	require.Equal(t, int64(17), got.Graph.Nodes[0].Opset)
	// Encoding is deterministic.
	data2, err := EncodeModel(got)
	require.NoError(t, err)
	require.Equal(t, data, data2)
	require.Equal(t, data, b.Bytes())
}

func TestUnpackedRepeatedAttrs(t *testing.T) {
	// An attribute whose ints and floats are written unpacked, with no
	// type field (old writers), decodes like the packed form.
	var a []byte
	a = appendStringField(a, 1, "pads")
	a = varints(8, false, 1, 2, -3)(a)
	var fa []byte
	fa = appendStringField(fa, 1, "scales")
	fa = fixed32s(7, false, 0.5, 2)(fa)
	var n []byte
	n = appendStringField(n, 1, "x")
	n = appendStringField(n, 2, "y")
	n = appendStringField(n, 4, "Custom")
	n = appendBytesField(n, 5, a)
	n = appendBytesField(n, 5, fa)
	n = appendStringField(n, 7, "ai.onnx")
	m := rawModel(8, 13, rawGraph([][]byte{n}, []string{"x"}, []string{"y"}))
	got, err := DecodeModel(m, common.Limits{})
	require.NoError(t, err)
	nd := got.Graph.Nodes[0]
	require.Equal(t, "", nd.Domain)
	require.Equal(t, int64(13), nd.Opset)
	require.Equal(t, []int64{1, 2, -3}, nd.AttrInts("pads"))
	require.Equal(t, []float32{0.5, 2}, nd.AttrFloats("scales"))
}

// rawGraph makes GraphProto bytes from node bytes, with untyped inputs and
// outputs.
func rawGraph(nodes [][]byte, inputs, outputs []string) []byte {
	var g []byte
	for _, n := range nodes {
		g = appendBytesField(g, 1, n)
	}
	g = appendStringField(g, 2, "g")
	for _, s := range inputs {
		g = appendBytesField(g, 11, appendStringField(nil, 1, s))
	}
	for _, s := range outputs {
		g = appendBytesField(g, 12, appendStringField(nil, 1, s))
	}
	return g
}

// rawModel makes ModelProto bytes with one default-domain opset import.
func rawModel(ir, opset int64, graph []byte) []byte {
	var m []byte
	m = appendVarintField(m, 1, uint64(ir))
	m = appendBytesField(m, 7, graph)
	m = appendBytesField(m, 8, appendVarintField(nil, 2, uint64(opset)))
	return m
}

func TestFunctionInlining(t *testing.T) {
	// fn(a, b) -> out: t = Add(a, b); out = LeakyRelu<alpha = @slope>(t);
	// plus Mul with an attribute that has a default.
	fn := &common.Function{
		Name: "AddAct", Domain: "local", Inputs: []string{"a", "b"}, Outputs: []string{"out"},
		AttrNames:    []string{"slope"},
		AttrDefaults: map[string]*common.Attribute{"k": Int("k", 7)},
		Opsets:       map[string]int64{"": 13},
		Nodes: []*common.Node{
			{OpType: "Add", Inputs: []string{"a", "b"}, Outputs: []string{"t"}},
			{OpType: "LeakyRelu", Inputs: []string{"t"}, Outputs: []string{"u"},
				Attrs: map[string]*common.Attribute{"alpha": Ref("alpha", common.AttrFloat, "slope")}},
			{OpType: "Custom", Domain: "", Inputs: []string{"u"}, Outputs: []string{"out"},
				Attrs: map[string]*common.Attribute{"k": Ref("k", common.AttrInt, "k"), "missing": Ref("missing", common.AttrInt, "nothere")}},
		},
	}
	b := NewBuilder(17).Import("local", 1)
	x := b.Input("x", common.Float32, 2)
	y1 := b.NodeDomain("local", "AddAct", []string{x, x}, 1, Float("slope", 0.1))
	y2 := b.NodeDomain("local", "AddAct", []string{y1[0], x}, 1, Float("slope", 0.2), Int("k", 3))
	b.Output(y2[0], common.Float32)
	b.Function(fn)
	m, err := DecodeModel(b.Bytes(), common.Limits{})
	require.NoError(t, err)
	require.Len(t, m.Functions, 1)
	nodes := m.Graph.Nodes
	require.Len(t, nodes, 6)
	ops := []string{}
	for _, n := range nodes {
		ops = append(ops, n.OpType)
		require.Equal(t, int64(13), n.Opset, "opset from the function's import")
	}
	require.Equal(t, []string{"Add", "LeakyRelu", "Custom", "Add", "LeakyRelu", "Custom"}, ops)
	require.Equal(t, []string{x, x}, nodes[0].Inputs)
	require.Equal(t, nodes[0].Outputs, nodes[1].Inputs)
	require.Equal(t, y1[0], nodes[2].Outputs[0])
	require.Equal(t, []string{y1[0], x}, nodes[3].Inputs)
	require.Equal(t, y2[0], nodes[5].Outputs[0])
	require.NotEqual(t, nodes[0].Outputs[0], nodes[3].Outputs[0], "internal values renamed per call")
	require.Equal(t, float32(0.1), nodes[1].AttrFloat("alpha", 0))
	require.Equal(t, float32(0.2), nodes[4].AttrFloat("alpha", 0))
	require.Equal(t, int64(7), nodes[2].AttrInt("k", 0), "default attribute")
	require.Equal(t, int64(3), nodes[5].AttrInt("k", 0), "caller's attribute")
	require.False(t, nodes[2].HasAttr("missing"))
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	vals := []float32{1, 2, 3, 4}
	w := common.NewTensor(common.Shape{2, 2}, vals)
	raw, err := toRaw(w)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "w.bin"), append([]byte("pad!"), raw...), 0o644))
	model := extModel(t, "data/w.bin", "4", "16")
	path := filepath.Join(dir, "m.onnx")
	require.NoError(t, os.WriteFile(path, model, 0o644))
	m, err := LoadModel(path, common.Limits{})
	require.NoError(t, err)
	require.Equal(t, vals, common.Data[float32](m.Graph.Initializers["w"]))

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	m, err = ReadModel(f, dir, common.Limits{})
	require.NoError(t, err)
	require.Equal(t, vals, common.Data[float32](m.Graph.Initializers["w"]))

	_, err = DecodeModel(model, common.Limits{})
	require.ErrorIs(t, err, common.ErrInvalidModel)
	require.ErrorContains(t, err, "LoadModel")
}

// extModel makes a model whose float32[2,2] initializer "w" is stored
// externally with the given entries ("" leaves an entry out).
func extModel(t testing.TB, loc, offset, length string) []byte {
	ext := func(b []byte) []byte {
		b = appendStringField(b, tName, "w")
		for _, kv := range [][2]string{{"location", loc}, {"offset", offset}, {"length", length}} {
			if kv[1] == "" && kv[0] != "location" {
				continue
			}
			var e []byte
			e = appendStringField(e, 1, kv[0])
			e = appendStringField(e, 2, kv[1])
			b = appendBytesField(b, tExternalData, e)
		}
		return appendVarintField(b, tDataLocation, 1)
	}
	init := tp([]int64{2, 2}, common.Float32, ext)
	b := NewBuilder(17)
	x := b.Input("x", common.Float32, 2, 2)
	b.Output(b.Node("Add", []string{x, "w"}), common.Float32)
	g, err := encodeGraph(b.Graph())
	require.NoError(t, err)
	g = appendBytesField(g, 5, init)
	return rawModel(8, 17, g)
}
