package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// pool is a persistent set of worker goroutines that kernels split loops
// over. parallel from several goroutines at once is safe: each call hands
// out its own chunks and the caller's goroutine works too.
//
// Chunks are claimed dynamically: a call cuts its range into a few more
// chunks than there are threads, offers the job to idle workers, and then
// claims chunks itself from a shared counter. A worker that wakes late (or
// not at all, on a busy machine) only takes what is left, so a second
// thread never makes a call slower than running it alone by more than one
// chunk.
type pool struct {
	n      int
	tasks  chan *poolJob
	once   sync.Once
	closed atomic.Bool
}

// poolJob is one parallel call: chunk i covers [i*size, min((i+1)*size, n)).
type poolJob struct {
	fn     func(lo, hi int)
	n      int
	size   int
	chunks int64
	next   atomic.Int64
	wg     sync.WaitGroup
}

// poolChunksPerThread is how many chunks per thread a call is cut into
// (when its grain allows), so that late or slow threads balance out.
const poolChunksPerThread = 4

// poolSpin is how long an idle worker keeps checking for a new job,
// yielding in between, before it blocks: back-to-back parallel calls then
// find it awake instead of paying a thread wake-up each.
const poolSpin = 200 * time.Microsecond

func newPool(n int) *pool {
	if n < 1 {
		n = 1
	}
	// The channel is buffered so that a job can be offered to a worker
	// that is spinning rather than blocked; a worker that takes a job
	// whose chunks are all claimed just drops it.
	p := &pool{n: n, tasks: make(chan *poolJob, n)}
	for i := 1; i < n; i++ {
		go p.worker()
	}
	return p
}

func (p *pool) worker() {
	for {
		var j *poolJob
		// Spin briefly: the next call usually comes within microseconds.
		for t0 := time.Now(); j == nil && time.Since(t0) < poolSpin; {
			select {
			case jj, ok := <-p.tasks:
				if !ok {
					return
				}
				j = jj
			default:
				runtime.Gosched()
			}
		}
		if j == nil {
			jj, ok := <-p.tasks
			if !ok {
				return
			}
			j = jj
		}
		j.work()
	}
}

// work claims and runs chunks of j until none are left.
func (j *poolJob) work() {
	for {
		i := j.next.Add(1) - 1
		if i >= j.chunks {
			return
		}
		lo := int(i) * j.size
		j.fn(lo, min(lo+j.size, j.n))
		j.wg.Done()
	}
}

func (p *pool) size() int { return p.n }

func (p *pool) close() {
	p.once.Do(func() {
		p.closed.Store(true)
		close(p.tasks)
	})
}

// parallel splits [0,n) into chunks of at least grain items (a few per
// thread at most), runs them on the caller and on idle workers, and waits
// for all of them.
func (p *pool) parallel(n, grain int, fn func(lo, hi int)) {
	if grain < 1 {
		grain = 1
	}
	chunks := p.n * poolChunksPerThread
	if c := n / grain; c < chunks {
		chunks = c
	}
	if p.n <= 1 || chunks <= 1 || p.closed.Load() {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	size := (n + chunks - 1) / chunks
	chunks = (n + size - 1) / size
	j := &poolJob{fn: fn, n: n, size: size, chunks: int64(chunks)}
	j.wg.Add(chunks)
	// Offer the job to idle workers; busy ones (nested or concurrent
	// calls) are skipped rather than waited for.
	for w := 1; w < min(p.n, chunks); w++ {
		select {
		case p.tasks <- j:
			continue
		default:
		}
		break
	}
	j.work()
	j.wg.Wait()
}
