package cpu

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/graph"
)

// Name is the name the CPU backend registers under.
const Name = "cpu"

func init() { common.Register(Backend{}) }

// Backend is the pure-Go CPU backend.
type Backend struct{}

// Name implements common.Backend.
func (Backend) Name() string { return Name }

// Devices implements common.Backend: the host CPU.
func (Backend) Devices() ([]common.Device, error) {
	return []common.Device{{
		Name:   fmt.Sprintf("host CPU (%s/%s)", runtime.GOOS, runtime.GOARCH),
		Vendor: "Go " + runtime.Version(),
		Extra:  fmt.Sprintf("%d logical CPUs; %d ops", runtime.NumCPU(), len(kernels)),
	}}, nil
}

// Compile implements common.Backend.
func (Backend) Compile(m *common.Model, opts common.Options) (common.Engine, error) {
	return Compile(m, opts)
}

// Engine runs a model on the CPU. Run and RunValues are safe for
// concurrent use; each call has its own intermediate values.
type Engine struct {
	model   *common.Model
	limits  common.Limits
	pool    *pool
	main    *compiledGraph
	subs    map[*common.Graph]*compiledGraph
	inputs  []common.TensorInfo
	outputs []common.TensorInfo
	// owned holds the backing arrays of initializers: outputs that share
	// them are copied so callers cannot corrupt the model.
	owned map[uintptr]bool
	// directConv turns off the Winograd convolutions (Options.Precision
	// is PrecisionFP32).
	directConv bool

	// bufs keeps the backing slices of intermediate values between steps
	// and runs; states reuses per-run bookkeeping.
	bufs   *bufPool
	states sync.Pool

	closeOnce sync.Once
	// runMu: runs hold it shared, Close exclusively, so Close waits for
	// runs in flight and later runs see closed.
	runMu  sync.RWMutex
	closed bool

	profMu   sync.Mutex
	lastProf []common.OpTime
}

type compiledGraph struct {
	g     *common.Graph
	order []*common.Node
	steps []step
	// lastUse[name] is the index of the last step that reads name; -1 when
	// only the graph outputs read it.
	lastUse map[string]int
	outSet  map[string]bool
	// scopes reuses value maps between runs of the graph.
	scopes sync.Pool
}

type step struct {
	node *common.Node
	k    kernelEntry
	// frees lists the values whose last reader is this step (or, for
	// values nothing reads, their producer).
	frees []freeName
}

type freeName struct {
	name string
	// local: a step of this graph produced the value (so its buffers are
	// counted by this graph's run and released here).
	local bool
}

// Compile builds a CPU engine for m.
func Compile(m *common.Model, opts common.Options) (*Engine, error) {
	if m == nil || m.Graph == nil {
		return nil, fmt.Errorf("%w: model has no graph", common.ErrInvalidModel)
	}
	lim := opts.Limits.WithDefaults()
	if n := countNodes(m.Graph, 0, lim.Nodes); n > lim.Nodes {
		return nil, fmt.Errorf("%w: the model has over %d nodes (subgraphs included, %d counted)", common.ErrLimit, lim.Nodes, n)
	}
	if err := graph.Validate(m, lim); err != nil {
		return nil, err
	}
	if !opts.NoGraphPasses {
		var err error
		if m, err = graph.Optimize(m, graph.PassOptions{Eval: FoldEvaluator(lim)}); err != nil {
			return nil, err
		}
	}
	e := &Engine{model: m, limits: lim, subs: map[*common.Graph]*compiledGraph{}, owned: map[uintptr]bool{}}
	e.directConv = opts.Precision == common.PrecisionFP32
	e.bufs = newBufPool(min(lim.Memory, maxIdleBytes))
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	e.pool = newPool(threads)
	main, err := e.compileGraph(m.Graph, nil, 0)
	if err != nil {
		e.pool.close()
		return nil, err
	}
	e.main = main
	for _, in := range m.Graph.Inputs {
		if _, isInit := m.Graph.Initializers[in.Name]; isInit {
			continue // IR < 4: initializer listed as an input; optional override
		}
		e.inputs = append(e.inputs, common.InfoOf(in))
	}
	for _, out := range m.Graph.Outputs {
		e.outputs = append(e.outputs, common.InfoOf(out))
	}
	e.markOwned(m.Graph)
	runtime.SetFinalizer(e, func(e *Engine) { e.pool.close() })
	return e, nil
}

