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

func rnCtx() *Ctx {
	e := &Engine{limits: common.Limits{}.WithDefaults(), pool: newPool(3)}
	return &Ctx{ctx: context.Background(), eng: e, run: &runState{}}
}

func rnNode(op string, outs []string, attrs ...*common.Attribute) *common.Node {
	n := &common.Node{OpType: op, Opset: 22, Outputs: outs, Attrs: map[string]*common.Attribute{}}
	for _, a := range attrs {
		n.Attrs[a.Name] = a
	}
	return n
}

func rnRand(r *rand.Rand, shape ...int) *common.Tensor {
	s := common.Shape(shape)
	d := make([]float32, s.Size())
	for i := range d {
		d[i] = float32(r.Float64()*2 - 1)
	}
	return common.NewTensor(s, d)
}

// rnCase is one configuration for the naive reference.
type rnCase struct {
	kind             rnnKind
	dirs             []bool // reverse per direction
	seq, batch, in   int
	hidden           int
	layout           int
	lens             []int
	bias, h0, c0, p  bool
	lbr, inputForget bool
	clip             float64
	acts             []string
	alphas, betas    []float32
}

func rnActRef(name string, alpha, beta float64, x float64) float64 {
	switch name {
	case "Sigmoid":
		return 1 / (1 + math.Exp(-x))
	case "Tanh":
		return math.Tanh(x)
	case "Relu":
		if x < 0 {
			return 0
		}
		return x
	case "Affine":
		return alpha*x + beta
	case "LeakyRelu":
		if x < 0 {
			return alpha * x
		}
		return x
	case "ThresholdedRelu":
		if x > alpha {
			return x
		}
		return 0
	case "ScaledTanh":
		return alpha * math.Tanh(beta*x)
	case "HardSigmoid":
		return math.Min(1, math.Max(0, alpha*x+beta))
	case "Elu":
		if x < 0 {
			return alpha * (math.Exp(x) - 1)
		}
		return x
	case "Softsign":
		return x / (1 + math.Abs(x))
	case "Softplus":
		return math.Log(1 + math.Exp(x))
	}
	panic(name)
}

