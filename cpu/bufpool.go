package cpu

import (
	"math/bits"
	"reflect"
	"sync"

	"github.com/accel-go/accel/common"
)

// Buffer reuse.
//
// Kernels get their outputs from Ctx.Alloc / Ctx.AllocNoZero. Those take a
// backing slice from the engine's bufPool (or make one) and record it in
// the run's registry. After each step the executor counts, for every
// recorded buffer, how many live graph values refer to it (a value refers
// to a buffer when its data lies inside it, so views made by Reshape,
// Slice, Split, Identity... count). A buffer goes back to the pool only
// when that count falls to zero: when the last value using it was read for
// the last time, or right after the allocating step when no output uses
// it (scratch). Buffers that leave the executor's sight (graph outputs
// returned to the caller, subgraph outputs handed to a control-flow
// kernel) are forgotten, never pooled. Initializers, constants and the
// caller's inputs are never recorded, so they are never pooled.

// maxTracked bounds the buffers one run records; past it, allocations are
// plain (and never reused), so lookups stay cheap on hostile graphs.
const maxTracked = 1024

// maxIdleBytes bounds the memory an engine's pool keeps idle.
const maxIdleBytes = 1 << 30

type poolKey struct {
	d    common.DType
	capn int
}

// bufPool holds idle backing slices of one engine, by dtype and capacity.
// It is shared by concurrent runs.
type bufPool struct {
	mu   sync.Mutex
	free map[poolKey][]any
	idle int64
	max  int64
}

func newBufPool(max int64) *bufPool {
	return &bufPool{free: map[poolKey][]any{}, max: max}
}

// get returns an idle slice of dtype d and capacity capn, if there is one.
func (p *bufPool) get(d common.DType, capn int) (any, bool) {
	k := poolKey{d, capn}
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.free[k]
	if len(l) == 0 {
		return nil, false
	}
	x := l[len(l)-1]
	l[len(l)-1] = nil
	p.free[k] = l[:len(l)-1]
	p.idle -= int64(capn) * int64(d.Size())
	return x, true
}

// put keeps data (a slice of dtype d and capacity capn) for reuse, unless
// the pool is full.
func (p *bufPool) put(d common.DType, capn int, data any) {
	b := int64(capn) * int64(d.Size())
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle+b > p.max {
		return
	}
	k := poolKey{d, capn}
	p.free[k] = append(p.free[k], data)
	p.idle += b
}

// sizeClass rounds n up to one of 8 capacities per power of two, so a
// pooled slice wastes at most an eighth of its size.
func sizeClass(n int) int {
	if n <= 16 {
		return 16
	}
	k := bits.Len(uint(n - 1)) // 2^k >= n
	step := 1 << (k - 4)
	return (n + step - 1) / step * step
}

// liveBuf is a pooled buffer that a run is using.
type liveBuf struct {
	base, end uintptr
	data      any // the slice, as handed out (cap = capn)
	d         common.DType
	capn      int
	refs      int32 // live graph values whose data lies in the buffer
	pending   bool  // allocated by a step that has not finished
	seq       uint64
}

// registry records the pooled buffers one run uses.
type registry struct {
	mu   sync.Mutex
	bufs []liveBuf
	seq  uint64
}

func (r *registry) reset() {
	clear(r.bufs)
	r.bufs = r.bufs[:0]
}

// mark is the sequence number the next allocation gets: a step settles
// the buffers allocated from its mark on.
func (r *registry) mark() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// add records a buffer just handed out; false when the registry is full.
func (r *registry) add(data any, d common.DType, capn int) bool {
	p := slicePtr(data)
	if p == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bufs) >= maxTracked {
		return false
	}
	r.bufs = append(r.bufs, liveBuf{base: p, end: p + uintptr(capn)*uintptr(d.Size()), data: data, d: d, capn: capn, pending: true, seq: r.seq})
	r.seq++
	return true
}

// find returns the index of the buffer holding address p, or -1.
func (r *registry) find(p uintptr) int {
	if p == 0 {
		return -1
	}
	for i := range r.bufs {
		if b := &r.bufs[i]; p >= b.base && p < b.end {
			return i
		}
	}
	return -1
}

// remove drops entry i (order is not kept).
func (r *registry) remove(i int) {
	last := len(r.bufs) - 1
	r.bufs[i] = r.bufs[last]
	r.bufs[last] = liveBuf{}
	r.bufs = r.bufs[:last]
}

