package onnx

import (
	"fmt"
	"slices"
	"strings"

	"github.com/accel-go/accel/common"
)

// Builder assembles a model from Go, for tests and model generators:
//
//	b := onnx.NewBuilder(17)
//	x := b.Input("x", common.Float32, "batch", 3)
//	w := b.Init("w", common.NewTensor(common.Shape{3, 3}, make([]float32, 9)))
//	y := b.Node("MatMul", []string{x, w})
//	b.Output(y, common.Float32)
//	m := b.Model()
//
// Values a node produces are named automatically (op type in lower case
// and a counter) unless NodeOut names them. The methods panic only on
// programming errors (such as a dim of an unsupported Go type).
type Builder struct {
	opsets    map[string]int64
	ir        int64
	g         *common.Graph
	names     *nameGen
	functions []*common.Function
	producer  string
}

type nameGen struct {
	n    int
	used map[string]bool
}

func (ng *nameGen) next(base string) string {
	for {
		ng.n++
		s := fmt.Sprintf("%s_%d", base, ng.n)
		if !ng.used[s] {
			ng.used[s] = true
			return s
		}
	}
}

// NewBuilder starts a model importing the given ai.onnx opset.
func NewBuilder(opset int64) *Builder {
	return &Builder{
		opsets: map[string]int64{"": opset},
		ir:     irForOpset(opset),
		g:      newGraph("main"),
		names:  &nameGen{used: map[string]bool{}},
	}
}

func newGraph(name string) *common.Graph {
	return &common.Graph{Name: name, Initializers: map[string]*common.Tensor{}, ValueInfo: map[string]common.ValueInfo{}}
}

// irForOpset is the IR version ONNX released with an opset.
func irForOpset(op int64) int64 {
	switch {
	case op <= 8:
		return 3
	case op <= 9:
		return 4
	case op <= 10:
		return 5
	case op <= 11:
		return 6
	case op <= 14:
		return 7
	case op <= 18:
		return 8
	case op <= 20:
		return 9
	}
	return 10
}

// Import adds (or changes) an opset import; domain "" is ai.onnx.
func (b *Builder) Import(domain string, version int64) *Builder {
	b.opsets[normDomain(domain)] = version
	if normDomain(domain) == "" {
		b.ir = irForOpset(version)
	}
	return b
}

// IRVersion sets the model's IR version (by default the one matching the
// opset).
func (b *Builder) IRVersion(v int64) *Builder {
	b.ir = v
	return b
}

// Producer sets the producer name.
func (b *Builder) Producer(name string) *Builder {
	b.producer = name
	return b
}

// Sub returns a builder for a subgraph (If/Loop/Scan body) that shares
// this builder's automatic names; take its graph with Graph.
func (b *Builder) Sub(name string) *Builder {
	return &Builder{opsets: b.opsets, ir: b.ir, g: newGraph(name), names: b.names}
}

func (b *Builder) use(name string) string {
	b.names.used[name] = true
	return name
}

// Dims builds a declared shape from ints (fixed sizes), strings
// (symbolic sizes) and common.Dim values.
func Dims(dims ...any) []common.Dim {
	out := make([]common.Dim, len(dims))
	for i, d := range dims {
		switch v := d.(type) {
		case int:
			out[i] = common.Dim{Value: int64(v)}
		case int64:
			out[i] = common.Dim{Value: v}
		case int32:
			out[i] = common.Dim{Value: int64(v)}
		case string:
			out[i] = common.Dim{Value: -1, Param: v}
		case common.Dim:
			out[i] = v
		default:
			panic(fmt.Sprintf("onnx.Dims: dim %d has unsupported type %T", i, d))
		}
	}
	return out
}

// TensorType is the type of a tensor with the given element type and
// dims (see Dims).
func TensorType(dt common.DType, dims ...any) common.TypeInfo {
	return common.TypeInfo{Kind: common.KindTensor, DType: dt, Dims: Dims(dims...), HasShape: true}
}

// Input declares a tensor graph input; dims are ints or strings (symbolic)
// and none means a scalar. It returns name.
func (b *Builder) Input(name string, dt common.DType, dims ...any) string {
	return b.InputType(name, TensorType(dt, dims...))
}

// InputType declares a graph input of any type (sequence, optional...).
func (b *Builder) InputType(name string, t common.TypeInfo) string {
	b.g.Inputs = append(b.g.Inputs, common.ValueInfo{Name: b.use(name), Type: t})
	return name
}

// Init adds an initializer and returns its name.
func (b *Builder) Init(name string, t *common.Tensor) string {
	if _, dup := b.g.Initializers[name]; !dup {
		b.g.InitOrder = append(b.g.InitOrder, name)
	}
	b.g.Initializers[b.use(name)] = t
	return name
}

// Const adds a Constant node holding t and returns its output.
func (b *Builder) Const(t *common.Tensor) string {
	return b.Node("Constant", nil, Tensor("value", t))
}

// Node adds a node with one output and returns the output's name.
func (b *Builder) Node(op string, inputs []string, attrs ...*common.Attribute) string {
	return b.NodeN(op, inputs, 1, attrs...)[0]
}

