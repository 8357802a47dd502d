//go:build opencl

package opencl

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/plan"
)

func i64(shape common.Shape, v ...int64) *common.Tensor { return common.NewTensor(shape, v) }
func f32(shape common.Shape, v ...float32) *common.Tensor {
	return common.NewTensor(shape, v)
}
func strAttr(name, v string) *common.Attribute {
	return &common.Attribute{Name: name, Type: common.AttrString, S: []byte(v)}
}

func TestMoreKernelsMatchCPU(t *testing.T) {
	needDevice(t)
	rng := rand.New(rand.NewSource(11))
	vec := func(v ...int64) *common.Tensor { return i64(common.Shape{len(v)}, v...) }
	cases := []opCase{
		{name: "slice_const", op: "Slice", opset: 13, inputs: []*common.Tensor{randT(rng, 5, 7, 3), vec(1, -1), vec(4, -6), vec(0, 1), vec(2, -2)},
			consts: []bool{false, true, true, true, true}},
		{name: "slice_inputs", op: "Slice", opset: 13, inputs: []*common.Tensor{randT(rng, 6, 9), vec(-100, 2), vec(100, 1000)}},
		{name: "slice_neg_step", op: "Slice", opset: 13, inputs: []*common.Tensor{randT(rng, 4, 11), vec(9), vec(-100), vec(1), vec(-3)},
			consts: []bool{false, true, true, true, true}},
		{name: "slice_huge_step", op: "Slice", opset: 13, inputs: []*common.Tensor{randT(rng, 4, 5), vec(-1, 1), vec(-1<<63, 1<<62), vec(1, 0), vec(-1<<63, 1<<62)},
			consts: []bool{false, true, true, true, true}},
		{name: "slice_v1", op: "Slice", opset: 1, attrs: map[string]*common.Attribute{"starts": ints("starts", 1), "ends": ints("ends", 3), "axes": ints("axes", 2)},
			inputs: []*common.Tensor{randT(rng, 2, 3, 5)}},
		{name: "split_attr", op: "Split", opset: 11, attrs: map[string]*common.Attribute{"axis": intAttr("axis", 1), "split": ints("split", 2, 5, 1)},
			inputs: []*common.Tensor{randT(rng, 3, 8, 3)}, nout: 3},
		{name: "split_even", op: "Split", opset: 18, attrs: map[string]*common.Attribute{"axis": intAttr("axis", -1), "num_outputs": intAttr("num_outputs", 3)},
			inputs: []*common.Tensor{randT(rng, 2, 7)}, nout: 3},
		{name: "split_input", op: "Split", opset: 13, inputs: []*common.Tensor{randT(rng, 9, 2), vec(4, 5)}, consts: []bool{false, true}, nout: 2},
		{name: "pad_constant", op: "Pad", opset: 13, inputs: []*common.Tensor{randT(rng, 3, 5), vec(1, 0, 2, 3), f32(nil, 1.5)}, consts: []bool{false, true, true}},
		{name: "pad_negative", op: "Pad", opset: 13, inputs: []*common.Tensor{randT(rng, 4, 6), vec(-1, 2, 0, -3)}, consts: []bool{false, true}},
		{name: "pad_reflect", op: "Pad", opset: 13, attrs: map[string]*common.Attribute{"mode": strAttr("mode", "reflect")},
			inputs: []*common.Tensor{randT(rng, 1, 2, 4, 5), vec(0, 0, 3, 2, 0, 0, 2, 4)}, consts: []bool{false, true}},
		{name: "pad_edge", op: "Pad", opset: 13, attrs: map[string]*common.Attribute{"mode": strAttr("mode", "edge")},
			inputs: []*common.Tensor{randT(rng, 3, 4), vec(2, 3, 1, 2)}},
		{name: "pad_wrap_axes", op: "Pad", opset: 19, attrs: map[string]*common.Attribute{"mode": strAttr("mode", "wrap")},
			inputs: []*common.Tensor{randT(rng, 3, 4, 5), vec(1, 2, 3, 1), nil, vec(0, 2)}, consts: []bool{false, true, false, true}},
		{name: "pad_v2", op: "Pad", opset: 2, attrs: map[string]*common.Attribute{"pads": ints("pads", 1, 1, 0, 2), "value": floatAttr("value", -2)},
			inputs: []*common.Tensor{randT(rng, 3, 3)}},
		{name: "gather_axis1", op: "Gather", opset: 13, attrs: map[string]*common.Attribute{"axis": intAttr("axis", 1)},
			inputs: []*common.Tensor{randT(rng, 3, 7, 2), i64(common.Shape{2, 3}, 0, 6, -1, 3, 3, -7)}},
		{name: "gather_i32", op: "Gather", opset: 13,
			inputs: []*common.Tensor{randT(rng, 5, 4), common.NewTensor(common.Shape{3}, []int32{4, 0, -2})}, consts: []bool{false, true}},
		{name: "gather_scalar_idx", op: "Gather", opset: 13, attrs: map[string]*common.Attribute{"axis": intAttr("axis", -1)},
			inputs: []*common.Tensor{randT(rng, 2, 3, 5), i64(nil, 2)}},
		{name: "gather_int64_data", op: "Gather", opset: 13,
			inputs: []*common.Tensor{i64(common.Shape{4, 2}, 1, 2, 3, 4, 5, 6, 7, 8), vec(3, 1, 1)}},
		{name: "reduce_mean_keep", op: "ReduceMean", opset: 13, attrs: map[string]*common.Attribute{"axes": ints("axes", 1, -1)},
			inputs: []*common.Tensor{randT(rng, 3, 5, 2, 7)}},
		{name: "reduce_sum_input", op: "ReduceSum", opset: 13, attrs: map[string]*common.Attribute{"keepdims": intAttr("keepdims", 0)},
			inputs: []*common.Tensor{randT(rng, 4, 3, 5), vec(0, 2)}},
		{name: "reduce_sum_all", op: "ReduceSum", opset: 13, inputs: []*common.Tensor{randT(rng, 4, 3, 5)}},
		{name: "reduce_max_v18", op: "ReduceMax", opset: 18, inputs: []*common.Tensor{randT(rng, 4, 9, 3), vec(1)}, consts: []bool{false, true}},
		{name: "reduce_sum_empty", op: "ReduceSum", opset: 13, inputs: []*common.Tensor{common.Zeros(common.Float32, common.Shape{2, 0, 3}), vec(1)}, consts: []bool{false, true}},
		{name: "reduce_prod_empty", op: "ReduceProd", opset: 13, attrs: map[string]*common.Attribute{"axes": ints("axes", 1)},
			inputs: []*common.Tensor{common.Zeros(common.Float32, common.Shape{2, 0, 3})}},
		{name: "reduce_min", op: "ReduceMin", opset: 13, attrs: map[string]*common.Attribute{"axes": ints("axes", 0)}, inputs: []*common.Tensor{randT(rng, 5, 3)}},
		{name: "reduce_l2", op: "ReduceL2", opset: 13, attrs: map[string]*common.Attribute{"axes": ints("axes", 2)}, inputs: []*common.Tensor{randT(rng, 2, 3, 6)}},
		{name: "reduce_lse", op: "ReduceLogSumExp", opset: 13, attrs: map[string]*common.Attribute{"axes": ints("axes", 1)}, inputs: []*common.Tensor{randT(rng, 2, 13)}},
		{name: "layernorm", op: "LayerNormalization", opset: 17, attrs: map[string]*common.Attribute{"epsilon": floatAttr("epsilon", 1e-3)},
			inputs: []*common.Tensor{randT(rng, 3, 5, 67), randT(rng, 67), randT(rng, 67)}, consts: []bool{false, true, true}, nout: 3},
		{name: "layernorm_axis1", op: "LayerNormalization", opset: 17, attrs: map[string]*common.Attribute{"axis": intAttr("axis", 1)},
			inputs: []*common.Tensor{randT(rng, 2, 3, 5), randT(rng, 3, 5)}, consts: []bool{false, true}},
		{name: "instancenorm", op: "InstanceNormalization", opset: 6, inputs: []*common.Tensor{randT(rng, 2, 3, 7, 5), randT(rng, 3), randT(rng, 3)},
			consts: []bool{false, true, true}},
		{name: "conv3x3_s1_odd", op: "Conv", opset: 17, attrs: map[string]*common.Attribute{"pads": ints("pads", 1, 0, 2, 1)},
			inputs: []*common.Tensor{randT(rng, 2, 3, 6, 11), randT(rng, 4, 3, 3, 3), randT(rng, 4)}, consts: []bool{false, true, true}},
		{name: "conv3x3_grouped", op: "Conv", opset: 17, attrs: map[string]*common.Attribute{"group": intAttr("group", 2), "pads": ints("pads", 1, 1, 1, 1)},
			inputs: []*common.Tensor{randT(rng, 1, 4, 5, 5), randT(rng, 6, 2, 3, 3)}, consts: []bool{false, true}},
		{name: "depthwise_s2_5x5", op: "Conv", opset: 17, attrs: map[string]*common.Attribute{"group": intAttr("group", 3), "strides": ints("strides", 2, 2), "pads": ints("pads", 2, 2, 2, 2)},
			inputs: []*common.Tensor{randT(rng, 2, 3, 9, 8), randT(rng, 3, 1, 5, 5), randT(rng, 3)}, consts: []bool{false, true, true}},
		{name: "depthwise_mult_dilated", op: "Conv", opset: 17, attrs: map[string]*common.Attribute{"group": intAttr("group", 2), "dilations": ints("dilations", 2, 1), "pads": ints("pads", 2, 1, 1, 0)},
			inputs: []*common.Tensor{randT(rng, 1, 2, 7, 6), randT(rng, 4, 1, 3, 2)}, consts: []bool{false, true}},
	}
	for _, m := range []struct{ mode, ctm, nearest string }{
		{"nearest", "asymmetric", "floor"}, {"nearest", "half_pixel", "round_prefer_floor"}, {"nearest", "align_corners", "round_prefer_ceil"},
		{"linear", "half_pixel", ""}, {"linear", "align_corners", ""}, {"linear", "pytorch_half_pixel", ""}, {"cubic", "asymmetric", ""},
	} {
		attrs := map[string]*common.Attribute{"mode": strAttr("mode", m.mode), "coordinate_transformation_mode": strAttr("coordinate_transformation_mode", m.ctm)}
		if m.nearest != "" {
			attrs["nearest_mode"] = strAttr("nearest_mode", m.nearest)
		}
		cases = append(cases,
			opCase{name: "resize_scales_" + m.mode + "_" + m.ctm, op: "Resize", opset: 13, attrs: attrs,
				inputs: []*common.Tensor{randT(rng, 1, 2, 5, 7), nil, f32(common.Shape{4}, 1, 1, 1.7, 0.6)}, consts: []bool{false, false, true}},
			opCase{name: "resize_sizes_" + m.mode + "_" + m.ctm, op: "Resize", opset: 13, attrs: attrs,
				inputs: []*common.Tensor{randT(rng, 2, 3, 4, 3), nil, nil, vec(2, 3, 9, 1)}})
	}
	for _, mode := range []string{"linear", "cubic"} {
		cases = append(cases, opCase{name: "resize_antialias_" + mode, op: "Resize", opset: 18,
			attrs:  map[string]*common.Attribute{"mode": strAttr("mode", mode), "antialias": intAttr("antialias", 1)},
			inputs: []*common.Tensor{randT(rng, 1, 2, 11, 9), nil, f32(common.Shape{4}, 1, 1, 0.6, 0.35)}, consts: []bool{false, false, true}})
	}
	cases = append(cases, opCase{name: "upsample_v9_linear", op: "Upsample", opset: 9, attrs: map[string]*common.Attribute{"mode": strAttr("mode", "linear")},
		inputs: []*common.Tensor{randT(rng, 1, 2, 3, 4), f32(common.Shape{4}, 1, 1, 2, 1.5)}, consts: []bool{false, true}},
		opCase{name: "upsample_v7_nearest", op: "Upsample", opset: 7,
			attrs:  map[string]*common.Attribute{"scales": {Name: "scales", Type: common.AttrFloats, Floats: []float32{1, 1, 3, 2}}},
			inputs: []*common.Tensor{randT(rng, 1, 1, 2, 3)}})
	cases = append(cases, opCase{name: "resize_v10", op: "Resize", opset: 10,
		inputs: []*common.Tensor{randT(rng, 1, 1, 3, 4), f32(common.Shape{4}, 1, 1, 2, 2.5)}, consts: []bool{false, true}})
	cases = append(cases, opCase{name: "resize_crop", op: "Resize", opset: 13,
		attrs: map[string]*common.Attribute{"mode": strAttr("mode", "linear"), "coordinate_transformation_mode": strAttr("coordinate_transformation_mode", "tf_crop_and_resize"),
			"extrapolation_value": floatAttr("extrapolation_value", 3)},
		inputs: []*common.Tensor{randT(rng, 1, 1, 4, 5), f32(common.Shape{8}, 0, 0, -0.2, 0.3, 1, 1, 0.9, 1.4), nil, vec(1, 1, 6, 4)}, consts: []bool{false, true, false, true}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runBoth(t, c) })
	}
}

