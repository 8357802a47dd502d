package plan

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/cpu"
)

// fakeBackend runs a few float32 ops on a byte slice "device", so the
// planner can be tested without hardware. Other backends can reuse it as a
// model of what Backend requires.
type fakeBackend struct {
	arenas   int
	live     int
	launches int
}

func (b *fakeBackend) Name() string { return "fake" }

func (b *fakeBackend) Supports(n *common.Node, in []common.TypeInfo) (bool, string) {
	switch n.OpType {
	case "Softmax", "MatMul":
	default:
		return false, "no fake kernel"
	}
	for _, t := range in {
		if t.DType != common.Float32 {
			return false, "float32 only"
		}
	}
	return true, ""
}

type fakeArena struct {
	b    *fakeBackend
	mem  []byte
	done bool
}

func (a *fakeArena) Size() int64 { return int64(len(a.mem)) }
func (a *fakeArena) Write(off int64, b []byte) error {
	copy(a.mem[off:off+int64(len(b))], b)
	return nil
}
func (a *fakeArena) Read(off int64, b []byte) error {
	copy(b, a.mem[off:off+int64(len(b))])
	return nil
}
func (a *fakeArena) Close() error {
	if !a.done {
		a.done = true
		a.b.live--
	}
	return nil
}

func (b *fakeBackend) NewArena(n int64) (Arena, error) {
	b.arenas++
	b.live++
	mem := make([]byte, n)
	for i := range mem {
		mem[i] = 0xff // NaN garbage: reads of unwritten memory show
	}
	return &fakeArena{b: b, mem: mem}, nil
}

type fakeKernel struct {
	b       *fakeBackend
	n       *common.Node
	in, out []*Operand
}

func (k *fakeKernel) InPlace() int {
	if k.n.OpType == "Softmax" {
		return 0
	}
	return -1
}

func (b *fakeBackend) Prepare(n *common.Node, in, out []*Operand) (Kernel, error) {
	if n.OpType == "MatMul" && (len(in[0].Shape) != 2 || len(in[1].Shape) != 2) {
		return nil, fmt.Errorf("%w: fake MatMul is 2-D only", common.ErrUnsupported)
	}
	if n.OpType == "Softmax" && (n.AttrInt("axis", -1) != -1 || len(in[0].Shape) == 0) {
		return nil, fmt.Errorf("%w: fake Softmax is over the last axis only", common.ErrUnsupported)
	}
	return &fakeKernel{b: b, n: n, in: in, out: out}, nil
}

func f32s(mem []byte, off int64, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(mem[off+int64(4*i):]))
	}
	return v
}

func putF32s(mem []byte, off int64, v []float32) {
	for i, x := range v {
		binary.LittleEndian.PutUint32(mem[off+int64(4*i):], math.Float32bits(x))
	}
}

func (k *fakeKernel) Bind(a Arena, in, out []int64) (Launch, error) {
	mem := a.(*fakeArena).mem
	return func() error {
		k.b.launches++
		x := f32s(mem, in[0], k.in[0].Shape.Size())
		var r []float32
		switch k.n.OpType {
		case "Softmax":
			w := k.in[0].Shape[len(k.in[0].Shape)-1]
			r = make([]float32, len(x))
			for lo := 0; lo < len(x); lo += w {
				m := x[lo]
				for _, v := range x[lo : lo+w] {
					m = max(m, v)
				}
				var s float64
				for i := lo; i < lo+w; i++ {
					r[i] = float32(math.Exp(float64(x[i] - m)))
					s += float64(r[i])
				}
				for i := lo; i < lo+w; i++ {
					r[i] = float32(float64(r[i]) / s)
				}
			}
		case "MatMul":
			m, kk, nn := k.in[0].Shape[0], k.in[0].Shape[1], k.in[1].Shape[1]
			y := f32s(mem, in[1], kk*nn)
			r = make([]float32, m*nn)
			for i := 0; i < m; i++ {
				for j := 0; j < nn; j++ {
					var s float32
					for l := 0; l < kk; l++ {
						s += x[i*kk+l] * y[l*nn+j]
					}
					r[i*nn+j] = s
				}
			}
		}
		putF32s(mem, out[0], r)
		return nil
	}, nil
}