// countNodes counts the nodes of g and its subgraphs; it stops once the
// count passes limit (a graph shared by many nodes is counted each time).
func countNodes(g *common.Graph, depth int, limit int64) int64 {
	if g == nil || depth > 1024 {
		return 0
	}
	n := int64(len(g.Nodes))
	for _, nd := range g.Nodes {
		for _, sg := range nd.Subgraphs() {
			if n > limit {
				return n
			}
			n += countNodes(sg, depth+1, limit-n)
		}
	}
	return n
}

func (e *Engine) markOwned(g *common.Graph) {
	for _, t := range g.Initializers {
		if p := dataPtr(t); p != 0 {
			e.owned[p] = true
		}
	}
	for _, n := range g.Nodes {
		for _, a := range n.Attrs {
			if a.T != nil {
				if p := dataPtr(a.T); p != 0 {
					e.owned[p] = true
				}
			}
		}
		for _, sg := range n.Subgraphs() {
			e.markOwned(sg)
		}
	}
}

func dataPtr(t *common.Tensor) uintptr {
	v := reflect.ValueOf(t.Raw())
	if v.Kind() != reflect.Slice || v.Len() == 0 {
		return 0
	}
	return v.Pointer()
}

func (e *Engine) compileGraph(g *common.Graph, outer map[string]bool, depth int) (*compiledGraph, error) {
	if depth > e.limits.SubgraphDepth {
		return nil, fmt.Errorf("%w: subgraphs nested deeper than %d", common.ErrLimit, e.limits.SubgraphDepth)
	}
	order, err := graph.Order(g, outer)
	if err != nil {
		return nil, err
	}
	cg := &compiledGraph{g: g, order: order, lastUse: map[string]int{}, outSet: map[string]bool{}}
	var unsupported []error
	var scope map[string]bool
	for _, n := range order {
		k, ok := kernels[n.OpType]
		if !ok || (n.Domain != "" && n.Domain != "ai.onnx") {
			unsupported = append(unsupported, &common.UnsupportedError{Op: n.OpType, Domain: n.Domain, Opset: n.Opset, Backend: Name, Node: n.Name})
			continue
		}
		if n.OpType == "If" {
			if err := checkIfBranches(n); err != nil {
				return nil, err
			}
		}
		cg.steps = append(cg.steps, step{node: n, k: k})
		for _, name := range graph.NodeReads(n) {
			cg.lastUse[name] = len(cg.steps) - 1
		}
		for _, sg := range n.Subgraphs() {
			if scope == nil {
				scope = graph.Scope(g, outer)
			}
			sub, err := e.compileGraph(sg, scope, depth+1)
			if err != nil {
				return nil, fmt.Errorf("in a subgraph of node %q: %w", n.Label(), err)
			}
			e.subs[sg] = sub
		}
	}
	if len(unsupported) > 0 {
		return nil, unsupported[0]
	}
	for _, o := range g.Outputs {
		cg.outSet[o.Name] = true
	}
	produced := map[string]int{}
	for i, st := range cg.steps {
		for _, o := range st.node.Outputs {
			if o != "" {
				produced[o] = i
			}
		}
	}
	for name, i := range cg.lastUse {
		if cg.outSet[name] {
			continue
		}
		if _, isInit := g.Initializers[name]; isInit {
			continue
		}
		_, local := produced[name]
		cg.steps[i].frees = append(cg.steps[i].frees, freeName{name: name, local: local})
	}
	// Values nothing reads are dropped right after their step.
	for name, i := range produced {
		if _, read := cg.lastUse[name]; read || cg.outSet[name] {
			continue
		}
		cg.steps[i].frees = append(cg.steps[i].frees, freeName{name: name, local: true})
	}
	for i := range cg.steps {
		fr := cg.steps[i].frees
		sort.Slice(fr, func(a, b int) bool { return fr[a].name < fr[b].name })
	}
	return cg, nil
}

// checkIfBranches refuses an If whose branches declare outputs of
// different kinds or element types: whichever branch runs, the node's
// outputs must have one type.
func checkIfBranches(n *common.Node) error {
	th, el := n.AttrGraph("then_branch"), n.AttrGraph("else_branch")
	if th == nil || el == nil {
		return fmt.Errorf("%w: If node %q needs both then_branch and else_branch", common.ErrInvalidModel, n.Label())
	}
	if len(th.Outputs) != len(el.Outputs) {
		return fmt.Errorf("%w: If node %q: then_branch has %d outputs, else_branch %d", common.ErrInvalidModel, n.Label(), len(th.Outputs), len(el.Outputs))
	}
	for i := range th.Outputs {
		a, b := th.Outputs[i].Type, el.Outputs[i].Type
		if a.Kind == common.KindUnknown || b.Kind == common.KindUnknown {
			continue
		}
		if a.Kind != b.Kind {
			return fmt.Errorf("%w: If node %q output %d is a %v in then_branch and a %v in else_branch", common.ErrInvalidModel, n.Label(), i, a, b)
		}
		if a.Kind == common.KindTensor && a.DType != common.Undefined && b.DType != common.Undefined && a.DType != b.DType {
			return fmt.Errorf("%w: If node %q output %d is %v in then_branch and %v in else_branch", common.ErrInvalidModel, n.Label(), i, a.DType, b.DType)
		}
	}
	return nil
}

