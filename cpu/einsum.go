package cpu

import (
	"fmt"
	"sort"
	"strings"

	"github.com/accel-go/accel/common"
)

func init() { reg("Einsum", ViaFloat32(esKernel)) }

// Labels: 'A'..'Z' are 0..25 and 'a'..'z' 26..51, so that sorting ids
// sorts letters as ASCII does; the dims an ellipsis stands for are
// esEllipsis+0, +1, ... aligned to the right.
const esEllipsis = 52

// esSpec is a parsed equation.
type esSpec struct {
	terms  [][]int // labels of each input's axes (ellipsis expanded)
	out    []int   // labels of the output's axes
	size   map[int]int
	inputs []common.Shape
}

func esLabel(ch byte) (int, bool) {
	switch {
	case ch >= 'A' && ch <= 'Z':
		return int(ch - 'A'), true
	case ch >= 'a' && ch <= 'z':
		return int(ch-'a') + 26, true
	}
	return 0, false
}

// esTerm splits one subscript into its letters, and says where the
// ellipsis is (-1: none).
func esTerm(s string) (letters []int, ell int, err error) {
	ell = -1
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "...") {
			if ell >= 0 {
				return nil, 0, fmt.Errorf("%q has more than one ellipsis", s)
			}
			ell = len(letters)
			i += 3
			continue
		}
		l, ok := esLabel(s[i])
		if !ok {
			return nil, 0, fmt.Errorf("%q has the invalid character %q", s, s[i])
		}
		letters = append(letters, l)
		i++
	}
	return letters, ell, nil
}

// esParse parses the equation against the input shapes.
func esParse(eq string, shapes []common.Shape) (*esSpec, error) {
	eq = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' {
			return -1
		}
		return r
	}, eq)
	lhs, rhs, explicit := strings.Cut(eq, "->")
	parts := strings.Split(lhs, ",")
	if len(parts) != len(shapes) {
		return nil, fmt.Errorf("equation %q has %d input terms for %d inputs", eq, len(parts), len(shapes))
	}
	sp := &esSpec{size: map[int]int{}, inputs: shapes}
	type term struct {
		letters []int
		ell     int
	}
	terms := make([]term, len(parts))
	nEll := 0
	for i, p := range parts {
		letters, ell, err := esTerm(p)
		if err != nil {
			return nil, err
		}
		rank := len(shapes[i])
		e := rank - len(letters)
		switch {
		case ell < 0 && e != 0:
			return nil, fmt.Errorf("term %q has %d labels for input %d of rank %d", p, len(letters), i, rank)
		case e < 0:
			return nil, fmt.Errorf("term %q has more labels than input %d's rank %d", p, i, rank)
		}
		nEll = max(nEll, e)
		terms[i] = term{letters, ell}
	}
	count := map[int]int{}
	for i, t := range terms {
		rank := len(shapes[i])
		e := rank - len(t.letters)
		labels := make([]int, 0, rank)
		for j, l := range t.letters {
			if j == t.ell {
				for k := 0; k < e; k++ {
					labels = append(labels, esEllipsis+nEll-e+k)
				}
			}
			labels = append(labels, l)
		}
		if t.ell == len(t.letters) {
			for k := 0; k < e; k++ {
				labels = append(labels, esEllipsis+nEll-e+k)
			}
		}
		for j, l := range labels {
			d := shapes[i][j]
			if old, ok := sp.size[l]; ok && old != d {
				switch {
				case old == 1:
					sp.size[l] = d
				case d == 1:
				default:
					return nil, fmt.Errorf("label %s has sizes %d and %d", esName(l), old, d)
				}
			} else if !ok {
				sp.size[l] = d
			}
			count[l]++
		}
		sp.terms = append(sp.terms, labels)
	}
	if explicit {
		letters, ell, err := esTerm(rhs)
		if err != nil {
			return nil, err
		}
		seen := map[int]bool{}
		for j, l := range letters {
			if j == ell {
				for k := 0; k < nEll; k++ {
					sp.out = append(sp.out, esEllipsis+k)
				}
			}
			if seen[l] {
				return nil, fmt.Errorf("output label %s appears twice", esName(l))
			}
			if _, ok := sp.size[l]; !ok {
				return nil, fmt.Errorf("output label %s appears in no input", esName(l))
			}
			seen[l] = true
			sp.out = append(sp.out, l)
		}
		if ell == len(letters) {
			for k := 0; k < nEll; k++ {
				sp.out = append(sp.out, esEllipsis+k)
			}
		}
	} else {
		for k := 0; k < nEll; k++ {
			sp.out = append(sp.out, esEllipsis+k)
		}
		var once []int
		for l, c := range count {
			if c == 1 && l < esEllipsis {
				once = append(once, l)
			}
		}
		sort.Ints(once)
		sp.out = append(sp.out, once...)
	}
	return sp, nil
}