// walk calls fn for every tensor in v.
func walkTensors(v common.Value, fn func(t *common.Tensor)) {
	switch x := v.(type) {
	case *common.Tensor:
		if x != nil {
			fn(x)
		}
	case *common.Sequence:
		if x != nil {
			for _, e := range x.Values {
				walkTensors(e, fn)
			}
		}
	case *common.Optional:
		if x != nil && x.Value != nil {
			walkTensors(x.Value, fn)
		}
	}
}

// claimTensor counts a new live value referring to t's data.
func (r *registry) claimTensor(t *common.Tensor) {
	if t == nil || len(r.bufs) == 0 {
		return
	}
	if i := r.find(dataPtr(t)); i >= 0 {
		r.bufs[i].refs++
	}
}

// releaseTensor drops a live value referring to t's data; the buffer goes
// back to pool when nothing else uses it.
func (r *registry) releaseTensor(t *common.Tensor, pool *bufPool) {
	if t == nil || len(r.bufs) == 0 {
		return
	}
	i := r.find(dataPtr(t))
	if i < 0 {
		return
	}
	b := &r.bufs[i]
	b.refs--
	if b.refs <= 0 && !b.pending {
		d, capn, data := b.d, b.capn, b.data
		r.remove(i)
		pool.put(d, capn, data)
	}
}

// forgetTensor stops tracking the buffer t's data lies in: it has left
// the executor's sight and must never be reused.
func (r *registry) forgetTensor(t *common.Tensor) {
	if t == nil || len(r.bufs) == 0 {
		return
	}
	if i := r.find(dataPtr(t)); i >= 0 {
		r.remove(i)
	}
}

// claim counts the values of one step's outputs.
func (r *registry) claim(v common.Value) {
	r.mu.Lock()
	walkTensors(v, r.claimTensor)
	r.mu.Unlock()
}

// release undoes claim for a value read for the last time.
func (r *registry) release(v common.Value, pool *bufPool) {
	r.mu.Lock()
	walkTensors(v, func(t *common.Tensor) { r.releaseTensor(t, pool) })
	r.mu.Unlock()
}

// forget stops tracking every buffer v uses.
func (r *registry) forget(v common.Value) {
	r.mu.Lock()
	walkTensors(v, r.forgetTensor)
	r.mu.Unlock()
}

// settle ends the allocating step of the buffers allocated since mark:
// those no output claimed go back to the pool.
func (r *registry) settle(mark uint64, pool *bufPool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; i < len(r.bufs); {
		b := &r.bufs[i]
		if b.pending && b.seq >= mark {
			b.pending = false
			if b.refs <= 0 {
				d, capn, data := b.d, b.capn, b.data
				r.remove(i)
				pool.put(d, capn, data)
				continue
			}
		}
		i++
	}
}

// slicePtr is the address of a slice's first element (0 when empty).
func slicePtr(data any) uintptr {
	v := reflect.ValueOf(data)
	if v.Kind() != reflect.Slice || v.Len() == 0 {
		return 0
	}
	return v.Pointer()
}

// allocPooled hands out a tensor of dtype d over a pooled slice of n
// elements, zeroed if zero is set.
func allocPooled[T common.Elem](c *Ctx, d common.DType, s common.Shape, n int, zero bool) (*common.Tensor, error) {
	capn := sizeClass(n)
	var buf []T
	if x, ok := c.eng.bufs.get(d, capn); ok {
		buf = x.([]T)[:n]
		if zero {
			clear(buf)
		}
	} else {
		buf = make([]T, n, capn)
	}
	t, err := common.FromSlice(s, buf)
	if err != nil {
		return nil, err
	}
	c.run.reg.add(t.Raw(), d, capn)
	return t, nil
}

// alloc is Alloc / AllocNoZero after the limit check.
func (c *Ctx) alloc(d common.DType, s common.Shape, n int, zero bool) (*common.Tensor, error) {
	if c.run == nil || c.run.reg == nil || c.eng.bufs == nil || n == 0 {
		return common.Zeros(d, s), nil
	}
	switch d {
	case common.Float32:
		return allocPooled[float32](c, d, s, n, zero)
	case common.Float64:
		return allocPooled[float64](c, d, s, n, zero)
	case common.Float16:
		return allocPooled[common.F16](c, d, s, n, zero)
	case common.BFloat16:
		return allocPooled[common.BF16](c, d, s, n, zero)
	case common.Int64:
		return allocPooled[int64](c, d, s, n, zero)
	case common.Int32:
		return allocPooled[int32](c, d, s, n, zero)
	case common.Int8:
		return allocPooled[int8](c, d, s, n, zero)
	case common.Uint8:
		return allocPooled[uint8](c, d, s, n, zero)
	case common.Bool:
		return allocPooled[bool](c, d, s, n, zero)
	}
	return common.Zeros(d, s), nil
}
