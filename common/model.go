package common

import (
	"fmt"
	"strings"
)

// Model is a decoded ONNX model: the graph IR every backend compiles.
// Package common/graph operates on it (graph.Model is an alias).
type Model struct {
	IRVersion       int64
	Opsets          map[string]int64 // domain ("" = ai.onnx) -> version
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	Doc             string
	Metadata        map[string]string
	Graph           *Graph
	// Functions are the model-local functions, kept for inspection; the
	// decoder has already inlined their calls into Graph.
	Functions []*Function
}

// Graph is a list of nodes over named values (SSA: each name is produced
// once, by a graph input, an initializer or one node output).
type Graph struct {
	Name    string
	Nodes   []*Node
	Inputs  []ValueInfo
	Outputs []ValueInfo
	// Initializers are constant tensors by name, in file order in InitOrder.
	Initializers map[string]*Tensor
	InitOrder    []string
	// ValueInfo holds declared types of intermediate values.
	ValueInfo map[string]ValueInfo
	Doc       string
}

// Node is one operator application. An empty string in Inputs is an
// absent optional input; in Outputs, an output not wanted.
type Node struct {
	Name    string
	OpType  string
	Domain  string // "" or "ai.onnx" for the default domain
	Opset   int64  // version of Domain the model imports (resolved)
	Inputs  []string
	Outputs []string
	Attrs   map[string]*Attribute
	Doc     string
	// Fused is set by graph passes: an activation folded into this node
	// (e.g. "Relu" after Conv), with its attributes.
	Fused *Node
}

// AttrType is an ONNX AttributeProto.AttributeType.
type AttrType int32

// Attribute types, numbered as in onnx.proto.
const (
	AttrUndefined     AttrType = 0
	AttrFloat         AttrType = 1
	AttrInt           AttrType = 2
	AttrString        AttrType = 3
	AttrTensor        AttrType = 4
	AttrGraph         AttrType = 5
	AttrFloats        AttrType = 6
	AttrInts          AttrType = 7
	AttrStrings       AttrType = 8
	AttrTensors       AttrType = 9
	AttrGraphs        AttrType = 10
	AttrSparseTensor  AttrType = 11
	AttrSparseTensors AttrType = 12
	AttrTypeProto     AttrType = 13
	AttrTypeProtos    AttrType = 14
)

// Attribute is a node attribute; the field matching Type is set.
type Attribute struct {
	Name    string
	Type    AttrType
	F       float32
	I       int64
	S       []byte
	T       *Tensor
	G       *Graph
	Floats  []float32
	Ints    []int64
	Strings [][]byte
	Tensors []*Tensor
	Graphs  []*Graph
	TP      *TypeInfo
	// RefAttrName is set inside function bodies: the attribute takes the
	// value of the caller's attribute of that name.
	RefAttrName string
}

// Function is a model-local function (FunctionProto).
type Function struct {
	Name         string
	Domain       string
	Overload     string
	Inputs       []string
	Outputs      []string
	AttrNames    []string              // attributes without defaults
	AttrDefaults map[string]*Attribute // attributes with defaults
	Nodes        []*Node
	Opsets       map[string]int64
}

// TypeKind says what kind of value a TypeInfo describes.
type TypeKind int

// Type kinds.
const (
	KindUnknown TypeKind = iota
	KindTensor
	KindSequence
	KindOptional
	KindMap
	KindSparseTensor
)

// Dim is one dimension of a declared shape: a fixed size (Value >= 0), a
// named symbolic size (Param), or unknown (Value < 0 and Param empty).
type Dim struct {
	Value int64
	Param string
}

// Known reports whether the dim has a fixed size.
func (d Dim) Known() bool { return d.Value >= 0 && d.Param == "" }

func (d Dim) String() string {
	if d.Param != "" {
		return d.Param
	}
	if d.Value < 0 {
		return "?"
	}
	return fmt.Sprint(d.Value)
}

// TypeInfo is a declared value type (TypeProto).
type TypeInfo struct {
	Kind  TypeKind
	DType DType // tensor element type (Kind == KindTensor/KindSparseTensor)
	// Dims is the declared shape; HasShape is false when the rank itself is
	// unknown.
	Dims     []Dim
	HasShape bool
	Elem     *TypeInfo // element type of a sequence or optional; map value
	KeyType  DType     // map key type
}

