// Package modelgen builds the models under testdata/models from Go, with
// seeded random weights, through the common/onnx Builder: small models
// that are committed, and ResNet-18- and MobileNetV2-shaped models for
// benchmarks, generated on demand (they hold tens of megabytes of
// weights).
package modelgen

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/onnx"
)

// Spec is one generated model.
type Spec struct {
	Name  string // file name without .onnx
	Big   bool   // too large to commit: generated on demand
	Doc   string
	Build func() ([]byte, error)
}

// All lists every model the generator knows.
func All() []Spec {
	return []Spec{
		{"mlp", false, "Gemm/Relu/Softmax classifier, dynamic batch", MLP},
		{"cnn", false, "small convnet: Conv, BatchNormalization, Relu, MaxPool, residual Add, GlobalAveragePool, Gemm; dynamic batch", CNN},
		{"lstm", false, "LSTM sequence model with a Gemm head, dynamic batch", LSTM},
		{"attention", false, "one transformer encoder block: LayerNormalization, multi-head attention, Gelu MLP; dynamic batch", Attention},
		{"resnet18", true, "ResNet-18-shaped classifier (11.7M parameters, 224x224), random weights", ResNet18},
		{"mobilenetv2", true, "MobileNetV2-shaped classifier (3.5M parameters, 224x224), random weights", MobileNetV2},
	}
}

type gen struct {
	b   *onnx.Builder
	rng *rand.Rand
	n   int
}

func newGen(seed uint64, opset int64) *gen {
	return &gen{b: onnx.NewBuilder(opset), rng: rand.New(rand.NewPCG(seed, seed*7+1))}
}

func (g *gen) name(prefix string) string {
	g.n++
	return fmt.Sprintf("%s%d", prefix, g.n)
}

// weight adds a float32 initializer with values uniform in ±scale.
func (g *gen) weight(prefix string, scale float64, shape ...int) string {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((g.rng.Float64()*2 - 1) * scale)
	}
	return g.b.Init(g.name(prefix), common.NewTensor(common.Shape(shape), v))
}

func (g *gen) positive(prefix string, lo, hi float64, n int) string {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + g.rng.Float64()*(hi-lo))
	}
	return g.b.Init(g.name(prefix), common.NewTensor(common.Shape{n}, v))
}

func (g *gen) ints(prefix string, vals ...int64) string {
	return g.b.Init(g.name(prefix), common.NewTensor(common.Shape{len(vals)}, vals))
}

// conv adds Conv (+ BatchNormalization) (+ activation).
func (g *gen) conv(x string, cin, cout, k, stride, group int, bn bool, act string) string {
	fan := float64(cin / group * k * k)
	w := g.weight("w", math.Sqrt(6/fan), cout, cin/group, k, k)
	pad := int64(k / 2)
	inputs := []string{x, w}
	if !bn {
		inputs = append(inputs, g.weight("b", 0.1, cout))
	}
	y := g.b.Node("Conv", inputs, onnx.Ints("kernel_shape", int64(k), int64(k)),
		onnx.Ints("strides", int64(stride), int64(stride)), onnx.Ints("pads", pad, pad, pad, pad),
		onnx.Int("group", int64(group)))
	if bn {
		y = g.b.Node("BatchNormalization", []string{y, g.positive("scale", 0.5, 1.5, cout), g.weight("shift", 0.1, cout),
			g.weight("mean", 0.1, cout), g.positive("var", 0.5, 1.5, cout)}, onnx.Float("epsilon", 1e-5))
	}
	switch act {
	case "relu":
		y = g.b.Node("Relu", []string{y})
	case "relu6":
		y = g.b.Node("Clip", []string{y, g.scalar(0), g.scalar(6)})
	}
	return y
}

func (g *gen) scalar(v float32) string {
	return g.b.Init(g.name("c"), common.Scalar(v))
}

func (g *gen) head(x string, c, classes int) string {
	y := g.b.Node("GlobalAveragePool", []string{x})
	y = g.b.Node("Flatten", []string{y}, onnx.Int("axis", 1))
	w := g.weight("fc_w", math.Sqrt(6/float64(c)), classes, c)
	g.b.NodeOut("Gemm", []string{y, w, g.weight("fc_b", 0.1, classes)}, []string{"logits"}, onnx.Int("transB", 1))
	return "logits"
}

