package cpu

import (
	"fmt"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("Transpose", transposeKernel)
	reg("Concat", concatKernel)
	reg("Split", splitKernel)
	reg("Slice", sliceKernel)
	reg("Expand", expandKernel)
	reg("Tile", tileKernel)
	reg("DepthToSpace", depthToSpaceKernel)
	reg("SpaceToDepth", spaceToDepthKernel)
}

// transposeKernel permutes axes (default: reversed).
func transposeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	r := x.Rank()
	perm := make([]int, r)
	if p := n.AttrInts("perm"); n.HasAttr("perm") {
		if len(p) != r {
			return nil, fmt.Errorf("%w: Transpose perm %v has %d entries for rank %d", common.ErrShape, p, len(p), r)
		}
		seen := make([]bool, r)
		for i, a := range p {
			v, err := NormAxis(a, r)
			if err != nil || seen[v] {
				return nil, fmt.Errorf("%w: Transpose perm %v is not a permutation of 0..%d", common.ErrShape, p, r-1)
			}
			seen[v] = true
			perm[i] = v
		}
	} else {
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	inSt := x.Shape().Strides()
	shape := make(common.Shape, r)
	st := make([]int, r)
	for i, a := range perm {
		shape[i] = x.Shape()[a]
		st[i] = inSt[a]
	}
	out, err := mvAlloc(c, n, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	mvStrided(c, out, x, shape, st, 0)
	return []*common.Tensor{out}, nil
}

// concatKernel joins tensors along an axis.
func concatKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%w: Concat needs at least one input", common.ErrInvalidModel)
	}
	var first *common.Tensor
	for i, t := range in {
		if t == nil {
			return nil, fmt.Errorf("%w: Concat input %d is absent", common.ErrInvalidModel, i)
		}
		if first == nil {
			first = t
		}
	}
	r := first.Rank()
	def := int64(-1 << 62)
	if opsetBefore(n, 4) {
		def = 1
	}
	axis64 := n.AttrInt("axis", def)
	if axis64 == def && def < 0 {
		return nil, fmt.Errorf("%w: Concat needs an axis attribute", common.ErrInvalidModel)
	}
	axis, err := NormAxis(axis64, r)
	if err != nil {
		return nil, fmt.Errorf("Concat: %w", err)
	}
	shape := first.Shape().Clone()
	shape[axis] = 0
	for i, t := range in {
		if t.DType() != first.DType() {
			return nil, fmt.Errorf("%w: Concat input %d is %v, input 0 is %v", common.ErrShape, i, t.DType(), first.DType())
		}
		if t.Rank() != r {
			return nil, fmt.Errorf("%w: Concat input %d has shape %v, input 0 has %v", common.ErrShape, i, t.Shape(), first.Shape())
		}
		for a, d := range t.Shape() {
			if a != axis && d != first.Shape()[a] {
				return nil, fmt.Errorf("%w: Concat input %d has shape %v, input 0 has %v (axis %d)", common.ErrShape, i, t.Shape(), first.Shape(), axis)
			}
		}
		shape[axis] += t.Shape()[axis]
	}
	out, err := mvAlloc(c, n, first.DType(), shape)
	if err != nil {
		return nil, err
	}
	outer := common.Shape(shape[:axis]).Size()
	inner := common.Shape(shape[axis+1:]).Size()
	row := shape[axis] * inner
	off := 0
	for _, t := range in {
		blk := t.Shape()[axis] * inner
		mvCopyBlocks(c, out, t, outer, blk, off, row, 0, blk)
		off += blk
	}
	return []*common.Tensor{out}, nil
}

