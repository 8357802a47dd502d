package cpu

import (
	"fmt"
	"math"
	"strings"

	"github.com/accel-go/accel/common"
)

// bcast is an iteration plan for inputs broadcast (numpy style) to one
// output shape. Adjacent axes that every input walks contiguously are
// merged, so the work is a sequence of runs of inner output elements in
// which each input either advances by one element or repeats one.
type bcast struct {
	shape common.Shape // broadcast output shape
	total int          // output elements
	inner int          // length of a run (at least 1)
	istr  []int        // per input: 1 if it advances along a run, else 0
	outer []int        // merged outer dims, outermost first
	ostr  [][]int      // per input: element strides over outer
}

// newBcast plans the broadcast of shapes. The output size is checked for
// overflow only; callers allocate the output with c.Alloc.
func newBcast(shapes ...common.Shape) (*bcast, error) {
	if p := flatBcast(shapes); p != nil {
		return p, nil
	}
	out, err := BroadcastShape(shapes...)
	if err != nil {
		return nil, err
	}
	total, err := out.NumElements(0)
	if err != nil {
		return nil, err
	}
	p := &bcast{shape: out, total: total, inner: 1, istr: make([]int, len(shapes)), ostr: make([][]int, len(shapes))}
	if total == 0 {
		return p, nil
	}
	st := make([][]int, len(shapes))
	for k, s := range shapes {
		st[k] = BroadcastStrides(s, out)
	}
	// Merged axes from innermost outwards: dims[j] with strides mst[k][j].
	var dims []int
	mst := make([][]int, len(shapes))
	for a := len(out) - 1; a >= 0; a-- {
		if out[a] == 1 {
			continue
		}
		j := len(dims) - 1
		merge := j >= 0
		for k := range shapes {
			if merge && st[k][a] != mst[k][j]*dims[j] {
				merge = false
			}
		}
		if merge {
			dims[j] *= out[a]
			continue
		}
		dims = append(dims, out[a])
		for k := range shapes {
			mst[k] = append(mst[k], st[k][a])
		}
	}
	if len(dims) == 0 {
		return p, nil
	}
	p.inner = dims[0]
	for k := range shapes {
		p.istr[k] = mst[k][0]
		o := make([]int, len(dims)-1)
		for j := 1; j < len(dims); j++ {
			o[len(dims)-1-j] = mst[k][j]
		}
		p.ostr[k] = o
	}
	p.outer = make([]int, len(dims)-1)
	for j := 1; j < len(dims); j++ {
		p.outer[len(dims)-1-j] = dims[j]
	}
	return p, nil
}

// flatBcast plans the common case without a general plan: every input
// has the output's shape or is one element of no higher rank. It returns
// nil for any other case.
func flatBcast(shapes []common.Shape) *bcast {
	var out common.Shape
	for _, s := range shapes {
		if len(s) > len(out) || (len(s) == len(out) && out.Size() == 1) {
			out = s
		}
	}
	total := out.Size()
	for _, s := range shapes {
		if !s.Equal(out) && (len(s) > len(out) || s.Size() != 1) {
			return nil
		}
		if _, err := s.NumElements(0); err != nil {
			return nil
		}
	}
	p := &bcast{shape: out.Clone(), total: total, inner: max(total, 1), istr: make([]int, len(shapes)), ostr: make([][]int, len(shapes))}
	for k, s := range shapes {
		if s.Equal(out) && total > 1 {
			p.istr[k] = 1
		}
	}
	return p
}

// run calls fn for consecutive segments of the output, in parallel for
// large outputs: fn(o, offs, n) computes output elements [o, o+n), where
// input k starts at element offs[k] and advances by istr[k] per element.
// A segment never crosses a run boundary.
func (p *bcast) run(c *Ctx, fn func(o int, offs []int, n int)) {
	if p.total == 0 {
		return
	}
	c.Parallel(p.total, ewGrain, func(lo, hi int) {
		offs := make([]int, len(p.istr))
		base := make([]int, len(p.istr)) // offsets at the start of the current run
		coord := make([]int, len(p.outer))
		row, col := lo/p.inner, lo%p.inner
		for a := len(p.outer) - 1; a >= 0; a-- {
			coord[a] = row % p.outer[a]
			row /= p.outer[a]
			for k := range base {
				base[k] += coord[a] * p.ostr[k][a]
			}
		}
		for pos := lo; pos < hi; {
			n := min(p.inner-col, hi-pos)
			for k := range offs {
				offs[k] = base[k] + col*p.istr[k]
			}
			fn(pos, offs, n)
			pos += n
			col = 0
			for a := len(p.outer) - 1; a >= 0; a-- {
				coord[a]++
				for k := range base {
					base[k] += p.ostr[k][a]
				}
				if coord[a] < p.outer[a] {
					break
				}
				for k := range base {
					base[k] -= p.ostr[k][a] * coord[a]
				}
				coord[a] = 0
			}
		}
	})
}

