package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

func init() {
	regValue("Identity", identityKernel)
	reg("Dropout", dropoutKernel)
	reg("Constant", constantKernel)
	reg("ConstantOfShape", constantOfShapeKernel)
	reg("Shape", shapeKernel)
	reg("Size", sizeKernel)
	reg("Reshape", reshapeKernel)
	reg("Flatten", flattenKernel)
	reg("Squeeze", squeezeKernel)
	reg("Unsqueeze", unsqueezeKernel)
	reg("Range", rangeKernel)
	reg("EyeLike", eyeLikeKernel)
	reg("NonZero", nonZeroKernel)
}

// identityKernel passes any value through; a tensor comes back as a view.
func identityKernel(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, fmt.Errorf("%w: Identity needs input 0", common.ErrInvalidModel)
	}
	if t, ok := in[0].(*common.Tensor); ok {
		v, err := t.Reshape(t.Shape())
		if err != nil {
			return nil, err
		}
		return []common.Value{v}, nil
	}
	return []common.Value{in[0]}, nil
}

// dropoutKernel runs Dropout as inference: the output is the input and the
// mask is all true. Training mode (opset 12+) is only supported with ratio
// zero, where it is the same thing.
func dropoutKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	if !opsetBefore(n, 12) {
		ratio := float64(0.5)
		if r := opt(in, 1); r != nil {
			if r.Len() != 1 || !r.DType().IsFloat() {
				return nil, fmt.Errorf("%w: Dropout ratio must be one float, got %v%v", common.ErrShape, r.DType(), r.Shape())
			}
			ratio = r.Float(0)
		}
		if tm := opt(in, 2); tm != nil {
			if tm.Len() != 1 || tm.DType() != common.Bool {
				return nil, fmt.Errorf("%w: Dropout training_mode must be one bool, got %v%v", common.ErrShape, tm.DType(), tm.Shape())
			}
			if common.Data[bool](tm)[0] && (ratio != 0 || math.IsNaN(ratio)) {
				return nil, &common.UnsupportedError{Op: n.OpType, Domain: n.Domain, Opset: n.Opset, Backend: Name, Node: n.Name,
					Reason: fmt.Sprintf("training mode with ratio %v (random dropout)", ratio)}
			}
		}
	}
	y, err := x.Reshape(x.Shape())
	if err != nil {
		return nil, err
	}
	if len(n.Outputs) < 2 || n.Outputs[1] == "" {
		return []*common.Tensor{y}, nil
	}
	// The mask is bool from opset 10; before, it has the input's type.
	md := common.Bool
	if opsetBefore(n, 10) {
		md = x.DType()
	}
	mask, err := mvAlloc(c, n, md, x.Shape())
	if err != nil {
		return nil, err
	}
	one, err := mvScalarOf(n, md, 1)
	if err != nil {
		return nil, err
	}
	mvFill(mask, one)
	return []*common.Tensor{y, mask}, nil
}

// constantKernel returns the tensor its attributes hold.
func constantKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	if n.HasAttr("sparse_value") {
		return nil, &common.UnsupportedError{Op: n.OpType, Domain: n.Domain, Opset: n.Opset, Backend: Name, Node: n.Name, Reason: "sparse_value"}
	}
	var t *common.Tensor
	found := 0
	if a := n.Attr("value"); a != nil {
		found++
		t = a.T
		if t == nil {
			return nil, fmt.Errorf("%w: Constant value attribute holds no tensor", common.ErrInvalidModel)
		}
	}
	if a := n.Attr("value_float"); a != nil {
		found++
		t = common.Scalar(a.F)
	}
	if a := n.Attr("value_floats"); a != nil {
		found++
		t = common.NewTensor(common.Shape{len(a.Floats)}, append([]float32{}, a.Floats...))
	}
	if a := n.Attr("value_int"); a != nil {
		found++
		t = common.Scalar(a.I)
	}
	if a := n.Attr("value_ints"); a != nil {
		found++
		t = common.NewTensor(common.Shape{len(a.Ints)}, append([]int64{}, a.Ints...))
	}
	if a := n.Attr("value_string"); a != nil {
		found++
		t = common.Scalar(string(a.S))
	}
	if a := n.Attr("value_strings"); a != nil {
		found++
		s := n.AttrStrings("value_strings")
		t = common.NewTensor(common.Shape{len(s)}, s)
	}
	if found != 1 {
		return nil, fmt.Errorf("%w: Constant needs exactly one value attribute, got %d", common.ErrInvalidModel, found)
	}
	return []*common.Tensor{t}, nil
}

