package pool_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

// heapPeak samples the heap every 20 ms while run runs and returns the
// largest live heap seen (as marked by the last collection: what the
// process keeps, not garbage awaiting the next collection) and the
// largest heap in use including such garbage.
func heapPeak(run func()) (live, inUse uint64) {
	runtime.GC() // what earlier tests left is not this one's
	done := make(chan struct{})
	sampled := make(chan struct{})
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			inUse = max(inUse, ms.HeapAlloc)
			metrics.Read(sample)
			live = max(live, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	run()
	close(done)
	<-sampled
	return live, inUse
}

// hammer runs n goroutines that each SET payload with the given deadline
// over and over for d, and counts the SETs that outlived their deadline
// by more than 50 ms. Unless await is set, a goroutine issues its next
// SET as soon as the call returns, without waiting for the reply.
func hammer(c *async.Client, n int, payload []byte, deadline, d time.Duration, await bool) (late, sets int64) {
	var lateN, setN atomic.Int64
	stop := time.Now().Add(d)
	var g errgroup.Group
	for range n {
		g.Go(func() error {
			for time.Now().Before(stop) {
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				start := time.Now()
				f := c.Set(ctx, "big", payload)
				if await {
					_ = f.Err()
				}
				if time.Since(start) > deadline+time.Second+raceSlack {
					lateN.Add(1)
				}
				setN.Add(1)
				if await {
					cancel()
				} else {
					context.AfterFunc(ctx, cancel) // ends at its deadline; nobody waits
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	return lateN.Load(), setN.Load()
}

// A server that accepts connections but never answers the handshake (a
// frozen redis-server's kernel): the commands that wait for the dial are
// bounded in bytes like a connection's queue, and a command whose context
// ends leaves at once, so the heap stays small and every caller returns
// by its deadline.
func TestHangingHandshakeBoundsHeap(t *testing.T) {
	addr := newMuteServer(t)
	payload := make([]byte, 64<<10)

	for _, await := range []bool{true, false} {
		t.Run(fmt.Sprint("defaults, awaited ", await), func(t *testing.T) {
			p := newPool(t, pool.Config{Addr: addr, ReadTimeout: 2 * time.Second, DialTimeout: time.Second, HealthCheckInterval: -1})
			c := async.NewClient(p)
			var late, sets int64
			live, inUse := heapPeak(func() { late, sets = hammer(c, 8, payload, 100*time.Millisecond, 3*time.Second, await) })
			t.Logf("%d SETs; peak live heap %d MiB, in use with garbage %d MiB", sets, live>>20, inUse>>20)
			assert.Less(t, live, uint64(32<<20), "peak live heap")
			assert.Zero(t, late, "SETs that outlived their deadline by more than a second (a tail guard)")
		})
	}

	t.Run("small queue, short deadlines", func(t *testing.T) {
		p := newPool(t, pool.Config{Addr: addr, ReadTimeout: 2 * time.Second, DialTimeout: time.Second,
			HealthCheckInterval: -1, MaxQueueBytes: 256 << 10})
		c := async.NewClient(p)
		var late, sets int64
		live, inUse := heapPeak(func() { late, sets = hammer(c, 32, payload, 20*time.Millisecond, 3*time.Second, true) })
		returned := time.Now()
		assert.Zero(t, late, "SETs that outlived their deadline by more than a second (a tail guard)")
		// Every caller has returned, every deadline has passed: nothing
		// may still wait, within a few ms.
		require.Eventually(t, func() bool { return p.Stats().Waiting == 0 }, 5*time.Second+raceSlack, time.Millisecond)
		gone := time.Since(returned)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("%d SETs; peak live heap %d MiB (in use with garbage %d MiB); waiting commands gone %v after the last caller returned; live heap %d MiB",
			sets, live>>20, inUse>>20, gone, ms.HeapAlloc>>20)
		assert.Less(t, live, uint64(32<<20), "peak live heap")
		assert.LessOrEqual(t, gone, time.Second+raceSlack, "commands whose context ended still waiting (a tail guard)")
		assert.Less(t, ms.HeapAlloc, uint64(32<<20), "live heap once every caller returned")
	})
}