// seg is the part of an input a segment reads: n elements, or one when
// the input repeats along the run.
func seg[T any](s []T, off, n, stride int) []T {
	if stride == 0 {
		return s[off : off+1]
	}
	return s[off : off+n]
}

// runBin runs a row function over a two-input broadcast.
func runBin[A, B, R any](c *Ctx, p *bcast, d []R, a []A, b []B, f func(d []R, a []A, b []B)) {
	p.run(c, func(o int, offs []int, n int) {
		f(d[o:o+n], seg(a, offs[0], n, p.istr[0]), seg(b, offs[1], n, p.istr[1]))
	})
}

// rowOf lifts an element function to a row function: a and b hold
// len(d) elements or one.
func rowOf[A, B, R any](g func(A, B) R) func(d []R, a []A, b []B) {
	return func(d []R, a []A, b []B) {
		switch {
		case len(a) == len(d) && len(b) == len(d):
			b = b[:len(a)]
			for i, x := range a {
				d[i] = g(x, b[i])
			}
		case len(a) == len(d):
			y := b[0]
			for i, x := range a {
				d[i] = g(x, y)
			}
		case len(b) == len(d):
			x := a[0]
			for i, y := range b {
				d[i] = g(x, y)
			}
		default:
			v := g(a[0], b[0])
			for i := range d {
				d[i] = v
			}
		}
	}
}

func addRow[T number](d, a, b []T) {
	switch {
	case len(a) == len(d) && len(b) == len(d):
		b = b[:len(a)]
		d = d[:len(a)]
		for i, x := range a {
			d[i] = x + b[i]
		}
	case len(a) == len(d):
		y := b[0]
		d = d[:len(a)]
		for i, x := range a {
			d[i] = x + y
		}
	case len(b) == len(d):
		x := a[0]
		d = d[:len(b)]
		for i, y := range b {
			d[i] = x + y
		}
	default:
		v := a[0] + b[0]
		for i := range d {
			d[i] = v
		}
	}
}

func subRow[T number](d, a, b []T) {
	switch {
	case len(a) == len(d) && len(b) == len(d):
		b = b[:len(a)]
		d = d[:len(a)]
		for i, x := range a {
			d[i] = x - b[i]
		}
	case len(a) == len(d):
		y := b[0]
		d = d[:len(a)]
		for i, x := range a {
			d[i] = x - y
		}
	case len(b) == len(d):
		x := a[0]
		d = d[:len(b)]
		for i, y := range b {
			d[i] = x - y
		}
	default:
		v := a[0] - b[0]
		for i := range d {
			d[i] = v
		}
	}
}

func mulRow[T number](d, a, b []T) {
	switch {
	case len(a) == len(d) && len(b) == len(d):
		b = b[:len(a)]
		d = d[:len(a)]
		for i, x := range a {
			d[i] = x * b[i]
		}
	case len(a) == len(d):
		y := b[0]
		d = d[:len(a)]
		for i, x := range a {
			d[i] = x * y
		}
	case len(b) == len(d):
		x := a[0]
		d = d[:len(b)]
		for i, y := range b {
			d[i] = x * y
		}
	default:
		v := a[0] * b[0]
		for i := range d {
			d[i] = v
		}
	}
}

// divRow divides; integer callers have checked b for zeros. Integer
// division truncates toward zero.
func divRow[T number](d, a, b []T) {
	switch {
	case len(a) == len(d) && len(b) == len(d):
		b = b[:len(a)]
		d = d[:len(a)]
		for i, x := range a {
			d[i] = x / b[i]
		}
	case len(a) == len(d):
		y := b[0]
		d = d[:len(a)]
		for i, x := range a {
			d[i] = x / y
		}
	case len(b) == len(d):
		x := a[0]
		d = d[:len(b)]
		for i, y := range b {
			d[i] = x / y
		}
	default:
		v := a[0] / b[0]
		for i := range d {
			d[i] = v
		}
	}
}

