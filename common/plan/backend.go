// Package plan is the executor that device backends (OpenCL, Vulkan, CUDA,
// Cambricon) share. A backend supplies a kernel table and device memory
// through the small Backend interface; plan does the rest:
//
//   - placement: each node runs on the device when the backend supports it
//     (asked per input-shape signature), else on the CPU engine through a
//     one-node model, with copies inserted where values cross;
//   - liveness and buffer assignment: every device value gets a range of
//     one arena (first fit, 256-byte aligned), reused once its last reader
//     ran; elementwise kernels may write over a dying input; Reshape,
//     Flatten, Squeeze, Unsqueeze and Identity are views (of device
//     values, and with DeviceOnly of host values too), their shape-like
//     inputs recorded in the plan;
//   - a flat step list per signature, bound once to the arena and replayed
//     on every Run with that signature.
//
// Shapes of a new signature are learned by running the CPU engine once on
// that run's inputs (its result is that run's result). Values produced on
// the CPU are checked against the plan on later runs; when a data-dependent
// shape changes, that run is answered by the CPU engine and the signature
// is planned again.
package plan

import (
	"github.com/accel-go/accel/common"
)

// Alignment is the byte alignment of every buffer in an arena.
const Alignment = 256

// Backend is what a device backend implements to run through a plan.
type Backend interface {
	// Name is the backend's registered name (used in errors).
	Name() string
	// Supports reports whether the device has a kernel for n when its
	// inputs have these types (nil entries: absent optional inputs; Dims
	// are filled in when known), and if not, why.
	Supports(n *common.Node, inTypes []common.TypeInfo) (ok bool, reason string)
	// Prepare makes a kernel for n at fixed shapes. in has one entry per
	// node input (nil when absent), out one per node output (nil when not
	// wanted). An error wrapping common.ErrUnsupported sends the node to
	// the CPU for this signature; any other error fails Compile or Run.
	Prepare(n *common.Node, in, out []*Operand) (Kernel, error)
	// NewArena allocates bytes of device memory.
	NewArena(bytes int64) (Arena, error)
}

// Operand describes one tensor a kernel reads or writes.
type Operand struct {
	Name  string
	DType common.DType
	Shape common.Shape
	// Const is the value when it is known at plan time (an initializer,
	// or a small integer tensor computed on the CPU from shapes only,
	// which the executor checks on every run); nil otherwise.
	Const *common.Tensor
}

// Bytes is the size of the operand's data on the device.
func (o *Operand) Bytes() int64 { return int64(o.Shape.Size()) * int64(ElemSize(o.DType)) }

// Kernel is a node prepared for fixed shapes.
type Kernel interface {
	// Bind fixes the kernel's buffers: byte offsets into a for each input
	// and output (-1 where absent). The returned launch enqueues the work;
	// it is called once per Run, in step order, and must not allocate
	// device memory.
	Bind(a Arena, in, out []int64) (Launch, error)
}

// Launch enqueues one prepared, bound kernel.
type Launch func() error

// InPlacer is implemented by kernels whose output 0 may share the buffer
// of one of their inputs (each output element is written only after the
// same element of that input was read, by the same work item).
type InPlacer interface {
	// InPlace returns the index of the input output 0 may overwrite, or -1.
	InPlace() int
}

// ConstInputer is implemented by backends whose kernels need the values
// of some inputs when they are prepared (Slice starts, Pad pads, Resize
// scales). For those inputs, a small tensor (at most 64 elements) that is
// a run input or computed on the CPU is given to Prepare as Operand.Const;
// the plan records the value and is made again when a later run brings a
// different one.
type ConstInputer interface {
	// ConstInputs returns the indexes of n's inputs it wants as constants.
	ConstInputs(n *common.Node) []int
}

// Releaser is implemented by kernels that hold device objects to free
// when the plan is dropped.
type Releaser interface{ Release() }

// Arena is one block of device memory.
type Arena interface {
	// Size is the arena's size in bytes.
	Size() int64
	// Write copies host bytes to [off, off+len(b)).
	Write(off int64, b []byte) error
	// Read waits for the launched work and copies [off, off+len(b)) to b.
	Read(off int64, b []byte) error
	// Close frees the memory. It is idempotent.
	Close() error
}
