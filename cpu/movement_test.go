package cpu

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// unflat returns the coordinates of flat index i in shape s.
func unflat(i int, s common.Shape) []int {
	c := make([]int, len(s))
	for a := len(s) - 1; a >= 0; a-- {
		c[a] = i % s[a]
		i /= s[a]
	}
	return c
}

func flat(c []int, s common.Shape) int {
	i := 0
	for a := range s {
		i = i*s[a] + c[a]
	}
	return i
}

func TestMovementTransposeMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	perms := [][]int{{1, 0}, {0, 2, 3, 1}, {0, 3, 1, 2}, {3, 2, 1, 0}, {2, 0, 1}, {0, 1, 2}, {1, 0, 2}}
	for _, perm := range perms {
		for trial := 0; trial < 3; trial++ {
			shape := make(common.Shape, len(perm))
			for i := range shape {
				shape[i] = 1 + rng.Intn(40)
				if len(perm) == 4 {
					shape[i] = 1 + rng.Intn(12)
				}
			}
			n := shape.Size()
			x := common.NewTensor(shape, iota32(n))
			p64 := make([]int64, len(perm))
			for i, v := range perm {
				p64[i] = int64(v)
			}
			y := mvOne(t, mvNode("Transpose", 13, 1, aInts("perm", p64...)), x)
			want := make(common.Shape, len(perm))
			for i, a := range perm {
				want[i] = shape[a]
			}
			require.Equal(t, want, y.Shape())
			got := common.Data[float32](y)
			for o := 0; o < n; o++ {
				oc := unflat(o, want)
				ic := make([]int, len(perm))
				for i, a := range perm {
					ic[a] = oc[i]
				}
				if got[o] != float32(flat(ic, shape)) {
					t.Fatalf("perm %v shape %v: out[%d] = %v, want %v", perm, shape, o, got[o], flat(ic, shape))
				}
			}
		}
	}
	// Default: reversed axes; strings and float16 move too.
	s := common.NewTensor(common.Shape{2, 3}, []string{"a", "b", "c", "d", "e", "f"})
	y := mvOne(t, mvNode("Transpose", 13, 1), s)
	require.Equal(t, []string{"a", "d", "b", "e", "c", "f"}, common.Data[string](y))
	h := common.NewTensor(common.Shape{2, 2}, []common.F16{1, 2, 3, 4})
	y = mvOne(t, mvNode("Transpose", 13, 1), h)
	require.Equal(t, []common.F16{1, 3, 2, 4}, common.Data[common.F16](y))
	_, err := mvCall(mvNode("Transpose", 13, 1, aInts("perm", 0, 0)), s)
	require.ErrorIs(t, err, common.ErrShape)
}

func TestMovementConcatSplit(t *testing.T) {
	a := common.NewTensor(common.Shape{2, 2}, []int64{1, 2, 3, 4})
	b := common.NewTensor(common.Shape{2, 1}, []int64{5, 6})
	y := mvOne(t, mvNode("Concat", 13, 1, aInt("axis", -1)), a, b)
	require.Equal(t, common.Shape{2, 3}, y.Shape())
	require.Equal(t, []int64{1, 2, 5, 3, 4, 6}, common.Data[int64](y))
	e := common.Zeros(common.Int64, common.Shape{2, 0})
	y = mvOne(t, mvNode("Concat", 13, 1, aInt("axis", 1)), e, a, e)
	require.Equal(t, []int64{1, 2, 3, 4}, common.Data[int64](y))
	_, err := mvCall(mvNode("Concat", 13, 1, aInt("axis", 0)), a, b)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("Concat", 13, 1), a, b)
	require.ErrorIs(t, err, common.ErrInvalidModel)

	x := common.NewTensor(common.Shape{2, 5}, iota32(10))
	out, err := mvCall(mvNode("Split", 13, 2, aInt("axis", 1)), x, i64s(2, 3))
	require.NoError(t, err)
	require.Equal(t, []float32{0, 1, 5, 6}, common.Data[float32](out[0]))
	require.Equal(t, []float32{2, 3, 4, 7, 8, 9}, common.Data[float32](out[1]))
	out, err = mvCall(mvNode("Split", 11, 2, aInts("split", 1, 1)), x)
	require.NoError(t, err)
	require.Equal(t, []float32{5, 6, 7, 8, 9}, common.Data[float32](out[1]))
	out, err = mvCall(mvNode("Split", 18, 3, aInt("axis", 1), aInt("num_outputs", 3)), x)
	require.NoError(t, err)
	require.Equal(t, common.Shape{2, 2}, out[0].Shape())
	require.Equal(t, common.Shape{2, 1}, out[2].Shape())
	require.Equal(t, []float32{4, 9}, common.Data[float32](out[2]))
	_, err = mvCall(mvNode("Split", 13, 3, aInt("axis", 1)), x)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("Split", 13, 2), x, i64s(1, 2))
	require.ErrorIs(t, err, common.ErrShape)
}