// binOp names a two-input elementwise operation.
type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	opMod  // Python-style: the sign of the divisor
	opFMod // C fmod: the sign of the dividend
	opMax
	opMin
	opPRelu
	opEqual
	opGreater
	opLess
	opGreaterEq
	opLessEq
	opBitAnd
	opBitOr
	opBitXor
	opShl
	opShr
	opAnd
	opOr
	opXor
)

var binOpNames = map[string]binOp{
	"Add": opAdd, "Sub": opSub, "Mul": opMul, "Div": opDiv,
	"Equal": opEqual, "Greater": opGreater, "Less": opLess,
	"GreaterOrEqual": opGreaterEq, "LessOrEqual": opLessEq,
	"BitwiseAnd": opBitAnd, "BitwiseOr": opBitOr, "BitwiseXor": opBitXor,
	"And": opAnd, "Or": opOr, "Xor": opXor,
}

func (op binOp) compare() bool { return op >= opEqual && op <= opLessEq }

func maxNaN[T number](a, b T) T {
	if a > b || a != a {
		return a
	}
	return b
}

func minNaN[T number](a, b T) T {
	if a < b || a != a {
		return a
	}
	return b
}

// numRow returns the row function of an arithmetic op on numbers.
func numRow[T number](op binOp) func(d, a, b []T) {
	switch op {
	case opAdd:
		return addRow[T]
	case opSub:
		return subRow[T]
	case opMul:
		return mulRow[T]
	case opDiv:
		return divRow[T]
	case opMax:
		return rowOf(maxNaN[T])
	case opMin:
		return rowOf(minNaN[T])
	case opPRelu:
		return rowOf(func(x, s T) T {
			if x < 0 {
				return x * s
			}
			return x
		})
	case opMod, opFMod:
		if isFloatT[T]() {
			if op == opFMod {
				return rowOf(func(x, y T) T { return T(math.Mod(float64(x), float64(y))) })
			}
			return rowOf(func(x, y T) T {
				r := math.Mod(float64(x), float64(y))
				if r != 0 && (r < 0) != (y < 0) {
					r += float64(y)
				}
				return T(r)
			})
		}
		if op == opFMod {
			return rowOf(func(x, y T) T { return x - (x/y)*y })
		}
		return rowOf(func(x, y T) T {
			r := x - (x/y)*y
			var z T
			if r != 0 && (r < z) != (y < z) {
				r += y
			}
			return r
		})
	}
	return nil
}

// cmpRow returns the row function of a comparison of numbers.
func cmpRow[T number](op binOp) func(d []bool, a, b []T) {
	switch op {
	case opEqual:
		return rowOf(func(x, y T) bool { return x == y })
	case opGreater:
		return rowOf(func(x, y T) bool { return x > y })
	case opLess:
		return rowOf(func(x, y T) bool { return x < y })
	case opGreaterEq:
		return rowOf(func(x, y T) bool { return x >= y })
	case opLessEq:
		return rowOf(func(x, y T) bool { return x <= y })
	}
	return nil
}

// intRow returns the row function of a bitwise op on integers.
func intRow[T integer](op binOp) func(d, a, b []T) {
	switch op {
	case opBitAnd:
		return rowOf(func(x, y T) T { return x & y })
	case opBitOr:
		return rowOf(func(x, y T) T { return x | y })
	case opBitXor:
		return rowOf(func(x, y T) T { return x ^ y })
	case opShl:
		return rowOf(func(x, y T) T { return x << y })
	case opShr:
		return rowOf(func(x, y T) T { return x >> y })
	}
	return nil
}

// hasZero reports whether an integer tensor holds a zero.
func hasZero[T number](s []T) bool {
	for _, v := range s {
		if v == 0 {
			return true
		}
	}
	return false
}

