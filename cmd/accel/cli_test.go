package main

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/conformance"
	"github.com/accel-go/accel/common/npy"
	"github.com/accel-go/accel/common/onnx"
	"github.com/accel-go/accel/cpu"
)

var modelDir = filepath.Join("..", "..", "testdata", "models")

// runCLI runs one command line and returns its exit status and output.
func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	status := run(args, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

func testModels(t *testing.T) []string {
	t.Helper()
	models, err := filepath.Glob(filepath.Join(modelDir, "*.onnx"))
	require.NoError(t, err)
	require.NotEmpty(t, models, "no models in %s", modelDir)
	return models
}

func loadTestModel(t *testing.T, path string) *common.Model {
	t.Helper()
	m, err := onnx.LoadModel(path, common.Limits{})
	require.NoError(t, err)
	return m
}

func TestCLIRunModels(t *testing.T) {
	for _, path := range testModels(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			status, stdout, stderr := runCLI("run", "--model", path, "--fill", "random", "--dim", "batch=2")
			require.Equal(t, 0, status, "stderr: %s", stderr)
			m := loadTestModel(t, path)
			require.NotEmpty(t, m.Graph.Outputs)
			for _, o := range m.Graph.Outputs {
				// Each output is described on a line of its own:
				// "name: dtype [shape] ...".
				re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(o.Name) + `: ` + regexp.QuoteMeta(o.Type.DType.String()) + ` \[`)
				require.Regexp(t, re, stdout)
			}
			require.Contains(t, stderr, "ran on cpu")
		})
	}
}

// randomInput makes a float32 input for info with symbolic dims set to 2.
func randomInput(t *testing.T, info common.TensorInfo, rng *rand.Rand) *common.Tensor {
	t.Helper()
	require.Equal(t, common.Float32, info.DType)
	shape := make(common.Shape, len(info.Dims))
	for i, d := range info.Dims {
		shape[i] = 2
		if d.Known() {
			shape[i] = int(d.Value)
		}
	}
	data := make([]float32, shape.Size())
	for i := range data {
		data[i] = float32(rng.Float64()*2 - 1)
	}
	return common.NewTensor(shape, data)
}

func TestCLIRunOutputDir(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, path := range testModels(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			dir := t.TempDir()
			m := loadTestModel(t, path)
			eng, err := cpu.Compile(m, common.Options{})
			require.NoError(t, err)
			defer eng.Close()

			args := []string{"run", "--model", path, "--output-dir", filepath.Join(dir, "out")}
			feeds := map[string]*common.Tensor{}
			for _, in := range eng.Inputs() {
				x := randomInput(t, in, rng)
				f := filepath.Join(dir, in.Name+".npy")
				require.NoError(t, npy.WriteFile(f, x))
				args = append(args, "--input", in.Name+"="+f)
				feeds[in.Name] = x
			}
			status, stdout, stderr := runCLI(args...)
			require.Equal(t, 0, status, "stderr: %s", stderr)

			want, err := eng.Run(context.Background(), feeds)
			require.NoError(t, err)
			for _, o := range eng.Outputs() {
				p := filepath.Join(dir, "out", safeName(o.Name)+".npy")
				require.Contains(t, stdout, p)
				got, err := npy.ReadFile(p, common.Limits{})
				require.NoError(t, err, "output %q", o.Name)
				w := want[o.Name]
				require.Equal(t, w.DType(), got.DType())
				require.Equal(t, w.Shape(), got.Shape())
				require.Equal(t, w.Raw(), got.Raw(), "output %q", o.Name)
			}
		})
	}
}

