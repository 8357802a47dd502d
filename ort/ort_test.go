//go:build ort

package ort_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/conformance"
	"github.com/accel-go/accel/common/onnx"
	"github.com/accel-go/accel/cpu"
	"github.com/accel-go/accel/ort"
)

// available skips the test when the library is missing, except under CI,
// where the test script fetched it and its absence is a failure.
func available(t *testing.T) {
	t.Helper()
	if _, err := (ort.Backend{}).Devices(); err != nil {
		if os.Getenv("CI") != "" && os.Getenv("ACCEL_ORT_OPTIONAL") == "" {
			t.Fatalf("ONNX Runtime missing under CI: %v", err)
		}
		t.Skipf("ONNX Runtime library not available: %v", err)
	}
}

func modelsDir() string { return filepath.Join("..", "testdata", "models") }

func randomInputs(t *testing.T, eng common.Engine, seed uint64) map[string]*common.Tensor {
	rng := rand.New(rand.NewPCG(seed, 99))
	in := map[string]*common.Tensor{}
	for _, info := range eng.Inputs() {
		shape := common.Shape{}
		for _, d := range info.Dims {
			if d.Known() {
				shape = append(shape, int(d.Value))
			} else {
				shape = append(shape, 2) // symbolic batch
			}
		}
		require.Equal(t, common.Float32, info.DType, "test models take float32 inputs")
		v := make([]float32, shape.Size())
		for i := range v {
			v[i] = float32(rng.Float64()*2 - 1)
		}
		in[info.Name] = common.NewTensor(shape, v)
	}
	return in
}

// TestModelsMatchCPU runs every testdata model on ort and cpu.
func TestModelsMatchCPU(t *testing.T) {
	available(t)
	files, err := filepath.Glob(filepath.Join(modelsDir(), "*.onnx"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no models under testdata/models")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			m, err := onnx.LoadModel(f, common.Limits{})
			require.NoError(t, err)
			oe, err := ort.Backend{}.Compile(m, common.Options{Threads: 1})
			require.NoError(t, err)
			defer oe.Close()
			ce, err := cpu.Backend{}.Compile(m, common.Options{Threads: 1})
			require.NoError(t, err)
			defer ce.Close()
			in := randomInputs(t, ce, 7)
			want, err := ce.Run(context.Background(), in)
			require.NoError(t, err)
			got, err := oe.Run(context.Background(), in)
			require.NoError(t, err)
			for name, w := range want {
				g := got[name]
				require.NotNil(t, g, name)
				rel, err := conformance.RelL2(g, w)
				require.NoError(t, err)
				require.Less(t, rel, 1e-4, "output %s", name)
			}
		})
	}
}

// TestNodeSuiteAgreesWithCPU runs the node tests on ort against the
// reference data (failures must be listed in testdata/known_failures.tsv),
// and on every case both ort and cpu run, compares their outputs with each
// other (twice the suite's tolerance: each is within it of the reference).
func TestNodeSuiteAgreesWithCPU(t *testing.T) {
	available(t)
	dir, ok := conformance.Dir()
	if !ok {
		t.Skipf("ONNX node tests not found (set ACCEL_ONNX_TESTS; looked at %q)", dir)
	}
	cases, err := conformance.ListCases(dir)
	require.NoError(t, err)
	known, err := conformance.LoadKnown("testdata/known_failures.tsv")
	require.NoError(t, err)
	var sum conformance.Summary
	both := 0
	for _, c := range cases {
		r := conformance.RunCase(ort.Backend{}, c, conformance.Options{Timeout: time.Minute})
		sum.Add(r)
		_, isKnown := known[c.Name]
		if r.Status == conformance.Failed && !isKnown {
			t.Errorf("%s: %s", c.Name, r.Detail)
		}
		if r.Status == conformance.Passed && isKnown {
			t.Errorf("%s passes now; remove it from ort/testdata/known_failures.tsv", c.Name)
		}
		if r.Status == conformance.Unsupported || isKnown {
			continue
		}
		got, err := conformance.Outputs(ort.Backend{}, c, conformance.Options{Timeout: time.Minute})
		if err != nil {
			continue
		}
		want, err := conformance.Outputs(cpu.Backend{}, c, conformance.Options{Timeout: time.Minute})
		if err != nil {
			t.Errorf("%s: cpu: %v", c.Name, err)
			continue
		}
		both++
		for name, w := range want {
			if _, err := conformance.Compare(got[name], w, 2*conformance.DefaultRTol, 2*conformance.DefaultATol); err != nil {
				t.Errorf("%s: ort and cpu differ on %q: %v", c.Name, name, err)
			}
		}
	}
	t.Logf("ort and cpu agree on all %d cases both run", both)
	t.Log(sum.Line("ort"))
}