// binNum computes op over numbers of type T. When into is non-nil and has
// the broadcast shape, the result is written there (into may be a itself).
func binNum[T number](c *Ctx, n *common.Node, op binOp, a, b, into *common.Tensor) (*common.Tensor, error) {
	p, err := newBcast(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	if op == opPRelu && !p.shape.Equal(a.Shape()) {
		return nil, fmt.Errorf("%w: PRelu slope of shape %v does not broadcast to input shape %v", common.ErrShape, b.Shape(), a.Shape())
	}
	bs := common.Data[T](b)
	if (op == opDiv || op == opMod || op == opFMod) && !isFloatT[T]() && p.total > 0 && hasZero(bs) {
		return nil, fmt.Errorf("%w: %s: integer division by zero", common.ErrShape, n.OpType)
	}
	if op.compare() {
		out, err := c.Alloc(common.Bool, p.shape)
		if err != nil {
			return nil, err
		}
		runBin(c, p, common.Data[bool](out), common.Data[T](a), bs, cmpRow[T](op))
		return out, nil
	}
	out := into
	if out == nil || !out.Shape().Equal(p.shape) || out.DType() != a.DType() {
		// runBin writes every output element (each row function fills
		// its whole row): no zeroing needed.
		if out, err = c.AllocNoZero(a.DType(), p.shape); err != nil {
			return nil, err
		}
	}
	f := numRow[T](op)
	if f == nil {
		return nil, unsupportedType(n, a.DType())
	}
	runBin(c, p, common.Data[T](out), common.Data[T](a), bs, f)
	return out, nil
}

func binInt[T integer](c *Ctx, op binOp, a, b *common.Tensor) (*common.Tensor, error) {
	p, err := newBcast(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	out, err := c.Alloc(a.DType(), p.shape)
	if err != nil {
		return nil, err
	}
	runBin(c, p, common.Data[T](out), common.Data[T](a), common.Data[T](b), intRow[T](op))
	return out, nil
}

func binComparable[T interface {
	comparable
	common.Elem
}](c *Ctx, a, b *common.Tensor, g func(x, y T) bool) (*common.Tensor, error) {
	p, err := newBcast(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	out, err := c.Alloc(common.Bool, p.shape)
	if err != nil {
		return nil, err
	}
	runBin(c, p, common.Data[bool](out), common.Data[T](a), common.Data[T](b), rowOf(g))
	return out, nil
}

// binary computes a two-input elementwise op with broadcasting. into, if
// not nil, is a tensor the caller owns that may receive the result.
func binary(c *Ctx, n *common.Node, op binOp, a, b, into *common.Tensor) (*common.Tensor, error) {
	if a.DType() != b.DType() {
		return nil, fmt.Errorf("%w: %s inputs have different element types %v and %v", common.ErrShape, n.OpType, a.DType(), b.DType())
	}
	d := a.DType()
	switch op {
	case opAnd, opOr, opXor:
		if d != common.Bool {
			return nil, unsupportedType(n, d)
		}
		g := map[binOp]func(x, y bool) bool{
			opAnd: func(x, y bool) bool { return x && y },
			opOr:  func(x, y bool) bool { return x || y },
			opXor: func(x, y bool) bool { return x != y },
		}[op]
		return binComparable(c, a, b, g)
	case opBitAnd, opBitOr, opBitXor, opShl, opShr:
		if (op == opShl || op == opShr) && d.IsSigned() {
			return nil, unsupportedType(n, d)
		}
		switch d {
		case common.Int8:
			return binInt[int8](c, op, a, b)
		case common.Int16:
			return binInt[int16](c, op, a, b)
		case common.Int32:
			return binInt[int32](c, op, a, b)
		case common.Int64:
			return binInt[int64](c, op, a, b)
		case common.Uint8:
			return binInt[uint8](c, op, a, b)
		case common.Uint16:
			return binInt[uint16](c, op, a, b)
		case common.Uint32:
			return binInt[uint32](c, op, a, b)
		case common.Uint64:
			return binInt[uint64](c, op, a, b)
		}
		return nil, unsupportedType(n, d)
	}
	if op == opEqual {
		switch d {
		case common.Bool:
			return binComparable(c, a, b, func(x, y bool) bool { return x == y })
		case common.String:
			return binComparable(c, a, b, func(x, y string) bool { return x == y })
		}
	}
	switch d {
	case common.Float32:
		return binNum[float32](c, n, op, a, b, into)
	case common.Float64:
		return binNum[float64](c, n, op, a, b, into)
	case common.Int8:
		return binNum[int8](c, n, op, a, b, into)
	case common.Int16:
		return binNum[int16](c, n, op, a, b, into)
	case common.Int32:
		return binNum[int32](c, n, op, a, b, into)
	case common.Int64:
		return binNum[int64](c, n, op, a, b, into)
	case common.Uint8:
		return binNum[uint8](c, n, op, a, b, into)
	case common.Uint16:
		return binNum[uint16](c, n, op, a, b, into)
	case common.Uint32:
		return binNum[uint32](c, n, op, a, b, into)
	case common.Uint64:
		return binNum[uint64](c, n, op, a, b, into)
	case common.Float16, common.BFloat16:
		out, err := binNum[float32](c, n, op, ToFloat32(a), ToFloat32(b), nil)
		if err != nil || op.compare() {
			return out, err
		}
		return FromFloat32(out, d), nil
	}
	return nil, unsupportedType(n, d)
}

func binKernel(op binOp) TensorKernel {
	return func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		a, err := need(n, in, 0)
		if err != nil {
			return nil, err
		}
		b, err := need(n, in, 1)
		if err != nil {
			return nil, err
		}
		if op == opPRelu && a.DType() == common.Bool {
			return nil, unsupportedType(n, a.DType())
		}
		if op != opPRelu {
			if b, err = legacyBroadcast(n, a, b); err != nil {
				return nil, err
			}
		}
		out, err := binary(c, n, op, a, b, nil)
		if err != nil {
			return nil, err
		}
		return []*common.Tensor{out}, nil
	}
}

// legacyBroadcast applies the broadcast rules of opsets before 7, where
// binary ops broadcast only when the broadcast attribute is 1, and then B
// to A: B's dims match A's dims from axis on (from the end by default).
// It returns B reshaped so that numpy rules give that result. From opset 7
// on it returns b unchanged.
func legacyBroadcast(n *common.Node, a, b *common.Tensor) (*common.Tensor, error) {
	if n.Opset <= 0 || n.Opset >= 7 {
		return b, nil
	}
	if n.AttrInt("broadcast", 0) == 0 {
		if !a.Shape().Equal(b.Shape()) {
			return nil, fmt.Errorf("%w: %s (opset %d) without broadcast=1 needs equal shapes, got %v and %v", common.ErrShape, n.OpType, n.Opset, a.Shape(), b.Shape())
		}
		return b, nil
	}
	ra, rb := a.Rank(), b.Rank()
	axis := n.AttrInt("axis", int64(ra-rb))
	if axis < 0 {
		axis += int64(ra)
	}
	if rb > ra || axis < 0 || axis+int64(rb) > int64(ra) {
		return nil, fmt.Errorf("%w: %s (opset %d): B of shape %v does not fit A of shape %v at axis %d", common.ErrShape, n.OpType, n.Opset, b.Shape(), a.Shape(), n.AttrInt("axis", int64(ra-rb)))
	}
	shape := b.Shape().Clone()
	for i := int(axis) + rb; i < ra; i++ {
		shape = append(shape, 1)
	}
	for i, d := range b.Shape() {
		if da := a.Shape()[int(axis)+i]; d != da && d != 1 {
			return nil, fmt.Errorf("%w: %s (opset %d): B of shape %v does not match A of shape %v at axis %d", common.ErrShape, n.OpType, n.Opset, b.Shape(), a.Shape(), axis)
		}
	}
	return b.Reshape(shape)
}

func modKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	op := opMod
	switch f := n.AttrInt("fmod", 0); f {
	case 0:
	case 1:
		op = opFMod
	default:
		return nil, fmt.Errorf("%w: Mod fmod must be 0 or 1, got %d", common.ErrInvalidModel, f)
	}
	return binKernel(op)(c, n, in)
}

func bitShiftKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	var op binOp
	switch dir := n.AttrString("direction", ""); strings.ToUpper(dir) {
	case "LEFT":
		op = opShl
	case "RIGHT":
		op = opShr
	default:
		return nil, fmt.Errorf("%w: BitShift direction must be LEFT or RIGHT, got %q", common.ErrInvalidModel, dir)
	}
	return binKernel(op)(c, n, in)
}