// constantOfShapeKernel fills a tensor of the given shape with the value
// attribute (float32 zero by default).
func constantOfShapeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	st, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	dims, err := shapeArg(st, "ConstantOfShape shape")
	if err != nil {
		return nil, err
	}
	shape, err := dimsOf(n, "shape", dims)
	if err != nil {
		return nil, err
	}
	v := n.AttrTensor("value")
	if v == nil {
		v = common.Scalar(float32(0))
	}
	if v.Len() != 1 {
		return nil, fmt.Errorf("%w: ConstantOfShape value must hold one element, got shape %v", common.ErrInvalidModel, v.Shape())
	}
	out, err := mvAlloc(c, n, v.DType(), shape)
	if err != nil {
		return nil, err
	}
	mvFill(out, v)
	return []*common.Tensor{out}, nil
}

// shapeKernel returns the input's dims as int64, sliced by start/end.
func shapeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	r := int64(x.Rank())
	start, end := int64(0), r
	if !opsetBefore(n, 15) {
		start = n.AttrInt("start", 0)
		end = n.AttrInt("end", r)
	}
	clampAxis := func(a int64) int64 {
		if a < 0 {
			a += r
		}
		return max(0, min(r, a))
	}
	start, end = clampAxis(start), clampAxis(end)
	dims := []int64{}
	for i := start; i < end; i++ {
		dims = append(dims, int64(x.Shape()[i]))
	}
	return []*common.Tensor{common.NewTensor(common.Shape{len(dims)}, dims)}, nil
}

// sizeKernel returns the element count as an int64 scalar.
func sizeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{common.Scalar(int64(x.Len()))}, nil
}

// reshapeKernel returns a view with the requested shape (0 copies a dim
// unless allowzero, -1 is inferred).
func reshapeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	var req []int64
	if opsetBefore(n, 5) {
		if !n.HasAttr("shape") {
			return nil, fmt.Errorf("%w: Reshape-%d needs a shape attribute", common.ErrInvalidModel, n.Opset)
		}
		req = n.AttrInts("shape")
	} else {
		st, err := need(n, in, 1)
		if err != nil {
			return nil, err
		}
		if req, err = shapeArg(st, "Reshape shape"); err != nil {
			return nil, err
		}
	}
	allowZero := !opsetBefore(n, 14) && n.AttrInt("allowzero", 0) != 0
	shape, err := reshapeDims(x.Shape(), req, allowZero)
	if err != nil {
		return nil, fmt.Errorf("Reshape: %w", err)
	}
	y, err := x.Reshape(shape)
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{y}, nil
}

// reshapeDims resolves a Reshape target against the input shape.
func reshapeDims(in common.Shape, req []int64, allowZero bool) (common.Shape, error) {
	out := make(common.Shape, len(req))
	infer := -1
	known := 1
	hasZero := false
	for i, d := range req {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("%w: shape %v has more than one -1", common.ErrShape, req)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("%w: shape %v copies dim %d of input shape %v, which has no such dim", common.ErrShape, req, i, in)
			}
			out[i] = in[i]
		case d < 0 || d > 1<<62:
			return nil, fmt.Errorf("%w: shape %v has invalid dim %d", common.ErrShape, req, d)
		default:
			out[i] = int(d)
		}
		if out[i] == 0 {
			hasZero = true
			continue
		}
		if known > math.MaxInt/out[i] {
			return nil, fmt.Errorf("%w: shape %v is too large", common.ErrShape, req)
		}
		known *= out[i]
	}
	total := in.Size()
	if infer >= 0 {
		if hasZero {
			if total != 0 || allowZero {
				return nil, fmt.Errorf("%w: shape %v has both -1 and a zero dim", common.ErrShape, req)
			}
			out[infer] = 0
		} else {
			if total%known != 0 {
				return nil, fmt.Errorf("%w: cannot reshape %v (%d elements) to %v", common.ErrShape, in, total, req)
			}
			out[infer] = total / known
		}
	}
	if out.Size() != total || (hasZero && total != 0) {
		return nil, fmt.Errorf("%w: cannot reshape %v (%d elements) to %v", common.ErrShape, in, total, req)
	}
	return out, nil
}

// flattenKernel returns a 2-D view: dims before axis, and the rest.
func flattenKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	r := int64(x.Rank())
	axis := n.AttrInt("axis", 1)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis > r {
		return nil, fmt.Errorf("%w: Flatten axis %d is out of range for rank %d", common.ErrShape, n.AttrInt("axis", 1), r)
	}
	outer := common.Shape(x.Shape()[:axis]).Size()
	inner := common.Shape(x.Shape()[axis:]).Size()
	y, err := x.Reshape(common.Shape{outer, inner})
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{y}, nil
}

