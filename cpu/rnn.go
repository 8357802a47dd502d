package cpu

import (
	"fmt"
	"math"
	"strings"

	"github.com/accel-go/accel/common"
)

// Recurrent operators: RNN, GRU and LSTM. All three share the input
// checking, the activation functions and the time loop; they differ in the
// number of gates and in the cell update.

type rnnKind int

const (
	kindRNN rnnKind = iota
	kindGRU
	kindLSTM
)

func init() {
	reg("RNN", ViaFloat32(func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		return recurrent(c, n, in, kindRNN)
	}))
	reg("GRU", ViaFloat32(func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		return recurrent(c, n, in, kindGRU)
	}))
	reg("LSTM", ViaFloat32(func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		return recurrent(c, n, in, kindLSTM)
	}))
}

// Activation function kinds usable in the activations attribute.
const (
	actRelu = iota
	actTanh
	actSigmoid
	actAffine
	actLeakyRelu
	actThresholdedRelu
	actScaledTanh
	actHardSigmoid
	actElu
	actSoftsign
	actSoftplus
)

// rnnAct is one activation function with its parameters.
type rnnAct struct {
	kind        int
	alpha, beta float64
}

type actSpec struct {
	kind                int
	usesAlpha, usesBeta bool
	defAlpha, defBeta   float64
}

var rnnActs = map[string]actSpec{
	"relu":            {kind: actRelu},
	"tanh":            {kind: actTanh},
	"sigmoid":         {kind: actSigmoid},
	"affine":          {kind: actAffine, usesAlpha: true, usesBeta: true, defAlpha: 1},
	"leakyrelu":       {kind: actLeakyRelu, usesAlpha: true, defAlpha: 0.01},
	"thresholdedrelu": {kind: actThresholdedRelu, usesAlpha: true, defAlpha: 1},
	"scaledtanh":      {kind: actScaledTanh, usesAlpha: true, usesBeta: true, defAlpha: 1, defBeta: 1},
	"hardsigmoid":     {kind: actHardSigmoid, usesAlpha: true, usesBeta: true, defAlpha: 0.2, defBeta: 0.5},
	"elu":             {kind: actElu, usesAlpha: true, defAlpha: 1},
	"softsign":        {kind: actSoftsign},
	"softplus":        {kind: actSoftplus},
}

func (a rnnAct) apply(x float64) float64 {
	switch a.kind {
	case actRelu:
		return math.Max(x, 0)
	case actTanh:
		return math.Tanh(x)
	case actSigmoid:
		if x >= 0 {
			return 1 / (1 + math.Exp(-x))
		}
		e := math.Exp(x)
		return e / (1 + e)
	case actAffine:
		return a.alpha*x + a.beta
	case actLeakyRelu:
		if x >= 0 {
			return x
		}
		return a.alpha * x
	case actThresholdedRelu:
		if x > a.alpha {
			return x
		}
		return 0
	case actScaledTanh:
		return a.alpha * math.Tanh(a.beta*x)
	case actHardSigmoid:
		return math.Max(0, math.Min(1, a.alpha*x+a.beta))
	case actElu:
		if x >= 0 {
			return x
		}
		return a.alpha * (math.Exp(x) - 1)
	case actSoftsign:
		return x / (1 + math.Abs(x))
	case actSoftplus:
		if x > 30 {
			return x
		}
		return math.Log1p(math.Exp(x))
	}
	return x
}

// rnnSetup is everything the time loop needs, checked.
type rnnSetup struct {
	kind                           rnnKind
	gates                          int // 1 (RNN), 3 (GRU), 4 (LSTM)
	numDir                         int
	reverse                        []bool // per direction
	seq, batch                     int
	inSize                         int
	hidden                         int
	layout                         int
	acts                           [][]rnnAct // per direction: f (, g (, h))
	clip                           float64    // 0: none
	inputForget, linearBeforeReset bool
	lens                           []int // per batch entry
	want                           [3]bool
}

func rnnErr(n *common.Node, kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s %q: %s", kind, n.OpType, n.Label(), fmt.Sprintf(format, args...))
}