// naiveSlice computes Slice by walking each output coordinate.
func naiveSlice(shape common.Shape, data []float32, starts, ends, steps []int64) (common.Shape, []float32) {
	out := make(common.Shape, len(shape))
	first := make([]int64, len(shape))
	for a, d := range shape {
		dim := int64(d)
		s, e, st := starts[a], ends[a], steps[a]
		if s < 0 {
			s += dim
		}
		if e < 0 {
			e += dim
		}
		var cnt int64
		if st > 0 {
			s, e = max(0, min(dim, s)), max(0, min(dim, e))
			for i := s; i < e; i += st {
				cnt++
			}
		} else {
			s, e = max(0, min(dim-1, s)), max(-1, min(dim-1, e))
			for i := s; i > e; i += st {
				cnt++
			}
		}
		out[a], first[a] = int(cnt), s
	}
	res := make([]float32, out.Size())
	for o := range res {
		c := unflat(o, out)
		ic := make([]int, len(c))
		for a := range c {
			ic[a] = int(first[a] + int64(c[a])*steps[a])
		}
		res[o] = data[flat(ic, shape)]
	}
	return out, res
}

func TestMovementSliceMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	shape := common.Shape{5, 7, 6}
	x := common.NewTensor(shape, iota32(shape.Size()))
	vals := []int64{-100, -7, -3, -1, 0, 1, 2, 4, 6, 100, 1 << 62, -1 << 62}
	for trial := 0; trial < 300; trial++ {
		starts, ends, steps := make([]int64, 3), make([]int64, 3), make([]int64, 3)
		for a := range starts {
			starts[a] = vals[rng.Intn(len(vals))]
			ends[a] = vals[rng.Intn(len(vals))]
			steps[a] = []int64{1, 2, 3, -1, -2, 5}[rng.Intn(6)]
		}
		ws, wd := naiveSlice(shape, common.Data[float32](x), starts, ends, steps)
		y := mvOne(t, mvNode("Slice", 13, 1), x, i64s(starts...), i64s(ends...), i64s(0, 1, 2), i64s(steps...))
		require.Equal(t, ws, y.Shape(), "starts %v ends %v steps %v", starts, ends, steps)
		require.Equal(t, wd, common.Data[float32](y), "starts %v ends %v steps %v", starts, ends, steps)
	}
	// Opset 1 attributes, axes subset, negative axis.
	y := mvOne(t, mvNode("Slice", 1, 1, aInts("starts", 1), aInts("ends", 3), aInts("axes", -1)), x)
	require.Equal(t, common.Shape{5, 7, 2}, y.Shape())
	require.Equal(t, float32(1), common.Data[float32](y)[0])
	_, err := mvCall(mvNode("Slice", 13, 1), x, i64s(0), i64s(1), i64s(0), i64s(0))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("Slice", 13, 1), x, i64s(0, 0), i64s(1, 1), i64s(1, -2))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestMovementExpandTile(t *testing.T) {
	x := common.NewTensor(common.Shape{3, 1}, []int32{1, 2, 3})
	y := mvOne(t, mvNode("Expand", 13, 1), x, i64s(2, 1, 2))
	require.Equal(t, common.Shape{2, 3, 2}, y.Shape())
	require.Equal(t, []int32{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}, common.Data[int32](y))
	y = mvOne(t, mvNode("Expand", 13, 1), x, i64s(1))
	require.Equal(t, common.Shape{3, 1}, y.Shape())
	_, err := mvCall(mvNode("Expand", 13, 1), x, i64s(2, 2))
	require.ErrorIs(t, err, common.ErrShape)

	m := common.NewTensor(common.Shape{2, 2}, []string{"a", "b", "c", "d"})
	y = mvOne(t, mvNode("Tile", 13, 1), m, i64s(2, 3))
	require.Equal(t, common.Shape{4, 6}, y.Shape())
	got := common.Data[string](y)
	src := common.Data[string](m)
	for i := 0; i < 4; i++ {
		for j := 0; j < 6; j++ {
			require.Equal(t, src[(i%2)*2+j%2], got[i*6+j])
		}
	}
	y = mvOne(t, mvNode("Tile", 13, 1), m, i64s(0, 1))
	require.Equal(t, common.Shape{0, 2}, y.Shape())
	_, err = mvCall(mvNode("Tile", 13, 1), m, i64s(1))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("Tile", 13, 1), m, i64s(1, -1))
	require.ErrorIs(t, err, common.ErrShape)
}

