//go:build opencl

package opencl

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/plan"
)

// Data movement (Slice, Split, Pad, Gather), Resize, reductions,
// normalizations and Cast.

func init() {
	deviceOps["Slice"] = prepSlice
	deviceOps["Split"] = prepSplit
	deviceOps["Pad"] = prepPad
	deviceOps["Gather"] = prepGather
	deviceOps["Resize"] = prepResize
	deviceOps["Upsample"] = prepResize
	for op := range reduceModes {
		deviceOps[op] = prepReduce
	}
	deviceOps["LayerNormalization"] = prepLayerNorm
	deviceOps["InstanceNormalization"] = prepInstanceNorm
	deviceOps["Cast"] = prepCast
}

// constInputs lists, per op, the inputs whose values a kernel needs when
// it is prepared (shape-like arguments).
func constInputs(n *common.Node) []int {
	switch n.OpType {
	case "Slice":
		return []int{1, 2, 3, 4}
	case "Split":
		return []int{1}
	case "Pad":
		return []int{1, 2, 3}
	case "Resize":
		return []int{1, 2, 3}
	case "Upsample":
		return []int{1}
	case "Clip":
		return []int{1, 2}
	}
	if _, ok := reduceModes[n.OpType]; ok {
		return []int{1}
	}
	return nil
}

// typeOK says whether input i of op may have dtype d on the device.
func typeOK(op string, i int, d common.DType) (bool, string) {
	copyable := func() (bool, string) {
		if s := plan.ElemSize(d); s == 1 || s == 2 || s == 4 || s == 8 {
			return true, ""
		}
		return false, fmt.Sprintf("no device copy for %v", d)
	}
	isInt := d == common.Int64 || d == common.Int32
	switch op {
	case "Slice", "Split":
		if i == 0 {
			return copyable()
		}
		return isInt, "shape arguments must be int32/int64"
	case "Pad":
		switch i {
		case 0, 2:
			return copyable()
		default:
			return isInt, "pads and axes must be int32/int64"
		}
	case "Gather":
		if i == 0 {
			return copyable()
		}
		return isInt, "indices must be int32/int64"
	case "Upsample":
		if i == 0 {
			return d == common.Float32, "device Upsample is float32"
		}
		return d.IsFloat(), "scales must be float"
	case "Resize":
		switch i {
		case 0:
			return d == common.Float32, "device Resize is float32"
		case 3:
			return d == common.Int64, "sizes must be int64"
		default:
			return d.IsFloat(), "roi and scales must be float"
		}
	case "Cast":
		return castCode(d) >= 0, fmt.Sprintf("no device Cast from %v", d)
	}
	if _, ok := reduceModes[op]; ok && i == 1 {
		return d == common.Int64, "axes must be int64"
	}
	return d == common.Float32, fmt.Sprintf("input %d is %v; device kernels are float32", i, d)
}

func castCode(d common.DType) int32 {
	switch d {
	case common.Float32:
		return 0
	case common.Int32:
		return 1
	case common.Int64:
		return 2
	case common.Bool:
		return 3
	case common.Uint8:
		return 4
	}
	return -1
}

func prepCast(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	x, y := in[0], out[0]
	from, to := castCode(x.DType), castCode(y.DType)
	if d.half { // float32 operands arrive retyped as their float16 storage
		if x.DType == common.Float16 {
			from = 0
		}
		if y.DType == common.Float16 {
			to = 0
		}
	}
	if from < 0 || to < 0 {
		return nil, unsupported("Cast from %v to %v", x.DType, y.DType)
	}
	cnt := y.Shape.Size()
	k := &kernel{rt: d.rt, inPlace: -1, specs: one("cast", cnt, func(i, o []int64) []int32 {
		return []int32{int32(cnt), elem(i[0], x.DType), elem(o[0], y.DType), from, to}
	})}
	if plan.ElemSize(x.DType) == plan.ElemSize(y.DType) {
		k.inPlace = 0
	}
	return k, nil
}