// randomModel builds a chain-and-branch graph over float32 [batch, w]
// values mixing device ops, CPU-only ops (Sigmoid, Tanh) and views.
func randomModel(rng *rand.Rand, w int) *common.Model {
	g := &common.Graph{Name: "random", Initializers: map[string]*common.Tensor{}}
	dims := []common.Dim{{Param: "batch"}, {Value: int64(w)}}
	g.Inputs = []common.ValueInfo{{Name: "x", Type: common.TypeInfo{Kind: common.KindTensor, DType: common.Float32, Dims: dims, HasShape: true}}}
	vals := []string{"x"}
	wdata := make([]float32, w*w)
	for i := range wdata {
		wdata[i] = rng.Float32() - 0.5
	}
	g.Initializers["W"] = common.NewTensor(common.Shape{w, w}, wdata)
	g.Initializers["shape"] = common.NewTensor(common.Shape{2}, []int64{-1, int64(w)})
	g.Initializers["flat"] = common.NewTensor(common.Shape{2}, []int64{1, -1})
	nodes := 8 + rng.Intn(12)
	for i := 0; i < nodes; i++ {
		a := vals[rng.Intn(len(vals))]
		b := vals[rng.Intn(len(vals))]
		out := fmt.Sprintf("v%d", i)
		var n *common.Node
		switch rng.Intn(8) {
		case 0:
			n = &common.Node{OpType: "Softmax", Inputs: []string{a}}
		case 1:
			n = &common.Node{OpType: "MatMul", Inputs: []string{a, "W"}}
		case 2:
			n = &common.Node{OpType: "Softmax", Inputs: []string{b}}
		case 3:
			n = &common.Node{OpType: "MatMul", Inputs: []string{b, "W"}}
		case 4:
			n = &common.Node{OpType: "LogSoftmax", Inputs: []string{a}}
		case 5:
			n = &common.Node{OpType: "Hardmax", Inputs: []string{a}}
		case 6:
			// A view round trip: flatten to [1, batch*w] and back.
			mid := out + "_flat"
			g.Nodes = append(g.Nodes, &common.Node{Name: "n" + mid, OpType: "Reshape", Opset: 17, Inputs: []string{a, "flat"}, Outputs: []string{mid}})
			n = &common.Node{OpType: "Reshape", Inputs: []string{mid, "shape"}}
		case 7:
			n = &common.Node{OpType: "Identity", Inputs: []string{a}}
		}
		n.Name = "n" + out
		n.Opset = 17
		n.Outputs = []string{out}
		g.Nodes = append(g.Nodes, n)
		vals = append(vals, out)
	}
	outs := map[string]bool{vals[len(vals)-1]: true, vals[1+rng.Intn(len(vals)-1)]: true}
	for name := range outs {
		g.Outputs = append(g.Outputs, common.ValueInfo{Name: name, Type: common.TypeInfo{Kind: common.KindTensor, DType: common.Float32}})
	}
	return &common.Model{IRVersion: 8, Opsets: map[string]int64{"": 17}, Graph: g}
}

func randInput(rng *rand.Rand, batch, w int) *common.Tensor {
	d := make([]float32, batch*w)
	for i := range d {
		d[i] = rng.Float32()*2 - 1
	}
	return common.NewTensor(common.Shape{batch, w}, d)
}

// checkNoOverlap fails if two roots alive at the same step share bytes.
func checkNoOverlap(t *testing.T, e *Engine, p *Plan) {
	t.Helper()
	for i, a := range p.roots {
		require.LessOrEqual(t, e.weightBytes+a.off+a.bytes, e.weightBytes+p.ActBytes)
		require.Zero(t, a.off%Alignment)
		for _, b := range p.roots[i+1:] {
			if a.bytes == 0 || b.bytes == 0 || a.last < b.first || b.last < a.first {
				continue
			}
			require.False(t, a.off < b.off+b.bytes && b.off < a.off+a.bytes,
				"roots %v [%d,%d] and %v [%d,%d] overlap at the same time", a.aliases, a.first, a.last, b.aliases, b.first, b.last)
		}
	}
}

func TestRandomGraphsMatchCPU(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	ctx := context.Background()
	var launches, views, inPlace, cpuNodes int
	for trial := 0; trial < 40; trial++ {
		w := 1 + rng.Intn(9)
		m := randomModel(rng, w)
		ref, err := cpu.Compile(m, common.Options{})
		require.NoError(t, err)
		be := &fakeBackend{}
		e, err := Compile(be, m, common.Options{})
		require.NoError(t, err, "trial %d", trial)
		require.NotEmpty(t, e.Placement())
		for _, batch := range []int{3, 1, 3, 5, 3} {
			x := randInput(rng, batch, w)
			want, err := ref.Run(ctx, map[string]*common.Tensor{"x": x})
			require.NoError(t, err)
			got, err := e.Run(ctx, map[string]*common.Tensor{"x": x})
			require.NoError(t, err, "trial %d batch %d", trial, batch)
			for name, wt := range want {
				require.Equal(t, wt.Shape(), got[name].Shape(), "trial %d %s", trial, name)
				require.InDeltaSlice(t, common.Data[float32](wt), common.Data[float32](got[name]), 1e-5, "trial %d output %s", trial, name)
			}
		}
		require.Equal(t, 3, e.Plans(), "signatures: probe (batch 1), 3, 5")
		for _, p := range e.plans {
			checkNoOverlap(t, e, p)
			for _, r := range p.roots {
				if len(r.aliases) > 1 {
					inPlace++
				}
			}
		}
		for _, pl := range e.Placement() {
			switch {
			case pl.Reason == "view":
				views++
			case pl.Device == "cpu":
				cpuNodes++
			}
		}
		launches += be.launches
		require.NoError(t, e.Close())
		require.NoError(t, e.Close())
		require.Zero(t, be.live, "arenas left after Close")
		ref.Close()
	}
	require.Positive(t, launches, "device kernels ran")
	require.Positive(t, views, "views were planned")
	require.Positive(t, inPlace, "buffers were shared")
	require.Positive(t, cpuNodes, "nodes fell back to the CPU")
}