// naivePad pads a 2-D tensor; src coordinate per output is computed by
// stepping, the way numpy.pad describes each mode.
func naivePadIndex(i, b, d int, mode string) int {
	j := i - b
	switch mode {
	case "edge":
		return max(0, min(d-1, j))
	case "wrap":
		return ((j % d) + d) % d
	case "reflect":
		for j < 0 || j >= d {
			if d == 1 {
				return 0
			}
			if j < 0 {
				j = -j
			}
			if j >= d {
				j = 2*(d-1) - j
			}
		}
		return j
	}
	if j < 0 || j >= d {
		return -1
	}
	return j
}

func TestMovementPadMatchesNaive(t *testing.T) {
	shape := common.Shape{3, 4}
	x := common.NewTensor(shape, iota32(12))
	for _, mode := range []string{"constant", "reflect", "edge", "wrap"} {
		for _, p := range [][4]int{{1, 2, 3, 0}, {0, 0, 0, 0}, {5, 7, 6, 9}, {2, 3, 1, 1}} {
			if mode == "reflect" || mode == "constant" || mode == "edge" || mode == "wrap" {
				y := mvOne(t, mvNode("Pad", 19, 1, aStr("mode", mode)), x,
					i64s(int64(p[0]), int64(p[1]), int64(p[2]), int64(p[3])), common.Scalar(float32(-1)))
				ws := common.Shape{3 + p[0] + p[2], 4 + p[1] + p[3]}
				require.Equal(t, ws, y.Shape())
				got := common.Data[float32](y)
				for i := 0; i < ws[0]; i++ {
					for j := 0; j < ws[1]; j++ {
						si, sj := naivePadIndex(i, p[0], 3, mode), naivePadIndex(j, p[1], 4, mode)
						want := float32(-1)
						if si >= 0 && sj >= 0 {
							want = float32(si*4 + sj)
						}
						require.Equal(t, want, got[i*ws[1]+j], "mode %s pads %v at (%d,%d)", mode, p, i, j)
					}
				}
			}
		}
	}
	// Negative pads crop; opset 2 attributes; axes input.
	y := mvOne(t, mvNode("Pad", 13, 1), x, i64s(-1, 0, 0, -2))
	require.Equal(t, common.Shape{2, 2}, y.Shape())
	require.Equal(t, []float32{4, 5, 8, 9}, common.Data[float32](y))
	y = mvOne(t, mvNode("Pad", 2, 1, aInts("pads", 0, 1, 0, 0), aFloat("value", 7)), x)
	require.Equal(t, common.Shape{3, 5}, y.Shape())
	require.Equal(t, []float32{7, 0, 1, 2, 3}, common.Data[float32](y)[:5])
	y = mvOne(t, mvNode("Pad", 18, 1), x, i64s(1, 1), nil, i64s(-2))
	require.Equal(t, common.Shape{5, 4}, y.Shape())
	_, err := mvCall(mvNode("Pad", 13, 1), x, i64s(-2, 0, -2, 0))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("Pad", 13, 1), x, i64s(1, 0))
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("Pad", 19, 1, aStr("mode", "bogus")), x, i64s(0, 0, 0, 0))
	require.ErrorIs(t, err, common.ErrInvalidModel)
	empty := common.Zeros(common.Float32, common.Shape{0, 2})
	_, err = mvCall(mvNode("Pad", 19, 1, aStr("mode", "reflect")), empty, i64s(1, 0, 0, 0))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestMovementDepthSpace(t *testing.T) {
	// The spec's DCR example: [1, 8, 2, 3] with blocksize 2.
	x := common.NewTensor(common.Shape{1, 8, 2, 3}, iota32(48))
	y := mvOne(t, mvNode("DepthToSpace", 13, 1, aInt("blocksize", 2), aStr("mode", "DCR")), x)
	require.Equal(t, common.Shape{1, 2, 4, 6}, y.Shape())
	require.Equal(t, []float32{0, 12, 1, 13, 2, 14, 24, 36, 25, 37, 26, 38}, common.Data[float32](y)[:12])
	y = mvOne(t, mvNode("DepthToSpace", 13, 1, aInt("blocksize", 2), aStr("mode", "CRD")), x)
	require.Equal(t, []float32{0, 6, 1, 7, 2, 8, 12, 18, 13, 19, 14, 20}, common.Data[float32](y)[:12])
	// SpaceToDepth inverts DCR DepthToSpace.
	back := mvOne(t, mvNode("SpaceToDepth", 13, 1, aInt("blocksize", 2)), y)
	require.Equal(t, common.Shape{1, 8, 2, 3}, back.Shape())
	y = mvOne(t, mvNode("DepthToSpace", 13, 1, aInt("blocksize", 2)), x)
	back = mvOne(t, mvNode("SpaceToDepth", 13, 1, aInt("blocksize", 2)), y)
	require.Equal(t, common.Data[float32](x), common.Data[float32](back))
	_, err := mvCall(mvNode("DepthToSpace", 13, 1, aInt("blocksize", 3)), x)
	require.ErrorIs(t, err, common.ErrShape)
	_, err = mvCall(mvNode("SpaceToDepth", 13, 1, aInt("blocksize", 0)), x)
	require.ErrorIs(t, err, common.ErrShape)
}

