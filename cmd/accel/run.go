package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/npy"
	"github.com/accel-go/accel/common/onnx"
)

// inputFlags are the flags shared by run, bench and compare.
type inputFlags struct {
	inputs  multiFlag
	dims    multiFlag
	fill    string
	seed    uint64
	threads int
	memory  int64
}

func (f *inputFlags) register(fs *flag.FlagSet, defaultFill string) {
	fs.Var(&f.inputs, "input", "NAME=FILE: an input from a .npy or ONNX TensorProto .pb file (repeatable)")
	fs.Var(&f.dims, "dim", "NAME=N: the size of a symbolic dim, for --fill (repeatable)")
	fs.StringVar(&f.fill, "fill", defaultFill, "fill inputs not given with zeros or random values")
	fs.Uint64Var(&f.seed, "seed", 1, "seed for --fill random")
	fs.IntVar(&f.threads, "threads", 0, "worker threads (0: all CPUs)")
	fs.Int64Var(&f.memory, "memory", 0, "cap on a run's tensor memory, MiB (0: default 4096)")
}

func (f *inputFlags) options() common.Options {
	o := common.Options{Threads: f.threads}
	if f.memory > 0 {
		o.Limits.Memory = f.memory << 20
	}
	return o
}

func loadModel(path string, lim common.Limits) (*common.Model, error) {
	if path == "" {
		return nil, usagef("--model is required")
	}
	return onnx.LoadModel(path, lim)
}

// buildInputs reads the --input files and fills the rest as asked.
func (f *inputFlags) buildInputs(infos []common.TensorInfo, lim common.Limits) (map[string]*common.Tensor, error) {
	dims := map[string]int{}
	for _, d := range f.dims {
		name, val, ok := strings.Cut(d, "=")
		n, err := strconv.Atoi(val)
		if !ok || err != nil || n < 0 {
			return nil, usagef("--dim %q: want NAME=N with N >= 0", d)
		}
		dims[name] = n
	}
	byName := map[string]common.TensorInfo{}
	for _, in := range infos {
		byName[in.Name] = in
	}
	out := map[string]*common.Tensor{}
	for _, spec := range f.inputs {
		name, file, ok := strings.Cut(spec, "=")
		if !ok || name == "" || file == "" {
			return nil, usagef("--input %q: want NAME=FILE", spec)
		}
		info, known := byName[name]
		if !known {
			return nil, fmt.Errorf("%w: the model has no input %q (inputs: %s)", common.ErrShape, name, inputNames(infos))
		}
		t, err := readTensorFile(file, info, lim)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		out[name] = t
	}
	rng := rand.New(rand.NewPCG(f.seed, f.seed^0x9e3779b97f4a7c15))
	for _, in := range infos {
		if _, given := out[in.Name]; given {
			continue
		}
		if in.Kind != common.KindTensor && in.Kind != common.KindUnknown {
			if in.Kind == common.KindOptional {
				continue
			}
			return nil, fmt.Errorf("input %q is a %v; --fill makes tensors only", in.Name, in.Type)
		}
		switch f.fill {
		case "":
			return nil, usagef("input %q not given: pass --input %s=FILE or --fill zeros|random", in.Name, in.Name)
		case "zeros", "random":
		default:
			return nil, usagef("--fill %q: want zeros or random", f.fill)
		}
		if in.Dims == nil {
			return nil, fmt.Errorf("input %q has no declared shape; give it with --input", in.Name)
		}
		shape := make(common.Shape, len(in.Dims))
		for i, d := range in.Dims {
			switch {
			case d.Known():
				shape[i] = int(d.Value)
			case d.Param != "":
				n, ok := dims[d.Param]
				if !ok {
					return nil, usagef("input %q has symbolic dim %q: give its size with --dim %s=N", in.Name, d.Param, d.Param)
				}
				shape[i] = n
			default:
				return nil, usagef("input %q has an unknown dim %d: give it with --input", in.Name, i)
			}
		}
		if _, err := lim.CheckTensor(in.DType, shape); err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		t, err := common.NewZeros(in.DType, shape, 0)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		if f.fill == "random" {
			randomFill(t, rng)
		}
		out[in.Name] = t
	}
	return out, nil
}

func inputNames(infos []common.TensorInfo) string {
	names := make([]string, len(infos))
	for i, in := range infos {
		names[i] = in.Name
	}
	return strings.Join(names, ", ")
}

