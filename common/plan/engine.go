package plan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/graph"
	"github.com/accel-go/accel/cpu"
)

// maxLearnedConst is the largest integer tensor (elements) whose value a
// plan records when the CPU computed it, so that device kernels can take
// shape-like arguments (Slice starts, Reshape shapes, pads) as constants.
const maxLearnedConst = 64

// Engine runs a model through a Backend, with CPU fallback. It implements
// common.Engine and common.ValueEngine. Runs are serialized: the engine
// owns one device arena.
type Engine struct {
	be    Backend
	opts  common.Options
	lim   common.Limits
	model *common.Model
	order []*common.Node

	inputs  []common.TensorInfo
	outputs []common.TensorInfo

	learn    *cpu.Engine                  // whole model, every value as an output
	hostEngs map[*common.Node]*cpu.Engine // one-node engines, made on demand

	mu       sync.Mutex
	plans    map[string]*Plan
	last     *Plan
	arena    Arena
	arenaGen int
	// weights: initializers device kernels read, at fixed offsets in
	// [0, weightBytes) of the arena.
	weights     map[string]int64
	weightBytes int64
	closed      bool
	half        bool // float32 values are float16 on the device (HalfStorer)
}

// Compile builds an engine for m on be. It runs the graph passes (unless
// opts.NoGraphPasses), and, when every input's shape is known or
// symbolic, plans once for a probe signature (symbolic dims taken as 1)
// so that placement is known before the first run. With opts.DeviceOnly
// it fails with one error listing every node the device cannot run.
func Compile(be Backend, m *common.Model, opts common.Options) (*Engine, error) {
	if m == nil || m.Graph == nil {
		return nil, fmt.Errorf("%w: model has no graph", common.ErrInvalidModel)
	}
	lim := opts.Limits.WithDefaults()
	if err := graph.Validate(m, lim); err != nil {
		return nil, err
	}
	if !opts.NoGraphPasses {
		var err error
		if m, err = graph.Optimize(m, graph.PassOptions{Eval: cpu.FoldEvaluator(lim)}); err != nil {
			return nil, err
		}
	}
	order, err := graph.Order(m.Graph, nil)
	if err != nil {
		return nil, err
	}
	e := &Engine{be: be, opts: opts, lim: lim, model: m, order: order,
		hostEngs: map[*common.Node]*cpu.Engine{}, plans: map[string]*Plan{}, weights: map[string]int64{}}
	if hs, isHS := be.(HalfStorer); isHS {
		e.half = hs.HalfFloats()
	}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	g := m.Graph
	for _, in := range g.Inputs {
		if _, isInit := g.Initializers[in.Name]; isInit {
			continue
		}
		e.inputs = append(e.inputs, common.InfoOf(in))
	}
	for _, out := range g.Outputs {
		e.outputs = append(e.outputs, common.InfoOf(out))
	}
	if e.learn, err = cpu.Compile(learnModel(m, order), e.cpuOpts()); err != nil {
		return nil, err
	}
	e.layoutWeights()
	probed := false
	if in, perr := e.probeInputs(); perr == nil {
		if vals, rerr := e.learn.RunValues(context.Background(), in); rerr == nil {
			p, berr := e.build(in, vals)
			if berr != nil {
				return nil, berr
			}
			e.plans[signature(in)] = p
			e.last = p
			probed = true
		}
	}
	if opts.DeviceOnly {
		var bad []string
		if probed {
			for _, pl := range e.last.Places {
				if pl.Device == "cpu" {
					bad = append(bad, fmt.Sprintf("%s (%s): %s", pl.Node, pl.Op, pl.Reason))
				}
			}
		} else {
			for _, n := range order {
				if isView(n) {
					continue
				}
				if ok, why := be.Supports(n, e.declaredTypes(n)); !ok {
					bad = append(bad, fmt.Sprintf("%s (%s): %s", n.Label(), n.OpType, why))
				}
			}
		}
		if len(bad) > 0 {
			return nil, fmt.Errorf("%w: %s: device-only compile, but %d node(s) cannot run on the device:\n  %s",
				common.ErrUnsupported, be.Name(), len(bad), strings.Join(bad, "\n  "))
		}
	}
	ok = true
	return e, nil
}

func (e *Engine) cpuOpts() common.Options {
	return common.Options{Threads: e.opts.Threads, NoGraphPasses: true, Limits: e.opts.Limits}
}

// Inputs implements common.Engine.
func (e *Engine) Inputs() []common.TensorInfo { return e.inputs }

// Outputs implements common.Engine.
func (e *Engine) Outputs() []common.TensorInfo { return e.outputs }

// Placement lists where each node runs in the most recent plan (the
// probe plan right after Compile), or nil before any plan exists.
func (e *Engine) Placement() []common.NodePlacement {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last == nil {
		return nil
	}
	return append([]common.NodePlacement(nil), e.last.Places...)
}

