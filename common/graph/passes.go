package graph

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

// Evaluator computes a node's outputs from constant inputs; constant
// folding uses it (package cpu supplies one).
type Evaluator func(n *Node, inputs []*common.Tensor) ([]*common.Tensor, error)

// PassOptions choose the rewrites Optimize runs.
type PassOptions struct {
	// Eval folds nodes whose inputs are all constant; nil: no folding.
	Eval Evaluator
	// NoFold, NoIdentity, NoBNFold, NoFusion switch single passes off.
	NoFold, NoIdentity, NoBNFold, NoFusion bool
	// MaxFoldBytes bounds the size of one folded tensor (default 64 MiB).
	MaxFoldBytes int64
}

// Optimize returns a rewritten copy of m; m itself is not modified. The
// passes, in order: constant folding, Identity and inference Dropout
// removal, Conv+BatchNormalization folding, activation fusion into
// Conv/Gemm (Node.Fused). Only the main graph is rewritten.
func Optimize(m *Model, opts PassOptions) (*Model, error) {
	out := *m
	g := *m.Graph
	g.Nodes = append([]*Node(nil), m.Graph.Nodes...)
	g.Initializers = make(map[string]*common.Tensor, len(m.Graph.Initializers))
	for k, v := range m.Graph.Initializers {
		g.Initializers[k] = v
	}
	g.InitOrder = append([]string(nil), m.Graph.InitOrder...)
	out.Graph = &g
	if opts.Eval != nil && !opts.NoFold {
		if err := FoldConstants(&g, opts.Eval, opts.MaxFoldBytes); err != nil {
			return nil, err
		}
	}
	if !opts.NoIdentity {
		RemoveIdentities(&g)
	}
	if !opts.NoBNFold {
		FoldBatchNorm(&g)
	}
	if !opts.NoFusion {
		FuseActivations(&g)
	}
	return &out, nil
}

// consumers maps each value name to the nodes reading it (subgraph reads
// count as reads by the node holding the subgraph).
func consumers(g *Graph) map[string][]*Node {
	c := map[string][]*Node{}
	for _, n := range g.Nodes {
		for _, name := range NodeReads(n) {
			c[name] = append(c[name], n)
		}
	}
	return c
}

func graphOutputs(g *Graph) map[string]bool {
	s := map[string]bool{}
	for _, o := range g.Outputs {
		s[o.Name] = true
	}
	return s
}

// overridable are initializers also listed as graph inputs (IR < 4):
// callers may feed them, so they are not constants.
func overridable(g *Graph) map[string]bool {
	s := map[string]bool{}
	for _, in := range g.Inputs {
		if _, ok := g.Initializers[in.Name]; ok {
			s[in.Name] = true
		}
	}
	return s
}

var nondeterministic = map[string]bool{
	"RandomNormal": true, "RandomUniform": true, "RandomNormalLike": true,
	"RandomUniformLike": true, "Multinomial": true, "Bernoulli": true,
}

// FoldConstants replaces nodes whose inputs are all constant by
// initializers holding their outputs, computed by eval. Results larger
// than maxBytes (default 64 MiB) are left to run time.
func FoldConstants(g *Graph, eval Evaluator, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = 64 << 20
	}
	over := overridable(g)
	order, err := Order(g, nil)
	if err != nil {
		return err
	}
	keep := make([]*Node, 0, len(order))
	for _, n := range order {
		if !foldable(n, g, over) {
			keep = append(keep, n)
			continue
		}
		var in []*common.Tensor
		if n.OpType != "Constant" {
			in = make([]*common.Tensor, len(n.Inputs))
			for i, name := range n.Inputs {
				if name != "" {
					in[i] = g.Initializers[name]
				}
			}
		}
		outs, err := eval(n, in)
		if err != nil || len(outs) < len(n.Outputs) {
			keep = append(keep, n) // leave it: the error, if real, shows at run time
			continue
		}
		var size int64
		ok := true
		for i, o := range n.Outputs {
			if o == "" {
				continue
			}
			if outs[i] == nil {
				ok = false
				break
			}
			size += outs[i].Bytes()
		}
		if !ok || size > maxBytes {
			keep = append(keep, n)
			continue
		}
		for i, o := range n.Outputs {
			if o != "" {
				g.Initializers[o] = outs[i]
				g.InitOrder = append(g.InitOrder, o)
			}
		}
	}
	g.Nodes = keep
	return nil
}

