package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

// redOp is one of the ONNX Reduce* operators.
type redOp int

const (
	redSum redOp = iota
	redMean
	redMax
	redMin
	redProd
	redL1
	redL2
	redLogSum
	redLogSumExp
	redSumSquare
	// redExpSum is the second pass of LogSumExp: sum of exp(x - shift).
	redExpSum
)

func init() {
	for _, r := range []struct {
		op   string
		kind redOp
		from int64 // opset from which axes is an input
	}{
		{"ReduceSum", redSum, 13},
		{"ReduceMean", redMean, 18},
		{"ReduceMax", redMax, 18},
		{"ReduceMin", redMin, 18},
		{"ReduceProd", redProd, 18},
		{"ReduceL1", redL1, 18},
		{"ReduceL2", redL2, 18},
		{"ReduceLogSum", redLogSum, 18},
		{"ReduceLogSumExp", redLogSumExp, 18},
		{"ReduceSumSquare", redSumSquare, 18},
	} {
		reg(r.op, rdKernel(r.kind, r.from))
	}
}

// rdNum is the set of element types the reduction loops run on directly
// (float16/bfloat16 go through float32, bool through uint8).
type rdNum interface {
	float32 | float64 | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
}

// rdAcc is the set of accumulator types.
type rdAcc interface{ float64 | int64 | uint64 }

// rdFloaty reports whether op needs a float accumulator even for integer
// inputs (its result involves sqrt, log or exp).
func rdFloaty(op redOp) bool {
	return op == redL2 || op == redLogSum || op == redLogSumExp || op == redExpSum
}

func rdKernel(op redOp, from int64) TensorKernel {
	return ViaFloat32(func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		x, err := need(n, in, 0)
		if err != nil {
			return nil, err
		}
		var axes []int64
		if !opsetBefore(n, from) && opt(in, 1) != nil {
			if axes, err = shapeArg(in[1], n.OpType+" axes"); err != nil {
				return nil, err
			}
		} else {
			axes = n.AttrInts("axes")
		}
		keep := n.AttrInt("keepdims", 1) != 0
		noop := n.AttrInt("noop_with_empty_axes", 0) != 0
		rank := x.Rank()
		reduced := make([]bool, rank)
		if len(axes) == 0 {
			if !noop {
				for i := range reduced {
					reduced[i] = true
				}
			}
		} else {
			ax, err := normAxes(n, axes, rank)
			if err != nil {
				return nil, err
			}
			for _, a := range ax {
				reduced[a] = true
			}
		}
		out, err := rdReduce(c, n, op, x, reduced, keep)
		if err != nil {
			return nil, err
		}
		return []*common.Tensor{out}, nil
	})
}

// rdOutShape is the output shape of reducing shape over the marked axes.
func rdOutShape(shape common.Shape, reduced []bool, keep bool) common.Shape {
	out := make(common.Shape, 0, len(shape))
	for i, d := range shape {
		switch {
		case !reduced[i]:
			out = append(out, d)
		case keep:
			out = append(out, 1)
		}
	}
	return out
}

// rdReduce applies reduction op to x over the axes marked in reduced
// (len(reduced) == x.Rank()), keeping reduced axes as size 1 when keep is
// set. With no axis marked it applies the op to each element alone.
func rdReduce(c *Ctx, n *common.Node, op redOp, x *common.Tensor, reduced []bool, keep bool) (*common.Tensor, error) {
	shape := x.Shape()
	outShape := rdOutShape(shape, reduced, keep)
	g := rdGroups(shape, reduced)
	switch s := x.Raw().(type) {
	case []float32:
		return common.NewTensor(outShape, rdReduceT[float32, float64](c, op, s, g)), nil
	case []float64:
		return common.NewTensor(outShape, rdReduceT[float64, float64](c, op, s, g)), nil
	case []int8:
		return common.NewTensor(outShape, rdSigned(c, op, s, g)), nil
	case []int16:
		return common.NewTensor(outShape, rdSigned(c, op, s, g)), nil
	case []int32:
		return common.NewTensor(outShape, rdSigned(c, op, s, g)), nil
	case []int64:
		return common.NewTensor(outShape, rdSigned(c, op, s, g)), nil
	case []uint8:
		return common.NewTensor(outShape, rdUnsigned(c, op, s, g)), nil
	case []uint16:
		return common.NewTensor(outShape, rdUnsigned(c, op, s, g)), nil
	case []uint32:
		return common.NewTensor(outShape, rdUnsigned(c, op, s, g)), nil
	case []uint64:
		return common.NewTensor(outShape, rdUnsigned(c, op, s, g)), nil
	case []bool:
		if op != redMax && op != redMin {
			return nil, unsupportedType(n, x.DType())
		}
		u := make([]uint8, len(s))
		for i, v := range s {
			if v {
				u[i] = 1
			}
		}
		r := rdReduceT[uint8, uint64](c, op, u, g)
		b := make([]bool, len(r))
		for i, v := range r {
			b[i] = v != 0
		}
		return common.NewTensor(outShape, b), nil
	}
	return nil, unsupportedType(n, x.DType())
}