func (t TypeInfo) String() string {
	switch t.Kind {
	case KindTensor, KindSparseTensor:
		if !t.HasShape {
			return t.DType.String() + "[...]"
		}
		parts := make([]string, len(t.Dims))
		for i, d := range t.Dims {
			parts[i] = d.String()
		}
		return t.DType.String() + "[" + strings.Join(parts, ",") + "]"
	case KindSequence:
		if t.Elem != nil {
			return "seq(" + t.Elem.String() + ")"
		}
		return "seq(?)"
	case KindOptional:
		if t.Elem != nil {
			return "optional(" + t.Elem.String() + ")"
		}
		return "optional(?)"
	case KindMap:
		return "map"
	}
	return "?"
}

// ValueInfo is a named, typed graph input, output or intermediate value.
type ValueInfo struct {
	Name string
	Type TypeInfo
	Doc  string
}

// TensorInfo describes an engine input or output.
type TensorInfo struct {
	Name  string
	DType DType
	Dims  []Dim // nil when the rank is unknown
	Kind  TypeKind
	// Type is the full declared type (for sequence/optional values).
	Type TypeInfo
}

// InfoOf converts a ValueInfo to a TensorInfo.
func InfoOf(v ValueInfo) TensorInfo {
	ti := TensorInfo{Name: v.Name, DType: v.Type.DType, Kind: v.Type.Kind, Type: v.Type}
	if v.Type.HasShape {
		ti.Dims = append([]Dim{}, v.Type.Dims...)
	}
	return ti
}

func (t TensorInfo) String() string { return t.Name + ": " + t.Type.String() }

// Attribute accessors with defaults. They never panic on a wrong type;
// a wrong type is treated as absent.

// Attr returns the attribute or nil.
func (n *Node) Attr(name string) *Attribute {
	if n.Attrs == nil {
		return nil
	}
	return n.Attrs[name]
}

// AttrInt returns an int attribute or def.
func (n *Node) AttrInt(name string, def int64) int64 {
	if a := n.Attr(name); a != nil && a.Type == AttrInt {
		return a.I
	}
	return def
}

// AttrFloat returns a float attribute or def.
func (n *Node) AttrFloat(name string, def float32) float32 {
	if a := n.Attr(name); a != nil && a.Type == AttrFloat {
		return a.F
	}
	return def
}

// AttrString returns a string attribute or def.
func (n *Node) AttrString(name, def string) string {
	if a := n.Attr(name); a != nil && a.Type == AttrString {
		return string(a.S)
	}
	return def
}

// AttrInts returns an ints attribute, or nil when absent.
func (n *Node) AttrInts(name string) []int64 {
	if a := n.Attr(name); a != nil && a.Type == AttrInts {
		return a.Ints
	}
	return nil
}

// AttrFloats returns a floats attribute, or nil when absent.
func (n *Node) AttrFloats(name string) []float32 {
	if a := n.Attr(name); a != nil && a.Type == AttrFloats {
		return a.Floats
	}
	return nil
}

// AttrStrings returns a strings attribute, or nil when absent.
func (n *Node) AttrStrings(name string) []string {
	if a := n.Attr(name); a != nil && a.Type == AttrStrings {
		out := make([]string, len(a.Strings))
		for i, s := range a.Strings {
			out[i] = string(s)
		}
		return out
	}
	return nil
}

// AttrTensor returns a tensor attribute, or nil.
func (n *Node) AttrTensor(name string) *Tensor {
	if a := n.Attr(name); a != nil && a.Type == AttrTensor {
		return a.T
	}
	return nil
}

// AttrGraph returns a graph attribute, or nil.
func (n *Node) AttrGraph(name string) *Graph {
	if a := n.Attr(name); a != nil && a.Type == AttrGraph {
		return a.G
	}
	return nil
}

// HasAttr reports whether the attribute is present.
func (n *Node) HasAttr(name string) bool { return n.Attr(name) != nil }

// Input returns input i's name, or "" when absent.
func (n *Node) Input(i int) string {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return ""
}

// Label names the node for error messages: its name, or op type and first
// output.
func (n *Node) Label() string {
	if n.Name != "" {
		return n.Name
	}
	if len(n.Outputs) > 0 {
		return n.OpType + "->" + n.Outputs[0]
	}
	return n.OpType
}

// Subgraphs returns the graphs held in the node's attributes.
func (n *Node) Subgraphs() []*Graph {
	var gs []*Graph
	for _, a := range n.Attrs {
		if a.G != nil {
			gs = append(gs, a.G)
		}
		gs = append(gs, a.Graphs...)
	}
	return gs
}