// variadic folds a broadcasting op over one or more inputs. mean divides
// the sum by the input count.
func variadic(op binOp, mean bool) TensorKernel {
	return func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		var xs []*common.Tensor
		for _, t := range in {
			if t != nil {
				xs = append(xs, t)
			}
		}
		if len(xs) == 0 {
			return nil, fmt.Errorf("%w: %s needs at least one input", common.ErrInvalidModel, n.OpType)
		}
		d := xs[0].DType()
		if mean && !d.IsFloat() {
			return nil, unsupportedType(n, d)
		}
		for i, t := range xs {
			if t.DType() != d {
				return nil, fmt.Errorf("%w: %s input %d is %v, input 0 is %v", common.ErrShape, n.OpType, i, t.DType(), d)
			}
			if !d.IsFloat() && !d.IsInteger() {
				return nil, unsupportedType(n, d)
			}
		}
		half := IsHalf(d)
		if half {
			for i, t := range xs {
				xs[i] = ToFloat32(t)
			}
		}
		acc := xs[0]
		owned := false
		for _, t := range xs[1:] {
			var into *common.Tensor
			if owned {
				into = acc
			}
			r, err := binary(c, n, op, acc, t, into)
			if err != nil {
				return nil, err
			}
			acc, owned = r, true
		}
		if mean && len(xs) > 1 {
			if !owned {
				acc = acc.Clone()
			}
			k := len(xs)
			switch s := acc.Raw().(type) {
			case []float32:
				mapInto(c, s, s, func(v float32) float32 { return v / float32(k) })
			case []float64:
				mapInto(c, s, s, func(v float64) float64 { return v / float64(k) })
			}
		}
		if half {
			acc = FromFloat32(acc, d)
		}
		return []*common.Tensor{acc}, nil
	}
}

