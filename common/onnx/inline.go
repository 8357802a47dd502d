package onnx

import (
	"fmt"
	"strconv"

	"github.com/accel-go/accel/common"
)

// funcKey identifies a model-local function.
type funcKey struct{ domain, name, overload string }

// function decodes a FunctionProto.
func (d *decoder) function(b []byte, base int) (*common.Function, error) {
	fn := &common.Function{Opsets: map[string]int64{}}
	it := newIter(b, base)
	var f field
	nNode, nOpset, nAttr := 0, 0, 0
	for it.next(&f) {
		var err error
		switch f.num {
		case 1:
			fn.Name, err = f.str()
		case 4:
			var s string
			s, err = f.str()
			fn.Inputs = append(fn.Inputs, s)
		case 5:
			var s string
			s, err = f.str()
			fn.Outputs = append(fn.Outputs, s)
		case 6:
			var s string
			s, err = f.str()
			fn.AttrNames = append(fn.AttrNames, s)
		case 7:
			seg := fmt.Sprintf("node[%d]", nNode)
			nNode++
			if err = d.countNode(); err != nil {
				return nil, at(seg, err)
			}
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				var n *common.Node
				n, err = d.node(bb, f.off, 0)
				if err != nil && n != nil && n.Name != "" {
					seg += "(" + n.Name + ")"
				}
				err = at(seg, err)
				fn.Nodes = append(fn.Nodes, n)
			}
		case 9:
			err = at(fmt.Sprintf("opset_import[%d]", nOpset), d.opsetImport(&f, fn.Opsets))
			nOpset++
		case 10:
			fn.Domain, err = f.str()
		case 11:
			var bb []byte
			if bb, err = f.bytes(); err == nil {
				var a *common.Attribute
				a, err = d.attribute(bb, f.off, 0)
				err = at(fmt.Sprintf("attribute_proto[%d]", nAttr), err)
				if err == nil {
					if fn.AttrDefaults == nil {
						fn.AttrDefaults = map[string]*common.Attribute{}
					}
					fn.AttrDefaults[a.Name] = a
				}
			}
			nAttr++
		case 13:
			fn.Overload, err = f.str()
		}
		if err != nil {
			return nil, err
		}
	}
	if it.err != nil {
		return nil, it.err
	}
	fn.Domain = normDomain(fn.Domain)
	if fn.Name == "" {
		return nil, invalidf("function has no name")
	}
	return fn, nil
}

func (d *decoder) lookup(n *common.Node) *common.Function {
	if len(d.funcs) == 0 {
		return nil
	}
	return d.funcs[funcKey{n.Domain, n.OpType, d.overload[n]}]
}

// expandModel inlines function calls and resolves every node's opset.
func (d *decoder) expandModel(m *common.Model) error {
	d.funcs = map[funcKey]*common.Function{}
	for _, fn := range m.Functions {
		k := funcKey{fn.Domain, fn.Name, fn.Overload}
		if _, dup := d.funcs[k]; dup {
			return invalidf("function %s.%s is defined twice", domainName(fn.Domain), fn.Name)
		}
		d.funcs[k] = fn
	}
	if len(d.funcs) > 0 {
		d.names = map[string]bool{}
		collectNames(m.Graph, d.names)
	}
	return at("graph", d.expandGraph(m.Graph, m.Opsets, nil, nil))
}

// collectNames records every value name used in g and its subgraphs.
func collectNames(g *common.Graph, into map[string]bool) {
	for _, v := range g.Inputs {
		into[v.Name] = true
	}
	for _, v := range g.Outputs {
		into[v.Name] = true
	}
	for k := range g.Initializers {
		into[k] = true
	}
	for _, n := range g.Nodes {
		for _, s := range n.Inputs {
			into[s] = true
		}
		for _, s := range n.Outputs {
			into[s] = true
		}
		for _, sg := range n.Subgraphs() {
			collectNames(sg, into)
		}
	}
}

