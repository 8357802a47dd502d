package cpu

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/accel-go/accel/common"
	"github.com/stretchr/testify/require"
)

// nnNode builds a node with attributes from Go values: int, []int,
// float32, string.
func nnNode(op string, opset int64, attrs map[string]any) *common.Node {
	n := &common.Node{OpType: op, Opset: opset, Attrs: map[string]*common.Attribute{}, Outputs: []string{"y"}}
	for k, v := range attrs {
		a := &common.Attribute{Name: k}
		switch x := v.(type) {
		case int:
			a.Type, a.I = common.AttrInt, int64(x)
		case []int:
			a.Type = common.AttrInts
			for _, e := range x {
				a.Ints = append(a.Ints, int64(e))
			}
		case float32:
			a.Type, a.F = common.AttrFloat, x
		case string:
			a.Type, a.S = common.AttrString, []byte(x)
		default:
			panic(fmt.Sprintf("attr %s: %T", k, v))
		}
		n.Attrs[k] = a
	}
	return n
}

func nnRun(t *testing.T, c *Ctx, n *common.Node, in ...*common.Tensor) ([]*common.Tensor, error) {
	t.Helper()
	k, ok := kernels[n.OpType]
	require.True(t, ok, n.OpType)
	return k.tensor(c, n, in)
}

// odometer steps coords through shape; false after the last.
func odometer(coords, shape []int) bool {
	for i := len(shape) - 1; i >= 0; i-- {
		coords[i]++
		if coords[i] < shape[i] {
			return true
		}
		coords[i] = 0
	}
	return false
}

func flatIndex(coords, shape []int) int {
	f := 0
	for i := range shape {
		f = f*shape[i] + coords[i]
	}
	return f
}

// nnConvRef is a direct N-D convolution in float64.
func nnConvRef(x []float32, xs []int, w []float32, ws []int, b []float32, group int, s, d, pb, out []int) []float64 {
	nImg, cin, cout := xs[0], xs[1], ws[0]
	cg, mg := cin/group, cout/group
	r := len(xs) - 2
	in, k := xs[2:], ws[2:]
	outSize, kSize, inSize := prod(out), prod(k), prod(in)
	y := make([]float64, nImg*cout*outSize)
	oc, kc, pos := make([]int, r), make([]int, r), make([]int, r)
	for img := 0; img < nImg; img++ {
		for m := 0; m < cout; m++ {
			grp := m / mg
			clear(oc)
			for {
				var sum float64
				if b != nil {
					sum = float64(b[m])
				}
				for ci := 0; ci < cg; ci++ {
					ch := grp*cg + ci
					clear(kc)
					for {
						ok := true
						for i := 0; i < r; i++ {
							pos[i] = oc[i]*s[i] - pb[i] + kc[i]*d[i]
							if pos[i] < 0 || pos[i] >= in[i] {
								ok = false
							}
						}
						if ok {
							xv := x[(img*cin+ch)*inSize+flatIndex(pos, in)]
							wv := w[(m*cg+ci)*kSize+flatIndex(kc, k)]
							sum += float64(xv) * float64(wv)
						}
						if !odometer(kc, k) {
							break
						}
					}
				}
				y[(img*cout+m)*outSize+flatIndex(oc, out)] = sum
				if !odometer(oc, out) {
					break
				}
			}
		}
	}
	return y
}

