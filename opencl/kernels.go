//go:build opencl

package opencl

import (
	"fmt"
	"math"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/plan"
	"github.com/accel-go/accel/cpu"
)

// launchSpec is one kernel enqueue of a step.
type launchSpec struct {
	name   string
	params func(in, out []int64) []int32 // from byte offsets
	global [3]int
	local  [3]int
	dims   int
}

// kernel is a prepared step: one or more launches.
type kernel struct {
	rt      *runtime
	specs   []launchSpec
	inPlace int
	half    bool // built from the fp16-storage program
	objs    []kernelH
	mems    []memH
}

func (k *kernel) InPlace() int { return k.inPlace }

func (k *kernel) Release() {
	for _, o := range k.objs {
		releaseKernel(o)
	}
	for _, m := range k.mems {
		k.rt.free(m)
	}
	k.objs, k.mems = nil, nil
}

func (k *kernel) Bind(a plan.Arena, in, out []int64) (plan.Launch, error) {
	ar, ok := a.(*arena)
	if !ok {
		return nil, fmt.Errorf("%w: opencl: foreign arena", common.ErrInvalidModel)
	}
	k.Release()
	type bound struct {
		k    kernelH
		spec *launchSpec
	}
	var bs []bound
	for i := range k.specs {
		s := &k.specs[i]
		if s.global[0]*max(s.global[1], 1)*max(s.global[2], 1) == 0 {
			continue
		}
		p := s.params(in, out)
		pm, err := k.rt.alloc(int64(4 * len(p)))
		if err != nil {
			k.Release()
			return nil, err
		}
		k.mems = append(k.mems, pm)
		b := make([]byte, 4*len(p))
		for j, v := range p {
			u := uint32(v)
			b[4*j], b[4*j+1], b[4*j+2], b[4*j+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
		}
		k.rt.mu.Lock()
		err = writeBuffer(k.rt.queue, pm, 0, b)
		k.rt.mu.Unlock()
		if err != nil {
			k.Release()
			return nil, err
		}
		prog := k.rt.prog
		if k.half {
			prog = k.rt.progHalf
		}
		kh, err := newKernel(prog, s.name)
		if err != nil {
			k.Release()
			return nil, err
		}
		k.objs = append(k.objs, kh)
		if err := setArgMem(kh, 0, ar.mem); err != nil {
			k.Release()
			return nil, err
		}
		if err := setArgMem(kh, 1, pm); err != nil {
			k.Release()
			return nil, err
		}
		bs = append(bs, bound{kh, s})
	}
	rt := k.rt
	return func() error {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		for _, b := range bs {
			if err := launch(rt.queue, b.k, b.spec.global, b.spec.local, b.spec.dims); err != nil {
				return fmt.Errorf("%s: %w", b.spec.name, err)
			}
		}
		return nil
	}, nil
}

func fbits(f float32) int32 { return int32(math.Float32bits(f)) }

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", common.ErrUnsupported, fmt.Sprintf(format, args...))
}

// elem converts a byte offset to an element offset of dtype d.
func elem(off int64, d common.DType) int32 {
	if off < 0 {
		return -1
	}
	return int32(off / int64(plan.ElemSize(d)))
}

func one(name string, n int, params func(in, out []int64) []int32) []launchSpec {
	return []launchSpec{{name: name, params: params, global: [3]int{n, 1, 1}, dims: 1}}
}

// actCode maps an activation op (unary or fused epilogue) to the act()
// code in kernels.cl and its two parameters.
func actCode(n *common.Node) (code int32, a, b float32, ok bool) {
	switch n.OpType {
	case "Relu":
		return 1, 0, 0, true
	case "Sigmoid":
		return 2, 0, 0, true
	case "Tanh":
		return 3, 0, 0, true
	case "Exp":
		return 4, 0, 0, true
	case "Log":
		return 5, 0, 0, true
	case "Neg":
		return 6, 0, 0, true
	case "Abs":
		return 7, 0, 0, true
	case "Sqrt":
		return 8, 0, 0, true
	case "Erf":
		return 9, 0, 0, true
	case "LeakyRelu":
		return 10, n.AttrFloat("alpha", 0.01), 0, true
	case "Clip":
		if n.Opset >= 11 && n.Fused == nil && !n.HasAttr("min") && !n.HasAttr("max") {
			return 11, 0, 0, false // bounds are inputs: handled by the caller
		}
		return 11, n.AttrFloat("min", float32(math.Inf(-1))), n.AttrFloat("max", float32(math.Inf(1))), true
	case "HardSigmoid":
		return 12, n.AttrFloat("alpha", 0.2), n.AttrFloat("beta", 0.5), true
	case "HardSwish":
		return 13, 0, 0, true
	case "Gelu":
		if n.AttrString("approximate", "none") == "tanh" {
			return 15, 0, 0, true
		}
		return 14, 0, 0, true
	case "Elu":
		return 16, n.AttrFloat("alpha", 1), 0, true
	case "Softplus":
		return 17, 0, 0, true
	case "Reciprocal":
		return 18, 0, 0, true
	case "Floor":
		return 19, 0, 0, true
	case "Ceil":
		return 20, 0, 0, true
	case "Sin":
		return 21, 0, 0, true
	case "Cos":
		return 22, 0, 0, true
	case "Selu":
		return 23, n.AttrFloat("alpha", 1.67326319217681884765625), n.AttrFloat("gamma", 1.05070102214813232421875), true
	case "Softsign":
		return 24, 0, 0, true
	}
	return 0, 0, 0, false
}

var binaryCodes = map[string]int32{"Add": 0, "Sub": 1, "Mul": 2, "Div": 3, "Pow": 4, "PRelu": 5, "Max": 6, "Min": 7,
	"Equal": 8, "Greater": 9, "Less": 10, "GreaterOrEqual": 11, "LessOrEqual": 12}

// bcastParams writes rank, dims and each input's broadcast strides,
// padded to 6 dims.
func bcastParams(out common.Shape, ins ...common.Shape) ([]int32, error) {
	if len(out) > 6 {
		return nil, unsupported("rank %d over 6", len(out))
	}
	p := make([]int32, 0, 1+6*(1+len(ins)))
	p = append(p, int32(len(out)))
	for d := 0; d < 6; d++ {
		v := int32(1)
		if d < len(out) {
			v = int32(out[d])
		}
		p = append(p, v)
	}
	for _, s := range ins {
		st := cpu.BroadcastStrides(s, out)
		for d := 0; d < 6; d++ {
			v := int32(0)
			if d < len(st) {
				v = int32(st[d])
			}
			p = append(p, v)
		}
	}
	return p, nil
}
