package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("Gather", gatherKernel)
	reg("GatherElements", gatherElementsKernel)
	reg("GatherND", gatherNDKernel)
	reg("ScatterND", scatterNDKernel)
	reg("ScatterElements", scatterElementsKernel)
	reg("Scatter", scatterElementsKernel)
	reg("OneHot", oneHotKernel)
}

// indexArg returns an int32/int64 index tensor's values as int64 (no copy
// for int64).
func indexArg(n *common.Node, t *common.Tensor, what string) ([]int64, error) {
	switch s := t.Raw().(type) {
	case []int64:
		return s, nil
	case []int32:
		out := make([]int64, len(s))
		for i, v := range s {
			out[i] = int64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s %s must be int32 or int64, got %v", common.ErrShape, n.OpType, what, t.DType())
}

// wrapIndex maps an index in [-dim, dim) into [0, dim).
func wrapIndex(n *common.Node, v int64, dim int, pos int) (int, error) {
	if v < -int64(dim) || v >= int64(dim) {
		return 0, fmt.Errorf("%w: %s index %d (at position %d) is out of range for a dim of size %d (valid: %d..%d)",
			common.ErrShape, n.OpType, v, pos, dim, -dim, dim-1)
	}
	if v < 0 {
		v += int64(dim)
	}
	return int(v), nil
}

// gatherKernel picks slices along an axis by index.
func gatherKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	it, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	axis, err := NormAxis(n.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, fmt.Errorf("Gather: %w", err)
	}
	raw, err := indexArg(n, it, "indices")
	if err != nil {
		return nil, err
	}
	dim := x.Shape()[axis]
	idx := make([]int, len(raw))
	for i, v := range raw {
		if idx[i], err = wrapIndex(n, v, dim, i); err != nil {
			return nil, err
		}
	}
	shape := append(append(x.Shape()[:axis:axis], it.Shape()...), x.Shape()[axis+1:]...)
	out, err := mvAlloc(c, n, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 {
		return []*common.Tensor{out}, nil
	}
	outer := common.Shape(x.Shape()[:axis]).Size()
	inner := common.Shape(x.Shape()[axis+1:]).Size()
	offs := make([]int, 0, outer*len(idx))
	for o := 0; o < outer; o++ {
		for _, k := range idx {
			offs = append(offs, (o*dim+k)*inner)
		}
	}
	mvGatherBlocks(c, out, x, offs, inner)
	return []*common.Tensor{out}, nil
}

// mvGatherBlocks sets block i of dst (block elements each) to
// src[offs[i]:offs[i]+block].
func mvGatherBlocks(c *Ctx, dst, src *common.Tensor, offs []int, block int) {
	switch d := mvWords(dst).(type) {
	case []uint8:
		gatherBlocksT(c, d, mvWords(src).([]uint8), offs, block)
	case []uint16:
		gatherBlocksT(c, d, mvWords(src).([]uint16), offs, block)
	case []uint32:
		gatherBlocksT(c, d, mvWords(src).([]uint32), offs, block)
	case []uint64:
		gatherBlocksT(c, d, mvWords(src).([]uint64), offs, block)
	case []string:
		gatherBlocksT(c, d, mvWords(src).([]string), offs, block)
	}
}

func gatherBlocksT[T any](c *Ctx, dst, src []T, offs []int, block int) {
	if block == 0 {
		return
	}
	c.Parallel(len(offs), max(1, (1<<14)/block), func(lo, hi int) {
		if block == 1 {
			for i := lo; i < hi; i++ {
				dst[i] = src[offs[i]]
			}
			return
		}
		for i := lo; i < hi; i++ {
			copy(dst[i*block:(i+1)*block], src[offs[i]:offs[i]+block])
		}
	})
}

// elementOffsets maps each element of an index tensor (shape ishape,
// values idx) to a flat offset into data of shape dshape, with the index
// replacing the coordinate on axis.
func elementOffsets(n *common.Node, dshape, ishape common.Shape, idx []int64, axis int) ([]int, error) {
	if len(dshape) != len(ishape) {
		return nil, fmt.Errorf("%w: %s indices shape %v and data shape %v differ in rank", common.ErrShape, n.OpType, ishape, dshape)
	}
	for a := range ishape {
		if a != axis && ishape[a] > dshape[a] {
			return nil, fmt.Errorf("%w: %s indices shape %v is larger than data shape %v on axis %d", common.ErrShape, n.OpType, ishape, dshape, a)
		}
	}
	r := len(dshape)
	st := dshape.Strides()
	offs := make([]int, len(idx))
	coord := make([]int, r)
	dim := dshape[axis]
	base := 0
	for i, v := range idx {
		k, err := wrapIndex(n, v, dim, i)
		if err != nil {
			return nil, err
		}
		offs[i] = base + k*st[axis]
		for a := r - 1; a >= 0; a-- {
			coord[a]++
			if a != axis {
				base += st[a]
			}
			if coord[a] < ishape[a] {
				break
			}
			if a != axis {
				base -= st[a] * coord[a]
			}
			coord[a] = 0
		}
	}
	return offs, nil
}

// gatherElementsKernel picks single elements along an axis.
func gatherElementsKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	it, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	axis, err := NormAxis(n.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, fmt.Errorf("GatherElements: %w", err)
	}
	raw, err := indexArg(n, it, "indices")
	if err != nil {
		return nil, err
	}
	offs, err := elementOffsets(n, x.Shape(), it.Shape(), raw, axis)
	if err != nil {
		return nil, err
	}
	out, err := mvAlloc(c, n, x.DType(), it.Shape())
	if err != nil {
		return nil, err
	}
	mvGatherBlocks(c, out, x, offs, 1)
	return []*common.Tensor{out}, nil
}

// ndOffsets resolves GatherND/ScatterND index tuples: indices of shape
// [B..., M..., k] address data of shape [B..., R...] (b batch dims). It
// returns the flat data offset of each tuple and the size of the slice each
// one addresses.
func ndOffsets(n *common.Node, dshape, ishape common.Shape, idx []int64, b int) ([]int, int, error) {
	q := len(ishape)
	if q < 1 {
		return nil, 0, fmt.Errorf("%w: %s indices must have rank at least 1", common.ErrShape, n.OpType)
	}
	k := ishape[q-1]
	if b < 0 || b >= q || b > len(dshape) {
		return nil, 0, fmt.Errorf("%w: %s batch_dims %d is out of range for indices rank %d and data rank %d", common.ErrShape, n.OpType, b, q, len(dshape))
	}
	if k < 1 || k > len(dshape)-b {
		return nil, 0, fmt.Errorf("%w: %s index tuples of length %d do not fit data shape %v with %d batch dims", common.ErrShape, n.OpType, k, dshape, b)
	}
	for a := 0; a < b; a++ {
		if dshape[a] != ishape[a] {
			return nil, 0, fmt.Errorf("%w: %s batch dim %d differs: data %v, indices %v", common.ErrShape, n.OpType, a, dshape, ishape)
		}
	}
	st := dshape.Strides()
	block := common.Shape(dshape[b+k:]).Size()
	batches := common.Shape(dshape[:b]).Size()
	batchSize := common.Shape(dshape[b:]).Size()
	tuples := common.Shape(ishape[:q-1]).Size()
	perBatch := 0
	if batches > 0 {
		perBatch = tuples / batches
	}
	offs := make([]int, tuples)
	for t := 0; t < tuples; t++ {
		off := 0
		if perBatch > 0 {
			off = (t / perBatch) * batchSize
		}
		for j := 0; j < k; j++ {
			v, err := wrapIndex(n, idx[t*k+j], dshape[b+j], t*k+j)
			if err != nil {
				return nil, 0, err
			}
			off += v * st[b+j]
		}
		offs[t] = off
	}
	return offs, block, nil
}

// gatherNDKernel picks slices addressed by index tuples.
func gatherNDKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	it, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	raw, err := indexArg(n, it, "indices")
	if err != nil {
		return nil, err
	}
	b := int(max(-1, min(n.AttrInt("batch_dims", 0), 1<<20)))
	offs, block, err := ndOffsets(n, x.Shape(), it.Shape(), raw, b)
	if err != nil {
		return nil, err
	}
	q := it.Rank()
	k := it.Shape()[q-1]
	shape := append(it.Shape()[:q-1:q-1], x.Shape()[b+k:]...)
	out, err := mvAlloc(c, n, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	mvGatherBlocks(c, out, x, offs, block)
	return []*common.Tensor{out}, nil
}

// scatterReduction reads and checks the reduction attribute.
func scatterReduction(n *common.Node) (string, error) {
	red := "none"
	if !opsetBefore(n, 16) {
		red = n.AttrString("reduction", "none")
	}
	switch red {
	case "none", "add", "mul":
		return red, nil
	case "max", "min":
		if opsetBefore(n, 18) {
			return "", fmt.Errorf("%w: %s reduction %q needs opset 18, model has %d", common.ErrInvalidModel, n.OpType, red, n.Opset)
		}
		return red, nil
	}
	return "", fmt.Errorf("%w: %s reduction %q is not none, add, mul, max or min", common.ErrInvalidModel, n.OpType, red)
}

// scatterNDKernel writes update slices at index tuples into a copy of data.
func scatterNDKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	it, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	up, err := need(n, in, 2)
	if err != nil {
		return nil, err
	}
	red, err := scatterReduction(n)
	if err != nil {
		return nil, err
	}
	raw, err := indexArg(n, it, "indices")
	if err != nil {
		return nil, err
	}
	offs, block, err := ndOffsets(n, x.Shape(), it.Shape(), raw, 0)
	if err != nil {
		return nil, err
	}
	q := it.Rank()
	k := it.Shape()[q-1]
	want := append(it.Shape()[:q-1:q-1], x.Shape()[k:]...)
	if !up.Shape().Equal(want) || up.DType() != x.DType() {
		return nil, fmt.Errorf("%w: ScatterND updates are %v%v, want %v%v", common.ErrShape, up.DType(), up.Shape(), x.DType(), want)
	}
	out, err := mvAlloc(c, n, x.DType(), x.Shape())
	if err != nil {
		return nil, err
	}
	common.CopyInto(out, 0, x)
	if err := mvScatter(n, out, up, offs, block, red); err != nil {
		return nil, err
	}
	return []*common.Tensor{out}, nil
}

