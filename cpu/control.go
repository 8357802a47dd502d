package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

// Control flow: If, Loop and Scan run their subgraphs through Ctx.RunGraph,
// which binds the body's inputs and resolves names of enclosing graphs.

func init() {
	regValue("If", ifKernel)
	regValue("Loop", loopKernel)
	regValue("Scan", scanKernel)
}

func nodeErr(n *common.Node, kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s %q: %s", kind, n.OpType, n.Label(), fmt.Sprintf(format, args...))
}

// scalarTensor returns v as a tensor holding exactly one element.
func scalarTensor(n *common.Node, v common.Value, what string) (*common.Tensor, error) {
	if o, ok := v.(*common.Optional); ok && o.Value != nil {
		v = o.Value
	}
	t, ok := v.(*common.Tensor)
	if !ok {
		return nil, nodeErr(n, common.ErrShape, "%s must be a tensor, got a %s", what, common.KindOf(v))
	}
	if t.Len() != 1 {
		return nil, nodeErr(n, common.ErrShape, "%s must hold one element, got shape %v", what, t.Shape())
	}
	return t, nil
}

func boolOf(n *common.Node, v common.Value, what string) (bool, error) {
	t, err := scalarTensor(n, v, what)
	if err != nil {
		return false, err
	}
	if t.DType() != common.Bool && !t.DType().IsInteger() {
		return false, nodeErr(n, common.ErrShape, "%s must be a bool tensor, got %v", what, t.DType())
	}
	return t.Int(0) != 0, nil
}

func ifKernel(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, nodeErr(n, common.ErrInvalidModel, "needs a cond input")
	}
	cond, err := boolOf(n, in[0], "cond")
	if err != nil {
		return nil, err
	}
	name := "else_branch"
	if cond {
		name = "then_branch"
	}
	g := n.AttrGraph(name)
	if g == nil {
		return nil, nodeErr(n, common.ErrInvalidModel, "has no %s graph", name)
	}
	outs, err := c.RunGraph(g, nil)
	if err != nil {
		return nil, err
	}
	if len(outs) < len(n.Outputs) {
		return nil, nodeErr(n, common.ErrInvalidModel, "%s has %d outputs, the node %d", name, len(outs), len(n.Outputs))
	}
	return outs[:len(n.Outputs)], nil
}

// bindInputs fills absent values meant for optional-typed body inputs with
// empty optionals, so the body can test them.
func bindInputs(g *common.Graph, vals []common.Value) {
	for i, v := range vals {
		if v == nil && i < len(g.Inputs) && g.Inputs[i].Type.Kind == common.KindOptional {
			vals[i] = &common.Optional{Elem: deref(g.Inputs[i].Type.Elem)}
		}
	}
}

// emptyScan is a scan output of zero iterations: the body's declared
// element type and shape (when every dim is known) with a 0 inserted at
// axis (axis 0 when the shape is unknown).
func emptyScan(c *Ctx, vi common.ValueInfo, axis int64) (*common.Tensor, error) {
	dt := vi.Type.DType
	if !dt.Valid() {
		dt = common.Float32
	}
	shape := common.Shape{0}
	if vi.Type.HasShape {
		known := true
		dims := make(common.Shape, 0, len(vi.Type.Dims))
		for _, d := range vi.Type.Dims {
			if !d.Known() || d.Value > math.MaxInt32 {
				known = false
				break
			}
			dims = append(dims, int(d.Value))
		}
		if known {
			a := int(axis)
			if axis < 0 {
				a = int(axis) + len(dims) + 1
			}
			if a >= 0 && a <= len(dims) {
				shape = append(append(append(common.Shape{}, dims[:a]...), 0), dims[a:]...)
			}
		}
	}
	return c.Alloc(dt, shape)
}

