package cpu

import (
	"github.com/accel-go/accel/common"
)

// Sequence and optional operators. Sequences are immutable values: every
// op that changes one returns a new *common.Sequence sharing the tensors.

func init() {
	regValue("SequenceConstruct", sequenceConstruct)
	regValue("SequenceEmpty", sequenceEmpty)
	regValue("SequenceInsert", sequenceInsert)
	regValue("SequenceErase", sequenceErase)
	regValue("SequenceAt", sequenceAt)
	regValue("SequenceLength", sequenceLength)
	regValue("SplitToSequence", splitToSequence)
	regValue("ConcatFromSequence", concatFromSequence)
	regValue("SequenceMap", sequenceMap)
	regValue("Optional", optionalKernel)
	regValue("OptionalHasElement", optionalHasElement)
	regValue("OptionalGetElement", optionalGetElement)
}

// valueType describes a value's type (tensor shapes are left unknown).
func valueType(v common.Value) common.TypeInfo {
	switch x := v.(type) {
	case *common.Tensor:
		return common.TypeInfo{Kind: common.KindTensor, DType: x.DType()}
	case *common.Sequence:
		e := x.Elem
		return common.TypeInfo{Kind: common.KindSequence, Elem: &e}
	case *common.Optional:
		e := x.Elem
		return common.TypeInfo{Kind: common.KindOptional, Elem: &e}
	}
	return common.TypeInfo{}
}

func tensorType(d common.DType) common.TypeInfo {
	return common.TypeInfo{Kind: common.KindTensor, DType: d}
}

func inputAt(in []common.Value, i int) common.Value {
	if i < len(in) {
		return in[i]
	}
	return nil
}

func seqArg(n *common.Node, in []common.Value, i int) (*common.Sequence, error) {
	v := inputAt(in, i)
	if o, ok := v.(*common.Optional); ok && o.Value != nil {
		v = o.Value
	}
	s, ok := v.(*common.Sequence)
	if !ok {
		return nil, nodeErr(n, common.ErrShape, "input %d must be a sequence, got a %s", i, common.KindOf(v))
	}
	return s, nil
}

func tensorArg(n *common.Node, in []common.Value, i int) (*common.Tensor, error) {
	v := inputAt(in, i)
	if o, ok := v.(*common.Optional); ok && o.Value != nil {
		v = o.Value
	}
	t, ok := v.(*common.Tensor)
	if !ok {
		return nil, nodeErr(n, common.ErrShape, "input %d must be a tensor, got a %s", i, common.KindOf(v))
	}
	return t, nil
}

// checkElem reports whether t may be an element of s.
func checkElem(n *common.Node, s *common.Sequence, t *common.Tensor) error {
	if s.Elem.Kind == common.KindTensor && s.Elem.DType != common.Undefined && s.Elem.DType != t.DType() {
		return nodeErr(n, common.ErrShape, "a %v tensor cannot join a sequence of %v tensors", t.DType(), s.Elem.DType)
	}
	return nil
}

// position reads an optional position input; hi is the largest valid
// position (inclusive) and def the value when it is absent.
func position(n *common.Node, in []common.Value, i, length, hi, def int) (int, error) {
	v := inputAt(in, i)
	if v == nil {
		return def, nil
	}
	t, err := scalarTensor(n, v, "position")
	if err != nil {
		return 0, err
	}
	if !t.DType().IsInteger() {
		return 0, nodeErr(n, common.ErrShape, "position must be an integer tensor, got %v", t.DType())
	}
	p := t.Int(0)
	if p < -int64(length) || p > int64(hi) {
		return 0, nodeErr(n, common.ErrShape, "position %d is out of range for a sequence of length %d", p, length)
	}
	if p < 0 {
		p += int64(length)
	}
	return int(p), nil
}

