package cpu

import (
	"context"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// nrCtx is a kernel context with the given thread count and limits.
func nrCtx(threads int, lim common.Limits) *Ctx {
	e := &Engine{limits: lim.WithDefaults(), pool: newPool(threads)}
	return &Ctx{ctx: context.Background(), eng: e, run: &runState{}}
}

// nrNode builds a node of op at opset with the given attributes.
func nrNode(op string, opset int64, attrs map[string]any) *common.Node {
	n := &common.Node{OpType: op, Opset: opset, Attrs: map[string]*common.Attribute{}}
	for k, v := range attrs {
		a := &common.Attribute{Name: k}
		switch x := v.(type) {
		case int:
			a.Type, a.I = common.AttrInt, int64(x)
		case float64:
			a.Type, a.F = common.AttrFloat, float32(x)
		case string:
			a.Type, a.S = common.AttrString, []byte(x)
		case []int64:
			a.Type, a.Ints = common.AttrInts, x
		case []float32:
			a.Type, a.Floats = common.AttrFloats, x
		}
		n.Attrs[k] = a
	}
	return n
}

// nrRun runs n's registered kernel on a 3-thread context.
func nrRun(t *testing.T, n *common.Node, in ...*common.Tensor) ([]*common.Tensor, error) {
	t.Helper()
	k, ok := kernels[n.OpType]
	require.True(t, ok, "no kernel for %s", n.OpType)
	return k.tensor(nrCtx(3, common.Limits{}), n, in)
}

func nrRand(r *rand.Rand, shape common.Shape) *common.Tensor {
	v := make([]float32, shape.Size())
	for i := range v {
		v[i] = float32(r.NormFloat64()*2 + 0.5)
	}
	return common.NewTensor(shape, v)
}

func nrClose(t *testing.T, want []float64, got *common.Tensor, tol float64) {
	t.Helper()
	require.Equal(t, len(want), got.Len())
	for i, w := range want {
		g := got.Float(i)
		require.InDelta(t, w, g, tol*(1+math.Abs(w)), "element %d", i)
	}
}

func TestNormBatchNormInference(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	x := nrRand(r, common.Shape{2, 3, 4, 5})
	sc := common.NewTensor(common.Shape{3}, []float32{0.5, 1, -2})
	b := common.NewTensor(common.Shape{3}, []float32{0, 1, 2})
	mean := common.NewTensor(common.Shape{3}, []float32{0.1, -0.2, 0.3})
	vr := common.NewTensor(common.Shape{3}, []float32{1, 2, 0.5})
	for _, opset := range []int64{1, 7, 9, 15} {
		out, err := nrRun(t, nrNode("BatchNormalization", opset, map[string]any{"epsilon": 1e-3}), x, sc, b, mean, vr)
		require.NoError(t, err)
		want := make([]float64, x.Len())
		for i := range want {
			c := (i / 20) % 3
			want[i] = (x.Float(i)-mean.Float(c))/math.Sqrt(vr.Float(c)+float64(float32(1e-3)))*sc.Float(c) + b.Float(c)
		}
		nrClose(t, want, out[0], 1e-5)
	}
	// spatial=0 before opset 9: parameters per activation.
	p := func(v float32) *common.Tensor {
		d := make([]float32, 3*20)
		for i := range d {
			d[i] = v + float32(i)*0.01
		}
		return common.NewTensor(common.Shape{3, 4, 5}, d)
	}
	out, err := nrRun(t, nrNode("BatchNormalization", 7, map[string]any{"spatial": 0}), x, p(1), p(0), p(0.1), p(1))
	require.NoError(t, err)
	want := make([]float64, x.Len())
	for i := range want {
		j := i % 60
		s := float64(float32(1 + float32(j)*0.01))
		want[i] = (x.Float(i)-float64(float32(0.1+float32(j)*0.01)))/math.Sqrt(s+1e-5)*s + float64(float32(j)*0.01)
	}
	nrClose(t, want, out[0], 1e-5)
	// Wrong parameter length.
	_, err = nrRun(t, nrNode("BatchNormalization", 15, nil), x, common.NewTensor(common.Shape{2}, []float32{1, 1}), b, mean, vr)
	require.ErrorIs(t, err, common.ErrShape)
}

func TestNormBatchNormTraining(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	x := nrRand(r, common.Shape{3, 2, 7})
	sc := common.NewTensor(common.Shape{2}, []float32{1.5, 0.5})
	b := common.NewTensor(common.Shape{2}, []float32{0.25, -1})
	mean := common.NewTensor(common.Shape{2}, []float32{0.5, 1})
	vr := common.NewTensor(common.Shape{2}, []float32{2, 3})
	out, err := nrRun(t, nrNode("BatchNormalization", 15, map[string]any{"training_mode": 1, "momentum": 0.8}), x, sc, b, mean, vr)
	require.NoError(t, err)
	require.Len(t, out, 3)
	var bm, bv [2]float64
	for ch := 0; ch < 2; ch++ {
		var vals []float64
		for n := 0; n < 3; n++ {
			for s := 0; s < 7; s++ {
				vals = append(vals, x.Float((n*2+ch)*7+s))
			}
		}
		for _, v := range vals {
			bm[ch] += v / float64(len(vals))
		}
		for _, v := range vals {
			bv[ch] += (v - bm[ch]) * (v - bm[ch]) / float64(len(vals))
		}
	}
	want := make([]float64, x.Len())
	for i := range want {
		ch := (i / 7) % 2
		want[i] = (x.Float(i)-bm[ch])/math.Sqrt(bv[ch]+1e-5)*sc.Float(ch) + b.Float(ch)
	}
	nrClose(t, want, out[0], 1e-5)
	m := float64(float32(0.8))
	nrClose(t, []float64{mean.Float(0)*m + bm[0]*(1-m), mean.Float(1)*m + bm[1]*(1-m)}, out[1], 1e-5)
	nrClose(t, []float64{vr.Float(0)*m + bv[0]*(1-m), vr.Float(1)*m + bv[1]*(1-m)}, out[2], 1e-5)
}

func TestNormInstanceNorm(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	x := nrRand(r, common.Shape{2, 3, 6})
	sc := common.NewTensor(common.Shape{3}, []float32{1, 2, 3})
	b := common.NewTensor(common.Shape{3}, []float32{-1, 0, 1})
	out, err := nrRun(t, nrNode("InstanceNormalization", 6, nil), x, sc, b)
	require.NoError(t, err)
	want := make([]float64, x.Len())
	for g := 0; g < 6; g++ {
		var m, v float64
		for s := 0; s < 6; s++ {
			m += x.Float(g*6+s) / 6
		}
		for s := 0; s < 6; s++ {
			d := x.Float(g*6+s) - m
			v += d * d / 6
		}
		for s := 0; s < 6; s++ {
			want[g*6+s] = (x.Float(g*6+s)-m)/math.Sqrt(v+1e-5)*sc.Float(g%3) + b.Float(g%3)
		}
	}
	nrClose(t, want, out[0], 1e-5)
	_, err = nrRun(t, nrNode("InstanceNormalization", 6, nil), common.NewTensor(common.Shape{3}, []float32{1, 2, 3}), sc, b)
	require.ErrorIs(t, err, common.ErrShape)
}

// naiveLayerNorm normalizes rows of cols elements.
func naiveLayerNorm(x []float64, cols int, eps float64, scale, bias []float64) (y, mean, inv []float64) {
	rows := len(x) / cols
	y = make([]float64, len(x))
	for r := 0; r < rows; r++ {
		var m, v float64
		for c := 0; c < cols; c++ {
			m += x[r*cols+c]
		}
		m /= float64(cols)
		for c := 0; c < cols; c++ {
			v += (x[r*cols+c] - m) * (x[r*cols+c] - m)
		}
		v /= float64(cols)
		iv := 1 / math.Sqrt(v+eps)
		mean = append(mean, m)
		inv = append(inv, iv)
		for c := 0; c < cols; c++ {
			y[r*cols+c] = (x[r*cols+c]-m)*iv*scale[c] + bias[c]
		}
	}
	return y, mean, inv
}

func TestNormLayerNorm(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	shape := common.Shape{2, 3, 4}
	x := nrRand(r, shape)
	for _, axis := range []int64{0, 1, 2, -1, -2} {
		a := int(axis)
		if a < 0 {
			a += 3
		}
		tail := shape[a:]
		sc := nrRand(r, tail)
		b := nrRand(r, tail)
		out, err := nrRun(t, nrNode("LayerNormalization", 17, map[string]any{"axis": int(axis), "epsilon": 1e-2}), x, sc, b)
		require.NoError(t, err)
		y, m, iv := naiveLayerNorm(x.Floats(), tail.Size(), float64(float32(1e-2)), sc.Floats(), b.Floats())
		nrClose(t, y, out[0], 1e-5)
		nrClose(t, m, out[1], 1e-5)
		nrClose(t, iv, out[2], 1e-5)
		wantStat := shape.Clone()
		for i := a; i < 3; i++ {
			wantStat[i] = 1
		}
		require.Equal(t, wantStat, out[1].Shape())
		require.Equal(t, common.Float32, out[2].DType())
	}
	// Scale broadcast from a lower rank, no bias; float16 input.
	sc := common.NewTensor(common.Shape{4}, []float32{1, 2, 3, 4})
	h := FromFloat32(x, common.Float16)
	out, err := nrRun(t, nrNode("LayerNormalization", 17, map[string]any{"axis": 1}), h, FromFloat32(sc, common.Float16))
	require.NoError(t, err)
	require.Equal(t, common.Float16, out[0].DType())
	require.Equal(t, common.Float32, out[1].DType())
	full := make([]float64, 12)
	for i := range full {
		full[i] = sc.Float(i % 4)
	}
	y, _, _ := naiveLayerNorm(ToFloat32(h).Floats(), 12, 1e-5, full, make([]float64, 12))
	nrClose(t, y, out[0], 2e-3)
	_, err = nrRun(t, nrNode("LayerNormalization", 17, map[string]any{"axis": 3}), x, sc)
	require.ErrorIs(t, err, common.ErrShape)
}

func TestNormGroupNorm(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	x := nrRand(r, common.Shape{2, 4, 3})
	naive := func(scaleOf func(ch int) (float64, float64)) []float64 {
		want := make([]float64, x.Len())
		for n := 0; n < 2; n++ {
			for g := 0; g < 2; g++ {
				off := (n*4 + g*2) * 3
				var m, v float64
				for i := 0; i < 6; i++ {
					m += x.Float(off+i) / 6
				}
				for i := 0; i < 6; i++ {
					v += (x.Float(off+i) - m) * (x.Float(off+i) - m) / 6
				}
				for i := 0; i < 6; i++ {
					s, b := scaleOf(g*2 + i/3)
					want[off+i] = (x.Float(off+i)-m)/math.Sqrt(v+1e-5)*s + b
				}
			}
		}
		return want
	}
	// Opset 18: one scale/bias per group.
	gs := common.NewTensor(common.Shape{2}, []float32{2, 3})
	gb := common.NewTensor(common.Shape{2}, []float32{-1, 1})
	out, err := nrRun(t, nrNode("GroupNormalization", 18, map[string]any{"num_groups": 2}), x, gs, gb)
	require.NoError(t, err)
	nrClose(t, naive(func(ch int) (float64, float64) { return gs.Float(ch / 2), gb.Float(ch / 2) }), out[0], 1e-5)
	// Opset 21: one per channel.
	cs := common.NewTensor(common.Shape{4}, []float32{1, 2, 3, 4})
	cb := common.NewTensor(common.Shape{4}, []float32{0, 0.5, 1, 1.5})
	out, err = nrRun(t, nrNode("GroupNormalization", 21, map[string]any{"num_groups": 2}), x, cs, cb)
	require.NoError(t, err)
	nrClose(t, naive(func(ch int) (float64, float64) { return cs.Float(ch), cb.Float(ch) }), out[0], 1e-5)
	_, err = nrRun(t, nrNode("GroupNormalization", 21, map[string]any{"num_groups": 3}), x, cs, cb)
	require.ErrorIs(t, err, common.ErrInvalidModel)
	_, err = nrRun(t, nrNode("GroupNormalization", 21, map[string]any{"num_groups": 2}), x, gs, gb)
	require.ErrorIs(t, err, common.ErrShape)
}

func TestNormLRN(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	x := nrRand(r, common.Shape{2, 5, 3})
	for _, size := range []int{1, 2, 3, 4} {
		out, err := nrRun(t, nrNode("LRN", 13, map[string]any{"size": size, "alpha": 0.01, "beta": 0.5, "bias": 2.0}), x)
		require.NoError(t, err)
		want := make([]float64, x.Len())
		for n := 0; n < 2; n++ {
			for c := 0; c < 5; c++ {
				for s := 0; s < 3; s++ {
					lo := max(0, c-(size-1)/2)
					hi := min(4, c+int(math.Ceil(float64(size-1)/2)))
					var sq float64
					for i := lo; i <= hi; i++ {
						v := x.Float((n*5+i)*3 + s)
						sq += v * v
					}
					idx := (n*5+c)*3 + s
					want[idx] = x.Float(idx) / math.Pow(2+float64(float32(0.01))/float64(size)*sq, 0.5)
				}
			}
		}
		nrClose(t, want, out[0], 1e-5)
	}
	_, err := nrRun(t, nrNode("LRN", 13, nil), x)
	require.ErrorIs(t, err, common.ErrInvalidModel)
}

func TestNormMeanVarianceNormalization(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	x := nrRand(r, common.Shape{2, 3, 2, 2})
	out, err := nrRun(t, nrNode("MeanVarianceNormalization", 13, nil), x)
	require.NoError(t, err)
	want := make([]float64, x.Len())
	for c := 0; c < 3; c++ {
		var idx []int
		for n := 0; n < 2; n++ {
			for s := 0; s < 4; s++ {
				idx = append(idx, (n*3+c)*4+s)
			}
		}
		var m, v float64
		for _, i := range idx {
			m += x.Float(i) / 8
		}
		for _, i := range idx {
			v += (x.Float(i) - m) * (x.Float(i) - m) / 8
		}
		for _, i := range idx {
			want[i] = (x.Float(i) - m) / (math.Sqrt(v) + 1e-9)
		}
	}
	nrClose(t, want, out[0], 1e-5)
	_, err = nrRun(t, nrNode("MeanVarianceNormalization", 13, map[string]any{"axes": []int64{5}}), x)
	require.ErrorIs(t, err, common.ErrShape)
}