func loopKernel(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	body := n.AttrGraph("body")
	if body == nil {
		return nil, nodeErr(n, common.ErrInvalidModel, "has no body graph")
	}
	if len(in) < 2 {
		return nil, nodeErr(n, common.ErrInvalidModel, "needs inputs M and cond (either may be empty), got %d inputs", len(in))
	}
	nCarried := len(in) - 2
	if len(body.Inputs) != 2+nCarried {
		return nil, nodeErr(n, common.ErrInvalidModel, "body has %d inputs, want %d (iteration, cond and %d loop-carried values)", len(body.Inputs), 2+nCarried, nCarried)
	}
	nScan := len(body.Outputs) - 1 - nCarried
	if nScan < 0 {
		return nil, nodeErr(n, common.ErrInvalidModel, "body has %d outputs, want at least %d (cond and %d loop-carried values)", len(body.Outputs), 1+nCarried, nCarried)
	}
	if len(n.Outputs) > nCarried+nScan {
		return nil, nodeErr(n, common.ErrInvalidModel, "node has %d outputs, the body makes %d", len(n.Outputs), nCarried+nScan)
	}
	maxTrip := int64(math.MaxInt64)
	if in[0] != nil {
		t, err := scalarTensor(n, in[0], "trip count M")
		if err != nil {
			return nil, err
		}
		if !t.DType().IsInteger() {
			return nil, nodeErr(n, common.ErrShape, "trip count M must be an integer tensor, got %v", t.DType())
		}
		maxTrip = t.Int(0)
	}
	hasCond, cond := in[1] != nil, true
	if hasCond {
		var err error
		if cond, err = boolOf(n, in[1], "cond"); err != nil {
			return nil, err
		}
	}
	carried := append([]common.Value(nil), in[2:]...)
	scans := make([][]*common.Tensor, nScan)
	var charged int64
	defer func() { c.Release(charged) }()

	bodyIn := make([]common.Value, 2+nCarried)
	iters := int64(0)
	for ; iters < maxTrip && (!hasCond || cond); iters++ {
		if err := c.Err(); err != nil {
			return nil, err
		}
		bodyIn[0] = common.Scalar(iters)
		bodyIn[1] = common.Scalar(cond)
		copy(bodyIn[2:], carried)
		bindInputs(body, bodyIn)
		outs, err := c.RunGraph(body, bodyIn)
		if err != nil {
			return nil, err
		}
		if len(outs) < 1+nCarried+nScan {
			return nil, nodeErr(n, common.ErrInvalidModel, "body returned %d values, want %d", len(outs), 1+nCarried+nScan)
		}
		if hasCond {
			// Without a cond input the body's cond output is ignored.
			if outs[0] == nil {
				return nil, nodeErr(n, common.ErrInvalidModel, "the body produced no cond output")
			}
			if cond, err = boolOf(n, outs[0], "the body's cond output"); err != nil {
				return nil, err
			}
		}
		copy(carried, outs[1:1+nCarried])
		for k := 0; k < nScan; k++ {
			v := outs[1+nCarried+k]
			if o, ok := v.(*common.Optional); ok && o.Value != nil {
				v = o.Value
			}
			t, ok := v.(*common.Tensor)
			if !ok {
				return nil, nodeErr(n, common.ErrShape, "scan output %d must be a tensor, got a %s", k, common.KindOf(v))
			}
			if len(scans[k]) > 0 {
				first := scans[k][0]
				if first.DType() != t.DType() || !first.Shape().Equal(t.Shape()) {
					return nil, nodeErr(n, common.ErrShape, "scan output %d changed from %v%v to %v%v at iteration %d", k, first.DType(), first.Shape(), t.DType(), t.Shape(), iters)
				}
			}
			b := t.Bytes()
			charged += b
			if err := c.Charge(b); err != nil {
				return nil, nodeErr(n, err, "scan output %d after %d iterations", k, iters+1)
			}
			scans[k] = append(scans[k], t)
		}
	}
	res := make([]common.Value, 0, nCarried+nScan)
	for i, v := range carried {
		if v == nil {
			if vi := body.Outputs[1+i]; vi.Type.Kind == common.KindOptional {
				v = &common.Optional{Elem: deref(vi.Type.Elem)}
			}
		}
		res = append(res, v)
	}
	// The stacked copies replace the per-iteration values.
	c.Release(charged)
	charged = 0
	for k := 0; k < nScan; k++ {
		parts := scans[k]
		if len(parts) == 0 {
			t, err := emptyScan(c, body.Outputs[1+nCarried+k], 0)
			if err != nil {
				return nil, err
			}
			res = append(res, t)
			continue
		}
		shape := append(common.Shape{len(parts)}, parts[0].Shape()...)
		out, err := c.Alloc(parts[0].DType(), shape)
		if err != nil {
			return nil, err
		}
		step := parts[0].Len()
		for i, p := range parts {
			common.CopyInto(out, i*step, p)
		}
		// Count the stacked outputs made so far until the node returns.
		charged += out.Bytes()
		if err := c.Charge(out.Bytes()); err != nil {
			return nil, nodeErr(n, err, "stacking scan output %d", k)
		}
		res = append(res, out)
	}
	return res[:len(n.Outputs)], nil
}