func sequenceConstruct(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	if len(in) == 0 {
		return nil, nodeErr(n, common.ErrInvalidModel, "needs at least one input")
	}
	s := &common.Sequence{Values: make([]common.Value, len(in))}
	for i := range in {
		t, err := tensorArg(n, in, i)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			s.Elem = tensorType(t.DType())
		} else if err := checkElem(n, s, t); err != nil {
			return nil, err
		}
		s.Values[i] = t
	}
	return []common.Value{s}, nil
}

func sequenceEmpty(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	d := common.DType(n.AttrInt("dtype", int64(common.Float32)))
	if !d.Valid() {
		return nil, nodeErr(n, common.ErrInvalidModel, "dtype %d is not a supported element type", int64(d))
	}
	return []common.Value{&common.Sequence{Elem: tensorType(d), Values: []common.Value{}}}, nil
}

func sequenceInsert(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	s, err := seqArg(n, in, 0)
	if err != nil {
		return nil, err
	}
	t, err := tensorArg(n, in, 1)
	if err != nil {
		return nil, err
	}
	if err := checkElem(n, s, t); err != nil {
		return nil, err
	}
	l := len(s.Values)
	p, err := position(n, in, 2, l, l, l)
	if err != nil {
		return nil, err
	}
	out := &common.Sequence{Elem: s.Elem, Values: make([]common.Value, 0, l+1)}
	if out.Elem.Kind == common.KindUnknown || (out.Elem.Kind == common.KindTensor && out.Elem.DType == common.Undefined) {
		out.Elem = tensorType(t.DType())
	}
	out.Values = append(out.Values, s.Values[:p]...)
	out.Values = append(out.Values, t)
	out.Values = append(out.Values, s.Values[p:]...)
	return []common.Value{out}, nil
}

func sequenceErase(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	s, err := seqArg(n, in, 0)
	if err != nil {
		return nil, err
	}
	l := len(s.Values)
	if l == 0 {
		return nil, nodeErr(n, common.ErrShape, "cannot erase from an empty sequence")
	}
	p, err := position(n, in, 1, l, l-1, l-1)
	if err != nil {
		return nil, err
	}
	out := &common.Sequence{Elem: s.Elem, Values: make([]common.Value, 0, l-1)}
	out.Values = append(out.Values, s.Values[:p]...)
	out.Values = append(out.Values, s.Values[p+1:]...)
	return []common.Value{out}, nil
}

func sequenceAt(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	s, err := seqArg(n, in, 0)
	if err != nil {
		return nil, err
	}
	if inputAt(in, 1) == nil {
		return nil, nodeErr(n, common.ErrInvalidModel, "needs a position input")
	}
	l := len(s.Values)
	if l == 0 {
		return nil, nodeErr(n, common.ErrShape, "position is out of range for an empty sequence")
	}
	p, err := position(n, in, 1, l, l-1, 0)
	if err != nil {
		return nil, err
	}
	return []common.Value{s.Values[p]}, nil
}

func sequenceLength(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	s, err := seqArg(n, in, 0)
	if err != nil {
		return nil, err
	}
	return []common.Value{common.Scalar(int64(len(s.Values)))}, nil
}

