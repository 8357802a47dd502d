package cpu

import "sync"

// pool is a persistent set of worker goroutines that kernels split loops
// over. parallel from several goroutines at once is safe: each call hands
// out its own chunks and the caller's goroutine works too.
type pool struct {
	n     int
	tasks chan func()
	once  sync.Once
}

func newPool(n int) *pool {
	if n < 1 {
		n = 1
	}
	p := &pool{n: n, tasks: make(chan func())}
	for i := 1; i < n; i++ {
		go func() {
			for f := range p.tasks {
				f()
			}
		}()
	}
	return p
}

func (p *pool) size() int { return p.n }

func (p *pool) close() { p.once.Do(func() { close(p.tasks) }) }

// parallel splits [0,n) into at most p.n chunks of at least grain items.
func (p *pool) parallel(n, grain int, fn func(lo, hi int)) {
	if grain < 1 {
		grain = 1
	}
	chunks := p.n
	if c := n / grain; c < chunks {
		chunks = c
	}
	if chunks <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	size := (n + chunks - 1) / chunks
	for lo := size; lo < n; lo += size {
		hi := min(lo+size, n)
		wg.Add(1)
		f := func() { defer wg.Done(); fn(lo, hi) }
		select {
		case p.tasks <- f:
		default:
			// Every worker is busy (nested or concurrent parallel calls):
			// run it here rather than wait.
			f()
		}
	}
	fn(0, min(size, n))
	wg.Wait()
}