// whereT selects between x and y by cond over a three-way broadcast.
func whereT[T common.Elem](c *Ctx, p *bcast, out, cond, x, y *common.Tensor) {
	d := common.Data[T](out)
	cs, xs, ys := common.Data[bool](cond), common.Data[T](x), common.Data[T](y)
	p.run(c, func(o int, offs []int, n int) {
		cc := seg(cs, offs[0], n, p.istr[0])
		xx := seg(xs, offs[1], n, p.istr[1])
		yy := seg(ys, offs[2], n, p.istr[2])
		dd := d[o : o+n]
		ci, xi, yi := p.istr[0], p.istr[1], p.istr[2]
		for i := range dd {
			if cc[i*ci] {
				dd[i] = xx[i*xi]
			} else {
				dd[i] = yy[i*yi]
			}
		}
	})
}

func whereKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	var ts [3]*common.Tensor
	for i := range ts {
		t, err := need(n, in, i)
		if err != nil {
			return nil, err
		}
		ts[i] = t
	}
	cond, x, y := ts[0], ts[1], ts[2]
	if cond.DType() != common.Bool {
		return nil, fmt.Errorf("%w: Where condition must be bool, got %v", common.ErrShape, cond.DType())
	}
	if x.DType() != y.DType() {
		return nil, fmt.Errorf("%w: Where X is %v and Y is %v", common.ErrShape, x.DType(), y.DType())
	}
	p, err := newBcast(cond.Shape(), x.Shape(), y.Shape())
	if err != nil {
		return nil, err
	}
	out, err := c.Alloc(x.DType(), p.shape)
	if err != nil {
		return nil, err
	}
	switch x.Raw().(type) {
	case []float32:
		whereT[float32](c, p, out, cond, x, y)
	case []float64:
		whereT[float64](c, p, out, cond, x, y)
	case []int8:
		whereT[int8](c, p, out, cond, x, y)
	case []int16:
		whereT[int16](c, p, out, cond, x, y)
	case []int32:
		whereT[int32](c, p, out, cond, x, y)
	case []int64:
		whereT[int64](c, p, out, cond, x, y)
	case []uint8:
		whereT[uint8](c, p, out, cond, x, y)
	case []uint16:
		whereT[uint16](c, p, out, cond, x, y)
	case []uint32:
		whereT[uint32](c, p, out, cond, x, y)
	case []uint64:
		whereT[uint64](c, p, out, cond, x, y)
	case []bool:
		whereT[bool](c, p, out, cond, x, y)
	case []string:
		whereT[string](c, p, out, cond, x, y)
	case []common.F16:
		whereT[common.F16](c, p, out, cond, x, y)
	case []common.BF16:
		whereT[common.BF16](c, p, out, cond, x, y)
	case []common.F8E4M3FN:
		whereT[common.F8E4M3FN](c, p, out, cond, x, y)
	case []common.F8E4M3FNUZ:
		whereT[common.F8E4M3FNUZ](c, p, out, cond, x, y)
	case []common.F8E5M2:
		whereT[common.F8E5M2](c, p, out, cond, x, y)
	case []common.F8E5M2FNUZ:
		whereT[common.F8E5M2FNUZ](c, p, out, cond, x, y)
	case []common.I4:
		whereT[common.I4](c, p, out, cond, x, y)
	case []common.U4:
		whereT[common.U4](c, p, out, cond, x, y)
	case []common.I2:
		whereT[common.I2](c, p, out, cond, x, y)
	case []common.U2:
		whereT[common.U2](c, p, out, cond, x, y)
	case []common.F8E8M0:
		whereT[common.F8E8M0](c, p, out, cond, x, y)
	case []common.F4E2M1:
		whereT[common.F4E2M1](c, p, out, cond, x, y)
	default:
		return nil, unsupportedType(n, x.DType())
	}
	return []*common.Tensor{out}, nil
}