func splitToSequence(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	x, err := tensorArg(n, in, 0)
	if err != nil {
		return nil, err
	}
	if x.Rank() == 0 {
		return nil, nodeErr(n, common.ErrShape, "cannot split a scalar")
	}
	axis, err := NormAxis(n.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, nodeErr(n, err, "axis")
	}
	dim := x.Shape()[axis]
	var lens []int
	keep := true
	if sv := inputAt(in, 1); sv != nil {
		st, ok := sv.(*common.Tensor)
		if !ok {
			return nil, nodeErr(n, common.ErrShape, "split must be a tensor, got a %s", common.KindOf(sv))
		}
		if !st.DType().IsInteger() {
			return nil, nodeErr(n, common.ErrShape, "split must be an integer tensor, got %v", st.DType())
		}
		switch st.Rank() {
		case 0:
			size := st.Int(0)
			if size <= 0 {
				return nil, nodeErr(n, common.ErrShape, "split size %d must be positive", size)
			}
			sz := int(min(size, int64(max(dim, 1))))
			if _, err := c.Check(common.Uint8, common.Shape{dim / sz, 128}); err != nil {
				return nil, nodeErr(n, err, "splitting axis %d of size %d", axis, dim)
			}
			for off := 0; off < dim; off += sz {
				lens = append(lens, min(sz, dim-off))
			}
		case 1:
			vals, err := shapeArg(st, "split")
			if err != nil {
				return nil, nodeErr(n, err, "split")
			}
			total := int64(0)
			for _, v := range vals {
				if v < 0 || v > int64(dim) {
					return nil, nodeErr(n, common.ErrShape, "split %v does not fit axis %d of size %d", vals, axis, dim)
				}
				total += v
				lens = append(lens, int(v))
			}
			if total != int64(dim) {
				return nil, nodeErr(n, common.ErrShape, "split %v sums to %d, axis %d has size %d", vals, total, axis, dim)
			}
		default:
			return nil, nodeErr(n, common.ErrShape, "split must be a scalar or 1-D, got shape %v", st.Shape())
		}
	} else {
		keep = n.AttrInt("keepdims", 1) != 0
		if _, err := c.Check(common.Uint8, common.Shape{dim, 128}); err != nil {
			return nil, nodeErr(n, err, "splitting axis %d of size %d", axis, dim)
		}
		lens = make([]int, dim)
		for i := range lens {
			lens[i] = 1
		}
	}
	// Each part costs a tensor header even when x holds no data.
	if _, err := c.Check(common.Uint8, common.Shape{len(lens), 128}); err != nil {
		return nil, nodeErr(n, err, "splitting axis %d of size %d", axis, dim)
	}
	outer, inner := axisSplit(x.Shape(), axis)
	seq := &common.Sequence{Elem: tensorType(x.DType()), Values: make([]common.Value, 0, len(lens))}
	off := 0
	for _, l := range lens {
		shape := x.Shape().Clone()
		shape[axis] = l
		part := common.Zeros(x.DType(), shape)
		copyBlocks(part, x, outer, l*inner, off*inner, dim*inner, 0, l*inner)
		if !keep {
			if part, err = part.Reshape(removeDim(shape, axis)); err != nil {
				return nil, err
			}
		}
		seq.Values = append(seq.Values, part)
		off += l
	}
	return []common.Value{seq}, nil
}

func concatFromSequence(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	s, err := seqArg(n, in, 0)
	if err != nil {
		return nil, err
	}
	if len(s.Values) == 0 {
		return nil, nodeErr(n, common.ErrShape, "cannot concatenate an empty sequence")
	}
	parts := make([]*common.Tensor, len(s.Values))
	for i, v := range s.Values {
		t, ok := v.(*common.Tensor)
		if !ok {
			return nil, nodeErr(n, common.ErrShape, "element %d is a %s, not a tensor", i, common.KindOf(v))
		}
		parts[i] = t
	}
	first := parts[0]
	newAxis := n.AttrInt("new_axis", 0) != 0
	rank := first.Rank()
	if newAxis {
		rank++
	}
	if rank == 0 {
		return nil, nodeErr(n, common.ErrShape, "cannot concatenate scalars without new_axis")
	}
	axis, err := NormAxis(n.AttrInt("axis", 0), rank)
	if err != nil {
		return nil, nodeErr(n, err, "axis")
	}
	// Work on each part as if it had the (possibly new) axis.
	view := func(t *common.Tensor) common.Shape {
		if newAxis {
			return insertDim(t.Shape(), axis, 1)
		}
		return t.Shape()
	}
	outShape := view(first).Clone()
	total := 0
	for i, t := range parts {
		vs := view(t)
		if t.DType() != first.DType() || len(vs) != len(outShape) {
			return nil, nodeErr(n, common.ErrShape, "element %d is %v%v, element 0 is %v%v", i, t.DType(), t.Shape(), first.DType(), first.Shape())
		}
		for a := range vs {
			if a != axis && vs[a] != outShape[a] {
				return nil, nodeErr(n, common.ErrShape, "element %d has shape %v, element 0 has %v (they must match off axis %d)", i, t.Shape(), first.Shape(), axis)
			}
		}
		total += vs[axis]
	}
	outShape[axis] = total
	out, err := c.Alloc(first.DType(), outShape)
	if err != nil {
		return nil, err
	}
	outer, inner := axisSplit(outShape, axis)
	off := 0
	for _, t := range parts {
		d := view(t)[axis]
		copyBlocks(out, t, outer, d*inner, 0, d*inner, off*inner, total*inner)
		off += d
	}
	return []common.Value{out}, nil
}