// rnReference computes Y, Y_h, Y_c from the spec's equations, one element
// at a time. Tensors are given in the layout of the case.
func rnReference(tc rnCase, x, w, r, b, h0, c0, p *common.Tensor) (y, yh, yc []float64) {
	G := map[rnnKind]int{kindRNN: 1, kindGRU: 3, kindLSTM: 4}[tc.kind]
	H, B, S, I, D := tc.hidden, tc.batch, tc.seq, tc.in, len(tc.dirs)
	X := func(t, bb, i int) float64 {
		if tc.layout == 0 {
			return x.Float((t*B+bb)*I + i)
		}
		return x.Float((bb*S+t)*I + i)
	}
	st := func(d, bb, j int) int {
		if tc.layout == 0 {
			return (d*B+bb)*H + j
		}
		return (bb*D+d)*H + j
	}
	yi := func(t, d, bb, j int) int {
		if tc.layout == 0 {
			return ((t*D+d)*B+bb)*H + j
		}
		return ((bb*S+t)*D+d)*H + j
	}
	y = make([]float64, S*D*B*H)
	yh = make([]float64, D*B*H)
	yc = make([]float64, D*B*H)
	// activation parameters, consumed in order by those that take them
	type act struct {
		name        string
		alpha, beta float64
	}
	per := G - 1
	if G == 1 {
		per = 1
	}
	if G == 4 {
		per = 3
	}
	var acts []act
	ai, bi := 0, 0
	for k := 0; k < per*D; k++ {
		name := tc.acts[k%len(tc.acts)]
		if len(tc.acts) >= per*D {
			name = tc.acts[k]
		}
		a := act{name: name}
		defA := map[string]float64{"Affine": 1, "LeakyRelu": 0.01, "ThresholdedRelu": 1, "ScaledTanh": 1, "HardSigmoid": 0.2, "Elu": 1}
		defB := map[string]float64{"Affine": 0, "ScaledTanh": 1, "HardSigmoid": 0.5}
		if v, ok := defA[name]; ok {
			a.alpha = v
			if ai < len(tc.alphas) {
				a.alpha = float64(tc.alphas[ai])
				ai++
			}
		}
		if v, ok := defB[name]; ok {
			a.beta = v
			if bi < len(tc.betas) {
				a.beta = float64(tc.betas[bi])
				bi++
			}
		}
		acts = append(acts, a)
	}
	cl := func(v float64) float64 {
		if tc.clip > 0 {
			return math.Max(-tc.clip, math.Min(tc.clip, v))
		}
		return v
	}
	for d := 0; d < D; d++ {
		f := func(k int, v float64) float64 { a := acts[d*per+k]; return rnActRef(a.name, a.alpha, a.beta, v) }
		for bb := 0; bb < B; bb++ {
			L := tc.lens[bb]
			h := make([]float64, H)
			c := make([]float64, H)
			if h0 != nil {
				for j := range h {
					h[j] = h0.Float(st(d, bb, j))
				}
			}
			if c0 != nil {
				for j := range c {
					c[j] = c0.Float(st(d, bb, j))
				}
			}
			// gate pre-activation without recurrence: Wx + Wb
			wx := func(t, g, j int) float64 {
				s := 0.0
				for i := 0; i < I; i++ {
					s += X(t, bb, i) * w.Float((d*G*H+g*H+j)*I+i)
				}
				if b != nil {
					s += b.Float(d*2*G*H + g*H + j)
				}
				return s
			}
			rh := func(hv []float64, g, j int) float64 {
				s := 0.0
				for k := 0; k < H; k++ {
					s += hv[k] * r.Float((d*G*H+g*H+j)*H+k)
				}
				return s
			}
			rb := func(g, j int) float64 {
				if b == nil {
					return 0
				}
				return b.Float(d*2*G*H + G*H + g*H + j)
			}
			for s := 0; s < L; s++ {
				t := s
				if tc.dirs[d] {
					t = L - 1 - s
				}
				nh := make([]float64, H)
				nc := make([]float64, H)
				for j := 0; j < H; j++ {
					switch tc.kind {
					case kindRNN:
						nh[j] = f(0, cl(wx(t, 0, j)+rh(h, 0, j)+rb(0, j)))
					case kindGRU:
						z := f(0, cl(wx(t, 0, j)+rh(h, 0, j)+rb(0, j)))
						rr := make([]float64, H)
						for k := 0; k < H; k++ {
							rr[k] = f(0, cl(wx(t, 1, k)+rh(h, 1, k)+rb(1, k)))
						}
						var hh float64
						if tc.lbr {
							hh = f(1, cl(wx(t, 2, j)+rr[j]*(rh(h, 2, j)+rb(2, j))))
						} else {
							rhv := make([]float64, H)
							for k := range rhv {
								rhv[k] = rr[k] * h[k]
							}
							hh = f(1, cl(wx(t, 2, j)+rh(rhv, 2, j)+rb(2, j)))
						}
						nh[j] = (1-z)*hh + z*h[j]
					case kindLSTM:
						pi, po, pf := 0.0, 0.0, 0.0
						if p != nil {
							pi, po, pf = p.Float(d*3*H+j), p.Float(d*3*H+H+j), p.Float(d*3*H+2*H+j)
						}
						ig := f(0, cl(wx(t, 0, j)+rh(h, 0, j)+rb(0, j)+pi*c[j]))
						fg := f(0, cl(wx(t, 2, j)+rh(h, 2, j)+rb(2, j)+pf*c[j]))
						if tc.inputForget {
							fg = 1 - ig
						}
						cc := f(1, cl(wx(t, 3, j)+rh(h, 3, j)+rb(3, j)))
						nc[j] = fg*c[j] + ig*cc
						og := f(0, cl(wx(t, 1, j)+rh(h, 1, j)+rb(1, j)+po*nc[j]))
						nh[j] = og * f(2, nc[j])
					}
				}
				h = nh
				if tc.kind == kindLSTM {
					c = nc
				}
				for j := 0; j < H; j++ {
					y[yi(t, d, bb, j)] = h[j]
				}
			}
			if L > 0 {
				for j := 0; j < H; j++ {
					yh[st(d, bb, j)] = h[j]
					yc[st(d, bb, j)] = c[j]
				}
			}
		}
	}
	return y, yh, yc
}

