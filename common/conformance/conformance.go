// Package conformance runs the ONNX backend node tests (and model-level
// comparisons) against any registered backend.
//
// A node-test case is a folder holding model.onnx and
// test_data_set_0/{input,output}_N.pb; the suite's INDEX.tsv lists them.
// Outputs are compared the way ONNX's own runner does: identical shape and
// element type, exact strings, and |got-want| <= atol + rtol*|want| for
// numbers, NaN matching NaN.
package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/onnx"
)

// Default tolerances of the ONNX node tests.
const (
	DefaultRTol = 1e-3
	DefaultATol = 1e-7
)

// Case is one node-test case.
type Case struct {
	Name    string
	Dir     string
	MainOp  string
	Opset   int
	OpsUsed []string
}

// Status is a case's outcome.
type Status int

// Outcomes.
const (
	Passed Status = iota
	Failed
	Unsupported
)

func (s Status) String() string {
	switch s {
	case Passed:
		return "passed"
	case Failed:
		return "failed"
	}
	return "unsupported"
}

// Result is the outcome of one case on one backend.
type Result struct {
	Case     string
	Status   Status
	Detail   string  // why it failed or which op is unsupported
	Output   string  // the output that failed, if any
	WorstErr float64 // worst |got-want| - tol over the failing output
	Duration time.Duration
}