func sequenceMap(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	body := n.AttrGraph("body")
	if body == nil {
		return nil, nodeErr(n, common.ErrInvalidModel, "has no body graph")
	}
	first, err := seqArg(n, in, 0)
	if err != nil {
		return nil, err
	}
	if len(body.Inputs) != len(in) {
		return nil, nodeErr(n, common.ErrInvalidModel, "body has %d inputs, the node %d", len(body.Inputs), len(in))
	}
	if len(body.Outputs) < len(n.Outputs) {
		return nil, nodeErr(n, common.ErrInvalidModel, "body has %d outputs, the node %d", len(body.Outputs), len(n.Outputs))
	}
	l := len(first.Values)
	for i, v := range in {
		if v == nil {
			return nil, nodeErr(n, common.ErrInvalidModel, "input %d is absent", i)
		}
		if s, ok := v.(*common.Sequence); ok && len(s.Values) != l {
			return nil, nodeErr(n, common.ErrShape, "input sequence %d has %d elements, input 0 has %d", i, len(s.Values), l)
		}
	}
	outs := make([]*common.Sequence, len(n.Outputs))
	for k := range outs {
		e := body.Outputs[k].Type
		if e.Kind == common.KindUnknown {
			e = common.TypeInfo{Kind: common.KindTensor}
		}
		outs[k] = &common.Sequence{Elem: e, Values: make([]common.Value, 0, l)}
	}
	args := make([]common.Value, len(in))
	for i := 0; i < l; i++ {
		if err := c.Err(); err != nil {
			return nil, err
		}
		for j, v := range in {
			if s, ok := v.(*common.Sequence); ok {
				args[j] = s.Values[i]
			} else {
				args[j] = v
			}
		}
		res, err := c.RunGraph(body, args)
		if err != nil {
			return nil, err
		}
		for k := range outs {
			if k >= len(res) || res[k] == nil {
				return nil, nodeErr(n, common.ErrInvalidModel, "body produced no output %d", k)
			}
			if i == 0 && (outs[k].Elem.Kind == common.KindTensor && outs[k].Elem.DType == common.Undefined) {
				outs[k].Elem = valueType(res[k])
			}
			outs[k].Values = append(outs[k].Values, res[k])
		}
	}
	res := make([]common.Value, len(outs))
	for k, s := range outs {
		res[k] = s
	}
	return res, nil
}

func optionalKernel(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	if v := inputAt(in, 0); v != nil {
		return []common.Value{&common.Optional{Elem: valueType(v), Value: v}}, nil
	}
	a := n.Attr("type")
	if a == nil || a.TP == nil {
		return nil, nodeErr(n, common.ErrInvalidModel, "an Optional with no input needs the type attribute")
	}
	return []common.Value{&common.Optional{Elem: *a.TP}}, nil
}

func optionalHasElement(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	has := false
	switch v := inputAt(in, 0).(type) {
	case nil:
	case *common.Optional:
		has = v.Value != nil
	default:
		has = true
	}
	return []common.Value{common.Scalar(has)}, nil
}

