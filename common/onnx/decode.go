package onnx

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/graph"
)

// Supported versions.
const (
	// MinIRVersion and MaxIRVersion bound the ModelProto.ir_version accepted.
	MinIRVersion = 3
	MaxIRVersion = 13
	// MaxOpset is the newest default-domain (ai.onnx) opset accepted.
	MaxOpset = 27
)

// decoder holds the state of one decode.
type decoder struct {
	lim   common.Limits
	nodes int64 // nodes decoded or inlined so far, over all graphs
	// ext opens external data files; nil when none are allowed.
	ext *extDir
	// noExt says why external data is refused (when ext is nil).
	noExt string
	// overload records NodeProto.overload for nodes that have one.
	overload map[*common.Node]string
	// inlining state (see inline.go)
	funcs   map[funcKey]*common.Function
	names   map[string]bool
	counter int
}

func newDecoder(lim common.Limits) *decoder {
	return &decoder{lim: lim.WithDefaults(), noExt: "external data needs the model's folder: use LoadModel"}
}

// DecodeModel decodes a ModelProto held in memory. External data is not
// allowed (tensors stored in other files need LoadModel or ReadModel with
// the model's folder).
func DecodeModel(data []byte, lim common.Limits) (*common.Model, error) {
	d := newDecoder(lim)
	return d.model(data)
}

// LoadModel reads and decodes a model file. Its size is checked against
// lim.ModelBytes before it is read; external data is read from files in
// the model's folder.
func LoadModel(path string, lim common.Limits) (*common.Model, error) {
	d := newDecoder(lim)
	data, err := readFileLimited(path, d.lim.ModelBytes)
	if err != nil {
		return nil, err
	}
	ext, err := openExtDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer ext.close()
	d.ext = ext
	return d.model(data)
}

// ReadModel decodes a model read from r (at most lim.ModelBytes). dir is
// the folder external data paths are relative to; "" allows none.
func ReadModel(r io.Reader, dir string, lim common.Limits) (*common.Model, error) {
	d := newDecoder(lim)
	data, err := io.ReadAll(io.LimitReader(r, d.lim.ModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading model: %v", common.ErrInvalidModel, err)
	}
	if int64(len(data)) > d.lim.ModelBytes {
		return nil, limitf("model is larger than the limit of %d bytes", d.lim.ModelBytes)
	}
	if dir != "" {
		ext, err := openExtDir(dir)
		if err != nil {
			return nil, err
		}
		defer ext.close()
		d.ext = ext
	} else {
		d.noExt = "external data is not allowed: no model folder was given"
	}
	return d.model(data)
}

// readFileLimited reads a regular file of at most max bytes.
func readFileLimited(path string, max int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", common.ErrInvalidModel, err)
	}
	if !st.Mode().IsRegular() {
		return nil, invalidf("%s is not a regular file (%v)", path, st.Mode().Type())
	}
	if st.Size() > max {
		return nil, limitf("%s has %d bytes, over the limit of %d", path, st.Size(), max)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", common.ErrInvalidModel, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	buf.Grow(int(st.Size()))
	if _, err := io.Copy(&buf, io.LimitReader(f, max+1)); err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", common.ErrInvalidModel, path, err)
	}
	if int64(buf.Len()) > max {
		return nil, limitf("%s has more than the limit of %d bytes", path, max)
	}
	return buf.Bytes(), nil
}

// normDomain maps "ai.onnx" to "".
func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

