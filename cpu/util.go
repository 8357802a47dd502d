package cpu

import (
	"fmt"

	"github.com/accel-go/accel/common"
)

// BroadcastShape returns the numpy-style broadcast of shapes, or an
// ErrShape error naming them.
func BroadcastShape(shapes ...common.Shape) (common.Shape, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make(common.Shape, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := out[off+i]
			switch {
			case d == o || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("%w: shapes %v cannot be broadcast together", common.ErrShape, shapes)
			}
		}
	}
	return out, nil
}

// BroadcastStrides returns, for an input of shape in broadcast to out,
// the element stride of each output axis in the input (0 on broadcast
// axes).
func BroadcastStrides(in, out common.Shape) []int {
	st := make([]int, len(out))
	acc := 1
	off := len(out) - len(in)
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			st[off+i] = acc
		}
		acc *= in[i]
	}
	return st
}

// BroadcastIndex fills idx[k] with the flat index into an input with the
// given broadcast strides for each output element k. It is the slow,
// general path; kernels use it when shapes differ.
func BroadcastIndex(out common.Shape, strides []int, idx []int) {
	n := len(idx)
	if n == 0 {
		return
	}
	rank := len(out)
	if rank == 0 {
		idx[0] = 0
		return
	}
	coord := make([]int, rank)
	cur := 0
	for k := 0; k < n; k++ {
		idx[k] = cur
		for a := rank - 1; a >= 0; a-- {
			coord[a]++
			cur += strides[a]
			if coord[a] < out[a] {
				break
			}
			cur -= strides[a] * coord[a]
			coord[a] = 0
		}
	}
}

// NormAxis maps a possibly negative axis into [0, rank), or returns an
// error naming the bad axis.
func NormAxis(axis int64, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, fmt.Errorf("%w: axis %d is out of range for rank %d", common.ErrShape, axis, rank)
	}
	return int(a), nil
}

// ToFloat32 returns t's values as a float32 tensor (t itself when it is
// already float32). Any numeric dtype converts.
func ToFloat32(t *common.Tensor) *common.Tensor {
	if t.DType() == common.Float32 {
		return t
	}
	out := make([]float32, t.Len())
	switch s := t.Raw().(type) {
	case []common.F16:
		for i, v := range s {
			out[i] = v.Float32()
		}
	case []common.BF16:
		for i, v := range s {
			out[i] = v.Float32()
		}
	default:
		for i := range out {
			out[i] = float32(t.Float(i))
		}
	}
	return common.NewTensor(t.Shape(), out)
}

// FromFloat32 converts a float32 tensor to dtype d (float16, bfloat16,
// float64 or float32), rounding to nearest even.
func FromFloat32(t *common.Tensor, d common.DType) *common.Tensor {
	src := common.Data[float32](t)
	switch d {
	case common.Float16:
		out := make([]common.F16, len(src))
		for i, v := range src {
			out[i] = common.F16From(v)
		}
		return common.NewTensor(t.Shape(), out)
	case common.BFloat16:
		out := make([]common.BF16, len(src))
		for i, v := range src {
			out[i] = common.BF16From(v)
		}
		return common.NewTensor(t.Shape(), out)
	case common.Float64:
		out := make([]float64, len(src))
		for i, v := range src {
			out[i] = float64(v)
		}
		return common.NewTensor(t.Shape(), out)
	}
	return t
}

// IsHalf reports whether d is float16 or bfloat16: kernels compute those
// in float32 (ToFloat32 in, FromFloat32 out).
func IsHalf(d common.DType) bool { return d == common.Float16 || d == common.BFloat16 }

// ViaFloat32 wraps a float32-only kernel so that float16 and bfloat16
// inputs are computed in float32 and float outputs rounded back once.
func ViaFloat32(k TensorKernel) TensorKernel {
	return func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		half := common.Undefined
		conv := in
		for i, t := range in {
			if t != nil && IsHalf(t.DType()) {
				if half == common.Undefined {
					half = t.DType()
					conv = append([]*common.Tensor(nil), in...)
				}
				conv[i] = ToFloat32(t)
			}
		}
		out, err := k(c, n, conv)
		if err != nil || half == common.Undefined {
			return out, err
		}
		for i, t := range out {
			if t != nil && t.DType() == common.Float32 {
				out[i] = FromFloat32(t, half)
			}
		}
		return out, nil
	}
}

// need returns an error when input i is absent.
func need(n *common.Node, in []*common.Tensor, i int) (*common.Tensor, error) {
	if i >= len(in) || in[i] == nil {
		return nil, fmt.Errorf("%w: %s needs input %d", common.ErrInvalidModel, n.OpType, i)
	}
	return in[i], nil
}

// opt returns input i or nil.
func opt(in []*common.Tensor, i int) *common.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// unsupportedType is the error for a dtype a kernel does not handle.
func unsupportedType(n *common.Node, d common.DType) error {
	return &common.UnsupportedError{Op: n.OpType, Domain: n.Domain, Opset: n.Opset, Backend: Name, Node: n.Name,
		Reason: fmt.Sprintf("element type %v", d)}
}

// shapeArg reads a 1-D int64 tensor (a shape, axes, pads input) with a
// length bound, so a hostile tensor cannot make it allocate much.
func shapeArg(t *common.Tensor, what string) ([]int64, error) {
	if t.Rank() > 1 {
		return nil, fmt.Errorf("%w: %s must be 1-D, got shape %v", common.ErrShape, what, t.Shape())
	}
	if t.Len() > 1<<16 {
		return nil, fmt.Errorf("%w: %s has %d entries", common.ErrLimit, what, t.Len())
	}
	if !t.DType().IsInteger() {
		return nil, fmt.Errorf("%w: %s must be an integer tensor, got %v", common.ErrShape, what, t.DType())
	}
	return t.Ints(), nil
}