func rnRun(t *testing.T, tc rnCase, seed int64) {
	r := rand.New(rand.NewSource(seed))
	G := map[rnnKind]int{kindRNN: 1, kindGRU: 3, kindLSTM: 4}[tc.kind]
	op := map[rnnKind]string{kindRNN: "RNN", kindGRU: "GRU", kindLSTM: "LSTM"}[tc.kind]
	D := len(tc.dirs)
	H, B, S := tc.hidden, tc.batch, tc.seq
	var x *common.Tensor
	if tc.layout == 0 {
		x = rnRand(r, S, B, tc.in)
	} else {
		x = rnRand(r, B, S, tc.in)
	}
	w := rnRand(r, D, G*H, tc.in)
	rr := rnRand(r, D, G*H, H)
	in := []*common.Tensor{x, w, rr, nil, nil, nil}
	var b, h0, c0, p *common.Tensor
	if tc.bias {
		b = rnRand(r, D, 2*G*H)
		in[3] = b
	}
	if tc.lens != nil {
		l := make([]int32, B)
		for i, v := range tc.lens {
			l[i] = int32(v)
		}
		in[4] = common.NewTensor(common.Shape{B}, l)
	} else {
		tc.lens = make([]int, B)
		for i := range tc.lens {
			tc.lens[i] = S
		}
	}
	stShape := []int{D, B, H}
	if tc.layout == 1 {
		stShape = []int{B, D, H}
	}
	if tc.h0 {
		h0 = rnRand(r, stShape...)
		in[5] = h0
	}
	if tc.kind == kindLSTM {
		in = append(in, nil, nil)
		if tc.c0 {
			c0 = rnRand(r, stShape...)
			in[6] = c0
		}
		if tc.p {
			p = rnRand(r, D, 3*H)
			in[7] = p
		}
	}
	dir := "forward"
	if D == 2 {
		dir = "bidirectional"
	} else if tc.dirs[0] {
		dir = "reverse"
	}
	attrs := []*common.Attribute{
		{Name: "direction", Type: common.AttrString, S: []byte(dir)},
		{Name: "hidden_size", Type: common.AttrInt, I: int64(H)},
		{Name: "layout", Type: common.AttrInt, I: int64(tc.layout)},
	}
	if tc.clip > 0 {
		attrs = append(attrs, &common.Attribute{Name: "clip", Type: common.AttrFloat, F: float32(tc.clip)})
	}
	if tc.lbr {
		attrs = append(attrs, &common.Attribute{Name: "linear_before_reset", Type: common.AttrInt, I: 1})
	}
	if tc.inputForget {
		attrs = append(attrs, &common.Attribute{Name: "input_forget", Type: common.AttrInt, I: 1})
	}
	if tc.acts != nil {
		a := &common.Attribute{Name: "activations", Type: common.AttrStrings}
		for _, s := range tc.acts {
			a.Strings = append(a.Strings, []byte(s))
		}
		attrs = append(attrs, a)
	} else {
		tc.acts = map[rnnKind][]string{kindRNN: {"Tanh"}, kindGRU: {"Sigmoid", "Tanh"}, kindLSTM: {"Sigmoid", "Tanh", "Tanh"}}[tc.kind]
	}
	if tc.alphas != nil {
		attrs = append(attrs, &common.Attribute{Name: "activation_alpha", Type: common.AttrFloats, Floats: tc.alphas})
	}
	if tc.betas != nil {
		attrs = append(attrs, &common.Attribute{Name: "activation_beta", Type: common.AttrFloats, Floats: tc.betas})
	}
	outs := []string{"y", "yh"}
	if tc.kind == kindLSTM {
		outs = append(outs, "yc")
	}
	n := rnNode(op, outs, attrs...)
	got, err := kernels[op].tensor(rnCtx(), n, in)
	require.NoError(t, err)
	wy, wyh, wyc := rnReference(tc, x, w, rr, b, h0, c0, p)
	cmp := func(name string, g *common.Tensor, want []float64) {
		require.Equal(t, len(want), g.Len(), name)
		for i, v := range want {
			require.InDelta(t, v, g.Float(i), 1e-4, "%s[%d]", name, i)
		}
	}
	yShape := common.Shape{S, D, B, H}
	if tc.layout == 1 {
		yShape = common.Shape{B, S, D, H}
	}
	require.Equal(t, yShape, got[0].Shape())
	require.Equal(t, common.Shape(stShape), got[1].Shape())
	cmp("Y", got[0], wy)
	cmp("Y_h", got[1], wyh)
	if tc.kind == kindLSTM {
		cmp("Y_c", got[2], wyc)
	}
}