func esName(l int) string {
	switch {
	case l < 26:
		return string(rune('A' + l))
	case l < esEllipsis:
		return string(rune('a' + l - 26))
	}
	return fmt.Sprintf("...[%d]", l-esEllipsis)
}

func esKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	eq := n.AttrString("equation", "")
	if eq == "" {
		return nil, fmt.Errorf("%w: %s needs an equation", common.ErrInvalidModel, n.OpType)
	}
	if len(in) == 0 {
		return nil, fmt.Errorf("%w: %s has no inputs", common.ErrInvalidModel, n.OpType)
	}
	shapes := make([]common.Shape, len(in))
	for i, t := range in {
		if t == nil {
			return nil, fmt.Errorf("%w: %s input %d is absent", common.ErrInvalidModel, n.OpType, i)
		}
		if t.DType() != in[0].DType() {
			return nil, fmt.Errorf("%w: %s inputs have types %v and %v", common.ErrShape, n.OpType, in[0].DType(), t.DType())
		}
		shapes[i] = t.Shape()
	}
	sp, err := esParse(eq, shapes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", common.ErrShape, n.OpType, err)
	}
	var out *common.Tensor
	switch in[0].Raw().(type) {
	case []float32:
		out, err = esRun[float32](c, sp, in)
	case []float64:
		out, err = esRun[float64](c, sp, in)
	case []int8:
		out, err = esRun[int8](c, sp, in)
	case []int16:
		out, err = esRun[int16](c, sp, in)
	case []int32:
		out, err = esRun[int32](c, sp, in)
	case []int64:
		out, err = esRun[int64](c, sp, in)
	case []uint8:
		out, err = esRun[uint8](c, sp, in)
	case []uint16:
		out, err = esRun[uint16](c, sp, in)
	case []uint32:
		out, err = esRun[uint32](c, sp, in)
	case []uint64:
		out, err = esRun[uint64](c, sp, in)
	default:
		return nil, unsupportedType(n, in[0].DType())
	}
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{out}, nil
}

// esView is an operand as a strided view: one entry per distinct label.
type esView[T rdNum] struct {
	labels  []int
	dims    []int
	strides []int
	data    []T
}

func (v *esView[T]) find(l int) int {
	for i, x := range v.labels {
		if x == l {
			return i
		}
	}
	return -1
}

// esInput makes the view of input i, folding repeated labels into one
// axis (the diagonal).
func esInput[T rdNum](sp *esSpec, i int, t *common.Tensor) (*esView[T], error) {
	v := &esView[T]{data: common.Data[T](t)}
	st := t.Shape().Strides()
	for j, l := range sp.terms[i] {
		d := t.Shape()[j]
		if k := v.find(l); k >= 0 {
			if v.dims[k] != d {
				return nil, fmt.Errorf("%w: Einsum: repeated label %s of input %d has sizes %d and %d", common.ErrShape, esName(l), i, v.dims[k], d)
			}
			v.strides[k] += st[j]
			continue
		}
		v.labels = append(v.labels, l)
		v.dims = append(v.dims, d)
		v.strides = append(v.strides, st[j])
	}
	return v, nil
}

func esRun[T rdNum](c *Ctx, sp *esSpec, in []*common.Tensor) (*common.Tensor, error) {
	ops := make([]*esView[T], len(in))
	for i, t := range in {
		v, err := esInput[T](sp, i, t)
		if err != nil {
			return nil, err
		}
		ops[i] = v
	}
	outSet := map[int]bool{}
	for _, l := range sp.out {
		outSet[l] = true
	}
	// keptAfter(i): labels needed once operands [0, i] are combined.
	keptAfter := func(i int) map[int]bool {
		k := map[int]bool{}
		for l := range outSet {
			k[l] = true
		}
		for _, v := range ops[i+1:] {
			for _, l := range v.labels {
				k[l] = true
			}
		}
		return k
	}
	cur := ops[0]
	var err error
	if len(ops) == 1 {
		if cur, err = esSum(c, cur, outSet); err != nil {
			return nil, err
		}
	}
	for i := 1; i < len(ops); i++ {
		if cur, err = esContract(c, sp, cur, ops[i], keptAfter(i)); err != nil {
			return nil, err
		}
	}
	// Sum what is left over, then lay the result out in output order.
	if cur, err = esSum(c, cur, outSet); err != nil {
		return nil, err
	}
	shape := make(common.Shape, len(sp.out))
	strides := make([]int, len(sp.out))
	for j, l := range sp.out {
		shape[j] = sp.size[l]
		if k := cur.find(l); k >= 0 && cur.dims[k] == shape[j] {
			strides[j] = cur.strides[k]
		}
	}
	data, err := esDense(c, cur.data, shape, strides)
	if err != nil {
		return nil, err
	}
	return common.NewTensor(shape, data), nil
}

