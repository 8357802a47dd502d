package realmodels

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/conformance"
	"github.com/accel-go/accel/common/npy"
)

// TestCPUMatchesStoredReference runs each real model on cpu, with the
// graph passes and without them, and compares its outputs with the ones
// ONNX Runtime gave, stored under testdata/real/NAME/.
func TestCPUMatchesStoredReference(t *testing.T) {
	list, dir := models(t)
	for _, m := range list {
		for _, passes := range []bool{true, false} {
			name := m.Name
			if !passes {
				name += "/no-passes"
			}
			t.Run(name, func(t *testing.T) {
				eng := openWith(t, "cpu", filepath.Join(dir, m.Name+".onnx"), common.Options{NoGraphPasses: !passes})
				checkStored(t, m, runSteps(t, eng, m, "cpu"))
			})
		}
	}
}

// checkStored compares the outputs of m's runs with the stored references.
func checkStored(t *testing.T, m Model, outs []map[string]*common.Tensor) {
	t.Helper()
	refs := filepath.Join(refRoot, m.Name)
	stored, err := filepath.Glob(filepath.Join(refs, "*.npy"))
	require.NoError(t, err)
	require.NotEmpty(t, stored, "no reference outputs in %s", refs)
	var checked []string
	for step, out := range outs {
		for name, got := range out {
			sums, err := Summaries(got)
			require.NoError(t, err)
			for kind, g := range sums {
				file := RefFile(step, name, kind)
				want, err := npy.ReadFile(filepath.Join(refs, file), common.Limits{})
				require.NoError(t, err, "output %s of run %d", name, step)
				checked = append(checked, file)
				switch kind {
				case "argmax":
					requireSameArgmax(t, got, g, want, file)
				default:
					require.Equal(t, want.DType(), g.DType(), file)
					d, err := conformance.RelL2(g, want)
					require.NoError(t, err, file)
					require.LessOrEqual(t, d, maxRelL2, "%s: relative L2 error", file)
					t.Logf("%s: relative L2 %.3g", file, d)
				}
			}
		}
	}
	var want []string
	for _, f := range stored {
		want = append(want, filepath.Base(f))
	}
	sort.Strings(checked)
	require.Equal(t, want, checked, "the outputs the model gave and the references stored differ")
}

// requireSameArgmax checks an argmax summary against the stored one. Rows
// where they differ pass only if full holds a near tie there: the values
// at both positions within maxRelL2 of each other, relative to the row max.
func requireSameArgmax(t *testing.T, full, got, want *common.Tensor, file string) {
	t.Helper()
	require.Equal(t, want.Shape(), got.Shape(), file)
	require.Equal(t, common.Int64, want.DType(), file)
	last := full.Shape()[full.Rank()-1]
	g, w := common.Data[int64](got), common.Data[int64](want)
	for r := range g {
		if g[r] == w[r] {
			continue
		}
		require.True(t, w[r] >= 0 && int(w[r]) < last, "%s: stored argmax %d out of range", file, w[r])
		a, b := full.Float(r*last+int(g[r])), full.Float(r*last+int(w[r]))
		require.LessOrEqual(t, math.Abs(a-b), maxRelL2*math.Abs(a),
			"%s: row %d: argmax %d (%g), reference %d (%g there)", file, r, g[r], a, w[r], b)
	}
}

// TestModelList checks MODELS.tsv against what the fetch script and the
// tests rely on, without fetching anything.
func TestModelList(t *testing.T) {
	list, err := LoadList(listFile)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, m := range list {
		require.False(t, seen[m.Name], "model %s listed twice", m.Name)
		seen[m.Name] = true
		require.Len(t, m.SHA256, 64, m.Name)
		require.Contains(t, m.Package, "@", "%s: package must pin a version", m.Name)
		require.True(t, strings.HasSuffix(m.Path, ".onnx"), m.Name)
		for step := range m.Steps {
			var prev map[string]*common.Tensor
			if step > 0 {
				// carried inputs need the previous outputs: stand in zeros
				prev = map[string]*common.Tensor{}
				for _, in := range m.Inputs {
					if out, ok := strings.CutPrefix(in.Fill, "carry="); ok {
						prev[out] = common.Zeros(in.DType, in.Shape)
					}
				}
			}
			in, err := m.StepInputs(step, prev)
			require.NoError(t, err, m.Name)
			require.Len(t, in, len(m.Inputs), m.Name)
		}
	}
	_, err = os.Stat(fetchScript)
	require.NoError(t, err)
}