func TestCancel(t *testing.T) {
	available(t)
	m, err := onnx.LoadModel(filepath.Join(modelsDir(), "cnn.onnx"), common.Limits{})
	require.NoError(t, err)
	e, err := ort.Backend{}.Compile(m, common.Options{Threads: 1})
	require.NoError(t, err)
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.Run(ctx, randomInputs(t, e, 1))
	require.ErrorIs(t, err, context.Canceled)
}

func TestGPUProvidersRefusedClearly(t *testing.T) {
	available(t)
	m, err := onnx.LoadModel(filepath.Join(modelsDir(), "mlp.onnx"), common.Limits{})
	require.NoError(t, err)
	for _, p := range []string{"cuda", "tensorrt"} {
		e, err := ort.Backend{}.Compile(m, common.Options{Providers: []string{p}})
		if err == nil {
			e.Close()
			t.Logf("this ONNX Runtime build has the %s provider", p)
			continue
		}
		require.ErrorIs(t, err, common.ErrUnavailable, p)
		require.Contains(t, strings.ToLower(err.Error()), p)
	}
	_, err = ort.Backend{}.Compile(m, common.Options{Providers: []string{"nosuch"}})
	require.ErrorIs(t, err, common.ErrUnsupported)
}

func TestBadInputs(t *testing.T) {
	available(t)
	m, err := onnx.LoadModel(filepath.Join(modelsDir(), "mlp.onnx"), common.Limits{})
	require.NoError(t, err)
	e, err := ort.Backend{}.Compile(m, common.Options{})
	require.NoError(t, err)
	defer e.Close()
	ctx := context.Background()
	_, err = e.Run(ctx, map[string]*common.Tensor{})
	require.ErrorIs(t, err, common.ErrShape)
	_, err = e.Run(ctx, map[string]*common.Tensor{"x": common.NewTensor(common.Shape{1, 64}, make([]int64, 64))})
	require.ErrorIs(t, err, common.ErrShape)
	_, err = e.Run(ctx, map[string]*common.Tensor{"x": common.NewTensor(common.Shape{1, 3}, make([]float32, 3))})
	require.Error(t, err)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close is idempotent")
	_, err = e.Run(ctx, map[string]*common.Tensor{"x": common.NewTensor(common.Shape{1, 64}, make([]float32, 64))})
	require.ErrorIs(t, err, common.ErrUnavailable)
}

// TestNoGrowth runs 10,000 times and checks the resident set stays flat.
func TestNoGrowth(t *testing.T) {
	available(t)
	if testing.Short() {
		t.Skip("long")
	}
	m, err := onnx.LoadModel(filepath.Join(modelsDir(), "mlp.onnx"), common.Limits{})
	require.NoError(t, err)
	e, err := ort.Backend{}.Compile(m, common.Options{Threads: 1})
	require.NoError(t, err)
	defer e.Close()
	in := randomInputs(t, e, 3)
	ctx := context.Background()
	for i := 0; i < 500; i++ {
		_, err := e.Run(ctx, in)
		require.NoError(t, err)
	}
	runtime.GC()
	before := rss(t)
	for i := 0; i < 10000; i++ {
		_, err := e.Run(ctx, in)
		require.NoError(t, err)
	}
	runtime.GC()
	after := rss(t)
	t.Logf("RSS %d KiB -> %d KiB over 10,000 runs", before>>10, after>>10)
	require.Less(t, after-before, int64(32<<20), "resident set grew by %d KiB", (after-before)>>10)
}

func rss(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm")
	}
	var size, res int64
	_, err = fmt.Sscan(string(data), &size, &res)
	require.NoError(t, err)
	return res * int64(os.Getpagesize())
}

// TestMissingLibrary runs this test binary again with ACCEL_ORT_LIB
// pointing nowhere, and checks the error names the path and the variable.
func TestMissingLibrary(t *testing.T) {
	if os.Getenv("ACCEL_ORT_CHILD") == "1" {
		_, err := ort.Backend{}.Devices()
		if err == nil || !errors.Is(err, common.ErrUnavailable) {
			os.Exit(3)
		}
		os.Stdout.WriteString(err.Error())
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingLibrary$")
	cmd.Env = append(os.Environ(), "ACCEL_ORT_CHILD=1", "ACCEL_ORT_LIB=/nonexistent/libonnxruntime.so.1")
	out, err := cmd.Output()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "/nonexistent/libonnxruntime.so.1")
	require.Contains(t, string(out), "ACCEL_ORT_LIB")
}