// esSum sums v over every label not in keep.
func esSum[T rdNum](c *Ctx, v *esView[T], keep map[int]bool) (*esView[T], error) {
	var kl, kd, ks, rd, rs []int
	for i, l := range v.labels {
		if keep[l] {
			kl, kd, ks = append(kl, l), append(kd, v.dims[i]), append(ks, v.strides[i])
		} else if v.dims[i] != 1 {
			rd, rs = append(rd, v.dims[i]), append(rs, v.strides[i])
		}
	}
	if len(kl) == len(v.labels) {
		return v, nil
	}
	shape := append(append(common.Shape{}, kd...), rd...)
	src, err := esDense(c, v.data, shape, append(append([]int{}, ks...), rs...))
	if err != nil {
		return nil, err
	}
	rows := common.Shape(kd).Size()
	r := common.Shape(rd).Size()
	out := make([]T, rows)
	if r > 0 {
		c.Parallel(rows, max(1, (1<<14)/r), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				var s T
				for _, x := range src[o*r : o*r+r] {
					s += x
				}
				out[o] = s
			}
		})
	}
	return &esView[T]{labels: kl, dims: kd, strides: common.Shape(kd).Strides(), data: out}, nil
}

// esDense copies the strided view (shape, strides over src) into a new
// dense row-major slice, or returns src itself when it already is one.
func esDense[T rdNum](c *Ctx, src []T, shape common.Shape, strides []int) ([]T, error) {
	n, err := c.Check(common.DTypeOf[T](), shape)
	if err != nil {
		return nil, err
	}
	if n == len(src) {
		dense := true
		acc := 1
		for i := len(shape) - 1; i >= 0; i-- {
			if shape[i] != 1 && strides[i] != acc {
				dense = false
				break
			}
			acc *= shape[i]
		}
		if dense {
			return src, nil
		}
	}
	dst := make([]T, n)
	if n == 0 {
		return dst, nil
	}
	if len(shape) == 0 {
		dst[0] = src[0]
		return dst, nil
	}
	last := len(shape) - 1
	w, ws := shape[last], strides[last]
	rows := n / w
	c.Parallel(rows, max(1, (1<<14)/w), func(lo, hi int) {
		idx := make([]int, last)
		off := 0
		rem := lo
		for d := last - 1; d >= 0; d-- {
			idx[d] = rem % shape[d]
			rem /= shape[d]
			off += idx[d] * strides[d]
		}
		for row := lo; row < hi; row++ {
			out := dst[row*w : row*w+w]
			if ws == 1 {
				copy(out, src[off:off+w])
			} else {
				p := off
				for k := range out {
					out[k] = src[p]
					p += ws
				}
			}
			for d := last - 1; d >= 0; d-- {
				idx[d]++
				off += strides[d]
				if idx[d] < shape[d] {
					break
				}
				off -= idx[d] * strides[d]
				idx[d] = 0
			}
		}
	})
	return dst, nil
}