// resolveOpset sets n.Opset from the function's imports (fnOps, may be
// nil) or the model's.
func resolveOpset(n *common.Node, modelOps, fnOps map[string]int64) error {
	if v, ok := fnOps[n.Domain]; ok {
		n.Opset = v
		return nil
	}
	if v, ok := modelOps[n.Domain]; ok {
		n.Opset = v
		return nil
	}
	return invalidf("node %s uses domain %s with no opset import", n.Label(), domainName(n.Domain))
}

// expandGraph inlines the function calls in g (recursively into its
// subgraphs) and resolves opsets. stack lists the functions being
// inlined (innermost last); fnOps are the innermost function's imports.
func (d *decoder) expandGraph(g *common.Graph, modelOps, fnOps map[string]int64, stack []*common.Function) error {
	out := g.Nodes[:0:0]
	changed := false
	for i, n := range g.Nodes {
		if fn := d.lookup(n); fn != nil {
			body, err := d.inline(n, fn, modelOps, stack)
			if err != nil {
				return at(fmt.Sprintf("node[%d](%s)", i, n.Label()), err)
			}
			out = append(out, body...)
			changed = true
			continue
		}
		if err := resolveOpset(n, modelOps, fnOps); err != nil {
			return at(fmt.Sprintf("node[%d]", i), err)
		}
		for name, a := range n.Attrs {
			for _, sg := range attrGraphs(a) {
				if err := d.expandGraph(sg, modelOps, fnOps, stack); err != nil {
					return at(fmt.Sprintf("node[%d](%s).attribute[%s]", i, n.Label(), name), err)
				}
			}
		}
		out = append(out, n)
	}
	if changed {
		g.Nodes = out
	}
	return nil
}

func attrGraphs(a *common.Attribute) []*common.Graph {
	var gs []*common.Graph
	if a.G != nil {
		gs = append(gs, a.G)
	}
	return append(gs, a.Graphs...)
}

func (d *decoder) fresh(base string) string {
	for {
		d.counter++
		s := base + "__" + strconv.Itoa(d.counter)
		if !d.names[s] {
			d.names[s] = true
			return s
		}
	}
}

// inline returns the nodes of fn's body bound to call: values renamed,
// attributes bound, nested calls expanded, opsets resolved.
func (d *decoder) inline(call *common.Node, fn *common.Function, modelOps map[string]int64, stack []*common.Function) ([]*common.Node, error) {
	for _, s := range stack {
		if s == fn {
			return nil, invalidf("function %s calls itself (recursion is not allowed)", fn.Name)
		}
	}
	if len(stack)+1 > d.lim.FunctionDepth {
		return nil, limitf("function calls nested deeper than the limit of %d", d.lim.FunctionDepth)
	}
	if len(call.Inputs) > len(fn.Inputs) {
		return nil, invalidf("call of function %s has %d inputs, the function takes %d", fn.Name, len(call.Inputs), len(fn.Inputs))
	}
	if len(call.Outputs) > len(fn.Outputs) {
		return nil, invalidf("call of function %s has %d outputs, the function has %d", fn.Name, len(call.Outputs), len(fn.Outputs))
	}
	prefix := fn.Name
	if call.Name != "" {
		prefix = call.Name
	}
	ren := map[string]string{"": ""}
	for i, in := range fn.Inputs {
		if i < len(call.Inputs) {
			ren[in] = call.Inputs[i]
		} else {
			ren[in] = ""
		}
	}
	for i, o := range fn.Outputs {
		if i < len(call.Outputs) && call.Outputs[i] != "" {
			ren[o] = call.Outputs[i]
		} else if _, ok := ren[o]; !ok {
			ren[o] = d.fresh(prefix + "_" + o)
		}
	}
	rename := func(s string) string {
		if r, ok := ren[s]; ok {
			return r
		}
		r := d.fresh(prefix + "_" + s)
		ren[s] = r
		return r
	}
	body := make([]*common.Node, 0, len(fn.Nodes))
	for _, n := range fn.Nodes {
		if err := d.countNode(); err != nil {
			return nil, err
		}
		c, err := d.cloneNode(n, rename, call, fn)
		if err != nil {
			return nil, err
		}
		if n.Name != "" {
			c.Name = prefix + "/" + n.Name
		}
		body = append(body, c)
	}
	g := &common.Graph{Nodes: body}
	if err := d.expandGraph(g, modelOps, fn.Opsets, append(stack[:len(stack):len(stack)], fn)); err != nil {
		return nil, at("function "+fn.Name, err)
	}
	return g.Nodes, nil
}