// constInts reads a constant integer operand, or reports why not.
func constInts(o *plan.Operand, what string) ([]int64, error) {
	if o == nil {
		return nil, nil
	}
	if o.Const == nil {
		return nil, unsupported("%s is not a constant", what)
	}
	if o.Const.DType() != common.Int64 && o.Const.DType() != common.Int32 {
		return nil, unsupported("%s of type %v", what, o.Const.DType())
	}
	return o.Const.Ints(), nil
}

// normAxes resolves axes (nil: all) against rank, rejecting repeats.
func normAxes(axes []int64, rank int, what string) ([]int, error) {
	if axes == nil {
		all := make([]int, rank)
		for i := range all {
			all[i] = i
		}
		return all, nil
	}
	seen := make([]bool, rank)
	out := make([]int, len(axes))
	for i, a := range axes {
		if a < -int64(rank) || a >= int64(rank) {
			return nil, fmt.Errorf("%w: %s axis %d for rank %d", common.ErrInvalidModel, what, a, rank)
		}
		if a < 0 {
			a += int64(rank)
		}
		if seen[a] {
			return nil, fmt.Errorf("%w: %s axis %d repeated", common.ErrInvalidModel, what, a)
		}
		seen[a] = true
		out[i] = int(a)
	}
	return out, nil
}

func prepSlice(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	x, y := in[0], out[0]
	r := len(x.Shape)
	if len(y.Shape) != r {
		return nil, fmt.Errorf("%w: Slice output rank %d for input rank %d", common.ErrShape, len(y.Shape), r)
	}
	var starts, ends, axesV, steps []int64
	var err error
	if n.Opset < 10 {
		starts, ends, axesV = n.AttrInts("starts"), n.AttrInts("ends"), n.AttrInts("axes")
	} else {
		get := func(i int, what string) ([]int64, error) {
			if i >= len(in) {
				return nil, nil
			}
			return constInts(in[i], what)
		}
		if starts, err = get(1, "Slice starts"); err != nil {
			return nil, err
		}
		if ends, err = get(2, "Slice ends"); err != nil {
			return nil, err
		}
		if axesV, err = get(3, "Slice axes"); err != nil {
			return nil, err
		}
		if steps, err = get(4, "Slice steps"); err != nil {
			return nil, err
		}
	}
	if len(starts) != len(ends) || (axesV != nil && len(axesV) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return nil, fmt.Errorf("%w: Slice starts, ends, axes and steps differ in length", common.ErrInvalidModel)
	}
	if axesV == nil && len(starts) > r {
		return nil, fmt.Errorf("%w: Slice has %d starts for rank %d", common.ErrInvalidModel, len(starts), r)
	}
	if axesV == nil {
		for i := range starts {
			axesV = append(axesV, int64(i))
		}
	}
	axes, err := normAxes(axesV, r, "Slice")
	if err != nil {
		return nil, err
	}
	st := x.Shape.Strides()
	xs := make([]int, r)
	copy(xs, st)
	xo := 0
	for i, a := range axes {
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, fmt.Errorf("%w: Slice step 0 on axis %d", common.ErrInvalidModel, a)
		}
		dim := int64(x.Shape[a])
		// A step longer than the axis takes at most one element: clamp
		// it so that the arithmetic below cannot overflow.
		step = max(min(step, dim+1), -(dim + 1))
		s, e := starts[i], ends[i]
		if s < 0 {
			s += dim
		}
		if e < 0 {
			e += dim
		}
		var cnt int64
		if step > 0 {
			s, e = min(max(s, 0), dim), min(max(e, 0), dim)
			if e > s {
				cnt = (e - s + step - 1) / step
			}
		} else {
			s, e = min(max(s, 0), dim-1), min(max(e, -1), dim-1)
			if s > e {
				cnt = (s - e - step - 1) / -step
			}
		}
		if cnt != int64(y.Shape[a]) {
			return nil, fmt.Errorf("%w: Slice axis %d gives %d elements, output has %d", common.ErrShape, a, cnt, y.Shape[a])
		}
		if cnt > 0 {
			xo += int(s) * st[a]
		}
		xs[a] = st[a] * int(step)
	}
	s, err := copySpec(x.DType, 0, 0, y.Shape, xs, y.Shape.Strides(), xo, 0)
	if err != nil {
		return nil, err
	}
	return &kernel{rt: d.rt, inPlace: -1, specs: []launchSpec{s}}, nil
}

