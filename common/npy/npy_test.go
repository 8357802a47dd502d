package npy

import (
	"bytes"
	"testing"

	"github.com/accel-go/accel/common"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	cases := []*common.Tensor{
		common.NewTensor(common.Shape{2, 3}, []float32{1, -2, 3.5, 0, 1e-8, 7}),
		common.NewTensor(common.Shape{3}, []float64{1, 2, 3}),
		common.NewTensor(common.Shape{}, []int64{-42}),
		common.NewTensor(common.Shape{2, 2}, []int32{1, -2, 3, -4}),
		common.NewTensor(common.Shape{4}, []uint8{0, 1, 254, 255}),
		common.NewTensor(common.Shape{2}, []bool{true, false}),
		common.NewTensor(common.Shape{2}, []common.F16{common.F16From(1.5), common.F16From(-2)}),
		common.NewTensor(common.Shape{0, 3}, []float32{}),
	}
	for _, want := range cases {
		var buf bytes.Buffer
		require.NoError(t, Write(&buf, want))
		got, err := Read(&buf, common.Limits{})
		require.NoError(t, err, want.String())
		require.Equal(t, want.DType(), got.DType())
		require.Equal(t, want.Shape(), got.Shape())
		require.Equal(t, want.Raw(), got.Raw())
	}
}

func TestHostile(t *testing.T) {
	good := func() []byte {
		var buf bytes.Buffer
		require.NoError(t, Write(&buf, common.NewTensor(common.Shape{2}, []float32{1, 2})))
		return buf.Bytes()
	}()
	cases := map[string][]byte{
		"empty":     nil,
		"magic":     []byte("NOTNUMPY00000000"),
		"truncated": good[:len(good)-3],
		"huge dims": []byte("\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000), }    \n"),
		"bad dtype": []byte("\x93NUMPY\x01\x00\x40\x00{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }          \n"),
	}
	for name, data := range cases {
		_, err := Read(bytes.NewReader(data), common.Limits{})
		require.Error(t, err, name)
	}
}
