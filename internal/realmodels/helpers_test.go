package realmodels

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/onnx"
	_ "github.com/accel-go/accel/cpu"
)

const (
	listFile    = "../../testdata/real/MODELS.tsv"
	refRoot     = "../../testdata/real"
	fetchScript = "../../scripts/fetch-models.sh"
	// maxRelL2 is the largest relative L2 error allowed per output.
	maxRelL2 = 1e-4
)

// models returns the model list and the folder the models were fetched
// into. Outside CI it skips when they cannot be fetched (no npm, no
// network); under CI that is a failure.
func models(t *testing.T) ([]Model, string) {
	t.Helper()
	list, err := LoadList(listFile)
	require.NoError(t, err)
	require.NotEmpty(t, list, "no models in %s", listFile)
	dir, err := Fetch(fetchScript, 10*time.Minute)
	if errors.Is(err, ErrFetch) && os.Getenv("CI") == "" {
		t.Skipf("real models not available (set CI to make this a failure): %v", err)
	}
	require.NoError(t, err)
	return list, dir
}

// open compiles a model file on a backend.
func open(t *testing.T, backend, path string) common.Engine {
	t.Helper()
	return openWith(t, backend, path, common.Options{})
}

// openWith compiles a model file on a backend with options.
func openWith(t *testing.T, backend, path string, opts common.Options) common.Engine {
	t.Helper()
	m, err := onnx.LoadModel(path, common.Limits{})
	require.NoError(t, err, "loading %s", path)
	eng, err := common.Open(backend, m, opts)
	require.NoError(t, err, "compiling %s on %s", filepath.Base(path), backend)
	t.Cleanup(func() { eng.Close() })
	return eng
}

// runSteps runs m's steps in a row on eng and returns each run's outputs.
func runSteps(t *testing.T, eng common.Engine, m Model, backend string) []map[string]*common.Tensor {
	t.Helper()
	var outs []map[string]*common.Tensor
	var prev map[string]*common.Tensor
	for step := range m.Steps {
		in, err := m.StepInputs(step, prev)
		require.NoError(t, err)
		out, err := run(eng, in)
		require.NoError(t, err, "%s on %s, run %d", m.Name, backend, step)
		outs = append(outs, out)
		prev = out
	}
	return outs
}

// runOnce runs eng once and fails the test on an error.
func runOnce(t *testing.T, eng common.Engine, in map[string]*common.Tensor) map[string]*common.Tensor {
	t.Helper()
	out, err := run(eng, in)
	require.NoError(t, err)
	return out
}

func run(eng common.Engine, in map[string]*common.Tensor) (map[string]*common.Tensor, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return eng.Run(ctx, in)
}