// splitKernel cuts a tensor into pieces along an axis.
func splitKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	axis, err := NormAxis(n.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, fmt.Errorf("Split: %w", err)
	}
	dim := x.Shape()[axis]
	var split []int64
	given := false
	switch {
	case opsetBefore(n, 13):
		if n.HasAttr("split") {
			split, given = n.AttrInts("split"), true
		} else if t := opt(in, 1); t != nil && opsetBefore(n, 2) {
			if split, err = shapeArg(t, "Split split"); err != nil {
				return nil, err
			}
			given = true
		}
	default:
		if t := opt(in, 1); t != nil {
			if split, err = shapeArg(t, "Split split"); err != nil {
				return nil, err
			}
			given = true
		}
	}
	outs := len(n.Outputs)
	if given {
		if len(split) != outs && outs > 0 {
			return nil, fmt.Errorf("%w: Split has %d outputs but split %v has %d entries", common.ErrInvalidModel, outs, split, len(split))
		}
		var sum int64
		for _, s := range split {
			if s < 0 || s > int64(dim) {
				return nil, fmt.Errorf("%w: Split split %v has invalid size %d", common.ErrShape, split, s)
			}
			sum += s
		}
		if sum != int64(dim) {
			return nil, fmt.Errorf("%w: Split sizes %v add up to %d, but axis %d has size %d", common.ErrShape, split, sum, axis, dim)
		}
	} else {
		parts := int64(outs)
		if !opsetBefore(n, 18) && n.HasAttr("num_outputs") {
			parts = n.AttrInt("num_outputs", 0)
			if parts != int64(outs) {
				return nil, fmt.Errorf("%w: Split num_outputs is %d but the node has %d outputs", common.ErrInvalidModel, parts, outs)
			}
		}
		if parts < 1 {
			return nil, fmt.Errorf("%w: Split has no outputs", common.ErrInvalidModel)
		}
		chunk := int64(dim) / parts
		if int64(dim)%parts != 0 {
			if opsetBefore(n, 18) {
				return nil, fmt.Errorf("%w: Split cannot cut axis %d of size %d into %d equal parts", common.ErrShape, axis, dim, parts)
			}
			chunk = (int64(dim) + parts - 1) / parts
		}
		split = make([]int64, parts)
		left := int64(dim)
		for i := range split {
			split[i] = min(chunk, left)
			left -= split[i]
		}
	}
	outer := common.Shape(x.Shape()[:axis]).Size()
	inner := common.Shape(x.Shape()[axis+1:]).Size()
	res := make([]*common.Tensor, len(split))
	off := 0
	for i, s := range split {
		shape := x.Shape().Clone()
		shape[axis] = int(s)
		blk := int(s) * inner
		if outer == 1 {
			res[i] = common.SubTensor(x, off, off+blk, shape)
		} else {
			t, err := mvAlloc(c, n, x.DType(), shape)
			if err != nil {
				return nil, err
			}
			mvCopyBlocks(c, t, x, outer, blk, 0, blk, off, dim*inner)
			res[i] = t
		}
		off += blk
	}
	return res, nil
}

// sliceKernel takes a strided window of the input.
func sliceKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	var starts, ends, axes, steps []int64
	if opsetBefore(n, 10) {
		if !n.HasAttr("starts") || !n.HasAttr("ends") {
			return nil, fmt.Errorf("%w: Slice-%d needs starts and ends attributes", common.ErrInvalidModel, n.Opset)
		}
		starts, ends = n.AttrInts("starts"), n.AttrInts("ends")
		if n.HasAttr("axes") {
			axes = n.AttrInts("axes")
		}
	} else {
		args := make([][]int64, 4)
		for i, name := range []string{"starts", "ends", "axes", "steps"} {
			t := opt(in, i+1)
			if t == nil {
				if i < 2 {
					return nil, fmt.Errorf("%w: Slice needs input %s", common.ErrInvalidModel, name)
				}
				continue
			}
			if args[i], err = shapeArg(t, "Slice "+name); err != nil {
				return nil, err
			}
		}
		starts, ends, axes, steps = args[0], args[1], args[2], args[3]
	}
	if len(ends) != len(starts) {
		return nil, fmt.Errorf("%w: Slice starts %v and ends %v differ in length", common.ErrShape, starts, ends)
	}
	if axes == nil {
		axes = make([]int64, len(starts))
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	if len(axes) != len(starts) {
		return nil, fmt.Errorf("%w: Slice axes %v and starts %v differ in length", common.ErrShape, axes, starts)
	}
	if steps != nil && len(steps) != len(starts) {
		return nil, fmt.Errorf("%w: Slice steps %v and starts %v differ in length", common.ErrShape, steps, starts)
	}
	r := x.Rank()
	ax, err := normAxes(n, axes, r)
	if err != nil {
		return nil, err
	}
	inSt := x.Shape().Strides()
	shape := x.Shape().Clone()
	st := append([]int{}, inSt...)
	base := 0
	for i, a := range ax {
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, fmt.Errorf("%w: Slice step for axis %d is zero", common.ErrShape, a)
		}
		start, count := sliceRange(starts[i], ends[i], step, int64(x.Shape()[a]))
		shape[a] = int(count)
		st[a] = inSt[a] * int(step)
		if count > 0 {
			base += int(start) * inSt[a]
		}
	}
	out, err := mvAlloc(c, n, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	mvStrided(c, out, x, shape, st, base)
	return []*common.Tensor{out}, nil
}

// sliceRange clamps start and end as the Slice spec says and returns the
// first index and the element count.
func sliceRange(start, end, step, dim int64) (int64, int64) {
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		start = max(0, min(dim, start))
		end = max(0, min(dim, end))
		if end <= start {
			return start, 0
		}
		return start, (end-start-1)/step + 1
	}
	start = max(0, min(dim-1, start))
	end = max(-1, min(dim-1, end))
	if end >= start {
		return start, 0
	}
	return start, (start-end-1)/(-step) + 1
}

