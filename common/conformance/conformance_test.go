package conformance_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/conformance"
	"github.com/accel-go/accel/cpu"
)

// faulty wraps the CPU backend and perturbs every float output, so the
// runner must report failures.
type faulty struct{ delta float64 }

func (f faulty) Name() string                      { return "faulty" }
func (f faulty) Devices() ([]common.Device, error) { return cpu.Backend{}.Devices() }
func (f faulty) Compile(m *common.Model, o common.Options) (common.Engine, error) {
	e, err := cpu.Compile(m, o)
	if err != nil {
		return nil, err
	}
	return &faultyEngine{Engine: e, delta: f.delta}, nil
}

type faultyEngine struct {
	*cpu.Engine
	delta float64
}

func (e *faultyEngine) RunValues(ctx context.Context, in map[string]common.Value) (map[string]common.Value, error) {
	out, err := e.Engine.RunValues(ctx, in)
	for _, v := range out {
		if t, ok := v.(*common.Tensor); ok {
			if s, ok := common.TryData[float32](t); ok {
				for i := range s {
					s[i] += float32(e.delta)
				}
			}
		}
	}
	return out, err
}

func cases(t *testing.T, names ...string) []conformance.Case {
	dir, ok := conformance.Dir()
	if !ok {
		t.Skipf("ONNX node tests not found (set ACCEL_ONNX_TESTS; looked at %q)", dir)
	}
	all, err := conformance.ListCases(dir)
	require.NoError(t, err)
	var out []conformance.Case
	for _, c := range all {
		for _, n := range names {
			if c.Name == n {
				out = append(out, c)
			}
		}
	}
	require.Len(t, out, len(names))
	return out
}

func TestRunnerCatchesWrongResults(t *testing.T) {
	for _, c := range cases(t, "test_transpose_default", "test_softmax_example", "test_concat_1d_axis_0") {
		require.Equal(t, conformance.Passed, conformance.RunCase(cpu.Backend{}, c, conformance.Options{}).Status, c.Name)
		r := conformance.RunCase(faulty{delta: 1e-2}, c, conformance.Options{})
		require.Equal(t, conformance.Failed, r.Status, c.Name)
		require.Contains(t, r.Detail, "differ")
		// Within tolerance passes.
		r = conformance.RunCase(faulty{delta: 1e-9}, c, conformance.Options{})
		require.Equal(t, conformance.Passed, r.Status, "%s: %s", c.Name, r.Detail)
	}
}

func TestCompareRules(t *testing.T) {
	f := func(v ...float32) *common.Tensor { return common.NewTensor(common.Shape{len(v)}, v) }
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	ok := func(got, want *common.Tensor) error {
		_, err := conformance.CompareTensors(got, want, conformance.DefaultRTol, conformance.DefaultATol)
		return err
	}
	require.NoError(t, ok(f(1, nan, inf), f(1, nan, inf)))
	require.Error(t, ok(f(1, 0, inf), f(1, nan, inf)), "NaN must match NaN")
	require.Error(t, ok(f(1, nan, -inf), f(1, nan, inf)), "infinities must have the same sign")
	require.NoError(t, ok(f(1000.9), f(1000)), "within rtol")
	require.Error(t, ok(f(1002), f(1000)))
	require.Error(t, ok(f(1, 2), common.NewTensor(common.Shape{1, 2}, []float32{1, 2})), "shape must match")
	require.Error(t, ok(common.NewTensor(common.Shape{1}, []float64{1}), f(1)), "dtype must match")
	require.Error(t, ok(common.NewTensor(common.Shape{1}, []int64{3}), common.NewTensor(common.Shape{1}, []int64{4})))
	rel, err := conformance.RelL2(f(1, 2, 2), f(1, 2, 3))
	require.NoError(t, err)
	require.InDelta(t, 1/math.Sqrt(14), rel, 1e-12)
}
