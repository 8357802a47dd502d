package cpu

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPoolCoversRange requires every index of [0,n) to be visited exactly
// once, in chunks of at least grain (but the last), for many sizes, grains
// and thread counts, including nested and concurrent calls.
func TestPoolCoversRange(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		p := newPool(threads)
		for _, n := range []int{0, 1, 2, 5, 7, 8, 9, 31, 100, 1000} {
			for _, grain := range []int{-1, 0, 1, 3, 16, 2000} {
				hits := make([]int32, n)
				var calls, bad atomic.Int32
				p.parallel(n, grain, func(lo, hi int) {
					// Chunks may run on workers: count problems here and
					// report them from the test goroutine.
					calls.Add(1)
					if lo < 0 || lo >= hi || hi > n || (hi < n && hi-lo < max(grain, 1)) {
						bad.Add(1)
						return
					}
					for i := lo; i < hi; i++ {
						atomic.AddInt32(&hits[i], 1)
					}
				})
				require.Zero(t, bad.Load(), "threads %d n %d grain %d: chunks out of range or below grain", threads, n, grain)
				for i, h := range hits {
					require.Equal(t, int32(1), h, "threads %d n %d grain %d index %d", threads, n, grain, i)
				}
				require.LessOrEqual(t, int(calls.Load()), max(1, threads*poolChunksPerThread))
			}
		}

		// Nested calls from inside chunks and calls from several
		// goroutines at once all complete and cover their ranges.
		var wg sync.WaitGroup
		var total atomic.Int64
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < 50; r++ {
					p.parallel(10, 1, func(lo, hi int) {
						for i := lo; i < hi; i++ {
							p.parallel(20, 1, func(lo, hi int) { total.Add(int64(hi - lo)) })
						}
					})
				}
			}()
		}
		wg.Wait()
		require.Equal(t, int64(4*50*10*20), total.Load())
		p.close()
		// After close, calls still run (on the caller).
		var after atomic.Int64
		p.parallel(100, 1, func(lo, hi int) { after.Add(int64(hi - lo)) })
		require.Equal(t, int64(100), after.Load())
	}
}