// expandKernel broadcasts the input to a shape.
func expandKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	st, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	dims, err := shapeArg(st, "Expand shape")
	if err != nil {
		return nil, err
	}
	want, err := dimsOf(n, "shape", dims)
	if err != nil {
		return nil, err
	}
	shape, err := BroadcastShape(x.Shape(), want)
	if err != nil {
		return nil, fmt.Errorf("Expand: %w", err)
	}
	out, err := mvAlloc(c, n, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	mvStrided(c, out, x, shape, BroadcastStrides(x.Shape(), shape), 0)
	return []*common.Tensor{out}, nil
}

// tileKernel repeats the input along each axis.
func tileKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	rt, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	reps, err := shapeArg(rt, "Tile repeats")
	if err != nil {
		return nil, err
	}
	r := x.Rank()
	if len(reps) != r {
		return nil, fmt.Errorf("%w: Tile repeats %v has %d entries for input rank %d", common.ErrShape, reps, len(reps), r)
	}
	rep, err := dimsOf(n, "repeats", reps)
	if err != nil {
		return nil, err
	}
	// The output, viewed as [r0, d0, r1, d1, ...], reads the input with
	// stride 0 on each repeat axis.
	view := make(common.Shape, 2*r)
	st := make([]int, 2*r)
	inSt := x.Shape().Strides()
	for a := 0; a < r; a++ {
		view[2*a], view[2*a+1] = rep[a], x.Shape()[a]
		st[2*a+1] = inSt[a]
	}
	if _, err := view.NumElements(0); err != nil {
		return nil, fmt.Errorf("Tile: %w", err)
	}
	shape := make(common.Shape, r)
	for a := range shape {
		shape[a] = rep[a] * x.Shape()[a]
	}
	out, err := mvAlloc(c, n, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	mvStrided(c, out, x, view, st, 0)
	return []*common.Tensor{out}, nil
}

// depthToSpaceKernel moves channel blocks into spatial blocks.
func depthToSpaceKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	if x.Rank() != 4 {
		return nil, fmt.Errorf("%w: DepthToSpace input must be 4-D, got shape %v", common.ErrShape, x.Shape())
	}
	b64 := n.AttrInt("blocksize", 0)
	N, C, H, W := x.Shape()[0], x.Shape()[1], x.Shape()[2], x.Shape()[3]
	if b64 < 1 || b64 > int64(C) || C%int(b64*b64) != 0 {
		return nil, fmt.Errorf("%w: DepthToSpace blocksize %d does not divide %d channels into squares", common.ErrShape, b64, C)
	}
	b := int(b64)
	cc := C / (b * b)
	mode := n.AttrString("mode", "DCR")
	// Output viewed as [N, C', H, b, W, b]: strides into the input.
	hw := H * W
	var st []int
	switch mode {
	case "DCR": // input [N, b, b, C', H, W]
		st = []int{C * hw, hw, W, b * cc * hw, 1, cc * hw}
	case "CRD": // input [N, C', b, b, H, W]
		st = []int{C * hw, b * b * hw, W, b * hw, 1, hw}
	default:
		return nil, fmt.Errorf("%w: DepthToSpace mode %q is not DCR or CRD", common.ErrInvalidModel, mode)
	}
	out, err := mvAlloc(c, n, x.DType(), common.Shape{N, cc, H * b, W * b})
	if err != nil {
		return nil, err
	}
	mvStrided(c, out, x, common.Shape{N, cc, H, b, W, b}, st, 0)
	return []*common.Tensor{out}, nil
}

// spaceToDepthKernel moves spatial blocks into channels.
func spaceToDepthKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	if x.Rank() != 4 {
		return nil, fmt.Errorf("%w: SpaceToDepth input must be 4-D, got shape %v", common.ErrShape, x.Shape())
	}
	b64 := n.AttrInt("blocksize", 0)
	N, C, H, W := x.Shape()[0], x.Shape()[1], x.Shape()[2], x.Shape()[3]
	if b64 < 1 || b64 > int64(max(H, W, 1)) || H%int(b64) != 0 || W%int(b64) != 0 {
		return nil, fmt.Errorf("%w: SpaceToDepth blocksize %d does not divide spatial dims %dx%d", common.ErrShape, b64, H, W)
	}
	b := int(b64)
	hb, wb := H/b, W/b
	// Input [N, C, H/b, b, W/b, b] transposed to [N, b, b, C, H/b, W/b].
	st := []int{C * H * W, W, 1, H * W, b * W, b}
	out, err := mvAlloc(c, n, x.DType(), common.Shape{N, C * b * b, hb, wb})
	if err != nil {
		return nil, err
	}
	mvStrided(c, out, x, common.Shape{N, b, b, C, hb, wb}, st, 0)
	return []*common.Tensor{out}, nil
}
