package cpu

import (
	"fmt"
	"unsafe"

	"github.com/accel-go/accel/common"
)

// Data-movement kernels do not look at element values, only at their
// width. mvWords views a tensor's data as a slice of one of five types with
// the same element width ([]uint8, []uint16, []uint32, []uint64 or
// []string), sharing memory, so each movement loop is written once as a
// generic function and instantiated five times.
func mvWords(t *common.Tensor) any {
	switch s := t.Raw().(type) {
	case []string:
		return s
	case []uint8:
		return s
	case []uint16:
		return s
	case []uint32:
		return s
	case []uint64:
		return s
	case []float32:
		return mvCast[float32, uint32](s)
	case []float64:
		return mvCast[float64, uint64](s)
	case []int8:
		return mvCast[int8, uint8](s)
	case []int16:
		return mvCast[int16, uint16](s)
	case []int32:
		return mvCast[int32, uint32](s)
	case []int64:
		return mvCast[int64, uint64](s)
	case []bool:
		return mvCast[bool, uint8](s)
	case []common.F16:
		return mvCast[common.F16, uint16](s)
	case []common.BF16:
		return mvCast[common.BF16, uint16](s)
	case []common.F8E4M3FN:
		return mvCast[common.F8E4M3FN, uint8](s)
	case []common.F8E4M3FNUZ:
		return mvCast[common.F8E4M3FNUZ, uint8](s)
	case []common.F8E5M2:
		return mvCast[common.F8E5M2, uint8](s)
	case []common.F8E5M2FNUZ:
		return mvCast[common.F8E5M2FNUZ, uint8](s)
	case []common.F8E8M0:
		return mvCast[common.F8E8M0, uint8](s)
	case []common.F4E2M1:
		return mvCast[common.F4E2M1, uint8](s)
	case []common.I4:
		return mvCast[common.I4, uint8](s)
	case []common.U4:
		return mvCast[common.U4, uint8](s)
	case []common.I2:
		return mvCast[common.I2, uint8](s)
	case []common.U2:
		return mvCast[common.U2, uint8](s)
	}
	return nil
}

