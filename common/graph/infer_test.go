package graph_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/conformance"
	"github.com/accel-go/accel/common/graph"
	"github.com/accel-go/accel/common/onnx"
	"github.com/accel-go/accel/cpu"
)

// valueType is the exact type of a run-time value.
func valueType(v common.Value) common.TypeInfo {
	switch x := v.(type) {
	case *common.Tensor:
		dims := make([]common.Dim, x.Rank())
		for i, d := range x.Shape() {
			dims[i] = common.Dim{Value: int64(d)}
		}
		return common.TypeInfo{Kind: common.KindTensor, DType: x.DType(), Dims: dims, HasShape: true}
	case *common.Sequence:
		var e *common.TypeInfo
		for _, el := range x.Values {
			t := valueType(el)
			if e == nil {
				e = &t
				continue
			}
			m := mergeSame(*e, t)
			e = &m
		}
		if e == nil {
			el := x.Elem
			e = &el
		}
		return common.TypeInfo{Kind: common.KindSequence, Elem: e}
	case *common.Optional:
		if x.Value == nil {
			el := x.Elem
			return common.TypeInfo{Kind: common.KindOptional, Elem: &el}
		}
		t := valueType(x.Value)
		return common.TypeInfo{Kind: common.KindOptional, Elem: &t}
	}
	return common.TypeInfo{}
}

// mergeSame keeps the dims two element types agree on.
func mergeSame(a, b common.TypeInfo) common.TypeInfo {
	if a.Kind != common.KindTensor || !a.HasShape || !b.HasShape || len(a.Dims) != len(b.Dims) {
		return common.TypeInfo{Kind: a.Kind, DType: a.DType}
	}
	d := append([]common.Dim(nil), a.Dims...)
	for i := range d {
		if d[i] != b.Dims[i] {
			d[i] = common.Dim{Value: -1}
		}
	}
	a.Dims = d
	return a
}

// checkFacts reports an error for an inferred fact the actual value
// contradicts, and whether the inferred type says all there is to know.
func checkFacts(inf common.TypeInfo, v common.Value) (full bool, err error) {
	switch x := v.(type) {
	case *common.Tensor:
		if inf.Kind != common.KindTensor {
			return false, fmt.Errorf("inferred %s, got a tensor", inf)
		}
		act := valueType(x)
		return checkTensor(inf, act)
	case *common.Sequence:
		if inf.Kind != common.KindSequence {
			return false, fmt.Errorf("inferred %s, got a sequence", inf)
		}
		if inf.Elem == nil {
			return false, nil
		}
		act := valueType(x)
		return checkTensor(*inf.Elem, *act.Elem)
	case *common.Optional:
		if inf.Kind != common.KindOptional {
			return false, fmt.Errorf("inferred %s, got an optional", inf)
		}
		if x.Value == nil {
			return inf.Elem != nil, nil
		}
		if inf.Elem == nil {
			return false, nil
		}
		return checkFacts(*inf.Elem, x.Value)
	}
	return false, fmt.Errorf("unexpected value %T", v)
}

// checkTensor compares an inferred tensor type with the actual one (whose
// unknown dims, for sequences, are dims that vary between elements).
func checkTensor(inf, act common.TypeInfo) (bool, error) {
	if inf.Kind != act.Kind && !(inf.Kind == common.KindTensor && act.Kind == common.KindUnknown) {
		return false, fmt.Errorf("inferred kind of %s, got %s", inf, act)
	}
	full := true
	if inf.DType == common.Undefined {
		full = false
	} else if act.DType != common.Undefined && inf.DType != act.DType {
		return false, fmt.Errorf("inferred %s, got %s", inf, act)
	}
	if !inf.HasShape {
		return false, nil
	}
	if !act.HasShape {
		return full, nil
	}
	if len(inf.Dims) != len(act.Dims) {
		return false, fmt.Errorf("inferred %s, got %s", inf, act)
	}
	for i, d := range inf.Dims {
		a := act.Dims[i]
		if d.Known() && a.Known() && d.Value != a.Value {
			return false, fmt.Errorf("inferred %s, got %s", inf, act)
		}
		if !d.Known() && a.Known() {
			full = false
		}
	}
	return full, nil
}

