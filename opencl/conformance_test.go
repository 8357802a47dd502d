//go:build opencl

package opencl

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/conformance"
	"github.com/accel-go/accel/common/onnx"
	"github.com/accel-go/accel/cpu"
)

// TestNodeSuite runs the ONNX node tests of the ops with device kernels
// (or those ACCEL_CASES selects) on OpenCL with CPU fallback, and counts
// how many also pass device-only. A case failing here but passing on the
// CPU must be listed in testdata/known_failures.tsv.
func TestNodeSuite(t *testing.T) {
	needDevice(t)
	dir, ok := conformance.Dir()
	if !ok {
		t.Skipf("ONNX node tests not found (set ACCEL_ONNX_TESTS; looked at %q)", dir)
	}
	cases, err := conformance.ListCases(dir)
	require.NoError(t, err)
	known, err := conformance.LoadKnown("testdata/known_failures.tsv")
	require.NoError(t, err)
	var filter *regexp.Regexp
	if f := os.Getenv("ACCEL_CASES"); f != "" {
		filter = regexp.MustCompile(f)
	}
	var fallback, devOnly conformance.Summary
	var devOps []string
	for _, c := range cases {
		if filter != nil && !filter.MatchString(c.Name) {
			continue
		}
		if filter == nil {
			if _, ok := deviceOps[c.MainOp]; !ok {
				continue
			}
		}
		t.Run(c.Name, func(t *testing.T) {
			opts := conformance.Options{Timeout: time.Minute}
			r := conformance.RunCase(Backend{}, c, opts)
			fallback.Add(r)
			reason, isKnown := known[c.Name]
			if r.Status != conformance.Passed {
				if ref := conformance.RunCase(cpu.Backend{}, c, opts); ref.Status != conformance.Passed {
					t.Logf("fails on the CPU engine too (%s): %s", ref.Status, ref.Detail)
					return
				}
			}
			switch {
			case r.Status == conformance.Passed && isKnown:
				t.Errorf("passes now; remove it from testdata/known_failures.tsv (listed as: %s)", reason)
			case r.Status != conformance.Passed && !isKnown:
				t.Errorf("%s: %s", r.Status, r.Detail)
			case r.Status != conformance.Passed:
				t.Logf("known failure (%s): %s", reason, r.Detail)
			}
			opts.Compile.DeviceOnly = true
			d := conformance.RunCase(Backend{}, c, opts)
			devOnly.Add(d)
			if d.Status == conformance.Passed {
				devOps = append(devOps, c.Name)
			}
		})
	}
	sort.Strings(devOps)
	t.Log(fallback.Line("opencl (with CPU fallback)"))
	t.Log(devOnly.Line("opencl (device only)"))
}

// TestModels runs the testdata models on OpenCL and on the CPU engine with
// the same random inputs.
func TestModels(t *testing.T) {
	needDevice(t)
	paths, _ := filepath.Glob("../testdata/models/*.onnx")
	if len(paths) == 0 {
		t.Skip("no testdata/models/*.onnx")
	}
	rng := rand.New(rand.NewSource(3))
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m, err := onnx.LoadModel(path, common.Limits{})
			require.NoError(t, err)
			ref, err := cpu.Compile(m, common.Options{})
			require.NoError(t, err)
			defer ref.Close()
			e, err := (Backend{}).Compile(m, common.Options{})
			require.NoError(t, err)
			defer e.Close()
			in := modelInputs(t, rng, ref.Inputs())
			ctx := context.Background()
			want, err := ref.Run(ctx, in)
			require.NoError(t, err)
			for run := 0; run < 2; run++ {
				got, err := e.Run(ctx, in)
				require.NoError(t, err)
				for name, w := range want {
					g, ok := got[name]
					require.True(t, ok, name)
					require.Equal(t, w.Shape(), g.Shape(), name)
					if w.DType() == common.Float32 {
						d, err := conformance.RelL2(g, w)
						require.NoError(t, err)
						require.LessOrEqual(t, d, 1e-4, "%s output %s", path, name)
					}
				}
			}
			if p, ok := e.(common.Placer); ok {
				var on int
				for _, pl := range p.Placement() {
					if pl.Device == Name {
						on++
					}
				}
				t.Logf("%d of %d nodes on the device", on, len(p.Placement()))
			}
		})
	}
}

// modelInputs makes random inputs for declared shapes (symbolic dims 2).
func modelInputs(t *testing.T, rng *rand.Rand, infos []common.TensorInfo) map[string]*common.Tensor {
	in := map[string]*common.Tensor{}
	for _, ti := range infos {
		s := make(common.Shape, len(ti.Dims))
		for i, d := range ti.Dims {
			s[i] = 2
			if d.Known() {
				s[i] = int(d.Value)
			}
		}
		switch ti.DType {
		case common.Float32:
			in[ti.Name] = randT(rng, s...)
		case common.Int64:
			v := make([]int64, s.Size())
			for i := range v {
				v[i] = int64(rng.Intn(2))
			}
			in[ti.Name] = common.NewTensor(s, v)
		default:
			t.Skipf("input %s of type %v", ti.Name, ti.DType)
		}
	}
	return in
}

// TestBuffersFlatAndFreed checks that repeated runs allocate no device
// buffers and that Close frees every one.
func TestBuffersFlatAndFreed(t *testing.T) {
	needDevice(t)
	rng := rand.New(rand.NewSource(5))
	base := LiveBuffers()
	c := opCase{name: "chain", op: "Conv", opset: 17, attrs: map[string]*common.Attribute{"pads": ints("pads", 1, 1, 1, 1)},
		inputs: []*common.Tensor{randT(rng, 1, 2, 5, 5), randT(rng, 3, 2, 3, 3)}, consts: []bool{false, true}}
	m := oneNode(c)
	g := m.Graph
	g.Nodes = append(g.Nodes, &common.Node{Name: "sm", OpType: "Softmax", Opset: 17, Inputs: []string{"out0"}, Outputs: []string{"out1"}},
		&common.Node{Name: "lsm", OpType: "LogSoftmax", Opset: 17, Inputs: []string{"out1"}, Outputs: []string{"out2"}})
	g.Outputs = []common.ValueInfo{{Name: "out2"}}
	e, err := (Backend{}).Compile(m, common.Options{})
	require.NoError(t, err)
	ctx := context.Background()
	in := map[string]*common.Tensor{"in0": c.inputs[0]}
	_, err = e.Run(ctx, in)
	require.NoError(t, err)
	_, err = e.Run(ctx, in)
	require.NoError(t, err)
	after := LiveBuffers()
	require.Greater(t, after, base)
	for i := 0; i < 1000; i++ {
		_, err = e.Run(ctx, in)
		require.NoError(t, err)
	}
	require.Equal(t, after, LiveBuffers(), "buffers grew over 1,000 runs")
	require.NoError(t, e.Close())
	require.NoError(t, e.Close())
	require.Equal(t, base, LiveBuffers(), "buffers left after Close")
}

func TestMissingLibrary(t *testing.T) {
	err := openLib("/nonexistent/libOpenCL.so.1", false)
	require.ErrorIs(t, err, common.ErrUnavailable)
	require.Contains(t, err.Error(), "/nonexistent/libOpenCL.so.1")
	require.Contains(t, err.Error(), LibEnv)
	err = openLib("libc.so.6", false)
	require.ErrorIs(t, err, common.ErrUnavailable)
	require.Contains(t, err.Error(), "missing symbols: clGetPlatformIDs")
}