func prepSplit(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	x := in[0]
	r := len(x.Shape)
	ax := n.AttrInt("axis", 0)
	if ax < -int64(r) || ax >= int64(r) {
		return nil, fmt.Errorf("%w: Split axis %d for rank %d", common.ErrInvalidModel, ax, r)
	}
	if ax < 0 {
		ax += int64(r)
	}
	xst := x.Shape.Strides()
	k := &kernel{rt: d.rt, inPlace: -1}
	off := 0
	for j, y := range out {
		if y == nil {
			if j == len(out)-1 {
				break
			}
			return nil, unsupported("Split with an unused output %d", j)
		}
		if len(y.Shape) != r {
			return nil, fmt.Errorf("%w: Split output %d has rank %d, input %d", common.ErrShape, j, len(y.Shape), r)
		}
		s, err := copySpec(x.DType, 0, j, y.Shape, xst, y.Shape.Strides(), off*xst[ax], 0)
		if err != nil {
			return nil, err
		}
		k.specs = append(k.specs, s)
		off += y.Shape[ax]
	}
	if off > x.Shape[ax] {
		return nil, fmt.Errorf("%w: Split outputs take %d of %d along axis %d", common.ErrShape, off, x.Shape[ax], ax)
	}
	return k, nil
}

func prepPad(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	x, y := in[0], out[0]
	r := len(x.Shape)
	if r > 6 {
		return nil, unsupported("rank %d over 6", r)
	}
	mode := n.AttrString("mode", "constant")
	codes := map[string]int32{"constant": 0, "reflect": 1, "edge": 2, "wrap": 3}
	code, ok := codes[mode]
	if !ok {
		return nil, fmt.Errorf("%w: Pad mode %q", common.ErrInvalidModel, mode)
	}
	var pads []int64
	var bits uint64
	if n.Opset < 11 {
		pads = n.AttrInts("pads")
		if n.Opset < 2 && pads == nil {
			pads = n.AttrInts("paddings")
		}
		if x.DType != common.Float32 {
			return nil, unsupported("Pad-%d value for %v", n.Opset, x.DType)
		}
		bits = uint64(math.Float32bits(n.AttrFloat("value", 0)))
	} else {
		var err error
		if len(in) < 2 || in[1] == nil {
			return nil, fmt.Errorf("%w: Pad needs pads", common.ErrInvalidModel)
		}
		if pads, err = constInts(in[1], "Pad pads"); err != nil {
			return nil, err
		}
		if len(in) > 2 && in[2] != nil {
			c := in[2].Const
			if c == nil {
				return nil, unsupported("Pad constant_value is not a constant")
			}
			switch {
			case c.Len() != 1:
				return nil, fmt.Errorf("%w: Pad constant_value must be one value, got %v", common.ErrShape, c.Shape())
			case d.half && x.DType == common.Float16 && c.DType() == common.Float32:
				bits = uint64(common.F16From(common.Data[float32](c)[0]))
			case c.DType() != x.DType:
				return nil, fmt.Errorf("%w: Pad constant_value is %v for %v data", common.ErrShape, c.DType(), x.DType)
			default:
				b, err := plan.RawBytes(c)
				if err != nil {
					return nil, err
				}
				for i := len(b) - 1; i >= 0; i-- {
					bits = bits<<8 | uint64(b[i])
				}
			}
		}
		if len(in) > 3 && in[3] != nil {
			axV, err := constInts(in[3], "Pad axes")
			if err != nil {
				return nil, err
			}
			axes, err := normAxes(axV, r, "Pad")
			if err != nil {
				return nil, err
			}
			if len(pads) != 2*len(axes) {
				return nil, fmt.Errorf("%w: Pad has %d pads for %d axes", common.ErrInvalidModel, len(pads), len(axes))
			}
			full := make([]int64, 2*r)
			for i, a := range axes {
				full[a], full[r+a] = pads[i], pads[len(axes)+i]
			}
			pads = full
		}
	}
	if len(pads) != 2*r {
		return nil, fmt.Errorf("%w: Pad has %d pads for rank %d", common.ErrInvalidModel, len(pads), r)
	}
	p := []int32{int32(r), code, int32(uint32(bits)), int32(uint32(bits >> 32))}
	ist := x.Shape.Strides()
	arrs := [4][6]int32{}
	for dd := 0; dd < 6; dd++ {
		arrs[0][dd], arrs[1][dd] = 1, 1
		if dd >= r {
			continue
		}
		lo, hi := pads[dd], pads[r+dd]
		if code != 0 && (lo < 0 || hi < 0) {
			return nil, unsupported("negative pads in %s mode", mode)
		}
		if int64(x.Shape[dd])+lo+hi != int64(y.Shape[dd]) {
			return nil, fmt.Errorf("%w: Pad axis %d: %d%+d%+d is not the output's %d", common.ErrShape, dd, x.Shape[dd], lo, hi, y.Shape[dd])
		}
		if x.Shape[dd] == 0 && y.Shape[dd] > 0 && code != 0 {
			return nil, unsupported("Pad %s of an empty axis", mode)
		}
		if lo > 1<<30 || lo < -(1<<30) {
			return nil, fmt.Errorf("%w: Pad %d too large", common.ErrShape, lo)
		}
		arrs[0][dd], arrs[1][dd], arrs[2][dd], arrs[3][dd] = int32(y.Shape[dd]), int32(x.Shape[dd]), int32(ist[dd]), int32(lo)
	}
	for _, a := range arrs {
		p = append(p, a[:]...)
	}
	name := map[int]string{1: "pad1", 2: "pad2", 4: "pad4", 8: "pad8"}[plan.ElemSize(x.DType)]
	cnt := y.Shape.Size()
	return &kernel{rt: d.rt, inPlace: -1, specs: one(name, cnt, func(i, o []int64) []int32 {
		return append([]int32{int32(cnt), elem(i[0], x.DType), elem(o[0], y.DType)}, p...)
	})}, nil
}

