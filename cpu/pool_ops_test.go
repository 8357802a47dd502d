package cpu

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/accel-go/accel/common"
	"github.com/stretchr/testify/require"
)

// nnPoolRef computes max/avg/lp pooling directly: every window tap is
// tested against the input and the padded input.
func nnPoolRef(mode poolMode, x []float32, xs []int, k, s, d, pb, pe, out []int, includePad bool, p float64) ([]float64, []int64) {
	planes := xs[0] * xs[1]
	in := xs[2:]
	r := len(in)
	inSize, outSize := prod(in), prod(out)
	y := make([]float64, planes*outSize)
	idx := make([]int64, planes*outSize)
	oc, kc, pos := make([]int, r), make([]int, r), make([]int, r)
	for pl := 0; pl < planes; pl++ {
		clear(oc)
		for {
			best, at := math.Inf(-1), -1
			var sum float64
			cnt, padCnt := 0, 0
			clear(kc)
			for {
				inside, inPad := true, true
				for i := 0; i < r; i++ {
					pos[i] = oc[i]*s[i] - pb[i] + kc[i]*d[i]
					if pos[i] < 0 || pos[i] >= in[i] {
						inside = false
					}
					if pos[i] < -pb[i] || pos[i] >= in[i]+pe[i] {
						inPad = false
					}
				}
				if inPad {
					padCnt++
				}
				if inside {
					f := flatIndex(pos, in)
					v := float64(x[pl*inSize+f])
					cnt++
					switch mode {
					case poolMax:
						if at < 0 || v > best {
							best, at = v, f
						}
					case poolAvg:
						sum += v
					case poolLp:
						sum += math.Pow(math.Abs(v), p)
					}
				}
				if !odometer(kc, k) {
					break
				}
			}
			o := pl*outSize + flatIndex(oc, out)
			switch mode {
			case poolMax:
				y[o], idx[o] = best, int64(pl*inSize+at)
			case poolAvg:
				if includePad {
					y[o] = sum / float64(padCnt)
				} else {
					y[o] = sum / float64(cnt)
				}
			case poolLp:
				y[o] = math.Pow(sum, 1/p)
			}
			if !odometer(oc, out) {
				break
			}
		}
	}
	return y, idx
}