func readTensorFile(path string, info common.TensorInfo, lim common.Limits) (*common.Tensor, error) {
	if strings.HasSuffix(path, ".npy") {
		return npy.ReadFile(path, lim)
	}
	v, _, err := onnx.LoadValue(path, common.TypeInfo{Kind: common.KindTensor, DType: info.DType}, lim)
	if err != nil {
		return nil, err
	}
	t, ok := v.(*common.Tensor)
	if !ok {
		return nil, fmt.Errorf("%s holds a %s, not a tensor", path, common.KindOf(v))
	}
	return t, nil
}

// randomFill writes seeded values: floats uniform in [-1, 1), integers in
// [0, 10) (so index-like inputs stay small), bools at random.
func randomFill(t *common.Tensor, rng *rand.Rand) {
	switch s := t.Raw().(type) {
	case []float32:
		for i := range s {
			s[i] = float32(rng.Float64()*2 - 1)
		}
	case []float64:
		for i := range s {
			s[i] = rng.Float64()*2 - 1
		}
	case []common.F16:
		for i := range s {
			s[i] = common.F16From(float32(rng.Float64()*2 - 1))
		}
	case []common.BF16:
		for i := range s {
			s[i] = common.BF16From(float32(rng.Float64()*2 - 1))
		}
	case []bool:
		for i := range s {
			s[i] = rng.IntN(2) == 1
		}
	case []int64:
		for i := range s {
			s[i] = int64(rng.IntN(10))
		}
	case []int32:
		for i := range s {
			s[i] = int32(rng.IntN(10))
		}
	case []int8:
		for i := range s {
			s[i] = int8(rng.IntN(10))
		}
	case []uint8:
		for i := range s {
			s[i] = uint8(rng.IntN(10))
		}
	case []int16:
		for i := range s {
			s[i] = int16(rng.IntN(10))
		}
	case []uint16:
		for i := range s {
			s[i] = uint16(rng.IntN(10))
		}
	case []uint32:
		for i := range s {
			s[i] = uint32(rng.IntN(10))
		}
	case []uint64:
		for i := range s {
			s[i] = uint64(rng.IntN(10))
		}
	}
}

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	model := fs.String("model", "", "the .onnx model file")
	backend := fs.String("backend", "cpu", "backend to run on")
	outDir := fs.String("output-dir", "", "write each output as DIR/<name>.npy")
	timeout := fs.Duration("timeout", 30*time.Second, "deadline for the run")
	var in inputFlags
	in.register(fs, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	opts := in.options()
	m, err := loadModel(*model, opts.Limits)
	if err != nil {
		return err
	}
	eng, err := common.Open(*backend, m, opts)
	if err != nil {
		return err
	}
	defer eng.Close()
	inputs, err := in.buildInputs(eng.Inputs(), opts.Limits)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	outs, err := eng.Run(ctx, inputs)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	for _, o := range eng.Outputs() {
		t, ok := outs[o.Name]
		if !ok {
			continue
		}
		if *outDir != "" {
			if err := os.MkdirAll(*outDir, 0o755); err != nil {
				return err
			}
			p := filepath.Join(*outDir, safeName(o.Name)+".npy")
			if err := npy.WriteFile(p, t); err != nil {
				return fmt.Errorf("writing output %q: %w", o.Name, err)
			}
			fmt.Fprintf(stdout, "%s: %v %v -> %s\n", o.Name, t.DType(), t.Shape(), p)
			continue
		}
		fmt.Fprintln(stdout, describe(o.Name, t))
	}
	fmt.Fprintf(stderr, "ran on %s in %v\n", *backend, elapsed.Round(time.Microsecond))
	return nil
}

// safeName keeps an output name usable as a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// describe prints one output: dtype, shape, min/max/mean, first values.
func describe(name string, t *common.Tensor) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v %v", name, t.DType(), t.Shape())
	n := t.Len()
	if n > 0 && t.DType() != common.String {
		lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
		for i := 0; i < n; i++ {
			v := t.Float(i)
			lo, hi, sum = math.Min(lo, v), math.Max(hi, v), sum+v
		}
		fmt.Fprintf(&b, " min %.6g max %.6g mean %.6g", lo, hi, sum/float64(n))
	}
	show := min(n, 8)
	vals := make([]string, show)
	for i := range vals {
		vals[i] = fmt.Sprint(t.At(i))
	}
	fmt.Fprintf(&b, "\n  [%s", strings.Join(vals, " "))
	if n > show {
		fmt.Fprintf(&b, " ... (%d values)", n)
	}
	b.WriteString("]")
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
