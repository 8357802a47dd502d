package onnx

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/accel-go/accel/common"
)

// modelWithInit makes an Identity model over initializer "w" given as raw
// TensorProto bytes.
func modelWithInit(init []byte) []byte {
	var n []byte
	n = appendStringField(n, 1, "w")
	n = appendStringField(n, 2, "y")
	n = appendStringField(n, 4, "Identity")
	g := rawGraph([][]byte{n}, nil, []string{"y"})
	g = appendBytesField(g, 5, init)
	return rawModel(8, 17, g)
}

func named(name string) func([]byte) []byte {
	return func(b []byte) []byte { return appendStringField(b, tName, name) }
}

func rawData(name string, raw []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		b = appendStringField(b, tName, name)
		return appendBytesField(b, tRawData, raw)
	}
}

// rawNode makes NodeProto bytes.
func rawNode(op, domain string, inputs, outputs []string, attrs ...[]byte) []byte {
	var n []byte
	for _, s := range inputs {
		n = appendStringField(n, 1, s)
	}
	for _, s := range outputs {
		n = appendStringField(n, 2, s)
	}
	n = appendStringField(n, 4, op)
	for _, a := range attrs {
		n = appendBytesField(n, 5, a)
	}
	if domain != "" {
		n = appendStringField(n, 7, domain)
	}
	return n
}

// nestedIf makes a graph whose If nodes nest depth levels deep.
func nestedIf(depth int) []byte {
	inner := rawGraph([][]byte{rawNode("Identity", "", []string{"c"}, []string{"o0"})}, nil, []string{"o0"})
	for i := 0; i < depth; i++ {
		var a []byte
		a = appendStringField(a, 1, "then_branch")
		a = appendBytesField(a, 6, inner)
		a = appendVarintField(a, 20, uint64(common.AttrGraph))
		inner = rawGraph([][]byte{rawNode("If", "", []string{"c"}, []string{"o0"}, a)}, nil, []string{"o0"})
	}
	return inner
}

// withModelOpsets makes a ModelProto with the given graph and opset
// imports (domain -> version).
func withModelOpsets(ir int64, g []byte, ops map[string]int64, funcs ...[]byte) []byte {
	var m []byte
	m = appendVarintField(m, 1, uint64(ir))
	m = appendBytesField(m, 7, g)
	m = appendOpsets(m, 8, ops)
	for _, f := range funcs {
		m = appendBytesField(m, 25, f)
	}
	return m
}

func funcModel(t testing.TB, fns ...*common.Function) []byte {
	g := rawGraph([][]byte{rawNode(fns[0].Name, "local", []string{"x"}, []string{"y"})}, []string{"x"}, []string{"y"})
	var fbs [][]byte
	for _, fn := range fns {
		fb, err := encodeFunction(fn)
		require.NoError(t, err)
		fbs = append(fbs, fb)
	}
	return withModelOpsets(8, g, map[string]int64{"": 17, "local": 1}, fbs...)
}

func callFn(name, callee string) *common.Function {
	return &common.Function{Name: name, Domain: "local", Inputs: []string{"a"}, Outputs: []string{"b"},
		Opsets: map[string]int64{"": 17, "local": 1},
		Nodes:  []*common.Node{{OpType: callee, Domain: "local", Inputs: []string{"a"}, Outputs: []string{"b"}}}}
}

func leafFn(name string) *common.Function {
	return &common.Function{Name: name, Domain: "local", Inputs: []string{"a"}, Outputs: []string{"b"},
		Opsets: map[string]int64{"": 17},
		Nodes:  []*common.Node{{OpType: "Relu", Inputs: []string{"a"}, Outputs: []string{"b"}}}}
}