func optionalGetElement(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	switch v := inputAt(in, 0).(type) {
	case nil:
		return nil, nodeErr(n, common.ErrInvalidModel, "needs an input")
	case *common.Optional:
		if v.Value == nil {
			return nil, nodeErr(n, common.ErrShape, "the optional input holds no element")
		}
		return []common.Value{v.Value}, nil
	default:
		return []common.Value{v}, nil
	}
}

// copyBlocks copies count blocks of blk elements from src to dst: block i
// starts at so+i*ss in src and at do+i*ds in dst. Both tensors have the
// same element type.
func copyBlocks(dst, src *common.Tensor, count, blk, so, ss, do, ds int) {
	if count == 0 || blk == 0 {
		return
	}
	switch d := dst.Raw().(type) {
	case []float32:
		blockCopy(d, src.Raw().([]float32), count, blk, so, ss, do, ds)
	case []float64:
		blockCopy(d, src.Raw().([]float64), count, blk, so, ss, do, ds)
	case []int8:
		blockCopy(d, src.Raw().([]int8), count, blk, so, ss, do, ds)
	case []int16:
		blockCopy(d, src.Raw().([]int16), count, blk, so, ss, do, ds)
	case []int32:
		blockCopy(d, src.Raw().([]int32), count, blk, so, ss, do, ds)
	case []int64:
		blockCopy(d, src.Raw().([]int64), count, blk, so, ss, do, ds)
	case []uint8:
		blockCopy(d, src.Raw().([]uint8), count, blk, so, ss, do, ds)
	case []uint16:
		blockCopy(d, src.Raw().([]uint16), count, blk, so, ss, do, ds)
	case []uint32:
		blockCopy(d, src.Raw().([]uint32), count, blk, so, ss, do, ds)
	case []uint64:
		blockCopy(d, src.Raw().([]uint64), count, blk, so, ss, do, ds)
	case []bool:
		blockCopy(d, src.Raw().([]bool), count, blk, so, ss, do, ds)
	case []string:
		blockCopy(d, src.Raw().([]string), count, blk, so, ss, do, ds)
	case []common.F16:
		blockCopy(d, src.Raw().([]common.F16), count, blk, so, ss, do, ds)
	case []common.BF16:
		blockCopy(d, src.Raw().([]common.BF16), count, blk, so, ss, do, ds)
	case []common.F8E4M3FN:
		blockCopy(d, src.Raw().([]common.F8E4M3FN), count, blk, so, ss, do, ds)
	case []common.F8E4M3FNUZ:
		blockCopy(d, src.Raw().([]common.F8E4M3FNUZ), count, blk, so, ss, do, ds)
	case []common.F8E5M2:
		blockCopy(d, src.Raw().([]common.F8E5M2), count, blk, so, ss, do, ds)
	case []common.F8E5M2FNUZ:
		blockCopy(d, src.Raw().([]common.F8E5M2FNUZ), count, blk, so, ss, do, ds)
	case []common.F8E8M0:
		blockCopy(d, src.Raw().([]common.F8E8M0), count, blk, so, ss, do, ds)
	case []common.F4E2M1:
		blockCopy(d, src.Raw().([]common.F4E2M1), count, blk, so, ss, do, ds)
	case []common.I4:
		blockCopy(d, src.Raw().([]common.I4), count, blk, so, ss, do, ds)
	case []common.U4:
		blockCopy(d, src.Raw().([]common.U4), count, blk, so, ss, do, ds)
	case []common.I2:
		blockCopy(d, src.Raw().([]common.I2), count, blk, so, ss, do, ds)
	case []common.U2:
		blockCopy(d, src.Raw().([]common.U2), count, blk, so, ss, do, ds)
	default:
		panic("cpu: copyBlocks on an unknown element type")
	}
}

func blockCopy[T any](dst, src []T, count, blk, so, ss, do, ds int) {
	for i := 0; i < count; i++ {
		copy(dst[do+i*ds:do+i*ds+blk], src[so+i*ss:so+i*ss+blk])
	}
}
