package cpu

import (
	"context"
	"errors"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// rdCtx is a kernel context with a pool of the given size.
func rdCtx(threads int) *Ctx {
	e := &Engine{limits: common.Limits{}.WithDefaults(), pool: newPool(threads)}
	return &Ctx{ctx: context.Background(), eng: e, run: &runState{}}
}

func rdNode(op string, opset int64, attrs map[string]any) *common.Node {
	n := &common.Node{OpType: op, Opset: opset, Attrs: map[string]*common.Attribute{}, Outputs: []string{"y", "z"}}
	for k, v := range attrs {
		a := &common.Attribute{Name: k}
		switch x := v.(type) {
		case int:
			a.Type, a.I = common.AttrInt, int64(x)
		case []int64:
			a.Type, a.Ints = common.AttrInts, x
		case string:
			a.Type, a.S = common.AttrString, []byte(x)
		}
		n.Attrs[k] = a
	}
	return n
}

func rdRun(t *testing.T, threads int, n *common.Node, in ...*common.Tensor) ([]*common.Tensor, error) {
	t.Helper()
	k, ok := kernels[n.OpType]
	require.True(t, ok, "no kernel for %s", n.OpType)
	c := rdCtx(threads)
	defer c.eng.pool.close()
	return k.tensor(c, n, in)
}

func rdMust(t *testing.T, threads int, n *common.Node, in ...*common.Tensor) []*common.Tensor {
	t.Helper()
	out, err := rdRun(t, threads, n, in...)
	require.NoError(t, err)
	return out
}

func rdAxes(v ...int64) *common.Tensor { return common.NewTensor(common.Shape{len(v)}, v) }

// rdNaive reduces in float64 by visiting every element and computing its
// output position from its coordinates.
func rdNaive(op string, shape common.Shape, x []float64, red []bool, keep bool) (common.Shape, []float64) {
	outShape := common.Shape{}
	for i, d := range shape {
		if !red[i] {
			outShape = append(outShape, d)
		} else if keep {
			outShape = append(outShape, 1)
		}
	}
	full := make(common.Shape, len(shape)) // output shape with reduced dims as 1
	for i, d := range shape {
		full[i] = d
		if red[i] {
			full[i] = 1
		}
	}
	no := full.Size()
	acc := make([]float64, no)
	mx := make([]float64, no)
	cnt := 1
	for i, d := range shape {
		if red[i] {
			cnt *= d
		}
	}
	for i := range acc {
		switch op {
		case "ReduceProd":
			acc[i] = 1
		case "ReduceMax":
			acc[i] = math.Inf(-1)
		case "ReduceMin":
			acc[i] = math.Inf(1)
		}
		mx[i] = math.Inf(-1)
	}
	outIdx := func(flat int) int {
		o, mul := 0, 1
		for a := len(shape) - 1; a >= 0; a-- {
			c := flat % shape[a]
			flat /= shape[a]
			if !red[a] {
				o += c * mul
			}
			mul *= full[a]
		}
		return o
	}
	for i, v := range x {
		mx[outIdx(i)] = math.Max(mx[outIdx(i)], v)
	}
	for i, v := range x {
		o := outIdx(i)
		switch op {
		case "ReduceSum", "ReduceMean", "ReduceLogSum":
			acc[o] += v
		case "ReduceProd":
			acc[o] *= v
		case "ReduceMax":
			acc[o] = math.Max(acc[o], v)
		case "ReduceMin":
			acc[o] = math.Min(acc[o], v)
		case "ReduceL1":
			acc[o] += math.Abs(v)
		case "ReduceL2", "ReduceSumSquare":
			acc[o] += v * v
		case "ReduceLogSumExp":
			acc[o] += math.Exp(v - mx[o])
		}
	}
	for o := range acc {
		switch op {
		case "ReduceMean":
			acc[o] /= float64(cnt)
		case "ReduceL2":
			acc[o] = math.Sqrt(acc[o])
		case "ReduceLogSum":
			acc[o] = math.Log(acc[o])
		case "ReduceLogSumExp":
			acc[o] = math.Log(acc[o]) + mx[o]
		}
	}
	return outShape, acc
}

var rdOps = []string{"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
	"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}

func TestReduceMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 150; trial++ {
		rank := rng.Intn(5)
		shape := make(common.Shape, rank)
		for i := range shape {
			shape[i] = 1 + rng.Intn(5)
		}
		if trial%10 == 0 && rank > 0 {
			shape[0] = 300 // big enough to run in parallel
		}
		var axes []int64
		red := make([]bool, rank)
		for a := 0; a < rank; a++ {
			if rng.Intn(2) == 0 {
				red[a] = true
				ax := int64(a)
				if rng.Intn(2) == 0 {
					ax -= int64(rank)
				}
				axes = append(axes, ax)
			}
		}
		if len(axes) == 0 {
			for a := range red {
				red[a] = true
			}
		}
		keep := rng.Intn(2)
		n := shape.Size()
		x := make([]float32, n)
		xf := make([]float64, n)
		for i := range x {
			x[i] = float32(rng.Float64()*1.5 + 0.25)
			if rng.Intn(2) == 0 {
				x[i] = -x[i]
			}
			xf[i] = float64(x[i])
		}
		xt := common.NewTensor(shape, x)
		for _, op := range rdOps {
			if op == "ReduceLogSum" {
				for i := range x {
					x[i] = float32(math.Abs(float64(x[i])))
					xf[i] = float64(x[i])
				}
			}
			node := rdNode(op, 18, map[string]any{"keepdims": keep})
			in := []*common.Tensor{xt}
			if len(axes) > 0 {
				in = append(in, rdAxes(axes...))
			}
			out := rdMust(t, 1+trial%3, node, in...)
			wantShape, want := rdNaive(op, shape, xf, red, keep == 1)
			require.Equal(t, wantShape, out[0].Shape(), "%s %v axes %v", op, shape, axes)
			got := common.Data[float32](out[0])
			for i := range want {
				require.InDelta(t, want[i], float64(got[i]), 1e-4*math.Max(1, math.Abs(want[i])), "%s %v axes %v at %d", op, shape, axes, i)
			}
		}
	}
}

func TestReduceIntegers(t *testing.T) {
	x := common.NewTensor(common.Shape{2, 3}, []int32{1, -2, 3, 4, 5, -6})
	cases := map[string][]int32{
		"ReduceSum":       {2, 3},
		"ReduceMean":      {0, 1}, // 2/3 and 3/3, truncated
		"ReduceMax":       {3, 5},
		"ReduceMin":       {-2, -6},
		"ReduceProd":      {-6, -120},
		"ReduceL1":        {6, 15},
		"ReduceL2":        {3, 8}, // sqrt(14)=3.74, sqrt(77)=8.77
		"ReduceSumSquare": {14, 77},
	}
	for op, want := range cases {
		out := rdMust(t, 2, rdNode(op, 18, map[string]any{"keepdims": 0}), x, rdAxes(1))
		require.Equal(t, want, common.Data[int32](out[0]), op)
	}
	// uint8 max/min use the unsigned order; sums wrap like the type.
	u := common.NewTensor(common.Shape{3}, []uint8{200, 100, 7})
	require.Equal(t, []uint8{200}, common.Data[uint8](rdMust(t, 1, rdNode("ReduceMax", 18, nil), u)[0]))
	require.Equal(t, []uint8{7}, common.Data[uint8](rdMust(t, 1, rdNode("ReduceMin", 18, nil), u)[0]))
	require.Equal(t, []uint8{51}, common.Data[uint8](rdMust(t, 1, rdNode("ReduceSum", 13, nil), u)[0]))
	// uint64 values past 2^63 compare correctly.
	u64 := common.NewTensor(common.Shape{2}, []uint64{1 << 63, 5})
	require.Equal(t, []uint64{1 << 63}, common.Data[uint64](rdMust(t, 1, rdNode("ReduceMax", 18, nil), u64)[0]))
}

func TestReduceEmptySet(t *testing.T) {
	x := common.NewTensor(common.Shape{2, 0, 3}, []float32{})
	inf := math.Inf(1)
	want := map[string]float64{
		"ReduceSum": 0, "ReduceProd": 1, "ReduceMax": -inf, "ReduceMin": inf, "ReduceL1": 0,
		"ReduceL2": 0, "ReduceSumSquare": 0, "ReduceLogSum": -inf, "ReduceLogSumExp": -inf,
	}
	for op, w := range want {
		out := rdMust(t, 1, rdNode(op, 18, map[string]any{"keepdims": 1}), x, rdAxes(1))
		require.Equal(t, common.Shape{2, 1, 3}, out[0].Shape(), op)
		for _, v := range common.Data[float32](out[0]) {
			require.Equal(t, w, float64(v), op)
		}
	}
	mean := rdMust(t, 1, rdNode("ReduceMean", 18, nil), x, rdAxes(1))
	require.True(t, math.IsNaN(float64(common.Data[float32](mean[0])[0])))
	// Integers: ReduceMax of nothing is the type's smallest value.
	xi := common.NewTensor(common.Shape{0, 2}, []int8{})
	out := rdMust(t, 1, rdNode("ReduceMax", 18, map[string]any{"keepdims": 0}), xi, rdAxes(0))
	require.Equal(t, []int8{-128, -128}, common.Data[int8](out[0]))
	// A zero-size kept axis gives an empty output.
	out = rdMust(t, 1, rdNode("ReduceSum", 13, nil), x, rdAxes(2))
	require.Equal(t, common.Shape{2, 0, 1}, out[0].Shape())
}

func TestReduceAttributesAndOpsets(t *testing.T) {
	x := common.NewTensor(common.Shape{2, 2}, []float32{1, 2, 3, 4})
	// Old opsets take axes from the attribute.
	out := rdMust(t, 1, rdNode("ReduceMean", 13, map[string]any{"axes": []int64{0}, "keepdims": 0}), x)
	require.Equal(t, []float32{2, 3}, common.Data[float32](out[0]))
	out = rdMust(t, 1, rdNode("ReduceSum", 11, map[string]any{"axes": []int64{-1}}), x)
	require.Equal(t, common.Shape{2, 1}, out[0].Shape())
	require.Equal(t, []float32{3, 7}, common.Data[float32](out[0]))
	// No axes: everything; keepdims default 1.
	out = rdMust(t, 1, rdNode("ReduceSum", 13, nil), x)
	require.Equal(t, common.Shape{1, 1}, out[0].Shape())
	require.Equal(t, []float32{10}, common.Data[float32](out[0]))
	// Empty axes input with noop_with_empty_axes: element-wise identity
	// (after the op's own map, e.g. squares).
	empty := common.NewTensor(common.Shape{0}, []int64{})
	out = rdMust(t, 1, rdNode("ReduceSum", 13, map[string]any{"noop_with_empty_axes": 1}), x, empty)
	require.Equal(t, []float32{1, 2, 3, 4}, common.Data[float32](out[0]))
	out = rdMust(t, 1, rdNode("ReduceSumSquare", 18, map[string]any{"noop_with_empty_axes": 1}), x, empty)
	require.Equal(t, []float32{1, 4, 9, 16}, common.Data[float32](out[0]))
	out = rdMust(t, 1, rdNode("ReduceSum", 13, nil), x, empty)
	require.Equal(t, []float32{10}, common.Data[float32](out[0]))
	// float16 goes through float32 and comes back as float16.
	h := common.NewTensor(common.Shape{3}, []common.F16{common.F16From(1), common.F16From(2.5), common.F16From(-1)})
	out = rdMust(t, 1, rdNode("ReduceSum", 13, map[string]any{"keepdims": 0}), h)
	require.Equal(t, common.Float16, out[0].DType())
	require.Equal(t, float32(2.5), common.Data[common.F16](out[0])[0].Float32())
	// Bool max/min are any/all.
	b := common.NewTensor(common.Shape{2, 2}, []bool{true, false, false, false})
	out = rdMust(t, 1, rdNode("ReduceMax", 20, map[string]any{"keepdims": 0}), b, rdAxes(1))
	require.Equal(t, []bool{true, false}, common.Data[bool](out[0]))
	out = rdMust(t, 1, rdNode("ReduceMin", 20, map[string]any{"keepdims": 0}), b, rdAxes(0))
	require.Equal(t, []bool{false, false}, common.Data[bool](out[0]))
	_, err := rdRun(t, 1, rdNode("ReduceSum", 13, nil), b)
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestReduceBadInput(t *testing.T) {
	x := common.NewTensor(common.Shape{2, 2}, []float32{1, 2, 3, 4})
	_, err := rdRun(t, 1, rdNode("ReduceSum", 13, nil), x, rdAxes(2))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = rdRun(t, 1, rdNode("ReduceMax", 18, nil), x, rdAxes(0, -2))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = rdRun(t, 1, rdNode("ReduceMax", 11, map[string]any{"axes": []int64{-3}}), x)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = rdRun(t, 1, rdNode("ReduceSum", 13, nil), x, common.NewTensor(common.Shape{1}, []float32{0}))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = rdRun(t, 1, rdNode("ReduceSum", 13, nil))
	require.True(t, errors.Is(err, common.ErrInvalidModel))
}

// argNaive is ArgMax/ArgMin by a plain scan along axis.
func argNaive(shape common.Shape, x []float32, axis int, isMax, last bool) []int64 {
	outer, r, inner := 1, shape[axis], 1
	for i, d := range shape {
		if i < axis {
			outer *= d
		} else if i > axis {
			inner *= d
		}
	}
	out := make([]int64, outer*inner)
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			best := 0
			for j := 1; j < r; j++ {
				v, b := x[(o*r+j)*inner+i], x[(o*r+best)*inner+i]
				if (isMax && v > b) || (!isMax && v < b) || (last && v == b) {
					best = j
				}
			}
			out[o*inner+i] = int64(best)
		}
	}
	return out
}

func TestArgMaxMinMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for trial := 0; trial < 60; trial++ {
		rank := 1 + rng.Intn(4)
		shape := make(common.Shape, rank)
		for i := range shape {
			shape[i] = 1 + rng.Intn(5)
		}
		if trial%7 == 0 {
			shape[rank-1] = 200
		}
		x := make([]float32, shape.Size())
		for i := range x {
			x[i] = float32(rng.Intn(4)) // many ties
		}
		axis := rng.Intn(rank)
		keep := rng.Intn(2)
		for _, op := range []string{"ArgMax", "ArgMin"} {
			for _, last := range []int{0, 1} {
				node := rdNode(op, 13, map[string]any{"axis": axis - rank*(trial%2), "keepdims": keep, "select_last_index": last})
				out := rdMust(t, 3, node, common.NewTensor(shape, x))
				want := argNaive(shape, x, axis, op == "ArgMax", last == 1)
				require.Equal(t, want, common.Data[int64](out[0]), "%s %v axis %d last %d", op, shape, axis, last)
				ws := shape.Clone()
				ws[axis] = 1
				if keep == 0 {
					ws = append(ws[:axis:axis], shape[axis+1:]...)
				}
				require.Equal(t, ws, out[0].Shape())
			}
		}
	}
	i := common.NewTensor(common.Shape{2, 2}, []int64{5, 9, 9, 1})
	out := rdMust(t, 1, rdNode("ArgMax", 13, map[string]any{"axis": 1}), i)
	require.Equal(t, []int64{1, 0}, common.Data[int64](out[0]))
	_, err := rdRun(t, 1, rdNode("ArgMax", 13, map[string]any{"axis": 2}), i)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = rdRun(t, 1, rdNode("ArgMin", 13, nil), common.NewTensor(common.Shape{0, 2}, []float32{}))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestCumSum(t *testing.T) {
	x := common.NewTensor(common.Shape{5}, []float64{1, 2, 3, 4, 5})
	ax := common.Scalar(int32(0))
	cases := []struct {
		excl, rev int
		want      []float64
	}{
		{0, 0, []float64{1, 3, 6, 10, 15}},
		{1, 0, []float64{0, 1, 3, 6, 10}},
		{0, 1, []float64{15, 14, 12, 9, 5}},
		{1, 1, []float64{14, 12, 9, 5, 0}},
	}
	for _, c := range cases {
		out := rdMust(t, 1, rdNode("CumSum", 14, map[string]any{"exclusive": c.excl, "reverse": c.rev}), x, ax)
		require.Equal(t, c.want, common.Data[float64](out[0]), "%+v", c)
	}
	// 2-D along each axis, against a naive scan, with many threads.
	rng := rand.New(rand.NewSource(3))
	shape := common.Shape{7, 300}
	v := make([]int64, shape.Size())
	for i := range v {
		v[i] = int64(rng.Intn(100) - 50)
	}
	for axis := -2; axis < 2; axis++ {
		for _, excl := range []int{0, 1} {
			for _, rev := range []int{0, 1} {
				out := rdMust(t, 4, rdNode("CumSum", 14, map[string]any{"exclusive": excl, "reverse": rev}),
					common.NewTensor(shape, v), common.NewTensor(common.Shape{1}, []int64{int64(axis)}))
				got := common.Data[int64](out[0])
				a := (axis + 2) % 2
				for i := 0; i < shape[0]; i++ {
					for j := 0; j < shape[1]; j++ {
						var s int64
						pos := []int{i, j}[a]
						for q := 0; q < shape[a]; q++ {
							p := []int{i, j}
							p[a] = q
							if (rev == 0 && q < pos) || (rev == 1 && q > pos) || (q == pos && excl == 0) {
								s += v[p[0]*shape[1]+p[1]]
							}
						}
						require.Equal(t, s, got[i*shape[1]+j])
					}
				}
			}
		}
	}
	_, err := rdRun(t, 1, rdNode("CumSum", 14, nil), x, common.Scalar(int64(1)))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = rdRun(t, 1, rdNode("CumSum", 14, nil), x, common.Scalar(float32(0)))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestReduceAllParallelMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	x := make([]float32, 300_001)
	for i := range x {
		x[i] = float32(rng.Float64() + 0.5)
	}
	xt := common.NewTensor(common.Shape{len(x)}, x)
	for _, op := range rdOps {
		serial := rdMust(t, 1, rdNode(op, 18, nil), xt)
		par := rdMust(t, 4, rdNode(op, 18, nil), xt)
		s, p := float64(common.Data[float32](serial[0])[0]), float64(common.Data[float32](par[0])[0])
		if op == "ReduceProd" {
			require.Equal(t, s, p, op) // both overflow to +inf
			continue
		}
		require.InDelta(t, s, p, 1e-6*math.Abs(s), op)
	}
}

