package cpu

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
)

// Normalization operators: BatchNormalization, InstanceNormalization,
// LayerNormalization, GroupNormalization, LRN and
// MeanVarianceNormalization. They compute in float32 for float32 and the
// half types (statistics are accumulated in float64) and in float64 for
// float64.

func init() {
	reg("BatchNormalization", batchNormKernel)
	reg("InstanceNormalization", instanceNormKernel)
	reg("LayerNormalization", layerNormKernel)
	reg("GroupNormalization", groupNormKernel)
	reg("LRN", lrnKernel)
	reg("MeanVarianceNormalization", mvnKernel)
}

// normFloat is the set of element types the normalization kernels
// compute in.
type normFloat interface{ ~float32 | ~float64 }

// normData is a float tensor's data in a compute type: f32 for float32,
// float16 and bfloat16, f64 for float64.
type normData struct {
	dtype common.DType
	f32   []float32
	f64   []float64
}

// normLoad reads a float tensor for computing; other types are an
// unsupported-type error.
func normLoad(n *common.Node, t *common.Tensor) (normData, error) {
	switch t.DType() {
	case common.Float32:
		return normData{dtype: t.DType(), f32: common.Data[float32](t)}, nil
	case common.Float64:
		return normData{dtype: t.DType(), f64: common.Data[float64](t)}, nil
	case common.Float16, common.BFloat16:
		return normData{dtype: t.DType(), f32: common.Data[float32](ToFloat32(t))}, nil
	}
	return normData{}, unsupportedType(n, t.DType())
}

// normAlloc allocates a compute buffer of the same kind as d.
func normAlloc(c *Ctx, d normData, shape common.Shape) (normData, error) {
	wd := common.Float32
	if d.f64 != nil || d.dtype == common.Float64 {
		wd = common.Float64
	}
	t, err := c.Alloc(wd, shape)
	if err != nil {
		return normData{}, err
	}
	out := normData{dtype: d.dtype}
	if wd == common.Float64 {
		out.f64 = common.Data[float64](t)
	} else {
		out.f32 = common.Data[float32](t)
	}
	return out, nil
}

// tensor wraps a compute buffer as a tensor of d.dtype (rounding half
// types once).
func (d normData) tensor(shape common.Shape) *common.Tensor {
	if d.f64 != nil || d.dtype == common.Float64 {
		return common.NewTensor(shape, d.f64)
	}
	t := common.NewTensor(shape, d.f32)
	if IsHalf(d.dtype) {
		return FromFloat32(t, d.dtype)
	}
	return t
}

// normFloatsAs makes a tensor of float dtype d (float32/64, float16,
// bfloat16) from float64 values.
func normFloatsAs(d common.DType, shape common.Shape, v []float64) *common.Tensor {
	switch d {
	case common.Float64:
		return common.NewTensor(shape, v)
	case common.Float16:
		o := make([]common.F16, len(v))
		for i, x := range v {
			o[i] = common.F16From(float32(x))
		}
		return common.NewTensor(shape, o)
	case common.BFloat16:
		o := make([]common.BF16, len(v))
		for i, x := range v {
			o[i] = common.BF16From(float32(x))
		}
		return common.NewTensor(shape, o)
	}
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return common.NewTensor(shape, o)
}

// normParam reads a small per-channel parameter tensor (scale, bias, mean,
// var) as float64, checking its element count against want (any of the
// allowed counts).
func normParam(n *common.Node, t *common.Tensor, what string, want ...int) ([]float64, error) {
	if !t.DType().IsFloat() {
		return nil, unsupportedType(n, t.DType())
	}
	for _, w := range want {
		if t.Len() == w {
			return t.Floats(), nil
		}
	}
	return nil, fmt.Errorf("%w: %s: %s has shape %v, want %v elements", common.ErrShape, n.OpType, what, t.Shape(), want)
}

// normChannels splits x's shape into batch, channels and spatial size.
func normChannels(n *common.Node, x *common.Tensor) (nb, ch, sp int, err error) {
	if x.Rank() < 2 {
		return 0, 0, 0, fmt.Errorf("%w: %s: input must have rank >= 2 (N, C, ...), got %v", common.ErrShape, n.OpType, x.Shape())
	}
	s := x.Shape()
	sp = 1
	for _, d := range s[2:] {
		sp *= d
	}
	return s[0], s[1], sp, nil
}