func domainName(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

func (d *decoder) model(data []byte) (*common.Model, error) {
	if int64(len(data)) > d.lim.ModelBytes {
		return nil, limitf("model has %d bytes, over the limit of %d", len(data), d.lim.ModelBytes)
	}
	if len(data) == 0 {
		return nil, invalidf("empty model")
	}
	m := &common.Model{Opsets: map[string]int64{}}
	var (
		graphField *field
		funcFields []field
		hasIR      bool
	)
	it := newIter(data, 0)
	var f field
	nOpset := 0
	for it.next(&f) {
		var err error
		switch f.num {
		case 1:
			m.IRVersion, err = f.int64()
			hasIR = true
		case 2:
			m.ProducerName, err = f.str()
		case 3:
			m.ProducerVersion, err = f.str()
		case 4:
			m.Domain, err = f.str()
		case 5:
			m.ModelVersion, err = f.int64()
		case 6:
			m.Doc, err = f.str()
		case 7:
			if _, err = f.bytes(); err == nil {
				g := f
				graphField = &g
			}
		case 8:
			err = at(fmt.Sprintf("opset_import[%d]", nOpset), d.opsetImport(&f, m.Opsets))
			nOpset++
		case 14:
			var k, v string
			k, v, err = stringEntry(&f)
			if err == nil {
				if m.Metadata == nil {
					m.Metadata = map[string]string{}
				}
				m.Metadata[k] = v
			}
			err = at("metadata_props", err)
		case 25:
			if _, err = f.bytes(); err == nil {
				funcFields = append(funcFields, f)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if it.err != nil {
		return nil, it.err
	}
	if !hasIR {
		return nil, invalidf("model has no ir_version (is this an ONNX model file?)")
	}
	if m.IRVersion < MinIRVersion || m.IRVersion > MaxIRVersion {
		if m.IRVersion > MaxIRVersion {
			return nil, unsupportedf("IR version %d is newer than supported %d", m.IRVersion, MaxIRVersion)
		}
		if m.IRVersion <= 0 {
			return nil, invalidf("IR version %d is not valid", m.IRVersion)
		}
		return nil, unsupportedf("IR version %d is older than supported %d", m.IRVersion, MinIRVersion)
	}
	def, ok := m.Opsets[""]
	if !ok {
		return nil, invalidf("model has no opset import for the default domain ai.onnx")
	}
	if def < 1 || def > MaxOpset {
		if def > MaxOpset {
			return nil, unsupportedf("opset %d of ai.onnx is newer than supported %d", def, MaxOpset)
		}
		return nil, invalidf("opset %d of ai.onnx is not valid", def)
	}
	if graphField == nil {
		return nil, invalidf("model has no graph")
	}
	for i := range funcFields {
		fn, err := d.function(funcFields[i].b, funcFields[i].off)
		if err != nil {
			return nil, at(fmt.Sprintf("functions[%d]", i), err)
		}
		m.Functions = append(m.Functions, fn)
	}
	g, err := d.graph(graphField.b, graphField.off, 0)
	if err != nil {
		return nil, at("graph", err)
	}
	m.Graph = g
	if err := d.expandModel(m); err != nil {
		return nil, err
	}
	if err := graph.Validate(m, d.lim); err != nil {
		return nil, err
	}
	return m, nil
}

func (d *decoder) opsetImport(f *field, into map[string]int64) error {
	b, err := f.bytes()
	if err != nil {
		return err
	}
	var dom string
	var ver int64
	hasVer := false
	it := newIter(b, f.off)
	var g field
	for it.next(&g) {
		switch g.num {
		case 1:
			dom, err = g.str()
		case 2:
			ver, err = g.int64()
			hasVer = true
		}
		if err != nil {
			return err
		}
	}
	if it.err != nil {
		return it.err
	}
	dom = normDomain(dom)
	if !hasVer || ver < 1 {
		return errAt(f.off, common.ErrInvalidModel, "opset import of domain %s has version %d", domainName(dom), ver)
	}
	if old, dup := into[dom]; dup && old != ver {
		return errAt(f.off, common.ErrInvalidModel, "domain %s is imported twice, as versions %d and %d", domainName(dom), old, ver)
	}
	into[dom] = ver
	return nil
}

func stringEntry(f *field) (string, string, error) {
	b, err := f.bytes()
	if err != nil {
		return "", "", err
	}
	var k, v string
	it := newIter(b, f.off)
	var g field
	for it.next(&g) {
		switch g.num {
		case 1:
			k, err = g.str()
		case 2:
			v, err = g.str()
		}
		if err != nil {
			return "", "", err
		}
	}
	return k, v, it.err
}

func (d *decoder) countNode() error {
	d.nodes++
	if d.nodes > d.lim.Nodes {
		return limitf("model has more than the limit of %d nodes", d.lim.Nodes)
	}
	return nil
}

// graph decodes a GraphProto at nesting depth depth (0: the main graph).
func (d *decoder) graph(b []byte, base, depth int) (*common.Graph, error) {
	if depth > d.lim.SubgraphDepth {
		return nil, limitf("subgraphs nested deeper than the limit of %d", d.lim.SubgraphDepth)
	}
	g := &common.Graph{Initializers: map[string]*common.Tensor{}, ValueInfo: map[string]common.ValueInfo{}}
	it := newIter(b, base)
	var f field
	var nNode, nInit, nIn, nOut, nVI, nSparse int
	for it.next(&f) {
		var err error
		switch f.num {
		case 1:
			seg := fmt.Sprintf("node[%d]", nNode)
			nNode++
			if err = d.countNode(); err != nil {
				return nil, at(seg, err)
			}
			var bb []byte
			if bb, err = f.bytes(); err != nil {
				return nil, at(seg, err)
			}
			var n *common.Node
			n, err = d.node(bb, f.off, depth)
			if err != nil {
				if n != nil && n.Name != "" {
					seg += "(" + n.Name + ")"
				}
				return nil, at(seg, err)
			}
			g.Nodes = append(g.Nodes, n)
		case 2:
			g.Name, err = f.str()
		case 5:
			seg := fmt.Sprintf("initializer[%d]", nInit)
			nInit++
			var bb []byte
			if bb, err = f.bytes(); err != nil {
				return nil, at(seg, err)
			}
			t, name, terr := d.tensor(bb, f.off)
			if name != "" {
				seg = fmt.Sprintf("initializer %q", name)
			}
			if terr != nil {
				return nil, at(seg, terr)
			}
			if err = d.addInit(g, name, t); err != nil {
				return nil, at(seg, err)
			}
		case 10:
			g.Doc, err = f.str()
		case 11, 12, 13:
			var vi common.ValueInfo
			var seg string
			switch f.num {
			case 11:
				seg = fmt.Sprintf("input[%d]", nIn)
				nIn++
			case 12:
				seg = fmt.Sprintf("output[%d]", nOut)
				nOut++
			default:
				seg = fmt.Sprintf("value_info[%d]", nVI)
				nVI++
			}
			vi, err = d.valueInfo(&f)
			if err != nil {
				return nil, at(seg, err)
			}
			switch f.num {
			case 11:
				g.Inputs = append(g.Inputs, vi)
			case 12:
				if vi.Name == "" {
					return nil, at(seg, invalidf("graph output has no name"))
				}
				g.Outputs = append(g.Outputs, vi)
			default:
				g.ValueInfo[vi.Name] = vi
			}
		case 15:
			seg := fmt.Sprintf("sparse_initializer[%d]", nSparse)
			nSparse++
			var bb []byte
			if bb, err = f.bytes(); err != nil {
				return nil, at(seg, err)
			}
			t, name, serr := d.sparseTensor(bb, f.off)
			if name != "" {
				seg = fmt.Sprintf("sparse_initializer %q", name)
			}
			if serr != nil {
				return nil, at(seg, serr)
			}
			if err = d.addInit(g, name, t); err != nil {
				return nil, at(seg, err)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if it.err != nil {
		return nil, it.err
	}
	return g, nil
}

func (d *decoder) addInit(g *common.Graph, name string, t *common.Tensor) error {
	if name == "" {
		return invalidf("initializer has no name")
	}
	if _, dup := g.Initializers[name]; dup {
		return invalidf("initializer %q is defined twice", name)
	}
	g.Initializers[name] = t
	g.InitOrder = append(g.InitOrder, name)
	return nil
}

// node decodes a NodeProto. It returns the partly decoded node with an
// error, so the caller can name it.
func (d *decoder) node(b []byte, base, depth int) (*common.Node, error) {
	n := &common.Node{}
	it := newIter(b, base)
	var f field
	var attrs []field
	var overload string
	for it.next(&f) {
		var err error
		switch f.num {
		case 1:
			var s string
			s, err = f.str()
			n.Inputs = append(n.Inputs, s)
		case 2:
			var s string
			s, err = f.str()
			n.Outputs = append(n.Outputs, s)
		case 3:
			n.Name, err = f.str()
		case 4:
			n.OpType, err = f.str()
		case 5:
			if _, err = f.bytes(); err == nil {
				attrs = append(attrs, f)
			}
		case 6:
			n.Doc, err = f.str()
		case 7:
			n.Domain, err = f.str()
		case 8:
			overload, err = f.str()
		}
		if err != nil {
			return n, err
		}
	}
	if it.err != nil {
		return n, it.err
	}
	n.Domain = normDomain(n.Domain)
	if n.OpType == "" {
		return n, invalidf("node has no op_type")
	}
	if overload != "" {
		if d.overload == nil {
			d.overload = map[*common.Node]string{}
		}
		d.overload[n] = overload
	}
	for i := range attrs {
		a, err := d.attribute(attrs[i].b, attrs[i].off, depth)
		if err != nil {
			seg := fmt.Sprintf("attribute[%d]", i)
			if a != nil && a.Name != "" {
				seg = fmt.Sprintf("attribute[%s]", a.Name)
			}
			return n, at(seg, err)
		}
		if n.Attrs == nil {
			n.Attrs = map[string]*common.Attribute{}
		}
		if _, dup := n.Attrs[a.Name]; dup {
			return n, at(fmt.Sprintf("attribute[%s]", a.Name), invalidf("attribute %q is given twice", a.Name))
		}
		n.Attrs[a.Name] = a
	}
	return n, nil
}

// attribute decodes an AttributeProto; depth is that of the graph holding
// the node.
func (d *decoder) attribute(b []byte, base, depth int) (*common.Attribute, error) {
	a := &common.Attribute{}
	it := newIter(b, base)
	var f field
	var has [24]bool
	var typ int32
	for it.next(&f) {
		var err error
		if f.num > 0 && int(f.num) < len(has) {
			has[f.num] = true
		}
		switch f.num {
		case 1:
			a.Name, err = f.str()
		case 2:
			a.F, err = f.float32()
		case 3:
			a.I, err = f.int64()
		case 4:
			a.S, err = f.bytes()
		case 5:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				var t *common.Tensor
				t, _, err = d.tensor(bb, f.off)
				err = at("t", err)
				a.T = t
			}
		case 6:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				var g *common.Graph
				g, err = d.graph(bb, f.off, depth+1)
				err = at("g", err)
				a.G = g
			}
		case 7:
			err = f.eachFixed(4, func(v uint64) {
				a.Floats = append(a.Floats, mathFloat32(v))
			})
		case 8:
			err = f.eachVarint(func(v uint64) error {
				a.Ints = append(a.Ints, int64(v))
				return nil
			})
		case 9:
			var s []byte
			s, err = f.bytes()
			a.Strings = append(a.Strings, s)
		case 10:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				var t *common.Tensor
				t, _, err = d.tensor(bb, f.off)
				err = at(fmt.Sprintf("tensors[%d]", len(a.Tensors)), err)
				a.Tensors = append(a.Tensors, t)
			}
		case 11:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				var g *common.Graph
				g, err = d.graph(bb, f.off, depth+1)
				err = at(fmt.Sprintf("graphs[%d]", len(a.Graphs)), err)
				a.Graphs = append(a.Graphs, g)
			}
		case 14:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				var ti common.TypeInfo
				ti, err = d.typeInfo(bb, f.off, 0)
				a.TP = &ti
			}
		case 15:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				// Only the first type proto is kept (TypeInfo has one slot).
				var ti common.TypeInfo
				ti, err = d.typeInfo(bb, f.off, 0)
				if a.TP == nil {
					a.TP = &ti
				}
			}
		case 20:
			typ, err = f.int32()
		case 21:
			a.RefAttrName, err = f.str()
		case 22:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				var t *common.Tensor
				t, _, err = d.sparseTensor(bb, f.off)
				err = at("sparse_tensor", err)
				a.T = t
			}
		case 23:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				var t *common.Tensor
				t, _, err = d.sparseTensor(bb, f.off)
				err = at(fmt.Sprintf("sparse_tensors[%d]", len(a.Tensors)), err)
				a.Tensors = append(a.Tensors, t)
			}
		}
		if err != nil {
			return a, err
		}
	}
	if it.err != nil {
		return a, it.err
	}
	if a.Name == "" {
		return a, invalidf("attribute has no name")
	}
	if typ == 0 {
		// Old files leave the type out: infer it from the field present.
		switch {
		case has[6]:
			typ = int32(common.AttrGraph)
		case has[5]:
			typ = int32(common.AttrTensor)
		case has[22]:
			typ = int32(common.AttrSparseTensor)
		case has[4]:
			typ = int32(common.AttrString)
		case has[7]:
			typ = int32(common.AttrFloats)
		case has[8]:
			typ = int32(common.AttrInts)
		case has[9]:
			typ = int32(common.AttrStrings)
		case has[10]:
			typ = int32(common.AttrTensors)
		case has[11]:
			typ = int32(common.AttrGraphs)
		case has[23]:
			typ = int32(common.AttrSparseTensors)
		case has[14]:
			typ = int32(common.AttrTypeProto)
		case has[15]:
			typ = int32(common.AttrTypeProtos)
		case has[3]:
			typ = int32(common.AttrInt)
		case has[2]:
			typ = int32(common.AttrFloat)
		default:
			if a.RefAttrName == "" {
				return a, invalidf("attribute %q has no type and no value", a.Name)
			}
		}
	}
	a.Type = common.AttrType(typ)
	switch a.Type {
	case common.AttrUndefined, common.AttrFloat, common.AttrInt, common.AttrString,
		common.AttrFloats, common.AttrInts, common.AttrStrings, common.AttrTensors,
		common.AttrGraphs, common.AttrSparseTensors, common.AttrTypeProto, common.AttrTypeProtos:
	case common.AttrTensor:
		if a.T == nil && a.RefAttrName == "" {
			return a, invalidf("tensor attribute %q has no tensor", a.Name)
		}
	case common.AttrSparseTensor:
		if a.T == nil && a.RefAttrName == "" {
			return a, invalidf("sparse tensor attribute %q has no tensor", a.Name)
		}
	case common.AttrGraph:
		if a.G == nil && a.RefAttrName == "" {
			return a, invalidf("graph attribute %q has no graph", a.Name)
		}
	default:
		return a, invalidf("attribute %q has unknown type %d", a.Name, typ)
	}
	return a, nil
}