// scatterElementsKernel writes single elements along an axis into a copy
// of data (also Scatter, its opset 9 name).
func scatterElementsKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	it, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	up, err := need(n, in, 2)
	if err != nil {
		return nil, err
	}
	red := "none"
	if n.OpType == "ScatterElements" {
		if red, err = scatterReduction(n); err != nil {
			return nil, err
		}
	}
	axis, err := NormAxis(n.AttrInt("axis", 0), x.Rank())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.OpType, err)
	}
	if !up.Shape().Equal(it.Shape()) || up.DType() != x.DType() {
		return nil, fmt.Errorf("%w: %s updates are %v%v, want %v%v (indices shape)", common.ErrShape, n.OpType, up.DType(), up.Shape(), x.DType(), it.Shape())
	}
	raw, err := indexArg(n, it, "indices")
	if err != nil {
		return nil, err
	}
	offs, err := elementOffsets(n, x.Shape(), it.Shape(), raw, axis)
	if err != nil {
		return nil, err
	}
	out, err := mvAlloc(c, n, x.DType(), x.Shape())
	if err != nil {
		return nil, err
	}
	common.CopyInto(out, 0, x)
	if err := mvScatter(n, out, up, offs, 1, red); err != nil {
		return nil, err
	}
	return []*common.Tensor{out}, nil
}