// normAffine computes out = (x - mean) * inv * scale + bias over one
// contiguous block.
func normAffine[T normFloat](out, x []T, mean, inv, scale, bias float64) {
	a := inv * scale
	b := bias - mean*a
	for i, v := range x {
		out[i] = T(float64(v)*a + b)
	}
}

// normStats returns the mean and population variance of x.
func normStats[T normFloat](x []T) (mean, variance float64) {
	if len(x) == 0 {
		return 0, 0
	}
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mean = s / float64(len(x))
	var q float64
	for _, v := range x {
		d := float64(v) - mean
		q += d * d
	}
	return mean, q / float64(len(x))
}

func batchNormKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	var args [5]*common.Tensor
	for i := range args {
		t, err := need(n, in, i)
		if err != nil {
			return nil, err
		}
		args[i] = t
	}
	x := args[0]
	nb, ch, sp, err := normChannels(n, x)
	if err != nil {
		return nil, err
	}
	// Before opset 9, spatial=0 gives parameters per activation (C x D1 x
	// ... x Dn) instead of per channel.
	counts := []int{ch}
	if n.Opset < 9 && n.AttrInt("spatial", 1) == 0 {
		counts = append(counts, ch*sp)
	}
	var p [4][]float64
	for i, what := range []string{"scale", "B", "input_mean", "input_var"} {
		if p[i], err = normParam(n, args[i+1], what, counts...); err != nil {
			return nil, err
		}
	}
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	training := n.Opset >= 14 && n.AttrInt("training_mode", 0) != 0
	xd, err := normLoad(n, x)
	if err != nil {
		return nil, err
	}
	od, err := normAlloc(c, xd, x.Shape())
	if err != nil {
		return nil, err
	}
	perAct := len(p[0]) != ch
	if !training {
		if xd.f64 != nil {
			batchNormInfer(c, od.f64, xd.f64, nb, ch, sp, p, eps, perAct)
		} else {
			batchNormInfer(c, od.f32, xd.f32, nb, ch, sp, p, eps, perAct)
		}
		return []*common.Tensor{od.tensor(x.Shape())}, nil
	}
	if perAct {
		return nil, fmt.Errorf("%w: %s: training mode needs per-channel parameters", common.ErrShape, n.OpType)
	}
	momentum := float64(n.AttrFloat("momentum", 0.9))
	mean := make([]float64, ch)
	variance := make([]float64, ch)
	if xd.f64 != nil {
		batchNormTrain(c, od.f64, xd.f64, nb, ch, sp, p, eps, mean, variance)
	} else {
		batchNormTrain(c, od.f32, xd.f32, nb, ch, sp, p, eps, mean, variance)
	}
	runMean := make([]float64, ch)
	runVar := make([]float64, ch)
	for i := range runMean {
		runMean[i] = p[2][i]*momentum + mean[i]*(1-momentum)
		runVar[i] = p[3][i]*momentum + variance[i]*(1-momentum)
	}
	ps := common.Shape{ch}
	return []*common.Tensor{
		od.tensor(x.Shape()),
		normFloatsAs(args[3].DType(), ps, runMean),
		normFloatsAs(args[4].DType(), ps, runVar),
	}, nil
}

func batchNormInfer[T normFloat](c *Ctx, out, x []T, nb, ch, sp int, p [4][]float64, eps float64, perAct bool) {
	c.Parallel(nb*ch, max(1, 16384/max(sp, 1)), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			k := nc % ch
			off := nc * sp
			if !perAct {
				normAffine(out[off:off+sp], x[off:off+sp], p[2][k], 1/math.Sqrt(p[3][k]+eps), p[0][k], p[1][k])
				continue
			}
			for s := 0; s < sp; s++ {
				j := k*sp + s
				out[off+s] = T((float64(x[off+s])-p[2][j])/math.Sqrt(p[3][j]+eps)*p[0][j] + p[1][j])
			}
		}
	})
}