// mvCast reinterprets a slice as a slice of another type of the same size.
func mvCast[From, To any](s []From) []To {
	if len(s) == 0 {
		return []To{}
	}
	return unsafe.Slice((*To)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// mvAlloc allocates an output tensor like the data input, checking limits,
// with a clear error for element types a tensor cannot hold.
func mvAlloc(c *Ctx, n *common.Node, d common.DType, s common.Shape) (*common.Tensor, error) {
	if !d.Valid() {
		return nil, unsupportedType(n, d)
	}
	return c.Alloc(d, s)
}

// mvStrided fills dst (a contiguous tensor of the given shape) with
// src[base + sum(coord[i]*strides[i])]. Strides may be zero (broadcast) or
// negative (reversal). It covers Transpose, Slice, Expand, Tile and the
// depth/space rearrangements.
func mvStrided(c *Ctx, dst, src *common.Tensor, shape common.Shape, strides []int, base int) {
	switch d := mvWords(dst).(type) {
	case []uint8:
		stridedT(c, d, mvWords(src).([]uint8), shape, strides, base)
	case []uint16:
		stridedT(c, d, mvWords(src).([]uint16), shape, strides, base)
	case []uint32:
		stridedT(c, d, mvWords(src).([]uint32), shape, strides, base)
	case []uint64:
		stridedT(c, d, mvWords(src).([]uint64), shape, strides, base)
	case []string:
		stridedT(c, d, mvWords(src).([]string), shape, strides, base)
	}
}

// simplifyStrides drops size-1 axes and merges adjacent axes that are
// contiguous with each other in the source.
func simplifyStrides(shape common.Shape, strides []int) ([]int, []int) {
	sh := make([]int, 0, len(shape))
	st := make([]int, 0, len(shape))
	for i, d := range shape {
		if d == 1 {
			continue
		}
		if k := len(sh) - 1; k >= 0 && st[k] == strides[i]*d {
			sh[k] *= d
			st[k] = strides[i]
			continue
		}
		sh = append(sh, d)
		st = append(st, strides[i])
	}
	return sh, st
}

func stridedT[T any](c *Ctx, dst, src []T, shape common.Shape, strides []int, base int) {
	total := len(dst)
	if total == 0 {
		return
	}
	sh, st := simplifyStrides(shape, strides)
	r := len(sh)
	if r == 0 {
		dst[0] = src[base]
		return
	}
	if r >= 2 && st[r-1] != 1 && st[r-2] == 1 {
		transposeTiles(c, dst, src, sh, st, base)
		return
	}
	inner := sh[r-1]
	is := st[r-1]
	rows := total / inner
	grain := max(1, (1<<14)/inner)
	c.Parallel(rows, grain, func(lo, hi int) {
		coord := make([]int, r-1)
		off := base
		rem := lo
		for a := r - 2; a >= 0; a-- {
			coord[a] = rem % sh[a]
			rem /= sh[a]
			off += coord[a] * st[a]
		}
		for row := lo; row < hi; row++ {
			out := dst[row*inner : (row+1)*inner]
			switch is {
			case 1:
				copy(out, src[off:off+inner])
			case 0:
				v := src[off]
				for i := range out {
					out[i] = v
				}
			default:
				p := off
				for i := range out {
					out[i] = src[p]
					p += is
				}
			}
			for a := r - 2; a >= 0; a-- {
				coord[a]++
				off += st[a]
				if coord[a] < sh[a] {
					break
				}
				off -= st[a] * coord[a]
				coord[a] = 0
			}
		}
	})
}

// transposeTiles handles the case where the last two output axes are a
// transposed pair in the source (the source's unit stride is on the second
// to last output axis): a batch of matrix transposes done in cache-sized
// tiles.
func transposeTiles[T any](c *Ctx, dst, src []T, sh, st []int, base int) {
	r := len(sh)
	rows, cols := sh[r-2], sh[r-1]
	colStride := st[r-1]
	batch := 1
	for _, d := range sh[:r-2] {
		batch *= d
	}
	const tile = 32
	rowTiles := (rows + tile - 1) / tile
	work := batch * rowTiles
	grain := max(1, (1<<14)/(tile*cols))
	c.Parallel(work, grain, func(lo, hi int) {
		coord := make([]int, r-2)
		for w := lo; w < hi; w++ {
			b, rt := w/rowTiles, w%rowTiles
			off := base
			rem := b
			for a := r - 3; a >= 0; a-- {
				coord[a] = rem % sh[a]
				rem /= sh[a]
				off += coord[a] * st[a]
			}
			out := dst[b*rows*cols:]
			i0, i1 := rt*tile, min(rt*tile+tile, rows)
			for j0 := 0; j0 < cols; j0 += tile {
				j1 := min(j0+tile, cols)
				for i := i0; i < i1; i++ {
					o := out[i*cols : i*cols+cols]
					p := off + i + j0*colStride
					for j := j0; j < j1; j++ {
						o[j] = src[p]
						p += colStride
					}
				}
			}
		}
	})
}

// mvCopyBlocks copies count blocks of n elements: block b goes from
// src[so+b*sStep:] to dst[do+b*dStep:]. Concat and Split are built on it.
func mvCopyBlocks(c *Ctx, dst, src *common.Tensor, count, n, do, dStep, so, sStep int) {
	switch d := mvWords(dst).(type) {
	case []uint8:
		blocksT(c, d, mvWords(src).([]uint8), count, n, do, dStep, so, sStep)
	case []uint16:
		blocksT(c, d, mvWords(src).([]uint16), count, n, do, dStep, so, sStep)
	case []uint32:
		blocksT(c, d, mvWords(src).([]uint32), count, n, do, dStep, so, sStep)
	case []uint64:
		blocksT(c, d, mvWords(src).([]uint64), count, n, do, dStep, so, sStep)
	case []string:
		blocksT(c, d, mvWords(src).([]string), count, n, do, dStep, so, sStep)
	}
}

func blocksT[T any](c *Ctx, dst, src []T, count, n, do, dStep, so, sStep int) {
	if count == 0 || n == 0 {
		return
	}
	c.Parallel(count, max(1, (1<<14)/n), func(lo, hi int) {
		for b := lo; b < hi; b++ {
			copy(dst[do+b*dStep:do+b*dStep+n], src[so+b*sStep:so+b*sStep+n])
		}
	})
}

// mvFill sets every element of dst to element 0 of v (same dtype).
func mvFill(dst, v *common.Tensor) {
	switch d := mvWords(dst).(type) {
	case []uint8:
		fillT(d, mvWords(v).([]uint8)[0])
	case []uint16:
		fillT(d, mvWords(v).([]uint16)[0])
	case []uint32:
		fillT(d, mvWords(v).([]uint32)[0])
	case []uint64:
		fillT(d, mvWords(v).([]uint64)[0])
	case []string:
		fillT(d, mvWords(v).([]string)[0])
	}
}

func fillT[T any](d []T, v T) {
	for i := range d {
		d[i] = v
	}
}

// mvScalarOf makes a one-element tensor of dtype d holding v, converted as
// a Cast would (round to nearest for floats, truncation for integers).
func mvScalarOf(n *common.Node, d common.DType, v float64) (*common.Tensor, error) {
	var t *common.Tensor
	switch d {
	case common.Float32:
		t = common.Scalar(float32(v))
	case common.Float64:
		t = common.Scalar(v)
	case common.Float16:
		t = common.Scalar(common.F16From(float32(v)))
	case common.BFloat16:
		t = common.Scalar(common.BF16From(float32(v)))
	case common.Int8:
		t = common.Scalar(int8(v))
	case common.Int16:
		t = common.Scalar(int16(v))
	case common.Int32:
		t = common.Scalar(int32(v))
	case common.Int64:
		t = common.Scalar(int64(v))
	case common.Uint8:
		t = common.Scalar(uint8(v))
	case common.Uint16:
		t = common.Scalar(uint16(v))
	case common.Uint32:
		t = common.Scalar(uint32(v))
	case common.Uint64:
		t = common.Scalar(uint64(v))
	case common.Bool:
		t = common.Scalar(v != 0)
	case common.Int4:
		t = common.Scalar(common.I4(max(-8, min(7, int64(v)))))
	case common.Uint4:
		t = common.Scalar(common.U4(max(0, min(15, int64(v)))))
	case common.String:
		if v == 0 {
			t = common.Scalar("")
		} else {
			return nil, fmt.Errorf("%w: %s cannot make a string from %v", common.ErrUnsupported, n.OpType, v)
		}
	default:
		return nil, unsupportedType(n, d)
	}
	return t, nil
}

// opsetBefore reports whether the node's opset is known and below v.
func opsetBefore(n *common.Node, v int64) bool { return n.Opset > 0 && n.Opset < v }

// axesArg reads an axes list from input i (at or after opset `from`) or
// from the "axes" attribute (before it). ok is false when neither is given.
func axesArg(n *common.Node, in []*common.Tensor, i int, from int64) (axes []int64, ok bool, err error) {
	if opsetBefore(n, from) {
		if !n.HasAttr("axes") {
			return nil, false, nil
		}
		return n.AttrInts("axes"), true, nil
	}
	t := opt(in, i)
	if t == nil {
		return nil, false, nil
	}
	axes, err = shapeArg(t, n.OpType+" axes")
	return axes, err == nil, err
}

// normAxes normalizes axes against rank and rejects duplicates.
func normAxes(n *common.Node, axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make(map[int]bool, len(axes))
	for i, a := range axes {
		v, err := NormAxis(a, rank)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.OpType, err)
		}
		if seen[v] {
			return nil, fmt.Errorf("%w: %s: axis %d appears twice in %v", common.ErrShape, n.OpType, a, axes)
		}
		seen[v] = true
		out[i] = v
	}
	return out, nil
}

// dimsOf converts int64 dims to a Shape, rejecting negatives and values
// past the int range.
func dimsOf(n *common.Node, what string, v []int64) (common.Shape, error) {
	s := make(common.Shape, len(v))
	for i, d := range v {
		if d < 0 || d > 1<<62 {
			return nil, fmt.Errorf("%w: %s: %s %v has invalid dim %d", common.ErrShape, n.OpType, what, v, d)
		}
		s[i] = int(d)
	}
	return s, nil
}
