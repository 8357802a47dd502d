package cpu_test

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/onnx"
	"github.com/accel-go/accel/cpu"
)

// loadTB loads a testdata model for a test or a benchmark.
func loadTB(tb testing.TB, name string) *common.Model {
	m, err := onnx.LoadModel("../testdata/models/"+name, common.Limits{})
	require.NoError(tb, err)
	return m
}

// testdataModels lists the models under testdata/models.
func testdataModels(tb testing.TB) []string {
	paths, err := filepath.Glob("../testdata/models/*.onnx")
	require.NoError(tb, err)
	require.NotEmpty(tb, paths)
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}

// modelInputs makes random float32 inputs for every input of e, with
// symbolic dims set to batch.
func modelInputs(tb testing.TB, e *cpu.Engine, batch int, seed uint64) map[string]*common.Tensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	in := map[string]*common.Tensor{}
	for _, info := range e.Inputs() {
		require.Equal(tb, common.Float32, info.DType, "input %q", info.Name)
		shape := make(common.Shape, len(info.Dims))
		for i, d := range info.Dims {
			shape[i] = batch
			if d.Known() {
				shape[i] = int(d.Value)
			}
		}
		v := make([]float32, shape.Size())
		for i := range v {
			v[i] = float32(rng.Float64()*2 - 1)
		}
		in[info.Name] = common.NewTensor(shape, v)
	}
	return in
}

// sameBits requires two output maps to be bit-identical.
func sameBits(t *testing.T, want, got map[string]*common.Tensor, what string) {
	t.Helper()
	require.Equal(t, len(want), len(got), what)
	for name, w := range want {
		g := got[name]
		require.NotNil(t, g, "%s: output %q missing", what, name)
		require.Equal(t, w.DType(), g.DType(), "%s: output %q", what, name)
		require.Equal(t, w.Shape(), g.Shape(), "%s: output %q", what, name)
		wd, gd := common.Data[float32](w), common.Data[float32](g)
		for i := range wd {
			if math.Float32bits(wd[i]) != math.Float32bits(gd[i]) {
				t.Fatalf("%s: output %q element %d is %v, want %v", what, name, i, gd[i], wd[i])
			}
		}
	}
}

// freshRun runs in on a newly compiled engine once.
func freshRun(t *testing.T, name string, in map[string]*common.Tensor) map[string]*common.Tensor {
	e, err := cpu.Compile(loadTB(t, name), common.Options{Threads: 2})
	require.NoError(t, err)
	defer e.Close()
	out, err := e.Run(context.Background(), in)
	require.NoError(t, err)
	return out
}

// TestBufferReuse runs every testdata model many times on one engine, with
// the same inputs and with other inputs (and batch sizes) interleaved, and
// requires outputs bit-identical to a fresh engine's first run. Outputs of
// earlier runs must not change either: a buffer handed back to the caller
// must never be reused.
func TestBufferReuse(t *testing.T) {
	for _, name := range testdataModels(t) {
		t.Run(name, func(t *testing.T) {
			e, err := cpu.Compile(loadTB(t, name), common.Options{Threads: 2})
			require.NoError(t, err)
			defer e.Close()
			inA := modelInputs(t, e, 2, 1)
			inB := modelInputs(t, e, 3, 2)
			inC := modelInputs(t, e, 2, 3)
			wantA := freshRun(t, name, inA)
			wantB := freshRun(t, name, inB)
			wantC := freshRun(t, name, inC)
			var kept []map[string]*common.Tensor
			var keptWant []map[string]*common.Tensor
			for r := 0; r < 20; r++ {
				got, err := e.Run(context.Background(), inA)
				require.NoError(t, err)
				sameBits(t, wantA, got, "same inputs")
				kept = append(kept, got)
				keptWant = append(keptWant, wantA)
				in, want := inB, wantB
				if r%2 == 1 {
					in, want = inC, wantC
				}
				got, err = e.Run(context.Background(), in)
				require.NoError(t, err)
				sameBits(t, want, got, "interleaved inputs")
				kept = append(kept, got)
				keptWant = append(keptWant, want)
			}
			for i := range kept {
				sameBits(t, keptWant[i], kept[i], "an earlier run's outputs")
			}
		})
	}
}

// TestBufferReuseConcurrent runs every testdata model from 4 goroutines at
// once, each with its own inputs, and requires bit-identical outputs.
func TestBufferReuseConcurrent(t *testing.T) {
	for _, name := range testdataModels(t) {
		t.Run(name, func(t *testing.T) {
			e, err := cpu.Compile(loadTB(t, name), common.Options{Threads: 2})
			require.NoError(t, err)
			defer e.Close()
			const workers = 4
			ins := make([]map[string]*common.Tensor, workers)
			wants := make([]map[string]*common.Tensor, workers)
			for i := range ins {
				ins[i] = modelInputs(t, e, 1+i%3, uint64(10+i))
				wants[i] = freshRun(t, name, ins[i])
			}
			var wg sync.WaitGroup
			results := make([][]map[string]*common.Tensor, workers)
			errs := make([]error, workers)
			for i := 0; i < workers; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					for r := 0; r < 10; r++ {
						got, err := e.Run(context.Background(), ins[i])
						if err != nil {
							errs[i] = err
							return
						}
						results[i] = append(results[i], got)
					}
				}(i)
			}
			wg.Wait()
			for i := range results {
				require.NoError(t, errs[i])
				require.Len(t, results[i], 10)
				for _, got := range results[i] {
					sameBits(t, wants[i], got, "concurrent run")
				}
			}
		})
	}
}

// BenchmarkModels runs each testdata model at batch 4 on one thread and
// reports allocations per run.
func BenchmarkModels(b *testing.B) {
	for _, name := range testdataModels(b) {
		b.Run(name, func(b *testing.B) {
			m := loadTB(b, name)
			e, err := cpu.Compile(m, common.Options{Threads: 1})
			require.NoError(b, err)
			defer e.Close()
			in := modelInputs(b, e, 4, 1)
			for i := 0; i < 3; i++ {
				_, err := e.Run(context.Background(), in)
				require.NoError(b, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := e.Run(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