func prepGather(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	if len(in) < 2 || in[1] == nil {
		return nil, fmt.Errorf("%w: Gather needs indices", common.ErrInvalidModel)
	}
	x, ind, y := in[0], in[1], out[0]
	r := len(x.Shape)
	ax := n.AttrInt("axis", 0)
	if ax < -int64(r) || ax >= int64(r) {
		return nil, fmt.Errorf("%w: Gather axis %d for rank %d", common.ErrInvalidModel, ax, r)
	}
	if ax < 0 {
		ax += int64(r)
	}
	outer, L, inner := common.Shape(x.Shape[:ax]).Size(), x.Shape[ax], common.Shape(x.Shape[ax+1:]).Size()
	nidx := ind.Shape.Size()
	if outer*nidx*inner != y.Shape.Size() {
		return nil, fmt.Errorf("%w: Gather of %v by %v into %v", common.ErrShape, x.Shape, ind.Shape, y.Shape)
	}
	if c := ind.Const; c != nil {
		for i := 0; i < c.Len(); i++ {
			if v := c.Int(i); v < -int64(L) || v >= int64(L) {
				return nil, fmt.Errorf("%w: Gather index %d out of range for axis of %d", common.ErrShape, v, L)
			}
		}
	}
	is64 := int32(0)
	if ind.DType == common.Int64 {
		is64 = 1
	}
	name := map[int]string{1: "gather1", 2: "gather2", 4: "gather4", 8: "gather8"}[plan.ElemSize(x.DType)]
	cnt := y.Shape.Size()
	return &kernel{rt: d.rt, inPlace: -1, specs: one(name, cnt, func(i, o []int64) []int32 {
		return []int32{int32(cnt), elem(i[0], x.DType), elem(i[1], ind.DType), elem(o[0], y.DType),
			int32(outer), int32(L), int32(nidx), int32(max(inner, 1)), is64}
	})}, nil
}