func parseRNN(c *Ctx, n *common.Node, in []*common.Tensor, kind rnnKind) (*rnnSetup, error) {
	s := &rnnSetup{kind: kind}
	var defActs []string
	switch kind {
	case kindRNN:
		s.gates, defActs = 1, []string{"Tanh"}
	case kindGRU:
		s.gates, defActs = 3, []string{"Sigmoid", "Tanh"}
	default:
		s.gates, defActs = 4, []string{"Sigmoid", "Tanh", "Tanh"}
	}
	switch dir := n.AttrString("direction", "forward"); dir {
	case "forward":
		s.numDir, s.reverse = 1, []bool{false}
	case "reverse":
		s.numDir, s.reverse = 1, []bool{true}
	case "bidirectional":
		s.numDir, s.reverse = 2, []bool{false, true}
	default:
		return nil, rnnErr(n, common.ErrInvalidModel, "direction %q is not forward, reverse or bidirectional", dir)
	}
	s.layout = int(n.AttrInt("layout", 0))
	if s.layout != 0 && s.layout != 1 {
		return nil, rnnErr(n, common.ErrInvalidModel, "layout %d is not 0 or 1", s.layout)
	}
	if clip := n.AttrFloat("clip", 0); n.HasAttr("clip") {
		if !(clip > 0) {
			return nil, rnnErr(n, common.ErrInvalidModel, "clip %v must be positive", clip)
		}
		s.clip = float64(clip)
	}
	s.inputForget = kind == kindLSTM && n.AttrInt("input_forget", 0) != 0
	s.linearBeforeReset = kind == kindGRU && n.AttrInt("linear_before_reset", 0) != 0

	x, err := need(n, in, 0)
	if err != nil {
		return nil, err
	}
	w, err := need(n, in, 1)
	if err != nil {
		return nil, err
	}
	r, err := need(n, in, 2)
	if err != nil {
		return nil, err
	}
	dt := x.DType()
	if dt != common.Float32 && dt != common.Float64 {
		return nil, unsupportedType(n, dt)
	}
	if x.Rank() != 3 {
		return nil, rnnErr(n, common.ErrShape, "input X must be 3-D, got shape %v", x.Shape())
	}
	xs := x.Shape()
	if s.layout == 0 {
		s.seq, s.batch = xs[0], xs[1]
	} else {
		s.batch, s.seq = xs[0], xs[1]
	}
	s.inSize = xs[2]
	if w.Rank() != 3 || w.Shape()[0] != s.numDir || w.Shape()[2] != s.inSize || w.Shape()[1]%s.gates != 0 {
		return nil, rnnErr(n, common.ErrShape, "W has shape %v, want [%d, %d*hidden_size, %d]", w.Shape(), s.numDir, s.gates, s.inSize)
	}
	s.hidden = w.Shape()[1] / s.gates
	if hs := n.AttrInt("hidden_size", int64(s.hidden)); hs != int64(s.hidden) {
		return nil, rnnErr(n, common.ErrShape, "hidden_size %d does not match W of shape %v", hs, w.Shape())
	}
	gh := s.gates * s.hidden
	check := func(t *common.Tensor, name string, want common.Shape) error {
		if t == nil {
			return nil
		}
		if t.DType() != dt {
			return rnnErr(n, common.ErrShape, "%s is %v, X is %v", name, t.DType(), dt)
		}
		if !t.Shape().Equal(want) {
			return rnnErr(n, common.ErrShape, "%s has shape %v, want %v", name, t.Shape(), want)
		}
		return nil
	}
	if err := check(r, "R", common.Shape{s.numDir, gh, s.hidden}); err != nil {
		return nil, err
	}
	if err := check(opt(in, 3), "B", common.Shape{s.numDir, 2 * gh}); err != nil {
		return nil, err
	}
	stateShape := common.Shape{s.numDir, s.batch, s.hidden}
	if s.layout == 1 {
		stateShape = common.Shape{s.batch, s.numDir, s.hidden}
	}
	if err := check(opt(in, 5), "initial_h", stateShape); err != nil {
		return nil, err
	}
	if kind == kindLSTM {
		if err := check(opt(in, 6), "initial_c", stateShape); err != nil {
			return nil, err
		}
		if err := check(opt(in, 7), "P", common.Shape{s.numDir, 3 * s.hidden}); err != nil {
			return nil, err
		}
	}
	// Dims alone may be huge when X holds no data.
	if _, err := c.Check(dt, common.Shape{s.numDir, s.batch, max(s.hidden, 1)}); err != nil {
		return nil, err
	}
	s.lens = make([]int, s.batch)
	if sl := opt(in, 4); sl != nil {
		if !sl.DType().IsInteger() || sl.Rank() != 1 || sl.Shape()[0] != s.batch {
			return nil, rnnErr(n, common.ErrShape, "sequence_lens must be an integer tensor of shape [%d], got %v%v", s.batch, sl.DType(), sl.Shape())
		}
		for b := range s.lens {
			v := sl.Int(b)
			if v < 0 || v > int64(s.seq) {
				return nil, rnnErr(n, common.ErrShape, "sequence_lens[%d] = %d is outside [0, %d]", b, v, s.seq)
			}
			s.lens[b] = int(v)
		}
	} else {
		for b := range s.lens {
			s.lens[b] = s.seq
		}
	}

	// Activations: one set per direction; a single set is shared by both.
	names := n.AttrStrings("activations")
	per := len(defActs)
	switch {
	case names == nil:
		for range s.numDir {
			names = append(names, defActs...)
		}
	case len(names) >= per*s.numDir:
		names = names[:per*s.numDir]
	case len(names) == per:
		names = append(names, names...)
	default:
		return nil, rnnErr(n, common.ErrInvalidModel, "%d activations given, want %d", len(names), per*s.numDir)
	}
	alphas, betas := n.AttrFloats("activation_alpha"), n.AttrFloats("activation_beta")
	s.acts = make([][]rnnAct, s.numDir)
	for i, name := range names {
		spec, ok := rnnActs[strings.ToLower(name)]
		if !ok {
			return nil, &common.UnsupportedError{Op: n.OpType, Domain: n.Domain, Opset: n.Opset, Backend: Name, Node: n.Name,
				Reason: fmt.Sprintf("activation function %q", name)}
		}
		a := rnnAct{kind: spec.kind, alpha: spec.defAlpha, beta: spec.defBeta}
		if spec.usesAlpha && len(alphas) > 0 {
			a.alpha, alphas = float64(alphas[0]), alphas[1:]
		}
		if spec.usesBeta && len(betas) > 0 {
			a.beta, betas = float64(betas[0]), betas[1:]
		}
		s.acts[i/per] = append(s.acts[i/per], a)
	}
	for i := range s.want {
		s.want[i] = i < len(n.Outputs) && n.Outputs[i] != ""
	}
	if kind != kindLSTM {
		s.want[2] = false
	}
	return s, nil
}