func (d *decoder) valueInfo(f *field) (common.ValueInfo, error) {
	var vi common.ValueInfo
	b, err := f.bytes()
	if err != nil {
		return vi, err
	}
	it := newIter(b, f.off)
	var g field
	for it.next(&g) {
		switch g.num {
		case 1:
			vi.Name, err = g.str()
		case 2:
			var bb []byte
			if bb, err = g.bytes(); err == nil {
				vi.Type, err = d.typeInfo(bb, g.off, 0)
				err = at("type", err)
			}
		case 3:
			vi.Doc, err = g.str()
		}
		if err != nil {
			return vi, err
		}
	}
	return vi, it.err
}

// typeInfo decodes a TypeProto; depth counts nested element types.
func (d *decoder) typeInfo(b []byte, base, depth int) (common.TypeInfo, error) {
	var ti common.TypeInfo
	if depth > d.lim.SubgraphDepth {
		return ti, limitf("types nested deeper than the limit of %d", d.lim.SubgraphDepth)
	}
	it := newIter(b, base)
	var f field
	for it.next(&f) {
		var err error
		switch f.num {
		case 1, 8:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				ti.Kind = common.KindTensor
				if f.num == 8 {
					ti.Kind = common.KindSparseTensor
				}
				err = d.tensorType(bb, f.off, &ti)
			}
		case 4, 9:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				ti.Kind = common.KindSequence
				if f.num == 9 {
					ti.Kind = common.KindOptional
				}
				ti.Elem, err = d.elemType(bb, f.off, 1, depth)
			}
		case 5:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				ti.Kind = common.KindMap
				it2 := newIter(bb, f.off)
				var g field
				for it2.next(&g) {
					switch g.num {
					case 1:
						var k int32
						k, err = g.int32()
						ti.KeyType = common.DType(k)
					case 2:
						var b2 []byte
						if b2, err = g.bytes(); err == nil {
							var e common.TypeInfo
							e, err = d.typeInfo(b2, g.off, depth+1)
							ti.Elem = &e
						}
					}
					if err != nil {
						break
					}
				}
				if err == nil {
					err = it2.err
				}
			}
		}
		if err != nil {
			return ti, err
		}
	}
	return ti, it.err
}