func TestCastMatchesCPU(t *testing.T) {
	needDevice(t)
	fv := []float32{0, 1.7, -2.9, 255.5, 300, -1, 3e9, -3e9, 1e20}
	iv := []int64{0, 1, -1, 255, 256, -129, 1 << 40, -(1 << 33)}
	sources := []*common.Tensor{
		common.NewTensor(common.Shape{len(fv)}, fv),
		common.NewTensor(common.Shape{len(iv)}, iv),
		common.NewTensor(common.Shape{3}, []int32{-5, 0, 70000}),
		common.NewTensor(common.Shape{3}, []bool{true, false, true}),
		common.NewTensor(common.Shape{3}, []uint8{0, 7, 255}),
	}
	targets := []common.DType{common.Float32, common.Int32, common.Int64, common.Bool, common.Uint8}
	for _, src := range sources {
		for _, to := range targets {
			if to == src.DType() {
				continue
			}
			c := opCase{name: "cast_" + src.DType().String() + "_" + to.String(), op: "Cast", opset: 13,
				attrs: map[string]*common.Attribute{"to": intAttr("to", int64(to))}, inputs: []*common.Tensor{src}}
			t.Run(c.name, func(t *testing.T) { runBoth(t, c) })
		}
	}
}

func TestConvKernelChoice(t *testing.T) {
	w3 := window{kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1}
	require.Equal(t, "conv3x3", convKernel(w3, 4, 8, 1))
	require.Equal(t, "conv3x3", convKernel(w3, 4, 8, 8), "depthwise 3x3 stride 1 takes the 3x3 path")
	w3.sh = 2
	require.Equal(t, "dwconv", convKernel(w3, 4, 8, 8))
	require.Equal(t, "conv2d", convKernel(w3, 4, 8, 2))
	require.Equal(t, "conv2d", convKernel(window{kh: 1, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1}, 3, 4, 1))
}