// reduceModes are the reduce kernel's modes.
var reduceModes = map[string]int32{"ReduceSum": 0, "ReduceMean": 1, "ReduceMax": 2, "ReduceMin": 3, "ReduceProd": 4,
	"ReduceL1": 5, "ReduceL2": 6, "ReduceSumSquare": 7, "ReduceLogSum": 8, "ReduceLogSumExp": 9}

func prepReduce(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	x, y := in[0], out[0]
	r := len(x.Shape)
	if r > 6 {
		return nil, unsupported("rank %d over 6", r)
	}
	var axesV []int64
	fromInput := n.Opset >= 18 || (n.OpType == "ReduceSum" && n.Opset >= 13)
	if fromInput {
		if len(in) > 1 && in[1] != nil {
			v, err := constInts(in[1], n.OpType+" axes")
			if err != nil {
				return nil, err
			}
			axesV = v
			if axesV == nil {
				axesV = []int64{}
			}
		}
	} else {
		axesV = n.AttrInts("axes")
	}
	if len(axesV) == 0 {
		if n.AttrInt("noop_with_empty_axes", 0) != 0 && fromInput {
			axesV = []int64{}
		} else {
			axesV = nil
		}
	}
	axes, err := normAxes(axesV, r, n.OpType)
	if err != nil {
		return nil, err
	}
	red := make([]bool, r)
	for _, a := range axes {
		red[a] = true
	}
	st := x.Shape.Strides()
	var kd, ks, rd, rs []int32
	for i := 0; i < r; i++ {
		if red[i] {
			rd, rs = append(rd, int32(x.Shape[i])), append(rs, int32(st[i]))
		} else {
			kd, ks = append(kd, int32(x.Shape[i])), append(ks, int32(st[i]))
		}
	}
	cnt, rcount := y.Shape.Size(), 1
	for _, v := range rd {
		rcount *= int(v)
	}
	// An empty reduction gives the mode's identity (0, 1, -inf, +inf);
	// the mean of nothing is left to the CPU.
	if (rcount == 0 && n.OpType == "ReduceMean") || cnt*rcount != x.Shape.Size() {
		return nil, unsupported("%s of %v into %v", n.OpType, x.Shape, y.Shape)
	}
	pad := func(v []int32, def int32) []int32 {
		o := make([]int32, 6)
		for i := range o {
			o[i] = def
			if i < len(v) {
				o[i] = v[i]
			}
		}
		return o
	}
	p := []int32{reduceModes[n.OpType], int32(len(kd))}
	p = append(p, pad(kd, 1)...)
	p = append(p, pad(ks, 0)...)
	p = append(p, int32(len(rd)))
	p = append(p, pad(rd, 1)...)
	p = append(p, pad(rs, 0)...)
	p = append(p, int32(rcount))
	return &kernel{rt: d.rt, inPlace: -1, specs: one("reduce", cnt, func(i, o []int64) []int32 {
		return append([]int32{int32(cnt), elem(i[0], x.DType), elem(o[0], y.DType)}, p...)
	})}, nil
}