// MLP is a two-layer classifier over 64 features.
func MLP() ([]byte, error) {
	g := newGen(1, 17)
	x := g.b.Input("x", common.Float32, "batch", 64)
	h := g.b.Node("Gemm", []string{x, g.weight("w", 0.3, 64, 128), g.weight("b", 0.1, 128)})
	h = g.b.Node("Relu", []string{h})
	h = g.b.Node("Gemm", []string{h, g.weight("w", 0.2, 128, 10), g.weight("b", 0.1, 10)})
	g.b.NodeOut("Softmax", []string{h}, []string{"probs"}, onnx.Int("axis", 1))
	g.b.OutputShape("probs", common.Float32, "batch", 10)
	return g.b.Encode()
}

// CNN is a small residual convnet over 3x32x32 images.
func CNN() ([]byte, error) {
	g := newGen(2, 17)
	x := g.b.Input("image", common.Float32, "batch", 3, 32, 32)
	y := g.conv(x, 3, 16, 3, 1, 1, true, "relu")
	y = g.b.Node("MaxPool", []string{y}, onnx.Ints("kernel_shape", 2, 2), onnx.Ints("strides", 2, 2))
	r := g.conv(y, 16, 16, 3, 1, 1, true, "relu")
	r = g.conv(r, 16, 16, 3, 1, 1, true, "")
	y = g.b.Node("Relu", []string{g.b.Node("Add", []string{y, r})})
	y = g.conv(y, 16, 32, 3, 2, 1, false, "relu")
	y = g.head(y, 32, 10)
	g.b.OutputShape(y, common.Float32, "batch", 10)
	return g.b.Encode()
}

// LSTM reads a (seq, batch, 16) sequence and classifies its last state.
func LSTM() ([]byte, error) {
	g := newGen(3, 17)
	const in, hidden = 16, 32
	x := g.b.Input("x", common.Float32, 12, "batch", in)
	w := g.weight("W", 0.2, 1, 4*hidden, in)
	r := g.weight("R", 0.2, 1, 4*hidden, hidden)
	b := g.weight("B", 0.1, 1, 8*hidden)
	outs := g.b.NodeN("LSTM", []string{x, w, r, b}, 3, onnx.Int("hidden_size", hidden))
	h := g.b.Node("Squeeze", []string{outs[1], g.ints("axes", 0)})
	g.b.NodeOut("Gemm", []string{h, g.weight("fc", 0.2, hidden, 5), g.weight("fcb", 0.1, 5)}, []string{"logits"})
	g.b.OutputShape("logits", common.Float32, "batch", 5)
	g.b.OutputShape(outs[0], common.Float32, 12, 1, "batch", hidden)
	return g.b.Encode()
}