func TestResizeTapsByHand(t *testing.T) {
	// 4 -> 8, half_pixel linear: x = (j+0.5)/2 - 0.5.
	nt, idx, w := resizeTaps(4, 8, 2, 8, 0, 1, resizeOpts{mode: "linear", ctm: "half_pixel"})
	require.Equal(t, 2, nt)
	require.Equal(t, []int32{0, 0, 0, 1, 0, 1, 1, 2}, idx[:8]) // j=0: x=-0.25 clamps to 0
	require.InDeltaSlice(t, []float32{0.25, 0.75, 0.75, 0.25, 0.25, 0.75, 0.75, 0.25}, w[:8], 1e-6)
	_, idx, _ = resizeTaps(3, 6, 2, 6, 0, 1, resizeOpts{mode: "nearest", ctm: "asymmetric", nearest: "floor"})
	require.Equal(t, []int32{0, 0, 1, 1, 2, 2}, idx)
	_, idx, _ = resizeTaps(4, 3, 0.75, 3, 0, 1, resizeOpts{mode: "nearest", ctm: "asymmetric", nearest: "simple"})
	require.Equal(t, []int32{0, 2, 3}, idx, "opset-10 nearest rounds up when downsampling")
}

func TestConstInputsArePlannedPerValue(t *testing.T) {
	needDevice(t)
	rng := rand.New(rand.NewSource(2))
	x := randT(rng, 4, 6)
	c := opCase{name: "slice", op: "Slice", opset: 13, inputs: []*common.Tensor{x, i64(common.Shape{1}, 1), i64(common.Shape{1}, 3)}}
	m := oneNode(c)
	e, err := (Backend{}).Compile(m, common.Options{DeviceOnly: true, NoGraphPasses: true})
	require.NoError(t, err)
	defer e.Close()
	pe := e.(*plan.Engine)
	for _, start := range []int64{1, 2, 1, 0} {
		in := map[string]*common.Tensor{"in0": x, "in1": i64(common.Shape{1}, start), "in2": i64(common.Shape{1}, start+2)}
		for run := 0; run < 2; run++ {
			out, err := e.Run(t.Context(), in)
			require.NoError(t, err)
			got := common.Data[float32](out["out0"])
			require.Equal(t, common.Data[float32](x)[start*6:(start+2)*6], got, "start %d run %d", start, run)
		}
	}
	require.Equal(t, 1, pe.Plans(), "one signature; the plan is remade when the starts change")
}