func scanKernel(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	body := n.AttrGraph("body")
	if body == nil {
		return nil, nodeErr(n, common.ErrInvalidModel, "has no body graph")
	}
	if n.Opset < 9 {
		return scan8(c, n, body, in)
	}
	m64 := n.AttrInt("num_scan_inputs", -1)
	if m64 < 1 || m64 > int64(len(in)) {
		return nil, nodeErr(n, common.ErrInvalidModel, "num_scan_inputs %d must be in [1, %d]", m64, len(in))
	}
	nScanIn := int(m64)
	nState := len(in) - nScanIn
	sp, err := newScanPlan(n, body, nState, nScanIn)
	if err != nil {
		return nil, err
	}
	inAxes, err := sp.listAttr("scan_input_axes", nScanIn)
	if err != nil {
		return nil, err
	}
	if sp.inDirs, err = sp.listAttr("scan_input_directions", nScanIn); err != nil {
		return nil, err
	}
	if sp.outAxes, err = sp.listAttr("scan_output_axes", sp.nScanOut); err != nil {
		return nil, err
	}
	if sp.outDirs, err = sp.listAttr("scan_output_directions", sp.nScanOut); err != nil {
		return nil, err
	}
	if err := sp.checkDirs(); err != nil {
		return nil, err
	}
	scanIn := make([]*common.Tensor, nScanIn)
	sp.axes = make([]int, nScanIn)
	seqLen := -1
	for j := range scanIn {
		v := in[nState+j]
		t, ok := v.(*common.Tensor)
		if !ok {
			return nil, nodeErr(n, common.ErrShape, "scan input %d must be a tensor, got a %s", j, common.KindOf(v))
		}
		a, err := NormAxis(inAxes[j], t.Rank())
		if err != nil {
			return nil, nodeErr(n, err, "scan input %d", j)
		}
		if seqLen >= 0 && t.Shape()[a] != seqLen {
			return nil, nodeErr(n, common.ErrShape, "scan input %d has %d steps along axis %d, scan input 0 has %d", j, t.Shape()[a], a, seqLen)
		}
		seqLen = t.Shape()[a]
		scanIn[j], sp.axes[j] = t, a
	}
	state := append([]common.Value(nil), in[:nState]...)
	for i, v := range state {
		if v == nil {
			return nil, nodeErr(n, common.ErrInvalidModel, "state input %d is absent", i)
		}
	}
	var charged int64
	defer func() { c.Release(charged) }()
	outs, err := sp.run(c, state, scanIn, seqLen, &charged)
	if err != nil {
		return nil, err
	}
	res := make([]common.Value, 0, nState+sp.nScanOut)
	res = append(res, state...)
	for k, o := range outs {
		if o == nil {
			e, err := emptyScan(c, body.Outputs[nState+k], sp.outAxes[k])
			if err != nil {
				return nil, err
			}
			o = e
		}
		res = append(res, o)
	}
	return res[:len(n.Outputs)], nil
}

// scanPlan is a checked Scan: counts, axes and directions.
type scanPlan struct {
	n                *common.Node
	body             *common.Graph
	nState, nScanIn  int
	nScanOut         int
	axes             []int   // per scan input, normalized
	inDirs           []int64 // per scan input
	outAxes, outDirs []int64 // per scan output
}