// doubling makes a chain of functions each calling the next twice, so the
// inlined size doubles per level.
func doubling(levels int) []*common.Function {
	var fns []*common.Function
	for i := 0; i < levels; i++ {
		next := "F" + itoa(i+1)
		fn := &common.Function{Name: "F" + itoa(i), Domain: "local", Inputs: []string{"a"}, Outputs: []string{"c"},
			Opsets: map[string]int64{"": 17, "local": 1},
			Nodes: []*common.Node{
				{OpType: next, Domain: "local", Inputs: []string{"a"}, Outputs: []string{"b"}},
				{OpType: next, Domain: "local", Inputs: []string{"b"}, Outputs: []string{"c"}},
			}}
		fns = append(fns, fn)
	}
	return append(fns, leafFn("F"+itoa(levels)))
}

func TestHostile(t *testing.T) {
	lim := common.Limits{}
	small := common.Limits{TensorElements: 1 << 20, TensorBytes: 1 << 22, Nodes: 1000, SubgraphDepth: 8, FunctionDepth: 4}
	good := buildSample().Bytes()
	f32x4 := make([]byte, 16)
	rng := rand.New(rand.NewSource(1))
	random := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}

	// External data fixtures.
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.bin"), f32x4, 0o644))
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ok.bin"), f32x4, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tiny.bin"), []byte{1, 2, 3}, 0o644))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.bin"), filepath.Join(dir, "link.bin")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "ok.bin"), filepath.Join(dir, "inlink.bin")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "linkdir")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo.bin"), 0o644))
	loadExt := func(loc, off, length string) func() error {
		return func() error {
			p := filepath.Join(dir, "m.onnx")
			if err := os.WriteFile(p, extModel(t, loc, off, length), 0o644); err != nil {
				return err
			}
			_, err := LoadModel(p, lim)
			return err
		}
	}
	// A float32[2^28] (1 GiB) initializer whose external file has 3 bytes.
	bigExt := func() error {
		ext := func(b []byte) []byte {
			b = appendStringField(b, tName, "w")
			b = appendBytesField(b, tExternalData, appendStringField(appendStringField(nil, 1, "location"), 2, "tiny.bin"))
			return appendVarintField(b, tDataLocation, 1)
		}
		p := filepath.Join(dir, "big.onnx")
		if err := os.WriteFile(p, modelWithInit(tp([]int64{1 << 28}, common.Float32, ext)), 0o644); err != nil {
			return err
		}
		_, err := LoadModel(p, lim)
		return err
	}
	sparseBig := func() error {
		p := filepath.Join(t.TempDir(), "huge.onnx")
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := f.Truncate(3 << 30); err != nil {
			f.Close()
			return err
		}
		f.Close()
		_, err = LoadModel(p, lim)
		return err
	}

	dec := func(b []byte, l common.Limits) func() error {
		return func() error { _, err := DecodeModel(b, l); return err }
	}
	decT := func(b []byte, l common.Limits) func() error {
		return func() error { _, _, err := DecodeTensor(b, l); return err }
	}

	edge := func(op string, in, out []string) []byte { return rawNode(op, "", in, out) }
	graphOf := func(nodes ...[]byte) []byte { return rawGraph(nodes, []string{"x"}, []string{"y"}) }
	ops17 := map[string]int64{"": 17}

	var manyNodes [][]byte
	prev := "x"
	for i := 0; i < 1001; i++ {
		o := "v" + itoa(i)
		manyNodes = append(manyNodes, edge("Relu", []string{prev}, []string{o}))
		prev = o
	}
	manyNodes = append(manyNodes, edge("Identity", []string{prev}, []string{"y"}))

	hugeLen := append(appendVarintField(nil, 1, 8), protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.BytesType), 1<<62)...)
	pastEnd := append(appendVarintField(nil, 1, 8), protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.BytesType), 100)...)
	pastEnd = append(pastEnd, 1, 2, 3)

	var deepSeq []byte
	deepSeq = EncodeTensorMust(common.Scalar[float32](1))
	deepSeq = appendBytesField(appendVarintField(nil, 2, elemTensor), 3, deepSeq)
	for i := 0; i < 2000; i++ {
		deepSeq = appendBytesField(appendVarintField(nil, 2, elemSequence), 5, deepSeq)
	}

	var badSparse []byte
	badSparse = appendBytesField(badSparse, 1, tp([]int64{2}, common.Float32, rawData("w", make([]byte, 8))))
	badSparse = appendBytesField(badSparse, 2, tp([]int64{2}, common.Int64, rawData("", append(make([]byte, 8), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0))))
	badSparse = appendPackedVarints(badSparse, 3, []int64{3, 3})

	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"empty", dec(nil, lim), common.ErrInvalidModel},
		{"truncated", dec(good[:len(good)/2], lim), common.ErrInvalidModel},
		{"truncated by one", dec(good[:len(good)-1], lim), common.ErrInvalidModel},
		{"random 1k", dec(random(1024), lim), common.ErrInvalidModel},
		{"random 64k", dec(random(65536), lim), common.ErrInvalidModel},
		{"text", dec([]byte("this is not a model, it is text\n"), lim), common.ErrInvalidModel},
		{"wrong wire type ir_version", dec(appendStringField(nil, 1, "8"), lim), common.ErrInvalidModel},
		{"wrong wire type graph", dec(appendVarintField(appendVarintField(nil, 1, 8), 7, 1), lim), common.ErrInvalidModel},
		{"field number zero", dec([]byte{0x00, 0x01}, lim), common.ErrInvalidModel},
		{"end group without start", dec([]byte{0x0c}, lim), common.ErrInvalidModel},
		{"huge length prefix", dec(hugeLen, lim), common.ErrInvalidModel},
		{"length past end", dec(pastEnd, lim), common.ErrInvalidModel},
		{"varint overflow", dec([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, lim), common.ErrInvalidModel},
		{"no graph", dec(appendBytesField(appendVarintField(nil, 1, 8), 8, appendVarintField(nil, 2, 17)), lim), common.ErrInvalidModel},
		{"ir version 99", dec(rawModel(99, 17, graphOf(edge("Relu", []string{"x"}, []string{"y"}))), lim), common.ErrUnsupported},
		{"ir version 0", dec(rawModel(0, 17, graphOf(edge("Relu", []string{"x"}, []string{"y"}))), lim), common.ErrInvalidModel},
		{"opset 999", dec(rawModel(8, 999, graphOf(edge("Relu", []string{"x"}, []string{"y"}))), lim), common.ErrUnsupported},
		{"missing default opset", dec(withModelOpsets(8, graphOf(edge("Relu", []string{"x"}, []string{"y"})), map[string]int64{"foo": 1}), lim), common.ErrInvalidModel},
		{"domain without import", dec(rawModel(8, 17, graphOf(rawNode("Thing", "foo", []string{"x"}, []string{"y"}))), lim), common.ErrInvalidModel},
		{"no op_type", dec(rawModel(8, 17, graphOf(rawNode("", "", []string{"x"}, []string{"y"}))), lim), common.ErrInvalidModel},
		{"cycle", dec(rawModel(8, 17, graphOf(edge("Add", []string{"x", "b"}, []string{"a"}), edge("Relu", []string{"a"}, []string{"b"}), edge("Identity", []string{"a"}, []string{"y"}))), lim), common.ErrInvalidModel},
		{"self loop", dec(rawModel(8, 17, graphOf(edge("Add", []string{"x", "y"}, []string{"y"}))), lim), common.ErrInvalidModel},
		{"undefined input", dec(rawModel(8, 17, graphOf(edge("Add", []string{"x", "nope"}, []string{"y"}))), lim), common.ErrInvalidModel},
		{"duplicate outputs", dec(rawModel(8, 17, graphOf(edge("Relu", []string{"x"}, []string{"y"}), edge("Neg", []string{"x"}, []string{"y"}))), lim), common.ErrInvalidModel},
		{"output never produced", dec(rawModel(8, 17, rawGraph([][]byte{edge("Relu", []string{"x"}, []string{"z"})}, []string{"x"}, []string{"y"})), lim), common.ErrInvalidModel},
		{"node count over limit", dec(rawModel(8, 17, graphOf(manyNodes...)), small), common.ErrLimit},
		{"subgraphs deeper than limit", dec(withModelOpsets(8, nestedIf(20), ops17), small), common.ErrLimit},
		{"subgraphs 2000 deep", dec(withModelOpsets(8, nestedIf(2000), ops17), lim), common.ErrLimit},
		{"attribute unknown type", dec(rawModel(8, 17, graphOf(rawNode("Relu", "", []string{"x"}, []string{"y"}, appendVarintField(appendStringField(nil, 1, "a"), 20, 99)))), lim), common.ErrInvalidModel},
		{"attribute no name", dec(rawModel(8, 17, graphOf(rawNode("Relu", "", []string{"x"}, []string{"y"}, appendVarintField(nil, 3, 1)))), lim), common.ErrInvalidModel},
		{"duplicate attribute", dec(rawModel(8, 17, graphOf(rawNode("Relu", "", []string{"x"}, []string{"y"}, Must(encodeAttr(Int("a", 1), "")), Must(encodeAttr(Int("a", 2), ""))))), lim), common.ErrInvalidModel},
		{"graph attribute without graph", dec(rawModel(8, 17, graphOf(rawNode("If", "", []string{"x"}, []string{"y"}, appendVarintField(appendStringField(nil, 1, "then_branch"), 20, uint64(common.AttrGraph))))), lim), common.ErrInvalidModel},
		{"duplicate initializer", dec(modelWithInit2(tp([]int64{1}, common.Float32, rawData("w", make([]byte, 4))), tp([]int64{1}, common.Float32, rawData("w", make([]byte, 4)))), lim), common.ErrInvalidModel},
		{"initializer without name", dec(modelWithInit(tp([]int64{1}, common.Float32, rawData("", make([]byte, 4)))), lim), common.ErrInvalidModel},
		{"huge overflowing dims", decT(tp([]int64{1 << 40, 1 << 40}, common.Float32, nil), lim), common.ErrLimit},
		{"max int64 dims", decT(tp([]int64{math.MaxInt64, 2}, common.Float32, nil), lim), common.ErrLimit},
		{"negative dim", decT(tp([]int64{-3}, common.Float32, rawData("w", f32x4)), lim), common.ErrInvalidModel},
		{"too many dims", decT(tp(make([]int64, 100), common.Float32, nil), lim), common.ErrLimit},
		{"elements over limit", decT(tp([]int64{1 << 21}, common.Uint8, nil), small), common.ErrLimit},
		{"bytes over limit", decT(tp([]int64{1 << 20}, common.Float64, nil), small), common.ErrLimit},
		{"huge dims in a model initializer", dec(modelWithInit(tp([]int64{1 << 31, 1 << 31}, common.Float32, rawData("w", f32x4))), lim), common.ErrLimit},
		{"raw_data short", decT(tp([]int64{5}, common.Float32, rawData("w", f32x4)), lim), common.ErrInvalidModel},
		{"raw_data long", decT(tp([]int64{3}, common.Float32, rawData("w", f32x4)), lim), common.ErrInvalidModel},
		{"raw_data int4 size", decT(tp([]int64{5}, common.Int4, rawData("w", []byte{1, 2})), lim), common.ErrInvalidModel},
		{"raw_data for strings", decT(tp([]int64{1}, common.String, rawData("w", []byte{1})), lim), common.ErrInvalidModel},
		{"float_data for int64", decT(tp([]int64{1}, common.Int64, fixed32s(4, true, 1)), lim), common.ErrInvalidModel},
		{"int64_data for float", decT(tp([]int64{1}, common.Float32, varints(7, true, 1)), lim), common.ErrInvalidModel},
		{"typed count mismatch", decT(tp([]int64{3}, common.Float32, fixed32s(4, true, 1, 2)), lim), common.ErrInvalidModel},
		{"packed float_data ragged", decT(tp([]int64{1}, common.Float32, func(b []byte) []byte { return appendBytesField(b, 4, []byte{1, 2, 3}) }), lim), common.ErrInvalidModel},
		{"float_data wrong wire type", decT(tp([]int64{1}, common.Float32, varints(4, false, 1)), lim), common.ErrInvalidModel},
		{"uint64_data over uint32", decT(tp([]int64{1}, common.Uint32, varints(11, true, 1<<40)), lim), common.ErrInvalidModel},
		{"no data", decT(tp([]int64{2}, common.Float32, nil), lim), common.ErrInvalidModel},
		{"unknown dtype", decT(tp([]int64{1}, 99, rawData("w", f32x4)), lim), common.ErrInvalidModel},
		{"negative dtype", decT(tp([]int64{1}, -5, rawData("w", f32x4)), lim), common.ErrInvalidModel},
		{"complex64", decT(tp([]int64{1}, common.Complex64, rawData("w", make([]byte, 8))), lim), common.ErrUnsupported},
		{"no data_type", decT(appendBytesField(nil, tRawData, f32x4), lim), common.ErrInvalidModel},
		{"segment", decT(tp([]int64{1}, common.Float32, func(b []byte) []byte { return appendBytesField(b, tSegment, appendVarintField(nil, 1, 0)) }), lim), common.ErrUnsupported},
		{"unknown data_location", decT(tp([]int64{1}, common.Float32, func(b []byte) []byte { return appendVarintField(b, tDataLocation, 5) }), lim), common.ErrInvalidModel},
		{"dims truncated varint", decT([]byte{0x0a, 0x02, 0x80, 0x80}, lim), common.ErrInvalidModel},
		{"sparse index out of range", dec(modelWithSparse(badSparse), lim), common.ErrInvalidModel},
		{"external in DecodeModel", dec(extModel(t, "ok.bin", "", ""), lim), common.ErrInvalidModel},
		{"external ..", loadExt("../secret.bin", "", ""), common.ErrInvalidModel},
		{"external nested ..", loadExt("sub/../../secret.bin", "", ""), common.ErrInvalidModel},
		{"external absolute", loadExt(filepath.Join(outside, "secret.bin"), "", ""), common.ErrInvalidModel},
		{"external symlink to file outside", loadExt("link.bin", "", ""), common.ErrInvalidModel},
		{"external symlink to file inside", loadExt("inlink.bin", "", ""), common.ErrInvalidModel},
		{"external symlink to folder", loadExt("linkdir/secret.bin", "", ""), common.ErrInvalidModel},
		{"external fifo", loadExt("fifo.bin", "", ""), common.ErrInvalidModel},
		{"external NUL", loadExt("ok.bin\x00x", "", ""), common.ErrInvalidModel},
		{"external URL", loadExt("https://example.com/w.bin", "", ""), common.ErrInvalidModel},
		{"external empty location", loadExt("", "", ""), common.ErrInvalidModel},
		{"external missing file", loadExt("nothere.bin", "", ""), common.ErrInvalidModel},
		{"external folder", loadExt(".", "", ""), common.ErrInvalidModel},
		{"external offset past EOF", loadExt("ok.bin", "1000", "16"), common.ErrInvalidModel},
		{"external length past EOF", loadExt("ok.bin", "8", "16"), common.ErrInvalidModel},
		{"external bad offset", loadExt("ok.bin", "-1", "16"), common.ErrInvalidModel},
		{"external length mismatch", loadExt("ok.bin", "0", "12"), common.ErrInvalidModel},
		{"external tiny file declared as a gigabyte", bigExt, common.ErrInvalidModel},
		{"self-recursive function", dec(funcModel(t, callFn("F", "F")), lim), common.ErrInvalidModel},
		{"mutually recursive functions", dec(funcModel(t, callFn("F", "G"), callFn("G", "F")), lim), common.ErrInvalidModel},
		{"function depth over limit", dec(funcModel(t, callFn("A", "B"), callFn("B", "C"), callFn("C", "D"), callFn("D", "E"), leafFn("E")), common.Limits{FunctionDepth: 3}), common.ErrLimit},
		{"exponential function expansion", dec(funcModel(t, doubling(40)...), common.Limits{Nodes: 1000}), common.ErrLimit},
		{"model bytes over limit (sparse file)", sparseBig, common.ErrLimit},
		{"model bytes over limit (memory)", dec(good, common.Limits{ModelBytes: 16}), common.ErrLimit},
		{"ReadModel over limit", func() error {
			f, err := os.Open("/dev/zero")
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = ReadModel(f, "", common.Limits{ModelBytes: 1 << 20})
			return err
		}, common.ErrLimit},
		{"LoadModel of a fifo", func() error { _, err := LoadModel(filepath.Join(dir, "fifo.bin"), lim); return err }, common.ErrInvalidModel},
		{"value nested too deep", func() error {
			_, _, err := DecodeValue(deepSeq, common.TypeInfo{Kind: common.KindSequence}, lim)
			return err
		}, common.ErrLimit},
		{"value truncated", func() error {
			b, _ := EncodeValue(&common.Sequence{Values: []common.Value{common.Scalar[float32](1)}}, "s")
			_, _, err := DecodeValue(b[:len(b)-2], common.TypeInfo{Kind: common.KindSequence}, lim)
			return err
		}, common.ErrInvalidModel},
		{"value map", func() error {
			_, _, err := DecodeValue(appendBytesField(nil, 6, nil), common.TypeInfo{Kind: common.KindSequence}, lim)
			return err
		}, common.ErrUnsupported},
	}
	require.GreaterOrEqual(t, len(cases), 40)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				return c.run()
			}()
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			require.ErrorIs(t, err, c.want, "%v", err)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "allocated too much")
			t.Log(err)
		})
	}
}