func BenchmarkReduceSum(b *testing.B) {
	x := make([]float32, 512*512)
	for i := range x {
		x[i] = float32(i % 7)
	}
	xt := common.NewTensor(common.Shape{512, 512}, x)
	for _, axis := range []int64{0, 1} {
		b.Run([]string{"outer", "inner"}[axis], func(b *testing.B) {
			c := rdCtx(2)
			defer c.eng.pool.close()
			n := rdNode("ReduceSum", 13, nil)
			k := kernels["ReduceSum"].tensor
			ax := rdAxes(axis)
			b.SetBytes(int64(len(x) * 4))
			for i := 0; i < b.N; i++ {
				if _, err := k(c, n, []*common.Tensor{xt, ax}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestReduceFamilyHostileInputs feeds random shapes, dtypes, axes and
// attributes to every op of this family: each call must return either an
// error or outputs, never panic.
func TestReduceFamilyHostileInputs(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	ops := append(append([]string{}, rdOps...), "ArgMax", "ArgMin", "TopK", "CumSum", "Softmax",
		"LogSoftmax", "Hardmax", "LpNormalization", "Einsum")
	eqs := []string{"ij->ji", "ii", "...", "i...j,j->i", "ab,bc->ac", "->", ",", "a", "aa->a", "...a,...a->..."}
	mk := func() *common.Tensor {
		rank := rng.Intn(4)
		shape := make(common.Shape, rank)
		for i := range shape {
			shape[i] = rng.Intn(4)
		}
		n := shape.Size()
		switch rng.Intn(4) {
		case 0:
			return common.NewTensor(shape, make([]float32, n))
		case 1:
			return common.NewTensor(shape, make([]int8, n))
		case 2:
			return common.NewTensor(shape, make([]bool, n))
		}
		return common.NewTensor(shape, make([]common.F16, n))
	}
	c := rdCtx(2)
	defer c.eng.pool.close()
	for trial := 0; trial < 3000; trial++ {
		op := ops[rng.Intn(len(ops))]
		attrs := map[string]any{
			"axis": rng.Intn(11) - 5, "keepdims": rng.Intn(3) - 1, "k": rng.Intn(6) - 1,
			"p": rng.Intn(4), "select_last_index": rng.Intn(2), "noop_with_empty_axes": rng.Intn(2),
			"axes":     []int64{int64(rng.Intn(9) - 4), int64(rng.Intn(9) - 4)}[:rng.Intn(3)],
			"equation": eqs[rng.Intn(len(eqs))],
		}
		n := rdNode(op, []int64{1, 11, 13, 18, 20}[rng.Intn(5)], attrs)
		in := []*common.Tensor{mk()}
		for j := rng.Intn(3); j > 0; j-- {
			switch rng.Intn(3) {
			case 0:
				in = append(in, common.NewTensor(common.Shape{1}, []int64{int64(rng.Intn(9) - 4)}))
			case 1:
				in = append(in, nil)
			default:
				in = append(in, mk())
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s opset %d attrs %v inputs %v: panic %v", op, n.Opset, attrs, in, r)
				}
			}()
			out, err := kernels[op].tensor(c, n, in)
			if err == nil {
				require.NotEmpty(t, out)
				require.NotNil(t, out[0])
			}
		}()
	}
}