func (e *Engine) compiledSub(g *common.Graph, _ *scope) (*compiledGraph, error) {
	cg, ok := e.subs[g]
	if !ok {
		return nil, fmt.Errorf("%w: subgraph %q was not compiled", common.ErrInvalidModel, g.Name)
	}
	return cg, nil
}

// Inputs implements common.Engine.
func (e *Engine) Inputs() []common.TensorInfo { return e.inputs }

// Outputs implements common.Engine.
func (e *Engine) Outputs() []common.TensorInfo { return e.outputs }

// Close implements common.Engine. It stops the worker pool.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.runMu.Lock()
		e.closed = true
		e.runMu.Unlock()
		e.pool.close()
	})
	return nil
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
	e.runMu.RLock()
	defer e.runMu.RUnlock()
	if e.closed {
		return nil, fmt.Errorf("%w: cpu: engine is closed", common.ErrUnavailable)
	}
	g := e.model.Graph
	vals := make([]common.Value, len(g.Inputs))
	matched := 0
	for i, in := range g.Inputs {
		v, ok := inputs[in.Name]
		if ok {
			matched++
		}
		if !ok || v == nil {
			if _, isInit := g.Initializers[in.Name]; isInit {
				continue
			}
			if in.Type.Kind == common.KindOptional {
				vals[i] = &common.Optional{Elem: deref(in.Type.Elem)}
				continue
			}
			return nil, fmt.Errorf("%w: missing input %q (%v)", common.ErrShape, in.Name, in.Type)
		}
		if err := checkInput(in, v); err != nil {
			return nil, err
		}
		vals[i] = v
	}
	if matched < len(inputs) {
		for name := range inputs {
			if !e.isInput(name) {
				return nil, fmt.Errorf("%w: the model has no input %q", common.ErrShape, name)
			}
		}
	}
	rs := e.getState()
	c := &Ctx{ctx: ctx, eng: e, run: rs}
	outs, err := e.runGraph(c, e.main, nil, vals)
	if err == nil {
		e.saveProfile(rs.prof)
	}
	e.putState(rs)
	if err != nil {
		return nil, err
	}
	res := make(map[string]common.Value, len(outs))
	for i, o := range g.Outputs {
		res[o.Name] = e.own(outs[i])
	}
	return res, nil
}