func TestRNNMatchesReference(t *testing.T) {
	fw, rev, bi := []bool{false}, []bool{true}, []bool{false, true}
	cases := map[string]rnCase{
		"rnn_fw":          {kind: kindRNN, dirs: fw, seq: 4, batch: 2, in: 3, hidden: 5},
		"rnn_bi_all":      {kind: kindRNN, dirs: bi, seq: 3, batch: 3, in: 2, hidden: 4, bias: true, h0: true, lens: []int{3, 1, 2}},
		"rnn_relu_layout": {kind: kindRNN, dirs: rev, seq: 3, batch: 2, in: 2, hidden: 3, layout: 1, bias: true, acts: []string{"Relu"}},
		"rnn_acts_alpha": {kind: kindRNN, dirs: bi, seq: 2, batch: 2, in: 3, hidden: 3, acts: []string{"LeakyRelu", "ScaledTanh"},
			alphas: []float32{0.3, 0.7}, betas: []float32{1.5}},
		"gru_fw":          {kind: kindGRU, dirs: fw, seq: 4, batch: 2, in: 3, hidden: 4, bias: true},
		"gru_lbr":         {kind: kindGRU, dirs: fw, seq: 3, batch: 2, in: 3, hidden: 4, bias: true, lbr: true, h0: true},
		"gru_bi_lens":     {kind: kindGRU, dirs: bi, seq: 4, batch: 3, in: 2, hidden: 3, bias: true, lens: []int{2, 4, 0}, layout: 1},
		"gru_clip_acts":   {kind: kindGRU, dirs: rev, seq: 3, batch: 1, in: 2, hidden: 3, clip: 0.5, acts: []string{"HardSigmoid", "Softsign"}, alphas: []float32{0.25}},
		"lstm_fw":         {kind: kindLSTM, dirs: fw, seq: 4, batch: 2, in: 3, hidden: 4},
		"lstm_peep_bi":    {kind: kindLSTM, dirs: bi, seq: 3, batch: 2, in: 3, hidden: 2, bias: true, h0: true, c0: true, p: true, lens: []int{3, 2}},
		"lstm_layout1":    {kind: kindLSTM, dirs: rev, seq: 3, batch: 2, in: 2, hidden: 3, layout: 1, bias: true, c0: true},
		"lstm_forget":     {kind: kindLSTM, dirs: fw, seq: 3, batch: 2, in: 2, hidden: 3, inputForget: true, clip: 0.8},
		"lstm_acts_bi":    {kind: kindLSTM, dirs: bi, seq: 2, batch: 2, in: 2, hidden: 2, acts: []string{"Sigmoid", "Elu", "Softplus", "HardSigmoid", "Affine", "ThresholdedRelu"}, alphas: []float32{0.9, 0.3, 0.5}, betas: []float32{0.4, 0.2}},
		"lstm_one_acts":   {kind: kindLSTM, dirs: bi, seq: 2, batch: 1, in: 2, hidden: 2, acts: []string{"Sigmoid", "Tanh", "Relu"}},
		"lstm_big_hidden": {kind: kindLSTM, dirs: fw, seq: 5, batch: 3, in: 16, hidden: 24, bias: true},
	}
	seed := int64(1)
	for name, tc := range cases {
		seed++
		t.Run(name, func(t *testing.T) { rnRun(t, tc, seed) })
	}
}

