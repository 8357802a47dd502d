package plan

import (
	"encoding/binary"

	"github.com/accel-go/accel/common"
)

// HalfStorer is implemented by backends that can keep float32 values as
// float16 on the device (fp16 storage, fp32 arithmetic in the kernels).
// When HalfFloats reports true, the plan sizes float32 buffers at 2 bytes
// an element and converts on every upload and download; Prepare still
// sees the values' own dtype (float32).
type HalfStorer interface {
	HalfFloats() bool
}

// storeSize is the device bytes of one element of d.
func (e *Engine) storeSize(d common.DType) int {
	if e.half && d == common.Float32 {
		return 2
	}
	return ElemSize(d)
}

// devBytes is the device size of an operand.
func (e *Engine) devBytes(o *Operand) int64 {
	return int64(o.Shape.Size()) * int64(e.storeSize(o.DType))
}

// deviceBytes returns t's data as the device stores it: its host bytes,
// or float16 bits of a float32 tensor under half storage (a new slice).
func (e *Engine) deviceBytes(t *common.Tensor) ([]byte, error) {
	if !e.half || t.DType() != common.Float32 {
		return RawBytes(t)
	}
	src := common.Data[float32](t)
	b := make([]byte, 2*len(src))
	for i, v := range src {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(common.F16From(v)))
	}
	return b, nil
}

// readTensor downloads a value of dtype d and shape s from off.
func (e *Engine) readTensor(off int64, d common.DType, s common.Shape) (*common.Tensor, error) {
	t := common.Zeros(d, s)
	if e.half && d == common.Float32 {
		dst := common.Data[float32](t)
		if len(dst) == 0 {
			return t, nil
		}
		b := make([]byte, 2*len(dst))
		if err := e.arena.Read(off, b); err != nil {
			return nil, err
		}
		for i := range dst {
			dst[i] = common.F16(binary.LittleEndian.Uint16(b[2*i:])).Float32()
		}
		return t, nil
	}
	b, err := RawBytes(t)
	if err != nil {
		return nil, err
	}
	if len(b) > 0 {
		if err := e.arena.Read(off, b); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// HalfStorage reports whether this engine keeps float32 values as
// float16 on the device.
func (e *Engine) HalfStorage() bool { return e.half }