// NodeN adds a node with nOut outputs and returns their names.
func (b *Builder) NodeN(op string, inputs []string, nOut int, attrs ...*common.Attribute) []string {
	return b.NodeDomain("", op, inputs, nOut, attrs...)
}

// NodeDomain adds a node of another domain with nOut outputs.
func (b *Builder) NodeDomain(domain, op string, inputs []string, nOut int, attrs ...*common.Attribute) []string {
	outs := make([]string, nOut)
	base := strings.ToLower(op)
	for i := range outs {
		outs[i] = b.names.next(base)
	}
	b.add(domain, op, inputs, outs, attrs)
	return outs
}

// NodeOut adds a node whose outputs have the given names ("" for an
// output not wanted).
func (b *Builder) NodeOut(op string, inputs, outputs []string, attrs ...*common.Attribute) *common.Node {
	for _, o := range outputs {
		if o != "" {
			b.use(o)
		}
	}
	return b.add("", op, inputs, outputs, attrs)
}

func (b *Builder) add(domain, op string, inputs, outputs []string, attrs []*common.Attribute) *common.Node {
	n := &common.Node{
		Name:    b.names.next(op),
		OpType:  op,
		Domain:  normDomain(domain),
		Inputs:  slices.Clone(inputs),
		Outputs: slices.Clone(outputs),
	}
	if len(attrs) > 0 {
		n.Attrs = make(map[string]*common.Attribute, len(attrs))
		for _, a := range attrs {
			n.Attrs[a.Name] = a
		}
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return n
}

// Output declares a graph output of element type dt with unknown shape.
func (b *Builder) Output(name string, dt common.DType) {
	b.OutputType(name, common.TypeInfo{Kind: common.KindTensor, DType: dt})
}

// OutputShape declares a graph output with a shape (see Dims).
func (b *Builder) OutputShape(name string, dt common.DType, dims ...any) {
	b.OutputType(name, TensorType(dt, dims...))
}

// OutputType declares a graph output of any type.
func (b *Builder) OutputType(name string, t common.TypeInfo) {
	b.g.Outputs = append(b.g.Outputs, common.ValueInfo{Name: name, Type: t})
}

// ValueInfo declares the type of an intermediate value.
func (b *Builder) ValueInfo(name string, t common.TypeInfo) {
	b.g.ValueInfo[name] = common.ValueInfo{Name: name, Type: t}
}

// Function adds a model-local function (its calls are inlined when the
// model is decoded).
func (b *Builder) Function(fn *common.Function) {
	b.functions = append(b.functions, fn)
}

// Graph returns the graph built so far (for subgraph builders).
func (b *Builder) Graph() *common.Graph { return b.g }

// Model returns the model, with each node's Opset resolved from the
// imports as the decoder would. Function calls are not inlined (encode
// and decode the model for that).
func (b *Builder) Model() *common.Model {
	ops := make(map[string]int64, len(b.opsets))
	for k, v := range b.opsets {
		ops[k] = v
	}
	resolveAll(b.g, ops)
	return &common.Model{
		IRVersion:    b.ir,
		Opsets:       ops,
		ProducerName: b.producer,
		Graph:        b.g,
		Functions:    b.functions,
	}
}

func resolveAll(g *common.Graph, ops map[string]int64) {
	for _, n := range g.Nodes {
		n.Opset = ops[n.Domain]
		for _, sg := range n.Subgraphs() {
			resolveAll(sg, ops)
		}
	}
}

// Bytes encodes the model. It panics if the model cannot be encoded
// (an unsupported tensor type); use Encode for an error instead.
func (b *Builder) Bytes() []byte {
	data, err := b.Encode()
	if err != nil {
		panic(err)
	}
	return data
}

// Encode encodes the model as a ModelProto.
func (b *Builder) Encode() ([]byte, error) { return EncodeModel(b.Model()) }

// Attribute constructors.

// Int makes an int attribute.
func Int(name string, v int64) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrInt, I: v}
}

// Ints makes an ints attribute.
func Ints(name string, v ...int64) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrInts, Ints: append([]int64{}, v...)}
}

// Float makes a float attribute.
func Float(name string, v float32) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrFloat, F: v}
}

// Floats makes a floats attribute.
func Floats(name string, v ...float32) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrFloats, Floats: append([]float32{}, v...)}
}

// String makes a string attribute.
func String(name, v string) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrString, S: []byte(v)}
}

// Strings makes a strings attribute.
func Strings(name string, v ...string) *common.Attribute {
	s := make([][]byte, len(v))
	for i, x := range v {
		s[i] = []byte(x)
	}
	return &common.Attribute{Name: name, Type: common.AttrStrings, Strings: s}
}

// Tensor makes a tensor attribute.
func Tensor(name string, t *common.Tensor) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrTensor, T: t}
}

// Graph makes a graph attribute (an If branch, a Loop or Scan body).
func Graph(name string, g *common.Graph) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrGraph, G: g}
}

// Ref makes an attribute of a function body node that takes the value of
// the caller's attribute ref (typ is its type).
func Ref(name string, typ common.AttrType, ref string) *common.Attribute {
	return &common.Attribute{Name: name, Type: typ, RefAttrName: ref}
}
