package common

import (
	"context"
	"fmt"
)

// Engine is a compiled model ready to run.
type Engine interface {
	// Inputs describes the graph inputs the caller must (or may) feed.
	Inputs() []TensorInfo
	// Outputs describes the graph outputs Run returns.
	Outputs() []TensorInfo
	// Run executes the model. It honours ctx's cancellation and deadline.
	// Tensors it returns are owned by the caller. Engines are safe for
	// concurrent Run calls unless their doc says they serialize them.
	Run(ctx context.Context, inputs map[string]*Tensor) (map[string]*Tensor, error)
	// Close releases the engine's resources. It is idempotent.
	Close() error
}

// ValueEngine is implemented by engines that accept and return sequence
// and optional values as well as tensors.
type ValueEngine interface {
	Engine
	RunValues(ctx context.Context, inputs map[string]Value) (map[string]Value, error)
}

// Profiler is implemented by engines that can report time per operator of
// the last run.
type Profiler interface {
	Profile() []OpTime
}

// OpTime is time spent in one operator type.
type OpTime struct {
	Op    string
	Calls int
	Nanos int64
}

// Backend compiles models for one kind of hardware.
type Backend interface {
	Name() string
	// Devices lists what this backend can run on, or an error wrapping
	// ErrUnavailable that says why it can run nowhere.
	Devices() ([]Device, error)
	// Compile prepares m for execution.
	Compile(m *Model, opts Options) (Engine, error)
}

// Device is one device a backend can use.
type Device struct {
	Index   int
	Name    string
	Vendor  string
	Memory  int64  // bytes, 0 if unknown
	Library string // path of the library it was found through, if any
	Version string // library or driver version, if known
	Extra   string // backend-specific notes (compute units, fp16, ...)
}

// Precision is a preference for reduced-precision arithmetic.
type Precision int

// Precisions.
const (
	PrecisionDefault Precision = iota // fp32 unless the backend says otherwise
	// PrecisionFP32 asks for fp32 with direct sums: the cpu engine then
	// does not use Winograd convolutions (which round differently and
	// spread an Inf input across a tile).
	PrecisionFP32
	PrecisionFP16
)

// Options configure Compile.
type Options struct {
	Device     int       // device index among Devices()
	Threads    int       // worker threads; 0 means GOMAXPROCS
	Precision  Precision // reduced precision allowed?
	CacheDir   string    // where compiled kernels may be cached; "" = user cache dir
	DeviceOnly bool      // fail rather than fall back to the CPU for some ops
	// NoGraphPasses switches off the graph rewrites (folding, fusion).
	NoGraphPasses bool
	// Providers names ONNX Runtime execution providers (ort only).
	Providers []string
	Limits    Limits
}

// Limits bound what a model and a run may use. Zero fields take the
// defaults (DefaultLimits).
type Limits struct {
	ModelBytes     int64 // size of the model file
	Nodes          int64 // nodes in all graphs together
	SubgraphDepth  int   // nesting of If/Loop/Scan bodies
	FunctionDepth  int   // nesting of model-local function calls
	TensorElements int64 // elements in one tensor
	TensorBytes    int64 // bytes in one tensor
	Memory         int64 // live tensor bytes during one Run
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{
	ModelBytes:     2 << 30,
	Nodes:          500_000,
	SubgraphDepth:  64,
	FunctionDepth:  64,
	TensorElements: 1 << 31,
	TensorBytes:    4 << 30,
	Memory:         4 << 30,
}

// WithDefaults returns l with zero fields replaced by the defaults.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.ModelBytes > 0 {
		d.ModelBytes = l.ModelBytes
	}
	if l.Nodes > 0 {
		d.Nodes = l.Nodes
	}
	if l.SubgraphDepth > 0 {
		d.SubgraphDepth = l.SubgraphDepth
	}
	if l.FunctionDepth > 0 {
		d.FunctionDepth = l.FunctionDepth
	}
	if l.TensorElements > 0 {
		d.TensorElements = l.TensorElements
	}
	if l.TensorBytes > 0 {
		d.TensorBytes = l.TensorBytes
	}
	if l.Memory > 0 {
		d.Memory = l.Memory
	}
	return d
}

// CheckTensor returns an ErrLimit error if a tensor of dtype d and shape s
// would exceed the element or byte limits.
func (l Limits) CheckTensor(d DType, s Shape) (int, error) {
	l = l.WithDefaults()
	n, err := s.NumElements(l.TensorElements)
	if err != nil {
		return 0, err
	}
	if sz := int64(n) * int64(max(d.Size(), 1)); sz > l.TensorBytes {
		return 0, fmt.Errorf("%w: %v tensor of shape %v takes %d bytes, over the limit of %d", ErrLimit, d, s, sz, l.TensorBytes)
	}
	return n, nil
}

// RunTensors runs a ValueEngine with tensor inputs and outputs, refusing
// outputs that are not tensors.
func RunTensors(ctx context.Context, e ValueEngine, inputs map[string]*Tensor) (map[string]*Tensor, error) {
	in := make(map[string]Value, len(inputs))
	for k, v := range inputs {
		if v == nil {
			return nil, fmt.Errorf("%w: input %q is nil", ErrShape, k)
		}
		in[k] = v
	}
	out, err := e.RunValues(ctx, in)
	if err != nil {
		return nil, err
	}
	res := make(map[string]*Tensor, len(out))
	for k, v := range out {
		t, ok := v.(*Tensor)
		if !ok {
			return nil, fmt.Errorf("%w: output %q is a %s, not a tensor; use RunValues", ErrUnsupported, k, KindOf(v))
		}
		res[k] = t
	}
	return res, nil
}

// KindOf names the kind of a value: "tensor", "sequence", "optional".
func KindOf(v Value) string {
	switch v.(type) {
	case *Tensor:
		return "tensor"
	case *Sequence:
		return "sequence"
	case *Optional:
		return "optional"
	}
	return "nil"
}

// Placer is implemented by engines that can say where each node runs.
type Placer interface {
	Placement() []NodePlacement
}

// NodePlacement is where one node runs, and why.
type NodePlacement struct {
	Node   string // node label
	Op     string
	Device string // e.g. "opencl" or "cpu"
	Reason string // why it is not on the device, when it is not
}

// ArenaSizer is implemented by device engines that plan one arena.
type ArenaSizer interface {
	ArenaBytes() int64
}
