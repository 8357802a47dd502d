package plan

import (
	"errors"
	"fmt"
	"sort"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/graph"
)

// Plan is the step list for one input-shape signature.
type Plan struct {
	// Places says where each node runs, in execution order.
	Places []common.NodePlacement
	// ActBytes is the arena space the plan's activations take (after the
	// weights).
	ActBytes int64

	steps  []step
	roots  []*root
	expect map[string]*Operand // shapes of values produced on the CPU
	// inConst are run inputs whose values device kernels were prepared
	// with (ConstInputer); a run with other values is planned again.
	inConst map[string]*common.Tensor
	host    map[string]bool // host values an output may be read from

	gen      int // arena generation the launches are bound to
	launches []Launch
}

type stepKind int

const (
	stepUpload stepKind = iota
	stepDownload
	stepDevice
	stepHost
)

func (k stepKind) String() string {
	return [...]string{"upload", "download", "device", "host"}[k]
}

// root is one range of the arena; several values may share it (views,
// in-place kernels).
type root struct {
	bytes       int64
	off         int64 // absolute offset (weights) or offset after the weights
	weight      bool
	first, last int // steps that touch it
	aliases     []string
}

// dval is a value held on the device.
type dval struct {
	op   *Operand
	root *root
}

type step struct {
	kind   stepKind
	node   *common.Node
	name   string // uploaded or downloaded value
	dv     *dval
	in     []*dval
	out    []*dval
	kernel Kernel
	free   []string // host values no later step reads
}

var errReplan = errors.New("data-dependent shape changed")

var viewOps = map[string]bool{"Reshape": true, "Flatten": true, "Squeeze": true, "Unsqueeze": true, "Identity": true}

func isView(n *common.Node) bool {
	return (n.Domain == "" || n.Domain == "ai.onnx") && viewOps[n.OpType] && n.Fused == nil && len(n.Inputs) > 0 && len(n.Outputs) == 1
}

func isIntType(d common.DType) bool {
	return d == common.Int64 || d == common.Int32
}