func TestRNNOptionalOutputsAndHalf(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	x := rnRand(r, 2, 1, 2)
	w := rnRand(r, 1, 4*3, 2)
	rr := rnRand(r, 1, 4*3, 3)
	// Only Y_h wanted.
	n := rnNode("LSTM", []string{"", "yh"})
	got, err := kernels["LSTM"].tensor(rnCtx(), n, []*common.Tensor{x, w, rr})
	require.NoError(t, err)
	require.Nil(t, got[0])
	require.Nil(t, got[2])
	full, err := kernels["LSTM"].tensor(rnCtx(), rnNode("LSTM", []string{"y", "yh", "yc"}), []*common.Tensor{x, w, rr})
	require.NoError(t, err)
	require.Equal(t, full[1].Floats(), got[1].Floats())
	// Y_h is the last step of Y.
	require.Equal(t, full[0].Floats()[3:6], full[1].Floats())

	// float16 inputs give float16 outputs close to the float32 result.
	h := func(t32 *common.Tensor) *common.Tensor { return FromFloat32(t32, common.Float16) }
	hx, hw, hr := h(x), h(w), h(rr)
	ref, err := kernels["LSTM"].tensor(rnCtx(), rnNode("LSTM", []string{"y", "yh"}), []*common.Tensor{ToFloat32(hx), ToFloat32(hw), ToFloat32(hr)})
	require.NoError(t, err)
	hg, err := kernels["LSTM"].tensor(rnCtx(), rnNode("LSTM", []string{"y", "yh"}), []*common.Tensor{hx, hw, hr})
	require.NoError(t, err)
	require.Equal(t, common.Float16, hg[0].DType())
	for i := 0; i < ref[0].Len(); i++ {
		require.InDelta(t, ref[0].Float(i), hg[0].Float(i), 2e-3)
	}

	// float64 is computed in float64.
	d := func(t32 *common.Tensor) *common.Tensor { return FromFloat32(t32, common.Float64) }
	g64, err := kernels["GRU"].tensor(rnCtx(), rnNode("GRU", []string{"y"}), []*common.Tensor{d(x), d(rnRand(r, 1, 9, 2)), d(rnRand(r, 1, 9, 3))})
	require.NoError(t, err)
	require.Equal(t, common.Float64, g64[0].DType())
	require.Equal(t, common.Shape{2, 1, 1, 3}, g64[0].Shape())
}

