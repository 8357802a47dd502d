//go:build opencl

package opencl

import (
	"fmt"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/plan"
)

// Name is the name the OpenCL backend registers under.
const Name = "opencl"

func init() { common.Register(Backend{}) }

// Backend is the OpenCL backend. Its zero value is ready; nothing is
// loaded until Devices or Compile is called.
type Backend struct{}

// Name implements common.Backend.
func (Backend) Name() string { return Name }

// Devices implements common.Backend: every device of every platform.
func (Backend) Devices() ([]common.Device, error) {
	ds, err := listDevices()
	if err != nil {
		return nil, err
	}
	out := make([]common.Device, len(ds))
	for i, d := range ds {
		fp16 := "no fp16"
		if d.fp16 {
			fp16 = "fp16"
		}
		out[i] = common.Device{Index: i, Name: d.name, Vendor: d.vendor, Memory: int64(d.globalMem), Library: loadPath,
			Version: d.version + " / driver " + d.driver,
			Extra:   fmt.Sprintf("platform %q; %d compute units; %s", d.platformName, d.computeUnits, fp16)}
	}
	return out, nil
}

// Compile implements common.Backend. Nodes the device cannot run go to
// the CPU engine unless opts.DeviceOnly is set.
func (Backend) Compile(m *common.Model, opts common.Options) (common.Engine, error) {
	d, err := pickDevice(opts.Device)
	if err != nil {
		return nil, err
	}
	rt, err := runtimeFor(d, opts.CacheDir)
	if err != nil {
		return nil, err
	}
	dev := &device{rt: rt, ft: common.Float32}
	if useHalf(d.fp16, opts.Precision, forceHalf) {
		if err := rt.buildHalf(opts.CacheDir); err != nil {
			return nil, err
		}
		dev.half, dev.ft = true, common.Float16
	}
	return plan.Compile(dev, m, opts)
}

// forceHalf makes every engine store float32 tensors as float16, fp16
// extension or not (the storage path only needs the core vload_half and
// vstore_half); tests set it.
var forceHalf bool

// useHalf decides whether an engine stores float32 tensors as float16 on
// the device: when the caller asks for fp16 and the device has
// cl_khr_fp16 (or tests force it).
func useHalf(deviceFP16 bool, p common.Precision, force bool) bool {
	return force || (p == common.PrecisionFP16 && deviceFP16)
}

// device adapts a runtime to plan.Backend.
type device struct {
	rt   *runtime
	half bool         // float32 tensors are stored as float16
	ft   common.DType // storage type of float32 tensors
}

// HalfFloats implements plan.HalfStorer.
func (d *device) HalfFloats() bool { return d.half }

func (d *device) Name() string { return Name }

func (d *device) Supports(n *common.Node, in []common.TypeInfo) (bool, string) {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return false, "domain " + n.Domain
	}
	if _, ok := deviceOps[n.OpType]; !ok {
		return false, "no OpenCL kernel"
	}
	if n.Fused != nil {
		if _, _, _, ok := actCode(n.Fused); !ok {
			return false, "fused " + n.Fused.OpType
		}
	}
	return supportedTypes(n, in)
}

func (d *device) Prepare(n *common.Node, in, out []*plan.Operand) (plan.Kernel, error) {
	prep := deviceOps[n.OpType]
	for _, o := range out {
		if o != nil && o.Bytes() >= 1<<31 {
			return nil, unsupported("tensor over 2 GiB")
		}
	}
	if len(in) == 0 || in[0] == nil || len(out) == 0 || out[0] == nil {
		return nil, unsupported("%s without its first input or output", n.OpType)
	}
	if d.half {
		in, out = halfOperands(in), halfOperands(out)
	}
	k, err := prep(d, n, in, out)
	if err != nil {
		return nil, err
	}
	k.half = d.half
	return k, nil
}

func (d *device) NewArena(n int64) (plan.Arena, error) {
	if n >= 1<<31 {
		return nil, fmt.Errorf("%w: opencl: arena of %d bytes (element offsets are 32-bit)", common.ErrLimit, n)
	}
	m, err := d.rt.alloc(n)
	if err != nil {
		return nil, err
	}
	return &arena{rt: d.rt, mem: m, size: n}, nil
}

// ConstInputs implements plan.ConstInputer: the inputs whose values the
// kernels need when they are prepared.
func (d *device) ConstInputs(n *common.Node) []int { return constInputs(n) }

// halfOperands returns ops with float32 operands retyped as the float16
// they are stored as.
func halfOperands(ops []*plan.Operand) []*plan.Operand {
	out := make([]*plan.Operand, len(ops))
	for i, o := range ops {
		if o != nil && o.DType == common.Float32 {
			c := *o
			c.DType = common.Float16
			o = &c
		}
		out[i] = o
	}
	return out
}