// rownormSpec is one rownorm launch: a work group of 64 per row.
func rownormSpec(rows int, params func(in, out []int64) []int32) launchSpec {
	return launchSpec{name: "rownorm", dims: 1, global: [3]int{rows * 64, 1, 1}, local: [3]int{64, 1, 1}, params: params}
}

func prepLayerNorm(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	if len(in) < 2 || in[1] == nil {
		return nil, fmt.Errorf("%w: LayerNormalization needs a scale", common.ErrInvalidModel)
	}
	x, sc := in[0], in[1]
	r := len(x.Shape)
	ax := n.AttrInt("axis", -1)
	if ax < -int64(r) || ax >= int64(r) {
		return nil, fmt.Errorf("%w: LayerNormalization axis %d for rank %d", common.ErrInvalidModel, ax, r)
	}
	if ax < 0 {
		ax += int64(r)
	}
	rows, inner := common.Shape(x.Shape[:ax]).Size(), common.Shape(x.Shape[ax:]).Size()
	if rows == 0 || inner == 0 {
		return nil, unsupported("empty LayerNormalization")
	}
	var b *plan.Operand
	if len(in) > 2 {
		b = in[2]
	}
	if sc.Shape.Size() != inner || (b != nil && b.Shape.Size() != inner) {
		return nil, unsupported("LayerNormalization scale/bias broadcast %v for %v", sc.Shape, x.Shape)
	}
	if n.AttrInt("stash_type", 1) != 1 {
		return nil, unsupported("stash_type %d", n.AttrInt("stash_type", 1))
	}
	for j := 1; j < len(out); j++ {
		if out[j] != nil && (out[j].Shape.Size() != rows || out[j].DType != d.ft) {
			return nil, unsupported("LayerNormalization output %d %v%v", j, out[j].DType, out[j].Shape)
		}
	}
	eps := n.AttrFloat("epsilon", 1e-5)
	return &kernel{rt: d.rt, inPlace: -1, specs: []launchSpec{rownormSpec(rows, func(i, o []int64) []int32 {
		bo, mo, io := int32(-1), int32(-1), int32(-1)
		if b != nil {
			bo = elem(i[2], d.ft)
		}
		if len(o) > 1 {
			mo = elem(o[1], d.ft)
		}
		if len(o) > 2 {
			io = elem(o[2], d.ft)
		}
		return []int32{int32(rows), int32(inner), elem(i[0], d.ft), elem(i[1], d.ft), bo,
			elem(o[0], d.ft), mo, io, fbits(eps), 0, 1}
	})}}, nil
}

func prepInstanceNorm(d *device, n *common.Node, in, out []*plan.Operand) (*kernel, error) {
	if len(in) < 3 || in[1] == nil || in[2] == nil {
		return nil, fmt.Errorf("%w: InstanceNormalization needs scale and B", common.ErrInvalidModel)
	}
	x := in[0]
	if len(x.Shape) < 3 {
		return nil, unsupported("InstanceNormalization of rank %d", len(x.Shape))
	}
	C := x.Shape[1]
	rows, inner := x.Shape[0]*C, common.Shape(x.Shape[2:]).Size()
	if in[1].Shape.Size() != C || in[2].Shape.Size() != C {
		return nil, fmt.Errorf("%w: InstanceNormalization scale %v and B %v for %d channels", common.ErrShape, in[1].Shape, in[2].Shape, C)
	}
	if rows == 0 || inner == 0 {
		return nil, unsupported("empty InstanceNormalization")
	}
	eps := n.AttrFloat("epsilon", 1e-5)
	return &kernel{rt: d.rt, inPlace: -1, specs: []launchSpec{rownormSpec(rows, func(i, o []int64) []int32 {
		return []int32{int32(rows), int32(inner), elem(i[0], d.ft), elem(i[1], d.ft), elem(i[2], d.ft),
			elem(o[0], d.ft), -1, -1, fbits(eps), 1, int32(C)}
	})}}, nil
}