// bindAttr resolves a function body attribute against the call.
func bindAttr(a *common.Attribute, call *common.Node, fn *common.Function) *common.Attribute {
	if a.RefAttrName == "" {
		return a
	}
	src := call.Attr(a.RefAttrName)
	if src == nil {
		src = fn.AttrDefaults[a.RefAttrName]
	}
	if src == nil {
		return nil
	}
	c := *src
	c.Name = a.Name
	c.RefAttrName = ""
	return &c
}

func (d *decoder) cloneNode(n *common.Node, rename func(string) string, call *common.Node, fn *common.Function) (*common.Node, error) {
	c := &common.Node{Name: n.Name, OpType: n.OpType, Domain: n.Domain, Doc: n.Doc}
	if ov, ok := d.overload[n]; ok {
		d.overload[c] = ov
	}
	c.Inputs = make([]string, len(n.Inputs))
	for i, s := range n.Inputs {
		c.Inputs[i] = rename(s)
	}
	c.Outputs = make([]string, len(n.Outputs))
	for i, s := range n.Outputs {
		c.Outputs[i] = rename(s)
	}
	if n.Attrs != nil {
		c.Attrs = make(map[string]*common.Attribute, len(n.Attrs))
	}
	for k, a := range n.Attrs {
		b := bindAttr(a, call, fn)
		if b == nil {
			continue
		}
		if b == a && (a.G != nil || len(a.Graphs) > 0) {
			cp := *a
			if a.G != nil {
				g, err := d.cloneGraph(a.G, rename, call, fn)
				if err != nil {
					return nil, err
				}
				cp.G = g
			}
			if len(a.Graphs) > 0 {
				cp.Graphs = make([]*common.Graph, len(a.Graphs))
				for i, sg := range a.Graphs {
					g, err := d.cloneGraph(sg, rename, call, fn)
					if err != nil {
						return nil, err
					}
					cp.Graphs[i] = g
				}
			}
			b = &cp
		}
		c.Attrs[k] = b
	}
	return c, nil
}

func (d *decoder) cloneGraph(g *common.Graph, rename func(string) string, call *common.Node, fn *common.Function) (*common.Graph, error) {
	c := &common.Graph{Name: g.Name, Doc: g.Doc,
		Initializers: make(map[string]*common.Tensor, len(g.Initializers)),
		ValueInfo:    make(map[string]common.ValueInfo, len(g.ValueInfo))}
	for _, v := range g.Inputs {
		v.Name = rename(v.Name)
		c.Inputs = append(c.Inputs, v)
	}
	for _, v := range g.Outputs {
		v.Name = rename(v.Name)
		c.Outputs = append(c.Outputs, v)
	}
	for _, k := range g.InitOrder {
		r := rename(k)
		c.Initializers[r] = g.Initializers[k]
		c.InitOrder = append(c.InitOrder, r)
	}
	for k, v := range g.ValueInfo {
		v.Name = rename(k)
		c.ValueInfo[v.Name] = v
	}
	for _, n := range g.Nodes {
		if err := d.countNode(); err != nil {
			return nil, err
		}
		cn, err := d.cloneNode(n, rename, call, fn)
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, cn)
	}
	return c, nil
}