func rdSigned[T int8 | int16 | int32 | int64](c *Ctx, op redOp, s []T, g rdLayout) []T {
	if rdFloaty(op) {
		return rdReduceT[T, float64](c, op, s, g)
	}
	return rdReduceT[T, int64](c, op, s, g)
}

func rdUnsigned[T uint8 | uint16 | uint32 | uint64](c *Ctx, op redOp, s []T, g rdLayout) []T {
	if rdFloaty(op) {
		return rdReduceT[T, float64](c, op, s, g)
	}
	return rdReduceT[T, uint64](c, op, s, g)
}

// rdLayout is a reduction's iteration plan: the input's dims with size-1
// dims dropped and runs of reduced / kept dims merged, so that the last
// group is a contiguous block.
type rdLayout struct {
	size    []int  // group sizes
	red     []bool // group is reduced
	inStr   []int  // input stride of each group
	outStr  []int  // output stride of each group (0 for reduced ones)
	inLen   int    // input elements
	outLen  int    // output elements
	count   int    // elements reduced into each output
	isEmpty bool   // the input has no elements
}

func rdGroups(shape common.Shape, reduced []bool) rdLayout {
	var l rdLayout
	l.inLen, l.outLen, l.count = 1, 1, 1
	for i, d := range shape {
		l.inLen *= d
		if reduced[i] {
			l.count *= d
		} else {
			l.outLen *= d
		}
		if d == 1 {
			continue
		}
		if k := len(l.size); k > 0 && l.red[k-1] == reduced[i] {
			l.size[k-1] *= d
			continue
		}
		l.size = append(l.size, d)
		l.red = append(l.red, reduced[i])
	}
	if l.inLen == 0 {
		l.isEmpty = true
		return l
	}
	if len(l.size) == 0 {
		l.size, l.red = []int{1}, []bool{false}
	}
	k := len(l.size)
	l.inStr, l.outStr = make([]int, k), make([]int, k)
	in, out := 1, 1
	for i := k - 1; i >= 0; i-- {
		l.inStr[i] = in
		in *= l.size[i]
		if !l.red[i] {
			l.outStr[i] = out
			out *= l.size[i]
		}
	}
	return l
}

// rdIdentity is the starting accumulator of op for element type T: what
// a reduction over no elements starts from.
func rdIdentity[T rdNum, A rdAcc](op redOp) A {
	switch op {
	case redProd:
		return 1
	case redMax:
		return A(rdLowest[T]())
	case redMin:
		return A(rdHighest[T]())
	}
	return 0
}

// rdLowest is -inf for floats and the smallest value for integers.
func rdLowest[T rdNum]() T {
	var z T
	var v int64
	switch any(z).(type) {
	case float32, float64:
		return T(math.Inf(-1))
	case int8:
		v = math.MinInt8
	case int16:
		v = math.MinInt16
	case int32:
		v = math.MinInt32
	case int64:
		v = math.MinInt64
	}
	return T(v)
}

// rdHighest is +inf for floats and the largest value for integers.
func rdHighest[T rdNum]() T {
	var z T
	var v uint64
	switch any(z).(type) {
	case float32, float64:
		return T(math.Inf(1))
	case int8:
		v = math.MaxInt8
	case int16:
		v = math.MaxInt16
	case int32:
		v = math.MaxInt32
	case int64:
		v = math.MaxInt64
	case uint8:
		v = math.MaxUint8
	case uint16:
		v = math.MaxUint16
	case uint32:
		v = math.MaxUint32
	case uint64:
		v = math.MaxUint64
	}
	return T(v)
}