func TestPoolsAgainstDirect(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	c := nnCtx(t, 2)
	type tc struct {
		in, k, s, d, pads []int
		ceil              bool
	}
	cases := []tc{
		{in: []int{7}, k: []int{3}, s: []int{2}, d: []int{1}, pads: []int{1, 1}},
		{in: []int{17}, k: []int{4}, s: []int{3}, d: []int{2}, pads: []int{0, 2}, ceil: true},
		{in: []int{7, 9}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
		{in: []int{7, 9}, k: []int{2, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, ceil: true},
		{in: []int{13, 11}, k: []int{3, 2}, s: []int{1, 3}, d: []int{2, 2}, pads: []int{2, 1, 0, 1}, ceil: true},
		{in: []int{5, 6, 7}, k: []int{2, 3, 3}, s: []int{1, 2, 2}, d: []int{2, 1, 1}, pads: []int{1, 0, 1, 0, 1, 2}},
		{in: []int{1, 1}, k: []int{1, 1}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
	}
	for ci, tcase := range cases {
		xs := append([]int{2, 3}, tcase.in...)
		x := nnRand32(r, prod(xs))
		rk := len(tcase.in)
		od := make([]int, rk)
		for i := range od {
			dk := (tcase.k[i]-1)*tcase.d[i] + 1
			span := tcase.in[i] + tcase.pads[i] + tcase.pads[rk+i] - dk
			if tcase.ceil {
				od[i] = (span+tcase.s[i]-1)/tcase.s[i] + 1
				if (od[i]-1)*tcase.s[i] >= tcase.in[i]+tcase.pads[i] {
					od[i]--
				}
			} else {
				od[i] = span/tcase.s[i] + 1
			}
		}
		ceil := 0
		if tcase.ceil {
			ceil = 1
		}
		attrs := map[string]any{"kernel_shape": tcase.k, "strides": tcase.s, "dilations": tcase.d, "pads": tcase.pads, "ceil_mode": ceil}
		xt := common.NewTensor(common.Shape(xs), x)
		wantShape := common.Shape(append([]int{2, 3}, od...))
		pb, pe := tcase.pads[:rk], tcase.pads[rk:]

		for _, storage := range []int{0, 1} {
			attrs["storage_order"] = storage
			n := nnNode("MaxPool", 22, attrs)
			n.Outputs = []string{"y", "i"}
			out, err := nnRun(t, c, n, xt)
			require.NoError(t, err)
			require.Equal(t, wantShape, out[0].Shape())
			want, wantIdx := nnPoolRef(poolMax, x, xs, tcase.k, tcase.s, tcase.d, pb, pe, od, false, 0)
			nnClose(t, want, common.Data[float32](out[0]), 0, fmt.Sprintf("max case %d", ci))
			got := common.Data[int64](out[1])
			for i, wi := range wantIdx {
				if storage == 1 && rk == 2 {
					// Column-major within the plane.
					plane := int(wi) / (tcase.in[0] * tcase.in[1])
					sp := int(wi) % (tcase.in[0] * tcase.in[1])
					h, w := sp/tcase.in[1], sp%tcase.in[1]
					wi = int64(plane*tcase.in[0]*tcase.in[1] + w*tcase.in[0] + h)
				}
				if storage == 0 || rk == 2 {
					require.Equal(t, wi, got[i], "case %d storage %d element %d", ci, storage, i)
				}
			}
		}
		delete(attrs, "storage_order")
		for _, incl := range []int{0, 1} {
			attrs["count_include_pad"] = incl
			out, err := nnRun(t, c, nnNode("AveragePool", 19, attrs), xt)
			require.NoError(t, err)
			require.Equal(t, wantShape, out[0].Shape())
			want, _ := nnPoolRef(poolAvg, x, xs, tcase.k, tcase.s, tcase.d, pb, pe, od, incl == 1, 0)
			nnClose(t, want, common.Data[float32](out[0]), 1e-5, fmt.Sprintf("avg case %d incl %d", ci, incl))
		}
		delete(attrs, "count_include_pad")
		for _, p := range []int{1, 2, 3} {
			attrs["p"] = p
			out, err := nnRun(t, c, nnNode("LpPool", 18, attrs), xt)
			require.NoError(t, err)
			want, _ := nnPoolRef(poolLp, x, xs, tcase.k, tcase.s, tcase.d, pb, pe, od, false, float64(p))
			nnClose(t, want, common.Data[float32](out[0]), 1e-5, fmt.Sprintf("lp case %d p %d", ci, p))
		}
	}
}

func TestPoolAutoPadAndTypes(t *testing.T) {
	c := nnCtx(t, 1)
	// 1x1x4x4 ramp, kernel 3, stride 2, SAME_UPPER: out 2x2, pads 0 before, 1 after.
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i)
	}
	xt := common.NewTensor(common.Shape{1, 1, 4, 4}, x)
	out, err := nnRun(t, c, nnNode("MaxPool", 12, map[string]any{"kernel_shape": []int{3, 3}, "strides": []int{2, 2}, "auto_pad": "SAME_UPPER"}), xt)
	require.NoError(t, err)
	require.Equal(t, []float32{10, 11, 14, 15}, common.Data[float32](out[0]))
	out, err = nnRun(t, c, nnNode("MaxPool", 12, map[string]any{"kernel_shape": []int{3, 3}, "strides": []int{2, 2}, "auto_pad": "SAME_LOWER"}), xt)
	require.NoError(t, err)
	require.Equal(t, []float32{5, 7, 13, 15}, common.Data[float32](out[0]))
	out, err = nnRun(t, c, nnNode("AveragePool", 11, map[string]any{"kernel_shape": []int{3, 3}, "strides": []int{2, 2}, "auto_pad": "VALID"}), xt)
	require.NoError(t, err)
	require.Equal(t, []float32{5}, common.Data[float32](out[0]))

	// int8 / uint8 max pooling.
	xi := common.NewTensor(common.Shape{1, 1, 2, 3}, []int8{-5, -3, -9, -1, -7, -2})
	out, err = nnRun(t, c, nnNode("MaxPool", 12, map[string]any{"kernel_shape": []int{2, 2}}), xi)
	require.NoError(t, err)
	require.Equal(t, []int8{-1, -2}, common.Data[int8](out[0]))
	xu := common.NewTensor(common.Shape{1, 1, 3}, []uint8{200, 3, 255})
	out, err = nnRun(t, c, nnNode("MaxPool", 12, map[string]any{"kernel_shape": []int{2}}), xu)
	require.NoError(t, err)
	require.Equal(t, []uint8{200, 255}, common.Data[uint8](out[0]))

	// Global pools.
	g := common.NewTensor(common.Shape{1, 2, 2, 2}, []float32{1, 2, 3, 4, -1, -2, -3, 6})
	out, err = nnRun(t, c, nnNode("GlobalAveragePool", 1, nil), g)
	require.NoError(t, err)
	require.Equal(t, common.Shape{1, 2, 1, 1}, out[0].Shape())
	require.Equal(t, []float32{2.5, 0}, common.Data[float32](out[0]))
	out, err = nnRun(t, c, nnNode("GlobalMaxPool", 1, nil), g)
	require.NoError(t, err)
	require.Equal(t, []float32{4, 6}, common.Data[float32](out[0]))
	out, err = nnRun(t, c, nnNode("GlobalLpPool", 2, map[string]any{"p": 1}), g)
	require.NoError(t, err)
	require.Equal(t, []float32{10, 12}, common.Data[float32](out[0]))
	out, err = nnRun(t, c, nnNode("GlobalLpPool", 1, nil), g)
	require.NoError(t, err)
	require.InDelta(t, math.Sqrt(30), common.Data[float32](out[0])[0], 1e-5)
	gh := FromFloat32(g, common.Float16)
	out, err = nnRun(t, c, nnNode("GlobalAveragePool", 1, nil), gh)
	require.NoError(t, err)
	require.Equal(t, common.Float16, out[0].DType())
	require.Equal(t, 2.5, out[0].Float(0))
}

func TestPoolBadInput(t *testing.T) {
	c := nnCtx(t, 1)
	x := common.Zeros(common.Float32, common.Shape{1, 2, 5, 5})
	bad := []map[string]any{
		{},
		{"kernel_shape": []int{3}},
		{"kernel_shape": []int{0, 3}},
		{"kernel_shape": []int{3, 3}, "strides": []int{0, 1}},
		{"kernel_shape": []int{3, 3}, "pads": []int{-1, 0, 0, 0}},
		{"kernel_shape": []int{7, 3}},
		{"kernel_shape": []int{3, 3}, "dilations": []int{3, 1}},
		{"kernel_shape": []int{3, 3}, "auto_pad": "BAD"},
		{"kernel_shape": []int{1 << 40, 3}},
	}
	for _, op := range []string{"MaxPool", "AveragePool", "LpPool"} {
		for _, a := range bad {
			_, err := nnRun(t, c, nnNode(op, 19, a), x)
			require.Error(t, err, "%s %v", op, a)
			require.True(t, errors.Is(err, common.ErrShape) || errors.Is(err, common.ErrInvalidModel), "%s %v: %v", op, a, err)
		}
	}
	_, err := nnRun(t, c, nnNode("MaxPool", 12, map[string]any{"kernel_shape": []int{1}}), common.Zeros(common.Int32, common.Shape{1, 1, 3}))
	require.ErrorIs(t, err, common.ErrUnsupported)
	_, err = nnRun(t, c, nnNode("MaxPool", 12, map[string]any{"kernel_shape": []int{1}}), common.Zeros(common.Float32, common.Shape{1, 3}))
	require.ErrorIs(t, err, common.ErrShape)
	// Huge pads: the output would exceed the limits; nothing is allocated.
	big := 1 << 24
	_, err = nnRun(t, c, nnNode("MaxPool", 12, map[string]any{"kernel_shape": []int{1, 1, 1}, "pads": []int{big, big, big, big, big, big}}), common.Zeros(common.Float32, common.Shape{1, 1, 1, 1, 1}))
	require.ErrorIs(t, err, common.ErrLimit)
	_, err = nnRun(t, c, nnNode("LpPool", 18, map[string]any{"kernel_shape": []int{1}, "p": 0}), common.Zeros(common.Float32, common.Shape{1, 1, 3}))
	require.ErrorIs(t, err, common.ErrInvalidModel)
}