func TestRNNBadInputs(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	x := rnRand(r, 2, 1, 2)
	w := rnRand(r, 1, 3, 2)
	rr := rnRand(r, 1, 3, 3)
	run := func(n *common.Node, in ...*common.Tensor) error {
		_, err := kernels[n.OpType].tensor(rnCtx(), n, in)
		return err
	}
	is := func(err, kind error) {
		t.Helper()
		require.Error(t, err)
		require.True(t, errors.Is(err, kind), "%v", err)
	}
	require.NoError(t, run(rnNode("RNN", []string{"y"}), x, w, rr))
	is(run(rnNode("RNN", []string{"y"}), x, rnRand(r, 1, 4, 2), rr), common.ErrShape)
	is(run(rnNode("RNN", []string{"y"}, &common.Attribute{Name: "direction", Type: common.AttrString, S: []byte("sideways")}), x, rnRand(r, 1, 3, 2), rnRand(r, 1, 3, 3)), common.ErrInvalidModel)
	good := []*common.Tensor{x, rnRand(r, 1, 3, 2), rnRand(r, 1, 3, 3)}
	is(run(rnNode("RNN", []string{"y"}, &common.Attribute{Name: "hidden_size", Type: common.AttrInt, I: 4}), good...), common.ErrShape)
	is(run(rnNode("RNN", []string{"y"}), rnRand(r, 2, 2), good[1], good[2]), common.ErrShape)
	is(run(rnNode("RNN", []string{"y"}), good[0], good[1], good[2], nil, common.NewTensor(common.Shape{1}, []int32{5})), common.ErrShape)
	is(run(rnNode("RNN", []string{"y"}), good[0], good[1], good[2], nil, common.NewTensor(common.Shape{1}, []int32{-1})), common.ErrShape)
	is(run(rnNode("RNN", []string{"y"}, &common.Attribute{Name: "activations", Type: common.AttrStrings, Strings: [][]byte{[]byte("Gelu")}}), good...), common.ErrUnsupported)
	is(run(rnNode("RNN", []string{"y"}, &common.Attribute{Name: "layout", Type: common.AttrInt, I: 2}), good...), common.ErrInvalidModel)
	is(run(rnNode("RNN", []string{"y"}), good[0], good[1]), common.ErrInvalidModel)
	is(run(rnNode("RNN", []string{"y"}), common.NewTensor(common.Shape{1, 1, 1}, []int32{1}), good[1], good[2]), common.ErrUnsupported)
}

func TestRNNHugeEmptyDims(t *testing.T) {
	// X holds no data but claims 2^40 batch entries: refused, not allocated.
	x := common.NewTensor(common.Shape{1, 1 << 40, 0}, []float32{})
	w := common.NewTensor(common.Shape{1, 1, 0}, []float32{})
	r := common.NewTensor(common.Shape{1, 1, 1}, []float32{0.5})
	for _, outs := range [][]string{{"y"}, {"", "yh"}} {
		_, err := kernels["RNN"].tensor(rnCtx(), rnNode("RNN", outs), []*common.Tensor{x, w, r})
		require.ErrorIs(t, err, common.ErrLimit)
	}
}

// TestRNNHostileShapes runs the recurrent ops on random, mostly wrong,
// input shapes and attributes: errors are fine, panics are not.
func TestRNNHostileShapes(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	dim := func() int { return r.Intn(4) }
	randT := func() *common.Tensor {
		switch r.Intn(6) {
		case 0:
			return nil
		case 1:
			return common.Zeros(common.Int32, common.Shape{dim()})
		}
		shape := make(common.Shape, r.Intn(4))
		for i := range shape {
			shape[i] = dim()
		}
		return rnRand(r, shape...)
	}
	for i := 0; i < 3000; i++ {
		op := []string{"RNN", "GRU", "LSTM"}[r.Intn(3)]
		in := make([]*common.Tensor, r.Intn(9))
		for j := range in {
			in[j] = randT()
		}
		if r.Intn(2) == 0 && len(in) > 4 {
			l := make([]int32, dim())
			for k := range l {
				l[k] = int32(r.Intn(5) - 1)
			}
			in[4] = common.NewTensor(common.Shape{len(l)}, l)
		}
		attrs := []*common.Attribute{}
		if r.Intn(2) == 0 {
			attrs = append(attrs, &common.Attribute{Name: "hidden_size", Type: common.AttrInt, I: int64(r.Intn(4) - 1)})
		}
		if r.Intn(2) == 0 {
			attrs = append(attrs, &common.Attribute{Name: "direction", Type: common.AttrString, S: []byte([]string{"forward", "reverse", "bidirectional", "x"}[r.Intn(4)])})
		}
		if r.Intn(2) == 0 {
			attrs = append(attrs, &common.Attribute{Name: "layout", Type: common.AttrInt, I: int64(r.Intn(3))})
		}
		n := rnNode(op, []string{"y", "yh", "yc"}[:1+r.Intn(3)], attrs...)
		require.NotPanics(t, func() { _, _ = kernels[op].tensor(rnCtx(), n, in) }, "%s %v", op, in)
	}
}
