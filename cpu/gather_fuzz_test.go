package cpu

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// TestGatherMovementHostileInputs feeds the shape, movement and gather
// kernels random small tensors and random (often invalid) index, shape and
// attribute values. Every call must either succeed or return an error that
// wraps one of the package's sentinel errors; none may panic.
func TestGatherMovementHostileInputs(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	ops := []string{"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split", "Slice",
		"Gather", "GatherElements", "GatherND", "ScatterND", "ScatterElements", "Expand", "Tile", "Pad",
		"OneHot", "DepthToSpace", "SpaceToDepth", "Trilu", "NonZero", "Compress", "EyeLike",
		"ReverseSequence", "Unique", "Shape", "ConstantOfShape", "Range"}
	vals := []int64{-1 << 62, -9, -3, -2, -1, 0, 0, 1, 1, 2, 3, 4, 7, 1 << 40}
	pick := func() int64 { return vals[rng.Intn(len(vals))] }
	ints := func() *common.Tensor {
		v := make([]int64, rng.Intn(5))
		for i := range v {
			v[i] = pick()
		}
		return i64s(v...)
	}
	data := func() *common.Tensor {
		r := rng.Intn(4)
		shape := make(common.Shape, r)
		for i := range shape {
			shape[i] = rng.Intn(4)
		}
		switch rng.Intn(3) {
		case 0:
			return common.Zeros(common.Float32, shape)
		case 1:
			return common.Zeros(common.String, shape)
		}
		return common.Zeros(common.Int64, shape)
	}
	sentinels := []error{common.ErrShape, common.ErrInvalidModel, common.ErrUnsupported, common.ErrLimit}
	c := mvCtx(2, common.Limits{TensorElements: 1 << 16})
	okCount := map[string]int{}
	for iter := 0; iter < 8000; iter++ {
		op := ops[rng.Intn(len(ops))]
		n := mvNode(op, []int64{9, 11, 13, 18, 25}[rng.Intn(5)], 1+rng.Intn(3),
			aInt("axis", pick()), aInts("perm", pick(), pick()), aInt("blocksize", pick()),
			aInt("batch_dims", pick()), aInt("k", pick()), aInts("axes", pick()),
			aInts("starts", pick()), aInts("ends", pick()), aInts("split", pick(), pick()),
			aInt("time_axis", pick()), aInt("batch_axis", pick()), aInt("start", pick()), aInt("end", pick()))
		if rng.Intn(2) == 0 {
			n.Attrs["reduction"] = aStr("reduction", []string{"add", "mul", "max", "bogus"}[rng.Intn(4)])
		}
		in := []*common.Tensor{data()}
		for j := 0; j < rng.Intn(4); j++ {
			switch rng.Intn(4) {
			case 0:
				in = append(in, data())
			case 1:
				in = append(in, nil)
			default:
				in = append(in, ints())
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s (opset %d) panicked on %v: %v", op, n.Opset, in, r)
				}
			}()
			_, err := mvCallCtx(c, n, in...)
			if err == nil {
				okCount[op]++
			}
			if err != nil {
				ok := false
				for _, s := range sentinels {
					ok = ok || errors.Is(err, s)
				}
				require.True(t, ok, fmt.Sprintf("%s: error %v wraps no sentinel", op, err))
			}
		}()
	}
	// The random inputs must also reach the kernels' success paths.
	require.Greater(t, len(okCount), 15, "ops that succeeded at least once: %v", okCount)
}