func newScanPlan(n *common.Node, body *common.Graph, nState, nScanIn int) (*scanPlan, error) {
	sp := &scanPlan{n: n, body: body, nState: nState, nScanIn: nScanIn}
	if len(body.Inputs) != nState+nScanIn {
		return nil, nodeErr(n, common.ErrInvalidModel, "body has %d inputs, want %d", len(body.Inputs), nState+nScanIn)
	}
	sp.nScanOut = len(body.Outputs) - nState
	if sp.nScanOut < 0 {
		return nil, nodeErr(n, common.ErrInvalidModel, "body has %d outputs, fewer than the %d state values", len(body.Outputs), nState)
	}
	if len(n.Outputs) > nState+sp.nScanOut {
		return nil, nodeErr(n, common.ErrInvalidModel, "node has %d outputs, the body makes %d", len(n.Outputs), nState+sp.nScanOut)
	}
	return sp, nil
}

func (sp *scanPlan) listAttr(name string, cnt int) ([]int64, error) {
	v := sp.n.AttrInts(name)
	if v == nil {
		return make([]int64, cnt), nil
	}
	if len(v) != cnt {
		return nil, nodeErr(sp.n, common.ErrInvalidModel, "%s has %d entries, want %d", name, len(v), cnt)
	}
	return v, nil
}

func (sp *scanPlan) checkDirs() error {
	for _, d := range append(append([]int64{}, sp.inDirs...), sp.outDirs...) {
		if d != 0 && d != 1 {
			return nodeErr(sp.n, common.ErrInvalidModel, "scan direction %d is not 0 or 1", d)
		}
	}
	return nil
}

// run iterates the body seqLen times, updating state in place, and returns
// the stacked scan outputs (nil entries when seqLen is 0). The outputs'
// memory is added to *charged.
func (sp *scanPlan) run(c *Ctx, state []common.Value, scanIn []*common.Tensor, seqLen int, charged *int64) ([]*common.Tensor, error) {
	n := sp.n
	outs := make([]*common.Tensor, sp.nScanOut)
	outAxis := make([]int, sp.nScanOut)
	bodyIn := make([]common.Value, sp.nState+sp.nScanIn)
	for t := 0; t < seqLen; t++ {
		if err := c.Err(); err != nil {
			return nil, err
		}
		copy(bodyIn, state)
		for j, x := range scanIn {
			idx := t
			if sp.inDirs[j] == 1 {
				idx = seqLen - 1 - t
			}
			bodyIn[sp.nState+j] = sliceAxis(x, sp.axes[j], idx)
		}
		res, err := c.RunGraph(sp.body, bodyIn)
		if err != nil {
			return nil, err
		}
		if len(res) < sp.nState+sp.nScanOut {
			return nil, nodeErr(n, common.ErrInvalidModel, "body returned %d values, want %d", len(res), sp.nState+sp.nScanOut)
		}
		copy(state, res[:sp.nState])
		for k := 0; k < sp.nScanOut; k++ {
			o, ok := res[sp.nState+k].(*common.Tensor)
			if !ok {
				return nil, nodeErr(n, common.ErrShape, "scan output %d must be a tensor, got a %s", k, common.KindOf(res[sp.nState+k]))
			}
			if t == 0 {
				r := o.Rank()
				a := sp.outAxes[k]
				if a < 0 {
					a += int64(r) + 1
				}
				if a < 0 || a > int64(r) {
					return nil, nodeErr(n, common.ErrShape, "scan_output_axes[%d] = %d is out of range for rank %d", k, sp.outAxes[k], r)
				}
				outAxis[k] = int(a)
				full, err := c.Alloc(o.DType(), insertDim(o.Shape(), int(a), seqLen))
				if err != nil {
					return nil, err
				}
				*charged += full.Bytes()
				if err := c.Charge(full.Bytes()); err != nil {
					return nil, err
				}
				outs[k] = full
			}
			full := outs[k]
			want := removeDim(full.Shape(), outAxis[k])
			if o.DType() != full.DType() || !o.Shape().Equal(want) {
				return nil, nodeErr(n, common.ErrShape, "scan output %d is %v%v at step %d, %v%v before", k, o.DType(), o.Shape(), t, full.DType(), want)
			}
			pos := t
			if sp.outDirs[k] == 1 {
				pos = seqLen - 1 - t
			}
			placeAxis(full, outAxis[k], pos, o)
		}
	}
	return outs, nil
}

