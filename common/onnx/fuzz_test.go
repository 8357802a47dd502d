package onnx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// fuzzLimits keep each fuzz input cheap.
var fuzzLimits = common.Limits{
	ModelBytes:     4 << 20,
	Nodes:          10_000,
	SubgraphDepth:  16,
	FunctionDepth:  8,
	TensorElements: 1 << 20,
	TensorBytes:    8 << 20,
}

// addNodeTestSeeds adds node-test files (read at run time) to the corpus.
func addNodeTestSeeds(f *testing.F, file string, max int, extra ...any) {
	dir := nodeTestDir()
	if dir == "" {
		return
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "test_*", file))
	for i, p := range paths {
		if i >= max {
			break
		}
		if b, err := os.ReadFile(p); err == nil && len(b) < 1<<16 {
			f.Add(append([]any{b}, extra...)...)
		}
	}
}

// FuzzDecodeModel checks that decoding never panics and that whatever
// decodes re-encodes to bytes that decode to the same model.
func FuzzDecodeModel(f *testing.F) {
	f.Add(buildSample().Bytes())
	b := NewBuilder(13)
	x := b.Input("x", common.Float32, 2)
	b.Output(b.Node("Relu", []string{x}), common.Float32)
	f.Add(b.Bytes())
	f.Add([]byte{})
	addNodeTestSeeds(f, "model.onnx", 1000)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeModel(data, fuzzLimits)
		if err != nil {
			return
		}
		b1, err := EncodeModel(m)
		require.NoError(t, err)
		m2, err := DecodeModel(b1, fuzzLimits)
		require.NoError(t, err, "re-decoding an encoded model")
		b2, err := EncodeModel(m2)
		require.NoError(t, err)
		require.Equal(t, b1, b2, "encoding is not stable across a round trip")
	})
}

// FuzzDecodeValue does the same for TensorProto and SequenceProto files.
func FuzzDecodeValue(f *testing.F) {
	for _, x := range sampleTensors() {
		f.Add(EncodeTensorMust(x), false)
	}
	seq := &common.Sequence{Values: []common.Value{common.Scalar[float32](1), common.NewTensor(common.Shape{2}, []int64{1, 2})}}
	f.Add(Must(EncodeValue(seq, "s")), true)
	addNodeTestSeeds(f, "test_data_set_0/input_0.pb", 300, false)
	f.Fuzz(func(t *testing.T, data []byte, isSeq bool) {
		typ := common.TypeInfo{Kind: common.KindTensor}
		if isSeq {
			typ.Kind = common.KindSequence
		}
		v, _, err := DecodeValue(data, typ, fuzzLimits)
		if err != nil {
			return
		}
		b1, err := EncodeValue(v, "")
		require.NoError(t, err)
		v2, _, err := DecodeValue(b1, typ, fuzzLimits)
		require.NoError(t, err, "re-decoding an encoded value")
		b2, err := EncodeValue(v2, "")
		require.NoError(t, err)
		require.Equal(t, b1, b2, "encoding is not stable across a round trip")
	})
}