// ArenaBytes is the size of the device arena the plans made so far need
// (weights included).
func (e *Engine) ArenaBytes() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n int64
	for _, p := range e.plans {
		n = max(n, e.weightBytes+p.ActBytes)
	}
	return n
}

// Plans is the number of signatures planned so far.
func (e *Engine) Plans() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.plans)
}

// Close frees the arena, the prepared kernels and the CPU engines. It is
// idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	for _, p := range e.plans {
		p.release()
	}
	e.plans = nil
	e.last = nil
	var err error
	if e.arena != nil {
		err = e.arena.Close()
		e.arena = nil
	}
	if e.learn != nil {
		e.learn.Close()
	}
	for _, h := range e.hostEngs {
		h.Close()
	}
	e.hostEngs = nil
	return err
}

// Run implements common.Engine.
func (e *Engine) Run(ctx context.Context, inputs map[string]*common.Tensor) (map[string]*common.Tensor, error) {
	return common.RunTensors(ctx, e, inputs)
}

// RunValues implements common.ValueEngine.
func (e *Engine) RunValues(ctx context.Context, inputs map[string]common.Value) (map[string]common.Value, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("%w: %s engine is closed", common.ErrUnavailable, e.be.Name())
	}
	sig := signature(inputs)
	p := e.plans[sig]
	if p != nil {
		out, err := e.exec(ctx, p, inputs)
		if !errors.Is(err, errReplan) {
			if err == nil {
				e.last = p
			}
			return out, err
		}
		p.release()
		delete(e.plans, sig)
	}
	// New signature (or a data-dependent shape changed): the CPU engine
	// answers this run and its values make the plan.
	vals, err := e.learn.RunValues(ctx, inputs)
	if err != nil {
		return nil, err
	}
	p, err = e.build(inputs, vals)
	if err != nil {
		return nil, err
	}
	if e.opts.DeviceOnly {
		for _, pl := range p.Places {
			if pl.Device == "cpu" {
				p.release()
				return nil, fmt.Errorf("%w: %s: device-only engine, but node %s (%s) cannot run on the device for these shapes: %s",
					common.ErrUnsupported, e.be.Name(), pl.Node, pl.Op, pl.Reason)
			}
		}
	}
	e.plans[sig] = p
	e.last = p
	res := make(map[string]common.Value, len(e.model.Graph.Outputs))
	for _, o := range e.model.Graph.Outputs {
		res[o.Name] = vals[o.Name]
	}
	return res, nil
}

// signature keys a plan: input names, kinds, dtypes and shapes.
func signature(inputs map[string]common.Value) string {
	names := make([]string, 0, len(inputs))
	for k := range inputs {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k)
		switch v := inputs[k].(type) {
		case *common.Tensor:
			if v == nil {
				b.WriteString("=nil;")
				continue
			}
			fmt.Fprintf(&b, "=%d%v;", v.DType(), v.Shape())
		default:
			fmt.Fprintf(&b, "=%s;", common.KindOf(v))
		}
	}
	return b.String()
}

// probeInputs makes zero inputs for the declared shapes (symbolic dims 1),
// or fails when a rank or dtype is unknown.
func (e *Engine) probeInputs() (map[string]common.Value, error) {
	in := map[string]common.Value{}
	for _, ti := range e.inputs {
		if ti.Kind != common.KindTensor || ti.Dims == nil || !ti.DType.Valid() {
			return nil, fmt.Errorf("input %q has no fixed tensor type", ti.Name)
		}
		s := make(common.Shape, len(ti.Dims))
		for i, d := range ti.Dims {
			s[i] = 1
			if d.Known() {
				s[i] = int(d.Value)
			}
		}
		t, err := common.NewZeros(ti.DType, s, min(e.lim.TensorElements, 1<<26))
		if err != nil {
			return nil, err
		}
		in[ti.Name] = t
	}
	return in, nil
}

// declaredTypes are the types a node's inputs are declared with (graph
// inputs, value_info, initializers); unknown ones are zero TypeInfos.
func (e *Engine) declaredTypes(n *common.Node) []common.TypeInfo {
	g := e.model.Graph
	types := make([]common.TypeInfo, len(n.Inputs))
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		if t, ok := g.Initializers[name]; ok {
			types[i] = tensorType(t.DType(), t.Shape())
			continue
		}
		for _, vi := range g.Inputs {
			if vi.Name == name {
				types[i] = vi.Type
			}
		}
		if vi, ok := g.ValueInfo[name]; ok {
			types[i] = vi.Type
		}
	}
	return types
}

func tensorType(d common.DType, s common.Shape) common.TypeInfo {
	dims := make([]common.Dim, len(s))
	for i, v := range s {
		dims[i] = common.Dim{Value: int64(v)}
	}
	return common.TypeInfo{Kind: common.KindTensor, DType: d, Dims: dims, HasShape: true}
}

