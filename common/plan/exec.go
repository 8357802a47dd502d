package plan

import (
	"bytes"
	"context"
	"fmt"

	"github.com/accel-go/accel/common"
)

// bind makes the arena big enough and binds every device step's kernel.
func (e *Engine) bind(p *Plan) error {
	if err := e.ensureArena(p.ActBytes); err != nil {
		return err
	}
	if p.launches != nil && p.gen == e.arenaGen {
		return nil
	}
	launches := make([]Launch, len(p.steps))
	for i := range p.steps {
		st := &p.steps[i]
		if st.kind != stepDevice {
			continue
		}
		in := make([]int64, len(st.in))
		for j, d := range st.in {
			in[j] = e.offset(d)
		}
		out := make([]int64, len(st.out))
		for j, d := range st.out {
			out[j] = e.offset(d)
		}
		l, err := st.kernel.Bind(e.arena, in, out)
		if err != nil {
			return &common.NodeError{Node: st.node.Name, Op: st.node.OpType, Err: err}
		}
		launches[i] = l
	}
	p.launches = launches
	p.gen = e.arenaGen
	return nil
}

// offset is a device value's absolute byte offset in the arena, -1 when
// absent.
func (e *Engine) offset(d *dval) int64 {
	if d == nil {
		return -1
	}
	if d.root.weight {
		return d.root.off
	}
	return e.weightBytes + d.root.off
}

// exec runs a plan. It returns errReplan when a value computed on the CPU
// does not have the shape (or, for learned constants, the value) the plan
// was made with.
func (e *Engine) exec(ctx context.Context, p *Plan, inputs map[string]common.Value) (map[string]common.Value, error) {
	if err := e.bind(p); err != nil {
		return nil, err
	}
	for name, want := range p.inConst {
		t, ok := inputs[name].(*common.Tensor)
		if !ok || !sameValues(t, want) {
			return nil, errReplan
		}
	}
	g := e.model.Graph
	host := make(map[string]common.Value, len(inputs)+8)
	for k, v := range inputs {
		host[k] = v
	}
	lookup := func(name string) (common.Value, bool) {
		if v, ok := host[name]; ok {
			return v, true
		}
		if t, ok := g.Initializers[name]; ok {
			return t, true
		}
		return nil, false
	}
	for i := range p.steps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("run stopped: %w", err)
		}
		st := &p.steps[i]
		switch st.kind {
		case stepUpload:
			v, _ := lookup(st.name)
			t, ok := v.(*common.Tensor)
			if !ok || t == nil || t.DType() != st.dv.op.DType || !t.Shape().Equal(st.dv.op.Shape) {
				return nil, errReplan
			}
			b, err := e.deviceBytes(t)
			if err != nil {
				return nil, err
			}
			if len(b) > 0 {
				if err := e.arena.Write(e.offset(st.dv), b); err != nil {
					return nil, fmt.Errorf("uploading %q: %w", st.name, err)
				}
			}
		case stepDownload:
			t, err := e.readTensor(e.offset(st.dv), st.dv.op.DType, st.dv.op.Shape)
			if err != nil {
				return nil, fmt.Errorf("downloading %q: %w", st.name, err)
			}
			host[st.name] = t
		case stepDevice:
			if err := p.launches[i](); err != nil {
				return nil, &common.NodeError{Node: st.node.Name, Op: st.node.OpType, Err: err}
			}
		case stepHost:
			if err := e.runHost(ctx, p, st.node, lookup, host); err != nil {
				return nil, err
			}
		}
		for _, name := range st.free {
			delete(host, name)
		}
	}
	res := make(map[string]common.Value, len(g.Outputs))
	for _, o := range g.Outputs {
		v, ok := lookup(o.Name)
		if !ok {
			if o.Type.Kind == common.KindOptional {
				res[o.Name] = &common.Optional{}
				continue
			}
			return nil, fmt.Errorf("%w: output %q was not produced", common.ErrInvalidModel, o.Name)
		}
		if t, isInit := g.Initializers[o.Name]; isInit {
			v = t.Clone()
		}
		res[o.Name] = v
	}
	return res, nil
}

// runHost runs one node on its CPU engine and checks its outputs against
// the plan.
func (e *Engine) runHost(ctx context.Context, p *Plan, n *common.Node, lookup func(string) (common.Value, bool), host map[string]common.Value) error {
	h, err := e.hostEngine(n)
	if err != nil {
		return err
	}
	in := map[string]common.Value{}
	for _, v := range h.Inputs() {
		val, ok := lookup(v.Name)
		if !ok {
			continue
		}
		in[v.Name] = val
	}
	out, err := h.RunValues(ctx, in)
	if err != nil {
		return err
	}
	for _, name := range n.Outputs {
		if name == "" {
			continue
		}
		v := out[name]
		if o, ok := v.(*common.Optional); ok && o.Value == nil {
			v = nil
		}
		want, planned := p.expect[name]
		if planned {
			t, ok := v.(*common.Tensor)
			if !ok || t.DType() != want.DType || !t.Shape().Equal(want.Shape) {
				return errReplan
			}
			if want.Const != nil && !sameValues(t, want.Const) {
				return errReplan
			}
		}
		if v != nil {
			host[name] = v
		}
	}
	return nil
}

// sameValues reports whether a and b hold the same dtype, shape and bits.
func sameValues(a, b *common.Tensor) bool {
	if a == nil || b == nil || a.DType() != b.DType() || !a.Shape().Equal(b.Shape()) {
		return false
	}
	ab, err1 := RawBytes(a)
	bb, err2 := RawBytes(b)
	return err1 == nil && err2 == nil && bytes.Equal(ab, bb)
}
