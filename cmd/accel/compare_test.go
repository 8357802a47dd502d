package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/cpu"
)

// skewed is a backend that runs the CPU engine and then corrupts one
// output element by a relative amount, to check compare catches it.
type skewed struct {
	name string
	by   float32
}

func (s skewed) Name() string                      { return s.name }
func (s skewed) Devices() ([]common.Device, error) { return cpu.Backend{}.Devices() }
func (s skewed) Compile(m *common.Model, o common.Options) (common.Engine, error) {
	e, err := cpu.Compile(m, o)
	if err != nil {
		return nil, err
	}
	return skewedEngine{e, s.by}, nil
}

type skewedEngine struct {
	*cpu.Engine
	by float32
}

func (e skewedEngine) Run(ctx context.Context, in map[string]*common.Tensor) (map[string]*common.Tensor, error) {
	out, err := e.Engine.Run(ctx, in)
	for _, t := range out {
		if s, ok := common.TryData[float32](t); ok && len(s) > 0 {
			s[len(s)/2] = s[len(s)/2]*(1+e.by) + e.by
		}
	}
	return out, err
}

func init() {
	common.Register(skewed{"test-skewed", 0.5})
	common.Register(skewed{"test-exact", 0})
}

func models(t *testing.T) []string {
	files, err := filepath.Glob("../../testdata/models/*.onnx")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func TestCompareCatchesAWrongBackend(t *testing.T) {
	for _, f := range models(t) {
		var out, errb bytes.Buffer
		code := run([]string{"compare", "--model", f, "--backends", "cpu,test-exact", "--dim", "batch=2"}, &out, &errb)
		require.Equal(t, 0, code, "%s: %s%s", f, out.String(), errb.String())
		require.Contains(t, out.String(), "all outputs match cpu")

		out.Reset()
		errb.Reset()
		code = run([]string{"compare", "--model", f, "--backends", "cpu,test-skewed", "--dim", "batch=2"}, &out, &errb)
		require.Equal(t, 1, code, "%s: a corrupted output must fail: %s", f, out.String())
		require.Contains(t, out.String(), "FAIL")
		require.Equal(t, 1, strings.Count(strings.TrimSpace(errb.String()), "\n")+1, "one line on stderr: %q", errb.String())
	}
}

func TestBenchJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--model", "../../testdata/models/mlp.onnx", "--backend", "cpu", "--vs", "test-exact",
		"--dim", "batch=4", "--iterations", "20", "--warmup", "1", "--json"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	var rep map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	for _, k := range []string{"model", "backend", "threads", "latency_ms", "throughput_per_s", "vs", "ratio_p50"} {
		require.Contains(t, rep, k)
	}
	lat := rep["latency_ms"].(map[string]any)
	for _, k := range []string{"min", "p50", "p90", "p99", "max", "mean"} {
		require.Contains(t, lat, k)
	}
	require.LessOrEqual(t, lat["min"].(float64), lat["p50"].(float64))
	require.LessOrEqual(t, lat["p50"].(float64), lat["max"].(float64))
	vs := rep["vs"].(map[string]any)
	require.Equal(t, "test-exact", vs["backend"])
	require.EqualValues(t, 20, vs["iterations"])
}