// build plans one signature from the values a CPU run computed.
func (e *Engine) build(inputs, vals map[string]common.Value) (*Plan, error) {
	g := e.model.Graph
	p := &Plan{expect: map[string]*Operand{}, host: map[string]bool{}, inConst: map[string]*common.Tensor{}}
	lastUse := map[string]int{}
	for i, n := range e.order {
		for _, name := range graph.NodeReads(n) {
			lastUse[name] = i
		}
	}
	isOutput := map[string]bool{}
	for _, o := range g.Outputs {
		isOutput[o.Name] = true
		lastUse[o.Name] = len(e.order)
	}
	value := func(name string) common.Value {
		if v, ok := inputs[name]; ok && v != nil {
			return v
		}
		if t, ok := g.Initializers[name]; ok {
			return t
		}
		if v, ok := vals[name]; ok {
			if o, isOpt := v.(*common.Optional); isOpt && o.Value == nil {
				return nil
			}
			return v
		}
		return nil
	}
	consts := map[string]*common.Tensor{}
	for name, t := range g.Initializers {
		consts[name] = t
	}
	operand := func(name string) *Operand {
		t, ok := value(name).(*common.Tensor)
		if !ok || t == nil {
			return nil
		}
		return &Operand{Name: name, DType: t.DType(), Shape: t.Shape().Clone(), Const: consts[name]}
	}
	onHost := map[string]bool{}
	for name := range inputs {
		onHost[name] = true
	}
	for name := range g.Initializers {
		onHost[name] = true
	}
	dev := map[string]*dval{}
	newRoot := func(bytes int64, name string) *root {
		r := &root{bytes: bytes, first: -1, aliases: []string{name}}
		p.roots = append(p.roots, r)
		return r
	}
	toDevice := func(name string) (*dval, error) {
		if d := dev[name]; d != nil {
			return d, nil
		}
		op := operand(name)
		if op == nil {
			return nil, fmt.Errorf("%w: value %q has no tensor for the device", common.ErrInvalidModel, name)
		}
		if off, ok := e.weights[name]; ok {
			d := &dval{op: op, root: &root{bytes: e.devBytes(op), off: off, weight: true, first: -1, aliases: []string{name}}}
			dev[name] = d
			return d, nil
		}
		if !onHost[name] {
			return nil, fmt.Errorf("%w: value %q is neither on the host nor on the device", common.ErrInvalidModel, name)
		}
		d := &dval{op: op, root: newRoot(e.devBytes(op), name)}
		dev[name] = d
		p.steps = append(p.steps, step{kind: stepUpload, name: name, dv: d})
		return d, nil
	}
	toHost := func(name string) error {
		if onHost[name] {
			return nil
		}
		d := dev[name]
		if d == nil {
			if value(name) == nil {
				return nil // never produced: an absent optional value
			}
			return fmt.Errorf("%w: value %q is neither on the host nor on the device", common.ErrInvalidModel, name)
		}
		p.steps = append(p.steps, step{kind: stepDownload, name: name, dv: d})
		onHost[name] = true
		return nil
	}
	rootDead := func(r *root, at int) bool {
		if r.weight {
			return false
		}
		for _, a := range r.aliases {
			if isOutput[a] || lastUse[a] > at {
				return false
			}
		}
		return true
	}

	for i, n := range e.order {
		place := common.NodePlacement{Node: n.Label(), Op: n.OpType, Device: "cpu"}
		// Views of device values stay on the device.
		if isView(n) {
			src := n.Inputs[0]
			out := operand(n.Outputs[0])
			in := operand(src)
			// Device-only engines also view host values (uploading them),
			// so that no node is left to the CPU.
			_, isWeight := e.weights[src]
			viewable := dev[src] != nil || (e.opts.DeviceOnly && (onHost[src] || isWeight))
			if viewable && out != nil && in != nil &&
				out.DType == in.DType && out.Shape.Size() == in.Shape.Size() && ElemSize(in.DType) > 0 &&
				e.pinShapeInputs(p, n, inputs, value, dev) {
				d, err := toDevice(src)
				if err != nil {
					return nil, err
				}
				if d.op.Const != nil {
					out.Const, _ = d.op.Const.Reshape(out.Shape)
				}
				d.root.aliases = append(d.root.aliases, n.Outputs[0])
				dev[n.Outputs[0]] = &dval{op: out, root: d.root}
				place.Device, place.Reason = e.be.Name(), "view"
				p.Places = append(p.Places, place)
				continue
			}
		}
		var kernel Kernel
		ins := make([]*Operand, len(n.Inputs))
		outs := make([]*Operand, len(n.Outputs))
		tensorsOnly := len(n.Subgraphs()) == 0
		for j, name := range n.Inputs {
			if name == "" {
				continue
			}
			if ins[j] = operand(name); ins[j] == nil || ElemSize(ins[j].DType) == 0 {
				tensorsOnly = false
			}
		}
		for j, name := range n.Outputs {
			if name == "" {
				continue
			}
			if outs[j] = operand(name); outs[j] == nil || ElemSize(outs[j].DType) == 0 {
				tensorsOnly = false
			}
		}
		if tensorsOnly {
			e.constInputs(p, n, ins, inputs, value, consts)
		}
		if !tensorsOnly {
			place.Reason = "non-tensor or unknown values"
		} else {
			types := make([]common.TypeInfo, len(ins))
			for j, op := range ins {
				if op != nil {
					types[j] = tensorType(op.DType, op.Shape)
				}
			}
			if ok, why := e.be.Supports(n, types); !ok {
				place.Reason = why
			} else {
				k, err := e.be.Prepare(n, ins, outs)
				switch {
				case err == nil:
					kernel = k
				case errors.Is(err, common.ErrUnsupported):
					place.Reason = err.Error()
				default:
					return nil, &common.NodeError{Node: n.Name, Op: n.OpType, Err: err}
				}
			}
		}
		if kernel != nil {
			st := step{kind: stepDevice, node: n, kernel: kernel, in: make([]*dval, len(ins)), out: make([]*dval, len(outs))}
			for j, name := range n.Inputs {
				if name == "" {
					continue
				}
				d, err := toDevice(name)
				if err != nil {
					return nil, err
				}
				st.in[j] = d
			}
			inPlace := -1
			if ip, ok := kernel.(InPlacer); ok {
				inPlace = ip.InPlace()
			}
			for j, name := range n.Outputs {
				if name == "" {
					continue
				}
				var r *root
				if j == 0 && inPlace >= 0 && inPlace < len(st.in) && st.in[inPlace] != nil {
					src := st.in[inPlace]
					if src.root.bytes == e.devBytes(outs[0]) && rootDead(src.root, i) && countUses(st.in, src.root) == 1 {
						r = src.root
						r.aliases = append(r.aliases, name)
					}
				}
				if r == nil {
					r = newRoot(e.devBytes(outs[j]), name)
				}
				d := &dval{op: outs[j], root: r}
				dev[name] = d
				st.out[j] = d
			}
			p.steps = append(p.steps, st)
			place.Device = e.be.Name()
			p.Places = append(p.Places, place)
			continue
		}
		for _, name := range graph.NodeReads(n) {
			if err := toHost(name); err != nil {
				return nil, err
			}
		}
		p.steps = append(p.steps, step{kind: stepHost, node: n})
		for _, name := range n.Outputs {
			if name == "" {
				continue
			}
			onHost[name] = true
			if op := operand(name); op != nil {
				p.expect[name] = op
				if isIntType(op.DType) && op.Shape.Size() <= maxLearnedConst {
					t := value(name).(*common.Tensor)
					consts[name] = t
					op.Const = t
				}
			}
		}
		p.Places = append(p.Places, place)
	}
	for _, o := range g.Outputs {
		if err := toHost(o.Name); err != nil {
			return nil, err
		}
	}
	for name := range onHost {
		p.host[name] = true
	}
	p.lifetimes()
	p.hostFrees(isOutput)
	p.assign()
	return p, nil
}

