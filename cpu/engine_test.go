package cpu_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/onnx"
	"github.com/accel-go/accel/cpu"
)

func loadModel(t *testing.T, name string) *common.Model {
	m, err := onnx.LoadModel("../testdata/models/"+name, common.Limits{})
	require.NoError(t, err)
	return m
}

func randIn(seed uint64, shape ...int) *common.Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := common.Shape(shape)
	v := make([]float32, s.Size())
	for i := range v {
		v[i] = float32(rng.Float64()*2 - 1)
	}
	return common.NewTensor(s, v)
}

func TestConcurrentRuns(t *testing.T) {
	e, err := cpu.Compile(loadModel(t, "cnn.onnx"), common.Options{Threads: 2})
	require.NoError(t, err)
	defer e.Close()
	const workers = 6
	inputs := make([]map[string]*common.Tensor, workers)
	wants := make([]map[string]*common.Tensor, workers)
	for i := range inputs {
		inputs[i] = map[string]*common.Tensor{"image": randIn(uint64(i), 1+i%3, 3, 32, 32)}
		wants[i], err = e.Run(context.Background(), inputs[i])
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*5)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for r := 0; r < 5; r++ {
				got, err := e.Run(context.Background(), inputs[i])
				if err != nil {
					errs <- err
					return
				}
				for name, w := range wants[i] {
					if !equalFloats(common.Data[float32](got[name]), common.Data[float32](w)) {
						errs <- errors.New("concurrent run of worker " + name + " differs from the serial run")
						return
					}
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDynamicBatch(t *testing.T) {
	e, err := cpu.Compile(loadModel(t, "mlp.onnx"), common.Options{})
	require.NoError(t, err)
	defer e.Close()
	one, err := e.Run(context.Background(), map[string]*common.Tensor{"x": randIn(5, 1, 64)})
	require.NoError(t, err)
	x3 := randIn(6, 3, 64)
	copy(common.Data[float32](x3)[64:128], common.Data[float32](randIn(5, 1, 64)))
	three, err := e.Run(context.Background(), map[string]*common.Tensor{"x": x3})
	require.NoError(t, err)
	for name, o := range one {
		require.Equal(t, common.Shape{1, 10}, o.Shape())
		require.Equal(t, common.Shape{3, 10}, three[name].Shape())
		require.InDeltaSlice(t, toF64(common.Data[float32](o)), toF64(common.Data[float32](three[name])[10:20]), 1e-5,
			"row 1 of the batch of 3 is the batch of 1")
	}
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func TestCancelledRun(t *testing.T) {
	e, err := cpu.Compile(loadModel(t, "cnn.onnx"), common.Options{})
	require.NoError(t, err)
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.Run(ctx, map[string]*common.Tensor{"image": randIn(1, 1, 3, 32, 32)})
	require.ErrorIs(t, err, context.Canceled)
	ctx, cancel2 := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel2()
	time.Sleep(time.Millisecond)
	_, err = e.Run(ctx, map[string]*common.Tensor{"image": randIn(1, 1, 3, 32, 32)})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestOutputsAreOwned checks that an output which is (a view of) a model
// constant is a copy: changing it does not change the next run.
func TestOutputsAreOwned(t *testing.T) {
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, 2)
	w := b.Init("w", common.NewTensor(common.Shape{2}, []float32{1, 2}))
	y := b.Node("Identity", []string{w})
	z := b.Node("Reshape", []string{w, b.Init("s", common.NewTensor(common.Shape{2}, []int64{1, 2}))})
	sum := b.Node("Add", []string{x, w})
	b.Output(y, common.Float32)
	b.Output(z, common.Float32)
	b.Output(sum, common.Float32)
	e, err := cpu.Compile(b.Model(), common.Options{})
	require.NoError(t, err)
	defer e.Close()
	in := map[string]*common.Tensor{"x": common.NewTensor(common.Shape{2}, []float32{10, 20})}
	out, err := e.Run(context.Background(), in)
	require.NoError(t, err)
	for _, name := range []string{y, z} {
		common.Data[float32](out[name])[0] = 99
	}
	out, err = e.Run(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2}, common.Data[float32](out[y]))
	require.Equal(t, []float32{1, 2}, common.Data[float32](out[z]))
	require.Equal(t, []float32{11, 22}, common.Data[float32](out[sum]))
	require.Equal(t, []float32{10, 20}, common.Data[float32](in["x"]), "inputs are not modified")
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close is idempotent")
}

func TestUnsupportedOpError(t *testing.T) {
	b := onnx.NewBuilder(17)
	x := b.Input("x", common.Float32, 2)
	b.Output(b.Node("NoSuchOp", []string{x}), common.Float32)
	_, err := cpu.Compile(b.Model(), common.Options{})
	var ue *common.UnsupportedError
	require.ErrorAs(t, err, &ue)
	require.Equal(t, "NoSuchOp", ue.Op)
	require.Equal(t, int64(17), ue.Opset)
	require.Equal(t, "cpu", ue.Backend)
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestProfile(t *testing.T) {
	e, err := cpu.Compile(loadModel(t, "cnn.onnx"), common.Options{})
	require.NoError(t, err)
	defer e.Close()
	require.Empty(t, e.Profile(), "no run yet")
	_, err = e.Run(context.Background(), map[string]*common.Tensor{"image": randIn(1, 1, 3, 32, 32)})
	require.NoError(t, err)
	prof := e.Profile()
	calls := map[string]int{}
	for _, p := range prof {
		calls[p.Op] = p.Calls
		require.Positive(t, p.Nanos, p.Op)
	}
	require.Equal(t, 4, calls["Conv"], "BatchNormalization folded into Conv, Relu fused")
	require.Equal(t, 1, calls["MaxPool"])
}

func TestCloseWaitsForRuns(t *testing.T) {
	e, err := cpu.Compile(loadModel(t, "cnn.onnx"), common.Options{Threads: 2})
	require.NoError(t, err)
	in := map[string]*common.Tensor{"image": randIn(1, 4, 3, 32, 32)}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 20; r++ {
				if _, err := e.Run(context.Background(), in); err != nil {
					if !errors.Is(err, common.ErrUnavailable) {
						errs <- err
					}
					return
				}
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, e.Close())
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a run racing with Close failed with something other than ErrUnavailable: %v", err)
	}
	_, err = e.Run(context.Background(), in)
	require.ErrorIs(t, err, common.ErrUnavailable)
}