func recurrent(c *Ctx, n *common.Node, in []*common.Tensor, kind rnnKind) ([]*common.Tensor, error) {
	s, err := parseRNN(c, n, in, kind)
	if err != nil {
		return nil, err
	}
	if in[0].DType() == common.Float64 {
		return runRNN[float64](c, s, in)
	}
	return runRNN[float32](c, s, in)
}

type rnnFloat interface{ ~float32 | ~float64 }

// rnnMatMul computes out = a * b^T for an m x k matrix a and an nb x k
// matrix b: through the shared sgemm for float32, directly for float64.
func rnnMatMul[T rnnFloat](c *Ctx, a []T, m, k int, b []T, nb int, out []T) {
	if af, ok := any(a).([]float32); ok {
		sgemm(c, false, true, m, nb, k, 1, af, max(k, 1), any(b).([]float32), max(k, 1), 0, any(out).([]float32), max(nb, 1))
		return
	}
	matMulABt(c, a, m, k, b, nb, out)
}

// matMulABt computes out[i*nb+j] = sum_p a[i*k+p] * b[j*k+p] for an m x k
// matrix a and an nb x k matrix b (out = a * b^T).
func matMulABt[T rnnFloat](c *Ctx, a []T, m, k int, b []T, nb int, out []T) {
	grain := max(1, 8192/max(k, 1))
	c.Parallel(m*nb, grain, func(lo, hi int) {
		for idx := lo; idx < hi; idx++ {
			i, j := idx/nb, idx%nb
			ar := a[i*k : i*k+k]
			br := b[j*k : j*k+k]
			var acc T
			for p, v := range ar {
				acc += v * br[p]
			}
			out[idx] = acc
		}
	})
}

