package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// runHogMemory allocates and touches --mb MiB, then holds it until terminated. Touching
// every page matters: untouched allocations are not resident and would never reach the
// container's memory limit, so no OOM kill would happen.
func runHogMemory(ctx context.Context, args []string) error {
	fs := newFlags("hog-memory")
	mb := fs.Int("mb", 0, "MiB to allocate")
	step := fs.Int("step", 10, "MiB per allocation step")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mb <= 0 || *step <= 0 {
		return errors.New("--mb and --step must be positive")
	}
	var held [][]byte
	for total := 0; total < *mb; {
		n := min(*step, *mb-total)
		chunk := make([]byte, n<<20)
		for i := 0; i < len(chunk); i += 4096 {
			chunk[i] = 1
		}
		held = append(held, chunk)
		total += n
		fmt.Printf("hog-memory: %d MiB allocated\n", total)
		if ctx.Err() != nil {
			return nil
		}
	}
	fmt.Printf("hog-memory: holding %d MiB\n", *mb)
	<-ctx.Done()
	runtime.KeepAlive(held)
	return nil
}

// hogPeriod is the duty-cycle period of hog-cpu: short enough that a CFS quota (100ms
// periods) sees a steady rate.
const hogPeriod = 100 * time.Millisecond

// runHogCPU keeps --millicores worth of CPU busy: one goroutine per started core, each
// busy for its share of every period and asleep for the rest.
func runHogCPU(ctx context.Context, args []string) error {
	fs := newFlags("hog-cpu")
	millicores := fs.Int("millicores", 1000, "CPU to use, in thousandths of a core")
	forD := fs.Duration("for", 0, "stop after this long (0: until terminated)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *millicores <= 0 {
		return errors.New("--millicores must be positive")
	}
	if *forD > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *forD)
		defer cancel()
	}
	workers := (*millicores + 999) / 1000
	if runtime.GOMAXPROCS(0) < workers {
		runtime.GOMAXPROCS(workers)
	}
	busy := time.Duration(int64(hogPeriod) * int64(*millicores) / int64(workers) / 1000)
	fmt.Printf("hog-cpu: using %d millicores on %d goroutines\n", *millicores, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { spin(ctx, busy) })
	}
	wg.Wait()
	return nil
}

func spin(ctx context.Context, busy time.Duration) {
	for ctx.Err() == nil {
		start := time.Now()
		for time.Since(start) < busy {
		}
		if sleepCtx(ctx, hogPeriod-busy) != nil {
			return
		}
	}
}