// layoutWeights gives every initializer that a node the device might run
// reads a fixed place at the start of the arena.
func (e *Engine) layoutWeights() {
	g := e.model.Graph
	var off int64
	names := []string{}
	seen := map[string]bool{}
	for _, n := range e.order {
		for _, name := range n.Inputs {
			t, ok := g.Initializers[name]
			if !ok || seen[name] || ElemSize(t.DType()) == 0 {
				continue
			}
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, name := range names {
		t := g.Initializers[name]
		e.weights[name] = off
		off = align(off + int64(t.Len())*int64(e.storeSize(t.DType())))
	}
	e.weightBytes = off
}

func align(n int64) int64 { return (n + Alignment - 1) &^ (Alignment - 1) }

// ensureArena makes the arena at least weights+act bytes, uploading the
// weights into a new one.
func (e *Engine) ensureArena(act int64) error {
	need := max(e.weightBytes+act, Alignment)
	if e.arena != nil && e.arena.Size() >= need {
		return nil
	}
	if e.arena != nil {
		e.arena.Close()
		e.arena = nil
	}
	a, err := e.be.NewArena(need)
	if err != nil {
		return err
	}
	g := e.model.Graph
	for name, off := range e.weights {
		b, err := e.deviceBytes(g.Initializers[name])
		if err != nil {
			a.Close()
			return err
		}
		if len(b) > 0 {
			if err := a.Write(off, b); err != nil {
				a.Close()
				return err
			}
		}
	}
	e.arena = a
	e.arenaGen++
	return nil
}

// learnModel is m's graph with fused activations split out and every node
// output also a graph output (declared optional, so outputs a node does
// not produce are empty instead of an error).
func learnModel(m *common.Model, order []*common.Node) *common.Model {
	g := m.Graph
	lg := *g
	lg.Nodes = nil
	for _, n := range order {
		lg.Nodes = append(lg.Nodes, splitFused(n, m.Opsets)...)
	}
	lg.Outputs = append([]common.ValueInfo(nil), g.Outputs...)
	seen := map[string]bool{}
	for _, o := range g.Outputs {
		seen[o.Name] = true
	}
	for _, n := range order {
		for _, o := range n.Outputs {
			if o != "" && !seen[o] {
				seen[o] = true
				lg.Outputs = append(lg.Outputs, common.ValueInfo{Name: o, Type: common.TypeInfo{Kind: common.KindOptional}})
			}
		}
	}
	lm := *m
	lm.Graph = &lg
	return &lm
}

// splitFused returns n as CPU nodes: itself, or itself without its fused
// activation followed by the activation.
func splitFused(n *common.Node, opsets map[string]int64) []*common.Node {
	if n.Fused == nil || len(n.Outputs) == 0 {
		return []*common.Node{n}
	}
	base := *n
	base.Fused = nil
	base.Outputs = append([]string(nil), n.Outputs...)
	tmp := n.Outputs[0] + "\x00prefused"
	base.Outputs[0] = tmp
	act := *n.Fused
	act.Fused = nil
	act.Inputs = append([]string{tmp}, n.Fused.Inputs...)
	if len(n.Fused.Inputs) > 0 {
		act.Inputs = append([]string{tmp}, n.Fused.Inputs[1:]...)
	}
	act.Outputs = []string{n.Outputs[0]}
	if act.Name == "" {
		act.Name = n.Label() + "/fused"
	}
	if act.OpType == "Clip" {
		act.Opset = 6 // the fused form keeps min and max as attributes
	} else if act.Opset == 0 {
		act.Opset = opsets[""]
		if act.OpType == "Clip" {
			act.Opset = 6 // the fused form keeps min and max as attributes
		} else if act.Opset == 0 {
			act.Opset = opsets["ai.onnx"]
		}
	}
	return []*common.Node{&base, &act}
}

// hostEngine returns the one-node CPU engine for n.
func (e *Engine) hostEngine(n *common.Node) (*cpu.Engine, error) {
	if h, ok := e.hostEngs[n]; ok {
		return h, nil
	}
	g := e.model.Graph
	sg := &common.Graph{Name: n.Label(), Initializers: map[string]*common.Tensor{}, ValueInfo: map[string]common.ValueInfo{}}
	sg.Nodes = splitFused(n, e.model.Opsets)
	seen := map[string]bool{}
	for _, name := range graph.NodeReads(n) {
		if seen[name] {
			continue
		}
		seen[name] = true
		if t, ok := g.Initializers[name]; ok {
			sg.Initializers[name] = t
			sg.InitOrder = append(sg.InitOrder, name)
			continue
		}
		sg.Inputs = append(sg.Inputs, common.ValueInfo{Name: name})
	}
	for _, o := range n.Outputs {
		if o != "" {
			sg.Outputs = append(sg.Outputs, common.ValueInfo{Name: o, Type: common.TypeInfo{Kind: common.KindOptional}})
		}
	}
	m := *e.model
	m.Graph = sg
	m.Functions = nil
	h, err := cpu.Compile(&m, e.cpuOpts())
	if err != nil {
		return nil, fmt.Errorf("CPU fallback for node %q (%s): %w", n.Label(), n.OpType, err)
	}
	e.hostEngs[n] = h
	return h, nil
}