func TestMovementTrilu(t *testing.T) {
	x := common.NewTensor(common.Shape{2, 3, 4}, iota32(24))
	for _, upper := range []int64{0, 1} {
		for _, k := range []int64{-5, -1, 0, 1, 2, 9} {
			y := mvOne(t, mvNode("Trilu", 14, 1, aInt("upper", upper)), x, common.Scalar(k))
			got := common.Data[float32](y)
			for i, v := range got {
				c := unflat(i, x.Shape())
				keep := int64(c[2]-c[1]) >= k
				if upper == 0 {
					keep = int64(c[2]-c[1]) <= k
				}
				want := float32(0)
				if keep {
					want = float32(i)
				}
				require.Equal(t, want, v, "upper %d k %d at %v", upper, k, c)
			}
		}
	}
}

func TestMovementCompressReverseSequence(t *testing.T) {
	x := common.NewTensor(common.Shape{3, 2}, []int64{1, 2, 3, 4, 5, 6})
	y := mvOne(t, mvNode("Compress", 11, 1, aInt("axis", 0)), x, common.NewTensor(common.Shape{2}, []bool{false, true}))
	require.Equal(t, common.Shape{1, 2}, y.Shape())
	require.Equal(t, []int64{3, 4}, common.Data[int64](y))
	y = mvOne(t, mvNode("Compress", 11, 1, aInt("axis", -1)), x, common.NewTensor(common.Shape{2}, []bool{false, true}))
	require.Equal(t, []int64{2, 4, 6}, common.Data[int64](y))
	y = mvOne(t, mvNode("Compress", 11, 1), x, common.NewTensor(common.Shape{5}, []bool{true, false, false, true, true}))
	require.Equal(t, []int64{1, 4, 5}, common.Data[int64](y))
	_, err := mvCall(mvNode("Compress", 11, 1, aInt("axis", 1)), x, common.NewTensor(common.Shape{3}, []bool{false, false, true}))
	require.ErrorIs(t, err, common.ErrShape)

	// Spec example: time_axis 0, batch_axis 1, lens [4, 3, 2, 1].
	s := common.NewTensor(common.Shape{4, 4}, iota32(16))
	y = mvOne(t, mvNode("ReverseSequence", 10, 1), s, i64s(4, 3, 2, 1))
	require.Equal(t, []float32{12, 9, 6, 3, 8, 5, 2, 7, 4, 1, 10, 11, 0, 13, 14, 15}, common.Data[float32](y))
	y = mvOne(t, mvNode("ReverseSequence", 10, 1, aInt("time_axis", 1), aInt("batch_axis", 0)), s, i64s(1, 2, 3, 4))
	require.Equal(t, []float32{0, 1, 2, 3, 5, 4, 6, 7, 10, 9, 8, 11, 15, 14, 13, 12}, common.Data[float32](y))
	_, err = mvCall(mvNode("ReverseSequence", 10, 1), s, i64s(5, 1, 1, 1))
	require.ErrorIs(t, err, common.ErrShape)
}

