//go:build ort

package realmodels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/conformance"
	"github.com/accel-go/accel/common/npy"
	"github.com/accel-go/accel/common/onnx"
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

// wakeWord runs openWakeWord's three models in a row, as its pipeline
// does: the mel spectrogram of 2 s of audio, scaled by x/10+2; the speech
// embedding of 16 windows of 76 frames, 8 frames apart (one batch of 16);
// the hey-jarvis classifier on those 16 embeddings. It returns each
// stage's output, and the classifier's logit (the input of its final
// Sigmoid, made a graph output).
func wakeWord(t *testing.T, backend, dir string, audio *common.Tensor) (mel, emb, logit, score *common.Tensor) {
	t.Helper()
	const window, hop, windows, bins = 76, 8, 16, 32
	melOut := runOnce(t, open(t, backend, filepath.Join(dir, "oww_melspectrogram.onnx")), map[string]*common.Tensor{"input": audio})
	mel = melOut["output"]
	require.NotNil(t, mel, "melspectrogram output")
	s := mel.Shape()
	require.Len(t, s, 4)
	require.Equal(t, bins, s[3])
	frames := s[0] * s[1] * s[2]
	require.GreaterOrEqual(t, frames, window+hop*(windows-1), "too few mel frames")
	m := common.Data[float32](mel)
	feats := make([]float32, windows*window*bins)
	for w := range windows {
		for i := range window * bins {
			feats[w*window*bins+i] = m[w*hop*bins+i]/10 + 2
		}
	}
	embOut := runOnce(t, open(t, backend, filepath.Join(dir, "oww_embedding.onnx")),
		map[string]*common.Tensor{"input_1": common.NewTensor(common.Shape{windows, window, bins, 1}, feats)})
	emb = embOut["conv2d_19"]
	require.NotNil(t, emb, "embedding output")
	require.Equal(t, common.Shape{windows, 1, 1, 96}, emb.Shape())
	e, err := emb.Reshape(common.Shape{1, windows, 96})
	require.NoError(t, err)

	cls, err := onnx.LoadModel(filepath.Join(dir, "oww_hey_jarvis.onnx"), common.Limits{})
	require.NoError(t, err)
	const logitName = "input.19"
	found := false
	for _, n := range cls.Graph.Nodes {
		found = found || (n.OpType == "Sigmoid" && len(n.Inputs) == 1 && n.Inputs[0] == logitName)
	}
	require.True(t, found, "no Sigmoid of %s in the classifier", logitName)
	cls.Graph.Outputs = append(cls.Graph.Outputs, common.ValueInfo{Name: logitName, Type: common.TypeInfo{Kind: common.KindTensor, DType: common.Float32}})
	eng, err := common.Open(backend, cls, common.Options{})
	require.NoError(t, err)
	defer eng.Close()
	out := runOnce(t, eng, map[string]*common.Tensor{"x.1": e})
	score, logit = out["53"], out[logitName]
	require.NotNil(t, score, "classifier output")
	require.NotNil(t, logit, "classifier logit")
	return mel, emb, logit, score
}

// TestWakeWordPipelineCPUvsORT runs the openWakeWord pipeline end to end on
// each backend, each stage fed by that backend's previous stage.
//
// The score of a pure tone is tiny (the logit is near -9.6), where ONNX
// Runtime's Sigmoid is an approximation off by a few 1e-4 relative; so the
// score is held to the exact sigmoid of the logit, and to ONNX Runtime's
// within an absolute 1e-7.
func TestWakeWordPipelineCPUvsORT(t *testing.T) {
	ortAvailable(t)
	_, dir := models(t)
	m := Model{Name: "wakeword-pipeline", Steps: 1, Inputs: []Input{{Name: "input", DType: common.Float32, Shape: common.Shape{1, 2 * SampleRate}, Fill: "sine*32768"}}}
	in, err := m.StepInputs(0, nil)
	require.NoError(t, err)
	wm, we, wl, ws := wakeWord(t, "ort", dir, in["input"])
	gm, ge, gl, gs := wakeWord(t, "cpu", dir, in["input"])
	for _, c := range []struct {
		name      string
		got, want *common.Tensor
	}{{"mel spectrogram", gm, wm}, {"embeddings", ge, we}, {"logit", gl, wl}} {
		d, err := conformance.RelL2(c.got, c.want)
		require.NoError(t, err, c.name)
		t.Logf("%s %v: relative L2 %.3g", c.name, c.want.Shape(), d)
		require.LessOrEqual(t, d, maxRelL2, "%s: relative L2 error of cpu against ort", c.name)
	}
	require.Equal(t, 1, gs.Len())
	x := gl.Float(0)
	exact := math.Exp(x) / (1 + math.Exp(x))
	require.InEpsilon(t, exact, gs.Float(0), 1e-6, "cpu score against the float64 sigmoid of its logit")
	require.InDelta(t, ws.Float(0), gs.Float(0), 1e-7, "cpu score against ort's")
	t.Logf("hey-jarvis logit %.6f, score: cpu %.8g, ort %.8g, exact %.8g", x, gs.Float(0), ws.Float(0), exact)
}