// elemType decodes the TypeProto in field num of a Sequence/Optional type.
func (d *decoder) elemType(b []byte, base int, num int, depth int) (*common.TypeInfo, error) {
	it := newIter(b, base)
	var f field
	var out *common.TypeInfo
	for it.next(&f) {
		if int(f.num) != num {
			continue
		}
		bb, err := f.bytes()
		if err != nil {
			return nil, err
		}
		e, err := d.typeInfo(bb, f.off, depth+1)
		if err != nil {
			return nil, err
		}
		out = &e
	}
	return out, it.err
}

func (d *decoder) tensorType(b []byte, base int, ti *common.TypeInfo) error {
	it := newIter(b, base)
	var f field
	for it.next(&f) {
		var err error
		switch f.num {
		case 1:
			var e int32
			e, err = f.int32()
			ti.DType = common.DType(e)
		case 2:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				ti.HasShape = true
				ti.Dims = ti.Dims[:0]
				it2 := newIter(bb, f.off)
				var g field
				for it2.next(&g) {
					if g.num != 1 {
						continue
					}
					var db []byte
					if db, err = g.bytes(); err != nil {
						break
					}
					var dim common.Dim
					if dim, err = decodeDim(db, g.off); err != nil {
						break
					}
					ti.Dims = append(ti.Dims, dim)
				}
				if err == nil {
					err = it2.err
				}
			}
		}
		if err != nil {
			return err
		}
	}
	if ti.HasShape && ti.Dims == nil {
		ti.Dims = []common.Dim{}
	}
	return it.err
}

func decodeDim(b []byte, base int) (common.Dim, error) {
	dim := common.Dim{Value: -1}
	it := newIter(b, base)
	var f field
	for it.next(&f) {
		var err error
		switch f.num {
		case 1:
			var v int64
			v, err = f.int64()
			if v < 0 {
				v = -1
			}
			dim.Value = v
		case 2:
			dim.Param, err = f.str()
		}
		if err != nil {
			return dim, err
		}
	}
	return dim, it.err
}