func batchNormTrain[T normFloat](c *Ctx, out, x []T, nb, ch, sp int, p [4][]float64, eps float64, mean, variance []float64) {
	c.Parallel(ch, 1, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			var s float64
			for b := 0; b < nb; b++ {
				for _, v := range x[(b*ch+k)*sp : (b*ch+k+1)*sp] {
					s += float64(v)
				}
			}
			cnt := float64(nb * sp)
			m := s / cnt
			var q float64
			for b := 0; b < nb; b++ {
				for _, v := range x[(b*ch+k)*sp : (b*ch+k+1)*sp] {
					d := float64(v) - m
					q += d * d
				}
			}
			if cnt == 0 {
				m, q = 0, 0
			} else {
				q /= cnt
			}
			mean[k], variance[k] = m, q
			inv := 1 / math.Sqrt(q+eps)
			for b := 0; b < nb; b++ {
				off := (b*ch + k) * sp
				normAffine(out[off:off+sp], x[off:off+sp], m, inv, p[0][k], p[1][k])
			}
		}
	})
}

func instanceNormKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	var args [3]*common.Tensor
	for i := range args {
		t, err := need(n, in, i)
		if err != nil {
			return nil, err
		}
		args[i] = t
	}
	x := args[0]
	nb, ch, sp, err := normChannels(n, x)
	if err != nil {
		return nil, err
	}
	scale, err := normParam(n, args[1], "scale", ch)
	if err != nil {
		return nil, err
	}
	bias, err := normParam(n, args[2], "B", ch)
	if err != nil {
		return nil, err
	}
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	xd, err := normLoad(n, x)
	if err != nil {
		return nil, err
	}
	od, err := normAlloc(c, xd, x.Shape())
	if err != nil {
		return nil, err
	}
	affine := func(nc, _ int) (float64, float64) { return scale[nc%ch], bias[nc%ch] }
	if xd.f64 != nil {
		normGroups(c, od.f64, xd.f64, nb*ch, sp, eps, 1, affine)
	} else {
		normGroups(c, od.f32, xd.f32, nb*ch, sp, eps, 1, affine)
	}
	return []*common.Tensor{od.tensor(x.Shape())}, nil
}

// normGroups normalizes groups contiguous blocks of size per elements.
// Each block is made of sub sub-blocks (channels) of per/sub elements;
// affine(g, s) gives the scale and bias for sub-block s of group g.
func normGroups[T normFloat](c *Ctx, out, x []T, groups, per int, eps float64, sub int, affine func(g, s int) (float64, float64)) {
	c.Parallel(groups, max(1, 16384/max(per, 1)), func(lo, hi int) {
		for g := lo; g < hi; g++ {
			blk := x[g*per : (g+1)*per]
			m, v := normStats(blk)
			inv := 1 / math.Sqrt(v+eps)
			step := per / sub
			for s := 0; s < sub; s++ {
				sc, b := affine(g, s)
				off := g*per + s*step
				normAffine(out[off:off+step], x[off:off+step], m, inv, sc, b)
			}
		}
	})
}

func groupNormKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	var args [3]*common.Tensor
	for i := range args {
		t, err := need(n, in, i)
		if err != nil {
			return nil, err
		}
		args[i] = t
	}
	x := args[0]
	nb, ch, sp, err := normChannels(n, x)
	if err != nil {
		return nil, err
	}
	if !n.HasAttr("num_groups") {
		return nil, fmt.Errorf("%w: %s: attribute num_groups is required", common.ErrInvalidModel, n.OpType)
	}
	ng64 := n.AttrInt("num_groups", 0)
	if ng64 <= 0 || ng64 > int64(ch) || int64(ch)%ng64 != 0 {
		return nil, fmt.Errorf("%w: %s: num_groups %d must divide the %d channels", common.ErrInvalidModel, n.OpType, ng64, ch)
	}
	ng := int(ng64)
	cpg := ch / ng
	// Opset 18 has one scale and bias per group; opset 21 one per channel.
	// Either layout is accepted where the counts tell them apart.
	want := []int{ch}
	if n.Opset < 21 {
		want = []int{ng, ch}
	}
	scale, err := normParam(n, args[1], "scale", want...)
	if err != nil {
		return nil, err
	}
	bias, err := normParam(n, args[2], "bias", len(scale))
	if err != nil {
		return nil, err
	}
	perGroup := len(scale) == ng && ng != ch
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	xd, err := normLoad(n, x)
	if err != nil {
		return nil, err
	}
	od, err := normAlloc(c, xd, x.Shape())
	if err != nil {
		return nil, err
	}
	affine := func(g, s int) (float64, float64) {
		if perGroup {
			k := g % ng
			return scale[k], bias[k]
		}
		k := (g%ng)*cpg + s
		return scale[k], bias[k]
	}
	if xd.f64 != nil {
		normGroups(c, od.f64, xd.f64, nb*ng, cpg*sp, eps, cpg, affine)
	} else {
		normGroups(c, od.f32, xd.f32, nb*ng, cpg*sp, eps, cpg, affine)
	}
	return []*common.Tensor{od.tensor(x.Shape())}, nil
}

