package cpu

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/accel-go/accel/common"
)

func init() {
	reg("Trilu", triluKernel)
	reg("Compress", compressKernel)
	reg("ReverseSequence", reverseSequenceKernel)
	reg("Unique", uniqueKernel)
}

// triluKernel keeps the upper (j-i >= k) or lower (j-i <= k) triangle of
// each matrix in the last two axes and zeroes the rest.
func triluKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	if x.Rank() < 2 {
		return nil, fmt.Errorf("%w: Trilu input must have rank at least 2, got shape %v", common.ErrShape, x.Shape())
	}
	k := int64(0)
	if t := opt(in, 1); t != nil {
		if t.Len() != 1 || !t.DType().IsInteger() {
			return nil, fmt.Errorf("%w: Trilu k must be one integer, got %v%v", common.ErrShape, t.DType(), t.Shape())
		}
		k = t.Int(0)
	}
	upper := n.AttrInt("upper", 1) != 0
	out, err := mvAlloc(c, n, x.DType(), x.Shape())
	if err != nil {
		return nil, err
	}
	r := x.Rank()
	rows, cols := x.Shape()[r-2], x.Shape()[r-1]
	switch d := mvWords(out).(type) {
	case []uint8:
		triluT(c, d, mvWords(x).([]uint8), rows, cols, k, upper)
	case []uint16:
		triluT(c, d, mvWords(x).([]uint16), rows, cols, k, upper)
	case []uint32:
		triluT(c, d, mvWords(x).([]uint32), rows, cols, k, upper)
	case []uint64:
		triluT(c, d, mvWords(x).([]uint64), rows, cols, k, upper)
	case []string:
		triluT(c, d, mvWords(x).([]string), rows, cols, k, upper)
	}
	return []*common.Tensor{out}, nil
}

func triluT[T any](c *Ctx, dst, src []T, rows, cols int, k int64, upper bool) {
	if cols == 0 {
		return
	}
	// Past these bounds every row keeps all or nothing; clamping keeps
	// i+k from overflowing.
	k = max(-int64(rows)-1, min(int64(cols)+1, k))
	total := len(dst) / cols
	c.Parallel(total, max(1, (1<<14)/cols), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			i := int64(row % rows)
			o, s := dst[row*cols:(row+1)*cols], src[row*cols:(row+1)*cols]
			// Columns [a, b) are kept.
			a, b := int64(0), int64(cols)
			if upper {
				a = max(0, min(int64(cols), i+k))
			} else {
				b = max(0, min(int64(cols), i+k+1))
			}
			copy(o[a:b], s[a:b])
		}
	})
}

// compressKernel keeps the slices (or, without axis, the flattened
// elements) whose condition is true.
func compressKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	ct, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	if ct.Rank() != 1 || ct.DType() != common.Bool {
		return nil, fmt.Errorf("%w: Compress condition must be a 1-D bool tensor, got %v%v", common.ErrShape, ct.DType(), ct.Shape())
	}
	cond := common.Data[bool](ct)
	src := x
	axis := 0
	if n.HasAttr("axis") {
		if axis, err = NormAxis(n.AttrInt("axis", 0), x.Rank()); err != nil {
			return nil, fmt.Errorf("Compress: %w", err)
		}
	} else if src, err = x.Reshape(common.Shape{x.Len()}); err != nil {
		return nil, err
	}
	dim := src.Shape()[axis]
	var keep []int
	for i, b := range cond {
		if !b {
			continue
		}
		if i >= dim {
			return nil, fmt.Errorf("%w: Compress condition is true at %d, past the axis size %d", common.ErrShape, i, dim)
		}
		keep = append(keep, i)
	}
	shape := src.Shape().Clone()
	shape[axis] = len(keep)
	out, err := mvAlloc(c, n, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 {
		return []*common.Tensor{out}, nil
	}
	outer := common.Shape(src.Shape()[:axis]).Size()
	inner := common.Shape(src.Shape()[axis+1:]).Size()
	offs := make([]int, 0, outer*len(keep))
	for o := 0; o < outer; o++ {
		for _, k := range keep {
			offs = append(offs, (o*dim+k)*inner)
		}
	}
	mvGatherBlocks(c, out, src, offs, inner)
	return []*common.Tensor{out}, nil
}

