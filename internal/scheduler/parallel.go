package scheduler

import (
	"sync"
	"sync/atomic"
)

// parallelize calls fn(i) for i in [0, n) on up to workers goroutines, handing out
// indexes in chunks so the atomic counter is not contended per node. It stops
// handing out work once stop returns true and returns how many indexes it handed
// out, which is where the next cycle resumes.
func parallelize(workers, n int, stop func() bool, fn func(i int)) int {
	if n == 0 {
		return 0
	}
	chunk := max(1, min(64, n/(workers*8)))
	var next atomic.Int64
	work := func() {
		for !stop() {
			start := int(next.Add(int64(chunk))) - chunk
			if start >= n {
				return
			}
			for i := start; i < min(start+chunk, n); i++ {
				fn(i)
			}
		}
	}
	if workers <= 1 || n <= chunk {
		work()
	} else {
		var wg sync.WaitGroup
		for w := 1; w < workers; w++ {
			wg.Add(1)
			go func() { defer wg.Done(); work() }()
		}
		work()
		wg.Wait()
	}
	return min(int(next.Load()), n)
}