func foldable(n *Node, g *Graph, over map[string]bool) bool {
	if nondeterministic[n.OpType] || len(n.Subgraphs()) > 0 || (n.Domain != "" && n.Domain != "ai.onnx") {
		return false
	}
	switch n.OpType {
	case "Constant":
		return true
	case "Dropout", "Identity", "Loop", "If", "Scan":
		return false
	}
	if len(n.Inputs) == 0 {
		return false
	}
	for _, name := range n.Inputs {
		if name == "" {
			continue
		}
		if _, ok := g.Initializers[name]; !ok || over[name] {
			return false
		}
	}
	return true
}

// RemoveIdentities drops Identity nodes and inference-mode Dropout nodes
// (whose mask output is unused), renaming their readers to the input. A
// node whose output is a graph output, or is read inside a subgraph, is
// kept.
func RemoveIdentities(g *Graph) {
	outs := graphOutputs(g)
	cons := consumers(g)
	subReads := map[string]bool{}
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			for _, name := range FreeNames(sg) {
				subReads[name] = true
			}
		}
	}
	rename := map[string]string{}
	keep := make([]*Node, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		if isPassThrough(n, g, cons) && len(n.Outputs) > 0 && !outs[n.Outputs[0]] && !subReads[n.Outputs[0]] && n.Input(0) != "" {
			rename[n.Outputs[0]] = n.Inputs[0]
			continue
		}
		keep = append(keep, n)
	}
	if len(rename) == 0 {
		return
	}
	resolve := func(name string) string {
		for i := 0; i < len(rename)+1; i++ {
			r, ok := rename[name]
			if !ok {
				return name
			}
			name = r
		}
		return name
	}
	for i, n := range keep {
		changed := false
		for _, in := range n.Inputs {
			if _, ok := rename[in]; ok {
				changed = true
			}
		}
		if !changed {
			continue
		}
		c := *n
		c.Inputs = make([]string, len(n.Inputs))
		for j, in := range n.Inputs {
			c.Inputs[j] = resolve(in)
		}
		keep[i] = &c
	}
	g.Nodes = keep
}