// reverseSequenceKernel reverses the first seq_len[b] steps of each batch
// entry along the time axis.
func reverseSequenceKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	lt, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	if x.Rank() < 2 {
		return nil, fmt.Errorf("%w: ReverseSequence input must have rank at least 2, got shape %v", common.ErrShape, x.Shape())
	}
	ta, ba := n.AttrInt("time_axis", 0), n.AttrInt("batch_axis", 1)
	if !(ta == 0 && ba == 1 || ta == 1 && ba == 0) {
		return nil, fmt.Errorf("%w: ReverseSequence time_axis %d and batch_axis %d must be 0 and 1 in some order", common.ErrInvalidModel, ta, ba)
	}
	lens, err := indexArg(n, lt, "sequence_lens")
	if err != nil {
		return nil, err
	}
	batch, steps := x.Shape()[ba], x.Shape()[ta]
	if lt.Rank() != 1 || len(lens) != batch {
		return nil, fmt.Errorf("%w: ReverseSequence sequence_lens has shape %v, want [%d]", common.ErrShape, lt.Shape(), batch)
	}
	for b, l := range lens {
		if l < 0 || l > int64(steps) {
			return nil, fmt.Errorf("%w: ReverseSequence sequence_lens[%d] = %d is out of range 0..%d", common.ErrShape, b, l, steps)
		}
	}
	out, err := mvAlloc(c, n, x.DType(), x.Shape())
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 {
		return []*common.Tensor{out}, nil
	}
	a0, a1 := x.Shape()[0], x.Shape()[1]
	inner := common.Shape(x.Shape()[2:]).Size()
	offs := make([]int, a0*a1)
	for i := 0; i < a0; i++ {
		for j := 0; j < a1; j++ {
			b, t := j, i
			if ba == 0 {
				b, t = i, j
			}
			if l := int(lens[b]); t < l {
				t = l - 1 - t
			}
			si, sj := t, b
			if ba == 0 {
				si, sj = b, t
			}
			offs[i*a1+j] = (si*a1 + sj) * inner
		}
	}
	mvGatherBlocks(c, out, x, offs, inner)
	return []*common.Tensor{out}, nil
}

// elemCompare returns a three-way comparison of two flat elements of t.
func elemCompare(n *common.Node, t *common.Tensor) (func(i, j int) int, error) {
	switch s := t.Raw().(type) {
	case []float32:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []float64:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []int8:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []int16:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []int32:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []int64:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []uint8:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []uint16:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []uint32:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []uint64:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []string:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []bool:
		return func(i, j int) int {
			switch {
			case s[i] == s[j]:
				return 0
			case s[j]:
				return -1
			}
			return 1
		}, nil
	case []common.F16:
		return func(i, j int) int { return cmp.Compare(s[i].Float32(), s[j].Float32()) }, nil
	case []common.BF16:
		return func(i, j int) int { return cmp.Compare(s[i].Float32(), s[j].Float32()) }, nil
	}
	return nil, unsupportedType(n, t.DType())
}

// uniqueKernel finds the distinct elements (or slices along axis), with
// first-occurrence indices, inverse indices and counts.
func uniqueKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	src := x
	axis := 0
	if n.HasAttr("axis") {
		if axis, err = NormAxis(n.AttrInt("axis", 0), x.Rank()); err != nil {
			return nil, fmt.Errorf("Unique: %w", err)
		}
	} else if src, err = x.Reshape(common.Shape{x.Len()}); err != nil {
		return nil, err
	}
	ec, err := elemCompare(n, src)
	if err != nil {
		return nil, err
	}
	dim := src.Shape()[axis]
	if _, err := c.Check(common.Int64, common.Shape{4, dim}); err != nil {
		return nil, err
	}
	outer := common.Shape(src.Shape()[:axis]).Size()
	inner := common.Shape(src.Shape()[axis+1:]).Size()
	if x.Len() == 0 {
		outer, inner = 0, 0
	}
	// Item k is the slice src[o, k, i] for all o, i, compared in that order.
	itemCmp := func(a, b int) int {
		for o := 0; o < outer; o++ {
			pa, pb := (o*dim+a)*inner, (o*dim+b)*inner
			for i := 0; i < inner; i++ {
				if r := ec(pa+i, pb+i); r != 0 {
					return r
				}
			}
		}
		return 0
	}
	order := make([]int, dim)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, itemCmp)
	// Groups of equal items in sorted order; each group's first member is
	// its first occurrence (stable sort).
	var firsts []int
	group := make([]int, dim) // item -> group number (sorted order)
	for p, it := range order {
		if p == 0 || itemCmp(order[p-1], it) != 0 {
			firsts = append(firsts, it)
		}
		group[it] = len(firsts) - 1
	}
	u := len(firsts)
	// rank maps a sorted group number to its output position.
	rank := make([]int, u)
	if n.AttrInt("sorted", 1) != 0 {
		for g := range rank {
			rank[g] = g
		}
	} else {
		byFirst := make([]int, u)
		for g := range byFirst {
			byFirst[g] = g
		}
		slices.SortFunc(byFirst, func(a, b int) int { return cmp.Compare(firsts[a], firsts[b]) })
		for p, g := range byFirst {
			rank[g] = p
		}
	}
	indices := make([]int64, u)
	counts := make([]int64, u)
	inverse := make([]int64, dim)
	for g, f := range firsts {
		indices[rank[g]] = int64(f)
	}
	for it := 0; it < dim; it++ {
		p := rank[group[it]]
		inverse[it] = int64(p)
		counts[p]++
	}
	shape := src.Shape().Clone()
	shape[axis] = u
	y, err := mvAlloc(c, n, x.DType(), shape)
	if err != nil {
		return nil, err
	}
	offs := make([]int, 0, outer*u)
	for o := 0; o < outer; o++ {
		for _, f := range indices {
			offs = append(offs, (o*dim+int(f))*inner)
		}
	}
	mvGatherBlocks(c, y, src, offs, inner)
	return []*common.Tensor{
		y,
		common.NewTensor(common.Shape{u}, indices),
		common.NewTensor(common.Shape{dim}, inverse),
		common.NewTensor(common.Shape{u}, counts),
	}, nil
}