// esContract combines two operands into one over the labels in keep:
// shared kept labels are batch dims, shared others are summed by a
// batched matrix product, and each side's own labels are rows/columns.
func esContract[T rdNum](c *Ctx, sp *esSpec, a, b *esView[T], keep map[int]bool) (*esView[T], error) {
	// Labels only one side has and nobody needs are summed first.
	own := func(v, other *esView[T]) map[int]bool {
		k := map[int]bool{}
		for _, l := range v.labels {
			if keep[l] || other.find(l) >= 0 {
				k[l] = true
			}
		}
		return k
	}
	var err error
	if a, err = esSum(c, a, own(a, b)); err != nil {
		return nil, err
	}
	if b, err = esSum(c, b, own(b, a)); err != nil {
		return nil, err
	}
	// A summed label of size 1 on one side only scales by the other
	// side's sum over it.
	for _, l := range append([]int{}, a.labels...) {
		ia, ib := a.find(l), b.find(l)
		if ib < 0 || keep[l] || a.dims[ia] == b.dims[ib] {
			continue
		}
		if a.dims[ia] == 1 {
			a = esDrop(a, ia)
			if b, err = esSum(c, b, esAllBut(b, l)); err != nil {
				return nil, err
			}
		} else {
			b = esDrop(b, ib)
			if a, err = esSum(c, a, esAllBut(a, l)); err != nil {
				return nil, err
			}
		}
	}
	var batch, rowsL, sumL, colsL []int
	for _, l := range a.labels {
		switch {
		case b.find(l) < 0:
			rowsL = append(rowsL, l)
		case keep[l]:
			batch = append(batch, l)
		default:
			sumL = append(sumL, l)
		}
	}
	for _, l := range b.labels {
		if a.find(l) < 0 {
			colsL = append(colsL, l)
		}
	}
	size := func(l int) int { return sp.size[l] }
	// Axis sizes and strides of a view laid out along labels, with
	// stride 0 where the view broadcasts (size 1, or label absent).
	lay := func(v *esView[T], labels ...[]int) (common.Shape, []int) {
		var sh common.Shape
		var st []int
		for _, ls := range labels {
			for _, l := range ls {
				k := v.find(l)
				d := size(l)
				if k >= 0 && !keep[l] && b.find(l) >= 0 && a.find(l) >= 0 {
					d = v.dims[k] // a summed label: both sides agree
				}
				sh = append(sh, d)
				if k >= 0 && v.dims[k] == d {
					st = append(st, v.strides[k])
				} else {
					st = append(st, 0)
				}
			}
		}
		return sh, st
	}
	shA, stA := lay(a, batch, rowsL, sumL)
	shB, stB := lay(b, batch, sumL, colsL)
	nb := common.Shape(shA[:len(batch)]).Size()
	m := common.Shape(shA[len(batch) : len(batch)+len(rowsL)]).Size()
	k := common.Shape(shA[len(batch)+len(rowsL):]).Size()
	nn := common.Shape(shB[len(batch)+len(sumL):]).Size()
	da, err := esDense(c, a.data, shA, stA)
	if err != nil {
		return nil, err
	}
	db, err := esDense(c, b.data, shB, stB)
	if err != nil {
		return nil, err
	}
	outShape := append(append(common.Shape{}, shA[:len(batch)+len(rowsL)]...), shB[len(batch)+len(sumL):]...)
	if _, err := c.Check(common.DTypeOf[T](), outShape); err != nil {
		return nil, err
	}
	dc := make([]T, nb*m*nn)
	esBatchMatMul(c, da, db, dc, nb, m, k, nn)
	labels := append(append(append([]int{}, batch...), rowsL...), colsL...)
	return &esView[T]{labels: labels, dims: outShape, strides: outShape.Strides(), data: dc}, nil
}

// esAllBut is the label set of v without l.
func esAllBut[T rdNum](v *esView[T], l int) map[int]bool {
	k := map[int]bool{}
	for _, x := range v.labels {
		if x != l {
			k[x] = true
		}
	}
	return k
}

// esDrop removes axis i (of size 1) from a view.
func esDrop[T rdNum](v *esView[T], i int) *esView[T] {
	cut := func(s []int) []int { return append(append([]int{}, s[:i]...), s[i+1:]...) }
	return &esView[T]{labels: cut(v.labels), dims: cut(v.dims), strides: cut(v.strides), data: v.data}
}

// esBatchMatMul computes c[b] = a[b] (m x k) * bm[b] (k x n) for each of
// nb batches; c is zeroed.
func esBatchMatMul[T rdNum](c *Ctx, a, bm, out []T, nb, m, k, n int) {
	if nb*m*n == 0 {
		return
	}
	c.Parallel(nb*m, max(1, (1<<14)/max(k*n, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bi := r / m
			crow := out[r*n : r*n+n]
			arow := a[r*k : r*k+k]
			bb := bm[bi*k*n : bi*k*n+k*n]
			if n == 1 {
				var s T
				for j, x := range arow {
					s += x * bb[j]
				}
				crow[0] = s
				continue
			}
			for j, x := range arow {
				brow := bb[j*n : j*n+n]
				for q, y := range brow {
					crow[q] += x * y
				}
			}
		}
	})
}
