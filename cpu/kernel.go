package cpu

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/accel-go/accel/common"
)

// TensorKernel computes a node's outputs from tensor inputs. in[i] is nil
// for an absent optional input (and len(in) may be shorter than the
// operator's maximum input count). It returns one tensor per node output
// (it may return fewer when trailing outputs are optional and unused, or
// nil entries for outputs it does not produce). Kernels never modify their
// inputs and may return views of them. The in slice itself is only valid
// during the call: kernels must not keep it.
type TensorKernel func(c *Ctx, n *common.Node, in []*common.Tensor) ([]*common.Tensor, error)

// ValueKernel is a kernel over any values (sequences, optionals, control
// flow). in[i] is nil for an absent input.
type ValueKernel func(c *Ctx, n *common.Node, in []common.Value) ([]common.Value, error)

type kernelEntry struct {
	tensor TensorKernel
	value  ValueKernel
}

// kernels is the CPU engine's op table: one entry per ONNX operator type in
// the default domain. Files register their ops from init.
var kernels = map[string]kernelEntry{}

// reg registers a tensor kernel for an op type.
func reg(op string, k TensorKernel) {
	if _, dup := kernels[op]; dup {
		panic("cpu: op registered twice: " + op)
	}
	kernels[op] = kernelEntry{tensor: k}
}

// regValue registers a value kernel for an op type.
func regValue(op string, k ValueKernel) {
	if _, dup := kernels[op]; dup {
		panic("cpu: op registered twice: " + op)
	}
	kernels[op] = kernelEntry{value: k}
}

// Ops lists the operator types the CPU engine implements, sorted.
func Ops() []string {
	ops := make([]string, 0, len(kernels))
	for k := range kernels {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}

// Supports reports whether the CPU engine has a kernel for op in the
// default domain.
func Supports(domain, op string) bool {
	if domain != "" && domain != "ai.onnx" {
		return false
	}
	_, ok := kernels[op]
	return ok
}

// Ctx is what a kernel gets besides its node and inputs: the run's context,
// thread pool, limits and memory accounting, and a way to run subgraphs.
type Ctx struct {
	ctx   context.Context
	eng   *Engine
	run   *runState
	scope *scope
	depth int
}

// runState is shared by every Ctx of one Run (subgraphs included).
type runState struct {
	live atomic.Int64 // live tensor bytes charged
	peak atomic.Int64
	// prof accumulates time per op type when the engine profiles (nodes of
	// one run execute one at a time, so it needs no lock).
	prof map[string]*common.OpTime
	// reg records the pooled buffers the run uses (nil: no pooling).
	reg *registry
	// args is reused for tensor kernels' input lists (tensor kernels
	// never run subgraphs, so one list at a time is in use).
	args []*common.Tensor
}

// Context is the Run's context.
func (c *Ctx) Context() context.Context { return c.ctx }

// Threads is the number of worker threads kernels may use.
func (c *Ctx) Threads() int { return c.eng.pool.size() }

// Limits are the engine's limits (defaults filled in).
func (c *Ctx) Limits() common.Limits { return c.eng.limits }

// Parallel calls fn over [0,n) split into contiguous chunks, one per
// worker, and waits. Small n (below grain) runs inline.
func (c *Ctx) Parallel(n, grain int, fn func(lo, hi int)) {
	c.eng.pool.parallel(n, grain, fn)
}

// Check returns an ErrLimit error if a tensor of dtype d and shape s would
// exceed the per-tensor limits or the run's memory cap. It allocates
// nothing; call it before allocating anything sized by input data.
func (c *Ctx) Check(d common.DType, s common.Shape) (int, error) {
	n, err := c.eng.limits.CheckTensor(d, s)
	if err != nil {
		return 0, err
	}
	if live := c.run.live.Load(); live+int64(n)*int64(max(d.Size(), 1)) > c.eng.limits.Memory {
		return 0, fmt.Errorf("%w: a %v tensor of shape %v would bring the run's memory past %d bytes", common.ErrLimit, d, s, c.eng.limits.Memory)
	}
	return n, nil
}

// Alloc checks limits (see Check) and returns a zeroed tensor. During a
// Run its memory may come from buffers earlier steps or runs no longer
// use, and goes back for reuse once no live value refers to it.
func (c *Ctx) Alloc(d common.DType, s common.Shape) (*common.Tensor, error) {
	n, err := c.Check(d, s)
	if err != nil {
		return nil, err
	}
	return c.alloc(d, s, n, true)
}

// AllocNoZero is Alloc without the zeroing: the elements are arbitrary,
// for kernels that overwrite every one of them.
func (c *Ctx) AllocNoZero(d common.DType, s common.Shape) (*common.Tensor, error) {
	n, err := c.Check(d, s)
	if err != nil {
		return nil, err
	}
	return c.alloc(d, s, n, false)
}

// Charge adds bytes to the run's live memory (for values a kernel holds
// across iterations, e.g. Loop scan outputs) and fails past the cap.
func (c *Ctx) Charge(bytes int64) error {
	v := c.run.live.Add(bytes)
	for {
		p := c.run.peak.Load()
		if v <= p || c.run.peak.CompareAndSwap(p, v) {
			break
		}
	}
	if v > c.eng.limits.Memory {
		return fmt.Errorf("%w: run memory %d bytes is past the cap of %d", common.ErrLimit, v, c.eng.limits.Memory)
	}
	return nil
}

// Release undoes Charge.
func (c *Ctx) Release(bytes int64) { c.run.live.Add(-bytes) }

// Err returns the context's error, if it is done.
func (c *Ctx) Err() error {
	if err := c.ctx.Err(); err != nil {
		return fmt.Errorf("run stopped: %w", err)
	}
	return nil
}

// Lookup finds a value visible at this point (inputs, initializers and
// node outputs of this graph and enclosing graphs).
func (c *Ctx) Lookup(name string) (common.Value, bool) { return c.scope.lookup(name) }

// RunGraph runs a subgraph (If branch, Loop/Scan body) with the given
// values bound to its inputs, in this context's scope, and returns its
// outputs in order. Inputs may be shorter than g.Inputs only if the
// missing ones are optional values the body does not read.
func (c *Ctx) RunGraph(g *common.Graph, inputs []common.Value) ([]common.Value, error) {
	if c.depth+1 > c.eng.limits.SubgraphDepth {
		return nil, fmt.Errorf("%w: subgraphs nested deeper than %d", common.ErrLimit, c.eng.limits.SubgraphDepth)
	}
	cg, err := c.eng.compiledSub(g, c.scope)
	if err != nil {
		return nil, err
	}
	sub := &Ctx{ctx: c.ctx, eng: c.eng, run: c.run, depth: c.depth + 1}
	return c.eng.runGraph(sub, cg, c.scope, inputs)
}

type scope struct {
	vals   map[string]common.Value
	parent *scope
}

func (s *scope) lookup(name string) (common.Value, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vals[name]; ok {
			return v, true
		}
	}
	return nil, false
}

func (s *scope) names() map[string]bool {
	m := map[string]bool{}
	for ; s != nil; s = s.parent {
		for k := range s.vals {
			m[k] = true
		}
	}
	return m
}