// scan8 is the opset 8 form: input 0 is an optional sequence_lens, every
// state and scan input has a leading batch axis (scan inputs are
// [batch, sequence, ...]), and each batch entry is scanned on its own.
// Scan outputs are [batch, sequence, ...], zero past an entry's length.
func scan8(c *Ctx, n *common.Node, body *common.Graph, in []common.Value) ([]common.Value, error) {
	m64 := n.AttrInt("num_scan_inputs", -1)
	if len(in) < 1 || m64 < 1 || m64 > int64(len(in)-1) {
		return nil, nodeErr(n, common.ErrInvalidModel, "num_scan_inputs %d must be in [1, %d]", m64, len(in)-1)
	}
	nScanIn := int(m64)
	nState := len(in) - 1 - nScanIn
	sp, err := newScanPlan(n, body, nState, nScanIn)
	if err != nil {
		return nil, err
	}
	if sp.inDirs, err = sp.listAttr("directions", nScanIn); err != nil {
		return nil, err
	}
	sp.outAxes, sp.outDirs = make([]int64, sp.nScanOut), make([]int64, sp.nScanOut)
	if err := sp.checkDirs(); err != nil {
		return nil, err
	}
	sp.axes = make([]int, nScanIn)
	batch, seqLen := -1, -1
	tensors := make([]*common.Tensor, len(in)-1)
	for i, v := range in[1:] {
		t, ok := v.(*common.Tensor)
		if !ok {
			return nil, nodeErr(n, common.ErrShape, "input %d must be a tensor, got a %s", i+1, common.KindOf(v))
		}
		minRank := 1
		if i >= nState {
			minRank = 2
		}
		if t.Rank() < minRank || (batch >= 0 && t.Shape()[0] != batch) {
			return nil, nodeErr(n, common.ErrShape, "input %d has shape %v; every input needs the same batch axis first (scan inputs also a sequence axis)", i+1, t.Shape())
		}
		batch = t.Shape()[0]
		if i >= nState {
			if seqLen >= 0 && t.Shape()[1] != seqLen {
				return nil, nodeErr(n, common.ErrShape, "scan input %d has %d steps, scan input 0 has %d", i-nState, t.Shape()[1], seqLen)
			}
			seqLen = t.Shape()[1]
		}
		tensors[i] = t
	}
	lens := make([]int, batch)
	for b := range lens {
		lens[b] = seqLen
	}
	if in[0] != nil {
		sl, ok := in[0].(*common.Tensor)
		if !ok || !sl.DType().IsInteger() || sl.Rank() != 1 || sl.Shape()[0] != batch {
			return nil, nodeErr(n, common.ErrShape, "sequence_lens must be an integer tensor of shape [%d]", batch)
		}
		for b := range lens {
			v := sl.Int(b)
			if v < 0 || v > int64(seqLen) {
				return nil, nodeErr(n, common.ErrShape, "sequence_lens[%d] = %d is outside [0, %d]", b, v, seqLen)
			}
			lens[b] = int(v)
		}
	}
	var charged int64
	defer func() { c.Release(charged) }()
	finals := make([]*common.Tensor, nState)
	fulls := make([]*common.Tensor, sp.nScanOut)
	state := make([]common.Value, nState)
	scanIn := make([]*common.Tensor, nScanIn)
	for b := 0; b < batch; b++ {
		if err := c.Err(); err != nil {
			return nil, err
		}
		for i := 0; i < nState; i++ {
			state[i] = sliceAxis(tensors[i], 0, b)
		}
		for j := range scanIn {
			x := sliceAxis(tensors[nState+j], 0, b)
			if lens[b] < seqLen {
				x = sliceAxis0Range(x, lens[b])
			}
			scanIn[j] = x
		}
		var part int64
		outs, err := sp.run(c, state, scanIn, lens[b], &part)
		c.Release(part)
		if err != nil {
			return nil, err
		}
		for i, v := range state {
			t, ok := v.(*common.Tensor)
			if !ok {
				return nil, nodeErr(n, common.ErrShape, "state output %d must be a tensor, got a %s", i, common.KindOf(v))
			}
			if finals[i] == nil {
				if finals[i], err = c.Alloc(t.DType(), insertDim(t.Shape(), 0, batch)); err != nil {
					return nil, err
				}
				charged += finals[i].Bytes()
				if err := c.Charge(finals[i].Bytes()); err != nil {
					return nil, err
				}
			}
			if t.DType() != finals[i].DType() || !t.Shape().Equal(finals[i].Shape()[1:]) {
				return nil, nodeErr(n, common.ErrShape, "state output %d is %v%v for batch entry %d, %v%v before", i, t.DType(), t.Shape(), b, finals[i].DType(), finals[i].Shape()[1:])
			}
			placeAxis(finals[i], 0, b, t)
		}
		for k, o := range outs {
			if o == nil {
				continue
			}
			elem := o.Shape()[1:]
			if fulls[k] == nil {
				shape := append(common.Shape{batch, seqLen}, elem...)
				if fulls[k], err = c.Alloc(o.DType(), shape); err != nil {
					return nil, err
				}
				charged += fulls[k].Bytes()
				if err := c.Charge(fulls[k].Bytes()); err != nil {
					return nil, err
				}
			}
			if o.DType() != fulls[k].DType() || !elem.Equal(fulls[k].Shape()[2:]) {
				return nil, nodeErr(n, common.ErrShape, "scan output %d is %v%v for batch entry %d, %v%v before", k, o.DType(), elem, b, fulls[k].DType(), fulls[k].Shape()[2:])
			}
			common.CopyInto(fulls[k], b*seqLen*elem.Size(), o)
		}
	}
	res := make([]common.Value, 0, nState+sp.nScanOut)
	for i, f := range finals {
		if f == nil { // empty batch
			f = in[1+i].(*common.Tensor)
		}
		res = append(res, f)
	}
	for k, f := range fulls {
		if f == nil {
			e, err := emptyScan(c, body.Outputs[nState+k], 0)
			if err != nil {
				return nil, err
			}
			if e.Rank() >= 1 {
				e, err = c.Alloc(e.DType(), append(common.Shape{batch, seqLen}, e.Shape()[1:]...))
				if err != nil {
					return nil, err
				}
			}
			f = e
		}
		res = append(res, f)
	}
	return res[:len(n.Outputs)], nil
}