func runRNN[T rnnFloat](c *Ctx, s *rnnSetup, in []*common.Tensor) ([]*common.Tensor, error) {
	dt := in[0].DType()
	H, B, S, G := s.hidden, s.batch, s.seq, s.gates
	gh := G * H
	rows := S * B
	x := common.Data[T](in[0])
	w := common.Data[T](in[1])
	r := common.Data[T](in[2])
	var bias, h0, c0, peep []T
	if t := opt(in, 3); t != nil {
		bias = common.Data[T](t)
	}
	if t := opt(in, 5); t != nil {
		h0 = common.Data[T](t)
	}
	if s.kind == kindLSTM {
		if t := opt(in, 6); t != nil {
			c0 = common.Data[T](t)
		}
		if t := opt(in, 7); t != nil {
			peep = common.Data[T](t)
		}
	}

	// Outputs.
	var yShape, stShape common.Shape
	if s.layout == 0 {
		yShape, stShape = common.Shape{S, s.numDir, B, H}, common.Shape{s.numDir, B, H}
	} else {
		yShape, stShape = common.Shape{B, S, s.numDir, H}, common.Shape{B, s.numDir, H}
	}
	var yT, yhT, ycT *common.Tensor
	var err error
	if s.want[0] {
		if yT, err = c.Alloc(dt, yShape); err != nil {
			return nil, err
		}
	}
	if yhT, err = c.Alloc(dt, stShape); err != nil {
		return nil, err
	}
	if s.kind == kindLSTM {
		if ycT, err = c.Alloc(dt, stShape); err != nil {
			return nil, err
		}
	}
	// Scratch: the input projection of every step, per direction.
	xwT, err := c.Alloc(dt, common.Shape{rows, gh})
	if err != nil {
		return nil, err
	}
	xw := common.Data[T](xwT)
	// The per-step scratch is sized by dims alone (X and W may be empty).
	if _, err := c.Check(dt, common.Shape{4 * B, gh}); err != nil {
		return nil, err
	}
	hr := make([]T, B*gh)
	hState := make([]T, B*H)
	cState := make([]T, B*H)
	rh := make([]T, B*H) // GRU: r (.) H_{t-1}
	var y []T
	if yT != nil {
		y = common.Data[T](yT)
	}
	yh := common.Data[T](yhT)
	var yc []T
	if ycT != nil {
		yc = common.Data[T](ycT)
	}
	maxLen := 0
	for _, l := range s.lens {
		maxLen = max(maxLen, l)
	}
	// row of X (and xw) holding step t of batch entry b
	xrow := func(t, b int) int {
		if s.layout == 0 {
			return t*B + b
		}
		return b*S + t
	}
	stIdx := func(d, b int) int {
		if s.layout == 0 {
			return (d*B + b) * H
		}
		return (b*s.numDir + d) * H
	}
	yIdx := func(t, d, b int) int {
		if s.layout == 0 {
			return ((t*s.numDir+d)*B + b) * H
		}
		return ((b*S+t)*s.numDir + d) * H
	}
	clip := func(v float64) float64 {
		if s.clip > 0 {
			if v > s.clip {
				return s.clip
			}
			if v < -s.clip {
				return -s.clip
			}
		}
		return v
	}

	for d := 0; d < s.numDir; d++ {
		if err := c.Err(); err != nil {
			return nil, err
		}
		wd := w[d*gh*s.inSize : (d+1)*gh*s.inSize]
		rd := r[d*gh*H : (d+1)*gh*H]
		rnnMatMul(c, x, rows, s.inSize, wd, gh, xw)
		// Fold the biases that are plain additions into the projection.
		var rbh []T // GRU with linear_before_reset: Rb of the h gate
		if bias != nil {
			bd := bias[d*2*gh : (d+1)*2*gh]
			add := make([]T, gh)
			for j := range add {
				add[j] = bd[j] + bd[gh+j]
			}
			if s.kind == kindGRU && s.linearBeforeReset {
				rbh = bd[gh+2*H : gh+3*H]
				copy(add[2*H:], bd[2*H:3*H])
			}
			c.Parallel(rows, max(1, 4096/max(gh, 1)), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					row := xw[i*gh : (i+1)*gh]
					for j, v := range add {
						row[j] += v
					}
				}
			})
		}
		var pd []T
		if peep != nil {
			pd = peep[d*3*H : (d+1)*3*H]
		}
		acts := s.acts[d]
		for b := 0; b < B; b++ {
			hs := hState[b*H : (b+1)*H]
			cs := cState[b*H : (b+1)*H]
			if h0 != nil {
				copy(hs, h0[stIdx(d, b):stIdx(d, b)+H])
			} else {
				clear(hs)
			}
			if c0 != nil {
				copy(cs, c0[stIdx(d, b):stIdx(d, b)+H])
			} else {
				clear(cs)
			}
		}
		for step := 0; step < maxLen; step++ {
			if err := c.Err(); err != nil {
				return nil, err
			}
			// Recurrent projection of the previous state.
			if s.kind == kindGRU && !s.linearBeforeReset {
				hr2 := hr[:B*2*H]
				rnnMatMul(c, hState, B, H, rd[:2*H*H], 2*H, hr2)
			} else {
				rnnMatMul(c, hState, B, H, rd, gh, hr)
			}
			tOf := func(b int) int {
				if s.reverse[d] {
					return s.lens[b] - 1 - step
				}
				return step
			}
			switch s.kind {
			case kindRNN:
				f := acts[0]
				for b := 0; b < B; b++ {
					if step >= s.lens[b] {
						continue
					}
					t := tOf(b)
					g := xw[xrow(t, b)*gh:]
					hs := hState[b*H : (b+1)*H]
					hb := hr[b*gh:]
					for j := 0; j < H; j++ {
						hs[j] = T(f.apply(clip(float64(g[j] + hb[j]))))
					}
				}
			case kindGRU:
				f, gAct := acts[0], acts[1]
				if !s.linearBeforeReset {
					// r first, then (r (.) H) * Rh^T.
					for b := 0; b < B; b++ {
						if step >= s.lens[b] {
							continue
						}
						g := xw[xrow(tOf(b), b)*gh:]
						hb := hr[b*2*H:]
						hs := hState[b*H : (b+1)*H]
						for j := 0; j < H; j++ {
							rt := f.apply(clip(float64(g[H+j] + hb[H+j])))
							rh[b*H+j] = T(rt) * hs[j]
						}
					}
					hh := hr[B*2*H : B*3*H]
					rnnMatMul(c, rh, B, H, rd[2*H*H:], H, hh)
					for b := 0; b < B; b++ {
						if step >= s.lens[b] {
							continue
						}
						g := xw[xrow(tOf(b), b)*gh:]
						hb := hr[b*2*H:]
						hs := hState[b*H : (b+1)*H]
						for j := 0; j < H; j++ {
							z := f.apply(clip(float64(g[j] + hb[j])))
							ht := gAct.apply(clip(float64(g[2*H+j] + hh[b*H+j])))
							hs[j] = T((1-z)*ht + z*float64(hs[j]))
						}
					}
				} else {
					for b := 0; b < B; b++ {
						if step >= s.lens[b] {
							continue
						}
						g := xw[xrow(tOf(b), b)*gh:]
						hb := hr[b*gh:]
						hs := hState[b*H : (b+1)*H]
						for j := 0; j < H; j++ {
							z := f.apply(clip(float64(g[j] + hb[j])))
							rt := f.apply(clip(float64(g[H+j] + hb[H+j])))
							lin := float64(hb[2*H+j])
							if rbh != nil {
								lin += float64(rbh[j])
							}
							ht := gAct.apply(clip(float64(g[2*H+j]) + rt*lin))
							hs[j] = T((1-z)*ht + z*float64(hs[j]))
						}
					}
				}
			case kindLSTM:
				f, gAct, hAct := acts[0], acts[1], acts[2]
				for b := 0; b < B; b++ {
					if step >= s.lens[b] {
						continue
					}
					g := xw[xrow(tOf(b), b)*gh:]
					hb := hr[b*gh:]
					hs := hState[b*H : (b+1)*H]
					cs := cState[b*H : (b+1)*H]
					for j := 0; j < H; j++ {
						cPrev := float64(cs[j])
						iPre := float64(g[j] + hb[j])
						oPre := float64(g[H+j] + hb[H+j])
						fPre := float64(g[2*H+j] + hb[2*H+j])
						cPre := float64(g[3*H+j] + hb[3*H+j])
						if pd != nil {
							iPre += float64(pd[j]) * cPrev
							fPre += float64(pd[2*H+j]) * cPrev
						}
						it := f.apply(clip(iPre))
						var ft float64
						if s.inputForget {
							ft = 1 - it
						} else {
							ft = f.apply(clip(fPre))
						}
						ct := gAct.apply(clip(cPre))
						cNew := T(ft*cPrev + it*ct)
						if pd != nil {
							oPre += float64(pd[H+j]) * float64(cNew)
						}
						ot := f.apply(clip(oPre))
						cs[j] = cNew
						hs[j] = T(ot * hAct.apply(float64(cNew)))
					}
				}
			}
			if y != nil {
				for b := 0; b < B; b++ {
					if step >= s.lens[b] {
						continue
					}
					o := yIdx(tOf(b), d, b)
					copy(y[o:o+H], hState[b*H:(b+1)*H])
				}
			}
		}
		for b := 0; b < B; b++ {
			if s.lens[b] == 0 {
				continue // no step: the final state stays zero
			}
			o := stIdx(d, b)
			copy(yh[o:o+H], hState[b*H:(b+1)*H])
			if yc != nil {
				copy(yc[o:o+H], cState[b*H:(b+1)*H])
			}
		}
	}
	out := []*common.Tensor{nil, nil, nil}
	if s.want[0] {
		out[0] = yT
	}
	if s.want[1] {
		out[1] = yhT
	}
	if s.want[2] {
		out[2] = ycT
	}
	return out, nil
}
