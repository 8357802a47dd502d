package plan

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// A device-only engine views run inputs on the device; the view's axes,
// a run input, are part of the plan, so new axes of the same shape make a
// new plan instead of a stale view.
func TestDeviceOnlyViewPinsShapeInputs(t *testing.T) {
	g := &common.Graph{Initializers: map[string]*common.Tensor{}}
	g.Inputs = []common.ValueInfo{
		{Name: "x", Type: common.TypeInfo{Kind: common.KindTensor, DType: common.Float32, Dims: []common.Dim{{Value: 2}, {Value: 3}}, HasShape: true}},
		{Name: "axes", Type: common.TypeInfo{Kind: common.KindTensor, DType: common.Int64, Dims: []common.Dim{{Value: 1}}, HasShape: true}},
	}
	g.Nodes = []*common.Node{
		{Name: "u", OpType: "Unsqueeze", Opset: 13, Inputs: []string{"x", "axes"}, Outputs: []string{"y"}},
		{Name: "sm", OpType: "Softmax", Opset: 13, Inputs: []string{"y"}, Outputs: []string{"s"}},
	}
	g.Outputs = []common.ValueInfo{{Name: "y"}, {Name: "s"}}
	m := &common.Model{Opsets: map[string]int64{"": 13}, Graph: g}
	e, err := Compile(&fakeBackend{}, m, common.Options{DeviceOnly: true})
	require.NoError(t, err)
	defer e.Close()
	x := common.NewTensor(common.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	for _, c := range []struct {
		axis int64
		want common.Shape
	}{{0, common.Shape{1, 2, 3}}, {1, common.Shape{2, 1, 3}}, {2, common.Shape{2, 3, 1}}, {1, common.Shape{2, 1, 3}}} {
		for run := 0; run < 2; run++ {
			out, err := e.Run(context.Background(), map[string]*common.Tensor{"x": x, "axes": common.NewTensor(common.Shape{1}, []int64{c.axis})})
			require.NoError(t, err)
			require.Equal(t, c.want, out["y"].Shape(), "axis %d run %d", c.axis, run)
			require.Equal(t, common.Data[float32](x), common.Data[float32](out["y"]))
			require.Equal(t, c.want, out["s"].Shape())
		}
	}
	for _, pl := range e.Placement() {
		require.Equal(t, "fake", pl.Device, "%s runs on %s (%s)", pl.Node, pl.Device, pl.Reason)
	}
}