// inferenceCopy returns a copy of m for inference: inputs typed by the
// actual inputs, no declared intermediate or output types (so every fact
// comes from the rules), and, with bindValues, small inputs turned into
// constants (as shape, axes, pads or scales are in deployed models).
func inferenceCopy(m *common.Model, inputs map[string]common.Value, bindValues bool) *common.Model {
	g := *m.Graph
	g.ValueInfo = nil
	g.Outputs = make([]common.ValueInfo, len(m.Graph.Outputs))
	for i, o := range m.Graph.Outputs {
		g.Outputs[i] = common.ValueInfo{Name: o.Name}
	}
	g.Initializers = map[string]*common.Tensor{}
	for k, v := range m.Graph.Initializers {
		g.Initializers[k] = v
	}
	g.Inputs = make([]common.ValueInfo, len(m.Graph.Inputs))
	for i, in := range m.Graph.Inputs {
		g.Inputs[i] = in
		v, ok := inputs[in.Name]
		if !ok {
			continue
		}
		g.Inputs[i].Type = valueType(v)
		if x, ok := v.(*common.Optional); ok && x.Value == nil {
			g.Inputs[i].Type = in.Type
		}
		if t, ok := v.(*common.Tensor); ok && bindValues && t.Rank() <= 1 && t.Len() <= 64 && t.DType() != common.String {
			g.Initializers[in.Name] = t
		}
	}
	mc := *m
	mc.Graph = &g
	return &mc
}

type coverage struct {
	cases, full, outputs, fullOutputs int
	missed                            []string
}

func (c coverage) String() string {
	return fmt.Sprintf("%d/%d cases (%.1f%%), %d/%d outputs (%.1f%%) fully inferred",
		c.full, c.cases, 100*float64(c.full)/float64(max(c.cases, 1)),
		c.fullOutputs, c.outputs, 100*float64(c.fullOutputs)/float64(max(c.outputs, 1)))
}

// TestInferMatchesRuns infers every ONNX node-test model with its inputs
// bound to the test data's shapes and checks every inferred fact against
// the outputs the CPU engine produces.
func TestInferMatchesRuns(t *testing.T) {
	dir, ok := conformance.Dir()
	if !ok {
		t.Skipf("ONNX node tests not found (set ACCEL_ONNX_TESTS; looked at %q)", dir)
	}
	cases, err := conformance.ListCases(dir)
	require.NoError(t, err)
	var shapesOnly, withValues coverage
	skipped := 0
	for _, c := range cases {
		m, err := onnx.LoadModel(filepath.Join(c.Dir, "model.onnx"), common.Limits{})
		if err != nil {
			skipped++
			continue
		}
		inputs, _, err := conformance.LoadData(m, filepath.Join(c.Dir, "test_data_set_0"), common.Limits{})
		if err != nil {
			skipped++
			continue
		}
		got, err := runCPU(m, inputs)
		if err != nil {
			skipped++ // the CPU engine does not run it: nothing to compare with
			continue
		}
		for _, cov := range []*coverage{&shapesOnly, &withValues} {
			im := inferenceCopy(m, inputs, cov == &withValues)
			types := graph.InferShapes(im, nil)
			caseFull := true
			for _, o := range m.Graph.Outputs {
				v, ok := got[o.Name]
				if !ok {
					continue
				}
				cov.outputs++
				inf, ok := types[o.Name]
				if !ok {
					caseFull = false
					continue
				}
				full, err := checkFacts(inf, v)
				if err != nil {
					t.Errorf("%s: output %q: %v", c.Name, o.Name, err)
				}
				if full {
					cov.fullOutputs++
				} else {
					caseFull = false
				}
			}
			cov.cases++
			if caseFull {
				cov.full++
			} else {
				cov.missed = append(cov.missed, c.Name)
			}
		}
	}
	t.Logf("skipped %d cases the CPU engine does not run", skipped)
	t.Logf("shapes bound: %s", shapesOnly)
	t.Logf("shapes and small input values bound: %s", withValues)
	t.Logf("not fully inferred with values bound: %s", strings.Join(withValues.missed, " "))
	if os.Getenv("ACCEL_INFER_VERBOSE") != "" {
		t.Logf("not fully inferred with shapes bound: %s", strings.Join(shapesOnly.missed, " "))
	}
	require.NotZero(t, withValues.cases)
	require.GreaterOrEqual(t, float64(withValues.full), 0.9*float64(withValues.cases), "coverage below 90%%")
	require.GreaterOrEqual(t, float64(shapesOnly.full), 0.75*float64(shapesOnly.cases), "shapes-only coverage below 75%%")
}