// sliceAxis0Range is x[:l] along axis 0, a view.
func sliceAxis0Range(x *common.Tensor, l int) *common.Tensor {
	shape := x.Shape().Clone()
	inner := 1
	for _, d := range shape[1:] {
		inner *= d
	}
	shape[0] = l
	return common.SubTensor(x, 0, l*inner, shape)
}

func insertDim(s common.Shape, axis, d int) common.Shape {
	out := make(common.Shape, 0, len(s)+1)
	out = append(out, s[:axis]...)
	out = append(out, d)
	return append(out, s[axis:]...)
}

func removeDim(s common.Shape, axis int) common.Shape {
	out := make(common.Shape, 0, len(s))
	out = append(out, s[:axis]...)
	return append(out, s[axis+1:]...)
}

// axisSplit returns the element counts before and after axis.
func axisSplit(s common.Shape, axis int) (outer, inner int) {
	outer, inner = 1, 1
	for i, d := range s {
		if i < axis {
			outer *= d
		} else if i > axis {
			inner *= d
		}
	}
	return outer, inner
}

// sliceAxis returns x[..., idx, ...] along axis, with that axis removed: a
// view when axis is outermost, else a copy.
func sliceAxis(x *common.Tensor, axis, idx int) *common.Tensor {
	shape := removeDim(x.Shape(), axis)
	outer, inner := axisSplit(x.Shape(), axis)
	d := x.Shape()[axis]
	if outer == 1 {
		return common.SubTensor(x, idx*inner, (idx+1)*inner, shape)
	}
	out := common.Zeros(x.DType(), shape)
	copyBlocks(out, x, outer, inner, idx*inner, d*inner, 0, inner)
	return out
}

// placeAxis writes part into full[..., pos, ...] along axis.
func placeAxis(full *common.Tensor, axis, pos int, part *common.Tensor) {
	outer, inner := axisSplit(full.Shape(), axis)
	d := full.Shape()[axis]
	copyBlocks(full, part, outer, inner, 0, inner, pos*inner, d*inner)
}