// mvScatter combines block i of upd into dst at offs[i] with the reduction
// (none: overwrite), in index order.
func mvScatter(n *common.Node, dst, upd *common.Tensor, offs []int, block int, red string) error {
	if red == "none" {
		switch d := mvWords(dst).(type) {
		case []uint8:
			scatterT(d, mvWords(upd).([]uint8), offs, block, nil)
		case []uint16:
			scatterT(d, mvWords(upd).([]uint16), offs, block, nil)
		case []uint32:
			scatterT(d, mvWords(upd).([]uint32), offs, block, nil)
		case []uint64:
			scatterT(d, mvWords(upd).([]uint64), offs, block, nil)
		case []string:
			scatterT(d, mvWords(upd).([]string), offs, block, nil)
		}
		return nil
	}
	switch d := dst.Raw().(type) {
	case []float32:
		scatterT(d, upd.Raw().([]float32), offs, block, reduceFn[float32](red))
	case []float64:
		scatterT(d, upd.Raw().([]float64), offs, block, reduceFn[float64](red))
	case []int8:
		scatterT(d, upd.Raw().([]int8), offs, block, reduceFn[int8](red))
	case []int16:
		scatterT(d, upd.Raw().([]int16), offs, block, reduceFn[int16](red))
	case []int32:
		scatterT(d, upd.Raw().([]int32), offs, block, reduceFn[int32](red))
	case []int64:
		scatterT(d, upd.Raw().([]int64), offs, block, reduceFn[int64](red))
	case []uint8:
		scatterT(d, upd.Raw().([]uint8), offs, block, reduceFn[uint8](red))
	case []uint16:
		scatterT(d, upd.Raw().([]uint16), offs, block, reduceFn[uint16](red))
	case []uint32:
		scatterT(d, upd.Raw().([]uint32), offs, block, reduceFn[uint32](red))
	case []uint64:
		scatterT(d, upd.Raw().([]uint64), offs, block, reduceFn[uint64](red))
	case []common.F16:
		f := reduceFn[float32](red)
		scatterT(d, upd.Raw().([]common.F16), offs, block, func(a, b common.F16) common.F16 {
			return common.F16From(f(a.Float32(), b.Float32()))
		})
	case []common.BF16:
		f := reduceFn[float32](red)
		scatterT(d, upd.Raw().([]common.BF16), offs, block, func(a, b common.BF16) common.BF16 {
			return common.BF16From(f(a.Float32(), b.Float32()))
		})
	default:
		return &common.UnsupportedError{Op: n.OpType, Domain: n.Domain, Opset: n.Opset, Backend: Name, Node: n.Name,
			Reason: fmt.Sprintf("reduction %s on element type %v", red, dst.DType())}
	}
	return nil
}