// Must returns v or panics (for fixtures built from known-good values).
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// EncodeTensorMust is EncodeTensor for fixtures.
func EncodeTensorMust(t *common.Tensor) []byte { return Must(EncodeTensor(t, "")) }

func modelWithInit2(a, b []byte) []byte {
	g := rawGraph([][]byte{rawNode("Identity", "", []string{"w"}, []string{"y"})}, nil, []string{"y"})
	g = appendBytesField(g, 5, a)
	g = appendBytesField(g, 5, b)
	return rawModel(8, 17, g)
}

func modelWithSparse(s []byte) []byte {
	g := rawGraph([][]byte{rawNode("Identity", "", []string{"w"}, []string{"y"})}, nil, []string{"y"})
	g = appendBytesField(g, 15, s)
	return rawModel(8, 17, g)
}

func TestSparseInitializer(t *testing.T) {
	// values [5, 6] at linear indices 1 and 7 of a 3x3 tensor, and the
	// same with coordinate indices.
	vals := tp([]int64{2}, common.Float32, rawData("w", Must(toRaw(common.NewTensor(common.Shape{2}, []float32{5, 6})))))
	for _, idx := range []*common.Tensor{
		common.NewTensor(common.Shape{2}, []int64{1, 7}),
		common.NewTensor(common.Shape{2, 2}, []int64{0, 1, 2, 1}),
	} {
		var s []byte
		s = appendBytesField(s, 1, vals)
		s = appendBytesField(s, 2, EncodeTensorMust(idx))
		s = appendPackedVarints(s, 3, []int64{3, 3})
		m, err := DecodeModel(modelWithSparse(s), common.Limits{})
		require.NoError(t, err)
		require.Equal(t, []float32{0, 5, 0, 0, 0, 0, 0, 6, 0}, common.Data[float32](m.Graph.Initializers["w"]))
	}
}
