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
	return plan.Compile(&device{rt: rt}, m, opts)
}

// device adapts a runtime to plan.Backend.
type device struct{ rt *runtime }

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
	k, err := prep(d, n, in, out)
	if err != nil {
		return nil, err
	}
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