// rdReduceT runs the reduction and returns the output elements.
func rdReduceT[T rdNum, A rdAcc](c *Ctx, op redOp, xs []T, l rdLayout) []T {
	out := make([]T, l.outLen)
	if l.outLen == 0 {
		return out
	}
	acc := make([]A, l.outLen)
	if op == redLogSumExp {
		// Pass 1: the maximum of each output's set, used as the shift.
		rdFill(acc, rdIdentity[T, A](redMax))
		if !l.isEmpty {
			rdPass[T, A](c, redMax, xs, l, acc, nil)
		}
		shift := acc
		for i, m := range shift {
			if f := float64(m); math.IsInf(f, 0) || math.IsNaN(f) {
				shift[i] = 0
			}
		}
		acc = make([]A, l.outLen)
		if !l.isEmpty {
			rdPass[T, A](c, redExpSum, xs, l, acc, shift)
		}
		for i, s := range acc {
			out[i] = T(math.Log(float64(s)) + float64(shift[i]))
		}
		return out
	}
	rdFill(acc, rdIdentity[T, A](op))
	if !l.isEmpty {
		rdPass[T, A](c, op, xs, l, acc, nil)
	}
	cnt := A(l.count)
	for i, s := range acc {
		switch op {
		case redMean:
			if l.count == 0 {
				if rdIsFloatAcc(s) {
					s = A(math.NaN()) // 0/0
				}
			} else {
				s /= cnt
			}
		case redL2:
			s = A(math.Sqrt(float64(s)))
		case redLogSum:
			s = A(math.Log(float64(s)))
		}
		out[i] = T(s)
	}
	return out
}

// rdIsFloatAcc reports whether the accumulator type is float64.
func rdIsFloatAcc[A rdAcc](A) bool {
	var z A
	_, ok := any(z).(float64)
	return ok
}

func rdFill[A any](s []A, v A) {
	for i := range s {
		s[i] = v
	}
}

// rdPass folds every input element into acc[output index]. shift is the
// per-output shift for redExpSum. Work is split over the outermost kept
// group, so that workers write disjoint parts of acc.
func rdPass[T rdNum, A rdAcc](c *Ctx, op redOp, xs []T, l rdLayout, acc, shift []A) {
	p := -1 // split group
	for i := range l.size {
		if !l.red[i] {
			p = i
			break
		}
	}
	if p < 0 {
		// Everything reduces into one output, and the reduced dims merged
		// into one contiguous group: split it into partial results.
		const chunk = 1 << 16
		parts := (len(xs) + chunk - 1) / chunk
		if parts <= 1 || c.Threads() <= 1 {
			rdRange[T, A](op, xs, l, acc, shift, -1, 0, 0)
			return
		}
		var sh A
		if shift != nil {
			sh = shift[0]
		}
		part := make([]A, parts)
		id := rdIdentity[T, A](op)
		c.Parallel(parts, 1, func(lo, hi int) {
			for q := lo; q < hi; q++ {
				part[q] = rdRow(op, id, xs[q*chunk:min(len(xs), (q+1)*chunk)], sh)
			}
		})
		for _, v := range part {
			acc[0] = rdCombine(op, acc[0], v)
		}
		return
	}
	units := l.size[p]
	per := l.inLen / units
	grain := max(1, (1<<15)/max(per, 1))
	c.Parallel(units, grain, func(lo, hi int) {
		rdRange[T, A](op, xs, l, acc, shift, p, lo, hi)
	})
}

