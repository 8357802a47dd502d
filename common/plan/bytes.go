package plan

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/accel-go/accel/common"
)

// ElemSize is the bytes one element of d takes in host and device memory:
// sub-byte types are held unpacked, one per byte. It is 0 for types that
// cannot live on a device (string, undefined).
func ElemSize(d common.DType) int {
	switch d {
	case common.String, common.Undefined, common.Complex64, common.Complex128:
		return 0
	}
	if d.Bits() < 8 {
		return 1
	}
	return d.Size()
}

// RawBytes returns the host bytes of t's data (shared, not copied). It
// fails for strings.
func RawBytes(t *common.Tensor) ([]byte, error) {
	if ElemSize(t.DType()) == 0 {
		return nil, fmt.Errorf("%w: %v tensors cannot be copied to a device", common.ErrUnsupported, t.DType())
	}
	v := reflect.ValueOf(t.Raw())
	if v.Kind() != reflect.Slice {
		return nil, fmt.Errorf("%w: tensor has no data slice", common.ErrInvalidModel)
	}
	n := v.Len() * int(v.Type().Elem().Size())
	if n == 0 {
		return nil, nil
	}
	return unsafe.Slice((*byte)(v.UnsafePointer()), n), nil
}