// isInput reports whether the main graph has an input called name.
func (e *Engine) isInput(name string) bool {
	for _, in := range e.model.Graph.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

// getState returns bookkeeping for one run, reused from an earlier run
// when there is one.
func (e *Engine) getState() *runState {
	if rs, ok := e.states.Get().(*runState); ok {
		return rs
	}
	return &runState{prof: map[string]*common.OpTime{}, reg: &registry{}}
}

// putState keeps a finished run's bookkeeping for reuse. Buffers the run
// still tracks (its outputs) are forgotten: they now belong to the caller.
func (e *Engine) putState(rs *runState) {
	rs.reg.reset()
	clear(rs.args)
	rs.live.Store(0)
	rs.peak.Store(0)
	for _, p := range rs.prof {
		p.Calls, p.Nanos = 0, 0
	}
	e.states.Put(rs)
}

// own copies a value whose data the model owns.
func (e *Engine) own(v common.Value) common.Value {
	switch x := v.(type) {
	case *common.Tensor:
		if e.owned[dataPtr(x)] {
			return x.Clone()
		}
	case *common.Sequence:
		s := &common.Sequence{Elem: x.Elem, Values: make([]common.Value, len(x.Values))}
		for i, el := range x.Values {
			s.Values[i] = e.own(el)
		}
		return s
	case *common.Optional:
		if x.Value != nil {
			return &common.Optional{Elem: x.Elem, Value: e.own(x.Value)}
		}
	}
	return v
}

func checkInput(in common.ValueInfo, v common.Value) error {
	t, isT := v.(*common.Tensor)
	switch in.Type.Kind {
	case common.KindTensor:
		if !isT {
			return fmt.Errorf("%w: input %q wants a tensor, got a %s", common.ErrShape, in.Name, common.KindOf(v))
		}
	case common.KindSequence:
		if _, ok := v.(*common.Sequence); !ok {
			return fmt.Errorf("%w: input %q wants a sequence, got a %s", common.ErrShape, in.Name, common.KindOf(v))
		}
		return nil
	default:
		return nil
	}
	if in.Type.DType != common.Undefined && t.DType() != in.Type.DType {
		return fmt.Errorf("%w: input %q wants %v, got %v", common.ErrShape, in.Name, in.Type.DType, t.DType())
	}
	if in.Type.HasShape {
		if len(in.Type.Dims) != t.Rank() {
			return fmt.Errorf("%w: input %q wants rank %d (%v), got shape %v", common.ErrShape, in.Name, len(in.Type.Dims), in.Type, t.Shape())
		}
		for i, d := range in.Type.Dims {
			if d.Known() && int64(t.Shape()[i]) != d.Value {
				return fmt.Errorf("%w: input %q wants %v, got shape %v (dim %d)", common.ErrShape, in.Name, in.Type, t.Shape(), i)
			}
		}
	}
	return nil
}

// runGraph runs a compiled graph with its inputs bound to vals, in a scope
// whose parent is outer, and returns the graph's outputs.
func (e *Engine) runGraph(c *Ctx, cg *compiledGraph, outer *scope, vals []common.Value) (outs []common.Value, err error) {
	g := cg.g
	sc, _ := cg.scopes.Get().(*scope)
	if sc == nil {
		sc = &scope{vals: make(map[string]common.Value, len(g.Nodes)+len(g.Inputs)+len(g.Initializers))}
	}
	sc.parent = outer
	defer func() {
		clear(sc.vals)
		sc.parent = nil
		cg.scopes.Put(sc)
	}()
	for name, t := range g.Initializers {
		sc.vals[name] = t
	}
	for i, in := range g.Inputs {
		if i < len(vals) && vals[i] != nil {
			sc.vals[in.Name] = vals[i]
		}
	}
	c.scope = sc
	reg := c.run.reg
	var charged int64
	defer func() { c.Release(charged) }()
	for si := range cg.steps {
		st := &cg.steps[si]
		if err := c.Err(); err != nil {
			return nil, err
		}
		n := st.node
		var start time.Time
		if c.run.prof != nil {
			start = time.Now()
		}
		var mark uint64
		if reg != nil {
			mark = reg.mark()
		}
		res, tres, err := e.runNode(c, st, sc)
		if c.run.prof != nil && len(n.Subgraphs()) == 0 {
			p := c.run.prof[n.OpType]
			if p == nil {
				p = &common.OpTime{Op: n.OpType}
				c.run.prof[n.OpType] = p
			}
			p.Calls++
			p.Nanos += int64(time.Since(start))
		}
		if err != nil {
			return nil, &common.NodeError{Node: n.Name, Op: n.OpType, Err: err}
		}
		for j, o := range n.Outputs {
			if o == "" {
				continue
			}
			var v common.Value
			if res != nil {
				if j < len(res) && res[j] != nil {
					v = res[j]
				}
			} else if j < len(tres) && tres[j] != nil {
				v = tres[j]
			}
			if v == nil {
				continue // optional output not produced
			}
			sc.vals[o] = v
			if reg != nil {
				reg.claim(v)
			}
			b := common.ValueBytes(v)
			charged += b
			if err := c.Charge(b); err != nil {
				return nil, &common.NodeError{Node: n.Name, Op: n.OpType, Err: err}
			}
		}
		if reg != nil {
			reg.settle(mark, e.bufs)
		}
		for _, f := range st.frees {
			if v, ok := sc.vals[f.name]; ok {
				if _, local := g.Initializers[f.name]; !local {
					b := common.ValueBytes(v)
					charged -= b
					c.Release(b)
				}
				if f.local && reg != nil {
					reg.release(v, e.bufs)
				}
				delete(sc.vals, f.name)
			}
		}
	}
	outs = make([]common.Value, len(g.Outputs))
	for i, o := range g.Outputs {
		v, ok := sc.lookup(o.Name)
		if !ok {
			if o.Type.Kind == common.KindOptional {
				outs[i] = &common.Optional{Elem: deref(o.Type.Elem)}
				continue
			}
			return nil, fmt.Errorf("%w: graph %q output %q was not produced", common.ErrInvalidModel, g.Name, o.Name)
		}
		if t, isT := v.(*common.Tensor); isT && o.Type.Kind == common.KindTensor && o.Type.DType != common.Undefined && t.DType() != o.Type.DType {
			return nil, fmt.Errorf("%w: graph %q output %q is declared %v but is %v", common.ErrInvalidModel, g.Name, o.Name, o.Type.DType, t.DType())
		}
		outs[i] = v
		if reg != nil {
			// The caller (or the control-flow kernel) now holds it, out
			// of the executor's sight: its buffers must never be reused.
			reg.forget(v)
		}
	}
	return outs, nil
}

func deref(t *common.TypeInfo) common.TypeInfo {
	if t == nil {
		return common.TypeInfo{}
	}
	return *t
}

// runNode runs one step. A value kernel's results come back in res, a
// tensor kernel's in tres.
func (e *Engine) runNode(c *Ctx, st *step, sc *scope) (res []common.Value, tres []*common.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v\n%s", r, firstFrames(debug.Stack()))
		}
	}()
	n := st.node
	if st.k.value != nil {
		in := make([]common.Value, len(n.Inputs))
		for i, name := range n.Inputs {
			if name == "" {
				continue
			}
			v, ok := sc.lookup(name)
			if !ok {
				return nil, nil, fmt.Errorf("input %q has no value", name)
			}
			in[i] = v
		}
		res, err = st.k.value(c, n, in)
		if err == nil && res == nil {
			res = []common.Value{}
		}
		return res, nil, err
	}
	var in []*common.Tensor
	if c.run != nil && cap(c.run.args) >= len(n.Inputs) {
		in = c.run.args[:len(n.Inputs)]
		clear(in)
	} else {
		in = make([]*common.Tensor, len(n.Inputs))
		if c.run != nil {
			c.run.args = in
		}
	}
	defer clear(in)
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		v, ok := sc.lookup(name)
		if !ok {
			return nil, nil, fmt.Errorf("input %q has no value", name)
		}
		t, isT := v.(*common.Tensor)
		if !isT {
			if o, isOpt := v.(*common.Optional); isOpt {
				if o.Value == nil {
					continue
				}
				if t, isT = o.Value.(*common.Tensor); isT {
					in[i] = t
					continue
				}
			}
			return nil, nil, fmt.Errorf("%w: input %q is a %s, not a tensor", common.ErrShape, name, common.KindOf(v))
		}
		in[i] = t
	}
	tres, err = st.k.tensor(c, n, in)
	if err != nil {
		return nil, nil, err
	}
	if len(tres) > 0 && len(in) > 0 && overlaps(tres, in[:cap(in)]) {
		tres = append([]*common.Tensor(nil), tres...) // in is cleared on return
	}
	return nil, tres, nil
}