func TestMovementUnique(t *testing.T) {
	x := common.NewTensor(common.Shape{6}, []float32{2, 1, 1, 3, 4, 3})
	out, err := mvCall(mvNode("Unique", 11, 4, aInt("sorted", 0)), x)
	require.NoError(t, err)
	require.Equal(t, []float32{2, 1, 3, 4}, common.Data[float32](out[0]))
	require.Equal(t, []int64{0, 1, 3, 4}, common.Data[int64](out[1]))
	require.Equal(t, []int64{0, 1, 1, 2, 3, 2}, common.Data[int64](out[2]))
	require.Equal(t, []int64{1, 2, 2, 1}, common.Data[int64](out[3]))
	out, err = mvCall(mvNode("Unique", 11, 4), x)
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3, 4}, common.Data[float32](out[0]))
	require.Equal(t, []int64{1, 0, 3, 4}, common.Data[int64](out[1]))
	require.Equal(t, []int64{1, 0, 0, 2, 3, 2}, common.Data[int64](out[2]))
	require.Equal(t, []int64{2, 1, 2, 1}, common.Data[int64](out[3]))
	// Spec example with axis 0.
	m := common.NewTensor(common.Shape{3, 3}, []int64{1, 0, 0, 1, 0, 0, 2, 3, 4})
	out, err = mvCall(mvNode("Unique", 11, 4, aInt("axis", 0)), m)
	require.NoError(t, err)
	require.Equal(t, common.Shape{2, 3}, out[0].Shape())
	require.Equal(t, []int64{1, 0, 0, 2, 3, 4}, common.Data[int64](out[0]))
	require.Equal(t, []int64{0, 2}, common.Data[int64](out[1]))
	require.Equal(t, []int64{0, 0, 1}, common.Data[int64](out[2]))
	require.Equal(t, []int64{2, 1}, common.Data[int64](out[3]))
}

