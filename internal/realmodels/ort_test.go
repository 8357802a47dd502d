//go:build ort

package realmodels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/conformance"
	"github.com/accel-go/accel/common/npy"
	"github.com/accel-go/accel/ort"
)

// ortAvailable skips when the ONNX Runtime library is missing, except
// under CI, where the test script fetched it and its absence is a failure.
func ortAvailable(t *testing.T) {
	t.Helper()
	if _, err := (ort.Backend{}).Devices(); err != nil {
		if os.Getenv("CI") != "" && os.Getenv("ACCEL_ORT_OPTIONAL") == "" {
			t.Fatalf("ONNX Runtime missing under CI: %v", err)
		}
		t.Skipf("ONNX Runtime library not available (run scripts/fetch-onnxruntime.sh, set ACCEL_ORT_LIB): %v", err)
	}
}

// compareRuns requires the same outputs from both backends, each within
// maxRelL2 of ONNX Runtime's.
func compareRuns(t *testing.T, got, want []map[string]*common.Tensor) {
	t.Helper()
	require.Len(t, got, len(want))
	for step := range want {
		require.Len(t, got[step], len(want[step]), "run %d: output count", step)
		for name, w := range want[step] {
			g, ok := got[step][name]
			require.True(t, ok, "run %d: cpu gave no output %q", step, name)
			require.Equal(t, w.DType(), g.DType(), "run %d, output %s", step, name)
			require.Equal(t, w.Shape(), g.Shape(), "run %d, output %s", step, name)
			d, err := conformance.RelL2(g, w)
			require.NoError(t, err)
			t.Logf("run %d, output %s %v: relative L2 %.3g", step, name, w.Shape(), d)
			require.LessOrEqual(t, d, maxRelL2, "run %d, output %s: relative L2 error of cpu against ort", step, name)
		}
	}
}

// TestRealModelsCPUvsORT runs each real model on cpu and on ONNX Runtime
// with the same inputs, carrying each backend's own state from run to run.
// With ACCEL_REAL_UPDATE=1 it also rewrites the stored references from
// ONNX Runtime's outputs.
func TestRealModelsCPUvsORT(t *testing.T) {
	ortAvailable(t)
	list, dir := models(t)
	update := os.Getenv("ACCEL_REAL_UPDATE") == "1"
	for _, m := range list {
		t.Run(m.Name, func(t *testing.T) {
			path := filepath.Join(dir, m.Name+".onnx")
			want := runSteps(t, open(t, "ort", path), m, "ort")
			if update {
				writeRefs(t, m, want)
			}
			got := runSteps(t, open(t, "cpu", path), m, "cpu")
			compareRuns(t, got, want)
		})
	}
}

func writeRefs(t *testing.T, m Model, outs []map[string]*common.Tensor) {
	t.Helper()
	refs := filepath.Join(refRoot, m.Name)
	old, err := filepath.Glob(filepath.Join(refs, "*.npy"))
	require.NoError(t, err)
	for _, f := range old {
		require.NoError(t, os.Remove(f))
	}
	require.NoError(t, os.MkdirAll(refs, 0o755))
	for step, out := range outs {
		for name, v := range out {
			sums, err := Summaries(v)
			require.NoError(t, err)
			for kind, s := range sums {
				require.NoError(t, npy.WriteFile(filepath.Join(refs, RefFile(step, name, kind)), s))
			}
		}
	}
}

// batchShape is the shape of a value whose dims are known but for one
// named batch, set to batch.
func batchShape(info common.TensorInfo, batch int) (common.Shape, error) {
	shape := common.Shape{}
	found := false
	for i, d := range info.Dims {
		switch {
		case d.Known():
			shape = append(shape, int(d.Value))
		case d.Param == "batch":
			shape, found = append(shape, batch), true
		default:
			return nil, fmt.Errorf("%s: dim %d (%v) is unknown and not the batch", info.Name, i, d)
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: no symbolic batch dim in %v", info.Name, info.Dims)
	}
	return shape, nil
}

// TestGeneratedModelsBatchCPUvsORT runs the generated models, which have a
// symbolic batch dim, at batch 1 and 3 on both backends.
func TestGeneratedModelsBatchCPUvsORT(t *testing.T) {
	ortAvailable(t)
	files, err := filepath.Glob("../../testdata/models/*.onnx")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no generated models under testdata/models")
	for _, f := range files {
		for _, batch := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/batch%d", filepath.Base(f), batch), func(t *testing.T) {
				ce, oe := open(t, "cpu", f), open(t, "ort", f)
				rng := rand.New(rand.NewPCG(seed(f), uint64(batch)))
				in := map[string]*common.Tensor{}
				for _, info := range ce.Inputs() {
					require.Equal(t, common.Float32, info.DType, "generated models take float32 inputs")
					shape, err := batchShape(info, batch)
					require.NoError(t, err)
					v := make([]float32, shape.Size())
					for i := range v {
						v[i] = float32(uniform(rng))
					}
					in[info.Name] = common.NewTensor(shape, v)
				}
				want := runOnce(t, oe, in)
				got := runOnce(t, ce, in)
				for _, info := range oe.Outputs() {
					shape, err := batchShape(info, batch)
					require.NoError(t, err)
					require.Equal(t, shape, want[info.Name].Shape(), "output %s", info.Name)
				}
				compareRuns(t, []map[string]*common.Tensor{got}, []map[string]*common.Tensor{want})
			})
		}
	}
}