// powKernel is Pow: the exponent may have another numeric type than the
// base; the result has the base's type.
func powKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	a, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	b, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	if !b.DType().IsFloat() && !b.DType().IsInteger() {
		return nil, unsupportedType(n, b.DType())
	}
	if b, err = legacyBroadcast(n, a, b); err != nil {
		return nil, err
	}
	d := a.DType()
	var out *common.Tensor
	switch d {
	case common.Float32:
		out, err = powFloat[float32](c, a, b)
	case common.Float64:
		out, err = powFloat[float64](c, a, b)
	case common.Float16, common.BFloat16:
		if out, err = powFloat[float32](c, ToFloat32(a), b); err == nil {
			out = FromFloat32(out, d)
		}
	case common.Int8:
		out, err = powInt[int8](c, a, b)
	case common.Int16:
		out, err = powInt[int16](c, a, b)
	case common.Int32:
		out, err = powInt[int32](c, a, b)
	case common.Int64:
		out, err = powInt[int64](c, a, b)
	case common.Uint8:
		out, err = powInt[uint8](c, a, b)
	case common.Uint16:
		out, err = powInt[uint16](c, a, b)
	case common.Uint32:
		out, err = powInt[uint32](c, a, b)
	case common.Uint64:
		out, err = powInt[uint64](c, a, b)
	default:
		return nil, unsupportedType(n, d)
	}
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{out}, nil
}

// toFloat64s converts a numeric tensor's elements to float64.
func toFloat64s(t *common.Tensor) []float64 {
	if s, ok := t.Raw().([]float64); ok {
		return s
	}
	return t.Floats()
}

func powFloat[T floating](c *Ctx, a, b *common.Tensor) (*common.Tensor, error) {
	p, err := newBcast(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	out, err := c.Alloc(a.DType(), p.shape)
	if err != nil {
		return nil, err
	}
	runBin(c, p, common.Data[T](out), common.Data[T](a), toFloat64s(b), rowOf(func(x T, e float64) T {
		return T(math.Pow(float64(x), e))
	}))
	return out, nil
}

// ipow raises an integer to an integer power with wrap-around; negative
// powers truncate toward zero.
func ipow[T integer](x T, e int64) T {
	if e < 0 {
		switch {
		case x == 1:
			return 1
		case float64(x) == -1:
			if e%2 == 0 {
				return 1
			}
			return x
		}
		return 0
	}
	r := T(1)
	for e > 0 {
		if e&1 == 1 {
			r *= x
		}
		x *= x
		e >>= 1
	}
	return r
}

func powInt[T integer](c *Ctx, a, b *common.Tensor) (*common.Tensor, error) {
	p, err := newBcast(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	out, err := c.Alloc(a.DType(), p.shape)
	if err != nil {
		return nil, err
	}
	if b.DType().IsInteger() {
		var es []int64
		if s, ok := b.Raw().([]int64); ok {
			es = s
		} else {
			es = b.Ints()
		}
		runBin(c, p, common.Data[T](out), common.Data[T](a), es, rowOf(ipow[T]))
		return out, nil
	}
	runBin(c, p, common.Data[T](out), common.Data[T](a), toFloat64s(b), rowOf(func(x T, e float64) T {
		return T(math.Pow(float64(x), e))
	}))
	return out, nil
}

func init() {
	for name, op := range binOpNames {
		reg(name, binKernel(op))
	}
	reg("PRelu", binKernel(opPRelu))
	reg("Mod", modKernel)
	reg("BitShift", bitShiftKernel)
	reg("Pow", powKernel)
	reg("Max", variadic(opMax, false))
	reg("Min", variadic(opMin, false))
	reg("Sum", variadic(opAdd, false))
	reg("Mean", variadic(opAdd, true))
	reg("Where", whereKernel)
}