// overlaps reports whether two slices share memory.
func overlaps(a, b []*common.Tensor) bool {
	a, b = a[:cap(a)], b[:cap(b)]
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	sz := unsafe.Sizeof(a[0])
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return pa < pb+uintptr(len(b))*sz && pb < pa+uintptr(len(a))*sz
}

// firstFrames keeps the panic's location, not the whole stack.
func firstFrames(stack []byte) string {
	lines := 0
	for i, b := range stack {
		if b == '\n' {
			lines++
			if lines == 12 {
				return string(stack[:i])
			}
		}
	}
	return string(stack)
}

func (e *Engine) saveProfile(prof map[string]*common.OpTime) {
	e.profMu.Lock()
	defer e.profMu.Unlock()
	out := e.lastProf[:0]
	for _, p := range prof {
		if p.Calls > 0 {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b common.OpTime) int { return cmp.Compare(b.Nanos, a.Nanos) })
	e.lastProf = out
}

// Profile implements common.Profiler: time per operator type in the last
// completed run (nodes inside If/Loop/Scan bodies count under their own
// types; the control-flow node itself is not counted), slowest first.
func (e *Engine) Profile() []common.OpTime {
	e.profMu.Lock()
	defer e.profMu.Unlock()
	return append([]common.OpTime(nil), e.lastProf...)
}

// Placement implements common.Placer: every node runs on the CPU.
func (e *Engine) Placement() []common.NodePlacement {
	out := make([]common.NodePlacement, 0, len(e.main.order))
	for _, n := range e.main.order {
		out = append(out, common.NodePlacement{Node: n.Label(), Op: n.OpType, Device: Name})
	}
	return out
}