func TestCLIInspect(t *testing.T) {
	for _, path := range testModels(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			status, stdout, stderr := runCLI("inspect", "--model", path, "--dim", "batch=4")
			require.Equal(t, 0, status, "stderr: %s", stderr)
			m := loadTestModel(t, path)
			g := m.Graph

			in := section(t, stdout, "inputs:")
			for _, vi := range g.Inputs {
				if _, isInit := g.Initializers[vi.Name]; isInit {
					continue
				}
				require.Contains(t, in, "  "+vi.Name+": ")
			}
			out := section(t, stdout, "outputs:")
			for _, vi := range g.Outputs {
				require.Contains(t, out, "  "+vi.Name+": ")
			}

			// Op histogram: one line per op type with its count.
			hist := map[string]int{}
			var count func(g *common.Graph)
			count = func(g *common.Graph) {
				for _, n := range g.Nodes {
					hist[n.OpType]++
					for _, sg := range n.Subgraphs() {
						count(sg)
					}
				}
			}
			count(g)
			for op, n := range hist {
				require.Regexp(t, regexp.MustCompile(`(?m)^\s+`+regexp.QuoteMeta(op)+`\s+`+strconv.Itoa(n)+`$`), stdout, "histogram line of %s", op)
			}

			var params int64
			for _, t := range g.Initializers {
				params += int64(t.Len())
			}
			for _, n := range g.Nodes {
				if n.OpType == "Constant" {
					if t := n.AttrTensor("value"); t != nil {
						params += int64(t.Len())
					}
				}
			}
			require.Contains(t, stdout, "parameters: "+strconv.FormatInt(params, 10)+" (")
			require.Regexp(t, `(?m)^flops: +[0-9.]+ [kMG]?FLOP`, stdout)
			require.NotRegexp(t, `(?m)^flops: +0 FLOP`, stdout)
		})
	}
}

// section returns the indented lines under a header line of s.
func section(t *testing.T, s, header string) string {
	t.Helper()
	i := strings.Index(s, "\n"+header+"\n")
	require.GreaterOrEqual(t, i, 0, "no %q section in:\n%s", header, s)
	rest := s[i+len(header)+2:]
	var b strings.Builder
	for _, line := range strings.SplitAfter(rest, "\n") {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		b.WriteString(line)
	}
	return b.String()
}

func TestCLIDevices(t *testing.T) {
	status, stdout, stderr := runCLI("devices")
	require.Equal(t, 0, status, "stderr: %s", stderr)
	tags := map[string]string{
		"cpu": "", "ort": "ort", "opencl": "opencl", "vulkan": "vulkan",
		"cuda": "cuda", "trt": "tensorrt", "cambricon": "cambricon",
	}
	lines := map[string]string{}
	for _, line := range strings.Split(stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(line, " ") {
			lines[f[0]] = line
		}
	}
	for name, tag := range tags {
		line, ok := lines[name]
		require.True(t, ok, "backend %s not listed:\n%s", name, stdout)
		b, err := common.Lookup(name)
		require.NoError(t, err)
		_, derr := b.Devices()
		switch {
		case name == "cpu":
			require.NoError(t, derr)
			require.Contains(t, line, "available, 1 device(s)")
		case derr != nil && strings.Contains(derr.Error(), "not compiled in"):
			require.Contains(t, line, "not compiled in: build with -tags "+tag)
		case derr != nil:
			require.Contains(t, line, "unavailable")
		default:
			require.Contains(t, line, "available")
		}
	}
}

func TestCLIUsageErrors(t *testing.T) {
	mlp := filepath.Join(modelDir, "mlp.onnx")
	cases := map[string][]string{
		"no command":       {},
		"unknown command":  {"frobnicate"},
		"unknown flag":     {"run", "--model", mlp, "--bogus"},
		"missing model":    {"run", "--fill", "zeros"},
		"inspect no model": {"inspect"},
		"bad dim value":    {"run", "--model", mlp, "--fill", "zeros", "--dim", "batch=two"},
		"bad dim form":     {"run", "--model", mlp, "--fill", "zeros", "--dim", "batch"},
		"negative dim":     {"run", "--model", mlp, "--fill", "zeros", "--dim", "batch=-1"},
		"unset dim":        {"run", "--model", mlp, "--fill", "zeros"},
		"bad fill":         {"run", "--model", mlp, "--fill", "ones", "--dim", "batch=1"},
		"stray argument":   {"run", "--model", mlp, "extra"},
		"bad input spec":   {"run", "--model", mlp, "--input", "x"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			status, stdout, stderr := runCLI(args...)
			require.Equal(t, 2, status, "stdout: %s\nstderr: %s", stdout, stderr)
			require.NotEmpty(t, stderr)
			require.NotContains(t, stderr, "panic")
		})
	}
	status, _, stderr := runCLI("help")
	require.Equal(t, 0, status)
	require.Contains(t, stderr, "usage: accel")
}