func runCPU(m *common.Model, inputs map[string]common.Value) (map[string]common.Value, error) {
	eng, err := cpu.Compile(m, common.Options{})
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return eng.RunValues(ctx, inputs)
}

// TestInferGeneratedModels checks that the symbolic batch of the
// generated models reaches their outputs, and that binding it gives the
// shapes a run produces.
func TestInferGeneratedModels(t *testing.T) {
	paths, err := filepath.Glob("../../testdata/models/*.onnx")
	require.NoError(t, err)
	if len(paths) == 0 {
		t.Skip("no generated models in testdata/models")
	}
	sort.Strings(paths)
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			m, err := onnx.LoadModel(p, common.Limits{})
			require.NoError(t, err)
			im := inferenceCopy(m, nil, false)
			types := graph.InferShapes(im, nil)
			for _, o := range m.Graph.Outputs {
				inf, ok := types[o.Name]
				require.True(t, ok, "output %q not inferred", o.Name)
				require.Equal(t, o.Type.String(), inf.String(), "output %q", o.Name)
				require.Contains(t, inf.String(), "batch")
			}
			// Bound batch: compare with a run.
			const batch = 3
			inputs := map[string]common.Value{}
			for _, in := range m.Graph.Inputs {
				if _, isInit := m.Graph.Initializers[in.Name]; isInit {
					continue
				}
				shape := common.Shape{}
				for _, d := range in.Type.Dims {
					v := int(d.Value)
					if d.Param == "batch" {
						v = batch
					}
					shape = append(shape, v)
				}
				inputs[in.Name] = common.Zeros(in.Type.DType, shape)
			}
			got, err := runCPU(m, inputs)
			require.NoError(t, err)
			bound := graph.InferShapes(im, map[string]int64{"batch": batch})
			for _, o := range m.Graph.Outputs {
				full, err := checkFacts(bound[o.Name], got[o.Name])
				require.NoError(t, err, "output %q", o.Name)
				require.True(t, full, "output %q: %s", o.Name, bound[o.Name])
			}
		})
	}
}

// TestInferDebugCase prints the inferred types of one node-test case
// (ACCEL_INFER_CASE names it).
func TestInferDebugCase(t *testing.T) {
	name := os.Getenv("ACCEL_INFER_CASE")
	dir, ok := conformance.Dir()
	if name == "" || !ok {
		t.Skip("set ACCEL_INFER_CASE and ACCEL_ONNX_TESTS to print one case's inferred types")
	}
	m, err := onnx.LoadModel(filepath.Join(dir, name, "model.onnx"), common.Limits{})
	require.NoError(t, err)
	inputs, _, err := conformance.LoadData(m, filepath.Join(dir, name, "test_data_set_0"), common.Limits{})
	require.NoError(t, err)
	got, err := runCPU(m, inputs)
	require.NoError(t, err)
	types := graph.InferShapes(inferenceCopy(m, inputs, true), nil)
	for _, n := range m.Graph.Nodes {
		var outs []string
		for _, o := range n.Outputs {
			outs = append(outs, o+"="+types[o].String())
		}
		t.Logf("%s(opset %d) %v -> %v", n.OpType, n.Opset, n.Inputs, outs)
	}
	for _, o := range m.Graph.Outputs {
		t.Logf("output %s: inferred %s, got %s", o.Name, types[o.Name], valueType(got[o.Name]))
	}
}