func TestDeviceOnlyListsEveryUnsupportedNode(t *testing.T) {
	g := &common.Graph{Initializers: map[string]*common.Tensor{}}
	g.Inputs = []common.ValueInfo{{Name: "x", Type: common.TypeInfo{Kind: common.KindTensor, DType: common.Float32, Dims: []common.Dim{{Value: 2}, {Value: 3}}, HasShape: true}}}
	g.Nodes = []*common.Node{
		{Name: "a", OpType: "LogSoftmax", Opset: 17, Inputs: []string{"x"}, Outputs: []string{"y"}},
		{Name: "b", OpType: "Softmax", Opset: 17, Inputs: []string{"y"}, Outputs: []string{"z"}},
		{Name: "c", OpType: "Hardmax", Opset: 17, Inputs: []string{"z"}, Outputs: []string{"w"}},
	}
	g.Outputs = []common.ValueInfo{{Name: "w"}}
	m := &common.Model{Opsets: map[string]int64{"": 17}, Graph: g}
	be := &fakeBackend{}
	_, err := Compile(be, m, common.Options{DeviceOnly: true})
	require.ErrorIs(t, err, common.ErrUnsupported)
	require.Contains(t, err.Error(), "2 node(s)")
	require.Contains(t, err.Error(), "a (LogSoftmax)")
	require.Contains(t, err.Error(), "c (Hardmax)")
	require.Zero(t, be.live)

	e, err := Compile(be, m, common.Options{})
	require.NoError(t, err)
	defer e.Close()
	var _ common.Placer = e
	var _ common.ArenaSizer = e
	pl := e.Placement()
	require.Len(t, pl, 3)
	require.Equal(t, "cpu", pl[0].Device)
	require.Equal(t, "fake", pl[1].Device)
	require.Equal(t, "cpu", pl[2].Device)
	x := common.NewTensor(common.Shape{2, 3}, []float32{1, 2, 3, 3, 2, 1})
	out, err := e.Run(context.Background(), map[string]*common.Tensor{"x": x})
	require.NoError(t, err)
	// Hardmax of a softmax of a log-softmax: one-hot at each row's maximum.
	require.Equal(t, []float32{0, 0, 1, 1, 0, 0}, common.Data[float32](out["w"]))
	require.Positive(t, e.ArenaBytes())
}

func TestDataDependentShapeReplans(t *testing.T) {
	g := &common.Graph{Initializers: map[string]*common.Tensor{}}
	g.Inputs = []common.ValueInfo{{Name: "x", Type: common.TypeInfo{Kind: common.KindTensor, DType: common.Float32, Dims: []common.Dim{{Value: 1}, {Value: 4}}, HasShape: true}}}
	g.Nodes = []*common.Node{
		{Name: "sm", OpType: "Softmax", Opset: 17, Inputs: []string{"x"}, Outputs: []string{"s"}},
		{Name: "nz", OpType: "NonZero", Opset: 13, Inputs: []string{"x"}, Outputs: []string{"idx"}},
	}
	g.Outputs = []common.ValueInfo{{Name: "s"}, {Name: "idx"}}
	m := &common.Model{Opsets: map[string]int64{"": 17}, Graph: g}
	e, err := Compile(&fakeBackend{}, m, common.Options{})
	require.NoError(t, err)
	defer e.Close()
	ctx := context.Background()
	for _, x := range [][]float32{{1, 0, 2, 0}, {1, 0, 2, 0}, {0, 0, 3, 0}, {5, 6, 7, 8}} {
		out, err := e.Run(ctx, map[string]*common.Tensor{"x": common.NewTensor(common.Shape{1, 4}, x)})
		require.NoError(t, err)
		var want []int64
		for i, v := range x {
			if v != 0 {
				want = append(want, 0)
				_ = i
			}
		}
		var cols []int64
		for i, v := range x {
			if v != 0 {
				cols = append(cols, int64(i))
			}
		}
		require.Equal(t, append(want, cols...), common.Data[int64](out["idx"]), "NonZero of %v", x)
		require.Equal(t, common.Shape{2, len(cols)}, out["idx"].Shape())
	}
}