// squeezeKernel removes size-1 dims (the listed ones, or all).
func squeezeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	axes, given, err := axesArg(n, in, 1, 13)
	if err != nil {
		return nil, err
	}
	drop := make([]bool, x.Rank())
	if given && len(axes) > 0 {
		ax, err := normAxes(n, axes, x.Rank())
		if err != nil {
			return nil, err
		}
		for _, a := range ax {
			if x.Shape()[a] != 1 {
				return nil, fmt.Errorf("%w: Squeeze axis %d has size %d, not 1 (input shape %v)", common.ErrShape, a, x.Shape()[a], x.Shape())
			}
			drop[a] = true
		}
	} else {
		for i, d := range x.Shape() {
			drop[i] = d == 1
		}
	}
	shape := common.Shape{}
	for i, d := range x.Shape() {
		if !drop[i] {
			shape = append(shape, d)
		}
	}
	y, err := x.Reshape(shape)
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{y}, nil
}

// unsqueezeKernel inserts size-1 dims at the listed output axes.
func unsqueezeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	axes, given, err := axesArg(n, in, 1, 13)
	if err != nil {
		return nil, err
	}
	if !given {
		return nil, fmt.Errorf("%w: Unsqueeze needs axes", common.ErrInvalidModel)
	}
	r := x.Rank() + len(axes)
	ax, err := normAxes(n, axes, r)
	if err != nil {
		return nil, err
	}
	ins := make([]bool, r)
	for _, a := range ax {
		ins[a] = true
	}
	shape := make(common.Shape, r)
	j := 0
	for i := range shape {
		if ins[i] {
			shape[i] = 1
		} else {
			shape[i] = x.Shape()[j]
			j++
		}
	}
	y, err := x.Reshape(shape)
	if err != nil {
		return nil, err
	}
	return []*common.Tensor{y}, nil
}

// rangeKernel makes start, start+delta, ... up to limit (exclusive).
func rangeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	var args [3]*common.Tensor
	for i, name := range []string{"start", "limit", "delta"} {
		t, err := need(n, in, i)
		if err != nil {
			return nil, err
		}
		if t.Len() != 1 {
			return nil, fmt.Errorf("%w: Range %s must be a scalar, got shape %v", common.ErrShape, name, t.Shape())
		}
		if i > 0 && t.DType() != args[0].DType() {
			return nil, fmt.Errorf("%w: Range %s is %v but start is %v", common.ErrShape, name, t.DType(), args[0].DType())
		}
		args[i] = t
	}
	d := args[0].DType()
	switch {
	case d == common.Int8 || d == common.Int16 || d == common.Int32 || d == common.Int64:
		start, limit, delta := args[0].Int(0), args[1].Int(0), args[2].Int(0)
		count, err := rangeCountInt(start, limit, delta)
		if err != nil {
			return nil, err
		}
		out, err := rangeAlloc(c, n, d, count)
		if err != nil {
			return nil, err
		}
		switch s := out.Raw().(type) {
		case []int8:
			rangeFillInt(s, start, delta)
		case []int16:
			rangeFillInt(s, start, delta)
		case []int32:
			rangeFillInt(s, start, delta)
		case []int64:
			rangeFillInt(s, start, delta)
		}
		return []*common.Tensor{out}, nil
	case d == common.Float32 || d == common.Float64 || d == common.Float16 || d == common.BFloat16:
		start, limit, delta := args[0].Float(0), args[1].Float(0), args[2].Float(0)
		if delta == 0 {
			return nil, fmt.Errorf("%w: Range delta is zero", common.ErrInvalidModel)
		}
		f := math.Ceil((limit - start) / delta)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: Range(%v, %v, %v) has no finite length", common.ErrInvalidModel, start, limit, delta)
		}
		if f > 1<<62 {
			return nil, fmt.Errorf("%w: Range(%v, %v, %v) has %v elements", common.ErrLimit, start, limit, delta, f)
		}
		count := int64(max(f, 0))
		out, err := rangeAlloc(c, n, d, count)
		if err != nil {
			return nil, err
		}
		switch s := out.Raw().(type) {
		case []float32:
			for i := range s {
				s[i] = float32(start + float64(i)*delta)
			}
		case []float64:
			for i := range s {
				s[i] = start + float64(i)*delta
			}
		case []common.F16:
			for i := range s {
				s[i] = common.F16From(float32(start + float64(i)*delta))
			}
		case []common.BF16:
			for i := range s {
				s[i] = common.BF16From(float32(start + float64(i)*delta))
			}
		}
		return []*common.Tensor{out}, nil
	}
	return nil, unsupportedType(n, d)
}