type scatterNum interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

func reduceFn[T scatterNum](red string) func(a, b T) T {
	switch red {
	case "add":
		return func(a, b T) T { return a + b }
	case "mul":
		return func(a, b T) T { return a * b }
	case "max":
		return func(a, b T) T { return max(a, b) }
	default:
		return func(a, b T) T { return min(a, b) }
	}
}

func scatterT[T any](dst, src []T, offs []int, block int, f func(a, b T) T) {
	for i, o := range offs {
		d := dst[o : o+block]
		s := src[i*block : (i+1)*block]
		if f == nil {
			copy(d, s)
			continue
		}
		for j := range d {
			d[j] = f(d[j], s[j])
		}
	}
}

// oneHotKernel expands indices into one-hot vectors along a new axis.
func oneHotKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	it, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	dt, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	vt, err := need(n, in, 2)
	if err != nil {
		return nil, err
	}
	if dt.Len() != 1 || dt.DType() == common.String || dt.DType() == common.Bool {
		return nil, fmt.Errorf("%w: OneHot depth must be one number, got %v%v", common.ErrShape, dt.DType(), dt.Shape())
	}
	if vt.Len() != 2 {
		return nil, fmt.Errorf("%w: OneHot values must hold [off, on], got shape %v", common.ErrShape, vt.Shape())
	}
	if it.DType() == common.String || it.DType() == common.Bool {
		return nil, unsupportedType(n, it.DType())
	}
	var depth int64
	if dt.DType().IsFloat() {
		f := dt.Float(0)
		if math.IsNaN(f) || f < 0 || f > 1<<62 {
			return nil, fmt.Errorf("%w: OneHot depth %v is invalid", common.ErrShape, f)
		}
		depth = int64(f)
	} else {
		depth = dt.Int(0)
	}
	if depth < 0 || depth > 1<<62 {
		return nil, fmt.Errorf("%w: OneHot depth %d is invalid", common.ErrShape, depth)
	}
	r := it.Rank()
	axis := n.AttrInt("axis", -1)
	if axis < 0 {
		axis += int64(r) + 1
	}
	if axis < 0 || axis > int64(r) {
		return nil, fmt.Errorf("%w: OneHot axis %d is out of range for output rank %d", common.ErrShape, n.AttrInt("axis", -1), r+1)
	}
	shape := append(append(it.Shape()[:axis:axis], int(depth)), it.Shape()[axis:]...)
	out, err := mvAlloc(c, n, vt.DType(), shape)
	if err != nil {
		return nil, err
	}
	mvFill(out, common.SubTensor(vt, 0, 1, nil))
	inner := common.Shape(it.Shape()[axis:]).Size()
	// Indices outside [-depth, depth) give an all-off vector (spec).
	var offs []int
	isFloat := it.DType().IsFloat()
	for i := 0; i < it.Len(); i++ {
		var v int64
		if isFloat {
			f := it.Float(i)
			if math.IsNaN(f) || f < -float64(depth) || f >= float64(depth) {
				continue
			}
			v = int64(f)
		} else {
			v = it.Int(i)
		}
		if v < 0 {
			v += depth
		}
		if v < 0 || v >= depth {
			continue
		}
		o, j := i/inner, i%inner
		offs = append(offs, (o*int(depth)+int(v))*inner+j)
	}
	on := common.SubTensor(vt, 1, 2, common.Shape{1})
	ons, err := mvAlloc(c, n, vt.DType(), common.Shape{len(offs)})
	if err != nil {
		return nil, err
	}
	mvFill(ons, on)
	if err := mvScatter(n, out, ons, offs, 1, "none"); err != nil {
		return nil, err
	}
	return []*common.Tensor{out}, nil
}