// rdRange runs the pass with group p restricted to [lo, hi) (p < 0: no
// restriction).
func rdRange[T rdNum, A rdAcc](op redOp, xs []T, l rdLayout, acc, shift []A, p, lo, hi int) {
	k := len(l.size)
	last := k - 1
	vlo, vhi := 0, l.size[last]
	nd := last // odometer dims: groups [0, last)
	start := make([]int, nd)
	end := make([]int, nd)
	for d := 0; d < nd; d++ {
		end[d] = l.size[d]
	}
	if p == last {
		vlo, vhi = lo, hi
	} else if p >= 0 {
		start[p], end[p] = lo, hi
	}
	idx := make([]int, nd)
	inOff, outOff := 0, 0
	for d := 0; d < nd; d++ {
		idx[d] = start[d]
		inOff += start[d] * l.inStr[d]
		outOff += start[d] * l.outStr[d]
		if start[d] >= end[d] {
			return
		}
	}
	if vlo >= vhi {
		return
	}
	lastRed := l.red[last]
	for {
		if lastRed {
			var sh A
			if shift != nil {
				sh = shift[outOff]
			}
			acc[outOff] = rdRow(op, acc[outOff], xs[inOff+vlo:inOff+vhi], sh)
		} else {
			var sh []A
			if shift != nil {
				sh = shift[outOff+vlo : outOff+vhi]
			}
			rdVec(op, acc[outOff+vlo:outOff+vhi], xs[inOff+vlo:inOff+vhi], sh)
		}
		d := nd - 1
		for ; d >= 0; d-- {
			idx[d]++
			inOff += l.inStr[d]
			outOff += l.outStr[d]
			if idx[d] < end[d] {
				break
			}
			n := idx[d] - start[d]
			inOff -= n * l.inStr[d]
			outOff -= n * l.outStr[d]
			idx[d] = start[d]
		}
		if d < 0 {
			return
		}
	}
}

// rdCombine merges two partial accumulators of op.
func rdCombine[A rdAcc](op redOp, a, b A) A {
	switch op {
	case redProd:
		return a * b
	case redMax:
		if b > a || b != b {
			return b
		}
		return a
	case redMin:
		if b < a || b != b {
			return b
		}
		return a
	}
	return a + b
}

// rdRow folds a contiguous run of inputs into one accumulator.
func rdRow[T rdNum, A rdAcc](op redOp, a A, row []T, shift A) A {
	switch op {
	case redSum, redMean, redLogSum:
		for _, v := range row {
			a += A(v)
		}
	case redMax:
		for _, v := range row {
			if w := A(v); w > a || w != w {
				a = w
			}
		}
		// A NaN accumulator stays NaN: w > NaN is false.
	case redMin:
		for _, v := range row {
			if w := A(v); w < a || w != w {
				a = w
			}
		}
	case redProd:
		for _, v := range row {
			a *= A(v)
		}
	case redL1:
		for _, v := range row {
			w := A(v)
			if w < 0 {
				w = -w
			}
			a += w
		}
	case redL2, redSumSquare:
		for _, v := range row {
			w := A(v)
			a += w * w
		}
	case redExpSum:
		s := float64(shift)
		for _, v := range row {
			a += A(math.Exp(float64(v) - s))
		}
	}
	return a
}

// rdVec folds a contiguous run of inputs element-wise into accumulators.
func rdVec[T rdNum, A rdAcc](op redOp, acc []A, xs []T, shift []A) {
	xs = xs[:len(acc)]
	switch op {
	case redSum, redMean, redLogSum:
		for i, v := range xs {
			acc[i] += A(v)
		}
	case redMax:
		for i, v := range xs {
			if w := A(v); w > acc[i] || w != w {
				acc[i] = w
			}
		}
	case redMin:
		for i, v := range xs {
			if w := A(v); w < acc[i] || w != w {
				acc[i] = w
			}
		}
	case redProd:
		for i, v := range xs {
			acc[i] *= A(v)
		}
	case redL1:
		for i, v := range xs {
			w := A(v)
			if w < 0 {
				w = -w
			}
			acc[i] += w
		}
	case redL2, redSumSquare:
		for i, v := range xs {
			w := A(v)
			acc[i] += w * w
		}
	case redExpSum:
		shift = shift[:len(acc)]
		for i, v := range xs {
			acc[i] += A(math.Exp(float64(v) - float64(shift[i])))
		}
	}
}

// rdErrEmptyAxis is the error for a kernel that needs at least one element
// along its axis.
func rdErrEmptyAxis(n *common.Node, axis int, shape common.Shape) error {
	return fmt.Errorf("%w: %s: axis %d of %v is empty", common.ErrShape, n.OpType, axis, shape)
}