func TestConvAgainstDirect(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	c := nnCtx(t, 2)
	type tc struct {
		in, k       []int
		cin, cout   int
		group, nImg int
		s, d, pads  []int
		autoPad     string
	}
	cases := []tc{
		{in: []int{7}, k: []int{3}, cin: 3, cout: 5, group: 1, nImg: 2, s: []int{2}, d: []int{1}, pads: []int{1, 2}},
		{in: []int{17}, k: []int{4}, cin: 4, cout: 6, group: 2, nImg: 1, s: []int{3}, d: []int{2}, pads: []int{0, 3}},
		{in: []int{7, 9}, k: []int{3, 3}, cin: 3, cout: 4, group: 1, nImg: 2, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
		{in: []int{7, 9}, k: []int{1, 1}, cin: 5, cout: 7, group: 1, nImg: 3, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		{in: []int{8, 8}, k: []int{1, 1}, cin: 6, cout: 4, group: 2, nImg: 1, s: []int{2, 2}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		{in: []int{17, 13}, k: []int{3, 5}, cin: 6, cout: 9, group: 3, nImg: 2, s: []int{2, 3}, d: []int{2, 1}, pads: []int{0, 1, 2, 3}},
		{in: []int{9, 9}, k: []int{3, 3}, cin: 8, cout: 8, group: 8, nImg: 2, s: []int{1, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
		{in: []int{10, 7}, k: []int{3, 2}, cin: 2, cout: 3, group: 1, nImg: 1, s: []int{2, 1}, d: []int{1, 2}, autoPad: "SAME_UPPER"},
		{in: []int{10, 7}, k: []int{4, 2}, cin: 2, cout: 3, group: 1, nImg: 1, s: []int{3, 2}, d: []int{1, 1}, autoPad: "SAME_LOWER"},
		{in: []int{10, 7}, k: []int{4, 2}, cin: 2, cout: 3, group: 1, nImg: 1, s: []int{3, 2}, d: []int{1, 1}, autoPad: "VALID"},
		{in: []int{5, 6, 7}, k: []int{2, 3, 3}, cin: 4, cout: 4, group: 2, nImg: 2, s: []int{1, 2, 1}, d: []int{2, 1, 1}, pads: []int{1, 0, 1, 0, 1, 2}},
		{in: []int{30, 30}, k: []int{3, 3}, cin: 16, cout: 32, group: 1, nImg: 1, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
	}
	for ci, tcase := range cases {
		xs := append([]int{tcase.nImg, tcase.cin}, tcase.in...)
		ws := append([]int{tcase.cout, tcase.cin / tcase.group}, tcase.k...)
		x := nnRand32(r, prod(xs))
		w := nnRand32(r, prod(ws))
		b := nnRand32(r, tcase.cout)
		attrs := map[string]any{"group": tcase.group, "strides": tcase.s, "dilations": tcase.d}
		if ci%2 == 0 {
			attrs["kernel_shape"] = tcase.k
		}
		pads := tcase.pads
		if tcase.autoPad != "" {
			attrs["auto_pad"] = tcase.autoPad
		} else {
			attrs["pads"] = pads
		}
		n := nnNode("Conv", 22, attrs)
		for _, withBias := range []bool{false, true} {
			in := []*common.Tensor{common.NewTensor(common.Shape(xs), x), common.NewTensor(common.Shape(ws), w)}
			var bb []float32
			if withBias {
				in = append(in, common.NewTensor(common.Shape{tcase.cout}, b))
				bb = b
			}
			out, err := nnRun(t, c, n, in...)
			require.NoError(t, err)
			y := out[0]
			// Expected output size and begin pads from the spec formulas.
			rk := len(tcase.in)
			outDims, pb := make([]int, rk), make([]int, rk)
			for i := 0; i < rk; i++ {
				dk := (tcase.k[i]-1)*tcase.d[i] + 1
				switch tcase.autoPad {
				case "":
					pb[i] = pads[i]
					outDims[i] = (tcase.in[i]+pads[i]+pads[rk+i]-dk)/tcase.s[i] + 1
				case "VALID":
					outDims[i] = (tcase.in[i]-dk)/tcase.s[i] + 1
				default:
					outDims[i] = (tcase.in[i] + tcase.s[i] - 1) / tcase.s[i]
					total := max(0, (outDims[i]-1)*tcase.s[i]+dk-tcase.in[i])
					pb[i] = total / 2
					if tcase.autoPad == "SAME_LOWER" {
						pb[i] = total - total/2
					}
				}
			}
			require.Equal(t, common.Shape(append([]int{tcase.nImg, tcase.cout}, outDims...)), y.Shape(), "case %d", ci)
			want := nnConvRef(x, xs, w, ws, bb, tcase.group, tcase.s, tcase.d, pb, outDims)
			nnClose(t, want, common.Data[float32](y), 1e-4, fmt.Sprintf("conv case %d bias=%v", ci, withBias))
		}
	}
}

func TestConvFusedAndFloat64(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	c := nnCtx(t, 2)
	xs, ws := []int{1, 3, 6, 5}, []int{4, 3, 3, 3}
	x, w := nnRand32(r, prod(xs)), nnRand32(r, prod(ws))
	attrs := map[string]any{"pads": []int{1, 1, 1, 1}}
	want := nnConvRef(x, xs, w, ws, nil, 1, []int{1, 1}, []int{1, 1}, []int{1, 1}, []int{6, 5})
	acts := map[string]func(float64) float64{
		"Relu":      func(v float64) float64 { return math.Max(v, 0) },
		"LeakyRelu": func(v float64) float64 { return map[bool]float64{true: v, false: 0.1 * v}[v >= 0] },
		"Clip":      func(v float64) float64 { return math.Min(math.Max(v, -0.5), 0.75) },
		"Sigmoid":   func(v float64) float64 { return 1 / (1 + math.Exp(-v)) },
		"Tanh":      math.Tanh,
		"HardSigmoid": func(v float64) float64 {
			return math.Max(0, math.Min(1, 0.2*v+0.5))
		},
		"HardSwish": func(v float64) float64 { return v * math.Max(0, math.Min(1, v/6+0.5)) },
	}
	for name, f := range acts {
		n := nnNode("Conv", 11, attrs)
		fa := map[string]any{}
		switch name {
		case "LeakyRelu":
			fa["alpha"] = float32(0.1)
		case "Clip":
			fa["min"], fa["max"] = float32(-0.5), float32(0.75)
		}
		n.Fused = nnNode(name, 13, fa)
		out, err := nnRun(t, c, n, common.NewTensor(common.Shape(xs), x), common.NewTensor(common.Shape(ws), w))
		require.NoError(t, err)
		exp := make([]float64, len(want))
		for i, v := range want {
			exp[i] = f(v)
		}
		nnClose(t, exp, common.Data[float32](out[0]), 1e-4, name)
	}
	n := nnNode("Conv", 11, attrs)
	n.Fused = nnNode("Softmax", 13, nil)
	_, err := nnRun(t, c, n, common.NewTensor(common.Shape(xs), x), common.NewTensor(common.Shape(ws), w))
	require.ErrorIs(t, err, common.ErrUnsupported)

	// float64 and float16 give the same numbers.
	x64, w64 := make([]float64, len(x)), make([]float64, len(w))
	for i, v := range x {
		x64[i] = float64(v)
	}
	for i, v := range w {
		w64[i] = float64(v)
	}
	out, err := nnRun(t, c, nnNode("Conv", 11, attrs), common.NewTensor(common.Shape(xs), x64), common.NewTensor(common.Shape(ws), w64))
	require.NoError(t, err)
	got := common.Data[float64](out[0])
	for i := range want {
		require.InDelta(t, want[i], got[i], 1e-9)
	}
	xh := FromFloat32(common.NewTensor(common.Shape(xs), x), common.Float16)
	wh := FromFloat32(common.NewTensor(common.Shape(ws), w), common.Float16)
	out, err = nnRun(t, c, nnNode("Conv", 11, attrs), xh, wh)
	require.NoError(t, err)
	require.Equal(t, common.Float16, out[0].DType())
	for i := range want {
		require.InDelta(t, want[i], out[0].Float(i), 0.05*(1+math.Abs(want[i])))
	}
}

func TestConvBadInput(t *testing.T) {
	c := nnCtx(t, 1)
	x := common.Zeros(common.Float32, common.Shape{1, 4, 5, 5})
	w := common.Zeros(common.Float32, common.Shape{6, 2, 3, 3})
	cases := []struct {
		name  string
		attrs map[string]any
		w     *common.Tensor
		b     *common.Tensor
	}{
		{"zero stride", map[string]any{"group": 2, "strides": []int{0, 1}}, w, nil},
		{"negative dilation", map[string]any{"group": 2, "dilations": []int{1, -1}}, w, nil},
		{"negative pad", map[string]any{"group": 2, "pads": []int{0, -1, 0, 0}}, w, nil},
		{"short pads", map[string]any{"group": 2, "pads": []int{0, 0}}, w, nil},
		{"group not dividing C", map[string]any{"group": 3}, w, nil},
		{"group not dividing M", map[string]any{"group": 4}, common.Zeros(common.Float32, common.Shape{6, 1, 3, 3}), nil},
		{"zero group", map[string]any{"group": 0}, w, nil},
		{"channel mismatch", map[string]any{}, w, nil},
		{"kernel too large", map[string]any{"group": 2, "dilations": []int{3, 1}}, w, nil},
		{"kernel_shape mismatch", map[string]any{"group": 2, "kernel_shape": []int{2, 2}}, w, nil},
		{"bad auto_pad", map[string]any{"group": 2, "auto_pad": "FOO"}, w, nil},
		{"bad bias", map[string]any{"group": 2}, w, common.Zeros(common.Float32, common.Shape{5})},
		{"rank mismatch", map[string]any{}, common.Zeros(common.Float32, common.Shape{6, 4, 3}), nil},
		{"huge stride", map[string]any{"group": 2, "strides": []int{1 << 40, 1}}, w, nil},
	}
	for _, tc := range cases {
		in := []*common.Tensor{x, tc.w}
		if tc.b != nil {
			in = append(in, tc.b)
		}
		_, err := nnRun(t, c, nnNode("Conv", 11, tc.attrs), in...)
		require.Error(t, err, tc.name)
		require.True(t, errors.Is(err, common.ErrShape) || errors.Is(err, common.ErrInvalidModel), "%s: %v", tc.name, err)
	}
	_, err := nnRun(t, c, nnNode("Conv", 11, nil), common.Zeros(common.Int32, common.Shape{1, 1, 3}), common.Zeros(common.Int32, common.Shape{1, 1, 1}))
	require.ErrorIs(t, err, common.ErrUnsupported)
}

// nnConvTransposeRef scatters every input value through the kernel.
func nnConvTransposeRef(x []float32, xs []int, w []float32, ws []int, group int, s, d, pb, out []int) []float64 {
	nImg, cin := xs[0], xs[1]
	cg, mg := cin/group, ws[1]
	cout := mg * group
	r := len(xs) - 2
	in, k := xs[2:], ws[2:]
	outSize, kSize, inSize := prod(out), prod(k), prod(in)
	y := make([]float64, nImg*cout*outSize)
	ic, kc, pos := make([]int, r), make([]int, r), make([]int, r)
	for img := 0; img < nImg; img++ {
		for ch := 0; ch < cin; ch++ {
			grp := ch / cg
			clear(ic)
			for {
				xv := float64(x[(img*cin+ch)*inSize+flatIndex(ic, in)])
				for mi := 0; mi < mg; mi++ {
					m := grp*mg + mi
					clear(kc)
					for {
						ok := true
						for i := 0; i < r; i++ {
							pos[i] = ic[i]*s[i] + kc[i]*d[i] - pb[i]
							if pos[i] < 0 || pos[i] >= out[i] {
								ok = false
							}
						}
						if ok {
							wv := float64(w[(ch*mg+mi)*kSize+flatIndex(kc, k)])
							y[(img*cout+m)*outSize+flatIndex(pos, out)] += xv * wv
						}
						if !odometer(kc, k) {
							break
						}
					}
				}
				if !odometer(ic, in) {
					break
				}
			}
		}
	}
	return y
}

func TestConvTransposeAgainstDirect(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	c := nnCtx(t, 2)
	type tc struct {
		in, k              []int
		cin, mg, group     int
		s, d, pads, outPad []int
	}
	cases := []tc{
		{in: []int{7}, k: []int{3}, cin: 2, mg: 3, group: 1, s: []int{2}, d: []int{1}, pads: []int{0, 0}, outPad: []int{1}},
		{in: []int{5, 4}, k: []int{3, 3}, cin: 4, mg: 2, group: 2, s: []int{2, 3}, d: []int{1, 2}, pads: []int{1, 0, 2, 1}, outPad: []int{0, 1}},
		{in: []int{3, 3}, k: []int{1, 1}, cin: 3, mg: 5, group: 1, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, outPad: []int{0, 0}},
		{in: []int{3, 4, 5}, k: []int{2, 3, 2}, cin: 3, mg: 2, group: 3, s: []int{1, 2, 2}, d: []int{2, 1, 1}, pads: []int{0, 1, 0, 1, 0, 1}, outPad: []int{0, 1, 0}},
		{in: []int{17, 9}, k: []int{4, 3}, cin: 5, mg: 7, group: 1, s: []int{3, 1}, d: []int{1, 1}, pads: []int{2, 1, 1, 1}, outPad: []int{2, 0}},
	}
	for ci, tcase := range cases {
		xs := append([]int{2, tcase.cin}, tcase.in...)
		ws := append([]int{tcase.cin, tcase.mg}, tcase.k...)
		x, w := nnRand32(r, prod(xs)), nnRand32(r, prod(ws))
		n := nnNode("ConvTranspose", 22, map[string]any{"group": tcase.group, "strides": tcase.s, "dilations": tcase.d, "pads": tcase.pads, "output_padding": tcase.outPad})
		out, err := nnRun(t, c, n, common.NewTensor(common.Shape(xs), x), common.NewTensor(common.Shape(ws), w))
		require.NoError(t, err)
		rk := len(tcase.in)
		od, pb := make([]int, rk), tcase.pads[:rk]
		for i := range od {
			od[i] = tcase.s[i]*(tcase.in[i]-1) + tcase.outPad[i] + (tcase.k[i]-1)*tcase.d[i] + 1 - tcase.pads[i] - tcase.pads[rk+i]
		}
		require.Equal(t, common.Shape(append([]int{2, tcase.mg * tcase.group}, od...)), out[0].Shape())
		want := nnConvTransposeRef(x, xs, w, ws, tcase.group, tcase.s, tcase.d, pb, od)
		nnClose(t, want, common.Data[float32](out[0]), 1e-4, fmt.Sprintf("convtranspose case %d", ci))
	}
	// output_shape larger than the full result pads zeros at the end.
	xs, ws := []int{1, 1, 3, 3}, []int{1, 2, 3, 3}
	x, w := nnRand32(r, 9), nnRand32(r, 18)
	n := nnNode("ConvTranspose", 22, map[string]any{"strides": []int{3, 2}, "output_shape": []int{10, 8}})
	out, err := nnRun(t, c, n, common.NewTensor(common.Shape(xs), x), common.NewTensor(common.Shape(ws), w))
	require.NoError(t, err)
	require.Equal(t, common.Shape{1, 2, 10, 8}, out[0].Shape())
	want := nnConvTransposeRef(x, xs, w, ws, 1, []int{3, 2}, []int{1, 1}, []int{0, 0}, []int{10, 8})
	nnClose(t, want, common.Data[float32](out[0]), 1e-4, "output_shape")

	bad := []map[string]any{
		{"strides": []int{0, 1}},
		{"pads": []int{5, 5, 5, 5}},
		{"output_padding": []int{-1, 0}},
		{"group": 2},
		{"output_shape": []int{1}},
	}
	for _, a := range bad {
		_, err := nnRun(t, c, nnNode("ConvTranspose", 22, a), common.NewTensor(common.Shape(xs), x), common.NewTensor(common.Shape(ws), w))
		require.Error(t, err, "%v", a)
		require.True(t, errors.Is(err, common.ErrShape) || errors.Is(err, common.ErrInvalidModel), "%v: %v", a, err)
	}
}