func countUses(in []*dval, r *root) int {
	n := 0
	for _, d := range in {
		if d != nil && d.root == r {
			n++
		}
	}
	return n
}

// lifetimes records the first and last step touching each root.
func (p *Plan) lifetimes() {
	touch := func(d *dval, i int) {
		if d == nil {
			return
		}
		r := d.root
		if r.first < 0 {
			r.first = i
		}
		r.last = max(r.last, i)
	}
	for i := range p.steps {
		st := &p.steps[i]
		touch(st.dv, i)
		for _, d := range st.in {
			touch(d, i)
		}
		for _, d := range st.out {
			touch(d, i)
		}
	}
}

// hostFrees drops host values after the last step that reads them.
func (p *Plan) hostFrees(isOutput map[string]bool) {
	last := map[string]int{}
	for i := range p.steps {
		st := &p.steps[i]
		switch st.kind {
		case stepUpload:
			last[st.name] = i
		case stepHost:
			for _, name := range graph.NodeReads(st.node) {
				last[name] = i
			}
		}
	}
	for name, i := range last {
		if !isOutput[name] {
			p.steps[i].free = append(p.steps[i].free, name)
		}
	}
	for i := range p.steps {
		sort.Strings(p.steps[i].free)
	}
}

// assign places the activation roots first-fit: each root goes at the
// lowest aligned offset that overlaps no root alive at the same time.
func (p *Plan) assign() {
	roots := append([]*root(nil), p.roots...)
	sort.SliceStable(roots, func(a, b int) bool { return roots[a].first < roots[b].first })
	var placed []*root
	for _, r := range roots {
		if r.first < 0 {
			r.first, r.last = 0, 0
		}
		var conflicts []*root
		for _, q := range placed {
			if q.bytes > 0 && r.first <= q.last && q.first <= r.last {
				conflicts = append(conflicts, q)
			}
		}
		sort.Slice(conflicts, func(a, b int) bool { return conflicts[a].off < conflicts[b].off })
		var off int64
		for _, q := range conflicts {
			if off+r.bytes <= q.off {
				break
			}
			off = max(off, align(q.off+q.bytes))
		}
		r.off = off
		if r.bytes > 0 {
			placed = append(placed, r)
			p.ActBytes = max(p.ActBytes, align(off+r.bytes))
		}
	}
}

// release frees what the kernels hold.
func (p *Plan) release() {
	for i := range p.steps {
		if r, ok := p.steps[i].kernel.(Releaser); ok {
			r.Release()
		}
	}
	p.launches = nil
}

// constInputs gives the inputs a ConstInputer backend wants as constants
// their values, where they are small run inputs or values computed on the
// CPU, and records them so that exec can tell when they change.
func (e *Engine) constInputs(p *Plan, n *common.Node, ins []*Operand, inputs map[string]common.Value,
	value func(string) common.Value, consts map[string]*common.Tensor) {
	ci, ok := e.be.(ConstInputer)
	if !ok {
		return
	}
	for _, j := range ci.ConstInputs(n) {
		if j < 0 || j >= len(ins) || ins[j] == nil || ins[j].Const != nil {
			continue
		}
		name := n.Inputs[j]
		t, ok := value(name).(*common.Tensor)
		if !ok || t == nil || t.Len() > maxLearnedConst {
			continue
		}
		if _, isInput := inputs[name]; isInput {
			t = t.Clone()
			p.inConst[name] = t
		} else if want, onCPU := p.expect[name]; onCPU {
			want.Const = t
		} else {
			continue // produced on the device: not known at plan time
		}
		consts[name] = t
		ins[j].Const = t
	}
}

// pinShapeInputs makes a view's shape-like inputs (Reshape's shape,
// Squeeze and Unsqueeze axes) part of the plan: run inputs are recorded
// and compared on every run, values computed on the CPU are checked as
// learned constants; values computed on the device are trusted to follow
// from checked ones. It reports false when one cannot be pinned (too
// large, or not known), and the view then runs on the CPU.
func (e *Engine) pinShapeInputs(p *Plan, n *common.Node, inputs map[string]common.Value, value func(string) common.Value, dev map[string]*dval) bool {
	pins := map[string]*common.Tensor{}
	for _, name := range n.Inputs[1:] {
		if name == "" {
			continue
		}
		if _, isInit := e.model.Graph.Initializers[name]; isInit {
			continue
		}
		if dev[name] != nil {
			continue // computed on the device from values the plan checks
		}
		t, ok := value(name).(*common.Tensor)
		if !ok || t == nil || t.Len() > maxLearnedConst {
			return false
		}
		if _, isInput := inputs[name]; isInput {
			pins[name] = t
			continue
		}
		want, onCPU := p.expect[name]
		if !onCPU || want.Const == nil {
			return false
		}
	}
	for name, t := range pins {
		p.inConst[name] = t.Clone()
	}
	return true
}