// hostileFiles writes model files that must make `accel run` fail.
func hostileFiles(t *testing.T) map[string]hostileFile {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}
	good, err := os.ReadFile(filepath.Join(modelDir, "mlp.onnx"))
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(rng.UintN(256))
	}

	noSuchOp := onnx.NewBuilder(17)
	x := noSuchOp.Input("x", common.Float32, 2)
	noSuchOp.Output(noSuchOp.Node("NoSuchOperator", []string{x}), common.Float32)

	cycle := onnx.NewBuilder(17)
	x = cycle.Input("x", common.Float32, 2)
	cycle.NodeOut("Add", []string{x, "b"}, []string{"a"})
	cycle.NodeOut("Add", []string{x, "a"}, []string{"b"})
	cycle.Output("b", common.Float32)

	expand := onnx.NewBuilder(17)
	x = expand.Input("x", common.Float32, 1)
	s := expand.Init("s", common.NewTensor(common.Shape{3}, []int64{1 << 20, 1 << 20, 1 << 20}))
	expand.Output(expand.Node("Expand", []string{x, s}), common.Float32)

	// 8 MiB of output under a 1 MiB --memory cap.
	capped := onnx.NewBuilder(17)
	x = capped.Input("x", common.Float32, 1)
	s = capped.Init("s", common.NewTensor(common.Shape{2}, []int64{2048, 1024}))
	capped.Output(capped.Node("Expand", []string{x, s}), common.Float32)

	loop := onnx.NewBuilder(16)
	body := loop.Sub("body")
	body.Input("i", common.Int64)
	cin := body.Input("cond_in", common.Bool)
	xin := body.Input("x_in", common.Float32, 1)
	body.Output(body.Node("Identity", []string{cin}), common.Bool)
	body.Output(body.Node("Neg", []string{xin}), common.Float32)
	trip := loop.Init("trip", common.Scalar(int64(math.MaxInt64)))
	cond := loop.Init("cond", common.Scalar(true))
	x = loop.Input("x", common.Float32, 1)
	loop.Output(loop.Node("Loop", []string{trip, cond, x}, onnx.Graph("body", body.Graph())), common.Float32)

	// A ModelProto whose first field (graph, field 7) claims 2^62 bytes.
	hugeLen := []byte{0x08, 0x08, 0x3a}
	for v := uint64(1) << 62; ; v >>= 7 {
		if v < 0x80 {
			hugeLen = append(hugeLen, byte(v))
			break
		}
		hugeLen = append(hugeLen, byte(v)|0x80)
	}
	hugeLen = append(hugeLen, 0, 0, 0)

	// An .npy header that claims 2^40 float32 values, and a well-formed
	// .npy of the wrong shape for mlp's input x.
	npyHeader := func(shape string) []byte {
		hdr := "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }"
		hdr += strings.Repeat(" ", 63-(10+len(hdr))%64) + "\n"
		b := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)), byte(len(hdr)>>8))
		b = append(b, hdr...)
		return append(b, 0, 0, 0, 0)
	}
	wrongShape := filepath.Join(dir, "wrong.npy")
	require.NoError(t, npy.WriteFile(wrongShape, f32Tensor(3)))
	mlp := filepath.Join(modelDir, "mlp.onnx")

	return map[string]hostileFile{
		"huge npy input":     {[]string{mlp, "--input", "x=" + write("huge.npy", npyHeader("(1099511627776,)"))}, "x"},
		"huge npy 2-D input": {[]string{mlp, "--input", "x=" + write("huge2.npy", npyHeader("(100000, 100000)"))}, "limit exceeded"},
		"wrong-shape input":  {[]string{mlp, "--input", "x=" + wrongShape}, `"x"`},
		"truncated pb input": {[]string{mlp, "--input", "x=" + write("x.pb", []byte{0x08, 0x02, 0x10, 0x01, 0x4a, 0xff, 0xff})}, "x"},
		"truncated":          {[]string{write("truncated.onnx", good[:len(good)/2])}, "invalid model"},
		"random bytes":       {[]string{write("random.onnx", junk)}, "invalid model"},
		"empty file":         {[]string{write("empty.onnx", nil)}, "invalid model"},
		"unknown op":         {[]string{write("noop.onnx", noSuchOp.Bytes())}, "NoSuchOperator"},
		"cycle":              {[]string{write("cycle.onnx", cycle.Bytes())}, "cycle"},
		"enormous expand":    {[]string{write("expand.onnx", expand.Bytes())}, "limit exceeded"},
		"endless loop":       {[]string{write("loop.onnx", loop.Bytes()), "--timeout", "500ms"}, "deadline exceeded"},
		"huge length":        {[]string{write("hugelen.onnx", hugeLen)}, "invalid model"},
		"missing file":       {[]string{filepath.Join(dir, "nope.onnx")}, "nope.onnx"},
		"directory":          {[]string{dir}, "not a regular file"},
		"memory cap":         {[]string{write("capped.onnx", capped.Bytes()), "--memory", "1"}, "memory"},
	}
}