func TestMovementParallelMatchesSerial(t *testing.T) {
	// Large enough to split across workers; compare 1 thread with 4.
	x := common.NewTensor(common.Shape{64, 300, 7}, iota32(64*300*7))
	for _, tc := range []struct {
		n  *common.Node
		in []*common.Tensor
	}{
		{mvNode("Transpose", 13, 1, aInts("perm", 2, 0, 1)), nil},
		{mvNode("Transpose", 13, 1, aInts("perm", 0, 2, 1)), nil},
		{mvNode("Slice", 13, 1), []*common.Tensor{i64s(-1, 3), i64s(-1<<62, 299), i64s(0, 1), i64s(-1, 2)}},
		{mvNode("Pad", 19, 1, aStr("mode", "reflect")), []*common.Tensor{i64s(1, 2, 3, 4, 5, 6)}},
		{mvNode("Tile", 13, 1), []*common.Tensor{i64s(1, 2, 3)}},
	} {
		in := append([]*common.Tensor{x}, tc.in...)
		a, err := mvCallCtx(mvCtx(1, common.Limits{}), tc.n, in...)
		require.NoError(t, err)
		b, err := mvCallCtx(mvCtx(4, common.Limits{}), tc.n, in...)
		require.NoError(t, err)
		require.Equal(t, a[0].Shape(), b[0].Shape(), fmt.Sprint(tc.n.OpType))
		require.Equal(t, common.Data[float32](a[0]), common.Data[float32](b[0]), tc.n.OpType)
	}
}

func TestMovementHugeEmptyDims(t *testing.T) {
	// Zero-element tensors whose other dims are huge must not make any
	// kernel loop over or allocate for those dims.
	big := 1 << 40
	x := common.Zeros(common.Float32, common.Shape{big, 0, big})
	small := mvCtx(2, common.Limits{TensorElements: 1 << 20})
	for _, tc := range []struct {
		n  *common.Node
		in []*common.Tensor
	}{
		{mvNode("Gather", 13, 1, aInt("axis", 2)), []*common.Tensor{x, i64s(0, 1, 2)}},
		{mvNode("Transpose", 13, 1), []*common.Tensor{x}},
		{mvNode("Slice", 13, 1), []*common.Tensor{x, i64s(1), i64s(-1), i64s(2)}},
		{mvNode("Pad", 13, 1), []*common.Tensor{x, i64s(1, 0, 0, 1, 0, 0)}},
		{mvNode("Compress", 11, 1, aInt("axis", 0)), []*common.Tensor{x, common.NewTensor(common.Shape{2}, []bool{true, true})}},
		{mvNode("Trilu", 14, 1), []*common.Tensor{x}},
		{mvNode("Concat", 13, 1, aInt("axis", 1)), []*common.Tensor{x, x}},
		{mvNode("Split", 18, 2, aInt("axis", 1)), []*common.Tensor{x}},
		{mvNode("EyeLike", 9, 1), []*common.Tensor{common.Zeros(common.Float32, common.Shape{big, 0})}},
		{mvNode("ReverseSequence", 10, 1, aInt("batch_axis", 0), aInt("time_axis", 1)), []*common.Tensor{common.Zeros(common.Float32, common.Shape{1, big, 0}), i64s(0)}},
	} {
		out, err := mvCallCtx(small, tc.n, tc.in...)
		require.NoError(t, err, tc.n.OpType)
		require.Equal(t, 0, out[0].Len(), tc.n.OpType)
	}
	_, err := mvCallCtx(small, mvNode("Unique", 11, 4, aInt("axis", 0)), x)
	require.ErrorIs(t, err, common.ErrLimit)
}