func isPassThrough(n *Node, g *Graph, cons map[string][]*Node) bool {
	switch n.OpType {
	case "Identity":
		return len(n.Outputs) == 1
	case "Dropout":
		if len(n.Outputs) > 1 && n.Outputs[1] != "" && len(cons[n.Outputs[1]]) > 0 {
			return false
		}
		for _, o := range g.Outputs {
			if len(n.Outputs) > 1 && o.Name == n.Outputs[1] {
				return false
			}
		}
		if n.Opset < 7 && n.AttrInt("is_test", 0) == 0 {
			return false
		}
		if n.Opset >= 12 {
			if tm := n.Input(2); tm != "" {
				t, ok := g.Initializers[tm]
				if !ok || t.Len() != 1 || t.Float(0) != 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// FoldBatchNorm merges an inference BatchNormalization into the Conv that
// feeds it, when the Conv's weights and the BN's parameters are float32
// initializers and the Conv output has no other reader.
func FoldBatchNorm(g *Graph) {
	outs := graphOutputs(g)
	cons := consumers(g)
	producer := map[string]*Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			producer[o] = n
		}
	}
	over := overridable(g)
	removed := map[*Node]*Node{} // BN node -> replacement conv
	drop := map[*Node]bool{}
	for _, bn := range g.Nodes {
		if bn.OpType != "BatchNormalization" || len(bn.Inputs) < 5 || bn.AttrInt("training_mode", 0) != 0 {
			continue
		}
		if len(bn.Outputs) > 1 {
			extra := false
			for _, o := range bn.Outputs[1:] {
				if o != "" {
					extra = true
				}
			}
			if extra {
				continue
			}
		}
		conv := producer[bn.Inputs[0]]
		if conv == nil || conv.OpType != "Conv" || conv.Fused != nil || len(cons[bn.Inputs[0]]) != 1 || outs[bn.Inputs[0]] || drop[conv] {
			continue
		}
		params := make([]*common.Tensor, 4)
		ok := true
		for i := range params {
			name := bn.Inputs[1+i]
			t, isInit := g.Initializers[name]
			if !isInit || over[name] || t.DType() != common.Float32 {
				ok = false
				break
			}
			params[i] = t
		}
		w, isInit := g.Initializers[conv.Input(1)]
		if !ok || !isInit || over[conv.Input(1)] || w.DType() != common.Float32 || w.Rank() < 3 {
			continue
		}
		m := w.Shape()[0]
		for _, p := range params {
			if p.Len() != m {
				ok = false
			}
		}
		var bias *common.Tensor
		if b := conv.Input(2); b != "" {
			bias, isInit = g.Initializers[b]
			if !isInit || over[b] || bias.DType() != common.Float32 || bias.Len() != m {
				ok = false
			}
		}
		if !ok {
			continue
		}
		eps := float64(bn.AttrFloat("epsilon", 1e-5))
		scale, shift := common.Data[float32](params[0]), common.Data[float32](params[1])
		mean, variance := common.Data[float32](params[2]), common.Data[float32](params[3])
		wd := common.Data[float32](w)
		per := len(wd) / m
		nw := make([]float32, len(wd))
		nb := make([]float32, m)
		for o := 0; o < m; o++ {
			f := float64(scale[o]) / math.Sqrt(float64(variance[o])+eps)
			for i := 0; i < per; i++ {
				nw[o*per+i] = float32(float64(wd[o*per+i]) * f)
			}
			b0 := 0.0
			if bias != nil {
				b0 = float64(common.Data[float32](bias)[o])
			}
			nb[o] = float32((b0-float64(mean[o]))*f + float64(shift[o]))
		}
		wName := uniqueName(g, bn.Outputs[0]+"_folded_w")
		g.Initializers[wName] = common.NewTensor(w.Shape(), nw)
		bName := uniqueName(g, bn.Outputs[0]+"_folded_b")
		g.Initializers[bName] = common.NewTensor(common.Shape{m}, nb)
		g.InitOrder = append(g.InitOrder, wName, bName)
		c := *conv
		c.Inputs = []string{conv.Inputs[0], wName, bName}
		c.Outputs = []string{bn.Outputs[0]}
		removed[bn] = &c
		drop[conv] = true
	}
	replaceNodes(g, drop, removed)
}

// replaceNodes drops the nodes in drop and swaps those in repl for their
// replacements, keeping the order of the rest.
func replaceNodes(g *Graph, drop map[*Node]bool, repl map[*Node]*Node) {
	if len(repl) == 0 && len(drop) == 0 {
		return
	}
	keep := make([]*Node, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		if drop[n] {
			continue
		}
		if r, ok := repl[n]; ok {
			keep = append(keep, r)
			continue
		}
		keep = append(keep, n)
	}
	g.Nodes = keep
}

func uniqueName(g *Graph, base string) string {
	name := base
	for i := 1; ; i++ {
		if _, taken := g.Initializers[name]; !taken {
			return name
		}
		name = fmt.Sprintf("%s_%d", base, i)
	}
}

// fusable lists the activations a Conv/Gemm epilogue can apply.
var fusable = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Clip": true, "Sigmoid": true, "Tanh": true,
	"HardSigmoid": true, "HardSwish": true,
}

// FuseActivations marks an activation that directly follows a float32
// Conv or Gemm (whose output nothing else reads) as that node's Fused
// epilogue, removing the activation node. Clip's min and max inputs must
// be constants; they become float attributes "min" and "max" of Fused.
func FuseActivations(g *Graph) {
	outs := graphOutputs(g)
	cons := consumers(g)
	producer := map[string]*Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			producer[o] = n
		}
	}
	over := overridable(g)
	repl := map[*Node]*Node{}
	drop := map[*Node]bool{}
	for _, act := range g.Nodes {
		if !fusable[act.OpType] || len(act.Inputs) == 0 || len(act.Outputs) != 1 {
			continue
		}
		p := producer[act.Inputs[0]]
		if p == nil || (p.OpType != "Conv" && p.OpType != "Gemm") || p.Fused != nil || drop[p] ||
			len(cons[act.Inputs[0]]) != 1 || outs[act.Inputs[0]] || len(p.Outputs) != 1 {
			continue
		}
		if w, ok := g.Initializers[p.Input(1)]; !ok || w.DType() != common.Float32 {
			continue // only float32 weights: the epilogue is float32
		}
		f := &Node{Name: act.Name, OpType: act.OpType, Domain: act.Domain, Opset: act.Opset, Attrs: map[string]*Attribute{}}
		for k, v := range act.Attrs {
			f.Attrs[k] = v
		}
		if act.OpType == "Clip" && act.Opset >= 11 {
			lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
			ok := true
			for i, dst := range []*float32{&lo, &hi} {
				name := act.Input(1 + i)
				if name == "" {
					continue
				}
				t, isInit := g.Initializers[name]
				if !isInit || over[name] || t.Len() != 1 || t.DType() != common.Float32 {
					ok = false
					break
				}
				*dst = float32(t.Float(0))
			}
			if !ok {
				continue
			}
			f.Attrs["min"] = &Attribute{Name: "min", Type: common.AttrFloat, F: lo}
			f.Attrs["max"] = &Attribute{Name: "max", Type: common.AttrFloat, F: hi}
		}
		c := *p
		c.Outputs = []string{act.Outputs[0]}
		c.Fused = f
		repl[act] = &c
		drop[p] = true
	}
	replaceNodes(g, drop, repl)
}