// hostileFile is a model path with extra flags, and a word the one-line
// error must contain.
type hostileFile struct {
	args []string
	want string
}

func TestCLIRunHostileModels(t *testing.T) {
	for name, spec := range hostileFiles(t) {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"run", "--model", spec.args[0], "--fill", "zeros"}, spec.args[1:]...)
			start := time.Now()
			status, stdout, stderr := runCLI(args...)
			elapsed := time.Since(start)
			require.Equal(t, 1, status, "stdout: %s\nstderr: %s", stdout, stderr)
			require.Less(t, elapsed, 10*time.Second)
			require.True(t, strings.HasPrefix(stderr, "accel run: "), "stderr: %q", stderr)
			require.True(t, strings.HasSuffix(stderr, "\n"), "stderr: %q", stderr)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "stderr: %q", stderr)
			require.NotContains(t, stderr, "goroutine")
			require.NotContains(t, stderr, "panic")
			require.NotContains(t, stderr, "internal error")
			require.Empty(t, stdout)
			require.Contains(t, stderr, spec.want)
		})
	}
}

func TestCLIConformance(t *testing.T) {
	dir, ok := conformance.Dir()
	if !ok {
		t.Skipf("ONNX node tests not found (set ACCEL_ONNX_TESTS; looked at %q)", dir)
	}
	status, stdout, stderr := runCLI("conformance", "--backend", "cpu", "-run", "^test_abs$", dir)
	require.Equal(t, 0, status, "stderr: %s", stderr)
	require.Regexp(t, `(?m)^cpu: 1 passed, 0 failed, 0 unsupported$`, stdout)

	status, _, _ = runCLI("conformance", "--backend", "cpu", "-run", "(", dir)
	require.Equal(t, 2, status)
	status, _, stderr = runCLI("conformance", "--backend", "nosuch", "-run", "^test_abs$", dir)
	require.Equal(t, 1, status)
	require.Contains(t, stderr, "nosuch")
}

func f32Tensor(n int) *common.Tensor {
	return common.NewTensor(common.Shape{n}, make([]float32, n))
}