// Attention is one pre-norm transformer encoder block over (batch, 16, 64)
// with 4 heads.
func Attention() ([]byte, error) {
	g := newGen(4, 17)
	const seq, d, heads = 16, 64, 4
	x := g.b.Input("tokens", common.Float32, "batch", seq, d)
	ln := func(v string) string {
		return g.b.Node("LayerNormalization", []string{v, g.positive("g", 0.8, 1.2, d), g.weight("beta", 0.1, d)},
			onnx.Int("axis", -1), onnx.Float("epsilon", 1e-5))
	}
	proj := func(v string, din, dout int) string {
		y := g.b.Node("MatMul", []string{v, g.weight("w", math.Sqrt(3/float64(din)), din, dout)})
		return g.b.Node("Add", []string{y, g.weight("b", 0.05, dout)})
	}
	split := func(v string) string { // (b, s, d) -> (b, h, s, d/h)
		y := g.b.Node("Reshape", []string{v, g.ints("shape", 0, seq, heads, d/heads)})
		return g.b.Node("Transpose", []string{y}, onnx.Ints("perm", 0, 2, 1, 3))
	}
	h := ln(x)
	q, k, v := split(proj(h, d, d)), split(proj(h, d, d)), split(proj(h, d, d))
	kt := g.b.Node("Transpose", []string{k}, onnx.Ints("perm", 0, 1, 3, 2))
	s := g.b.Node("MatMul", []string{q, kt})
	s = g.b.Node("Mul", []string{s, g.scalar(float32(1 / math.Sqrt(d/heads)))})
	p := g.b.Node("Softmax", []string{s}, onnx.Int("axis", -1))
	a := g.b.Node("MatMul", []string{p, v})
	a = g.b.Node("Transpose", []string{a}, onnx.Ints("perm", 0, 2, 1, 3))
	a = g.b.Node("Reshape", []string{a, g.ints("shape", 0, seq, d)})
	x2 := g.b.Node("Add", []string{x, proj(a, d, d)})
	m := proj(ln(x2), d, 4*d)
	// Gelu spelled out with Erf, as exporters before opset 20 do.
	e := g.b.Node("Erf", []string{g.b.Node("Div", []string{m, g.scalar(float32(math.Sqrt2))})})
	e = g.b.Node("Mul", []string{g.b.Node("Mul", []string{m, g.b.Node("Add", []string{e, g.scalar(1)})}), g.scalar(0.5)})
	g.b.NodeOut("Add", []string{x2, proj(e, 4*d, d)}, []string{"out"})
	g.b.OutputShape("out", common.Float32, "batch", seq, d)
	return g.b.Encode()
}

// ResNet18 is the ResNet-18 architecture (basic blocks 2-2-2-2) with
// random weights, 3x224x224 input, 1000 classes.
func ResNet18() ([]byte, error) {
	g := newGen(5, 17)
	x := g.b.Input("input", common.Float32, "batch", 3, 224, 224)
	y := g.conv(x, 3, 64, 7, 2, 1, true, "relu")
	y = g.b.Node("MaxPool", []string{y}, onnx.Ints("kernel_shape", 3, 3), onnx.Ints("strides", 2, 2), onnx.Ints("pads", 1, 1, 1, 1))
	c := 64
	for stage, cout := range []int{64, 128, 256, 512} {
		for blk := 0; blk < 2; blk++ {
			stride := 1
			if stage > 0 && blk == 0 {
				stride = 2
			}
			r := g.conv(y, c, cout, 3, stride, 1, true, "relu")
			r = g.conv(r, cout, cout, 3, 1, 1, true, "")
			sc := y
			if stride != 1 || c != cout {
				sc = g.conv(y, c, cout, 1, stride, 1, true, "")
			}
			y = g.b.Node("Relu", []string{g.b.Node("Add", []string{r, sc})})
			c = cout
		}
	}
	y = g.head(y, 512, 1000)
	g.b.OutputShape(y, common.Float32, "batch", 1000)
	return g.b.Encode()
}

// MobileNetV2 is the MobileNetV2 architecture (width 1.0) with random
// weights, 3x224x224 input, 1000 classes.
func MobileNetV2() ([]byte, error) {
	g := newGen(6, 17)
	x := g.b.Input("input", common.Float32, "batch", 3, 224, 224)
	y := g.conv(x, 3, 32, 3, 2, 1, true, "relu6")
	c := 32
	for _, s := range [][4]int{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}} {
		t, cout, n, stride := s[0], s[1], s[2], s[3]
		for i := 0; i < n; i++ {
			st := 1
			if i == 0 {
				st = stride
			}
			hid := c * t
			r := y
			if t != 1 {
				r = g.conv(r, c, hid, 1, 1, 1, true, "relu6")
			}
			r = g.conv(r, hid, hid, 3, st, hid, true, "relu6")
			r = g.conv(r, hid, cout, 1, 1, 1, true, "")
			if st == 1 && c == cout {
				r = g.b.Node("Add", []string{y, r})
			}
			y, c = r, cout
		}
	}
	y = g.conv(y, c, 1280, 1, 1, 1, true, "relu6")
	y = g.head(y, 1280, 1000)
	g.b.OutputShape(y, common.Float32, "batch", 1000)
	return g.b.Encode()
}