// normExpand returns t (scale or bias of LayerNormalization) broadcast to
// shape[axis:], as float64; t must broadcast to shape without varying
// along the leading axes.
func normExpand(n *common.Node, t *common.Tensor, shape common.Shape, axis int, what string) ([]float64, error) {
	if !t.DType().IsFloat() {
		return nil, unsupportedType(n, t.DType())
	}
	ts := t.Shape()
	if len(ts) > len(shape) {
		return nil, fmt.Errorf("%w: %s: %s of shape %v does not broadcast to %v", common.ErrShape, n.OpType, what, ts, shape)
	}
	off := len(shape) - len(ts)
	for i, d := range ts {
		if d != 1 && d != shape[off+i] {
			return nil, fmt.Errorf("%w: %s: %s of shape %v does not broadcast to %v", common.ErrShape, n.OpType, what, ts, shape)
		}
		if off+i < axis && d != 1 {
			return nil, fmt.Errorf("%w: %s: %s of shape %v varies outside the normalized axes of %v", common.ErrUnsupported, n.OpType, what, ts, shape)
		}
	}
	tail := shape[axis:]
	cols := tail.Size()
	vals := t.Floats()
	if len(vals) == cols {
		return vals, nil
	}
	// Broadcast over the tail.
	var sub common.Shape
	if off >= axis {
		sub = ts
	} else {
		sub = ts[axis-off:]
	}
	st := BroadcastStrides(sub, tail)
	idx := make([]int, cols)
	BroadcastIndex(tail, st, idx)
	out := make([]float64, cols)
	for i, j := range idx {
		out[i] = vals[j]
	}
	return out, nil
}

func layerNormKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	st, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	rank := x.Rank()
	if rank == 0 {
		return nil, fmt.Errorf("%w: %s: input must have rank >= 1", common.ErrShape, n.OpType)
	}
	axis, err := NormAxis(n.AttrInt("axis", -1), rank)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.OpType, err)
	}
	shape := x.Shape()
	scale, err := normExpand(n, st, shape, axis, "Scale")
	if err != nil {
		return nil, err
	}
	var bias []float64
	if b := opt(in, 2); b != nil {
		if bias, err = normExpand(n, b, shape, axis, "B"); err != nil {
			return nil, err
		}
	}
	rows := shape[:axis].Size()
	cols := shape[axis:].Size()
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	xd, err := normLoad(n, x)
	if err != nil {
		return nil, err
	}
	od, err := normAlloc(c, xd, shape)
	if err != nil {
		return nil, err
	}
	mean := make([]float64, rows)
	inv := make([]float64, rows)
	if xd.f64 != nil {
		layerNorm(c, od.f64, xd.f64, rows, cols, eps, scale, bias, mean, inv)
	} else {
		layerNorm(c, od.f32, xd.f32, rows, cols, eps, scale, bias, mean, inv)
	}
	statShape := append(shape[:axis].Clone(), make(common.Shape, rank-axis)...)
	for i := axis; i < rank; i++ {
		statShape[i] = 1
	}
	// Mean and InvStdDev have the stash type (float32) for half inputs.
	sd := x.DType()
	if IsHalf(sd) && n.AttrInt("stash_type", 1) == 1 {
		sd = common.Float32
	}
	return []*common.Tensor{
		od.tensor(shape),
		normFloatsAs(sd, statShape, mean),
		normFloatsAs(sd, statShape, inv),
	}, nil
}

func layerNorm[T normFloat](c *Ctx, out, x []T, rows, cols int, eps float64, scale, bias, mean, inv []float64) {
	c.Parallel(rows, max(1, 16384/max(cols, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := x[r*cols : (r+1)*cols]
			m, v := normStats(row)
			iv := 1 / math.Sqrt(v+eps)
			mean[r], inv[r] = m, iv
			o := out[r*cols : (r+1)*cols]
			for i, xv := range row {
				y := (float64(xv) - m) * iv * scale[i]
				if bias != nil {
					y += bias[i]
				}
				o[i] = T(y)
			}
		}
	})
}

func lrnKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	nb, ch, sp, err := normChannels(n, x)
	if err != nil {
		return nil, err
	}
	size := n.AttrInt("size", 0)
	if size <= 0 {
		return nil, fmt.Errorf("%w: %s: attribute size must be positive, got %d", common.ErrInvalidModel, n.OpType, size)
	}
	alpha := float64(n.AttrFloat("alpha", 1e-4))
	beta := float64(n.AttrFloat("beta", 0.75))
	bias := float64(n.AttrFloat("bias", 1))
	xd, err := normLoad(n, x)
	if err != nil {
		return nil, err
	}
	od, err := normAlloc(c, xd, x.Shape())
	if err != nil {
		return nil, err
	}
	below := int((size - 1) / 2)
	above := int(size / 2) // ceil((size-1)/2)
	if xd.f64 != nil {
		lrn(c, od.f64, xd.f64, nb, ch, sp, below, above, alpha/float64(size), beta, bias)
	} else {
		lrn(c, od.f32, xd.f32, nb, ch, sp, below, above, alpha/float64(size), beta, bias)
	}
	return []*common.Tensor{od.tensor(x.Shape())}, nil
}

func lrn[T normFloat](c *Ctx, out, x []T, nb, ch, sp, below, above int, alpha, beta, bias float64) {
	c.Parallel(nb*ch, max(1, 4096/max(sp, 1)), func(lo, hi int) {
		sq := make([]float64, sp)
		for nc := lo; nc < hi; nc++ {
			b, k := nc/ch, nc%ch
			clear(sq)
			for j := max(0, k-below); j <= min(ch-1, k+above); j++ {
				for s, v := range x[(b*ch+j)*sp : (b*ch+j+1)*sp] {
					sq[s] += float64(v) * float64(v)
				}
			}
			off := nc * sp
			for s := 0; s < sp; s++ {
				out[off+s] = T(float64(x[off+s]) / math.Pow(bias+alpha*sq[s], beta))
			}
		}
	})
}

func mvnKernel(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	rank := x.Rank()
	axes := n.AttrInts("axes")
	if !n.HasAttr("axes") {
		axes = []int64{0, 2, 3}
	}
	red := make([]bool, rank)
	for _, a := range axes {
		k, err := NormAxis(a, rank)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.OpType, err)
		}
		red[k] = true
	}
	shape := x.Shape()
	// keep[i] is the stride of axis i in the statistics array (0 on
	// reduced axes).
	keep := make([]int, rank)
	groups := 1
	for i := rank - 1; i >= 0; i-- {
		if !red[i] {
			keep[i] = groups
			groups *= shape[i]
		}
	}
	xd, err := normLoad(n, x)
	if err != nil {
		return nil, err
	}
	od, err := normAlloc(c, xd, shape)
	if err != nil {
		return nil, err
	}
	if xd.f64 != nil {
		mvn(od.f64, xd.f64, shape, keep, groups)
	} else {
		mvn(od.f32, xd.f32, shape, keep, groups)
	}
	return []*common.Tensor{od.tensor(shape)}, nil
}

// mvnGroup walks the flat indices of shape and calls fn with each index and
// its statistics group.
func mvnGroup(shape common.Shape, keep []int, total int, fn func(i, g int)) {
	rank := len(shape)
	coord := make([]int, rank)
	g := 0
	for i := 0; i < total; i++ {
		fn(i, g)
		for a := rank - 1; a >= 0; a-- {
			coord[a]++
			g += keep[a]
			if coord[a] < shape[a] {
				break
			}
			g -= keep[a] * coord[a]
			coord[a] = 0
		}
	}
}

func mvn[T normFloat](out, x []T, shape common.Shape, keep []int, groups int) {
	total := len(x)
	if total == 0 {
		return
	}
	sum := make([]float64, groups)
	cnt := make([]float64, groups)
	mvnGroup(shape, keep, total, func(i, g int) { sum[g] += float64(x[i]); cnt[g]++ })
	for g := range sum {
		sum[g] /= cnt[g]
	}
	sq := make([]float64, groups)
	mvnGroup(shape, keep, total, func(i, g int) {
		d := float64(x[i]) - sum[g]
		sq[g] += d * d
	})
	for g := range sq {
		sq[g] = math.Sqrt(sq[g]/cnt[g]) + 1e-9
	}
	mvnGroup(shape, keep, total, func(i, g int) { out[i] = T((float64(x[i]) - sum[g]) / sq[g]) })
}