func rangeAlloc(c *Ctx, n *common.Node, d common.DType, count int64) (*common.Tensor, error) {
	if count > 1<<62 {
		return nil, fmt.Errorf("%w: Range would have %d elements", common.ErrLimit, count)
	}
	return mvAlloc(c, n, d, common.Shape{int(count)})
}

// rangeCountInt is max(ceil((limit-start)/delta), 0) without overflow.
func rangeCountInt(start, limit, delta int64) (int64, error) {
	var diff, step uint64
	switch {
	case delta == 0:
		return 0, fmt.Errorf("%w: Range delta is zero", common.ErrInvalidModel)
	case delta > 0:
		if limit <= start {
			return 0, nil
		}
		diff, step = uint64(limit)-uint64(start), uint64(delta)
	default:
		if limit >= start {
			return 0, nil
		}
		diff, step = uint64(start)-uint64(limit), uint64(0)-uint64(delta)
	}
	count := (diff-1)/step + 1
	if count > 1<<62 {
		return 0, fmt.Errorf("%w: Range(%d, %d, %d) has %d elements", common.ErrLimit, start, limit, delta, count)
	}
	return int64(count), nil
}

func rangeFillInt[T int8 | int16 | int32 | int64](s []T, start, delta int64) {
	v := start
	for i := range s {
		s[i] = T(v)
		v += delta
	}
}

// eyeLikeKernel makes a 2-D tensor with ones on diagonal k.
func eyeLikeKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	if x.Rank() != 2 {
		return nil, fmt.Errorf("%w: EyeLike input must be 2-D, got shape %v", common.ErrShape, x.Shape())
	}
	d := x.DType()
	if n.HasAttr("dtype") {
		d = common.DType(n.AttrInt("dtype", 0))
	}
	if d == common.String || !d.Valid() {
		return nil, unsupportedType(n, d)
	}
	out, err := mvAlloc(c, n, d, x.Shape())
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 {
		return []*common.Tensor{out}, nil
	}
	one, err := mvScalarOf(n, d, 1)
	if err != nil {
		return nil, err
	}
	rows, cols := int64(x.Shape()[0]), int64(x.Shape()[1])
	k := n.AttrInt("k", 0)
	for i := int64(0); i < rows; i++ {
		j := i + k
		if j < 0 || j >= cols {
			continue
		}
		o := int(i*cols + j)
		common.CopyInto(out, o, one)
	}
	return []*common.Tensor{out}, nil
}

// nonZeroKernel returns the coordinates of non-zero elements, [rank, nnz].
func nonZeroKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	nz, err := nonZeroMask(n, x)
	if err != nil {
		return nil, err
	}
	count := 0
	for _, b := range nz {
		if b {
			count++
		}
	}
	shape := x.Shape()
	if len(shape) == 0 {
		shape = common.Shape{1}
	}
	r := len(shape)
	out, err := c.Alloc(common.Int64, common.Shape{r, count})
	if err != nil {
		return nil, err
	}
	o := common.Data[int64](out)
	coord := make([]int, r)
	k := 0
	for _, b := range nz {
		if b {
			for a := 0; a < r; a++ {
				o[a*count+k] = int64(coord[a])
			}
			k++
		}
		for a := r - 1; a >= 0; a-- {
			coord[a]++
			if coord[a] < shape[a] {
				break
			}
			coord[a] = 0
		}
	}
	return []*common.Tensor{out}, nil
}

// nonZeroMask says which elements are non-zero (non-empty for strings).
func nonZeroMask(n *common.Node, x *common.Tensor) ([]bool, error) {
	nz := make([]bool, x.Len())
	switch s := x.Raw().(type) {
	case []float32:
		for i, v := range s {
			nz[i] = v != 0
		}
	case []float64:
		for i, v := range s {
			nz[i] = v != 0
		}
	case []bool:
		copy(nz, s)
	case []string:
		for i, v := range s {
			nz[i] = v != ""
		}
	case []int64:
		for i, v := range s {
			nz[i] = v != 0
		}
	case []int32:
		for i, v := range s {
			nz[i] = v != 0
		}
	default:
		d := x.DType()
		if !d.Valid() {
			return nil, unsupportedType(n, d)
		}
		if d.IsFloat() {
			for i := range nz {
				nz[i] = x.Float(i) != 0
			}
		} else {
			for i := range nz {
				nz[i] = x.Int(i) != 0
			}
		}
	}
	return nz, nil
}