// Dir returns the node-test folder: $ACCEL_ONNX_TESTS, else
// ../shared/onnx-node-tests from the repository root (found by walking up
// from the working directory to go.mod). ok is false when it is absent.
func Dir() (dir string, ok bool) {
	if d := os.Getenv("ACCEL_ONNX_TESTS"); d != "" {
		st, err := os.Stat(d)
		return d, err == nil && st.IsDir()
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			cand := filepath.Join(d, "..", "shared", "onnx-node-tests")
			st, err := os.Stat(cand)
			return cand, err == nil && st.IsDir()
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

// ListCases reads the cases under root, from INDEX.tsv when present (else
// every sub-folder holding a model.onnx), sorted by name.
func ListCases(root string) ([]Case, error) {
	f, err := os.Open(filepath.Join(root, "INDEX.tsv"))
	if err != nil {
		return scanCases(root)
	}
	defer f.Close()
	var cases []Case
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 7 || cols[0] == "" {
			continue
		}
		opset, _ := strconv.Atoi(cols[2])
		cases = append(cases, Case{
			Name: cols[0], Dir: filepath.Join(root, cols[0]), MainOp: cols[1], Opset: opset,
			OpsUsed: strings.Split(cols[6], ","),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	return cases, nil
}

func scanCases(root string) ([]Case, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(d, "model.onnx")); err == nil {
			cases = append(cases, Case{Name: e.Name(), Dir: d})
		}
	}
	return cases, nil
}

// Options tune a run.
type Options struct {
	Compile common.Options
	RTol    float64 // 0: DefaultRTol
	ATol    float64 // 0: DefaultATol
	Timeout time.Duration
}

// RunCase runs one case on backend b.
func RunCase(b common.Backend, c Case, opts Options) (res Result) {
	start := time.Now()
	res = Result{Case: c.Name}
	defer func() {
		if r := recover(); r != nil {
			res.Status, res.Detail = Failed, fmt.Sprintf("panic: %v", r)
		}
		res.Duration = time.Since(start)
	}()
	fail := func(format string, args ...any) Result {
		res.Status, res.Detail = Failed, fmt.Sprintf(format, args...)
		return res
	}
	lim := opts.Compile.Limits
	m, err := onnx.LoadModel(filepath.Join(c.Dir, "model.onnx"), lim)
	if err != nil {
		return classify(res, err)
	}
	inputs, wants, err := LoadData(m, filepath.Join(c.Dir, "test_data_set_0"), lim)
	if err != nil {
		return fail("loading test data: %v", err)
	}
	eng, err := b.Compile(m, opts.Compile)
	if err != nil {
		return classify(res, err)
	}
	defer eng.Close()
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	got, err := RunValues(ctx, eng, inputs)
	if err != nil {
		return classify(res, err)
	}
	rtol, atol := opts.RTol, opts.ATol
	if rtol == 0 {
		rtol = DefaultRTol
	}
	if atol == 0 {
		atol = DefaultATol
	}
	for _, o := range m.Graph.Outputs {
		want, ok := wants[o.Name]
		if !ok {
			continue
		}
		g, ok := got[o.Name]
		if !ok {
			res.Output = o.Name
			return fail("output %q missing", o.Name)
		}
		if worst, err := Compare(g, want, rtol, atol); err != nil {
			res.Output, res.WorstErr = o.Name, worst
			return fail("output %q: %v", o.Name, err)
		}
	}
	res.Status = Passed
	return res
}

func classify(res Result, err error) Result {
	var ue *common.UnsupportedError
	if errors.As(err, &ue) {
		res.Status, res.Detail = Unsupported, ue.Error()
		return res
	}
	if errors.Is(err, common.ErrUnsupported) {
		res.Status, res.Detail = Unsupported, err.Error()
		return res
	}
	res.Status, res.Detail = Failed, err.Error()
	return res
}

// RunValues runs an engine with value inputs: through RunValues when the
// engine supports sequences and optionals, else through Run (values that
// are not tensors are then an ErrUnsupported error).
func RunValues(ctx context.Context, eng common.Engine, in map[string]common.Value) (map[string]common.Value, error) {
	if ve, ok := eng.(common.ValueEngine); ok {
		return ve.RunValues(ctx, in)
	}
	tin := make(map[string]*common.Tensor, len(in))
	for k, v := range in {
		t, ok := v.(*common.Tensor)
		if !ok {
			return nil, fmt.Errorf("%w: input %q is a %s and this engine takes tensors only", common.ErrUnsupported, k, common.KindOf(v))
		}
		tin[k] = t
	}
	out, err := eng.Run(ctx, tin)
	if err != nil {
		return nil, err
	}
	res := make(map[string]common.Value, len(out))
	for k, v := range out {
		res[k] = v
	}
	return res, nil
}

// LoadData reads input_N.pb and output_N.pb from a data-set folder, typed
// by the model's declared graph inputs and outputs. Inputs are keyed by
// the graph input name, expected outputs by the graph output name.
func LoadData(m *common.Model, dir string, lim common.Limits) (inputs, outputs map[string]common.Value, err error) {
	inputs, outputs = map[string]common.Value{}, map[string]common.Value{}
	var real []common.ValueInfo
	for _, in := range m.Graph.Inputs {
		if _, isInit := m.Graph.Initializers[in.Name]; !isInit {
			real = append(real, in)
		}
	}
	for i, in := range real {
		p := filepath.Join(dir, fmt.Sprintf("input_%d.pb", i))
		if _, err := os.Stat(p); err != nil {
			continue
		}
		v, _, err := onnx.LoadValue(p, in.Type, lim)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		inputs[in.Name] = v
	}
	for i, o := range m.Graph.Outputs {
		p := filepath.Join(dir, fmt.Sprintf("output_%d.pb", i))
		if _, err := os.Stat(p); err != nil {
			continue
		}
		v, _, err := onnx.LoadValue(p, o.Type, lim)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		outputs[o.Name] = v
	}
	return inputs, outputs, nil
}

// Compare checks got against want with the node-test rules. On a
// mismatch it returns how far past the tolerance the worst element is.
func Compare(got, want common.Value, rtol, atol float64) (float64, error) {
	switch w := want.(type) {
	case *common.Tensor:
		g, ok := got.(*common.Tensor)
		if !ok {
			if o, isOpt := got.(*common.Optional); isOpt && o.Value != nil {
				return Compare(o.Value, want, rtol, atol)
			}
			return 0, fmt.Errorf("got a %s, want a tensor", common.KindOf(got))
		}
		return CompareTensors(g, w, rtol, atol)
	case *common.Sequence:
		g, ok := got.(*common.Sequence)
		if !ok {
			if o, isOpt := got.(*common.Optional); isOpt && o.Value != nil {
				return Compare(o.Value, want, rtol, atol)
			}
			return 0, fmt.Errorf("got a %s, want a sequence", common.KindOf(got))
		}
		if len(g.Values) != len(w.Values) {
			return 0, fmt.Errorf("sequence has %d elements, want %d", len(g.Values), len(w.Values))
		}
		for i := range w.Values {
			if worst, err := Compare(g.Values[i], w.Values[i], rtol, atol); err != nil {
				return worst, fmt.Errorf("element %d: %w", i, err)
			}
		}
		return 0, nil
	case *common.Optional:
		var gv common.Value
		switch g := got.(type) {
		case *common.Optional:
			gv = g.Value
		default:
			gv = g
		}
		if (gv == nil) != (w.Value == nil) {
			return 0, fmt.Errorf("optional holds a value: got %v, want %v", gv != nil, w.Value != nil)
		}
		if w.Value == nil {
			return 0, nil
		}
		return Compare(gv, w.Value, rtol, atol)
	}
	return 0, fmt.Errorf("cannot compare a %s", common.KindOf(want))
}

// CompareTensors checks dtype, shape and values.
func CompareTensors(got, want *common.Tensor, rtol, atol float64) (float64, error) {
	if got.DType() != want.DType() {
		return 0, fmt.Errorf("dtype %v, want %v", got.DType(), want.DType())
	}
	if !got.Shape().Equal(want.Shape()) {
		return 0, fmt.Errorf("shape %v, want %v", got.Shape(), want.Shape())
	}
	if want.DType() == common.String {
		g, w := common.Data[string](got), common.Data[string](want)
		for i := range w {
			if g[i] != w[i] {
				return 0, fmt.Errorf("element %d is %q, want %q", i, g[i], w[i])
			}
		}
		return 0, nil
	}
	worst, worstAt := 0.0, -1
	bad := 0
	isInt := want.DType().IsInteger()
	for i, n := 0, want.Len(); i < n; i++ {
		var d, tol float64
		if isInt {
			gi, wi := got.At(i), want.At(i)
			if gi == wi {
				continue
			}
			d, tol = math.Abs(got.Float(i)-want.Float(i)), 0
			if d == 0 {
				d = 1
			}
		} else {
			g, w := got.Float(i), want.Float(i)
			if math.IsNaN(w) {
				if math.IsNaN(g) {
					continue
				}
				d, tol = math.Inf(1), 0
			} else if math.IsInf(w, 0) {
				if g == w {
					continue
				}
				d, tol = math.Inf(1), 0
			} else {
				d, tol = math.Abs(g-w), atol+rtol*math.Abs(w)
				if d <= tol {
					continue
				}
				if math.IsNaN(d) {
					d = math.Inf(1)
				}
			}
		}
		bad++
		if d-tol > worst || worstAt < 0 {
			worst, worstAt = d-tol, i
		}
	}
	if bad > 0 {
		return worst, fmt.Errorf("%d of %d elements differ; worst at %d: got %v, want %v", bad, want.Len(), worstAt, got.At(worstAt), want.At(worstAt))
	}
	return 0, nil
}

// RelL2 is ||got-want|| / ||want|| over two tensors of the same shape
// (any numeric dtypes), the measure backends are compared by. A zero
// reference gives ||got-want||.
func RelL2(got, want *common.Tensor) (float64, error) {
	if !got.Shape().Equal(want.Shape()) {
		return 0, fmt.Errorf("%w: shape %v, want %v", common.ErrShape, got.Shape(), want.Shape())
	}
	var num, den float64
	for i, n := 0, want.Len(); i < n; i++ {
		g, w := got.Float(i), want.Float(i)
		if math.IsNaN(g) != math.IsNaN(w) {
			return math.Inf(1), nil
		}
		if math.IsNaN(w) || (math.IsInf(w, 0) && g == w) {
			continue
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	if den == 0 {
		return math.Sqrt(num), nil
	}
	return math.Sqrt(num / den), nil
}

// Known is a list of cases expected to fail, with reasons.
type Known map[string]string

// LoadKnown reads a known-failures file: one "case<TAB>reason" a line;
// blank lines and lines starting with # are ignored. A missing file is an
// empty list.
func LoadKnown(path string) (Known, error) {
	k := Known{}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, _ := strings.Cut(line, "\t")
		k[strings.TrimSpace(name)] = strings.TrimSpace(reason)
	}
	return k, nil
}

// Summary counts results.
type Summary struct{ Passed, Failed, Unsupported int }

// Add counts one result.
func (s *Summary) Add(r Result) {
	switch r.Status {
	case Passed:
		s.Passed++
	case Failed:
		s.Failed++
	default:
		s.Unsupported++
	}
}

// Line is the summary line: "cpu: 900 passed, 8 failed, 0 unsupported".
func (s Summary) Line(backend string) string {
	return fmt.Sprintf("%s: %d passed, %d failed, %d unsupported", backend, s.Passed, s.Failed, s.Unsupported)
}

// Outputs runs a case's model on backend b with the case's inputs and
// returns the outputs, for comparing two backends with each other.
func Outputs(b common.Backend, c Case, opts Options) (map[string]common.Value, error) {
	lim := opts.Compile.Limits
	m, err := onnx.LoadModel(filepath.Join(c.Dir, "model.onnx"), lim)
	if err != nil {
		return nil, err
	}
	inputs, _, err := LoadData(m, filepath.Join(c.Dir, "test_data_set_0"), lim)
	if err != nil {
		return nil, err
	}
	eng, err := b.Compile(m, opts.Compile)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return RunValues(ctx, eng, inputs)
}
